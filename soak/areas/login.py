"""Login throttling: wrong passwords from rotating X-Forwarded-For addresses, then the
right one must be refused while the account is locked out."""

import re

from soak.result import AreaResult

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _attempt(api, username: str, password: str, forwarded: str):
    page = api.request("GET", "/login/", headers={"X-Forwarded-For": forwarded})
    match = TOKEN.search(page.text)
    cookie = page.cookies.get("csrftoken", "")
    if not match or not cookie:
        return None, f"GET /login/: {page.status_code}, no CSRF token"
    response = api.request(
        "POST",
        "/login/",
        headers={
            "Cookie": f"csrftoken={cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Forwarded-For": forwarded,
            "Referer": api.base_url + "/login/",
        },
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": match.group(1),
        },
    )
    signed_in = response.status_code in (302, 303) and "sessionid" in response.cookies
    return signed_in, response


def run(ctx, result: AreaResult) -> AreaResult:
    world = ctx.world
    username = "soak-customer_service"
    password = world.passwords[username]
    api = world.api
    wrong = ctx.size(25, 80)
    # The flow works at all: another member signs in with the right password.
    other = "soak-warehouse"
    signed_in, response = _attempt(api, other, world.passwords[other], "198.51.100.8")
    if not result.check(signed_in is True, f"{other} could not sign in: "
                        f"{getattr(response, 'status_code', response)}"):  # fmt: skip
        return result
    for i in range(wrong):
        signed_in, response = _attempt(
            api, username, f"wrong-{i}", f"203.0.113.{i % 250 + 1}"
        )
        if signed_in is None:
            result.fail(response)
            return result
        result.check(not signed_in and response.status_code < 500,
                     f"wrong password {i}: {response.status_code}")  # fmt: skip
    signed_in, response = _attempt(api, username, password, "198.51.100.7")
    result.check(
        signed_in is False,
        f"after {wrong} wrong passwords (rotating X-Forwarded-For) the right one "
        f"signed in ({getattr(response, 'status_code', response)})",
    )
    return result
