"""Benchmark of batch runs (issue #20): files per second and bytes read over a folder.

Usage: ``python tests/benchmarks/bench_batch.py [--quick] [--folder /tmp/ndviewer-bench-batch]``

Two folders, written once under ``--folder`` and reused:
- 200 small pynwb-written ecephys sessions (distinct copies of one file);
- 20 × 1 GB: 20 hard links to one 1.0 GB 384-channel recording (``bench_traces``' writer).
  ``info``/``check`` read metadata, not samples, so every mode reads the same bytes; the page
  cache is warm for every mode alike (one warm-up run first).

Each command runs as a user would type it (``ndviewer info FOLDER --report r.json``) with
``--jobs 1``, ``--jobs 2`` and ``--scheduler`` on a local Dask cluster of two single-threaded
worker processes started beforehand (its start-up is listed on its own). nwbinspector runs
over the same small folder in the same run (over a 40-file subset: it takes ~1 s a file) and
over the large one. Prints median and p95 seconds, files per second and bytes read (the sum
of the rows' ``bytes_read``: what the reading processes read through system calls).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH_FOLDER = Path(__file__).resolve().parent
REPO = BENCH_FOLDER.parents[1]
LARGE_SECONDS = 44  # 384 ch × 30 kHz × int16 × 44 s ≈ 1.01 GB


def small_folder(root: Path, count: int) -> Path:
    folder = root / f"small_{count}"
    if len(list(folder.glob("*.nwb"))) == count:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sys.path.insert(0, str(REPO))
    from tests.core import foundation_fixtures as ff

    source = ff.write_ecephys_file(root / "source_small.nwb")
    for k in range(count):
        shutil.copyfile(source, folder / f"session_{k:03d}.nwb")
    return folder


def large_folder(root: Path, count: int) -> Path:
    folder = root / f"large_{count}"
    if len(list(folder.glob("*.nwb"))) == count:
        return folder
    sys.path.insert(0, str(BENCH_FOLDER))
    from bench_traces import recording

    source = recording(root, LARGE_SECONDS, gzip=False)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for k in range(count):
        os.link(source, folder / f"session_{k:02d}.nwb")
    return folder


def start_cluster(workdir: Path) -> tuple[str, list[subprocess.Popen], float]:
    started = time.perf_counter()
    dask = str(Path(sys.executable).parent / "dask")
    scheduler_file = workdir / "scheduler.json"
    processes = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
            + ["--scheduler-file", str(scheduler_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    while not scheduler_file.exists():
        time.sleep(0.05)
    address = json.loads(scheduler_file.read_text())["address"]
    for k in range(2):
        processes.append(
            subprocess.Popen(
                [dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{k}"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(2, timeout=120)
    return address, processes, time.perf_counter() - started


def stop_cluster(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for process in processes:
        process.wait(timeout=30)


def run_ndviewer(command: str, folder: Path, mode: list[str], report: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "ndviewer.cli", command, str(folder), "--report", str(report)]
        + mode,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise RuntimeError(f"ndviewer {command} failed: {result.stderr.strip()}")
    return seconds, json.loads(report.read_text())


def run_inspector(folder: Path) -> float | None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        result = subprocess.run(
            [str(Path(sys.executable).parent / "nwbinspector"), str(folder), "--n-jobs", "1"]
            + ["--report-file-path", str(Path(out) / "report.txt")],
            capture_output=True,
            text=True,
        )
    if result.returncode not in (0, 1):
        print(f"nwbinspector failed: {result.stderr.strip()[:300]}", flush=True)
        return None
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/ndviewer-bench-batch"))
    args = parser.parse_args(argv)
    args.folder.mkdir(parents=True, exist_ok=True)
    n_small, n_large, repeats = (40, 4, 1) if args.quick else (200, 20, 3)
    folders = {
        f"{n_small} small files": small_folder(args.folder, n_small),
        f"{n_large} × 1 GB files": large_folder(args.folder, n_large),
    }
    sys.path.insert(0, str(REPO))
    from ndviewer.core.batch.tasks import TASKS

    commands = [c for c in ("info", "check") if c in TASKS]
    address, cluster, cluster_start = start_cluster(args.folder)
    modes = {"--jobs 1": ["--jobs", "1"], "--jobs 2": ["--jobs", "2"]}
    modes["Dask, 2 workers"] = ["--scheduler", address]
    rows = []
    try:
        for label, folder in folders.items():
            n_files = len(list(folder.glob("*.nwb")))
            for command in commands:
                report = args.folder / f"report_{command}.json"
                run_ndviewer(command, folder, ["--jobs", "2"], report)  # warm-up
                for mode_label, mode in modes.items():
                    times, bytes_read = [], 0
                    for _ in range(repeats):
                        seconds, payload = run_ndviewer(command, folder, mode, report)
                        times.append(seconds)
                        bytes_read = sum(r.get("bytes_read") or 0 for r in payload["rows"])
                    rows.append(
                        (label, f"ndviewer {command} {mode_label}", times, n_files, bytes_read)
                    )
                    print(rows[-1][:2], f"{np.median(times):.2f} s", flush=True)
            subset = folder
            if n_files > 40:
                subset = args.folder / f"{folder.name}_first40"
                if not subset.exists():
                    subset.mkdir()
                    for path in sorted(folder.glob("*.nwb"))[:40]:
                        os.link(path, subset / path.name)
            inspected = len(list(subset.glob("*.nwb")))
            seconds = run_inspector(subset)
            if seconds is not None:
                rows.append(
                    (
                        label,
                        f"nwbinspector --n-jobs 1 ({inspected} files)",
                        [seconds],
                        inspected,
                        None,
                    )
                )
                print(rows[-1][:2], f"{seconds:.2f} s", flush=True)
    finally:
        stop_cluster(cluster)

    print(f"\n### Batch runs (local Dask cluster started in {cluster_start:.1f} s, not counted)\n")
    print("| folder | run | median s | p95 s | files/s | bytes read |")
    print("|---|---|---|---|---|---|")
    for label, run, times, n_files, bytes_read in rows:
        median = float(np.median(times))
        read = "—" if bytes_read is None else f"{bytes_read / 1e6:.1f} MB"
        print(
            f"| {label} | {run} | {median:.2f} | {float(np.percentile(times, 95)):.2f} | "
            f"{n_files / median:.1f} | {read} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
