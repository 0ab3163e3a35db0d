"""The state-machine engine: plain data describing a platform, and pure functions over it.

Each platform module in ``orders/platforms/`` declares a ``PlatformSpec``: its native
statuses (exact codes), the unified stage and overlays of each, the transitions
(action → sources → target, guards, who may trigger them) and the deadlines each status
starts, with the policy defaults they are computed from. Nothing here touches the
database: ``orders.services`` loads and saves, this module decides.
"""

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from oms.core.errors import InvalidTransition, UnknownNativeStatus
from oms.core.timeutils import parse_duration
from orders.choices import ActorKind, DeadlineKind, Overlay, Stage

# A transition target meaning "the status the order had before this interruption"
# (AliExpress IN_ISSUE, IN_FROZEN and IN_CANCEL return to where they came from).
RESUME = "<resume>"

SELLER = frozenset({ActorKind.MEMBER, ActorKind.API_CLIENT})
PLATFORM = frozenset({ActorKind.PLATFORM})
SYSTEM = frozenset({ActorKind.SYSTEM})
ANYONE = SELLER | PLATFORM | SYSTEM


class OrderState(Protocol):
    """What guards and deadline rules may read of an order (``orders.models.Order`` fits)."""

    native_status: str
    resume_status: str
    end_reason: str


Policy = Mapping[str, timedelta]
# A guard returns None when the transition may go ahead, else a reason code.
Guard = Callable[[Any, Mapping[str, Any], Policy], str | None]


@dataclass(frozen=True, slots=True)
class Due:
    """A deadline a status starts: when it falls due and what happens then.

    ``due`` = the order's ``anchor`` time + the ``policy`` period, unless the platform
    sent its own time for this kind (that always wins). With ``before`` set it is a
    warning: due = that other deadline − the period.
    """

    kind: DeadlineKind
    policy: str
    anchor: str = "status_changed_at"
    before: DeadlineKind | None = None
    on_expiry: str = ""  # action the system applies when due; "" = notify only
    violation: str = ""  # recorded against the shop when the deadline is missed
    paused_by: tuple[Overlay, ...] = ()  # not running while any of these overlays is on
    doc: str = ""

    @property
    def is_notice(self) -> bool:
        """Reminders and warnings: they inform, they decide nothing."""
        return not self.on_expiry and not self.violation


@dataclass(frozen=True, slots=True)
class Status:
    code: str
    stage: Stage | None  # None: keeps the stage of the status it interrupted
    label: str = ""  # the platform's own wording
    overlays: frozenset[Overlay] = frozenset()
    deadlines: tuple[Due, ...] = ()
    terminal: bool = False
    aliases: tuple[str, ...] = ()
    # For codes whose stage depends on why the order ended (AliExpress FINISH).
    stage_by_end_reason: Callable[[str], Stage] | None = None

    @property
    def interrupts(self) -> bool:
        return self.stage is None and self.stage_by_end_reason is None


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    actors: frozenset[ActorKind]
    guards: tuple[Guard, ...] = ()
    permission: str | None = None  # what a member's role must allow
    end_reason: str = ""  # recorded on the order (AliExpress FINISH reasons)
    reasons: tuple[str, ...] = ()  # allowed reason codes; empty = any reason
    doc: str = ""

    def target_for(self, order: OrderState) -> str:
        return order.resume_status if self.target == RESUME else self.target


def T(  # noqa: N802 - reads as a table row
    action: str,
    sources: str | Iterable[str],
    target: str,
    *,
    by: frozenset[ActorKind],
    guards: tuple[Guard, ...] = (),
    permission: str | None = None,
    end_reason: str = "",
    reasons: tuple[str, ...] = (),
    doc: str = "",
) -> Transition:
    return Transition(
        action=action,
        sources=frozenset([sources] if isinstance(sources, str) else sources),
        target=target,
        actors=by,
        guards=guards,
        permission=permission,
        end_reason=end_reason,
        reasons=reasons,
        doc=doc,
    )


@dataclass(frozen=True, slots=True)
class PolicyDefault:
    value: str  # a duration: "48h", "15m", "7d", "0m"
    doc: str = ""
    confirmed: bool = True  # False: a product default, not a platform fact


