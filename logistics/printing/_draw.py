"""Drawing helpers shared by labels and documents: fitting text, wrapping, barcodes."""

from __future__ import annotations

import io
from collections.abc import Iterable

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

ELLIPSIS = "…"


def new_canvas(pagesize: tuple[float, float], title: str) -> tuple[Canvas, io.BytesIO]:
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=pagesize, pageCompression=1, initialFontSize=10)
    c.setTitle(title)
    c.setCreator("OMS logistics.printing")
    return c, buf


def finish(c: Canvas, buf: io.BytesIO) -> bytes:
    c.save()
    return buf.getvalue()


def fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut to ``width`` points, with an ellipsis when something was cut."""
    text = " ".join(text.split())
    if stringWidth(text, font, size) <= width:
        return text
    room = width - stringWidth(ELLIPSIS, font, size)
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits
        mid = (lo + hi + 1) // 2
        if stringWidth(text[:mid], font, size) <= room:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS


def wrap(text: str, font: str, size: float, width: float, max_lines: int) -> list[str]:
    """Greedy wrap by character (Chinese has no spaces); breaks Latin at spaces.

    At most ``max_lines`` lines; the last one ends with an ellipsis if text was left.
    """
    text = " ".join(text.split())
    lines: list[str] = []
    while text and len(lines) < max_lines:
        if stringWidth(text, font, size) <= width:
            lines.append(text)
            text = ""
            break
        if len(lines) == max_lines - 1:
            lines.append(fit(text, font, size, width))
            text = ""
            break
        cut = 1
        while cut < len(text) and stringWidth(text[: cut + 1], font, size) <= width:
            cut += 1
        # Do not split a Latin word or number if the line has a space to break at.
        if text[cut - 1 : cut + 1].isascii() and text[cut].isalnum():
            space = text.rfind(" ", 0, cut)
            if space > 0:
                cut = space
        lines.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return lines


def draw_text(
    c: Canvas,
    x: float,
    y: float,
    text: str,
    font: str,
    size: float,
    *,
    bold: bool = False,
    align: str = "left",
) -> None:
    """One line at baseline ``y``; ``bold`` strokes the outline (Zen Hei has no bold)."""
    if align == "right":
        x -= stringWidth(text, font, size)
    elif align == "center":
        x -= stringWidth(text, font, size) / 2
    if not bold:
        c.setFont(font, size)
        c.drawString(x, y, text)
        return
    c.saveState()
    c.setLineWidth(size / 30)
    t = c.beginText(x, y)
    t.setFont(font, size)
    t.setTextRenderMode(2)
    t.textOut(text)
    c.drawText(t)
    c.restoreState()


def code128(value: str) -> str:
    """Check that ``value`` can be a Code 128 barcode (printable ASCII, non-empty)."""
    if not value or not value.isascii() or not value.isprintable():
        raise ValueError(
            f"cannot print {value!r} as a Code 128 barcode: it must be non-empty "
            "printable ASCII"
        )
    return value


def draw_barcode(
    c: Canvas,
    value: str,
    x: float,
    y: float,
    width: float,
    bar_height: float,
    *,
    max_bar_width: float = 0.5 * mm,
    text_font: str | None = None,
    text_size: float = 0.0,
    group: bool = True,
) -> float:
    """Code 128 of ``value`` centred in ``[x, x + width]``, bars from ``y`` upwards.

    The module width is the largest that fits (quiet zones of 10 modules included),
    capped at ``max_bar_width``. With ``text_font``, the human-readable value is
    printed under the bars (below ``y``), in
    groups of four digits when ``group``. Returns the module width used.
    """
    code128(value)
    modules = Code128(value, barWidth=1, quiet=False).width + 20
    bar_width = min(width / modules, max_bar_width)
    barcode = Code128(
        value,
        barWidth=bar_width,
        barHeight=bar_height,
        quiet=True,
        lquiet=10 * bar_width,
        rquiet=10 * bar_width,
        humanReadable=False,
    )
    barcode.drawOn(c, x + (width - barcode.width) / 2, y)
    if text_font:
        spaced = " ".join(_groups(value, 4)) if group and value.isalnum() else value
        draw_text(
            c,
            x + width / 2,
            y - text_size * 1.05,
            fit(spaced, text_font, text_size, width),
            text_font,
            text_size,
            align="center",
        )
    return bar_width


def _groups(value: str, n: int) -> Iterable[str]:
    # Letters prefix kept together, then digits in groups of n: "YT 7451 2345 6789 0".
    head = len(value) - len(
        value.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    )
    if head:
        yield value[:head]
    rest = value[head:]
    for i in range(0, len(rest), n):
        yield rest[i : i + n]


def mask_phone(phone: str) -> str:
    """``13812345678`` -> ``138****5678`` (for documents that travel with the parcel)."""
    digits = phone.strip()
    if len(digits) < 7:
        return digits
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
