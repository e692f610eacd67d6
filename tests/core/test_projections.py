"""Projections equal numpy's reductions on the same stack, for every layout and range."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from ndviewer.core.signal.chunk_reader import ChunkReader, make_decode_pool
from ndviewer.core.signal.projections import compute_projections


@pytest.fixture(scope="module")
def pool():
    executor = make_decode_pool(2)
    yield executor
    executor.shutdown()


def _reader(tmp_path, data, pool, **options):
    path = tmp_path / "stack.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("d", data=data, **options)
    handle = h5py.File(path, "r")
    return handle, ChunkReader(handle["d"], pool)


@pytest.mark.parametrize(
    "options",
    [{"chunks": (1, 9, 8), "compression": "gzip"}, {"chunks": (4, 5, 8)}, {}],
    ids=["per-frame-gzip", "multi-frame-chunks", "contiguous"],
)
def test_integer_stack_matches_numpy(tmp_path, pool, options):
    # Large mean, small spread: the case that breaks a naive E[x^2]-E[x]^2.
    rng = np.random.default_rng(0)
    stack = (60000 + rng.integers(0, 5, size=(23, 9, 8))).astype(np.uint16)
    handle, reader = _reader(tmp_path, stack, pool, **options)
    with handle:
        result = compute_projections(reader, ["mean", "max", "min", "std"])
    np.testing.assert_allclose(result["mean"], stack.mean(axis=0), rtol=0, atol=1e-9)
    np.testing.assert_allclose(result["std"], stack.std(axis=0), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(result["max"], stack.max(axis=0))
    np.testing.assert_array_equal(result["min"], stack.min(axis=0))
    assert result["max"].dtype == np.uint16


def test_float_stack_and_frame_range(tmp_path, pool):
    rng = np.random.default_rng(1)
    stack = rng.normal(100.0, 3.0, size=(30, 6, 7)).astype(np.float32)
    handle, reader = _reader(
        tmp_path, stack, pool, chunks=(1, 6, 7), compression="gzip", shuffle=True
    )
    with handle:
        result = compute_projections(reader, ["mean", "std", "max"], start=5, stop=17)
        mean_only = compute_projections(reader, ["mean"], start=5, stop=17)
    part = stack[5:17].astype(np.float64)
    np.testing.assert_allclose(mean_only["mean"], part.mean(axis=0), rtol=1e-12)
    assert (result.start, result.stop) == (5, 17)
    np.testing.assert_allclose(result["mean"], part.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(result["std"], part.std(axis=0), rtol=1e-9)
    np.testing.assert_array_equal(result["max"], stack[5:17].max(axis=0))


def test_volumetric_stack(tmp_path, pool):
    stack = np.random.default_rng(2).integers(0, 100, size=(8, 4, 5, 3), dtype=np.int16)
    handle, reader = _reader(tmp_path, stack, pool, chunks=(1, 4, 5, 3), compression="gzip")
    with handle:
        result = compute_projections(reader, ["mean"])
    np.testing.assert_allclose(result["mean"], stack.mean(axis=0))
    assert set(result.images) == {"mean"}


def test_progress_and_cancel(tmp_path, pool, monkeypatch):
    monkeypatch.setattr("ndviewer.core.signal.projections.SLAB_BYTES", 2 * 4 * 4 * 2)  # 2 frames
    stack = np.arange(20 * 4 * 4, dtype=np.uint16).reshape(20, 4, 4)
    handle, reader = _reader(tmp_path, stack, pool, chunks=(1, 4, 4), compression="gzip")
    seen = []
    with handle:
        done = compute_projections(reader, ["max"], progress=lambda d, t: seen.append((d, t)))
        np.testing.assert_array_equal(done["max"], stack[-1])
        assert seen == [(d, 20) for d in range(2, 21, 2)]
        calls = []
        cancelled = compute_projections(
            reader, ["mean"], progress=lambda d, t: calls.append(d), cancelled=lambda: True
        )
    assert cancelled is None
    assert len(calls) == 1  # stopped after the first slab


def test_bad_arguments(tmp_path, pool):
    stack = np.zeros((3, 2, 2), np.uint8)
    handle, reader = _reader(tmp_path, stack, pool, chunks=(1, 2, 2))
    with handle:
        with pytest.raises(ValueError, match="unknown projection"):
            compute_projections(reader, ["median"])
        with pytest.raises(ValueError, match="empty"):
            compute_projections(reader, ["mean"], start=2, stop=2)
