"""The client end of the one-window hand-over, without Qt, so a second launch is quick.

A double-click while ndviewer runs must put the file in the running window within a blink.
Importing Qt and making a QApplication costs more than the whole hand-over, so on POSIX the
launcher first tries a plain Unix-socket connection to the running window's ``QLocalServer``
(which listens on the absolute path ``server_address()``); only when nobody answers does it go
on to start Qt and decide, under a lock, in ``single_instance``. On Windows the server is a
named pipe and the hand-over goes through ``single_instance`` directly.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import tempfile
from collections.abc import Sequence
from pathlib import Path

#: Waiting for the running window's reply (it answers at once unless busy loading a file).
REPLY_SECONDS = 3.0


def server_name() -> str:
    """The per-user instance name (``NDVIEWER_INSTANCE`` overrides it, for tests)."""
    override = os.environ.get("NDVIEWER_INSTANCE")
    if override:
        return override
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user name
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return "ndviewer-" + hashlib.sha1(user.encode()).hexdigest()[:12]


def _runtime_folder() -> str:
    # the session's private runtime folder where there is one (Linux), else the temp folder
    return os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()


def server_address() -> str:
    """What the ``QLocalServer`` listens on: an absolute socket path on POSIX (so this module
    can connect without Qt), the plain name (a named pipe) on Windows."""
    if os.name != "posix":  # pragma: no cover - Windows
        return server_name()
    return str(Path(_runtime_folder()) / f"{server_name()}.sock")


def lock_path() -> str:
    """The lock under which a launch decides between handing over and serving."""
    return str(Path(_runtime_folder()) / f"{server_name()}.lock")


def message(files: Sequence[str]) -> bytes:
    """One JSON line with the files' absolute paths (the launcher's folder is not the window's)."""
    from ndviewer.core.model.storage import normalized_location  # stdlib only, no Qt

    paths = [normalized_location(f) for f in files]
    return json.dumps({"files": paths}).encode() + b"\n"


def exchange(files: Sequence[str]) -> tuple[bool, list[str] | None]:
    """(connected, the running window's open tabs) over a plain Unix socket (POSIX only).

    Connected means delivered: a busy window reads the files when it gets to them, so a slow
    reply is no reason to start a second window.
    """
    if os.name != "posix":  # pragma: no cover - Windows
        return False, None
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.settimeout(0.5)
        try:
            client.connect(server_address())
        except OSError:
            return False, None
        client.settimeout(REPLY_SECONDS)
        client.sendall(message(files))
        reply = b""
        try:
            while not reply.endswith(b"\n"):
                chunk = client.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except OSError:
            return True, None
        try:
            return True, json.loads(reply.decode()).get("tabs")
        except (ValueError, AttributeError):
            return True, None
    finally:
        client.close()
