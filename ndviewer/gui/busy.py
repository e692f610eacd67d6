"""A progress row with Cancel that appears only when a background job outlasts half a second.

Users expect progress and a way out for anything slower than a blink; showing a bar for jobs
that finish in 50 ms only makes the window flicker. ``BusyRow.track`` watches one job key of
the worker pool and shows itself after ``delay_ms`` if the job is still running; Cancel
cancels that key (the job's token says so, and its result is dropped).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from ndviewer.gui.workers import WorkerPool

#: How long a job may run before its progress row is shown.
SHOW_AFTER_MS = 500


class BusyRow(QWidget):
    """``[label] [busy bar] [Cancel]``, hidden unless a tracked job runs longer than the delay."""

    cancelled = Signal(str)

    def __init__(self, parent: QWidget | None = None, delay_ms: int = SHOW_AFTER_MS) -> None:
        super().__init__(parent)
        self.label = QLabel(self)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 0)  # busy: the job reports no fraction
        self.bar.setMaximumHeight(14)
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel_button)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._show_if_running)
        self._pool: WorkerPool | None = None
        self._key: str | None = None
        self._on_cancel: Callable[[], None] | None = None
        self.hide()

    @property
    def key(self) -> str | None:
        """The job being watched, or None."""
        return self._key

    def track(
        self,
        pool: WorkerPool,
        key: str,
        text: str,
        on_cancel: Callable[[], None] | None = None,
    ) -> None:
        """Watch ``key`` in ``pool``; show ``text`` with a bar if it is still running later."""
        self._pool, self._key, self._on_cancel = pool, key, on_cancel
        self.label.setText(text)
        self._timer.start()

    def done(self) -> None:
        """The watched job finished or failed: hide."""
        self._timer.stop()
        self._key = None
        self.hide()

    def cancel(self) -> None:
        key, pool, on_cancel = self._key, self._pool, self._on_cancel
        self.done()
        if key is None or pool is None:
            return
        pool.cancel(key)
        if on_cancel is not None:
            on_cancel()
        self.cancelled.emit(key)

    def _show_if_running(self) -> None:
        if self._key is not None and self._pool is not None and self._pool.is_pending(self._key):
            self.show()
