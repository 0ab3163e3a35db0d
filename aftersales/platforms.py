"""The after-sales case tables of the installed platforms, by (platform, kind).

The tables live in each platform package (``platforms/<code>/cases.py``) and reach this
app through the registry in ``orders.platforms``.
"""

from aftersales.choices import CaseKind
from aftersales.machine import CaseSpec
from oms.core.errors import ValidationFailed
from orders.platforms import get_platform, platforms


def case_specs() -> dict[tuple[str, str], CaseSpec]:
    return {
        (spec.platform, spec.kind): spec
        for platform in platforms().values()
        for spec in platform.cases
    }


def get_case_spec(platform: str, kind: str) -> CaseSpec:
    specs = case_specs()
    try:
        return specs[(platform, kind)]
    except KeyError:
        kinds = sorted(k for p, k in specs if p == platform)
        raise ValidationFailed(
            f"{platform} has no {kind} cases.", fields={"kind": kinds}
        ) from None


def kinds_for(platform: str) -> list[CaseKind]:
    return [CaseKind(k) for p, k in case_specs() if p == platform]


def order_action_on_full_refund(platform: str) -> str:
    """The order action that closes an order whose every item was refunded."""
    return get_platform(platform).close_on_full_refund
