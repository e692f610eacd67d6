"""Disk helpers the benchmarks and the bundle smoke test share (not a benchmark itself)."""

from __future__ import annotations

import os
from pathlib import Path


def drop_page_cache() -> bool:
    """Empty the kernel's page cache (root only, Linux): True when it was dropped."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as handle:
            handle.write("3\n")
        return True
    except OSError:
        return False


def folder_mib(folder: Path) -> float:
    """MiB on disk as ``du`` counts them: symlinks (PyInstaller makes many) and hard links once."""
    seen, total = set(), 0
    for path in folder.rglob("*"):
        info = path.lstat()
        if path.is_symlink() or not path.is_file() or info.st_ino in seen:
            continue
        seen.add(info.st_ino)
        total += info.st_size
    return total / 2**20
