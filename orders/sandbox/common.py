"""Shared pieces of the order simulators: catalogue, buyers, addresses, money and time.

Everything is drawn from the ``random.Random`` the caller passes, so one seed always gives
the same orders. Amounts are ``Decimal`` and leave as decimal strings; never ``float``.
"""

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from random import Random
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

K = TypeVar("K")

CHANNELS = ("organic_search", "paid_ads", "affiliate", "live_video", "other")


@dataclass(frozen=True)
class SimulatedOrder:
    """One simulated order: the platform's native payload and how the buyer came."""

    payload: dict[str, Any]
    channel: str
    status: str = ""
    due_soon: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# --- randomness helpers -------------------------------------------------------------


def weighted(rng: Random, weights: Mapping[K, float]) -> K:
    """A key drawn with probability proportional to its weight (in insertion order)."""
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def digits(rng: Random, length: int, prefix: str = "") -> str:
    """A numeric id string of exactly ``length`` digits starting with ``prefix``."""
    rest = length - len(prefix)
    return prefix + str(rng.randrange(10 ** (rest - 1), 10**rest))


def stable_id(text: str, length: int, prefix: str = "") -> str:
    """A numeric id that depends only on ``text`` (product and SKU ids)."""
    rest = length - len(prefix)
    number = zlib.crc32(text.encode()) * 2654435761 + zlib.adler32(text.encode())
    return prefix + str(number % 10**rest).zfill(rest)


def span(rng: Random, low: timedelta, high: timedelta) -> timedelta:
    """A duration drawn uniformly between ``low`` and ``high`` (whole seconds)."""
    lo, hi = int(low.total_seconds()), int(high.total_seconds())
    return timedelta(seconds=rng.randint(lo, max(lo, hi)))


def H(hours: float) -> timedelta:  # noqa: N802 - reads like a unit
    return timedelta(hours=hours)


def D(days: float) -> timedelta:  # noqa: N802 - reads like a unit
    return timedelta(days=days)


MARGIN = timedelta(minutes=2)


def timeline(
    created: datetime, steps: Sequence[timedelta], now: datetime
) -> list[datetime]:
    """Times after ``created``, one per step, squeezed so the last is before ``now``.

    When the steps do not fit between ``created`` and ``now`` they are scaled down in
    proportion, so the order of events is kept and nothing lies in the future.
    """
    total = sum(steps, timedelta())
    room = now - MARGIN - created
    factor = 1.0
    if total > room:
        factor = max(room, timedelta()) / total if total else 0.0
    times, at = [], created
    for step in steps:
        at = at + timedelta(seconds=int(step.total_seconds() * factor))
        times.append(at)
    return times


def clamp_age(age: timedelta, low: timedelta, high: timedelta) -> timedelta:
    return max(low, min(age, high))


def local_string(value: datetime, tz: str) -> str:
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def unix(value: datetime) -> int:
    return int(value.astimezone(UTC).timestamp())


def aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.replace(microsecond=0)


# --- money --------------------------------------------------------------------------

# Minor units per currency: VND and IDR have none.
PLACES = {"VND": 0, "IDR": 0}
# Rough rates from a USD base price, and the "charm" step prices end on.
RATES = {
    "USD": Decimal("1"),
    "GBP": Decimal("0.79"),
    "MYR": Decimal("4.45"),
    "THB": Decimal("35"),
    "SGD": Decimal("1.35"),
    "VND": Decimal("25000"),
    "PHP": Decimal("57"),
    "IDR": Decimal("16000"),
    "CNY": Decimal("7.2"),
}


def quantize(amount: Decimal, currency: str) -> Decimal:
    places = PLACES.get(currency, 2)
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def fmt(amount: Decimal, currency: str) -> str:
    return str(quantize(amount, currency))


def price_in(usd: Decimal, currency: str) -> Decimal:
    """A shelf price in ``currency`` for a USD base price, ending the way shops do."""
    raw = usd * RATES[currency]
    if currency in ("VND", "IDR"):
        return max(Decimal(1000), (raw / 1000).quantize(Decimal(1)) * 1000)
    if currency in ("THB", "PHP"):
        whole = int(raw.quantize(Decimal(1)))
        return Decimal(max(9, whole - whole % 10 + 9))
    whole = int(raw)
    cents = Decimal("0.99") if currency in ("USD", "GBP") else Decimal("0.90")
    return Decimal(max(0, whole)) + cents


