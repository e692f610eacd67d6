"""Level of detail: exact min/max decimation, storage-aligned reads, pyramids, window requests.

Every number is checked against a plain numpy computation over the same samples.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from ndviewer.core.nwb.timeseries import TimeSeriesSource
from ndviewer.core.signal.lod import (
    ArrayBlockReader,
    H5BlockReader,
    NeedsPyramid,
    PyramidStore,
    TraceLod,
    build_pyramid,
    combine_bins,
    minmax_bins,
    pyramid_levels,
    rebin_by_time,
)
from ndviewer.core.signal.lod.blocks import unit_pool
from ndviewer.core.signal.lod.decimate import empty_minmax, merge_into


def reference_bins(data: np.ndarray, start: int, spc: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Loop-by-loop min/max of aligned bins, NaN ignored unless a bin is all NaN."""
    data = data.reshape(data.shape[0], -1)
    first = start // spc
    last = (start + data.shape[0] - 1) // spc
    lo, hi = [], []
    for b in range(first, last + 1):
        a = max(b * spc, start) - start
        z = min((b + 1) * spc, start + data.shape[0]) - start
        seg = data[a:z].astype(np.float64)
        with np.errstate(invalid="ignore"):
            all_nan = np.all(np.isnan(seg), axis=0)
            seg_lo = np.where(all_nan, np.nan, np.min(np.where(np.isnan(seg), np.inf, seg), 0))
            seg_hi = np.where(all_nan, np.nan, np.max(np.where(np.isnan(seg), -np.inf, seg), 0))
        lo.append(seg_lo)
        hi.append(seg_hi)
    return first, np.array(lo), np.array(hi)


@pytest.mark.parametrize("start", [0, 1, 63, 64, 1000])
@pytest.mark.parametrize("spc", [1, 7, 64, 500])
@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_minmax_bins_match_numpy(start: int, spc: int, dtype) -> None:
    rng = np.random.default_rng(spc * 1000 + start)
    data = (rng.normal(size=(1237, 5)) * 1000).astype(dtype)
    first, lo, hi = minmax_bins(data, start, spc)
    rfirst, rlo, rhi = reference_bins(data, start, spc)
    assert first == rfirst
    np.testing.assert_array_equal(lo, rlo.astype(dtype))
    np.testing.assert_array_equal(hi, rhi.astype(dtype))
    assert lo.dtype == dtype


def test_minmax_bins_edges_and_single_channel() -> None:
    data = np.arange(10, dtype=np.int32)
    first, lo, hi = minmax_bins(data, 5, 4)  # samples 5..14 -> bins 1 (5-7), 2 (8-11), 3 (12-14)
    assert first == 1
    assert lo[:, 0].tolist() == [0, 3, 7]
    assert hi[:, 0].tolist() == [2, 6, 9]
    first, lo, hi = minmax_bins(data[:0], 5, 4)
    assert lo.shape == (0, 1)


def test_minmax_bins_nan_ignored_unless_whole_bin() -> None:
    data = np.array([[1.0], [np.nan], [3.0], [np.nan], [np.nan], [np.nan], [-2.0], [5.0]])
    first, lo, hi = minmax_bins(data, 0, 3)
    assert first == 0
    np.testing.assert_array_equal(lo[:, 0], [1.0, np.nan, -2.0])
    np.testing.assert_array_equal(hi[:, 0], [3.0, np.nan, 5.0])


def test_combine_bins_equals_direct_coarse_bins() -> None:
    rng = np.random.default_rng(3)
    data = rng.integers(-500, 500, size=(10_000, 4)).astype(np.int16)
    first, lo, hi = minmax_bins(data, 130, 16)
    cfirst, clo, chi = combine_bins(first, lo, hi, 4)
    dfirst, dlo, dhi = minmax_bins(data, 130, 64)
    assert cfirst == dfirst
    np.testing.assert_array_equal(clo, dlo)
    np.testing.assert_array_equal(chi, dhi)


