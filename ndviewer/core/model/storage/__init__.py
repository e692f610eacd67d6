"""Where a file's bytes come from: the local disk, an HTTP(S) server, or a Zarr store.

The rest of the model sees an ``h5py.File`` (or an object with the same groups, datasets and
attributes) whatever the storage, so the tree, panels, ``info`` and checks work unchanged on
a URL. ``remote`` reads URLs by Range requests with a persistent block cache
(``block_cache``); ``dandi`` turns DANDI archive references into download URLs;
``zarr_store`` transcribes hdmf-zarr stores into an HDF5 mirror.

May import: ``ndviewer.core.cache``, ``ndviewer.core.errors``, h5py, numpy, the standard
library and (lazily, an optional extra) zarr; never the rest of ``core.model`` (which is
built on it). Importing the package itself loads no h5py (the CLI and the launcher use
``is_remote`` and ``normalized_location`` before deciding anything).
"""

from __future__ import annotations

import os
from pathlib import Path

from ndviewer.core.model.storage.locations import is_url, looks_like_dandi

__all__ = ["RemoteFile", "RemoteReadError", "is_remote", "is_url", "normalized_location"]


def __getattr__(name: str) -> object:
    # the network reader only when asked for: a local file never loads http.client and ssl
    if name in ("RemoteFile", "RemoteReadError"):
        from ndviewer.core.model.storage import remote

        return getattr(remote, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_remote(location: object) -> bool:
    """A location that is not a local path: an http(s) URL or a DANDI reference."""
    return isinstance(location, str) and (is_url(location) or looks_like_dandi(location))


def normalized_location(location: str | os.PathLike) -> str:
    """How a location is named everywhere (tabs, recent files, handed-over files): a local
    path made absolute, a URL or DANDI reference as written (``Path`` would fold its ``//``)."""
    text = str(location)
    if is_remote(text.strip()):
        return text.strip()
    return str(Path(text).expanduser().resolve())
