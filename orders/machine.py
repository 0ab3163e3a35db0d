"""The state-machine engine: plain data describing a machine, and pure functions over it.

One engine runs two kinds of machine. Each platform package (``platforms/<code>/``)
declares a ``PlatformSpec`` for its orders (native statuses with their unified stage and
overlays, the transitions: action → sources → target, guards, who may trigger them, the
deadlines each status starts and the policy defaults they are computed from) and one
``CaseSpec`` per kind of after-sales case (the platform's case statuses with the
seller's task or the outcome, the transitions with what they do to the order, the
deadline each open status starts). Both are made of the same ``Status``, ``Transition``
and ``Due``, and are planned (``plan``, ``allowed_actions``), walked (``path_exists``),
timed (``deadlines_for``) and validated (``validate_spec``, ``validate_case_spec``) by
the same functions. Nothing here touches the database: ``orders.services`` and
``aftersales.services`` load and save, this module decides.
"""

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from oms.core.errors import InvalidTransition, UnknownNativeStatus, ValidationFailed
from oms.core.timeutils import parse_duration
from orders import permissions as perms
from orders.choices import (
    ActorKind,
    CaseKind,
    DeadlineKind,
    Outcome,
    Overlay,
    SellerTask,
    Stage,
)

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


class MachineState(Protocol):
    """What the engine reads of anything a machine runs (orders and cases)."""

    native_status: str


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

    kind: DeadlineKind | str  # a case's one deadline is CASE_DUE
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


# The kind of a case's deadline (a case status starts at most one).
CASE_DUE = "case_due"


def CaseDue(policy: str, on_expiry: str, doc: str = "") -> Due:  # noqa: N802 - a row
    """A case status's deadline: ``policy`` after entering it, unless the platform sent
    its own time; when it passes the system applies ``on_expiry``."""
    return Due(CASE_DUE, policy, on_expiry=on_expiry, doc=doc)


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
    # Cases: what the seller must do while open; how the case ended once closed.
    task: SellerTask | None = None
    outcome: Outcome | None = None

    @property
    def interrupts(self) -> bool:
        return self.stage is None and self.stage_by_end_reason is None

    @property
    def is_open(self) -> bool:
        return not self.terminal

    @property
    def due(self) -> Due | None:
        """The first deadline the status starts (a case status has at most one)."""
        return self.deadlines[0] if self.deadlines else None


