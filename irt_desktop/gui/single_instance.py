"""One window per library: a second `irt-desktop PHOTO` hands its photos to the running one and exits.

A QLocalServer named after the user and the library folder listens in the first instance; later
launches connect, send one JSON line, and quit. "Open with irt-desktop" from a file manager therefore
searches in the window the user already has instead of opening another one.

Messages (one JSON object per line, answered "ok" or "error"):
- {"photos": [PATH, ...]}: search by these photos (a second launch, Open with...).
- {"folders": [PATH, ...], "recursive": bool, "network": bool}: add these folders and index them. The
  running window holds the library's writer lock, so `irt-desktop index FOLDER` sends this instead of
  indexing itself (commands/library.py).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

CONNECT_TIMEOUT_MS = 500
ACK_TIMEOUT_MS = 15_000
MAX_MESSAGE_BYTES = 1 << 20
log = logging.getLogger(__name__)


def server_name(library: Path) -> str:
    """Stable per user and library; short, because Unix socket paths are limited to about 100 bytes."""
    key = f"{getpass.getuser()}\0{Path(library).expanduser().resolve()}"
    return "irt-desktop-" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def hand_over(library: Path, photos: list[Path], timeout_ms: int = CONNECT_TIMEOUT_MS) -> bool:
    """Send `photos` to a running instance for `library`; False only when there is none.

    Once a connection is accepted an instance is alive: even if its answer is slow (its GUI thread can
    wait on the GIL while torch loads on a worker), starting a second window on the same library would be
    worse, so the photos count as handed over.
    """
    socket = QLocalSocket()
    socket.connectToServer(server_name(library))
    if not socket.waitForConnected(timeout_ms):
        return False
    message = {"photos": [str(Path(p).expanduser().absolute()) for p in photos]}
    socket.write(json.dumps(message).encode("utf-8") + b"\n")
    socket.flush()
    socket.waitForBytesWritten(ACK_TIMEOUT_MS)
    # Waiting for the acknowledgement keeps this process alive until the photos have arrived.
    if not socket.waitForReadyRead(ACK_TIMEOUT_MS):
        log.warning("the running irt-desktop did not confirm within %d ms", ACK_TIMEOUT_MS)
    socket.disconnectFromServer()
    return True


def hand_over_folders(
    library: Path,
    folders: list[Path],
    *,
    recursive: bool = True,
    network: bool = False,
    timeout_ms: int = CONNECT_TIMEOUT_MS,
) -> bool:
    """Ask the running instance for `library` to add and index `folders`; True once it confirmed.
    Callable from a process without a Qt application (the CLI): one is made for the call."""
    from PySide6.QtCore import QCoreApplication

    _app = QCoreApplication.instance() or QCoreApplication([])
    socket = QLocalSocket()
    socket.connectToServer(server_name(library))
    if not socket.waitForConnected(timeout_ms):
        return False
    message = {
        "folders": [str(Path(p).expanduser().absolute()) for p in folders],
        "recursive": bool(recursive),
        "network": bool(network),
    }
    socket.write(json.dumps(message).encode("utf-8") + b"\n")
    socket.flush()
    socket.waitForBytesWritten(ACK_TIMEOUT_MS)
    answered = socket.waitForReadyRead(ACK_TIMEOUT_MS) and socket.readAll().data().startswith(b"ok")
    socket.disconnectFromServer()
    return bool(answered)


def instance_alive(library: Path, timeout_ms: int = CONNECT_TIMEOUT_MS) -> bool:
    socket = QLocalSocket()
    socket.connectToServer(server_name(library))
    alive = socket.waitForConnected(timeout_ms)
    socket.abort()
    return alive


class InstanceServer(QObject):
    """Listens for later launches; emits `photos_received` with the paths they were given, and
    `folders_received(folders, recursive, network)` for `irt-desktop index FOLDER` while it runs."""

    photos_received = Signal(list)
    folders_received = Signal(list, bool, bool)

    def __init__(self, library: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        self.name = server_name(library)
        self._library = Path(library)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        # With access options set, Qt binds in a private folder and renames the socket into place,
        # replacing whatever is there: a live instance's name would be taken over silently, so ask first.
        if instance_alive(self._library):
            return False
        if self._server.listen(self.name):
            return True
        # A socket file left by a crashed instance can block listen(); nobody answers it, so it is stale.
        QLocalServer.removeServer(self.name)
        return self._server.listen(self.name)

    def close(self) -> None:
        self._server.close()
        for socket in list(self._buffers):
            socket.disconnected.disconnect()
            socket.abort()
            self._forget(socket)

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(lambda s=socket: self._forget(s))

    def _read(self, socket: QLocalSocket) -> None:
        data = self._buffers.get(socket, b"") + socket.readAll().data()
        if len(data) > MAX_MESSAGE_BYTES:
            socket.abort()
            self._forget(socket)
            return
        self._buffers[socket] = data
        if b"\n" not in data:
            return
        line = data.split(b"\n", 1)[0]
        try:
            message = json.loads(line.decode("utf-8"))
            if "folders" in message:
                folders = [Path(str(p)) for p in message["folders"]]
                flags = bool(message.get("recursive", True)), bool(message.get("network", False))
                emit = lambda: self.folders_received.emit(folders, *flags)  # noqa: E731
            else:
                photos = [Path(p) for p in message["photos"]]
                emit = lambda: self.photos_received.emit(photos)  # noqa: E731
        except (ValueError, KeyError, TypeError, AttributeError):
            socket.write(b"error\n")
        else:
            socket.write(b"ok\n")
            emit()
        socket.flush()
        self._buffers[socket] = b""

    def _forget(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()
