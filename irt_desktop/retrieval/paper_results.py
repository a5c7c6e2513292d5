"""The paper's reported numbers (model/paper_results.toml) as flat, searchable records."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from irt_desktop.resources import data_path

# Tables with the paper's own numbers; `paper_value` looks only at these unless told otherwise.
PAPER_TABLES = ("category_level", "supervision_ablation", "pooling_ablation", "particular_objects")


@dataclass(frozen=True)
class PaperResult:
    """One reported number, in percent as printed in the paper."""

    table: str
    variant: str
    backbone: str
    dataset: str
    metric: str
    value: float
    dims: int | None = None
    pooling: str = "cls"
    pca: bool = False
    resolution: int = 224
    # What the model was fine-tuned on; None: not fine-tuned (IRT_O, ImageNet weights as they are).
    train_data: str | None = None
    note: str = ""


@functools.cache
def _load(path: Path) -> tuple[PaperResult, ...]:
    with path.open("rb") as f:
        doc = tomllib.load(f)
    defaults = doc.get("defaults", {})
    out = []
    for row in doc["results"]:
        setting = {**defaults, **{k: v for k, v in row.items() if k != "values"}}
        for key, value in row["values"].items():
            dataset, metric = key.split(".", 1)
            train_data = setting.get("train_data")
            if train_data is None and setting.get("variant") != "IRT_O":
                # The file's convention (see its header): fine-tuned on the dataset it is evaluated on.
                train_data = dataset
            out.append(
                PaperResult(
                    dataset=dataset,
                    metric=metric,
                    value=float(value),
                    **{**setting, "train_data": train_data},
                )
            )
    return tuple(out)


def load_paper_results(path: Path | None = None) -> list[PaperResult]:
    """All rows of the shipped table (or of `path`), one record per number, in file order."""
    return list(_load(path or data_path("model", "paper_results.toml")))


def find_paper_results(**criteria: object) -> list[PaperResult]:
    """Records whose fields equal every given criterion, e.g. `find_paper_results(dataset="cub")`."""
    fields = PaperResult.__dataclass_fields__
    unknown = set(criteria) - set(fields)
    if unknown:
        raise TypeError(f"unknown field(s) {sorted(unknown)}; fields are {list(fields)}")
    return [r for r in load_paper_results() if all(getattr(r, k) == v for k, v in criteria.items())]


class _Any(Enum):
    """A criterion left unchecked (None is a value: not fine-tuned)."""

    ANY = "any"


ANY = _Any.ANY


def paper_value(
    variant: str,
    backbone: str,
    dims: int,
    dataset: str,
    metric: str,
    *,
    table: str | None = None,
    pooling: str = "cls",
    resolution: int | _Any = ANY,
    train_data: str | _Any | None = ANY,
    pca: bool | _Any = ANY,
) -> float | None:
    """The paper's number for a setting, or None if the paper has none.

    A benchmark comparing a model with the paper passes everything it knows about the model: its
    pooling, input `resolution`, whether it is PCA-reduced, and `train_data`, what it was fine-tuned on
    (None: not fine-tuned); criteria left at ANY are not checked.

    When a setting appears in several tables (e.g. IRT_L DeiT-S in two ablations, with slightly
    different numbers), the first table in PAPER_TABLES order wins; pass `table` to choose.
    """
    criteria: dict[str, object] = {
        "variant": variant,
        "backbone": backbone,
        "dims": dims,
        "dataset": dataset,
        "metric": metric,
        "pooling": pooling,
    }
    for name, value in (("resolution", resolution), ("train_data", train_data), ("pca", pca)):
        if value is not ANY:
            criteria[name] = value
    rows = find_paper_results(**criteria)
    rows = [r for r in rows if r.table == table] if table else [r for r in rows if r.table in PAPER_TABLES]
    rows.sort(key=lambda r: PAPER_TABLES.index(r.table) if r.table in PAPER_TABLES else len(PAPER_TABLES))
    return rows[0].value if rows else None
