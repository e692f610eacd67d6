"""Map a task over files here, in a local process pool, or on a ``dask.distributed`` cluster.

The scheduling is never ours: ``concurrent.futures`` runs the local pool and Dask runs the
cluster; the task function is the same in both. What this module adds is what a long run
over hundreds of files needs: rows delivered as they finish, a pool that lost a worker
started again with the files not yet done (each file gets a second try, and a file that kills
its worker again becomes an error row), and Ctrl+C that stops and keeps the rows already
done.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]
Task = Callable[[str], Row]


@dataclass
class BatchOutcome:
    """The rows in the order of the files, and whether the run was stopped before the end."""

    rows: list[Row] = field(default_factory=list)
    interrupted: bool = False


class _Stopped(Exception):
    """The caller asked the run to stop (the GUI's Cancel)."""


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl+C to the parent, which stops the run cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def died_row(item: str, task: Task) -> Row:
    """The row of a file whose worker process died twice while reading it."""
    from ndviewer.core.batch.tasks import identity

    return {
        "file": item,
        "status": "error",
        "error": f"Cannot read {item}: the worker process reading it died (twice).",
        **identity(item),
        "seconds": None,
        "bytes_read": None,
    }


def run_batch(
    items: Sequence[str],
    task: Task,
    jobs: int = 1,
    scheduler: str | None = None,
    on_row: Callable[[Row], None] | None = None,
    stop: threading.Event | None = None,
    start_method: str | None = None,
) -> BatchOutcome:
    """Run ``task`` over ``items``; ``on_row`` sees each row as it arrives. Setting ``stop``
    ends the run after the rows in flight, like Ctrl+C does. ``start_method`` is how pool
    workers start (the platform's default, or ``"spawn"`` from a GUI process whose threads a
    fork would copy mid-lock)."""
    done: dict[str, Row] = {}

    def deliver(row: Row) -> None:
        done[row["file"]] = row
        if on_row is not None:
            on_row(row)
        if stop is not None and stop.is_set():
            raise _Stopped

    interrupted = False
    try:
        if scheduler:
            _run_on_cluster(items, task, scheduler, deliver)
        elif jobs <= 1 or len(items) <= 1:
            for item in items:
                if stop is not None and stop.is_set():
                    raise _Stopped
                deliver(task(item))
        else:
            _run_in_pool(items, task, jobs, deliver, start_method)
    except (KeyboardInterrupt, _Stopped):
        interrupted = True
    return BatchOutcome([done[i] for i in items if i in done], interrupted)


def _run_in_pool(
    items: Sequence[str], task: Task, jobs: int, deliver: Callable, start_method: str | None
) -> None:
    from ndviewer.core.batch.tasks import warm_up

    warm_up()  # forked workers inherit the imports instead of each paying ~0.3 s for them
    remaining = list(items)
    workers = min(jobs, len(remaining))
    for attempt in range(3):
        if not remaining:
            return
        # the last attempt runs one file at a time, so a file that kills its worker is known
        width = 1 if attempt == 2 else workers
        remaining = _pool_pass(
            remaining, task, width, deliver, one_by_one=attempt == 2, start_method=start_method
        )
    for item in remaining:
        deliver(died_row(item, task))


def _pool_pass(
    items: list[str],
    task: Task,
    workers: int,
    deliver: Callable,
    one_by_one: bool,
    start_method: str | None = None,
) -> list[str]:
    """Run ``items`` in a fresh pool; return those not done when a worker died."""
    finished: set[str] = set()
    context = multiprocessing.get_context(start_method) if start_method else None

    def new_pool(width: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=width, initializer=_ignore_sigint, mp_context=context
        )

    pool = new_pool(workers)
    try:
        if one_by_one:
            for item in items:
                try:
                    row = pool.submit(task, item).result()
                except BrokenProcessPool:
                    deliver(died_row(item, task))
                    finished.add(item)
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = new_pool(1)
                    continue
                deliver(row)
                finished.add(item)
            return []
        futures = {pool.submit(task, item): item for item in items}
        try:
            for future in as_completed(futures):
                row = future.result()
                deliver(row)
                finished.add(futures[future])
        except BrokenProcessPool:
            return [item for item in items if item not in finished]
        return []
    except (KeyboardInterrupt, _Stopped):
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _run_on_cluster(items: Sequence[str], task: Task, address: str, deliver: Callable) -> None:
    """The same task on a Dask cluster; Dask reschedules what a dead worker was running."""
    from ndviewer.core.errors import NdviewerError

    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise NdviewerError(
            "--scheduler needs dask.distributed: pip install 'ndviewer[cluster]'."
        ) from None

    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise NdviewerError(f"Cannot reach the Dask scheduler at {address}: {exc}.") from None
    futures = []
    try:
        futures = client.map(task, list(items), pure=False, retries=1)
        owner = {future.key: item for future, item in zip(futures, items)}
        for future in dask_completed(futures):
            try:
                row = future.result()
            except Exception as exc:  # KilledWorker after the scheduler's retries, …
                row = died_row(owner[future.key], task)
                row["error"] = f"Cannot read {owner[future.key]}: {type(exc).__name__}: {exc}."
            deliver(row)
    finally:
        if futures:
            client.cancel(futures)
        client.close()
