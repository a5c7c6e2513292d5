"""Checks the fine-tune wizard's time estimate against a measured run: the cost probe (finetune.measure_cost)
on DeiT-S, the run size_run suggests for ~100 photos, and then a real run of a few of those iterations
whose wall time is compared with what the same cost model predicts for it.

    .venv/bin/python tests/perf/bench_finetune_estimate.py                    # probe + 6 iterations
    .venv/bin/python tests/perf/bench_finetune_estimate.py --iterations 0     # the full suggested run

Random-init DeiT-S weights (the speed does not depend on them; nothing is downloaded), photos generated at
--photo-size in --classes albums; 30 % of the albums held out, as the wizard does by default.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent.parent)]
os.environ.setdefault("IRT_BACKEND", "torch")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=112)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--photo-size", default="1024x768", help="WxH of the generated JPEGs")
    ap.add_argument(
        "--iterations", type=int, default=6, help="iterations actually run (0: the suggested run)"
    )
    ap.add_argument("--card", default="deit-s")
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32"))
    args = ap.parse_args()

    import torch
    from imagegen import save_photo

    from irt_desktop.retrieval.card import shipped_cards
    from irt_desktop.retrieval.datasets import scan_class_folders
    from irt_desktop.retrieval.training.finetune import (
        FinetuneSettings,
        measure_cost,
        plan_finetune,
        run_finetune,
        size_run,
        split_counts,
    )
    from irt_desktop.retrieval.weights import random_init_bundle

    tmp = Path(tempfile.mkdtemp(prefix="irt-estimate-"))
    w, h = (int(x) for x in args.photo_size.split("x"))
    for i in range(args.photos):
        save_photo(tmp / "Albums" / f"album_{i % args.classes:02d}" / f"{i}.jpg", i, (w, h), quality=90)
    card = shipped_cards()[args.card]
    base = random_init_bundle(card.spec, f"{args.card}-random", tmp / "models", seed=0)
    dataset = scan_class_folders([tmp / "Albums"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")

    t0 = time.perf_counter()
    sample = [str(r.path) for r in dataset.records[:: max(1, len(dataset.records) // 8)][:8]]
    cost = measure_cost(base, card.spec.input_size, "cpu", precision=args.precision, sample=sample)
    probe_s = time.perf_counter() - t0
    print(
        f"probe {probe_s:.1f} s: train {cost.train_s:.3f} s/img, eval {cost.eval_s:.3f} s/img, "
        f"decode {cost.decode_s:.3f} s/img, setup {cost.setup_s:.1f} s"
    )
    train, classes, held = split_counts(dataset, 0.3, "class")
    size = size_run(train, classes, held, cost)
    print(
        f"{len(dataset.records)} photos: {train} train in {classes} classes, {held} held out -> suggested "
        f"{size.iterations} iterations x {size.batch_size}, {size.evaluations} measurements during, "
        f"estimate {size.seconds / 60:.1f} min ({size.passes:.0f} passes)"
        + (" [cut by the budget]" if size.limited else "")
    )

    iterations = args.iterations or size.iterations
    evaluations = size.evaluations if not args.iterations else 1
    plan = plan_finetune(
        dataset,
        FinetuneSettings(
            iterations=iterations,
            batch_size=size.batch_size,
            evaluations=evaluations,
            precision=args.precision,
            name="estimate-check",
        ),
        base=base,
        models_dir=tmp / "models",
        device="cpu",
        work_root=tmp / "training",
    )
    predicted = plan.estimate(cost)
    t0 = time.perf_counter()
    result = run_finetune(plan)
    actual = time.perf_counter() - t0
    print(
        f"ran {iterations} iterations x {plan.config.batch_size}, {plan.evaluations} measurements of {held}: "
        f"predicted {predicted:.0f} s, measured {actual:.0f} s (ratio {actual / predicted:.2f}); "
        f"R@1 {result.before and result.before.get('R@1')} -> {result.after and result.after.get('R@1')}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
