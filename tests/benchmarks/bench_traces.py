"""Benchmark of the trace panel on a generated Neuropixels-sized recording.

Usage::

    python tests/benchmarks/bench_traces.py [--quick] [--folder /tmp/ndviewer-bench-traces]
                                            [--generate-only] [--screenshot PNG]

Files (written once under ``--folder`` with h5py in NWB layout, reused while they match):

* 384 channels × 30 kHz × 600 s int16, chunks 30000 × 64, uncompressed (13.8 GB);
  ``--quick``: 60 s
* the same with gzip-1 + shuffle (chunks compressed on both cores while writing)

Both also hold 4 electrode groups, 120 trials and 60 units (the screenshot's overlays).

Each file is measured in its own subprocess (peak RSS is that file's alone), with the Qt event
loop running and a private pyramid cache that starts empty:

* first paint: panel constructed → first trace image painted (1 s window, 384 channels),
  pyramid cache empty. Median and p95 of 7 opens with the file's first chunks in the page
  cache, after one first open of the process (reported apart, with its one-time costs), and,
  when run as root, one open after dropping the page cache (with the disk's measured speed);
* scroll steps: → key presses sent every 33 ms (a typical keyboard auto-repeat rate) with the
  event loop running; latency = press → the first paint of a frame at least as new as that
  press's window (a press overtaken by the next one counts with the frame that replaced it).
  While a key is held, that first frame may be a coarse stand-in drawn from the pyramid's
  finest level (fewer columns than pixels); the exact frame replaces it when the presses stop.
  The output says how many key-repeat latencies were ended by a coarse frame.
  Also isolated presses (one press, then idle 250 ms). For 1 s and 10 s windows, 384 channels,
  after the pyramid exists;
* whole recording: window set to the full session → painted; cold = the pyramid has to be
  built first (the panel builds it in the background), warm = a new panel on the same file
  finds it in the cache and is asked for the whole session as soon as its first page is
  painted, while its prefetch and overlays still run (median and p95 of 7 panels);
* peak RSS of the measuring process: its own ``VmHWM`` (``ru_maxrss`` would report the
  parent's peak, inherited across fork + exec).

References, same run, each in its own subprocess: ephyviewer's TraceViewer on the same
dataset (installed by ``make bench`` from the ``bench`` extra; isolated page steps), and
plain pyqtgraph plotting the raw window without our pipeline (h5py read of all samples, one
``PlotCurveItem`` per channel with every sample, offset per channel), the approach
PERF-BASELINES.md lists first. Prints markdown tables with the ratios.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import h5py  # noqa: E402
import numpy as np  # noqa: E402
from peak_rss import own_peak_rss_mb  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

SERIES = "/acquisition/ElectricalSeries"
RATE = 30_000
CHANNELS = 384
CHUNK = (30_000, 64)
CONVERSION = 0.195e-6  # volts per bit, as Intan/Neuropixels-style recordings
KEY_INTERVAL_MS = 33
#: Opens measured for first paint and for the warm whole-recording view.
REPEATS = 7


# --------------------------------------------------------------------------------------- data
def _blocks(n_blocks: int, seed: int = 0) -> list[np.ndarray]:
    """A few distinct 1 s blocks: noise, a 7 Hz oscillation and spikes over neighbouring
    channels (cycled to build long files quickly)."""
    rng = np.random.default_rng(seed)
    t = np.arange(RATE) / RATE
    depth = np.arange(CHANNELS)
    lfp = (40 * np.sin(2 * np.pi * 7 * t)[:, None] * np.cos(depth / 60.0)[None, :]).astype(
        np.float32
    )
    template = -np.exp(-(((np.arange(45) - 12) / 4.0) ** 2)) + 0.35 * np.exp(
        -(((np.arange(45) - 24) / 8.0) ** 2)
    )
    blocks = []
    for _ in range(n_blocks):
        block = rng.normal(0, 18, size=(RATE, CHANNELS)).astype(np.float32) + lfp
        for _ in range(300):
            s = rng.integers(0, RATE - 45)
            c = rng.integers(0, CHANNELS)
            amp = rng.uniform(60, 250)
            span = slice(max(0, c - 4), min(CHANNELS, c + 5))
            fall = np.exp(-np.abs(depth[span] - c) / 2.0)
            block[s : s + 45, span] += amp * template[:, None] * fall[None, :]
        blocks.append(np.clip(block, -32000, 32000).astype(np.int16))
    return blocks


def _shuffle(chunk: np.ndarray) -> bytes:
    raw = np.frombuffer(chunk.tobytes(), dtype=np.uint8)
    return raw.reshape(-1, chunk.dtype.itemsize).T.tobytes()


def write_recording(path: Path, seconds: int, gzip: bool) -> None:
    """Write the benchmark file (NWB layout, h5py; chunks written directly)."""
    tmp = path.with_suffix(".partial")
    blocks = _blocks(12)
    rng = np.random.default_rng(1)
    with h5py.File(tmp, "w") as f:
        f.attrs["neurodata_type"] = "NWBFile"
        f.attrs["namespace"] = "core"
        f.attrs["nwb_version"] = "2.8.0"
        f.attrs["object_id"] = "bench-traces"
        f["identifier"] = "bench"
        f["session_description"] = "generated 384-channel recording"
        f["session_start_time"] = "2024-01-01T00:00:00+00:00"
        ecephys = f.create_group("general/extracellular_ephys")
        groups = []
        for k in range(4):
            g = ecephys.create_group(f"shank{k}")
            g.attrs["neurodata_type"] = "ElectrodeGroup"
            g.attrs["namespace"] = "core"
            g.attrs["description"] = f"shank {k}"
            g.attrs["location"] = "hippocampus"
            groups.append(g)
        table = ecephys.create_group("electrodes")
        table.attrs["neurodata_type"] = "DynamicTable"
        table.attrs["namespace"] = "hdmf-common"
        table.attrs["colnames"] = np.array(["location", "group", "group_name"], dtype=object)
        table.attrs["description"] = "electrodes"
        table["id"] = np.arange(CHANNELS)
        regions = ["CA1", "CA1", "DG", "CA3"]
        table["location"] = np.array(
            [regions[c * 4 // CHANNELS] for c in range(CHANNELS)], dtype=object
        )
        table["group_name"] = np.array(
            [f"shank{c * 4 // CHANNELS}" for c in range(CHANNELS)], dtype=object
        )
        table.create_dataset(
            "group",
            data=[groups[c * 4 // CHANNELS].ref for c in range(CHANNELS)],
            dtype=h5py.ref_dtype,
        )
        es = f.create_group(SERIES)
        es.attrs["neurodata_type"] = "ElectricalSeries"
        es.attrs["namespace"] = "core"
        es.attrs["description"] = "raw voltage"
        n = seconds * RATE
        kwargs = {"compression": "gzip", "compression_opts": 1, "shuffle": True} if gzip else {}
        data = es.create_dataset(
            "data", shape=(n, CHANNELS), dtype=np.int16, chunks=CHUNK, **kwargs
        )
        data.attrs["unit"] = "volts"
        data.attrs["conversion"] = CONVERSION
        data.attrs["offset"] = 0.0
        data.attrs["resolution"] = -1.0
        st = es.create_dataset("starting_time", data=0.0)
        st.attrs["rate"] = float(RATE)
        st.attrs["unit"] = "seconds"
        region = es.create_dataset("electrodes", data=np.arange(CHANNELS))
        region.attrs["neurodata_type"] = "DynamicTableRegion"
        region.attrs["namespace"] = "hdmf-common"
        region.attrs["table"] = table.ref
        region.attrs["description"] = "all electrodes"

        def encode(chunk: np.ndarray) -> bytes:
            return zlib.compress(_shuffle(chunk), 1) if gzip else chunk.tobytes()

        with ThreadPoolExecutor(2) as pool:
            for s in range(seconds):
                block = blocks[s % len(blocks)]
                parts = [
                    np.ascontiguousarray(block[:, c : c + CHUNK[1]])
                    for c in range(0, CHANNELS, CHUNK[1])
                ]
                for k, payload in enumerate(pool.map(encode, parts)):
                    data.id.write_direct_chunk((s * RATE, k * CHUNK[1]), payload)
        trials = f.create_group("intervals/trials")
        trials.attrs["neurodata_type"] = "TimeIntervals"
        trials.attrs["namespace"] = "core"
        trials.attrs["colnames"] = np.array(["start_time", "stop_time", "condition"], object)
        trials.attrs["description"] = "trials"
        starts = np.arange(0.4, seconds, 5.0)
        trials["id"] = np.arange(starts.size)
        trials["start_time"] = starts
        trials["stop_time"] = starts + 1.5
        trials["condition"] = np.array(
            ["left" if k % 2 == 0 else "right" for k in range(starts.size)], dtype=object
        )
        units = f.create_group("units")
        units.attrs["neurodata_type"] = "Units"
        units.attrs["namespace"] = "core"
        units.attrs["colnames"] = np.array(["spike_times"], dtype=object)
        units.attrs["description"] = "sorted units"
        trains = [
            np.sort(rng.uniform(0, seconds, rng.integers(2, 15) * seconds)) for _ in range(60)
        ]
        units["id"] = np.arange(60)
        units["spike_times"] = np.concatenate(trains)
        units["spike_times_index"] = np.cumsum([t.size for t in trains])
    os.replace(tmp, path)


def recording(folder: Path, seconds: int, gzip: bool) -> Path:
    """The benchmark file, written if missing."""
    path = folder / f"traces_{seconds}s_{'gzip' if gzip else 'raw'}.nwb"
    if not path.exists():
        started = time.perf_counter()
        print(f"writing {path} ...", flush=True)
        write_recording(path, seconds, gzip)
        print(
            f"  {path.stat().st_size / 1e9:.1f} GB in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    return path


# ----------------------------------------------------------------------------------- measuring
def _drop_page_cache() -> bool:
    """Empty the kernel's page cache (root only, Linux): True when it was dropped."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def _disk_read_speed(path: Path, nbytes: int = 64 << 20) -> float | None:
    """MB/s of a cold sequential read from the middle of ``path`` (after a cache drop)."""
    if not _drop_page_cache():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        offset = path.stat().st_size // 2
        t = time.perf_counter()
        done = 0
        while done < nbytes:
            chunk = os.pread(fd, 4 << 20, offset + done)
            if not chunk:
                break
            done += len(chunk)
        return done / 1e6 / (time.perf_counter() - t)
    finally:
        os.close(fd)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def measure(path: Path, steps: int, screenshot: str | None) -> dict:
    """Everything measured on one file, in this process (run as a subprocess)."""
    from PySide6.QtCore import QEvent, Qt, QTimer
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    import itertools

    from ndviewer.gui.collector import GuiThreadCollector

    app.collector = GuiThreadCollector(parent=app)  # as the application does

    from ndviewer.core.model.files import open_nwb
    from ndviewer.core.time_cursor import TimeCursor
    from ndviewer.gui.panels.base import PanelContext
    from ndviewer.gui.panels.traces import items as trace_items
    from ndviewer.gui.panels.traces.trace_panel import TracePanel
    from ndviewer.gui.workers import WorkerPool

    panel_ids = itertools.count(1)
    paints: list[tuple[float, int]] = []
    original_paint = trace_items.IndexedImageItem.paint

    paint_costs: list[float] = []

    def timed_paint(item, painter, *args):
        began = time.perf_counter()
        original_paint(item, painter, *args)
        if getattr(item, "bench_tag", None) is not None:
            paints.append((time.perf_counter(), item.bench_tag))
            paint_costs.append((time.perf_counter() - began) * 1000)

    trace_items.IndexedImageItem.paint = timed_paint

    def run_until(condition, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            app.processEvents()
            if condition():
                return True
            time.sleep(0.001)
        return False

    def open_panel():
        file = open_nwb(path)
        ctx = PanelContext(file=file, time_cursor=TimeCursor(), pool=WorkerPool())
        started = time.perf_counter()
        panel = TracePanel(ctx, file.node(SERIES))
        panel.bench_tag = panel.image.bench_tag = next(panel_ids)
        panel.frame_shown.connect(
            lambda frame: shown_at.__setitem__(id(frame), time.perf_counter())
        )
        panel.resize(1600, 1000)
        panel.show()
        return ctx, panel, started

    def close_panel(ctx, panel):
        # as the window does: shut down, then delete the widget (its signal connections hold
        # it, so without the deletion every measured panel would stay in memory)
        panel.shutdown()
        panel.close()
        panel.deleteLater()
        ctx.pool.shutdown()
        ctx.file.close()
        app.processEvents()
        app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        gc.collect()

    def painted_frame_of(panel):
        return panel.shown_frame.request if panel.shown_frame is not None else None

    shown_at: dict[int, float] = {}

    def wait_painted(panel, since: float, timeout: float = 120.0, window=None):
        """Time of the first paint, after ``since``, of the frame of the wanted request (and,
        when given, of exactly that window): the moment the new pixels are drawn."""

        def ok():
            frame = panel.shown_frame
            if frame is None or frame.request != panel.frames.wanted:
                return False
            if window is not None and (frame.request.t0, frame.request.t1) != window:
                return False
            at = max(since, shown_at.get(id(frame), since))
            return any(t >= at for t, tag in paints if tag == panel.bench_tag)

        if not run_until(ok, timeout):
            return None
        at = max(since, shown_at.get(id(panel.shown_frame), since))
        return min(t for t, tag in paints if tag == panel.bench_tag and t >= at)

    import shutil

    from ndviewer.core.cache import cache_dir

    def forget_pyramids() -> None:
        shutil.rmtree(cache_dir() / "pyramids", ignore_errors=True)

    def first_paint() -> tuple[float | None, list]:
        ctx, panel, started = open_panel()
        painted = wait_painted(panel, started)
        window = list(panel.window)
        close_panel(ctx, panel)
        forget_pyramids()  # the build that follows a first paint is cancelled on close
        run_until(lambda: False, 0.5)  # the next open starts from an idle application
        return ((painted - started) * 1000 if painted else None), window

    result: dict = {"file": path.name, "size_gb": path.stat().st_size / 1e9}
    # 1. first paint, empty pyramid cache: the first open of the process (one-time costs
    #    included), then REPEATS opens with the file's first chunks in the page cache, then
    #    (as root) one with the page cache dropped, as on a file nobody read since boot
    result["first_paint_process_ms"], result["first_window"] = first_paint()
    warm = [first_paint()[0] for _ in range(REPEATS)]
    result["first_paint_ms"] = _percentile([w for w in warm if w is not None], 50)
    result["first_paint_p95_ms"] = _percentile([w for w in warm if w is not None], 95)
    result["first_paint_cold_ms"] = None
    result["disk_mb_s"] = None
    if _drop_page_cache():
        result["first_paint_cold_ms"] = first_paint()[0]
        result["disk_mb_s"] = _disk_read_speed(path)

    phases = result["peak_rss_by_phase_mb"] = {}

    def phase_done(name: str) -> None:
        phases[name] = round(own_peak_rss_mb())

    phase_done("first paint")
    # 2. whole recording, cold: a fresh panel asked for the whole session builds the
    #    pyramid (in the background), then draws
    ctx, panel, _ = open_panel()
    run_until(lambda: panel.source is not None, 60)
    start, stop = panel.state.bounds()
    t = time.perf_counter()
    panel.set_window(start, stop)
    result["whole_cold_had_pyramid"] = panel.lod.pyramid is not None
    painted = wait_painted(panel, t, timeout=3600, window=panel.window)
    result["whole_cold_s"] = (painted - t) if painted else None
    result["whole_cold_source"] = panel.shown_frame.source if panel.shown_frame else None
    close_panel(ctx, panel)
    phase_done("whole cold")

    # 3. whole recording, warm (pyramid found in the cache): REPEATS new panels, each asked
    #    for the whole session as soon as its first page is painted (its neighbour prefetch
    #    and overlays still running); the last panel then measures scroll steps
    whole = []
    for k in range(REPEATS):
        ctx, panel, started = open_panel()
        wait_painted(panel, started)
        result["pyramid_loaded_at_open"] = panel.lod.pyramid is not None
        t = time.perf_counter()
        panel.set_window(start, stop)
        painted = wait_painted(panel, t, timeout=600, window=panel.window)
        whole.append((painted - t) * 1000 if painted else float("nan"))
        result["whole_warm_source"] = panel.shown_frame.source if panel.shown_frame else None
        if k < REPEATS - 1:
            close_panel(ctx, panel)
            run_until(lambda: False, 0.5)
    phase_done("whole warm")
    result["whole_warm_ms"] = _percentile(whole, 50)
    result["whole_warm_p95_ms"] = _percentile(whole, 95)

    def key(modifiers=Qt.KeyboardModifier.NoModifier):
        QApplication.sendEvent(panel, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Right, modifiers))

    def scroll(length: float, n: int) -> dict:
        panel.set_window(start, start + length)
        wait_painted(panel, 0.0)
        run_until(lambda: False, 0.5)  # let prefetch settle
        presses: list[tuple[float, tuple]] = []
        timer = QTimer()
        timer.setInterval(KEY_INTERVAL_MS)

        def press():
            if len(presses) >= n:
                timer.stop()
                return
            if panel.window[1] >= stop - 1e-9:
                panel.go_home()
            presses.append((time.perf_counter(), None))
            key()
            presses[-1] = (presses[-1][0], panel.frames.wanted)

        paints.clear()
        shown_requests: list[tuple[float, object, bool]] = []
        panel.frame_shown.connect(
            lambda frame: shown_requests.append(
                (time.perf_counter(), frame.request, bool(getattr(frame, "coarse", False)))
            )
        )
        timer.timeout.connect(press)
        timer.start()
        run_until(
            lambda: (
                len(presses) >= n
                and panel.shown_frame is not None
                and panel.shown_frame.request == panel.frames.wanted
            ),
            120,
        )
        run_until(lambda: False, 0.2)
        timer.stop()
        order = {req: k for k, (_, req) in enumerate(presses)}
        # the frame shown at each moment, with the paint that put it on screen
        shows = sorted(shown_requests, key=lambda show: show[0])
        paint_times = sorted(t for t, tag in paints if tag == panel.bench_tag)
        latencies = []
        exact = 0
        coarse = 0
        for k, (t_press, _req) in enumerate(presses):
            for t_show, req, is_coarse in shows:
                if t_show < t_press or order.get(req, -1) < k:
                    continue
                painted_at = next((p for p in paint_times if p >= t_show), None)
                if painted_at is not None:
                    latencies.append((painted_at - t_press) * 1000)
                    exact += order.get(req, -1) == k
                    coarse += is_coarse
                break
        # isolated presses
        isolated = []
        isolated_coarse = 0
        for _ in range(max(5, n // 4)):
            if panel.window[1] >= stop - 1e-9:
                panel.go_home()
                wait_painted(panel, 0.0)
            run_until(lambda: False, 0.25)
            t_press = time.perf_counter()
            key()
            painted = wait_painted(panel, t_press, 30)
            if painted:
                isolated.append((painted - t_press) * 1000)
                isolated_coarse += bool(getattr(panel.shown_frame, "coarse", False))
        return {
            "median_ms": _percentile(latencies, 50),
            "p95_ms": _percentile(latencies, 95),
            "presses": len(presses),
            "measured": len(latencies),
            "exact": exact,
            "coarse": coarse,
            "isolated_coarse": isolated_coarse,
            "isolated_measured": len(isolated),
            "isolated_median_ms": _percentile(isolated, 50),
            "isolated_p95_ms": _percentile(isolated, 95),
            "source": panel.shown_frame.source,
        }

    def held_mb() -> dict:
        """What the panel's caches hold, and the process's resident memory now."""
        reader = panel.source.reader
        return {
            "frames": round(panel.frames.cache._bytes / 1e6, 1),
            "coarse frames": round(panel.frames.coarse_cache._bytes / 1e6, 1),
            "decimated units": round(panel.lod.cache_bytes / 1e6, 1),
            "decoded units": round(getattr(reader, "_decoded_bytes", 0) / 1e6, 1),
            "rss now": round(int(open("/proc/self/statm").read().split()[1]) * 4096 / 1e6),
        }

    result["scroll_1s"] = scroll(1.0, steps)
    result["held_after_scroll_1s_mb"] = held_mb()
    phase_done("scroll 1 s")
    result["scroll_10s"] = scroll(10.0, steps)
    phase_done("scroll 10 s")
    if screenshot:
        panel.set_window(15.0, 17.0)
        wait_painted(panel, 0.0)
        run_until(lambda: False, 1.5)
        panel.grab().save(screenshot)
    close_panel(ctx, panel)
    result["peak_rss_mb"] = own_peak_rss_mb()
    result["image_paint_median_ms"] = _percentile(paint_costs, 50)
    return result


def measure_baseline(path: Path, steps: int) -> dict:
    """Plain pyqtgraph: read the raw window with h5py and draw every sample, 384 curves."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    widget = pg.PlotWidget()
    widget.resize(1600, 1000)
    widget.show()
    curves = [widget.plot(pen=pg.mkPen("#1b2a3a")) for _ in range(CHANNELS)]
    offsets = np.arange(CHANNELS, dtype=np.float64) * 150.0
    out: dict = {}
    with h5py.File(path, "r") as f:
        ds = f[SERIES]["data"]
        for length in (1.0, 10.0):
            times = []
            n_steps = steps if length == 1.0 else max(2, steps // 4)
            for k in range(n_steps):
                t_step = time.perf_counter()
                i0 = int(k * length * RATE) % (ds.shape[0] - int(length * RATE))
                i1 = i0 + int(length * RATE)
                block = ds[i0:i1].astype(np.float64) - offsets
                x = np.arange(i0, i1) / RATE
                for c, curve in enumerate(curves):
                    curve.setData(x, block[:, c])
                widget.setXRange(x[0], x[-1], padding=0)
                widget.repaint()
                app.processEvents()
                times.append((time.perf_counter() - t_step) * 1000)
            out[f"{int(length)}s_median_ms"] = _percentile(times, 50)
            out[f"{int(length)}s_p95_ms"] = _percentile(times, 95)
    out["peak_rss_mb"] = own_peak_rss_mb()
    return out


def measure_ephyviewer(path: Path, steps: int) -> dict:
    """ephyviewer's TraceViewer on the same dataset: page steps as isolated seeks.

    Its in-memory source slices whatever array it is given, so it reads the h5py dataset
    lazily, window by window, in its own data thread (min/max decimation to the screen), as
    a user of ephyviewer with an NWB file would set it up. Latency: ``seek`` → the first
    paint of the view after the data for that time arrived.
    """
    try:
        import ephyviewer
    except ImportError:
        return {"installed": False}
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    with h5py.File(path, "r") as f:
        ds = f[SERIES]["data"]
        source = ephyviewer.InMemoryAnalogSignalSource(ds, RATE, 0.0)
        viewer = ephyviewer.TraceViewer(source=source, name="signals")
        arrived: dict[float, float] = {}
        original_ready = viewer.on_data_ready

        def on_data_ready(t, *args):
            original_ready(t, *args)
            arrived[t] = time.perf_counter()

        viewer.datagrabber.data_ready.disconnect(viewer.on_data_ready)
        viewer.datagrabber.data_ready.connect(on_data_ready)
        paints: list[float] = []
        view = viewer.graphicsview
        original_paint = type(view).paintEvent

        def paint_event(ev, _view=view):
            original_paint(_view, ev)
            paints.append(time.perf_counter())

        view.paintEvent = paint_event
        viewer.resize(1600, 1000)
        viewer.show()

        def wait_shown(t: float, since: float, timeout: float = 120.0) -> float | None:
            deadline = time.perf_counter() + timeout
            while time.perf_counter() < deadline:
                app.processEvents()
                if t in arrived and any(p >= arrived[t] for p in paints):
                    return min(p for p in paints if p >= arrived[t]) - since
                time.sleep(0.0005)
            return None

        from importlib.metadata import version

        out: dict = {"installed": True, "version": version("ephyviewer")}
        for length in (1.0, 10.0):
            viewer.params["xsize"] = length
            viewer.params["xratio"] = 0.0
            started = time.perf_counter()
            viewer.seek(0.0)
            wait_shown(0.0, started)
            viewer.auto_scale()
            times = []
            n_steps = steps if length == 1.0 else max(2, steps // 4)
            for k in range(1, n_steps + 1):
                deadline = time.perf_counter() + 0.25
                while time.perf_counter() < deadline:
                    app.processEvents()
                    time.sleep(0.001)
                t = float(k * length)
                started = time.perf_counter()
                viewer.seek(t)
                took = wait_shown(t, started)
                if took is not None:
                    times.append(took * 1000)
            out[f"{int(length)}s_median_ms"] = _percentile(times, 50)
            out[f"{int(length)}s_p95_ms"] = _percentile(times, 95)
        viewer.thread.quit()
        viewer.thread.wait(5000)
    out["peak_rss_mb"] = own_peak_rss_mb()
    return out


# -------------------------------------------------------------------------------------- driver
def _subprocess(args: list[str], cache: Path) -> dict:
    env = dict(os.environ)
    env["NDVIEWER_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, __file__, *args], env=env, capture_output=True, text=True, timeout=7200
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fmt(value, unit: str = "", digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 s files, fewer steps")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/ndviewer-bench-traces"))
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--screenshot", help="save a picture of the panel on the raw file")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ephyviewer", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    steps = args.steps or (30 if args.quick else 60)
    if args.measure:
        print(json.dumps(measure(args.measure, steps, args.screenshot)))
        return 0
    if args.baseline:
        print(json.dumps(measure_baseline(args.baseline, min(steps, 12))))
        return 0
    if args.ephyviewer:
        print(json.dumps(measure_ephyviewer(args.ephyviewer, min(steps, 12))))
        return 0
    seconds = 60 if args.quick else 600
    args.folder.mkdir(parents=True, exist_ok=True)
    files = [recording(args.folder, seconds, gzip) for gzip in (False, True)]
    if args.generate_only:
        return 0
    results = []
    for k, path in enumerate(files):
        cache = args.folder / f"cache-{path.stem}"
        if cache.exists():
            import shutil

            shutil.rmtree(cache)
        extra = ["--screenshot", args.screenshot] if args.screenshot and k == 0 else []
        print(f"measuring {path.name} ...", flush=True)
        results.append(_subprocess(["--measure", str(path), "--steps", str(steps), *extra], cache))
    print("measuring the plain-pyqtgraph baseline ...", flush=True)
    base = _subprocess(
        ["--baseline", str(files[0]), "--steps", str(steps)], args.folder / "cache-baseline"
    )
    print("measuring ephyviewer ...", flush=True)
    ephy = _subprocess(
        ["--ephyviewer", str(files[0]), "--steps", str(steps)], args.folder / "cache-baseline"
    )

    print(
        f"\n## Trace panel, 384 ch × 30 kHz × {seconds} s int16"
        f"{' (--quick)' if args.quick else ''}\n"
    )
    print(
        f"Scroll step = → key press every {KEY_INTERVAL_MS} ms with the event loop running "
        "(latency: press → first paint of a frame at least that new; while a key is held "
        "that frame may be a coarse stand-in from the pyramid's finest level, 64 samples per "
        "column, refined to the exact frame when the presses stop); isolated = one press "
        "after 250 ms idle. Pyramid cache empty at start.\n"
    )
    print(
        "| file | first paint med/p95 | 1 s median | 1 s p95 | 10 s median | 10 s p95 | "
        "1 s isolated med/p95 | 10 s isolated med/p95 | whole cold | whole warm med/p95 | "
        "peak RSS |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        s1, s10 = r["scroll_1s"], r["scroll_10s"]
        print(
            f"| {r['file']} ({r['size_gb']:.1f} GB) | "
            f"{_fmt(r['first_paint_ms'])}/{_fmt(r['first_paint_p95_ms'], ' ms')} | "
            f"{_fmt(s1['median_ms'], ' ms', 1)} | {_fmt(s1['p95_ms'], ' ms', 1)} | "
            f"{_fmt(s10['median_ms'], ' ms', 1)} | {_fmt(s10['p95_ms'], ' ms', 1)} | "
            f"{_fmt(s1['isolated_median_ms'], '', 1)}/{_fmt(s1['isolated_p95_ms'], ' ms', 1)} | "
            f"{_fmt(s10['isolated_median_ms'], '', 1)}/{_fmt(s10['isolated_p95_ms'], ' ms', 1)}"
            f" | {_fmt(r['whole_cold_s'], ' s', 1)} | "
            f"{_fmt(r['whole_warm_ms'])}/{_fmt(r['whole_warm_p95_ms'], ' ms')} | "
            f"{_fmt(r['peak_rss_mb'], ' MB')} |"
        )
    print(
        f"\nFirst paint, one open each: the first of the process (one-time costs of fonts, "
        f"pyqtgraph and numpy included) and, where the page cache could be dropped (root), "
        f"a cold open whose first chunks come from the disk; medians above are over "
        f"{REPEATS} opens with the first chunks in the page cache."
    )
    for r in results:
        cold = (
            f"cold {_fmt(r['first_paint_cold_ms'], ' ms')} (disk reads "
            f"{_fmt(r['disk_mb_s'], ' MB/s')})"
            if r["first_paint_cold_ms"] is not None
            else "cold not measured (not root)"
        )
        print(
            f"- {r['file']}: first of the process {_fmt(r['first_paint_process_ms'], ' ms')}; {cold}"
        )
    print("\nLatencies ended by a coarse frame (the rest by exact frames):")
    for r in results:
        s1, s10 = r["scroll_1s"], r["scroll_10s"]
        print(
            f"- {r['file']}: key-repeat 1 s {s1['coarse']}/{s1['measured']}, "
            f"10 s {s10['coarse']}/{s10['measured']}; isolated 1 s "
            f"{s1['isolated_coarse']}/{s1['isolated_measured']}, "
            f"10 s {s10['isolated_coarse']}/{s10['isolated_measured']}"
        )
    print(
        f"\n| reference on {files[0].name}, page step → repaint | 1 s median | 1 s p95 | "
        "10 s median | 10 s p95 | peak RSS |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| plain pyqtgraph: h5py read, 384 curves of raw samples | "
        f"{_fmt(base['1s_median_ms'], ' ms')} | "
        f"{_fmt(base['1s_p95_ms'], ' ms')} | {_fmt(base['10s_median_ms'], ' ms')} | "
        f"{_fmt(base['10s_p95_ms'], ' ms')} | {_fmt(base['peak_rss_mb'], ' MB')} |"
    )
    if ephy.get("installed"):
        print(
            f"| ephyviewer {ephy['version']} TraceViewer, same dataset (its data thread reads "
            f"the h5py dataset window by window), isolated page steps | "
            f"{_fmt(ephy['1s_median_ms'], ' ms')} | {_fmt(ephy['1s_p95_ms'], ' ms')} | "
            f"{_fmt(ephy['10s_median_ms'], ' ms')} | {_fmt(ephy['10s_p95_ms'], ' ms')} | "
            f"{_fmt(ephy['peak_rss_mb'], ' MB')} |"
        )
    else:
        print("\nephyviewer is not installed (`pip install -e .[bench]`): no ratio against it.")
    ours = results[0]
    print("\n| ratio reference / ndviewer (medians, raw file) | 1 s window | 10 s window |")
    print("|---|---|---|")
    references = [("plain pyqtgraph", base)]
    if ephy.get("installed"):
        references.insert(0, ("ephyviewer", ephy))
    for name, ref in references:
        for label, key in (
            ("isolated step", "isolated_median_ms"),
            ("key-repeat step", "median_ms"),
        ):
            r1 = ref["1s_median_ms"] / ours["scroll_1s"][key]
            r10 = ref["10s_median_ms"] / ours["scroll_10s"][key]
            print(f"| {name} / ndviewer {label} | {r1:.0f}× | {r10:.0f}× |")
    print("\nDetails: " + json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
