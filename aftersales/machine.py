"""The after-sales case machines run on the one engine in ``orders.machine``.

The case tables live in each platform package (``platforms/<code>/cases.py``); this
module only re-exports the engine's case vocabulary for the after-sales code.
"""

from orders.machine import (
    ANYONE,
    APPROVE,
    CANCEL_ORDER,
    CASE_ROLES,
    CT,
    END_DISPUTE,
    KEEP_ORDER,
    PLATFORM,
    REFUND,
    REJECT,
    RETURN_SENT,
    SELLER,
    SYSTEM,
    WITHDRAW,
    CaseDue,
    CaseSpec,
    CaseStatus,
    CaseTransition,
    validate_case_spec,
)

__all__ = [
    "ANYONE",
    "APPROVE",
    "CANCEL_ORDER",
    "CASE_ROLES",
    "CT",
    "END_DISPUTE",
    "KEEP_ORDER",
    "PLATFORM",
    "REFUND",
    "REJECT",
    "RETURN_SENT",
    "SELLER",
    "SYSTEM",
    "WITHDRAW",
    "CaseDue",
    "CaseSpec",
    "CaseStatus",
    "CaseTransition",
    "validate_case_spec",
]
