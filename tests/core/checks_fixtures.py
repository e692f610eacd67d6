"""pynwb-written files for ``ndviewer check``: a clean session and its defective twin.

The twin has one planted defect per best-practice rule, each at a known object and field
(``PLANTED``); the clean file has the same objects done right. ``write_schema_broken``
damages a clean file's schema with h5py after pynwb wrote it (what a careless converter or a
hand edit leaves), for the comparison with pynwb's validator.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import h5py
import numpy as np

START = datetime(2024, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))
RATE = 1000.0
CHANNELS = 16
SAMPLES = 20_000

#: (check, object path, field) of every defect ``write_checks_file(defective=True)`` plants.
PLANTED = {
    ("species_form", "/general/subject", "species"),
    ("age_form", "/general/subject", "age"),
    ("sex_form", "/general/subject", "sex"),
    ("subject_id_missing", "/general/subject", "subject_id"),
    ("experimenter_form", "/", "experimenter"),
    ("session_description_placeholder", "/", "session_description"),
    ("session_start_no_timezone", "/", "session_start_time"),
    ("publication_not_doi", "/", "related_publications"),
    ("unit_missing", "/acquisition/no_unit", "unit"),
    ("rate_negative", "/acquisition/negative_rate", "rate"),
    ("rate_zero", "/acquisition/zero_rate", "rate"),
    ("timestamps_not_ascending", "/acquisition/unsorted", "timestamps"),
    ("timestamps_regular", "/acquisition/regular", "timestamps"),
    ("negative_start", "/acquisition/early", "starting_time"),
    ("time_axis_transposed", "/acquisition/transposed", "data"),
    ("intervals_start_not_ascending", "/intervals/trials", "start_time"),
    ("description_empty", "/acquisition/undescribed", "description"),
    ("chunks_too_small", "/acquisition/ephys", "data"),
}


def write_checks_file(path: Path, defective: bool) -> Path:
    """A session with subject, series, trials and an ElectricalSeries; with ``defective``
    every object carries the defect listed in ``PLANTED``, otherwise it is done right."""
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.ecephys import ElectricalSeries
    from pynwb.file import Subject

    bad = defective
    nwb = NWBFile(
        session_description="no description" if bad else "Mouse running on a wheel, CA1 probe",
        identifier="checks-" + ("defective" if bad else "clean"),
        session_start_time=START,
        experimenter=["Jane Doe"] if bad else ["Doe, Jane"],
        related_publications=["Smith et al. 2020"] if bad else ["doi:10.1016/j.neuron.2016.12.011"],
        institution="Example University",
        keywords=["checks"],
        experiment_description="fixture for ndviewer check",
        session_id="session-1",
    )
    nwb.subject = Subject(
        subject_id=None if bad else "mouse-042",
        species="mouse" if bad else "Mus musculus",
        age="3 months" if bad else "P90D",
        sex="female" if bad else "F",
        weight="0.025 kg",
        description="a mouse",
    )
    t = np.arange(200) / 100.0

    def series(name: str, **kwargs) -> None:
        kwargs.setdefault("data", np.sin(np.arange(200) / 10.0))
        kwargs.setdefault("unit", "volts")
        kwargs.setdefault("description", f"the {name} signal")
        if "timestamps" not in kwargs:
            kwargs.setdefault("rate", 100.0)
        nwb.add_acquisition(TimeSeries(name=name, **kwargs))

    series("no_unit", unit="" if bad else "volts")
    series("negative_rate")  # pynwb refuses a rate <= 0: planted with h5py below
    series("zero_rate")
    irregular = np.cumsum(np.r_[0.0, 0.01 + 0.001 * (np.arange(199) % 3)])
    unsorted = irregular.copy()
    if bad:
        unsorted[[50, 51]] = unsorted[[51, 50]]
    series("unsorted", timestamps=unsorted)
    series("regular", timestamps=t if bad else irregular)
    series("early", starting_time=-5.0 if bad else 0.0)
    series(
        "transposed",
        data=np.zeros((4, 200)) if bad else np.zeros((200, 4)),
    )
    series("undescribed", description="" if bad else "a described signal")
    device = nwb.create_device("probe", description="a silicon probe")
    group = nwb.create_electrode_group("shank0", "a shank", "CA1", device)
    for channel in range(CHANNELS):
        nwb.add_electrode(group=group, location="CA1", x=float(channel), y=0.0, z=0.0)
    region = nwb.create_electrode_table_region(list(range(CHANNELS)), "all channels")
    samples = (np.arange(SAMPLES * CHANNELS, dtype=np.int64) % 2000 - 1000).astype(np.int16)
    nwb.add_acquisition(
        ElectricalSeries(
            name="ephys",
            data=H5DataIO(
                samples.reshape(SAMPLES, CHANNELS),
                chunks=(64, 1) if bad else (4096, CHANNELS),
            ),
            electrodes=region,
            rate=RATE,
            conversion=0.195e-6,
            description="raw voltage",
        )
    )
    trial_starts = [5.0, 1.0, 9.0] if bad else [1.0, 5.0, 9.0]
    for start in trial_starts:
        nwb.add_trial(start_time=start, stop_time=start + 1.0)
    path = Path(path)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    if bad:  # what pynwb refuses to write, planted as a careless converter would
        with h5py.File(path, "r+") as h5:
            del h5["session_start_time"]
            h5["session_start_time"] = "2024-03-01T09:30:00"
            h5["acquisition/negative_rate/starting_time"].attrs["rate"] = -100.0
            h5["acquisition/zero_rate/starting_time"].attrs["rate"] = 0.0
    return path


def write_schema_broken(path: Path) -> Path:
    """A clean file, then damaged with h5py: a required attribute, a required dataset and a
    required group deleted, an attribute of the wrong dtype, an unknown type, a dangling
    link."""
    write_checks_file(path, defective=False)
    with h5py.File(path, "r+") as h5:
        del h5["acquisition/no_unit/data"].attrs["unit"]
        del h5["identifier"]
        h5["acquisition/early/starting_time"].attrs["rate"] = "fast"
        h5["acquisition/zero_rate"].attrs["neurodata_type"] = "NoSuchSeries"
        del h5["acquisition/ephys/electrodes"]
    return path


#: (path, field) of each error ``write_schema_broken`` plants.
SCHEMA_PLANTED = {
    ("/acquisition/no_unit/data", "unit"),
    ("/", "identifier"),
    ("/acquisition/early/starting_time", "rate"),
    ("/acquisition/zero_rate", "neurodata_type"),
    ("/acquisition/ephys", "electrodes"),
}