@dataclass(frozen=True)
class PlatformSpec:
    code: str
    label: str
    native_tz: str  # the zone the platform's local time strings are in
    statuses: tuple[Status, ...]
    transitions: tuple[Transition, ...]
    policy: Mapping[str, PolicyDefault]
    # Per-market policy overrides (TikTok Shop: UK vs SEA); markets allowed for a shop.
    markets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Native payload (platform field names) → the unified ingest shape.
    parse_native: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    docs: str = ""

    def __post_init__(self) -> None:
        index: dict[str, Status] = {}
        for status in self.statuses:
            index[status.code] = status
            for alias in status.aliases:
                index[alias] = status
        object.__setattr__(self, "_index", index)

    # --- statuses ---------------------------------------------------------------

    @property
    def codes(self) -> list[str]:
        return [status.code for status in self.statuses]

    def status(self, code: str) -> Status:
        try:
            return self._index[code]  # type: ignore[attr-defined]
        except KeyError:
            raise UnknownNativeStatus(
                f"{self.label} has no status {code!r}", platform=self.code, status=code
            ) from None

    def normalise(self, code: str) -> str:
        """Map a known variant spelling to the canonical code (TikTok CANCEL → CANCELLED)."""
        return self.status(code).code

    def stage_of(
        self, code: str, *, end_reason: str = "", resume_status: str = ""
    ) -> Stage:
        status = self.status(code)
        if status.stage_by_end_reason is not None:
            return status.stage_by_end_reason(end_reason)
        if status.stage is not None:
            return status.stage
        if not resume_status:
            # Seen without knowing what it interrupted (e.g. first seen in a dispute).
            return Stage.AWAITING_SHIPMENT
        return self.stage_of(resume_status)

    @property
    def managed_overlays(self) -> frozenset[Overlay]:
        """Overlays this platform raises from native statuses (others come from cases)."""
        return frozenset().union(*(status.overlays for status in self.statuses))

    # --- transitions ------------------------------------------------------------

    def transitions_from(self, code: str) -> list[Transition]:
        return [t for t in self.transitions if code in t.sources]

    def actions(self) -> list[str]:
        return sorted({t.action for t in self.transitions})

    # --- policy -----------------------------------------------------------------

    def resolve_policy(
        self, *, market: str = "", overrides: Iterable[Mapping[str, str]] = ()
    ) -> dict[str, timedelta]:
        """Defaults, then the market's values, then each override mapping in turn."""
        values = {
            key: parse_duration(default.value) for key, default in self.policy.items()
        }
        for layer in (self.markets.get(market, {}), *overrides):
            for key, value in layer.items():
                if key in values:
                    values[key] = parse_duration(value)
        return values


# --- Planning ---------------------------------------------------------------------


def plan(
    spec: PlatformSpec,
    order: OrderState,
    action: str,
    actor: ActorKind,
    data: Mapping[str, Any],
    policy: Policy,
) -> Transition:
    """Choose the transition ``action`` takes from the order's status, or refuse.

    Raises ``InvalidTransition`` when no transition fits; its details say why
    (``reason``) and which actions the order allows now.
    """
    current = order.native_status
    candidates = [t for t in spec.transitions_from(current) if t.action == action]

    def refuse(reason: str, message: str) -> InvalidTransition:
        return InvalidTransition(
            message,
            status=current,
            action=action,
            reason=reason,
            allowed_actions=allowed_actions(spec, order, actor, policy),
        )

    if not candidates:
        raise refuse(
            "not_allowed_in_status", f"'{action}' is not possible in {current}."
        )
    candidates = [t for t in candidates if actor in t.actors]
    if not candidates:
        raise refuse(
            "not_allowed_for_actor", f"A {actor.label} cannot '{action}' an order."
        )
    first_failure = ""
    for transition in candidates:
        failure = _first_failing_guard(transition, order, data, policy)
        if failure is None:
            return transition
        first_failure = first_failure or failure
    raise refuse(first_failure, f"'{action}' is not possible now: {first_failure}.")


def _first_failing_guard(
    transition: Transition, order: OrderState, data: Mapping[str, Any], policy: Policy
) -> str | None:
    if transition.reasons:
        reason = data.get("reason", "")
        if reason not in transition.reasons:
            return "reason_not_allowed"
    for guard in transition.guards:
        failure = guard(order, data, policy)
        if failure is not None:
            return failure
    return None


def allowed_actions(
    spec: PlatformSpec, order: OrderState, actor: ActorKind, policy: Policy
) -> list[str]:
    """Actions this actor may take now (guards that need input data are assumed met)."""
    allowed = set()
    for transition in spec.transitions_from(order.native_status):
        if actor not in transition.actors:
            continue
        if all(guard(order, {}, policy) is None for guard in transition.guards):
            allowed.add(transition.action)
    return sorted(allowed)


def path_exists(spec: PlatformSpec, source: str, target: str) -> bool:
    """Whether some sequence of transitions leads from ``source`` to ``target``."""
    seen, queue = {source}, deque([source])
    while queue:
        code = queue.popleft()
        for transition in spec.transitions_from(code):
            nexts = (
                [s.code for s in spec.statuses if not s.interrupts]
                if transition.target == RESUME
                else [transition.target]
            )
            for nxt in nexts:
                if nxt == target:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
    return False


def direct_transition(
    spec: PlatformSpec, order: OrderState, target: str
) -> Transition | None:
    """A transition that takes the order from its status straight to ``target``."""
    for transition in spec.transitions_from(order.native_status):
        if transition.target_for(order) == target:
            return transition
    return None


# --- Deadlines --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedDeadline:
    due: Due
    due_at: datetime
    source: str  # "platform" or "policy"


