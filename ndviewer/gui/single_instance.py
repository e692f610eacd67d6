"""One window per user: a second launch hands its files to the running one and exits.

A double-click on a second .nwb file should add a tab to the window the user already has, not
start a second program that reads the same caches. The first instance listens on a
``QLocalServer`` named per user; a later launch connects, sends the absolute paths as one
JSON line, waits for the reply (the paths of the tabs now open) and exits. This runs before the window (and
pyqtgraph, h5py) is imported, so a hand-over costs little more than starting Python and
QtCore.

Races and crashes: the decision "hand over or become the server" is taken under a
``QLockFile``, so four simultaneous launches end with one server and three hand-overs. A
server killed with SIGKILL leaves its socket file behind; under the lock, a socket nobody
answers on is stale, and is removed before listening. ``QLockFile`` itself recognises a lock
whose owner died.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject
from PySide6.QtNetwork import QLocalServer, QLocalSocket

#: How long a hand-over may wait for the running window (it answers at once when alive).
CONNECT_MS = 300
REPLY_MS = 3000
#: The decision lock is held for milliseconds; a holder that died is detected by QLockFile.
LOCK_WAIT_MS = 5000


def server_name() -> str:
    """The per-user server name (``NDVIEWER_INSTANCE`` overrides it, for tests)."""
    override = os.environ.get("NDVIEWER_INSTANCE")
    if override:
        return override
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user name
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return "ndviewer-" + hashlib.sha1(user.encode()).hexdigest()[:12]


def _lock_path(name: str) -> str:
    # the session's runtime folder where there is one (Linux), else the temp folder
    folder = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return str(Path(folder) / f"{name}.lock")


def send_files(name: str, files: Sequence[str]) -> list[str] | None:
    """Hand ``files`` to the instance ``name``; the paths of its open tabs, or None when no
    instance is listening (or it did not answer in time)."""
    return _exchange(name, files)[1]


def _exchange(name: str, files: Sequence[str]) -> tuple[bool, list[str] | None]:
    """(connected, the reply's tabs). Once connected and written the files are delivered,
    even if the running window is busy (loading a large file) and does not reply in time: it
    reads them when it gets to it. Only a socket nobody listens on means no instance, so a
    busy window is never replaced."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_MS):
        return False, None
    paths = [str(Path(f).expanduser().resolve()) for f in files]
    socket.write(json.dumps({"files": paths}).encode() + b"\n")
    socket.flush()
    tabs = None
    while not socket.canReadLine() and socket.waitForReadyRead(REPLY_MS):
        pass
    if socket.canReadLine():
        try:
            tabs = json.loads(bytes(socket.readLine()).decode()).get("tabs")
        except (ValueError, AttributeError):
            tabs = None
    socket.disconnectFromServer()
    return True, tabs


class InstanceServer(QObject):
    """The running instance's end: calls ``open_files(paths)`` for each hand-over, which
    returns the paths of the tabs then open (sent back as the reply)."""

    def __init__(self, server: QLocalServer) -> None:
        super().__init__()
        self.server = server
        server.setParent(self)
        self.open_files: Callable[[list[str]], list[str]] = lambda files: []
        server.newConnection.connect(self._accept)

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            socket.setParent(self)
            buffer = bytearray()

            def read(socket: QLocalSocket = socket, buffer: bytearray = buffer) -> None:
                buffer.extend(bytes(socket.readAll()))
                if not buffer.endswith(b"\n"):
                    return
                try:
                    files = [str(f) for f in json.loads(buffer.decode()).get("files", [])]
                except (ValueError, AttributeError):
                    files = None
                tabs = self.open_files(files) if files is not None else []
                socket.write(json.dumps({"tabs": tabs}).encode() + b"\n")
                socket.flush()
                socket.disconnectFromServer()

            socket.readyRead.connect(read)
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                read()

    def close(self) -> None:
        self.server.close()


def hand_over_or_serve(files: Sequence[str]) -> InstanceServer | None:
    """Give ``files`` to a running instance (None: this process should exit), or become the
    instance and return its server. Needs a ``QCoreApplication`` (or ``QApplication``)."""
    name = server_name()
    lock = QLockFile(_lock_path(name))
    lock.setStaleLockTime(0)  # stale only when its owner is gone, never by age
    if not lock.tryLock(LOCK_WAIT_MS):  # pragma: no cover - a hung launcher holds it
        return _listen(name)
    try:
        connected, _tabs = _exchange(name, files)
        if connected:
            return None
        return _listen(name)
    finally:
        lock.unlock()


def _listen(name: str) -> InstanceServer:
    server = QLocalServer()
    server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
    if not server.listen(name):
        QLocalServer.removeServer(name)  # a killed instance's socket file: nobody answered
        server.listen(name)
    return InstanceServer(server)
