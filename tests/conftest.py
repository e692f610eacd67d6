"""Shared fixtures: headless Qt, a private index cache, the demo file and small pynwb files.

Every file fixture is written once per test session into a session tmp folder and is only ever
opened read-only by the code under test, so tests can share it. A test that needs to change a
file copies it first (or uses ``bad_input``, which writes broken copies).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Before anything imports Qt: no display is needed (and CI has none).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.core import foundation_fixtures as ff  # noqa: E402

#: Environment variables pointing ndviewer's per-user folders somewhere else.
USER_FOLDERS = {
    "NDVIEWER_CACHE_DIR": "cache",
    "NDVIEWER_CONFIG_DIR": "config",
    "NDVIEWER_LOG_DIR": "log",
}


@pytest.fixture(scope="session", autouse=True)
def ndviewer_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point ndviewer's cache, settings and log folders into the session's tmp folder.

    Tests never read or write the user's own index cache, recent files or log. Subprocesses
    started by tests (``python -m ndviewer info``) inherit the variables. Yields the cache folder.
    """
    root = tmp_path_factory.mktemp("ndviewer-user")
    previous = {name: os.environ.get(name) for name in USER_FOLDERS}
    for name, folder in USER_FOLDERS.items():
        os.environ[name] = str(root / folder)
    yield root / USER_FOLDERS["NDVIEWER_CACHE_DIR"]
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small build of the demo session (same objects as ``make run``'s file, fewer samples)."""
    path = tmp_path_factory.mktemp("demo") / "demo.nwb"
    ff.load_make_demo().build_demo(path, scale=ff.DEMO_TEST_SCALE)
    return path


def _session_file(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    folder = tmp_path_factory.mktemp(name)
    return ff.WRITERS[name](folder / f"{name.removesuffix('_file')}.nwb")


@pytest.fixture(scope="session")
def ecephys_file(tmp_path_factory) -> Path:
    """Raw ElectricalSeries (rate), LFP (timestamps), Units, a soft-linked timestamps series."""
    return _session_file(tmp_path_factory, "ecephys_file")


@pytest.fixture(scope="session")
def ophys_file(tmp_path_factory) -> Path:
    """TwoPhotonSeries, PlaneSegmentation with image masks, Fluorescence and DfOverF."""
    return _session_file(tmp_path_factory, "ophys_file")


@pytest.fixture(scope="session")
def icephys_file(tmp_path_factory) -> Path:
    """Clamp series organised with IntracellularRecordingsTable and the tables above it."""
    return _session_file(tmp_path_factory, "icephys_file")


@pytest.fixture(scope="session")
def behavior_file(tmp_path_factory) -> Path:
    """Position/SpatialSeries, BehavioralEvents, PupilTracking, an AnnotationSeries."""
    return _session_file(tmp_path_factory, "behavior_file")


@pytest.fixture(scope="session")
def intervals_file(tmp_path_factory) -> Path:
    """Trials with extra columns, epochs with tags and series references, custom intervals."""
    return _session_file(tmp_path_factory, "intervals_file")


@pytest.fixture(scope="session")
def ndx_events_file(tmp_path_factory) -> Path:
    """An ndx-events EventsTable of lick times; the ndx-events namespace is cached."""
    return _session_file(tmp_path_factory, "ndx_events_file")


@pytest.fixture(scope="session")
def ndx_pose_file(tmp_path_factory) -> Path:
    """ndx-pose Skeletons and a PoseEstimation with two PoseEstimationSeries."""
    return _session_file(tmp_path_factory, "ndx_pose_file")


@pytest.fixture(scope="session")
def nocache_file(tmp_path_factory) -> Path:
    """An NWB file written with ``cache_spec=False`` (no /specifications)."""
    return _session_file(tmp_path_factory, "nocache_file")


@pytest.fixture(scope="session")
def plain_hdf5_file(tmp_path_factory) -> Path:
    """Plain HDF5 without NWB attributes (must open as generic HDF5)."""
    return _session_file(tmp_path_factory, "plain_hdf5_file")


@pytest.fixture(scope="session")
def sha256() -> Callable[[Path], str]:
    """``sha256(path)``: the file's digest, to prove that opening it changed no byte."""

    def digest(path: Path) -> str:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()

    return digest


@pytest.fixture(scope="session")
def bad_input(ecephys_file: Path, ndx_pose_file: Path) -> Iterator[Callable[[str], ff.BadInput]]:
    """Factory: ``bad_input(kind)`` writes a fresh broken input and returns a ``BadInput``.

    Kinds are ``foundation_fixtures.BAD_INPUT_KINDS``. Files live in a world-traversable folder
    so that a test running as root can check "permission denied" as user ``nobody``.
    """
    folders: list[Path] = []

    def make(kind: str) -> ff.BadInput:
        folder = ff.world_traversable_dir()
        folders.append(folder)
        return ff.write_bad_input(kind, folder, ecephys_file, ndx_pose_file)

    yield make
    for folder in folders:
        for child in folder.iterdir():
            child.chmod(0o644)
        shutil.rmtree(folder, ignore_errors=True)