def CaseStatus(  # noqa: N802 - reads as a table row
    code: str,
    label: str,
    task: SellerTask | None = None,
    due: Due | None = None,
    *,
    outcome: Outcome | None = None,
) -> Status:
    """A case status: open while the seller has a ``task``, else closed (terminal)."""
    return Status(
        code,
        None,
        label,
        deadlines=(due,) if due else (),
        terminal=task is None,
        task=task,
        outcome=outcome,
    )


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
    # Cases: what the transition does to the order (EFFECTS), whether a reason is
    # required, whether it applies only with a return of goods (True), only without
    # (False) or either (None), an outcome overriding the target's, and whether it
    # stays in place and pushes the deadline out once.
    effect: str = ""
    needs_reason: bool = False
    with_return: bool | None = None
    outcome: Outcome | None = None
    extends_due: bool = False
    doc: str = ""

    def fits(self, state: Any) -> bool:
        """Whether the transition applies to this state's shape (return of goods)."""
        return self.with_return is None or self.with_return == getattr(
            state, "has_return", None
        )

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
) -> Transition:
    """A case transition row."""
    return Transition(
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


CaseTransition = Transition  # the same row, named for the case tables' readers

# What a case transition does to the order (``aftersales.services`` carries it out).
CANCEL_ORDER = "cancel_order"  # the order is cancelled and its paid amount refunded
KEEP_ORDER = "keep_order"  # a cancel request is refused: the order goes on
REFUND = "refund"  # the case's amount is refunded (a full refund closes the order)
END_DISPUTE = "end_dispute"  # the dispute ends without a refund: the order resumes
EFFECTS = frozenset({"", CANCEL_ORDER, KEEP_ORDER, REFUND, END_DISPUTE})
# The order actions the generic after-sales code applies for each effect, and whether
# the order machine must have it (else it is skipped when the order has no such step).
EFFECT_ORDER_ACTIONS: Mapping[str, tuple[str, bool]] = {
    CANCEL_ORDER: ("approve_cancel", True),
    KEEP_ORDER: ("reject_cancel", False),
    END_DISPUTE: ("close_dispute", False),
}


# --- The contract between generic after-sales code and the case tables ------------
# The inbox, the batch endpoints, the order hooks and the sandbox call a case's actions
# by the role they play; each table names its action for a role in ``CaseSpec.roles``
# (an action named like the role plays it by default). ``validate_case_spec`` checks
# that every table provides the roles its kind needs, for the right actors.

APPROVE = "approve"  # grant the request (Taobao agree, AliExpress accept)
REJECT = "reject"  # refuse it, with a reason the buyer sees (Taobao/AliExpress refuse)
WITHDRAW = "withdraw"  # the platform reports the buyer withdrew it
RETURN_SENT = "return_sent"  # the platform reports the buyer sent the goods back
# The buyer took the seller's counter-proposal: the refund is the proposed amount
# (AliExpress buyer_accept_proposal). Optional.
ACCEPT_PROPOSAL = "accept_proposal"


@dataclass(frozen=True, slots=True)
class RoleRule:
    required_for: frozenset[str]  # case kinds that must provide the role
    by: frozenset[ActorKind]  # every one of these may take it
    # Where it must be possible: "initial" (the initial status), "open" (every open
    # status), "return" (where approving with a return of goods leads) or "" (where
    # the table has it).
    sources: str
    permission: str | None = None
    needs_reason: bool = False
    # For cancel requests: the effect on the order the order hooks rely on.
    cancel_effect: str = ""
    effect: str = ""  # the effect every row of the action must have


ALL_KINDS = frozenset(CaseKind.values)
CASE_ROLES: Mapping[str, RoleRule] = {
    APPROVE: RoleRule(
        ALL_KINDS - {CaseKind.DISPUTE},
        SELLER,
        "initial",
        perms.DECIDE_AFTERSALES,
        cancel_effect=CANCEL_ORDER,
    ),
    REJECT: RoleRule(
        ALL_KINDS - {CaseKind.DISPUTE},
        SELLER,
        "initial",
        perms.DECIDE_AFTERSALES,
        needs_reason=True,
        cancel_effect=KEEP_ORDER,
    ),
    WITHDRAW: RoleRule(ALL_KINDS, PLATFORM, "open"),
    # Required where the approval can ask for the goods back (checked below).
    RETURN_SENT: RoleRule(frozenset(), PLATFORM, "return"),
    ACCEPT_PROPOSAL: RoleRule(frozenset(), PLATFORM, "", effect=REFUND),
}


@dataclass(frozen=True, slots=True)
class PolicyDefault:
    value: str  # a duration: "48h", "15m", "7d", "0m"
    doc: str = ""
    confirmed: bool = True  # False: a product default, not a platform fact


class Machine:
    """What both kinds of machine share: statuses, transitions and their lookups."""

    statuses: tuple[Status, ...]
    transitions: tuple[Transition, ...]

    @property
    def codes(self) -> list[str]:
        return [status.code for status in self.statuses]

    def status(self, code: str) -> Status:
        raise NotImplementedError

    def transitions_from(self, code: str) -> list[Transition]:
        return [t for t in self.transitions if code in t.sources]

    def actions(self) -> list[str]:
        return sorted({t.action for t in self.transitions})


@dataclass(frozen=True)
class PlatformSpec(Machine):
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


@dataclass(frozen=True, slots=True)
class CaseAt:
    """A case as the engine sees it: its status and whether goods come back."""

    native_status: str
    has_return: bool


@dataclass(frozen=True)
class CaseSpec(Machine):
    """One platform's machine for one kind of after-sales case."""

    platform: str
    kind: CaseKind
    statuses: tuple[Status, ...]
    transitions: tuple[Transition, ...]
    initial: str
    aliases: dict[str, str] = field(default_factory=dict)
    # The order action that opens such a case on the order (AliExpress IN_CANCEL).
    order_action_on_open: str = ""
    # The action playing each generic role (CASE_ROLES) where it is named otherwise.
    roles: Mapping[str, str] = field(default_factory=dict)
    doc: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {s.code: s for s in self.statuses})

    def normalise(self, code: str) -> str:
        code = self.aliases.get(code, code)
        if code not in self._index:  # type: ignore[attr-defined]
            raise ValidationFailed(
                f"{self.platform} {self.kind} cases have no status {code!r}.",
                fields={"status": sorted(self._index)},  # type: ignore[attr-defined]
            )
        return code

    def status(self, code: str) -> Status:
        return self._index[self.normalise(code)]  # type: ignore[attr-defined]

    def action_for(self, role: str) -> str:
        """The action playing a generic role (``APPROVE``, …), or "" if none does."""
        if role in self.roles:
            return self.roles[role]
        return role if any(t.action == role for t in self.transitions) else ""

    def plan(
        self, code: str, action: str, actor: ActorKind, *, has_return: bool
    ) -> Transition:
        """The transition ``action`` takes from ``code`` for this actor, or refuse."""
        chosen = choose(self, CaseAt(code, has_return), action, actor, {}, {})
        if isinstance(chosen, Transition):
            return chosen
        if chosen == "not_allowed_in_status":
            raise InvalidTransition(
                f"'{action}' is not possible while the case is {code}.",
                action=action,
                status=code,
                allowed=self.actions_from(code, actor, has_return=has_return),
            )
        raise InvalidTransition(
            f"'{action}' is done by the platform, not by you.",
            action=action,
            status=code,
        )

    def actions_from(
        self, code: str, actor: ActorKind, *, has_return: bool
    ) -> list[str]:
        return allowed_actions(self, CaseAt(code, has_return), actor, {})


