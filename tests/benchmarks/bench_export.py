"""Benchmark of export: a 384-channel, 10 s window as a publication figure and as data.

Usage: ``python tests/benchmarks/bench_export.py [--quick] [--folder /tmp/ndviewer-bench-export]``

The file is ``bench_traces``' 384 ch × 30 kHz int16 recording in NWB layout (20 s, written
once under ``--folder`` and reused; gzip and uncompressed). Each export is what
``ndviewer export`` does after opening the file, timed end to end in this process: open the
series, read the window (no pyramid: the raw samples are decimated, the worst case), lay
out the scene, paint and write the file. The target of issue #17: the PDF in < 3 s and
< 5 MB. Also the SVG and the 300-dpi PNG of the same figure, the window's samples as NPY
and CSV (1 s: 11.5 million values), and the regenerating script.

Prints a markdown table: median and p95 seconds over the repeats, and the file size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

BENCH_FOLDER = Path(__file__).resolve().parent
SERIES = "/acquisition/ElectricalSeries"


def _recording(folder: Path, seconds: int, gzip: bool) -> Path:
    sys.path.insert(0, str(BENCH_FOLDER))
    from bench_traces import recording

    return recording(folder, seconds, gzip=gzip)


def _time(fn, repeats: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return times, result


def _figure(path: Path, out: Path, t0: float, t1: float) -> dict:
    from ndviewer.core.export.figure import FigureSpec, TraceTrack, build_figure
    from ndviewer.core.model.files import open_nwb
    from ndviewer.gui.export.render import render_file

    with open_nwb(path) as file:
        started = time.perf_counter()
        scene = build_figure(file, FigureSpec(t0, t1, [TraceTrack(SERIES)]))
        built = time.perf_counter() - started
        render_file(scene, out, dpi=300)
    return {"build": built, "points": scene.n_points(), "scene": scene}


def _data(path: Path, out: Path, t0: float, t1: float) -> None:
    from ndviewer.core.export.window_data import read_window, write_window
    from ndviewer.core.model.files import open_nwb
    from ndviewer.core.nwb.timeseries import TimeSeriesSource

    with open_nwb(path) as file:
        source = TimeSeriesSource.from_path(file, SERIES)
        write_window(read_window(source, t0, t1), out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/ndviewer-bench-export"))
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7
    args.folder.mkdir(parents=True, exist_ok=True)
    from ndviewer.gui.export.render import ensure_gui_app

    ensure_gui_app()
    rows: list[tuple[str, list[float], int, str]] = []
    notes: list[str] = []
    for gzip in (False, True):
        path = _recording(args.folder, 20, gzip)
        kind = "gzip" if gzip else "uncompressed"
        for suffix in (".pdf", ".svg", ".png") if not gzip else (".pdf",):
            out = args.folder / f"figure_{kind}{suffix}"
            times, info = _time(lambda p=path, o=out: _figure(p, o, 5.0, 15.0), repeats)
            rows.append(
                (
                    f"figure {suffix[1:].upper()}, 384 ch × 10 s, {kind}",
                    times,
                    out.stat().st_size,
                    "",
                )
            )
            if suffix == ".pdf" and not gzip:
                notes.append(
                    f"PDF: {info['points']:,} vertices; reading + layout {info['build']:.2f} s "
                    "of the total"
                )
                from ndviewer.core.export.script import write_script

                times, _ = _time(
                    lambda s=info["scene"], p=path, o=out: write_script(s, p, o), repeats
                )
                script = out.with_suffix(".py")
                rows.append(("regenerating script (write)", times, script.stat().st_size, ""))
    path = _recording(args.folder, 20, False)
    for suffix in (".npy", ".csv"):
        out = args.folder / f"window{suffix}"
        times, _ = _time(
            lambda o=out: _data(path, o, 5.0, 6.0),
            repeats if suffix == ".npy" else max(1, repeats // 2),
        )
        rows.append((f"samples {suffix[1:].upper()}, 384 ch × 1 s", times, out.stat().st_size, ""))

    print("\n## Export (bench_export)\n")
    print("| export | median s | p95 s | file size |")
    print("|---|---|---|---|")
    for name, times, size, _ in rows:
        print(
            f"| {name} | {np.median(times):.2f} | {np.percentile(times, 95):.2f} | "
            f"{size / 1e6:.2f} MB |"
        )
    print()
    for note in notes:
        print(f"- {note}")
    pdf = next(r for r in rows if r[0].startswith("figure PDF") and "uncompressed" in r[0])
    ok = np.percentile(pdf[1], 95) < 3.0 and pdf[2] < 5e6
    print(f"- target (PDF < 3 s and < 5 MB): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
