"""Dataset readers on tiny copies of the real on-disk layouts."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from irt_desktop.retrieval.datasets import (
    DatasetError,
    ImageDataset,
    MalformedDatasetFile,
    MissingDatasetFile,
    UnsafePickleError,
    load_cub,
    load_inshop,
    load_revisited,
    load_sop,
    safe_load,
    scan_class_folders,
    split_folder_dataset,
)


def _jpeg(path: Path, size=(24, 16), color=(200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, "JPEG")
    return path


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- SOP -----------------------------------------------------------------------------------------------


def _sop(root: Path) -> Path:
    header = "image_id class_id super_class_id path"
    train = [header, "1 1 1 bicycle_final/111085122871_0.JPG", "2 1 1 bicycle_final/111085122871_1.JPG"]
    train.append("3 2 1 bicycle_final/111265328556_0.JPG")
    test = [
        header,
        "1 11319 1 bicycle_final/251952414262_0.JPG",
        "2 11319 1 bicycle_final/251952414262_1.JPG",
    ]
    for line in train[1:] + test[1:]:
        _jpeg(root / line.split()[3])
    _write(root / "Ebay_train.txt", train)
    _write(root / "Ebay_test.txt", test)
    return root


def test_sop_reads_both_splits(tmp_path):
    bench = load_sop(_sop(tmp_path / "Stanford_Online_Products"))
    assert bench.name == "sop" and bench.gallery is None and bench.recall_ks == (1, 10, 100, 1000)
    assert bench.train.labels.tolist() == [1, 1, 2] and bench.query.labels.tolist() == [11319, 11319]
    assert all(p.is_file() for p in bench.train.paths + bench.query.paths)
    image, label, index = ImageDataset(bench.query)[1]
    assert isinstance(image, torch.Tensor) and image.shape == (3, 16, 24)
    assert (label, index) == (11319, 1)


def test_sop_missing_and_malformed_files(tmp_path):
    root = _sop(tmp_path)
    (root / "Ebay_test.txt").unlink()
    with pytest.raises(MissingDatasetFile, match=r"Ebay_test\.txt") as err:
        load_sop(root)
    assert "Stanford Online Products" in str(err.value) and isinstance(err.value, FileNotFoundError)
    _write(root / "Ebay_test.txt", ["image_id class_id super_class_id path", "1 5 1 a.JPG", "2 x 1 b.JPG"])
    with pytest.raises(MalformedDatasetFile, match=r"Ebay_test.txt, line 2: the image .*a\.JPG is not there"):
        load_sop(root)
    with pytest.raises(MalformedDatasetFile, match=r"Ebay_test.txt, line 3"):
        load_sop(root, check_images=False)
    _write(root / "Ebay_test.txt", ["image_id class_id super_class_id path", "1 5 a.JPG"])
    with pytest.raises(MalformedDatasetFile, match=r"Ebay_test.txt, line 2: expected 4 fields"):
        load_sop(root)
    _write(root / "Ebay_test.txt", ["1 5 1 a.JPG"])
    with pytest.raises(MalformedDatasetFile, match="header"):
        load_sop(root)


# --- CUB -----------------------------------------------------------------------------------------------


def _cub(root: Path) -> Path:
    rows = [
        (1, 1, "001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg"),
        (2, 1, "001.Black_footed_Albatross/Black_Footed_Albatross_0009_34.jpg"),
        (3, 100, "100.Brown_Pelican/Brown_Pelican_0001_94.jpg"),
        (4, 101, "101.White_Pelican/White_Pelican_0012_97.jpg"),
        (5, 200, "200.Common_Yellowthroat/Common_Yellowthroat_0055_190.jpg"),
    ]
    for _, _, rel in rows:
        _jpeg(root / "images" / rel)
    _write(root / "images.txt", [f"{i} {rel}" for i, _, rel in rows])
    _write(root / "image_class_labels.txt", [f"{i} {c}" for i, c, _ in rows])
    return root


def test_cub_class_split(tmp_path):
    bench = load_cub(_cub(tmp_path / "CUB_200_2011"))
    assert bench.train.labels.tolist() == [1, 1, 100] and bench.query.labels.tolist() == [101, 200]
    assert bench.gallery is None and bench.recall_ks == (1, 2, 4, 8)
    assert (
        bench.query.paths[0] == tmp_path / "CUB_200_2011/images/101.White_Pelican/White_Pelican_0012_97.jpg"
    )
    assert all(p.is_file() for p in bench.train.paths + bench.query.paths)


def test_cub_errors_name_the_file(tmp_path):
    root = _cub(tmp_path / "CUB_200_2011")
    (root / "image_class_labels.txt").unlink()
    with pytest.raises(MissingDatasetFile, match=r"image_class_labels\.txt") as err:
        load_cub(root)
    assert "Caltech-UCSD Birds" in str(err.value)
    _write(root / "image_class_labels.txt", ["1 1", "2 1"])
    with pytest.raises(MalformedDatasetFile, match=r"images.txt, line 3: image id 3"):
        load_cub(root)


# --- In-Shop -------------------------------------------------------------------------------------------


def _inshop(root: Path, eval_dir: bool = False) -> Path:
    rows = [
        ("img/WOMEN/Dresses/id_00000002/02_1_front.jpg", "id_00000002", "train"),
        ("img/WOMEN/Dresses/id_00000002/02_2_side.jpg", "id_00000002", "train"),
        ("img/MEN/Denim/id_00000080/01_1_front.jpg", "id_00000080", "query"),
        ("img/MEN/Denim/id_00000080/01_2_side.jpg", "id_00000080", "gallery"),
        ("img/MEN/Denim/id_00000081/01_1_front.jpg", "id_00000081", "gallery"),
    ]
    for rel, _, _ in rows:
        _jpeg(root / rel)
    lines = [str(len(rows)), "image_name item_id evaluation_status"]
    lines += [f"{rel:<60}{item} {status}" for rel, item, status in rows]  # the real file pads with spaces
    _write(root / ("Eval" if eval_dir else "") / "list_eval_partition.txt", lines)
    return root


def test_inshop_query_gallery(tmp_path):
    bench = load_inshop(_inshop(tmp_path))
    assert [len(bench.train), len(bench.query), len(bench.gallery)] == [2, 1, 2]
    assert bench.query.labels.tolist() == [80] and bench.gallery.labels.tolist() == [80, 81]
    assert bench.recall_ks == (1, 10, 20, 30)
    assert bench.gallery.paths[1] == tmp_path / "img/MEN/Denim/id_00000081/01_1_front.jpg"
    assert len(load_inshop(_inshop(tmp_path / "other", eval_dir=True)).train) == 2


def test_inshop_errors(tmp_path):
    with pytest.raises(MissingDatasetFile, match=r"list_eval_partition\.txt") as err:
        load_inshop(tmp_path)
    assert "DeepFashion In-shop Clothes Retrieval Benchmark" in str(err.value)
    path = _write(
        tmp_path / "list_eval_partition.txt",
        ["2", "image_name item_id evaluation_status", "a.jpg id_1 train"],
    )
    with pytest.raises(MalformedDatasetFile, match=r"line 3: the image .*a\.jpg is not there"):
        load_inshop(tmp_path)
    with pytest.raises(MalformedDatasetFile, match="announces 2"):
        load_inshop(tmp_path, check_images=False)
    path.write_text("1\nimage_name item_id evaluation_status\na.jpg id_1 validation\n")
    with pytest.raises(MalformedDatasetFile, match=r"list_eval_partition.txt, line 3"):
        load_inshop(tmp_path)


# --- Revisited Oxford / Paris ----------------------------------------------------------------------------


def _revisited(root: Path, as_numpy: bool, protocol: int = pickle.DEFAULT_PROTOCOL) -> Path:
    folder = root / "roxford5k"
    imlist = ["all_souls_000000", "ashmolean_000001", "balliol_000002"]
    qimlist = ["all_souls_000013"]
    for name in imlist:
        _jpeg(folder / "jpg" / f"{name}.jpg")
    query = Image.new("RGB", (40, 30), (255, 0, 0))
    query.paste((0, 0, 255), (10, 5, 30, 25))  # the box holds the blue part only
    query.save(folder / "jpg" / "all_souls_000013.jpg", "JPEG", quality=95)
    arr = np.array if as_numpy else list
    gnd = [{"bbx": arr([10.0, 5.0, 30.0, 25.0]), "easy": arr([0]), "hard": arr([2]), "junk": arr([])}]
    data = {"imlist": imlist, "qimlist": qimlist, "gnd": gnd}
    (folder / "gnd_roxford5k.pkl").write_bytes(pickle.dumps(data, protocol=protocol))
    return root


@pytest.mark.parametrize(("as_numpy", "protocol"), [(True, 5), (True, 2), (False, 4), (False, 0)])
def test_revisited_reads_gnd_and_crops_queries(tmp_path, as_numpy, protocol):
    bench = load_revisited(_revisited(tmp_path, as_numpy, protocol), "roxford5k")
    assert [p.name for p in bench.db_paths] == [
        "all_souls_000000.jpg",
        "ashmolean_000001.jpg",
        "balliol_000002.jpg",
    ]
    assert bench.query_paths == [tmp_path / "roxford5k/jpg/all_souls_000013.jpg"]
    assert bench.query_boxes == [(10.0, 5.0, 30.0, 25.0)]
    g = bench.gnd[0]
    assert g["easy"].tolist() == [0] and g["hard"].tolist() == [2] and g["junk"].dtype == np.int64
    image, label, _ = ImageDataset(bench.queries, min_side=8)[0]
    assert image.shape == (3, 20, 20) and label == -1
    blue = image[2].mean().item() - image[0].mean().item()
    assert blue > 0.8  # nothing of the red surround
    assert load_revisited(tmp_path / "roxford5k", "roxford5k").name == "roxford5k"


def test_revisited_boxes_refer_to_stored_pixels_whatever_the_exif(tmp_path):
    """The revisitop loaders ignore EXIF orientation and give bbx in the stored grid: a query JPEG with an
    orientation tag must be cropped where its box says, not in the turned image."""
    from irt_desktop.images import open_image

    root = _revisited(tmp_path, as_numpy=False)
    path = root / "roxford5k" / "jpg" / "all_souls_000013.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    query = Image.new("RGB", (40, 30), (255, 0, 0))
    query.paste((0, 0, 255), (10, 5, 30, 25))  # as _revisited stores it, now with the tag
    query.save(path, "JPEG", quality=95, exif=exif)
    assert open_image(path).size == (30, 40)  # the shared decoder turns it by default
    assert open_image(path, apply_exif=False).size == (40, 30)
    bench = load_revisited(root, "roxford5k")
    assert all(not r.apply_exif for r in bench.queries + bench.db)
    image, _, _ = ImageDataset(bench.queries)[0]
    assert image.shape == (3, 20, 20)
    assert image[2].mean().item() - image[0].mean().item() > 0.8  # the blue box, nothing of the red


def test_revisited_errors(tmp_path):
    with pytest.raises(MissingDatasetFile, match=r"rparis6k/gnd_rparis6k.pkl") as err:
        load_revisited(tmp_path, "rparis6k")
    assert "revisitop" in str(err.value)
    with pytest.raises(ValueError, match="unknown"):
        load_revisited(tmp_path, "oxford105k")
    _revisited(tmp_path, True)
    pkl = tmp_path / "roxford5k/gnd_roxford5k.pkl"
    pkl.write_bytes(
        pickle.dumps({"imlist": ["a"], "qimlist": ["b"], "gnd": [{"bbx": [0, 0, 1, 1], "easy": [3]}]})
    )
    with pytest.raises(MalformedDatasetFile, match=r"gnd\[0\]"):
        load_revisited(tmp_path, "roxford5k")


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_safe_pickle_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"gnd": [_Evil(marker)]})
    with pytest.raises(UnsafePickleError, match="refusing"):
        safe_load(payload)
    assert not marker.exists()
    folder = tmp_path / "roxford5k"
    folder.mkdir()
    (folder / "gnd_roxford5k.pkl").write_bytes(payload)
    with pytest.raises(MalformedDatasetFile, match="refusing"):
        load_revisited(tmp_path, "roxford5k")
    assert not marker.exists()
    for evil in (pickle.dumps(_Evil), pickle.dumps(np.load), b"cbuiltins\neval\n(S'1'\ntR."):
        with pytest.raises(UnsafePickleError):
            safe_load(evil)


def test_safe_pickle_loads_numpy_1_and_plain_data():
    data = {
        "a": np.arange(4, dtype=np.int32),
        "s": np.float64(2.5),
        "l": [1, (2.0, "x")],
        "b": b"z",
        "t": {1},
    }
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        out = safe_load(pickle.dumps(data, protocol=protocol))
        assert out["a"].tolist() == [0, 1, 2, 3] and out["s"] == 2.5 and out["l"] == [1, (2.0, "x")]
        assert out["b"] == b"z" and out["t"] == {1}
    # numpy 1 named its modules numpy.core.*; such files must keep loading under numpy 2.
    old = pickle.dumps(data, protocol=2).replace(b"numpy._core.", b"numpy.core.")
    assert b"numpy.core.multiarray" in old
    assert safe_load(old)["a"].tolist() == [0, 1, 2, 3]


# --- user folders ------------------------------------------------------------------------------------------


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")  # scanning goes by file name; nothing is decoded


def _albums(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "disk1", tmp_path / "disk2"
    for rel in ["cats/a.jpg", "cats/b.PNG", "cats/2020/c.jpeg", "cats/.hidden.jpg", "cats/notes.txt",
                "cats/@eaDir/thumb.jpg", ".trash/x.jpg", "dogs/d.jpg", "loose.jpg"]:  # fmt: skip
        _touch(a / rel)
    for rel in ["cats/e.heic", "birds/f.jpg", "birds/g.webp", "empty/readme.md"]:
        _touch(b / rel)
    return a, b


def test_folders_classes_across_roots(tmp_path):
    a, b = _albums(tmp_path)
    ds = scan_class_folders([a, b])
    assert ds.class_names == ["birds", "cats", "dogs"]
    names = {(r.path.relative_to(tmp_path).as_posix(), ds.class_names[r.label]) for r in ds.records}
    assert names == {
        ("disk2/birds/f.jpg", "birds"),
        ("disk2/birds/g.webp", "birds"),
        ("disk1/cats/a.jpg", "cats"),
        ("disk1/cats/b.PNG", "cats"),
        ("disk1/cats/2020/c.jpeg", "cats"),
        ("disk2/cats/e.heic", "cats"),
        ("disk1/dogs/d.jpg", "dogs"),
    }
    assert ds.small_classes == ["dogs"]
    with pytest.raises(MissingDatasetFile):
        scan_class_folders(tmp_path / "nope")
    with pytest.raises(DatasetError):
        scan_class_folders(b / "empty")


def test_folders_split_is_deterministic(tmp_path):
    (tmp_path / "many").mkdir()
    for c in range(10):
        for i in range(c % 4 + 1):
            _touch(tmp_path / "many" / f"class{c}" / f"{i}.jpg")
    ds = scan_class_folders(tmp_path / "many")
    for by in ("class", "image"):
        train, test = split_folder_dataset(ds, by=by, holdout=0.3, seed=1)
        again = split_folder_dataset(ds, by=by, holdout=0.3, seed=1)
        assert (train.paths, test.paths) == (again[0].paths, again[1].paths)
        assert sorted(train.paths + test.paths) == sorted(r.path for r in ds.records)
        assert not set(train.paths) & set(test.paths)
    train, test = split_folder_dataset(ds, by="class", holdout=0.3, seed=1)
    assert test.num_classes == 3 and not set(train.labels) & set(test.labels)
    assert split_folder_dataset(ds, by="class", holdout=0.3, seed=2)[1].paths != test.paths
    train, test = split_folder_dataset(ds, by="image", holdout=0.3, seed=1)
    sizes = np.bincount(ds.as_split().labels)
    for label, n in enumerate(sizes):
        n_test = int((test.labels == label).sum())
        assert n_test == (0 if n == 1 else max(1, min(round(0.3 * n), n - 1)))
    with pytest.raises(ValueError):
        split_folder_dataset(ds, by="album")
