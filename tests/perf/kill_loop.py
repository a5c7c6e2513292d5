"""kill -9 `irt-desktop index` at random moments, again and again, then check that nothing was harmed.

    .venv/bin/python tests/perf/kill_loop.py [--photos 150] [--kills 15] [--seed 0] [--dir /tmp/kill-loop]

Run by hand (not in CI). A library of generated photos is indexed by the real command line in a child
process (tiny random-init model, batches of 4), which is killed with SIGKILL (its whole process group)
at a random moment: half the kills at any time after the start (model loading, scanning included),
half once embedding has begun. Between runs the photos change as a user's would: new ones arrive,
some move to another folder, now and then one is overwritten. After the last kill a clean run must
finish, and then:

- every photo on disk is one live catalog row, indexed ('ok' with a vector); no duplicate paths;
- the FAISS index holds exactly the live rows' ids;
- nothing committed was embedded again: every vector seen after any kill keeps its `seq` (the write
  generation), except for files that were overwritten;
- no decode marker is left, and no file was failed by the poison-file rule (which an unlucky kill
  during a suspect's lone decode could cause: reported, not hidden).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for imagegen

SIZE = (640, 480)


def photo_file(path: Path, seed: int) -> Path:
    from imagegen import save_photo

    return save_photo(path, seed, SIZE, quality=90)


def vectors(db: Path) -> dict[int, int]:
    """image id -> seq of its vector, read-only (the child may be writing)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return dict(conn.execute("SELECT image_id, seq FROM vectors").fetchall())
        finally:
            conn.close()
    except sqlite3.Error:
        return {}


