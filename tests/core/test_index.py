"""The typed index: complete against pynwb, the same in parallel, persisted by file identity."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import shutil

import h5py
import numpy as np
import pytest

from ndviewer.core.model import index as index_module
from ndviewer.core.model.files import FileIdentity, open_nwb
from ndviewer.core.model.index import (
    FileIndex,
    IndexEntry,
    build_index,
    build_index_parallel,
    file_index,
)
from ndviewer.core.nwb.summary import series_types
from tests.core import foundation_fixtures as ff

NWB_FIXTURES = [name for name in ff.WRITERS if name != "plain_hdf5_file"]


def _pynwb_objects(path) -> dict[str, str]:
    """object_id -> neurodata type of every object pynwb builds from the file."""
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        # pynwb types say neurodata_type; hdmf-common ones only data_type
        return {
            object_id: getattr(obj, "neurodata_type", None) or obj.data_type
            for object_id, obj in nwb.objects.items()
        }


@pytest.mark.parametrize("fixture", [*NWB_FIXTURES, "demo_file"])
def test_index_finds_every_object_pynwb_knows(request, fixture):
    path = request.getfixturevalue(fixture)
    with open_nwb(path) as file:
        index = build_index(file.h5, series_types(file))
        ours = {
            file.h5[entry.path].attrs["object_id"]: entry.neurodata_type for entry in index.typed
        }
    assert ours == _pynwb_objects(path)


@pytest.mark.parametrize("fixture", NWB_FIXTURES)
def test_exact_types_at_exact_paths(request, fixture):
    path = request.getfixturevalue(fixture)
    with open_nwb(path) as file:
        index = build_index(file.h5, series_types(file))
    for object_path, type_name in ff.EXPECTED_TYPES[fixture].items():
        assert index.by_path[object_path].neurodata_type == type_name, object_path
    assert not any(entry.path.startswith("/specifications") for entry in index.entries)


def test_paths_of_a_type_follow_is_a_in_walk_order():
    entries = [
        IndexEntry("/b", "group", "ElectricalSeries", "core", None, None),
        IndexEntry("/b/data", "dataset", None, None, (4,), "float64"),
        IndexEntry("/a", "group", "TimeSeries", "core", None, None),
        IndexEntry("/u", "group", "Units", "core", None, None),
    ]
    parents = {"ElectricalSeries": "TimeSeries", "Units": "DynamicTable"}

    def is_a(neurodata_type, base):
        return neurodata_type == base or parents.get(neurodata_type) == base

    index = FileIndex(None, entries)
    assert index.paths_of("TimeSeries", is_a) == ["/b", "/a"]
    assert index.paths_of("DynamicTable", is_a) == ["/u"]
    assert index.paths_of("ElectricalSeries", is_a) == ["/b"]
    assert index.paths_of("Images", is_a) == []


def test_layouts_and_series_facts(ecephys_file, intervals_file):
    with open_nwb(ecephys_file) as file:
        index = build_index(file.h5, series_types(file))
    entry = index.by_path["/acquisition/raw/data"]
    assert (entry.kind, entry.shape, entry.dtype) == ("dataset", (2000, 8), "int16")
    assert entry.neurodata_type is None and entry.namespace is None
    region = index.by_path["/acquisition/raw/electrodes"]
    assert (region.neurodata_type, region.namespace) == ("DynamicTableRegion", "hdmf-common")
    electrodes = "/general/extracellular_ephys/electrodes"
    assert index.by_path[f"{electrodes}/location"].dtype == "text"
    assert index.by_path[f"{electrodes}/group"].dtype == "reference"
    assert index.by_path["/units/spike_times_index"].dtype == "uint8"
    assert index.by_path["/"].neurodata_type == "NWBFile"

    raw = index.series["/acquisition/raw"]
    assert raw == index_module.SeriesFacts(
        data_shape=(ff.ECEPHYS_SAMPLES, ff.ECEPHYS_CHANNELS),
        unit="volts",
        rate=ff.ECEPHYS_RATE,
        starting_time=ff.ECEPHYS_START,
    )
    lfp = index.series["/processing/ecephys/LFP/lfp"]
    assert (lfp.timestamps_count, lfp.rate) == (ff.LFP_SAMPLES, None)
    assert lfp.first_timestamp == ff.LFP_TIMESTAMPS[0]
    assert lfp.last_timestamp == ff.LFP_TIMESTAMPS[-1]
    # timestamps shared through a soft link are found although the walk does not follow links
    linked = index.series["/processing/ecephys/lfp_power"]
    assert (linked.timestamps_count, linked.last_timestamp) == (
        ff.LFP_SAMPLES,
        ff.LFP_TIMESTAMPS[-1],
    )
    assert linked.unit == "V^2"

    with open_nwb(intervals_file) as file:
        index = build_index(file.h5, series_types(file))
    assert index.by_path["/intervals/trials/correct"].dtype == "enum"
    assert index.by_path["/intervals/epochs/timeseries"].dtype == "compound"
    # trials: start, stop, condition, correct; epochs: start, stop, tags; 2 x (start, stop)
    assert index.counts_by_type()["VectorData"] == 11
    assert list(index.counts_by_type())[0] == "VectorData"  # most frequent first


@pytest.fixture(scope="module")
def worker_pool():
    """Two spawned worker processes shared by the parallel tests (starting them is the cost)."""
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=2, mp_context=multiprocessing.get_context("spawn")
    )
    yield pool
    pool.shutdown(wait=True)


class _CountingExecutor:
    def __init__(self, pool) -> None:
        self.pool = pool
        self.submitted = 0

    def submit(self, *args, **kwargs):
        self.submitted += 1
        return self.pool.submit(*args, **kwargs)


@pytest.fixture(scope="module")
def awkward_names_file(tmp_path_factory):
    """Names whose string order differs from HDF5's walk order ("a-b" < "a/x" as strings)."""
    path = tmp_path_factory.mktemp("names") / "names.nwb"
    with h5py.File(path, "w") as h5:
        h5.attrs["neurodata_type"] = "NWBFile"
        h5.attrs["namespace"] = "core"
        for top in ("a", "a-b", "a.c", "B", "a0", "ü"):
            group = h5.create_group(top)
            group.attrs["neurodata_type"] = "ProcessingModule"
            group.attrs["namespace"] = "core"
            for sub in ("x", "x-y", "x.z"):
                child = group.create_group(sub)
                child.attrs["neurodata_type"] = "TimeSeries"
                child.attrs["namespace"] = "core"
                child.create_dataset("data", data=np.arange(5.0)).attrs["unit"] = "m"
                child.create_dataset("timestamps", data=np.arange(5.0) / 2)
    return path


