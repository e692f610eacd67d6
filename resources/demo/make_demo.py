"""Build ndviewer's demo NWB file: a small, realistic, deterministic recording session.

``make run`` runs this script once (it needs pynwb and ndx-events, which the test extras
install) and opens the result; the application never imports it. The session has what a
viewer must show well: 32-channel raw ephys at 30 kHz with spikes, one dead and one saturated
channel for the quality checks, LFP, sorted units, trials and epochs, a two-photon stack with
ROIs and their traces, position and running speed, reward and lick events. The subject's age is left
out on purpose, so the metadata editor has something to flag.

Usage: ``python resources/demo/make_demo.py OUT.nwb [--scale 0.1]``
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import warnings
from pathlib import Path

import numpy as np

SEED = 20240301
SESSION_START = datetime.datetime(
    2024, 3, 1, 9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=1))
)
#: Seconds of session covered by the slower streams (imaging, LFP, behaviour, units, trials):
#: minutes, so that the whole-session strip, the level-of-detail pyramid and paging matter.
SESSION_SECONDS = 120.0
#: Seconds of raw 30 kHz data (the biggest stream, generated and written block by block).
RAW_SECONDS = 120.0
#: Raw samples generated per block (10 s): memory stays flat whatever the duration.
RAW_BLOCK = 300_000
RAW_RATE = 30_000.0
LFP_RATE = 1_000.0
N_CHANNELS = 32
CHANNELS_PER_SHANK = 16
MICROVOLTS_PER_BIT = 0.195  # Intan-like amplifier
DEAD_CHANNEL = 7
SATURATED_CHANNEL = 21
N_UNITS = 20
WAVEFORM_SAMPLES = 40
IMAGING_RATE = 30.0
IMAGE_SIZE = 128
N_ROIS = 15
POSITION_RATE = 60.0
N_TRIALS = 20


def _theta(t: np.ndarray, channels: np.ndarray) -> np.ndarray:
    """LFP-like background in microvolts: theta whose phase drifts with depth, plus a slow wave."""
    depth_phase = channels[None, :] * (np.pi / N_CHANNELS)
    return 120.0 * np.sin(2 * np.pi * 8.0 * t[:, None] + depth_phase) + 60.0 * np.sin(
        2 * np.pi * 1.3 * t[:, None]
    )


def _spike_template(amplitude: float) -> np.ndarray:
    """A biphasic extracellular spike (microvolts) over ``WAVEFORM_SAMPLES`` samples."""
    t = (np.arange(WAVEFORM_SAMPLES) - 12) / RAW_RATE * 1000.0  # ms, trough at sample 12
    return -amplitude * np.exp(-((t / 0.18) ** 2)) + 0.35 * amplitude * np.exp(
        -(((t - 0.45) / 0.35) ** 2)
    )


def _units(rng: np.random.Generator, duration: float) -> list[dict]:
    units = []
    for unit in range(N_UNITS):
        peak = int(rng.integers(1, N_CHANNELS - 1))
        if peak in (DEAD_CHANNEL, SATURATED_CHANNEL):
            peak += 1
        shank_start = (peak // CHANNELS_PER_SHANK) * CHANNELS_PER_SHANK
        centre = min(max(peak, shank_start + 1), shank_start + CHANNELS_PER_SHANK - 2)
        rate = float(rng.uniform(2.0, 18.0))
        n_spikes = int(rng.poisson(rate * duration))
        times = np.sort(rng.uniform(0.0, duration, n_spikes))
        # refractory period: drop spikes closer than 2 ms to the previous one
        if times.size:
            times = times[np.concatenate([[True], np.diff(times) > 0.002])]
        amplitude = float(rng.uniform(60.0, 220.0))
        units.append(
            {
                "id": unit,
                "channels": [centre - 1, centre, centre + 1],
                "spike_times": np.round(times, 5),
                "amplitude": amplitude,
                "quality": "good" if amplitude > 100 else "mua",
            }
        )
    return units


def _raw_noise(start: int, stop: int) -> np.ndarray:
    """Amplifier noise (microvolts) for samples ``start:stop``, one seed per second."""
    second = int(RAW_RATE)
    first, last = start // second, -(-stop // second)
    seconds = [
        np.random.default_rng([SEED, k]).normal(0.0, 12.0, size=(second, N_CHANNELS))
        for k in range(first, last)
    ]
    offset = start - first * second
    return np.concatenate(seconds)[offset : offset + stop - start].astype(np.float32)


def _raw_block(start: int, stop: int, units: list[dict]) -> np.ndarray:
    """Raw int16 samples ``start:stop``: noise + LFP + spikes, one dead and one saturated channel.

    The noise of each second comes from that second's own seed, so the file is the same
    whatever block size the writer asks for, and no block needs the others in memory.
    """
    n_samples = stop - start
    channels = np.arange(N_CHANNELS)
    t = np.arange(start, stop) / RAW_RATE
    signal = _raw_noise(start, stop)
    signal += _theta(t, channels).astype(np.float32)
    for unit in units:
        onsets = np.round(unit["spike_times"] * RAW_RATE).astype(np.int64) - 12
        onsets = onsets[(onsets + WAVEFORM_SAMPLES > start) & (onsets < stop)]
        template = np.tile(_spike_template(unit["amplitude"]).astype(np.float32), len(onsets))
        rows = (onsets[:, None] + np.arange(WAVEFORM_SAMPLES)[None, :]).ravel() - start
        inside = (rows >= 0) & (rows < n_samples)
        for weight, channel in zip((0.5, 1.0, 0.6), unit["channels"]):
            np.add.at(signal[:, channel], rows[inside], weight * template[inside])
    counts = np.round(signal / MICROVOLTS_PER_BIT)
    counts[:, SATURATED_CHANNEL] = 40.0 * counts[:, SATURATED_CHANNEL] + 9000.0
    counts = np.clip(counts, -32768, 32767).astype(np.int16)
    counts[:, DEAD_CHANNEL] = 0
    return counts


def _raw_data(n_samples: int, units: list[dict]):
    """The raw stream as an hdmf chunk iterator: pynwb writes it block by block."""
    from hdmf.data_utils import GenericDataChunkIterator

    class RawBlocks(GenericDataChunkIterator):
        def _get_data(self, selection: tuple[slice, ...]) -> np.ndarray:
            rows = selection[0]
            block = _raw_block(rows.start or 0, rows.stop or n_samples, units)
            return block[:, selection[1]]

        def _get_maxshape(self) -> tuple[int, int]:
            return (n_samples, N_CHANNELS)

        def _get_dtype(self) -> np.dtype:
            return np.dtype(np.int16)

    chunk_rows = min(30_000, n_samples)
    buffer_rows = min(RAW_BLOCK, n_samples) // chunk_rows * chunk_rows
    return RawBlocks(chunk_shape=(chunk_rows, N_CHANNELS), buffer_shape=(buffer_rows, N_CHANNELS))


def _lfp(rng: np.random.Generator, n_samples: int) -> np.ndarray:
    """LFP in volts (float32): the same background as the raw data, band-limited noise."""
    channels = np.arange(N_CHANNELS)
    t = np.arange(n_samples) / LFP_RATE
    noise = np.cumsum(rng.normal(0.0, 2.0, size=(n_samples, N_CHANNELS)), axis=0)
    noise -= np.linspace(0, 1, n_samples)[:, None] * noise[-1:]  # no drift
    lfp = (_theta(t, channels) + noise) * 1e-6
    lfp[:, DEAD_CHANNEL] = 0.0
    return lfp.astype(np.float32)


def _roi_masks(rng: np.random.Generator) -> list[np.ndarray]:
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]
    masks = []
    for _ in range(N_ROIS):
        cy, cx = rng.uniform(12, IMAGE_SIZE - 12, size=2)
        radius = rng.uniform(3.0, 6.0)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (radius / 1.5) ** 2))
        blob[blob < 0.1] = 0.0
        masks.append(blob.astype(np.float32))
    return masks


def _calcium_traces(rng: np.random.Generator, n_frames: int) -> np.ndarray:
    """dF/F-like traces (frames x ROIs): sparse events convolved with a decaying kernel."""
    events = (rng.random((n_frames, N_ROIS)) < 0.02) * rng.uniform(0.5, 2.0, (n_frames, N_ROIS))
    kernel = np.exp(-np.arange(60) / (0.6 * IMAGING_RATE))
    traces = np.stack(
        [np.convolve(events[:, roi], kernel)[:n_frames] for roi in range(N_ROIS)], axis=1
    )
    return (traces + rng.normal(0, 0.03, traces.shape)).astype(np.float32)


def _movie(rng: np.random.Generator, masks: list[np.ndarray], dff: np.ndarray) -> np.ndarray:
    """uint16 frames: a vignetted background, ROIs brightening with their traces, shot noise."""
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]
    centre = (IMAGE_SIZE - 1) / 2
    background = 60.0 + 40.0 * np.exp(-((yy - centre) ** 2 + (xx - centre) ** 2) / 3000.0)
    stacked = np.stack(masks).astype(np.float32)  # rois x y x
    baseline = (background + 80.0 * stacked.sum(axis=0)).astype(np.float32)
    movie = np.empty((len(dff), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint16)
    for start in range(0, len(dff), 300):  # in blocks: no float64 copy of the whole stack
        rise = np.tensordot(np.clip(dff[start : start + 300], 0, None), stacked, axes=(1, 0))
        movie[start : start + 300] = rng.poisson(baseline[None] + 80.0 * rise)
    return movie


def build_demo(path: str | os.PathLike, scale: float = 1.0) -> Path:
    """Write the demo session to ``path`` and return it.

    ``scale`` shrinks the durations (and so the file) while keeping every object, so tests can
    build a small copy with the same tree; 1.0 gives the two-minute session that ``make run``
    opens.
    """
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.behavior import BehavioralTimeSeries, Position, SpatialSeries
    from pynwb.ecephys import LFP, ElectricalSeries
    from pynwb.file import Subject
    from pynwb.misc import Units
    from pynwb.ophys import (
        DfOverF,
        Fluorescence,
        ImageSegmentation,
        OpticalChannel,
        TwoPhotonSeries,
    )

    with warnings.catch_warnings():  # ndx-events re-declares types that core 2.11 now has
        warnings.simplefilter("ignore", UserWarning)
        import ndx_events

    rng = np.random.default_rng(SEED)
    session_seconds = SESSION_SECONDS * scale
    n_raw = max(int(RAW_SECONDS * scale * RAW_RATE), 1000)
    n_lfp = int(session_seconds * LFP_RATE)
    n_frames = max(int(session_seconds * IMAGING_RATE), 10)
    n_position = int(session_seconds * POSITION_RATE)

    nwb = NWBFile(
        session_description="Head-fixed mouse running a two-choice licking task while CA1 is "
        "recorded with a 2-shank silicon probe and V1 is imaged through a cranial window.",
        identifier="ndviewer-demo-0001",
        session_start_time=SESSION_START,
        experimenter=["Doe, Jane", "Roe, Richard"],
        institution="Institute of Example Neuroscience",
        lab="Systems Neuroscience Lab",
        keywords=["hippocampus", "visual cortex", "two-photon", "silicon probe", "licking"],
        experiment_description="Demo session generated by ndviewer (synthetic data).",
        session_id="session-001",
        subject=Subject(
            subject_id="mouse-042",
            species="Mus musculus",
            sex="F",
            strain="C57BL/6J",
            genotype="Thy1-GCaMP6f",
            weight="0.024 kg",
            description="Synthetic subject; age left out on purpose.",
        ),
    )

    # -- extracellular ephys ------------------------------------------------------------------
    probe = nwb.create_device(
        "probe", description="2-shank silicon probe, 16 sites per shank", manufacturer="Demo"
    )
    shanks = [
        nwb.create_electrode_group(
            f"shank{i}", description=f"shank {i}", location="CA1", device=probe
        )
        for i in range(2)
    ]
    for channel in range(N_CHANNELS):
        shank = channel // CHANNELS_PER_SHANK
        site = channel % CHANNELS_PER_SHANK
        nwb.add_electrode(
            group=shanks[shank],
            location="CA1",
            x=shank * 250.0,
            y=site * 20.0,
            z=0.0,
        )
    all_channels = nwb.create_electrode_table_region(list(range(N_CHANNELS)), "all 32 channels")
    units = _units(rng, session_seconds)
    nwb.add_acquisition(
        ElectricalSeries(
            name="ElectricalSeries",
            description="raw voltage, 30 kHz, 0.195 uV per bit",
            data=H5DataIO(_raw_data(n_raw, units), compression="gzip", shuffle=True),
            electrodes=all_channels,
            rate=RAW_RATE,
            starting_time=0.0,
            conversion=MICROVOLTS_PER_BIT * 1e-6,
        )
    )
    ecephys = nwb.create_processing_module("ecephys", "LFP and spike sorting results")
    lfp_region = nwb.create_electrode_table_region(list(range(N_CHANNELS)), "LFP channels")
    lfp = LFP()
    ecephys.add(lfp)  # in the file before its series points at the electrodes table
    lfp.add_electrical_series(
        ElectricalSeries(
            name="LFP",
            description="low-pass filtered and downsampled to 1 kHz",
            data=H5DataIO(_lfp(rng, n_lfp), chunks=True, compression="gzip"),
            electrodes=lfp_region,
            rate=LFP_RATE,
            filtering="4th order Butterworth low-pass at 300 Hz",
        )
    )
    nwb.units = Units(
        name="units",
        description="sorted units (synthetic)",
        electrode_table=nwb.electrodes,
        resolution=1.0 / RAW_RATE,
        waveform_rate=RAW_RATE,
        waveform_unit="volts",
        waveform_time_before_peak_in_ms=12 / RAW_RATE * 1000.0,
    )
    nwb.add_unit_column("quality", "curation label (good / mua)")
    nwb.add_unit_column("amplitude", "peak amplitude of the mean waveform (uV)")
    for unit in units:
        template = _spike_template(unit["amplitude"])
        waveform = np.stack([0.5 * template, template, 0.6 * template], axis=1) * 1e-6
        nwb.add_unit(
            id=unit["id"],
            spike_times=unit["spike_times"],
            obs_intervals=[[0.0, session_seconds]],
            electrodes=unit["channels"],
            waveform_mean=waveform.astype(np.float32),
            quality=unit["quality"],
            amplitude=unit["amplitude"],
        )

    # -- trials and epochs ------------------------------------------------------------------
    trial_length = session_seconds / (N_TRIALS + 1)
    nwb.add_trial_column("condition", "rewarded side (left / right)")
    nwb.add_trial_column("correct", "whether the first lick was on the rewarded side")
    nwb.add_trial_column("response_time", "first lick after stimulus onset (s)")
    lick_times: list[float] = []
    lick_sides: list[str] = []
    reward_times: list[float] = []
    for trial in range(N_TRIALS):
        start = trial_length * (trial + 0.5)
        condition = "left" if rng.random() < 0.5 else "right"
        correct = bool(rng.random() < 0.75)
        response = float(rng.uniform(0.15, 0.45) * trial_length)
        side = condition if correct else ("right" if condition == "left" else "left")
        for k in range(3):
            lick_times.append(round(start + response + k * 0.06 * trial_length, 5))
            lick_sides.append(side)
        if correct:
            reward_times.append(round(start + response, 5))
        nwb.add_trial(
            start_time=round(start, 5),
            stop_time=round(start + 0.8 * trial_length, 5),
            condition=condition,
            correct=correct,
            response_time=round(response, 5),
        )
    nwb.add_epoch(0.0, 0.5 * trial_length, ["baseline"])
    nwb.add_epoch(0.5 * trial_length, session_seconds - 0.5 * trial_length, ["task"])
    nwb.add_epoch(session_seconds - 0.5 * trial_length, session_seconds, ["post"])

    # -- two-photon imaging ---------------------------------------------------------------------
    scope = nwb.create_device("two_photon_microscope", description="resonant scanner")
    plane = nwb.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=OpticalChannel(
            name="green", description="GCaMP6f emission", emission_lambda=520.0
        ),
        description="V1 layer 2/3, 128 x 128 pixels",
        device=scope,
        excitation_lambda=920.0,
        indicator="GCaMP6f",
        location="VISp",
        imaging_rate=IMAGING_RATE,
        grid_spacing=[2e-6, 2e-6],
        grid_spacing_unit="meters",
    )
    masks = _roi_masks(rng)
    dff = _calcium_traces(rng, n_frames)
    nwb.add_acquisition(
        TwoPhotonSeries(
            name="TwoPhotonSeries",
            description="raw frames",
            data=H5DataIO(
                _movie(rng, masks, dff),
                chunks=(1, IMAGE_SIZE, IMAGE_SIZE),
                compression="gzip",
                shuffle=True,
            ),
            imaging_plane=plane,
            rate=IMAGING_RATE,
            unit="n.a.",
        )
    )
    ophys = nwb.create_processing_module("ophys", "segmentation and ROI traces")
    segmentation = ImageSegmentation()
    ophys.add(segmentation)
    rois = segmentation.create_plane_segmentation(
        name="PlaneSegmentation", description="hand-curated somata", imaging_plane=plane
    )
    for mask in masks:
        rois.add_roi(image_mask=mask)
    roi_region = rois.create_roi_table_region("all ROIs", region=list(range(N_ROIS)))
    fluorescence = Fluorescence()
    ophys.add(fluorescence)  # in the file before its series point at the ROI table
    fluorescence.create_roi_response_series(
        name="RoiResponseSeries",
        description="mean fluorescence inside each ROI",
        data=(100.0 * (1.0 + dff)).astype(np.float32),
        rois=roi_region,
        unit="a.u.",
        rate=IMAGING_RATE,
    )
    dff_container = DfOverF()
    ophys.add(dff_container)
    dff_container.create_roi_response_series(
        name="RoiResponseSeries",
        description="dF/F of each ROI (baseline: 10th percentile)",
        data=dff,
        rois=roi_region,
        unit="n.a.",
        rate=IMAGING_RATE,
    )

    # -- behaviour -------------------------------------------------------------------------------
    behavior = nwb.create_processing_module("behavior", "position, rewards")
    t = np.arange(n_position) / POSITION_RATE
    angle = 2 * np.pi * 0.15 * t + 0.3 * np.sin(2 * np.pi * 0.4 * t)
    position = Position()
    position.add_spatial_series(
        SpatialSeries(
            name="SpatialSeries",
            description="head position on a circular treadmill",
            data=np.column_stack([0.2 * np.cos(angle), 0.2 * np.sin(angle)]),
            reference_frame="treadmill centre",
            rate=POSITION_RATE,
        )
    )
    behavior.add(position)
    speed = BehavioralTimeSeries()
    speed.add_timeseries(
        TimeSeries(
            name="running_speed",
            description="treadmill speed from the rotary encoder",
            data=np.abs(np.gradient(angle, t if len(t) > 1 else 1.0)) * 0.2,
            unit="m/s",
            rate=POSITION_RATE,
        )
    )
    behavior.add(speed)

    rewards = ndx_events.EventsTable(name="rewards", description="water reward deliveries")
    rewards.add_column("volume", "reward volume (microliters)")
    for time in reward_times:
        rewards.add_row(timestamp=time, volume=4.0)
    nwb.add_events_table(rewards)
    licks = ndx_events.EventsTable(
        name="licks", description="lick onsets from an infrared beam break at each spout"
    )
    licks.add_column("spout", "which spout was licked (left / right)")
    for time, side in zip(lick_times, lick_sides):
        licks.add_row(timestamp=time, duration=0.02, spout=side)
    nwb.add_events_table(licks)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.partial{path.suffix}")
    with NWBHDF5IO(str(partial), "w") as io:
        io.write(nwb)
    os.replace(partial, path)  # an interrupted build never leaves a half-written demo
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build ndviewer's demo NWB file.")
    parser.add_argument("output", help="where to write the .nwb file")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full length")
    args = parser.parse_args(argv)
    path = build_demo(args.output, scale=args.scale)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
