"""Tables benchmark: a 10^6-row DynamicTable and a Units table of 1 000 units / 10^7 spikes.

Usage: ``python tests/benchmarks/bench_tables.py [--quick] [--repeat N]``

Builds (once; reused while present) under ``$NDVIEWER_BENCH_DIR`` (default
``/tmp/ndviewer-bench``) two files pynwb can read: a skeleton written with pynwb whose table
datasets are then replaced, with h5py, by full-size ones in the same NWB layout (pynwb itself
would need minutes to write 10^7 spikes):

(a) ``/processing/bench/big``: 10^6 rows of a float, an int, a text and a ragged float column;
(b) ``/units``: 1 000 units, 10^7 spike times over one hour, and a ``depth`` column.

Every measurement runs in a fresh child process (imports done before the clock starts), several
times; the table gives the median, the p95 and the child's peak RSS. References run in the same
invocation so ratios compare like with like on this shared, noisy machine:

- table: time to the first rows painted in ``TablePanel``, and to a sort / a filter over all
  rows, against pynwb ``to_dataframe()`` and against reading every column with h5py;
- units: time to the first page (100 units) and to the full raster (all units, whole session)
  painted in ``UnitsPanel``, and the core ``raster_counts`` alone, against pynwb
  ``to_dataframe()`` and a plain numpy read + per-unit histogram.

A third file, (c) 10^7 rows of the same table, is sorted and filtered by the panel (no
reference: pynwb would need minutes and gigabytes to load it), for the ceiling of 2 s and 400 MB.

``--quick`` builds 10^5 rows and 100 units / 10^6 spikes and repeats twice: a smoke run
(without the 10^7 rows). ``--only table units huge`` runs some of the three parts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
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
TABLE_PATH = "/processing/bench/big"
MB = 1024 * 1024
SESSION_SECONDS = 3600.0


# -- the files -----------------------------------------------------------------------------------


def _skeleton(identifier: str):
    import datetime

    from pynwb import NWBFile

    return NWBFile(
        "tables benchmark", identifier, datetime.datetime(2024, 3, 1, 9, 30, tzinfo=datetime.UTC)
    )


def _replace(group, name: str, data: np.ndarray, chunks: int = 1 << 16):
    """Swap dataset ``name`` of ``group`` for ``data``, keeping its attributes."""
    import h5py

    old = group[name]
    attrs = {key: old.attrs[key] for key in old.attrs}
    del group[name]
    if data.dtype == object:
        new = group.create_dataset(
            name, data=data, dtype=h5py.string_dtype(), chunks=(min(chunks, len(data)),)
        )
    else:
        new = group.create_dataset(name, data=data, chunks=(min(chunks, max(1, len(data))),))
    for key, value in attrs.items():
        new.attrs[key] = value
    return new


def _index_dtype(total: int) -> type:
    return next(
        dt for dt in (np.uint8, np.uint16, np.uint32, np.uint64) if total <= np.iinfo(dt).max
    )


def build_table_file(path: Path, n_rows: int) -> Path:
    import h5py
    from hdmf.common import DynamicTable
    from pynwb import NWBHDF5IO

    nwb = _skeleton("bench-table")
    table = DynamicTable(name="big", description="a big table")
    table.add_column("value", "a float")
    table.add_column("count", "an int")
    table.add_column("label", "some text")
    table.add_column("events", "a ragged float column", index=True)
    table.add_row(value=0.5, count=1, label="x", events=[1.0, 2.0])
    nwb.create_processing_module("bench", "benchmark tables").add(table)
    tmp = path.with_name(path.stem + ".partial.nwb")
    with NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwb)
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 5, n_rows)
    with h5py.File(tmp, "r+") as f:
        group = f[TABLE_PATH]
        _replace(group, "id", np.arange(n_rows, dtype=np.int64))
        _replace(group, "value", rng.normal(size=n_rows))
        _replace(group, "count", rng.integers(0, 1000, n_rows))
        _replace(
            group, "label", np.array([f"cell-{i % 5000}" for i in range(n_rows)], dtype=object)
        )
        events = _replace(group, "events", rng.uniform(0, 100, int(lengths.sum())))
        ends = np.cumsum(lengths)
        index = _replace(group, "events_index", ends.astype(_index_dtype(int(ends[-1]))))
        index.attrs["target"] = events.ref
    tmp.rename(path)
    return path


def build_units_file(path: Path, n_units: int, n_spikes: int) -> Path:
    import h5py
    from pynwb import NWBHDF5IO

    nwb = _skeleton("bench-units")
    nwb.add_unit_column("depth", "depth along the probe (um)")
    nwb.add_unit(spike_times=[0.1, 0.2], depth=10.0)
    tmp = path.with_name(path.stem + ".partial.nwb")
    with NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwb)
    rng = np.random.default_rng(1)
    weights = rng.lognormal(0.0, 1.0, n_units)
    counts = np.floor(weights / weights.sum() * n_spikes).astype(np.int64)
    counts[: n_spikes - counts.sum()] += 1
    spikes = np.empty(n_spikes, dtype=np.float64)
    position = 0
    for count in counts:
        spikes[position : position + count] = np.sort(rng.uniform(0, SESSION_SECONDS, count))
        position += count
    with h5py.File(tmp, "r+") as f:
        group = f["units"]
        _replace(group, "id", np.arange(n_units, dtype=np.int64))
        _replace(group, "depth", rng.uniform(0, 3840, n_units))
        data = _replace(group, "spike_times", spikes, chunks=1 << 18)
        ends = np.cumsum(counts)
        index = _replace(group, "spike_times_index", ends.astype(_index_dtype(n_spikes)))
        index.attrs["target"] = data.ref
    tmp.rename(path)
    return path


def ensure(path: Path, build, *args) -> Path:
    if path.exists():
        print(f"reusing {path} ({path.stat().st_size / 1e6:.0f} MB)", flush=True)
        return path
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    print(f"building {path} …", flush=True)
    started = time.perf_counter()
    build(path, *args)
    print(
        f"  built in {time.perf_counter() - started:.1f} s ({path.stat().st_size / 1e6:.0f} MB)",
        flush=True,
    )
    return path


# -- children: each does one thing and prints one JSON line -----------------------------------------


_BASE_RSS_MB: list[float] = []


def _start_clock() -> float:
    """Note the RSS with imports done (the base of the peak's increase), then start timing."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            _BASE_RSS_MB.append(int(line.split()[1]) / 1024)
    return time.perf_counter()


def _qt_context(path: str):
    from PySide6.QtWidgets import QApplication

    from ndviewer.core.model.files import open_nwb, register_filters
    from ndviewer.core.time_cursor import TimeCursor
    from ndviewer.gui.panels.base import PanelContext
    from ndviewer.gui.workers import WorkerPool

    app = QApplication.instance() or QApplication([])
    register_filters()  # an import (hdf5plugin): done before the clock like the others
    started = _start_clock()
    file = open_nwb(path)
    context = PanelContext(file=file, time_cursor=TimeCursor(), pool=WorkerPool())
    return app, context, started


def _wait(app, condition, timeout: float = 600.0) -> None:
    from PySide6.QtCore import QEventLoop

    deadline = time.perf_counter() + timeout
    while not condition():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        if time.perf_counter() > deadline:
            raise TimeoutError("the panel never finished")
        time.sleep(0.0005)


def child_table_first_rows(path: str) -> dict:
    from ndviewer.gui.panels.tables.table_panel import TablePanel

    app, context, started = _qt_context(path)
    panel = TablePanel(context, context.file.node(TABLE_PATH))
    panel.resize(1400, 900)
    panel.show()
    _wait(app, lambda: panel.model.is_loaded(0))
    app.processEvents()
    panel.view.viewport().repaint()
    op = time.perf_counter() - started
    return {"op": op, "rows": panel.model.rowCount()}


def child_table_sort(path: str) -> dict:
    from ndviewer.gui.panels.tables.table_panel import TablePanel

    app, context, _ = _qt_context(path)
    panel = TablePanel(context, context.file.node(TABLE_PATH))
    panel.resize(1400, 900)
    panel.show()
    _wait(app, lambda: panel.model.is_loaded(0))
    results = {}
    changes: list[bool] = []
    panel.view_changed.connect(lambda: changes.append(True))
    for label, action in (
        ("op", lambda: panel.sort_by("value", descending=True)),
        ("filter", lambda: panel.set_filter("label", "cell-42")),
        ("sort_text", lambda: panel.sort_by("label")),
    ):
        changes.clear()
        started = time.perf_counter()
        action()
        _wait(app, lambda: bool(changes) and panel.model.is_loaded(0))
        panel.view.viewport().repaint()
        results[label] = time.perf_counter() - started
    results["shown_after_filter"] = panel.model.rowCount()
    return results


def child_table_scroll(path: str) -> dict:
    """Jump to 20 random places: time until each block is painted (the median is "op")."""
    from PySide6.QtWidgets import QAbstractItemView

    from ndviewer.gui.panels.tables.table_panel import TablePanel

    app, context, _ = _qt_context(path)
    panel = TablePanel(context, context.file.node(TABLE_PATH))
    panel.resize(1400, 900)
    panel.show()
    _wait(app, lambda: panel.model.is_loaded(0))
    rng = np.random.default_rng(5)
    times = []
    for row in rng.integers(0, panel.model.rowCount(), 20).tolist():
        started = time.perf_counter()
        panel.view.scrollTo(panel.model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtTop)
        app.processEvents()
        _wait(app, lambda: panel.model.is_loaded(row))  # noqa: B023
        panel.view.viewport().repaint()
        times.append(time.perf_counter() - started)
    return {"op": statistics.median(times), "max": max(times)}


def child_units_raster(path: str, full: str) -> dict:
    """Time until the raster image of the expected units is painted ("op"), and until the
    panel has settled (the selected unit's side plots drawn too)."""
    import pyqtgraph as pg

    from ndviewer.gui.panels.tables import units_panel

    painted: list[float] = []
    paint = pg.ImageItem.paint

    def timed_paint(item, *args):
        paint(item, *args)
        raster = getattr(item, "_bench_panel", None) and item._bench_panel.raster
        if raster is not None and raster.units.size == item._bench_expected and not painted:
            painted.append(time.perf_counter())

    pg.ImageItem.paint = timed_paint
    app, context, started = _qt_context(path)
    n_units = context.file.h5["units/id"].shape[0]
    if full == "1":
        units_panel.DEFAULT_PAGE_SIZE = n_units
    expected = n_units if full == "1" else min(n_units, units_panel.DEFAULT_PAGE_SIZE)
    panel = units_panel.UnitsPanel(context, context.file.node("/units"))
    panel.image._bench_panel = panel
    panel.image._bench_expected = expected
    panel.resize(1600, 1000)
    panel.show()
    _wait(app, lambda: bool(painted))
    op = painted[0] - started
    _wait(app, lambda: panel.details is not None)
    app.processEvents()
    spikes = int(panel.raster.counts.sum())
    return {
        "op": op,
        "settled": time.perf_counter() - started,
        "units": expected,
        "spikes_drawn": spikes,
    }


def child_core_raster(path: str) -> dict:
    from ndviewer.core.model.files import open_nwb, register_filters
    from ndviewer.core.nwb.units import UnitsTable

    register_filters()
    started = _start_clock()
    with open_nwb(path) as file:
        units = UnitsTable.from_group(file.h5["units"])
        t0, t1 = units.time_range()
        counts = units.raster_counts(None, t0, t1, 1600)
    return {"op": time.perf_counter() - started, "spikes": int(counts.sum())}


def child_ref_pynwb_table(path: str) -> dict:
    from pynwb import NWBHDF5IO

    started = _start_clock()
    with NWBHDF5IO(path, "r") as io:
        frame = io.read().processing["bench"]["big"].to_dataframe()
    return {"op": time.perf_counter() - started, "rows": len(frame)}


def child_ref_h5py_table(path: str) -> dict:
    import h5py

    started = _start_clock()
    with h5py.File(path, "r") as f:
        group = f[TABLE_PATH]
        columns = {name: group[name][:] for name in ("id", "value", "count")}
        columns["label"] = group["label"].asstr()[:]
        ends = group["events_index"][:].astype(np.int64)
        columns["events"] = np.split(group["events"][:], ends[:-1])
    return {"op": time.perf_counter() - started, "rows": len(columns["id"])}


def child_ref_pynwb_units(path: str) -> dict:
    from pynwb import NWBHDF5IO

    started = _start_clock()
    with NWBHDF5IO(path, "r") as io:
        frame = io.read().units.to_dataframe()
    return {"op": time.perf_counter() - started, "units": len(frame)}


def child_ref_numpy_raster(path: str) -> dict:
    """The obvious approach: read every spike, then one histogram per unit."""
    import h5py

    started = _start_clock()
    with h5py.File(path, "r") as f:
        spikes = f["units/spike_times"][:]
        ends = f["units/spike_times_index"][:].astype(np.int64)
    trains = np.split(spikes, ends[:-1])
    t0, t1 = spikes.min(), spikes.max()
    counts = np.stack([np.histogram(train, bins=1600, range=(t0, t1))[0] for train in trains])
    return {"op": time.perf_counter() - started, "spikes": int(counts.sum())}


CHILDREN = {
    name[len("child_") :]: function
    for name, function in globals().items()
    if name.startswith("child_")
}


# -- running and reporting -------------------------------------------------------------------------


@dataclass
class Measure:
    label: str
    ops: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    base_mb: list[float] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    reference: str = ""

    def median(self, key: str = "op") -> float:
        values = self.ops if key == "op" else self.extra.get(key, [])
        return statistics.median(values) if values else math.nan

    def p95(self, key: str = "op") -> float:
        values = sorted(self.ops if key == "op" else self.extra.get(key, []))
        if not values:
            return math.nan
        return values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]


