"""The record of one dataset's evaluation: rows of our figures beside the paper's where the model and the
dataset are the paper's setting (mean +- std over seeds), the notes that say why a paper figure is
missing or shown only for reference, and the dataset's details in results.json."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from irt_desktop.retrieval.benchmark.catalog import SFM120K, BenchmarkDataset
from irt_desktop.retrieval.benchmark.identity import ModelIdentity
from irt_desktop.retrieval.benchmark.models import training_data
from irt_desktop.retrieval.benchmark.report import BenchmarkResult, BenchmarkRow
from irt_desktop.retrieval.bundle import ModelBundle
from irt_desktop.retrieval.model import IRT
from irt_desktop.retrieval.paper_results import PAPER_TABLES, load_paper_results, paper_value
from irt_desktop.retrieval.training.config import load_recipe


@dataclass
class EvaluatedRun:
    """One evaluated model on one dataset."""

    bundle: ModelBundle
    identity: ModelIdentity
    model: IRT
    metrics: dict[str, float]
    precision: str = ""


def record_runs(
    result: BenchmarkResult,
    ds: BenchmarkDataset,
    runs: Sequence[EvaluatedRun],
    partial: bool,
    decode: str,
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
    caveat = schedule_caveat(ds, first.bundle)
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
        result.rows.append(
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
    flagged = {r.caveat for r in result.rows if r.dataset == ds.name and r.caveat}
    for text in sorted(flagged):
        result.notes.append(
            f"{ds.name}: {text}: the paper's figures (marked *) are shown for reference, but this result "
            "is not at the paper's setting."
        )
    if missing:
        if partial:
            result.notes.append(f"{ds.name}: no paper figure: the dataset is partial.")
        elif not ident.comparable:
            result.notes.append(f"{ds.name}: no paper figure beside {ident.label}: {ident.reason}.")
        else:
            result.notes += _why_no_paper_figure(ds, ident.variant, model, trained_on, missing)
    result.details[ds.name] = {
        "model": first.bundle.id,
        "models": [r.bundle.id for r in runs],
        "variant": ident.label,
        "identity": ident.to_dict(),
        "trained_on": trained_on,
        "dims": dims,
        "seeds": list(seeds),
        "precision": sorted({r.precision for r in runs if r.precision}),
        "decoding": decode,
        "resolution": spec.input_size,
        "partial": result.partial.get(ds.name, ""),
        "metrics": {k: float(np.mean([r.metrics[k] for r in runs])) for k in first.metrics},
        "runs": [r.metrics for r in runs] if len(runs) > 1 else [],
    }


def schedule_caveat(ds: BenchmarkDataset, bundle: ModelBundle) -> str:
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
