"""kill -9 in the middle of indexing: the next run finds a consistent catalog and finishes the job."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

from test_library_support import make_tree, wait_for

from irt_desktop.library import Library

# Slows each model batch down so the kill lands mid-run however fast the machine is.
SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from irt_desktop.library import Library, PipelineConfig
    from irt_desktop.retrieval.bundle import load_bundle
    from irt_desktop.retrieval.embedder import Embedder

    library, bundle, photos = sys.argv[1:4]
    embedder = Embedder.from_bundle(load_bundle(Path(bundle)), device="cpu", low_precision=False)
    embed = embedder.embed_tensor
    def slow(x, *args, **kwargs):
        time.sleep(0.15)
        return embed(x, *args, **kwargs)
    embedder.embed_tensor = slow
    lib = Library.open(Path(library), lambda: embedder, pipeline=PipelineConfig(batch_size=3))
    lib.add_root(Path(photos))
    print("indexing", flush=True)
    lib.index()
    print("finished", flush=True)
    """
)


def _vectors(db) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_sigkill_mid_run_resumes_consistent(tmp_path, tiny_bundle, tiny_embedder):
    photos = tmp_path / "photos"
    make_tree(photos, n=30)
    libdir = tmp_path / "library"
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(libdir), str(tiny_bundle.path), str(photos)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: _vectors(libdir / "catalog.sqlite") >= 6 or proc.poll() is not None, 120, "2 batches"
        )
        assert proc.poll() is None, proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL

    done_before = _vectors(libdir / "catalog.sqlite")
    assert 6 <= done_before < 30
    lib = Library.open(libdir, lambda: tiny_embedder)
    try:
        conn = lib.catalog.conn
        assert conn.execute("SELECT count(*) FROM images").fetchone()[0] == 30
        assert conn.execute("SELECT count(DISTINCT path) FROM images").fetchone()[0] == 30
        # Whole batches only: every 'ok' row has its vector and every vector its 'ok' row.
        ok = conn.execute("SELECT count(*) FROM images WHERE status = 'ok'").fetchone()[0]
        assert ok == done_before and done_before % 3 == 0
        report = lib.index()
        assert report.embedded == 30 - done_before and report.scan.new == 0 and report.pending == 0
        assert "stale" in (lib.vector_cache.last_rebuild_reason or "") or "missing" in (
            lib.vector_cache.last_rebuild_reason or ""
        )
        vi = lib.vector_cache.index_for(lib.model_id)
        ids = sorted(vi.ids().tolist())
        assert ids == sorted(r[0] for r in conn.execute("SELECT image_id FROM vectors")) and len(ids) == 30
        assert len(set(ids)) == 30
        assert lib.search(photos / "b" / "img_029.jpg", k=1)[0].path == photos / "b" / "img_029.jpg"
    finally:
        lib.close()
