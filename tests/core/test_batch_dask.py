"""Batch runs on a real dask.distributed cluster: a scheduler and two workers started as
processes on 127.0.0.1 (issue #20). The report equals the single-process one row for row,
and killing a worker mid-run still yields every row."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.core.batch_fixtures import EXPECTED_STATUS, write_batch_folder

pytest.importorskip("distributed")
RUN_FIELDS = ("seconds", "bytes_read")


def _start(args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    with log.open("w") as handle:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            args,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )


@pytest.fixture
def cluster(tmp_path):
    """``dask scheduler`` and two single-threaded ``dask worker`` processes; yields the
    scheduler address and the worker processes."""
    scheduler_file = tmp_path / "scheduler.json"
    bin_dir = Path(sys.executable).parent
    scheduler = _start(
        [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0"]
        + ["--no-dashboard", "--scheduler-file", str(scheduler_file)],
        tmp_path / "scheduler.log",
    )
    deadline = time.monotonic() + 60
    while not scheduler_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert scheduler_file.exists(), (tmp_path / "scheduler.log").read_text()
    address = json.loads(scheduler_file.read_text())["address"]
    env = {"NDVIEWER_BATCH_TASK_DELAY": "0.15"}  # long enough to kill a worker mid-run
    workers = [
        _start(
            [str(bin_dir / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1"]
            + ["--no-dashboard", "--name", f"w{k}", "--death-timeout", "30"],
            tmp_path / f"worker{k}.log",
            env,
        )
        for k in range(2)
    ]
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=60)
    yield address, workers
    for process in [*workers, scheduler]:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in [*workers, scheduler]:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _rows(report: Path) -> list[dict]:
    rows = json.loads(report.read_text())["rows"]
    return [{k: v for k, v in row.items() if k not in RUN_FIELDS} for row in rows]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ndviewer.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cluster_report_equals_single_process_even_when_a_worker_dies(cluster, tmp_path):
    address, workers = cluster
    folder = write_batch_folder(tmp_path / "sessions", copies=16)
    single = tmp_path / "single.json"
    assert _cli("info", str(folder), "--jobs", "1", "--report", str(single)).returncode == 1

    on_cluster = tmp_path / "cluster.json"
    run = subprocess.Popen(
        [sys.executable, "-m", "ndviewer.cli", "info", str(folder), "--scheduler", address]
        + ["--report", str(on_cluster), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(5):  # some rows done, the rest queued or running on both workers
        assert run.stdout.readline()
    os.killpg(workers[0].pid, signal.SIGKILL)  # a worker dies mid-run
    out, err = run.communicate(timeout=300)
    assert run.returncode == 1, err  # done; the unreadable fixtures are rows with errors
    assert _rows(on_cluster) == _rows(single)
    statuses = {Path(r["file"]).relative_to(folder).as_posix(): r["status"] for r in _rows(single)}
    assert {k: v for k, v in statuses.items() if "more/" not in k} == EXPECTED_STATUS
    assert workers[0].poll() is not None and workers[1].poll() is None


def test_unreachable_scheduler_is_refused_in_one_line(tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "a.nwb").write_bytes(b"")
    result = _cli("info", str(folder), "--scheduler", "tcp://127.0.0.1:9")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith("ndviewer: ")
    assert "Traceback" not in result.stderr
