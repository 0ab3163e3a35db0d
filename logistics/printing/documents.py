"""A4 warehouse documents: packing slips (one order per page) and batch pick lists.

Plain dataclasses in, PDF bytes out; no database access. The packing slip travels in
the parcel, so the buyer's phone is masked there (``138****5678``); labels print it in
full for the courier.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from logistics.printing import fonts
from logistics.printing._draw import (
    code128,
    draw_barcode,
    draw_text,
    finish,
    fit,
    mask_phone,
    new_canvas,
    wrap,
)
from logistics.printing.labels import LabelLine, Party

PAGE_W, PAGE_H = A4
MARGIN = 15 * mm
INNER = PAGE_W - 2 * MARGIN
BODY = 9.5
ROW_LEAD = BODY * 1.3
ROW_PAD = 1.6 * mm
# (header, width) of the item table; widths add up to INNER (180 mm).
SLIP_COLUMNS = (
    ("#", 10 * mm),
    ("SKU", 42 * mm),
    ("商品 Item", 72 * mm),
    ("规格 Spec", 38 * mm),
    ("数量 Qty", 18 * mm),
)


@dataclass(frozen=True)
class PackingSlip:
    shop_name: str
    order_id: str
    buyer: Party
    items: list[LabelLine] = field(default_factory=list)
    buyer_message: str = ""
    platform: str = ""
    carrier_name: str = ""
    tracking_number: str = ""


def sum_pick_lines(lines: Iterable[LabelLine]) -> list[LabelLine]:
    """Quantities summed per SKU across many orders, sorted by SKU.

    Title and spec are those of the first line seen with a non-empty value.
    """
    totals: dict[str, list] = {}
    for line in lines:
        entry = totals.get(line.sku)
        if entry is None:
            totals[line.sku] = [line.title, line.spec, line.quantity]
        else:
            entry[0] = entry[0] or line.title
            entry[1] = entry[1] or line.spec
            entry[2] += line.quantity
    return [
        LabelLine(sku=sku, title=title, spec=spec, quantity=qty)
        for sku, (title, spec, qty) in sorted(totals.items())
    ]


def render_packing_slips(slips: Sequence[PackingSlip]) -> bytes:
    """A4 PDF, one order per page (long orders continue on the next page)."""
    if not slips:
        raise ValueError("no packing slips to render")
    for slip in slips:
        code128(slip.order_id)
    font = fonts.cjk_font()
    c, buf = new_canvas(A4, f"packing slips x{len(slips)}")
    for slip in slips:
        _draw_slip(c, slip, font)
    return finish(c, buf)


def render_pick_list(lines: Iterable[LabelLine], title: str) -> bytes:
    """A4 pick list: one row per SKU (quantities summed), sorted by SKU, with a total."""
    font = fonts.cjk_font()
    rows = sum_pick_lines(lines)
    columns = SLIP_COLUMNS
    row_height = ROW_LEAD + ROW_PAD
    first_top = PAGE_H - MARGIN - 16 * mm
    per_first = int((first_top - MARGIN - 2 * row_height) // row_height) - 1
    per_page = int((PAGE_H - 2 * MARGIN - 10 * mm - 2 * row_height) // row_height) - 1
    pages = 1 + max(0, -(-(len(rows) - per_first) // per_page))
    c, buf = new_canvas(A4, title or "pick list")
    total_qty = sum(row.quantity for row in rows)

    page = 1
    y = PAGE_H - MARGIN
    draw_text(c, MARGIN, y - 14, fit(title, font, 15, INNER * 0.7), font, 15, bold=True)
    draw_text(c, PAGE_W - MARGIN, y - 14, "拣货单 Pick list", font, 11, align="right")
    draw_text(c, MARGIN, y - 28, f"{len(rows)} SKU · {total_qty} 件 pcs", font, BODY)
    y = first_top
    y = _table_header(c, font, columns, y)
    room = per_first
    for n, row in enumerate(rows, 1):
        if room == 0:
            _page_footer(c, font, page, pages)
            c.showPage()
            page += 1
            y = PAGE_H - MARGIN
            draw_text(
                c,
                MARGIN,
                y - 10,
                fit(f"{title}（续 cont.）", font, 10, INNER),
                font,
                10,
            )
            y = _table_header(c, font, columns, y - 10 * mm)
            room = per_page
        y = _table_row(
            c,
            font,
            columns,
            y,
            [str(n), row.sku, row.title, row.spec, str(row.quantity)],
            max_lines=1,
        )
        room -= 1
    _total_row(c, font, y, f"合计 Total: {len(rows)} SKU", total_qty)
    _page_footer(c, font, page, pages)
    c.showPage()
    return finish(c, buf)


def _draw_slip(c, slip: PackingSlip, font: str) -> None:
    y = PAGE_H - MARGIN
    # Header: shop and document name on the left, order barcode on the right.
    draw_text(
        c,
        MARGIN,
        y - 15,
        fit(slip.shop_name, font, 16, INNER * 0.55),
        font,
        16,
        bold=True,
    )
    draw_text(
        c,
        MARGIN,
        y - 30,
        "发货单 Packing slip" + (f" · {slip.platform}" if slip.platform else ""),
        font,
        10,
    )
    bar_w = 72 * mm
    draw_barcode(
        c,
        slip.order_id,
        PAGE_W - MARGIN - bar_w,
        y - 13 * mm,
        bar_w,
        12 * mm,
        max_bar_width=0.4 * mm,
        text_font=fonts.MONO_BOLD,
        text_size=9,
        group=False,
    )
    y -= 22 * mm
    c.setLineWidth(0.8)
    c.line(MARGIN, y, PAGE_W - MARGIN, y)

    y -= 6 * mm
    draw_text(
        c,
        MARGIN,
        y,
        fit(f"订单号 Order: {slip.order_id}", font, 11, INNER * 0.55),
        font,
        11,
        bold=True,
    )
    if slip.tracking_number:
        ship = f"{slip.carrier_name} {slip.tracking_number}".strip()
        draw_text(
            c,
            PAGE_W - MARGIN,
            y,
            fit(f"运单 {ship}", font, BODY, INNER * 0.42),
            font,
            BODY,
            align="right",
        )
    y -= 6.5 * mm
    buyer = slip.buyer
    who = f"收货人 Buyer: {buyer.name}  {mask_phone(buyer.phone)}"
    draw_text(c, MARGIN, y, fit(who, font, 10.5, INNER), font, 10.5)
    for line in wrap(f"地址 Address: {buyer.address()}", font, BODY, INNER, 3):
        y -= BODY * 1.4
        draw_text(c, MARGIN, y, line, font, BODY)
    if buyer.postcode:
        y -= BODY * 1.4
        draw_text(c, MARGIN, y, f"邮编 Postcode: {buyer.postcode}", font, BODY)
    y -= 5 * mm

    y = _table_header(c, font, SLIP_COLUMNS, y)
    message = wrap(slip.buyer_message, font, BODY, INNER - 4 * mm, 8)
    for n, item in enumerate(slip.items, 1):
        cells = [str(n), item.sku, item.title, item.spec, str(item.quantity)]
        height = _row_height(font, SLIP_COLUMNS, cells, max_lines=2)
        if y - height < MARGIN + 12 * mm:
            c.showPage()
            y = PAGE_H - MARGIN
            draw_text(
                c,
                MARGIN,
                y - 10,
                fit(
                    f"{slip.shop_name} · 订单 {slip.order_id}（续 cont.）",
                    font,
                    10,
                    INNER,
                ),
                font,
                10,
            )
            y = _table_header(c, font, SLIP_COLUMNS, y - 10 * mm)
        y = _table_row(c, font, SLIP_COLUMNS, y, cells, max_lines=2)
    count = sum(item.quantity for item in slip.items)
    y = _total_row(c, font, y, f"合计 Total: {len(slip.items)} 种 lines", count)

    if message:
        needed = (len(message) + 1) * BODY * 1.4 + 4 * mm
        if y - needed < MARGIN:
            c.showPage()
            y = PAGE_H - MARGIN
        y -= 7 * mm
        draw_text(c, MARGIN, y, "买家留言 Buyer message:", font, BODY, bold=True)
        for line in message:
            y -= BODY * 1.4
            draw_text(c, MARGIN + 4 * mm, y, line, font, BODY)
    c.showPage()


def _cell_lines(font: str, text: str, width: float, max_lines: int) -> list[str]:
    inner = width - 2 * mm
    if max_lines == 1:
        return [fit(text, font, BODY, inner)]
    return wrap(text, font, BODY, inner, max_lines) or [""]


def _row_height(font, columns, cells, *, max_lines: int) -> float:
    most = max(
        len(_cell_lines(font, text, width, max_lines))
        for (_, width), text in zip(columns, cells, strict=True)
    )
    return most * ROW_LEAD + ROW_PAD


def _table_header(c, font: str, columns, y: float) -> float:
    height = ROW_LEAD + ROW_PAD
    c.saveState()
    c.setFillColor(colors.Color(0.88, 0.88, 0.88))
    c.rect(MARGIN, y - height, INNER, height, stroke=0, fill=1)
    c.restoreState()
    x = MARGIN
    for name, width in columns:
        draw_text(c, x + 1 * mm, y - ROW_LEAD + 1, name, font, BODY, bold=True)
        x += width
    return y - height


def _table_row(c, font: str, columns, y: float, cells, *, max_lines: int) -> float:
    cell_lines = [
        _cell_lines(font, text, width, max_lines)
        for (_, width), text in zip(columns, cells, strict=True)
    ]
    height = max(len(lines) for lines in cell_lines) * ROW_LEAD + ROW_PAD
    x = MARGIN
    last = len(columns) - 1
    for i, ((_, width), lines) in enumerate(zip(columns, cell_lines, strict=True)):
        line_y = y - ROW_LEAD + 1
        for line in lines:
            if i == last:  # quantities right-aligned
                draw_text(
                    c,
                    x + width - 2 * mm,
                    line_y,
                    line,
                    font,
                    BODY,
                    bold=True,
                    align="right",
                )
            else:
                draw_text(c, x + 1 * mm, line_y, line, font, BODY)
            line_y -= ROW_LEAD
        x += width
    c.setLineWidth(0.3)
    c.line(MARGIN, y - height, PAGE_W - MARGIN, y - height)
    return y - height


def _total_row(c, font: str, y: float, label: str, quantity: int) -> float:
    height = ROW_LEAD + ROW_PAD
    c.setLineWidth(0.8)
    c.line(MARGIN, y, PAGE_W - MARGIN, y)
    draw_text(c, MARGIN + 1 * mm, y - ROW_LEAD + 1, label, font, BODY, bold=True)
    draw_text(
        c,
        PAGE_W - MARGIN - 2 * mm,
        y - ROW_LEAD + 1,
        str(quantity),
        font,
        BODY,
        bold=True,
        align="right",
    )
    return y - height


def _page_footer(c, font: str, page: int, pages: int) -> None:
    draw_text(
        c, PAGE_W / 2, MARGIN / 2, f"第 {page}/{pages} 页", font, 8, align="center"
    )
