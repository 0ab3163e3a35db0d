"""Sign-in throttling: per account and address, per address, per account; a lock-out
window that also refuses the right password; X-Forwarded-For trusted only from the
configured proxies; an audit row per attempt (issue 11, failure 4)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client, RequestFactory

from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HERE = "203.0.113.5"
ELSEWHERE = "198.51.100.20"
LOCKED_TEXT = "Too many failed sign-in attempts"


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def member():
    return MembershipFactory(user__username="wang").user  # password "pw"


def sign_in(username, password, address=HERE, path="/login/", **headers):
    client = Client(REMOTE_ADDR=address)
    # The messages are asserted in English (the default language is Chinese).
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(
        path, {"username": username, "password": password}, **headers
    )
    signed_in = "_auth_user_id" in client.session
    return response, signed_in


def attempts():
    from orders.models import SignInAttempt

    return list(
        SignInAttempt.objects.order_by("id").values_list(
            "username", "address", "outcome"
        )
    )


def test_wrong_passwords_then_the_right_one_is_refused_during_the_lockout(member):
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            response, signed_in = sign_in("wang", "wrong")
            assert (response.status_code, signed_in) == (200, False)
            assert LOCKED_TEXT not in response.content.decode()
        response, signed_in = sign_in("wang", "pw")
    assert (response.status_code, signed_in) == (200, False)
    assert LOCKED_TEXT in response.content.decode()
    assert attempts() == [("wang", HERE, "failed")] * 5 + [("wang", HERE, "locked_out")]


def test_rotating_x_forwarded_for_from_an_untrusted_address_does_not_reset_the_count(
    member, settings
):
    settings.OMS_TRUSTED_PROXIES = []
    with time_machine.travel(T0, tick=False):
        for n in range(5):
            sign_in("wang", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 1}")
        response, signed_in = sign_in("wang", "pw", HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert (response.status_code, signed_in) == (200, False)
    assert LOCKED_TEXT in response.content.decode()
    assert {address for _, address, _ in attempts()} == {HERE}


def test_the_lockout_expires_after_the_window(member):
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(5):
            sign_in("wang", "wrong")
        clock.shift(timedelta(minutes=10))
        assert sign_in("wang", "pw")[1] is False
        clock.shift(timedelta(minutes=6))  # 16 min after the failures
        response, signed_in = sign_in("wang", "pw")
    assert (response.status_code, signed_in) == (302, True)
    assert [outcome for *_, outcome in attempts()] == ["failed"] * 5 + [
        "locked_out",
        "succeeded",
    ]


def test_an_attacker_elsewhere_does_not_lock_the_member_out(member):
    """Five failures lock the account *for that address* only (no malicious lockout)."""
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            sign_in("wang", "wrong", address=ELSEWHERE)
        assert sign_in("wang", "pw", address=ELSEWHERE)[1] is False
        assert sign_in("wang", "pw", address=HERE)[1] is True


def test_one_address_guessing_many_accounts_is_locked_for_every_account(member):
    with time_machine.travel(T0, tick=False):
        for n in range(20):
            sign_in(f"guess{n}", "wrong")
        response, signed_in = sign_in("wang", "pw")
        assert signed_in is False
        assert LOCKED_TEXT in response.content.decode()
        assert sign_in("wang", "pw", address=ELSEWHERE)[1] is True


def test_many_addresses_guessing_one_account_lock_it_except_where_it_signed_in(member):
    with time_machine.travel(T0, tick=False):
        assert sign_in("wang", "pw", address=HERE)[1] is True  # a known address
        for n in range(20):
            sign_in("wang", "wrong", address=f"192.0.2.{n + 1}")
        response, signed_in = sign_in("wang", "pw", address=ELSEWHERE)
        assert signed_in is False
        assert LOCKED_TEXT in response.content.decode()
        assert sign_in("wang", "pw", address=HERE)[1] is True


def test_the_message_does_not_reveal_whether_the_account_exists(member):
    with time_machine.travel(T0, tick=False):
        pages = {}
        for username in ("wang", "nobody"):
            for _ in range(5):
                sign_in(username, "wrong")
            pages[username] = sign_in(username, "pw")[0].content.decode()

    def errors(page):
        return re.findall(r'<p class="error">(.*?)</p>', page)

    assert errors(pages["wang"]) == errors(pages["nobody"])
    assert LOCKED_TEXT in errors(pages["wang"])[0]


def test_the_admin_sign_in_is_throttled_too():
    get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            response, signed_in = sign_in("root", "wrong", path="/admin/login/")
            assert (response.status_code, signed_in) == (200, False)
        response, signed_in = sign_in("root", "pw", path="/admin/login/")
    assert signed_in is False
    assert LOCKED_TEXT in response.content.decode()
    assert [outcome for *_, outcome in attempts()] == ["failed"] * 5 + ["locked_out"]


def test_a_nul_in_the_user_name_is_refused_and_recorded():
    UserFactory(username="li")
    response, signed_in = sign_in("li\x00", "pw")
    assert (response.status_code, signed_in) == (200, False)
    assert attempts() == [("li", HERE, "failed")]


# --- the client's address -------------------------------------------------------------


def address_of(remote, forwarded=None):
    from oms.core.net import client_ip

    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **headers))


def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(settings):
    settings.OMS_TRUSTED_PROXIES = ["10.0.0.0/8", "127.0.0.1"]
    assert address_of(HERE, "192.0.2.1") == HERE
    assert address_of("10.1.2.3") == "10.1.2.3"
    # The right-most address that is not a trusted proxy; what a client wrote before it
    # (the left part) is not believed.
    assert address_of("10.1.2.3", "192.0.2.1, 203.0.113.9") == "203.0.113.9"
    assert address_of("127.0.0.1", "192.0.2.1, 203.0.113.9, 10.0.0.7") == "203.0.113.9"
    assert address_of("10.1.2.3", "garbage, 203.0.113.9") == "203.0.113.9"
    assert address_of("10.1.2.3", "203.0.113.9, garbage") == "10.1.2.3"
    assert address_of("10.1.2.3", "") == "10.1.2.3"
    assert address_of("10.1.2.3", "[2001:db8::1]") == "2001:db8::1"
    settings.OMS_TRUSTED_PROXIES = []
    assert address_of("10.1.2.3", "203.0.113.9") == "10.1.2.3"
