"""Zarr twins of the HDF5 fixtures, written by hdmf-zarr (a test-only dependency).

``zarr_twin`` reads the pynwb-written HDF5 file back into NWBFile objects and exports those very
objects with ``NWBZarrIO`` (hdmf-zarr's documented HDF5 → Zarr conversion), so both files hold
the same containers; ``zip_store`` copies the folder store into a ``zarr.ZipStore``, the way
zarr writes zip stores.
"""

from __future__ import annotations

from pathlib import Path


def zarr_twin(h5_path: Path, out: Path) -> Path:
    import numcodecs.pickles
    from hdmf_zarr.nwb import NWBZarrIO

    # hdmf-zarr pickles object references; numcodecs now refuses to unpickle by default, and
    # the export reads back what it wrote (our own data, so trusted here; ndviewer itself reads
    # such chunks with a restricted unpickler instead)
    numcodecs.pickles.ALLOW_UNSAFE_PICKLE_DECODE = True
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(h5_path), "r") as source, NWBZarrIO(str(out), mode="w") as target:
        target.export(src_io=source, write_args={"link_data": False})
    return out


def zip_store(folder: Path, out: Path) -> Path:
    import zarr

    source = zarr.DirectoryStore(str(folder))
    target = zarr.ZipStore(str(out), mode="w")
    try:
        zarr.copy_store(source, target)
    finally:
        target.close()
    return out
