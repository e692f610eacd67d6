"""Replace a file by an edited copy in one step, so that a crash leaves the old file or the new.

Why not write in place: HDF5 promises nothing about a file whose writer dies mid-write (its
metadata cache writes blocks in its own order), and a SIGKILL between an h5py write and its
flush was measured to leave files that neither pynwb nor h5py can open. A journal of prior
values cannot repair a file that no longer opens. So every save here works on a copy:

1. lock the original (``flock``, the lock HDF5 itself takes: a program reading it with HDF5
   locking on makes the save refuse instead of pulling the file from under it);
2. make a hidden sibling ``.NAME.ndviewer-save-PID.tmp`` in the same folder (same
   filesystem, so the final rename is atomic) and lock it too, which marks it "in use";
3. fill it: a copy-on-write clone where the filesystem has one (``FICLONE`` on btrfs / XFS /
   bcachefs, ``clonefile`` on APFS: milliseconds for any size, extra disk only for the blocks
   the edit rewrites), else ``copy_file_range`` (in-kernel, no user-space buffers; NFS does
   it server side) or plain reads and writes, in slices with progress and cancel, after
   checking the free space;
4. let the caller write and verify the copy (HDF5 never touches the original);
5. give the copy the original's permission bits, owner and extended attributes, fsync it,
   ``os.replace`` it over the original and fsync the folder.

Until step 5's rename the original is untouched; the rename itself is atomic. A killed save
leaves only the hidden temporary file, which ``remove_leftovers`` deletes at the next open or
save (never one whose lock is still held, i.e. a save under way in another process).

No in-place shortcut is kept, not even for a fixed-size attribute overwrite: an h5py write
goes through HDF5's metadata cache, which may also rewrite object headers, heaps and the
superblock's end-of-file address in an order we do not control, so no single-block argument
can be made from outside the library.

``NDVIEWER_EDIT_FAULT=<point>`` kills the process at a named point (``fault``) for the crash
tests; ``NDVIEWER_EDIT_STAGES=<file>`` appends "point wall-clock-time" lines there, so a test
can aim kills at random moments inside the save.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

try:  # POSIX advisory locks, the same HDF5 uses
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

from ndviewer.core.errors import EditError

FAULT_ENV = "NDVIEWER_EDIT_FAULT"
STAGES_ENV = "NDVIEWER_EDIT_STAGES"
TEMP_MARKER = ".ndviewer-save-"
TEMP_SUFFIX = ".tmp"
#: Bytes per slice of a full copy: progress and cancel are checked between slices.
COPY_SLICE = 64 * 1024 * 1024
#: Free space kept beyond the copy itself (HDF5 may grow the copy while writing).
SPACE_MARGIN = 64 * 1024 * 1024
_FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)

#: ``progress(done_bytes, total_bytes)``; ``cancelled()`` true stops a full copy.
Progress = Callable[[int, int], None]


class SaveCancelled(EditError):
    """The user stopped the copy; nothing was changed."""


@dataclass
class SaveReport:
    """How a save was made, for the status line and the benchmark."""

    path: Path
    method: str  # "clone", "copy_file_range" or "copy"
    bytes_copied: int  # 0 for a clone
    seconds: float


def fault(point: str) -> None:
    """Kill this process at ``point`` when a crash test asks for it (and log the stage)."""
    stages = os.environ.get(STAGES_ENV)
    if stages:
        with open(stages, "a", encoding="utf-8") as handle:
            handle.write(f"{point} {time.time():.6f}\n")
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def fsync_path(path: Path) -> None:
    """fsync a file or (POSIX) a folder by name; filesystems that refuse are let be."""
    if os.name == "nt" and path.is_dir():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse
        pass
    finally:
        os.close(fd)


def lock_reason(text: str) -> str:
    """Why a file could not be opened or locked for saving, in words."""
    lowered = text.lower()
    if "already open" in lowered:
        return "it is still open in this program; close every view of it before saving"
    if "lock" in lowered or "temporarily unavailable" in lowered or "would block" in lowered:
        return "another program has it open (HDF5 file lock); close it there and save again"
    if "permission" in lowered:
        return "permission denied"
    first = text.splitlines()[0] if text else "unknown error"
    return f"HDF5 could not open it for writing ({first})"


def temp_path(path: Path) -> Path:
    """The hidden sibling a save of ``path`` by this process writes before renaming."""
    return path.with_name(f".{path.name}{TEMP_MARKER}{os.getpid()}{TEMP_SUFFIX}")


def leftovers(path: str | os.PathLike) -> list[Path]:
    """Temporary files of saves of ``path`` that were killed (not those still under way)."""
    file_path = Path(path)
    prefix = f".{file_path.name}{TEMP_MARKER}"
    try:
        candidates = [
            p
            for p in file_path.parent.iterdir()
            if p.name.startswith(prefix) and p.name.endswith(TEMP_SUFFIX)
        ]
    except OSError:
        return []
    return [p for p in candidates if not _in_use(p)]


def remove_leftovers(path: str | os.PathLike) -> list[Path]:
    """Delete what killed saves of ``path`` left behind; returns the files removed.

    Safe by construction: the original is never among them (it is renamed over, never
    deleted), and a temporary file whose lock is held belongs to a save still running.
    """
    removed = []
    for leftover in leftovers(path):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed.append(leftover)
    return removed


def _in_use(path: Path) -> bool:
    if fcntl is None:  # pragma: no cover - Windows: an open file cannot be deleted anyway
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops a lock we may have taken
    return False


def read_only_reason(path: Path) -> str | None:
    """Why ``path`` must not be saved over, or None.

    Permission bits count even for root (who ``os.access`` lets write anything): a file
    someone made read-only (0444) is refused as an editor would, never silently replaced.
    """
    try:
        info = path.stat()
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    if not info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(
        path, os.W_OK
    ):
        return "the file is read-only (no write permission)"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return "its folder is read-only, so the edited copy cannot be written next to it"
    if info.st_nlink > 1:
        return (
            f"it has {info.st_nlink} hard links, and a safe save replaces the file, which "
            "would leave the other names holding the old contents"
        )
    return None


def _lock(path: Path, flags: int) -> int | None:
    """An exclusive, non-blocking ``flock`` on ``path`` (None where there is no flock)."""
    if fcntl is None:  # pragma: no cover - Windows: HDF5's own locking applies
        return None
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise EditError(
            f"Cannot save {path}: {lock_reason(str(exc))}. Nothing was changed."
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise EditError(
            f"Cannot save {path}: {lock_reason('lock')}. Nothing was changed."
        ) from None
    return fd


def lock_original(path: Path) -> int | None:
    """Lock ``path`` for a save (see module doc); close the returned descriptor to release."""
    return _lock(path, os.O_RDONLY)


# -- filling the copy ----------------------------------------------------------------------------
def _clone(source_fd: int, target_fd: int) -> bool:
    """Make the target share the source's blocks (copy on write); False where unsupported."""
    if fcntl is None or not sys.platform.startswith("linux"):
        return False
    try:
        fcntl.ioctl(target_fd, _FICLONE, source_fd)
    except OSError:
        return False
    return True


