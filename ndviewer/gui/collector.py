"""Python's cyclic garbage collection, run on the GUI thread only.

Left automatic, a collection runs in whichever thread happens to allocate, and frees every
unreachable cycle there, whatever thread owns its objects. Panels form such cycles (Qt signal
connections to methods and lambdas) that hold both widgets and h5py objects. h5py frees its
objects under its global lock; a worker that starts a collection while inside an h5py call
(holding that lock) destroys a dead panel's Qt objects off their thread, while the GUI thread
waits for the lock to free an h5py object: the test suite hung exactly so, one run in four.

So automatic collection is off, and a timer on the GUI thread collects with the same
generation thresholds (the approach of pyqtgraph's ``GarbageCollector``). Worker threads only
ever free objects by reference counting, which is immediate and needs no lock of theirs.
A full collection walks every object (about 30 ms once the GUI is loaded), so it runs at most
once a minute, as rarely as the interpreter's own rule would (it waits for the number of
long-lived objects to grow by a quarter).
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

__all__ = ["GuiThreadCollector"]


class GuiThreadCollector(QObject):
    """Disables automatic collection while installed; collects from a GUI-thread timer.

    Parameters
    ----------
    interval_ms
        How often the generation counters are checked.
    full_every_s
        Least time between two full (generation 2) collections.
    """

    def __init__(
        self, interval_ms: int = 500, full_every_s: float = 60.0, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._full_every = full_every_s
        self._last_full = time.monotonic()
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        gc.disable()
        self._timer.start()

    def check(self) -> int:
        """Collect the generations whose counters passed their thresholds; returns how many
        unreachable objects were found."""
        count0, count1, count2 = gc.get_count()
        t0, t1, t2 = self._thresholds
        if count0 <= t0:
            return 0
        generation = 0
        if count1 > t1:
            generation = 1
            if count2 > t2 and time.monotonic() - self._last_full >= self._full_every:
                generation = 2
                self._last_full = time.monotonic()
        return gc.collect(generation)

    def uninstall(self) -> None:
        """Stop the timer and give collection back to the interpreter."""
        self._timer.stop()
        if self._was_enabled:
            gc.enable()
