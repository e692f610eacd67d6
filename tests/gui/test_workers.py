"""The worker pool: newest request per key wins, urgent pictures never queue behind work."""

from __future__ import annotations

import threading

from ndviewer.gui.workers import URGENT_PRIORITY, WorkerPool


def test_urgent_job_runs_while_every_thread_is_busy(qtbot) -> None:
    pool = WorkerPool(max_threads=1)
    release = threading.Event()
    done: list[str] = []
    try:
        pool.submit("prefetch", lambda token: release.wait(10) and "slow", done.append)
        qtbot.wait(50)  # the slow job holds the only pool thread
        pool.submit("queued", lambda token: "background", done.append)
        pool.submit("frame", lambda token: "picture", done.append, priority=URGENT_PRIORITY)
        qtbot.waitUntil(lambda: "picture" in done, timeout=2000)
        assert done == ["picture"]  # the background job still waits for the busy thread
    finally:
        release.set()
    qtbot.waitUntil(lambda: len(done) == 3, timeout=5000)
    assert done == ["picture", "slow", "background"]
    pool.shutdown()


def test_newer_request_of_a_key_drops_the_older_result(qtbot) -> None:
    pool = WorkerPool(max_threads=1)
    release = threading.Event()
    done: list[int] = []
    pool.submit("frame", lambda token: release.wait(10) and 1, done.append)
    pool.submit("frame", lambda token: 2, done.append)
    release.set()
    qtbot.waitUntil(lambda: 2 in done, timeout=5000)
    qtbot.wait(100)
    assert done == [2]
    pool.shutdown()
