"""Opening files: read-only handles, identity, HDF5 detection and compression filters."""

from __future__ import annotations

import os
import shutil

import h5py
import numpy as np
import pytest

from ndviewer.core.errors import FileOpenError, NdviewerError
from ndviewer.core.model.files import FileIdentity, check_readable, open_h5, open_nwb


def test_open_nwb_is_read_only_and_closes(ecephys_file):
    with open_nwb(ecephys_file) as file:
        assert file.path == ecephys_file
        assert file.h5.mode == "r"
        assert file.is_open
        assert file.is_nwb
        assert file.nwb_version == "2.11.0"
        with pytest.raises((OSError, ValueError)):
            file.h5.create_group("not_allowed")
    assert not file.is_open
    file.close()  # closing twice is harmless


def test_open_leaves_the_file_byte_identical(ecephys_file, sha256):
    before = sha256(ecephys_file)
    stat_before = os.stat(ecephys_file)
    with open_nwb(ecephys_file) as file:
        _ = file.catalog, file.root.children(), file.node("/acquisition/raw").attrs
    assert sha256(ecephys_file) == before
    assert os.stat(ecephys_file).st_mtime_ns == stat_before.st_mtime_ns


def test_identity_names_path_size_and_mtime(ecephys_file, tmp_path):
    copy = tmp_path / "copy.nwb"
    shutil.copyfile(ecephys_file, copy)
    identity = FileIdentity.of(copy)
    stat = copy.stat()
    assert identity == FileIdentity(str(copy.resolve()), stat.st_size, stat.st_mtime_ns)
    assert identity.key() == f"{copy.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert FileIdentity.of(copy) != identity
    with open_nwb(copy) as file:
        assert file.identity == FileIdentity.of(copy)


def test_plain_hdf5_opens_as_generic_hdf5(plain_hdf5_file):
    with open_nwb(plain_hdf5_file) as file:
        assert not file.is_nwb
        assert file.nwb_version is None
        assert file.catalog.spec_source == "none"
        assert [node.name for node in file.root.children()] == ["alias", "measurements", "scalar"]
        assert file.problems == []


def test_user_block_before_the_superblock_is_still_hdf5(tmp_path):
    path = tmp_path / "userblock.h5"
    with h5py.File(path, "w", userblock_size=1024) as h5:
        h5["x"] = np.arange(4)
    with path.open("r+b") as handle:  # a user block holds arbitrary bytes
        handle.write(b"not the signature")
    assert check_readable(path) == path
    with open_h5(path) as h5:
        assert list(h5["x"][()]) == [0, 1, 2, 3]


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(FileOpenError) as caught:
        open_nwb(tmp_path)
    assert caught.value.message == f"Cannot open {tmp_path}: it is a folder, not a file."
    assert isinstance(caught.value, NdviewerError)


def test_hdf5plugin_filters_are_registered(tmp_path):
    hdf5plugin = pytest.importorskip("hdf5plugin")
    path = tmp_path / "zstd.h5"
    values = np.arange(10_000, dtype=np.int32).reshape(100, 100)
    with h5py.File(path, "w") as h5:
        h5.create_dataset("zstd", data=values, chunks=(10, 100), **hdf5plugin.Zstd())
        h5.create_dataset("blosc", data=values, chunks=(10, 100), **hdf5plugin.Blosc())
    with open_nwb(path) as file:
        zstd = file.node("/zstd")
        assert zstd.compression == "zstd"
        np.testing.assert_array_equal(zstd.h5obj()[()], values)
        assert file.node("/blosc").compression == "blosc"
        np.testing.assert_array_equal(file.node("/blosc").h5obj()[50], values[50])


def test_file_open_for_writing_elsewhere_is_explained_not_raw_hdf5(tmp_path):
    """A file another process holds open for writing (latest format, consistency flags set)
    used to show HDF5's raw "file is already open for write (may use <h5clear file>…)"."""
    import subprocess
    import sys

    path = tmp_path / "being_written.nwb"
    with h5py.File(path, "w", libver="latest") as h5:
        h5["x"] = [1, 2]
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, h5py; f = h5py.File(sys.argv[1], 'a', locking=False); "
            "print('open', flush=True); sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "open"
        with pytest.raises(FileOpenError) as caught:
            open_h5(path)
    finally:
        writer.communicate("", timeout=30)
    message = caught.value.message
    assert message.startswith(f"Cannot open {path}: another program has it open for writing")
    assert "Unable to synchronously" not in message and "<h5clear" not in message
    with open_h5(path) as h5:  # closed by the writer: readable again, contents intact
        assert list(h5["x"][()]) == [1, 2]


def test_metadata_cache_is_bounded(ecephys_file):
    """HDF5's adaptive metadata cache grows to 20 MB and more on a walk of many objects:
    every file the viewer opens caps it (issue 23.6, the tree's memory)."""
    from ndviewer.core.model.files import METADATA_CACHE_BYTES

    with open_h5(ecephys_file) as h5:
        assert h5.id.get_mdc_config().max_size == METADATA_CACHE_BYTES
        h5.visit(lambda name: None)  # a whole walk
        assert h5.id.get_mdc_size()[0] <= METADATA_CACHE_BYTES
    with open_nwb(ecephys_file) as file:
        assert file.h5.id.get_mdc_config().max_size == METADATA_CACHE_BYTES
