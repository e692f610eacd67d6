"""Benchmark of the image panel on generated stacks chunked per frame.

Usage::

    python tests/benchmarks/bench_images.py [--quick] [--folder /tmp/ndviewer-bench-images]

Stacks (written once under ``--folder``, reused while their parameters match):

* 512 x 512 uint16, 3000 frames, gzip-4 (quick: 300 frames)
* the same, uncompressed
* 2048 x 2048 uint16, 300 frames, gzip-4 (mesoscope size; quick: 40 frames)

Each stack is measured in its own subprocess (so peak RSS belongs to that stack alone):
time to first frame (panel built -> first paint), sustained playback at "max" speed through
the Qt event loop (decode + map + paint, every frame shown), seek latency to random uncached
frames, a mean projection against one plain single-threaded read of the stack, and peak RSS.
The reference -- ``ds[i]`` + ``ImageItem.setImage`` + paint in one thread -- is measured in the
same run, since the machines are shared and noisy. Prints one markdown table.
"""

from __future__ import annotations

import argparse
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

SERIES = "/acquisition/TwoPhotonSeries"
RATE = 30.0


def stack_specs(quick: bool) -> list[dict]:
    return [
        {"name": "512² gzip", "file": "s512_gzip", "size": 512, "frames": 300 if quick else 3000,
         "gzip": True},
        {"name": "512² raw", "file": "s512_raw", "size": 512, "frames": 300 if quick else 3000,
         "gzip": False},
        {"name": "2048² gzip", "file": "s2048_gzip", "size": 2048, "frames": 40 if quick else 300,
         "gzip": True},
    ]  # fmt: skip


