"""What each area returns: how many probes it tried, how many held, which failed."""

from dataclasses import dataclass, field

MAX_SAMPLES = 8


@dataclass
class AreaResult:
    area: str
    tried: int = 0
    held: int = 0
    failed: int = 0
    samples: list[str] = field(default_factory=list)
    error: str = ""  # the area itself crashed (counts as a failure)

    def check(self, ok: bool, sample: str = "") -> bool:
        self.tried += 1
        if ok:
            self.held += 1
        else:
            self.fail(sample, counted=True)
        return ok

    def fail(self, sample: str, *, counted: bool = False) -> None:
        if not counted:
            self.tried += 1
        self.failed += 1
        if len(self.samples) < MAX_SAMPLES and sample not in self.samples:
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
