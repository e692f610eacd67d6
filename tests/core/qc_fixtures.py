"""Recordings with planted defects (and their clean twins) for signal QC tests.

Pink noise with per-channel gain and spikes on neighbouring channels (what a clean probe looks
like), then, for the defective twin: a flat channel, one clipped at the int16 rails, one
clipped at a plateau, a noisy channel, 60 Hz on a few channels, one shared artefact and one
dropout. Written by pynwb as an ElectricalSeries so the tests read real NWB.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import numpy as np

RATE = 10_000.0
SECONDS = 10.0
CHANNELS = 32
CONVERSION = 0.195e-6
FLAT, RAIL_CLIPPED, PLATEAU_CLIPPED, NOISY = 3, 9, 12, 17
LINE_CHANNELS = (20, 21, 22)
ARTEFACT = (4.0, 4.03)
DROPOUT = (7.0, 7.2)


@dataclass(frozen=True)
class Planted:
    flat: int = FLAT
    clipped: tuple[int, ...] = (RAIL_CLIPPED, PLATEAU_CLIPPED)
    noisy: int = NOISY
    line: tuple[int, ...] = LINE_CHANNELS
    artefact: tuple[float, float] = ARTEFACT
    dropout: tuple[float, float] = DROPOUT


def pink_noise(rng: np.random.Generator, n: int, channels: int) -> np.ndarray:
    """Unit-spread noise with a 1/f power spectrum above 1 Hz, per column."""
    white = rng.standard_normal((n, channels))
    spectrum = np.fft.rfft(white, axis=0)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum *= (1.0 / np.sqrt(np.maximum(freqs, 1.0)))[:, None]
    pink = np.fft.irfft(spectrum, n=n, axis=0)
    pink /= pink.std(axis=0)
    return 0.5 * pink + 0.87 * rng.standard_normal((n, channels))


def clean_recording(seed: int = 0, seconds: float = SECONDS) -> np.ndarray:
    """int16 samples (time × channels): noise of ~20 LSB and spikes of 5-15 noise SDs."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    gain = rng.uniform(0.8, 1.25, CHANNELS)
    data = 20.0 * pink_noise(rng, n, CHANNELS) * gain
    template = -np.exp(-(((np.arange(30) - 8) / 2.5) ** 2)) + 0.3 * np.exp(
        -(((np.arange(30) - 16) / 5.0) ** 2)
    )
    for _ in range(int(40 * seconds)):
        s = rng.integers(0, n - 30)
        c = int(rng.integers(0, CHANNELS))
        amp = rng.uniform(100, 300)
        for c2 in range(max(0, c - 1), min(CHANNELS, c + 2)):
            data[s : s + 30, c2] += amp * (0.5 if c2 != c else 1.0) * template
    return np.round(data).astype(np.int16)


def defective_recording(seed: int = 0) -> np.ndarray:
    """The clean recording with every planted defect of :class:`Planted`."""
    rng = np.random.default_rng(seed + 100)
    data = clean_recording(seed).astype(np.float64)
    n = data.shape[0]
    t = np.arange(n) / RATE
    data[:, FLAT] = 12.0
    data[:, RAIL_CLIPPED] = 45000.0 * np.sin(2 * np.pi * 3.0 * t) + data[:, RAIL_CLIPPED]
    data[:, PLATEAU_CLIPPED] = np.clip(
        400.0 * np.sin(2 * np.pi * 5.0 * t) + data[:, PLATEAU_CLIPPED], -250, 250
    )
    data[:, NOISY] = data[:, NOISY] * 8.0
    for c in LINE_CHANNELS:
        data[:, c] += 12.0 * np.sin(2 * np.pi * 60.0 * t + rng.uniform(0, 6))
    a0, a1 = (int(round(v * RATE)) for v in ARTEFACT)
    ramp = np.exp(-np.arange(a1 - a0) / ((a1 - a0) / 3.0))
    data[a0:a1, :] += 3000.0 * ramp[:, None] * rng.uniform(0.7, 1.3, CHANNELS)[None, :]
    data = np.clip(np.round(data), -32768, 32767)
    d0, d1 = (int(round(v * RATE)) for v in DROPOUT)
    data[d0:d1, :] = 0
    return data.astype(np.int16)


def write_series_nwb(
    path: Path,
    data: np.ndarray,
    rate: float = RATE,
    *,
    extra_bad_electrodes: int = 0,
    invalid_times: list[tuple[float, float, str]] | None = None,
) -> Path:
    """An NWB file (pynwb) with ``data`` as /acquisition/ElectricalSeries, chunked, electrodes
    with ids 100.. (so labels differ from column indices).

    ``extra_bad_electrodes`` adds rows the series does not record, with a pynwb-written
    ``bad_channel`` column that is True for them; ``invalid_times`` pre-fills that table
    (with a ``reason`` column and a ``tags`` column, ragged)."""
    from datetime import datetime

    from hdmf.backends.hdf5 import H5DataIO
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.ecephys import ElectricalSeries

    nwb = NWBFile(
        session_description="QC fixture",
        identifier=f"qc-{path.stem}",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    device = nwb.create_device(name="probe")
    group = nwb.create_electrode_group(
        name="shank0", description="shank", location="CA1", device=device
    )
    if extra_bad_electrodes:
        nwb.add_electrode_column(name="bad_channel", description="marked by hand")
    for c in range(data.shape[1] + extra_bad_electrodes):
        extra = {"bad_channel": c >= data.shape[1]} if extra_bad_electrodes else {}
        nwb.add_electrode(id=100 + c, group=group, location="CA1", **extra)
    if invalid_times:
        nwb.add_invalid_times_column(name="reason", description="why")
        for start, stop, reason in invalid_times:
            nwb.add_invalid_time_interval(
                start_time=start, stop_time=stop, reason=reason, tags=["by-hand", reason]
            )
    region = nwb.create_electrode_table_region(list(range(data.shape[1])), "all electrodes")
    series = ElectricalSeries(
        name="ElectricalSeries",
        data=H5DataIO(data, chunks=(int(rate), data.shape[1])),
        electrodes=region,
        rate=rate,
        conversion=CONVERSION,
    )
    nwb.add_acquisition(series)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path