@pytest.fixture(scope="module")
def external_links_file(tmp_path_factory):
    """External links at the top levels and deep inside the subtrees the workers walk (which
    list those of their subtrees themselves), one of them dangling."""
    folder = tmp_path_factory.mktemp("links")
    with h5py.File(folder / "raw.h5", "w") as raw:
        series = raw.create_group("acquisition/raw")
        series.attrs["neurodata_type"] = "TimeSeries"
        series.attrs["namespace"] = "core"
        series.create_dataset("data", data=np.arange(6.0)).attrs["unit"] = "V"
        series.create_dataset("timestamps", data=np.arange(6.0))
    path = folder / "links.nwb"
    with h5py.File(path, "w") as h5:
        h5.attrs["neurodata_type"] = "NWBFile"
        h5.attrs["namespace"] = "core"
        h5["acquisition/top_link"] = h5py.ExternalLink("raw.h5", "/acquisition/raw")
        for top in ("m0", "m1", "m2"):
            module = h5.create_group(f"processing/{top}")
            module.attrs["neurodata_type"] = "ProcessingModule"
            module.attrs["namespace"] = "core"
            for sub in ("c0", "c1"):
                container = module.create_group(sub)
                for leaf in ("s0", "s1"):
                    child = container.create_group(leaf)
                    child.attrs["neurodata_type"] = "TimeSeries"
                    child.attrs["namespace"] = "core"
                    child.create_dataset("data", data=np.arange(3.0)).attrs["unit"] = "m"
                    child.create_dataset("timestamps", data=np.arange(3.0))
                    if leaf == "s1":  # inside a subtree a worker walks
                        child["linked"] = h5py.ExternalLink("raw.h5", "/acquisition/raw/data")
                container["deep_link"] = h5py.ExternalLink("raw.h5", "/acquisition/raw")
                container["z_gone"] = h5py.ExternalLink("missing.h5", "/acquisition/raw")
    return path