def _own_peak_rss_mb() -> float:
    """This process's peak RSS since exec (VmHWM).

    Not ``ru_maxrss``: Linux keeps that across exec, so a child would report the parent's
    peak (which, after building the files, is larger than most children's).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(name: str, args: list[str], timeout: float = 1800.0) -> tuple[dict, float]:
    """Run one child; its JSON result and its peak RSS in MB."""
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name, *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=REPO_ROOT)
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            raise
        finally:
            killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        lines = out.read().decode("utf-8", "replace").strip().splitlines()
        if process.returncode != 0 or not lines:
            tail = err.read().decode("utf-8", "replace").strip().splitlines()[-5:]
            raise RuntimeError(f"{name} failed (exit {process.returncode}): " + " | ".join(tail))
    payload = json.loads(lines[-1])
    return payload, float(payload.pop("peak_rss_mb", usage.ru_maxrss * 1024 / MB))


def measure(
    label: str, name: str, args: list[str], repetitions: int, reference: str = ""
) -> Measure:
    result = Measure(label, reference=reference)
    for _ in range(repetitions):
        payload, rss = run_child(name, args)
        result.ops.append(float(payload.pop("op")))
        result.rss_mb.append(rss)
        result.base_mb.append(float(payload.pop("base_rss_mb", math.nan)))
        for key, value in payload.items():
            result.extra.setdefault(key, []).append(value)
        print(f"  {label}: {_seconds(result.ops[-1])} ({rss:.0f} MB)", flush=True)
    return result


def _seconds(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def report(measures: list[Measure], title: str) -> str:
    by_label = {m.label: m for m in measures}
    lines = [
        f"### {title}",
        "",
        "| measurement | median | p95 | peak RSS (+ over imports) | vs reference |",
        "|---|---|---|---|---|",
    ]
    for m in measures:
        ratio = ""
        ref = by_label.get(m.reference)
        if ref is not None and ref.median() > 0:
            ratio = f"{m.median() / ref.median():.3f} × {ref.label}"
        lines.append(
            f"| {m.label} | {_seconds(m.median())} | {_seconds(m.p95())} | "
            f"{max(m.rss_mb):.0f} MB (+{max(p - b for p, b in zip(m.rss_mb, m.base_mb, strict=True)):.0f}) | {ratio} |"
        )
        for key, values in m.extra.items():
            if key.endswith("_after_filter") or key in ("rows", "units", "spikes", "spikes_drawn"):
                continue
            if all(isinstance(v, int | float) for v in values):
                lines.append(
                    f"| ↳ {key} | {_seconds(statistics.median(values))} | "
                    f"{_seconds(sorted(values)[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)])}"
                    " | | |"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small files, two repetitions")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions per measurement")
    parser.add_argument(
        "--only", nargs="+", choices=("table", "units", "huge"), help="run only these parts"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, *rest = args.child
        result = CHILDREN[name](*rest)
        result["peak_rss_mb"] = _own_peak_rss_mb()
        result["base_rss_mb"] = _BASE_RSS_MB[0] if _BASE_RSS_MB else math.nan
        print(json.dumps(result), flush=True)
        return 0

    n_rows, n_units, n_spikes = (
        (100_000, 100, 1_000_000) if args.quick else (1_000_000, 1_000, 10_000_000)
    )
    reps = args.repeat or (2 if args.quick else 5)
    reps_reference = args.repeat or (1 if args.quick else 3)
    parts = set(args.only or ("table", "units", "huge"))
    if args.quick:
        parts.discard("huge")
    reports: list[str] = []
    if "table" in parts:
        table_file = str(ensure(BENCH_DIR / f"table_{n_rows}.nwb", build_table_file, n_rows))
        print(f"\ntable of {n_rows:,} rows", flush=True)
        table = [
            measure(
                "pynwb to_dataframe (reference)", "ref_pynwb_table", [table_file], reps_reference
            ),
            measure("h5py: read every column", "ref_h5py_table", [table_file], reps),
            measure(
                "TablePanel: first rows painted",
                "table_first_rows",
                [table_file],
                reps,
                "pynwb to_dataframe (reference)",
            ),
            measure("TablePanel: random jump, block painted", "table_scroll", [table_file], reps),
            measure(
                "TablePanel: sort by a float column",
                "table_sort",
                [table_file],
                reps,
                "pynwb to_dataframe (reference)",
            ),
        ]
        reports.append(report(table, f"Table of {n_rows:,} rows ({Path(table_file).name})"))
    if "huge" in parts:
        huge_rows = 10 * n_rows
        huge_file = str(ensure(BENCH_DIR / f"table_{huge_rows}.nwb", build_table_file, huge_rows))
        print(f"\ntable of {huge_rows:,} rows", flush=True)
        huge = [
            measure(
                "TablePanel: sort by a float column",
                "table_sort",
                [huge_file],
                args.repeat or 2,
            ),
        ]
        reports.append(
            report(huge, f"Table of {huge_rows:,} rows ({Path(huge_file).name}), ceiling 2 s")
        )
    if "units" in parts:
        units_file = str(
            ensure(
                BENCH_DIR / f"units_{n_units}_{n_spikes}.nwb",
                build_units_file,
                n_units,
                n_spikes,
            )
        )
        print(f"\nunits: {n_units:,} units, {n_spikes:,} spikes", flush=True)
        units = [
            measure(
                "pynwb units.to_dataframe (reference)",
                "ref_pynwb_units",
                [units_file],
                reps_reference,
            ),
            measure("numpy: read all + histogram per unit", "ref_numpy_raster", [units_file], reps),
            measure(
                "core raster_counts, all units x 1600 px",
                "core_raster",
                [units_file],
                reps,
                "numpy: read all + histogram per unit",
            ),
            measure(
                "UnitsPanel: first page (100 units) painted",
                "units_raster",
                [units_file, "0"],
                reps,
                "pynwb units.to_dataframe (reference)",
            ),
            measure(
                "UnitsPanel: full raster (all units) painted",
                "units_raster",
                [units_file, "1"],
                reps,
                "pynwb units.to_dataframe (reference)",
            ),
        ]
        reports.append(
            report(
                units, f"Units: {n_units:,} units, {n_spikes:,} spikes ({Path(units_file).name})"
            )
        )
    for text in reports:
        print()
        print(text)
    print(
        "\nTimes are per operation in a fresh process with imports done; peak RSS is the "
        "child's VmHWM (interpreter, numpy and, for panels, Qt included). Ratios < 1 are "
        "faster than the reference."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
