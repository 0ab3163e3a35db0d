"""Seed the common Chinese and cross-border carriers with each platform's code for them.

Sources: ../shared/platforms.md §2.4 (Taobao/Cainiao-style and KDNiao codes), §3.4
(AliExpress logistics service keys), §1.4 (TikTok Shop provider ids).

- ``taobao``: Taobao/Cainiao-style ``company_code`` for ``taobao.logistics.offline.send``.
  SF, EMS, YTO, ZTO, STO, YUNDA, HTKY, JD and POSTB are in the codes seen for Taobao
  ([B] B12). DBL (德邦) and JTSD (极兔) appear only in the KDNiao list there: the exact
  Taobao codes for them are unconfirmed ([U]; "JTSDEXPRESS" appeared nowhere). Check
  them against ``taobao.logistics.companies.get`` before relying on them.
- ``kdniao``: KDNiao codes where they differ from or confirm the Taobao ones.
- ``aliexpress``: logistics service keys (``service_name`` of
  ``aliexpress.solution.order.fulfill``): CAINIAO_STANDARD, CAINIAO_FULFILLMENT_STD, EMS.
- ``tiktok``: left out on purpose. TikTok Shop's ``shipping_provider_id`` is an opaque
  numeric id each shop reads from Get Shipping Providers, not a carrier code, so it
  cannot be seeded; set it per carrier in the admin (a per-shop mapping may be needed
  when shipping to TikTok is built, L3).

Tracking URLs use kuaidi100's query page (domestic) and 17TRACK (cross-border); only
kuaidi100's ``shunfeng``, ``yuantong`` and ``zhongtong`` codes are confirmed in
platforms.md, the others are unverified and editable in the admin.
"""

from django.db import migrations

KUAIDI100 = "https://www.kuaidi100.com/chaxun?com={com}&nu={{number}}"
TRACK17 = "https://t.17track.net/en#nums={number}"

CARRIERS = [
    # code, name, English name, kuaidi100 code, label size, platform codes
    ("SF", "顺丰速运", "SF Express", "shunfeng", "100x180", {"taobao": "SF", "kdniao": "SF"}),
    ("EMS", "中国邮政 EMS", "China Post EMS", "ems", "100x180",
     {"taobao": "EMS", "kdniao": "EMS", "aliexpress": "EMS"}),
    ("YTO", "圆通速递", "YTO Express", "yuantong", "100x180", {"taobao": "YTO", "kdniao": "YTO"}),
    ("ZTO", "中通快递", "ZTO Express", "zhongtong", "100x180", {"taobao": "ZTO", "kdniao": "ZTO"}),
    ("STO", "申通快递", "STO Express", "shentong", "100x180", {"taobao": "STO", "kdniao": "STO"}),
    ("YUNDA", "韵达快递", "Yunda Express", "yunda", "100x180", {"taobao": "YUNDA", "kdniao": "YD"}),
    ("HTKY", "百世快递", "Best Express", "huitongkuaidi", "100x180", {"taobao": "HTKY", "kdniao": "HTKY"}),
    ("JD", "京东物流", "JD Logistics", "jd", "100x180", {"taobao": "JD", "kdniao": "JD"}),
    ("POSTB", "邮政快递包裹", "China Post Parcel", "youzhengguonei", "100x180",
     {"taobao": "POSTB", "kdniao": "YZPY"}),
    # Taobao code [U]: DBL is KDNiao's code; not in the Taobao codes seen.
    ("DBL", "德邦快递", "Deppon Express", "debangkuaidi", "100x180", {"taobao": "DBL", "kdniao": "DBL"}),
    # Taobao code [U]: JTSD is J&T in KDNiao/Cainiao-style lists; Taobao's own code for
    # 极兔 was not found (platforms.md §2.4).
    ("JTSD", "极兔速递", "J&T Express", "jtexpress", "100x180", {"taobao": "JTSD", "kdniao": "JTSD"}),
]

CROSS_BORDER = [
    ("CAINIAO_STANDARD", "菜鸟无忧物流-标准", "AliExpress Standard Shipping (Cainiao)",
     {"aliexpress": "CAINIAO_STANDARD"}),
    ("CAINIAO_FULFILLMENT_STD", "菜鸟仓发-标准", "Cainiao Fulfillment Standard",
     {"aliexpress": "CAINIAO_FULFILLMENT_STD"}),
]  # fmt: skip


def seed(apps, schema_editor):
    Carrier = apps.get_model("logistics", "Carrier")
    for code, name, name_en, com, size, codes in CARRIERS:
        Carrier.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "tracking_url_template": KUAIDI100.format(com=com),
                "default_label_size": size,
                "platform_codes": codes,
            },
        )
    for code, name, name_en, codes in CROSS_BORDER:
        Carrier.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "tracking_url_template": TRACK17,
                "default_label_size": "100x150",
                "platform_codes": codes,
            },
        )


def unseed(apps, schema_editor):
    Carrier = apps.get_model("logistics", "Carrier")
    TrackingNumber = apps.get_model("logistics", "TrackingNumber")
    codes = [row[0] for row in CARRIERS] + [row[0] for row in CROSS_BORDER]
    # Only carriers nothing refers to yet; the others stay.
    used = TrackingNumber.objects.values("carrier_id")
    Carrier.objects.filter(code__in=codes, pools__isnull=True).exclude(
        pk__in=used
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("logistics", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
