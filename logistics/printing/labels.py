"""Shipping labels (e-waybills / 电子面单): plain dataclasses in, PDF bytes out.

No database access: the shipping code builds :class:`Label` objects and prints them.
One page per label, in one of the carriers' thermal label sizes (millimetres,
width x height):

- ``100x180`` (default): the two-part e-waybill. Top part: carrier, Code 128 of the
  tracking number, recipient in large type, sender, order and items; below a dashed
  tear line, a stub with the order id, the item summary and a second, smaller barcode.
- ``100x150`` and ``76x130``: the same top part on one piece, no stub.

Phone numbers are printed in full: the carrier's courier needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from logistics.printing import fonts
from logistics.printing._draw import (
    code128,
    draw_barcode,
    draw_text,
    finish,
    fit,
    new_canvas,
    wrap,
)

# size -> (width mm, height mm, stub height mm)
LABEL_SIZES: dict[str, tuple[int, int, int]] = {
    "100x180": (100, 180, 60),
    "100x150": (100, 150, 0),
    "76x130": (76, 130, 0),
}
DEFAULT_SIZE = "100x180"
REPRINT_MARK = "REPRINT 补打"
CHINA = frozenset({"", "CN", "CHN", "CHINA", "中国", "中华人民共和国"})


@dataclass(frozen=True)
class Party:
    name: str
    phone: str
    country: str
    province: str
    city: str
    district: str
    street: str
    postcode: str

    @property
    def in_china(self) -> bool:
        return self.country.strip().upper() in CHINA

    def address(self) -> str:
        """One-line address in the order the country writes it."""
        if self.in_china:
            region = "".join(p for p in (self.province, self.city, self.district) if p)
            return " ".join(p for p in (region, self.street) if p)
        parts = [self.street, self.district, self.city]
        tail = " ".join(p for p in (self.province, self.postcode) if p)
        return ", ".join(p for p in [*parts, tail, self.country] if p)

    def postcode_line(self) -> str:
        """Postcode (and country, abroad) for the line under a Chinese address."""
        if self.in_china:
            return f"邮编 {self.postcode}" if self.postcode else ""
        return ""


@dataclass(frozen=True)
class LabelLine:
    sku: str
    title: str
    spec: str
    quantity: int


@dataclass(frozen=True)
class Label:
    carrier_name: str
    carrier_code: str
    tracking_number: str
    order_id: str
    shop_name: str
    sender: Party
    recipient: Party
    items: list[LabelLine]
    sequence: int
    total: int
    reprint: bool = False
    platform: str = ""


def item_summary(
    items: Sequence[LabelLine], font: str, size: float, width: float, max_lines: int
) -> list[str]:
    """``SKU×qty`` entries packed into at most ``max_lines`` lines of ``width``.

    When entries are left over, the last line ends with ``… +N`` (N entries not shown).
    """
    if max_lines <= 0:
        return []
    entries = [f"{line.sku}×{line.quantity}" for line in items]
    gap = "  "
    lines: list[str] = []
    current = ""
    i = 0
    while i < len(entries):
        candidate = f"{current}{gap}{entries[i]}" if current else entries[i]
        if stringWidth(candidate, font, size) <= width:
            current = candidate
            i += 1
            continue
        if not current:  # a single entry wider than the line
            current = fit(entries[i], font, size, width)
            i += 1
        lines.append(current)
        current = ""
        if len(lines) == max_lines:
            break
    if current and len(lines) < max_lines:
        lines.append(current)
    left = len(entries) - i
    if left:
        more = f"… +{left}"
        last = lines[-1] if lines else ""
        while last and stringWidth(f"{last} {more}", font, size) > width:
            last = last[:-1]
        lines[-1:] = [f"{last.rstrip()} {more}".strip()]
    return lines


def render_labels(labels: Sequence[Label], size: str = DEFAULT_SIZE) -> bytes:
    """One PDF with one page per label, in the given label size."""
    if size not in LABEL_SIZES:
        raise ValueError(
            f"unknown label size {size!r}; choose one of: {', '.join(LABEL_SIZES)}"
        )
    if not labels:
        raise ValueError("no labels to render")
    for label in labels:  # fail before drawing anything
        code128(label.tracking_number)
    width_mm, height_mm, stub_mm = LABEL_SIZES[size]
    page = (width_mm * mm, height_mm * mm)
    font = fonts.cjk_font()
    c, buf = new_canvas(page, f"labels {size} x{len(labels)}")
    for label in labels:
        main_height = (height_mm - stub_mm) * mm
        _draw_main(c, label, font, page[0], page[1], main_height)
        if stub_mm:
            _draw_stub(c, label, font, page[0], stub_mm * mm)
        c.showPage()
    return finish(c, buf)


def _draw_main(
    c, label: Label, font: str, width: float, top: float, height: float
) -> None:
    """The label's top part, from ``top`` down ``height`` points."""
    s = width / (100 * mm)  # type scale: 1 for 100 mm wide labels
    pad = 3 * mm * s
    inner = width - 2 * pad
    bottom = top - height
    y = top  # cursor: distance is measured downwards from the top

    # Header: carrier, platform, sequence, reprint mark.
    header = 11 * mm * s
    base = y - header + 3.2 * mm * s
    name_size = 14 * s
    draw_text(
        c,
        pad,
        base,
        fit(label.carrier_name, font, name_size, inner * 0.45),
        font,
        name_size,
        bold=True,
    )
    used = stringWidth(
        fit(label.carrier_name, font, name_size, inner * 0.45), font, name_size
    )
    small = 7 * s
    meta = " ".join(p for p in (label.carrier_code, label.platform) if p)
    if meta:
        draw_text(
            c,
            pad + used + 2 * mm * s,
            base,
            fit(meta, font, small, inner * 0.2),
            font,
            small,
        )
    seq = f"{label.sequence}/{label.total}"
    seq_size = 12 * s
    draw_text(c, width - pad, base, seq, font, seq_size, bold=True, align="right")
    if label.reprint:
        _reprint_mark(
            c,
            font,
            width - pad - stringWidth(seq, font, seq_size) - 2 * mm * s,
            base,
            8 * s,
        )
    y -= header
    _rule(c, y, width)

    # Tracking number barcode.
    block = 26 * mm * s
    bars = 15 * mm * s
    digits = 10 * s
    draw_barcode(
        c,
        label.tracking_number,
        pad,
        y - 2.5 * mm * s - bars,
        inner,
        bars,
        text_font=fonts.MONO_BOLD,
        text_size=digits,
    )
    y -= block
    _rule(c, y, width)

    # Recipient, in large type.
    y = _party_block(
        c,
        label.recipient,
        "收",
        font,
        y,
        width,
        pad,
        34 * mm * s,
        name_size=13 * s,
        address_size=10.5 * s,
        address_lines=3,
        s=s,
    )
    _rule(c, y, width)

    # Sender.
    y = _party_block(
        c,
        label.sender,
        "寄",
        font,
        y,
        width,
        pad,
        18 * mm * s,
        name_size=8.5 * s,
        address_size=7.5 * s,
        address_lines=2,
        s=s,
    )
    _rule(c, y, width)

    # Order and items, in what is left.
    size = 7.5 * s
    lead = size * 1.35
    line_y = y - lead
    order = f"订单 Order {label.order_id}"
    shop = f"店铺 {label.shop_name}" if label.shop_name else ""
    draw_text(c, pad, line_y, fit(order, font, size, inner), font, size, bold=True)
    if shop:
        line_y -= lead
        draw_text(c, pad, line_y, fit(shop, font, size, inner), font, size)
    count = sum(line.quantity for line in label.items)
    line_y -= lead
    draw_text(c, pad, line_y, f"共 {count} 件 / {count} pcs", font, size)
    room = int((line_y - bottom - pad / 2) // lead)
    for text in item_summary(label.items, font, size, inner, room):
        line_y -= lead
        draw_text(c, pad, line_y, text, font, size)


def _draw_stub(c, label: Label, font: str, width: float, height: float) -> None:
    """The tear-off stub at the bottom of the two-part label."""
    s = width / (100 * mm)
    pad = 3 * mm * s
    inner = width - 2 * pad
    c.saveState()
    c.setDash(3, 2)
    c.setLineWidth(0.6)
    c.line(0, height, width, height)
    c.restoreState()

    size = 7.5 * s
    lead = size * 1.35
    y = height - 2 * mm - size
    head = f"{label.carrier_name}  {label.sequence}/{label.total}"
    draw_text(c, pad, y, fit(head, font, 9 * s, inner * 0.6), font, 9 * s, bold=True)
    if label.reprint:
        _reprint_mark(c, font, width - pad, y, 7 * s)
    bars = 8 * mm * s
    y -= 1.5 * mm + bars
    draw_barcode(
        c,
        label.tracking_number,
        pad,
        y,
        inner * 0.75,
        bars,
        max_bar_width=0.33 * mm,
        text_font=fonts.MONO_BOLD,
        text_size=7 * s,
    )
    y -= 7 * s + 1.5 * mm
    y -= lead
    draw_text(
        c,
        pad,
        y,
        fit(f"订单 Order {label.order_id}", font, size, inner),
        font,
        size,
        bold=True,
    )
    y -= lead
    draw_text(
        c, pad, y, fit(f"收 {label.recipient.name}", font, size, inner), font, size
    )
    count = sum(line.quantity for line in label.items)
    y -= lead
    draw_text(c, pad, y, f"共 {count} 件 / {count} pcs", font, size)
    room = int((y - pad) // lead)
    for text in item_summary(label.items, font, size, inner, room):
        y -= lead
        draw_text(c, pad, y, text, font, size)


def _party_block(
    c,
    party: Party,
    marker: str,
    font: str,
    top: float,
    width: float,
    pad: float,
    height: float,
    *,
    name_size: float,
    address_size: float,
    address_lines: int,
    s: float,
) -> float:
    """Name + full phone, then the wrapped address; returns the block's bottom."""
    box = (8 if marker == "收" else 6) * mm * s
    c.saveState()
    c.setFillColor(colors.black)
    c.rect(pad, top - 2 * mm * s - box, box, box, stroke=0, fill=1)
    c.setFillColor(colors.white)
    c.setStrokeColor(colors.white)
    draw_text(
        c,
        pad + box / 2,
        top - 2 * mm * s - box * 0.72,
        marker,
        font,
        box * 0.62,
        bold=True,
        align="center",
    )
    c.restoreState()
    x = pad + box + 2 * mm * s
    text_width = width - pad - x
    y = top - 2 * mm * s - name_size * 0.85
    who = f"{party.name}  {party.phone}"
    draw_text(
        c, x, y, fit(who, font, name_size, text_width), font, name_size, bold=True
    )
    lead = address_size * 1.3
    y -= name_size * 0.35 + lead * 0.9
    for line in wrap(party.address(), font, address_size, text_width, address_lines):
        draw_text(c, x, y, line, font, address_size)
        y -= lead
    extra = party.postcode_line()
    if extra:
        draw_text(c, x, y, extra, font, address_size * 0.8)
    return top - height


def _reprint_mark(c, font: str, right: float, base: float, size: float) -> None:
    """White-on-black ``REPRINT 补打`` ending at ``right``, on baseline ``base``."""
    w = stringWidth(REPRINT_MARK, font, size) + size * 0.8
    c.saveState()
    c.setFillColor(colors.black)
    c.rect(right - w, base - size * 0.3, w, size * 1.3, stroke=0, fill=1)
    c.setFillColor(colors.white)
    c.setStrokeColor(colors.white)
    draw_text(
        c, right - w / 2, base, REPRINT_MARK, font, size, bold=True, align="center"
    )
    c.restoreState()


def _rule(c, y: float, width: float) -> None:
    c.setLineWidth(0.8)
    c.line(0, y, width, y)
