"""Browser tests: Playwright driving Debian's Chromium (headless).

Shared here: where Chromium is, how it is launched, where screenshots go, and the marks
every browser test module sets (``pytestmark = BROWSER``): skipped loudly without
Chromium, an error with ``CI=true``. The ``browser`` fixture is in ``conftest.py``.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

if Path(CHROMIUM).exists():
    BROWSER = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
elif os.environ.get("CI", "").lower() == "true":
    raise RuntimeError(
        "CI=true but Chromium is missing: the browser tests must run in CI"
    )
else:
    BROWSER = [
        pytest.mark.skip(reason="!!! Chromium not installed: browser tests SKIPPED !!!")
    ]

# Playwright's sync API runs an event loop in this thread; the ORM calls made by the test
# itself (set-up, assertions) are plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
