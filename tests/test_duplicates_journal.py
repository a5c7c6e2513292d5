"""The trash journal (catalog schema 5): trash, close the library, reopen, undo -> the file's bytes, its
catalog row and its vector back (nothing re-embedded); the last several actions, each undone on its own;
a file the trash no longer holds says where it had gone and leaves the journal."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from imagegen import save_photo
from test_library_support import SIZE

from irt_desktop.library.schema import SCHEMA_VERSION


def _library(open_library, tmp_path, copies: int = 3):
    photos = tmp_path / "photos"
    album, backup = photos / "Album", photos / "Backup copy"
    for n in range(8):
        save_photo(album / f"DSC {n:05d}.jpg", 700 + n, SIZE, quality=92)
    backup.mkdir(parents=True)
    for n in range(copies):
        shutil.copy2(album / f"DSC {n:05d}.jpg", backup / f"DSC {n:05d}.jpg")
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    return lib, photos


def test_undo_after_closing_and_reopening_the_library(open_library, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    lib, photos = _library(open_library, tmp_path)
    assert lib.catalog.scalar("PRAGMA user_version") == SCHEMA_VERSION >= 5
    copy = photos / "Backup copy" / "DSC 00001.jpg"
    data = copy.read_bytes()
    victim = next(
        m for g in lib.duplicates(rotations=False).of_kind("exact") for m in g.members if m.path == copy
    )
    vector = lib.catalog.vectors_for(lib.model_id, [victim.id])[victim.id].copy()
    result = lib.trash([victim.id], label="1 exact copy")
    assert result.action_id is not None and not copy.exists()
    lib.close()

    lib = open_library()
    history = lib.trash_history()
    assert [(a.label, [f.original for f in a.items]) for a in history] == [("1 exact copy", [str(copy)])]
    assert history[0].folders == [str(copy.parent)]
    assert Path(history[0].items[0].trashed).read_bytes() == data
    assert history[0].trash_folders == [str(Path(result.moved[0].trashed).parent)]
    assert lib.image(victim.id).status == "deleted"

    back = lib.restore(history[0])
    assert not back.failed and copy.read_bytes() == data
    assert not Path(result.moved[0].info).exists()  # the .trashinfo record went with it
    assert lib.image(victim.id).status == "ok"
    assert np.array_equal(lib.catalog.vectors_for(lib.model_id, [victim.id])[victim.id], vector)
    assert victim.id in {h.image_id for h in lib.search(copy, k=20)}
    assert lib.trash_history() == []
    again = lib.index()
    assert again.embedded == 0 and again.scan.new == 0  # the row and its vector came back: nothing to embed


def test_the_last_several_actions_are_offered_and_undone_on_their_own(open_library, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    lib, _photos = _library(open_library, tmp_path)
    exact = lib.duplicates(rotations=False).of_kind("exact")
    victims = sorted((g.members[1] for g in exact), key=lambda m: str(m.path))
    assert len(victims) == 3
    first = lib.trash([victims[0].id], label="first")
    lib.trash([victims[1].id, victims[2].id], label="second")
    history = lib.trash_history()
    assert [a.label for a in history] == ["second", "first"]  # newest first
    assert [len(a.items) for a in history] == [2, 1]

    # Undo the older action only: the newer one stays on offer, its files stay in the trash.
    lib.restore(history[1])
    assert victims[0].path.exists() and not victims[1].path.exists()
    assert [a.label for a in lib.trash_history()] == ["second"]
    # Undoing it again is harmless: the file is back already, nothing moves, the journal is unchanged.
    again = lib.restore(first)
    assert not again.failed and victims[0].path.exists() and lib.image(victims[0].id).status == "ok"
    assert [a.label for a in lib.trash_history()] == ["second"]
    lib.restore(lib.trash_history()[0])
    assert all(v.path.exists() for v in victims) and lib.trash_history() == []
    assert len(lib.duplicates(rotations=False).of_kind("exact")) == 3


def test_a_file_gone_from_the_trash_says_where_it_had_gone(open_library, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    lib, _photos = _library(open_library, tmp_path, copies=1)
    victim = lib.duplicates(rotations=False).of_kind("exact")[0].members[1]
    result = lib.trash([victim.id])
    trashed = Path(result.moved[0].trashed)
    trashed.unlink()  # the user emptied the trash
    back = lib.restore(lib.trash_history()[0])
    assert not back.moved and len(back.failed) == 1
    assert "no longer in the trash" in back.failed[0][1] and str(trashed.parent) in back.failed[0][1]
    assert lib.trash_history() == []  # nothing left to offer
    assert lib.image(victim.id).status == "deleted" and not victim.path.exists()


def test_a_file_put_back_from_a_file_manager_counts_as_restored(open_library, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    lib, _photos = _library(open_library, tmp_path, copies=1)
    victim = lib.duplicates(rotations=False).of_kind("exact")[0].members[1]
    result = lib.trash([victim.id])
    Path(result.moved[0].trashed).rename(victim.path)
    back = lib.restore(lib.trash_history()[0])
    assert [f.original for f in back.moved] == [str(victim.path)] and not back.failed
    assert lib.image(victim.id).status == "ok" and lib.trash_history() == []
