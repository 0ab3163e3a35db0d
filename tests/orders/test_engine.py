"""One engine for orders and cases: the same types, the same planning, the same
definition-time validation, and the contract between the generic after-sales code and
each platform's case tables, refused at load and by ``manage.py check``."""

from dataclasses import replace
from io import StringIO

import pytest
from django.core.checks import Error
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from aftersales import machine as aftersales_machine
from aftersales.platforms import case_specs
from oms.core.errors import InvalidTransition
from orders.apps import check_platform_specs
from orders.choices import ActorKind, CaseKind, DeadlineKind, Outcome, SellerTask
from orders.machine import (
    ACCEPT_PROPOSAL,
    APPROVE,
    CANCEL_ORDER,
    CASE_ROLES,
    CT,
    PLATFORM,
    REJECT,
    RETURN_SENT,
    SELLER,
    SYSTEM,
    WITHDRAW,
    CaseAt,
    CaseDue,
    CaseSpec,
    CaseStatus,
    Due,
    Machine,
    PlatformSpec,
    Status,
    T,
    Transition,
    allowed_actions,
    choose,
    validate_case_spec,
    validate_platform,
    validate_spec,
)
from orders.platforms import get_platform, platforms

CASE_LIST = [case_specs()[key] for key in sorted(case_specs())]


def case_id(spec: CaseSpec) -> str:
    return f"{spec.platform}-{spec.kind}"


# --- one engine ---------------------------------------------------------------------


def test_orders_and_cases_are_built_of_the_same_parts():
    for platform in platforms().values():
        assert isinstance(platform.spec, Machine)
        for spec in platform.cases:
            assert isinstance(spec, Machine)
            assert all(type(s) is Status for s in spec.statuses)
            assert all(type(t) is Transition for t in spec.transitions)
            assert all(type(d) is Due for s in spec.statuses for d in s.deadlines)
    # the after-sales module is the engine's, re-exported
    assert aftersales_machine.CaseSpec is CaseSpec
    assert aftersales_machine.CaseTransition is Transition


@pytest.mark.parametrize("code", sorted(platforms()))
def test_every_installed_platform_is_sound(code):
    assert validate_platform(get_platform(code)) == []


@pytest.mark.parametrize("spec", CASE_LIST, ids=case_id)
def test_case_planning_is_the_engines(spec):
    """Every row of every case table is what the engine plans, for each of its actors and
    each shape (with or without a return of goods) it applies to."""
    for transition in spec.transitions:
        for source in transition.sources:
            for has_return in (False, True):
                state = CaseAt(source, has_return)
                if not transition.fits(state):
                    continue
                for actor in transition.actors:
                    planned = spec.plan(
                        source, transition.action, actor, has_return=has_return
                    )
                    # unambiguous: the row itself, through the engine's choose
                    assert planned is transition
                    assert (
                        choose(spec, state, transition.action, actor, {}, {})
                        is transition
                    )
                    assert transition.action in allowed_actions(spec, state, actor, {})


def test_a_case_refusal_names_the_actions_allowed():
    spec = case_specs()[("tiktok", CaseKind.CANCEL)]
    with pytest.raises(InvalidTransition) as refused:
        spec.plan("CANCELLATION_REQUEST_PENDING", "complete", ActorKind.MEMBER,
                  has_return=False)  # fmt: skip
    assert refused.value.details["allowed"] == ["approve", "reject"]
    with pytest.raises(InvalidTransition, match="done by the platform"):
        spec.plan("CANCELLATION_REQUEST_PENDING", "withdraw", ActorKind.MEMBER,
                  has_return=False)  # fmt: skip


# --- broken order tables ---------------------------------------------------------------

ORDER = get_platform("tiktok").spec


def order_with(**changes) -> PlatformSpec:
    return replace(ORDER, **changes)


def test_order_table_unreachable_terminal():
    stuck = Status("LIMBO", ORDER.statuses[0].stage, "stuck")
    spec = order_with(
        statuses=(*ORDER.statuses, stuck),
        transitions=(*ORDER.transitions, T("drift", "UNPAID", "LIMBO", by=PLATFORM)),
    )
    assert "LIMBO cannot reach a terminal status" in validate_spec(spec)


