"""Seeded corruptions of small pynwb-written files, for the corruption fuzz test (issue 23.9).

Each case is one copy of a good file broken in one way: random byte flips (biased towards the
metadata at the start of the file, where HDF5 keeps its superblock, object headers, B-trees
and heaps), a truncation, a cached spec whose JSON is nested too deeply for the parser, a
soft-link cycle, or a dataset that declares an enormous shape. The same seed and index give
the same case, so a failure names a case that can be rebuilt and run alone.
"""

from __future__ import annotations

import random
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import h5py

KINDS = ("flip", "truncate", "deep_json", "flip", "link_cycle", "huge_shape", "flip")
DEFAULT_SEED = 23


@dataclass(frozen=True)
class Case:
    """One corrupted file and how it was made (for the failure message)."""

    number: int
    kind: str
    path: Path
    how: str


def _flip(path: Path, rng: random.Random) -> str:
    data = bytearray(path.read_bytes())
    count = rng.randint(1, 12)
    offsets = []
    for _ in range(count):
        if rng.random() < 0.7:  # metadata sits mostly in the first few kilobytes
            offset = rng.randrange(0, min(len(data), 16384))
        else:
            offset = rng.randrange(0, len(data))
        data[offset] ^= 1 << rng.randrange(8)
        offsets.append(offset)
    path.write_bytes(bytes(data))
    return f"flipped bits at {sorted(offsets)}"


def _truncate(path: Path, rng: random.Random) -> str:
    size = path.stat().st_size
    keep = int(size * rng.uniform(0.2, 0.995))
    with path.open("r+b") as handle:
        handle.truncate(keep)
    return f"truncated to {keep} of {size} bytes"


def _deep_json(path: Path, rng: random.Random) -> str:
    depth = rng.choice((5_000, 50_000, 200_000))
    with h5py.File(path, "r+") as h5:
        spec = h5["specifications/core"]
        version = sorted(spec)[-1]
        group = spec[version]
        name = rng.choice(("namespace", "nwb.base"))
        del group[name]
        group[name] = "[" * depth + "]" * depth
    return f"/specifications/core/{version}/{name} holds JSON nested {depth} deep"


def _link_cycle(path: Path, rng: random.Random) -> str:
    with h5py.File(path, "r+") as h5:
        h5["acquisition/cycle_a"] = h5py.SoftLink("/acquisition/cycle_b")
        h5["acquisition/cycle_b"] = h5py.SoftLink("/acquisition/cycle_a")
        h5["acquisition/self"] = h5py.SoftLink("/acquisition/self/inner")
        if rng.random() < 0.5:  # and a series whose data is part of the cycle
            group = h5.require_group("acquisition/looped")
            group.attrs["neurodata_type"] = "TimeSeries"
            group.attrs["namespace"] = "core"
            group.attrs["object_id"] = str(uuid.uuid4())
            group["data"] = h5py.SoftLink("/acquisition/cycle_a")
    return "soft-link cycles under /acquisition"


def _huge_shape(path: Path, rng: random.Random) -> str:
    with h5py.File(path, "r+") as h5:
        image = h5.create_group("acquisition/huge_movie")
        image.attrs["neurodata_type"] = "ImageSeries"
        image.attrs["namespace"] = "core"
        image.attrs["object_id"] = str(uuid.uuid4())
        image.create_dataset(
            "data", shape=(100_000, 100_000, 100_000), dtype="uint16", chunks=(1, 256, 256)
        )
        image.create_dataset("starting_time", data=0.0).attrs["rate"] = 30.0
        series = h5.create_group("acquisition/huge_series")
        series.attrs["neurodata_type"] = "TimeSeries"
        series.attrs["namespace"] = "core"
        series.attrs["object_id"] = str(uuid.uuid4())
        series.create_dataset(
            "data", shape=(10**12, 10**4), dtype="float32", chunks=(4096, 64)
        ).attrs["unit"] = "V"
        series.create_dataset("starting_time", data=0.0).attrs["rate"] = float(
            rng.choice((1000, 30000))
        )
    return "datasets declaring 1e15 and 1e16 elements (no data written)"


_MAKERS = {
    "flip": _flip,
    "truncate": _truncate,
    "deep_json": _deep_json,
    "link_cycle": _link_cycle,
    "huge_shape": _huge_shape,
}


def make_cases(bases: list[Path], folder: Path, count: int, seed: int = DEFAULT_SEED) -> list[Case]:
    """``count`` corrupted copies of ``bases`` in ``folder``; every kind appears once in
    each run of ``len(KINDS)`` cases."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for number in range(count):
        kind = KINDS[number % len(KINDS)]
        base = bases[(number // len(KINDS)) % len(bases)]
        rng = random.Random(f"{seed}:{number}")
        path = folder / f"case{number:04d}-{kind}-{base.stem}.nwb"
        shutil.copyfile(base, path)
        how = _MAKERS[kind](path, rng)
        cases.append(Case(number, kind, path, f"{base.name}: {how}"))
    return cases
