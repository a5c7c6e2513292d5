"""The benchmark datasets: where each lives under the data root, how it is read and evaluated, and what
to download when it is missing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from irt_desktop.retrieval.datasets import (
    CategoryBenchmark,
    DatasetError,
    RevisitedBenchmark,
    load_cub,
    load_inshop,
    load_revisited,
    load_sop,
)


@dataclass(frozen=True)
class BenchmarkDataset:
    name: str  # as on the command line
    paper_key: str  # dataset name in model/paper_results.toml
    title: str
    kind: str  # "category" (Recall@K) or "landmarks" (revisited mAP)
    folders: tuple[str, ...]  # accepted folder names under the data root, first is the documented one
    recipe: str | None  # training recipe; None: the paper trains elsewhere (landmarks: SfM-120k)
    download: str
    reader: Callable[[Path], CategoryBenchmark | RevisitedBenchmark]
    # The index files its reader opens first, each with the places it accepts (relative to the dataset's
    # folder): enough to tell present from missing without reading the dataset.
    index_files: tuple[tuple[str, ...], ...] = ()

    def locate(self, data_root: Path) -> Path:
        """The dataset's folder under `data_root`: the first accepted name that exists, else the
        documented one (whose reader then names the missing file)."""
        for folder in self.folders:
            if (data_root / folder).is_dir():
                return data_root / folder
        return data_root / self.folders[0]

    def load(self, data_root: Path) -> CategoryBenchmark | RevisitedBenchmark:
        where = self.locate(Path(data_root))
        try:
            return self.reader(where)
        except DatasetError as exc:
            raise DatasetError(f"{self.title}: {exc}\n{self.help(Path(data_root))}") from exc

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
            lambda root: load_revisited(root, "roxford5k"),
            (("gnd_roxford5k.pkl",),),
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
            lambda root: load_revisited(root, "rparis6k"),
            (("gnd_rparis6k.pkl",),),
        ),
    )
}


def parse_dataset_names(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """`"sop,cub"` -> ["sop", "cub"]; "all" -> every dataset; unknown names raise ValueError."""
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if names == ["all"]:
        return list(DATASETS)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise ValueError(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    return list(dict.fromkeys(names))
