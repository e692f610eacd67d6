"""NWB files full of tables, written with pynwb, for the table/units/alignment tests.

One file holds every table layout the reader must understand: plain, ragged (uint8 and uint16
indexes), doubly ragged, regions (plain and ragged), object references, enum, bool, 2-D and 3-D
columns, compound records with references, an AlignedDynamicTable and a lab extension table.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

SESSION_START = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)

#: Spike times per unit of the fixture's Units table (unit 1 has > 255 spikes: uint16 index).
UNIT_SPIKES = [
    np.array([0.1, 0.25, 0.3, 1.5, 2.0]),
    np.round(np.linspace(0.01, 9.99, 400), 6),
    np.array([]),
    np.array([4.0, 4.001, 4.0015, 4.5, 8.0, 8.25]),
]

_EXTENSION_NAMESPACE = "ndx-labtable-test"


def _extension_table_class(folder: Path):
    """A lab extension ``LabTrialTable`` (inherits DynamicTable), defined in ``folder``."""
    from pynwb import get_class, load_namespaces
    from pynwb.spec import NWBGroupSpec, NWBNamespaceBuilder

    namespace_path = folder / f"{_EXTENSION_NAMESPACE}.namespace.yaml"
    if not namespace_path.exists():
        builder = NWBNamespaceBuilder(
            doc="test extension",
            name=_EXTENSION_NAMESPACE,
            version="0.1.0",
            author="test",
            contact="test@example.org",
        )
        builder.include_type("DynamicTable", namespace="hdmf-common")
        spec = NWBGroupSpec(
            neurodata_type_def="LabTrialTable",
            neurodata_type_inc="DynamicTable",
            doc="A lab's own table of trials.",
        )
        builder.add_spec(f"{_EXTENSION_NAMESPACE}.extensions.yaml", spec)
        builder.export(namespace_path.name, outdir=str(folder))
    try:
        return get_class("LabTrialTable", _EXTENSION_NAMESPACE)
    except (KeyError, ValueError):
        load_namespaces(str(namespace_path))
        return get_class("LabTrialTable", _EXTENSION_NAMESPACE)


def write_tables_file(path: Path) -> Path:
    """Write the rich tables file to ``path`` and return it."""
    from hdmf.common import DynamicTable, EnumData, VectorData
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries
    from pynwb.misc import Units
    from pynwb.ophys import ImageSegmentation, OpticalChannel

    nwb = NWBFile("tables fixture", "tables-1", SESSION_START)
    device = nwb.create_device("probe")
    shanks = [nwb.create_electrode_group(f"shank{i}", "a shank", "CA1", device) for i in range(2)]
    nwb.add_electrode_column("label", "electrode label")
    for i in range(6):
        nwb.add_electrode(
            group=shanks[i // 3],
            location="CA1" if i % 2 else "DG",
            x=float(i),
            y=10.0 * i,
            z=np.nan if i == 4 else -1.0,
            label=f"e{i}",
        )

    nwb.units = Units(
        name="units",
        description="sorted units",
        waveform_rate=30000.0,
        waveform_unit="volts",
        resolution=1 / 30000.0,
        electrode_table=nwb.electrodes,
    )
    nwb.add_unit_column("quality", "sorting quality")
    nwb.add_unit_column("depth", "depth of the unit")
    waveform_mean = np.arange(4 * 5 * 2, dtype=float).reshape(4, 5, 2)
    for unit, spikes in enumerate(UNIT_SPIKES):
        nwb.add_unit(
            spike_times=spikes,
            electrodes=[unit % 6, (unit + 1) % 6] if unit != 2 else [3],
            obs_intervals=[[0.0, 5.0], [6.0, 10.0]] if unit != 3 else [[0.0, 10.0]],
            quality=["good", "mua", "noise", "good"][unit],
            depth=[120.0, 80.5, np.nan, 300.0][unit],
            waveform_mean=waveform_mean[unit],
            waveform_sd=waveform_mean[unit] / 10.0,
            waveforms=[np.full((unit + 1, 5), float(unit)), np.full((2, 5), -1.0)],
        )

    series = TimeSeries(name="lfp_like", data=np.arange(100.0), unit="V", rate=10.0)
    nwb.add_acquisition(series)
    nwb.add_trial_column("condition", "trial condition")
    nwb.add_trial_column("correct", "was the answer right")
    nwb.add_trial_column("cue_time", "when the cue came")
    trial_starts = [0.0, 2.0, 4.0, 6.0, 8.0]
    for i, start in enumerate(trial_starts):
        nwb.add_trial(
            start_time=start,
            stop_time=start + 1.5,
            condition=["left", "right"][i % 2],
            correct=bool(i % 3),
            cue_time=start + 0.5,
            tags=[f"t{k}" for k in range(i)],
            timeseries=[series],
        )

    # A plain DynamicTable with every awkward column kind.
    n = 300  # > 255 rows, so the ragged index below needs uint16
    elements = VectorData(
        name="cell_type_elements",
        description="labels",
        data=["pyramidal", "interneuron", "unknown"],
    )
    enum = EnumData(
        name="cell_type",
        description="cell type",
        data=(np.arange(n) % 3).astype(np.uint8),
        elements=elements,
    )
    flags = VectorData(name="flag", description="a flag", data=(np.arange(n) % 4 == 0).tolist())
    vec = VectorData(name="position", description="x, y", data=np.arange(2.0 * n).reshape(n, 2))
    text = VectorData(
        name="ascii_note", description="bytes", data=np.array([f"n{i}".encode() for i in range(n)])
    )
    small = VectorData(
        name="small_int", description="uint8", data=(np.arange(n) % 256).astype(np.uint8)
    )
    custom = DynamicTable(
        name="awkward",
        description="every column kind",
        columns=[enum, flags, vec, text, small, elements],
    )
    custom.add_column(
        name="best_electrode",
        description="region, one row each",
        data=(np.arange(n) % 6).tolist(),
        table=nwb.electrodes,
    )
    ragged = [list(range(i % 5)) for i in range(n)]
    custom.add_column(
        name="ragged_numbers",
        description="0-4 values",
        data=sum(ragged, []),
        index=np.cumsum([len(r) for r in ragged]).tolist(),
    )
    nested = [[[float(i)] * (k + 1) for k in range(i % 3)] for i in range(n)]
    custom.add_column(name="nested", description="doubly ragged", data=nested, index=2)
    processing = nwb.create_processing_module("analysis", "analysis results")
    processing.add(custom)

    lab_table_class = _extension_table_class(path.parent)
    lab_table = lab_table_class(name="lab_trials", description="extension table")
    lab_table.add_column("score", "a score")
    lab_table.add_column("region", "DynamicTableRegion to trials", table=nwb.trials)
    for i in range(3):
        lab_table.add_row(score=i * 1.5, region=i)
    processing.add(lab_table)

    optical = OpticalChannel(name="green", description="green", emission_lambda=520.0)
    plane = nwb.create_imaging_plane(
        name="plane",
        optical_channel=optical,
        description="plane",
        device=device,
        excitation_lambda=920.0,
        imaging_rate=30.0,
        indicator="GCaMP6",
        location="V1",
    )
    ophys = nwb.create_processing_module("ophys", "optical physiology")
    segmentation = ImageSegmentation()
    ophys.add(segmentation)
    pixel_rois = segmentation.create_plane_segmentation("pixel masks", plane, "pixel_rois")
    pixel_rois.add_roi(pixel_mask=[(1, 2, 0.5), (3, 4, 1.0)])
    pixel_rois.add_roi(pixel_mask=[(5, 6, 0.25)])
    image_rois = segmentation.create_plane_segmentation("image masks", plane, "image_rois")
    for k in range(3):
        mask = np.zeros((4, 5), dtype=np.float32)
        mask[k, k] = 1.0
        image_rois.add_roi(image_mask=mask)

    electrode = nwb.create_icephys_electrode(name="patch", description="pipette", device=device)
    stimulus = CurrentClampStimulusSeries(
        name="stim",
        data=[1.0, 2.0, 3.0],
        starting_time=0.0,
        rate=10.0,
        electrode=electrode,
        gain=1.0,
    )
    response = CurrentClampSeries(
        name="resp",
        data=[1.0, 2.0, 3.0],
        starting_time=0.0,
        rate=10.0,
        electrode=electrode,
        gain=1.0,
    )
    for _ in range(2):
        nwb.add_intracellular_recording(electrode=electrode, stimulus=stimulus, response=response)
    nwb.add_icephys_simultaneous_recording(recordings=[0, 1])

    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


#: HDF5 paths of the tables in the fixture file.
TABLE_PATHS = [
    "/general/extracellular_ephys/electrodes",
    "/units",
    "/intervals/trials",
    "/processing/analysis/awkward",
    "/processing/analysis/lab_trials",
    "/processing/ophys/ImageSegmentation/pixel_rois",
    "/processing/ophys/ImageSegmentation/image_rois",
    "/general/intracellular_ephys/intracellular_recordings",
    "/general/intracellular_ephys/simultaneous_recordings",
]


def write_units_h5(
    path: Path,
    spike_trains: list[np.ndarray],
    depth: np.ndarray | None = None,
    chunk: int = 1 << 18,
) -> Path:
    """A Units table in NWB layout written with h5py alone (fast enough for 10^7 spikes).

    ``spike_trains`` may be a list of arrays; the index dtype is the smallest unsigned type
    that fits, as pynwb would choose.
    """
    import h5py

    counts = np.array([len(t) for t in spike_trains], dtype=np.int64)
    ends = np.cumsum(counts)
    total = int(ends[-1]) if ends.size else 0
    index_dtype = next(
        dt for dt in (np.uint8, np.uint16, np.uint32, np.uint64) if total <= np.iinfo(dt).max
    )
    with h5py.File(path, "w") as f:
        f.attrs["neurodata_type"] = "NWBFile"
        f.attrs["namespace"] = "core"
        f.attrs["nwb_version"] = "2.7.0"
        units = f.create_group("units")
        units.attrs["neurodata_type"] = "Units"
        units.attrs["namespace"] = "core"
        units.attrs["description"] = "units written with h5py"
        colnames = ["spike_times"] + (["depth"] if depth is not None else [])
        units.attrs["colnames"] = np.array(colnames, dtype=object)
        units.create_dataset("id", data=np.arange(len(spike_trains)))
        data = units.create_dataset(
            "spike_times", shape=(total,), dtype=np.float64, chunks=(min(chunk, max(total, 1)),)
        )
        position = 0
        for train in spike_trains:
            data[position : position + len(train)] = train
            position += len(train)
        data.attrs["neurodata_type"] = "VectorData"
        data.attrs["namespace"] = "hdmf-common"
        index = units.create_dataset("spike_times_index", data=ends.astype(index_dtype))
        index.attrs["neurodata_type"] = "VectorIndex"
        index.attrs["namespace"] = "hdmf-common"
        index.attrs["target"] = data.ref
        if depth is not None:
            units.create_dataset("depth", data=np.asarray(depth, dtype=float))
    return path
