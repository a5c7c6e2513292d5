"""The duplicate thresholds calibrated on a briefly trained model (pretrained weights cannot be had here):
train the tests' tiny ViT for a few steps on generated albums (as the fine-tune tests do), index a
generated library with it, calibrate, and print the derived thresholds and the score distributions of
each kind of copy (re-encodes, resizes, crops, rotations, mirrors), of look-alike "second frames", and
of distinct photos against their nearest other photo.

    PYTHONPATH=. .venv/bin/python tests/perf/calibration_smoke.py --steps 20 --photos 60

Prints one line per distribution (min, 5th percentile, median, 95th, max) and whether the thresholds
separate them; --json writes the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent)]

from imagegen import ALBUM_SIZES, TINY_SPEC, photo, save_albums, save_photo  # noqa: E402
from PIL import Image  # noqa: E402


def trained_bundle(work: Path, steps: int):
    """The tiny random-init ViT, fine-tuned `steps` iterations on 6 generated albums of 8 photos."""
    from irt_desktop.retrieval.training.finetune import FinetuneSettings, plan_finetune, run_finetune
    from irt_desktop.retrieval.weights import random_init_bundle

    albums = work / "albums"
    save_albums(albums, 6, 500, [*ALBUM_SIZES, (96, 72), (60, 80)])
    base = random_init_bundle(TINY_SPEC, "tiny", work / "base", seed=0)
    settings = FinetuneSettings(iterations=steps, batch_size=16, num_workers=0, precision="fp32", holdout=0.3)
    plan = plan_finetune(
        [albums], settings, base=base, models_dir=work / "models", device="cpu", work_root=work / "training"
    )
    result = run_finetune(plan)
    return result.bundle, result


def _spread(scores) -> dict:
    s = np.asarray(scores, np.float64)
    if not len(s):
        return {}
    q = np.quantile(s, [0.0, 0.05, 0.5, 0.95, 1.0])
    return {"n": len(s), "min": q[0], "p5": q[1], "median": q[2], "p95": q[3], "max": q[4]}


def _line(name: str, d: dict) -> str:
    if not d:
        return f"  {name:<34} (none)"
    return (
        f"  {name:<34} n={d['n']:>4}  min {d['min']:.4f}  p5 {d['p5']:.4f}  median {d['median']:.4f}  "
        f"p95 {d['p95']:.4f}  max {d['max']:.4f}"
    )


def calibrate_library(bundle, work: Path, n_photos: int) -> dict:
    """Index a generated library with `bundle`, calibrate, and score each kind of copy directly."""
    from irt_desktop.library.calibration import COPY_TRANSFORMS, LOOKALIKE_TRANSFORMS
    from irt_desktop.library.library import Library
    from irt_desktop.retrieval.embedder import Embedder

    photos = work / "photos"
    for n in range(n_photos):
        save_photo(photos / f"p{n:03d}.jpg", 2000 + n, (160, 120), quality=92)
    embedder = Embedder.from_bundle(bundle, device="cpu", low_precision=False)
    with Library.open(work / "library", lambda: embedder) as lib:
        lib.add_root(photos)
        lib.index()
        t0 = time.perf_counter()
        report = lib.duplicates(rotations=False, recalibrate=True)
        seconds = time.perf_counter() - t0
        cal = report.calibration
        ids, vecs = lib.catalog.live_vectors(lib.model_id, lib.vector_cache.index_for(lib.model_id).info.dim)
        row_of = {lib.image(int(i)).path.name: n for n, i in enumerate(ids)}
    sample = [photo(2000 + n, (160, 120)) for n in range(min(n_photos, 32))]
    stored = vecs[[row_of[f"p{n:03d}.jpg"] for n in range(len(sample))]]
    kinds = {
        **COPY_TRANSFORMS,
        "rotated 90 degrees": lambda im: im.transpose(Image.Transpose.ROTATE_90),
        "mirrored": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    }
    per_kind = {}
    for name, fn in {**kinds, **{f"look-alike: {k}": v for k, v in LOOKALIKE_TRANSFORMS.items()}}.items():
        e = embedder.embed([fn(im) for im in sample])
        per_kind[name] = _spread(np.einsum("ij,ij->i", e, stored))
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -1)
    per_kind["distinct: nearest other photo"] = _spread(sims.max(axis=1))
    per_kind["distinct: every other pair"] = _spread(sims[np.triu_indices(len(vecs), 1)])
    return {
        "threshold": cal.threshold,
        "lookalike_threshold": cal.lookalike_threshold,
        "how": cal.how,
        "lookalike_how": cal.lookalike_how,
        "calibration_copy": _spread(cal.copy_scores),
        "calibration_lookalike": _spread(cal.lookalike_scores),
        "calibration_other": _spread(cal.other_scores),
        "per_kind": per_kind,
        "groups": {k: len(report.of_kind(k)) for k in ("exact", "near", "lookalike")},
        "duplicates_s": round(seconds, 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20, help="training iterations")
    ap.add_argument("--photos", type=int, default=60, help="distinct photos in the generated library")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="calib-smoke-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        bundle, result = trained_bundle(work, args.steps)
        print(
            f"trained the tiny ViT for {args.steps} steps in {time.perf_counter() - t0:.0f} s; "
            f"held-out R@1 {(result.before or {}).get('R@1')} -> {(result.after or {}).get('R@1')}"
        )
        out = calibrate_library(bundle, work, args.photos)
    print(f"near-copy threshold {out['threshold']:.4f}: {out['how']}")
    print(f"look-alike threshold {out['lookalike_threshold']:.4f}: {out['lookalike_how']}")
    print("calibration's own samples:")
    for key in ("calibration_copy", "calibration_lookalike", "calibration_other"):
        print(_line(key.replace("calibration_", ""), out[key]))
    print("scores against the stored descriptor, per kind:")
    for name, d in out["per_kind"].items():
        print(_line(name, d))
    distinct = out["per_kind"]["distinct: nearest other photo"]
    copies = [d for k, d in out["per_kind"].items() if not k.startswith(("look", "distinct"))]
    print(f"groups found on the generated library (no planted copies): {out['groups']}")
    print(
        f"separation: lowest copy p5 {min(d['p5'] for d in copies):.4f} vs distinct nearest-other max "
        f"{distinct['max']:.4f}; threshold {out['threshold']:.4f}"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
