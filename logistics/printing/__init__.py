"""Printing for logistics: shipping labels, packing slips and pick lists as PDF bytes.

Pure rendering: plain dataclasses in, PDF bytes out, no database access. The shipping
code builds the dataclasses from its models and stores or streams the bytes.
"""

from logistics.printing.documents import (
    PackingSlip,
    render_packing_slips,
    render_pick_list,
    sum_pick_lines,
)
from logistics.printing.labels import (
    DEFAULT_SIZE,
    LABEL_SIZES,
    Label,
    LabelLine,
    Party,
    render_labels,
)

__all__ = [
    "DEFAULT_SIZE",
    "LABEL_SIZES",
    "Label",
    "LabelLine",
    "PackingSlip",
    "Party",
    "render_labels",
    "render_packing_slips",
    "render_pick_list",
    "sum_pick_lines",
]
