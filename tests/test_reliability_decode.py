"""Failures with a kind: transient ones retried with backoff, permanent ones kept until the file changes;
caps checked before decoding; a JPEG missing its end indexed as viewers show it."""

from __future__ import annotations

import ast
import io
import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
from imagegen import photo, save_photo
from PIL import ImageFile
from test_library_support import SIZE, is_indexed

import irt_desktop
from irt_desktop.cli import main
from irt_desktop.images import TruncatedImage, open_image
from irt_desktop.library import PipelineConfig, decode, decoding
from irt_desktop.library.records import FailureKind
from irt_desktop.library.schema import migrate


def _cut_jpeg(path: Path, keep: float, seed: int = 7) -> Path:
    buf = io.BytesIO()
    photo(seed, (640, 480)).save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def test_truncated_jpeg_missing_its_last_tenth_is_read(tmp_path, open_library):
    ninety = _cut_jpeg(tmp_path / "photos" / "ninety.jpg", 0.9)
    thirty = _cut_jpeg(tmp_path / "photos" / "thirty.jpg", 0.3)
    assert open_image(ninety).size == (640, 480)
    with pytest.raises(TruncatedImage, match="truncated"):
        open_image(thirty)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False

    lib = open_library()
    lib.add_root(tmp_path / "photos")
    report = lib.index()
    assert (report.embedded, report.failed) == (1, 1) and is_indexed(lib, ninety)
    (failure,) = lib.failures()
    assert failure.path == thirty and "truncated" in failure.reason and failure.kind == FailureKind.PERMANENT
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_nothing_sets_pillows_global_truncation_switch():
    package = Path(irt_desktop.__file__).parent
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            for t in targets:
                name = t.attr if isinstance(t, ast.Attribute) else getattr(t, "id", "")
                assert name != "LOAD_TRUNCATED_IMAGES", f"{source} sets LOAD_TRUNCATED_IMAGES"
        assert "setattr(ImageFile" not in source.read_text(encoding="utf-8")


def test_permission_denied_is_retried_after_the_fix(tmp_path, open_library, monkeypatch, capsys):
    photos = tmp_path / "photos"
    locked = save_photo(photos / "locked.jpg", 1, SIZE, quality=90)
    save_photo(photos / "fine.jpg", 2, SIZE, quality=90)
    stamp = os.stat(locked).st_mtime_ns
    real_open = decode.open_for_decode

    def denied(path: str):
        if path == str(locked):  # the tests run as root, where chmod 000 would not stop a read
            raise PermissionError(13, "Permission denied", path)
        return real_open(path)

    monkeypatch.setattr(decode, "open_for_decode", denied)
    lib = open_library()
    lib.add_root(photos)
    started = time.time()
    report = lib.index()
    assert (report.embedded, report.failed) == (1, 1)
    (failure,) = lib.failures()
    assert (failure.kind, failure.attempts, failure.reason) == (FailureKind.TRANSIENT, 1, "permission denied")
    first_wait = failure.retry_at.timestamp() - started
    assert decoding.RETRY_BACKOFF_S[0] - 1 <= first_wait <= decoding.RETRY_BACKOFF_S[0] + 30

    # Not due yet: the next scan leaves it alone.
    report = lib.index()
    assert (report.scan.retried, report.embedded, report.failed) == (0, 0, 0)
    # Due, still denied: tried again, and the next wait is longer.
    with lib.catalog.transaction() as tx:
        tx.execute("UPDATE images SET retry_at = 0 WHERE path = ?", (str(locked),))
    report = lib.index()
    assert (report.scan.retried, report.failed) == (1, 1)
    (failure,) = lib.failures()
    assert failure.attempts == 2 and failure.retry_at.timestamp() - time.time() > decoding.RETRY_BACKOFF_S[0]

    lib.close()
    code = main(["--library", str(lib.path), "status", "--failures"])
    out = capsys.readouterr().out
    assert code == 0 and "failed (transient, 2 failed attempts, tried again by a scan after" in out
    main(["--library", str(lib.path), "status", "--failures", "--json"])
    (shown,) = json.loads(capsys.readouterr().out)["failures"]
    assert (shown["kind"], shown["attempts"], shown["reason"]) == ("transient", 2, "permission denied")

    # Fixed (the permission, not the file): indexed by the next scan once due, mtime untouched.
    monkeypatch.setattr(decode, "open_for_decode", real_open)
    lib = open_library(lib.path)
    with lib.catalog.transaction() as tx:
        tx.execute("UPDATE images SET retry_at = 0 WHERE path = ?", (str(locked),))
    report = lib.index()
    assert (report.scan.retried, report.embedded, report.failed) == (1, 1, 0)
    assert is_indexed(lib, locked) and lib.failures() == [] and os.stat(locked).st_mtime_ns == stamp


