"""What each benchmark's protocol says it holds (PAPER.md "Datasets and protocols"), and the check that
a dataset on disk holds exactly that.

The counts are data a reader is given, not constants inside it: the benchmark passes the paper's
(PROTOCOL_COUNTS), tests and the smoke suite pass the counts of their own small layouts. A dataset that
differs is refused (`PartialDataset`) unless the caller allows a partial set; then the difference is
returned, to be marked in the report, and no paper figure is put beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from irt_desktop.retrieval.datasets.base import MalformedDatasetFile


class PartialDataset(MalformedDatasetFile):
    """The dataset reads, but holds other counts than its protocol (a truncated list, a partial copy)."""


@dataclass(frozen=True)
class ExpectedCounts:
    """Images per split and, where the protocol fixes them, classes per split."""

    images: Mapping[str, int]
    classes: Mapping[str, int] = field(default_factory=dict)

    def differences(self, images: Mapping[str, int], classes: Mapping[str, int]) -> list[str]:
        out = []
        for split, n in self.images.items():
            if images.get(split) != n:
                out.append(f"{split}: {images.get(split, 0):,} images, the protocol has {n:,}")
        for split, n in self.classes.items():
            if classes.get(split) != n:
                out.append(f"{split}: {classes.get(split, 0):,} classes, the protocol has {n:,}")
        return out


PROTOCOL_COUNTS: dict[str, ExpectedCounts] = {
    "sop": ExpectedCounts({"train": 59_551, "test": 60_502}, {"train": 11_318, "test": 11_316}),
    "cub": ExpectedCounts({"train": 5_864, "test": 5_924}, {"train": 100, "test": 100}),
    "inshop": ExpectedCounts({"train": 25_882, "query": 14_218, "gallery": 12_612}),
    "roxford5k": ExpectedCounts({"database": 4_993, "query": 70}),
    "rparis6k": ExpectedCounts({"database": 6_322, "query": 70}),
}


def check_counts(
    where: Path,
    expected: ExpectedCounts | None,
    images: Mapping[str, int],
    classes: Mapping[str, int] | None = None,
    *,
    allow_partial: bool = False,
) -> str:
    """ "" when the counts are the protocol's (or none are expected); with `allow_partial`, what differs
    (for the report); otherwise raises PartialDataset naming `where` and what differs."""
    if expected is None:
        return ""
    diff = expected.differences(images, classes or {})
    if not diff:
        return ""
    text = "; ".join(diff)
    if allow_partial:
        return text
    raise PartialDataset(
        f"{where}: not the complete dataset ({text}). A truncated list or a partial copy would be "
        "evaluated beside the paper's figures as if it were the benchmark; fix the dataset, or run with "
        "--allow-partial to evaluate it anyway (marked partial, with no paper figure)."
    )
