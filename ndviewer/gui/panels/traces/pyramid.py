"""The min/max pyramid of the trace panel's series, built in the background once per dataset.

Long windows (the whole recording, the session strip) are drawn from a pyramid of min/max
levels instead of raw samples. It is persisted in the user cache, so it is built once per
dataset: on demand when a window needs it, or after the first paint for datasets of at least
:data:`PYRAMID_MIN_VALUES` values.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from ndviewer.core.signal.lod import PyramidStore
from ndviewer.gui.panels.traces.state import TraceState
from ndviewer.gui.workers import WorkerPool

__all__ = ["PYRAMID_MIN_VALUES", "PyramidBuilder"]

#: Datasets with more values than this get a persisted pyramid for the whole-recording view.
PYRAMID_MIN_VALUES = 20_000_000


class PyramidBuilder(QObject):
    """Builds the pyramid of ``state.lod`` and hands it over when done.

    Attributes
    ----------
    key : str or None
        The pyramid's key in the user cache (None: the dataset cannot have one).
    progress : float or None
        Fraction built while a build runs, else None.
    waiting : bool
        A window on screen waits for the pyramid (shown in the status line).

    Signals
    -------
    built()
        ``state.lod.pyramid`` is set: frames and the session strip can be redrawn.
    changed()
        ``progress`` or ``waiting`` changed.
    failed(str)
        The build failed (the reason).
    """

    built = Signal()
    changed = Signal()
    failed = Signal(str)
    # emitted by the building worker thread; queued to the GUI thread
    _fraction = Signal(float)

    def __init__(
        self, state: TraceState, pool: WorkerPool, job_key: Callable[[str], str], parent: QObject
    ) -> None:
        super().__init__(parent)
        self.state = state
        self._pool = pool
        self._job_key = job_key
        self.key: str | None = None
        self.progress: float | None = None
        self.waiting = False
        self._fraction.connect(self._on_fraction)

    def ensure(self) -> None:
        """Start building unless the pyramid exists, is being built or cannot be stored."""
        lod = self.state.lod
        if lod is None or lod.pyramid is not None or self.progress is not None:
            return
        source = self.state.source
        if not self.key or source is None:
            return
        key, reader, fraction = self.key, source.reader, self._fraction
        self.progress = 0.0

        def job(token):
            return PyramidStore().build(
                key, reader, cancelled=lambda: token.cancelled, progress=fraction.emit
            )

        def done(pyramid) -> None:
            self.progress = None
            lod = self.state.lod
            if pyramid is None or lod is None:
                return
            lod.pyramid = pyramid
            self.waiting = False
            self.built.emit()

        def failed(exc: Exception) -> None:
            self.progress = None
            self.failed.emit(str(exc))

        self._pool.submit(self._job_key("pyramid"), job, done, failed)

    def need(self) -> None:
        """A window on screen can only be drawn from the pyramid: build it, and say so."""
        self.waiting = True
        self.ensure()
        self.changed.emit()

    def maybe_start(self) -> None:
        """After the first paint: build the pyramid of a large dataset in the background."""
        src = self.state.source
        lod = self.state.lod
        if src is None or lod is None or lod.pyramid is not None:
            return
        if src.n_samples * src.n_channels >= PYRAMID_MIN_VALUES:
            self.ensure()

    def _on_fraction(self, fraction: float) -> None:
        if self.progress is not None:
            self.progress = fraction
            self.changed.emit()