def test_permanent_failures_wait_for_the_file_to_change(tmp_path, open_library, capsys):
    photos = tmp_path / "photos"
    save_photo(photos / "big.jpg", 1, (400, 300), quality=90)
    save_photo(photos / "wide.png", 2, (200, 150))
    save_photo(photos / "ok.jpg", 3, SIZE, quality=90)
    (photos / "empty.jpg").write_bytes(b"")
    config = PipelineConfig(batch_size=4, decode_workers=2, max_file_bytes=20_000, max_pixels=25_000)
    lib = open_library(pipeline=config)
    lib.add_root(photos)
    report = lib.index()
    assert (report.embedded, report.failed) == (1, 3)
    reasons = {f.path.name: (f.kind, f.reason) for f in lib.failures()}
    assert reasons["big.jpg"][0] == FailureKind.PERMANENT and "over the limit of" in reasons["big.jpg"][1]
    assert "30000 pixels), over the limit of 25000 pixels" in reasons["wide.png"][1]
    assert reasons["empty.jpg"] == (FailureKind.PERMANENT, "file is empty")
    with lib.catalog.transaction() as tx:  # a permanent failure has no retry time to wait for
        tx.execute("UPDATE images SET retry_at = 0")
    assert lib.index().scan.retried == 0
    save_photo(photos / "empty.jpg", 4, SIZE, quality=90)  # the file changed: tried again
    report = lib.index()
    assert (report.scan.changed, report.embedded) == (1, 1)
    lib.close()
    main(["--library", str(lib.path), "status", "--failures"])
    out = capsys.readouterr().out
    assert "failed (permanent, tried again when the file changes):" in out and "wide.png" in out


def test_read_failures_from_before_kinds_are_retried(tmp_path, open_library):
    photos = tmp_path / "photos"
    first = save_photo(photos / "a.jpg", 1, SIZE, quality=90)
    second = save_photo(photos / "b.jpg", 2, SIZE, quality=90)
    libdir = tmp_path / "library"
    libdir.mkdir()
    conn = sqlite3.connect(libdir / "catalog.sqlite", isolation_level=None)
    migrate(conn, target=2)
    conn.execute("INSERT INTO roots(path, added_at) VALUES (?, 0)", (str(photos),))
    for path, reason in ((first, "cannot read file (Permission denied)"), (second, "not a recognised image")):
        st = os.stat(path)
        conn.execute(
            "INSERT INTO images(root_id, path, size, mtime_ns, status, reason, added_at, updated_at) "
            "VALUES (1, ?, ?, ?, 'failed', ?, 0, 0)",
            (str(path), st.st_size, st.st_mtime_ns, reason),
        )
    conn.close()
    lib = open_library(libdir)
    kinds = {f.path.name: f.kind for f in lib.failures()}
    assert kinds == {"a.jpg": FailureKind.TRANSIENT, "b.jpg": FailureKind.PERMANENT}
    report = lib.index()
    assert (report.scan.retried, report.embedded) == (1, 1) and is_indexed(lib, first)
    assert [f.path.name for f in lib.failures()] == ["b.jpg"]


def test_decoding_streams_from_the_file(tmp_path, monkeypatch):
    """No read asks for the whole file: it is hashed in chunks and decoded from the open file."""
    from imagegen import TINY_SPEC

    path = tmp_path / "scan.png"
    photo(3, (1500, 1000)).save(path, compress_level=0)  # ~4.5 MB: large enough to be read in parts
    reads: list[int] = []

    class Spy(io.FileIO):
        def read(self, n=-1):
            reads.append(n)
            return super().read(n)

        def readinto(self, b):
            reads.append(len(b))
            return super().readinto(b)

    monkeypatch.setattr(decode, "open_for_decode", lambda p: io.BufferedReader(Spy(p), 64 * 1024))
    out = decode.decode_file(1, str(path), decode.Tensorizer(TINY_SPEC))
    size = path.stat().st_size
    assert out.error is None and out.full_hash is not None and reads
    assert -1 not in reads and max(reads) <= size // 4, (size, max(reads))