def test_parallel_index_finds_external_links_at_every_depth(external_links_file, worker_pool):
    executor = _CountingExecutor(worker_pool)
    with open_nwb(external_links_file) as file:
        types = series_types(file) | {"TimeSeries"}
        single = build_index(file.h5, types)
        parallel = build_index_parallel(file.h5, types, executor=executor, min_objects=0)
    assert executor.submitted >= 2
    links = [e.path for e in single.entries if e.link is not None]
    assert "/acquisition/top_link" in links
    assert "/processing/m2/c1/deep_link" in links and "/processing/m0/c0/z_gone" in links
    assert "/processing/m1/c0/s1/linked" in links
    assert len(links) == 1 + 3 * 2 * 3
    assert sorted(parallel.entries, key=lambda e: e.path) == sorted(
        single.entries, key=lambda e: e.path
    )
    assert parallel.series == single.series
    assert sorted(parallel.problems) == sorted(single.problems)
    assert len(single.problems) == 3 * 2


@pytest.mark.parametrize("fixture", ["awkward_names_file", "demo_file", "icephys_file"])
def test_parallel_index_equals_single_process_index(request, fixture, worker_pool, monkeypatch):
    path = request.getfixturevalue(fixture)
    executor = _CountingExecutor(worker_pool)
    with open_nwb(path) as file:
        types = series_types(file) | {"TimeSeries"}
        single = build_index(file.h5, types)
        parallel = build_index_parallel(file.h5, types, executor=executor, min_objects=0)
    assert executor.submitted >= 2  # the work really went to the workers
    assert parallel.entries == single.entries  # same objects, same order
    assert parallel.series == single.series
    assert len(single.entries) > 20


