"""`irt-desktop --benchmark`: evaluate (and optionally first train, per recipe) a model on the paper's
datasets and put our figures beside the paper's.

run_benchmark and the per-dataset job (load, train, evaluate) live here; the other concepts have modules
of their own: progress (reports, cancelling), evaluation (how descriptors are computed), models (which
model, what it is), record (rows beside the paper's figures and the notes about them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from irt_desktop.retrieval.benchmark.catalog import DATASETS, SFM120K, BenchmarkDataset, parse_dataset_names
from irt_desktop.retrieval.benchmark.evaluation import MULTISCALE, Evaluation, device_name, software_versions
from irt_desktop.retrieval.benchmark.identity import ModelIdentity, identify
from irt_desktop.retrieval.benchmark.models import (
    card_bundle,
    default_bundle,
    installed_default,
    is_off_the_shelf,
    landmark_recipe,
    model_variant,
    training_data,
    with_pooling,
)
from irt_desktop.retrieval.benchmark.progress import BenchmarkCancelled, BenchmarkProgress, _Reporter
from irt_desktop.retrieval.benchmark.record import EvaluatedRun, record_runs
from irt_desktop.retrieval.benchmark.report import BenchmarkResult
from irt_desktop.retrieval.bundle import ModelBundle
from irt_desktop.retrieval.datasets import (
    CategoryBenchmark,
    DatasetError,
    MissingDatasetFile,
    RevisitedBenchmark,
    UnreadableDatasetImage,
)
from irt_desktop.retrieval.metrics import evaluate_revisited, rank_database, unit_float32
from irt_desktop.retrieval.model import IRT
from irt_desktop.retrieval.pca import PCAProjection
from irt_desktop.retrieval.training import TrainConfig, Trainer, evaluate_model, extract_features
from irt_desktop.retrieval.training.distributed import init_distributed
from irt_desktop.retrieval.transforms import landmark_transform

# Re-exported: these lived here before the split, and callers name them as runner's.
__all__ = [
    "MULTISCALE",
    "TRAIN_CHOICES",
    "BenchmarkCancelled",
    "BenchmarkProgress",
    "Evaluation",
    "card_bundle",
    "default_bundle",
    "installed_default",
    "is_off_the_shelf",
    "landmark_recipe",
    "model_variant",
    "run_benchmark",
    "software_versions",
    "training_data",
    "with_pooling",
]

TRAIN_CHOICES = ("none", "irt_l", "irt_r")


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
    fast: bool = False,
    allow_partial: bool = False,
    multiscale: bool = False,
    seeds: Sequence[int] | None = None,
    pooling: str | None = None,
) -> BenchmarkResult:
    """Evaluate `model` (default: off-the-shelf DeiT-S) on each dataset, after training it per the
    dataset's recipe when `train` is irt_l / irt_r (landmarks: on SfM-120k, found under the data root).

    `dims` below the model's width: PCA fitted on the training split; None (the default): the model's
    own width. `pooling`: evaluate (and train) the same weights with another token pooling. `seeds`:
    train once per seed and report mean +- std (default: the recipe's seed). `fast`: bf16 where it
    agrees with fp32 and JPEG draft decoding; the default is fp32 and full decoding, what the paper's
    figures mean. `multiscale`: landmark descriptors averaged over scales 1, 1/sqrt 2, 1/2.
    `allow_partial`: evaluate a dataset whose counts are not the protocol's (marked, no paper figure);
    by default it is refused.

    A dataset that is missing is reported with what to download; one that fails (a malformed list, an
    unreadable image) is reported with why, and the others are still evaluated. A paper figure is shown
    only beside a model of the same setting (variant, backbone, dims, pooling, input size, training
    data) whose provenance traces to the published weights (benchmark.identity); the notes say why one is
    missing, and rows of models trained on another schedule than the paper's are flagged. Writes
    `out_dir/results.json` and `out_dir/report.md`; trained bundles go to `models_dir` (default
    `out_dir/models`), training checkpoints to `out_dir/work` (a rerun resumes them)."""
    names = parse_dataset_names(datasets)
    train = train.lower()
    if train not in TRAIN_CHOICES:
        raise ValueError(f"train must be one of {', '.join(TRAIN_CHOICES)}, got {train!r}")
    seed_list = tuple(dict.fromkeys(int(x) for x in seeds)) if seeds else ()
    if len(seed_list) > 1 and train == "none":
        raise ValueError("several seeds need training (--train irt_l or irt_r)")
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
    if pooling:
        bundle = with_pooling(bundle, pooling, models_dir)
    evaluation = Evaluation(
        precision="auto" if fast else "fp32",
        decode="draft" if fast else "full",
        scales=MULTISCALE if multiscale else (1.0,),
    )
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
            **evaluation.settings(bundle.card.spec, fast),
            "seeds": ", ".join(map(str, seed_list)) or "the recipe's",
            "partial datasets": "allowed (marked, no paper figure)" if allow_partial else "refused",
            "backend": f"torch ({device_name(device)})",
            "software": software_versions(),
        },
    )
    job = _Job(
        result,
        bundle,
        train,
        dims,
        device,
        out_dir,
        models_dir,
        iterations,
        num_workers,
        reporter,
        evaluation=evaluation,
        seeds=seed_list,
        data_root=data_root,
        allow_partial=allow_partial,
    )
    job.is_main = ctx.is_main
    try:
        for name in names:
            job.dataset(DATASETS[name])
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
    evaluation: Evaluation = field(default_factory=Evaluation)
    seeds: tuple[int, ...] = ()
    data_root: Path = Path(".")
    allow_partial: bool = False
    is_main: bool = True
    # Landmark fine-tunes, trained once on SfM-120k and evaluated on both ROxford and RParis.
    landmark_models: list[tuple[ModelBundle, ModelIdentity]] | None = None

    # -- one dataset ------------------------------------------------------------------------------------

    def dataset(self, ds: BenchmarkDataset) -> None:
        """Load, (train,) evaluate and record `ds`; a dataset that fails is recorded and left behind."""
        self.reporter.stage(ds.name, "load", f"reading {ds.title}")
        t0 = time.monotonic()
        try:
            try:
                bench = ds.load(self.data_root, allow_partial=self.allow_partial)
            except MissingDatasetFile as exc:
                self.result.missing[ds.name] = str(exc)
                return
            if bench.partial:
                self.result.partial[ds.name] = bench.partial
                self.result.notes.append(
                    f"{ds.name}: PARTIAL dataset ({bench.partial}), evaluated because --allow-partial was "
                    "given: not the benchmark, no paper figure."
                )
            if isinstance(bench, CategoryBenchmark):
                self.category(ds, bench)
            else:
                self.landmarks(ds, bench)
        except BenchmarkCancelled:
            raise
        except Exception as exc:  # one dataset's failure never loses the others' results
            self._failed(ds, exc)
            return
        if ds.name in self.result.details:
            self.result.details[ds.name]["seconds"] = round(time.monotonic() - t0, 1)
        self.reporter.stage(ds.name, "done")

    def _failed(self, ds: BenchmarkDataset, exc: Exception) -> None:
        self.result.rows = [r for r in self.result.rows if r.dataset != ds.name]
        self.result.details.pop(ds.name, None)
        message = str(exc).strip() or type(exc).__name__
        if not isinstance(exc, DatasetError | UnreadableDatasetImage):
            message = f"{type(exc).__name__}: {message}"
        self.result.failed[ds.name] = message
        first = message.splitlines()[0]
        self.result.notes.append(f"{ds.name}: FAILED, not evaluated: {first}")

    # -- training ---------------------------------------------------------------------------------------

    def _fine_tune(
        self, key: str, recipe: str, records: Any, data_name: str, seed: int | None
    ) -> ModelBundle | None:
        """Train `self.bundle` on `records` per `recipe` (the chosen variant, seed); None on DDP ranks
        other than 0."""
        overrides: dict[str, Any] = {"device": self.device, "num_workers": self.num_workers}
        if self.train == "irt_l":
            overrides["koleo_weight"] = 0.0
        if self.iterations is not None:
            overrides["iterations"] = self.iterations
        if seed is not None:
            overrides["seed"] = seed
        width = self.bundle.load_model().width
        if self.dims is not None and self.dims < width:
            overrides["pca_dims"] = self.dims
        cfg = TrainConfig.from_recipe(recipe, **overrides)
        suffix = f"-seed{seed}" if seed is not None else ""
        trainer = Trainer(
            self.bundle,
            records,
            cfg,
            work_dir=self.out_dir / "work" / f"{key}-{self.train}{suffix}",
            models_dir=self.models_dir,
            data_name=data_name,
        )
        self.reporter.stage(
            key, "train", f"{cfg.variant}, {cfg.iterations} iterations, seed {cfg.seed}", cfg.iterations
        )
        res = trainer.run(progress=self.reporter.training(key), cancel=self.reporter.cancel)
        if res.cancelled:
            raise BenchmarkCancelled
        if res.bundle is not None:
            self.result.notes.append(
                f"{key}: trained {res.bundle.id} ({cfg.variant}, recipe {cfg.recipe}, seed {cfg.seed})."
            )
        return res.bundle

    def _models(
        self, key: str, recipe: str | None, records: Any, data_name: str
    ) -> list[tuple[ModelBundle, ModelIdentity]]:
        """The models to evaluate with their identities: the given one, or one fine-tune per seed."""
        if self.train == "none":
            return [(self.bundle, identify(self.bundle, models_dir=self.models_dir))]
        out = []
        for seed in self.seeds or (None,):
            trained = self._fine_tune(key, recipe or key, records, data_name, seed)
            if trained is not None:
                out.append((trained, identify(trained, base=self.bundle, models_dir=self.models_dir)))
        return out

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
            model,
            train_split,
            device=self.device,
            raw=True,
            num_workers=self.num_workers,
            progress=count,
            precision=self.evaluation.precision,
            decode=self.evaluation.decode,
        )
        model.set_pca(PCAProjection.fit(feats, self.dims))
        self.result.notes.append(
            f"{ds.name}: PCA to {self.dims} dims fitted on {len(feats)} training images."
        )
        return model

    # -- evaluation -------------------------------------------------------------------------------------

    def category(self, ds: BenchmarkDataset, bench: CategoryBenchmark) -> None:
        models = self._models(ds.name, ds.recipe, bench.train, ds.name)
        if not self.is_main:
            return
        runs = []
        for bundle, ident in models:
            model = self._with_dims(ds, bundle.load_model(), bench.train)
            count = self.reporter.counter(ds.name, "embed", f"Recall@K on {ds.title}")
            info: dict[str, Any] = {}
            metrics = evaluate_model(
                model,
                bench,
                bench.recall_ks,
                device=self.device,
                num_workers=self.num_workers,
                progress=count,
                precision=self.evaluation.precision,
                decode=self.evaluation.decode,
                info=info,
            )
            runs.append(EvaluatedRun(bundle, ident, model, metrics, info.get("precision", "")))
        if runs:
            record_runs(self.result, ds, runs, bool(bench.partial), self.evaluation.decode)

    def _landmark_models(self) -> list[tuple[ModelBundle, ModelIdentity]]:
        """The given model, or its fine-tunes on SfM-120k (trained once for both landmark datasets); the
        given model, said so, when SfM-120k is missing or fails."""
        if self.landmark_models is not None:
            return self.landmark_models
        if self.train == "none":
            self.landmark_models = self._models("landmarks", None, None, "")
            return self.landmark_models
        try:
            sfm = SFM120K.load(self.data_root, allow_partial=self.allow_partial)
        except DatasetError as exc:
            where = "missing" if isinstance(exc, MissingDatasetFile) else "failed"
            getattr(self.result, where)[SFM120K.name] = str(exc)
            self.result.notes.append(
                f"landmarks: the paper fine-tunes its landmark models on SfM-120k, which is {where} here "
                f"(see below); {self.bundle.id} was evaluated as given."
            )
            self.landmark_models = [(self.bundle, identify(self.bundle, models_dir=self.models_dir))]
            return self.landmark_models
        if sfm.partial:
            self.result.partial[SFM120K.name] = sfm.partial
        recipe = landmark_recipe(self.bundle)
        self.result.notes.append(
            f"sfm120k: {len(sfm.train):,} training images in {sfm.train.num_classes:,} clusters (the class "
            f"of an image is its 3D model); recipe {recipe}; {sum(map(len, sfm.pairs.values())):,} "
            f"query/positive pairs read, {sum(sfm.cross_cluster_pairs.values())} joining two clusters."
        )
        self.landmark_models = self._models(SFM120K.name, recipe, sfm.train, SFM120K.name)
        return self.landmark_models

    def landmarks(self, ds: BenchmarkDataset, bench: RevisitedBenchmark) -> None:
        models = self._landmark_models()  # every DDP rank trains; rank 0 alone evaluates
        if not self.is_main or not models:
            return
        runs = []
        for bundle, ident in models:
            model = bundle.load_model()
            if self.dims is not None and self.dims < model.dim and model.pca is None:
                self.result.notes.append(
                    f"{ds.name}: the paper reports landmark figures at full width only and no PCA is fitted "
                    f"for them here; evaluated at {model.dim} dims."
                )
            db, q, precision = self._landmark_descriptors(ds, model, bench)
            scores = evaluate_revisited(rank_database(db, q), bench.gnd)
            metrics = {}
            for protocol in ("easy", "medium", "hard"):
                for key, value in scores[protocol].items():
                    metrics[f"{key}_{protocol}"] = 100.0 * value
            runs.append(EvaluatedRun(bundle, ident, model, metrics, precision))
        described = landmark_transform(runs[0].model.spec, runs[0].model.patch_size).describe()
        self.result.notes.append(
            f"{ds.name}: {described}. PAPER.md states no landmark preprocessing of its own."
        )
        shown = ("mAP_medium", "mAP_hard", "mAP_easy")
        record_runs(self.result, ds, runs, bool(bench.partial), self.evaluation.decode, shown=shown)

    def _landmark_descriptors(
        self, ds: BenchmarkDataset, model: IRT, bench: RevisitedBenchmark
    ) -> tuple[np.ndarray, np.ndarray, str]:
        """Database and query descriptors, averaged over the scales (cirtorch extract_ms with p = 1: the
        descriptors are signed, so a plain mean of the L2-normalised ones, L2-normalised again)."""
        n = (len(bench.db) + len(bench.queries)) * len(self.evaluation.scales)
        count = self.reporter.counter(ds.name, "embed", f"mAP on {ds.title}")
        done = 0
        sums: list[np.ndarray] = []
        info: dict[str, Any] = {}
        for scale in self.evaluation.scales:
            transform = landmark_transform(model.spec, model.patch_size, scale)
            parts = []
            for records in (bench.db, bench.queries):
                offset = done
                parts.append(
                    extract_features(
                        model,
                        records,
                        device=self.device,
                        num_workers=self.num_workers,
                        progress=lambda d, _t, o=offset: count(o + d, n),
                        transform=transform,
                        # Database images may be draft-decoded near the input size (--fast); queries are
                        # decoded whole: their box is in the full image's pixels.
                        min_side=model.spec.input_size,
                        precision=self.evaluation.precision,
                        decode=self.evaluation.decode,
                        info=info,
                    )
                )
                done += len(records)
            sums = parts if not sums else [a + b for a, b in zip(sums, parts, strict=True)]
        db, q = (unit_float32(x / len(self.evaluation.scales)) for x in sums)
        return db, q, info.get("precision", "")
