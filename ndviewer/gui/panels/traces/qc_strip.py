"""Signal QC of the whole recording in the trace panel: a strip of channel verdicts, bad times
on the traces, the user's review, and "Write QC to file" into the edit session.

Once the first frame is up, QC of the whole series (``core.nwb.signal_qc``: windows sampled
across the recording) runs on a worker, with progress and Cancel in the QC row. Its result
is a column of squares right of the lanes, one per channel of the page (green: fine; red:
dead; orange: saturated; purple: noisy; blue: line noise; grey: not checked), and shaded
ranges over the traces for artefacts and dropouts. The lane labels then show these flags
instead of the visible window's quick check.

The user reviews: clicking a square flips that channel between bad and good (an override,
drawn with a black ring; clicking back to QC's verdict drops it); "Mark bad time" adds a
range over the middle of the window that can be dragged and resized; right-clicking a range
removes it. "Write QC to file" turns the verdicts into one undoable step of the file's edit
session (``core.edit.qc_writeback``: a ``bad_channel`` column and ``/intervals/invalid_times``
rows); "Save…" shows the pending changes and saves them through the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QGraphicsWidget,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QWidget,
)

from ndviewer.core.edit.qc_writeback import QC_REASONS, describe_decision, qc_assignments
from ndviewer.core.errors import NdviewerError
from ndviewer.core.nwb.signal_qc import SeriesQC, series_qc
from ndviewer.core.nwb.timeseries import TimeSeriesSource
from ndviewer.gui.panels.traces.qc_display import QC_IDLE_MS
from ndviewer.gui.workers import CancelToken

if TYPE_CHECKING:
    from ndviewer.gui.panels.traces.trace_panel import TracePanel

__all__ = ["SignalQcStrip"]

log = logging.getLogger(__name__)

COLORS = {
    "dead": "#c0392b",
    "saturated": "#e67e22",
    "noisy": "#8e44ad",
    "line_noise": "#2e86c1",
    "good": "#27ae60",
    "unchecked": "#bdc3c7",
}
REGION_COLORS = {
    "artefact": (231, 76, 60, 60),
    "dropout": (52, 73, 94, 60),
    "manual": (241, 196, 15, 70),
}
STRIP_WIDTH = 30


class _BadTimeRegion(pg.LinearRegionItem):
    """A bad time range over the traces: drag to move, drag an edge to resize, right-click
    to remove."""

    def __init__(self, start: float, stop: float, reason: str, on_remove: Callable) -> None:
        color = REGION_COLORS.get(reason, REGION_COLORS["manual"])
        super().__init__(
            values=(start, stop),
            brush=pg.mkBrush(*color),
            hoverBrush=pg.mkBrush(*color[:3], min(255, color[3] + 50)),
            pen=pg.mkPen(color[:3], width=1),
            movable=True,
        )
        self.reason = reason
        self._on_remove = on_remove
        self.setZValue(5)
        self.setToolTip(f"{reason}: drag to move, drag an edge to resize, right-click to remove")

    def mouseClickEvent(self, ev) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            self._on_remove(self)
            return
        super().mouseClickEvent(ev)


class SignalQcStrip(QObject):
    """Runs whole-recording QC for ``panel`` and keeps the user's review of it.

    Attributes
    ----------
    result : SeriesQC or None
        QC's findings, None until it has run.
    overrides : dict of int to bool
        The user's verdict per channel index, where it differs from QC's.
    regions : list
        The bad time ranges shown (QC's and the user's), each with ``reason``.
    row : QWidget
        The QC controls (for the panel's layout).
    box : pyqtgraph.ViewBox
        The strip of channel squares right of the lanes.

    Signals
    -------
    progress_changed(int, int)
        Windows done and total, from the worker (queued to the GUI thread).
    finished(object)
        QC's result was shown.
    """

    progress_changed = Signal(int, int)
    finished = Signal(object)

    def __init__(self, panel: TracePanel, enabled: bool) -> None:
        super().__init__(panel)
        self._panel = panel
        self.enabled = enabled
        self.result: SeriesQC | None = None
        self.overrides: dict[int, bool] = {}
        self.regions: list[_BadTimeRegion] = []
        self._started = False
        self._idle = QTimer(self, singleShot=True, interval=QC_IDLE_MS)
        self._idle.timeout.connect(self.run)
        self._build_row(panel)
        # the strip sits in the traces' own plot layout, in the row of their view box, so
        # its lanes line up with theirs to the pixel (a plot of its own beside them has
        # other axes and title heights, and the squares drifted off their lanes)
        layout = panel.plot.layout
        self.box = pg.ViewBox(enableMenu=False)
        self.box.setMouseEnabled(x=False, y=False)
        self.box.setMinimumWidth(STRIP_WIDTH)
        self.box.setMaximumWidth(STRIP_WIDTH)
        self.box.setYLink(panel.view)
        self.box.setXRange(-0.5, 0.5, padding=0)
        self.caption = pg.LabelItem("QC", size="8pt", color="#5d6d7e")
        if enabled:
            layout.addItem(self.box, 2, 4)
            layout.addItem(self.caption, 3, 4)
            # the strips under the traces get as wide a margin, so their times line up
            for item in list(panel.graphics.ci.items):
                if isinstance(item, pg.PlotItem) and item is not panel.plot:
                    spacer = QGraphicsWidget()
                    spacer.setMinimumWidth(STRIP_WIDTH)
                    spacer.setMaximumWidth(STRIP_WIDTH)
                    item.layout.addItem(spacer, 2, 4)
        self.squares = pg.ScatterPlotItem(size=14, symbol="s", hoverable=True, tip=self._tip)
        self.squares.sigClicked.connect(self._on_square_clicked)
        self.box.addItem(self.squares)
        self.progress_changed.connect(self._on_progress)
        self.box.setVisible(enabled)
        self.caption.setVisible(enabled)
        self.row.setVisible(enabled)

    # -- the QC row ----------------------------------------------------------------------------
    def _build_row(self, panel: QWidget) -> None:
        self.row = QWidget(panel)
        layout = QHBoxLayout(self.row)
        layout.setContentsMargins(6, 0, 6, 0)
        self.run_button = QPushButton("Run signal QC", self.row)
        self.run_button.setToolTip(
            "QC of the whole recording from windows sampled across it: RMS, dead, saturated, "
            "noisy and line-noise channels, artefacts and dropouts"
        )
        self.run_button.clicked.connect(self.run)
        self.bar = QProgressBar(self.row)
        self.bar.setMaximumWidth(140)
        self.bar.setRange(0, 1)
        self.bar.setFormat("QC %p%")
        self.cancel_button = QPushButton("Cancel", self.row)
        self.cancel_button.clicked.connect(self.cancel)
        self.summary = QLabel(self.row)
        self.summary.setStyleSheet("color: #1f2d3a;")
        self.mark_button = QPushButton("Mark bad time", self.row)
        self.mark_button.setToolTip(
            "Add a bad time range over the middle of the window; drag it or its edges into "
            "place, right-click it to remove"
        )
        self.mark_button.clicked.connect(self.mark_window)
        self.write_button = QPushButton("Write QC to file", self.row)
        self.write_button.setToolTip(
            "Put the channel verdicts (bad_channel column on the electrodes table) and the bad "
            "times (/intervals/invalid_times) into the file's pending edits; Save writes them"
        )
        self.write_button.clicked.connect(lambda: self.write_to_session())
        self.undo_button = QPushButton("Undo", self.row)
        self.undo_button.clicked.connect(self._undo)
        self.save_button = QPushButton("Save…", self.row)
        self.save_button.clicked.connect(lambda: self.save())
        for widget in (self.run_button, self.bar, self.cancel_button, self.summary):
            layout.addWidget(widget)
        layout.addStretch(1)
        for widget in (self.mark_button, self.write_button, self.undo_button, self.save_button):
            layout.addWidget(widget)
        self._set_running(False)
        self._update_actions()

    def _set_running(self, running: bool) -> None:
        self.bar.setVisible(running)
        self.cancel_button.setVisible(running)
        self.run_button.setEnabled(not running)

    def _update_actions(self) -> None:
        session = self._session(create=False)
        self.write_button.setEnabled(self.result is not None)
        self.undo_button.setEnabled(session is not None and session.can_undo)
        self.save_button.setEnabled(session is not None and session.is_dirty)

    # -- running -------------------------------------------------------------------------------
    def frame_shown(self) -> None:
        """The first frame is up: start QC in the background once the user pauses (it keeps
        a worker busy for seconds on a long recording; the frames come first)."""
        if self.enabled and not self._started:
            self._idle.start()  # restarted by every frame until the user pauses

    def run(self) -> None:
        """QC the whole series on a worker (a newer run replaces a running one)."""
        shown = self._panel.state.source
        if shown is None or shown.n_samples < 2:
            return
        self._started = True
        file = self._panel.context.file
        path = self._panel.node.path
        emit = self.progress_changed.emit

        def job(token: CancelToken) -> SeriesQC:
            # a source of its own, from the file's current handle: a save reopens the file,
            # and QC must not read through a handle closed since the panel opened
            source = TimeSeriesSource.from_path(file, path)
            try:
                return series_qc(
                    source,
                    file_name=str(file.path),
                    progress=emit,
                    cancelled=lambda: token.cancelled,
                )
            finally:
                source.close()

        self._set_running(True)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.summary.setText("checking the recording…")
        self._panel.context.pool.submit(
            self._panel.job_key("signal-qc"), job, self._on_done, self._on_error, priority=-1
        )

    def cancel(self) -> None:
        self._panel.context.pool.cancel(self._panel.job_key("signal-qc"))
        self._set_running(False)
        self.summary.setText("QC cancelled")

    def _on_progress(self, done: int, total: int) -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(done)

    def _on_error(self, error: Exception) -> None:
        self._set_running(False)
        message = getattr(error, "message", None) or str(error)
        log.info("signal QC of %s failed: %s", self._panel.node.path, message)
        self.summary.setText(f"QC failed: {message}")

    def _on_done(self, result: SeriesQC) -> None:
        self._set_running(False)
        # the user's review outlives a re-run: a channel judged by eye keeps that verdict
        # where QC still says otherwise (where QC now agrees, the override has no more to say)
        reviewed = dict(self.overrides)
        self.result = result
        self.overrides = {
            channel: bad
            for channel, bad in reviewed.items()
            if channel < len(result.channels) and bad != bool(result.channels[channel].flags)
        }
        for region in [r for r in self.regions if r.reason in ("artefact", "dropout")]:
            self._remove_region(region)
        for bad in result.bad_times:
            self.add_region(bad.start, bad.stop, bad.reason)
        self._show_summary()
        self.update_page()
        self._panel.qc.external = self.flag
        self._panel.qc.update_axis()
        self._update_actions()
        self.finished.emit(result)

    def _show_summary(self) -> None:
        result = self.result
        if result is None:
            return
        bad = [c for c in range(len(result.channels)) if self.is_bad(c)]
        times = len(self.regions)
        self.summary.setText(
            f"QC ({result.read_fraction:.1%} of samples): {len(bad)} bad channel"
            f"{'s' if len(bad) != 1 else ''}, {times} bad time range{'s' if times != 1 else ''}"
            + (f" · {len(self.overrides)} reviewed" if self.overrides else "")
        )

    # -- verdicts ------------------------------------------------------------------------------
    def flags(self, channel: int) -> tuple[str, ...]:
        result = self.result
        if result is None or channel >= len(result.channels):
            return ()
        return result.channels[channel].flags

    def is_bad(self, channel: int) -> bool:
        """The user's verdict where given, else QC's."""
        if channel in self.overrides:
            return self.overrides[channel]
        return bool(self.flags(channel))

    def flag(self, channel: int) -> str:
        """What the lane label says: QC's first flag, or the user's verdict."""
        if channel in self.overrides:
            return "bad" if self.overrides[channel] else ""
        flags = self.flags(channel)
        return flags[0] if flags else ""

    def set_verdict(self, channel: int, bad: bool) -> None:
        """Override QC for one channel (back to QC's verdict drops the override)."""
        if bad == bool(self.flags(channel)):
            self.overrides.pop(channel, None)
        else:
            self.overrides[channel] = bad
        self.update_page()
        self._panel.qc.update_axis()
        self._show_summary()

    def _color(self, channel: int) -> str:
        if self.result is None:
            return COLORS["unchecked"]
        if channel in self.overrides:
            return COLORS["dead"] if self.overrides[channel] else COLORS["good"]
        flags = self.flags(channel)
        return COLORS[flags[0]] if flags else COLORS["good"]

    def _tip(self, x, y, data) -> str:
        channel = int(data)
        source = self._panel.state.source
        label = source.channels[channel].label if source is not None else str(channel)
        if self.result is None:
            return f"channel {label}: not checked yet"
        finding = self.result.channels[channel]
        flags = ", ".join(finding.flags) or "fine"
        review = ""
        if channel in self.overrides:
            review = f"\nreviewed: {'bad' if self.overrides[channel] else 'good'}"
        unit = self.result.unit
        return f"channel {label}: {flags}\nRMS {finding.rms:.3g} {unit}{review}\nclick to flip"

    def update_page(self) -> None:
        """Draw the squares of the page's channels, lane for lane."""
        channels = self._panel.state.page_channels
        if not channels:
            self.squares.clear()
            return
        spots = []
        for k, channel in enumerate(channels):
            reviewed = channel in self.overrides
            spots.append(
                {
                    "pos": (0.0, -k),
                    "brush": pg.mkBrush(self._color(channel)),
                    "pen": pg.mkPen("#000000", width=2.5) if reviewed else pg.mkPen(None),
                    "data": channel,
                }
            )
        self.squares.setData(spots)
        self.squares.setSize(max(4, min(14, int(self._lane_pixels() * 0.8))))

    def _lane_pixels(self) -> float:
        height = self._panel.geometry.pixels()[1] / max(1.0, self._panel.geometry.ratio())
        return height / max(1, len(self._panel.state.page_channels))

    def _on_square_clicked(self, _item, points, _event=None) -> None:
        if self.result is None or not len(points):
            return
        channel = int(points[0].data())
        self.set_verdict(channel, not self.is_bad(channel))

    # -- bad times -----------------------------------------------------------------------------
    def add_region(self, start: float, stop: float, reason: str = "manual") -> _BadTimeRegion:
        region = _BadTimeRegion(start, stop, reason, self._remove_region)
        self._panel.plot.addItem(region)
        self.regions.append(region)
        self._show_summary()
        return region

    def _remove_region(self, region: _BadTimeRegion) -> None:
        if region in self.regions:
            self.regions.remove(region)
            self._panel.plot.removeItem(region)
            self._show_summary()

    def mark_window(self) -> _BadTimeRegion:
        """A manual bad range over the middle third of the visible window."""
        t0, t1 = self._panel.state.window
        third = (t1 - t0) / 3
        return self.add_region(t0 + third, t1 - third, "manual")

    def bad_times(self) -> list[tuple[float, float, str]]:
        """The ranges shown, sorted, as (start, stop, reason)."""
        return sorted(
            (float(min(r.getRegion())), float(max(r.getRegion())), r.reason) for r in self.regions
        )

    # -- writing -------------------------------------------------------------------------------
    def _session(self, create: bool = True):
        from ndviewer.gui.forms.metadata_form import SESSION_KEY, session_for

        context = self._panel.context
        if not create:
            return context.settings.get(SESSION_KEY)
        return session_for(context)

    def write_to_session(self) -> bool:
        """Put the reviewed verdicts into the edit session as one undoable step."""
        result = self.result
        if result is None:
            return False
        session = self._session()
        bad_rows = {
            finding.row: self.is_bad(finding.index)
            for finding in result.channels
            if finding.row is not None
        }
        decided = f"on {result.read_fraction:.1%} of the samples of {result.object}"
        if self.overrides:
            decided += f", {len(self.overrides)} channel(s) reviewed by hand"
        try:
            assignments = qc_assignments(
                self._panel.context.file.h5,
                electrodes_table=result.electrodes_table,
                bad_rows=bad_rows,
                description=describe_decision(decided),
                bad_times=self.bad_times(),
                replace_reasons=QC_REASONS,
            )
            edit = session.apply(assignments, label=f"Signal QC of {result.object}")
        except NdviewerError as exc:
            QMessageBox.warning(self._panel, "QC not written", exc.message)
            return False
        self._watch(session)
        self._update_actions()
        if edit is None:
            self.summary.setText(self.summary.text() + " · the file already holds this QC")
        return edit is not None

    def _watch(self, session) -> None:
        if getattr(self, "_unsubscribe", None) is None:
            self._unsubscribe = session.subscribe(lambda _s: self._update_actions())

    def _undo(self) -> None:
        session = self._session(create=False)
        if session is not None:
            session.undo()
        self._update_actions()

    def save(self, confirm: bool = True) -> bool:
        """Show the pending changes and write them (the file's edit session, atomic save)."""
        from ndviewer.gui.forms.metadata_form import write_with_file_closed
        from ndviewer.gui.forms.save_progress import run_save_with_progress

        session = self._session(create=False)
        if session is None or not session.is_dirty:
            return False
        pending = session.pending()
        if confirm:
            box = QMessageBox(
                QMessageBox.Icon.Question,
                "Save changes",
                f"Write {len(pending)} change(s) to {session.path.name}?",
                QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel,
                self._panel,
            )
            box.setDetailedText("\n".join(session.diff()))
            if box.exec() != QMessageBox.StandardButton.Save:
                return False
        transaction, path = session.transaction(), session.path
        try:
            write_with_file_closed(
                self._panel.context,
                session,
                lambda: run_save_with_progress(
                    self._panel,
                    f"Saving {path.name}…",
                    lambda progress, cancelled: transaction.commit(
                        path, progress=progress, cancelled=cancelled
                    ),
                ),
            )
            session.mark_saved(transaction.changes)
        except NdviewerError as exc:
            QMessageBox.warning(self._panel, "Not saved", exc.message)
            return False
        self._update_actions()
        return True

    def stop(self) -> None:
        self._idle.stop()
        self._panel.context.pool.cancel(self._panel.job_key("signal-qc"))
        unsubscribe = getattr(self, "_unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe()
            self._unsubscribe = None
