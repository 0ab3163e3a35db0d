"""Labels, packing slips and pick lists rendered to PDF and read back with poppler.

Pure rendering, no database. The PDFs are checked with poppler-utils (``pdfinfo``,
``pdffonts``, ``pdftotext``, ``pdftoppm``) and the barcodes decoded with ``zbarimg``
(zbar-tools). Without those tools the tests that need them are skipped, loudly; with
``CI=true`` they fail instead.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image  # installed with reportlab

from logistics.printing import (
    LABEL_SIZES,
    Label,
    LabelLine,
    PackingSlip,
    Party,
    fonts,
    render_labels,
    render_packing_slips,
    render_pick_list,
    sum_pick_lines,
)
from logistics.printing.labels import item_summary

TOOLS = ("pdfinfo", "pdffonts", "pdftotext", "pdftoppm", "zbarimg")
MISSING = [tool for tool in TOOLS if shutil.which(tool) is None]


def need(*tools: str) -> None:
    missing = [tool for tool in tools if tool in MISSING]
    if not missing:
        return
    tools_missing = (
        f"{', '.join(missing)} not installed (Debian poppler-utils, zbar-tools)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {tools_missing}: the PDF read-back tests must run")
    pytest.skip(f"!!! {tools_missing}: PDF read-back test SKIPPED !!!")


def run(*argv: str) -> str:
    return subprocess.run(  # noqa: S603 - fixed tools, test input
        argv, capture_output=True, text=True, check=True, timeout=120
    ).stdout


RECIPIENT = Party(
    name="张三",
    phone="13812345678",
    country="CN",
    province="浙江省",
    city="杭州市",
    district="西湖区",
    street="文三路 100 号 华星科技大厦 501 室",
    postcode="310012",
)
SENDER = Party(
    name="Acme Warehouse 仓库",
    phone="0571-88886666",
    country="CN",
    province="浙江省",
    city="杭州市",
    district="余杭区",
    street="良睦路 1399 号",
    postcode="311121",
)
ABROAD = Party(
    name="John Smith",
    phone="+44 20 7946 0958",
    country="GB",
    province="Greater London",
    city="London",
    district="",
    street="221B Baker Street",
    postcode="NW1 6XE",
)
TRACKING = ["YT7451234567890", "SF1402345678901", "JT0001234567891"]


def make_label(n: int = 0, **overrides) -> Label:
    values = {
        "carrier_name": "圆通速递",
        "carrier_code": "YTO",
        "tracking_number": TRACKING[n % len(TRACKING)],
        "order_id": f"TB20261122{n:06d}",
        "shop_name": "杭州小店 Hangzhou Shop",
        "sender": SENDER,
        "recipient": RECIPIENT,
        "items": [
            LabelLine("TEE-WHT-XL", "纯棉T恤", "白色 / XL", 2),
            LabelLine("CAP-BLK", "棒球帽", "黑色", 1),
        ],
        "sequence": n + 1,
        "total": 120,
        "platform": "taobao",
    }
    values.update(overrides)
    return Label(**values)


@pytest.fixture
def pdf_file(tmp_path):
    def write(data: bytes, name: str = "out.pdf") -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


def pdf_pages(path: Path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", run("pdfinfo", str(path)), re.M).group(1))


def media_box_mm(data: bytes) -> set[tuple[int, int]]:
    """Every page's MediaBox in whole millimetres, parsed from the bytes."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.\s-]+)\]", data)
    sizes = set()
    for box in boxes:
        x0, y0, x1, y1 = (float(v) for v in box.split())
        sizes.add((round((x1 - x0) / 72 * 25.4), round((y1 - y0) / 72 * 25.4)))
    return sizes


def test_wqy_font_is_found_here():
    """The machine has fonts-wqy-zenhei; the renderer must pick it, not the fallback."""
    if fonts.find_cjk_font_path() is None:
        message = "!!! fonts-wqy-zenhei not installed: CJK glyphs NOT embedded !!!"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    assert fonts.cjk_font() == fonts.CJK_FONT_NAME
    assert fonts.is_embedded()


