"""`irt-desktop index | search | status | duplicates` end to end, JSON output parsed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from test_library_support import add_bad_files, copy_query, make_tree

from irt_desktop.cli import main


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_end_to_end(tmp_path, tiny_bundle, capsys):
    photos = tmp_path / "photos"
    make_tree(photos, n=9)
    add_bad_files(photos, photos / "a" / "img_000.jpg")
    shutil.copy2(photos / "a" / "img_000.jpg", photos / "b" / "copy.jpg")
    lib = str(tmp_path / "lib")

    # A reading command never creates a library (a mistyped --library must not look like an empty one).
    code, out, err = _run(capsys, "--library", lib, "status")
    assert code == 2 and "no library at" in err and not (tmp_path / "lib").exists()

    code, out, err = _run(capsys, "--library", lib, "index", str(photos))
    assert code == 2 and "models install deit-s" in err and "models import" in err

    code, out, err = _run(
        capsys, "--library", lib, "index", str(photos), "--model", str(tiny_bundle.path), "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    # The refused run above already scanned (the scan needs no model).
    assert (report["seen"], report["embedded"], report["failed"], report["pending"]) == (12, 10, 2, 0)
    assert report["model_id"] == tiny_bundle.id

    query = copy_query(photos / "b" / "img_005.jpg", tmp_path / "query.jpg")
    code, out, err = _run(capsys, "--library", lib, "search", str(query), "-k", "3", "--json")
    assert code == 0, err
    hits = json.loads(out)
    assert len(hits) == 3 and hits[0]["path"] == str(photos / "b" / "img_005.jpg")
    assert hits[0]["score"] >= hits[1]["score"] and {"size", "width", "height", "taken"} <= set(hits[0])

    code, out, err = _run(capsys, "--library", lib, "search", str(query), "-k", "2")
    assert code == 0 and out.splitlines()[0].endswith("img_005.jpg")

    code, out, err = _run(capsys, "--library", lib, "status", "--json", "--failures")
    status = json.loads(out)
    assert (status["n_images"], status["n_indexed"], status["n_failed"], status["n_pending"]) == (
        12,
        10,
        2,
        0,
    )
    assert status["roots"][0]["status"] == "errors" and len(status["failures"]) == 2

    code, out, err = _run(capsys, "--library", lib, "duplicates", "--json")
    dups = json.loads(out)
    assert [sorted(p["path"].rsplit("/", 1)[1] for p in g) for g in dups["exact"]] == [
        ["copy.jpg", "img_000.jpg"]
    ]
    code, out, err = _run(capsys, "--library", lib, "duplicates", "--threshold", "0.5")
    assert code == 0 and "near duplicates (score >= 0.5)" in out

    # Re-running with no paths re-scans the known folders.
    (photos / "a" / "img_003.jpg").unlink()
    code, out, err = _run(capsys, "--library", lib, "index", "--json")
    assert json.loads(out)["deleted"] == 1

    code, out, err = _run(capsys, "--library", lib, "search", str(tmp_path / "missing.jpg"))
    assert code == 2 and "file not found" in err
    code, out, err = _run(capsys, "--library", lib, "index", str(tmp_path / "nope"))
    assert code == 2 and "not a folder" in err


def test_cli_index_watch_runs_until_interrupted(tmp_path, tiny_bundle):
    """The real entry point in a subprocess: --watch keeps running and picks up a new photo."""
    import os
    import signal
    import threading

    from imagegen import save_photo
    from test_library_support import wait_for

    photos = tmp_path / "photos"
    make_tree(photos, n=2)
    lib = tmp_path / "lib"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "irt_desktop",
            "--library",
            str(lib),
            "index",
            str(photos),
            "--watch",
            "--model",
            str(tiny_bundle.path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=lambda: out.extend(iter(proc.stdout.readline, "")), daemon=True),
        threading.Thread(target=lambda: err.extend(iter(proc.stderr.readline, "")), daemon=True),
    ]
    for r in readers:
        r.start()
    try:
        wait_for(lambda: any("watching" in line for line in err) or proc.poll() is not None, 120, "watching")
        assert proc.poll() is None, "".join(err)
        save_photo(photos / "new.jpg", 33, (160, 120))
        wait_for(lambda: any("embedded 1" in line for line in out[1:]), 60, "the new photo indexed")
    finally:
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(30)