def test_order_table_unknown_policy_and_expiry_not_for_the_system():
    unpaid = ORDER.status("UNPAID")
    due = Due(DeadlineKind.PAY_BY, "no_such_window", on_expiry="pay")
    spec = order_with(
        statuses=tuple(
            replace(s, deadlines=(due,)) if s is unpaid else s for s in ORDER.statuses
        )
    )
    problems = validate_spec(spec)
    assert "UNPAID/pay_by: unknown policy no_such_window" in problems
    assert any("expiry action pay does not leave" in p for p in problems)


def test_order_table_ambiguous_and_nobody():
    first = ORDER.transitions[0]
    spec = order_with(
        transitions=(
            *ORDER.transitions,
            first,
            replace(first, action="x", actors=frozenset()),
        )
    )
    problems = validate_spec(spec)
    source = sorted(first.sources)[0]
    assert f"{first.action} from {source} is ambiguous" in problems
    assert "x: nobody may trigger it" in problems


def test_seller_actions_and_permissions_go_together():
    # orders and cases alike
    case_rows = tiny_case().transitions
    bad_case = tiny_case(
        transitions=(replace(case_rows[0], permission=None), case_rows[1],
                     replace(case_rows[2], permission="aftersales.decide"))
    )  # fmt: skip
    problems = validate_case_spec(bad_case, ORDER)
    assert "approve: a seller action names no permission" in problems
    assert "withdraw: names a permission but no seller may take it" in problems
    seller_row = next(t for t in ORDER.transitions if t.actors & SELLER)
    bad_order = order_with(
        transitions=(
            *(t for t in ORDER.transitions if t is not seller_row),
            replace(seller_row, permission=None),
        )
    )
    assert f"{seller_row.action}: a seller action names no permission" in validate_spec(
        bad_order
    )


def test_order_table_with_case_fields_is_refused():
    first = ORDER.transitions[0]
    spec = order_with(
        transitions=(replace(first, effect=CANCEL_ORDER), *ORDER.transitions[1:])
    )
    assert f"{first.action}: case fields on an order transition" in validate_spec(spec)


# --- broken case tables ----------------------------------------------------------------


def tiny_case(**changes) -> CaseSpec:
    """A small, sound cancel table for the TikTok order machine."""
    spec = CaseSpec(
        platform="tiktok",
        kind=CaseKind.CANCEL,
        initial="ASKED",
        statuses=(
            CaseStatus("ASKED", "asked", SellerTask.RESPOND,
                       CaseDue("cancel_response_window", "approve")),
            CaseStatus("YES", "yes", outcome=Outcome.APPROVED),
            CaseStatus("NO", "no", outcome=Outcome.REJECTED),
        ),
        transitions=(
            CT("approve", "ASKED", "YES", by=SELLER | SYSTEM | PLATFORM,
               permission="aftersales.decide", effect=CANCEL_ORDER),
            CT("reject", "ASKED", "NO", by=SELLER | PLATFORM, permission="aftersales.decide",
               effect="keep_order", needs_reason=True),
            CT("withdraw", "ASKED", "NO", by=PLATFORM, effect="keep_order"),
        ),
    )  # fmt: skip
    return replace(spec, **changes)


def test_the_tiny_case_table_is_sound():
    assert validate_case_spec(tiny_case(), ORDER) == []


def test_case_table_unreachable_terminal():
    spec = tiny_case(
        statuses=(
            *tiny_case().statuses,
            CaseStatus("HELD", "held", SellerTask.WAIT_BUYER),
        ),
        transitions=(
            *tiny_case().transitions,
            CT("hold", "ASKED", "HELD", by=PLATFORM),
        ),
    )
    assert "HELD cannot reach a terminal status" in validate_case_spec(spec, ORDER)


def test_case_table_unknown_policy():
    asked = CaseStatus(
        "ASKED", "asked", SellerTask.RESPOND, CaseDue("no_window", "approve")
    )
    spec = tiny_case(statuses=(asked, *tiny_case().statuses[1:]))
    assert "ASKED/case_due: unknown policy no_window" in validate_case_spec(spec, ORDER)


