"""The script that redraws an exported figure from the NWB file, without ndviewer.

A figure in a paper should be reproducible by a reader who has the data and not our tool:
next to ``figure.pdf`` goes ``figure.py``, a short standalone program (h5py, numpy,
matplotlib) that reads the same series, window and channels from the file, applies the same
conversion, baselines and spacing, reduces each channel to the same min/max columns and
draws the same page: the axes sit where the exported figure's tracks were (their boxes are
written into the script), so the two can be laid over each other.

The generated text is data: paths and numbers are written with ``repr`` and the code part is
fixed, so nothing from the file can become code.
"""

from __future__ import annotations

import datetime
import os
import pprint
from pathlib import Path

from ndviewer import __version__
from ndviewer.core.export.scene import Scene

__all__ = ["figure_script", "write_script"]

_HEADER = '''#!/usr/bin/env python3
"""Redraw the figure {name!s} exported by ndviewer {version} on {date}.

Needs only h5py, numpy and matplotlib:

    python {script!s} [NWB_FILE] [OUT.pdf|.svg|.png]

NWB_FILE defaults to the file the figure came from; OUT to {default_out!s} beside this
script. Values are data * conversion * channel_conversion + offset; each channel is drawn
from the min and max of about one column per point of width (raw samples when fewer), at
the baselines and lane spacing of the export.
"""

import sys
from pathlib import Path

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

'''

