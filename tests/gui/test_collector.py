"""Garbage collection runs on the GUI thread's timer, never in a worker."""

from __future__ import annotations

import gc
import threading
import weakref

from ndviewer.gui.collector import GuiThreadCollector


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it

    def __del__(self) -> None:
        _Node.last_thread = threading.current_thread().name


def test_cycles_are_freed_by_the_gui_thread_timer_only(qtbot) -> None:
    collector = GuiThreadCollector(interval_ms=50)
    try:
        assert not gc.isenabled()
        node = _Node()
        ref = weakref.ref(node)
        del node
        # a worker allocating many objects does not trigger a collection any more
        worker = threading.Thread(target=lambda: [[k] for k in range(200_000)], name="worker")
        worker.start()
        worker.join()
        assert ref() is not None
        # the GUI thread's timer does, once generation 0 passed its threshold
        # (kept growing while waiting: objects another test's leftover thread frees meanwhile
        # lower the same counter, which made this test flaky in the full suite)
        junk: list[list[int]] = []

        def freed() -> bool:
            junk.extend([k] for k in range(gc.get_threshold()[0] + 10))
            return ref() is None

        qtbot.waitUntil(freed, timeout=2000)
        assert _Node.last_thread == threading.main_thread().name
        junk.clear()
    finally:
        collector.uninstall()
        collector.deleteLater()
    assert not gc.isenabled()  # the session's collector (conftest) is still installed