def test_fallback_font_when_wqy_is_missing(monkeypatch, caplog, pdf_file):
    """Without Zen Hei: STSong-Light (not embedded) and a warning saying so."""
    monkeypatch.setattr(fonts, "find_cjk_font_path", lambda: None)
    fonts.cjk_font.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="logistics.printing.fonts"):
            data = render_labels([make_label(0)])
        assert fonts.cjk_font() == fonts.FALLBACK_CID_FONT
        assert not fonts.is_embedded()
        assert "NOT embedded" in caplog.text
        assert b"STSong-Light" in data
    finally:
        monkeypatch.undo()
        fonts.cjk_font.cache_clear()
    assert fonts.cjk_font() in {fonts.CJK_FONT_NAME, fonts.FALLBACK_CID_FONT}
    need("pdffonts")
    listing = run("pdffonts", str(pdf_file(data)))
    assert "STSong-Light" in listing
    assert "WenQuanYi" not in listing


def test_one_page_per_label_default_size(pdf_file):
    data = render_labels([make_label(i) for i in range(3)])
    assert data.startswith(b"%PDF-")
    assert media_box_mm(data) == {(100, 180)}
    need("pdfinfo")
    path = pdf_file(data)
    assert pdf_pages(path) == 3
    info = run("pdfinfo", str(path))
    assert re.search(r"Page size:\s+283\.46\d? x 510\.23\d? pts", info), info


@pytest.mark.parametrize(
    ("size", "mm_size"), [("76x130", (76, 130)), ("100x150", (100, 150))]
)
def test_other_sizes_media_box(size, mm_size, pdf_file):
    data = render_labels([make_label(0), make_label(1)], size=size)
    assert media_box_mm(data) == {mm_size}
    need("pdfinfo")
    assert pdf_pages(pdf_file(data)) == 2


def test_unknown_size_lists_the_sizes():
    with pytest.raises(ValueError, match="unknown label size") as excinfo:
        render_labels([make_label()], size="A4")
    for size in LABEL_SIZES:
        assert size in str(excinfo.value)


def test_tracking_number_must_be_printable_ascii():
    with pytest.raises(ValueError, match="Code 128"):
        render_labels([make_label(tracking_number="运单123")])
    with pytest.raises(ValueError, match="Code 128"):
        render_labels([make_label(tracking_number="")])


