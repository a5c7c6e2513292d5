"""`irt-desktop --benchmark`: evaluate (and optionally first train, per recipe) a model on the paper's
datasets and put our figures beside the paper's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from irt_desktop.retrieval.benchmark.catalog import DATASETS, BenchmarkDataset, parse_dataset_names
from irt_desktop.retrieval.benchmark.report import BenchmarkResult, BenchmarkRow
from irt_desktop.retrieval.bundle import ModelBundle, list_bundles
from irt_desktop.retrieval.datasets import CategoryBenchmark, DatasetError, RevisitedBenchmark
from irt_desktop.retrieval.metrics import evaluate_revisited, rank_database
from irt_desktop.retrieval.model import IRT
from irt_desktop.retrieval.paper_results import PAPER_TABLES, load_paper_results, paper_value
from irt_desktop.retrieval.pca import PCAProjection
from irt_desktop.retrieval.training import (
    TrainConfig,
    Trainer,
    TrainProgress,
    evaluate_model,
    extract_features,
)
from irt_desktop.retrieval.training.config import load_recipe
from irt_desktop.retrieval.training.distributed import init_distributed
from irt_desktop.retrieval.transforms import landmark_transform
from irt_desktop.retrieval.zoo import DEFAULT_CARD

TRAIN_CHOICES = ("none", "irt_l", "irt_r")


@dataclass
class BenchmarkProgress:
    """Where a benchmark run is: `stage` of `dataset` ("load", "train", "pca", "embed", "done"),
    `done` of `total` units (iterations or images), with the stage's estimated time left."""

    dataset: str
    stage: str
    done: int
    total: int
    eta_s: float | None
    message: str = ""
    train: TrainProgress | None = None


class BenchmarkCancelled(Exception):
    pass


class _Reporter:
    """Turns per-stage counts into BenchmarkProgress with an ETA, and raises when cancelled."""

    def __init__(
        self, progress: Callable[[BenchmarkProgress], None] | None, cancel: threading.Event | None
    ) -> None:
        self.progress, self.cancel = progress, cancel or threading.Event()
        self.t0 = time.monotonic()

    def check(self) -> None:
        if self.cancel.is_set():
            raise BenchmarkCancelled

    def stage(self, dataset: str, stage: str, message: str = "", total: int = 0) -> None:
        self.check()
        self.t0 = time.monotonic()
        if self.progress:
            self.progress(BenchmarkProgress(dataset, stage, 0, total, None, message))

    def counter(self, dataset: str, stage: str, message: str = "") -> Callable[[int, int], None]:
        self.stage(dataset, stage, message)

        def report(done: int, total: int) -> None:
            self.check()
            elapsed = time.monotonic() - self.t0
            eta = elapsed / done * (total - done) if done else None
            if self.progress:
                self.progress(BenchmarkProgress(dataset, stage, done, total, eta, message))

        return report

    def training(self, dataset: str) -> Callable[[TrainProgress], None]:
        def report(p: TrainProgress) -> None:
            if self.progress:
                stage = "train" if p.phase == "train" else p.phase
                self.progress(BenchmarkProgress(dataset, stage, p.iteration, p.total, p.eta_s, "", p))

        return report


# Provenance keys that record training: a bundle with any of them is not off-the-shelf weights.
_TRAINING_RECORD = ("variant", "training", "recipe", "data", "base_model")


def is_off_the_shelf(bundle: ModelBundle) -> bool:
    """Verified published pretrained weights (ImageNet DeiT) with no training recorded: the paper's
    IRT_O. An imported file whose hash the card does not list is not, whatever card it came in as."""
    from irt_desktop.retrieval.provenance import Provenance

    prov = bundle.card.provenance
    if any(key in prov for key in _TRAINING_RECORD):
        return False
    return Provenance.from_dict(prov).is_paper_off_the_shelf


def _fine_tuned(prov: dict[str, Any]) -> bool:
    """Trained by this project ("fine-tuned"; cards before the provenance type said "trained")."""
    from irt_desktop.retrieval.provenance import Provenance

    return Provenance.from_dict(prov).trained


def model_variant(bundle: ModelBundle) -> str:
    """The paper's name for what a bundle is: IRT_O for off-the-shelf weights, the trainer's record
    (IRT_L / IRT_R) for a model it trained, "" when the provenance does not say (no paper figure)."""
    if is_off_the_shelf(bundle):
        return "IRT_O"
    prov = bundle.card.provenance
    if _fine_tuned(prov):
        return str(prov.get("variant", ""))
    return ""


