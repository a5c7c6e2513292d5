"""Application start: QApplication, theme, the main window shown first, then the library opened behind it.

Only PySide6 and the gui modules are imported before the window is visible; torch, timm and FAISS load on
the library worker once the window has painted (the < 2 s startup target).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication

from irt_desktop import __version__
from irt_desktop.gui import icons
from irt_desktop.gui.library_client import LibraryClient
from irt_desktop.gui.main_window import MainWindow
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.single_instance import InstanceServer, hand_over
from irt_desktop.gui.theme import apply_theme
from irt_desktop.paths import default_library_dir

# Set by tests/perf/gui_startup.py: write the seconds from launch to the first painted window, then quit.
STARTUP_PROBE_ENV = "IRT_DESKTOP_STARTUP_PROBE"
# Set by packaging/build_bundle.sh: once the photos given on the command line have been searched, write
# the best hit's path to this file and quit (a frozen build's end-to-end check, window included).
SMOKE_RESULT_ENV = "IRT_DESKTOP_SMOKE_RESULT"
SMOKE_TIMEOUT_MS = 180_000


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("irt-desktop")
    app.setOrganizationName("irt-desktop")
    app.setApplicationDisplayName("irt-desktop")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("io.github.irt_desktop.IrtDesktop")
    app.setWindowIcon(icons.app_icon())
    return app


def choose_library(given: Path, settings: AppSettings) -> Path:
    """An explicit --library wins; otherwise the folder chosen in Settings, else the default."""
    if settings.library_path and Path(given) == default_library_dir():
        return settings.library_path
    return Path(given)


class Session(QObject):
    """The running window and its library client; replaced whole when the user picks another library."""

    library_switched = Signal(object)  # the new library folder (Path)

    def __init__(self, settings: AppSettings, library: Path, auto_fetch_model: bool = True) -> None:
        super().__init__()
        self.settings = settings
        self.auto_fetch_model = auto_fetch_model
        self.client: LibraryClient | None = None
        self.window: MainWindow | None = None
        self.open(library)

    def open(self, library: Path, photos: list[Path] | None = None) -> MainWindow:
        library.mkdir(parents=True, exist_ok=True)
        self.client = LibraryClient(library, self.settings)
        self.window = MainWindow(self.client, self.settings, auto_fetch_model=self.auto_fetch_model)
        self.window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.window.library_switch_requested.connect(self._switch)
        return self.window

    def start(self, photos: list[Path]) -> None:
        assert self.window is not None and self.client is not None
        self.window.show()
        # The library (and with it torch) loads once the window is on screen.
        QTimer.singleShot(0, self.client.start)
        if photos:
            self.window.search_photos(photos)

    def _switch(self, library: Path) -> None:
        old = self.window
        geometry = old.saveGeometry() if old is not None else None
        self.open(Path(library))
        if geometry is not None:
            self.window.restoreGeometry(geometry)
        self.start([])
        if old is not None:
            old.close()
        self.library_switched.emit(Path(library))


class InstanceRelay(QObject):
    """Answers later launches for the session's library, and moves with it when the user switches."""

    def __init__(self, session: Session, library: Path) -> None:
        super().__init__()
        self.session = session
        self.server: InstanceServer | None = None
        self._listen(library)
        session.library_switched.connect(self._listen)

    def _listen(self, library: Path) -> None:
        self.close()
        self.server = InstanceServer(library, self)
        if not self.server.listen():
            logging.getLogger(__name__).warning(
                "cannot listen as %s: later launches open windows of their own", self.server.name
            )
        self.server.photos_received.connect(self._show)
        self.server.folders_received.connect(self._add_folders)

    def _add_folders(self, folders: list[Path], recursive: bool, network: bool) -> None:
        """`irt-desktop index FOLDER` while this window holds the library: it adds them here."""
        client = self.session.client
        if client is None or not shiboken6.isValid(client):
            return
        for folder in folders:
            client.add_root(Path(folder), recursive=recursive, network=network)
        if not folders:
            client.rescan()

    def _show(self, photos: list[Path]) -> None:
        window = self.session.window
        if window is None or not shiboken6.isValid(window):
            return
        window.present()
        window.search_photos(photos)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None


class _FirstPaintProbe(QObject):
    def __init__(self, target: Path) -> None:
        super().__init__()
        self.target = target
        self.done = False

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if not self.done and event.type() == QEvent.Type.Paint and isinstance(obj, MainWindow):
            self.done = True
            elapsed = time.time()
            self.target.write_text(f"{elapsed:.6f}\n", encoding="utf-8")
            QTimer.singleShot(0, QApplication.instance().quit)
        return False


class _SmokeProbe(QObject):
    """Polls the results grid; the first answer (or a timeout) ends the application."""

    def __init__(self, session: Session, target: Path) -> None:
        super().__init__()
        self.session, self.target = session, target
        self.failed = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._check)
        self._timer.start(200)
        QTimer.singleShot(SMOKE_TIMEOUT_MS, self._give_up)

    def _check(self) -> None:
        window = self.session.window
        hits = window.search_view.model.hits() if window is not None else []
        if hits:
            self._timer.stop()
            self.target.write_text(f"{hits[0].path}\n", encoding="utf-8")
            QApplication.instance().quit()

    def _give_up(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self.failed = True
            self.target.write_text("timeout: no search results\n", encoding="utf-8")
            QApplication.instance().exit(1)


def run_app(library: Path, photos: list[Path]) -> int:
    level = os.environ.get("IRT_LOG_LEVEL", "WARNING")
    # At DEBUG each line says when since launch (ms), so a stall can be matched with the lane's tasks.
    when = "%(relativeCreated)8.0f ms " if level.upper() == "DEBUG" else ""
    logging.basicConfig(level=level, format=f"{when}%(levelname)s %(name)s: %(message)s")
    app = create_application()
    settings = AppSettings()
    apply_theme(app, settings.theme)
    probe_target = os.environ.get(STARTUP_PROBE_ENV)
    probe = None
    if probe_target:
        probe = _FirstPaintProbe(Path(probe_target))
        app.installEventFilter(probe)
    library = choose_library(library, settings)
    photos = [Path(p) for p in photos]
    # One window per library: a running instance gets the photos (and comes to the front) instead.
    if not probe_target and hand_over(library, photos):
        return 0
    session = Session(settings, library, auto_fetch_model=not probe_target)
    relay = InstanceRelay(session, library)
    smoke_target = os.environ.get(SMOKE_RESULT_ENV)
    smoke = _SmokeProbe(session, Path(smoke_target)) if smoke_target else None
    session.start(photos)
    code = app.exec()
    relay.close()
    if smoke is not None and smoke.failed:
        code = 1
    # Closing the window (the usual way out) has already shut the session down and deleted it; a quit
    # from elsewhere leaves it open, and then it is closed here so the library is saved.
    window = session.window
    if window is not None and shiboken6.isValid(window) and not probe_target:
        window.close()
    elif session.client is not None and shiboken6.isValid(session.client):
        session.client.close(2000)
    return int(code)
