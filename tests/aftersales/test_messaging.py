"""Order messages, customer-service notes and a buyer's history (PRODUCT.md A4):
the service (``aftersales.messaging``), the API and the dashboard pages."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from rest_framework.test import APIClient

from aftersales import messaging, services
from aftersales.choices import CaseKind, MessageDirection, NoteSubject
from aftersales.models import Message, Note
from integrations.models import ApiKey, Scope
from oms.core.errors import NotFound, PermissionDenied, ValidationFailed
from orders.choices import EventType, Role
from orders.platforms import registry
from orders.services import Actor
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    """Service errors speak the active language; these tests read them in English."""
    with translation.override("en"):
        yield


ENGLISH_1500 = ("Hello, your order ships today. " * 60)[:1499] + "!"


def key_client(organisation, scopes=tuple(Scope.values), shops=()) -> APIClient:
    key, raw = ApiKey.issue(organisation=organisation, name="erp", scopes=list(scopes))
    key.shops.set(shops)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def member(shop, role=Role.CUSTOMER_SERVICE) -> Actor:
    return Actor.member(MembershipFactory(organisation=shop.organisation, role=role))


def ali_order(**overrides):
    return make_order(
        ShopFactory(platform="aliexpress"), "WAIT_SELLER_SEND_GOODS", **overrides
    )


def message_events(order) -> list[str]:
    return list(
        order.events.filter(type=EventType.MESSAGE, action__startswith="message.")
        .order_by("id")
        .values_list("action", flat=True)
    )


# --- the platform's rules ----------------------------------------------------------------


def test_an_aliexpress_message_of_1501_characters_is_refused_and_nothing_stored():
    order = ali_order()
    with pytest.raises(ValidationFailed) as refused:
        messaging.send_message(order, "a" * 1501, member(order.shop))
    assert refused.value.message == (
        "The message is 1,501 characters long; AliExpress allows at most 1,500."
    )
    assert refused.value.details["reason"] == "too_long"
    assert (refused.value.details["length"], refused.value.details["max_length"]) == (
        1501,
        1500,
    )
    assert Message.objects.count() == 0
    assert message_events(order) == []


def test_an_aliexpress_message_with_chinese_is_refused_naming_the_character():
    order = ali_order()
    with pytest.raises(ValidationFailed) as refused:
        messaging.send_message(order, "Hello 你好, thanks", member(order.shop))
    assert refused.value.message == (
        'AliExpress messages must be in English: character 7, "你" '
        "(U+4F60 CJK UNIFIED IDEOGRAPH-4F60), is not allowed."
    )
    details = refused.value.details
    assert (details["reason"], details["position"], details["character"]) == (
        "not_english",
        7,
        "你",
    )
    assert details["fields"] == {"body": refused.value.message}
    assert Message.objects.count() == 0
    assert message_events(order) == []


def test_1500_english_characters_pass_and_go_on_the_timeline():
    order = ali_order()
    actor = member(order.shop)
    message = messaging.send_message(order, ENGLISH_1500, actor)
    message.refresh_from_db()
    assert len(message.body) == 1500
    assert message.direction == MessageDirection.TO_BUYER
    assert message.author == actor.membership.user
    assert message.author_label == actor.label
    event = order.events.get(type=EventType.MESSAGE, action="message.sent")
    assert event.actor_user == actor.membership.user
    assert event.data == {"message": message.pk, "direction": "seller", "length": 1500}


def test_line_breaks_count_once_and_surrounding_whitespace_not_at_all():
    """Browsers send a textarea's line breaks as CR LF; the counter shows them as one."""
    order = ali_order()
    body = "  " + "\r\n".join(["x" * 99] * 15) + "\n\n "  # 99*15 + 14 = 1499
    message = messaging.send_message(order, body, member(order.shop))
    assert message.body == "\n".join(["x" * 99] * 15)
    assert len(message.body) == 1499


