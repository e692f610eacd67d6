"""Small NWB files written with pynwb (the test oracle), one per family of neurodata types.

Each writer puts one file at the given path and returns it. The constants next to each writer
say what went in, so tests compare what ndviewer reads against the values written and against
what pynwb reads back. ``EXPECTED_TYPES`` lists, per file, the exact type at each path that the
tests check; ``write_bad_input`` makes every kind of broken input the viewer must survive.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

SESSION_START = datetime.datetime(2024, 3, 1, 9, 30, tzinfo=datetime.UTC)
REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_SCRIPT = REPO_ROOT / "resources" / "demo" / "make_demo.py"
#: Scale of the demo file built for tests: a fraction of ``make run``'s file, same layout.
DEMO_TEST_SCALE = 0.01

# -- ecephys -----------------------------------------------------------------------------------
ECEPHYS_CHANNELS = 8
ECEPHYS_RATE = 1000.0
ECEPHYS_START = 0.5
ECEPHYS_SAMPLES = 2000
LFP_SAMPLES = 300
# irregular on purpose: a 4 ms grid with a repeating jitter, so no rate describes it
LFP_TIMESTAMPS = 0.1 + 0.004 * np.arange(LFP_SAMPLES) + 0.0005 * (np.arange(LFP_SAMPLES) % 3)
UNIT_SPIKE_TIMES = [np.array([0.6, 0.9, 1.7]), np.array([0.55, 2.1]), np.array([1.0])]

# -- ophys -------------------------------------------------------------------------------------
OPHYS_FRAMES, OPHYS_NX, OPHYS_NY = 12, 16, 10
OPHYS_RATE = 30.0
OPHYS_ROIS = 3

# -- icephys -----------------------------------------------------------------------------------
ICEPHYS_RATE = 20000.0
ICEPHYS_SAMPLES = 500

# -- behaviour ---------------------------------------------------------------------------------
POSITION_RATE = 60.0
POSITION_SAMPLES = 120
REWARD_TIMES = np.array([0.25, 1.5, 1.75, 3.0])

# -- intervals ---------------------------------------------------------------------------------
TRIAL_STARTS = np.array([0.0, 2.0, 4.0, 6.0])
TRIAL_CONDITIONS = ["left", "right", "left", "catch"]

# -- extensions --------------------------------------------------------------------------------
LICK_TIMES = np.array([0.31, 0.62, 1.04, 1.5, 2.2])
POSE_RATE = 25.0
POSE_SAMPLES = 50


def load_make_demo():
    """Import ``resources/demo/make_demo.py`` by path (a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("ndviewer_make_demo", DEMO_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nwbfile(identifier: str, **kwargs):
    from pynwb import NWBFile

    return NWBFile(
        session_description=f"{identifier} fixture",
        identifier=identifier,
        session_start_time=SESSION_START,
        **kwargs,
    )


def _write(nwb, path: Path, cache_spec: bool = True) -> Path:
    from pynwb import NWBHDF5IO

    path = Path(path)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb, cache_spec=cache_spec)
    return path


def ecephys_data() -> np.ndarray:
    """The raw ElectricalSeries samples (int16, time x channels): a ramp per channel."""
    samples = np.arange(ECEPHYS_SAMPLES, dtype=np.int32)[:, None]
    channels = np.arange(ECEPHYS_CHANNELS, dtype=np.int32)[None, :]
    return ((samples * 3 + channels * 100) % 2000 - 1000).astype(np.int16)


def write_ecephys_file(path: Path) -> Path:
    """Raw ElectricalSeries (rate), LFP (timestamps), Units; an extra series links its timestamps."""
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    from pynwb import TimeSeries
    from pynwb.ecephys import LFP, ElectricalSeries

    nwb = _nwbfile("ecephys")
    device = nwb.create_device("probe", description="a silicon probe")
    groups = [nwb.create_electrode_group(f"shank{i}", "a shank", "CA1", device) for i in range(2)]
    for channel in range(ECEPHYS_CHANNELS):
        nwb.add_electrode(
            group=groups[channel // 4],
            location="CA1",
            x=float(channel),
            y=0.0,
            z=0.0,
        )
    region = nwb.create_electrode_table_region(list(range(ECEPHYS_CHANNELS)), "all channels")
    raw = ElectricalSeries(
        name="raw",
        data=H5DataIO(ecephys_data(), chunks=(500, ECEPHYS_CHANNELS), compression="gzip"),
        electrodes=region,
        rate=ECEPHYS_RATE,
        starting_time=ECEPHYS_START,
        conversion=0.195e-6,
    )
    nwb.add_acquisition(raw)
    lfp_region = nwb.create_electrode_table_region([0, 4], "one per shank")
    lfp_series = ElectricalSeries(
        name="lfp",
        data=np.zeros((LFP_SAMPLES, 2), dtype=np.float32),
        electrodes=lfp_region,
        timestamps=LFP_TIMESTAMPS,
    )
    ecephys = nwb.create_processing_module("ecephys", "processed extracellular data")
    lfp = LFP()
    ecephys.add(lfp)  # attached before its series points at the electrodes table
    lfp.add_electrical_series(lfp_series)
    # shares the LFP's timestamps: pynwb writes a soft link to them
    ecephys.add(
        TimeSeries(name="lfp_power", data=np.ones(LFP_SAMPLES), unit="V^2", timestamps=lfp_series)
    )
    for spikes in UNIT_SPIKE_TIMES:
        nwb.add_unit(spike_times=spikes)
    return _write(nwb, path)


def write_ophys_file(path: Path) -> Path:
    """TwoPhotonSeries, PlaneSegmentation (image masks), Fluorescence and DfOverF."""
    from pynwb.ophys import (
        DfOverF,
        Fluorescence,
        ImageSegmentation,
        OpticalChannel,
        TwoPhotonSeries,
    )

    nwb = _nwbfile("ophys")
    device = nwb.create_device("scope")
    channel = OpticalChannel(name="green", description="GCaMP", emission_lambda=520.0)
    plane = nwb.create_imaging_plane(
        name="plane",
        optical_channel=channel,
        description="layer 2/3",
        device=device,
        excitation_lambda=920.0,
        indicator="GCaMP6f",
        location="V1",
        imaging_rate=OPHYS_RATE,
    )
    frames = np.arange(OPHYS_FRAMES * OPHYS_NX * OPHYS_NY, dtype=np.uint16).reshape(
        OPHYS_FRAMES, OPHYS_NX, OPHYS_NY
    )
    nwb.add_acquisition(
        TwoPhotonSeries(
            name="two_photon",
            data=frames,
            imaging_plane=plane,
            rate=OPHYS_RATE,
            unit="n.a.",
        )
    )
    ophys = nwb.create_processing_module("ophys", "optical physiology")
    segmentation = ImageSegmentation()
    ophys.add(segmentation)
    rois = segmentation.create_plane_segmentation(
        name="rois", description="hand drawn", imaging_plane=plane
    )
    for roi in range(OPHYS_ROIS):
        mask = np.zeros((OPHYS_NX, OPHYS_NY), dtype=np.float32)
        mask[roi * 4 : roi * 4 + 3, 2:5] = 1.0
        rois.add_roi(image_mask=mask)
    region = rois.create_roi_table_region("all rois", region=list(range(OPHYS_ROIS)))
    traces = np.arange(OPHYS_FRAMES * OPHYS_ROIS, dtype=np.float32).reshape(-1, OPHYS_ROIS)
    fluorescence = Fluorescence()
    ophys.add(fluorescence)  # attached before its series point at the ROI table
    fluorescence.create_roi_response_series(
        name="raw", data=traces, rois=region, unit="a.u.", rate=OPHYS_RATE
    )
    dff = DfOverF()
    ophys.add(dff)
    dff.create_roi_response_series(
        name="dff", data=traces / 10, rois=region, unit="%", rate=OPHYS_RATE
    )
    return _write(nwb, path)


def write_icephys_file(path: Path) -> Path:
    """Current/voltage clamp series organised with the icephys tables."""
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries, VoltageClampSeries

    nwb = _nwbfile("icephys")
    device = nwb.create_device("amplifier")
    electrode = nwb.create_icephys_electrode(name="patch", description="whole cell", device=device)
    recordings = []
    for sweep in range(2):
        stimulus = CurrentClampStimulusSeries(
            name=f"stimulus_{sweep}",
            data=np.full(ICEPHYS_SAMPLES, 1e-10 * (sweep + 1)),
            electrode=electrode,
            rate=ICEPHYS_RATE,
            starting_time=float(sweep),
            gain=1.0,
            sweep_number=sweep,
        )
        response = CurrentClampSeries(
            name=f"response_{sweep}",
            data=np.linspace(-0.07, -0.05, ICEPHYS_SAMPLES),
            electrode=electrode,
            rate=ICEPHYS_RATE,
            starting_time=float(sweep),
            gain=1.0,
            sweep_number=sweep,
        )
        recordings.append(
            nwb.add_intracellular_recording(
                electrode=electrode, stimulus=stimulus, response=response
            )
        )
    voltage = VoltageClampSeries(
        name="voltage_clamp",
        data=np.zeros(ICEPHYS_SAMPLES),
        electrode=electrode,
        rate=ICEPHYS_RATE,
        gain=1.0,
        sweep_number=2,
    )
    recordings.append(nwb.add_intracellular_recording(electrode=electrode, response=voltage))
    simultaneous = [
        nwb.add_icephys_simultaneous_recording(recordings=[index]) for index in recordings
    ]
    sequential = nwb.add_icephys_sequential_recording(
        simultaneous_recordings=simultaneous, stimulus_type="steps"
    )
    repetition = nwb.add_icephys_repetition(sequential_recordings=[sequential])
    nwb.add_icephys_experimental_condition(repetitions=[repetition])
    return _write(nwb, path)


def write_behavior_file(path: Path) -> Path:
    """Position/SpatialSeries, BehavioralEvents, PupilTracking and an AnnotationSeries."""
    from pynwb import TimeSeries
    from pynwb.behavior import BehavioralEvents, Position, PupilTracking, SpatialSeries
    from pynwb.misc import AnnotationSeries

    nwb = _nwbfile("behavior")
    behavior = nwb.create_processing_module("behavior", "behaviour")
    position = Position()
    position.add_spatial_series(
        SpatialSeries(
            name="xy",
            data=np.column_stack(
                [np.linspace(0, 1, POSITION_SAMPLES), np.linspace(1, 0, POSITION_SAMPLES)]
            ),
            reference_frame="arena corner",
            rate=POSITION_RATE,
            starting_time=1.0,
        )
    )
    behavior.add(position)
    events = BehavioralEvents()
    events.add_timeseries(
        TimeSeries(
            name="reward",
            data=np.full(REWARD_TIMES.size, 5.0),
            unit="ul",
            timestamps=REWARD_TIMES,
        )
    )
    behavior.add(events)
    pupil = PupilTracking()
    pupil.add_timeseries(TimeSeries(name="diameter", data=np.full(90, 2.5), unit="mm", rate=30.0))
    behavior.add(pupil)
    nwb.add_acquisition(
        AnnotationSeries(name="notes", data=["start", "stop"], timestamps=np.array([0.0, 4.0]))
    )
    return _write(nwb, path)


def write_intervals_file(path: Path) -> Path:
    """Trials with extra columns, epochs, and a custom TimeIntervals referencing a series."""
    from pynwb import TimeSeries
    from pynwb.epoch import TimeIntervals

    nwb = _nwbfile("intervals")
    stimulus = TimeSeries(name="stimulus", data=np.arange(80.0), unit="lux", rate=10.0)
    nwb.add_acquisition(stimulus)
    nwb.add_trial_column("condition", "stimulus side")
    nwb.add_trial_column("correct", "whether the animal was right")
    for start, condition in zip(TRIAL_STARTS, TRIAL_CONDITIONS):
        nwb.add_trial(
            start_time=float(start),
            stop_time=float(start) + 1.5,
            condition=condition,
            correct=condition != "catch",
        )
    nwb.add_epoch(0.0, 4.0, ["baseline"], [stimulus])
    nwb.add_epoch(4.0, 8.0, ["task", "light"], [stimulus])
    blinks = TimeIntervals(name="blinks", description="eye blinks")
    blinks.add_interval(start_time=0.2, stop_time=0.3)
    blinks.add_interval(start_time=5.0, stop_time=5.1)
    nwb.add_time_intervals(blinks)
    nwb.add_invalid_time_interval(start_time=7.0, stop_time=7.5)
    return _write(nwb, path)


def write_ndx_events_file(path: Path) -> Path:
    """Lick times in an ndx-events ``EventsTable``; the ndx-events namespace is cached."""
    import ndx_events

    nwb = _nwbfile("ndx-events")
    licks = ndx_events.EventsTable(name="licks", description="lick times from a beam break")
    licks.add_column("spout", "which spout")
    for index, time in enumerate(LICK_TIMES):
        licks.add_row(timestamp=float(time), duration=0.01, spout="left" if index % 2 else "right")
    nwb.add_events_table(licks)
    return _write(nwb, path)


def write_ndx_pose_file(path: Path) -> Path:
    """ndx-pose: a Skeleton, and a PoseEstimation holding two PoseEstimationSeries."""
    from ndx_pose import PoseEstimation, PoseEstimationSeries, Skeleton, Skeletons

    nwb = _nwbfile("ndx-pose")
    camera = nwb.create_device("camera", description="top view")
    skeleton = Skeleton(
        name="mouse", nodes=["nose", "tail"], edges=np.array([[0, 1]], dtype=np.uint8)
    )
    series = [
        PoseEstimationSeries(
            name=node,
            data=np.column_stack([np.arange(POSE_SAMPLES), np.full(POSE_SAMPLES, i)]).astype(float),
            unit="pixels",
            reference_frame="top left corner",
            rate=POSE_RATE,
            confidence=np.ones(POSE_SAMPLES),
        )
        for i, node in enumerate(["nose", "tail"])
    ]
    behavior = nwb.create_processing_module("behavior", "pose")
    behavior.add(Skeletons(skeletons=[skeleton]))
    behavior.add(
        PoseEstimation(
            name="pose",
            pose_estimation_series=series,
            skeleton=skeleton,
            device=camera,
            description="tracked with a test",
        )
    )
    return _write(nwb, path)


def write_nocache_file(path: Path) -> Path:
    """A file written with ``cache_spec=False``: no /specifications at all."""
    from pynwb import TimeSeries

    nwb = _nwbfile("nocache")
    nwb.add_acquisition(
        TimeSeries(name="signal", data=np.arange(10.0), unit="V", rate=5.0, starting_time=2.0)
    )
    return _write(nwb, path, cache_spec=False)


def write_plain_hdf5_file(path: Path) -> Path:
    """An HDF5 file with no NWB attributes: groups, a chunked dataset, attributes, links."""
    path = Path(path)
    with h5py.File(path, "w") as h5:
        h5.attrs["title"] = "plain"
        group = h5.create_group("measurements")
        group.attrs["operator"] = np.bytes_("someone")
        group.create_dataset(
            "trace", data=np.arange(100, dtype=np.float32), chunks=(10,), compression="gzip"
        )
        h5.create_dataset("scalar", data=3.5)
        h5["alias"] = h5py.SoftLink("/measurements/trace")
    return path


#: Writer per fixture name (the conftest fixture of the same name calls it once per session).
WRITERS = {
    "ecephys_file": write_ecephys_file,
    "ophys_file": write_ophys_file,
    "icephys_file": write_icephys_file,
    "behavior_file": write_behavior_file,
    "intervals_file": write_intervals_file,
    "ndx_events_file": write_ndx_events_file,
    "ndx_pose_file": write_ndx_pose_file,
    "nocache_file": write_nocache_file,
    "plain_hdf5_file": write_plain_hdf5_file,
}

#: Exact neurodata types at exact paths, per fixture (not every typed object: the telling ones).
EXPECTED_TYPES: dict[str, dict[str, str]] = {
    "ecephys_file": {
        "/": "NWBFile",
        "/acquisition/raw": "ElectricalSeries",
        "/acquisition/raw/electrodes": "DynamicTableRegion",
        "/general/devices/probe": "Device",
        "/general/extracellular_ephys/shank0": "ElectrodeGroup",
        "/general/extracellular_ephys/shank1": "ElectrodeGroup",
        "/general/extracellular_ephys/electrodes": "ElectrodesTable",
        "/general/extracellular_ephys/electrodes/id": "ElementIdentifiers",
        "/general/extracellular_ephys/electrodes/location": "VectorData",
        "/processing/ecephys": "ProcessingModule",
        "/processing/ecephys/LFP": "LFP",
        "/processing/ecephys/LFP/lfp": "ElectricalSeries",
        "/processing/ecephys/lfp_power": "TimeSeries",
        "/units": "Units",
        "/units/spike_times": "VectorData",
        "/units/spike_times_index": "VectorIndex",
    },
    "ophys_file": {
        "/acquisition/two_photon": "TwoPhotonSeries",
        "/general/optophysiology/plane": "ImagingPlane",
        "/general/optophysiology/plane/green": "OpticalChannel",
        "/processing/ophys/ImageSegmentation": "ImageSegmentation",
        "/processing/ophys/ImageSegmentation/rois": "PlaneSegmentation",
        "/processing/ophys/ImageSegmentation/rois/image_mask": "VectorData",
        "/processing/ophys/Fluorescence": "Fluorescence",
        "/processing/ophys/Fluorescence/raw": "RoiResponseSeries",
        "/processing/ophys/Fluorescence/raw/rois": "DynamicTableRegion",
        "/processing/ophys/DfOverF": "DfOverF",
        "/processing/ophys/DfOverF/dff": "RoiResponseSeries",
    },
    "icephys_file": {
        "/general/intracellular_ephys/patch": "IntracellularElectrode",
        "/stimulus/presentation/stimulus_0": "CurrentClampStimulusSeries",
        "/acquisition/response_0": "CurrentClampSeries",
        "/acquisition/voltage_clamp": "VoltageClampSeries",
        "/general/intracellular_ephys/intracellular_recordings": "IntracellularRecordingsTable",
        "/general/intracellular_ephys/intracellular_recordings/electrodes": (
            "IntracellularElectrodesTable"
        ),
        "/general/intracellular_ephys/intracellular_recordings/stimuli": (
            "IntracellularStimuliTable"
        ),
        "/general/intracellular_ephys/intracellular_recordings/responses": (
            "IntracellularResponsesTable"
        ),
        "/general/intracellular_ephys/simultaneous_recordings": "SimultaneousRecordingsTable",
        "/general/intracellular_ephys/sequential_recordings": "SequentialRecordingsTable",
        "/general/intracellular_ephys/repetitions": "RepetitionsTable",
        "/general/intracellular_ephys/experimental_conditions": "ExperimentalConditionsTable",
    },
    "behavior_file": {
        "/processing/behavior/Position": "Position",
        "/processing/behavior/Position/xy": "SpatialSeries",
        "/processing/behavior/BehavioralEvents": "BehavioralEvents",
        "/processing/behavior/BehavioralEvents/reward": "TimeSeries",
        "/processing/behavior/PupilTracking": "PupilTracking",
        "/processing/behavior/PupilTracking/diameter": "TimeSeries",
        "/acquisition/notes": "AnnotationSeries",
    },
    "intervals_file": {
        "/intervals/trials": "TimeIntervals",
        "/intervals/trials/condition": "VectorData",
        "/intervals/trials/correct": "VectorData",
        "/intervals/epochs": "TimeIntervals",
        "/intervals/epochs/tags_index": "VectorIndex",
        "/intervals/epochs/timeseries": "TimeSeriesReferenceVectorData",
        "/intervals/blinks": "TimeIntervals",
        "/intervals/invalid_times": "TimeIntervals",
        "/acquisition/stimulus": "TimeSeries",
    },
    "ndx_events_file": {
        "/events/licks": "EventsTable",
        "/events/licks/timestamp": "TimestampVectorData",
        "/events/licks/duration": "DurationVectorData",
        "/events/licks/spout": "VectorData",
    },
    "ndx_pose_file": {
        "/general/devices/camera": "Device",
        "/processing/behavior/Skeletons": "Skeletons",
        "/processing/behavior/Skeletons/mouse": "Skeleton",
        "/processing/behavior/pose": "PoseEstimation",
        "/processing/behavior/pose/nose": "PoseEstimationSeries",
        "/processing/behavior/pose/tail": "PoseEstimationSeries",
    },
    "nocache_file": {"/": "NWBFile", "/acquisition/signal": "TimeSeries"},
    "plain_hdf5_file": {},
}


# -- bad input -------------------------------------------------------------------------------
BAD_INPUT_KINDS = (
    "missing",
    "zero_bytes",
    "not_hdf5",
    "truncated",
    "permission_denied",
    "invalid_spec_json",
    "missing_namespace",
    "garbage_start_time",
)

#: Words the one-line message must contain (besides the file name), per kind.
BAD_INPUT_REASONS = {
    "missing": "does not exist",
    "zero_bytes": "empty",
    "not_hdf5": "not an HDF5 file",
    "truncated": "truncated",
    "permission_denied": "permission denied",
    "invalid_spec_json": "specification of namespace 'core'",
    "missing_namespace": "namespace 'ndx-pose'",
    "garbage_start_time": "not an ISO 8601 date-time",
}

#: Kinds that still open (the problem is reported, browsing goes on) vs refuse to open.
BAD_INPUT_OPENABLE = ("invalid_spec_json", "missing_namespace", "garbage_start_time")


@dataclass(frozen=True)
class BadInput:
    """One broken input: where it is, what kind of breakage, and words the message must hold."""

    kind: str
    path: Path
    reason: str


def world_traversable_dir() -> Path:
    """A fresh folder that any user may enter (pytest's own tmp folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="ndviewer-bad-input-"))
    folder.chmod(0o755)
    return folder


def write_bad_input(kind: str, folder: Path, good_ecephys: Path, good_pose: Path) -> BadInput:
    """Write one broken input of ``kind`` into ``folder`` from copies of good files.

    ``good_ecephys`` and ``good_pose`` are untouched: the broken files are copies, edited with
    h5py (the only place where the tests write into an NWB file behind the viewer's back).
    """
    path = folder / f"{kind}.nwb"
    if kind == "missing":
        pass
    elif kind == "zero_bytes":
        path.write_bytes(b"")
    elif kind == "not_hdf5":
        path.write_text("session,start\nmouse1,2024-03-01\n")
    elif kind == "truncated":
        data = Path(good_ecephys).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "permission_denied":
        shutil.copyfile(good_ecephys, path)
        path.chmod(0)
    elif kind == "invalid_spec_json":
        shutil.copyfile(good_ecephys, path)
        with h5py.File(path, "r+") as h5:
            version = max(h5["specifications/core"].keys(), key=_version_tuple)
            source = f"specifications/core/{version}/nwb.ecephys"
            del h5[source]
            h5.create_dataset(
                source, data='{"groups": [{"neurodata_type_def": ', dtype=h5py.string_dtype()
            )
    elif kind == "missing_namespace":
        shutil.copyfile(good_pose, path)
        with h5py.File(path, "r+") as h5:
            del h5["specifications/ndx-pose"]
    elif kind == "garbage_start_time":
        shutil.copyfile(good_ecephys, path)
        with h5py.File(path, "r+") as h5:
            del h5["session_start_time"]
            h5.create_dataset(
                "session_start_time", data="last tuesday-ish", dtype=h5py.string_dtype()
            )
    else:
        raise ValueError(f"unknown bad input kind {kind!r}")
    return BadInput(kind, path, BAD_INPUT_REASONS[kind])


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def permission_denied_is_testable() -> bool:
    """True when a mode-000 file is really unreadable to us, or we can drop root to nobody."""
    return os.geteuid() != 0 or nobody_ids() is not None


def nobody_ids() -> tuple[int, int] | None:
    """(uid, gid) of user nobody, or None where there is no such user."""
    try:
        import pwd

        entry = pwd.getpwnam("nobody")
    except (ImportError, KeyError):
        return None
    return entry.pw_uid, entry.pw_gid


# -- oracles ------------------------------------------------------------------------------------
def object_paths(path: Path) -> dict[str, str]:
    """object_id -> HDF5 path of every typed object, as h5py finds them."""
    found: dict[str, str] = {}
    with h5py.File(path, "r", locking=False) as h5:

        def visit(name: str, obj) -> None:
            object_id = obj.attrs.get("object_id")
            if object_id is not None:
                found[object_id] = "/" + name

        visit("", h5)  # the root: "/"
        h5.visititems(visit)
    return found


def pynwb_series_numbers(path: Path) -> dict[str, dict]:
    """What pynwb says about every TimeSeries, in the ``info --json`` series form, by path.

    Rate is None when the series has timestamps; the duration is samples / rate for a regular
    series and last - first timestamp for an irregular one; starting time is the first
    timestamp then.
    """
    from pynwb import NWBHDF5IO, TimeSeries
    from pynwb.image import ImageSeries

    paths = object_paths(path)
    numbers: dict[str, dict] = {}
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        for object_id, obj in nwb.objects.items():
            if not isinstance(obj, TimeSeries):
                continue
            shape = obj.data.shape
            n_channels = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            if obj.timestamps is not None:
                stamps = np.asarray(obj.timestamps[()])
                rate = None
                starting_time = float(stamps[0]) if stamps.size else None
                duration = float(stamps[-1] - stamps[0]) if stamps.size else 0.0
            else:
                rate = float(obj.rate)
                starting_time = float(obj.starting_time)
                duration = shape[0] / rate
            numbers[paths[object_id]] = {
                "path": paths[object_id],
                "neurodata_type": obj.neurodata_type,
                "n_samples": int(shape[0]),
                "n_channels": n_channels,
                "rate": rate,
                "starting_time": starting_time,
                "duration": duration,
                "unit": obj.unit,
                "frame_shape": [int(n) for n in shape[1:]]
                if isinstance(obj, ImageSeries)
                else None,
                "external_files": len(obj.external_file)
                if getattr(obj, "external_file", None) is not None
                else None,
            }
    return numbers