# Shipping fees a buyer pays, per currency (free shipping is the common case).
SHIPPING = {
    "USD": ("0.00", "0.00", "0.00", "1.99", "2.99", "4.99"),
    "GBP": ("0.00", "0.00", "0.00", "1.99", "2.99"),
    "MYR": ("0.00", "0.00", "4.90", "4.90", "6.50"),
    "THB": ("0.00", "0.00", "35.00", "40.00"),
    "SGD": ("0.00", "1.99", "1.99", "2.49"),
    "VND": ("0", "15000", "20000", "30000"),
    "PHP": ("0.00", "45.00", "45.00", "60.00"),
    "IDR": ("0", "0", "10000", "15000", "20000"),
    "CNY": ("0.00", "0.00", "0.00", "0.00", "8.00", "10.00", "12.00"),
}

# Seller vouchers (threshold, amount) in USD; converted per currency.
VOUCHERS = (("15", "2"), ("25", "3"), ("40", "5"))


def voucher(rng: Random, items_total: Decimal, currency: str, share: float) -> Decimal:
    """An order-level seller voucher the items total qualifies for, or zero."""
    if rng.random() >= share:
        return Decimal(0)
    best = Decimal(0)
    for threshold, amount in VOUCHERS:
        if items_total >= _round(Decimal(threshold) * RATES[currency], currency):
            best = _round(Decimal(amount) * RATES[currency], currency)
    return best


def _round(amount: Decimal, currency: str) -> Decimal:
    """A round figure: whole units, or thousands for VND and IDR."""
    step = Decimal(1000) if PLACES.get(currency, 2) == 0 else Decimal(1)
    return quantize(max(step, (amount / step).quantize(Decimal(1)) * step), currency)


# --- catalogue ----------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    code: str  # the merchant's product code; SKUs extend it
    title: str
    # Variation dimensions: (name, ((value, sku code), ...)), e.g. colour and size.
    dims: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    price: Decimal  # CNY for the Taobao catalogue, USD for the others
    image: str


@dataclass(frozen=True)
class Pick:
    product: Product
    values: tuple[tuple[str, str], ...]  # (dimension name, value)
    sku: str
    quantity: int

    def spec(self, sep: str, join: str) -> str:
        return join.join(f"{name}{sep}{value}" for name, value in self.values)

    def values_only(self) -> str:
        return ", ".join(value for _, value in self.values)


def _img(name: str) -> str:
    return f"https://img.example.com/demo/{name}.jpg"