def test_persisted_index_is_used_until_the_file_changes(ecephys_file, tmp_path, monkeypatch):
    monkeypatch.setenv("NDVIEWER_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "session.nwb"
    shutil.copyfile(ecephys_file, path)

    def index_of(use_cache: bool = True):
        with open_nwb(path) as file:
            return file_index(file.h5, FileIdentity.of(path), series_types(file), use_cache)

    first = index_of()
    assert not first.from_cache
    assert len(list((tmp_path / "cache" / "index").glob("*.pickle"))) == 1
    again = index_of()
    assert again.from_cache
    assert again.entries == first.entries and again.series == first.series
    assert again.identity == FileIdentity.of(path)

    # same bytes, new modification time: the index is rebuilt (and persisted again)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    assert not index_of().from_cache
    assert index_of().from_cache

    # new content: rebuilt, and the new object is in it
    with h5py.File(path, "r+") as h5:
        added = h5.create_group("acquisition/added")
        added.attrs["neurodata_type"] = "TimeSeries"
        added.attrs["namespace"] = "core"
        added.create_dataset("data", data=np.zeros(3))
    changed = index_of()
    assert not changed.from_cache
    assert changed.by_path["/acquisition/added"].neurodata_type == "TimeSeries"
    assert "/acquisition/added" not in first.by_path


def test_no_cache_neither_reads_nor_writes(ecephys_file, tmp_path, monkeypatch):
    monkeypatch.setenv("NDVIEWER_CACHE_DIR", str(tmp_path / "cache"))
    with open_nwb(ecephys_file, use_cache=False) as file:  # nor does its parsed spec
        index = file_index(file.h5, file.identity, series_types(file), use_cache=False)
        assert not index.from_cache
        assert not (tmp_path / "cache").exists()
        file_index(file.h5, file.identity, series_types(file))  # persists
        assert file_index(file.h5, file.identity, use_cache=True).from_cache
        assert not file_index(file.h5, file.identity, use_cache=False).from_cache


def test_damaged_cache_file_is_rebuilt_not_an_error(ecephys_file, tmp_path, monkeypatch):
    monkeypatch.setenv("NDVIEWER_CACHE_DIR", str(tmp_path / "cache"))
    with open_nwb(ecephys_file) as file:
        built = file_index(file.h5, file.identity, series_types(file))
        (cached,) = (tmp_path / "cache" / "index").glob("*.pickle")
        cached.write_bytes(b"\x80\x05 not a pickle")
        index_module._alive.clear()  # as in a new process: nothing shared from memory
        rebuilt = file_index(file.h5, file.identity, series_types(file))
        assert not rebuilt.from_cache
        assert rebuilt.entries == built.entries


def test_plan_estimate_counts_deep_trees(tmp_path):
    """Issue 23.8: the planner stopped descending at enough units and counted only their
    members (1,102 for a file of 301 k objects), so a large file was walked in one process."""
    import h5py

    from ndviewer.core.model.index import PARALLEL_THRESHOLD, _plan_units

    path = tmp_path / "deep.h5"
    with h5py.File(path, "w") as h5:
        for module in range(60):
            for container in range(10):
                group = h5.create_group(f"processing/module_{module:02d}/c_{container}")
                for series in range(12):
                    group.create_group(f"s_{series:02d}")
    actual = 1 + 60 + 600 + 60 * 10 * 12
    with h5py.File(path, "r") as h5:
        estimate = _plan_units(h5, want=16)[2]
    assert 0.8 * actual <= estimate <= 1.2 * actual
    assert estimate >= PARALLEL_THRESHOLD


def test_persisted_index_round_trip_leaves_the_collector_as_it_was(tmp_path):
    """Issue 23.8: reopening rebuilds every entry with the collector paused (0.72 -> 0.28 s
    for 301 k entries); the entries come back equal and the collector is running again."""
    import gc

    from ndviewer.core.cache import FileIdentity
    from ndviewer.core.model.index import (
        FileIndex,
        IndexEntry,
        SeriesFacts,
        load_cached_index,
        save_index,
    )

    path = tmp_path / "stand-in.nwb"
    path.write_bytes(b"x")
    entries = [IndexEntry(f"/g{i}", "group", "TimeSeries", "core", None, None) for i in range(3000)]
    # more than 256 distinct names: the columns' codes no longer fit in bytes
    entries += [IndexEntry(f"/d{i}", "dataset", f"T{i}", None, (i,), "int8") for i in range(300)]
    entries.append(IndexEntry("/ext", "group", "TimeSeries", "core", None, None, "a.nwb::/x"))
    series = {
        "/g1": SeriesFacts((10, 2), "V", 5.0, 0.0, num_samples=None, external_files=1),
        "/g2": SeriesFacts((3,), None, None, None, 3, 0.5, 1.5, num_samples=3),
        "/not/an/entry": SeriesFacts(None, "mV"),
    }
    index = FileIndex(FileIdentity.of(path), entries, series, problems=["p"])
    # (the GUI tests' session collector disables automatic collection: compare, don't assume)
    enabled_before = gc.isenabled()
    save_index(index)
    assert gc.isenabled() == enabled_before
    loaded = load_cached_index(FileIdentity.of(path))
    assert gc.isenabled() == enabled_before
    assert loaded is not None and loaded.from_cache
    assert loaded.entries == entries and loaded.series == series and loaded.problems == ["p"]
    assert loaded.by_path["/ext"].link == "a.nwb::/x"


@pytest.fixture(scope="module")
def unusual_layouts_file(tmp_path_factory):
    """Objects the C road of the worker walk hands back to h5py: fixed-length and array type
    attributes, a text ``starting_time``, a non-scalar rate, a null dataspace, a compound and
    a vlen dtype, a series without ``unit``, timestamps and ``num_samples``."""
    path = tmp_path_factory.mktemp("unusual") / "unusual.nwb"
    with h5py.File(path, "w") as h5:
        h5.attrs["neurodata_type"] = "NWBFile"
        h5.attrs["namespace"] = "core"
        top = h5.create_group("processing/m")
        top.attrs["neurodata_type"] = "ProcessingModule"
        top.attrs["namespace"] = "core"
        fixed = top.create_group("fixed")
        fixed.attrs.create("neurodata_type", np.bytes_("TimeSeries"))
        fixed.attrs.create("namespace", np.bytes_("core"))
        fixed.create_dataset("data", data=np.arange(4, dtype=np.int16)).attrs["unit"] = "V"
        fixed.create_dataset("starting_time", data=np.float64(2.5)).attrs["rate"] = 10.0
        odd = top.create_group("odd")
        odd.attrs["neurodata_type"] = "TimeSeries"
        odd.attrs["namespace"] = "core"
        odd.create_dataset("data", data=np.zeros((3, 2), dtype=np.uint8))  # no unit
        odd.create_dataset("starting_time", data="soon").attrs["rate"] = [1.0, 2.0]
        odd.create_dataset("num_samples", data=3)
        stamped = top.create_group("stamped")
        stamped.attrs["neurodata_type"] = "TimeSeries"
        stamped.attrs["namespace"] = "core"
        stamped.create_dataset("data", data=np.arange(3.0)).attrs["unit"] = np.bytes_("m")
        stamped.create_dataset("timestamps", data=np.arange(3.0) / 4)
        listed = top.create_group("listed")
        listed.attrs["neurodata_type"] = ["A", "B"]
        listed.attrs["namespace"] = "core"
        other = top.create_group("other")
        other.create_dataset("empty", data=h5py.Empty("f8"))
        other.create_dataset("pairs", data=np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]))
        other.create_dataset("ragged", (2,), dtype=h5py.vlen_dtype(np.int32))
        other.create_dataset("flag", data=np.array([True, False]))
        typed = other.create_dataset("ids", data=np.arange(5, dtype=np.int64))
        typed.attrs["neurodata_type"] = "ElementIdentifiers"
        typed.attrs["namespace"] = "hdmf-common"
        other.create_dataset("words", data=["a", "bc"], dtype=h5py.string_dtype())
        other.attrs["note"] = "untyped, with attributes"
    return path


