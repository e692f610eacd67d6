"""Colours and sizes of exported figures: the screen's palettes on a white page.

The palettes are the trace panel's (traces by electrode group, raster rows, interval tables,
events), so a figure looks like the view it came from; sizes are in points, the unit of
print.
"""

from __future__ import annotations

__all__ = [
    "AXIS_COLOR",
    "BAND_COLORS",
    "EVENT_COLORS",
    "FONT_FAMILY",
    "RASTER_COLORS",
    "TRACE_COLORS",
    "TEXT_COLOR",
]

TRACE_COLORS = [
    "#1e2933",
    "#24568a",
    "#7d3424",
    "#2b6039",
    "#5e3a78",
    "#6e5a12",
    "#17606a",
    "#7a2f58",
]
RASTER_COLORS = [
    "#1b2a3a",
    "#1f5fa8",
    "#a3361f",
    "#2c7a3f",
    "#7a3f98",
    "#8a6d00",
    "#006d77",
    "#9c2f6b",
]
BAND_COLORS = ["#4c9be8", "#f0a030", "#5cb85c", "#d9534f", "#9b59b6", "#17a2b8"]
EVENT_COLORS = ["#c0392b", "#8e44ad", "#16a085", "#d35400"]
AXIS_COLOR = "#222222"
TEXT_COLOR = "#222222"
#: A family every platform has a metric-compatible face for; PDF/SVG keep it as text.
FONT_FAMILY = "DejaVu Sans"
