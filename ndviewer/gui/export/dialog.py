"""The Export dialog: a figure of the view (or of the pinned time panels together), the
numbers of the visible window, or the shown frame, written on the panel's worker pool.

Opened by each trace and image panel's Export button and by File ▸ Export Figure…. What is
drawn comes from the panels' public state (window, channel page, baselines, spacing,
overlays shown) turned into a core :class:`~ndviewer.core.export.figure.FigureSpec`; the
reads, the painting and the file writes run on a worker, so the window stays responsive
while a 384-channel PDF is written. Results and errors come back as one sentence.

Signals
-------
finished(str)
    An export ended: the sentence says what was written (or copied).
failed(str)
    An export could not be done: the sentence says why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ndviewer.core.errors import NdviewerError
from ndviewer.core.export.figure import FigureSpec, build_figure
from ndviewer.core.export.image_figure import image_figure
from ndviewer.core.export.image_files import write_picture
from ndviewer.core.export.scene import Scene
from ndviewer.core.export.script import write_script
from ndviewer.core.export.window_data import read_window, write_window
from ndviewer.gui.busy import BusyRow
from ndviewer.gui.export.render import render_file, render_image

__all__ = ["ExportDialog", "time_panels"]

FIGURE_FORMATS = {"PDF (vector)": ".pdf", "SVG (vector)": ".svg", "PNG (image)": ".png"}
SAMPLE_FORMATS = {"CSV": ".csv", "NumPy .npy": ".npy", "NumPy .npz": ".npz"}
PICTURE_FORMATS = {"TIFF (full bit depth)": ".tif", "PNG (full bit depth, unsigned)": ".png"}


def time_panels(panels: list[Any]) -> list[Any]:
    """The panels a layout figure stacks: trace panels with an open series, the first one
    and those that share its time cursor (linked), in screen order."""
    found = [p for p in panels if p is not None and callable(getattr(p, "export_track", None))]
    found = [p for p in found if p.export_track() is not None]
    if not found:
        return []
    return [found[0]] + [p for p in found[1:] if getattr(p, "linked", False)]


class ExportDialog(QDialog):
    """Export what ``panel`` shows (and, for trace panels, the time panels in ``layout``).

    Parameters
    ----------
    panel
        A trace panel (figure, window samples) or an image panel (figure, frame data).
    layout
        Every panel of the tab, top to bottom (the main one and the pinned ones); the
        figure can stack the time panels among them.
    """

    finished = Signal(str)
    failed = Signal(str)

    def __init__(self, panel: Any, layout: list[Any] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.panel = panel
        self.context = panel.context
        self.is_image = callable(getattr(panel, "export_picture", None))
        self.layout_panels = time_panels(layout or [panel]) if not self.is_image else []
        if not self.is_image and panel not in self.layout_panels:
            self.layout_panels = time_panels([panel])
        self._build()
        self.finished.connect(self.status.setText)
        self.failed.connect(self.status.setText)

    # ---------------------------------------------------------------------------------- ui
    def _build(self) -> None:
        figure = QGroupBox("Figure", self)
        form = QFormLayout(figure)
        self.scope = QComboBox(self)
        self.scope.addItem("This panel", "panel")
        if len(self.layout_panels) > 1:
            self.scope.addItem(
                f"All {len(self.layout_panels)} time panels (shared time cursor)", "layout"
            )
            self.scope.setCurrentIndex(1)
        self.scope.setVisible(not self.is_image)
        form.addRow("Show", self.scope)
        self.format = QComboBox(self)
        for name, suffix in FIGURE_FORMATS.items():
            self.format.addItem(name, suffix)
        form.addRow("Format", self.format)
        self.width_px = QSpinBox(self)
        self.height_px = QSpinBox(self)
        for box, value in ((self.width_px, 2100), (self.height_px, 1500)):
            box.setRange(100, 40000)
            box.setValue(value)
            box.setSuffix(" px")
        self.dpi = QDoubleSpinBox(self)
        self.dpi.setRange(30, 2400)
        self.dpi.setValue(300)
        self.dpi.setDecimals(0)
        self.size_note = QLabel(self)
        for box in (self.width_px, self.height_px, self.dpi):
            box.valueChanged.connect(self._update_size_note)
        size = QHBoxLayout()
        size.addWidget(self.width_px)
        size.addWidget(QLabel("×"))
        size.addWidget(self.height_px)
        size.addWidget(QLabel("at"))
        size.addWidget(self.dpi)
        size.addWidget(QLabel("dpi"))
        form.addRow("Size", size)
        form.addRow("", self.size_note)
        self.white = QCheckBox("White background", self)
        self.white.setChecked(True)
        form.addRow("", self.white)
        self.script = QCheckBox("Also write a script that redraws it (h5py + matplotlib)", self)
        self.script.setVisible(not self.is_image)
        form.addRow("", self.script)
        buttons = QHBoxLayout()
        self.save_figure_button = QPushButton("Save figure…", self)
        self.save_figure_button.clicked.connect(self._ask_figure)
        self.copy_button = QPushButton("Copy to clipboard", self)
        self.copy_button.clicked.connect(self.copy_figure)
        buttons.addWidget(self.save_figure_button)
        buttons.addWidget(self.copy_button)
        buttons.addStretch(1)
        form.addRow(buttons)

        data = QGroupBox("Data" if not self.is_image else "Picture data", self)
        data_form = QFormLayout(data)
        self.data_format = QComboBox(self)
        formats = PICTURE_FORMATS if self.is_image else SAMPLE_FORMATS
        for name, suffix in formats.items():
            self.data_format.addItem(name, suffix)
        data_form.addRow("Format", self.data_format)
        what = (
            "the frame or projection on screen, values as stored"
            if self.is_image
            else "the visible window and channel page, in physical units"
        )
        data_form.addRow(QLabel(what, self))
        self.save_data_button = QPushButton("Save data…", self)
        self.save_data_button.clicked.connect(self._ask_data)
        data_form.addRow(self.save_data_button)

        self.status = QLabel(" ", self)
        self.status.setWordWrap(True)
        self.busy = BusyRow(self)
        close = QPushButton("Close", self)
        close.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(figure)
        layout.addWidget(data)
        layout.addWidget(self.status)
        layout.addWidget(self.busy)
        layout.addWidget(close)
        self._update_size_note()

    def _update_size_note(self) -> None:
        w, h = self.page_inches()
        self.size_note.setText(f"= {w:.2f} × {h:.2f} in ({w * 25.4:.0f} × {h * 25.4:.0f} mm)")

    def page_inches(self) -> tuple[float, float]:
        """The page in inches: pixels over dpi (text sizes are in points of this page)."""
        dpi = self.dpi.value()
        return self.width_px.value() / dpi, self.height_px.value() / dpi

    # -------------------------------------------------------------------------- scenes
    def figure_spec(self) -> FigureSpec:
        """What the figure holds: the chosen panels' window, tracks and overlays."""
        panels = self.layout_panels if self.scope.currentData() == "layout" else [self.panel]
        first = panels[0]
        t0, t1 = first.window
        intervals, units, rows, events = first.export_overlays()
        w, h = self.page_inches()
        return FigureSpec(
            float(t0),
            float(t1),
            [p.export_track() for p in panels],
            intervals,
            units,
            rows or None,
            events,
            width=w * 72.0,
            height=h * 72.0,
        )

    def _scene_job(self) -> Callable[[Any], Scene]:
        """A function for a worker that builds the scene (data read there, not here)."""
        white = self.white.isChecked()
        if self.is_image:
            argb, caption = self.panel.export_picture()
            w, h = self.page_inches()

            def picture_scene(token) -> Scene:
                scene = image_figure(argb, caption, w * 72.0, h * 72.0)
                scene.background = "#ffffff" if white else None
                return scene

            return picture_scene
        spec = self.figure_spec()
        file = self.context.file
        lods = {p.source.path: p.lod for p in self.layout_panels if p.lod is not None}

        def trace_scene(token) -> Scene:
            scene = build_figure(file, spec, lods, cancelled=lambda: token.cancelled)
            scene.background = "#ffffff" if white else None
            return scene

        return trace_scene

    # --------------------------------------------------------------------------- actions
    def _ask_figure(self) -> None:
        suffix = self.format.currentData()
        path, _ = QFileDialog.getSaveFileName(self, "Save figure", f"figure{suffix}", f"*{suffix}")
        if path:
            self.export_figure(path)

    def _ask_data(self) -> None:
        suffix = self.data_format.currentData()
        path, _ = QFileDialog.getSaveFileName(self, "Save data", f"data{suffix}", f"*{suffix}")
        if path:
            self.export_data(path)

    def export_figure(self, path: str | Path) -> None:
        """Write the figure to ``path`` (format from its suffix, else the chosen one)."""
        out = Path(path)
        if out.suffix.lower() not in FIGURE_FORMATS.values():
            out = out.with_suffix(self.format.currentData())
        try:
            make = self._scene_job()
        except NdviewerError as exc:
            self.failed.emit(exc.message)
            return
        dpi = self.dpi.value()
        script = self.script.isChecked() and not self.is_image
        nwb_path = self.context.file.path

        def job(token) -> str:
            scene = make(token)
            written = [render_file(scene, out, dpi)]
            if script:
                written.append(write_script(scene, nwb_path, out))
            return "Saved " + " and ".join(str(p) for p in written)

        self._run("figure", job, self.finished.emit)

    def copy_figure(self) -> None:
        """Put the figure on the clipboard as an image at the chosen size."""
        try:
            make = self._scene_job()
        except NdviewerError as exc:
            self.failed.emit(exc.message)
            return
        dpi = self.dpi.value()

        def job(token) -> QImage:
            return render_image(make(token), dpi)

        def done(image: QImage) -> None:
            QGuiApplication.clipboard().setImage(image)
            self.finished.emit(f"Copied a {image.width()} × {image.height()} px figure")

        self._run("copy", job, done)

    def export_data(self, path: str | Path) -> None:
        """Write the visible window's samples (trace panel) or the shown picture's values
        (image panel) to ``path``."""
        out = Path(path)
        if self.is_image:
            picture = self.panel.export_values()
            if picture is None:
                self.failed.emit("No picture is shown yet.")
                return

            def write_picture_job(token) -> str:
                return f"Saved {write_picture(picture, out)}"

            self._run("data", write_picture_job, self.finished.emit)
            return
        source = self.panel.source
        t0, t1 = self.panel.window
        channels = np.asarray(self.panel.page_channels, dtype=np.int64)

        def write_samples_job(token) -> str:
            window = read_window(source, t0, t1, channels)
            written = write_window(window, out)
            return (
                f"Saved {window.data.shape[0]} samples × {window.data.shape[1]} channels "
                f"to {written}"
            )

        self._run("data", write_samples_job, self.finished.emit)

    def _run(self, name: str, job: Callable, done: Callable) -> None:
        self.status.setText("Exporting…")
        key = self.panel.job_key(f"export-{name}")

        def finished(result: Any) -> None:
            self.busy.done()
            done(result)

        def failed(exc: Exception) -> None:
            self.busy.done()
            message = getattr(exc, "message", None) or f"The export failed: {exc}"
            self.failed.emit(message)

        self.context.pool.submit(key, job, finished, failed)
        self.busy.track(
            self.context.pool,
            key,
            "Exporting…",
            on_cancel=lambda: self.status.setText("Export cancelled."),
        )
