"""Per-user persisted results keyed by file identity (path, size, mtime).

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
    try:
        with entry_path(kind, identity).open("rb") as handle:
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
    if record.get("identity") != identity.key():
        return None
    return record.get("payload")


def save(
    kind: str, identity: FileIdentity, version: str, payload: Any, unshared: bool = False
) -> None:
    """Persist ``payload`` for this file. ``unshared``: the payload holds no object twice
    (no repeated tuples, no cycles), so the pickler keeps no memo of what it wrote (for
    301 k paths that memo took ~16 MB while saving)."""
    path = entry_path(kind, identity)
    record = {"version": version, "identity": identity.key(), "payload": payload}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            pickler = pickle.Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL)
            pickler.fast = unshared
            pickler.dump(record)
        os.replace(tmp, path)
    except OSError:
        pass
