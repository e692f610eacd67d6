"""Persisted min/max pyramids: the whole recording on screen without reading it again.

A pyramid holds, for one dataset, the min and max of every aligned bin of 64 samples, and of
256, 1024, ... samples (each level combines four bins of the one below), up to the level
where the whole recording fits in a few thousand bins. It is built once, in the background,
by streaming the data unit by unit (memory: one unit plus a partial bin per level), and
stored under the user cache directory, keyed by the file's identity (resolved path, size,
mtime) and the dataset path, so a later open of the unchanged file draws the full session
from a few megabytes.

On disk: a folder per dataset with ``meta.json`` and one ``L<spc>.bin`` per level, the rows
of which are ``(2, channels)`` arrays (min row, max row) in the data's own dtype. Reads use
``os.pread`` (no memory map, so what is read never lingers in the process's RSS). A folder is
written under a temporary name and renamed when complete, so a crash leaves no half pyramid.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ndviewer.core.signal.lod.blocks import BlockReader, unit_pool
from ndviewer.core.signal.lod.decimate import combine_bins, empty_minmax, merge_into, minmax_bins

__all__ = [
    "BASE_LEVEL",
    "LEVEL_FACTOR",
    "Pyramid",
    "PyramidStore",
    "build_pyramid",
    "pyramid_levels",
]

#: Samples per bin of the finest level.
BASE_LEVEL = 64
#: Each level's bins combine this many bins of the level below.
LEVEL_FACTOR = 4
#: The coarsest level is the first with at most this many bins.
COARSEST_BINS = 2048
_FORMAT = 1


def pyramid_levels(n_samples: int) -> tuple[int, ...]:
    """Samples per bin of each level worth storing for a series of ``n_samples``.

    Empty when the whole series has so few samples that reading it raw is as cheap.
    """
    levels: list[int] = []
    spc = BASE_LEVEL
    if n_samples <= BASE_LEVEL * COARSEST_BINS:
        return ()
    while True:
        levels.append(spc)
        if n_samples // spc <= COARSEST_BINS:
            return tuple(levels)
        spc *= LEVEL_FACTOR


@dataclass(frozen=True)
class _LevelFile:
    spc: int
    n_bins: int
    path: Path


class Pyramid:
    """A complete, read-only pyramid of one dataset.

    Attributes
    ----------
    levels : tuple of int
        Samples per bin of each level, finest first.
    n_samples, n_channels : int
        Shape of the dataset it summarises.
    dtype : numpy.dtype
        dtype of the stored minima and maxima (the data's own).
    """

    def __init__(self, folder: Path, meta: dict) -> None:
        self.folder = folder
        self.n_samples = int(meta["n_samples"])
        self.n_channels = int(meta["n_channels"])
        self.dtype = np.dtype(meta["dtype"])
        self.levels = tuple(int(s) for s in meta["levels"])
        self._files = {
            s: _LevelFile(s, -(-self.n_samples // s), folder / f"L{s}.bin") for s in self.levels
        }
        self._fds: dict[int, int] = {}
        self._lock = threading.Lock()

    def n_bins(self, spc: int) -> int:
        """Number of bins of the level with ``spc`` samples per bin."""
        return self._files[spc].n_bins

    def best_level(self, spc: int) -> int | None:
        """The coarsest level whose bins are no wider than ``spc`` samples, if any."""
        usable = [s for s in self.levels if s <= spc]
        return max(usable) if usable else None

    def _fd(self, spc: int) -> int:
        fd = self._fds.get(spc)
        if fd is None:
            with self._lock:
                fd = self._fds.get(spc)
                if fd is None:
                    fd = os.open(self._files[spc].path, os.O_RDONLY)
                    self._fds[spc] = fd
        return fd

    def read(
        self, spc: int, b0: int, b1: int, c0: int = 0, c1: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Minima and maxima ``(bins, channels)`` of bins ``[b0, b1)`` of level ``spc``."""
        c1 = self.n_channels if c1 is None else c1
        level = self._files[spc]
        b0, b1 = max(0, b0), min(level.n_bins, b1)
        n = max(0, b1 - b0)
        rows = np.empty((n, 2, self.n_channels), dtype=self.dtype)
        if n:
            row_bytes = 2 * self.n_channels * self.dtype.itemsize
            view = memoryview(rows.reshape(-1).view(np.uint8))
            fd = self._fd(spc)
            done = 0
            while done < view.nbytes:
                got = os.preadv(fd, [view[done:]], b0 * row_bytes + done)
                if got <= 0:
                    raise OSError(f"pyramid level {spc} in {self.folder} is truncated")
                done += got
        return rows[:, 0, c0:c1].copy(), rows[:, 1, c0:c1].copy()

    def close(self) -> None:
        """Close the level files."""
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()

    def __del__(self) -> None:  # pragma: no cover - best effort
        with contextlib.suppress(Exception):
            self.close()


class _LevelWriter:
    """Streams bins of one level to its file and feeds complete bins to the next level.

    Pushed bins arrive in order; the first pushed bin may continue the last pending one
    (a bin split across two units), and the last pushed bin may be continued by the next
    push, so it is held back until then.
    """

    def __init__(self, path: Path, spc: int, coarser: _LevelWriter | None) -> None:
        self.spc = spc
        self._file = path.open("wb")
        self._coarser = coarser
        self._pending: tuple[int, np.ndarray, np.ndarray] | None = None
        self._next_bin = 0

    def push(self, first: int, lo: np.ndarray, hi: np.ndarray) -> None:
        if lo.shape[0] == 0:
            return
        if self._pending is not None:
            pfirst, plo, phi = self._pending
            merged_lo, merged_hi = empty_minmax(first + lo.shape[0] - pfirst, lo.shape[1], lo.dtype)
            merge_into(merged_lo, merged_hi, pfirst, pfirst, plo, phi)
            merge_into(merged_lo, merged_hi, pfirst, first, lo, hi)
            first, lo, hi = pfirst, merged_lo, merged_hi
        self._pending = (first + lo.shape[0] - 1, lo[-1:].copy(), hi[-1:].copy())
        self._emit(first, lo[:-1], hi[:-1])

    def _emit(self, first: int, lo: np.ndarray, hi: np.ndarray) -> None:
        if lo.shape[0] == 0:
            return
        if first != self._next_bin:
            raise RuntimeError(f"level {self.spc}: bin {first} arrived, {self._next_bin} expected")
        rows = np.empty((lo.shape[0], 2, lo.shape[1]), dtype=lo.dtype)
        rows[:, 0] = lo
        rows[:, 1] = hi
        self._file.write(memoryview(rows.reshape(-1).view(np.uint8)))
        self._next_bin += lo.shape[0]
        if self._coarser is not None:
            self._coarser.push(*combine_bins(first, lo, hi, LEVEL_FACTOR))

    def finish(self) -> int:
        """Write the held-back bin, close the file, finish coarser levels; returns bin count."""
        if self._pending is not None:
            self._emit(*self._pending)
            self._pending = None
        self._file.close()
        if self._coarser is not None:
            self._coarser.finish()
        return self._next_bin

    def abort(self) -> None:
        self._file.close()
        if self._coarser is not None:
            self._coarser.abort()


def build_pyramid(
    reader: BlockReader,
    folder: Path,
    levels: tuple[int, ...] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] | None = None,
) -> Pyramid | None:
    """Stream ``reader`` once and write its pyramid into ``folder`` (created).

    Returns None when ``cancelled()`` became true (the folder is then removed) or when the
    series is too short to need a pyramid.
    """
    levels = levels if levels is not None else pyramid_levels(reader.n_samples)
    if not levels:
        return None
    for fine, coarse in zip(levels, levels[1:], strict=False):
        if coarse != fine * LEVEL_FACTOR:
            raise ValueError(f"pyramid levels must grow by {LEVEL_FACTOR}: {levels}")
    folder.mkdir(parents=True, exist_ok=True)
    writer: _LevelWriter | None = None
    for spc in reversed(levels):
        writer = _LevelWriter(folder / f"L{spc}.bin", spc, writer)
    assert writer is not None
    base = levels[0]
    n, nch = reader.n_samples, reader.n_channels
    stripe = reader.unit_rows
    try:
        for r0 in range(0, n, stripe):
            if cancelled():
                writer.abort()
                shutil.rmtree(folder, ignore_errors=True)
                return None
            r1 = min(n, r0 + stripe)
            b0 = r0 // base
            lo, hi = empty_minmax(-(-r1 // base) - b0, nch, reader.dtype)
            pieces = _stripe_units(reader, r0, r1, nch)
            for _row, p, (first, blo, bhi), width in unit_pool().map(
                lambda piece: _decimate_piece(reader, piece, base), pieces
            ):
                merge_into(lo[:, p : p + width], hi[:, p : p + width], b0, first, blo, bhi)
            writer.push(b0, lo, hi)
            if progress is not None:
                progress(r1 / n)
        writer.finish()
    except BaseException:
        writer.abort()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    meta = {
        "format": _FORMAT,
        "n_samples": n,
        "n_channels": nch,
        "dtype": np.dtype(reader.dtype).str,
        "levels": list(levels),
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    return Pyramid(folder, meta)


def _stripe_units(reader: BlockReader, r0: int, r1: int, nch: int) -> list[tuple]:
    """The pieces of rows ``[r0, r1)`` × all channels, one per storage unit when the reader
    has units (so they decode in parallel), else one piece."""
    units_for = getattr(reader, "units_for", None)
    if units_for is None:
        return [(r0, r1, 0, nch, None)]
    rows, cols = units_for(r0, r1, 0, nch)
    return [(r0, r1, 0, nch, (ru, cu)) for ru in rows for cu in cols]


def _decimate_piece(reader: BlockReader, piece: tuple, spc: int):
    """Read one piece and return ``(first_row, first_col, minmax_bins(...), width)``."""
    r0, r1, c0, c1, unit = piece
    if unit is None:
        block, a, p = reader.read(r0, r1, c0, c1), r0, c0
    else:
        u_r0, u_r1, u_c0, u_c1 = reader.unit_bounds(*unit)
        a, p = max(r0, u_r0), u_c0
        block = reader.read_unit(*unit)[a - u_r0 : min(r1, u_r1) - u_r0]
    return a, p, minmax_bins(block, a, spc), block.shape[1]


class PyramidStore:
    """Pyramids persisted under one cache folder, keyed by file identity and dataset path.

    Parameters
    ----------
    root
        Folder to keep pyramids in; default ``<user cache>/ndviewer/pyramids`` (the
        ``NDVIEWER_CACHE_DIR`` environment variable moves the whole cache, e.g. in tests).
    max_bytes
        After a build, the least recently used pyramids are deleted until the store fits.
    """

    def __init__(self, root: Path | None = None, max_bytes: int = 20 << 30) -> None:
        if root is None:
            from ndviewer.core.cache import cache_dir

            root = cache_dir() / "pyramids"
        self.root = Path(root)
        self.max_bytes = max_bytes

    @staticmethod
    def key(identity_key: str, dataset_path: str, shape: tuple[int, ...], dtype: np.dtype) -> str:
        """A folder name for one dataset of one exact file version."""
        text = f"{identity_key}|{dataset_path}|{tuple(shape)}|{np.dtype(dtype).str}|{_FORMAT}"
        return hashlib.sha1(text.encode("utf-8")).hexdigest()[:24]

    def load(self, key: str, reader: BlockReader) -> Pyramid | None:
        """The stored pyramid for ``key`` if complete and matching ``reader``'s shape."""
        folder = self.root / key
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        if (
            meta.get("format") != _FORMAT
            or meta.get("n_samples") != reader.n_samples
            or meta.get("n_channels") != reader.n_channels
            or np.dtype(meta.get("dtype", "V")) != np.dtype(reader.dtype)
        ):
            return None
        pyramid = Pyramid(folder, meta)
        for spc in pyramid.levels:
            expected = pyramid.n_bins(spc) * 2 * pyramid.n_channels * pyramid.dtype.itemsize
            path = folder / f"L{spc}.bin"
            if not path.exists() or path.stat().st_size != expected:
                return None
        with contextlib.suppress(OSError):
            os.utime(folder / "meta.json")  # mark as recently used
        return pyramid

    def build(
        self,
        key: str,
        reader: BlockReader,
        cancelled: Callable[[], bool] = lambda: False,
        progress: Callable[[float], None] | None = None,
    ) -> Pyramid | None:
        """Build, persist and return the pyramid for ``key`` (None if cancelled or not needed)."""
        existing = self.load(key, reader)
        if existing is not None:
            return existing
        if not pyramid_levels(reader.n_samples):
            return None
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=self.root))
        result = build_pyramid(reader, tmp, cancelled=cancelled, progress=progress)
        if result is None:
            shutil.rmtree(tmp, ignore_errors=True)
            return None
        result.close()
        final = self.root / key
        try:
            os.replace(tmp, final)
        except OSError:  # another process finished first: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
        self.prune(keep=key)
        return self.load(key, reader)

    def prune(self, keep: str | None = None) -> None:
        """Delete least recently used pyramids until the store is within ``max_bytes``."""
        entries = []
        for folder in self.root.iterdir() if self.root.exists() else ():
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
            meta = folder / "meta.json"
            used = meta.stat().st_mtime if meta.exists() else 0.0
            entries.append((used, size, folder))
        total = sum(size for _, size, _ in entries)
        for _, size, folder in sorted(entries):
            if total <= self.max_bytes:
                break
            if folder.name == keep:
                continue
            shutil.rmtree(folder, ignore_errors=True)
            total -= size
