"""The after-sales state machines: plain data per (platform, case kind), pure lookups.

Each platform module in ``aftersales/platforms/`` declares one ``CaseSpec`` per kind of
case it has: the platform's own status codes (Taobao ``WAIT_SELLER_AGREE``, TikTok Shop
``RETURN_OR_REFUND_REQUEST_PENDING``, AliExpress ``WAIT_SELLER_CONFIRM_REFUND`` …), what
the seller must do in each and by when (a policy window and the action the system
applies when it passes), and the transitions. ``aftersales.services`` loads, locks and
saves; this module only decides.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from aftersales.choices import CaseKind, Outcome, SellerTask
from oms.core.errors import InvalidTransition, ValidationFailed
from orders.choices import ActorKind
from orders.machine import ANYONE, PLATFORM, SELLER, SYSTEM  # noqa: F401 - re-exported

# What a transition does to the order (``aftersales.services`` carries it out).
CANCEL_ORDER = "cancel_order"  # the order is cancelled and its paid amount refunded
KEEP_ORDER = "keep_order"  # a cancel request is refused: the order goes on
REFUND = "refund"  # the case's amount is refunded (a full refund closes the order)
END_DISPUTE = "end_dispute"  # the dispute ends without a refund: the order resumes


@dataclass(frozen=True, slots=True)
class CaseDue:
    """The deadline a status starts: ``policy`` after entering it, unless the platform
    sent its own; when it passes the system applies ``on_expiry``."""

    policy: str
    on_expiry: str
    doc: str = ""


@dataclass(frozen=True, slots=True)
class CaseStatus:
    code: str
    label: str
    task: SellerTask | None = None  # None: the case is closed
    due: CaseDue | None = None
    outcome: Outcome | None = None  # for closed statuses

    @property
    def is_open(self) -> bool:
        return self.task is not None


@dataclass(frozen=True, slots=True)
class CaseTransition:
    action: str
    sources: frozenset[str]
    target: str
    actors: frozenset[ActorKind]
    permission: str | None = None
    effect: str = ""
    needs_reason: bool = False
    # Only when the case has a return of goods (True), has none (False), or either.
    with_return: bool | None = None
    outcome: Outcome | None = None  # overrides the target status's outcome
    extends_due: bool = False  # stays in place and pushes the deadline out (once)
    doc: str = ""


def CT(  # noqa: N802 - reads as a table row
    action: str,
    sources: str | Iterable[str],
    target: str,
    *,
    by: frozenset[ActorKind],
    permission: str | None = None,
    effect: str = "",
    needs_reason: bool = False,
    with_return: bool | None = None,
    outcome: Outcome | None = None,
    extends_due: bool = False,
    doc: str = "",
) -> CaseTransition:
    return CaseTransition(
        action=action,
        sources=frozenset([sources] if isinstance(sources, str) else sources),
        target=target,
        actors=by,
        permission=permission,
        effect=effect,
        needs_reason=needs_reason,
        with_return=with_return,
        outcome=outcome,
        extends_due=extends_due,
        doc=doc,
    )


@dataclass(frozen=True)
class CaseSpec:
    platform: str
    kind: CaseKind
    statuses: tuple[CaseStatus, ...]
    transitions: tuple[CaseTransition, ...]
    initial: str
    aliases: dict[str, str] = field(default_factory=dict)
    # The order actions that open such a case on the order (AliExpress IN_CANCEL).
    order_action_on_open: str = ""
    doc: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {s.code: s for s in self.statuses})
        for transition in self.transitions:
            for code in (*transition.sources, transition.target):
                if code not in self._index:  # type: ignore[attr-defined]
                    raise ValueError(f"{self.platform}/{self.kind}: unknown {code!r}")
            if transition.action == "expire":
                raise ValueError("'expire' is reserved")
        for status in self.statuses:
            if status.due and not any(
                status.code in t.sources and t.action == status.due.on_expiry
                for t in self.transitions
            ):
                raise ValueError(
                    f"{self.platform}/{self.kind}: {status.code} expires into "
                    f"{status.due.on_expiry!r}, which it has no transition for"
                )

    def normalise(self, code: str) -> str:
        code = self.aliases.get(code, code)
        if code not in self._index:  # type: ignore[attr-defined]
            raise ValidationFailed(
                f"{self.platform} {self.kind} cases have no status {code!r}.",
                fields={"status": sorted(self._index)},  # type: ignore[attr-defined]
            )
        return code

    def status(self, code: str) -> CaseStatus:
        return self._index[self.normalise(code)]  # type: ignore[attr-defined]

    def transitions_from(self, code: str) -> list[CaseTransition]:
        return [t for t in self.transitions if code in t.sources]

    def plan(
        self, code: str, action: str, actor: ActorKind, *, has_return: bool
    ) -> CaseTransition:
        """The transition ``action`` takes from ``code`` for this actor, or refuse."""
        candidates = [t for t in self.transitions_from(code) if t.action == action]
        candidates = [
            t
            for t in candidates
            if t.with_return is None or t.with_return == has_return
        ]
        if not candidates:
            raise InvalidTransition(
                f"'{action}' is not possible while the case is {code}.",
                action=action,
                status=code,
                allowed=self.actions_from(code, actor, has_return=has_return),
            )
        allowed = [t for t in candidates if actor in t.actors]
        if not allowed:
            raise InvalidTransition(
                f"'{action}' is done by the platform, not by you.",
                action=action,
                status=code,
            )
        return allowed[0]

    def actions_from(
        self, code: str, actor: ActorKind, *, has_return: bool
    ) -> list[str]:
        return sorted(
            {
                t.action
                for t in self.transitions_from(code)
                if actor in t.actors
                and (t.with_return is None or t.with_return == has_return)
            }
        )
