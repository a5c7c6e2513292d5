"""Copy and move to a folder, and undo, never lose or overwrite a photo (library/file_ops.py)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from irt_desktop.library import file_ops
from irt_desktop.library.file_ops import COPY, MOVE, plan_transfer, run_transfer, undo_transfer


@pytest.fixture
def photos(tmp_path) -> list[Path]:
    out = []
    for folder, name, n in (("a", "one.jpg", 100), ("a", "two.jpg", 200), ("b", "one.jpg", 300)):
        p = tmp_path / "src" / folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(n))
        out.append(p)
    return out


def contents(paths) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in paths}


def test_plan_counts_and_refuses_clashes(photos, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "two.jpg").write_bytes(b"already here")
    plan = plan_transfer(MOVE, [*photos, tmp_path / "gone.jpg"], dest)
    assert [s for s, _ in plan.items] == [photos[0]]
    assert plan.total_bytes == 100 and plan.count == 1
    reasons = dict((s.name if s != photos[2] else "b/one.jpg", why) for s, why in plan.clashes)
    assert "already has a file called two.jpg" in reasons["two.jpg"]
    assert "also called one.jpg" in reasons["b/one.jpg"]  # two selected photos, one name
    assert "no longer exists" in reasons["gone.jpg"]
    same = plan_transfer(COPY, [photos[0]], photos[0].parent)
    assert not same.items and "already in that folder" in same.clashes[0][1]
    with pytest.raises(ValueError):
        plan_transfer("delete", photos, dest)


def test_copy_then_undo_removes_only_unchanged_copies(photos, tmp_path):
    dest = tmp_path / "dest"
    before = contents(photos[:2])
    result = run_transfer(plan_transfer(COPY, photos[:2], dest))
    assert [t.target for t in result.done] == [dest / "one.jpg", dest / "two.jpg"]
    assert contents([dest / "one.jpg", dest / "two.jpg"]) == before
    assert contents(photos[:2]) == before  # the originals stay
    assert not list(dest.glob(f"{file_ops.PARTIAL_PREFIX}*"))
    (dest / "two.jpg").write_bytes(b"edited after the copy")
    back = undo_transfer(result)
    assert not (dest / "one.jpg").exists()
    assert (dest / "two.jpg").read_bytes() == b"edited after the copy"  # an edited copy is kept
    assert [p.name for p, _ in back.failed] == ["two.jpg"] and "changed" in back.failed[0][1]


def test_move_on_one_file_system_and_undo(photos, tmp_path):
    dest = tmp_path / "dest"
    before = contents(photos[:2])
    result = run_transfer(plan_transfer(MOVE, photos[:2], dest))
    assert not photos[0].exists() and not photos[1].exists()
    assert contents([dest / "one.jpg", dest / "two.jpg"]) == before
    assert result.bytes == 300
    undo_transfer(result)
    assert contents(photos[:2]) == before and not list(dest.iterdir())


def test_move_without_hard_links_copies_verifies_then_removes(photos, tmp_path, monkeypatch):
    dest = tmp_path / "dest"
    real_link = os.link

    def no_links(src, dst, *a, **k):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(file_ops.os, "link", no_links)
    before = contents(photos[:1])
    result = run_transfer(plan_transfer(MOVE, photos[:1], dest))
    assert not photos[0].exists() and contents([dest / "one.jpg"]) == before and not result.failed
    # A copy that does not match its original: the original stays, nothing is left behind.
    monkeypatch.setattr(file_ops.os, "link", real_link)
    undo_transfer(result)
    monkeypatch.setattr(file_ops.os, "link", no_links)
    monkeypatch.setattr(file_ops.filecmp, "cmp", lambda a, b, shallow=True: False)
    bad = run_transfer(plan_transfer(MOVE, photos[:1], dest))
    assert photos[0].read_bytes() == before["one.jpg"]
    assert not bad.done and "does not match" in bad.failed[0][1]
    assert list(dest.iterdir()) == []


def test_a_name_taken_meanwhile_is_never_overwritten(photos, tmp_path):
    dest = tmp_path / "dest"
    plan = plan_transfer(MOVE, photos[:1], dest)
    dest.mkdir()
    (dest / "one.jpg").write_bytes(b"someone else's photo")
    result = run_transfer(plan)
    assert not result.done and "already" in result.failed[0][1]
    assert (dest / "one.jpg").read_bytes() == b"someone else's photo"
    assert photos[0].exists()
    # Undo of a move whose original name was taken again: refused, both files kept.
    moved = run_transfer(plan_transfer(MOVE, [photos[1]], dest))
    photos[1].write_bytes(b"new file at the old name")
    back = undo_transfer(moved)
    assert (
        back.failed and (dest / "two.jpg").exists() and photos[1].read_bytes() == b"new file at the old name"
    )
