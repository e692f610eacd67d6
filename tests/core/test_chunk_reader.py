"""ChunkReader must return exactly what h5py returns, for every layout and filter it meets."""

from __future__ import annotations

import threading
import zlib

import h5py
import hdf5plugin
import numpy as np
import pytest

from ndviewer.core.signal.chunk_reader import (
    ChunkReader,
    in_pool_thread,
    make_decode_pool,
    map_slabs,
)


@pytest.fixture(scope="module")
def pool():
    executor = make_decode_pool(2)
    yield executor
    executor.shutdown()


def _make(tmp_path, name="d", data=None, **kwargs):
    path = tmp_path / f"{name}.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset(name, data=data, **kwargs)
    f = h5py.File(path, "r")
    return f, f[name]


STACK = np.random.default_rng(1).integers(0, 60000, size=(7, 13, 11), dtype=np.uint16)


@pytest.mark.parametrize(
    "options",
    [
        {"chunks": (1, 13, 11), "compression": "gzip"},
        {"chunks": (1, 13, 11), "compression": "gzip", "shuffle": True},
        {"chunks": (3, 5, 4), "compression": "gzip", "shuffle": True, "fletcher32": True},
        {"chunks": (1, 13, 11), "shuffle": True},
    ],
    ids=["gzip", "gzip+shuffle", "edge-chunks+fletcher", "shuffle-only"],
)
@pytest.mark.parametrize("inflate", ["default", "zlib"])
def test_parallel_path_matches_h5py(tmp_path, pool, options, inflate, monkeypatch):
    if inflate == "zlib":  # the standard library path, whether or not isal is installed
        monkeypatch.setattr("ndviewer.core.signal.inflate._decompress", zlib.decompress)
    f, ds = _make(tmp_path, data=STACK, **options)
    with f:
        reader = ChunkReader(ds, pool)
        assert reader.parallel
        for start, stop in [(0, 1), (2, 3), (1, 6), (0, 7), (6, 7)]:
            np.testing.assert_array_equal(reader.read(start, stop), STACK[start:stop])
        np.testing.assert_array_equal(reader.read_frame(4), STACK[4])
        futures = [reader.submit(i) for i in range(7)]
        for i, fut in enumerate(futures):
            np.testing.assert_array_equal(fut.result(timeout=10)[0], STACK[i])


def test_whole_chunk_slab_is_not_copied(tmp_path, pool):
    f, ds = _make(tmp_path, data=STACK, chunks=(1, 13, 11), compression="gzip")
    with f:
        frame = ChunkReader(ds, pool).submit(3).result(timeout=10)
    np.testing.assert_array_equal(frame[0], STACK[3])
    assert not frame.flags.writeable  # the inflated buffer itself, not a copy


def test_big_endian_and_float(tmp_path, pool):
    data = np.random.default_rng(2).normal(size=(4, 6, 5)).astype(">f4")
    f, ds = _make(tmp_path, data=data, chunks=(1, 6, 5), compression="gzip", shuffle=True)
    with f:
        reader = ChunkReader(ds, pool)
        out = reader.read(0, 4)
        assert out.dtype == np.dtype("float32") and out.dtype.isnative
        np.testing.assert_array_equal(out, data.astype("f4"))


def test_unwritten_chunks_give_fill_value(tmp_path, pool):
    path = tmp_path / "fill.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(
            "d", (5, 4, 4), "i2", chunks=(1, 4, 4), compression="gzip", fillvalue=-7
        )
        ds[1] = 3
    with h5py.File(path, "r") as f:
        reader = ChunkReader(f["d"], pool)
        out = reader.read(0, 3)
        assert (out[0] == -7).all() and (out[1] == 3).all() and (out[2] == -7).all()


def test_plugin_filter_falls_back_to_hdf5(tmp_path, pool):
    f, ds = _make(tmp_path, data=STACK, chunks=(1, 13, 11), **hdf5plugin.Zstd())
    with f:
        reader = ChunkReader(ds, pool)
        assert not reader.parallel
        np.testing.assert_array_equal(reader.read(2, 5), STACK[2:5])
        np.testing.assert_array_equal(reader.submit(6).result(timeout=10)[0], STACK[6])


@pytest.mark.parametrize("options", [{}, {"chunks": (2, 13, 11)}], ids=["contiguous", "chunked"])
def test_uncompressed_reads_go_through_hdf5(tmp_path, pool, options):
    f, ds = _make(tmp_path, data=STACK, **options)
    with f:
        reader = ChunkReader(ds, pool)
        assert not reader.parallel
        np.testing.assert_array_equal(reader.read(3, 7), STACK[3:7])
        np.testing.assert_array_equal(reader.submit(1).result(timeout=10)[0], STACK[1])


def test_out_of_range_raises(tmp_path, pool):
    f, ds = _make(tmp_path, data=STACK, chunks=(1, 13, 11), compression="gzip")
    with f:
        reader = ChunkReader(ds, pool)
        with pytest.raises(IndexError):
            reader.read(6, 8)
        with pytest.raises(IndexError):
            reader.read(-1)


def test_read_inside_pool_thread_does_not_deadlock(tmp_path):
    """A one-thread pool whose task reads a multi-chunk slab must not wait on itself."""
    small = make_decode_pool(1)
    f, ds = _make(tmp_path, data=STACK, chunks=(1, 5, 4), compression="gzip")
    with f:
        reader = ChunkReader(ds, small)

        def task():
            assert in_pool_thread()
            return reader.read(0, 7)

        np.testing.assert_array_equal(small.submit(task).result(timeout=10), STACK)
    small.shutdown()


def test_iter_slabs_follow_chunk_grid(tmp_path, pool):
    f, ds = _make(tmp_path, data=STACK, chunks=(3, 13, 11), compression="gzip")
    with f:
        reader = ChunkReader(ds, pool)
        assert list(reader.iter_slabs(1, 7)) == [(1, 3), (3, 6), (6, 7)]
        assert list(reader.iter_slabs(0, 7, max_items=7)) == [(0, 6), (6, 7)]


def test_map_slabs_in_order_and_parallel(tmp_path, pool):
    f, ds = _make(tmp_path, data=STACK, chunks=(1, 13, 11), compression="gzip")
    threads = set()
    with f:
        reader = ChunkReader(ds, pool)

        def consume(lo, hi, block):
            threads.add(threading.current_thread().name)
            return lo, int(block.sum())

        results = list(map_slabs(reader, list(reader.iter_slabs(0, 7)), consume, 3))
    assert [lo for lo, _ in results] == list(range(7))
    assert [s for _, s in results] == [int(STACK[i].sum()) for i in range(7)]
    assert all(name.startswith("ndviewer-decode") for name in threads)
