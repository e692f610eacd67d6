"""Where the HDF5 library h5py runs on lies, for the two places that call it directly
(ctypes): the text reads that free their C strings (``nwb.vectors``) and the index workers'
walk (``model.fastwalk``).

Both must call the very library h5py uses (a second copy of HDF5 in the process would not
know h5py's identifiers), so the candidates come in that order: libraries this process has
loaded (Linux), those in h5py's own folder first, then the ones a wheel ships next to h5py.
"""

from __future__ import annotations

import glob
import os


def hdf5_library_candidates() -> list[str]:
    """Paths of the HDF5 library h5py may run on, most likely first (the caller checks that
    the one it loads has what it needs)."""
    import h5py.h5  # noqa: F401  (loads the library)

    loaded: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.split(None, 5)[-1].strip()
                name = path.rsplit("/", 1)[-1]
                if name.startswith(("libhdf5.", "libhdf5-")) and ".so" in name:
                    loaded.append(path)
    except OSError:  # not Linux
        pass
    loaded.sort(key=lambda path: "h5py" not in path)
    package = os.path.dirname(h5py.__file__)
    shipped = [
        os.path.normpath(path)
        for pattern in ("../h5py.libs/libhdf5-*", ".dylibs/libhdf5.*", "hdf5.dll")
        for path in glob.glob(os.path.join(package, pattern))
        if "_hl" not in path
    ]
    return list(dict.fromkeys(loaded + shipped))
