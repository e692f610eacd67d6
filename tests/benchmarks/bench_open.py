"""Open/index benchmark: ndviewer against pynwb on a many-object file and a 5 GB file.

Usage: ``python tests/benchmarks/bench_open.py [--quick] [--strict] [--only a|b]``

Builds (once; reused while present) under ``/tmp/ndviewer-bench/``:

(a) a file of >= 10 000 typed objects (~30 000 HDF5 objects): 10 processing modules x 10
    BehavioralTimeSeries x 100 TimeSeries, written with pynwb;
(b) a >= 5 GB ElectricalSeries (384 channels, int16, chunks 30 000 x 64), written with pynwb
    through a chunk iterator, so pynwb can read it back;
(c) (not with ``--quick``) 10x (a): 100 modules x 10 containers x 100 series, 10^5 typed
    objects (~301 000 HDF5 objects), for the ceilings of issue 23: full index <= 10 s on two
    cores, RSS with workers <= 400 MB, reopen < 0.3 s.

Then measures, each run in a fresh subprocess, several repetitions, median and p95:

- pynwb ``NWBHDF5IO(path, "r").read()`` (the reference);
- ``ndviewer info --json --no-cache`` (the full typed index, cold);
- ``ndviewer info --json`` again with the persisted index (reopening the unchanged file);
- time to a shown tree in the GUI (``MainWindow.open_path`` to ``tree_shown`` plus a full
  repaint), with an empty and with a warm index cache;
- the peak RSS of every child: its own VmHWM (``ru_maxrss`` would include the benchmark's
  memory at fork time) and the sampled sum over the child and its index worker processes.

"op" is the operation alone (imports done before the clock starts); "process" is the whole
child from exec to exit, interpreter start-up included. Ratios to pynwb compare like with like.
``--quick`` builds small files (~1 000 typed objects, 0.2 GB) and repeats less: a smoke run,
not a measurement. ``--strict`` exits 1 when a target is missed (errors always exit 1).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BENCH_DIR = Path(os.environ.get("NDVIEWER_BENCH_DIR", "/tmp/ndviewer-bench"))
REPO_ROOT = Path(__file__).resolve().parents[2]
SESSION_START = "2024-03-01T09:30:00+00:00"
MB = 1024 * 1024

# -- the files -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManyObjectsSpec:
    """Shape of file (a): modules x containers x series TimeSeries of ``samples`` each."""

    modules: int
    containers: int
    series: int
    samples: int = 10
    #: part of the file name: bump it when the way the file is written changes, so that a
    #: file cached under /tmp from an older writer is not measured (writing 10^5 objects with
    #: pynwb takes minutes, so the file is kept between runs)
    version: str = ""

    @property
    def typed_objects(self) -> int:
        # NWBFile + modules + containers + series
        return 1 + self.modules + self.modules * self.containers * (1 + self.series)

    @property
    def path(self) -> Path:
        suffix = f"-{self.version}" if self.version else ""
        return (
            BENCH_DIR / f"many_objects_{self.modules}x{self.containers}x{self.series}{suffix}.nwb"
        )


@dataclass(frozen=True)
class BigEphysSpec:
    """Shape of file (b): one uncompressed ElectricalSeries of about ``gigabytes`` GB."""

    gigabytes: float
    channels: int = 384
    rate: float = 30_000.0
    chunk_rows: int = 30_000
    chunk_channels: int = 64

    @property
    def n_samples(self) -> int:
        per_row = self.channels * 2  # int16
        rows = math.ceil(self.gigabytes * 1e9 / per_row)
        return math.ceil(rows / self.chunk_rows) * self.chunk_rows

    @property
    def path(self) -> Path:
        return BENCH_DIR / f"ephys_{self.gigabytes:g}GB_{self.channels}ch.nwb"


FULL_FILES = (ManyObjectsSpec(10, 10, 100), BigEphysSpec(5.5))
QUICK_FILES = (ManyObjectsSpec(2, 5, 100), BigEphysSpec(0.2))
#: File (c), ten times file (a): 101 011 typed objects, ~301 000 HDF5 objects (issue 23.8).
HUGE_MANY = ManyObjectsSpec(10, 100, 100, version="v1")


def _new_nwbfile(identifier: str):
    import datetime

    from pynwb import NWBFile

    return NWBFile(
        session_description=f"ndviewer benchmark: {identifier}",
        identifier=identifier,
        session_start_time=datetime.datetime.fromisoformat(SESSION_START),
    )


def _write_atomically(nwb, path: Path) -> None:
    from pynwb import NWBHDF5IO

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.partial{path.suffix}")
    with NWBHDF5IO(str(partial), "w") as io:
        io.write(nwb)
    os.replace(partial, path)


def build_many_objects(spec: ManyObjectsSpec) -> Path:
    """File (a): many small typed objects, where the object count is what costs."""
    from pynwb import TimeSeries
    from pynwb.behavior import BehavioralTimeSeries

    nwb = _new_nwbfile("many-objects")
    values = np.arange(spec.samples, dtype=np.float64)
    for m in range(spec.modules):
        module = nwb.create_processing_module(f"module_{m:02d}", f"module {m}")
        for c in range(spec.containers):
            container = BehavioralTimeSeries(name=f"behavior_{c:02d}")
            for s in range(spec.series):
                container.add_timeseries(
                    TimeSeries(
                        name=f"series_{s:03d}",
                        data=values + s,
                        unit="a.u.",
                        rate=10.0,
                        starting_time=float(c),
                    )
                )
            module.add(container)
    _write_atomically(nwb, spec.path)
    return spec.path


def build_big_ephys(spec: BigEphysSpec) -> Path:
    """File (b): one big raw ElectricalSeries, where the byte count is what costs."""
    from hdmf.data_utils import GenericDataChunkIterator
    from pynwb.ecephys import ElectricalSeries

    block = np.random.default_rng(0).integers(
        -800, 800, size=(spec.chunk_rows, spec.channels), dtype=np.int16
    )

    class SyntheticSamples(GenericDataChunkIterator):
        """Repeats one noise block; the content does not matter, the layout does."""

        def _get_data(self, selection: tuple[slice, ...]) -> np.ndarray:
            rows = np.arange(selection[0].start, selection[0].stop) % spec.chunk_rows
            return block[rows][:, selection[1]]

        def _get_maxshape(self) -> tuple[int, int]:
            return (spec.n_samples, spec.channels)

        def _get_dtype(self) -> np.dtype:
            return np.dtype(np.int16)

    nwb = _new_nwbfile("big-ephys")
    device = nwb.create_device("probe", description="Neuropixels-like probe")
    group = nwb.create_electrode_group("shank0", "one shank", "CA1", device)
    for channel in range(spec.channels):
        nwb.add_electrode(group=group, location="CA1", x=0.0, y=channel * 20.0, z=0.0)
    region = nwb.create_electrode_table_region(list(range(spec.channels)), "all channels")
    samples = SyntheticSamples(
        chunk_shape=(spec.chunk_rows, spec.chunk_channels),
        buffer_shape=(spec.chunk_rows * 4, spec.channels),
        display_progress=False,
    )
    nwb.add_acquisition(
        ElectricalSeries(
            name="ElectricalSeries",
            data=samples,
            electrodes=region,
            rate=spec.rate,
            conversion=0.195e-6,
        )
    )
    _write_atomically(nwb, spec.path)
    return spec.path


def ensure_file(spec: ManyObjectsSpec | BigEphysSpec) -> Path:
    if spec.path.exists():
        print(f"reusing {spec.path} ({spec.path.stat().st_size / 1e9:.2f} GB)", flush=True)
        return spec.path
    print(f"building {spec.path} …", flush=True)
    started = time.perf_counter()
    if isinstance(spec, ManyObjectsSpec):
        build_many_objects(spec)
    else:
        build_big_ephys(spec)
    seconds = time.perf_counter() - started
    print(f"  built in {seconds:.1f} s ({spec.path.stat().st_size / 1e9:.2f} GB)", flush=True)
    return spec.path


# -- the children --------------------------------------------------------------------------------
# Each child imports what it needs, starts the clock, does one thing, and prints one JSON line
# {"op": seconds, ...} on stdout. Output of the measured thing itself goes to /dev/null.
PEAK_RSS = r"""
def peak_rss_kb():
    # VmHWM: the peak resident set of this process since exec (ru_maxrss would include the
    # parent's memory at fork time)
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0
"""

CHILD_PYNWB = (
    PEAK_RSS
    + r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
from pynwb import NWBHDF5IO
started = time.perf_counter()
io = NWBHDF5IO(sys.argv[1], "r")
nwb = io.read()
op = time.perf_counter() - started
print(json.dumps({"op": op, "objects": len(nwb.objects), "peak_kb": peak_rss_kb()}))
"""
)