TAOBAO_PRODUCTS = (
    Product("TS-COT", "纯棉短袖T恤男夏季宽松圆领打底衫百搭半袖上衣",
            (("颜色分类", (("白色", "WHT"), ("黑色", "BLK"), ("藏青色", "NVY"))),
             ("尺码", (("M", "M"), ("L", "L"), ("XL", "XL"), ("XXL", "2XL")))),
            Decimal("39.90"), _img("tshirt")),
    Product("EB-ANC", "无线蓝牙耳机主动降噪入耳式运动超长续航适用苹果华为",
            (("颜色分类", (("曜石黑", "BLK"), ("珍珠白", "WHT"))),),
            Decimal("129.00"), _img("earbuds")),
    Product("CUP-316", "316不锈钢保温杯大容量男女学生便携水杯",
            (("容量", (("500ml", "500"), ("750ml", "750"))),
             ("颜色分类", (("奶白", "CRM"), ("雾霾蓝", "BLU"), ("樱花粉", "PNK")))),
            Decimal("69.00"), _img("cup")),
    Product("PC-IP15", "适用iPhone15手机壳透明防摔硅胶全包保护套",
            (("适用型号", (("iPhone 15", "15"), ("iPhone 15 Pro", "15P"),
                          ("iPhone 15 Pro Max", "15PM"))),
             ("颜色分类", (("透明", "CLR"), ("磨砂黑", "BLK")))),
            Decimal("19.90"), _img("case")),
    Product("BED-4P", "全棉四件套纯棉床单被套床上用品春夏简约",
            (("尺寸", (("1.5m床", "150"), ("1.8m床", "180"))),
             ("花色", (("简约灰", "GRY"), ("奶油格", "CHK"), ("雾蓝", "BLU")))),
            Decimal("199.00"), _img("bedding")),
    Product("CAT-FD", "成猫猫粮全价无谷鸡肉味营养增肥",
            (("净含量", (("2kg", "2KG"), ("5kg", "5KG"))),),
            Decimal("89.00"), _img("catfood")),
    Product("USB-C", "Type-C数据线快充6A超级快充线适用华为小米",
            (("长度", (("1米", "1M"), ("2米", "2M"))), ("颜色分类", (("白色", "WHT"),))),
            Decimal("15.90"), _img("cable")),
    Product("TEA-LJ", "2024新茶明前龙井茶叶绿茶浓香型罐装",
            (("净含量", (("125g", "125"), ("250g", "250"))),),
            Decimal("158.00"), _img("tea")),
    Product("SHOE-CV", "帆布鞋女2024新款百搭小白鞋学生板鞋",
            (("颜色分类", (("白色", "WHT"), ("米色", "BEI"))),
             ("尺码", (("36", "36"), ("37", "37"), ("38", "38"), ("39", "39")))),
            Decimal("79.00"), _img("sneakers")),
    Product("SNK-GB", "零食大礼包一整箱网红休闲食品送女友",
            (("口味", (("混合装", "MIX"), ("辣味装", "HOT"))),),
            Decimal("59.90"), _img("snacks")),
)  # fmt: skip

AE_PRODUCTS = (
    Product("AE-EB53", "Wireless Earbuds Bluetooth 5.3 Noise Cancelling Headphones with Mic",
            (("Color", (("Black", "BLK"), ("White", "WHT"))),
             ("Ships From", (("China", "CN"),))),
            Decimal("12.59"), _img("ae-earbuds")),
    Product("AE-LED5", "LED Strip Lights 5M RGB Bluetooth App Control Room Decoration",
            (("Length", (("5M", "5M"), ("10M", "10M"), ("20M", "20M"))),
             ("Plug", (("US", "US"), ("EU", "EU"), ("UK", "UK")))),
            Decimal("6.89"), _img("ae-led")),
    Product("AE-SW", "Smart Watch Men Women 1.83 inch Heart Rate Fitness Tracker IP67",
            (("Color", (("Black", "BLK"), ("Silver", "SLV"), ("Pink", "PNK"))),),
            Decimal("18.99"), _img("ae-watch")),
    Product("AE-CASE", "Shockproof Clear Case for iPhone 15 14 13 Pro Max Soft Silicone",
            (("Compatible Model", (("iPhone 15", "15"), ("iPhone 15 Pro Max", "15PM"),
                                   ("iPhone 14", "14"))),),
            Decimal("1.99"), _img("ae-case")),
    Product("AE-DRS", "Women Summer Floral Dress V Neck Short Sleeve Boho Beach Dress",
            (("Color", (("Blue", "BLU"), ("Yellow", "YEL"))),
             ("Size", (("S", "S"), ("M", "M"), ("L", "L"), ("XL", "XL")))),
            Decimal("9.49"), _img("ae-dress")),
    Product("AE-PROJ", "Mini Projector 4K Android WiFi 6 Portable Home Cinema",
            (("Plug", (("US", "US"), ("EU", "EU"), ("UK", "UK"))),),
            Decimal("45.90"), _img("ae-projector")),
    Product("AE-LURE", "Fishing Lure Set 56pcs Hard Soft Baits Crankbait Kit with Box",
            (("Color", (("Mixed", "MIX"),)),),
            Decimal("7.99"), _img("ae-lure")),
    Product("AE-CARH", "Magnetic Car Phone Holder Air Vent Mount 360 Rotation",
            (("Color", (("Black", "BLK"), ("Silver", "SLV"))),),
            Decimal("2.49"), _img("ae-holder")),
)  # fmt: skip