# --------------------------------------------------------------------------- data
def _frames(size: int, n: int, seed: int = 0):
    """Calcium-imaging-like frames: a smooth field with cells, shot noise, slow drift."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = 600 + 400 * np.sin(3 * x) * np.cos(2 * y)
    for _ in range(size // 8):
        cx, cy = rng.uniform(0, 1, 2)
        base += 800 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * (4 / size) ** 2))
    noise = [rng.normal(0, 25, (size, size)).astype(np.float32) for _ in range(8)]
    for i in range(n):
        drift = 30 * np.sin(i / 50)
        frame = base + drift + np.roll(noise[i % 8], i % 17, axis=0)
        yield np.clip(frame, 0, 65535).astype(np.uint16)


def ensure_stack(folder: Path, spec: dict) -> Path:
    """Write the stack (NWB-like layout) unless an identical one is already there."""
    path = folder / f"{spec['file']}_{spec['frames']}.h5"
    key = json.dumps(spec, sort_keys=True)
    if path.exists():
        try:
            with h5py.File(path, "r", locking=False) as f:
                if f.attrs.get("bench_spec") == key:
                    return path
        except OSError:
            pass
    folder.mkdir(parents=True, exist_ok=True)
    size, n = spec["size"], spec["frames"]
    tmp = path.with_suffix(".tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs["bench_spec"] = key
        f.attrs["neurodata_type"] = "NWBFile"
        f.attrs["namespace"] = "core"
        group = f.create_group(SERIES)
        group.attrs["neurodata_type"] = "TwoPhotonSeries"
        group.attrs["namespace"] = "core"
        options = {"compression": "gzip", "compression_opts": 4} if spec["gzip"] else {}
        data = group.create_dataset(
            "data", (n, size, size), np.uint16, chunks=(1, size, size), **options
        )
        data.attrs["unit"] = "n.a."
        start = group.create_dataset("starting_time", data=0.0)
        start.attrs["rate"] = RATE
        start.attrs["unit"] = "seconds"
        with ThreadPoolExecutor(os.cpu_count() or 2) as pool:

            def encode(frame: np.ndarray) -> bytes:
                raw = frame.tobytes()
                return zlib.compress(raw, 4) if spec["gzip"] else raw

            batch: list[np.ndarray] = []
            written = 0
            for frame in _frames(size, n):
                batch.append(frame)
                if len(batch) == 32:
                    for k, blob in enumerate(pool.map(encode, batch)):
                        data.id.write_direct_chunk((written + k, 0, 0), blob)
                    written += len(batch)
                    batch = []
            for k, blob in enumerate(pool.map(encode, batch)):
                data.id.write_direct_chunk((written + k, 0, 0), blob)
    tmp.rename(path)
    return path


# --------------------------------------------------------------------------- measuring
def _percentiles(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values)
    return float(np.median(array)), float(np.percentile(array, 95))


def measure(path: Path, quick: bool) -> dict:
    """Run inside a subprocess: every figure for one stack."""
    import psutil
    import pyqtgraph as pg
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from ndviewer.core.model.files import open_nwb
    from ndviewer.core.signal.chunk_reader import ChunkReader
    from ndviewer.core.signal.projections import compute_projections
    from ndviewer.core.time_cursor import TimeCursor
    from ndviewer.gui.panels.base import PanelContext
    from ndviewer.gui.panels.images.image_panel import ImagePanel
    from ndviewer.gui.workers import WorkerPool

    app = QApplication.instance() or QApplication([])
    process = psutil.Process()
    peak = [process.memory_info().rss]

    def pump_until(condition, timeout=60.0) -> None:
        """Run the real event loop (which sleeps, releasing the GIL) until ``condition``.

        A ``processEvents`` busy loop would hold the GIL and starve the decode threads, which
        the application's idle event loop never does.
        """
        if condition():
            return
        loop = QEventLoop()
        deadline = time.perf_counter() + timeout
        expired = []

        def check() -> None:
            peak[0] = max(peak[0], process.memory_info().rss)
            if condition():
                loop.quit()
            elif time.perf_counter() > deadline:
                expired.append(True)
                loop.quit()

        poll = QTimer()
        poll.setTimerType(Qt.TimerType.PreciseTimer)
        poll.timeout.connect(check)
        poll.start(1)
        loop.exec()
        poll.stop()
        if expired:
            raise TimeoutError("benchmark step timed out")

    out: dict = {}
    with h5py.File(path, "r", locking=False) as f:
        n_frames = f[SERIES]["data"].shape[0]

    # Reference: ds[i] + ImageItem in one thread, painted through the event loop.
    with h5py.File(path, "r", locking=False) as f:
        ds = f[SERIES]["data"]
        view = pg.GraphicsLayoutWidget()
        view.resize(1100, 700)
        box = view.addViewBox(lockAspect=True, invertY=True)
        item = pg.ImageItem(axisOrder="col-major")
        box.addItem(item)
        view.show()
        count = min(n_frames, 300 if ds.shape[1] <= 512 else 40)
        item.setImage(ds[0], autoLevels=False, levels=(0, 4000))
        box.autoRange()
        app.processEvents()
        started = time.perf_counter()
        for i in range(count):
            item.setImage(ds[i], autoLevels=False, levels=(0, 4000))
            view.viewport().repaint()
        out["reference_fps"] = count / (time.perf_counter() - started)
        view.close()
        view.deleteLater()
        app.processEvents()
        del item, box, view  # the reference's last frame and image buffers are not ours

    file = open_nwb(path)
    pool = WorkerPool()
    context = PanelContext(file=file, time_cursor=TimeCursor(), pool=pool)
    node = file.node(SERIES)

    # Time to first frame.
    started = time.perf_counter()
    panel = ImagePanel(context, node)
    panel.resize(1400, 900)
    panel.show()
    pump_until(lambda: panel.canvas.paint_count > 0 and panel.current_index == 0)
    out["first_frame_ms"] = (time.perf_counter() - started) * 1e3

    # Sustained playback at max speed, from a cold cache.
    panel.player.cache.clear()
    shown: list[float] = []
    panel.frame_shown.connect(lambda _i: shown.append(time.perf_counter()))
    target = min(n_frames - 2, 1000 if not quick else 250)
    if panel.source.frame_geometry(0).size[0] > 512:
        target = min(n_frames - 2, 120 if not quick else 36)
    panel.playback.speed.setCurrentText("max")
    paints_before = panel.canvas.paint_count
    started = time.perf_counter()
    panel.toggle_play()
    pump_until(lambda: len(shown) >= target, timeout=300)
    elapsed = time.perf_counter() - started
    if panel.player.playing:  # (at the last frame it stopped by itself: toggling would
        panel.toggle_play()  # start it again, and the seeks below would run beside it)
    paints = panel.canvas.paint_count - paints_before
    intervals = np.diff(shown)
    out["play_fps"] = len(shown) / elapsed
    out["play_paint_fps"] = paints / elapsed
    out["play_interval_p95_ms"] = float(np.percentile(intervals, 95)) * 1e3
    out["play_frames"] = len(shown)

    # Seek latency to random frames not in the cache.
    rng = np.random.default_rng(1)
    latencies = []
    for index in rng.choice(np.arange(n_frames), size=min(40, n_frames), replace=False):
        panel.player.cache.clear()
        app.processEvents()
        paints_before = panel.canvas.paint_count
        started = time.perf_counter()
        panel.seek(int(index))
        pump_until(
            lambda i=int(index), p=paints_before: (
                panel.current_index == i and panel.canvas.paint_count > p
            )
        )
        latencies.append((time.perf_counter() - started) * 1e3)
    out["seek_median_ms"], out["seek_p95_ms"] = _percentiles(latencies)
    out["peak_rss_mb"] = peak[0] / 2**20
    out["cache_mb"] = panel.player.cache.nbytes / 2**20
    panel.shutdown()
    pool.shutdown()

    # Projection (mean over the whole stack) against one plain single-threaded read.
    with h5py.File(path, "r", locking=False) as f:
        ds = f[SERIES]["data"]
        slab = max(1, (16 << 20) // (ds.shape[1] * ds.shape[2] * 2))
        started = time.perf_counter()
        for start in range(0, n_frames, slab):
            ds[start : start + slab]
        out["plain_read_s"] = time.perf_counter() - started
        reader = ChunkReader(ds)
        started = time.perf_counter()
        for start in range(0, n_frames, slab):
            reader.read(start, min(start + slab, n_frames))
        out["parallel_read_s"] = time.perf_counter() - started
        started = time.perf_counter()
        compute_projections(reader, ["mean"])
        out["mean_s"] = time.perf_counter() - started
        started = time.perf_counter()
        compute_projections(reader, ["mean", "max", "std"])
        out["mean_max_std_s"] = time.perf_counter() - started
    out["max_rss_mb_total"] = own_peak_rss_mb()
    file.close()
    return out


# --------------------------------------------------------------------------- report
def report(rows: list[tuple[dict, dict]], quick: bool) -> str:
    lines = [
        f"### Image panel benchmark ({'quick' if quick else 'full'}; "
        f"{os.cpu_count()} cores, QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']})",
        "",
        "| stack | frames | first frame | playback fps (shown / painted) | frame interval p95 | "
        "reference ds[i]+ImageItem fps | seek median / p95 | mean projection | "
        "plain read | projection / read | mean+max+std | peak RSS (playback) | "
        "peak RSS (whole process, VmHWM) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for spec, r in rows:
        ratio = r["mean_s"] / r["plain_read_s"]
        lines.append(
            f"| {spec['name']} | {spec['frames']} | {r['first_frame_ms']:.0f} ms | "
            f"{r['play_fps']:.0f} / {r['play_paint_fps']:.0f} | "
            f"{r['play_interval_p95_ms']:.1f} ms | {r['reference_fps']:.0f} | "
            f"{r['seek_median_ms']:.1f} / {r['seek_p95_ms']:.1f} ms | {r['mean_s']:.2f} s | "
            f"{r['plain_read_s']:.2f} s | {ratio:.2f}x | {r['mean_max_std_s']:.2f} s | "
            f"{r['peak_rss_mb']:.0f} MB | {r['max_rss_mb_total']:.0f} MB "
            f"({'met' if r['max_rss_mb_total'] <= 400 else 'MISSED'}) |"
        )
    lines += [
        "",
        "Targets: 512² gzip playback >= 200 fps; 2048² gzip >= 30 fps; seek median < 10 ms; "
        "projection <= 1.2x one plain read; peak RSS <= 400 MB per process, whatever the stack "
        "(VmHWM covers playback, seeks, the plain reads and the projections).",
        "Playback is at speed 'max' through the event loop (decode in the pool, map + paint on "
        "the GUI thread), every frame shown in order, starting from an empty cache. The plain "
        "read is h5py ds[a:b] in 16 MB slabs on one thread.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small stacks, fewer frames")
    parser.add_argument("--folder", default="/tmp/ndviewer-bench-images", type=Path)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.quick)))
        return
    rows = []
    for spec in stack_specs(args.quick):
        started = time.perf_counter()
        path = ensure_stack(args.folder, spec)
        print(f"{spec['name']}: stack ready in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)  # fmt: skip
        command = [sys.executable, __file__, "--measure", str(path)]
        if args.quick:
            command.append("--quick")
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            raise SystemExit(f"measuring {spec['name']} failed")
        rows.append((spec, json.loads(result.stdout.strip().splitlines()[-1])))
    print(report(rows, args.quick))


if __name__ == "__main__":
    main()
