"""Bounded memory and poison files: the decode budget holds, and a file that kills the process costs one
run (two for a small one decoded beside others), never every run after it."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from imagegen import photo, save_photo
from test_library_support import make_tree

from irt_desktop.library import Library
from irt_desktop.library.budget import MemoryBudget
from irt_desktop.library.decoding import UNFINISHED_REASON

MB = 1_000_000
BUDGET = 64 * MB


# -- the budget itself -------------------------------------------------------------------------------


def test_budget_never_overbooks_and_exclusive_tickets_run_alone():
    budget = MemoryBudget(100)
    lock = threading.Lock()
    running: list[tuple[int, bool]] = []
    seen_alone_with_others = []
    rng = random.Random(0)
    sizes = [rng.choice([5, 20, 30, 60, 100]) for _ in range(200)]

    def decode(n: int) -> None:
        with budget.ticket(exclusive=n == 100) as ticket:
            if n > 25:
                ticket.go_exclusive()
            ticket.grow(n)
            with lock:
                running.append((n, ticket.exclusive))
                if any(ex for _, ex in running) and len(running) > 1:
                    seen_alone_with_others.append(list(running))
            time.sleep(0.0005)
            with lock:
                running.remove((n, ticket.exclusive))

    shares = [sizes[i::8] for i in range(8)]
    threads = [threading.Thread(target=lambda s=s: [decode(n) for n in s]) for s in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert budget.peak <= 100 and budget.used == 0 and seen_alone_with_others == []


# -- peak memory, measured in a process of its own ---------------------------------------------------

PEAK_SCRIPT = textwrap.dedent(
    r"""
    import json, re, sys
    from pathlib import Path
    from irt_desktop.library import Library, PipelineConfig, pipeline
    from irt_desktop.retrieval.bundle import load_bundle
    from irt_desktop.retrieval.embedder import Embedder

    budgets = []

    class Recorded(pipeline.MemoryBudget):  # to read the run's own accounting afterwards
        def __init__(self, limit):
            super().__init__(limit)
            budgets.append(self)

    pipeline.MemoryBudget = Recorded
    library, bundle, warm, photos, budget = sys.argv[1:6]
    embedder = Embedder.from_bundle(load_bundle(Path(bundle)), device="cpu", low_precision=False)
    config = PipelineConfig(batch_size=4, decode_workers=8, memory_budget=int(budget))
    lib = Library.open(Path(library), lambda: embedder, pipeline=config)
    lib.add_root(Path(warm))

    def status(key):
        return int(re.search(key + r":\s+(\d+) kB", open("/proc/self/status").read()).group(1)) * 1024

    lib.index()  # codecs, the model and the catalog warmed up: what remains is the decoding
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak RSS starts again from the current RSS (Linux 4.0+)
    base = status("VmRSS")
    lib.add_root(Path(photos))
    report = lib.index()
    peak = status("VmHWM") - base
    failed = [(f.path.name, f.reason) for f in lib.failures()]
    print(json.dumps({
        "peak": peak, "embedded": report.embedded, "failed": failed,
        "reserved_peak": budgets[-1].peak, "limit": budgets[-1].limit,
    }))
    lib.close()
    """
)


@pytest.fixture(scope="module")
def big_photos(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("big")
    warm = root / "warm"
    save_photo(warm / "w.png", 1, (1700, 1700), compress_level=1)
    save_photo(warm / "w.jpg", 2, (5472, 3648), quality=85)
    photos = root / "photos"
    for i in range(8):  # 2.9 MP scans: 11.6 MB decoded each, 8 decode threads would hold 92 MB
        save_photo(photos / f"scan_{i}.png", 10 + i, (1700, 1700), compress_level=1)
    # 20 MP camera JPEGs: decoded at 1/8 scale in draft mode, 1.25 MB each. Two, so that what may be
    # reserved at once (5 scans and both) stays a few MB under the budget, and RSS with it.
    for i in range(2):
        save_photo(photos / f"cam_{i}.jpg", 30 + i, (5472, 3648), quality=85)
    save_photo(photos / "huge.png", 40, (5472, 3648), compress_level=1)  # 20 MP: 80 MB decoded
    return warm, photos


def _peak(tmp_path: Path, bundle: Path, warm: Path, photos: Path, budget: int) -> dict:
    # One malloc arena: glibc would otherwise keep, per decode thread, freed pixels for that thread to
    # reuse, and RSS would measure the allocator's caches rather than the decoded images alive at once.
    env = dict(os.environ, MALLOC_ARENA_MAX="1")
    args = [sys.executable, "-c", PEAK_SCRIPT, str(tmp_path / f"lib{budget}"), str(bundle), str(warm)]
    out = subprocess.run(
        [*args, str(photos), str(budget)], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS as Linux reports it")
def test_budget_holds_peak_decoded_memory(tmp_path, tiny_bundle, big_photos):
    warm, photos = big_photos
    bounded = _peak(tmp_path, tiny_bundle.path, warm, photos, BUDGET)
    assert bounded["embedded"] == 10 and bounded["reserved_peak"] <= bounded["limit"] <= BUDGET
    ((name, reason),) = bounded["failed"]
    assert name == "huge.png" and "more than the memory budget" in reason
    assert bounded["peak"] < BUDGET, bounded
    # The same run without a budget to speak of goes well past it: the measurement sees decodes.
    unbounded = _peak(tmp_path, tiny_bundle.path, warm, photos, 100_000 * MB)
    assert unbounded["embedded"] == 11 and unbounded["peak"] > BUDGET, unbounded
    print(f"peak decoded memory: {bounded['peak'] / MB:.0f} MB with a {BUDGET / MB:.0f} MB budget, "
          f"{unbounded['peak'] / MB:.0f} MB without")


# -- poison files ------------------------------------------------------------------------------------

POISON_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from irt_desktop.library import Library, PipelineConfig, decode
    from irt_desktop.retrieval.bundle import load_bundle
    from irt_desktop.retrieval.embedder import Embedder

    library, bundle, photos, poison = sys.argv[1:5]
    real = decode.open_image

    def poisoned(source, **kwargs):
        if getattr(source, "name", None) == poison:
            reserve = kwargs["reserve"]

            def crash(nbytes):  # the decode starts and takes the process down, as an OOM kill would
                reserve(nbytes)
                os._exit(3)

            kwargs["reserve"] = crash
        return real(source, **kwargs)

    decode.open_image = poisoned
    embedder = Embedder.from_bundle(load_bundle(Path(bundle)), device="cpu", low_precision=False)
    config = PipelineConfig(batch_size=4, decode_workers=2, memory_budget=64_000_000)
    lib = Library.open(Path(library), lambda: embedder, pipeline=config)
    lib.add_root(Path(photos))
    report = lib.index()
    print("finished", report.embedded, report.failed, flush=True)
    """
)


