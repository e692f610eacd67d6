"""Which files a batch run covers: folders (recursively), globs, lists of paths, dandisets."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

#: What counts as an NWB file inside a folder (``.nwb.zarr`` stores are folders themselves).
NWB_SUFFIX = ".nwb"
ZARR_SUFFIX = ".nwb.zarr"
_GLOB_CHARS = set("*?[")


def is_url(item: str) -> bool:
    return item.startswith(("http://", "https://"))


def is_dandiset(item: str) -> bool:
    """``DANDI:000123`` or ``DANDI:000123/0.230101.1234`` (a whole dandiset, not one asset)."""
    return item.upper().startswith("DANDI:") and item.count("/") <= 1


def is_pattern(item: str) -> bool:
    return bool(_GLOB_CHARS & set(item))


def _walk(folder: Path) -> Iterable[str]:
    """NWB files under ``folder``, sorted, not descending into Zarr stores or hidden folders."""
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        stores = [d for d in dirs if d.endswith(ZARR_SUFFIX)]
        dirs[:] = [d for d in dirs if not d.endswith(ZARR_SUFFIX) and not d.startswith(".")]
        names = sorted(
            [f for f in files if f.endswith(NWB_SUFFIX) and not f.startswith(".")] + stores
        )
        for name in names:
            yield str(Path(root) / name)


def read_list(path: str | os.PathLike) -> list[str]:
    """Paths or URLs, one per line; blank lines and ``#`` comments skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def expand_inputs(args: Sequence[str], resolve_dandiset=None) -> tuple[list[str], list[str]]:
    """The files to run over, in order and without repeats, and the problems met on the way.

    A folder gives every ``*.nwb`` file and ``*.nwb.zarr`` store under it; a pattern gives its
    matches (``**`` recurses); ``@LIST`` gives the lines of LIST; a dandiset id gives its NWB
    assets through ``resolve_dandiset`` (when remote support is there). Anything else is kept
    as given, so a missing file becomes a row that says so.
    """
    items: list[str] = []
    problems: list[str] = []
    for arg in args:
        if arg.startswith("@"):
            try:
                found = read_list(arg[1:])
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"Cannot read the list {arg[1:]}: {exc.strerror or exc}.")
                continue
        elif is_url(arg):
            found = [arg]
        elif is_dandiset(arg):
            if resolve_dandiset is None:
                problems.append(f"Cannot list {arg}: this ndviewer cannot reach DANDI.")
                continue
            try:
                found = list(resolve_dandiset(arg))
            except Exception as exc:  # network, unknown id: one sentence
                problems.append(getattr(exc, "message", None) or f"Cannot list {arg}: {exc}.")
                continue
        elif os.path.isdir(arg) and not arg.rstrip("/").endswith(ZARR_SUFFIX):
            found = list(_walk(Path(arg)))
            if not found:
                problems.append(f"No NWB files under {arg}.")
        elif is_pattern(arg) and not os.path.exists(arg):
            found = sorted(glob.glob(arg, recursive=True))
            if not found:
                problems.append(f"Nothing matches {arg}.")
        else:
            found = [arg]
        items.extend(found)
    return list(dict.fromkeys(items)), problems
