"""Issue 23.6: projections of large frames stay within a memory budget, whatever the number
of cores. A 2048² mean+max+std pass used to keep two slabs per core in flight, each with its
float64 partial sums (480 MB of arrays on 2 cores); then a byte budget on them (352 MB). Now
the pool threads add into one set of accumulators and the result is finished in place
(~100 MB, most of it the accumulators, which become the result)."""

from __future__ import annotations

import tracemalloc

import h5py
import numpy as np

from ndviewer.core.signal import projections
from ndviewer.core.signal.chunk_reader import ChunkReader

SIDE = 2048


def test_in_flight_slabs_are_bounded_by_bytes(tmp_path):
    path = tmp_path / "stack.h5"
    ramp = np.arange(SIDE * SIDE, dtype=np.uint32).reshape(SIDE, SIDE) % 4001
    frames = np.stack([(ramp + 7 * i) % 4001 for i in range(6)]).astype(np.uint16)
    with h5py.File(path, "w") as h5:
        h5.create_dataset(
            "data", data=frames, chunks=(1, SIDE, SIDE), compression="gzip", compression_opts=1
        )
    with h5py.File(path, "r") as h5:
        reader = ChunkReader(h5["data"])
        slabs = list(reader.iter_slabs(0, len(frames), max_items=1))
        # one 8 MB frame + a 4 MB band of float64 scratch each, within the 96 MB budget
        flying = projections._in_flight(reader, slabs, ("mean", "max", "std"), True)
        assert flying >= 1 and flying * (SIDE * SIDE * 2 + (4 << 20)) <= 96 << 20
        tracemalloc.start()
        try:
            result = projections.compute_projections(reader, ["mean", "max", "std"])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    float_frame = SIDE * SIDE * 8
    # accumulators (2 float frames), reference and max (uint16), the slabs in flight with
    # their banded scratch; per-slab partial sums needed 11 (352 MB), four in flight 15
    assert peak < 4.5 * float_frame  # 3.9 measured (124 MB)
    np.testing.assert_allclose(result["std"], frames.std(axis=0))
    np.testing.assert_array_equal(result["max"], frames.max(axis=0))
    np.testing.assert_allclose(result["mean"], frames.mean(axis=0))
