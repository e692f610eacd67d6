"""What kind of location a word names: a URL, a DANDI reference or a local path.

Kept apart from ``remote`` and ``dandi`` (which pull in ``http.client``, ``ssl`` and
``email``, ~40 ms) because the launcher, the CLI and the window ask these questions before
anything is read, and a local file never needs the network code. The registry of which
open h5py file reads through a ``RemoteFile`` lives here for the same reason: the model and
the LOD reader ask it of every file, local ones included.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

_ASSET_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def is_url(location: object) -> bool:
    return isinstance(location, str) and location.lower().startswith(("http://", "https://"))


def is_asset_id(text: str) -> bool:
    return bool(_ASSET_ID.match(text))


def looks_like_dandi(text: str) -> bool:
    """A command-line word naming something on DANDI (not a local file or a subcommand)."""
    return text.upper().startswith("DANDI:") or is_asset_id(text)


#: The RemoteFile under each open h5py file, by HDF5 file number (``h5.id.fileno``): h5py
#: hands out a new File object for ``dataset.file``, so an attribute on ours would be lost.
_OPEN_BY_FILENO: dict[object, Any] = {}  # values: remote.RemoteFile (not imported here)


def register(h5, remote: Any) -> None:
    _OPEN_BY_FILENO[h5.id.fileno] = remote


def remote_for(obj) -> Any:
    """The RemoteFile an h5py object's file reads through (None: a local file)."""
    try:
        if obj.file.driver != "fileobj":
            return None
        return _OPEN_BY_FILENO.get(obj.file.id.fileno)
    except (AttributeError, ValueError, RuntimeError):
        return None


class UrlPath(str):
    """A URL standing where the model keeps a ``Path``: ``name``, ``parent`` and ``suffix``
    work (window titles, the overview), and it is not a local path (``os.fspath`` refuses
    it, so nothing tries to write next to it)."""

    @property
    def name(self) -> str:
        path = urllib.parse.urlsplit(self).path
        return urllib.parse.unquote(path.rstrip("/").rpartition("/")[2]) or str(self)

    @property
    def parent(self) -> UrlPath:
        return UrlPath(self.rpartition("/")[0])

    @property
    def suffix(self) -> str:
        name = self.name
        return name[name.rfind(".") :] if "." in name else ""
