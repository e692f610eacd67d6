"""The time cursor shared by every time-based panel of one file.

A plain evented model (no Qt): panels subscribe, and each one moves its view in ``seek``-like
callbacks. Whoever changes the cursor gets the callback too, so panels never need to check
who sent a change; a change to the same value is not announced, which stops echo loops.
"""

from __future__ import annotations

from collections.abc import Callable

Listener = Callable[["TimeCursor"], None]


class TimeCursor:
    """The current time and visible window [t0, t1] in session seconds.

    Attributes
    ----------
    time : float
        The cursor position (e.g. the displayed frame's time).
    window : tuple of float
        The visible time range shared by linked panels.
    """

    def __init__(self, t0: float = 0.0, t1: float = 1.0) -> None:
        self._t0 = float(t0)
        self._t1 = float(t1)
        self._time = float(t0)
        self._listeners: list[Listener] = []
        self._notifying = False

    @property
    def window(self) -> tuple[float, float]:
        return self._t0, self._t1

    @property
    def time(self) -> float:
        return self._time

    def set_window(self, t0: float, t1: float) -> None:
        t0, t1 = float(t0), float(t1)
        if t1 < t0:
            t0, t1 = t1, t0
        if (t0, t1) == (self._t0, self._t1):
            return
        self._t0, self._t1 = t0, t1
        self._notify()

    def set_time(self, t: float) -> None:
        t = float(t)
        if t == self._time:
            return
        self._time = t
        self._notify()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(cursor)`` on every change; returns the function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _notify(self) -> None:
        if self._notifying:  # a listener moved the cursor while being told: it sees the end
            return
        self._notifying = True
        try:
            for listener in list(self._listeners):
                listener(self)
        finally:
            self._notifying = False
