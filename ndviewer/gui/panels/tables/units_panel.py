"""The Units panel: a paged raster of all units, and rate, ISI and waveforms of the chosen one.

The raster is an image: the worker counts spikes per (unit, pixel column) for the visible time
window (``UnitsTable.raster_counts``), so a page of 1 000 units with 10^7 spikes draws as fast
as one with ten. Units are ordered by any column, by spike count or firing rate, or by a column
of their electrodes (e.g. depth), and shown a page at a time. Zooming or panning re-reads the
window at screen resolution.

Signals
-------
raster_changed()
    A new raster (page, order or time window) is on screen.
unit_changed(int)
    The selected unit (table row) changed and its plots are drawn.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.catalog import Catalog
from ndviewer.core.model.nodes import Node
from ndviewer.core.nwb.table_view import format_value, order_by_keys
from ndviewer.core.nwb.tables import Table
from ndviewer.core.nwb.units import FIRING_RATE, IsiHistogram, RateCurve, UnitsTable
from ndviewer.gui.panels.base import Panel, PanelContext
from ndviewer.gui.panels.tables.plot_style import (
    CURSOR_COLOR,
    SELECTION_COLOR,
    group_color,
    make_plot,
    raster_lookup_table,
)

DEFAULT_PAGE_SIZE = 100
#: Time bins of the first raster, asked for before the plot has a width: a raster already
#: drawn at 3/4 of the plot's width or more is not recomputed for it (see _load_raster).
INITIAL_BINS = 800
#: Fraction of the session added on each side of the whole-session view.
_SESSION_PADDING = 0.01
#: Above this many units on a page, rows get no gap (they are thinner than a pixel anyway).
_GAP_LIMIT = 200
_ROWS_PER_UNIT = 8  # 1 blank image row, 6 rows of spikes, 1 blank row: a centred tick
#: At most this many individual waveforms are overlaid.
MAX_WAVEFORMS = 50


def counts_to_image(counts: np.ndarray, gaps: bool) -> np.ndarray:
    """uint8 raster image from spike counts: 0 stays 0, one spike is already mid-dark.

    With ``gaps`` every unit gets ``_ROWS_PER_UNIT`` image rows, the first and last blank, so
    that neighbouring units stay apart and each tick is centred on its unit's label.
    """
    nonzero = counts[counts > 0]
    saturation = max(2.0, float(np.percentile(nonzero, 95))) if nonzero.size else 2.0
    scaled = np.zeros(counts.shape, dtype=np.uint8)
    spikes = counts > 0
    scaled[spikes] = (
        1 + (np.minimum(counts[spikes], saturation) - 1) * (254 / (saturation - 1))
    ).astype(np.uint8)
    if not gaps:
        return scaled
    image = np.zeros((counts.shape[0] * _ROWS_PER_UNIT, counts.shape[1]), dtype=np.uint8)
    for k in range(1, _ROWS_PER_UNIT - 1):
        image[k::_ROWS_PER_UNIT] = scaled
    return image


@dataclass(frozen=True)
class RasterResult:
    """One computed raster: which units, which window, and their counts."""

    units: np.ndarray
    t0: float
    t1: float
    counts: np.ndarray
    image: np.ndarray


@dataclass(frozen=True)
class UnitDetails:
    """What the side plots show for one unit."""

    unit: int
    n_spikes: int
    rate: RateCurve
    isi: IsiHistogram
    waveform_mean: np.ndarray | None
    waveform_sd: np.ndarray | None
    waveforms: list[np.ndarray] | None
    sampling_rate: float | None
    mean_rate: float
    columns: list[tuple[str, str]]  # (name, value text) of the unit's plain columns


class UnitsPanel(Panel):
    """Raster of all units of a Units table, with per-unit firing rate, ISI and waveforms."""

    title = "Units raster"

    raster_changed = Signal()
    unit_changed = Signal(int)

    def __init__(self, context: PanelContext, node: Node, parent: QWidget | None = None) -> None:
        super().__init__(context, node, parent)
        self.units = UnitsTable(Table.from_node(node))
        self.order = np.arange(self.units.n_units, dtype=np.int64)
        self.page = 0
        self.page_size = DEFAULT_PAGE_SIZE
        self.selected_unit: int | None = None
        self.raster: RasterResult | None = None
        self.details: UnitDetails | None = None
        self._ids = self.units.ids
        self._counts = self.units.spike_counts()
        #: The session's (t0, t1), read by the first raster job; None until it arrives.
        self._span: tuple[float, float] | None = None
        #: (units, t0, t1, n_bins) of the raster in flight or on screen.
        self._raster_request: tuple[np.ndarray, float, float, int] | None = None
        self._raster_in_flight = False
        self._raster_wanted_again = False
        # The first raster (and the session's span, which takes reading every unit's first
        # and last spike) is computed while the widgets are built, not after.
        self._load_first_raster()
        self._build()
        self._unsubscribe = context.time_cursor.subscribe(self._cursor_moved)
        self._show_page()

    @classmethod
    def priority(cls, node: Node, catalog: Catalog) -> int:
        group = node.h5obj()
        try:
            return 60 if group is not None and "spike_times_index" in group else -1
        except TypeError:
            return -1

    # -- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        self.sort_combo = QComboBox()
        self.sort_combo.addItems(self.units.sort_key_names())
        self.sort_combo.setToolTip("Order of the units in the raster")
        self.sort_combo.currentTextChanged.connect(lambda _t: self._resort())
        self.descending_button = QToolButton()
        self.descending_button.setCheckable(True)
        self.descending_button.setText("↑")
        self.descending_button.setToolTip("Ascending / descending")
        self.descending_button.toggled.connect(self._descending_toggled)
        self.page_size_spin = QSpinBox()
        self.page_size_spin.setRange(5, 2000)
        self.page_size_spin.setValue(self.page_size)
        self.page_size_spin.setSuffix(" units/page")
        self.page_size_spin.valueChanged.connect(self.set_page_size)
        self.previous_button = QToolButton()
        self.previous_button.setText("◀")
        self.previous_button.setToolTip("Previous page of units")
        self.previous_button.clicked.connect(lambda: self.set_page(self.page - 1))
        self.next_button = QToolButton()
        self.next_button.setText("▶")
        self.next_button.setToolTip("Next page of units")
        self.next_button.clicked.connect(lambda: self.set_page(self.page + 1))
        self.page_label = QLabel()
        self.rate_bin_spin = QDoubleSpinBox()
        self.rate_bin_spin.setDecimals(3)
        self.rate_bin_spin.setRange(0.001, 3600.0)
        self.rate_bin_spin.setValue(1.0)  # until the session's span is known
        self.rate_bin_spin.setSuffix(" s")
        self.rate_bin_spin.setToolTip("Bin of the firing-rate plot")
        self.rate_bin_spin.valueChanged.connect(lambda _v: self._load_details())

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("Order by"))
        bar.addWidget(self.sort_combo)
        bar.addWidget(self.descending_button)
        bar.addSpacing(12)
        bar.addWidget(self.previous_button)
        bar.addWidget(self.page_label)
        bar.addWidget(self.next_button)
        bar.addWidget(self.page_size_spin)
        bar.addStretch(1)
        bar.addWidget(QLabel("Rate bin"))
        bar.addWidget(self.rate_bin_spin)

        self.plot = make_plot(x_label="time", x_units="s", y_label="unit id", x_si_prefix=False)
        self.plot.setMouseEnabled(x=True, y=False)
        # No grid over the raster: units are apart already (blank image rows), the time axis
        # has its ticks, and grid lines over the image cost 28 of the 34 ms of each repaint
        # (offscreen, 1000 px wide).
        self.plot.showGrid(x=False, y=False)
        self.plot.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(raster_lookup_table())
        self.image.setLevels((0, 255))
        self.plot.addItem(self.image)
        self.selection_band = pg.LinearRegionItem(
            orientation="horizontal",
            movable=False,
            brush=pg.mkBrush(SELECTION_COLOR),
            pen=pg.mkPen(None),
        )
        self.selection_band.setZValue(-5)
        self.selection_band.hide()
        self.plot.addItem(self.selection_band)
        self.cursor_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(CURSOR_COLOR, width=1.2))
        self.cursor_line.setValue(self.context.time_cursor.time)
        self.plot.addItem(self.cursor_line)
        self.plot.scene().sigMouseClicked.connect(self._plot_clicked)
        self.plot.getViewBox().sigXRangeChanged.connect(lambda *_: self._raster_timer.start())
        self._raster_timer = QTimer(self)
        self._raster_timer.setSingleShot(True)
        self._raster_timer.setInterval(60)
        self._raster_timer.timeout.connect(self._load_raster)

        self.unit_label = QLabel()
        self.unit_label.setWordWrap(True)
        self.unit_label.setTextFormat(Qt.TextFormat.RichText)
        self.waveform_note = QLabel()
        self.waveform_note.setStyleSheet("color: #5d6d7e;")

        side = QWidget()
        self._side_layout = QVBoxLayout(side)
        self._side_layout.setContentsMargins(4, 0, 0, 0)
        self._side_layout.addWidget(self.unit_label)
        self._side_layout.addStretch(1)
        self._side_layout.addWidget(self.waveform_note)
        # The rate, ISI and waveform plots are built with the first unit's details: built
        # and painted empty before, they would delay the raster by some 60 ms.
        self.rate_plot: pg.PlotWidget | None = None

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.plot)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([700, 420])

        self.status_label = self.lay_out_page(bar, splitter)

    def _build_side_plots(self) -> None:
        """The rate, ISI and waveform plots, in the side pane above the waveform note."""
        self.rate_plot = make_plot("Firing rate", "time", "s", "rate", "Hz", x_si_prefix=False)
        self.rate_curve = self.rate_plot.plot(
            pen=pg.mkPen("#0072b2", width=1.2),
            stepMode="center",
            fillLevel=0,
            brush=pg.mkBrush(0, 114, 178, 50),
        )
        self.isi_plot = make_plot("Inter-spike intervals", "interval", "s", "count")
        self.isi_bars = self.isi_plot.plot(
            stepMode="center",
            fillLevel=0,
            pen=pg.mkPen("#444444"),
            brush=pg.mkBrush(80, 80, 80, 120),
        )
        self.refractory_line = pg.InfiniteLine(
            angle=90, pen=pg.mkPen(CURSOR_COLOR, style=Qt.PenStyle.DashLine)
        )
        self.isi_plot.addItem(self.refractory_line)
        self.waveform_plot = make_plot("Waveform", "time", "s", "amplitude")
        stretch = self._side_layout.indexOf(self.unit_label) + 1
        self._side_layout.takeAt(stretch)  # the placeholder stretch
        for offset, plot in enumerate((self.rate_plot, self.isi_plot, self.waveform_plot)):
            self._side_layout.insertWidget(stretch + offset, plot, 1)

    # -- order and pages ---------------------------------------------------------------------
    @property
    def n_pages(self) -> int:
        return max(1, math.ceil(self.units.n_units / self.page_size))

    @property
    def page_units(self) -> np.ndarray:
        """Table rows of the units on the current page, top to bottom."""
        return self.order[self.page * self.page_size : (self.page + 1) * self.page_size]

    def set_page(self, page: int) -> None:
        page = min(max(0, page), self.n_pages - 1)
        if page != self.page:
            self.page = page
            self._show_page()

    def set_page_size(self, size: int) -> None:
        first = self.page * self.page_size
        self.page_size = max(1, int(size))
        self.page = first // self.page_size
        if self.page_size_spin.value() != self.page_size:
            self.page_size_spin.setValue(self.page_size)
        self._show_page()

    def sort_units(self, key: str, descending: bool = False) -> None:
        """Order units by ``key`` (see ``UnitsTable.sort_key_names``); NaN keys go last."""
        self.sort_combo.blockSignals(True)
        self.sort_combo.setCurrentText(key)
        self.sort_combo.blockSignals(False)
        self.descending_button.blockSignals(True)
        self.descending_button.setChecked(descending)
        self.descending_button.setText("↓" if descending else "↑")
        self.descending_button.blockSignals(False)
        self._resort()

    def _descending_toggled(self, checked: bool) -> None:
        self.descending_button.setText("↓" if checked else "↑")
        self._resort()

    def _resort(self) -> None:
        units = self.units
        key = self.sort_combo.currentText()
        descending = self.descending_button.isChecked()

        def compute(_token) -> np.ndarray:
            return order_by_keys(units.sort_keys(key), descending)

        def done(order: np.ndarray) -> None:
            self.order = order
            self.page = 0
            self._show_page()

        self.context.pool.submit(self.job_key("order"), compute, done, self._failed)

    def _show_page(self) -> None:
        units = self.page_units
        first = self.page * self.page_size
        self.page_label.setText(
            f"units {first + 1:,}–{first + units.size:,} of {self.units.n_units:,}"
            if units.size
            else "no units"
        )
        self.previous_button.setEnabled(self.page > 0)
        self.next_button.setEnabled(self.page < self.n_pages - 1)
        self.plot.setYRange(0, max(1, units.size), padding=0)
        self._set_unit_ticks(units)
        self._update_selection_band()
        self._load_raster()

    def _set_unit_ticks(self, units: np.ndarray) -> None:
        height = max(1, self.plot.getViewBox().height())
        step = max(1, math.ceil(units.size * 14 / height))
        ticks = [(k + 0.5, str(int(self._ids[u]))) for k, u in enumerate(units) if k % step == 0]
        self.plot.getAxis("left").setTicks([ticks, []])

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._set_unit_ticks(self.page_units)
        self._raster_timer.start()

    # -- raster ------------------------------------------------------------------------------
    def _load_first_raster(self) -> None:
        """Read the session's span and draw the first page over all of it, in one job."""
        units = self.page_units.copy()
        source = self.units
        gaps = units.size <= _GAP_LIMIT

        def compute(_token) -> tuple[tuple[float, float], RasterResult]:
            t0, t1 = source.time_range()
            pad = (t1 - t0) * _SESSION_PADDING  # as the plot pads setXRange
            w0, w1 = t0 - pad, t1 + pad
            counts = source.raster_counts(units, w0, w1, INITIAL_BINS)
            return (t0, t1), RasterResult(units, w0, w1, counts, counts_to_image(counts, gaps))

        self._raster_request = (units, math.nan, math.nan, INITIAL_BINS)
        self._raster_in_flight = True
        self.context.pool.submit(
            self.job_key("raster"), compute, self._first_raster_arrived, self._raster_failed
        )

    def _first_raster_arrived(self, payload: tuple[tuple[float, float], RasterResult]) -> None:
        span, result = payload
        self._span = span
        self._raster_request = (result.units, result.t0, result.t1, INITIAL_BINS)
        self.rate_bin_spin.blockSignals(True)
        self.rate_bin_spin.setValue(_nice_bin((span[1] - span[0]) / 200))
        self.rate_bin_spin.blockSignals(False)
        self.plot.setXRange(span[0], span[1], padding=_SESSION_PADDING)
        self._show_raster(result)
        if self.selected_unit is None and self.units.n_units:
            self.select_unit(int(self.order[0]))

    def _load_raster(self) -> None:
        """Ask for the raster of the page in view, unless it is on screen or on its way.

        A job already running is left to finish (its raster is painted, then the newest
        request follows), so panning or resizing never leaves the raster blank.
        """
        if self._span is None:
            self._raster_wanted_again = True  # the first raster job is still running
            return
        units = self.page_units.copy()
        view_box = self.plot.getViewBox()
        (t0, t1), _ = view_box.viewRange()
        width = view_box.width()
        n_bins = int(max(16, min(8192, width or INITIAL_BINS)))
        if self._raster_request is not None:
            shown_units, s0, s1, shown_bins = self._raster_request
            tolerance = 1e-9 * max(abs(t1 - t0), 1e-12)
            if (
                np.array_equal(shown_units, units)
                and abs(s0 - t0) <= tolerance
                and abs(s1 - t1) <= tolerance
                and 0.75 * n_bins <= shown_bins <= n_bins
            ):
                return
        if self._raster_in_flight:
            self._raster_wanted_again = True
            return
        source = self.units
        gaps = units.size <= _GAP_LIMIT

        def compute(_token) -> RasterResult:
            counts = source.raster_counts(units, t0, t1, n_bins)
            return RasterResult(units, t0, t1, counts, counts_to_image(counts, gaps))

        self._raster_request = (units, t0, t1, n_bins)
        self._raster_in_flight = True
        self.context.pool.submit(
            self.job_key("raster"), compute, self._show_raster, self._raster_failed
        )

    def _raster_failed(self, exc: Exception) -> None:
        self._raster_in_flight = False
        self._raster_request = None
        self._raster_wanted_again = False
        self._failed(exc)

    def _show_raster(self, result: RasterResult) -> None:
        self._raster_in_flight = False
        self.raster = result
        self.image.setImage(result.image, autoLevels=False, levels=(0, 255))
        self.image.setRect(QRectF(result.t0, 0, result.t1 - result.t0, max(1, result.units.size)))
        shown = int(result.counts.sum())
        self.status_label.setText(
            f"{shown:,} spikes of {result.units.size} units in "
            f"{result.t0:.3f}–{result.t1:.3f} s · {self.units.n_units:,} units, "
            f"{int(self._counts.sum()):,} spikes in the table"
        )
        self.raster_changed.emit()
        if self._raster_wanted_again:
            self._raster_wanted_again = False
            self._load_raster()

    def spikes_shown_per_unit(self) -> dict[int, int]:
        """Spikes drawn in the current raster, by unit table row (for tests and the status)."""
        if self.raster is None:
            return {}
        sums = self.raster.counts.sum(axis=1)
        return {int(u): int(s) for u, s in zip(self.raster.units, sums, strict=True)}

    def set_time_window(self, t0: float, t1: float) -> None:
        """Show [t0, t1] in the raster (re-read at screen resolution)."""
        self.plot.setXRange(t0, t1, padding=0)
        self._raster_timer.start()

    # -- selection and side plots ------------------------------------------------------------
    def _plot_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        view_box = self.plot.getViewBox()
        if not view_box.sceneBoundingRect().contains(event.scenePos()):
            return
        point = view_box.mapSceneToView(event.scenePos())
        row = int(math.floor(point.y()))
        units = self.page_units
        if 0 <= row < units.size:
            self.select_unit(int(units[row]))
        self.context.time_cursor.set_time(point.x())

    def select_unit(self, unit: int) -> None:
        """Show rate, ISI and waveforms of unit (table row) ``unit``."""
        self.selected_unit = unit
        self._update_selection_band()
        self._load_details()

    def _update_selection_band(self) -> None:
        positions = np.flatnonzero(self.page_units == self.selected_unit)
        if positions.size:
            self.selection_band.setRegion((float(positions[0]), float(positions[0]) + 1))
            self.selection_band.show()
        else:
            self.selection_band.hide()

    def _load_details(self) -> None:
        unit = self.selected_unit
        if unit is None:
            return
        source = self.units
        bin_size = self.rate_bin_spin.value()

        def compute(_token) -> UnitDetails:
            waveforms = source.waveforms(unit)
            columns = [
                (column.name, format_value(column.read([unit])[0]))
                for column in source.table.columns
                if column.sortable and not column.is_ragged
            ]
            return UnitDetails(
                unit,
                int(source.spike_counts()[unit]),
                source.firing_rate(unit, bin_size),
                source.isi_histogram(unit),
                source.waveform_mean(unit),
                source.waveform_sd(unit),
                None if waveforms is None else waveforms[:MAX_WAVEFORMS],
                source.waveform_sampling_rate(),
                float(source.mean_firing_rates()[unit]),
                columns,
            )

        self.context.pool.submit(self.job_key("unit"), compute, self._show_details, self._failed)

    def _show_details(self, details: UnitDetails) -> None:
        self.details = details
        unit_id = int(self._ids[details.unit])
        facts = [f"<b>unit {unit_id}</b>", f"{details.n_spikes:,} spikes"]
        if np.isfinite(details.mean_rate):
            facts.append(f"{details.mean_rate:.3g} Hz")
        facts.append(
            f"{details.isi.violation_fraction:.2%} ISIs &lt; {details.isi.refractory * 1e3:g} ms"
        )
        facts += [f"{html.escape(name)} {html.escape(text)}" for name, text in details.columns]
        self.unit_label.setText(" · ".join(facts[:9]))
        if self.rate_plot is None:
            self._build_side_plots()
        self.rate_curve.setData(details.rate.edges, details.rate.rates)
        self.isi_bars.setData(details.isi.edges, details.isi.counts)
        self.refractory_line.setValue(details.isi.refractory)
        self._draw_waveforms(details)
        self.unit_changed.emit(details.unit)

    def _draw_waveforms(self, details: UnitDetails) -> None:
        plot = self.waveform_plot
        plot.clear()
        rate = details.sampling_rate
        unit_label = "s" if rate else None
        plot.getAxis("bottom").setLabel("time" if rate else "sample", units=unit_label)
        curves = 0
        if details.waveforms:
            for spike in details.waveforms:
                spike = np.atleast_2d(spike)
                for channel in range(min(spike.shape[0], 8)):
                    x = np.arange(spike.shape[1]) / (rate or 1.0)
                    plot.plot(x, spike[channel], pen=pg.mkPen(group_color(channel).lighter(160)))
                    curves += 1
        if details.waveform_mean is not None:
            mean = details.waveform_mean.reshape(details.waveform_mean.shape[0], -1)
            sd = None
            if details.waveform_sd is not None:
                sd = details.waveform_sd.reshape(mean.shape)
            x = np.arange(mean.shape[0]) / (rate or 1.0)
            for channel in range(min(mean.shape[1], 8)):
                color = group_color(channel)
                if sd is not None:
                    band = pg.FillBetweenItem(
                        pg.PlotDataItem(x, mean[:, channel] - sd[:, channel]),
                        pg.PlotDataItem(x, mean[:, channel] + sd[:, channel]),
                        brush=pg.mkBrush(color.red(), color.green(), color.blue(), 50),
                    )
                    plot.addItem(band)
                plot.plot(x, mean[:, channel], pen=pg.mkPen(color, width=2))
                curves += 1
        if curves:
            self.waveform_note.setText(
                "mean ± sd per electrode"
                if details.waveform_mean is not None
                else f"first {len(details.waveforms or [])} waveforms"
            )
        else:
            self.waveform_note.setText("This table has no waveform_mean or waveforms column.")
        plot.setVisible(bool(curves))

    # -- time cursor -------------------------------------------------------------------------
    def _cursor_moved(self, cursor) -> None:
        self.cursor_line.setValue(cursor.time)

    def _failed(self, exc: Exception) -> None:
        message = exc.message if isinstance(exc, NdviewerError) else f"Cannot draw: {exc}"
        self.status_label.setText(message)

    def shutdown(self) -> None:
        self._unsubscribe()
        self._raster_timer.stop()
        super().shutdown()


def _nice_bin(seconds: float) -> float:
    """A round bin size (1, 2 or 5 x 10^k s) near ``seconds``."""
    if not seconds > 0:
        return 1.0
    exponent = math.floor(math.log10(seconds))
    for factor in (1, 2, 5, 10):
        value = factor * 10.0**exponent
        if value >= seconds:
            return round(value, 6) or 0.001
    return seconds


__all__ = ["FIRING_RATE", "UnitsPanel", "counts_to_image"]
