"""Background work for the GUI: run a function on a pool thread, deliver its result on the
GUI thread, and let the newest request of the same kind win.

Panels never read bulk data on the GUI thread. They ``submit(key, fn, on_done)``; a newer
submit with the same key cancels the older one (its token says so, so a long read can stop
early) and an older result that still arrives is dropped.
"""

from __future__ import annotations

import itertools
import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ndviewer.core.errors import NdviewerError

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised inside a job by ``CancelToken.check()`` once a newer request replaced it."""


class CancelToken:
    """Tells a running job that its result is no longer wanted."""

    def __init__(self) -> None:
        self._event = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        self._event.set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class _Relay(QObject):
    """Lives on the GUI thread; queued signals carry results back to it."""

    finished = Signal(int, object)
    failed = Signal(int, object)


class _Job(QRunnable):
    def __init__(
        self, request_id: int, fn: Callable[[CancelToken], Any], token: CancelToken, relay: _Relay
    ) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._request_id = request_id
        self._fn = fn
        self._token = token
        self._relay = relay

    def run(self) -> None:
        if self._token.cancelled:
            return
        try:
            result = self._fn(self._token)
        except Cancelled:
            return
        except Exception as exc:  # delivered to on_error, logged with its traceback
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            self._relay.failed.emit(self._request_id, exc)
            return
        self._relay.finished.emit(self._request_id, result)


#: Jobs of at least this priority may run on the reserve thread when every pool thread is busy.
URGENT_PRIORITY = 10


class WorkerPool(QObject):
    """A thread pool whose results arrive on the GUI thread, newest request per key only.

    Besides its threads (one per core) it keeps one reserve thread for urgent jobs (what the
    user waits to see): a picture asked for while both cores run a prefetch and an overlay
    starts at once instead of queueing behind them. Queued work of lower priority never
    takes the reserve.

    Signals
    -------
    busy_changed(bool)
        Emitted when the pool goes from idle to busy and back (for a status indicator).
    """

    busy_changed = Signal(bool)

    def __init__(self, max_threads: int | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        if max_threads:
            self._pool.setMaxThreadCount(max_threads)
        self._reserve = QThreadPool(self)
        self._reserve.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._on_finished)
        self._relay.failed.connect(self._on_failed)
        self._ids = itertools.count(1)
        self._latest: dict[str, int] = {}
        self._pending: dict[int, tuple[str, CancelToken, Callable, Callable | None]] = {}
        self._closed = False

    def submit(
        self,
        key: str,
        fn: Callable[[CancelToken], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[Exception], None] | None = None,
        priority: int = 0,
    ) -> int:
        """Run ``fn(token)`` in the pool; ``on_done(result)`` runs on the GUI thread.

        Queued jobs of higher ``priority`` start first (what is on screen before what may be
        wanted later, such as prefetches); a running job is never interrupted. A job of at
        least :data:`URGENT_PRIORITY` that finds every thread busy runs on the reserve thread.
        """
        if self._closed:
            return -1
        self.cancel(key)
        request_id = next(self._ids)
        token = CancelToken()
        self._latest[key] = request_id
        was_idle = not self._pending
        self._pending[request_id] = (key, token, on_done, on_error)
        pool = self._pool
        if (
            priority >= URGENT_PRIORITY
            and pool.activeThreadCount() >= pool.maxThreadCount()
            and self._reserve.activeThreadCount() == 0
        ):
            pool = self._reserve
        pool.start(_Job(request_id, fn, token, self._relay), priority)
        if was_idle:
            self.busy_changed.emit(True)
        return request_id

    def cancel(self, key: str) -> None:
        request_id = self._latest.pop(key, None)
        if request_id is not None and request_id in self._pending:
            _, token, _, _ = self._pending.pop(request_id)
            token.cancel()
            self._emit_idle()

    def cancel_prefix(self, prefix: str) -> None:
        for key in [k for k in self._latest if k.startswith(prefix)]:
            self.cancel(key)

    def is_pending(self, key: str) -> bool:
        return key in self._latest

    def _emit_idle(self) -> None:
        if not self._pending:
            self.busy_changed.emit(False)

    def _take(self, request_id: int):
        entry = self._pending.pop(request_id, None)
        if entry is None:
            return None
        key = entry[0]
        if self._latest.get(key) == request_id:
            del self._latest[key]
        self._emit_idle()
        return entry

    def _on_finished(self, request_id: int, result: Any) -> None:
        entry = self._take(request_id)
        if entry is None:  # cancelled or superseded: drop the stale result
            return
        entry[2](result)

    def _on_failed(self, request_id: int, exc: Exception) -> None:
        entry = self._take(request_id)
        if entry is None:
            return
        if isinstance(exc, NdviewerError):  # the user's input, not our bug: no traceback
            log.info("%s", exc.message)
        else:
            log.error("background job failed: %s\n%s", exc, getattr(exc, "__traceback_text__", ""))
        if entry[3] is not None:
            entry[3](exc)

    def wait(self, msecs: int = -1) -> bool:
        """Block until the pool is idle (tests and shutdown only)."""
        done = self._pool.waitForDone(msecs)
        return self._reserve.waitForDone(msecs) and done

    def shutdown(self) -> None:
        self._closed = True
        for _, token, _, _ in self._pending.values():
            token.cancel()
        self._pending.clear()
        self._latest.clear()
        for pool in (self._pool, self._reserve):
            pool.clear()
            pool.waitForDone(5000)