def test_case_table_expiry_action_missing_for_the_system():
    rows = tiny_case().transitions
    spec = tiny_case(
        transitions=(replace(rows[0], actors=SELLER | PLATFORM), *rows[1:])
    )
    problems = validate_case_spec(spec, ORDER)
    assert any("expiry action approve does not leave" in p for p in problems)


def test_case_table_expiry_must_work_with_and_without_a_return():
    rows = tiny_case().transitions
    spec = tiny_case(transitions=(replace(rows[0], with_return=False), *rows[1:]))
    problems = validate_case_spec(spec, ORDER)
    assert any("expiry action approve does not leave" in p for p in problems)
    assert "approve from ASKED only exists without a return of goods" in problems


def test_case_table_ambiguous():
    rows = tiny_case().transitions
    spec = tiny_case(transitions=(*rows, replace(rows[2], target="YES")))
    assert "withdraw from ASKED is ambiguous" in validate_case_spec(spec, ORDER)


def test_case_table_with_return_rows_are_not_ambiguous():
    rows = tiny_case().transitions
    both = (replace(rows[0], with_return=True), replace(rows[0], with_return=False))
    problems = validate_case_spec(tiny_case(transitions=(*both, *rows[1:])), ORDER)
    assert not any("ambiguous" in p for p in problems)
    # …and the approval asking for the goods back needs the return_sent role
    assert problems == ["no action plays the return_sent role"]


def test_case_table_status_rules():
    statuses = tiny_case().statuses
    spec = tiny_case(
        initial="YES",
        statuses=(*statuses[:2], replace(statuses[2], outcome=None)),
        aliases={"OLD": "GONE"},
    )
    problems = validate_case_spec(spec, ORDER)
    assert "the initial status YES is closed" in problems
    assert "NO is closed but has no outcome" in problems
    assert "alias OLD names unknown status GONE" in problems


@pytest.mark.parametrize(
    ("role", "message"),
    [
        (APPROVE, "no action plays the approve role"),
        (REJECT, "no action plays the reject role"),
        (WITHDRAW, "no action plays the withdraw role"),
    ],
)
def test_case_table_missing_contract_role(role, message):
    spec = tiny_case(
        transitions=tuple(t for t in tiny_case().transitions if t.action != role),
        statuses=tiny_case().statuses,
    )
    assert message in validate_case_spec(spec, ORDER)


def test_case_table_role_with_the_wrong_actors_or_rules():
    rows = tiny_case().transitions
    spec = tiny_case(
        transitions=(
            rows[0],
            replace(rows[1], actors=PLATFORM, needs_reason=False, effect=""),
            replace(rows[2], actors=SYSTEM),
        )
    )
    problems = validate_case_spec(spec, ORDER)
    assert "reject (reject) from ASKED: not for api_client, member" in problems
    assert "withdraw (withdraw) from ASKED: not for platform" in problems
    assert "reject (reject) from ASKED: needs a reason" in problems
    assert "reject (reject) of a cancel request: effect must be keep_order" in problems


def test_case_table_role_named_for_another_action():
    rows = tiny_case().transitions
    renamed = tiny_case(transitions=(replace(rows[0], action="agree"), *rows[1:]))
    assert "no action plays the approve role" in validate_case_spec(renamed, ORDER)
    declared = replace(renamed, roles={APPROVE: "agree"})
    problems = validate_case_spec(declared, ORDER)
    assert not any("approve role" in p for p in problems)
    assert "the approve role names unknown action nope" in validate_case_spec(
        replace(renamed, roles={APPROVE: "nope"}), ORDER
    )
    assert "unknown role bless" in validate_case_spec(
        replace(declared, roles={APPROVE: "agree", "bless": "agree"}), ORDER
    )


def test_a_return_needs_the_return_sent_role():
    refunds = case_specs()[("taobao", CaseKind.RETURN)]
    spec = replace(
        refunds, roles={k: v for k, v in refunds.roles.items() if k != RETURN_SENT}
    )
    taobao = get_platform("taobao").spec
    assert "no action plays the return_sent role" in validate_case_spec(spec, taobao)
    assert CASE_ROLES[RETURN_SENT].by == PLATFORM


