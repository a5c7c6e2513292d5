"""A second launch hands its photos to the running instance of the same library."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from irt_desktop.gui.single_instance import InstanceServer, hand_over, server_name


def test_no_running_instance_means_no_hand_over(qapp, tmp_path):
    assert hand_over(tmp_path / "lib", [tmp_path / "a.jpg"], timeout_ms=200) is False


def test_server_name_is_per_library_and_short(tmp_path):
    a, b = server_name(tmp_path / "a"), server_name(tmp_path / "b")
    assert a != b and a == server_name(tmp_path / "a" / ".." / "a")
    assert len(a) < 40


def test_second_process_hands_photos_to_the_first(qtbot, tmp_path):
    library = tmp_path / "lib"
    server = InstanceServer(library)
    assert server.listen()
    received: list = []
    server.photos_received.connect(received.append)
    photo = tmp_path / "café photo.jpg"
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from PySide6.QtCore import QCoreApplication
        from irt_desktop.gui.single_instance import hand_over
        app = QCoreApplication([])
        sys.exit(0 if hand_over(Path({str(library)!r}), [Path({str(photo)!r})], timeout_ms=3000) else 1)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    # The server answers from this process's event loop, so keep it spinning while the client waits.
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=20_000)
    assert proc.returncode == 0
    qtbot.waitUntil(lambda: bool(received), timeout=2_000)
    assert received == [[photo]]
    server.close()


def test_stale_socket_of_a_crashed_instance_is_replaced(qtbot, tmp_path):
    library = tmp_path / "lib"
    first = InstanceServer(library)
    assert first.listen()
    # Simulate a crash: the listening socket object goes away without a clean shutdown of the name.
    first._server.close()
    second = InstanceServer(library)
    assert second.listen()
    second.close()


def test_garbage_message_is_refused_without_emitting(qtbot, tmp_path):
    from PySide6.QtNetwork import QLocalSocket

    library = tmp_path / "lib"
    server = InstanceServer(library)
    assert server.listen()
    received: list = []
    server.photos_received.connect(received.append)
    sock = QLocalSocket()
    sock.connectToServer(server.name)
    assert sock.waitForConnected(1000)
    sock.write(b"not json\n")
    sock.flush()
    qtbot.waitUntil(lambda: sock.bytesAvailable() > 0 or sock.waitForReadyRead(50), timeout=3000)
    assert sock.readAll().data().startswith(b"error")
    assert received == []
    sock.disconnectFromServer()
    server.close()
    sock.deleteLater()
    qtbot.wait(20)
