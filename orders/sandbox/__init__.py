"""Order simulators: realistic native payloads for demos, tests and load runs.

Each platform package has a ``simulator`` module exposing ``STATUS_WEIGHTS``,
``simulate(status=..., now=..., rng=...)`` returning a ``SimulatedOrder`` whose
``payload`` uses the platform's own field names (feed it to
``orders.ingest.ingest_native``), and ``stream(count=..., now=..., rng=...)``.
The shared pieces (catalogue, buyers, addresses, money) are in ``common``.
"""

from types import ModuleType

from orders.platforms import platforms
from orders.sandbox.common import SimulatedOrder


def simulators() -> dict[str, ModuleType]:
    return {
        code: platform.simulator
        for code, platform in platforms().items()
        if platform.simulator is not None
    }


def simulator(platform: str) -> ModuleType:
    try:
        return simulators()[platform]
    except KeyError:
        raise ValueError(f"no simulator for platform {platform!r}") from None


__all__ = ["SimulatedOrder", "simulator", "simulators"]