def test_order_action_named_by_a_case_table_must_exist():
    spec = tiny_case(order_action_on_open="teleport")
    problems = validate_case_spec(spec, ORDER)
    assert (
        "order_action_on_open: the order machine has no 'teleport' for the platform actor"
        in problems
    )
    # the cancel effect needs the order machine's approve_cancel for every case actor
    taobao = get_platform("taobao").spec
    problems = validate_case_spec(
        replace(spec, platform="taobao", order_action_on_open=""), taobao
    )
    assert any(
        "(cancel_order): the order machine has no 'approve_cancel'" in p
        for p in problems
    )


def test_close_on_full_refund_must_exist_for_the_system():
    platform = replace(get_platform("taobao"), close_on_full_refund="vanish")
    assert (
        "close_on_full_refund: the order machine has no 'vanish' for the system actor"
        in validate_platform(platform)
    )
    none = replace(get_platform("taobao"), close_on_full_refund="")
    assert (
        "cases refund but close_on_full_refund names no order action"
        in validate_platform(none)
    )


def test_a_case_table_for_another_platform_or_declared_twice():
    taobao = get_platform("taobao")
    twice = replace(taobao, cases=(*taobao.cases, taobao.cases[0]))
    assert "refund cases are declared twice" in validate_platform(twice)
    foreign = replace(taobao, cases=(tiny_case(),))
    assert any("belongs to tiktok, not taobao" in p for p in validate_platform(foreign))


# --- refused at load and by manage.py check ------------------------------------------


BROKEN = ["tests.orders.broken_platform"]


def test_manage_py_check_reports_a_broken_case_table():
    with override_settings(OMS_PLATFORMS=BROKEN):
        errors = check_platform_specs(None)
        with pytest.raises(SystemCheckError, match="no action plays the reject role"):
            call_command("check", tags=["platforms"])
    assert errors
    assert all(isinstance(e, Error) for e in errors)
    assert {e.id for e in errors} == {"orders.E002"}
    assert all(e.obj == BROKEN[0] for e in errors)
    assert check_platform_specs(None) == []


def test_the_registry_refuses_a_broken_case_table_at_load():
    with (
        override_settings(OMS_PLATFORMS=BROKEN),
        pytest.raises(
            ImproperlyConfigured, match="refund cases: no action plays the reject role"
        ),
    ):
        platforms()
    assert len(platforms()) == 3


def test_order_actions_missing_are_their_own_check():
    with override_settings(OMS_PLATFORMS=["tests.orders.broken_close_platform"]):
        errors = check_platform_specs(None)
    assert [(e.id, e.msg) for e in errors] == [
        (
            "orders.E003",
            "close_on_full_refund: the order machine has no 'vanish' for the system actor",
        )
    ]


def test_describe_platform_prints_the_case_tables_too():
    out = StringIO()
    call_command("describe_platform", "taobao", stdout=out)
    text = out.getvalue()
    assert "## refund cases (initial `WAIT_SELLER_AGREE`; approve = `agree`" in text
    assert "WAIT_SELLER_AGREE --> WAIT_BUYER_RETURN_GOODS: agree (return)" in text
    assert "| `SUCCESS` 退款成功 | closed: refunded |  |" in text


def test_the_accept_proposal_role_refunds_and_is_the_platforms():
    dispute = case_specs()[("aliexpress", CaseKind.DISPUTE)]
    assert dispute.action_for(ACCEPT_PROPOSAL) == "buyer_accept_proposal"
    rows = tuple(
        replace(t, effect="end_dispute", actors=SELLER)
        if t.action == "buyer_accept_proposal"
        else t
        for t in dispute.transitions
    )
    problems = validate_case_spec(
        replace(dispute, transitions=rows), get_platform("aliexpress").spec
    )
    source = "SELLER_REFUSE_REFUND"
    assert (
        f"accept_proposal (buyer_accept_proposal) from {source}: effect must be refund"
        in problems
    )
    assert (
        f"accept_proposal (buyer_accept_proposal) from {source}: not for platform"
        in problems
    )


def test_a_broken_order_table_is_orders_e001():
    with override_settings(OMS_PLATFORMS=["tests.orders.broken_order_platform"]):
        errors = check_platform_specs(None)
    assert [(e.id, e.msg) for e in errors] == [
        ("orders.E001", "nobodys: nobody may trigger it")
    ]