@pytest.mark.parametrize("size", list(LABEL_SIZES))
def test_barcodes_decode_back_exactly(size, pdf_file, tmp_path):
    need("pdftoppm", "zbarimg")
    path = pdf_file(render_labels([make_label(i) for i in range(3)], size=size))
    run(
        "pdftoppm",
        "-r",
        "200",
        "-png",
        "-f",
        "1",
        "-l",
        "3",
        str(path),
        str(tmp_path / "p"),
    )
    images = sorted(tmp_path.glob("p-*.png"))
    assert len(images) == 3
    for number, image in zip(TRACKING, images, strict=True):
        assert zbar(image) == [number], image.name
        if size == "100x180":
            # zbar reports identical symbols once per image: decode the stub alone.
            with Image.open(image) as page:
                width, height = page.size
                stub = tmp_path / f"stub-{image.name}"
                page.crop((0, height * 120 // 180, width, height)).save(stub)
            assert zbar(stub) == [number], stub.name


def zbar(image: Path) -> list[str]:
    """Code 128 values zbarimg decodes in ``image``."""
    return run(
        "zbarimg", "--raw", "-q", "-Sdisable", "-Scode128.enable", str(image)
    ).split()


def test_chinese_glyphs_embedded_and_extractable(pdf_file):
    need("pdffonts", "pdftotext")
    path = pdf_file(render_labels([make_label(0)]))
    listing = run("pdffonts", str(path))
    wqy = [line for line in listing.splitlines() if "WenQuanYi" in line]
    assert wqy, listing
    for line in wqy:
        emb = line.split()[-5]  # columns: ... emb sub uni object ID
        assert emb == "yes", line
    text = run("pdftotext", "-layout", str(path), "-")
    assert "张三" in text
    assert "浙江省杭州市" in text
    assert "13812345678" in text  # full phone on the label
    assert "TB20261122000000" in text
    assert "1/120" in text
    assert "REPRINT" not in text


def test_reprint_mark(pdf_file):
    need("pdftotext")
    data = render_labels([make_label(2, reprint=True, sequence=3)])
    text = run("pdftotext", str(pdf_file(data)), "-")
    assert "REPRINT 补打" in text
    assert "3/120" in text


def test_foreign_address_in_latin_script(pdf_file):
    need("pdftotext")
    data = render_labels([make_label(0, recipient=ABROAD)], size="100x150")
    text = run("pdftotext", str(pdf_file(data)), "-")
    assert "John Smith" in text
    address = " ".join(text.split())  # the address wraps over two lines
    assert "221B Baker Street, London, Greater London NW1 6XE, GB" in address


def test_item_summary_truncates_with_count():
    font = fonts.cjk_font()
    items = [LabelLine(f"SKU-{i:03d}", "t", "", i + 1) for i in range(60)]
    lines = item_summary(items, font, 8, 200, max_lines=2)
    assert len(lines) == 2
    assert lines[0].startswith("SKU-000×1  SKU-001×2")
    assert re.search(r"… \+\d+$", lines[-1])
    assert item_summary(items[:2], font, 8, 200, max_lines=2) == [
        "SKU-000×1  SKU-001×2"
    ]


def test_two_hundred_labels_in_one_call(pdf_file):
    data = render_labels([make_label(i, sequence=i + 1, total=200) for i in range(200)])
    need("pdfinfo")
    assert pdf_pages(pdf_file(data)) == 200


def test_sum_pick_lines_per_sku_sorted():
    lines = [
        LabelLine("B-2", "帽子", "黑色", 1),
        LabelLine("A-1", "T恤", "白色 / XL", 2),
        LabelLine("B-2", "帽子", "黑色", 3),
        LabelLine("A-1", "", "", 5),
        LabelLine("C-3", "袜子", "", 1),
    ]
    assert sum_pick_lines(lines) == [
        LabelLine("A-1", "T恤", "白色 / XL", 7),
        LabelLine("B-2", "帽子", "黑色", 4),
        LabelLine("C-3", "袜子", "", 1),
    ]
    assert sum_pick_lines([]) == []


def test_pick_list_pdf(pdf_file):
    orders = [make_label(i).items for i in range(30)]
    lines = [line for items in orders for line in items]
    data = render_pick_list(lines, "批次 Batch 7")
    need("pdftotext", "pdfinfo")
    path = pdf_file(data)
    assert pdf_pages(path) == 1
    text = run("pdftotext", "-layout", str(path), "-")
    assert "批次 Batch 7" in text
    assert re.search(r"CAP-BLK.*\b30\b", text)
    assert re.search(r"TEE-WHT-XL.*\b60\b", text)
    assert text.index("CAP-BLK") < text.index("TEE-WHT-XL")
    assert re.search(r"合计 Total: 2 SKU\s+90\b", text)


def test_pick_list_many_skus_spans_pages(pdf_file):
    lines = [LabelLine(f"SKU-{i:04d}", "商品", "", 1) for i in range(150)]
    need("pdfinfo", "pdftotext")
    path = pdf_file(render_pick_list(lines, "big"))
    pages = pdf_pages(path)
    assert pages >= 3
    text = run("pdftotext", str(path), "-")
    assert f"第 {pages}/{pages} 页" in text
    assert "SKU-0149" in text


def test_packing_slips_one_order_per_page(pdf_file, tmp_path):
    slips = [
        PackingSlip(
            shop_name="杭州小店",
            order_id=f"TB2026112200000{i}",
            buyer=RECIPIENT,
            items=make_label(i).items,
            buyer_message="请尽快发货，谢谢！" if i == 0 else "",
            platform="taobao",
            carrier_name="圆通速递",
            tracking_number=TRACKING[i],
        )
        for i in range(3)
    ]
    data = render_packing_slips(slips)
    assert media_box_mm(data) == {(210, 297)}
    need("pdfinfo", "pdftotext", "pdftoppm", "zbarimg")
    path = pdf_file(data)
    assert pdf_pages(path) == 3
    text = run("pdftotext", "-f", "1", "-l", "1", "-layout", str(path), "-")
    assert "TB20261122000000" in text
    assert "138****5678" in text  # masked: the slip travels in the parcel
    assert "13812345678" not in text
    assert "纯棉T恤" in text
    assert "请尽快发货，谢谢！" in text
    run(
        "pdftoppm",
        "-r",
        "200",
        "-png",
        "-f",
        "2",
        "-l",
        "2",
        str(path),
        str(tmp_path / "s"),
    )
    (image,) = tmp_path.glob("s-*.png")
    assert zbar(image) == ["TB20261122000001"]


def test_long_packing_slip_continues_on_next_page(pdf_file):
    items = [
        LabelLine(f"SKU-{i:03d}", "很长的商品标题 " * 6, "规格", 1) for i in range(60)
    ]
    slip = PackingSlip("店", "TB1", RECIPIENT, items)
    need("pdfinfo", "pdftotext")
    path = pdf_file(render_packing_slips([slip]))
    assert pdf_pages(path) >= 2
    text = run("pdftotext", str(path), "-")
    assert "（续 cont.）" in text
    assert "SKU-059" in text