TT_PRODUCTS = (
    Product("TT-HOOD", "Oversized Korean Style Hoodie Unisex Fleece Pullover",
            (("Color", (("Black", "BLK"), ("Grey", "GRY"), ("Sage", "SAG"))),
             ("Size", (("S", "S"), ("M", "M"), ("L", "L"), ("XL", "XL")))),
            Decimal("19.00"), _img("tt-hoodie")),
    Product("TT-TINT", "Velvet Matte Lip Tint Long Lasting Waterproof",
            (("Shade", (("01 Rose", "01"), ("03 Brick", "03"), ("05 Berry", "05"))),),
            Decimal("6.50"), _img("tt-tint")),
    Product("TT-TUMB", "40oz Tumbler with Handle and Straw Insulated Stainless Steel",
            (("Color", (("Cream", "CRM"), ("Pink", "PNK"), ("Black", "BLK"))),),
            Decimal("15.00"), _img("tt-tumbler")),
    Product("TT-TRIP", "Phone Tripod Stand with Bluetooth Remote for Live Streaming",
            (("Height", (("1.1m", "110"), ("1.6m", "160"))),),
            Decimal("11.00"), _img("tt-tripod")),
    Product("TT-CLAW", "Hair Claw Clips Set of 6 Matte Large Non-slip",
            (("Style", (("Neutral", "NEU"), ("Pastel", "PAS"))),),
            Decimal("4.50"), _img("tt-claw")),
    Product("TT-SERM", "Vitamin C Brightening Serum 30ml with Hyaluronic Acid",
            (("Size", (("30ml", "30"),)),),
            Decimal("9.90"), _img("tt-serum")),
    Product("TT-LEG", "High Waist Seamless Leggings Scrunch Butt Gym Yoga Pants",
            (("Color", (("Black", "BLK"), ("Mocha", "MOC"))),
             ("Size", (("XS", "XS"), ("S", "S"), ("M", "M"), ("L", "L")))),
            Decimal("12.00"), _img("tt-leggings")),
)  # fmt: skip


def pick_lines(
    rng: Random, catalogue: Sequence[Product], *, min_lines: int = 1, max_lines: int = 3
) -> list[Pick]:
    """Distinct SKUs with quantities: mostly one line of one unit, sometimes more."""
    count = rng.choices((1, 2, 3), weights=(75, 20, 5))[0]
    count = max(min_lines, min(count, max_lines))
    picks: list[Pick] = []
    skus: list[str] = []
    while len(picks) < count:
        product = rng.choice(catalogue)
        chosen = tuple((name, rng.choice(values)) for name, values in product.dims)
        sku = "-".join((product.code, *(code for _, (_, code) in chosen)))
        if sku in skus:
            continue
        skus.append(sku)
        quantity = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
        picks.append(
            Pick(product, tuple((n, v) for n, (v, _) in chosen), sku, quantity)
        )
    return picks


# --- people and places --------------------------------------------------------------

CN_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
CN_GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "杰", "婷",
            "子涵", "雨桐", "浩然", "欣怡", "梓萱", "宇轩", "一诺", "思远")  # fmt: skip
CN_NICKS = ("小鱼儿", "快乐的猫咪", "tb", "阳光宝贝", "jenny", "追风少年", "柠檬不萌",
            "momo", "大白兔", "一只小熊", "lucky", "晴天")  # fmt: skip

