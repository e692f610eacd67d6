"""Per-user persisted results keyed by file identity (path, size, mtime) or by content.

Whatever is costly to learn about a file and cannot change while the file does not (its
typed index, the ``info`` summary, min/max pyramids) is kept here, so reopening an unchanged
file skips the work. Writes are atomic (temporary file, then rename) and every failure only
costs speed: a missing or stale entry is simply rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FileIdentity:
    """What tells us a file on disk is unchanged since we last looked at it."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike) -> FileIdentity:
        resolved = Path(path).resolve()
        stat = resolved.stat()
        return cls(str(resolved), stat.st_size, stat.st_mtime_ns)

    def key(self) -> str:
        return f"{self.path}|{self.size}|{self.mtime_ns}"


def cache_dir() -> Path:
    """The user cache folder (``NDVIEWER_CACHE_DIR`` overrides it, e.g. in tests)."""
    override = os.environ.get("NDVIEWER_CACHE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("ndviewer", appauthor=False))


def entry_path(kind: str, identity: FileIdentity, suffix: str = ".pickle") -> Path:
    """Where the ``kind`` result for this file lives.

    The path is hashed from its file-system bytes (``os.fsencode``): a name with non-UTF-8
    bytes arrives as surrogate escapes, which ``str.encode("utf-8")`` refuses.
    """
    digest = hashlib.sha1(os.fsencode(identity.path)).hexdigest()[:20]
    return cache_dir() / kind / f"{digest}{suffix}"


def load(kind: str, identity: FileIdentity, version: str) -> Any | None:
    """The payload saved for this very file (same identity) and format ``version``, or None."""
    return _load(entry_path(kind, identity), identity.key(), version)


def save(
    kind: str, identity: FileIdentity, version: str, payload: Any, unshared: bool = False
) -> None:
    """Persist ``payload`` for this file. ``unshared``: the payload holds no object twice
    (no repeated tuples, no cycles), so the pickler keeps no memo of what it wrote (for
    301 k paths that memo took ~16 MB while saving)."""
    _save(entry_path(kind, identity), identity.key(), version, payload, unshared)


def _keyed_path(kind: str, key: str) -> Path:
    return cache_dir() / kind / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.pickle"


def load_keyed(kind: str, key: str, version: str) -> Any | None:
    """The payload saved under a content ``key`` (one entry shared by every file with that
    content, e.g. the same cached spec), or None."""
    return _load(_keyed_path(kind, key), key, version)


def save_keyed(kind: str, key: str, version: str, payload: Any) -> None:
    _save(_keyed_path(kind, key), key, version, payload)


def _load(path: Path, key: str, version: str) -> Any | None:
    try:
        with path.open("rb") as handle:
            record = pickle.load(handle)
    except (
        OSError,
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        ValueError,
        TypeError,
        ImportError,
    ):
        return None
    if not isinstance(record, dict) or record.get("version") != version:
        return None
    if record.get("identity") != key:
        return None
    return record.get("payload")


def _save(path: Path, key: str, version: str, payload: Any, unshared: bool = False) -> None:
    record = {"version": version, "identity": key, "payload": payload}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            pickler = pickle.Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL)
            pickler.fast = unshared
            pickler.dump(record)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
    except BaseException:  # a payload that cannot be pickled leaves no half-written file
        Path(tmp).unlink(missing_ok=True)
        raise
