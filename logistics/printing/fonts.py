"""The fonts the printed documents use: one CJK font that also covers Latin script.

WenQuanYi Zen Hei (Debian ``fonts-wqy-zenhei``) is looked up in a fixed list of Debian
paths, then with ``fc-match``. It is a TrueType collection; reportlab embeds (a subset
of) its first face, so the PDF prints the same on any printer or viewer. Without it, the
documents fall back to reportlab's built-in ``STSong-Light`` CID font, which is *not*
embedded: the viewer or printer has to supply the glyphs (Adobe's Asian font pack), and
thermal printers that rasterise on the device may print boxes. A warning says so.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

logger = logging.getLogger(__name__)

CJK_FONT_NAME = "WenQuanYiZenHei"
FALLBACK_CID_FONT = "STSong-Light"
# Latin-only font for barcode digits (built into every PDF reader; no embedding needed).
MONO_BOLD = "Helvetica-Bold"

DEBIAN_FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/wqy/wqy-zenhei.ttc",
)
FC_MATCH_PATTERN = "WenQuanYi Zen Hei"


def find_cjk_font_path() -> Path | None:
    """Path of wqy-zenhei.ttc: the fixed Debian paths first, then ``fc-match``."""
    for candidate in DEBIAN_FONT_PATHS:
        path = Path(candidate)
        if path.is_file():
            return path
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        out = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [fc_match, "-f", "%{file}", FC_MATCH_PATTERN],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    # fc-match always answers with *some* font; accept it only if it is Zen Hei.
    if out and "wqy-zenhei" in Path(out).name.lower() and Path(out).is_file():
        return Path(out)
    return None


@functools.cache
def cjk_font() -> str:
    """Register the CJK font once per process and return its reportlab name."""
    path = find_cjk_font_path()
    if path is not None:
        try:
            pdfmetrics.registerFont(TTFont(CJK_FONT_NAME, str(path), subfontIndex=0))
        except Exception:
            logger.warning(
                "could not load the CJK font %s; falling back to the non-embedded "
                "CID font %s",
                path,
                FALLBACK_CID_FONT,
                exc_info=True,
            )
        else:
            return CJK_FONT_NAME
    else:
        logger.warning(
            "WenQuanYi Zen Hei (Debian package fonts-wqy-zenhei) not found; printing "
            "with reportlab's built-in CID font %s, which is NOT embedded in the PDF: "
            "Chinese text depends on the viewer's or printer's fonts",
            FALLBACK_CID_FONT,
        )
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_CID_FONT))
    return FALLBACK_CID_FONT


def is_embedded() -> bool:
    """Whether the CJK glyphs are embedded in the PDFs this process renders."""
    return cjk_font() == CJK_FONT_NAME
