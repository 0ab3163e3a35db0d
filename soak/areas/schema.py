"""Schema: schemathesis over every operation of the live server's /api/v1/schema/.

Positive cases (valid by the schema) must get no 5xx, a documented status and content
type, and a body that matches the schema. Negative cases (invalid by the schema) must get
no 5xx and, under /api/, a 4xx in the error shape. An organisation of its own ("S") holds
the data, so the state changes of generated requests cannot disturb the other areas.
Path ids are drawn from that organisation's objects half of the time.
"""

import hypothesis
from hypothesis import strategies as st

from soak.client import Principal, error_shape_problem
from soak.result import AreaResult


def _world_s(ctx) -> tuple[Principal, dict[str, list]]:
    from integrations.models import ApiKey, Scope, WebhookDelivery
    from orders.models import Membership
    from orders.services import Actor
    from soak import seed
    from tests.factories import MembershipFactory, OrganisationFactory, ShopFactory

    org = OrganisationFactory(name="Soak S", slug="soak-s")
    sub = seed.fresh_subscription(org, ctx.stack.receiver.url)
    tiktok = ShopFactory(organisation=org, platform="tiktok", name="S tiktok")
    taobao = ShopFactory(organisation=org, platform="taobao", name="S taobao")
    orders = [
        seed.fresh_order(tiktok, s)
        for s in seed.sample_statuses(tiktok)
        for _ in range(2)
    ]
    orders += [
        seed.fresh_order(taobao, s)
        for s in seed.sample_statuses(taobao)
        for _ in range(2)
    ]
    owner = MembershipFactory(organisation=org)
    actor = Actor.member(Membership.objects.get(pk=owner.pk))
    cases = [seed.fresh_case(tiktok), seed.fresh_case(taobao)]
    batch = seed.shipped_batch(taobao, actor)
    _, raw = ApiKey.issue(organisation=org, name="soak schema", scopes=list(Scope.values),
                          rate_limit_per_minute=1_000_000)  # fmt: skip
    known = {
        "order_id": [o.pk for o in orders],
        "case_id": [c.pk for c in cases],
        "batch_id": [batch.pk],
        "subscription_id": [sub.pk],
        "delivery_id": list(
            WebhookDelivery.objects.filter(subscription=sub).values_list(
                "pk", flat=True
            )[:5]
        ),
        "shop_id": [tiktok.pk, taobao.pk],
    }
    return Principal.key(ctx.world.api, "key:S", raw, list(Scope.values)), known


def _failure_titles(exc) -> str:
    """``ST103 Undocumented status code (422)``-like titles of schemathesis' failures."""
    titles = []
    for failure in getattr(exc, "exceptions", None) or [exc]:
        title = getattr(failure, "title", None) or str(failure).strip().split("\n")[0]
        code = getattr(getattr(failure, "response", None), "status_code", None)
        titles.append(f"{title}{f' ({code})' if code else ''}"[:120])
    return "; ".join(titles)


def _strategy(operation, mode, known):
    names = [p.name for p in operation.path_parameters]
    strategies = [operation.as_strategy(generation_mode=mode)]
    if names and all(known.get(n) for n in names):
        strategies.append(
            st.fixed_dictionaries(
                {n: st.sampled_from(known[n]) for n in names}
            ).flatmap(
                lambda params: operation.as_strategy(
                    generation_mode=mode, path_parameters=params
                )
            )
        )
    return st.one_of(strategies)


def run(ctx, result: AreaResult) -> AreaResult:
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    principal, known = _world_s(ctx)
    from orders.models import Organisation
    from soak.seed import quiet

    org_s = Organisation.objects.get(slug="soak-s")
    base = ctx.stack.base_url
    raw = ctx.world.api.request("GET", "/api/v1/schema/?format=json").json()
    schema = schemathesis.openapi.from_dict(
        raw,
        config=schemathesis.Config.from_dict(
            {"generation": {"database": "none", "deterministic": True}}
        ),
    )
    examples = ctx.size(5, 100)
    receiver = ctx.stack.receiver.url
    positive = [not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance]  # fmt: skip
    operations = [r.ok() for r in schema.get_all_operations()]
    ctx.log(
        f"    {len(operations)} operations x {examples} positive + {examples} negative"
    )
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            def make(mode, label):
                def one(case):
                    if (
                        isinstance(case.body, dict)
                        and "url" in case.body
                        and "/webhooks" in label
                    ):
                        case.body["url"] = (
                            receiver  # never let a generated URL be called
                        )
                    try:
                        response = case.call(
                            base_url=base, headers=principal.headers, timeout=30
                        )
                    except Exception as exc:  # a hang or a reset is a failure
                        result.fail(f"{label} [{mode.value}]: {exc!r}")
                        return
                    problems = []
                    if response.status_code >= 500:
                        problems.append(f"{response.status_code}")
                    checks = (
                        positive
                        if mode == GenerationMode.POSITIVE
                        else [not_a_server_error]
                    )
                    try:
                        case.validate_response(
                            response, checks=checks, headers=principal.headers
                        )
                    except (
                        Exception,
                        BaseExceptionGroup,
                    ) as exc:  # schemathesis' failures
                        problems.append(_failure_titles(exc))
                    if (mode == GenerationMode.NEGATIVE and 400 <= response.status_code < 500
                            and (shape := error_shape_problem(response))):  # fmt: skip
                        problems.append(f"{response.status_code} {shape}")
                    sample = f"{label} [{mode.value}] {case.path_parameters or ''}: "
                    result.check(not problems, sample + "; ".join(problems))

                return one

            test = hypothesis.settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                suppress_health_check=list(hypothesis.HealthCheck),
            )(
                hypothesis.given(case=_strategy(operation, mode, known))(
                    make(mode, label)
                )
            )
            quiet(org_s)  # subscriptions the generated requests made or woke
            try:
                test()
            except hypothesis.errors.Unsatisfiable:
                pass  # nothing invalid to generate (an operation without inputs)
            except Exception as exc:
                text = (
                    str(exc).strip().splitlines()[0][:160]
                    if str(exc).strip()
                    else repr(exc)
                )
                if "negative" in text.lower() or "Unsatisfiable" in type(exc).__name__:
                    continue
                result.fail(f"{label} [{mode.value}]: generation failed: {text}")
    return result
