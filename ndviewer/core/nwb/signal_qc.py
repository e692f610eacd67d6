"""Signal QC of one TimeSeries in NWB terms: channel labels, physical units, session times.

:mod:`ndviewer.core.signal.recording_qc` does the maths over stored samples; this module says
what they mean in the file: which electrode (table row and id) each column records, the unit
and scale of the samples, and the session times of bad ranges. The result is what the CLI
prints as JSON and what the write-back (``core.edit.qc_writeback``) stores: a ``bad_channel``
column on the electrodes table and rows of ``/intervals/invalid_times``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import h5py
import numpy as np

from ndviewer.core.errors import NdviewerError
from ndviewer.core.nwb.timeseries import TimeSeriesSource
from ndviewer.core.signal.recording_qc import QcSettings, RecordingQC, recording_qc

__all__ = ["BadTime", "ChannelFinding", "SeriesQC", "series_qc"]


@dataclass(frozen=True)
class ChannelFinding:
    """One channel's QC: ``row`` is its electrodes-table row (None without a table)."""

    index: int
    label: str
    rms: float
    flags: tuple[str, ...]
    row: int | None = None
    line_hz: float = 0.0


@dataclass(frozen=True)
class BadTime:
    """A stretch of the recording, in session seconds, that no channel should be trusted in."""

    start: float
    stop: float
    reason: str


@dataclass
class SeriesQC:
    """QC of one series, ready to print or to write back."""

    file: str
    object: str
    unit: str
    channels: list[ChannelFinding]
    bad_times: list[BadTime]
    electrodes_table: str | None = None
    read_fraction: float = 0.0
    recording: RecordingQC | None = field(default=None, repr=False)

    @property
    def flagged(self) -> bool:
        return any(c.flags for c in self.channels) or bool(self.bad_times)

    def bad_rows(self) -> dict[int, bool]:
        """Electrodes-table row → bad (any flag), for the channels this series records."""
        return {c.row: bool(c.flags) for c in self.channels if c.row is not None}

    def to_json(self) -> dict:
        """The ``ndviewer qc --json`` object (see ``cli_qc``)."""
        return {
            "file": self.file,
            "object": self.object,
            "channels": [
                {
                    "index": c.index,
                    "label": c.label,
                    "rms": float(c.rms),
                    "unit": self.unit,
                    "flags": list(c.flags),
                }
                for c in self.channels
            ],
            "bad_times": [
                {"start": b.start, "stop": b.stop, "reason": b.reason} for b in self.bad_times
            ],
            "read_fraction": self.read_fraction,
        }


def _electrode_rows(group: h5py.Group, n_channels: int) -> tuple[str | None, list[int] | None]:
    """The electrodes table a series' ``electrodes`` region points into, and its row per
    column; (None, None) when there is none or it does not match the data."""
    region = group.get("electrodes")
    if not isinstance(region, h5py.Dataset) or region.ndim != 1 or region.shape[0] != n_channels:
        return None, None
    try:
        table = group.file[region.attrs["table"]]
        rows = [int(r) for r in np.asarray(region[()], dtype=np.int64)]
        n_rows = int(table["id"].shape[0])
    except (KeyError, OSError, ValueError, TypeError):
        return None, None
    if any(not 0 <= r < n_rows for r in rows):
        return None, None
    return table.name, rows


def _rate(source: TimeSeriesSource) -> float | None:
    rate = getattr(source.time_axis, "rate", None)
    if source.time_source == "rate" and rate:
        return float(rate)
    if source.time_source == "timestamps" and source.n_samples > 1:
        span = source.t_stop - source.t_start
        return (source.n_samples - 1) / span if span > 0 else None
    return None


def _time_of_stop(source: TimeSeriesSource, stop: int, rate: float | None) -> float:
    if stop < source.n_samples:
        return float(source.time_axis.time_of(stop))
    last = float(source.time_axis.time_of(source.n_samples - 1))
    return last + (1.0 / rate if rate else 0.0)


def series_qc(
    source: TimeSeriesSource,
    *,
    file_name: str = "",
    settings: QcSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> SeriesQC:
    """Signal QC of ``source`` (see :mod:`ndviewer.core.signal.recording_qc`).

    Raises ``NdviewerError`` when the series has no samples, ``QcCancelled`` when cancelled.
    """
    if source.n_samples < 2 or source.n_channels < 1:
        raise NdviewerError(f"{source.path} has no samples to check.")
    group = getattr(source, "_group", None)
    chunk_rows = None
    table, rows = None, None
    if isinstance(group, h5py.Group):
        data = group.get("data")
        if isinstance(data, h5py.Dataset) and data.chunks:
            chunk_rows = int(data.chunks[0])
        table, rows = _electrode_rows(group, source.n_channels)
    rate = _rate(source)
    result = recording_qc(
        source.read,
        source.n_samples,
        source.n_channels,
        source.dtype,
        rate=rate,
        scale=source.scale(),
        chunk_rows=chunk_rows,
        settings=settings,
        progress=progress,
        cancelled=cancelled,
    )
    channels = [
        ChannelFinding(
            index=c,
            label=source.channels[c].label,
            rms=float(result.rms[c]),
            flags=tuple(result.flags(c)),
            row=rows[c] if rows is not None else None,
            line_hz=float(result.line_hz[c]),
        )
        for c in range(source.n_channels)
    ]
    bad_times = [
        BadTime(float(source.time_axis.time_of(start)), _time_of_stop(source, stop, rate), reason)
        for start, stop, reason in result.bad_ranges
    ]
    return SeriesQC(
        file=file_name,
        object=source.path,
        unit=source.unit,
        channels=channels,
        bad_times=bad_times,
        electrodes_table=table,
        read_fraction=result.read_fraction,
        recording=result,
    )