def markers(db: Path) -> set[int]:
    """Decode markers left: files whose decode the kill interrupted (suspects for the next run)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return {r[0] for r in conn.execute("SELECT image_id FROM decoding")}
    except sqlite3.Error:
        return set()
    finally:
        conn.close()


def row_id(db: Path, path: Path) -> int | None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute("SELECT id FROM images WHERE path = ?", (str(path),)).fetchone()
        return None if row is None else row[0]
    finally:
        conn.close()


BACKEND = "torch"


def start(libdir: Path, photos: Path, bundle: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "irt_desktop", "--library", str(libdir), "--backend", BACKEND]
    cmd += ["index", str(photos)]
    cmd += ["--model", str(bundle), "--device", "cpu", "--batch-size", "4"]
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    return subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True, env=env
    )


ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=150)
    ap.add_argument("--kills", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--new-per-run", type=int, default=40, help="photos added before each later run")
    ap.add_argument("--dir", default="/tmp/kill-loop")
    ap.add_argument("--backend", default="torch", help="inference backend of the index runs (torch)")
    args = ap.parse_args()
    global BACKEND
    BACKEND = args.backend
    rng = random.Random(args.seed)
    work = Path(args.dir)
    shutil.rmtree(work, ignore_errors=True)
    photos, libdir = work / "photos", work / "library"
    db = libdir / "catalog.sqlite"

    from imagegen import TINY_SPEC

    from irt_desktop.retrieval.weights import random_init_bundle

    bundle = random_init_bundle(TINY_SPEC, "tiny", work / "models", seed=0).path
    folders = [photos / "a", photos / "a" / "deeper", photos / "b", photos / "c"]
    next_seed = 0
    for _ in range(args.photos):
        photo_file(folders[next_seed % 4] / f"img_{next_seed:04d}.jpg", next_seed)
        next_seed += 1
    print(f"{args.photos} photos of {SIZE[0]}x{SIZE[1]} in {photos}; {args.kills} kills", flush=True)

    # An undisturbed run on a library of its own: how long the start takes (to the first commit) and
    # each photo after it, to draw kill moments that land in every phase.
    probe_lib = work / "probe-library"
    t = time.monotonic()
    probe = start(probe_lib, photos, bundle)
    startup = None
    while probe.poll() is None:
        if startup is None and vectors(probe_lib / "catalog.sqlite"):
            startup = time.monotonic() - t
        time.sleep(0.02)
    full = time.monotonic() - t
    startup = startup or full
    per_photo = max(full - startup, 0.01) / args.photos
    shutil.rmtree(probe_lib)
    print(f"an undisturbed run: {full:.1f} s, {startup:.1f} s of it before the first commit", flush=True)

    seen: dict[int, int] = {}  # image id -> seq of its vector, from every snapshot after a kill
    overwritten: set[int] = set()
    landed = finished = mid = 0
    suspects: set[int] = set()
    for k in range(args.kills):
        if k:  # the user's photos change between runs
            for _ in range(args.new_per_run):
                photo_file(rng.choice(folders) / f"img_{next_seed:04d}.jpg", next_seed)
                next_seed += 1
            for path in rng.sample(sorted(photos.rglob("*.jpg")), 3):
                target = rng.choice(folders) / path.name
                if target != path and not target.exists():
                    shutil.move(path, target)
            if k % 3 == 0:
                victim = rng.choice(sorted(photos.rglob("*.jpg")))
                if (vid := row_id(db, victim)) is not None:
                    overwritten.add(vid)
                photo_file(victim, 10_000 + next_seed)
                next_seed += 1
        before = len(vectors(db))
        pending = len(list(photos.rglob("*.jpg"))) - before
        proc = start(libdir, photos, bundle)
        t0 = time.monotonic()
        if k % 2:  # mid-embedding: after a random share of this run's work is committed
            goal = before + rng.randrange(max(1, pending))
            while proc.poll() is None and len(vectors(db)) < goal and time.monotonic() - t0 < 300:
                time.sleep(0.01)
            delay = rng.uniform(0, 4 * per_photo)
        else:  # any moment: starting, loading the model, scanning, embedding, saving
            delay = rng.uniform(0, startup + pending * per_photo)
        deadline = time.monotonic() + delay
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            landed += 1
            what = f"killed at {time.monotonic() - t0:.2f} s"
        else:
            finished += 1
            what = f"finished first (exit {proc.returncode})"
        proc.wait()
        snap = vectors(db)
        total = len(list(photos.rglob("*.jpg")))
        if proc.returncode == -signal.SIGKILL and before < len(snap) < total:
            mid += 1
            what += ", mid-embedding"
        if proc.returncode == -signal.SIGKILL and (left := markers(db)):
            suspects |= left
            what += f", {len(left)} decode markers left"
        for image_id, seq in snap.items():
            seen.setdefault(image_id, seq)
        print(f"  run {k + 1:2d}: {what}; vectors {before} -> {len(snap)} of {total} photos", flush=True)

    proc = start(libdir, photos, bundle)
    _, err = proc.communicate(timeout=600)
    print(f"kills mid-embedding (some but not all of the run's work committed): {mid}; files left with "
          f"a decode marker by a kill (decoded alone, last, by a later run): {len(suspects)}")
    return check(libdir, photos, proc.returncode, err, seen, overwritten, landed, finished)


def check(libdir, photos, code, err, seen, overwritten, landed, finished) -> int:
    from irt_desktop.library import Library
    from irt_desktop.library.decoding import UNFINISHED_REASON

    problems: list[str] = []
    if code != 0:
        problems.append(f"the clean run failed (exit {code}): {err.strip()[-500:]}")
    on_disk = {str(p) for p in photos.rglob("*.jpg")}
    lib = Library.open(libdir)
    try:
        conn = lib.catalog.conn  # the check reads the catalog directly, as a test would
        rows = conn.execute("SELECT id, path, status FROM images WHERE status != 'deleted'").fetchall()
        paths = [r[1] for r in rows]
        if len(paths) != len(set(paths)):
            problems.append("duplicate paths among live rows")
        if set(paths) != on_disk:
            problems.append(f"rows and files differ: {len(set(paths) ^ on_disk)} paths")
        not_ok = [(r[1], r[2]) for r in rows if r[2] != "ok"]
        now = dict(conn.execute("SELECT image_id, seq FROM vectors").fetchall())
        live = {r[0] for r in rows}
        unindexed = [i for i in live if i not in now]
        vi = lib.vector_cache.index_for(lib.model_id)
        faiss_ids = set(vi.ids().tolist())
        if faiss_ids != live:
            problems.append(f"FAISS ids differ from the live rows: {len(faiss_ids ^ live)}")
        again = [i for i, seq in seen.items() if i in now and now[i] != seq and i not in overwritten]
        markers = lib.catalog.unfinished_decodes()
        victims = [f for f in lib.failures() if f.reason == UNFINISHED_REASON]
        if not_ok or unindexed:
            problems.append(f"{len(not_ok)} rows not ok, {len(unindexed)} without a vector: {not_ok[:5]}")
        if again:
            problems.append(f"{len(again)} committed vectors embedded again: ids {again[:10]}")
        if markers:
            problems.append(f"{len(markers)} decode markers left")
        print(
            f"kills that landed: {landed} (runs that finished first: {finished}); photos on disk: "
            f"{len(on_disk)}; live rows: {len(rows)}; FAISS ids: {len(faiss_ids)}; committed vectors "
            f"checked for re-embedding: {len(seen)} (overwritten files left out: {len(overwritten)}); "
            f"failed as poison: {len(victims)}"
        )
    finally:
        lib.close()
    for p in problems:
        print(f"PROBLEM: {p}")
    print("consistent" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