def training_data(bundle: ModelBundle) -> str | None:
    """What a bundle was fine-tuned on, as a paper_results dataset key ("sop", "sfm120k", or the
    recorded name of other data); None when it was not fine-tuned."""
    prov = bundle.card.provenance
    if not _fine_tuned(prov) or prov.get("variant") == "IRT_O":
        return None
    data = prov.get("data") if isinstance(prov.get("data"), dict) else {}
    name = str(data.get("name", "")).strip().lower()
    if name in DATASETS:
        return DATASETS[name].paper_key
    recipe = prov.get("recipe") if isinstance(prov.get("recipe"), dict) else {}
    if str(recipe.get("dataset", "")).lower() == "sfm120k":
        # The SfM-120k recipe is for SfM-120k given as class folders, named whatever the folders are.
        return "sfm120k"
    return name or "unrecorded data"


def default_bundle(models_dir: Path) -> ModelBundle:
    """An installed off-the-shelf DeiT-S, else one made from cached or downloaded weights.

    Raises irt_desktop.retrieval.weights.WeightsUnavailable (with what to do) when offline and uncached.
    """
    from irt_desktop.retrieval.card import shipped_cards
    from irt_desktop.retrieval.weights import install_pretrained

    for b in list_bundles(models_dir):
        if b.card.name == DEFAULT_CARD and is_off_the_shelf(b) and b.card.spec.dims is None:
            return b
    return install_pretrained(shipped_cards()[DEFAULT_CARD], models_dir)


def run_benchmark(
    datasets: Sequence[str] | str,
    data_root: Path,
    *,
    model: ModelBundle | None,
    train: str = "none",
    dims: int | None = None,
    device: str | None = None,
    out_dir: Path,
    progress: Callable[[BenchmarkProgress], None] | None = None,
    cancel: threading.Event | None = None,
    models_dir: Path | None = None,
    iterations: int | None = None,
    num_workers: int = 2,
) -> BenchmarkResult:
    """Evaluate `model` (default: off-the-shelf DeiT-S) on each dataset, after training it per the
    dataset's recipe when `train` is irt_l / irt_r. `dims` below the model's width: PCA fitted on the
    training split; None (the default): the model's own width. Missing datasets are reported (with
    what to download) and skipped. A paper figure is shown only beside a model of the same setting
    (variant, backbone, dims, pooling, input size, training data); the notes say why one is missing,
    and rows of models trained on another schedule than the paper's are flagged. Writes
    `out_dir/results.json` and `out_dir/report.md`; trained bundles go to `models_dir`
    (default `out_dir/models`), training checkpoints to `out_dir/work` (a rerun resumes them)."""
    names = parse_dataset_names(datasets)
    train = train.lower()
    if train not in TRAIN_CHOICES:
        raise ValueError(f"train must be one of {', '.join(TRAIN_CHOICES)}, got {train!r}")
    out_dir, data_root = Path(out_dir), Path(data_root)
    models_dir = Path(models_dir) if models_dir is not None else out_dir / "models"
    reporter = _Reporter(progress, cancel)
    # Under torchrun every rank trains (DDP); rank 0 alone resolves weights, evaluates and writes.
    ctx = init_distributed(device)
    if model is None and not ctx.is_main:
        ctx.barrier()
    bundle = model if model is not None else default_bundle(models_dir)
    if model is None and ctx.is_main:
        ctx.barrier()
    result = BenchmarkResult(
        "IRT benchmark",
        {
            "model": bundle.id,
            "backbone": bundle.card.spec.backbone,
            "train": train,
            "dims": dims or "full",
            "datasets": ", ".join(names),
            "data root": str(data_root),
            "device": device or "auto",
        },
    )
    job = _Job(result, bundle, train, dims, device, out_dir, models_dir, iterations, num_workers, reporter)
    job.is_main = ctx.is_main
    try:
        for name in names:
            ds = DATASETS[name]
            reporter.stage(name, "load", f"reading {ds.title}")
            try:
                bench = ds.load(data_root)
            except DatasetError as exc:
                result.missing[name] = str(exc)
                continue
            t0 = time.monotonic()
            if isinstance(bench, CategoryBenchmark):
                job.category(ds, bench)
            elif ctx.is_main:
                job.landmarks(ds, bench)
            if name in result.details:
                result.details[name]["seconds"] = round(time.monotonic() - t0, 1)
            reporter.stage(name, "done")
    except BenchmarkCancelled:
        result.cancelled = True
    if ctx.is_main:
        result.write(out_dir)
    return result


