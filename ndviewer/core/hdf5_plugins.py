"""Let HDF5 load hdf5plugin's filters itself, on first use, instead of importing hdf5plugin.

Importing ``hdf5plugin`` registers all of its filters at once (Blosc, Zstd, LZ4, bitshuffle…),
loading each shared library: 10–14 ms of a start-up that has 0.3 s in all, spent even on the
many files that use only gzip. HDF5 can find the same libraries itself, when a dataset needs
one, through ``HDF5_PLUGIN_PATH``, which it reads once, when the library starts (h5py's
import). So the application points it at hdf5plugin's folder before importing h5py; when
h5py was imported first (a test, a user's script), ``files.register_filters`` imports
hdf5plugin as before. Stdlib only: this runs before numpy and h5py.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

PLUGIN_PATH_ENV = "HDF5_PLUGIN_PATH"


def hdf5plugin_folder() -> Path | None:
    """The folder of hdf5plugin's filter libraries, found without importing it."""
    try:
        spec = importlib.util.find_spec("hdf5plugin")
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location) / "plugins"
        if folder.is_dir():
            return folder
    return None


def point_hdf5_at_plugins() -> bool:
    """Put hdf5plugin's folder first on ``HDF5_PLUGIN_PATH`` if h5py is not imported yet.

    Returns whether HDF5 will see it (False: h5py already started the library, or there is no
    hdf5plugin; ``register_filters`` then imports it).
    """
    if "h5py" in sys.modules:
        return False
    folder = hdf5plugin_folder()
    if folder is None:
        return False
    existing = [part for part in os.environ.get(PLUGIN_PATH_ENV, "").split(os.pathsep) if part]
    if str(folder) not in existing:
        os.environ[PLUGIN_PATH_ENV] = os.pathsep.join([str(folder), *existing])
    return True