CN_ADDRESSES = (
    ("浙江省", "杭州市", "西湖区", "文新街道", "文三路 {n} 号 {b} 幢 {r} 室", "310012"),
    ("浙江省", "宁波市", "鄞州区", "首南街道", "天童南路 {n} 号", "315100"),
    ("广东省", "深圳市", "南山区", "粤海街道", "科技园南区 {n} 号 {b} 栋 {r}", "518057"),
    ("广东省", "广州市", "天河区", "石牌街道", "天河路 {n} 号 {r} 房", "510630"),
    ("上海", "上海市", "浦东新区", "陆家嘴街道", "世纪大道 {n} 弄 {b} 号 {r} 室", "200120"),
    ("北京", "北京市", "朝阳区", "望京街道", "望京西园 {b} 区 {n} 号楼 {r}", "100102"),
    ("江苏省", "南京市", "鼓楼区", "湖南路街道", "中山北路 {n} 号 {r} 室", "210008"),
    ("四川省", "成都市", "武侯区", "玉林街道", "玉林西路 {n} 号 {b} 单元 {r}", "610041"),
    ("湖北省", "武汉市", "洪山区", "珞南街道", "珞喻路 {n} 号 {b} 栋", "430070"),
    ("山东省", "青岛市", "市南区", "八大关街道", "香港中路 {n} 号 {r} 户", "266071"),
    ("福建省", "厦门市", "思明区", "鹭江街道", "中山路 {n} 号 {r} 室", "361001"),
    ("陕西省", "西安市", "雁塔区", "小寨路街道", "长安中路 {n} 号 {b} 号楼", "710061"),
)  # fmt: skip

CN_MESSAGES = (
    "请尽快发货，谢谢！", "麻烦发货前检查一下，谢谢", "能发顺丰吗？差价我补", "送人的，不要放发票和价格单",
    "周末家里没人，请工作日送达", "颜色要和图片一样的哦", "帮忙包装结实一点，上次压坏了",
    "可以开发票吗？抬头稍后发旺旺", "急用！今天能发吗", "放菜鸟驿站就行",
)  # fmt: skip
CN_MEMOS = ("已联系买家确认尺码", "老客户，多送小样", "改顺丰，买家已补差价",
            "缺货，等厂家补货后发", "地址已修改，按新地址发")  # fmt: skip
EN_MESSAGES = (
    "Please ship as soon as possible, it's a gift.", "Please pack it carefully, thank you!",
    "Can you send it with tracking please?", "Please don't put the price in the parcel.",
    "I need it before the weekend if possible.", "Please check the colour before sending.",
    "Leave the parcel with the neighbour if I'm out.", "Hi, please double check the size is M.",
)  # fmt: skip
EN_MEMOS = ("Buyer asked to change size, confirmed by chat", "Repeat customer: add free sample",
            "Address confirmed with buyer", "Waiting for restock")  # fmt: skip

# AliExpress buyers: country, names, (province, city, street pattern, zip), phone code.
AE_COUNTRIES = {
    "US": (("James", "Emily", "Michael", "Olivia", "David", "Ashley"),
           ("Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis"),
           (("California", "Los Angeles", "{n} W Sunset Blvd", "90026"),
            ("Texas", "Houston", "{n} Westheimer Rd", "77006"),
            ("New York", "Brooklyn", "{n} Bedford Ave Apt {r}", "11211"),
            ("Florida", "Orlando", "{n} Lake Underhill Rd", "32803")), "+1"),
    "FR": (("Camille", "Louis", "Léa", "Hugo", "Chloé"),
           ("Martin", "Bernard", "Dubois", "Moreau", "Laurent"),
           (("Île-de-France", "Paris", "{n} rue de Rivoli", "75004"),
            ("Auvergne-Rhône-Alpes", "Lyon", "{n} avenue Jean Jaurès", "69007"),
            ("Occitanie", "Toulouse", "{n} rue d'Alsace-Lorraine", "31000")), "+33"),
    "ES": (("Lucía", "Hugo", "Martina", "Pablo", "Sofía"),
           ("García", "Fernández", "López", "Martínez", "Sánchez"),
           (("Madrid", "Madrid", "Calle de Alcalá {n}, {r}º", "28014"),
            ("Barcelona", "Barcelona", "Carrer de Mallorca {n}", "08013"),
            ("Valencia", "Valencia", "Avenida del Puerto {n}", "46023")), "+34"),
    "BR": (("Ana", "João", "Maria", "Pedro", "Juliana"),
           ("Silva", "Santos", "Oliveira", "Souza", "Pereira"),
           (("São Paulo", "São Paulo", "Rua Augusta {n}, apto {r}", "01305-000"),
            ("Rio de Janeiro", "Rio de Janeiro", "Avenida Atlântica {n}", "22021-001"),
            ("Minas Gerais", "Belo Horizonte", "Rua da Bahia {n}", "30160-011")), "+55"),
    "RU": (("Ivan", "Anna", "Dmitry", "Olga", "Sergey"),
           ("Ivanov", "Smirnova", "Kuznetsov", "Popova", "Volkov"),
           (("Moscow", "Moscow", "ul. Tverskaya d. {n} kv. {r}", "125009"),
            ("Saint Petersburg", "Saint Petersburg", "Nevsky pr. d. {n} kv. {r}", "191025"),
            ("Sverdlovsk", "Yekaterinburg", "ul. Lenina d. {n}", "620014")), "+7"),
    "PL": (("Jakub", "Zuzanna", "Kacper", "Julia"),
           ("Nowak", "Kowalski", "Wiśniewska", "Wójcik"),
           (("Mazowieckie", "Warszawa", "ul. Marszałkowska {n}/{r}", "00-624"),
            ("Małopolskie", "Kraków", "ul. Długa {n}", "31-147")), "+48"),
    "KR": (("Minjun", "Seoyeon", "Jiho", "Hayoon"),
           ("Kim", "Lee", "Park", "Choi"),
           (("Seoul", "Seoul", "{n} Teheran-ro, Gangnam-gu", "06236"),
            ("Busan", "Busan", "{n} Haeundae-ro", "48094")), "+82"),
}  # fmt: skip
AE_COUNTRY_WEIGHTS = {
    "US": 25,
    "FR": 15,
    "ES": 15,
    "BR": 18,
    "RU": 12,
    "PL": 8,
    "KR": 7,
}

