"""The after-sales machines of each platform, by (platform, kind)."""

from aftersales.choices import CaseKind
from aftersales.machine import CaseSpec
from aftersales.platforms import aliexpress, taobao, tiktok
from oms.core.errors import ValidationFailed

MODULES = {"taobao": taobao, "aliexpress": aliexpress, "tiktok": tiktok}

SPECS: dict[tuple[str, str], CaseSpec] = {
    (spec.platform, spec.kind): spec
    for module in MODULES.values()
    for spec in module.SPECS
}


def get_case_spec(platform: str, kind: str) -> CaseSpec:
    try:
        return SPECS[(platform, kind)]
    except KeyError:
        kinds = sorted(k for p, k in SPECS if p == platform)
        raise ValidationFailed(
            f"{platform} has no {kind} cases.", fields={"kind": kinds}
        ) from None


def kinds_for(platform: str) -> list[CaseKind]:
    return [CaseKind(k) for p, k in SPECS if p == platform]


def order_action_on_full_refund(platform: str) -> str:
    """The order action that closes an order whose every item was refunded."""
    return MODULES[platform].CLOSE_ON_FULL_REFUND