@dataclass
class _Job:
    result: BenchmarkResult
    bundle: ModelBundle
    train: str
    dims: int | None
    device: str | None
    out_dir: Path
    models_dir: Path
    iterations: int | None
    num_workers: int
    reporter: _Reporter
    is_main: bool = True

    def _trained(self, ds: BenchmarkDataset, bench: CategoryBenchmark) -> tuple[ModelBundle | None, str]:
        """The model to evaluate and its variant; no model on DDP ranks other than 0 (they only train)."""
        if self.train == "none":
            return self.bundle, model_variant(self.bundle)
        overrides: dict[str, Any] = {"device": self.device, "num_workers": self.num_workers}
        if self.train == "irt_l":
            overrides["koleo_weight"] = 0.0
        if self.iterations is not None:
            overrides["iterations"] = self.iterations
        width = self.bundle.load_model().width
        if self.dims is not None and self.dims < width:
            overrides["pca_dims"] = self.dims
        cfg = TrainConfig.from_recipe(ds.recipe or ds.name, **overrides)
        trainer = Trainer(
            self.bundle,
            bench.train,
            cfg,
            work_dir=self.out_dir / "work" / f"{ds.name}-{self.train}",
            models_dir=self.models_dir,
            data_name=ds.name,
        )
        self.reporter.stage(ds.name, "train", f"{cfg.variant}, {cfg.iterations} iterations", cfg.iterations)
        res = trainer.run(progress=self.reporter.training(ds.name), cancel=self.reporter.cancel)
        if res.cancelled:
            raise BenchmarkCancelled
        if res.bundle is None:
            return None, cfg.variant
        self.result.notes.append(f"{ds.name}: trained {res.bundle.id} ({cfg.variant}, recipe {cfg.recipe}).")
        return res.bundle, cfg.variant

    def _with_dims(self, ds: BenchmarkDataset, model: IRT, train_split) -> IRT:
        """Apply `--dims` to an untrained model: PCA fitted on the training split (PAPER.md)."""
        if self.dims is None or self.dims >= model.dim:
            return model
        if model.pca is not None:
            self.result.notes.append(
                f"{ds.name}: the model is already {model.dim}-d; --dims {self.dims} ignored."
            )
            return model
        count = self.reporter.counter(ds.name, "pca", f"PCA to {self.dims} dims on the training split")
        feats = extract_features(
            model, train_split, device=self.device, raw=True, num_workers=self.num_workers, progress=count
        )
        model.set_pca(PCAProjection.fit(feats, self.dims))
        self.result.notes.append(
            f"{ds.name}: PCA to {self.dims} dims fitted on {len(feats)} training images."
        )
        return model

    def category(self, ds: BenchmarkDataset, bench: CategoryBenchmark) -> None:
        bundle, variant = self._trained(ds, bench)
        if bundle is None or not self.is_main:
            return
        model = self._with_dims(ds, bundle.load_model(), bench.train)
        count = self.reporter.counter(ds.name, "embed", f"Recall@K on {ds.title}")
        metrics = evaluate_model(
            model, bench, bench.recall_ks, device=self.device, num_workers=self.num_workers, progress=count
        )
        self._record(ds, bundle, variant, model, metrics)

    def landmarks(self, ds: BenchmarkDataset, bench: RevisitedBenchmark) -> None:
        if self.train != "none":
            self.result.notes.append(
                f"{ds.name}: the paper fine-tunes landmark models on SfM-120k, which irt-desktop cannot "
                f"read; {self.bundle.id} was evaluated as given."
            )
        model = self.bundle.load_model()
        if self.dims is not None and self.dims < model.dim and model.pca is None:
            self.result.notes.append(
                f"{ds.name}: the paper reports landmark figures at full width only and there is no landmark "
                f"training split to fit a PCA on; evaluated at {model.dim} dims."
            )
        n = len(bench.db) + len(bench.queries)
        count = self.reporter.counter(ds.name, "embed", f"mAP on {ds.title}")
        # The revisited protocol's preprocessing, not the category-level centre crop (see
        # landmark_transform); decoded at least at the input size, queries cut to their bbx first.
        size = model.spec.input_size
        preprocess = {"transform": landmark_transform(model.spec, model.patch_size), "min_side": size}
        db = extract_features(
            model, bench.db, device=self.device, num_workers=self.num_workers, progress=count, **preprocess
        )
        q = extract_features(
            model,
            bench.queries,
            device=self.device,
            num_workers=self.num_workers,
            progress=lambda done, _t: count(len(bench.db) + done, n),
            **preprocess,
        )
        self.result.notes.append(
            f"{ds.name}: images resized to {size} px on the longer side, aspect ratio kept, no crop (queries "
            "cut to their bbx first), EXIF orientation ignored: the revisited protocol's convention "
            "(revisitop/cirtorch); PAPER.md does not state the landmark test preprocessing."
        )
        scores = evaluate_revisited(rank_database(db, q), bench.gnd)
        metrics = {}
        for protocol in ("easy", "medium", "hard"):
            for key, value in scores[protocol].items():
                metrics[f"{key}_{protocol}"] = 100.0 * value
        self._record(
            ds,
            self.bundle,
            model_variant(self.bundle),
            model,
            metrics,
            shown=("mAP_medium", "mAP_hard", "mAP_easy"),
        )

    def _record(
        self,
        ds: BenchmarkDataset,
        bundle: ModelBundle,
        variant: str,
        model: IRT,
        metrics: dict[str, float],
        shown: Sequence[str] | None = None,
    ) -> None:
        spec, dims = model.spec, model.dim
        trained_on = training_data(bundle)
        setting = {
            "pooling": spec.pooling,
            "resolution": spec.input_size,
            "pca": model.pca is not None,
            "train_data": trained_on,
        }
        caveat = self._schedule_caveat(ds, bundle)
        missing = []
        for metric in shown or metrics:
            paper = None
            if variant:
                paper = paper_value(variant, spec.backbone, dims, ds.paper_key, metric, **setting)
            if paper is None:
                missing.append(metric)
            flag = caveat if paper is not None else ""
            row = BenchmarkRow(ds.name, metric, metrics[metric], paper, variant, dims, flag)
            self.result.rows.append(row)
        if caveat and len(missing) < len(shown or metrics):
            self.result.notes.append(
                f"{ds.name}: {caveat}: the paper's figures (marked *) are shown for reference, but this "
                "result is not at the paper's schedule."
            )
        if missing:
            self.result.notes += _why_no_paper_figure(ds, bundle, variant, model, trained_on, missing)
        self.result.details[ds.name] = {
            "model": bundle.id,
            "variant": variant,
            "trained_on": trained_on,
            "dims": dims,
            "metrics": metrics,
        }

    def _schedule_caveat(self, ds: BenchmarkDataset, bundle: ModelBundle) -> str:
        """Why a trained model's run is not the paper's (its recorded iterations against the dataset's
        recipe, which has the paper's), or ""."""
        prov = bundle.card.provenance
        if not _fine_tuned(prov) or ds.recipe is None or training_data(bundle) != ds.paper_key:
            return ""
        done = (prov.get("training") or {}).get("iterations")
        paper = load_recipe(ds.recipe).train.get("iterations")
        if done is None or paper is None or int(done) == int(paper):
            return ""
        return f"trained for {int(done)} iterations, not the paper's {int(paper)}"