CHILD_INFO = (
    PEAK_RSS
    + r"""
import contextlib, json, os, sys, time
import ndviewer.cli
import ndviewer.core.nwb.summary  # h5py, numpy, the core: imported before the clock starts
args = sys.argv[1:]
started = time.perf_counter()
with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
    status = ndviewer.cli.main(["info", *args])
op = time.perf_counter() - started
print(json.dumps({"op": op, "status": status, "peak_kb": peak_rss_kb()}))
"""
)

CHILD_GUI = (
    PEAK_RSS
    + r"""
import json, sys, time
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
try:
    from ndviewer.gui.main_window import MainWindow
except ImportError as exc:
    print(json.dumps({"unavailable": f"ndviewer.gui.main_window: {exc}"}))
    sys.exit(0)
if not hasattr(MainWindow, "tree_shown"):
    print(json.dumps({"unavailable": "MainWindow has no tree_shown signal"}))
    sys.exit(0)
window = MainWindow(None)
window.show()
app.processEvents()
times = {}
loop = QEventLoop()

def on_shown(path):
    times.setdefault("shown", time.perf_counter())
    loop.quit()

window.tree_shown.connect(on_shown)
QTimer.singleShot(int(float(sys.argv[2]) * 1000), loop.quit)
started = time.perf_counter()
tab = window.open_path(sys.argv[1])
if "shown" not in times:
    loop.exec()
if "shown" not in times:
    print(json.dumps({"error": "tree_shown never came", "last_error": window.last_error}))
    sys.exit(1)
window.repaint()  # paint the whole window now: the tree is on screen, not just in a model
app.processEvents()
painted = time.perf_counter()
result = {"op": painted - started, "signal": times["shown"] - started}
index_ready = getattr(tab, "index_ready", None)
if index_ready is not None and getattr(tab, "index_seconds", None) is None:
    wait = QEventLoop()
    index_ready.connect(lambda path: wait.quit())
    QTimer.singleShot(int(float(sys.argv[2]) * 1000), wait.quit)
    wait.exec()
if getattr(tab, "index_seconds", None) is not None:
    result["index"] = time.perf_counter() - started
result["peak_kb"] = peak_rss_kb()
print(json.dumps(result))
window.close()
"""
)