def _run(libdir: Path, bundle: Path, photos: Path, poison: Path) -> subprocess.CompletedProcess:
    args = [sys.executable, "-c", POISON_SCRIPT, str(libdir), str(bundle), str(photos), str(poison)]
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


def _state(libdir: Path, tiny_embedder, photos: Path, poison: Path) -> tuple[int, str | None]:
    """(photos other than the poison that are indexed, the poison's failure reason or None)."""
    lib = Library.open(libdir, lambda: tiny_embedder)
    try:
        conn = lib.catalog.conn
        indexed = conn.execute(
            "SELECT count(*) FROM images i JOIN vectors v ON v.image_id = i.id WHERE i.path != ?",
            (str(poison),),
        ).fetchone()[0]
        reason = conn.execute(
            "SELECT reason FROM images WHERE path = ? AND status = 'failed'", (str(poison),)
        ).fetchone()
        return indexed, None if reason is None else reason[0]
    finally:
        lib.close()


def test_a_big_poison_file_costs_one_run(tmp_path, tiny_bundle, tiny_embedder):
    photos = tmp_path / "photos"
    make_tree(photos, n=12)
    # At the root, so the scan lists it first and it is decoded before the other photos; 20 MB decoded,
    # over a quarter of the budget, so it is decoded alone.
    poison = save_photo(photos / "poison.png", 99, (2500, 2000), compress_level=1)
    libdir = tmp_path / "library"

    first = _run(libdir, tiny_bundle.path, photos, poison)
    assert first.returncode == 3, first.stderr
    assert _state(libdir, tiny_embedder, photos, poison) == (0, None)  # killed before the first commit

    second = _run(libdir, tiny_bundle.path, photos, poison)  # the same hook: decoding it would kill again
    assert second.returncode == 0 and "finished 12 1" in second.stdout, second.stderr
    assert _state(libdir, tiny_embedder, photos, poison) == (12, UNFINISHED_REASON)

    third = _run(libdir, tiny_bundle.path, photos, poison)
    assert third.returncode == 0 and "finished 0 0" in third.stdout, third.stderr


def test_a_small_poison_file_beside_others_costs_two_runs_and_the_second_loses_nothing(
    tmp_path, tiny_bundle, tiny_embedder
):
    photos = tmp_path / "photos"
    make_tree(photos, n=12)
    poison = save_photo(photos / "poison.jpg", 99, (160, 120), quality=90)
    libdir = tmp_path / "library"

    first = _run(libdir, tiny_bundle.path, photos, poison)
    assert first.returncode == 3, first.stderr
    # A kill with several decodes under way could have been anyone's: the poison is only a suspect.
    assert _state(libdir, tiny_embedder, photos, poison)[1] is None

    # Suspects go last, alone, after everything else is committed: the poison kills the run, but only
    # once every other photo is safe (an innocent suspect or two may still be waiting).
    second = _run(libdir, tiny_bundle.path, photos, poison)
    assert second.returncode == 3, second.stderr
    indexed, reason = _state(libdir, tiny_embedder, photos, poison)
    assert indexed >= 12 - 2 and reason is None

    third = _run(libdir, tiny_bundle.path, photos, poison)
    assert third.returncode == 0, third.stderr
    assert _state(libdir, tiny_embedder, photos, poison) == (12, UNFINISHED_REASON)


def test_markers_of_a_live_process_are_left_alone(tmp_path, open_library):
    photos = tmp_path / "photos"
    make_tree(photos, n=3)
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    ids = [r[0] for r in lib.catalog.conn.execute("SELECT id FROM images ORDER BY id")]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with lib.catalog.transaction() as tx:
            tx.execute("UPDATE images SET status = 'pending'")
            tx.execute("DELETE FROM vectors")
            tx.executemany(
                "INSERT INTO decoding(image_id, pid, alone, started_at) VALUES (?, ?, 1, 0)",
                [(ids[0], other.pid), (ids[1], 2**22 + 12345)],  # alive; surely dead
            )
        report = lib.index()
        assert (report.embedded, report.failed) == (2, 1)
        assert [f.image_id for f in lib.failures()] == [ids[1]]
        assert lib.catalog.unfinished_decodes() == []  # and the one of the live process was embedded
    finally:
        other.kill()
        other.wait()


def test_photo_helper_sizes():
    # The sizes above lean on Pillow's 4 bytes per RGB pixel (the decode cost estimate's assumption).
    from irt_desktop.image_limits import decode_cost

    im = photo(0, (100, 50))
    assert decode_cost(im, oriented=False, detach=False) == 100 * 50 * 4
    assert decode_cost(im.convert("L"), oriented=True, detach=False) == 100 * 50 * (1 + 1 + 4)