def test_merge_into_folds_partial_bins() -> None:
    data = np.random.default_rng(4).normal(size=(1000, 3)).astype(np.float32)
    lo, hi = empty_minmax(1000 // 30 + 1, 3, np.float32)
    for a in range(0, 1000, 97):  # blocks that split bins
        merge_into(lo, hi, 0, *minmax_bins(data[a : a + 97], a, 30))
    _, rlo, rhi = minmax_bins(data, 0, 30)
    np.testing.assert_array_equal(lo, rlo)
    np.testing.assert_array_equal(hi, rhi)


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[h5py.File, np.ndarray]:
    rng = np.random.default_rng(5)
    data = rng.integers(-3000, 3000, size=(50_000, 40)).astype(np.int16)
    path = tmp_path_factory.mktemp("lod") / "data.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("plain", data=data, chunks=(3000, 16))
        f.create_dataset("gzip", data=data, chunks=(3000, 16), compression="gzip", shuffle=True)
        f.create_dataset("fletcher", data=data, chunks=(3000, 16), fletcher32=True)
        f.create_dataset("contiguous", data=data)
        f.create_dataset("lzf", data=data, chunks=(3000, 16), compression="lzf")
        f.create_dataset("one", data=data[:, 0], chunks=(4000,))
        f.create_dataset("three", data=data.reshape(50_000, 4, 10), chunks=(1000, 4, 10))
        f.create_dataset("unwritten", shape=(10_000, 20), dtype=np.int16, chunks=(1000, 20))
    h5 = h5py.File(path, "r")
    yield h5, data
    h5.close()


@pytest.mark.parametrize(
    ("name", "direct"),
    [
        ("plain", True),
        ("gzip", True),
        ("fletcher", True),
        ("contiguous", True),
        ("lzf", False),
        ("three", False),
    ],
)
def test_block_reader_reads_exact_windows(stored, name: str, direct: bool) -> None:
    h5, data = stored
    reader = H5BlockReader(h5[name])
    assert reader.direct is direct
    assert (reader.n_samples, reader.n_channels) == data.shape
    np.testing.assert_array_equal(reader.read(1234, 45_678, 3, 37), data[1234:45_678, 3:37])
    np.testing.assert_array_equal(reader.read(0, 50_000, 0, 40), data)
    pieces = list(reader.iter_units(2999, 6001, 15, 17))
    assert sum(p[2].size for p in pieces) == 3002 * 2
    reader.close()


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.int32, np.float32, np.float64])
def test_shuffled_chunks_decode_to_the_stored_values(tmp_path, dtype) -> None:
    rng = np.random.default_rng(9)
    data = (rng.normal(0, 1e4, size=(5000, 24))).astype(dtype)
    data[7, 3] = np.iinfo(dtype).min if np.dtype(dtype).kind in "iu" else -np.inf
    path = tmp_path / "shuffled.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("d", data=data, chunks=(1000, 8), compression="gzip", shuffle=True)
    with h5py.File(path, "r") as f:
        reader = H5BlockReader(f["d"])
        assert reader.direct
        np.testing.assert_array_equal(reader.read(0, 5000, 0, 24), data)
        reader.close()


def test_block_reader_one_dimensional_and_unwritten(stored) -> None:
    h5, data = stored
    reader = H5BlockReader(h5["one"])
    assert reader.direct and reader.n_channels == 1
    np.testing.assert_array_equal(reader.read(10, 9000, 0, 1)[:, 0], data[10:9000, 0])
    empty = H5BlockReader(h5["unwritten"])
    np.testing.assert_array_equal(empty.read(0, 3000, 0, 20), np.zeros((3000, 20), np.int16))


def test_compressed_units_are_decoded_once_while_recent(stored, monkeypatch) -> None:
    h5, data = stored
    reader = H5BlockReader(h5["gzip"])
    calls: list[tuple] = []
    real = reader._read_chunks
    monkeypatch.setattr(reader, "_read_chunks", lambda *args: calls.append(args) or real(*args))
    first = reader.read(100, 2900, 0, 40)
    again = reader.read(100, 2900, 0, 40)
    np.testing.assert_array_equal(again, data[100:2900])
    np.testing.assert_array_equal(first, again)
    assert len(calls) == len({args for args in calls}) == 3  # 3 channel units, decoded once
    assert not reader.read_unit(0, 0).flags.writeable  # shared: callers must not write
    reader.clear_cache()  # a closed view releases them: the next read decodes again
    np.testing.assert_array_equal(reader.read(100, 2900, 0, 40), data[100:2900])
    assert len(calls) == 6
    # a read from a decoding thread decodes its units in that thread (no wait on the pool)
    reader.clear_cache()
    pooled = unit_pool().submit(reader.read, 3100, 8900, 0, 40).result(timeout=10)
    np.testing.assert_array_equal(pooled, data[3100:8900])
    plain = H5BlockReader(h5["plain"])
    assert plain._decoded_budget == 0  # uncompressed reads are cheap: nothing kept


def test_pyramid_levels_cover_the_recording() -> None:
    assert pyramid_levels(1000) == ()
    levels = pyramid_levels(18_000_000)
    assert levels[0] == 64 and all(b == a * 4 for a, b in zip(levels, levels[1:], strict=False))
    assert 18_000_000 // levels[-1] <= 2048 < 18_000_000 // levels[-2]