@dataclass
class Run:
    """One child: its own timing ("op"), its wall time, and its memory peaks."""

    op: float
    process: float
    rss_mb: float  # the child's own peak resident set (VmHWM)
    tree_mb: float  # peak of the summed RSS of the child and its workers (sampled)
    extra: dict = field(default_factory=dict)


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        parent = psutil.Process(pid)
        processes = [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_child(code: str, args: list[str], env: dict[str, str], timeout: float) -> Run:
    """Run one child to completion; raise ``RuntimeError`` with its stderr if it fails."""
    command = [sys.executable, "-c", code, *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=REPO_ROOT)
        peak_tree = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak_tree
            while not stop.is_set():
                peak_tree = max(peak_tree, _tree_rss(process.pid))
                stop.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        finally:
            stop.set()
            sampler.join()
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    lines = stdout.decode("utf-8", "replace").strip().splitlines()
    if process.returncode != 0 or not lines:
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise RuntimeError(f"child failed (exit {process.returncode}): " + " | ".join(tail))
    payload = json.loads(lines[-1])
    rss = payload.pop("peak_kb", 0) / 1024
    tree = max(peak_tree / MB, rss)
    if "unavailable" in payload or "error" in payload:
        return Run(math.nan, wall, rss, tree, payload)
    return Run(float(payload.pop("op")), wall, rss, tree, payload)


# -- measuring -----------------------------------------------------------------------------------


@dataclass
class Measure:
    """Repetitions of one measurement, with its target and its reference (pynwb)."""

    label: str
    runs: list[Run]
    target: str = ""
    target_ok: bool | None = None
    reference: Measure | None = None
    notes: list[str] = field(default_factory=list)

    def values(self, attribute: str = "op") -> list[float]:
        return [getattr(run, attribute) for run in self.runs if not math.isnan(run.op)]

    def median(self, attribute: str = "op") -> float:
        values = self.values(attribute)
        return statistics.median(values) if values else math.nan

    def p95(self, attribute: str = "op") -> float:
        values = sorted(self.values(attribute))
        if not values:
            return math.nan
        return values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]

    def peak(self, attribute: str) -> float:
        return max((getattr(run, attribute) for run in self.runs), default=math.nan)


