"""A test-only platform package whose order table has a transition nobody may trigger
(tests/orders/test_engine.py)."""

from dataclasses import replace

from platforms.tiktok import PLATFORM as TIKTOK

_first = TIKTOK.spec.transitions[0]
PLATFORM = replace(
    TIKTOK,
    spec=replace(
        TIKTOK.spec,
        transitions=(
            *TIKTOK.spec.transitions,
            replace(_first, action="nobodys", actors=frozenset()),
        ),
    ),
)