_BODY = '''

def _time_window(group, n):
    """Sample range [i0, i1) with T0 <= t < T1, and the times of those samples."""
    if "timestamps" in group:
        stamps = group["timestamps"]
        i0, i1 = np.searchsorted(stamps[()], [T0, T1], side="left")
        return int(i0), int(i1), np.asarray(stamps[int(i0) : int(i1)], dtype=float)
    if "starting_time" in group:
        start = float(group["starting_time"][()])
        rate = float(group["starting_time"].attrs["rate"])
    else:
        start, rate = 0.0, 1.0
    i0 = min(max(int(np.ceil((T0 - start) * rate - 1e-9)), 0), n)
    i1 = min(max(int(np.ceil((T1 - start) * rate - 1e-9)), i0), n)
    return i0, i1, start + np.arange(i0, i1) / rate


def read_window(h5, track):
    """Times and physical values (samples x channels) of one series over [T0, T1)."""
    group = h5[track["path"]]
    data = group["data"]
    i0, i1, times = _time_window(group, data.shape[0])
    channels = np.asarray(track["channels"])
    c0, c1 = int(channels.min()), int(channels.max()) + 1
    if data.ndim == 1:
        block = np.asarray(data[i0:i1], dtype=float)[:, None]
    else:
        block = np.asarray(data[i0:i1, c0:c1] if data.ndim == 2 else data[i0:i1], dtype=float)
        block = block.reshape(block.shape[0], -1)
        if data.ndim > 2:
            block = block[:, c0:c1]
    block = block[:, channels - c0]
    factor = float(data.attrs.get("conversion", 1.0))
    scale = np.full(channels.size, factor)
    if "channel_conversion" in group:
        scale *= np.asarray(group["channel_conversion"][()], dtype=float)[channels]
    return times, block * scale + float(data.attrs.get("offset", 0.0))


def envelope(times, values, columns):
    """Min/max of `columns` equal time bins as a zigzag (x, y), or the samples if fewer."""
    if times.size <= columns:
        return times, values
    edges = np.linspace(T0, T1, columns + 1)
    which = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, columns - 1)
    lo = np.full((columns, values.shape[1]), np.nan)
    hi = np.full((columns, values.shape[1]), np.nan)
    np.fmin.at(lo, which, values)
    np.fmax.at(hi, which, values)
    centres = (edges[:-1] + edges[1:]) / 2
    ys = np.empty((2 * columns, values.shape[1]))
    ys[0::2], ys[1::2] = lo, hi
    return np.repeat(centres, 2), ys


def axes_at(fig, top, height):
    """Axes over the box the exported figure gave this track (points from the page top)."""
    width_pt, height_pt = PAGE
    x0, w = FRAME
    ax = fig.add_axes([x0 / width_pt, 1 - (top + height) / height_pt, w / width_pt, height / height_pt])
    ax.set_xlim(T0, T1)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="x", bottom=False, labelbottom=False)
    ax.tick_params(axis="y", length=0, labelsize=6)
    return ax


def side_title(ax, text):
    """A track's name along the page's left edge, clear of the tick labels."""
    ax.set_ylabel(text, fontsize=7.5)
    ax.yaxis.set_label_coords(-(FRAME[0] - 8) / FRAME[1], 0.5)


def seconds_per_point():
    return (T1 - T0) / FRAME[1]


def interval_rows(h5, table):
    group = h5[table["path"]]
    starts = np.asarray(group["start_time"][()], dtype=float)
    stops = np.asarray(group["stop_time"][()], dtype=float) if "stop_time" in group else starts
    keep = (starts < T1) & (stops >= T0)
    labels = [""] * int(keep.sum())
    column = table.get("label_column")
    if column and column in group:
        values = group[column][()]
        if column + "_index" in group:  # ragged (tags): the first value of each row
            ends = np.asarray(group[column + "_index"][()], dtype=np.int64)
            begins = np.r_[0, ends[:-1]]
            values = [values[b] if e > b else b"" for b, e in zip(begins, ends)]
        labels = [v.decode() if isinstance(v, bytes) else str(v) for v, k in zip(values, keep) if k]
    return starts[keep], stops[keep], labels


def event_times(h5, path):
    group = h5[path]
    for name in ("timestamp", "timestamps"):
        if name in group:
            times = np.asarray(group[name][()], dtype=float)
            return times[(times >= T0) & (times < T1)]
    return np.empty(0)


def spike_trains(h5, units):
    group = h5[units["path"]]
    times = group["spike_times"]
    ends = np.asarray(group["spike_times_index"][()], dtype=np.int64)
    begins = np.r_[0, ends[:-1]]
    trains = []
    for row in units["rows"]:
        train = np.asarray(times[begins[row] : ends[row]], dtype=float)
        trains.append(train[(train >= T0) & (train < T1)])
    return trains


def main(argv):
    nwb_file = argv[1] if len(argv) > 1 else NWB_FILE
    out = Path(argv[2]) if len(argv) > 2 else Path(__file__).with_name(DEFAULT_OUT)
    width_pt, height_pt = PAGE
    plt.rcParams.update({"font.size": 7, "font.family": "DejaVu Sans", "svg.fonttype": "none", "pdf.fonttype": 42})
    fig = plt.figure(figsize=(width_pt / 72, height_pt / 72))
    fig.text(FRAME[0] / width_pt, 1 - 6 / height_pt, TITLE, va="top", ha="left", fontsize=8)
    lowest = None
    with h5py.File(nwb_file, "r") as h5:
        bands = [(table, interval_rows(h5, table)) for table in INTERVALS]
        for n, track in enumerate(TRACKS):
            top, height = track["box"]
            ax = axes_at(fig, top, height)
            lowest = ax
            channels = len(track["channels"])
            ax.set_ylim(-channels + 0.5, 0.5)
            for table, (starts, stops, _labels) in bands:
                for a, b in zip(starts, stops):
                    ax.axvspan(max(a, T0), min(max(a, b), T1), color=table["color"], alpha=0.14, lw=0)
            times, values = read_window(h5, track)
            xs, ys = envelope(times, values, track["columns"])
            lane_width = min(0.6, max(0.2, height / channels * 0.12))
            for k in range(channels):
                y = -k + (ys[:, k] - track["baselines"][k]) / track["spacing"]
                ax.plot(xs, y, color=track["colors"][k], lw=lane_width, solid_joinstyle="round")
            if track["single"]:  # one unlabelled trace: its name beside it
                ax.set_yticks([0])
                ax.set_yticklabels([track["side_title"]], fontsize=7)
            else:
                step = max(1, int(np.ceil(7 * 1.15 / (height / channels))))
                ax.set_yticks([-k for k in range(0, channels, step)])
                ax.set_yticklabels([track["labels"][k] for k in range(0, channels, step)], fontsize=min(7, max(4, height / channels * 0.9)))
                side_title(ax, track["side_title"])
            for event in EVENTS:
                ax.vlines(event_times(h5, event["path"]), -channels + 0.5, 0.5, color=event["color"], lw=0.6)
            # scale bars, an L in the right margin
            x_bar = T1 + 8 * seconds_per_point()
            lanes = track["amplitude"] / track["spacing"]
            y_bar = -channels + 0.5
            ax.plot([x_bar, x_bar], [y_bar, y_bar + lanes], color="#222222", lw=1.2, clip_on=False)
            ax.text(x_bar + 3 * seconds_per_point(), y_bar + lanes / 2, track["amplitude_label"], va="center", fontsize=7)
            if n == 0:
                ax.plot([x_bar, x_bar + TIME_BAR[0]], [y_bar, y_bar], color="#222222", lw=1.2, clip_on=False)
                ax.text(x_bar + TIME_BAR[0] / 2, y_bar, TIME_BAR[1], ha="center", va="top", fontsize=7)
        shown = [(table, rows) for table, rows in bands if table["row"] is not None]
        if shown:
            ax = axes_at(fig, INTERVAL_TOP, 9.0 * len(shown))
            ax.set_ylim(9.0 * len(shown), 0)
            for k, (table, (starts, stops, labels)) in enumerate(shown):
                for a, b, label in zip(starts, stops, labels):
                    a, b = max(a, T0), min(max(a, b), T1)
                    ax.add_patch(plt.Rectangle((a, 9.0 * k), b - a, 7.0, color=table["color"], lw=0))
                    if label:
                        ax.text((a + b) / 2, 9.0 * k + 3.5, label, ha="center", va="center", fontsize=5.5, color="white", clip_on=True)
            ax.set_yticks([9.0 * k + 3.5 for k in range(len(shown))])
            ax.set_yticklabels([table["name"] for table, _ in shown], fontsize=7)
            lowest = ax
        if UNITS is not None:
            top, height = UNITS["box"]
            ax = axes_at(fig, top, height)
            rows = len(UNITS["rows"])
            ax.set_ylim(rows, 0)
            colors = ["#1b2a3a", "#1f5fa8", "#a3361f", "#2c7a3f", "#7a3f98", "#8a6d00", "#006d77", "#9c2f6b"]
            for k, train in enumerate(spike_trains(h5, UNITS)):
                ax.vlines(train, k + 0.12, k + 0.88, color=colors[k % len(colors)], lw=0.5)
            step = max(1, int(np.ceil(7 * 1.15 / (height / rows))))
            ax.set_yticks([k + 0.5 for k in range(0, rows, step)])
            ax.set_yticklabels([UNITS["labels"][k] for k in range(0, rows, step)], fontsize=min(7, max(4, height / rows * 0.9)))
            side_title(ax, "units")
            lowest = ax
    if lowest is not None:
        lowest.spines["bottom"].set_visible(True)
        lowest.tick_params(axis="x", bottom=True, labelbottom=True, labelsize=7)
        lowest.set_xlabel("time (s)", fontsize=7.5)
    fig.savefig(out, dpi=300, facecolor="white")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
'''


