"""`irt-desktop train`: fine-tune a model on class folders or a benchmark dataset; the result is a bundle."""

from __future__ import annotations

import argparse
import hashlib
import os
import tomllib
from pathlib import Path
from typing import Any

from irt_desktop.commands import CommandError


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
    p.add_argument("--workers", type=int, default=2, help="image decoding processes (default 2)")
    p.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
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
    from irt_desktop.retrieval.benchmark import DATASETS, default_bundle
    from irt_desktop.retrieval.bundle import BundleError, find_bundle
    from irt_desktop.retrieval.datasets import DatasetError, scan_class_folders, split_folder_dataset
    from irt_desktop.retrieval.training import (
        CheckpointError,
        RecipeError,
        TrainConfig,
        Trainer,
        evaluate_bundle,
    )
    from irt_desktop.retrieval.training.trainer import as_records, data_fingerprint
    from irt_desktop.retrieval.weights import WeightsUnavailable

    mdir = models_dir(args.library)
    try:
        if args.folders:
            folders = scan_class_folders(args.folders)
            if args.holdout > 0:
                train, held = split_folder_dataset(folders, by=args.split_by, holdout=args.holdout)
            else:
                train, held = folders.as_split(), None
            data_name = ", ".join(p.name for p in args.folders)
            recipe = args.recipe or "folders"
            eval_split = held
            print(f"{len(folders.records)} images in {len(folders.class_names)} classes", end="")
            print(f"; {len(held)} held out by {args.split_by}" if held is not None else "")
        else:
            ds = DATASETS[args.dataset]
            root = args.data_root or Path(os.environ.get("IRT_DATA") or args.library / "datasets")
            bench = ds.load(root.expanduser())
            train, eval_split, data_name, recipe = bench.train, bench, ds.name, args.recipe or ds.recipe
        bundle = find_bundle(mdir, args.model) if args.model else default_bundle(mdir)
        overrides = parse_settings(args.set)
        overrides.setdefault("device", args.device)
        overrides.setdefault("num_workers", args.workers)
        if args.iterations is not None:
            overrides["iterations"] = args.iterations
        if args.variant == "irt_l":
            overrides["koleo_weight"] = 0.0
        if args.dims:
            overrides["pca_dims"] = args.dims
        config = TrainConfig.from_recipe(recipe, **overrides)
    except (DatasetError, BundleError, WeightsUnavailable, RecipeError, ValueError) as exc:
        raise CommandError(str(exc)) from exc

    run_key = hashlib.sha256(
        f"{bundle.id}\0{data_fingerprint(as_records(train))}\0{sorted(config.trajectory().items())}".encode()
    ).hexdigest()[:10]
    work_dir = (
        args.work_dir or args.library / "training" / f"{config.recipe}-{config.variant.lower()}-{run_key}"
    )
    printer = ProgressPrinter()
    before = None
    if args.folders and eval_split is not None:
        before = evaluate_bundle(
            bundle, eval_split, config.recall_ks, device=args.device, num_workers=args.workers
        )
        print("before: " + "  ".join(f"{k} {v:.1f}" for k, v in before.items()))
    trainer = Trainer(
        bundle,
        train,
        config,
        eval_split=eval_split,
        work_dir=work_dir,
        models_dir=mdir,
        name=args.name,
        data_name=data_name,
        resume=not args.no_resume,
    )
    print(
        f"training {config.variant} from {bundle.id}: {config.iterations} iterations "
        f"(checkpoints in {work_dir})"
    )
    with graceful_cancel() as cancel:
        try:
            result = trainer.run(progress=printer.training, cancel=cancel)
        except CheckpointError as exc:
            raise CommandError(f"{exc} (--no-resume starts over)") from exc
    printer.close()
    if result.cancelled:
        print(f"stopped at iteration {len(result.history)}; run the same command again to resume")
        return 130
    if result.bundle is None:  # a DDP rank other than 0: rank 0 saves and reports
        return 0
    if result.metrics:
        print("after:  " + "  ".join(f"{k} {v:.1f}" for k, v in result.metrics.items()))
    print(f"saved {result.bundle.id} at {result.bundle.path}")
    return 0