# --- Planning ---------------------------------------------------------------------


def choose(
    spec: Machine,
    state: Any,
    action: str,
    actor: ActorKind,
    data: Mapping[str, Any],
    policy: Policy,
) -> Transition | str:
    """The transition ``action`` takes from the state's status for this actor, or why
    none does: ``not_allowed_in_status``, ``not_allowed_for_actor`` or the first
    failing guard's reason."""
    candidates = [
        t
        for t in spec.transitions_from(state.native_status)
        if t.action == action and t.fits(state)
    ]
    if not candidates:
        return "not_allowed_in_status"
    candidates = [t for t in candidates if actor in t.actors]
    if not candidates:
        return "not_allowed_for_actor"
    first_failure = ""
    for transition in candidates:
        failure = _first_failing_guard(transition, state, data, policy)
        if failure is None:
            return transition
        first_failure = first_failure or failure
    return first_failure


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
    chosen = choose(spec, order, action, actor, data, policy)
    if isinstance(chosen, Transition):
        return chosen
    current = order.native_status
    if chosen == "not_allowed_in_status":
        message = f"'{action}' is not possible in {current}."
    elif chosen == "not_allowed_for_actor":
        message = f"A {actor.label} cannot '{action}' an order."
    else:
        message = f"'{action}' is not possible now: {chosen}."
    raise InvalidTransition(
        message,
        status=current,
        action=action,
        reason=chosen,
        allowed_actions=allowed_actions(spec, order, actor, policy),
    )


def _first_failing_guard(
    transition: Transition, order: Any, data: Mapping[str, Any], policy: Policy
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
    spec: Machine, order: MachineState, actor: ActorKind, policy: Policy
) -> list[str]:
    """Actions this actor may take now (guards that need input data are assumed met)."""
    allowed = set()
    for transition in spec.transitions_from(order.native_status):
        if actor not in transition.actors or not transition.fits(order):
            continue
        if all(guard(order, {}, policy) is None for guard in transition.guards):
            allowed.add(transition.action)
    return sorted(allowed)


