"""Small NWB files for the trace panel's tests, written with pynwb (the oracle) into tmp_path.

``write_traces_nwb(path)`` writes one file holding every kind of series and overlay the trace
panel handles and returns the arrays it wrote, so tests compare what ndviewer reads with what
went in (and with what pynwb reads back).
"""

from __future__ import annotations

import datetime
import warnings
from pathlib import Path

import numpy as np

RATE = 1000.0
N_SAMPLES = 5000
N_CHANNELS = 8


def write_traces_nwb(path: Path, n_samples: int = N_SAMPLES, seed: int = 0) -> dict:
    """Write the fixture file; returns the written arrays and parameters by name."""
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.behavior import Position, SpatialSeries
    from pynwb.ecephys import LFP, ElectricalSeries
    from pynwb.epoch import TimeIntervals
    from pynwb.event import EventsTable
    from pynwb.misc import AnnotationSeries, IntervalSeries

    rng = np.random.default_rng(seed)
    nwb = NWBFile(
        session_description="trace fixtures",
        identifier="traces",
        session_start_time=datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    )
    device = nwb.create_device("probe")
    groups = [
        nwb.create_electrode_group(f"shank{k}", "shank", "CA1" if k == 0 else "DG", device)
        for k in range(2)
    ]
    locations = []
    for i in range(N_CHANNELS):
        group = groups[i // 4]
        location = "CA1" if i < 4 else "DG"
        locations.append(location)
        nwb.add_electrode(group=group, location=location, id=100 + i)
    region = nwb.create_electrode_table_region(list(range(N_CHANNELS)), "all electrodes")
    raw = rng.integers(-2000, 2000, size=(n_samples, N_CHANNELS)).astype(np.int16)
    channel_conversion = np.linspace(0.5, 2.0, N_CHANNELS).astype(np.float32)
    es = ElectricalSeries(
        name="raw",
        data=H5DataIO(raw, chunks=(min(1000, n_samples), 4), compression="gzip", shuffle=True),
        electrodes=region,
        rate=RATE,
        starting_time=1.5,
        conversion=2e-6,
        offset=1e-4,
        channel_conversion=channel_conversion,
    )
    nwb.add_acquisition(es)

    # LFP over a subset, in a processing module, with timestamps (irregular)
    sub = nwb.create_electrode_table_region([5, 2, 7], "three electrodes")
    lfp_data = rng.normal(size=(600, 3)).astype(np.float32)
    lfp_data[100:110, 1] = np.nan
    lfp_times = np.cumsum(rng.uniform(0.004, 0.006, size=600)) + 0.25
    lfp = ElectricalSeries(name="lfp", data=lfp_data, electrodes=sub, timestamps=lfp_times)
    module = nwb.create_processing_module("ecephys", "processed")
    module.add(LFP(electrical_series=lfp))

    one_d = rng.normal(size=1234)
    nwb.add_acquisition(TimeSeries(name="one_d", data=one_d, unit="m", rate=50.0))
    nwb.add_acquisition(
        TimeSeries(name="empty", data=np.zeros((0, 3)), unit="a.u.", rate=10.0, starting_time=2.0)
    )
    position = rng.normal(size=(300, 2))
    behavior = nwb.create_processing_module("behavior", "behavior")
    behavior.add(
        Position(
            spatial_series=SpatialSeries(
                name="position", data=position, reference_frame="arena", rate=30.0
            )
        )
    )

    # overlays
    nwb.add_trial_column("condition", "stimulus condition")
    trials = [(0.5, 1.0, "left"), (2.0, 2.5, "right"), (3.0, 4.5, "left")]
    for start, stop, cond in trials:
        nwb.add_trial(start_time=start, stop_time=stop, condition=cond)
    nwb.add_epoch(0.0, 6.0, ["session"])
    nwb.add_invalid_time_interval(start_time=4.0, stop_time=4.2)
    custom = TimeIntervals(name="stimuli", description="custom intervals")
    custom.add_interval(start_time=1.2, stop_time=1.3, tags=["flash"])
    nwb.add_time_intervals(custom)
    spikes = [np.sort(rng.uniform(0, 6, size=k)) for k in (30, 5, 0, 12)]
    for i, train in enumerate(spikes):
        nwb.add_unit(spike_times=train, id=10 + i)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nwb.add_acquisition(
            AnnotationSeries(
                name="notes", data=["go", "stop", "reward"], timestamps=[1.0, 2.0, 3.0]
            )
        )
        nwb.add_acquisition(
            IntervalSeries(name="laser", data=[1, -1, 1, -1], timestamps=[1.0, 1.25, 3.0, 3.5])
        )
    events = EventsTable(name="licks", description="licks")
    for t in (0.75, 2.25, 5.0):
        events.add_row(timestamp=t)
    nwb.add_events_table(events)

    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return {
        "raw": raw,
        "channel_conversion": channel_conversion,
        "locations": locations,
        "lfp": lfp_data,
        "lfp_times": lfp_times,
        "one_d": one_d,
        "position": position,
        "trials": trials,
        "spikes": spikes,
    }
