"""Zarr-backed NWB: hdmf-zarr twins of the HDF5 fixtures read through the same model.

Each twin is exported by hdmf-zarr from the NWBFile objects of its HDF5 fixture; ``info
--json`` must give the same objects, types, shapes, dtypes and series facts, and the traces the
same values, for the folder store and the zip store.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("hdmf_zarr")

from ndviewer.core.errors import EditError, FileOpenError  # noqa: E402
from ndviewer.core.model.files import open_nwb  # noqa: E402
from ndviewer.core.model.storage.zarr_store import is_zarr, mirror_path  # noqa: E402
from ndviewer.core.nwb.summary import typed_index  # noqa: E402
from tests.core.zarr_fixtures import zarr_twin, zip_store  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FIXTURES = ["ecephys_file", "ophys_file", "behavior_file", "intervals_file"]


@pytest.fixture(scope="module")
def twins(request, tmp_path_factory) -> dict[str, tuple[Path, Path, Path]]:
    """fixture name -> (HDF5 file, Zarr folder, Zarr zip)."""
    folder = tmp_path_factory.mktemp("zarr-twins")
    made = {}
    for name in FIXTURES:
        h5_path = request.getfixturevalue(name)
        store = zarr_twin(h5_path, folder / f"{h5_path.stem}.nwb.zarr")
        made[name] = (h5_path, store, zip_store(store, folder / f"{h5_path.stem}.nwb.zarr.zip"))
    return made


def _info(target: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "ndviewer", "info", str(target), "--json", "--no-cache"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    summary.pop("file")
    summary["problems"] = [p.split(": ", 1)[-1] for p in summary["problems"]]
    return summary


@pytest.mark.parametrize("name", FIXTURES)
def test_zarr_twins_give_the_same_info_as_hdf5(twins, name: str) -> None:
    h5_path, store, archive = twins[name]
    assert is_zarr(store) and is_zarr(archive) and not is_zarr(h5_path)
    expected = _info(h5_path)
    assert len(expected["objects"]) > 5
    for target in (store, archive):
        got = _info(target)
        assert [(o["path"], o["neurodata_type"]) for o in got["objects"]] == [
            (o["path"], o["neurodata_type"]) for o in expected["objects"]
        ]
        assert got["series"] == expected["series"]
        assert got == expected


def test_zarr_trace_values_equal_hdf5(twins) -> None:
    from ndviewer.core.nwb.timeseries import TimeSeriesSource

    h5_path, store, archive = twins["ecephys_file"]
    with open_nwb(h5_path) as local:
        index = typed_index(local, use_cache=False)
        assert len(index.series) == 3
        for target in (store, archive):
            with open_nwb(target) as twin:
                assert twin.is_zarr
                for path in index.series:
                    a = TimeSeriesSource.from_path(local, path)
                    b = TimeSeriesSource.from_path(twin, path)
                    assert b.n_samples == a.n_samples and b.n_channels == a.n_channels
                    np.testing.assert_array_equal(a.read(0, a.n_samples), b.read(0, b.n_samples))
                    np.testing.assert_array_equal(
                        a.time_axis.times(0, a.n_samples), b.time_axis.times(0, b.n_samples)
                    )


def test_links_and_references_become_hdf5_links_and_references(twins) -> None:
    _h5_path, store, _archive = twins["ecephys_file"]
    with open_nwb(store) as twin:
        h5 = twin.h5
        # lfp_power's timestamps: a zarr_link, now a soft link to the LFP's
        link = h5["processing/ecephys/lfp_power"].get("timestamps", getlink=True)
        assert link.path == "/processing/ecephys/LFP/lfp/timestamps"
        table_ref = h5["acquisition/raw/electrodes"].attrs["table"]
        assert h5[table_ref].name == "/general/extracellular_ephys/electrodes"
        groups = h5["general/extracellular_ephys/electrodes/group"][:]
        assert [h5[r].name for r in groups] == [
            f"/general/extracellular_ephys/shank{i // 4}" for i in range(8)
        ]


def test_mirror_is_reused_then_rebuilt_when_the_store_changes(twins, tmp_path) -> None:
    import shutil

    _h5_path, store, _archive = twins["intervals_file"]
    copy = tmp_path / "copy.nwb.zarr"
    shutil.copytree(store, copy)
    with open_nwb(copy):
        pass
    mirror = mirror_path(copy)
    built = mirror.stat().st_ino  # a rebuild replaces the file (a new inode)
    with open_nwb(copy):
        pass
    assert mirror.stat().st_ino == built  # reused
    attrs = copy / "session_description" / ".zattrs"
    attrs.write_text(attrs.read_text())  # touched: a new mtime
    later = attrs.stat().st_mtime_ns + 10**9
    os.utime(attrs, ns=(later, later))
    with open_nwb(copy):
        pass
    assert mirror.stat().st_ino != built


def test_editing_a_zarr_store_is_refused(twins) -> None:
    from ndviewer.core.edit.transaction import check_writable

    _h5_path, store, archive = twins["intervals_file"]
    for target in (store, archive):
        with pytest.raises(EditError, match="Zarr store"):
            check_writable(target)
        with open_nwb(target) as twin:
            assert "Zarr store" in twin.read_only_reason


def test_a_malicious_pickle_in_a_store_is_refused(twins, tmp_path) -> None:
    import shutil

    import zarr

    _h5_path, store, _archive = twins["ecephys_file"]
    copy = tmp_path / "evil.nwb.zarr"
    shutil.copytree(store, copy)
    array = zarr.open_array(str(copy / "general/extracellular_ephys/electrodes/group"), mode="r")
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    payload = array.compressor.encode(pickle.dumps(Evil()))
    (copy / "general/extracellular_ephys/electrodes/group/0").write_bytes(payload)
    with pytest.raises(FileOpenError, match="refusing to load"):
        open_nwb(copy)
    assert not marker.exists()


def test_old_mirrors_are_evicted_beyond_the_limit(twins, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("NDVIEWER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NDVIEWER_ZARR_CACHE_MB", "0.000001")  # keeps only the newest
    stores = [twins[name][1] for name in ("ecephys_file", "intervals_file")]
    for store in stores:
        with open_nwb(store):
            pass
    assert not mirror_path(stores[0]).exists()
    assert mirror_path(stores[1]).exists()
