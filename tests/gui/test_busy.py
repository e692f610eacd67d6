"""Progress with Cancel for background jobs that outlast half a second (desktop issue #18)."""

from __future__ import annotations

import threading

from ndviewer.gui.busy import BusyRow
from ndviewer.gui.workers import WorkerPool


def test_quick_job_never_shows_the_row(qtbot) -> None:
    pool = WorkerPool(max_threads=1)
    row = BusyRow(delay_ms=200)
    qtbot.addWidget(row)
    results: list[int] = []

    def done(value: int) -> None:
        row.done()
        results.append(value)

    pool.submit("quick", lambda token: 7, done)
    row.track(pool, "quick", "Working…")
    qtbot.waitUntil(lambda: results == [7], timeout=2000)
    qtbot.wait(300)
    assert not row.isVisible() and row.key is None
    pool.shutdown()


def test_slow_job_shows_the_row_and_cancel_drops_its_result(qtbot) -> None:
    pool = WorkerPool(max_threads=1)
    row = BusyRow(delay_ms=100)
    qtbot.addWidget(row)
    row.show()  # a parent that is shown; the row itself stays hidden until the delay
    row.hide()
    release = threading.Event()
    stopped_early = threading.Event()
    results: list[str] = []
    cancelled: list[str] = []
    row.cancelled.connect(cancelled.append)

    def slow(token) -> str:
        while not release.wait(0.01):
            if token.cancelled:
                stopped_early.set()
                return "late"
        return "done"

    pool.submit("slow", slow, results.append)
    row.track(pool, "slow", "Exporting…")
    assert not row.isVisible()
    qtbot.waitUntil(row.isVisible, timeout=2000)
    assert row.label.text() == "Exporting…" and row.bar.maximum() == 0
    row.cancel_button.click()
    assert cancelled == ["slow"] and not row.isVisible()
    assert stopped_early.wait(2.0)  # the job's token told it to stop
    qtbot.wait(100)
    assert results == []  # the result of a cancelled job is dropped
    release.set()
    pool.shutdown()
