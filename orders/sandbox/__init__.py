"""Order simulators: realistic native payloads for demos, tests and load runs.

Each platform module (``taobao``, ``aliexpress``, ``tiktok``) exposes ``STATUS_WEIGHTS``,
``simulate(status=..., now=..., rng=...)`` returning a ``SimulatedOrder`` whose
``payload`` uses the platform's own field names (feed it to
``orders.ingest.ingest_native``), and ``stream(count=..., now=..., rng=...)``.
"""

from types import ModuleType

from orders.sandbox import aliexpress, taobao, tiktok
from orders.sandbox.common import SimulatedOrder

SIMULATORS: dict[str, ModuleType] = {
    "taobao": taobao,
    "aliexpress": aliexpress,
    "tiktok": tiktok,
}


def simulator(platform: str) -> ModuleType:
    try:
        return SIMULATORS[platform]
    except KeyError:
        raise ValueError(f"no simulator for platform {platform!r}") from None


__all__ = ["SIMULATORS", "SimulatedOrder", "simulator"]