def deadlines_for(
    spec: PlatformSpec,
    order: Any,
    policy: Policy,
    platform_deadlines: Mapping[str, datetime],
) -> dict[str, PlannedDeadline]:
    """The deadlines the order's status declares, with their due times.

    A deadline whose anchor time is unknown, or that an active overlay pauses, is not
    running. A platform-supplied time for a kind always wins over the policy.
    """
    status = spec.status(order.native_status)
    planned: dict[str, PlannedDeadline] = {}
    for due in (d for d in status.deadlines if d.before is None):
        if any(getattr(order, overlay) for overlay in due.paused_by):
            continue
        if due.kind in platform_deadlines:
            planned[due.kind] = PlannedDeadline(
                due, platform_deadlines[due.kind], "platform"
            )
            continue
        anchor = getattr(order, due.anchor)
        if anchor is not None:
            planned[due.kind] = PlannedDeadline(
                due, anchor + policy[due.policy], "policy"
            )
    for due in (d for d in status.deadlines if d.before is not None):
        base = planned.get(due.before)
        if base is not None:
            planned[due.kind] = PlannedDeadline(
                due, base.due_at - policy[due.policy], base.source
            )
    return planned


# --- Validation -------------------------------------------------------------------


def validate_spec(spec: PlatformSpec) -> list[str]:
    """Problems with a platform table; empty when it is sound (run by a system check)."""
    problems: list[str] = []
    codes = set(spec.codes)
    if len(codes) != len(spec.statuses):
        problems.append("a native status code is declared twice")
    by_code = {status.code: status for status in spec.statuses}
    for transition in spec.transitions:
        for source in transition.sources:
            if source not in codes:
                problems.append(f"{transition.action}: unknown source {source}")
            elif by_code[source].terminal:
                problems.append(f"{transition.action}: leaves terminal status {source}")
        if transition.target != RESUME and transition.target not in codes:
            problems.append(f"{transition.action}: unknown target {transition.target}")
        if not transition.actors:
            problems.append(f"{transition.action}: nobody may trigger it")
    seen: set[tuple[str, str, tuple]] = set()
    for transition in spec.transitions:
        for source in transition.sources:
            key = (transition.action, source, transition.guards)
            if key in seen:
                problems.append(f"{transition.action} from {source} is ambiguous")
            seen.add(key)
    for status in spec.statuses:
        if status.interrupts and not any(
            t.target == RESUME for t in spec.transitions_from(status.code)
        ):
            problems.append(f"{status.code} interrupts but nothing resumes from it")
        if not status.terminal and not any(
            by_code[c].terminal and path_exists(spec, status.code, c) for c in codes
        ):
            problems.append(f"{status.code} cannot reach a terminal status")
        if status.terminal and status.deadlines:
            problems.append(f"{status.code} is terminal but starts deadlines")
        kinds = {due.kind for due in status.deadlines}
        for due in status.deadlines:
            if due.policy not in spec.policy:
                problems.append(
                    f"{status.code}/{due.kind}: unknown policy {due.policy}"
                )
            if due.before is not None and due.before not in kinds:
                problems.append(
                    f"{status.code}/{due.kind}: warns before undeclared {due.before}"
                )
            if due.on_expiry and not any(
                t.action == due.on_expiry and ActorKind.SYSTEM in t.actors
                for t in spec.transitions_from(status.code)
            ):
                problems.append(
                    f"{status.code}/{due.kind}: expiry action {due.on_expiry} does not leave "
                    "this status for the system"
                )
    for market, values in spec.markets.items():
        for key in values:
            if key not in spec.policy:
                problems.append(f"market {market}: unknown policy {key}")
    return problems


def describe(spec: PlatformSpec) -> str:
    """The platform's table as Markdown with a Mermaid diagram (``describe_platform``)."""
    lines = [
        f"# {spec.label} (`{spec.code}`)",
        "",
        "| status | stage | overlays | deadlines |",
    ]
    lines.append("|---|---|---|---|")
    for status in spec.statuses:
        stage = status.stage.value if status.stage else "(by end reason / resumed)"
        deadlines = ", ".join(
            f"{d.kind} ({d.policy}{' → ' + d.on_expiry if d.on_expiry else ''})"
            for d in status.deadlines
        )
        overlays = ", ".join(sorted(status.overlays))
        lines.append(
            f"| `{status.code}` {status.label} | {stage} | {overlays} | {deadlines} |"
        )
    lines += ["", "```mermaid", "stateDiagram-v2"]
    for transition in spec.transitions:
        for source in sorted(transition.sources):
            target = "resume" if transition.target == RESUME else transition.target
            lines.append(f"    {source} --> {target}: {transition.action}")
    lines += ["```", "", "| policy | default | confirmed |", "|---|---|---|"]
    for key, default in spec.policy.items():
        lines.append(
            f"| {key} | {default.value} | {'yes' if default.confirmed else 'no'} |"
        )
    return "\n".join(lines)
