"""The watcher as a pure reporter: given roots, rules and a sink (plain callables, no library and no
catalog), it reports settled changed paths and does nothing else."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

from imagegen import save_photo
from test_library_support import SIZE, wait_for

from irt_desktop.library import watcher as watcher_module
from irt_desktop.library.excludes import NONE, ExcludeRules
from irt_desktop.library.folders import RootRow, canonical
from irt_desktop.library.watcher import Watcher


def _root(root_id: int, path: Path, network: bool = False) -> RootRow:
    return RootRow(root_id, canonical(path), True, False, network, True, None)


def _reported(batches: list[list[str]]) -> set[str]:
    return {p for batch in batches for p in batch}


def test_created_moved_and_deleted_files_reach_the_sink(tmp_path):
    photos = tmp_path / "photos"
    (photos / "a").mkdir(parents=True)
    roots = [_root(1, photos)]
    batches: list[list[str]] = []
    rules = ExcludeRules.of(["*_draft.jpg"])
    watcher = Watcher(lambda: list(roots), lambda: rules, batches.append, debounce_s=0.2, offline_retry_s=0.2)
    with watcher:
        wait_for(lambda: batches, what="the reconciliation batch")
        assert batches[0] == [canonical(photos)]  # reconcile: every root, whole
        base = canonical(photos)
        new = save_photo(Path(base) / "a" / "new.jpg", 1, SIZE)
        save_photo(Path(base) / "a" / "holiday_draft.jpg", 2, SIZE)  # excluded
        (Path(base) / "a" / "notes.txt").write_text("not a photo")
        wait_for(lambda: str(new) in _reported(batches), what="the new photo")

        wait_for(watcher.idle.is_set, what="watcher idle")
        count = len(batches)
        moved = Path(base) / "a" / "moved.jpg"
        shutil.move(new, moved)
        wait_for(lambda: str(moved) in _reported(batches[count:]), what="the move's destination")
        assert str(new) in _reported(batches[count:])  # and its source, so the caller sees it gone

        count = len(batches)
        moved.unlink()
        wait_for(lambda: str(moved) in _reported(batches[count:]), what="the deletion")
        wait_for(watcher.idle.is_set, what="watcher idle")

        # A root that appears later (as Library.add_root would) is watched once told.
        later = tmp_path / "later"
        later.mkdir()
        roots.append(_root(2, later))
        watcher.watch_new_roots()
        assert set(watcher.watched_roots) == {1, 2}
        late = save_photo(Path(canonical(later)) / "x.jpg", 3, SIZE)
        wait_for(lambda: str(late) in _reported(batches), what="the later root's photo")

    reported = _reported(batches)
    assert not any("draft" in p or p.endswith(".txt") for p in reported)
    assert watcher.runs == len(batches)


def test_an_offline_root_is_reported_whole_when_it_comes_back(tmp_path):
    away = tmp_path / "drive"
    roots = [_root(1, away)]
    batches: list[list[str]] = []
    with Watcher(lambda: roots, lambda: NONE, batches.append, debounce_s=0.1, offline_retry_s=0.2) as watcher:
        wait_for(lambda: batches, what="the reconciliation batch")
        assert watcher.watched_roots == {}
        away.mkdir()
        wait_for(lambda: 1 in watcher.watched_roots, what="the root watched")
        wait_for(lambda: [str(away)] in batches[1:], what="the returned root reported")


def test_a_failing_sink_does_not_stop_the_watching(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    errors: list[BaseException] = []
    seen: list[list[str]] = []

    def sink(paths: list[str]) -> None:
        seen.append(paths)
        if len(seen) == 1:
            raise RuntimeError("receiver broke")

    with Watcher(lambda: [_root(1, photos)], lambda: NONE, sink, debounce_s=0.1, on_error=errors.append):
        wait_for(lambda: errors, what="the first report failing")
        new = save_photo(photos / "after.jpg", 4, SIZE)
        wait_for(lambda: [str(new)] in seen, what="the next report")
    assert [str(e) for e in errors] == ["receiver broke"]


def test_the_watcher_knows_no_library_nor_catalog():
    tree = ast.parse(Path(watcher_module.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    ours = {m for m in imported if m.startswith("irt_desktop")}
    allowed = {"irt_desktop.images", "irt_desktop.library.excludes", "irt_desktop.library.folders"}
    assert ours <= allowed | {"irt_desktop.library.mounts"}, ours
    code = (
        "import sys\n"
        "import irt_desktop.library.watcher\n"
        "loaded = [m for m in ('sqlite3', 'irt_desktop.library.catalog', 'irt_desktop.library.library') "
        "if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ}
    )
    assert result.returncode == 0, result.stderr
