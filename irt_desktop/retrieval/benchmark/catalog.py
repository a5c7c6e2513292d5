"""The benchmark datasets: where each lives under the data root, how it is read and evaluated, and what
to download when it is missing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from irt_desktop.retrieval.datasets import (
    PROTOCOL_COUNTS,
    CategoryBenchmark,
    DatasetError,
    ExpectedCounts,
    RevisitedBenchmark,
    SfMDataset,
    load_cub,
    load_inshop,
    load_revisited,
    load_sfm120k,
    load_sop,
)

Loaded = CategoryBenchmark | RevisitedBenchmark | SfMDataset


@dataclass(frozen=True)
class BenchmarkDataset:
    name: str  # as on the command line
    paper_key: str  # dataset name in model/paper_results.toml
    title: str
    kind: str  # "category" (Recall@K), "landmarks" (revisited mAP) or "training" (SfM-120k)
    folders: tuple[str, ...]  # accepted folder names under the data root, first is the documented one
    recipe: str | None  # training recipe; None: the paper trains elsewhere (landmarks: SfM-120k)
    download: str
    # reader(folder, expected counts, allow_partial=...)
    reader: Callable[..., Loaded]
    # The index files its reader opens first, each with the places it accepts (relative to the dataset's
    # folder): enough to tell present from missing without reading the dataset.
    index_files: tuple[tuple[str, ...], ...] = ()
    # What the protocol says the dataset holds (datasets.protocol); None: no count is known to check.
    counts: ExpectedCounts | None = None

    def locate(self, data_root: Path) -> Path:
        """The dataset's folder under `data_root`: the first accepted name that exists, else the
        documented one (whose reader then names the missing file)."""
        for folder in self.folders:
            if (data_root / folder).is_dir():
                return data_root / folder
        return data_root / self.folders[0]

    def load(self, data_root: Path, *, allow_partial: bool = False) -> Loaded:
        """Read the dataset, its counts checked against `counts` (PartialDataset when they differ,
        unless `allow_partial`). Errors keep their class (MissingDatasetFile: not there at all) and
        say what to download where."""
        where = self.locate(Path(data_root))
        try:
            return self.reader(where, self.counts, allow_partial=allow_partial)
        except DatasetError as exc:
            raise type(exc)(f"{self.title}: {exc}\n{self.help(Path(data_root))}") from exc

    def missing_file(self, folder: Path) -> Path | None:
        """The first index file not found in `folder` (where it was expected), or None if all are."""
        for places in self.index_files:
            if not any((folder / place).is_file() for place in places):
                return folder / places[0]
        return None

    def help(self, data_root: Path) -> str:
        return f"To benchmark on {self.title}: {self.download}\nPut it in {data_root / self.folders[0]}/"


DATASETS: dict[str, BenchmarkDataset] = {
    d.name: d
    for d in (
        BenchmarkDataset(
            "sop",
            "sop",
            "Stanford Online Products",
            "category",
            ("sop", "Stanford_Online_Products"),
            "sop",
            "download Stanford_Online_Products.zip (Song et al. 2016, Stanford CVGL) and extract it; "
            "the folder holds Ebay_train.txt, Ebay_test.txt and the product folders.",
            load_sop,
            (("Ebay_train.txt",), ("Ebay_test.txt",)),
            PROTOCOL_COUNTS["sop"],
        ),
        BenchmarkDataset(
            "cub",
            "cub",
            "CUB-200-2011",
            "category",
            ("cub", "CUB_200_2011"),
            "cub",
            "download CUB_200_2011.tgz (Caltech Vision Lab) and extract it; the folder holds images.txt, "
            "image_class_labels.txt and images/.",
            load_cub,
            (("images.txt",), ("image_class_labels.txt",)),
            PROTOCOL_COUNTS["cub"],
        ),
        BenchmarkDataset(
            "inshop",
            "inshop",
            "In-Shop Clothes Retrieval (DeepFashion)",
            "category",
            ("inshop", "InShop", "In-shop", "deepfashion_inshop"),
            "inshop",
            "download the DeepFashion In-shop Clothes Retrieval Benchmark (Liu et al. 2016): "
            "list_eval_partition.txt (from Eval/) and img/ (from img.zip) side by side.",
            load_inshop,
            (("list_eval_partition.txt", "Eval/list_eval_partition.txt"),),
            PROTOCOL_COUNTS["inshop"],
        ),
        BenchmarkDataset(
            "roxford",
            "roxford5k",
            "Revisited Oxford5k",
            "landmarks",
            ("roxford5k",),
            None,
            "download gnd_roxford5k.pkl and the Oxford5k jpg/ images with the revisitop scripts "
            "(Radenovic et al. 2018, github.com/filipradenovic/revisitop), giving "
            "roxford5k/gnd_roxford5k.pkl and roxford5k/jpg/.",
            lambda root, counts, **kw: load_revisited(root, "roxford5k", counts, **kw),
            (("gnd_roxford5k.pkl",),),
            PROTOCOL_COUNTS["roxford5k"],
        ),
        BenchmarkDataset(
            "rparis",
            "rparis6k",
            "Revisited Paris6k",
            "landmarks",
            ("rparis6k",),
            None,
            "download gnd_rparis6k.pkl and the Paris6k jpg/ images with the revisitop scripts "
            "(Radenovic et al. 2018, github.com/filipradenovic/revisitop), giving "
            "rparis6k/gnd_rparis6k.pkl and rparis6k/jpg/.",
            lambda root, counts, **kw: load_revisited(root, "rparis6k", counts, **kw),
            (("gnd_rparis6k.pkl",),),
            PROTOCOL_COUNTS["rparis6k"],
        ),
    )
}


# The landmark training set: read for `--train` on roxford/rparis, never evaluated itself. PAPER.md gives
# no image counts for it: the reader checks its structure and that every image is there.
SFM120K = BenchmarkDataset(
    "sfm120k",
    "sfm120k",
    "SfM-120k (retrieval-SfM-120k)",
    "training",
    ("retrieval-SfM-120k", "train/retrieval-SfM-120k", "sfm120k"),
    "sfm120k",
    "download retrieval-SfM-120k.pkl and ims/ with the cnnimageretrieval-pytorch scripts (Radenovic et al. "
    "2018, github.com/filipradenovic/cnnimageretrieval-pytorch), giving retrieval-SfM-120k/"
    "retrieval-SfM-120k.pkl and retrieval-SfM-120k/ims/.",
    load_sfm120k,
    (("retrieval-SfM-120k.pkl",),),
    None,
)


def parse_dataset_names(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """`"sop,cub"` -> ["sop", "cub"]; "all" -> every dataset; unknown names raise ValueError."""
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if names == ["all"]:
        return list(DATASETS)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise ValueError(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    return list(dict.fromkeys(names))
