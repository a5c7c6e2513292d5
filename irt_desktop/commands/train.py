"""`irt-desktop train`: fine-tune a model on class folders or a benchmark dataset; the result is a bundle.

With photos held out it ends as the wizard does: Recall@1 of the starting and the trained model on the
same held-out photos, each with its 95 % bootstrap interval, and the interval of the change
(retrieval.training.finetune.compare), so that a few points up on a few dozen photos is not read as
progress. `--json` prints that and the saved model as JSON on stdout (the progress goes to stderr).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from irt_desktop.commands import CommandError

if TYPE_CHECKING:
    from irt_desktop.retrieval.training.finetune import FinetuneResult, Interval, RecallComparison


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="fine-tune a model the IRT way on your class folders or a benchmark dataset",
        description="Each sub-folder of a --folders root is a class (the fine-tune wizard's format). The "
        "trained model is saved as a bundle in the library; Ctrl-C stops cleanly and the same command "
        "resumes from the last checkpoint.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--folders", type=Path, nargs="+", metavar="DIR", help="root folder(s) of class folders")
    src.add_argument(
        "--dataset", choices=("sop", "cub", "inshop"), help="a benchmark dataset's training split"
    )
    p.add_argument("--data-root", type=Path, default=None, help="with --dataset: as for `benchmark`")
    p.add_argument("--model", default=None, help="starting bundle (default: off-the-shelf DeiT-S)")
    p.add_argument("--recipe", default=None, help="recipe name or .toml (default: folders, or the dataset's)")
    p.add_argument("--variant", choices=("irt_l", "irt_r"), default="irt_r", help="irt_r (default): +KoLeo")
    p.add_argument("--iterations", type=int, default=None, help="override the recipe's iterations")
    p.add_argument(
        "--holdout", type=float, default=0.2, help="folders: fraction held out to evaluate (0: none)"
    )
    p.add_argument("--split-by", choices=("class", "image"), default="class", help="folders: hold out by")
    p.add_argument("--dims", type=int, default=None, help="PCA to this many dims after training (e.g. 128)")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument(
        "--work-dir", type=Path, default=None, help="checkpoints (default: LIBRARY/training/<run>)"
    )
    p.add_argument("--name", default=None, help="name of the trained model")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="image decoding processes (default: 2, or 0 on a CPU-only machine with 4 cores or fewer)",
    )
    p.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the saved model and the before / after comparison as JSON (the progress to stderr)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other training setting, e.g. --set lr=1e-5 --set grad_accum=2 (TOML values)",
    )
    p.set_defaults(handler=run)


def parse_settings(items: list[str]) -> dict[str, Any]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value  # a bare word: a string
    return out


def run(args: argparse.Namespace) -> int:
    from irt_desktop.commands.benchmark import ProgressPrinter, graceful_cancel
    from irt_desktop.paths import models_dir
    from irt_desktop.retrieval.benchmark import DATASETS, default_bundle, default_data_root
    from irt_desktop.retrieval.bundle import BundleError, find_bundle
    from irt_desktop.retrieval.datasets import DatasetError, scan_class_folders
    from irt_desktop.retrieval.training import CheckpointError
    from irt_desktop.retrieval.training.finetune import (
        FinetuneError,
        FinetuneSettings,
        default_work_root,
        plan_finetune,
        run_finetune,
    )
    from irt_desktop.retrieval.weights import WeightsUnavailable

    mdir = models_dir(args.library)
    try:
        overrides = parse_settings(args.set)
        device = overrides.pop("device", None) or args.device
        settings = FinetuneSettings(
            recipe=args.recipe,
            variant=args.variant,
            iterations=args.iterations,
            holdout=args.holdout,
            split_by=args.split_by,
            name=args.name,
            pca_dims=args.dims or None,
            num_workers=args.workers,
            resume=not args.no_resume,
            work_dir=args.work_dir,
            overrides=overrides,
        )
        if args.folders:
            data = scan_class_folders(args.folders)
            settings = dataclasses.replace(settings, data_name=", ".join(p.name for p in args.folders))
        else:
            ds = DATASETS[args.dataset]
            data = ds.load((args.data_root or default_data_root(args.library)).expanduser())
            settings = dataclasses.replace(settings, recipe=args.recipe or ds.recipe, data_name=ds.name)
        bundle = find_bundle(mdir, args.model) if args.model else default_bundle(mdir)
        plan = plan_finetune(
            data,
            settings,
            base=bundle,
            models_dir=mdir,
            device=device,
            work_root=default_work_root(args.library),
        )
    except (DatasetError, BundleError, WeightsUnavailable, FinetuneError, ValueError) as exc:
        raise CommandError(str(exc)) from exc

    # With --json, stdout is the JSON alone: what is said along the way goes where the progress goes.
    out: TextIO = sys.stderr if args.json else sys.stdout
    if args.folders:
        held = f"; {plan.held_out_images} held out by {args.split_by}" if plan.held_out is not None else ""
        print(f"{len(data.records)} images in {len(data.class_names)} classes{held}", file=out)
    for note in plan.notes:
        print(f"note: {note}", file=out)
    config = plan.config
    print(
        f"training {config.variant} from {bundle.id}: {config.iterations} iterations "
        f"(checkpoints in {plan.work_dir})",
        file=out,
    )
    printer = ProgressPrinter()
    with graceful_cancel() as cancel:
        try:
            result = run_finetune(plan, lambda event: _show(printer, event, out), cancel)
        except CheckpointError as exc:
            raise CommandError(f"{exc} (--no-resume starts over)") from exc
    printer.close()
    if result.bundle is None and not result.cancelled:  # a DDP rank other than 0: rank 0 reports
        return 0
    if args.json:
        print(json.dumps(result_json(result), indent=2))
    if result.cancelled:
        print(f"stopped at iteration {len(result.history)}; run the same command again to resume", file=out)
        return 130
    if result.after:
        print("after:  " + _recalls(result.after), file=out)
    if result.comparison is not None:
        print(comparison_line(result.comparison), file=out)
        if warning := result.comparison.warning():
            print(f"note: {warning}", file=out)
    print(f"saved {result.bundle.id} at {result.bundle.path}", file=out)
    return 0


def comparison_line(c: RecallComparison) -> str:
    """Before / after Recall@K with their bootstrap intervals and the paired interval of the change, and
    the verdict that interval gives, in one line."""
    photos = f"{c.n} held-out photo{'s' if c.n != 1 else ''}"
    return (
        f"R@{c.k} on {photos}: before {c.before.text()}, after {c.after.text()}, "
        f"change {c.diff.text(signed=True)} points ({c.level:.0%} bootstrap intervals): {c.verdict}"
    )


def _interval(i: Interval) -> dict[str, float]:
    return {"value": round(i.value, 2), "low": round(i.low, 2), "high": round(i.high, 2)}


def _floats(metrics: dict[str, float] | None) -> dict[str, float] | None:
    return None if metrics is None else {k: round(float(v), 2) for k, v in metrics.items()}


def result_json(result: FinetuneResult) -> dict[str, Any]:
    c = result.comparison
    comparison = None
    if c is not None:
        comparison = {
            "metric": f"R@{c.k}",
            "held_out": c.n,
            "level": c.level,
            "resamples": c.resamples,
            "before": _interval(c.before),
            "after": _interval(c.after),
            "change": _interval(c.diff),
            "verdict": c.verdict,
            "warning": c.warning() or None,
        }
    bundle = result.bundle
    return {
        "model_id": bundle.id if bundle is not None else None,
        "path": str(bundle.path) if bundle is not None else None,
        "cancelled": result.cancelled,
        "iterations": len(result.history),
        "before": _floats(result.before),
        "after": _floats(result.after),
        "comparison": comparison,
    }


def _show(printer: Any, event: Any, out: TextIO) -> None:
    from irt_desktop.retrieval.training.finetune import Baseline, Evaluating, Stage, Step

    if isinstance(event, Step):
        printer.training(event)
    elif isinstance(event, Stage):
        printer.line(f"{event.name}...", key=("stage", event.name))
    elif isinstance(event, Evaluating):
        count = f"  {event.done}/{event.total}" if event.total else ""
        model = "starting" if event.which == "before" else "trained"
        printer.line(f"evaluating the {model} model{count}", key=("eval", event.which))
    elif isinstance(event, Baseline):
        printer.close()
        print("before: " + _recalls(event.metrics), file=out)


def _recalls(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.1f}" for k, v in metrics.items())
