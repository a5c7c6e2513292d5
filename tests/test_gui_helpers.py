"""Shared pieces of the GUI tests (no tests here): settings in a temp ini file, a library folder with the
tiny model installed, folders of generated photos, and a shown main window over the real library."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from imagegen import save_photo
from PySide6.QtCore import QSettings

from irt_desktop.gui.settings import AppSettings
from irt_desktop.paths import LibraryLayout

WAIT_MS = 60_000


@pytest.fixture
def gui_settings(tmp_path):
    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def themed_app(qapp):
    from irt_desktop.gui.theme import apply_theme

    apply_theme(qapp, "light")
    return qapp


def install_model(library_dir: Path, bundle) -> None:
    from irt_desktop.library.model_store import install_bundle

    install_bundle(LibraryLayout(library_dir).models, bundle)


@pytest.fixture
def library_dir(tmp_path, tiny_bundle):
    lib = tmp_path / "library"
    install_model(lib, tiny_bundle)
    return lib


def make_photos(folder: Path, n: int, start: int = 0, size=(96, 72)) -> list[Path]:
    return [save_photo(folder / f"photo_{i:03d}.jpg", i, size, quality=92) for i in range(start, start + n)]


@pytest.fixture
def photo_files(tmp_path) -> list[Path]:
    return make_photos(tmp_path / "Photos", 24)


def build_window(library_dir: Path, settings: AppSettings, opener=None, **kwargs):
    from irt_desktop.gui.library_client import LibraryClient
    from irt_desktop.gui.main_window import MainWindow

    client = LibraryClient(library_dir, settings, opener=opener)
    window = MainWindow(client, settings, auto_fetch_model=False, **kwargs)
    return client, window


@pytest.fixture
def main_window(qtbot, themed_app, library_dir, gui_settings):
    client, window = build_window(library_dir, gui_settings)
    qtbot.addWidget(window)
    window.show()
    client.start()
    yield window
    window.close()


def wait_ready(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.client.state == "ready", timeout=WAIT_MS)


def wait_indexed(qtbot, window, n_images: int) -> None:
    """Until the library panel shows `n_images` photos and no indexing pass is running."""

    def done() -> bool:
        roots = window.library_panel.roots()
        return (
            sum(r.n_images for r in roots) >= n_images
            and all(r.status == "indexed" for r in roots)
            and not window.client.indexer.is_running
        )

    qtbot.waitUntil(done, timeout=WAIT_MS)


def wait_results(qtbot, view, previous=None) -> list:
    def answered() -> bool:
        assert not view.result_header.text().startswith("Search failed"), view.result_header.text()
        return not view.is_searching and view.last_answer is not None and view.last_answer is not previous

    qtbot.waitUntil(answered, timeout=WAIT_MS)
    return view.model.hits()


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.01)
