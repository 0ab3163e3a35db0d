"""The import contracts (pyproject.toml ``[tool.importlinter]``) hold, and are live:
a forbidden import added to a copy of the tree breaks the contract that forbids it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("oms", "orders", "platforms", "logistics", "aftersales", "analytics", "integrations")  # fmt: skip
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(  # noqa: S603 - our own tool on our own tree
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    # Every contract of the issue is there (a deleted contract would pass silently).
    for name in (
        "orders imports none of logistics, aftersales, analytics, integrations",
        "platform packages import none of logistics, aftersales, analytics, integrations",
        "the apps form layers",
        "other apps use orders.workspace, not orders.views",
    ):
        assert f"{name}" in result.stdout


@pytest.fixture
def tree_copy(tmp_path):
    """The packages and the contracts, copied: probes never touch the real tree."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "migrations", "*.pyc"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("probe", "source", "broken"),
    [
        # orders must not know logistics (nor after-sales, analytics, integrations)
        (
            "orders/_probe_forbidden.py",
            "import logistics.selectors\n",
            "orders imports none of logistics",
        ),
        # a function-local import counts as much as a module-level one
        (
            "orders/_probe_forbidden.py",
            "def later():\n    from integrations import webhooks\n\n    return webhooks\n",
            "orders imports none of logistics",
        ),
        # a platform package speaks to orders only
        (
            "platforms/taobao/_probe_forbidden.py",
            "from aftersales import services\n",
            "platform packages import none of",
        ),
        # no cycles: the shared core imports no app, logistics does not import upwards
        (
            "oms/core/_probe_forbidden.py",
            "import orders.models\n",
            "the apps form layers",
        ),
        (
            "logistics/_probe_forbidden.py",
            "import aftersales.models\n",
            "the apps form layers",
        ),
        # other apps' pages use the page kit (orders.workspace), not the order views
        (
            "aftersales/_probe_forbidden.py",
            "from orders.views import order_detail\n",
            "other apps use orders.workspace",
        ),
    ],
    ids=[
        "orders-static",
        "orders-function-local",
        "platform",
        "core-cycle",
        "siblings",
        "page-kit",
    ],
)
def test_a_forbidden_import_breaks_its_contract(tree_copy, probe, source, broken):
    assert lint_imports(tree_copy).returncode == 0  # the copy holds, as the tree does
    (tree_copy / probe).write_text(source)
    result = lint_imports(tree_copy)
    assert result.returncode != 0
    line = next(
        (line for line in result.stdout.splitlines() if line.startswith(broken)), ""
    )
    assert " BROKEN" in line, result.stdout
    assert probe.removesuffix(".py").replace("/", ".") in result.stdout
    assert not (ROOT / probe).exists()
