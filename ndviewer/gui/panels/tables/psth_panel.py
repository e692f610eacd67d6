"""The PSTH panel: spikes of a unit (or samples of any TimeSeries) aligned to trials.

Pick a TimeIntervals table, the time to align to (start, stop or any time column such as a cue
time), an optional column to group trials by, a window and a bin size. Spikes show as a trial
raster (trials ordered by group) above the peri-stimulus time histogram of each group, with its
standard error; a TimeSeries shows as a trials x time image above the mean of each group.

Signals
-------
result_changed()
    A new alignment is on screen (``result`` holds it).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor
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
from ndviewer.core.nwb.alignment import (
    AlignedEvents,
    Psth,
    align_events,
    align_samples,
    alignment_role,
    group_labels,
    group_means,
    group_trials,
    grouping_columns,
    psth,
    reference_times,
    time_columns,
)
from ndviewer.core.nwb.summary import find_typed_paths
from ndviewer.core.nwb.tables import Table
from ndviewer.core.nwb.timeseries import TimeSeriesSource, plottable_channels
from ndviewer.core.nwb.units import UnitsTable
from ndviewer.gui.panels.base import Panel, PanelContext
from ndviewer.gui.panels.tables.plot_style import CURSOR_COLOR, group_color, make_plot

NO_GROUPING = "(all trials)"


@dataclass(frozen=True)
class SpikeAlignment:
    """Spikes of one unit aligned to trials, and the PSTH per group."""

    aligned: AlignedEvents
    psth: Psth
    trial_rows: np.ndarray  # display row of each trial (trials ordered by group)
    group_of: np.ndarray


@dataclass(frozen=True)
class SeriesAlignment:
    """Samples of one channel aligned to trials, and the mean per group."""

    edges: np.ndarray
    values: np.ndarray  # (n_trials, n_bins)
    labels: list[str]
    means: np.ndarray
    sems: np.ndarray
    n_trials: np.ndarray
    trial_rows: np.ndarray
    group_of: np.ndarray


def _display_rows(group_of: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Row of each trial when trials are stacked group after group (invalid trials: -1)."""
    order = np.lexsort((np.arange(group_of.size), group_of))
    order = order[valid[order]]
    rows = np.full(group_of.size, -1, dtype=np.int64)
    rows[order] = np.arange(order.size)
    return rows


