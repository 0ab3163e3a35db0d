"""SSRF: webhook targets inside are refused at subscription.

Through the live API (its stack allows loopback, for the probe's own receiver): private,
link-local and metadata addresses must be refused with 400. Loopback targets are checked
in this process against production settings with loopback NOT allowed. Nothing connects:
a subscription is only validated, never called, and every address here is literal.
"""

from soak.client import error_shape_problem
from soak.result import AreaResult

INSIDE = [
    "http://10.0.0.1/hook",
    "https://10.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "https://169.254.169.254/latest/meta-data/",
    "https://192.168.1.10/hook",
    "https://172.16.0.1/hook",
    "https://[fd00::1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://0.0.0.0/hook",
    "http://[fe80::1]/hook",
]
LOOPBACK = [
    "http://127.0.0.1:6379/",
    "https://127.0.0.1/hook",
    "http://localhost:5432/",
    "https://localhost/hook",
    "http://[::1]/hook",
    "https://[::1]:8000/hook",
    "http://127.1.2.3/hook",
]


def run(ctx, result: AreaResult) -> AreaResult:
    from django.test import override_settings

    from integrations.models import ApiKey, Scope, WebhookSubscription
    from oms.core.errors import OmsError
    from soak.client import Principal
    from tests.factories import OrganisationFactory

    # An organisation of its own that never has an order: a subscription wrongly
    # accepted here has no event to deliver, and is deleted at once anyway.
    org = OrganisationFactory(name="Soak SSRF", slug="soak-ssrf")
    _, raw = ApiKey.issue(organisation=org, name="soak ssrf", scopes=[Scope.WEBHOOKS],
                          rate_limit_per_minute=1_000_000)  # fmt: skip
    owner = Principal.key(ctx.world.api, "key:ssrf", raw, [Scope.WEBHOOKS])
    for url in INSIDE:
        response = owner.request(
            "POST", "/api/v1/webhooks/", json={"url": url, "events": ["order.created"]}
        )
        shape = error_shape_problem(response)
        WebhookSubscription.objects.filter(organisation=org).delete()
        result.check(
            response.status_code == 400 and shape is None,
            f"POST /webhooks/ url={url}: {response.status_code} {shape or ''}",
        )
    # Production settings without the probe's loopback allowance, in this process.
    from integrations import webhooks

    with override_settings(DEBUG=False, OMS_WEBHOOK_ALLOW_LOOPBACK=False):
        for url in LOOPBACK + INSIDE:
            try:
                webhooks.validate_url(url)
                refused = False
            except OmsError:
                refused = True
            except Exception as exc:
                refused, url = False, f"{url} raised {exc!r}"
            result.check(
                refused, f"validate_url({url}) accepted without loopback allowed"
            )
    return result