@pytest.mark.parametrize(
    ("body", "position", "codepoint"),
    [
        pytest.param("Hi 안녕", 4, "U+C548", id="hangul"),
        pytest.param("Hi こんにちは", 4, "U+3053", id="hiragana"),
        pytest.param("Hi カタカナ", 4, "U+30AB", id="katakana"),
        pytest.param("Hi Привет", 4, "U+041F", id="cyrillic"),
        pytest.param("Merci café", 10, "U+00E9", id="accented-latin"),
        pytest.param("Thanks，friend", 7, "U+FF0C", id="full-width-comma"),
        pytest.param("Thanks 🙂", 8, "U+1F642", id="emoji"),
        pytest.param("Thanks\u00a0a lot", 7, "U+00A0", id="no-break-space"),
    ],
)
def test_english_only_refuses_every_other_script(body, position, codepoint):
    order = ali_order()
    with pytest.raises(ValidationFailed) as refused:
        messaging.send_message(order, body, member(order.shop))
    details = refused.value.details
    assert (details["reason"], details["position"], details["codepoint"]) == (
        "not_english",
        position,
        codepoint,
    )
    assert f"character {position}," in refused.value.message
    assert Message.objects.count() == 0


def test_english_only_allows_keyboard_punctuation_and_typographic_quotes():
    order = ali_order()
    body = "It’s “shipped” – tracking #A1-2 (50% off) …\n\tThanks! ~@$^&*_+=[]{}|\\;:'\"<>,./?`"
    assert messaging.send_message(order, body, member(order.shop)).body == body


def test_taobao_and_tiktok_take_chinese_up_to_the_product_default():
    for platform, status in (("taobao", "WAIT_SELLER_SEND_GOODS"),
                             ("tiktok", "AWAITING_SHIPMENT")):  # fmt: skip
        order = make_order(ShopFactory(platform=platform), status)
        rule = messaging.rule_for(platform)
        assert (rule.max_length, rule.english_only) == (2000, False)
        assert rule.is_product_default
        assert "default" in rule.describe()
        messaging.send_message(order, "您好，" + "好" * 1997, member(order.shop))
        with pytest.raises(ValidationFailed) as refused:
            messaging.send_message(order, "好" * 2001, member(order.shop))
        assert refused.value.details["reason"] == "too_long"
    assert Message.objects.count() == 2


def test_every_platform_has_a_declared_rule_with_a_doc_line():
    assert set(messaging.message_rules()) == set(registry())
    for rule in messaging.message_rules().values():
        assert rule.doc
        assert rule.source in (messaging.PLATFORM_RULE, messaging.PRODUCT_DEFAULT)
    aliexpress = messaging.message_rules()["aliexpress"]
    assert (aliexpress.max_length, aliexpress.english_only, aliexpress.source) == (
        1500,
        True,
        messaging.PLATFORM_RULE,
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param("   \r\n ", "empty", id="blank"),
        pytest.param("Hi\x07there", "control_character", id="bell"),
    ],
)
def test_empty_and_control_characters_are_refused_on_every_platform(body, reason):
    order = make_order(ShopFactory(platform="tiktok"), "AWAITING_SHIPMENT")
    with pytest.raises(ValidationFailed) as refused:
        messaging.send_message(order, body, member(order.shop))
    assert refused.value.details["reason"] == reason
    assert Message.objects.count() == 0


# --- who may send, and where ---------------------------------------------------------------


def test_a_role_without_after_sales_may_not_send_and_nothing_is_stored():
    order = ali_order()
    with pytest.raises(PermissionDenied):
        messaging.send_message(order, "Hello", member(order.shop, Role.WAREHOUSE))
    assert Message.objects.count() == 0
    assert message_events(order) == []


def test_another_organisations_order_is_not_found():
    order = ali_order()
    stranger = member(ShopFactory(platform="aliexpress"), Role.OWNER)
    with pytest.raises(NotFound):
        messaging.send_message(order, "Hello", stranger)
    with pytest.raises(NotFound):
        messaging.add_note(order, "Hello", stranger)
    with pytest.raises(NotFound):
        messaging.buyer_history(order, stranger)
    assert (Message.objects.count(), Note.objects.count()) == (0, 0)


# --- buyer messages from the platform -------------------------------------------------------


def test_a_buyer_message_is_stored_once_by_its_platform_id():
    order = ali_order()
    sent_at = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    first, created = messaging.record_buyer_message(
        order, "你好，什么时候发货？", "m-1", sent_at
    )
    again, created_again = messaging.record_buyer_message(
        order, "changed text", "m-1", "2026-03-02T00:00:00Z"
    )
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    first.refresh_from_db()
    # The buyer may write Chinese on AliExpress: the rules are the seller's.
    assert first.body == "你好，什么时候发货？"
    assert (first.direction, first.created_at) == (MessageDirection.FROM_BUYER, sent_at)
    assert message_events(order) == ["message.received"]
    event = order.events.get(action="message.received")
    assert event.actor_kind == "platform"