class PsthPanel(Panel):
    """Trial-aligned raster and PSTH of a unit, or trial-aligned average of a TimeSeries."""

    title = "PSTH / trial alignment"

    result_changed = Signal()

    def __init__(self, context: PanelContext, node: Node, parent: QWidget | None = None) -> None:
        super().__init__(context, node, parent)
        self.result: SpikeAlignment | SeriesAlignment | None = None
        self._legend: list[tuple[QColor, str]] = []
        self._trials: Table | None = None
        self._units: UnitsTable | None = None
        self._build()
        self._fill_sources(context.index)
        self._recompute_timer = QTimer(self)
        self._recompute_timer.setSingleShot(True)
        self._recompute_timer.setInterval(150)
        self._recompute_timer.timeout.connect(self.recompute)
        for signal in (
            self.align_combo.currentTextChanged,
            self.group_combo.currentTextChanged,
            self.unit_combo.currentIndexChanged,
            self.channel_spin.valueChanged,
            self.before_spin.valueChanged,
            self.after_spin.valueChanged,
            self.bin_spin.valueChanged,
        ):
            signal.connect(lambda *_: self._recompute_timer.start())
        self.recompute()

    @classmethod
    def priority(cls, node: Node, catalog: Catalog) -> int:
        return 40 if alignment_role(node) is not None else -1

    # -- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        self.trials_combo = QComboBox()
        self.trials_combo.setToolTip("TimeIntervals table whose rows are the trials")
        self.trials_combo.currentTextChanged.connect(self._trials_changed)
        self.align_combo = QComboBox()
        self.align_combo.setToolTip("Time of each trial that becomes 0")
        self.group_combo = QComboBox()
        self.group_combo.setToolTip("Column whose values split the trials into groups")
        self.data_combo = QComboBox()
        self.data_combo.setToolTip("Spikes of a Units table, or any TimeSeries")
        self.data_combo.currentTextChanged.connect(self._data_changed)
        self.unit_combo = QComboBox()
        self.unit_combo.setToolTip("Unit whose spikes are aligned")
        self.unit_combo.setMinimumContentsLength(8)
        self.previous_unit = QToolButton()
        self.previous_unit.setText("◀")
        self.previous_unit.clicked.connect(lambda: self._step_unit(-1))
        self.next_unit = QToolButton()
        self.next_unit.setText("▶")
        self.next_unit.clicked.connect(lambda: self._step_unit(1))
        self.channel_spin = QSpinBox()
        self.channel_spin.setPrefix("channel ")
        self.before_spin = _seconds_spin(-0.5, -3600.0, 3600.0)
        self.after_spin = _seconds_spin(1.0, -3600.0, 3600.0)
        self.bin_spin = QDoubleSpinBox()
        self.bin_spin.setDecimals(1)
        self.bin_spin.setRange(0.1, 60_000.0)
        self.bin_spin.setValue(20.0)
        self.bin_spin.setSuffix(" ms")

        first_row = QHBoxLayout()
        first_row.setContentsMargins(0, 0, 0, 0)
        for label, widget in (
            ("Trials", self.trials_combo),
            ("align to", self.align_combo),
            ("group by", self.group_combo),
            ("window", self.before_spin),
            ("to", self.after_spin),
        ):
            first_row.addWidget(QLabel(label))
            first_row.addWidget(widget)
            first_row.addSpacing(6)
        first_row.addStretch(1)
        second_row = QHBoxLayout()
        second_row.setContentsMargins(0, 0, 0, 0)
        second_row.addWidget(QLabel("Data"))
        second_row.addWidget(self.data_combo)
        second_row.addSpacing(6)
        for widget in (self.previous_unit, self.unit_combo, self.next_unit, self.channel_spin):
            second_row.addWidget(widget)
        second_row.addSpacing(6)
        second_row.addWidget(QLabel("bin"))
        second_row.addWidget(self.bin_spin)
        second_row.addStretch(1)
        controls = QVBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.setSpacing(4)
        controls.addLayout(first_row)
        controls.addLayout(second_row)

        self.raster_plot = make_plot(x_label="time from reference", x_units="s", y_label="trial id")
        self.raster_plot.invertY(True)
        self.raster_plot.setMouseEnabled(x=True, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.raster_plot.addItem(self.image)
        self.psth_plot = make_plot(
            x_label="time from reference", x_units="s", y_label="rate", y_units="Hz"
        )
        self.psth_plot.setXLink(self.raster_plot)
        # The legend is a label above the plot, so it never hides a curve.
        self.legend_label = QLabel()
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        self.legend_label.setWordWrap(True)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.setSpacing(2)
        lower_layout.addWidget(self.legend_label)
        lower_layout.addWidget(self.psth_plot, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.raster_plot)
        splitter.addWidget(lower)
        splitter.setSizes([380, 300])

        self.status_label = self.lay_out_page(controls, splitter)

    # -- sources -----------------------------------------------------------------------------
    def index_ready(self, index: Any) -> None:
        self._fill_sources(index)

    def _fill_sources(self, index: Any) -> None:
        file = self.context.file
        trials = find_typed_paths(file, "TimeIntervals", index)
        units = find_typed_paths(file, "Units", index)
        series = find_typed_paths(file, "TimeSeries", index)
        here = self.node.path
        is_units = alignment_role(self.node) == "units"
        if is_units and here not in units:
            units.insert(0, here)
        if not is_units and here not in trials:
            trials.insert(0, here)
        current_trials = self.trials_combo.currentText() or (here if not is_units else None)
        current_data = self.data_combo.currentText() or (here if is_units else None)
        self.trials_combo.blockSignals(True)
        self.trials_combo.clear()
        self.trials_combo.addItems(trials)
        preferred = current_trials if current_trials in trials else _preferred(trials, "trials")
        if preferred:
            self.trials_combo.setCurrentText(preferred)
        self.trials_combo.blockSignals(False)
        self.data_combo.blockSignals(True)
        self.data_combo.clear()
        for path in units:
            self.data_combo.addItem(path, ("units", path))
        for path in series:
            self.data_combo.addItem(path, ("series", path))
        if current_data and self.data_combo.findText(current_data) >= 0:
            self.data_combo.setCurrentText(current_data)
        self.data_combo.blockSignals(False)
        self._trials_changed(self.trials_combo.currentText())
        self._data_changed(self.data_combo.currentText())

    def _trials_changed(self, path: str) -> None:
        self._trials = None
        self.align_combo.blockSignals(True)
        self.group_combo.blockSignals(True)
        align, group = self.align_combo.currentText(), self.group_combo.currentText()
        self.align_combo.clear()
        self.group_combo.clear()
        if path:
            try:
                self._trials = Table.from_path(self.context.file, path)
            except NdviewerError:  # not a table: nothing to align to
                pass
        if self._trials is not None:
            times = time_columns(self._trials)
            self.align_combo.addItems(times)
            if align in times:
                self.align_combo.setCurrentText(align)
            self.group_combo.addItems([NO_GROUPING, *grouping_columns(self._trials)])
            if self.group_combo.findText(group) >= 0:
                self.group_combo.setCurrentText(group)
        self.align_combo.blockSignals(False)
        self.group_combo.blockSignals(False)
        if hasattr(self, "_recompute_timer"):
            self._recompute_timer.start()

    def _data_changed(self, _text: str) -> None:
        kind, path = self.data_combo.currentData() or (None, None)
        self._units = None
        self.unit_combo.blockSignals(True)
        self.unit_combo.clear()
        if kind == "units":
            try:
                self._units = UnitsTable(Table.from_path(self.context.file, path))
            except NdviewerError as exc:
                self.status_label.setText(exc.message)
            else:
                counts = self._units.spike_counts()
                for row, unit_id in enumerate(self._units.ids.tolist()):
                    self.unit_combo.addItem(f"unit {unit_id} ({counts[row]:,} spikes)", row)
        self.unit_combo.blockSignals(False)
        is_units = kind == "units"
        for widget in (self.unit_combo, self.previous_unit, self.next_unit):
            widget.setVisible(is_units)
        self.channel_spin.setVisible(kind == "series")
        if kind == "series":
            n_channels = plottable_channels(self.context.file.node(path)) or 1
            self.channel_spin.setRange(0, max(0, n_channels - 1))
        self.psth_plot.getAxis("left").setLabel(
            "rate" if is_units else "mean", units="Hz" if is_units else None
        )
        if hasattr(self, "_recompute_timer"):
            self._recompute_timer.start()

    def _step_unit(self, step: int) -> None:
        index = self.unit_combo.currentIndex() + step
        if 0 <= index < self.unit_combo.count():
            self.unit_combo.setCurrentIndex(index)

    # -- settings for tests and callers ------------------------------------------------------
    def configure(
        self,
        trials: str | None = None,
        align_to: str | None = None,
        group_by: str | None = None,
        data: str | None = None,
        unit: int | None = None,
        channel: int | None = None,
        window: tuple[float, float] | None = None,
        bin_size: float | None = None,
    ) -> None:
        """Set several controls at once and recompute once (``bin_size`` in seconds)."""
        widgets = [
            self.trials_combo,
            self.align_combo,
            self.group_combo,
            self.data_combo,
            self.unit_combo,
            self.channel_spin,
            self.before_spin,
            self.after_spin,
            self.bin_spin,
        ]
        if trials is not None:
            self.trials_combo.setCurrentText(trials)
        if data is not None:
            self.data_combo.setCurrentText(data)
        for widget in widgets:
            widget.blockSignals(True)
        if align_to is not None:
            self.align_combo.setCurrentText(align_to)
        if group_by is not None:
            self.group_combo.setCurrentText(group_by or NO_GROUPING)
        if unit is not None:
            self.unit_combo.setCurrentIndex(self.unit_combo.findData(unit))
        if channel is not None:
            self.channel_spin.setValue(channel)
        if window is not None:
            self.before_spin.setValue(window[0])
            self.after_spin.setValue(window[1])
        if bin_size is not None:
            self.bin_spin.setValue(bin_size * 1000.0)
        for widget in widgets:
            widget.blockSignals(False)
        self._recompute_timer.stop()
        self.recompute()

    # -- computing ---------------------------------------------------------------------------
    def recompute(self) -> None:
        """Align the chosen data to the chosen trials on the worker pool."""
        trials = self._trials
        align_to = self.align_combo.currentText()
        if trials is None or not align_to:
            self.status_label.setText("Choose a TimeIntervals table with a time column.")
            return
        group_by = self.group_combo.currentText()
        group_by = None if group_by in ("", NO_GROUPING) else group_by
        window = (self.before_spin.value(), self.after_spin.value())
        bin_size = self.bin_spin.value() / 1000.0
        kind, path = self.data_combo.currentData() or (None, None)
        units = self._units
        unit = self.unit_combo.currentData()
        channel = self.channel_spin.value()
        file = self.context.file

        def compute(_token) -> SpikeAlignment | SeriesAlignment:
            references = reference_times(trials, align_to)
            labels = group_labels(trials, group_by)
            valid = np.isfinite(references)
            if kind == "units":
                if units is None or unit is None:
                    raise NdviewerError("Choose a unit to align.")
                aligned = align_events(units.spike_times(unit), references, window)
                result = psth(aligned, bin_size, labels)
                _, group_of = group_trials(labels, references.size)
                return SpikeAlignment(aligned, result, _display_rows(group_of, valid), group_of)
            if kind == "series":
                source = TimeSeriesSource.from_path(file, path)
                samples = align_samples(source, references, window, bin_size, channel)
                names, group_of = group_trials(labels, references.size)
                means_labels, means, sems = group_means(
                    samples.values[valid],
                    None
                    if labels is None
                    else [lab for lab, ok in zip(labels, valid, strict=True) if ok],
                )
                n_trials = np.array([np.sum((group_of == k) & valid) for k in range(len(names))])
                keep = [names.index(label) for label in means_labels]
                return SeriesAlignment(
                    samples.edges,
                    samples.values,
                    means_labels,
                    means,
                    sems,
                    n_trials[keep],
                    _display_rows(group_of, valid),
                    group_of,
                )
            raise NdviewerError("Choose spikes (a Units table) or a TimeSeries to align.")

        self.status_label.setText("aligning…")
        self.context.pool.submit(self.job_key("align"), compute, self._show, self._failed)

    def _failed(self, exc: Exception) -> None:
        message = exc.message if isinstance(exc, NdviewerError) else f"Cannot align: {exc}"
        self.status_label.setText(message)

    # -- drawing -----------------------------------------------------------------------------
    def _show(self, result: SpikeAlignment | SeriesAlignment) -> None:
        self.result = result
        self.raster_plot.clear()
        self.psth_plot.clear()
        self._legend = []
        zero = pg.InfiniteLine(
            0.0, angle=90, pen=pg.mkPen(CURSOR_COLOR, style=Qt.PenStyle.DashLine)
        )
        self.raster_plot.addItem(zero)
        self.psth_plot.addItem(
            pg.InfiniteLine(0.0, angle=90, pen=pg.mkPen(CURSOR_COLOR, style=Qt.PenStyle.DashLine))
        )
        if isinstance(result, SpikeAlignment):
            self._draw_spikes(result)
        else:
            self._draw_series(result)
        self.legend_label.setText(
            "&nbsp;&nbsp;&nbsp;".join(
                f"<span style='color:{color.name()}'>&#9632;</span> {html.escape(text)}"
                for color, text in self._legend
            )
        )
        n_rows = int((result.trial_rows >= 0).sum())
        self.raster_plot.setYRange(0, max(1, n_rows), padding=0)
        window = (self.before_spin.value(), self.after_spin.value())
        self.raster_plot.setXRange(*window, padding=0.01)
        self.result_changed.emit()

    def _draw_spikes(self, result: SpikeAlignment) -> None:
        aligned, histogram = result.aligned, result.psth
        rows = result.trial_rows[aligned.trials]
        shown = rows >= 0
        for k, label in enumerate(histogram.labels):
            color = group_color(k)
            mine = shown & (result.group_of[aligned.trials] == k)
            times = aligned.relative_times[mine]
            y = rows[mine].astype(float)
            xs = np.repeat(times, 2)
            ys = np.column_stack([y + 0.1, y + 0.9]).ravel()
            if xs.size:
                self.raster_plot.addItem(
                    pg.PlotCurveItem(xs, ys, connect="pairs", pen=pg.mkPen(color, width=1.5))
                )
            rates, sem = histogram.rates[k], histogram.sem[k]
            edges = histogram.edges
            self._legend.append((color, f"{label} ({histogram.n_trials[k]} trials)"))
            if np.isfinite(sem).any():
                upper = np.nan_to_num(rates + sem, nan=0.0)
                lower = np.nan_to_num(rates - sem, nan=0.0)
                band = pg.FillBetweenItem(
                    pg.PlotDataItem(edges, upper, stepMode="center"),
                    pg.PlotDataItem(edges, lower, stepMode="center"),
                    brush=pg.mkBrush(color.red(), color.green(), color.blue(), 45),
                )
                self.psth_plot.addItem(band)
            curve = self.psth_plot.plot(
                edges,
                np.nan_to_num(rates, nan=0.0),
                stepMode="center",
                pen=pg.mkPen(color, width=2),
            )
            curve.setZValue(10)
        self._draw_group_separators(result.group_of, result.trial_rows)
        self._set_trial_ticks(result.trial_rows)
        top = (
            np.nanmax(histogram.rates + np.nan_to_num(histogram.sem)) if histogram.rates.size else 0
        )
        self.psth_plot.setYRange(0, max(1.0, float(top)) * 1.05, padding=0)  # rates start at 0
        n_events = int(shown.sum())
        n_trials = int((result.trial_rows >= 0).sum())
        self.status_label.setText(
            f"{n_events:,} spikes in {n_trials} trials · bins of "
            f"{self.bin_spin.value():g} ms · shaded: ± standard error"
        )

    def _draw_series(self, result: SeriesAlignment) -> None:
        order = np.argsort(
            np.where(result.trial_rows >= 0, result.trial_rows, np.iinfo(np.int64).max)
        )
        order = order[result.trial_rows[order] >= 0]
        image = result.values[order]
        if image.size:
            finite = image[np.isfinite(image)]
            levels = (float(np.min(finite)), float(np.max(finite))) if finite.size else (0, 1)
            self.image.setImage(image, levels=levels)  # NaN (no sample) is transparent
            self.image.setRect(
                QRectF(result.edges[0], 0, result.edges[-1] - result.edges[0], image.shape[0])
            )
            self.raster_plot.addItem(self.image)
        centers = (result.edges[:-1] + result.edges[1:]) / 2
        for k, label in enumerate(result.labels):
            color = group_color(k)
            mean, sem = result.means[k], result.sems[k]
            self._legend.append((color, f"{label} ({result.n_trials[k]} trials)"))
            # one band per stretch of bins where both are known: NaN must not fall to zero
            for run in _finite_runs(np.isfinite(mean) & np.isfinite(sem)):
                band = pg.FillBetweenItem(
                    pg.PlotDataItem(centers[run], mean[run] + sem[run]),
                    pg.PlotDataItem(centers[run], mean[run] - sem[run]),
                    brush=pg.mkBrush(color.red(), color.green(), color.blue(), 45),
                )
                self.psth_plot.addItem(band)
            self.psth_plot.plot(
                centers,
                mean,
                pen=pg.mkPen(color, width=2),
                connect="finite",
            )
        self.psth_plot.enableAutoRange()
        self._draw_group_separators(result.group_of, result.trial_rows)
        self._set_trial_ticks(result.trial_rows)
        self.status_label.setText(
            f"{int((result.trial_rows >= 0).sum())} trials · bins of {self.bin_spin.value():g} ms"
            " · image: trials x time, shaded: ± standard error"
        )

    def _set_trial_ticks(self, trial_rows: np.ndarray) -> None:
        """Label rows with the trials' table ids, as many as fit."""
        ids = self._trials.ids() if self._trials is not None else np.arange(trial_rows.size)
        shown = np.flatnonzero(trial_rows >= 0)
        height = max(1.0, self.raster_plot.getViewBox().height())
        step = max(1, int(np.ceil(shown.size * 14 / height)))
        ticks = [
            (trial_rows[k] + 0.5, str(int(ids[k]))) for k in shown if trial_rows[k] % step == 0
        ]
        self.raster_plot.getAxis("left").setTicks([ticks, []])

    def _draw_group_separators(self, group_of: np.ndarray, trial_rows: np.ndarray) -> None:
        valid = trial_rows >= 0
        for k in np.unique(group_of[valid])[1:]:
            first_row = int(trial_rows[valid & (group_of == k)].min())
            self.raster_plot.addItem(
                pg.InfiniteLine(first_row, angle=0, pen=pg.mkPen("#9aa5b1", width=1))
            )


def _finite_runs(mask: np.ndarray) -> list[slice]:
    """Slices of consecutive True values."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    changes = np.flatnonzero(np.diff(padded))
    return [slice(a, b) for a, b in zip(changes[::2], changes[1::2], strict=True)]


def _seconds_spin(value: float, low: float, high: float) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setDecimals(3)
    spin.setRange(low, high)
    spin.setSingleStep(0.1)
    spin.setValue(value)
    spin.setSuffix(" s")
    return spin


def _preferred(paths: list[str], name: str) -> str | None:
    for path in paths:
        if path.rsplit("/", 1)[-1] == name:
            return path
    return paths[0] if paths else None
