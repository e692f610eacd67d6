"""The persistent block cache of remote files: what was fetched once is never fetched again.

Blocks live in the user cache folder under ``remote/<hash of the URL>/``, one file per block,
next to a ``meta.json`` naming the URL and the validators the server sent (size, ETag,
Last-Modified). Opening the URL again in a later session compares those validators: the same
ones reuse every block, different ones (the file was replaced) wipe the folder first, so a
stale block is never served. A total size limit (``NDVIEWER_REMOTE_CACHE_MB``, default 2 GB)
is kept by evicting the least recently used blocks across all URLs (each block file's mtime
is its last use). Every failure here only costs speed: a block that cannot be written is
fetched again next time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

from ndviewer.core import cache

DEFAULT_LIMIT_BYTES = 2 << 30
_META = "meta.json"
_SUFFIX = ".blk"


def remote_cache_root() -> Path:
    return cache.cache_dir() / "remote"


def cache_limit_bytes() -> int:
    value = os.environ.get("NDVIEWER_REMOTE_CACHE_MB")
    try:
        return int(float(value) * (1 << 20)) if value else DEFAULT_LIMIT_BYTES
    except ValueError:
        return DEFAULT_LIMIT_BYTES


class BlockCache:
    """The cached blocks of one remote file (``validators`` identify its current version)."""

    _size_lock = threading.Lock()
    #: Bytes held across all URLs, as last counted (per process; re-counted when it matters).
    _total: int | None = None

    def __init__(
        self,
        url: str,
        validators: dict,
        block_size: int,
        root: Path | None = None,
        limit: int | None = None,
    ) -> None:
        self.root = root if root is not None else remote_cache_root()
        self.limit = cache_limit_bytes() if limit is None else limit
        self.block_size = block_size
        self.folder = (
            self.root / hashlib.sha1(url.encode("utf-8", "surrogateescape")).hexdigest()[:24]
        )
        meta = {"url": url, "block_size": block_size, **validators}
        self.enabled = self.limit > 0
        if self.enabled:
            self._adopt(meta)

    def _adopt(self, meta: dict) -> None:
        """Keep the folder's blocks if they were fetched from this very version of the file."""
        try:
            current = json.loads((self.folder / _META).read_text())
        except (OSError, ValueError):
            current = None
        if current == meta:
            return
        shutil.rmtree(self.folder, ignore_errors=True)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / _META).write_text(json.dumps(meta))
        except OSError:
            self.enabled = False
        with BlockCache._size_lock:
            BlockCache._total = None

    def _path(self, index: int) -> Path:
        return self.folder / f"{index}{_SUFFIX}"

    def get(self, index: int) -> bytes | None:
        if not self.enabled:
            return None
        path = self._path(index)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            os.utime(path)  # its last use, for the LRU eviction
        except OSError:
            pass
        return data

    def put(self, index: int, data: bytes) -> None:
        if not self.enabled:
            return
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, self._path(index))
        except OSError:
            return
        with BlockCache._size_lock:
            if BlockCache._total is None:
                BlockCache._total = _folder_bytes(self.root)
            else:
                BlockCache._total += len(data)
            if BlockCache._total > self.limit:
                BlockCache._total = evict(self.root, int(self.limit * 0.9))


def _blocks(root: Path) -> list[tuple[float, int, Path]]:
    found = []
    try:
        folders = list(root.iterdir())
    except OSError:
        return found
    for folder in folders:
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.endswith(_SUFFIX):
                        stat = entry.stat()
                        found.append((stat.st_mtime, stat.st_size, Path(entry.path)))
        except OSError:
            continue
    return found


def _folder_bytes(root: Path) -> int:
    return sum(size for _, size, _ in _blocks(root))


def evict(root: Path, target: int) -> int:
    """Delete the least recently used blocks until at most ``target`` bytes remain."""
    blocks = sorted(_blocks(root))
    total = sum(size for _, size, _ in blocks)
    for _, size, path in blocks:
        if total <= target:
            break
        try:
            path.unlink()
            total -= size
        except OSError:
            continue
    return total
