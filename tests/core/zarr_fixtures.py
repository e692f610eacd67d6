"""Zarr twins of the HDF5 fixtures, written by hdmf-zarr (a test-only dependency).

``zarr_twin`` reads the pynwb-written HDF5 file back into NWBFile objects and exports those very
objects with ``NWBZarrIO`` (hdmf-zarr's documented HDF5 → Zarr conversion), so both files hold
the same containers; ``zip_store`` copies the folder store into a ``zarr.ZipStore``, the way
zarr writes zip stores.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def zarr_twin(h5_path: Path, out: Path) -> Path:
    """Export in a fresh interpreter: pynwb's type map is process-wide, and extensions other
    tests loaded (ndx-events, ndx-pose…) would otherwise be cached into the twin's spec."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from tests.core.zarr_fixtures import export; "
            "export(sys.argv[1], sys.argv[2])",
            str(h5_path),
            str(out),
        ],
        cwd=Path(__file__).resolve().parents[2],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


def export(h5_path: str, out: str) -> None:
    import numcodecs.pickles
    from hdmf_zarr.nwb import NWBZarrIO
    from pynwb import NWBHDF5IO

    # hdmf-zarr pickles object references; numcodecs now refuses to unpickle by default, and
    # the export reads back what it wrote (our own data, so trusted here; ndviewer itself reads
    # such chunks with a restricted unpickler instead)
    numcodecs.pickles.ALLOW_UNSAFE_PICKLE_DECODE = True
    with NWBHDF5IO(h5_path, "r") as source, NWBZarrIO(out, mode="w") as target:
        target.export(src_io=source, write_args={"link_data": False})


def zip_store(folder: Path, out: Path) -> Path:
    import zarr

    source = zarr.DirectoryStore(str(folder))
    target = zarr.ZipStore(str(out), mode="w")
    try:
        zarr.copy_store(source, target)
    finally:
        target.close()
    return out
