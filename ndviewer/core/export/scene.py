"""A figure as plain data: vector primitives in points on a page, no painter attached.

The figure builder lays out traces, rasters, bands, axes and labels once, headless and
testable; a painter (``ndviewer.gui.export.render``) turns the same scene into PNG, SVG or
PDF. Coordinates are points (1/72 inch) from the page's top-left corner, y downwards, as in
PDF viewers, SVG and Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Lines", "Picture", "Rect", "Scene", "Segments", "Text"]

Box = tuple[float, float, float, float]  # x, y, width, height


@dataclass(frozen=True)
class Lines:
    """One polyline through ``xy`` (``(n, 2)`` points); NaN rows break it into pieces."""

    xy: np.ndarray
    color: str
    width: float = 0.5
    clip: Box | None = None


@dataclass(frozen=True)
class Segments:
    """Separate straight segments, ``(n, 4)`` rows of ``x0, y0, x1, y1`` (ticks, spikes)."""

    xyxy: np.ndarray
    color: str
    width: float = 0.5
    clip: Box | None = None


@dataclass(frozen=True)
class Rect:
    """A rectangle filled with ``fill`` at ``alpha`` (0-1) and/or outlined with ``stroke``."""

    x: float
    y: float
    w: float
    h: float
    fill: str | None = None
    alpha: float = 1.0
    stroke: str | None = None
    width: float = 0.5
    clip: Box | None = None


@dataclass(frozen=True)
class Text:
    """A line of text at ``(x, y)``.

    ``anchor`` is where ``x`` is on the text (``"left"``, ``"center"``, ``"right"``) and
    ``valign`` where ``y`` is (``"top"``, ``"middle"``, ``"baseline"``, ``"bottom"``);
    ``rotation`` is in degrees, counter-clockwise, about ``(x, y)``.
    """

    x: float
    y: float
    text: str
    size: float = 7.0
    color: str = "#222222"
    anchor: str = "left"
    valign: str = "baseline"
    rotation: float = 0.0
    bold: bool = False


@dataclass(frozen=True)
class Picture:
    """A bitmap placed in a box: ``argb`` is ``(rows, cols)`` uint32 ``0xAARRGGBB``. Only
    images are pictures; traces are always lines."""

    x: float
    y: float
    w: float
    h: float
    argb: np.ndarray


@dataclass
class Scene:
    """A page of ``width`` × ``height`` points and what is drawn on it, back to front.

    Attributes
    ----------
    items : list
        :class:`Lines`, :class:`Segments`, :class:`Rect`, :class:`Text` and
        :class:`Picture`.
    background : str or None
        Page colour; None for a transparent page.
    notes : dict
        Facts about the content for callers and tests (e.g. ``"trace_kind"``).
    """

    width: float
    height: float
    items: list = field(default_factory=list)
    background: str | None = "#ffffff"
    notes: dict = field(default_factory=dict)

    def add(self, item) -> None:
        self.items.append(item)

    def texts(self) -> list[str]:
        """Every text on the page, in drawing order."""
        return [item.text for item in self.items if isinstance(item, Text)]

    def n_points(self) -> int:
        """Vertices of all polylines (what a vector file's size grows with)."""
        return sum(item.xy.shape[0] for item in self.items if isinstance(item, Lines))


def text_width(text: str, size: float) -> float:
    """Approximate width in points of ``text`` at ``size`` in a sans-serif face (for layout;
    painters measure exactly when it matters)."""
    narrow = sum(ch in "il.,:;|!'1 ()[]ft" for ch in text)
    return size * (0.58 * (len(text) - narrow) + 0.32 * narrow)