@pytest.mark.parametrize("fixture", ["unusual_layouts_file", "demo_file", "icephys_file"])
def test_worker_walk_through_the_c_api_equals_the_h5py_walk(request, fixture):
    from ndviewer.core.model import fastwalk

    if fastwalk.api() is None:
        pytest.skip("HDF5's C API is not reachable through ctypes here")
    path = request.getfixturevalue(fixture)
    with open_nwb(path) as file:
        types = series_types(file) | {"TimeSeries"}
        units = [f"/{name}" for name in file.h5 if name != "specifications"]
        slow = index_module._Walker(file.h5, types)
        fast = index_module._Walker(file.h5, types)
        for unit in units:
            slow.walk(unit)
            assert index_module._walk_fast(fast, unit)
    assert fast.entries == slow.entries
    assert fast.series == slow.series
    assert fast.problems == slow.problems
    assert len(slow.entries) > 10


def test_an_index_alive_in_memory_is_shared_not_loaded_again(ecephys_file, tmp_path, monkeypatch):
    """The GUI's background checks ask for the index of the tab's file: they get the tab's
    entries (one copy in memory), and a changed file is not answered from memory."""
    from ndviewer.core.model.index import load_cached_index

    monkeypatch.setenv("NDVIEWER_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "session.nwb"
    shutil.copyfile(ecephys_file, path)
    with open_nwb(path) as file:
        built = file_index(file.h5, file.identity, series_types(file))
        shared = load_cached_index(file.identity)
    assert shared is not None and shared.from_cache and not built.from_cache
    assert shared.entries is built.entries and shared.series is built.series
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    assert load_cached_index(FileIdentity.of(path)) is None