# TikTok Shop markets: currency, names, district levels (L1, L2, L3), street, postcode,
# phone prefix.
TT_MARKETS = {
    "GB": ("GBP",
           ("Oliver", "Amelia", "Harry", "Isla", "Jack", "Ava", "Noah", "Mia"),
           ("Smith", "Jones", "Taylor", "Williams", "Evans", "Khan", "Patel", "Wright"),
           (("England", "Greater London", "London", "{n} Camden High Street", "NW1 7JE"),
            ("England", "Greater Manchester", "Manchester", "{n} Oxford Road", "M1 5QA"),
            ("England", "West Midlands", "Birmingham", "Flat {r}, {n} Broad Street", "B1 2HF"),
            ("Scotland", "City of Edinburgh", "Edinburgh", "{n} Leith Walk", "EH6 8NP"),
            ("Wales", "Cardiff", "Cardiff", "{n} Queen Street", "CF10 2BU")),
           "(+44)7"),
    "MY": ("MYR",
           ("Ahmad", "Nur Aisyah", "Wei Jie", "Siti", "Kumar", "Mei Ling"),
           ("bin Ismail", "binti Hassan", "Tan", "Lim", "a/l Raju", "Wong"),
           (("Selangor", "Petaling Jaya", "SS2", "No. {n}, Jalan SS 2/{r}", "47300"),
            ("Wilayah Persekutuan Kuala Lumpur", "Kuala Lumpur", "Cheras",
             "{n}, Jalan Cheras, Taman Midah", "56000"),
            ("Johor", "Johor Bahru", "Taman Molek", "{n}, Jalan Molek 1/{r}", "81100"),
            ("Pulau Pinang", "George Town", "Jelutong", "{n}, Lebuh Chulia", "10200")),
           "(+60)1"),
    "TH": ("THB",
           ("Somchai", "Ploy", "Nattapong", "Kanya"),
           ("Srisuk", "Chaiyaphum", "Wongsa", "Boonmee"),
           (("Bangkok", "Khet Chatuchak", "Lat Yao", "{n} Phahonyothin Rd", "10900"),
            ("Chiang Mai", "Mueang Chiang Mai", "Suthep", "{n} Nimmanhaemin Rd", "50200")),
           "(+66)8"),
    "SG": ("SGD",
           ("Jia Hui", "Wei Ming", "Nurul", "Rajesh"),
           ("Tan", "Ng", "Abdullah", "Kumar"),
           (("Singapore", "Singapore", "Tampines", "Blk {n} Tampines St {r}", "520{r}"),
            ("Singapore", "Singapore", "Jurong West", "Blk {n} Jurong West Ave 1", "640{r}")),
           "(+65)9"),
    "VN": ("VND",
           ("Minh Anh", "Quốc Huy", "Thu Trang", "Đức Thắng"),
           ("Nguyễn", "Trần", "Lê", "Phạm"),
           (("Hồ Chí Minh", "Quận 1", "Phường Bến Nghé", "{n} Lê Lợi", "700000"),
            ("Hà Nội", "Quận Cầu Giấy", "Phường Dịch Vọng", "{n} Xuân Thủy", "100000")),
           "(+84)9"),
    "PH": ("PHP",
           ("Juan", "Maria", "Jose", "Angelica"),
           ("Dela Cruz", "Reyes", "Santos", "Bautista"),
           (("Metro Manila", "Quezon City", "Barangay Teachers Village", "{n} Maginhawa St", "1101"),
            ("Cebu", "Cebu City", "Barangay Lahug", "{n} Salinas Drive", "6000")),
           "(+63)9"),
    "ID": ("IDR",
           ("Budi", "Siti", "Agus", "Dewi"),
           ("Santoso", "Wulandari", "Pratama", "Lestari"),
           (("DKI Jakarta", "Jakarta Selatan", "Kebayoran Baru", "Jl. Senopati No. {n}", "12190"),
            ("Jawa Barat", "Bandung", "Coblong", "Jl. Dago No. {n}", "40135")),
           "(+62)8"),
}  # fmt: skip
TT_COUNTRY_NAMES = {
    "GB": "United Kingdom", "MY": "Malaysia", "TH": "Thailand", "SG": "Singapore",
    "VN": "Vietnam", "PH": "Philippines", "ID": "Indonesia",
}  # fmt: skip


