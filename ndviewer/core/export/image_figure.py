"""The image view as a figure: the picture as shown (contrast and colour map applied) on a
white page with a caption, for PNG, SVG or PDF.

An image is a bitmap by nature, so here (and only here) the page holds a picture; its
numbers at full bit depth go out as TIFF/PNG through :mod:`.image_files`.
"""

from __future__ import annotations

import numpy as np

from ndviewer.core.export.scene import Picture, Scene, Text, text_width
from ndviewer.core.export.style import TEXT_COLOR

__all__ = ["image_figure"]


def image_figure(argb: np.ndarray, caption: str, width: float, height: float) -> Scene:
    """A page of ``width`` × ``height`` points with ``argb`` (``(rows, cols)`` uint32
    ``0xAARRGGBB``) fitted below ``caption``, square pixels kept."""
    rows, cols = argb.shape
    top, margin = 20.0, 8.0
    room_w, room_h = width - 2 * margin, height - top - margin
    scale = min(room_w / max(cols, 1), room_h / max(rows, 1))
    w, h = cols * scale, rows * scale
    x = (width - w) / 2
    scene = Scene(width, height)
    while len(caption) > 8 and text_width(caption, 8.0) > room_w:
        caption = "…" + caption[2:]
    scene.add(Text(x, 6.0, caption, 8.0, TEXT_COLOR, "left", "top"))
    scene.add(Picture(x, top, w, h, argb))
    scene.notes = {"title": caption, "picture": (rows, cols)}
    return scene
