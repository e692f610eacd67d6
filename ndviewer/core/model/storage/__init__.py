"""Where a file's bytes come from: the local disk, an HTTP(S) server, or a Zarr store.

The rest of the model sees an ``h5py.File`` (or an object with the same groups, datasets and
attributes) whatever the storage, so the tree, panels, ``info`` and checks work unchanged on
a URL. ``remote`` reads URLs by Range requests with a persistent block cache
(``block_cache``); ``dandi`` turns DANDI archive references into download URLs.

May import: ``ndviewer.core.cache``, ``ndviewer.core.errors``, h5py, numpy and the standard
library; never the rest of ``core.model`` (which is built on it).
"""

from __future__ import annotations

from ndviewer.core.model.storage.dandi import looks_like_dandi
from ndviewer.core.model.storage.remote import RemoteFile, RemoteReadError, is_url

__all__ = ["RemoteFile", "RemoteReadError", "is_url", "is_remote"]


def is_remote(location: object) -> bool:
    """A location that is not a local path: an http(s) URL or a DANDI reference."""
    return isinstance(location, str) and (is_url(location) or looks_like_dandi(location))
