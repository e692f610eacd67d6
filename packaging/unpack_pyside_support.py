"""Unpack PySide6's support modules next to shiboken6, compiled, so that start-up skips them.

shiboken6 carries its Python support code (``shibokensupport``: signatures, ``__feature__``)
as a zip inside its shared library, and at every start decodes it and compiles each module
from source: ~12 ms of the ~0.3 s from launch to the painted tree. PySide's own switch
``SBK_EMBED=0`` unpacks them once into ``shiboken6/files.dir``, which later starts import as
ordinary modules; compiled here with hash-checked bytecode, they load from ``__pycache__``
in the virtual environment and in the bundle alike (a copy changes the files' times, not
their hashes). Run by ``make`` after every install (a new PySide6 unpacks its own version
over the old) and by the bundle spec. Prints the folder; exits 1 if PySide6 did not make it.
"""

from __future__ import annotations

import compileall
import importlib.util
import os
import py_compile
import subprocess
import sys
from pathlib import Path


def support_folder() -> Path | None:
    """Where shiboken6 looks for unpacked support modules (found without importing it)."""
    spec = importlib.util.find_spec("shiboken6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve() / "files.dir"


def unpack() -> Path | None:
    folder = support_folder()
    if folder is None:
        return None
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["SBK_EMBED"] = "0"
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    subprocess.run([sys.executable, "-c", "import PySide6.QtCore"], env=env, check=True)
    if not (folder / "shibokensupport").is_dir():
        return None
    compileall.compile_dir(
        str(folder),
        quiet=1,
        force=True,
        invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
    )
    return folder


if __name__ == "__main__":
    unpacked = unpack()
    if unpacked is None:
        print("PySide6's support modules were not unpacked (no shiboken6?)", file=sys.stderr)
        raise SystemExit(1)
    print(unpacked)
