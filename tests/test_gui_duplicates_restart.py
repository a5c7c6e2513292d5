"""The Duplicates tab over a real library (tiny model), jobs inline: trash an exact copy, quit (the client
closes the library), start again, and Undo still puts it back: the bytes, the catalog row and its vector
(nothing re-embedded), from the catalog's trash journal."""

from __future__ import annotations

import shutil

import numpy as np
from imagegen import save_photo
from test_library_support import SIZE

from irt_desktop.gui.library_client import READY, LibraryClient
from irt_desktop.gui.tasks import TaskRunner, run_inline
from irt_desktop.library.library import Library
from irt_desktop.library.pipeline import PipelineConfig


def _tab(qtbot, tmp_path, gui_settings, tiny_embedder, name: str):
    from irt_desktop.gui.duplicates_view import DuplicatesView
    from irt_desktop.gui.thumbnails import ThumbnailCache, ThumbnailLoader

    def opener(directory, settings):
        return Library.open(directory, lambda: tiny_embedder, pipeline=PipelineConfig(batch_size=4))

    runner = TaskRunner(executor=run_inline)
    client = LibraryClient(tmp_path / "library", gui_settings, opener=opener, runner=runner)
    client.start()
    assert client.state == READY
    view = DuplicatesView(
        client, gui_settings, ThumbnailLoader(ThumbnailCache(tmp_path / f"thumbs-{name}")), runner=runner
    )
    qtbot.addWidget(view)
    return client, view


def test_undo_after_a_restart(qtbot, qapp, gui_settings, tmp_path, monkeypatch, tiny_embedder):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    photos = tmp_path / "photos"
    for n in range(6):
        save_photo(photos / "Album" / f"DSC {n}.jpg", 1500 + n, SIZE, quality=92)
    (photos / "Backup copy").mkdir()
    copy = photos / "Backup copy" / "DSC 2.jpg"
    shutil.copy2(photos / "Album" / "DSC 2.jpg", copy)
    data = copy.read_bytes()
    with Library.open(tmp_path / "library", lambda: tiny_embedder) as lib:
        lib.add_root(photos)
        lib.index()

    client, view = _tab(qtbot, tmp_path, gui_settings, tiny_embedder, "first")
    view.find()
    assert view.exact_tree.topLevelItemCount() == 1
    victim = view.report.of_kind("exact")[0].members[1]
    assert victim.path == copy
    vector = client.library.catalog.vectors_for(client.library.model_id, [victim.id])[victim.id].copy()
    view.check_all_but_best("exact")
    monkeypatch.setattr(view, "confirm_trash", lambda kind: True)
    view.trash_buttons["exact"].click()
    assert not copy.exists() and view.undo_button.isEnabled()
    client.close()  # quitting the app

    client, view = _tab(qtbot, tmp_path, gui_settings, tiny_embedder, "second")
    view.find()
    assert view.exact_tree.topLevelItemCount() == 0
    assert view.undo_button.isEnabled() and "1 file" in view.undo_button.text()
    assert view.undo_menu.actions()[0].text().startswith("Put back 1 file (1 exact copy")
    view.undo_button.click()
    assert copy.read_bytes() == data
    lib = client.library
    assert lib.image(victim.id).status == "ok"
    assert np.array_equal(lib.catalog.vectors_for(lib.model_id, [victim.id])[victim.id], vector)
    assert view.exact_tree.topLevelItemCount() == 1 and not view.undo_button.isEnabled()
    client.close()
