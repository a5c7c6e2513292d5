"""`irt-desktop benchmark` (also `irt-desktop --benchmark`): the paper's figures beside ours, headless.

Also home of the console helpers the `train` command shares: a progress line with ETA, and Ctrl-C as a
graceful cancel (the run stops at the next step, leaving a checkpoint to resume from).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from irt_desktop.commands import CommandError

DEFAULT_DATASETS = "sop,cub,inshop,roxford,rparis"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="reproduce the paper's figures on SOP, CUB, In-Shop, ROxford, RParis (or the CPU smoke suite)",
        description="Evaluate (and optionally first train, per the paper's recipe) a model on the paper's "
        "benchmarks; prints our figures beside the paper's and writes results.json and report.md.",
    )
    p.add_argument(
        "--datasets",
        default=DEFAULT_DATASETS,
        help=f"comma-separated, from {DEFAULT_DATASETS} (default: all)",
    )
    p.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="folder holding sop/, cub/, inshop/, roxford5k/, rparis6k/ "
        "(default: $IRT_DATA or LIBRARY/datasets)",
    )
    p.add_argument(
        "--model",
        default=None,
        help="bundle id, name or folder, or a shipped card (deit-s, deit-s-distilled, deit-b-distilled-384, "
        "...: installed from the hub if it is not yet; see `models list`); default: off-the-shelf DeiT-S",
    )
    p.add_argument(
        "--train",
        choices=("none", "irt_l", "irt_r"),
        default="none",
        help="train per the dataset's recipe first: irt_l (contrastive) or irt_r (+KoLeo); default none",
    )
    p.add_argument(
        "--dims",
        type=int,
        default=None,
        help="descriptor dims: 384 (DeiT-S full width, the default) or 128 "
        "(PCA fitted on the training split)",
    )
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument(
        "--out", type=Path, default=None, help="output folder (default: LIBRARY/benchmarks/<time>)"
    )
    p.add_argument(
        "--suite",
        choices=("paper", "smoke"),
        default="paper",
        help="paper (default) or smoke: procedural data, a small ViT trained from scratch on CPU in minutes",
    )
    p.add_argument(
        "--scale", choices=("full", "quick"), default="full", help="smoke suite size (default full)"
    )
    p.add_argument("--iterations", type=int, default=None, help="override the recipe's training iterations")
    p.add_argument(
        "--seeds",
        default=None,
        help="comma-separated training seeds (e.g. 0,1,2): one fine-tune each, reported as mean +- std "
        "(default: the recipe's seed)",
    )
    p.add_argument(
        "--pooling",
        choices=("cls", "mean", "max", "gem"),
        default=None,
        help="token pooling (the paper's pooling ablation; default: the model's, CLS)",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="bf16 where it agrees with fp32 and JPEG draft decoding; the default is fp32 and full decoding, "
        "what the paper's figures mean (both are recorded in the report)",
    )
    p.add_argument(
        "--multiscale",
        action="store_true",
        help="landmark descriptors averaged over scales 1, 1/sqrt(2), 1/2 (cirtorch's multi-scale)",
    )
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="evaluate a dataset whose image or class counts are not the protocol's (marked partial, no "
        "paper figure); by default it is refused",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="image decoding processes (default: 2, or 0 on a CPU-only machine with 4 cores or fewer)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from irt_desktop.retrieval.benchmark import benchmark_output_dir

    out = args.out or benchmark_output_dir(args.library)
    printer = ProgressPrinter()
    with graceful_cancel() as cancel:
        if args.suite == "smoke":
            return _run_smoke(args, out, printer, cancel)
        return _run_paper(args, out, printer, cancel)


def _run_smoke(args: argparse.Namespace, out: Path, printer: ProgressPrinter, cancel: threading.Event) -> int:
    from irt_desktop.retrieval.benchmark import run_suite

    device = args.device or "cpu"
    result = run_suite(
        f"smoke-{args.scale}",
        out,
        device=device,
        iterations=args.iterations,
        progress=printer.benchmark,
        cancel=cancel,
        num_workers=_workers(args, device),
    )
    printer.close()
    _print_result(result)
    if result.cancelled:
        return 130
    return 1 if result.passed is False else 0


def _run_paper(args: argparse.Namespace, out: Path, printer: ProgressPrinter, cancel: threading.Event) -> int:
    from irt_desktop.paths import models_dir
    from irt_desktop.retrieval.benchmark import (
        dataset_places,
        default_data_root,
        parse_dataset_names,
        run_suite,
    )
    from irt_desktop.retrieval.bundle import BundleError
    from irt_desktop.retrieval.weights import WeightsUnavailable

    try:
        names = parse_dataset_names(args.datasets)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    data_root = (args.data_root or default_data_root(args.library)).expanduser()
    mdir = models_dir(args.library)
    main_rank = int(os.environ.get("RANK", "0")) == 0  # under torchrun, rank 0 alone reports
    if main_rank:
        # Said before a run that can take hours, not only at its end.
        for place in dataset_places(data_root, names=names).values():
            if not place.present:
                print(f"{place.name}: {place.describe()}; it will be skipped", file=sys.stderr)
    workers = _workers(args, args.device)
    try:
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()] if args.seeds else None
    except ValueError:
        raise CommandError(f"--seeds takes whole numbers separated by commas, got {args.seeds!r}") from None
    try:
        bundle = _model(mdir, args.model) if args.model else None
        result = run_suite(
            "paper",
            out,
            datasets=names,
            data_root=data_root,
            model=bundle,
            train=args.train,
            dims=args.dims,
            device=args.device,
            progress=printer.benchmark if main_rank else None,
            cancel=cancel,
            models_dir=mdir,
            iterations=args.iterations,
            num_workers=workers,
            fast=args.fast,
            allow_partial=args.allow_partial,
            multiscale=args.multiscale,
            seeds=seeds,
            pooling=args.pooling,
        )
    except (BundleError, WeightsUnavailable, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    printer.close()
    if not main_rank:
        return 130 if result.cancelled else 0
    _print_result(result)
    if result.cancelled:
        return 130
    if not result.rows:
        raise CommandError(f"no dataset could be evaluated (data root: {data_root}); see above")
    # Some figures, but a dataset asked for failed: the run did not do all it was asked.
    return 1 if result.failed else 0


def _model(models_dir: Path, ref: str):
    """An installed bundle, else the verified off-the-shelf bundle of the shipped card `ref`."""
    from irt_desktop.retrieval.benchmark.runner import card_bundle
    from irt_desktop.retrieval.bundle import BundleError, find_bundle
    from irt_desktop.retrieval.card import shipped_cards

    try:
        return find_bundle(models_dir, ref)
    except BundleError:
        if ref not in shipped_cards():
            raise
    return card_bundle(ref, models_dir)


def _workers(args: argparse.Namespace, device: str | None) -> int:
    if args.workers is not None:
        return args.workers
    from irt_desktop.device import best_device
    from irt_desktop.retrieval.training.data import loader_workers_for

    try:
        return loader_workers_for(best_device(device))
    except RuntimeError as exc:  # the device asked for is not there
        raise CommandError(str(exc)) from exc


def _print_result(result) -> None:
    if result.rows:
        print(result.table())
    for note in result.notes:
        print(f"note: {note}")
    for name, message in result.failed.items():
        print(f"\n{name} FAILED and was not evaluated:\n{message}", file=sys.stderr)
    for name, message in result.missing.items():
        print(f"\n{name} is missing:\n{message}", file=sys.stderr)
    if result.passed is not None:
        print(f"verdict: {'PASS' if result.passed else 'FAIL'}")
    if result.cancelled:
        print("cancelled: partial results", file=sys.stderr)
    if result.out_dir is not None:
        print(f"results: {result.out_dir / 'results.json'}\nreport:  {result.out_dir / 'report.md'}")


# -- console helpers shared with `train` -------------------------------------------------------------------


@contextlib.contextmanager
def graceful_cancel() -> Iterator[threading.Event]:
    """First Ctrl-C sets the event (the run stops cleanly and keeps its checkpoint); a second one aborts."""
    cancel = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return

    def handler(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nstopping after the current step (Ctrl-C again to abort)...", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, previous)


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


class ProgressPrinter:
    """One updating line on a terminal; a line every few seconds (and at every stage) otherwise."""

    def __init__(self, stream=None, interval: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.last_print = 0.0
        self.last_key: tuple = ()
        self.width = 0

    def line(self, text: str, key: tuple = ()) -> None:
        now = time.monotonic()
        if self.tty:
            pad = max(0, self.width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self.width = len(text)
            self.stream.flush()
            return
        if key != self.last_key or now - self.last_print >= self.interval:
            print(text, file=self.stream, flush=True)
            self.last_print, self.last_key = now, key

    def close(self) -> None:
        if self.tty and self.width:
            self.stream.write("\n")
            self.stream.flush()
            self.width = 0

    def training(self, p, prefix: str = "") -> None:
        """A trainer's TrainProgress, or a fine-tune Step (which is always a training step)."""
        if getattr(p, "phase", "train") != "train":
            self.line(f"{prefix}{p.phase}...", key=(prefix, p.phase))
            return
        text = (
            f"{prefix}train {p.iteration}/{p.total}  loss {p.loss:.3f} (contr {p.loss_contrastive:.3f}, "
            f"koleo {p.loss_koleo:.3f})  {p.images_per_s:.0f} img/s  ETA {format_eta(p.eta_s)}"
        )
        if p.eval:
            text += "  " + " ".join(f"{k} {v:.1f}" for k, v in p.eval.items())
        self.line(text, key=(prefix, "train"))

    def benchmark(self, p) -> None:
        prefix = f"[{p.dataset}] "
        if p.train is not None:
            self.training(p.train, prefix)
            return
        if p.stage == "done":
            return
        text = f"{prefix}{p.stage}"
        if p.message:
            text += f" ({p.message})"
        if p.total:
            text += f"  {p.done}/{p.total}  ETA {format_eta(p.eta_s)}"
        self.line(text, key=(p.dataset, p.stage, p.message))
