"""Tiny benchmark datasets in the real on-disk layouts (SOP, CUB, In-Shop, ROxford5k/RParis6k, SfM-120k),
with class-structured images (the smoke suite's procedural shapes) so a model can actually retrieve them.

The readers check counts against the protocol; these layouts are small, so a test that runs the
benchmark on them gives the catalog their counts: `use_layout_counts(monkeypatch)` (the defaults of the
writers below; pass others to match other sizes)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from irt_desktop.retrieval.benchmark.smoke_data import make_smoke_dataset, render, smoke_classes
from irt_desktop.retrieval.datasets import ExpectedCounts

SIZE = 40


def _image(path: Path, cls_index: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cls = smoke_classes(64, seed=7)[cls_index]
    render(cls, np.random.default_rng([cls_index, seed]), SIZE).save(path, quality=90)


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_sop(root: Path, train_classes: int = 4, test_classes: int = 4, per_class: int = 3) -> Path:
    """`Ebay_train.txt` / `Ebay_test.txt` with SOP's header, images under `<super>_final/`."""
    image_id = 0
    for name, first, n in (
        ("Ebay_train.txt", 0, train_classes),
        ("Ebay_test.txt", train_classes, test_classes),
    ):
        lines = ["image_id class_id super_class_id path"]
        for c in range(first, first + n):
            for i in range(per_class):
                image_id += 1
                rel = f"bicycle_final/{100000 + c}_{i}.JPG"
                _image(root / rel, c, i)
                lines.append(f"{image_id} {c + 1} 1 {rel}")
        _write(root / name, lines)
    return root


def write_cub(root: Path, train_classes: int = 4, test_classes: int = 4, per_class: int = 3) -> Path:
    """The CUB layout (classes 1.. train, 101.. test), as the smoke suite writes it."""
    return make_smoke_dataset(root, train_classes, test_classes, per_class, SIZE, seed=3)


def write_inshop(root: Path, train_items: int = 4, test_items: int = 4, per_item: int = 4) -> Path:
    """`list_eval_partition.txt` (count, header, rows); test items split between query and gallery."""
    rows = []
    for item in range(train_items + test_items):
        for i in range(per_item):
            rel = f"img/WOMEN/Dresses/id_{item + 1:08d}/{i:02d}_1_front.jpg"
            _image(root / rel, item, i)
            status = "train" if item < train_items else ("query" if i % 2 == 0 else "gallery")
            rows.append(f"{rel} id_{item + 1:08d} {status}")
    _write(root / "list_eval_partition.txt", [str(len(rows)), "image_name item_id evaluation_status", *rows])
    return root


def write_revisited(root: Path, name: str, classes: int = 3, per_class: int = 4) -> Path:
    """`root/<name>/gnd_<name>.pkl` + `jpg/`: one query per class (cropped by its bbx); its class's database
    images are easy (first half) or hard (rest); one image of the next class is junk."""
    folder = root / name
    imlist, qimlist, gnd = [], [], []
    for c in range(classes):
        for i in range(per_class):
            imlist.append(f"{name}_{c}_{i}")
            _image(folder / "jpg" / f"{imlist[-1]}.jpg", 20 + c, i)
    for c in range(classes):
        qimlist.append(f"{name}_query_{c}")
        _image(folder / "jpg" / f"{qimlist[-1]}.jpg", 20 + c, 99)
        own = [c * per_class + i for i in range(per_class)]
        junk = [((c + 1) % classes) * per_class]
        gnd.append(
            {
                "bbx": [2.0, 2.0, SIZE - 2.0, SIZE - 2.0],
                "easy": own[: per_class // 2],
                "hard": own[per_class // 2 :],
                "junk": junk,
            }
        )
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"gnd_{name}.pkl", "wb") as f:
        pickle.dump({"imlist": imlist, "qimlist": qimlist, "gnd": gnd}, f)
    return root


def write_all(data_root: Path) -> Path:
    """Every benchmark under `data_root` as `irt-desktop --benchmark --data-root` expects it."""
    write_sop(data_root / "sop")
    write_cub(data_root / "cub")
    write_inshop(data_root / "inshop")
    write_revisited(data_root, "roxford5k")
    write_revisited(data_root, "rparis6k")
    return data_root


def write_sfm120k(root: Path, train_clusters: int = 3, val_clusters: int = 2, per_cluster: int = 4) -> Path:
    """The cirtorch layout: `root/retrieval-SfM-120k.pkl` ({"train", "val"}: cids, cluster, qidxs, pidxs)
    and `root/ims/<cid[-2:]>/<cid[-4:-2]>/<cid[-6:-4]>/<cid>` (JPEG data, no extension)."""
    db = {}
    for split, first, n in (("train", 0, train_clusters), ("val", train_clusters, val_clusters)):
        cids, cluster, qidxs, pidxs = [], [], [], []
        for c in range(first, first + n):
            for i in range(per_cluster):
                cid = f"{split}{c:03d}{i:02d}" + "a1b2c3d4e5f6"[: 6 + (c + i) % 5]
                path = root / "ims" / cid[-2:] / cid[-4:-2] / cid[-6:-4] / cid
                path.parent.mkdir(parents=True, exist_ok=True)
                cls = smoke_classes(64, seed=7)[30 + c]
                render(cls, np.random.default_rng([c, i]), SIZE).save(path, "JPEG", quality=90)
                if i:
                    qidxs.append(len(cids) - i)
                    pidxs.append(len(cids))
                cids.append(cid)
                cluster.append(c)
        db[split] = {"cids": cids, "cluster": cluster, "qidxs": qidxs, "pidxs": pidxs}
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "retrieval-SfM-120k.pkl", "wb") as f:
        pickle.dump(db, f, protocol=2)
    return root


def layout_counts(
    sop: tuple[int, int, int] = (4, 4, 3),
    cub: tuple[int, int, int] = (4, 4, 3),
    inshop: tuple[int, int, int] = (4, 4, 4),
    revisited: tuple[int, int] = (3, 4),
) -> dict[str, ExpectedCounts]:
    """The counts the writers above produce (their defaults unless told), by catalog dataset name."""
    (str_, ste, sp), (ctr, cte, cp), (itr, ite, ip), (rc, rp) = sop, cub, inshop, revisited
    query = ite * ((ip + 1) // 2)
    return {
        "sop": ExpectedCounts({"train": str_ * sp, "test": ste * sp}, {"train": str_, "test": ste}),
        "cub": ExpectedCounts({"train": ctr * cp, "test": cte * cp}, {"train": ctr, "test": cte}),
        "inshop": ExpectedCounts({"train": itr * ip, "query": query, "gallery": ite * ip - query}),
        "roxford": ExpectedCounts({"database": rc * rp, "query": rc}),
        "rparis": ExpectedCounts({"database": rc * rp, "query": rc}),
    }


def use_layout_counts(monkeypatch, **sizes) -> dict[str, ExpectedCounts]:
    """Make the benchmark catalog expect the counts of these layouts instead of the paper's."""
    import dataclasses

    from irt_desktop.retrieval.benchmark.catalog import DATASETS

    counts = layout_counts(**sizes)
    for name, expected in counts.items():
        monkeypatch.setitem(DATASETS, name, dataclasses.replace(DATASETS[name], counts=expected))
    return counts