def figure_script(
    scene: Scene, nwb_file: str | os.PathLike, figure_name: str, default_out: str
) -> str:
    """The text of the regenerating script for ``scene`` (built by
    :func:`~ndviewer.core.export.figure.build_figure` from ``nwb_file``)."""
    notes = scene.notes
    tracks = []
    for track in notes.get("tracks", []):
        keep = (
            "path",
            "channels",
            "labels",
            "baselines",
            "spacing",
            "colors",
            "columns",
            "box",
            "amplitude",
            "amplitude_label",
            "single",
        )
        entry = {k: track[k] for k in keep}
        entry["side_title"] = track.get("side_title", track["path"].rsplit("/", 1)[-1])
        tracks.append(entry)
    first = notes.get("tracks", [{}])[0] if notes.get("tracks") else {}
    constants = {
        "NWB_FILE": str(Path(nwb_file).resolve()),
        "DEFAULT_OUT": default_out,
        "TITLE": notes.get("title", ""),
        "T0": float(notes["t0"]),
        "T1": float(notes["t1"]),
        "PAGE": tuple(float(v) for v in notes["page"]),
        "FRAME": tuple(float(v) for v in notes["frame"]),
        "TRACKS": tracks,
        "INTERVALS": notes.get("intervals", []),
        "INTERVAL_TOP": float(notes.get("interval_top", 0.0)),
        "EVENTS": notes.get("events", []),
        "UNITS": notes.get("units"),
        "TIME_BAR": (float(first.get("seconds", 0.0)), str(first.get("seconds_label", ""))),
    }
    lines = [
        _HEADER.format(
            name=figure_name,
            version=__version__,
            date=datetime.date.today().isoformat(),
            script="<this script>",
            default_out=default_out,
        )
    ]
    for name, value in constants.items():
        lines.append(
            f"{name} = {pprint.pformat(value, width=100, compact=True, sort_dicts=False)}\n"
        )
    lines.append(_BODY)
    return "".join(lines)


def write_script(scene: Scene, nwb_file: str | os.PathLike, figure_path: str | os.PathLike) -> Path:
    """Write the script beside the figure (``figure.pdf`` → ``figure.py``), drawing to
    ``figure.redrawn.<suffix>`` by default so the original is not overwritten."""
    figure_path = Path(figure_path)
    script = figure_path.with_suffix(".py")
    default_out = f"{figure_path.stem}.redrawn{figure_path.suffix or '.pdf'}"
    text = figure_script(scene, nwb_file, figure_path.name, default_out)
    script.write_text(text, encoding="utf-8")
    return script
