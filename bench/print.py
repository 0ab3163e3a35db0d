"""Printing benchmark: 1,000 shipping labels and 1,000 packing slips rendered to PDF.

Pure rendering (no database). Prints wall time, pages per second and PDF size for each
label size and for the packing slips; asserts nothing.

    .venv/bin/python bench/print.py [--count 1000]
"""

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from logistics.printing import (  # noqa: E402
    LABEL_SIZES,
    Label,
    LabelLine,
    PackingSlip,
    Party,
    fonts,
    render_labels,
    render_packing_slips,
    render_pick_list,
)

SENDER = Party(
    "杭州小店仓库 Warehouse", "0571-88886666", "CN", "浙江省", "杭州市", "余杭区",
    "仓前街道 良睦路 1399 号 2 号楼", "311121",
)  # fmt: skip
CITIES = [
    ("广东省", "深圳市", "南山区"), ("北京市", "北京市", "朝阳区"),
    ("四川省", "成都市", "武侯区"), ("上海市", "上海市", "浦东新区"),
]  # fmt: skip


def items(n: int) -> list[LabelLine]:
    return [
        LabelLine(
            f"SKU-{(n * 7 + k) % 500:04d}",
            f"纯棉短袖T恤 款式{k}",
            "白色 / XL",
            1 + k % 3,
        )
        for k in range(1 + n % 6)
    ]


def recipient(n: int) -> Party:
    province, city, district = CITIES[n % len(CITIES)]
    return Party(
        f"收件人{n}", f"138{n:08d}", "CN", province, city, district,
        f"科技园路 {n % 300} 号 {n % 30} 栋 {n % 2000} 室", "518000",
    )  # fmt: skip


def timed(name: str, pages: int, render, unit: str = "pages") -> bytes:
    start = time.perf_counter()
    data = render()
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{name:<28} {pages:>5} {unit}  {elapsed:6.2f} s  {pages / elapsed:7.0f} {unit}/s  "
        f"{len(data) / 1e6:6.2f} MB  ({len(data) / pages / 1e3:.1f} kB/{unit[:-1]})  "
        f"max RSS so far {peak:.0f} MB"
    )
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    n = args.count

    start = time.perf_counter()
    font = fonts.cjk_font()
    print(f"font {font} (embedded: {fonts.is_embedded()}), "
          f"loaded in {time.perf_counter() - start:.2f} s")  # fmt: skip

    labels = [
        Label(
            carrier_name="圆通速递",
            carrier_code="YTO",
            tracking_number=f"YT{7451000000000 + i}",
            order_id=f"TB2026112200{i:06d}",
            shop_name="杭州小店 Hangzhou Shop",
            sender=SENDER,
            recipient=recipient(i),
            items=items(i),
            sequence=i + 1,
            total=n,
            reprint=i % 50 == 0,
            platform="taobao",
        )
        for i in range(n)
    ]
    for size in LABEL_SIZES:
        timed(f"labels {size}", n, lambda size=size: render_labels(labels, size=size))

    slips = [
        PackingSlip(
            shop_name=label.shop_name,
            order_id=label.order_id,
            buyer=label.recipient,
            items=label.items,
            buyer_message="请尽快发货，谢谢！" if i % 4 == 0 else "",
            platform=label.platform,
            carrier_name=label.carrier_name,
            tracking_number=label.tracking_number,
        )
        for i, label in enumerate(labels)
    ]
    timed("packing slips A4", n, lambda: render_packing_slips(slips))

    lines = [line for label in labels for line in label.items]
    timed(
        f"pick list A4 ({len(lines)} lines)",
        1,
        lambda: render_pick_list(lines, "bench batch"),
        unit="calls",
    )


if __name__ == "__main__":
    main()
