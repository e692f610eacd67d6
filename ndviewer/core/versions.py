"""Versions of what decides how a file is read, for About, bug reports and logs."""

from __future__ import annotations

import platform


def reading_versions() -> dict[str, str]:
    """ndviewer, Python and the HDF5 stack (h5py, HDF5, numpy, hdf5plugin)."""
    import h5py
    import numpy

    from ndviewer import __version__

    found = {
        "ndviewer": __version__,
        "Python": platform.python_version(),
        "h5py": h5py.__version__,
        "HDF5": h5py.version.hdf5_version,
        "numpy": numpy.__version__,
    }
    try:
        import hdf5plugin

        found["hdf5plugin"] = hdf5plugin.version
    except ImportError:  # pragma: no cover - a dependency, but optional at run time
        pass
    return found
