"""The paper's reported numbers (model/paper_results.toml) as flat, searchable records."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
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
            out.append(PaperResult(dataset=dataset, metric=metric, value=float(value), **setting))
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


def paper_value(
    variant: str,
    backbone: str,
    dims: int,
    dataset: str,
    metric: str,
    *,
    table: str | None = None,
    pooling: str = "cls",
) -> float | None:
    """The paper's number for a setting, or None if the paper has none.

    When a setting appears in several tables (e.g. IRT_L DeiT-S in two ablations, with slightly
    different numbers), the first table in PAPER_TABLES order wins; pass `table` to choose.
    """
    rows = find_paper_results(
        variant=variant, backbone=backbone, dims=dims, dataset=dataset, metric=metric, pooling=pooling
    )
    rows = [r for r in rows if r.table == table] if table else [r for r in rows if r.table in PAPER_TABLES]
    rows.sort(key=lambda r: PAPER_TABLES.index(r.table) if r.table in PAPER_TABLES else len(PAPER_TABLES))
    return rows[0].value if rows else None