def _fmt_seconds(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _env(cache_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["NDVIEWER_CACHE_DIR"] = str(cache_dir)
    env["NDVIEWER_CONFIG_DIR"] = str(cache_dir / "config")  # no recent-files list of the user
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def measure(label, code, args, repetitions, env_for_run, timeout) -> Measure:
    runs = []
    for i in range(repetitions):
        run = run_child(code, args, env_for_run(i), timeout)
        runs.append(run)
        shown = _fmt_seconds(run.op) if not math.isnan(run.op) else json.dumps(run.extra)
        print(
            f"  {label}: {shown} (process {_fmt_seconds(run.process)}, "
            f"{run.rss_mb:.0f} MB, tree {run.tree_mb:.0f} MB)",
            flush=True,
        )
    return Measure(label, runs)


def bench_file(path: Path, kind: str, quick: bool) -> list[Measure]:
    """All measurements of one file; ``kind`` is "many" (file a) or "big" (file b)."""
    reps_pynwb = 1 if quick or kind == "huge" else (3 if kind == "many" else 5)
    reps = 2 if quick or kind == "huge" else 5
    reps_gui = 2 if quick or kind == "huge" else 3
    timeout = 900.0
    workdir = Path(tempfile.mkdtemp(prefix="caches-", dir=BENCH_DIR))
    warm_cache = workdir / "warm"
    cold_caches = itertools.count()

    def cold_env(_i: int) -> dict[str, str]:
        # a fresh, empty cache folder: the index must be built from scratch
        return _env(workdir / f"cold-{next(cold_caches)}")

    def warm_env(_i: int) -> dict[str, str]:
        return _env(warm_cache)

    print(f"\n{path.name}", flush=True)
    try:
        pynwb = measure("pynwb read", CHILD_PYNWB, [str(path)], reps_pynwb, warm_env, timeout)
        cold = measure(
            "info --json --no-cache",
            CHILD_INFO,
            [str(path), "--json", "--no-cache"],
            reps,
            cold_env,
            timeout,
        )
        # persist the index once, then reopen the unchanged file
        run_child(CHILD_INFO, [str(path), "--json"], warm_env(0), timeout)
        warm = measure(
            "info --json (reopen)", CHILD_INFO, [str(path), "--json"], reps, warm_env, timeout
        )
        gui_args = [str(path), "120"]
        gui_cold = measure("GUI shown tree", CHILD_GUI, gui_args, reps_gui, cold_env, timeout)
        gui_warm = measure(
            "GUI shown tree (reopen)", CHILD_GUI, gui_args, reps_gui, warm_env, timeout
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    measures = [pynwb, cold, warm, gui_cold, gui_warm]
    for item in measures[1:]:
        item.reference = pynwb
    tree_limit = 0.3 if kind == "big" else 0.5
    for gui in (gui_cold, gui_warm):
        gui.target = f"< {tree_limit:g} s"
        if gui.values():
            gui.target_ok = gui.median() < tree_limit
            signal = statistics.median(run.extra["signal"] for run in gui.runs)
            gui.notes.append(f"tree_shown signal at {_fmt_seconds(signal)}")
            index_times = [run.extra["index"] for run in gui.runs if "index" in run.extra]
            if index_times and gui is gui_cold:
                median_index = _fmt_seconds(statistics.median(index_times))
                gui.notes.append(f"background index done at {median_index}")
        elif gui.runs:
            gui.notes.append(str(gui.runs[0].extra.get("unavailable", gui.runs[0].extra)))
    if kind == "huge":
        warm.target = "< 0.3 s"
        warm.target_ok = warm.median() < 0.3
        index_times = [run.extra["index"] for run in gui_cold.runs if "index" in run.extra]
        if index_times:
            index_ok = statistics.median(index_times) <= 10.0
            gui_cold.notes.append(f"full index <= 10 s {'met' if index_ok else 'MISSED'}")
        for item in (cold, gui_cold):
            rss_ok = item.peak("tree_mb") <= 400
            item.notes.append(f"RSS with workers <= 400 MB {'met' if rss_ok else 'MISSED'}")
    if kind == "many":
        cold.target = ">= 10x faster than pynwb"
        cold.target_ok = pynwb.median() / cold.median() >= 10
        warm.target = "< 0.3 s"
        warm.target_ok = warm.median() < 0.3
        for item in (cold, warm, gui_cold, gui_warm):
            rss_ok = item.peak("rss_mb") < 150
            item.notes.append(f"RSS < 150 MB {'met' if rss_ok else 'MISSED'}")
            if item.target_ok is not None:
                item.target_ok = item.target_ok and rss_ok
    return measures


def markdown_table(title: str, measures: list[Measure]) -> str:
    lines = [
        f"### {title}",
        "",
        "| measure | median (op) | p95 (op) | median (process) | peak RSS (process / with workers)"
        " | target | vs pynwb read (op / process) | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for item in measures:
        ratio = ""
        if item.reference is not None and item.values():
            op_ratio = item.reference.median() / item.median()
            process_ratio = item.reference.median("process") / item.median("process")
            ratio = f"{op_ratio:.1f}x / {process_ratio:.1f}x faster"
        verdict = {True: "met", False: "MISSED", None: ""}[item.target_ok]
        if item.notes:
            verdict = f"{verdict} ({'; '.join(item.notes)})" if verdict else "; ".join(item.notes)
        lines.append(
            f"| {item.label} | {_fmt_seconds(item.median())} | {_fmt_seconds(item.p95())} | "
            f"{_fmt_seconds(item.median('process'))} | {item.peak('rss_mb'):.0f} MB / "
            f"{item.peak('tree_mb'):.0f} MB | {item.target} | {ratio} | {verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small files, fewer repetitions")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--only",
        choices=("a", "b", "c"),
        help="measure only file (a), (b) or (c) (10^5 typed objects; skipped by --quick)",
        default=None,
    )
    args = parser.parse_args(argv)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    many_spec, big_spec = QUICK_FILES if args.quick else FULL_FILES
    load_before = os.getloadavg()
    results = []
    try:
        if args.only in (None, "a"):
            many = ensure_file(many_spec)
            title = (
                f"(a) {many.name}: {many_spec.typed_objects:,} typed objects, "
                f"{many.stat().st_size / 1e6:.0f} MB"
            )
            results.append((title, bench_file(many, "many", args.quick)))
        if args.only in (None, "b"):
            big = ensure_file(big_spec)
            title = f"(b) {big.name}: {big.stat().st_size / 1e9:.2f} GB ElectricalSeries"
            results.append((title, bench_file(big, "big", args.quick)))
        if args.only == "c" or (args.only is None and not args.quick):
            huge = ensure_file(HUGE_MANY)
            title = (
                f"(c) {huge.name}: {HUGE_MANY.typed_objects:,} typed objects, "
                f"{huge.stat().st_size / 1e6:.0f} MB"
            )
            results.append((title, bench_file(huge, "huge", args.quick)))
    except (RuntimeError, OSError) as exc:
        print(f"bench_open: {exc}", file=sys.stderr)
        return 1
    print("\n## Open and index (bench_open" + (", --quick" if args.quick else "") + ")\n")
    print("\n\n".join(markdown_table(title, measures) for title, measures in results))
    print(
        "\nop = the operation alone (imports done before the clock starts); process = the whole "
        "child, exec to exit. Every run is a fresh process; cold runs start with an empty index "
        "cache, reopen runs with the index persisted by an earlier run. Peak RSS: the process's "
        "own VmHWM / the sampled sum with its index worker processes. The GUI figure is "
        "open_path() to tree_shown plus a full repaint of the window (offscreen)."
    )
    load_after = os.getloadavg()
    print(
        f"Machine: {os.cpu_count()} cores; 1-minute load average {load_before[0]:.1f} at the "
        f"start, {load_after[0]:.1f} at the end (other work on the machine slows both sides)."
    )
    missed = any(item.target_ok is False for _, measures in results for item in measures)
    if missed:
        print("\nAt least one target was MISSED.")
    return 1 if (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
