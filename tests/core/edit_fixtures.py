"""Fixture files and oracles for the metadata editor tests.

Files are written with pynwb (the reference writer) into ``tmp_path``; after an edit they are
read back with pynwb, validated with pynwb's validator and inspected with nwbinspector, and
every untouched dataset and attribute is compared by checksum.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

SESSION_START = datetime(2024, 1, 5, 10, 0, tzinfo=UTC)


def write_nwb(
    path: Path,
    *,
    subject: bool = True,
    experimenter: tuple[str, ...] | None = ("Doe, Jane",),
    ecephys: bool = True,
    ophys: bool = True,
    timeseries: bool = True,
) -> Path:
    """A small NWB file with the metadata objects the editor handles."""
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.file import Subject
    from pynwb.ophys import OpticalChannel

    nwb = NWBFile(
        session_description="two-photon imaging in V1",
        identifier="file-0001",
        session_start_time=SESSION_START,
        experimenter=list(experimenter) if experimenter else None,
        keywords=["visual cortex"],
        related_publications=["doi:10.1016/j.neuron.2016.12.011"],
        institution="Institute",
        lab="Lab",
        experiment_description="gratings",
        session_id="s001",
        protocol="protocol 17",
    )
    if subject:
        nwb.subject = Subject(
            subject_id="m1",
            species="Mus musculus",
            sex="F",
            age="P90D",
            description="wild type",
        )
    device = nwb.create_device(name="probe", description="silicon probe", manufacturer="acme")
    nwb.create_device(name="scope", description="two-photon microscope")
    if ecephys:
        nwb.create_electrode_group(
            name="shank0", description="shank 0", location="CA1", device=device
        )
    if ophys:
        channel = OpticalChannel(name="green", description="GCaMP emission", emission_lambda=520.0)
        nwb.create_imaging_plane(
            name="plane0",
            optical_channel=channel,
            description="layer 2/3",
            device=nwb.devices["scope"],
            excitation_lambda=920.0,
            indicator="GCaMP6f",
            location="VISp",
            imaging_rate=30.0,
        )
    if timeseries:
        nwb.add_acquisition(
            TimeSeries(
                name="speed",
                data=np.arange(100.0),
                unit="m/s",
                rate=10.0,
                description="running speed",
            )
        )
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


@contextmanager
def pynwb_read(path: Path) -> Iterator:
    """The file as pynwb reads it (the oracle for every edit)."""
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(path), "r") as io:
        yield io.read()


def pynwb_errors(path: Path) -> list[str]:
    """pynwb's schema validation errors, as strings."""
    from pynwb import validate

    return [str(error) for error in validate(path=str(path))]


def inspector_findings(path: Path) -> set[tuple[str, str]]:
    """nwbinspector's findings as (check name, object location)."""
    from nwbinspector import inspect_nwbfile

    return {
        (message.check_function_name, str(message.location))
        for message in inspect_nwbfile(nwbfile_path=str(path))
        if message is not None
    }


def _digest(value: object, dtype: np.dtype, shape: tuple | None, h5: h5py.File) -> str:
    hasher = hashlib.sha256()
    hasher.update(str(dtype).encode())
    hasher.update(repr(h5py.check_string_dtype(dtype)).encode())
    hasher.update(repr(shape).encode())
    array = np.asarray(value)
    if array.dtype.kind == "O":
        for item in array.ravel().tolist():
            if isinstance(item, h5py.Reference):
                hasher.update((h5[item].name if item else "<null>").encode())
            elif isinstance(item, str):
                hasher.update(item.encode("utf-8"))
            else:
                hasher.update(bytes(item))
            hasher.update(b"\0")
    else:
        hasher.update(array.tobytes())
    return hasher.hexdigest()


def checksums(path: Path) -> dict[str, str]:
    """A checksum of every dataset's and attribute's dtype, shape and bytes, by location."""
    out: dict[str, str] = {}
    with h5py.File(path, "r") as h5:

        def add_attrs(name: str, obj: h5py.HLObject) -> None:
            for key in obj.attrs:
                attr_id = obj.attrs.get_id(key)
                out[f"{name}@{key}"] = _digest(obj.attrs[key], attr_id.dtype, attr_id.shape, h5)

        def visit(name: str, obj: h5py.HLObject) -> None:
            if isinstance(obj, h5py.Dataset):
                out[f"/{name}"] = _digest(obj[()], obj.dtype, obj.shape, h5)
            add_attrs(f"/{name}", obj)

        add_attrs("/", h5)
        h5.visititems(visit)
        for name, link in _links(h5):
            out[f"{name}->"] = link
    return out


def _links(h5: h5py.File) -> list[tuple[str, str]]:
    found = []

    def walk(group: h5py.Group) -> None:
        for key in group:
            link = group.get(key, getlink=True)
            path = f"{group.name.rstrip('/')}/{key}"
            if isinstance(link, h5py.SoftLink):
                found.append((path, link.path))
            elif isinstance(group[key], h5py.Group):
                walk(group[key])

    walk(h5)
    return found


def changed_keys(before: dict[str, str], after: dict[str, str]) -> set[str]:
    """Checksum keys that differ, appeared or disappeared."""
    keys = set(before) | set(after)
    return {key for key in keys if before.get(key) != after.get(key)}
