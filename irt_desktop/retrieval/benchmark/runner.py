"""`irt-desktop --benchmark`: evaluate (and optionally first train, per recipe) a model on the paper's
datasets and put our figures beside the paper's."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from irt_desktop.retrieval.benchmark.catalog import DATASETS, SFM120K, BenchmarkDataset, parse_dataset_names
from irt_desktop.retrieval.benchmark.identity import ModelIdentity, identify
from irt_desktop.retrieval.benchmark.report import BenchmarkResult, BenchmarkRow
from irt_desktop.retrieval.bundle import ModelBundle, list_bundles
from irt_desktop.retrieval.datasets import (
    CategoryBenchmark,
    DatasetError,
    MissingDatasetFile,
    RevisitedBenchmark,
    UnreadableDatasetImage,
)
from irt_desktop.retrieval.metrics import evaluate_revisited, rank_database, unit_float32
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


def is_off_the_shelf(bundle: ModelBundle) -> bool:
    """Verified published pretrained weights (ImageNet DeiT) with no training recorded: the paper's
    IRT_O. An imported file whose hash the card does not list is not, whatever card it came in as."""
    return identify(bundle).variant == "IRT_O"


def model_variant(bundle: ModelBundle) -> str:
    """The paper's name for what a bundle is, when a paper figure may stand beside it: IRT_O for verified
    off-the-shelf weights, IRT_L / IRT_R for one fine-tune of them; "" otherwise (see identity)."""
    ident = identify(bundle)
    return ident.variant if ident.comparable else ""


def training_data(bundle: ModelBundle) -> str | None:
    """What a bundle was fine-tuned on, as a paper_results dataset key ("sop", "sfm120k", or the
    recorded name of other data); None when it was not fine-tuned."""
    prov = bundle.card.provenance
    if prov.get("kind") not in ("trained", "fine-tuned") or prov.get("variant") == "IRT_O":
        return None
    data = prov.get("data") if isinstance(prov.get("data"), dict) else {}
    name = str(data.get("name", "")).strip().lower()
    if name in DATASETS:
        return DATASETS[name].paper_key
    if name == SFM120K.name:
        return SFM120K.paper_key
    recipe = prov.get("recipe") if isinstance(prov.get("recipe"), dict) else {}
    if str(recipe.get("dataset", "")).lower() == "sfm120k":
        # An SfM-120k recipe run on SfM-120k given as class folders, named whatever the folders are.
        return "sfm120k"
    return name or "unrecorded data"


def default_bundle(models_dir: Path) -> ModelBundle:
    """An installed off-the-shelf DeiT-S, else one made from cached or downloaded weights.

    Raises irt_desktop.retrieval.weights.WeightsUnavailable (with what to do) when offline and uncached.
    """
    return card_bundle(DEFAULT_CARD, models_dir)


def card_bundle(card_name: str, models_dir: Path) -> ModelBundle:
    """An installed verified off-the-shelf bundle of the shipped card `card_name` (full width, its own
    pooling), else one installed from cached or downloaded weights (the hub verifies the file).

    Raises WeightsUnavailable when offline and uncached, KeyError for an unknown card."""
    from irt_desktop.retrieval.card import shipped_cards
    from irt_desktop.retrieval.weights import install_pretrained

    card = shipped_cards()[card_name]
    for b in list_bundles(models_dir):
        if b.card.name == card_name and is_off_the_shelf(b) and b.card.spec == card.spec:
            return b
    return install_pretrained(card, models_dir)


def with_pooling(bundle: ModelBundle, pooling: str, models_dir: Path) -> ModelBundle:
    """`bundle` with another token pooling (the paper's pooling ablation): the same weights, a spec with
    `pooling`, saved as a bundle of its own (the provenance of the weights is unchanged)."""
    from irt_desktop.retrieval.bundle import save_bundle
    from irt_desktop.retrieval.card import ModelCard

    if bundle.card.spec.pooling == pooling:
        return bundle
    model = bundle.load_model()
    spec = dataclasses.replace(model.spec, pooling=pooling)
    derived = IRT(spec, backbone_state=None)
    derived.backbone.load_state_dict(model.backbone.state_dict())
    derived.set_pca(model.pca)
    card = ModelCard(
        name=f"{bundle.card.name}-{pooling}",
        spec=derived.spec,
        title=f"{bundle.card.title or bundle.card.name}, {pooling} pooling",
        description=f"{bundle.id} with {pooling} pooling of its tokens.",
        provenance={**bundle.card.provenance, "derived_from": bundle.id, "pooling": pooling},
    )
    return save_bundle(derived.eval(), card, models_dir)


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
            "backend": f"torch ({_device_name(device)})",
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


MULTISCALE = (1.0, 2**-0.5, 0.5)


@dataclass(frozen=True)
class Evaluation:
    """How descriptors are computed: `precision` ("fp32", or "auto": bf16 where it agrees with fp32),
    `decode` ("full" or "draft" JPEG decoding) and the landmark `scales`."""

    precision: str = "fp32"
    decode: str = "full"
    scales: tuple[float, ...] = (1.0,)

    def settings(self, spec: Any, fast: bool) -> dict[str, Any]:
        from irt_desktop.retrieval.spec import resize_side

        ms = ", ".join(f"{s:.4g}" for s in self.scales)
        return {
            "mode": "fast (--fast)" if fast else "paper (fp32, full decoding)",
            "precision": "fp32"
            if self.precision == "fp32"
            else "bf16 autocast where the device runs it and it agrees with fp32 (cosine >= 0.999), "
            "else fp32 (the precision used is in each dataset's details)",
            "decoding": "full JPEG decoding"
            if self.decode == "full"
            else "JPEG draft decoding (DCT scaling to at least the size the image is resized to)",
            "resolution": f"{spec.input_size} px: category level short side {resize_side(spec)} (bicubic) "
            f"then centre crop {spec.input_size}; landmarks longer side {spec.input_size}, queries at "
            "their full image's scale (cirtorch)",
            "landmark scales": "1 (single scale)"
            if self.scales == (1.0,)
            else f"{ms}: the mean of the L2-normalised descriptors, L2-normalised (cirtorch "
            "extract_ms, p = 1)",
        }


def _device_name(device: str | None) -> str:
    from irt_desktop.device import best_device

    try:
        return best_device(device)
    except RuntimeError:
        return str(device)


def software_versions() -> dict[str, str]:
    """Versions of what computes the figures."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("irt-desktop", "torch", "torchvision", "timm", "numpy", "pillow"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    import torch

    if torch.version.cuda:
        out["cuda"] = str(torch.version.cuda)
    return out


@dataclass
class _Run:
    """One evaluated model on one dataset."""

    bundle: ModelBundle
    identity: ModelIdentity
    model: IRT
    metrics: dict[str, float]
    precision: str = ""


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
            runs.append(_Run(bundle, ident, model, metrics, info.get("precision", "")))
        if runs:
            self._record(ds, runs, bool(bench.partial))

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
            runs.append(_Run(bundle, ident, model, metrics, precision))
        described = landmark_transform(runs[0].model.spec, runs[0].model.patch_size).describe()
        self.result.notes.append(
            f"{ds.name}: {described}. PAPER.md states no landmark preprocessing of its own."
        )
        self._record(ds, runs, bool(bench.partial), shown=("mAP_medium", "mAP_hard", "mAP_easy"))

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

    # -- the record -------------------------------------------------------------------------------------

    def _record(
        self,
        ds: BenchmarkDataset,
        runs: Sequence[_Run],
        partial: bool,
        shown: Sequence[str] | None = None,
    ) -> None:
        """Rows for `runs` (one model, or one fine-tune per seed: mean +- std), beside the paper's figure
        where the model and the dataset are the paper's setting."""
        first = runs[0]
        ident, model = first.identity, first.model
        spec, dims = model.spec, model.dim
        trained_on = training_data(first.bundle)
        seeds = tuple(r.identity.seed for r in runs if r.identity.seed is not None)
        comparable = ident.comparable and not partial
        setting = {
            "pooling": spec.pooling,
            "resolution": spec.input_size,
            "pca": model.pca is not None,
            "train_data": trained_on,
        }
        caveat = self._schedule_caveat(ds, first.bundle)
        missing = []
        metrics = list(shown or first.metrics)
        for metric in metrics:
            values = [r.metrics[metric] for r in runs]
            paper, unnamed = None, False
            if comparable and ident.variant:
                paper = paper_value(ident.variant, spec.backbone, dims, ds.paper_key, metric, **setting)
                if paper is None and ident.variant in ("IRT_L", "IRT_R"):
                    # The particular-objects row of DeiT-S† does not name its variant (paper_results.toml).
                    paper = paper_value("fine-tuned", spec.backbone, dims, ds.paper_key, metric, **setting)
                    unnamed = paper is not None
            if paper is None:
                missing.append(metric)
            flags = [caveat] if caveat and paper is not None else []
            if unnamed:
                flags.append("the paper does not name this row's variant (IRT_L or IRT_R)")
            self.result.rows.append(
                BenchmarkRow(
                    ds.name,
                    metric,
                    float(np.mean(values)),
                    paper,
                    ident.label,
                    dims,
                    "; ".join(flags),
                    ident.provenance,
                    seeds,
                    float(np.std(values, ddof=1)) if len(values) > 1 else None,
                    tuple(values) if len(values) > 1 else (),
                    partial,
                )
            )
        flagged = {r.caveat for r in self.result.rows if r.dataset == ds.name and r.caveat}
        for text in sorted(flagged):
            self.result.notes.append(
                f"{ds.name}: {text}: the paper's figures (marked *) are shown for reference, but this result "
                "is not at the paper's setting."
            )
        if missing:
            if partial:
                self.result.notes.append(f"{ds.name}: no paper figure: the dataset is partial.")
            elif not ident.comparable:
                self.result.notes.append(f"{ds.name}: no paper figure beside {ident.label}: {ident.reason}.")
            else:
                self.result.notes += _why_no_paper_figure(ds, ident.variant, model, trained_on, missing)
        self.result.details[ds.name] = {
            "model": first.bundle.id,
            "models": [r.bundle.id for r in runs],
            "variant": ident.label,
            "identity": ident.to_dict(),
            "trained_on": trained_on,
            "dims": dims,
            "seeds": list(seeds),
            "precision": sorted({r.precision for r in runs if r.precision}),
            "decoding": self.evaluation.decode,
            "resolution": spec.input_size,
            "partial": self.result.partial.get(ds.name, ""),
            "metrics": {k: float(np.mean([r.metrics[k] for r in runs])) for k in first.metrics},
            "runs": [r.metrics for r in runs] if len(runs) > 1 else [],
        }

    def _schedule_caveat(self, ds: BenchmarkDataset, bundle: ModelBundle) -> str:
        """Why a trained model's run is not the paper's (its recorded iterations against the dataset's
        recipe, which has the paper's; SfM-120k, whose schedule the paper does not state), or ""."""
        prov = bundle.card.provenance
        trained_on = training_data(bundle)
        if prov.get("kind") not in ("trained", "fine-tuned"):
            return ""
        done = (prov.get("training") or {}).get("iterations")
        if ds.kind == "landmarks" and trained_on == SFM120K.paper_key:
            return (
                f"PAPER.md does not state the SfM-120k schedule: trained for {done} iterations of the "
                "sfm120k recipe's assumed settings"
            )
        if ds.recipe is None or trained_on != ds.paper_key:
            return ""
        paper = load_recipe(ds.recipe).train.get("iterations")
        if done is None or paper is None or int(done) == int(paper):
            return ""
        return f"trained for {int(done)} iterations, not the paper's {int(paper)}"


def landmark_recipe(bundle: ModelBundle) -> str:
    """The SfM-120k recipe for this backbone (one whose starting card has it), else `sfm120k`."""
    from irt_desktop.retrieval.card import shipped_cards
    from irt_desktop.retrieval.training.config import list_recipes

    cards = shipped_cards()
    for name in list_recipes():
        recipe = load_recipe(name)
        card = cards.get(recipe.card)
        if (
            recipe.dataset == "sfm120k"
            and card is not None
            and card.spec.backbone == bundle.card.spec.backbone
        ):
            return name
    return "sfm120k"


def _why_no_paper_figure(
    ds: BenchmarkDataset,
    variant: str,
    model: IRT,
    trained_on: str | None,
    metrics: Sequence[str],
) -> list[str]:
    """Notes that say why `metrics` of a comparable model have no paper figure beside them."""
    reported = [
        r
        for r in load_paper_results()
        if r.table in PAPER_TABLES
        and (r.variant == variant or (r.variant == "fine-tuned" and variant in ("IRT_L", "IRT_R")))
        and r.dataset == ds.paper_key
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
