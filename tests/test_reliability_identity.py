"""Content identity: rows share vectors only when the whole content agrees, never on the quick hash alone."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from imagegen import photo
from PIL import Image
from test_library_support import is_indexed

from irt_desktop.library import identity
from irt_desktop.library.hashing import full_hash_file, quick_hash_file

WIDTH, MARGIN, BODY = 1200, 40, 400  # 40 white rows of 3600 bytes: more than the quick hash's 64 KiB


def scan(path: Path, seed: int) -> Path:
    """An uncompressed TIFF 'scan': white margins at top and bottom around a photo."""
    page = Image.new("RGB", (WIDTH, BODY + 2 * MARGIN), (255, 255, 255))
    page.paste(photo(seed, (WIDTH, BODY)), (0, MARGIN))
    path.parent.mkdir(parents=True, exist_ok=True)
    page.save(path, "TIFF")
    return path


def _row(lib, path: Path) -> tuple[int, int] | None:
    """(id, seq of its vector) of the live row at `path`."""
    row = lib.catalog.conn.execute(
        "SELECT i.id, v.seq FROM images i JOIN vectors v ON v.image_id = i.id "
        "WHERE i.path = ? AND i.status != 'deleted'",
        (str(path),),
    ).fetchone()
    return None if row is None else (row[0], row[1])


def _vector(lib, path: Path) -> np.ndarray:
    image_id = lib.catalog.image_id_for_path(str(path))
    return lib.catalog.vectors_for(lib.model_id, [image_id])[image_id]


def test_scans_with_the_same_margins_get_their_own_vectors(open_library, tmp_path):
    root = tmp_path / "scans"
    a = scan(root / "a.tif", 1)
    lib = open_library()
    lib.add_root(root)
    assert lib.index().embedded == 1

    b = scan(root / "b.tif", 2)
    assert quick_hash_file(a) == quick_hash_file(b) and full_hash_file(a) != full_hash_file(b)
    report = lib.index()
    assert (report.scan.new, report.scan.copied, report.embedded) == (1, 0, 1)
    assert not np.allclose(_vector(lib, a), _vector(lib, b))
    dups = lib.duplicates(0.95)
    assert dups.exact == []
    pair = {a, b}
    score = float(_vector(lib, a) @ _vector(lib, b))
    assert score < 0.9999 and not any({i.path for i in g} == pair and score >= 0.9999 for g in dups.near)

    # Overwritten with another scan of the same size (so the same quick hash): embedded again.
    before = _vector(lib, a)
    a_id, a_seq = _row(lib, a)
    scan(root / "c.tif", 3).replace(a)
    report = lib.index()
    assert (report.scan.changed, report.scan.unchanged, report.embedded) == (1, 1, 1)
    assert _row(lib, a)[0] == a_id and _row(lib, a)[1] != a_seq
    assert not np.allclose(before, _vector(lib, a))

    # The same bytes written again (a new mtime): the content is checked and the vector kept.
    a_seq = _row(lib, a)[1]
    a.write_bytes(a.read_bytes())
    os.utime(a, ns=(1, 2_000_000_000))
    report = lib.index()
    assert (report.scan.changed, report.scan.unchanged, report.embedded) == (0, 2, 0)
    assert _row(lib, a) == (a_id, a_seq)


def test_moves_and_copies_need_the_full_hash(open_library, tmp_path):
    root = tmp_path / "scans"
    a = scan(root / "a.tif", 1)
    b = scan(root / "b.tif", 2)
    lib = open_library()
    lib.add_root(root)
    assert lib.index().embedded == 2
    b_row = _row(lib, b)

    # b moves while a new scan with b's margins appears: b keeps its row, the newcomer gets its own.
    moved = root / "sub" / "b_moved.tif"
    moved.parent.mkdir()
    shutil.move(b, moved)
    newcomer = scan(root / "new.tif", 4)
    report = lib.index()
    assert (report.scan.moved, report.scan.new, report.scan.copied, report.embedded) == (1, 1, 0, 1)
    assert _row(lib, moved) == b_row and is_indexed(lib, newcomer)
    assert not np.allclose(_vector(lib, newcomer), _vector(lib, moved))

    # A byte-identical copy shares the vector.
    copy = root / "copy_of_a.tif"
    shutil.copyfile(a, copy)
    report = lib.index()
    assert (report.scan.copied, report.embedded) == (1, 0)
    assert np.array_equal(_vector(lib, copy), _vector(lib, a))
    assert [sorted(i.path.name for i in g) for g in lib.duplicates().exact] == [["a.tif", "copy_of_a.tif"]]


def test_rescan_reads_nothing_and_a_move_reads_each_file_once(open_library, photos, monkeypatch):
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    seqs = dict(lib.catalog.conn.execute("SELECT image_id, seq FROM vectors").fetchall())
    assert lib.catalog.scalar("SELECT count(*) FROM images WHERE full_hash IS NULL") == 0

    reads: list[str] = []
    for name in ("quick_hash_file", "full_hash_file"):
        real = getattr(identity, name)
        monkeypatch.setattr(identity, name, lambda p, real=real, name=name: reads.append(name) or real(p))
    report = lib.index()
    assert (report.scan.unchanged, report.embedded, reads) == (12, 0, [])

    shutil.move(photos / "b", photos / "a" / "b_moved")
    report = lib.index()
    assert (report.scan.moved, report.scan.new, report.embedded) == (4, 0, 0)
    assert sorted(reads) == ["full_hash_file"] * 4 + ["quick_hash_file"] * 4
    assert dict(lib.catalog.conn.execute("SELECT image_id, seq FROM vectors").fetchall()) == seqs


def test_rows_from_before_full_hashes(open_library, photos):
    """A catalog from schema 2 has no full hashes: a live source gets one (copy), a moved row cannot
    prove its content and is embedded afresh."""
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    with lib.catalog.transaction() as tx:
        tx.execute("UPDATE images SET full_hash = NULL")
    source = photos / "a" / "img_000.jpg"
    shutil.copyfile(source, photos / "copy.jpg")
    report = lib.index()
    assert (report.scan.copied, report.embedded) == (1, 0)
    assert lib.catalog.scalar("SELECT full_hash FROM images WHERE path = ?", (str(source),)) == (
        full_hash_file(source)
    )

    moved = photos / "b" / "img_001_moved.jpg"
    shutil.move(photos / "a" / "deeper" / "img_001.jpg", moved)
    report = lib.index()
    assert (report.scan.moved, report.scan.new, report.scan.deleted, report.embedded) == (0, 1, 1, 1)
    assert is_indexed(lib, moved)