def test_a_repeated_buyer_message_inside_a_transaction_is_still_one():
    """The same push handled twice in one transaction (a replay) stores one message."""
    from django.db import transaction

    order = ali_order()
    with transaction.atomic():
        messaging.record_buyer_message(order, "Where is it?", "m-9")
        _, created = messaging.record_buyer_message(order, "Where is it?", "m-9")
    assert created is False
    assert Message.objects.filter(order=order).count() == 1


def test_a_buyer_message_needs_its_platform_id_and_text():
    order = ali_order()
    with pytest.raises(ValidationFailed):
        messaging.record_buyer_message(order, "Hi", "")
    with pytest.raises(ValidationFailed):
        messaging.record_buyer_message(order, "  ", "m-2")
    assert Message.objects.count() == 0


def test_a_buyer_message_the_database_cannot_store_is_refused():
    order = ali_order()
    for body in ("Hi\x00there", "Hi \ud83d"):
        with pytest.raises(ValidationFailed):
            messaging.record_buyer_message(order, body, "m-1")
    assert Message.objects.count() == 0


def test_the_thread_is_in_the_order_the_messages_were_written():
    order = ali_order()
    messaging.record_buyer_message(
        order, "Second", "m-2", datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    )
    messaging.record_buyer_message(
        order, "First", "m-1", datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    )
    messaging.send_message(order, "Third", member(order.shop))
    assert [m.body for m in messaging.thread(order)] == ["First", "Second", "Third"]


# --- notes ------------------------------------------------------------------------------------


def test_notes_on_an_order_and_on_its_buyer():
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS", buyer={"nick": "小王"})
    later = make_order(shop, "WAIT_SELLER_SEND_GOODS", buyer={"nick": "小王"})
    stranger = make_order(shop, "WAIT_SELLER_SEND_GOODS", buyer={"nick": "other"})
    actor = member(shop, Role.CUSTOMER_SERVICE)
    on_order = messaging.add_note(order, "Wants gift wrap", actor)
    on_buyer = messaging.add_note(order, "Prefers SF Express", actor, on_buyer=True)
    assert (on_order.subject, on_order.order_id) == (NoteSubject.ORDER, order.pk)
    assert (on_buyer.subject, on_buyer.buyer_key, on_buyer.order_id) == (
        NoteSubject.BUYER,
        "taobao:小王",
        None,
    )
    assert [n.body for n in messaging.notes_for(order)] == [
        "Prefers SF Express",
        "Wants gift wrap",
    ]
    # The buyer note follows the buyer to their other orders, the order note does not.
    assert [n.body for n in messaging.notes_for(later)] == ["Prefers SF Express"]
    assert list(messaging.notes_for(stranger)) == []


def test_notes_need_the_memo_or_after_sales_permission():
    order = ali_order()
    for role in (Role.CUSTOMER_SERVICE, Role.OPERATOR):
        messaging.add_note(order, f"by {role}", member(order.shop, role))
    with pytest.raises(PermissionDenied):
        messaging.add_note(order, "no", member(order.shop, Role.WAREHOUSE))
    assert Note.objects.count() == 2


def test_a_note_with_a_control_character_is_refused(client):
    order = ali_order()
    with pytest.raises(ValidationFailed) as refused:
        messaging.add_note(order, "Call\x00back", member(order.shop))
    assert refused.value.details["reason"] == "control_character"
    signed_in(client, order.shop)
    response = client.post(
        f"/orders/{order.pk}/conversation/note/", {"body": "Call\x00back"}, follow=True
    )
    assert response.status_code == 200
    assert "Refused: The note contains a control character" in response.content.decode()
    assert Note.objects.count() == 0


def test_an_order_without_a_buyer_nick_has_order_notes_only():
    order = ali_order(buyer={"nick": "", "phone": ""})
    with pytest.raises(ValidationFailed):
        messaging.add_note(order, "about the buyer", member(order.shop), on_buyer=True)
    with pytest.raises(ValidationFailed):
        messaging.add_note(order, " ", member(order.shop))
    assert Note.objects.count() == 0


