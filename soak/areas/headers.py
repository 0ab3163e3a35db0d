"""Headers: a Content-Security-Policy on every page, ``Cache-Control: no-store`` on pages
and API replies that carry buyers' personal data."""

from soak.result import AreaResult


def run(ctx, result: AreaResult) -> AreaResult:
    world = ctx.world
    owner = world.principal("owner")
    order = world.targets["own"].order
    batch = world.targets["own"].batch
    pages = [
        ("/login/", None),
        ("/orders/", owner),
        (f"/orders/{order.pk}/", owner),
        (f"/warehouse/batches/{batch.pk}/", owner),
    ]
    for path, who in pages:
        response = (who.request if who else world.api.request)("GET", path)
        result.check(response.status_code == 200, f"GET {path}: {response.status_code}")
        csp = response.headers.get("Content-Security-Policy", "")
        result.check(bool(csp), f"GET {path}: no Content-Security-Policy")
        if who is not None:  # signed-in pages show buyers' names, phones, addresses
            cache = response.headers.get("Cache-Control", "")
            result.check("no-store" in cache, f"GET {path}: Cache-Control {cache!r}")
    key = world.principal("key:all")
    for path in (f"/api/v1/orders/{order.pk}/", "/api/v1/orders/",
                 f"/api/v1/print-batches/{batch.pk}/packing-slips.pdf"):  # fmt: skip
        for who in (owner, key):
            response = who.request("GET", path)
            cache = response.headers.get("Cache-Control", "")
            result.check(
                response.status_code == 200 and "no-store" in cache,
                f"{who.name} GET {path}: {response.status_code}, Cache-Control {cache!r}",
            )
    return result