def test_pyramid_build_matches_direct_decimation(stored, tmp_path) -> None:
    h5, data = stored
    reader = H5BlockReader(h5["plain"])
    seen: list[float] = []
    pyramid = build_pyramid(reader, tmp_path / "pyr", levels=(16, 64, 256), progress=seen.append)
    assert pyramid is not None and seen[-1] == 1.0
    for spc in (16, 64, 256):
        assert pyramid.n_bins(spc) == -(-50_000 // spc)
        lo, hi = pyramid.read(spc, 5, 123, 2, 30)
        _, rlo, rhi = minmax_bins(data, 0, spc)
        np.testing.assert_array_equal(lo, rlo[5:123, 2:30])
        np.testing.assert_array_equal(hi, rhi[5:123, 2:30])
    assert pyramid.best_level(100) == 64 and pyramid.best_level(10) is None


def test_pyramid_store_persists_and_rejects_mismatch(stored, tmp_path) -> None:
    h5, data = stored
    reader = ArrayBlockReader(np.repeat(data, 3, axis=0), unit_rows=7000)  # 150k samples
    store = PyramidStore(tmp_path / "store")
    key = store.key("file|1|2", "/acquisition/x/data", (150_000, 40), np.int16)
    assert store.load(key, reader) is None
    built = store.build(key, reader)
    assert built is not None and built.levels == pyramid_levels(150_000)
    again = PyramidStore(tmp_path / "store").load(key, reader)
    assert again is not None
    lo, hi = again.read(64, 0, 10)
    _, rlo, rhi = minmax_bins(reader.read(0, 640, 0, 40), 0, 64)
    np.testing.assert_array_equal(lo, rlo)
    np.testing.assert_array_equal(hi, rhi)
    assert store.load(key, ArrayBlockReader(data)) is None  # other shape: not this pyramid
    assert store.key("file|1|3", "/acquisition/x/data", (150_000, 40), np.int16) != key


def test_pyramid_build_cancel_leaves_nothing(tmp_path) -> None:
    reader = ArrayBlockReader(np.zeros((300_000, 2), np.int16), unit_rows=10_000)
    store = PyramidStore(tmp_path / "store")
    calls = iter(range(100))
    result = store.build("k", reader, cancelled=lambda: next(calls) >= 3)
    assert result is None
    assert list((tmp_path / "store").iterdir()) == []


def _regular_source(data: np.ndarray, rate: float = 1000.0, **kw) -> TimeSeriesSource:
    return TimeSeriesSource.from_numpy(data, rate=rate, starting_time=2.0, **kw)


def test_fetch_envelope_matches_numpy_and_scales() -> None:
    rng = np.random.default_rng(8)
    data = rng.integers(-1000, 1000, size=(20_000, 6)).astype(np.int16)
    cc = np.array([1.0, 2.0, -1.0, 0.5, 1.0, 3.0])
    src = _regular_source(data, conversion=0.5, offset=1.0, channel_conversion=cc)
    lod = TraceLod(src)
    win = lod.fetch(3.0, 9.0, np.array([1, 2, 4]), max_columns=500)
    assert win.kind == "envelope" and win.source == "raw"
    spc = int(np.ceil(6000 / 500))
    assert win.spc == spc
    i0, i1 = 1000, 7000  # samples at 3.0 s .. 9.0 s with rate 1000 and start 2.0
    b0, b1 = i0 // spc, -(-i1 // spc)
    assert win.lo.shape == (b1 - b0, 3)
    assert win.col_t0 == pytest.approx(2.0 + b0 * spc / 1000.0)
    assert win.col_dt == pytest.approx(spc / 1000.0)
    seg = data[b0 * spc : b1 * spc][:, [1, 2, 4]].astype(np.float64)
    phys = seg * 0.5 * cc[[1, 2, 4]] + 1.0
    cols = phys.reshape(b1 - b0, spc, 3)
    np.testing.assert_allclose(win.lo, cols.min(axis=1), rtol=1e-6)
    np.testing.assert_allclose(win.hi, cols.max(axis=1), rtol=1e-6)  # negative factor flipped


def test_fetch_uses_cache_and_pyramid_exactly(tmp_path) -> None:
    rng = np.random.default_rng(9)
    data = rng.normal(size=(400_000, 3)).astype(np.float32)
    data[1000:5000, 1] = np.nan
    src = _regular_source(data, rate=10_000.0)
    lod = TraceLod(src)
    raw = lod.fetch(2.0, 42.0, np.arange(3), max_columns=1000)
    assert raw.source == "raw" and lod.cache_bytes > 0
    again = lod.fetch(2.0, 42.0, np.arange(3), max_columns=1000)
    np.testing.assert_array_equal(again.lo, raw.lo)
    pyramid = PyramidStore(tmp_path).build("key", src.reader)
    assert pyramid is not None
    lod.pyramid = pyramid
    fast = lod.fetch(2.0, 42.0, np.arange(3), max_columns=1000)
    assert fast.source == "pyramid L256"  # need 400 samples/col -> level 256, spc 512
    assert fast.spc == 512
    _, rlo, rhi = minmax_bins(data, 0, 512)
    np.testing.assert_array_equal(fast.lo, rlo[: fast.lo.shape[0]])
    np.testing.assert_array_equal(fast.hi, rhi[: fast.hi.shape[0]])
    assert np.isnan(fast.lo[2:9, 1]).all()  # samples 1024..4607 are all NaN on channel 1


def test_pyramid_window_is_computed_once_for_concurrent_callers(tmp_path, monkeypatch) -> None:
    """The whole-session frame and the overview strip ask for the same pyramid window at
    the same moment: one thread reads it, the other gets the same (read-only) result."""
    import threading

    rng = np.random.default_rng(10)
    data = rng.normal(size=(400_000, 3)).astype(np.float32)
    src = _regular_source(data, rate=10_000.0)
    pyramid = PyramidStore(tmp_path).build("key", src.reader)
    lod = TraceLod(src, pyramid)
    reads = []
    gate = threading.Event()
    original = pyramid.read

    def slow_read(*args, **kwargs):
        reads.append(args)
        gate.wait(5)
        return original(*args, **kwargs)

    monkeypatch.setattr(pyramid, "read", slow_read)
    results = [None, None]

    def fetch(k):
        results[k] = lod.fetch(2.0, 42.0, np.arange(3), max_columns=1000)

    threads = [threading.Thread(target=fetch, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(10)
    assert len(reads) == 1
    assert results[0] is results[1] and results[0].source == "pyramid L256"
    assert not results[0].lo.flags.writeable
    _, rlo, _ = minmax_bins(data, 0, 512)
    np.testing.assert_array_equal(results[0].lo, rlo[: results[0].lo.shape[0]])
    # a different window is read anew; clear_cache forgets the shared ones
    lod.fetch(2.0, 30.0, np.arange(3), max_columns=1000)
    assert len(reads) == 2
    lod.clear_cache()
    lod.fetch(2.0, 42.0, np.arange(3), max_columns=1000)
    assert len(reads) == 3


def test_fetch_samples_when_zoomed_in() -> None:
    data = np.arange(3000, dtype=np.int16).reshape(1000, 3)
    src = _regular_source(data, conversion=2.0)
    win = TraceLod(src).fetch(2.1, 2.2, np.array([0, 2]), max_columns=800)
    assert win.kind == "samples"
    # samples 100..199 plus one beyond each edge
    np.testing.assert_allclose(win.times, 2.0 + np.arange(99, 201) / 1000.0)
    np.testing.assert_array_equal(win.values, data[99:201][:, [0, 2]] * 2.0)


def test_fetch_refuses_huge_raw_window_without_pyramid() -> None:
    src = _regular_source(np.zeros((100_000, 4), np.int16))
    lod = TraceLod(src, max_raw_values=1000)
    with pytest.raises(NeedsPyramid):
        lod.fetch(2.0, 102.0, np.arange(4), max_columns=100)
    assert lod.needs_pyramid(2.0, 102.0, 4, 100)
    assert not lod.needs_pyramid(2.0, 2.05, 4, 100)


def test_fetch_irregular_timestamps_rebins_by_time() -> None:
    rng = np.random.default_rng(11)
    times = np.cumsum(rng.uniform(0.0005, 0.0015, size=20_000))
    data = rng.normal(size=(20_000, 2))
    src = TimeSeriesSource.from_numpy(data, timestamps=times)
    win = TraceLod(src).fetch(2.0, 12.0, np.array([0, 1]), max_columns=100)
    assert win.kind == "envelope" and win.lo.shape == (100, 2)
    assert win.col_t0 == 2.0 and win.col_dt == pytest.approx(0.1)
    # every sample in the window lies within its column's envelope
    i0, i1 = np.searchsorted(times, [2.0, 12.0])
    col = np.floor((times[i0:i1] - 2.0) / 0.1).astype(int)
    assert np.all(win.lo[col] <= data[i0:i1] + 1e-6)
    assert np.all(win.hi[col] >= data[i0:i1] - 1e-6)


def test_rebin_by_time_leaves_gaps_nan() -> None:
    starts = np.array([0.05, 0.15, 0.16, 0.55])
    lo = np.array([[1.0], [2.0], [0.0], [5.0]])
    hi = lo + 1
    out_lo, out_hi = rebin_by_time(starts, lo, hi, 0.0, 0.1, 6)
    np.testing.assert_array_equal(out_lo[:, 0], [1.0, 0.0, np.nan, np.nan, np.nan, 5.0])
    np.testing.assert_array_equal(out_hi[:, 0], [2.0, 3.0, np.nan, np.nan, np.nan, 6.0])