def test_a_note_on_a_buyer_needs_an_order_of_theirs_the_actor_may_see():
    order = ali_order(buyer={"nick": "amy"})
    actor = member(order.shop)
    buyer = messaging.Buyer.from_key(order.organisation, "aliexpress:amy")
    assert messaging.add_note(buyer, "VIP", actor).buyer_key == "aliexpress:amy"
    nobody = messaging.Buyer.from_key(order.organisation, "aliexpress:nobody")
    with pytest.raises(NotFound):
        messaging.add_note(nobody, "VIP", actor)
    assert Note.objects.count() == 1


# --- a buyer's history --------------------------------------------------------------------


@pytest.fixture
def seller():
    """One organisation, three shops on two platforms, and a buyer who bought in all."""
    taobao = ShopFactory(platform="taobao", name="Taobao flagship")
    second = ShopFactory(
        platform="taobao", name="Taobao outlet", organisation=taobao.organisation
    )
    ali = ShopFactory(
        platform="aliexpress", name="Ali store", organisation=taobao.organisation
    )
    buyer = {"nick": "lily", "phone": "13811112222"}
    mine = [
        make_order(taobao, "WAIT_SELLER_SEND_GOODS", buyer=buyer, total="100.00"),
        make_order(second, "WAIT_SELLER_SEND_GOODS", buyer=buyer, total="50.50"),
        # Another nick on another platform, the same phone: the same person.
        make_order(ali, "WAIT_SELLER_SEND_GOODS",
                   buyer={"nick": "lily_w", "phone": "13811112222"}, total="20.00"),
    ]  # fmt: skip
    others = [
        # Same nick, other platform, other phone: another person.
        make_order(ali, "WAIT_SELLER_SEND_GOODS",
                   buyer={"nick": "lily", "phone": "13900000000"}),
        # Masked phones that look alike prove nothing.
        make_order(taobao, "WAIT_SELLER_SEND_GOODS",
                   buyer={"nick": "x", "phone": "138****2222"}),
        # The same buyer at another seller.
        make_order(ShopFactory(platform="taobao"), "WAIT_SELLER_SEND_GOODS", buyer=buyer),
    ]  # fmt: skip
    return {"shops": (taobao, second, ali), "mine": mine, "others": others}


def test_the_history_finds_the_buyer_across_shops_by_nick_or_phone(seller):
    taobao = seller["shops"][0]
    first, other_shop, by_phone = seller["mine"]
    actor = member(taobao, Role.OWNER)
    case, _ = services.open_case(
        by_phone, CaseKind.CANCEL, Actor.platform("aliexpress")
    )
    messaging.add_note(first, "Prefers SF", actor, on_buyer=True)
    messaging.add_note(by_phone, "Size M", actor, on_buyer=True)
    messaging.add_note(other_shop, "Called back", actor)
    messaging.add_note(seller["others"][0], "not her", actor)

    history = messaging.buyer_history(first, actor)

    assert {o.pk for o in history.orders} == {first.pk, other_shop.pk, by_phone.pk}
    assert history.order_count == 3
    assert [(t.currency, t.orders, t.total) for t in history.totals] == [
        ("CNY", 2, Decimal("150.50")),
        ("USD", 1, Decimal("20.00")),
    ]
    assert [c.pk for c in history.open_cases] == [case.pk]
    assert sorted(history.buyer_keys) == ["aliexpress:lily_w", "taobao:lily"]
    assert {n.body for n in history.notes} == {"Prefers SF", "Size M", "Called back"}
    assert history.has_more is False


def test_a_member_limited_to_shops_sees_only_their_orders_in_the_history(seller):
    taobao = seller["shops"][0]
    first, other_shop, by_phone = seller["mine"]
    owner = member(taobao, Role.OWNER)
    services.open_case(by_phone, CaseKind.CANCEL, Actor.platform("aliexpress"))
    messaging.add_note(other_shop, "Called back", owner)
    messaging.add_note(first, "Prefers SF", owner, on_buyer=True)
    limited = MembershipFactory(organisation=taobao.organisation, role=Role.OPERATOR)
    limited.shops.add(taobao)

    history = messaging.buyer_history(first, Actor.member(limited))

    assert [o.pk for o in history.orders] == [first.pk]
    assert [(t.currency, t.orders) for t in history.totals] == [("CNY", 1)]
    assert history.open_cases == []
    # Buyer notes are the organisation's; order notes of hidden shops stay hidden.
    assert [n.body for n in history.notes] == ["Prefers SF"]
    with pytest.raises(NotFound):
        messaging.buyer_history(other_shop, Actor.member(limited))


