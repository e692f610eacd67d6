"""hdf5plugin's filters read through HDF5's own plugin search, without importing hdf5plugin.

The application sets ``HDF5_PLUGIN_PATH`` before h5py starts the library (``gui.app.run``);
a process that imported h5py first still gets the filters by importing hdf5plugin.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np
import pytest

CODECS = ("Blosc", "Zstd", "LZ4", "Bitshuffle")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def compressed_file(tmp_path: Path) -> Path:
    path = tmp_path / "compressed.h5"
    data = np.arange(200_000, dtype=np.int32).reshape(2000, 100) % 977
    with h5py.File(path, "w") as h5:
        for codec in CODECS:
            h5.create_dataset(codec, data=data, chunks=(500, 100), **getattr(hdf5plugin, codec)())
    return path


def _read_in_child(code: str, path: Path) -> dict:
    script = (
        "import json, sys\n" + code + "\nimport h5py\n"
        "from ndviewer.core.model.files import open_h5\n"
        "h5 = open_h5(sys.argv[1])\n"
        f"sums = {{name: int(h5[name][...].sum()) for name in {CODECS!r}}}\n"
        "print(json.dumps({'sums': sums, 'imported': 'hdf5plugin' in sys.modules}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    return json.loads(result.stdout)


def test_filters_load_from_the_plugin_folder_without_importing_hdf5plugin(compressed_file):
    expected = int((np.arange(200_000, dtype=np.int64) % 977).sum())
    child = _read_in_child(
        "from ndviewer.core.hdf5_plugins import point_hdf5_at_plugins\n"
        "assert point_hdf5_at_plugins()",
        compressed_file,
    )
    assert child["imported"] is False
    assert child["sums"] == {name: expected for name in CODECS}


def test_h5py_imported_first_falls_back_to_importing_hdf5plugin(compressed_file):
    expected = int((np.arange(200_000, dtype=np.int64) % 977).sum())
    child = _read_in_child(
        "import h5py\n"
        "from ndviewer.core.hdf5_plugins import point_hdf5_at_plugins\n"
        "assert not point_hdf5_at_plugins()",
        compressed_file,
    )
    assert child["imported"] is True
    assert child["sums"] == {name: expected for name in CODECS}
