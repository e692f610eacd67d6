"""Smoke test of the built one-folder bundle (``make bundle-check`` builds it and runs this):
the frozen app must read the demo, Zstd/Blosc/LZ4/bitshuffle data through its stripped
hdf5plugin filters, refuse a broken file and a Zarr store (left out of the bundle) cleanly, and stay under the
size budget.

Skipped unless a bundle exists at ``$NDVIEWER_BUNDLE`` or ``dist/ndviewer/ndviewer``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import h5py
import pytest

from tests.benchmarks.disk_tools import folder_mib
from tests.e2e.test_app_window import _image_array

REPO = Path(__file__).resolve().parents[2]
BUNDLE = Path(os.environ.get("NDVIEWER_BUNDLE", REPO / "dist" / "ndviewer" / "ndviewer"))
SIZE_BUDGET_MIB = 250

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not BUNDLE.is_file(), reason=f"no bundle at {BUNDLE} (make bundle)"),
]


def run(*args: str, tmp_path: Path, timeout: int = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NDVIEWER_SCREENSHOT_DELAY_MS="800")
    env["NDVIEWER_CONFIG_DIR"] = str(tmp_path / "config")
    env["NDVIEWER_LOG_DIR"] = str(tmp_path / "log")
    env["NDVIEWER_CACHE_DIR"] = str(tmp_path / "cache")
    return subprocess.run(
        [str(BUNDLE), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_bundle_fits_the_size_budget():
    assert folder_mib(BUNDLE.parent) <= SIZE_BUDGET_MIB


def test_bundle_describes_the_demo(demo_file, tmp_path):
    result = run("info", str(demo_file), "--json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    types = {o["neurodata_type"] for o in summary["objects"]}
    assert {"ElectricalSeries", "Units", "TimeIntervals", "TwoPhotonSeries"} <= types


def test_bundle_refuses_a_broken_file_in_one_line(tmp_path):
    broken = tmp_path / "broken.nwb"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 200)
    result = run("info", str(broken), tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    assert "broken.nwb" in result.stderr


def test_bundle_refuses_a_zarr_store_and_names_the_extra(tmp_path):
    """The bundle leaves zarr/numcodecs out (35 MB+): a store gets one line saying how to
    read it, not a traceback."""
    store = tmp_path / "session.nwb.zarr"
    store.mkdir()
    (store / ".zgroup").write_text('{"zarr_format": 2}')
    result = run("info", str(store), tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    assert "session.nwb.zarr" in result.stderr and "ndviewer[zarr]" in result.stderr


@pytest.mark.parametrize("codec", ["Zstd", "Blosc", "LZ4", "Bitshuffle"])
def test_bundle_draws_compressed_traces(codec, tmp_path, ecephys_file):
    """The window shows traces of a series whose chunks need the bundle's filter."""
    import hdf5plugin

    path = tmp_path / f"{codec}.nwb"
    with h5py.File(ecephys_file, "r") as source, h5py.File(path, "w") as target:
        for key in source.attrs:
            target.attrs[key] = source.attrs[key]
        for name in source:
            source.copy(source[name], target, name=name)
        series = next(
            name
            for name, obj in target["acquisition"].items()
            if isinstance(obj, h5py.Group) and "data" in obj and obj["data"].ndim == 2
        )
        data = target[f"acquisition/{series}/data"]
        values, attrs = data[()], dict(data.attrs)
        del target[f"acquisition/{series}/data"]
        new = target.create_dataset(
            f"acquisition/{series}/data",
            data=values,
            chunks=(min(4096, len(values)), values.shape[1]),
            **getattr(hdf5plugin, codec)(),
        )
        for key, value in attrs.items():
            new.attrs[key] = value
    shot = tmp_path / "shot.png"
    result = run(
        str(path),
        "--select",
        f"/acquisition/{series}",
        "--screenshot",
        str(shot),
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    pixels = _image_array(shot)
    right = pixels[:, pixels.shape[1] // 2 :]
    dark = (right.max(axis=2) < 90).mean()
    assert dark > 0.01, f"no traces drawn ({dark:.4f} dark) with {codec}"
    log = tmp_path / "log" / "ndviewer.log"
    assert "ERROR" not in (log.read_text() if log.exists() else "")
