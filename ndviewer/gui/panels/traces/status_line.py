"""The grey line under the traces: what is on screen and how it got there, or what failed."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QWidget

from ndviewer.core.errors import NdviewerError
from ndviewer.gui.panels.traces.frames import Frame
from ndviewer.gui.panels.traces.pyramid import PyramidBuilder
from ndviewer.gui.panels.traces.scheduler import FrameScheduler
from ndviewer.gui.panels.traces.state import TraceState

__all__ = ["StatusLine"]


class StatusLine(QLabel):
    """The series (channels, samples, time source), the frame on screen (pyramid level or raw,
    samples per column, render time), whether the next one is loading and the pyramid's
    progress; or why the series could not be opened or drawn.

    Parameters
    ----------
    state, frames, pyramid
        The trace panel's state, frame scheduler and pyramid builder (read only).
    path
        The series' path, for messages.

    Background jobs that fail (the session strip, overlays, the spike raster) leave one red
    line each after the state, with a "retry" link, until they succeed: no error vanishes.

    Signals
    -------
    retry_requested(str)
        The user clicked "retry" after the failure of that job (``"overview"``, ...).
    """

    retry_requested = Signal(str)

    def __init__(
        self,
        state: TraceState,
        frames: FrameScheduler,
        pyramid: PyramidBuilder,
        path: str,
        parent: QWidget,
    ) -> None:
        super().__init__("Opening…", parent)
        self.setStyleSheet("QLabel { color: #555; }")
        self.state = state
        self._frames = frames
        self._pyramid = pyramid
        self._path = path
        self.failures: dict[str, tuple[str, str]] = {}  # job -> (what, reason)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.linkActivated.connect(self._on_link)

    def background_failed(self, job: str, what: str, reason: str) -> None:
        """Keep ``what`` failed (``reason``) on the line, with a retry link for ``job``."""
        self.failures[job] = (what, reason)
        self.show_state()

    def background_ok(self, job: str) -> None:
        if self.failures.pop(job, None) is not None:
            self.show_state()

    def _on_link(self, link: str) -> None:
        if link.startswith("retry:"):
            job = link.removeprefix("retry:")
            self.failures.pop(job, None)
            self.retry_requested.emit(job)
            self.show_state()

    def _set(self, text: str) -> None:
        failed = "".join(
            f"<br><span style='color:#c0392b'>{html.escape(what)} failed: "
            f"{html.escape(reason)}</span> <a href='retry:{job}'>retry</a>"
            for job, (what, reason) in self.failures.items()
        )
        self.setText(html.escape(text) + failed)

    def plain_text(self) -> str:
        """The line without markup (what a user reads)."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.text())
        return doc.toPlainText()

    def show_state(self, frame: Frame | None = None, loading: bool = False) -> None:
        """Describe the series and ``frame`` (default: the frame on screen)."""
        src = self.state.source
        if src is None:
            return
        parts = [f"{src.n_channels} ch × {src.n_samples:,} samples ({src.time_source})"]
        frame = frame or self._frames.shown
        if frame is not None:
            parts.append(
                f"{frame.source}, {frame.spc} samples/column, {frame.seconds * 1000:.0f} ms"
            )
        if loading:
            parts.append("loading…")
        pyramid = self._pyramid
        if pyramid.progress is not None:
            parts.append(f"building overview {pyramid.progress * 100:.0f}%")
        lod = self.state.lod
        if pyramid.waiting and lod is not None and lod.pyramid is None:
            parts.append("this window needs the overview: showing the last frame until it is built")
        self._set(" · ".join(parts))

    def show_loading(self) -> None:
        """As :meth:`show_state`, saying that the wanted frame is being rendered."""
        self.show_state(loading=True)

    def open_failed(self, exc: Exception) -> None:
        self._set(
            exc.message if isinstance(exc, NdviewerError) else f"Cannot read {self._path}: {exc}"
        )

    def draw_failed(self, message: str) -> None:
        self._set(f"Cannot draw {self._path}: {message}")

    def pyramid_failed(self, message: str) -> None:
        self._set(f"Overview of {self._path} could not be built: {message}")