def _clone_darwin(source: Path, target: Path) -> bool:  # pragma: no cover - macOS only
    """APFS ``clonefile``; the target must not exist yet."""
    import ctypes

    try:
        libc = ctypes.CDLL("/usr/lib/libSystem.B.dylib", use_errno=True)
        return libc.clonefile(os.fsencode(source), os.fsencode(target), 0) == 0
    except (OSError, AttributeError):
        return False


def free_bytes(folder: Path) -> int | None:
    """Bytes free for this user in ``folder``'s filesystem (None where it cannot be told)."""
    try:
        info = os.statvfs(folder)
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return None
    return info.f_bavail * info.f_frsize


def _check_space(source: Path, size: int) -> None:
    free = free_bytes(source.parent)
    if free is not None and free < size + SPACE_MARGIN:
        raise EditError(
            f"Cannot save {source}: a safe save writes a full copy of the file first "
            f"({_size_text(size)}), and its folder has only {_size_text(free)} free. Free "
            "some space (or move the file to a filesystem with copy-on-write clones, such "
            "as btrfs, XFS or APFS, where a save needs almost none). Nothing was changed."
        )


def _size_text(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def _copy(
    source_fd: int,
    target_fd: int,
    size: int,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
) -> str:
    """Copy ``size`` bytes in slices; returns the method used."""
    method = "copy_file_range" if hasattr(os, "copy_file_range") else "copy"
    done = 0
    while done < size:
        if cancelled is not None and cancelled():
            raise SaveCancelled("The save was cancelled while copying; nothing was changed.")
        count = min(COPY_SLICE, size - done)
        if method == "copy_file_range":
            try:
                written = os.copy_file_range(source_fd, target_fd, count, done, done)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                method = "copy"
                continue
        else:
            chunk = os.pread(source_fd, count, done)
            written = os.pwrite(target_fd, chunk, done) if chunk else 0
        if written <= 0:
            raise EditError("The file shrank while it was being copied; nothing was changed.")
        done += written
        if done == written:
            fault("copy-first-slice")
        if progress is not None:
            progress(done, size)
    return method


def _copy_metadata(source: Path, target: Path) -> None:
    """Permission bits, owner and extended attributes of ``source`` onto ``target``."""
    info = source.stat()
    if hasattr(os, "chown"):
        try:
            os.chown(target, info.st_uid, info.st_gid)
        except OSError:
            with contextlib.suppress(OSError):  # not root: keep at least the group if allowed
                os.chown(target, -1, info.st_gid)
    os.chmod(target, stat.S_IMODE(info.st_mode))
    if hasattr(os, "listxattr"):
        try:
            names = os.listxattr(source)
        except OSError:
            names = []
        for name in names:
            with contextlib.suppress(OSError):  # e.g. security.* we may not set
                os.setxattr(target, name, os.getxattr(source, name))


# -- the save --------------------------------------------------------------------------------------
def save_as_copy(
    path: str | os.PathLike,
    write: Callable[[Path], None],
    *,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    original_lock: int | None = None,
) -> SaveReport:
    """Copy ``path``, let ``write(copy_path)`` edit and verify the copy, then swap it in.

    ``write`` must close every handle on the copy before returning and raise ``EditError``
    if the copy is not right; the original is then untouched and the copy removed. A lock
    already taken with ``lock_original`` can be handed over (it is released at the end).
    """
    started = time.perf_counter()
    original = Path(os.path.realpath(path))  # a symlink's target is what gets replaced
    reason = read_only_reason(original)
    if reason:
        if original_lock is not None:
            os.close(original_lock)
        raise EditError(f"Cannot save {original}: {reason}. Nothing was changed.")
    lock_fd = original_lock if original_lock is not None else lock_original(original)
    fault("copy-start")
    temp = temp_path(original)
    temp_fd: int | None = None
    renamed = False
    try:
        remove_leftovers(original)
        size = original.stat().st_size
        source_fd = os.open(original, os.O_RDONLY)
        try:
            method = None
            if sys.platform == "darwin" and _clone_darwin(original, temp):  # pragma: no cover
                method = "clone"
                temp_fd = _lock(temp, os.O_RDWR)
            else:
                temp_fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
                if fcntl is not None:
                    fcntl.flock(temp_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fault("temp-created")
                if _clone(source_fd, temp_fd):
                    method = "clone"
            if method is None:
                _check_space(original, size)
                method = _copy(source_fd, temp_fd, size, progress, cancelled)
            elif progress is not None:
                progress(size, size)
        finally:
            os.close(source_fd)
        os.fsync(temp_fd)
        fault("copied")
        write(temp)
        _copy_metadata(original, temp)
        os.fsync(temp_fd)
        fault("synced")
        os.replace(temp, original)
        renamed = True
        fault("renamed")
        fsync_path(original.parent)
        fault("folder-synced")
    except OSError as exc:
        if renamed:  # the new file is in place; only the folder's fsync failed
            raise
        raise EditError(
            f"Saving {original} failed ({exc.strerror or exc}); nothing was changed."
        ) from exc
    finally:
        if temp_fd is not None:
            os.close(temp_fd)
        if not renamed:
            with contextlib.suppress(OSError):
                temp.unlink()
        if lock_fd is not None:
            os.close(lock_fd)
    return SaveReport(
        original, method, 0 if method == "clone" else size, time.perf_counter() - started
    )
