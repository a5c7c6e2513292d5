"""Query latency while a fine-tune trains, with OpenVINO serving: the wizard's arrangement.

    python tests/perf/query_during_finetune.py [--queries 30] [--classes 8] [--per-class 8]

The parent opens a library the way the GUI does (IRT_BACKEND=openvino: compiled DeiT-S, random init,
224 px, no torch in this process) and times `Library.search` on a photo of the library: --queries
searches before training (baseline), then again while `run_finetune_in_child` trains the same bundle
on class folders in a spawned child (the wizard's path when OpenVINO serves: torch only in the child),
starting once the child reports its first training step and going on for --seconds (0.2 s between
queries). Printed: p50 / p95 / max per phase, and
whether torch stayed out of the parent. Issue 12 asks that a query during a fine-tune still answers
in well under a second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1]), str(HERE.parents[2])]


def prepare(work: Path, classes: int, per_class: int) -> tuple[Path, Path, Path]:
    """Class folders of generated photos, a library holding them (indexed), the base bundle's folder."""
    from imagegen import save_photo

    from irt_desktop.library import Library
    from irt_desktop.retrieval.spec import ModelSpec
    from irt_desktop.retrieval.weights import random_init_bundle

    photos, library = work / "photos", work / "library"
    marker = work / "prepared"
    if marker.exists():
        return photos, library, Path(marker.read_text())
    for c in range(classes):
        for i in range(per_class):
            # Same seed base per class: photos of one class share their colour field.
            save_photo(photos / f"class_{c:02d}" / f"IMG_{i:03d}.jpg", 1000 * c + i, (640, 480), quality=90)
    bundle = random_init_bundle(ModelSpec(), "deit-s-224", work / "bundles")
    with Library.open(library) as lib:
        lib.activate_model(bundle)
        lib.add_root(photos)
        lib.index()
    marker.write_text(str(bundle.path))
    return photos, library, bundle.path


def timed_queries(lib, queries: list[Path], seconds: float = 0.0, pause: float = 0.0) -> list[float]:
    """Each query once, then round again until `seconds` have passed, `pause` between queries (a
    person typing, not a load generator)."""
    out: list[float] = []
    start = time.perf_counter()
    while True:
        for q in queries:
            t0 = time.perf_counter()
            hits = lib.search(q, k=20)
            out.append(time.perf_counter() - t0)
            assert hits, "a search returned nothing"
            time.sleep(pause)
        if time.perf_counter() - start >= seconds:
            return out


def summary(name: str, ts: list[float]) -> str:
    ts = sorted(ts)
    p95 = ts[min(len(ts) - 1, round(0.95 * (len(ts) - 1)))]
    return (
        f"{name:16s} n={len(ts):3d}  p50 {statistics.median(ts) * 1000:7.1f} ms  "
        f"p95 {p95 * 1000:7.1f} ms  max {ts[-1] * 1000:7.1f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=30.0, help="query this long while training")
    ap.add_argument("--classes", type=int, default=8)
    ap.add_argument("--per-class", type=int, default=8)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "irt-query-during-finetune")
    args = ap.parse_args()
    os.environ.setdefault("IRT_BACKEND", "openvino")
    os.environ.setdefault("IRT_CACHE_DIR", str(args.work / "cache"))

    from irt_desktop.library import Library
    from irt_desktop.retrieval.bundle import load_bundle
    from irt_desktop.retrieval.training.finetune.child import run_finetune_in_child
    from irt_desktop.retrieval.training.finetune.events import Step
    from irt_desktop.retrieval.training.finetune.plan import FinetuneSettings, plan_finetune

    photos, library, bundle_dir = prepare(args.work, args.classes, args.per_class)
    queries = sorted(photos.rglob("*.jpg"))[: args.queries]
    with Library.open(library) as lib:
        lib.search(queries[0], k=20)  # warm: compile/load outside the timing
        served = lib.models.served(lib.model_id)
        print(f"serving: {served.backend if served else None}", flush=True)
        baseline = timed_queries(lib, queries)

        base = load_bundle(bundle_dir)
        settings = FinetuneSettings(
            iterations=10_000, batch_size=16, holdout=0.0, name="bench-ft", resume=False
        )
        plan = plan_finetune(
            [photos],
            settings,
            base=base,
            models_dir=args.work / "ft-models",
            device="cpu",
            work_root=args.work / "ft-work",
        )
        training = threading.Event()
        steps: list[int] = []
        cancel = threading.Event()

        def on_event(event) -> None:
            if isinstance(event, Step):
                steps.append(1)
                training.set()

        failure: list[BaseException] = []

        def train() -> None:
            try:
                run_finetune_in_child(plan, on_event, cancel)
            except BaseException as exc:
                failure.append(exc)
                training.set()

        thread = threading.Thread(target=train, name="finetune")
        thread.start()
        if not training.wait(600):
            sys.exit("the fine-tune child reported no step within 10 min")
        if failure:
            sys.exit(f"the fine-tune child failed: {failure[0]}")
        before = len(steps)
        during = timed_queries(lib, queries, seconds=args.seconds, pause=0.2)
        trained = len(steps) - before
        cancel.set()
        thread.join(300)
    print(summary("no training", baseline))
    print(summary("during training", during))
    print(f"training steps reported while the queries ran: {trained}")
    # Planning imports torch (retrieval.training's package), but nothing in this process computes with it.
    print(f"torch imported in the serving process: {'yes' if 'torch' in sys.modules else 'no'}")


if __name__ == "__main__":
    main()
