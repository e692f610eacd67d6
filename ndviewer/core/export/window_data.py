"""The visible window of a time series as numbers: samples × channels in physical units.

What a lab does with a window after looking at it is analyse it elsewhere: a spreadsheet
(CSV with a ``time_s`` column and one column per channel, named by its electrode/ROI label),
numpy (``.npy``: samples × channels, float64) or a self-describing ``.npz`` (``data``,
``time``, ``channels``, ``unit``). Values are ``data * conversion * channel_conversion +
offset``, the same numbers the trace view draws. Windows are ``start <= t < stop``.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.nodes import OpenFile
from ndviewer.core.nwb.timeseries import TimeSeriesSource

__all__ = [
    "DATA_SUFFIXES",
    "ExportError",
    "WindowData",
    "default_window",
    "parse_channels",
    "read_window",
    "resolve_window",
    "write_window",
]

#: What a window of samples can be written as.
DATA_SUFFIXES = (".csv", ".npy", ".npz")
#: Significant digits in CSV cells: more than float32 data holds, far fewer bytes than 17.
_CSV_DIGITS = 12


class ExportError(NdviewerError):
    """An export that cannot be done as asked (bad window, channels, object or format)."""


@dataclass(frozen=True)
class WindowData:
    """Samples of one series over one window.

    Attributes
    ----------
    path : str
        The series.
    time : numpy.ndarray
        ``(n,)`` sample times in session seconds.
    data : numpy.ndarray
        ``(n, channels)`` float64 values in ``unit``.
    channels : numpy.ndarray
        Column index in the series of each column of ``data``.
    labels : list of str
        Each column's label (electrode or ROI id when the series links a table).
    unit : str
    """

    path: str
    time: np.ndarray
    data: np.ndarray
    channels: np.ndarray
    labels: list[str]
    unit: str


def default_window(source: TimeSeriesSource) -> tuple[float, float]:
    """The window a trace view opens on: about 3000 samples, between 1 s and 10 min, from
    the first sample, never past the recording's end."""
    start = source.t_start
    duration = max(source.t_stop - start, 0.0)
    rate = source.time_axis.rate
    if rate is None:
        rate = max(source.n_samples, 1) / duration if duration > 0 else 1.0
    else:
        duration += 1.0 / rate  # through the end of the last sample
    length = min(max(3000.0 / rate, 1.0), 600.0)
    return start, start + (min(length, duration) if duration > 0 else length)


def parse_channels(text: str | None, n_channels: int) -> np.ndarray:
    """Channel indices from ``"A:B"`` (A to B-1, as a Python slice; either end may be left
    out), ``"A,B,C"`` or a mix (``"0:4,9"``); None or ``""`` means every channel.

    Raises ``ExportError`` with the valid range for indices outside the series.
    """
    if text is None or not text.strip():
        return np.arange(n_channels, dtype=np.int64)
    picked: list[int] = []
    for part in text.split(","):
        part = part.strip()
        match = re.fullmatch(r"(-?\d*)\s*:\s*(-?\d*)", part)
        if match:
            a = int(match.group(1)) if match.group(1) else 0
            b = int(match.group(2)) if match.group(2) else n_channels
            if not (0 <= a < b <= n_channels):
                raise ExportError(
                    f"channels {part} is not a range inside 0:{n_channels} "
                    f"(the series has {n_channels} channels)."
                )
            picked.extend(range(a, b))
        elif re.fullmatch(r"\d+", part):
            k = int(part)
            if k >= n_channels:
                raise ExportError(
                    f"channel {k} does not exist (the series has {n_channels} channels, "
                    f"0 to {n_channels - 1})."
                )
            picked.append(k)
        else:
            raise ExportError(f"channels {text!r}: write A:B (A to B-1) or A,B,C.")
    return np.asarray(picked, dtype=np.int64)


def resolve_window(
    source: TimeSeriesSource, start: float | None, stop: float | None
) -> tuple[float, float]:
    """``[start, stop)`` with missing ends taken from :func:`default_window`; raises
    ``ExportError`` when the window holds no sample of the series."""
    d0, d1 = default_window(source)
    t0 = d0 if start is None else float(start)
    t1 = (t0 + (d1 - d0)) if stop is None else float(stop)
    if not t1 > t0:
        raise ExportError(f"the window {t0:g}–{t1:g} s is empty: stop must be after start.")
    i0, i1 = source.time_axis.window(t0, t1)
    if i1 <= i0:
        raise ExportError(
            f"{source.path} has no sample between {t0:g} and {t1:g} s "
            f"(it covers {source.t_start:g}–{source.t_stop:g} s)."
        )
    return t0, t1


def read_window(
    source: TimeSeriesSource, t0: float, t1: float, channels: np.ndarray | None = None
) -> WindowData:
    """Physical values and times of the samples with ``t0 <= t < t1`` (blocking read)."""
    idx = np.arange(source.n_channels) if channels is None else np.asarray(channels, np.int64)
    times, values = source.samples(t0, t1, idx)
    labels = [source.channels[int(c)].label for c in idx]
    return WindowData(source.path, np.asarray(times, np.float64), values, idx, labels, source.unit)


def read_window_at(
    file: OpenFile, path: str, t0: float, t1: float, channels: np.ndarray | None = None
) -> WindowData:
    """:func:`read_window` of the series at ``path`` of an open file."""
    return read_window(TimeSeriesSource.from_path(file, path), t0, t1, channels)


def _unique(labels: list[str]) -> list[str]:
    """Column names: the labels, with ``#k`` added where two channels share one."""
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [f"{label}#{k}" if seen[label] > 1 else label for k, label in enumerate(labels)]


def write_window(window: WindowData, out: str | os.PathLike) -> Path:
    """Write ``window`` as ``.csv``, ``.npy`` or ``.npz`` (chosen by the suffix of ``out``)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".npy":
        np.save(out, np.ascontiguousarray(window.data, dtype=np.float64))
    elif suffix == ".npz":
        np.savez(
            out,
            data=np.ascontiguousarray(window.data, dtype=np.float64),
            time=window.time,
            channels=np.asarray(window.labels, dtype=str),
            channel_index=window.channels,
            unit=np.asarray(window.unit),
            series=np.asarray(window.path),
        )
    elif suffix == ".csv":
        _write_csv(window, out)
    else:
        raise ExportError(
            f"cannot write samples as {suffix or 'a file without extension'}: "
            f"use one of {', '.join(DATA_SUFFIXES)}."
        )
    return out


def _write_csv(window: WindowData, out: Path) -> None:
    names = ["time_s", *(_unique(window.labels))]
    header = ",".join(_csv_field(n) for n in names)
    table = np.column_stack([window.time, window.data]) if window.time.size else None
    with open(out, "w", encoding="utf-8", newline="") as handle:
        handle.write(header + "\n")
        if table is None:
            return
        # blocks of rows: savetxt's per-row formatting, without one giant string in memory
        step = 20_000
        for i in range(0, table.shape[0], step):
            buffer = io.StringIO()
            np.savetxt(buffer, table[i : i + step], fmt=f"%.{_CSV_DIGITS}g", delimiter=",")
            handle.write(buffer.getvalue())


def _csv_field(text: str) -> str:
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text
