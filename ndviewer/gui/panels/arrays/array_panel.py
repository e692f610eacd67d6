"""The generic array view: any dataset of any rank, reading only what is on screen.

Plain datasets (``units/spike_times``, an image written with h5py, an N-D volume) have no type
that names a panel, so without this view a dataset over the Details preview's size was a dead
end. As in HDFView, the user picks which two axes to show (rows, columns) and an index on every
other axis (one slider each); the slice is then shown as

- a **table** (any dtype): a spreadsheet whose model holds only the blocks on screen,
- a **line** (1-D numbers): the visible x-range read with a stride to the plot's width,
- an **image** (2-D and higher numbers): the slice strided to a pixel budget, with a colour bar.

Every read goes through :mod:`ndviewer.core.model.array_slice` on the worker pool; a newer
request replaces an older one of the same kind, and a failed read is shown on the status line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QTableView,
    QWidget,
)

from ndviewer.core.model.array_slice import (
    ImageSlice,
    LineWindow,
    SliceChoice,
    block_text,
    kind_of,
    read_image,
    read_line,
    views_for,
)
from ndviewer.core.model.catalog import Catalog
from ndviewer.core.model.nodes import Node
from ndviewer.gui.panels.arrays.block_model import BLOCK_COLS, BLOCK_ROWS, BlockTableModel
from ndviewer.gui.panels.base import Panel, PanelContext
from ndviewer.gui.tree_model import format_shape

__all__ = ["ArrayPanel"]

_TITLES = {"table": "Table", "line": "Line", "image": "Image"}
# At most this many blocks are read per request (a screenful is a few).
_BLOCKS_PER_READ = 12


class AxisSlider(QWidget):
    """An index on one axis that is not shown: a slider and a spin box kept in step."""

    def __init__(self, axis: int, size: int, on_change, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.axis = axis
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel(f"axis {axis}", self))
        self.slider = QSlider(self)
        self.slider.setOrientation(pg.QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, max(0, size - 1))
        self.spin = QSpinBox(self)
        self.spin.setRange(0, max(0, size - 1))
        self.spin.setSuffix(f" / {size}")
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.slider.valueChanged.connect(self.spin.setValue)
        self.spin.valueChanged.connect(self.slider.setValue)
        self.spin.valueChanged.connect(lambda _value: on_change())

    def value(self) -> int:
        return self.spin.value()

    def set_value(self, value: int) -> None:
        self.spin.setValue(value)


class ArrayPanel(Panel):
    """Table, line or image of a chosen slice of any dataset (see the module docstring).

    Attributes
    ----------
    choice : SliceChoice
        The slice on screen (shown axes and the fixed indices of the others).
    mode : str
        ``"table"``, ``"line"`` or ``"image"``.
    """

    title = "Array"

    def __init__(self, context: PanelContext, node: Node, parent: QWidget | None = None) -> None:
        super().__init__(context, node, parent)
        self.shape: tuple[int, ...] = tuple(node.shape or ())
        self.dtype = node.dtype
        self.views = views_for(self.shape, self.dtype)
        self.choice = SliceChoice.default(self.shape)
        self.mode = self.views[0] if self.views else "table"
        self.line: LineWindow | None = None
        self.image: ImageSlice | None = None
        self.error = ""

        controls = QGridLayout()
        controls.setHorizontalSpacing(8)
        self.mode_box = QComboBox(self)
        for view in self.views:
            self.mode_box.addItem(_TITLES[view], view)
        controls.addWidget(QLabel("Show as", self), 0, 0)
        controls.addWidget(self.mode_box, 0, 1)
        self.row_box = QComboBox(self)
        self.col_box = QComboBox(self)
        for axis, size in enumerate(self.shape):
            self.row_box.addItem(f"axis {axis} ({size:,})", axis)
            self.col_box.addItem(f"axis {axis} ({size:,})", axis)
        if len(self.shape) >= 2:
            controls.addWidget(QLabel("rows", self), 0, 2)
            controls.addWidget(self.row_box, 0, 3)
            controls.addWidget(QLabel("columns", self), 0, 4)
            controls.addWidget(self.col_box, 0, 5)
            self.row_box.setCurrentIndex(self.choice.row_axis)
            self.col_box.setCurrentIndex(self.choice.col_axis or 0)
        else:
            self.row_box.hide()
            self.col_box.hide()
        controls.setColumnStretch(6, 1)
        self.sliders: dict[int, AxisSlider] = {}
        for axis, size in enumerate(self.shape):
            slider = AxisSlider(axis, size, self._on_index, self)
            self.sliders[axis] = slider
            controls.addWidget(slider, 1 + axis, 0, 1, 7)

        self.stack = QStackedWidget(self)
        self.table = QTableView(self)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ContiguousSelection)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setDefaultSectionSize(96)
        self.plot = pg.PlotWidget(self)
        self.plot.setBackground("w")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "index")
        unit = node.attrs.get("unit") if node.is_dataset else None
        self.plot.setLabel("left", f"value ({unit})" if isinstance(unit, str) else "value")
        self.curve = self.plot.plot(pen=pg.mkPen("#1f5f99", width=1))
        self.image_view = pg.GraphicsLayoutWidget(self)
        self.image_view.setBackground("w")
        self.image_plot = self.image_view.addPlot()
        self.image_plot.setAspectLocked(True)
        self.image_plot.invertY(True)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.image_plot.addItem(self.image_item)
        self.colorbar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), interactive=False)
        self.colorbar.setImageItem(self.image_item, insert_in=self.image_plot)
        for widget in (self.table, self.plot, self.image_view):
            self.stack.addWidget(widget)
        self.status = self.lay_out_page(controls, self.stack)

        self._fetch_timer = QTimer(self, singleShot=True, interval=30)
        self._fetch_timer.timeout.connect(self._fetch_visible)
        self._line_timer = QTimer(self, singleShot=True, interval=60)
        self._line_timer.timeout.connect(self._fetch_line)
        self.model: BlockTableModel | None = None
        self.table.verticalScrollBar().valueChanged.connect(self._schedule_fetch)
        self.table.horizontalScrollBar().valueChanged.connect(self._schedule_fetch)
        self.plot.getViewBox().sigXRangeChanged.connect(lambda *_: self._line_timer.start())
        self.mode_box.currentIndexChanged.connect(self._on_mode)
        self.row_box.currentIndexChanged.connect(self._on_axes)
        self.col_box.currentIndexChanged.connect(self._on_axes)
        self._sync_sliders()
        self._show()

    @classmethod
    def priority(cls, node: Node, catalog: Catalog) -> int:
        """Datasets with at least one element on at least one axis; scalars stay in Details."""
        try:
            if not node.is_dataset or not node.shape or node.dtype is None:
                return -1
            return 1 if int(np.prod(node.shape)) > 0 else -1
        except (OSError, KeyError, TypeError):
            return -1

    # -- choosing what is shown ---------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        """Show the slice as ``"table"``, ``"line"`` or ``"image"`` (one of :attr:`views`)."""
        self.mode_box.setCurrentIndex(max(0, self.mode_box.findData(mode)))

    def set_index(self, axis: int, value: int) -> None:
        """Fix ``axis`` (one that is not shown) at ``value``."""
        self.sliders[axis].set_value(value)

    def _on_mode(self, row: int) -> None:
        self.mode = self.mode_box.itemData(row) or "table"
        self._show()

    def _on_axes(self, _row: int) -> None:
        rows, cols = self.row_box.currentData(), self.col_box.currentData()
        if rows is None or cols is None:
            return
        if rows == cols:  # swap instead of showing one axis twice
            other = self.choice.row_axis if cols != self.choice.row_axis else self.choice.col_axis
            box = self.col_box if self.sender() is self.row_box else self.row_box
            box.blockSignals(True)
            box.setCurrentIndex(other)
            box.blockSignals(False)
            rows, cols = self.row_box.currentData(), self.col_box.currentData()
        self.choice = SliceChoice(rows, cols, self.choice.index)
        self._sync_sliders()
        self._show()

    def _on_index(self) -> None:
        index = tuple(self.sliders[a].value() for a in range(len(self.shape)))
        if index != self.choice.index:
            self.choice = SliceChoice(self.choice.row_axis, self.choice.col_axis, index)
            self._show()

    def _sync_sliders(self) -> None:
        shown = (self.choice.row_axis, self.choice.col_axis)
        for axis, slider in self.sliders.items():
            slider.setVisible(axis not in shown)

    def _show(self) -> None:
        self.context.pool.cancel_prefix(self.job_key(""))
        self.error = ""
        if self.mode == "line":
            self.stack.setCurrentWidget(self.plot)
            self.line = None
            self.plot.setXRange(0, max(1, self.shape[0]), padding=0.02)
            self._fetch_line()
        elif self.mode == "image":
            self.stack.setCurrentWidget(self.image_view)
            self._fetch_image()
        else:
            self.stack.setCurrentWidget(self.table)
            self._reset_table()
        self._update_status()

    # -- table ----------------------------------------------------------------------------
    def _slice_size(self) -> tuple[int, int]:
        if not self.shape:
            return 1, 1
        n_rows = self.shape[self.choice.row_axis]
        n_cols = 1 if self.choice.col_axis is None else self.shape[self.choice.col_axis]
        return n_rows, n_cols

    def _reset_table(self) -> None:
        old = self.model
        self.model = BlockTableModel(*self._slice_size(), on_missing=self._schedule_fetch)
        self.table.setModel(self.model)
        if old is not None:
            old.deleteLater()
        self._schedule_fetch()

    def _schedule_fetch(self, *_args: Any) -> None:
        if not self._fetch_timer.isActive():
            self._fetch_timer.start()

    def visible_blocks(self) -> list[tuple[int, int]]:
        """The keys of the blocks that cover the cells on screen."""
        model = self.model
        if model is None or model.n_rows == 0 or model.n_cols == 0:
            return []
        viewport = self.table.viewport()
        top = max(0, self.table.rowAt(0))
        bottom = self.table.rowAt(viewport.height() - 1)
        bottom = model.n_rows - 1 if bottom < 0 else bottom
        left = max(0, self.table.columnAt(0))
        right = self.table.columnAt(viewport.width() - 1)
        right = model.n_cols - 1 if right < 0 else right
        return [
            (br, bc)
            for br in range(top // BLOCK_ROWS, bottom // BLOCK_ROWS + 1)
            for bc in range(left // BLOCK_COLS, right // BLOCK_COLS + 1)
        ]

    def _fetch_visible(self) -> None:
        model = self.model
        if model is None or self.mode != "table":
            return
        missing = [key for key in self.visible_blocks() if not model.has_block(key)]
        if not missing:
            return
        missing = missing[:_BLOCKS_PER_READ]
        node, choice = self.node, self.choice

        def job(token) -> list[tuple[tuple[int, int], list[list[str]]]]:
            out = []
            for br, bc in missing:
                token.check()
                rows = (br * BLOCK_ROWS, (br + 1) * BLOCK_ROWS)
                cols = (bc * BLOCK_COLS, (bc + 1) * BLOCK_COLS)
                out.append(((br, bc), block_text(node, choice, rows, cols)))
            return out

        def done(blocks: list[tuple[tuple[int, int], list[list[str]]]]) -> None:
            if model is not self.model:
                return
            for key, cells in blocks:
                model.put_block(key, cells)
            self._update_status()
            self._schedule_fetch()  # the rest of the screen, if one read did not cover it

        self.context.pool.submit(self.job_key("cells"), job, done, self._on_error)

    # -- line -----------------------------------------------------------------------------
    def _fetch_line(self) -> None:
        if self.mode != "line" or not self.shape:
            return
        (x0, x1) = self.plot.getViewBox().viewRange()[0]
        start = max(0, int(np.floor(x0)))
        stop = min(self.shape[0], int(np.ceil(x1)) + 1)
        width = max(200, int(self.plot.width()))
        node, choice = self.node, self.choice

        def job(token) -> LineWindow:
            return read_line(node, choice, start, stop, max_points=2 * width)

        self.context.pool.submit(self.job_key("line"), job, self._on_line, self._on_error)

    def _on_line(self, window: LineWindow) -> None:
        self.line = window
        self.curve.setData(window.x, window.y)
        self._update_status()

    # -- image ----------------------------------------------------------------------------
    def _fetch_image(self) -> None:
        node, choice = self.node, self.choice

        def job(token) -> ImageSlice:
            return read_image(node, choice)

        self.context.pool.submit(self.job_key("image"), job, self._on_image, self._on_error)

    def _on_image(self, image: ImageSlice) -> None:
        self.image = image
        pixels = image.pixels
        finite = pixels[np.isfinite(pixels)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        high = high if high > low else low + 1.0
        self.image_item.setImage(pixels, levels=(low, high))
        n_rows, n_cols = self._slice_size()
        self.image_item.setRect(0, 0, n_cols, n_rows)
        self.colorbar.setLevels((low, high))
        self.image_plot.setLabel("left", f"axis {self.choice.row_axis}")
        self.image_plot.setLabel("bottom", f"axis {self.choice.col_axis}")
        self.image_plot.autoRange()
        self._update_status()

    # -- status ---------------------------------------------------------------------------
    def _on_error(self, exc: Exception) -> None:
        self.error = f"Cannot read {self.node.path}: {exc}"
        self._update_status()

    def _update_status(self) -> None:
        parts = [f"{format_shape(self.shape)} · {self.node.dtype_name}"]
        if len(self.shape) > 2 or (len(self.shape) == 2 and self.choice.col_axis is None):
            fixed = [
                f"axis {a} = {i}"
                for a, i in enumerate(self.choice.index)
                if a not in (self.choice.row_axis, self.choice.col_axis)
            ]
            parts.append("slice " + ", ".join(fixed))
        if self.mode == "line" and self.line is not None and len(self.line.x):
            every = f" (1 in {self.line.step})" if self.line.step > 1 else ""
            parts.append(f"showing {int(self.line.x[0]):,}–{int(self.line.x[-1]):,}{every}")
        elif self.mode == "image" and self.image is not None and self.image.step > 1:
            parts.append(f"1 pixel in {self.image.step} per axis")
        elif self.mode == "table" and self.dtype is not None and kind_of(self.dtype) != "numeric":
            parts.append("values as text")
        if self.error:
            self.status.setStyleSheet("color: #c0392b;")
            parts.append(self.error)
        else:
            self.status.setStyleSheet("color: palette(placeholder-text);")
        self.status.setText("   ·   ".join(parts))

    def resizeEvent(self, event) -> None:  # noqa: N802
        """A wider plot can show more points: read the line again at the new width."""
        super().resizeEvent(event)
        if self.mode == "line":
            self._line_timer.start()
        elif self.mode == "table":
            self._schedule_fetch()

    def shutdown(self) -> None:
        self._fetch_timer.stop()
        self._line_timer.stop()
        super().shutdown()
