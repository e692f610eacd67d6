"""One window per user: a second launch hands its files to the running one and exits.

A double-click on a second .nwb file should add a tab to the window the user already has, not
start a second program that reads the same caches. The first instance listens on a
``QLocalServer`` (an absolute Unix-socket path on POSIX, a named pipe on Windows; see
``instance_client``); a later launch connects, sends the absolute paths as one JSON line,
waits for the reply (the paths of the tabs now open) and exits. On POSIX the launcher tries
that without Qt first (``instance_client.exchange``), so a hand-over costs little more than
starting Python.

Races and crashes: the decision "hand over or become the server" is taken here under a
``QLockFile``, so four simultaneous launches end with one server and three hand-overs. A
server killed with SIGKILL leaves its socket file behind; under the lock, a socket nobody
answers on is stale and is removed before listening. ``QLockFile`` itself recognises a lock
whose owner died. A window that is connected but busy (loading a large file) is never
replaced: connected means delivered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from PySide6.QtCore import QLockFile, QObject
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from ndviewer.gui.instance_client import lock_path, message, server_address

CONNECT_MS = 300
REPLY_MS = 3000
#: The decision lock is held for milliseconds; a holder that died is detected by QLockFile.
LOCK_WAIT_MS = 5000


def send_files(files: Sequence[str]) -> list[str] | None:
    """Hand ``files`` to the running instance; the paths of its open tabs, or None when no
    instance is listening (or it did not answer in time)."""
    return _exchange(files)[1]


def _exchange(files: Sequence[str]) -> tuple[bool, list[str] | None]:
    """(connected, the reply's tabs), through Qt (works on every platform)."""
    socket = QLocalSocket()
    socket.connectToServer(server_address())
    if not socket.waitForConnected(CONNECT_MS):
        return False, None
    socket.write(message(files))
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
    lock = QLockFile(lock_path())
    lock.setStaleLockTime(0)  # stale only when its owner is gone, never by age
    if not lock.tryLock(LOCK_WAIT_MS):  # pragma: no cover - a hung launcher holds it
        return _listen()
    try:
        connected, _tabs = _exchange(files)
        if connected:
            return None
        return _listen()
    finally:
        lock.unlock()


def _listen() -> InstanceServer:
    name = server_address()
    server = QLocalServer()
    server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
    if not server.listen(name):
        QLocalServer.removeServer(name)  # a killed instance's socket file: nobody answered
        server.listen(name)
    return InstanceServer(server)