def test_the_history_of_a_buyer_by_key(seller):
    taobao, _, _ = seller["shops"]
    first, other_shop, _ = seller["mine"]
    history = messaging.buyer_history(
        (taobao.organisation, "taobao:lily"), member(taobao, Role.OWNER)
    )
    assert {o.pk for o in history.orders} == {first.pk, other_shop.pk}
    with pytest.raises(NotFound):
        messaging.buyer_history(
            (taobao.organisation, "taobao:lily"), member(ShopFactory(), Role.OWNER)
        )


def test_the_history_costs_the_same_queries_however_many_orders(seller):
    taobao, second, _ = seller["shops"]
    first = seller["mine"][0]
    actor = member(taobao, Role.OWNER)
    with CaptureQueriesContext(connection) as few:
        messaging.buyer_history(first, actor)
    for _ in range(8):
        order = make_order(second, "WAIT_SELLER_SEND_GOODS",
                           buyer={"nick": "lily", "phone": ""})  # fmt: skip
        services.open_case(order, CaseKind.REFUND, Actor.platform("taobao"))
        messaging.add_note(order, "again", actor)
    with CaptureQueriesContext(connection) as many:
        history = messaging.buyer_history(first, actor)
    assert history.order_count == 11
    assert len(history.open_cases) == 8
    assert len(many.captured_queries) == len(few.captured_queries)


# --- API ----------------------------------------------------------------------------------


