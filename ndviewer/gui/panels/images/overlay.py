"""ROI overlay: outlines and/or translucent fills of a PlaneSegmentation over the picture.

All outlines are one curve item drawn as unconnected segment pairs (the pixel edges from
:meth:`RoiMasks.outlines`), so a thousand ROIs cost one draw call; fills are one RGBA image
coloured per ROI. The hovered and the selected ROI get their own highlighted outline.
"""

from __future__ import annotations

import colorsys

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from ndviewer.core.nwb.masks import RoiMasks

OUTLINE_COLOR = (255, 214, 10, 200)
HOVER_COLOR = (255, 255, 255, 255)
SELECTED_COLOR = (0, 229, 255, 255)
FILL_ALPHA = 80

MODES = ("outlines", "fills", "outlines + fills", "hidden")


def roi_colors(n: int) -> np.ndarray:
    """``(n, 4)`` uint8 RGBA, hues spread by the golden ratio so neighbours differ."""
    colors = np.zeros((n, 4), dtype=np.uint8)
    for i in range(n):
        hue = (i * 0.618033988749895) % 1.0
        r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 1.0)
        colors[i] = (int(r * 255), int(g * 255), int(b * 255), FILL_ALPHA)
    return colors


def _segment_xy(segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return segments[:, :, 0].ravel(), segments[:, :, 1].ravel()


class RoiOverlay:
    """The overlay items, children of the canvas' picture group."""

    def __init__(self, parent_item: pg.GraphicsObject) -> None:
        self.masks: RoiMasks | None = None
        self.plane: int | None = None
        self.mode = "outlines"
        self.selected: int | None = None
        self.hovered: int | None = None
        self.fill = pg.ImageItem(axisOrder="col-major")
        self.outlines = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(OUTLINE_COLOR, width=1.2))
        self.hover_line = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(HOVER_COLOR, width=2))
        self.selected_line = pg.PlotCurveItem(
            connect="pairs", pen=pg.mkPen(SELECTED_COLOR, width=2.5)
        )
        for z, item in enumerate([self.fill, self.outlines, self.hover_line, self.selected_line]):
            item.setParentItem(parent_item)
            item.setZValue(10 + z)

    def set_masks(self, masks: RoiMasks | None, plane: int | None = None) -> None:
        """Show ``masks`` (None removes the overlay) on depth plane ``plane``."""
        self.masks = masks
        self.plane = plane if masks is not None and masks.is_volumetric else None
        self.selected = None
        self.hovered = None
        self._rebuild()

    def set_plane(self, plane: int) -> None:
        if self.masks is not None and self.masks.is_volumetric and plane != self.plane:
            self.plane = plane
            self._rebuild()

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown overlay mode {mode!r}")
        self.mode = mode
        self._apply_visibility()

    def set_hovered(self, row: int | None) -> None:
        if row != self.hovered:
            self.hovered = row
            self._draw_single(self.hover_line, row)

    def set_selected(self, row: int | None) -> None:
        if row != self.selected:
            self.selected = row
            self._draw_single(self.selected_line, row)

    def roi_at(self, x: float, y: float) -> int | None:
        if self.masks is None or self.mode == "hidden":
            return None
        return self.masks.roi_at(x, y, self.plane)

    # ------------------------------------------------------------------ drawing
    def _rebuild(self) -> None:
        masks = self.masks
        if masks is None:
            for item in (self.outlines, self.hover_line, self.selected_line):
                item.setData([], [])
            self.fill.clear()
            return
        segments, _rows = masks.outlines(self.plane)
        self.outlines.setData(*_segment_xy(segments))
        labels = masks.label_image(self.plane)
        palette = np.vstack([np.zeros((1, 4), np.uint8), roi_colors(masks.n_rois)])
        self.fill.setImage(palette[labels], autoLevels=False, levels=None)
        self.fill.setRect(QRectF(0, 0, labels.shape[0], labels.shape[1]))
        self._draw_single(self.hover_line, self.hovered)
        self._draw_single(self.selected_line, self.selected)
        self._apply_visibility()

    def _draw_single(self, item: pg.PlotCurveItem, row: int | None) -> None:
        if self.masks is None or row is None:
            item.setData([], [])
            return
        item.setData(*_segment_xy(self.masks.outline(row, self.plane)))

    def _apply_visibility(self) -> None:
        visible = self.masks is not None and self.mode != "hidden"
        self.outlines.setVisible(visible and "outlines" in self.mode)
        self.fill.setVisible(visible and "fills" in self.mode)
        self.hover_line.setVisible(visible)
        self.selected_line.setVisible(visible)
