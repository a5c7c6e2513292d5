"""A second launch hands its photos to the running instance of the same library."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from irt_desktop.gui.single_instance import InstanceServer, hand_over, instance_alive, server_name


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
    import socket as pysocket

    library = tmp_path / "lib"
    probe = InstanceServer(library)
    assert probe.listen()
    path = probe._server.fullServerName()
    probe.close()
    # What a crash leaves: a socket file nobody listens on (Qt's clean close would have removed it).
    stale = pysocket.socket(pysocket.AF_UNIX, pysocket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    second = InstanceServer(library)
    assert second.listen()
    second.close()


def test_a_live_instance_keeps_its_name(qtbot, tmp_path):
    library = tmp_path / "lib"
    first = InstanceServer(library)
    assert first.listen()
    second = InstanceServer(library)
    assert not second.listen()
    assert first._server.isListening()
    first.close()


def test_a_slow_instance_still_gets_the_photos(qtbot, tmp_path, monkeypatch):
    """Connected but no answer in time (its GUI thread busy): no second window on the same library."""
    from PySide6.QtNetwork import QLocalServer

    import irt_desktop.gui.single_instance as si

    monkeypatch.setattr(si, "ACK_TIMEOUT_MS", 300)
    library = tmp_path / "lib"
    mute = QLocalServer()
    assert mute.listen(server_name(library))  # accepts connections, never answers
    assert hand_over(library, [tmp_path / "a.jpg"]) is True
    mute.close()


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


def test_open_with_hands_the_photo_to_the_running_window_which_searches_it(qapp, tmp_path, tiny_bundle):
    """`irt-desktop PHOTO` while the app runs: the second process exits, the first shows the results."""
    import os
    import time
    from pathlib import Path

    from test_gui_helpers import install_model, make_photos
    from test_library_support import copy_query

    from irt_desktop.library import Library

    library = tmp_path / "lib"
    install_model(library, tiny_bundle)
    photos = make_photos(tmp_path / "Photos", 8)
    lib = Library.open(library)
    lib.add_root(tmp_path / "Photos")
    lib.index()
    lib.close()
    query = copy_query(photos[3], tmp_path / "query.jpg")
    result = tmp_path / "first-hit.txt"
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
    )
    # A file, not a pipe: nobody reads the first instance's log until it has exited.
    log = open(tmp_path / "first.log", "w+")  # noqa: SIM115
    first = subprocess.Popen(
        [sys.executable, "-m", "irt_desktop", "--library", str(library)],
        env={**env, "IRT_DESKTOP_SMOKE_RESULT": str(result)},
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 120
        while not instance_alive(library, timeout_ms=200):  # until the first instance listens
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the first instance never listened"
            time.sleep(0.2)
        second = subprocess.run(
            [sys.executable, "-m", "irt_desktop", "--library", str(library), str(query)],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,  # generous: a loaded 2-core machine imports Qt slowly
        )
        assert second.returncode == 0, second.stderr[-2000:]
        assert first.wait(timeout=240) == 0, (tmp_path / "first.log").read_text()[-2000:]
    finally:
        if first.poll() is None:
            first.kill()
        log.close()
    assert Path(result.read_text().strip()) == photos[3]


def test_the_relay_follows_a_library_switch(qtbot, themed_app, library_dir, gui_settings, tmp_path):
    from irt_desktop.gui.app import InstanceRelay, Session

    session = Session(gui_settings, library_dir, auto_fetch_model=False)
    relay = InstanceRelay(session, library_dir)
    session.start([])
    assert instance_alive(library_dir)
    first = session.window
    other = tmp_path / "other-library"
    gui_settings.library_path = other
    first.apply_settings({"library/path"})
    qtbot.waitUntil(lambda: session.window is not first, timeout=60_000)
    assert instance_alive(other) and not instance_alive(library_dir)
    relay.close()
    session.window.close()