def _why_no_paper_figure(
    ds: BenchmarkDataset,
    bundle: ModelBundle,
    variant: str,
    model: IRT,
    trained_on: str | None,
    metrics: Sequence[str],
) -> list[str]:
    """Notes that say why `metrics` have no paper figure beside them."""
    if not variant:
        kind = bundle.card.provenance.get("kind", "unrecorded")
        return [
            f"{ds.name}: no paper figure: the provenance of {bundle.id} (kind: {kind}) records neither "
            "off-the-shelf weights nor a training run, so it matches none of the paper's settings."
        ]
    reported = [
        r
        for r in load_paper_results()
        if r.table in PAPER_TABLES and r.variant == variant and r.dataset == ds.paper_key
    ]
    unreported = [m for m in metrics if not any(r.metric == m for r in reported)]
    notes = []
    if unreported:
        notes.append(f"{ds.name}: the paper reports no {variant} figure for {', '.join(unreported)}.")
    other = [m for m in metrics if m not in unreported]
    if not other:
        return notes
    rows = [r for r in reported if r.metric in other]
    same_data = [r for r in rows if r.train_data == trained_on]
    which = ", ".join(other)
    if not same_data:
        ours = f"fine-tuned on {trained_on}" if trained_on else "not fine-tuned"
        theirs = sorted({r.train_data or "nothing" for r in rows})
        notes.append(
            f"{ds.name}: no paper figure for {which}: this model is {ours}, the paper's {variant} "
            f"figures on {ds.paper_key} are of models fine-tuned on {', '.join(theirs)}."
        )
        return notes
    spec = model.spec
    ours = _describe(spec.backbone, model.dim, model.pca is not None, spec.pooling, spec.input_size)
    theirs = sorted({_describe(r.backbone, r.dims, r.pca, r.pooling, r.resolution) for r in same_data})
    notes.append(
        f"{ds.name}: no paper figure for {which}: the paper's {variant} figures are for "
        f"{'; '.join(theirs)}, not {ours}."
    )
    return notes


def _describe(backbone: str, dims: int | None, pca: bool, pooling: str, resolution: int) -> str:
    return f"{backbone} {dims or '?'}-d{' (PCA)' if pca else ''}, {pooling} pooling, {resolution} px"