def fill(pattern: str, rng: Random) -> str:
    return pattern.format(
        n=rng.randint(1, 399), b=rng.randint(1, 30), r=rng.randint(10, 99)
    )


def cn_person(rng: Random) -> tuple[str, str, str]:
    """(name, mobile, nick) of a Chinese buyer."""
    name = rng.choice(CN_SURNAMES) + rng.choice(CN_GIVEN)
    mobile = rng.choice(("13", "15", "17", "18", "19")) + digits(rng, 9)
    base = rng.choice(CN_NICKS)
    nick = f"{base}{rng.randint(1, 9999)}" if rng.random() < 0.7 else f"{base}_{name}"
    return name, mobile, nick


def maybe(rng: Random, share: float, options: Sequence[str]) -> str:
    return rng.choice(options) if rng.random() < share else ""


def scaled_age(rng: Random, low: timedelta, high: timedelta) -> timedelta:
    """An age between ``low`` and ``high``, skewed towards recent orders (sales grow)."""
    fraction = rng.random() ** 1.3
    return low + (high - low) * fraction


def stream_ages(
    rng: Random, low: timedelta, high: timedelta, days: int
) -> tuple[timedelta, timedelta]:
    """A status's age range clipped to the last ``days`` days."""
    limit = D(days)
    high = min(high, limit)
    return min(low, high), high


# --- buyers' after-sales requests (``aftersales.sandbox``) ----------------------------


@dataclass(frozen=True)
class Reason:
    text: str  # the platform's reason
    description: str  # what the buyer wrote
    photos: bool = False  # the buyer sent photos


@dataclass(frozen=True)
class CaseScenario:
    """A kind of request buyers make on orders in some native statuses: each platform's
    simulator lists its ``CASE_SCENARIOS``."""

    kind: str  # a case kind (``cancel``, ``refund`` …)
    order_statuses: tuple[str, ...]
    weight: float
    reasons: tuple[Reason, ...]
    after: str  # the order time the request comes after (paid_at, shipped_at …)
    return_share: float = 0.0  # how many of these send the goods back
    partial_share: float = 0.0  # how many ask for part of the lines' amount
