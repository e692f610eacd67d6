"""``ndviewer export``: a figure or the numbers of one object, headless.

    ndviewer export FILE --object PATH [--start S --stop S] [--channels A:B]
                    --out OUT.{png,svg,pdf,csv,npy,npz,tif} [--width PX --height PX --dpi N]
                    [--script]

What is written follows the object and the extension: a time series gives a figure
(``.png``, ``.svg``, ``.pdf``, with the file's trials, units raster and events as the trace
view shows them) or its samples in physical units (``.csv``, ``.npy``, ``.npz``); an image
series or image gives a frame or projection at full bit depth (``.tif``, ``.png``); a table
gives its rows (``.csv``). Data exports load no Qt; figures paint with offscreen Qt.

Bad input gets one sentence on stderr and exit status 2, nothing on stdout; on success the
written paths are printed, one a line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_BAD_INPUT = 2
FIGURES = (".png", ".svg", ".pdf")
SAMPLES = (".csv", ".npy", ".npz")
PICTURES = (".tif", ".tiff", ".png")
ALL_SUFFIXES = (".png", ".svg", ".pdf", ".csv", ".npy", ".npz", ".tif", ".tiff")
#: Default page of a figure: 7 × 5 inches.
DEFAULT_INCHES = (7.0, 5.0)


class _Refused(Exception):
    """One sentence for the user; exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ndviewer export",
        description=(
            "Export a figure (png, svg, pdf) or the data (csv, npy, npz; tif/png for images) "
            "of one object of an NWB file."
        ),
    )
    parser.add_argument("file")
    parser.add_argument(
        "--object", required=True, metavar="PATH", help="e.g. /acquisition/ElectricalSeries"
    )
    parser.add_argument("--start", type=float, help="window start, session seconds")
    parser.add_argument("--stop", type=float, help="window end (exclusive), session seconds")
    parser.add_argument(
        "--channels", metavar="A:B", help="channels A to B-1 (as a Python slice), or A,B,C"
    )
    parser.add_argument(
        "--out", required=True, metavar="OUT", help="the extension picks the format"
    )
    parser.add_argument("--width", type=int, metavar="PX", help="figure width in pixels at --dpi")
    parser.add_argument("--height", type=int, metavar="PX", help="figure height in pixels at --dpi")
    parser.add_argument("--dpi", type=float, default=300.0, help="pixels per inch (default 300)")
    parser.add_argument(
        "--script",
        action="store_true",
        help="also write OUT's name .py: a standalone h5py+numpy+matplotlib script that redraws it",
    )
    parser.add_argument("--frame", type=int, help="image series: the frame to write (default 0)")
    parser.add_argument(
        "--projection", choices=("mean", "max", "min", "std"), help="image series: a projection"
    )
    parser.add_argument(
        "--no-overlays", action="store_true", help="figure without trials, raster and events"
    )
    return parser


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        written = _export(args)
    except _Refused as exc:
        print(f"ndviewer: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for path in written:
        print(path)
    return 0


def _export(args: argparse.Namespace) -> list[Path]:
    from ndviewer.core.errors import NdviewerError

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in ALL_SUFFIXES:
        raise _Refused(
            f"cannot export to {suffix or 'a file without an extension'} ({out.name}): "
            f"use one of {', '.join(ALL_SUFFIXES)}."
        )
    if not out.parent.is_dir():
        raise _Refused(f"cannot write {out}: the folder {out.parent} does not exist.")
    if (
        args.dpi <= 0
        or (args.width is not None and args.width <= 0)
        or (args.height is not None and args.height <= 0)
    ):
        raise _Refused("--width, --height and --dpi must be positive.")
    from ndviewer.core.model.files import open_nwb

    try:
        with open_nwb(args.file) as file:
            return _export_from(file, args, out, suffix)
    except NdviewerError as exc:
        raise _Refused(exc.message) from None
    except OSError as exc:
        raise _Refused(f"cannot write {out}: {exc.strerror or exc}.") from None


def _kind(file, path: str) -> str:
    """``"table"``, ``"image"``, ``"series"`` or ``"other"`` for the object at ``path``."""
    import h5py

    from ndviewer.core.model.values import decode_value
    from ndviewer.core.nwb.tables import is_table_group
    from ndviewer.core.nwb.timeseries import plottable_channels

    obj = file.h5.get(path)
    type_name = ""
    if obj is not None:
        raw = obj.attrs.get("neurodata_type", obj.attrs.get("data_type"))
        type_name = str(decode_value(raw)) if raw is not None else ""
    is_a = file.catalog.is_a if type_name else (lambda t, base: False)
    if is_table_group(obj):
        return "table"
    if type_name and any(is_a(type_name, base) for base in ("ImageSeries", "Images", "Image")):
        return "image"
    if isinstance(obj, h5py.Group):
        data = obj.get("data")
        if isinstance(data, h5py.Dataset) and data.ndim >= 3:
            return "image"
        if plottable_channels(obj) is not None:
            return "series"
    return "other"


def _export_from(file, args: argparse.Namespace, out: Path, suffix: str) -> list[Path]:
    path = args.object if args.object.startswith("/") else "/" + args.object
    if file.h5.get(path) is None:
        raise _Refused(f"{path} does not exist in {file.path}.")
    kind = _kind(file, path)
    if args.script and suffix not in FIGURES:
        raise _Refused("--script goes with a figure (.png, .svg or .pdf).")
    if kind == "table":
        if suffix != ".csv":
            raise _Refused(f"{path} is a table: export its rows as .csv.")
        from ndviewer.core.export.table_csv import write_table_csv
        from ndviewer.core.nwb.tables import Table

        table = Table.from_path(file, path)
        columns = ["id", *(c.name for c in table.columns)]
        return [write_table_csv(table, range(table.n_rows), columns, out)]
    if kind == "image":
        if suffix not in PICTURES:
            raise _Refused(f"{path} is an image: export a frame or projection as .tif or .png.")
        from ndviewer.core.export.image_files import frame_picture, write_picture
        from ndviewer.core.nwb.images import open_image_source

        source = open_image_source(file.h5[path])
        return [write_picture(frame_picture(source, args.frame, args.projection), out)]
    if kind != "series":
        raise _Refused(f"{path} is neither a time series, an image nor a table: nothing to export.")
    from ndviewer.core.export.window_data import parse_channels, resolve_window
    from ndviewer.core.nwb.timeseries import TimeSeriesSource

    source = TimeSeriesSource.from_path(file, path)
    if source.n_samples == 0:
        raise _Refused(f"{path} holds no samples.")
    channels = parse_channels(args.channels, source.n_channels)
    t0, t1 = resolve_window(source, args.start, args.stop)
    if suffix in SAMPLES:
        from ndviewer.core.export.window_data import read_window, write_window

        return [write_window(read_window(source, t0, t1, channels), out)]
    if suffix not in FIGURES:
        raise _Refused(
            f"{path} is a time series: export it as .png, .svg, .pdf, .csv, .npy or .npz."
        )
    return _figure(file, args, out, path, channels, t0, t1)


def _figure(file, args, out: Path, path: str, channels, t0: float, t1: float) -> list[Path]:
    from ndviewer.core.export.figure import FigureSpec, TraceTrack, build_figure, default_overlays

    dpi = float(args.dpi)
    width_in, height_in = DEFAULT_INCHES
    if args.width is not None:
        width_in = args.width / dpi
    if args.height is not None:
        height_in = args.height / dpi
    if args.width is not None and args.height is None:
        height_in = width_in * DEFAULT_INCHES[1] / DEFAULT_INCHES[0]
    if args.height is not None and args.width is None:
        width_in = height_in * DEFAULT_INCHES[0] / DEFAULT_INCHES[1]
    intervals, units, events = ([], None, []) if args.no_overlays else default_overlays(file)
    spec = FigureSpec(
        t0,
        t1,
        [TraceTrack(path, channels.tolist())],
        intervals,
        units,
        None,
        events,
        width=width_in * 72.0,
        height=height_in * 72.0,
    )
    scene = build_figure(file, spec)
    from ndviewer.gui.export.render import ensure_gui_app, render_file

    ensure_gui_app()
    written = [render_file(scene, out, dpi)]
    if args.script:
        from ndviewer.core.export.script import write_script

        written.append(write_script(scene, file.path, out))
    return written