def test_api_refuses_an_aliexpress_message_of_1501_characters():
    order = ali_order()
    api = key_client(order.organisation)
    response = api.post(
        f"/api/v1/orders/{order.pk}/messages/", {"body": "a" * 1501}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["message"] == (
        "The message is 1,501 characters long; AliExpress allows at most 1,500."
    )
    assert error["details"]["reason"] == "too_long"
    assert Message.objects.count() == 0


def test_api_refuses_chinese_on_aliexpress_naming_the_character():
    order = ali_order()
    api = key_client(order.organisation)
    response = api.post(
        f"/api/v1/orders/{order.pk}/messages/", {"body": "Dear 客户"}, format="json"
    )
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert (details["reason"], details["position"], details["character"]) == (
        "not_english",
        6,
        "客",
    )
    assert Message.objects.count() == 0


def test_api_sends_and_lists_messages_with_the_rule():
    order = ali_order()
    api = key_client(order.organisation)
    messaging.record_buyer_message(
        order, "Where?", "m-1", datetime(2026, 1, 1, tzinfo=UTC)
    )
    sent = api.post(
        f"/api/v1/orders/{order.pk}/messages/", {"body": ENGLISH_1500}, format="json"
    )
    assert sent.status_code == 201, sent.content
    assert sent.json()["direction"] == "seller"
    assert len(sent.json()["body"]) == 1500
    listed = api.get(f"/api/v1/orders/{order.pk}/messages/").json()
    assert [(m["direction"], m["body"][:6]) for m in listed["results"]] == [
        ("buyer", "Where?"),
        ("seller", "Hello,"),
    ]
    assert listed["next"] is None
    rule = listed["rule"]
    assert (rule["max_length"], rule["english_only"], rule["source"]) == (
        1500,
        True,
        "platform",
    )
    assert "English only" in rule["description"]


def test_api_writes_need_the_after_sales_scope_and_reads_the_orders_scope():
    order = ali_order()
    reader = key_client(order.organisation, scopes=["orders:read"])
    for path, body in (("messages", {"body": "Hi"}), ("notes", {"body": "Hi"})):
        url = f"/api/v1/orders/{order.pk}/{path}/"
        response = reader.post(url, body, format="json")
        assert response.status_code == 403
        assert response.json()["error"]["details"] == {"reason": "missing_scope"}
        assert reader.get(url).status_code == 200
    assert reader.get(f"/api/v1/orders/{order.pk}/buyer-history/").status_code == 200
    assert (Message.objects.count(), Note.objects.count()) == (0, 0)


def test_api_a_signed_in_warehouse_member_may_not_send(client):
    order = ali_order()
    warehouse = MembershipFactory(organisation=order.organisation, role=Role.WAREHOUSE)
    client.force_login(warehouse.user)
    response = client.post(
        f"/api/v1/orders/{order.pk}/messages/",
        {"body": "Hi"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert Message.objects.count() == 0


def test_api_notes_on_the_order_and_its_buyer():
    order = ali_order(buyer={"nick": "amy"})
    api = key_client(order.organisation)
    url = f"/api/v1/orders/{order.pk}/notes/"
    first = api.post(url, {"body": "Gift"}, format="json")
    second = api.post(url, {"body": "VIP", "subject": "buyer"}, format="json")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["subject"] == "order"
    assert (second.json()["subject"], second.json()["buyer_key"]) == (
        "buyer",
        "aliexpress:amy",
    )
    listed = api.get(url).json()["results"]
    assert [(n["subject"], n["body"]) for n in listed] == [
        ("buyer", "VIP"),
        ("order", "Gift"),
    ]
    bad = api.post(url, {"body": "x", "subject": "shop"}, format="json")
    assert bad.status_code == 400
    assert Note.objects.count() == 2


def test_api_another_organisations_order_is_not_found_everywhere():
    order = ali_order()
    stranger = key_client(ShopFactory(platform="aliexpress").organisation)
    for method, path, body in (
        ("get", "messages", None),
        ("post", "messages", {"body": "Hi"}),
        ("get", "notes", None),
        ("post", "notes", {"body": "Hi"}),
        ("get", "buyer-history", None),
    ):
        url = f"/api/v1/orders/{order.pk}/{path}/"
        response = getattr(stranger, method)(url, body, format="json")
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "not_found"
    assert (Message.objects.count(), Note.objects.count()) == (0, 0)
    assert message_events(order) == []


def test_api_buyer_history_of_a_key_limited_to_a_shop(seller):
    taobao = seller["shops"][0]
    first, other_shop, by_phone = seller["mine"]
    limited = key_client(taobao.organisation, shops=[taobao])
    response = limited.get(f"/api/v1/orders/{first.pk}/buyer-history/")
    assert response.status_code == 200
    body = response.json()
    assert [o["id"] for o in body["orders"]] == [first.pk]
    assert body["totals"] == [{"currency": "CNY", "orders": 1, "total": "100.00"}]
    assert body["buyer"] == {
        "platform": "taobao",
        "nick": "lily",
        "phone": "138****2222",
        "key": "taobao:lily",
    }
    everyone = key_client(taobao.organisation)
    body = everyone.get(f"/api/v1/orders/{first.pk}/buyer-history/").json()
    assert {o["id"] for o in body["orders"]} == {first.pk, other_shop.pk, by_phone.pk}
    assert {o["shop_name"] for o in body["orders"]} == {
        "Taobao flagship",
        "Taobao outlet",
        "Ali store",
    }
    assert (
        limited.get(f"/api/v1/orders/{other_shop.pk}/buyer-history/").status_code == 404
    )


def test_api_send_is_idempotent_with_a_key():
    order = ali_order()
    api = key_client(order.organisation)
    url = f"/api/v1/orders/{order.pk}/messages/"
    first = api.post(url, {"body": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = api.post(url, {"body": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 1


# --- pages ----------------------------------------------------------------------------------


def signed_in(client, shop, role=Role.CUSTOMER_SERVICE, shops=()):
    membership = MembershipFactory(organisation=shop.organisation, role=role)
    membership.shops.set(shops)
    client.force_login(membership.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return membership


def test_the_order_page_shows_the_thread_in_shop_time_and_the_rule(client):
    order = ali_order(buyer={"nick": "amy"})  # shop in Asia/Shanghai
    messaging.record_buyer_message(
        order, "Where is my parcel?", "m-1", datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    )
    signed_in(client, order.shop)
    html = client.get(f"/orders/{order.pk}/").content.decode()
    assert 'class="bubble buyer"' in html
    assert "Where is my parcel?" in html
    assert "2026-03-02 07:30" in html  # 23:30 UTC is 07:30 the next day in Shanghai
    assert 'data-max-length="1500"' in html
    assert 'data-english-only="1"' in html
    assert "English only: English letters A–Z" in html  # the rule, before typing
    assert "At most 1,500 characters." in html
    assert "js/conversation.js" in html
    assert f'href="/orders/{order.pk}/buyer/"' in html


def test_a_refused_message_keeps_the_text_and_says_why(client):
    order = ali_order()
    signed_in(client, order.shop)
    response = client.post(
        f"/orders/{order.pk}/conversation/message/",
        {"body": "Thanks 谢谢"},
        follow=True,
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/orders/{order.pk}/#conversation"
    assert "Refused: AliExpress messages must be in English: character 8" in html
    assert ">Thanks 谢谢</textarea>" in html
    assert Message.objects.count() == 0
    # The draft is shown once.
    assert (
        ">Thanks 谢谢</textarea>"
        not in client.get(f"/orders/{order.pk}/").content.decode()
    )


def test_sending_and_noting_from_the_order_page(client):
    order = ali_order(buyer={"nick": "amy"})
    signed_in(client, order.shop)
    client.post(f"/orders/{order.pk}/conversation/message/", {"body": "On its way"})
    client.post(
        f"/orders/{order.pk}/conversation/note/", {"body": "Gift", "subject": "order"}
    )
    client.post(
        f"/orders/{order.pk}/conversation/note/", {"body": "VIP", "subject": "buyer"}
    )
    message = Message.objects.get()
    assert (message.body, message.direction) == ("On its way", "seller")
    assert sorted(Note.objects.values_list("subject", "body")) == [
        ("buyer", "VIP"),
        ("order", "Gift"),
    ]
    html = client.get(f"/orders/{order.pk}/").content.decode()
    assert 'class="bubble seller"' in html
    assert "Gift" in html
    assert "VIP" in html


def test_a_warehouse_member_sees_the_thread_without_forms(client):
    order = ali_order()
    messaging.record_buyer_message(order, "Hello?", "m-1")
    signed_in(client, order.shop, Role.WAREHOUSE)
    html = client.get(f"/orders/{order.pk}/").content.decode()
    assert "Hello?" in html
    assert "/conversation/message/" not in html
    assert "/conversation/note/" not in html
    client.post(f"/orders/{order.pk}/conversation/message/", {"body": "x"})
    client.post(f"/orders/{order.pk}/conversation/note/", {"body": "x"})
    assert Message.objects.filter(direction="seller").count() == 0
    assert Note.objects.count() == 0


def test_the_buyer_page_lists_orders_across_shops_and_notes(client, seller):
    taobao = seller["shops"][0]
    first, other_shop, by_phone = seller["mine"]
    membership = signed_in(client, taobao, Role.OWNER)
    messaging.add_note(first, "Prefers SF", Actor.member(membership), on_buyer=True)
    html = client.get(f"/orders/{first.pk}/buyer/").content.decode()
    for order in (first, other_shop, by_phone):
        assert order.platform_order_id in html
    for order in seller["others"]:
        assert order.platform_order_id not in html
    assert "Taobao outlet" in html
    assert "Ali store" in html
    assert "Prefers SF" in html
    assert "13811112222" not in html  # the phone is masked
    response = client.post(f"/orders/{first.pk}/conversation/note/",
                           {"body": "Repeat buyer", "subject": "buyer", "return_to": "buyer"})  # fmt: skip
    assert response["Location"] == f"/orders/{first.pk}/buyer/#notes"
    assert Note.objects.filter(body="Repeat buyer", buyer_key="taobao:lily").exists()


def test_the_buyer_page_of_a_member_limited_to_a_shop(client, seller):
    taobao = seller["shops"][0]
    first, other_shop, by_phone = seller["mine"]
    signed_in(client, taobao, Role.OPERATOR, shops=[taobao])
    html = client.get(f"/orders/{first.pk}/buyer/").content.decode()
    assert first.platform_order_id in html
    assert other_shop.platform_order_id not in html
    assert by_phone.platform_order_id not in html
    assert client.get(f"/orders/{other_shop.pk}/buyer/").status_code == 404


def test_pages_of_another_organisations_order_are_not_found(client):
    order = ali_order()
    signed_in(client, ShopFactory(platform="aliexpress"), Role.OWNER)
    assert client.get(f"/orders/{order.pk}/buyer/").status_code == 404
    assert (
        client.post(
            f"/orders/{order.pk}/conversation/message/", {"body": "Hi"}
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/orders/{order.pk}/conversation/note/", {"body": "Hi"}
        ).status_code
        == 404
    )
    assert (Message.objects.count(), Note.objects.count()) == (0, 0)


def test_the_refusal_is_in_the_sellers_language():
    order = ali_order()
    with translation.override("zh-hans"), pytest.raises(ValidationFailed) as refused:
        messaging.send_message(order, "你好", Actor.platform("aliexpress"))
    assert "英文" in refused.value.message
