"""What each area returns: how many probes it tried, how many held, which failed."""

import re
from dataclasses import dataclass, field

MAX_SAMPLES = 12


@dataclass
class AreaResult:
    area: str
    tried: int = 0
    held: int = 0
    failed: int = 0
    samples: list[str] = field(default_factory=list)
    kinds: dict = field(default_factory=dict)  # kind: [failures, first sample]

    def check(self, ok: bool, sample: str = "", kind: str = "") -> bool:
        self.tried += 1
        if ok:
            self.held += 1
        else:
            self.fail(sample, counted=True, kind=kind)
        return ok

    def fail(self, sample: str, *, counted: bool = False, kind: str = "") -> None:
        """Count a failure; keep a few samples of each kind (default: the sample's text
        after its last ': ', digits removed)."""
        if not counted:
            self.tried += 1
        self.failed += 1
        kind = kind or re.sub(r"\d+", "N", sample.rsplit(": ", 1)[-1])[:80]
        if kind in self.kinds:
            self.kinds[kind][0] += 1
        else:
            self.kinds[kind] = [1, sample[:300]]
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(sample[:300])


@dataclass
class Context:
    """What every area gets: the stack, the seeded world and the run's sizes."""

    stack: object
    world: object
    short: bool
    log: object

    def size(self, short, full):
        return short if self.short else full