def path_exists(spec: Machine, source: str, target: str) -> bool:
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
    spec: Machine,
    order: Any,
    policy: Policy,
    platform_deadlines: Mapping[str, datetime],
) -> dict[str, PlannedDeadline]:
    """The deadlines the status of an order (or a case) declares, with their due times.

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


def _overlap(a: bool | None, b: bool | None) -> bool:
    return a is None or b is None or a == b


def validate_machine(
    spec: Machine,
    policy: Iterable[str],
    *,
    reopened_by: frozenset[ActorKind] = frozenset(),
) -> list[str]:
    """What every machine must satisfy, orders and cases alike. ``reopened_by``: who
    may take a terminal status back to an open one (a closed Taobao refund the buyer
    applies for again); nobody for orders."""
    problems: list[str] = []
    policy = set(policy)
    codes = set(spec.codes)
    if len(codes) != len(spec.statuses):
        problems.append("a status code is declared twice")
    by_code = {status.code: status for status in spec.statuses}
    for transition in spec.transitions:
        for source in transition.sources:
            if source not in codes:
                problems.append(f"{transition.action}: unknown source {source}")
            elif by_code[source].terminal and not transition.actors <= reopened_by:
                problems.append(f"{transition.action}: leaves terminal status {source}")
        if transition.target != RESUME and transition.target not in codes:
            problems.append(f"{transition.action}: unknown target {transition.target}")
        if not transition.actors:
            problems.append(f"{transition.action}: nobody may trigger it")
        if transition.actors & SELLER and not transition.permission:
            problems.append(f"{transition.action}: a seller action names no permission")
        if transition.permission and not transition.actors & SELLER:
            problems.append(
                f"{transition.action}: names a permission but no seller may take it"
            )
    seen: dict[tuple[str, str, tuple], list[bool | None]] = {}
    for transition in spec.transitions:
        for source in transition.sources:
            shapes = seen.setdefault((transition.action, source, transition.guards), [])
            if any(_overlap(shape, transition.with_return) for shape in shapes):
                problems.append(f"{transition.action} from {source} is ambiguous")
            shapes.append(transition.with_return)
    for status in spec.statuses:
        if not status.terminal and not any(
            by_code[c].terminal and path_exists(spec, status.code, c) for c in codes
        ):
            problems.append(f"{status.code} cannot reach a terminal status")
        if status.terminal and status.deadlines:
            problems.append(f"{status.code} is terminal but starts deadlines")
        for due in status.deadlines:
            if due.policy not in policy:
                problems.append(
                    f"{status.code}/{due.kind}: unknown policy {due.policy}"
                )
            # With and without a return of goods alike, the system can apply it.
            if due.on_expiry and not all(
                any(
                    t.action == due.on_expiry
                    and ActorKind.SYSTEM in t.actors
                    and _overlap(t.with_return, has_return)
                    for t in spec.transitions_from(status.code)
                )
                for has_return in (True, False)
            ):
                problems.append(
                    f"{status.code}/{due.kind}: expiry action {due.on_expiry} does not leave "
                    "this status for the system"
                )
    return problems


def validate_spec(spec: PlatformSpec) -> list[str]:
    """Problems with a platform's order table; empty when it is sound (run by a system
    check and when the registry loads)."""
    problems = validate_machine(spec, spec.policy)
    kinds_by_status = {
        status.code: {due.kind for due in status.deadlines} for status in spec.statuses
    }
    for status in spec.statuses:
        if status.interrupts and not any(
            t.target == RESUME for t in spec.transitions_from(status.code)
        ):
            problems.append(f"{status.code} interrupts but nothing resumes from it")
        for due in status.deadlines:
            if (
                due.before is not None
                and due.before not in kinds_by_status[status.code]
            ):
                problems.append(
                    f"{status.code}/{due.kind}: warns before undeclared {due.before}"
                )
    for transition in spec.transitions:
        if transition.effect or transition.with_return is not None:
            problems.append(f"{transition.action}: case fields on an order transition")
    for market, values in spec.markets.items():
        for key in values:
            if key not in spec.policy:
                problems.append(f"market {market}: unknown policy {key}")
    return problems


def _order_action_problems(
    order_spec: PlatformSpec, action: str, actors: Iterable[ActorKind], what: str
) -> list[str]:
    """An order action named by a case table must exist for each of these actors."""
    return [
        f"{what}: the order machine has no {action!r} for the {actor} actor"
        for actor in sorted(set(actors))
        if not any(
            t.action == action and actor in t.actors for t in order_spec.transitions
        )
    ]


def validate_case_spec(
    spec: CaseSpec, order_spec: PlatformSpec | None = None
) -> list[str]:
    """Problems with one case table, in the context of its platform's order machine
    (deadline policies are the platform's, effects and hooks name its order actions)."""
    if order_spec is not None:
        problems = validate_machine(spec, order_spec.policy, reopened_by=PLATFORM)
    else:  # the platform's policy is unknown: check all else
        problems = [
            p
            for p in validate_machine(spec, (), reopened_by=PLATFORM)
            if ": unknown policy " not in p
        ]
    codes = set(spec.codes)
    if spec.kind not in ALL_KINDS:
        problems.append(f"unknown case kind {spec.kind}")
    if spec.initial not in codes:
        problems.append(f"unknown initial status {spec.initial}")
    elif not spec.status(spec.initial).is_open:
        problems.append(f"the initial status {spec.initial} is closed")
    for alias, code in spec.aliases.items():
        if code not in codes:
            problems.append(f"alias {alias} names unknown status {code}")
    for status in spec.statuses:
        if status.terminal and status.outcome is None:
            problems.append(f"{status.code} is closed but has no outcome")
        if not status.terminal and status.task is None:
            problems.append(f"{status.code} is open but gives the seller no task")
        if len(status.deadlines) > 1:
            problems.append(f"{status.code} starts more than one deadline")
        if any(due.kind != CASE_DUE for due in status.deadlines):
            problems.append(f"{status.code}: a case deadline is a CaseDue")
        if any(due.on_expiry == "expire" for due in status.deadlines):
            problems.append(f"{status.code}: 'expire' is reserved")
    for t in spec.transitions:
        if t.action == "expire":
            problems.append("'expire' is reserved")
        if t.target == RESUME:
            problems.append(f"{t.action}: a case does not resume")
        if t.effect not in EFFECTS:
            problems.append(f"{t.action}: unknown effect {t.effect}")
        if t.guards or t.end_reason or t.reasons:
            problems.append(f"{t.action}: order fields on a case transition")
        if t.extends_due and (
            t.sources != {t.target}
            or t.target not in codes
            or spec.status(t.target).due is None
        ):
            problems.append(
                f"{t.action}: extends the deadline of a status it leaves or that has none"
            )
        # An action with a return-specific row has one for the other case as well.
        for source in t.sources:
            if t.with_return is not None and not any(
                o.action == t.action
                and source in o.sources
                and _overlap(o.with_return, not t.with_return)
                for o in spec.transitions
            ):
                problems.append(
                    f"{t.action} from {source} only exists "
                    f"{'with' if t.with_return else 'without'} a return of goods"
                )
    problems += _role_problems(spec)
    if order_spec is not None:
        if spec.platform != order_spec.code:
            problems.append(f"belongs to {spec.platform}, not {order_spec.code}")
        problems += case_order_action_problems(spec, order_spec)
    return problems


def case_order_action_problems(spec: CaseSpec, order_spec: PlatformSpec) -> list[str]:
    """The order actions a case table names (directly, or through its effects) that
    the platform's order machine lacks for the actors concerned."""
    problems: list[str] = []
    if spec.order_action_on_open:
        problems += _order_action_problems(
            order_spec, spec.order_action_on_open, PLATFORM, "order_action_on_open"
        )
    for t in spec.transitions:
        action, required = EFFECT_ORDER_ACTIONS.get(t.effect, ("", False))
        if required:
            problems += _order_action_problems(
                order_spec, action, t.actors, f"{t.action} ({t.effect})"
            )
    return problems


def _role_problems(spec: CaseSpec) -> list[str]:
    problems: list[str] = []
    for role in spec.roles:
        if role not in CASE_ROLES:
            problems.append(f"unknown role {role}")
    return_targets = {
        t.target
        for t in spec.transitions
        if t.action == spec.action_for(APPROVE) and t.with_return
    }
    for role, rule in CASE_ROLES.items():
        action = spec.action_for(role)
        required = spec.kind in rule.required_for or (
            role == RETURN_SENT and bool(return_targets)
        )
        if not action:
            if required or role in spec.roles:
                problems.append(f"no action plays the {role} role")
            continue
        rows = [t for t in spec.transitions if t.action == action]
        if not rows:
            problems.append(f"the {role} role names unknown action {action}")
            continue
        if rule.sources == "initial":
            sources = {spec.initial}
        elif rule.sources == "return":
            sources = return_targets
        elif not rule.sources:
            sources = {source for t in rows for source in t.sources}
        else:
            sources = {s.code for s in spec.statuses if s.is_open}
        for source in sorted(sources):
            for has_return in (False, True):
                fit = [
                    t
                    for t in rows
                    if source in t.sources and _overlap(t.with_return, has_return)
                ]
                if role == RETURN_SENT and not has_return:
                    continue
                missing = rule.by - frozenset().union(*(t.actors for t in fit))
                if missing:
                    problems.append(
                        f"{role} ({action}) from {source}: not for "
                        + ", ".join(sorted(missing))
                    )
                for t in fit:
                    if rule.permission and t.permission != rule.permission:
                        problems.append(
                            f"{role} ({action}) from {source}: needs the "
                            f"{rule.permission} permission"
                        )
                    if rule.effect and t.effect != rule.effect:
                        problems.append(
                            f"{role} ({action}) from {source}: effect must be "
                            f"{rule.effect}"
                        )
                    if rule.needs_reason and not t.needs_reason:
                        problems.append(
                            f"{role} ({action}) from {source}: needs a reason"
                        )
                    if (
                        spec.kind == CaseKind.CANCEL
                        and rule.cancel_effect
                        and t.effect != rule.cancel_effect
                    ):
                        problems.append(
                            f"{role} ({action}) of a cancel request: effect must be "
                            f"{rule.cancel_effect}"
                        )
    return sorted(set(problems), key=problems.index)


# What each group of problems is (the system check's ids, ``orders.apps``).
ORDER_TABLE = "order_table"  # orders.E001
CASE_TABLE = "case_table"  # orders.E002: a case table, or the after-sales contract
ORDER_ACTIONS = "order_actions"  # orders.E003: order actions the cases name are missing


def platform_problems(platform: Any) -> list[tuple[str, str]]:
    """Everything wrong with an installed platform, each with its group: its order
    table, each case table in the context of it (roles included), and the order
    actions the case tables and ``close_on_full_refund`` name."""
    problems = [(ORDER_TABLE, problem) for problem in validate_spec(platform.spec)]
    kinds: set[str] = set()
    for case_spec in platform.cases:
        if not isinstance(case_spec, CaseSpec):
            problems.append((CASE_TABLE, f"cases: {case_spec!r} is not a CaseSpec"))
            continue
        if case_spec.kind in kinds:
            problems.append((CASE_TABLE, f"{case_spec.kind} cases are declared twice"))
        kinds.add(case_spec.kind)
        missing = case_order_action_problems(case_spec, platform.spec)
        problems += [
            (ORDER_ACTIONS if problem in missing else CASE_TABLE,
             f"{case_spec.kind} cases: {problem}")
            for problem in validate_case_spec(case_spec, platform.spec)
        ]  # fmt: skip
    refunds = any(
        t.effect == REFUND
        for c in platform.cases
        if isinstance(c, CaseSpec)
        for t in c.transitions
    )
    if refunds and not platform.close_on_full_refund:
        problems.append(
            (
                ORDER_ACTIONS,
                "cases refund but close_on_full_refund names no order action",
            )
        )
    if platform.close_on_full_refund:
        problems += [
            (ORDER_ACTIONS, problem)
            for problem in _order_action_problems(
                platform.spec,
                platform.close_on_full_refund,
                SYSTEM,
                "close_on_full_refund",
            )
        ]
    return problems


def validate_platform(platform: Any) -> list[str]:
    """Everything wrong with an installed platform (``platform_problems``), as text."""
    return [problem for _, problem in platform_problems(platform)]


def describe(spec: PlatformSpec, cases: Iterable[CaseSpec] = ()) -> str:
    """The platform's tables as Markdown with Mermaid diagrams (``describe_platform``):
    the order machine, then each case table."""
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
    for case in cases:
        lines += ["", describe_case(case)]
    return "\n".join(lines)


def describe_case(spec: CaseSpec) -> str:
    """One case table as Markdown with a Mermaid diagram."""
    roles = ", ".join(
        f"{role} = `{spec.action_for(role)}`"
        for role in CASE_ROLES
        if spec.action_for(role)
    )
    lines = [
        f"## {spec.kind} cases (initial `{spec.initial}`; {roles})",
        "",
        "| status | seller task / outcome | deadline |",
        "|---|---|---|",
    ]
    for status in spec.statuses:
        state = status.task or f"closed: {status.outcome}"
        due = status.due
        deadline = f"{due.policy} → {due.on_expiry}" if due else ""
        lines.append(f"| `{status.code}` {status.label} | {state} | {deadline} |")
    lines += ["", "```mermaid", "stateDiagram-v2"]
    for transition in spec.transitions:
        shape = {True: " (return)", False: " (no return)"}.get(
            transition.with_return, ""
        )
        for source in sorted(transition.sources):
            lines.append(
                f"    {source} --> {transition.target}: {transition.action}{shape}"
            )
    lines.append("```")
    return "\n".join(lines)
