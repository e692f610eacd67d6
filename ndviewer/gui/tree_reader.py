"""Reads what the file tree shows (a node's details and member names) off the GUI thread.

The tree model never reads HDF5 itself: rows it paints for the first time are queued here, read
on a reader thread, and announced back with :attr:`TreeReader.loaded`. A read that does not
return within the timeout (HDF5 can spin for minutes inside damaged metadata) makes its nodes
"unreadable: reading it took more than N s", and the thread is abandoned for a fresh one, so
the rest of the tree keeps coming. After a few abandoned threads the file is taken to have
stopped answering, and every further node is marked at once rather than queued behind them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from ndviewer.core.model.nodes import DAMAGE_ERRORS, Node

log = logging.getLogger(__name__)

#: Seconds a batch of reads may take before its nodes are shown as unreadable.
READ_TIMEOUT = 5.0
#: Reader threads given up on (stuck in a read) before no more are started.
MAX_ABANDONED = 3
#: Nodes read per batch (one announcement, one repaint).
BATCH = 200


class _Reader:
    """One reader thread and its queue of batches."""

    def __init__(self, done: Callable[[list], None]) -> None:
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        #: (batch, position in it, when that node's read started) while reading.
        self.current: tuple[list, int, float] | None = None
        self.abandoned = False
        self._done = done
        self.thread = threading.Thread(target=self._run, name="tree-reader", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.abandoned:
            batch = self.queue.get()
            if batch is None:
                return
            for position, (_key, node) in enumerate(batch):
                if self.abandoned:
                    break
                self.current = (batch, position, time.monotonic())
                try:
                    node.load_for_tree()
                except DAMAGE_ERRORS as exc:  # Node makes damage a node state; this is a guard
                    log.warning("cannot read %s: %s", node.path, exc)
                    node.mark_unanswered(0)
            self.current = None
            self._done(batch)  # late answers still replace "unreadable" rows


class TreeReader(QObject):
    """Queue of nodes to read for the tree; ``loaded(list of keys)`` says which are read.

    Keys are whatever the model uses to find the row again (its tree items).
    """

    loaded = Signal(list)

    def __init__(self, timeout: float = READ_TIMEOUT, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timeout = timeout
        self._pending: dict[int, tuple[object, Node]] = {}
        self._asked: set[int] = set()
        self._abandoned = 0
        self._closed = False
        self._reader: _Reader | None = None
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(0)
        self._flush_timer.timeout.connect(self._flush)
        self._watch = QTimer(self)
        self._watch.setInterval(100)
        self._watch.timeout.connect(self._check_timeout)
        self.loaded.connect(self._forget)

    def request(self, key: object, node: Node) -> None:
        """Read ``node`` for row ``key`` (once; repeated requests while queued are ignored)."""
        if self._closed or id(key) in self._asked:
            return
        self._asked.add(id(key))
        self._pending[id(key)] = (key, node)
        self._flush_timer.start()

    @property
    def busy(self) -> bool:
        """Whether rows asked for are still being read."""
        return bool(self._asked)

    def is_stopped(self) -> bool:
        """True once the file stopped answering (too many reads never returned)."""
        return self._abandoned >= MAX_ABANDONED

    def _flush(self) -> None:
        items = list(self._pending.values())
        self._pending.clear()
        if not items:
            return
        if self.is_stopped():
            self._give_up(items)
            return
        if self._reader is None:
            self._reader = _Reader(self._announce)
        for start in range(0, len(items), BATCH):
            self._reader.queue.put(items[start : start + BATCH])
        self._watch.start()

    def _announce(self, batch: list) -> None:
        """On the reader thread: hand the keys of a read batch to the GUI thread."""
        try:
            self.loaded.emit([key for key, _ in batch])
        except RuntimeError:  # the model is gone
            pass

    def _forget(self, keys: list) -> None:
        for key in keys:
            self._asked.discard(id(key))

    def _check_timeout(self) -> None:
        reader = self._reader
        if reader is None:
            self._watch.stop()
            return
        current = reader.current
        if current is None:
            if reader.queue.empty():
                self._watch.stop()
            return
        batch, position, started = current
        if time.monotonic() - started < self.timeout:
            return
        # The reader is stuck in one read: that node becomes an unreadable row, a new reader
        # takes the rest of its batch and what was queued behind it.
        reader.abandoned = True
        self._reader = None
        self._abandoned += 1
        stuck_key, stuck = batch[position]
        log.warning("reading %s did not return within %g s", stuck.path, self.timeout)
        queued = list(batch[position + 1 :])
        while True:
            try:
                item = reader.queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                queued.extend(item)
        reader.queue.put(None)  # ends the old thread, should its read ever return
        self._give_up([(stuck_key, stuck)])
        done = batch[:position]
        if done:
            self.loaded.emit([key for key, _ in done])
        for key, node in queued:
            self._pending[id(key)] = (key, node)
        if queued:
            self._flush()

    def _give_up(self, items: list) -> None:
        for _, node in items:
            node.mark_unanswered(self.timeout)
        self.loaded.emit([key for key, _ in items])

    def close(self) -> None:
        """Stop reading (the file is closing): queued nodes are dropped."""
        self._closed = True
        self._flush_timer.stop()
        self._watch.stop()
        self._pending.clear()
        if self._reader is not None:
            self._reader.queue.put(None)
            self._reader = None
