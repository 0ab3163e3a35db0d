"""Carriers (PRODUCT.md L1): the seeded table, platform codes, tracking URLs."""

import pytest
from django.core.exceptions import ValidationError

from logistics.models import Carrier, LabelSize

pytestmark = pytest.mark.django_db


def test_the_migration_seeds_chinese_and_cross_border_carriers_with_platform_codes():
    seeded = {c.code: c for c in Carrier.objects.all()}
    taobao = {
        code: seeded[code].code_for("taobao")
        for code in ("SF", "EMS", "YTO", "ZTO", "STO", "YUNDA", "HTKY", "JD", "POSTB", "DBL", "JTSD")
    }  # fmt: skip
    assert taobao == {
        "SF": "SF", "EMS": "EMS", "YTO": "YTO", "ZTO": "ZTO", "STO": "STO",
        "YUNDA": "YUNDA", "HTKY": "HTKY", "JD": "JD", "POSTB": "POSTB", "DBL": "DBL",
        "JTSD": "JTSD",
    }  # fmt: skip
    assert seeded["YUNDA"].code_for("kdniao") == "YD"
    assert seeded["EMS"].code_for("aliexpress") == "EMS"
    assert seeded["CAINIAO_STANDARD"].code_for("aliexpress") == "CAINIAO_STANDARD"
    assert (
        seeded["CAINIAO_FULFILLMENT_STD"].code_for("aliexpress")
        == "CAINIAO_FULFILLMENT_STD"
    )
    # TikTok provider ids are opaque per shop: never seeded.
    assert [c.code for c in seeded.values() if c.code_for("tiktok")] == []
    assert seeded["SF"].default_label_size == LabelSize.TWO_PART
    assert seeded["CAINIAO_STANDARD"].default_label_size == LabelSize.INTERNATIONAL
    for carrier in seeded.values():
        carrier.full_clean()


def test_tracking_url_fills_in_the_number_escaped():
    carrier = Carrier(
        code="X", name="X", tracking_url_template="https://t.example/q?n={number}"
    )
    assert carrier.tracking_url("YT123") == "https://t.example/q?n=YT123"
    assert carrier.tracking_url("a&b") == "https://t.example/q?n=a%26b"
    assert Carrier(code="Y", name="Y").tracking_url("YT123") == ""


def test_code_for_an_unknown_platform_is_none():
    carrier = Carrier(code="X", name="X", platform_codes={"taobao": "YUNDA"})
    assert carrier.code_for("taobao") == "YUNDA"
    assert carrier.code_for("tiktok") is None


def test_a_template_without_the_number_placeholder_is_refused():
    carrier = Carrier(code="X", name="X", tracking_url_template="https://t.example/")
    with pytest.raises(ValidationError) as error:
        carrier.full_clean()
    assert "tracking_url_template" in error.value.message_dict


def test_platform_codes_must_map_text_to_text():
    carrier = Carrier(code="X", name="X", platform_codes={"taobao": 7})
    with pytest.raises(ValidationError) as error:
        carrier.full_clean()
    assert "platform_codes" in error.value.message_dict
