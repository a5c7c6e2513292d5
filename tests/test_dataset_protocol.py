"""Every reader checks its dataset against the protocol's counts, names the file and line of what is wrong,
and refuses a partial set unless told; the SfM-120k reader; the revisited query scale."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from benchmark_layouts import (
    layout_counts,
    write_cub,
    write_inshop,
    write_revisited,
    write_sfm120k,
    write_sop,
)
from PIL import Image, ImageDraw

from irt_desktop.retrieval.datasets import (
    PROTOCOL_COUNTS,
    ExpectedCounts,
    ImageDataset,
    MalformedDatasetFile,
    PartialDataset,
    UnreadableDatasetImage,
    UnsafePickleError,
    load_cub,
    load_inshop,
    load_revisited,
    load_sfm120k,
    load_sop,
)

COUNTS = layout_counts()


def _cut_lines(path: Path, drop: int) -> None:
    """Drop the last `drop` lines, keeping the file well formed (a cut at a line boundary)."""
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-drop]))


def _cut_mid_line(path: Path, keep: int) -> None:
    """Cut the file `keep` characters into its last line (no newline at the end)."""
    text = path.read_text()
    start = text.rstrip("\n").rfind("\n") + 1
    path.write_text(text[: start + keep])


# --- category-level lists: a cut at a line boundary, and mid-line ---------------------------------------


def test_sop_truncated(tmp_path):
    root = write_sop(tmp_path)
    assert not load_sop(root, COUNTS["sop"]).partial
    _cut_lines(root / "Ebay_test.txt", 3)  # a whole class gone
    with pytest.raises(PartialDataset, match=r"test: 9 images, the protocol has 12.*--allow-partial"):
        load_sop(root, COUNTS["sop"])
    bench = load_sop(root, COUNTS["sop"], allow_partial=True)
    assert "test: 9 images" in bench.partial and "test: 3 classes, the protocol has 4" in bench.partial
    _cut_mid_line(root / "Ebay_test.txt", 20)  # inside the path: that image is not there
    with pytest.raises(MalformedDatasetFile, match=r"Ebay_test.txt, line 10: the image .* is not there"):
        load_sop(root, COUNTS["sop"], allow_partial=True)
    _cut_mid_line(root / "Ebay_test.txt", 4)  # inside the fields
    with pytest.raises(MalformedDatasetFile, match=r"Ebay_test.txt, line 10: expected 4 fields.*cut short"):
        load_sop(root, COUNTS["sop"], allow_partial=True)


@pytest.mark.parametrize("which", ["images.txt", "image_class_labels.txt"])
def test_cub_truncated(tmp_path, which):
    root = write_cub(tmp_path)
    assert not load_cub(root, COUNTS["cub"]).partial
    _cut_lines(root / which, 12)  # the test half of one file
    with pytest.raises(PartialDataset, match=r"disagree.*cut short"):
        load_cub(root, COUNTS["cub"])
    bench = load_cub(root, COUNTS["cub"], allow_partial=True)
    assert len(bench.query) == 0 and "12 " in bench.partial and "test: 0 images" in bench.partial
    # Both files cut alike at a line boundary: consistent, but not the protocol's counts.
    root2 = write_cub(tmp_path / "both")
    for name in ("images.txt", "image_class_labels.txt"):
        _cut_lines(root2 / name, 6)
    with pytest.raises(PartialDataset, match=r"test: 6 images, the protocol has 12"):
        load_cub(root2, COUNTS["cub"])


def test_cub_cut_mid_line(tmp_path):
    root = write_cub(tmp_path)
    _cut_mid_line(root / "images.txt", 12)  # "24 104.xxxxx" -> a path that is not there
    with pytest.raises(MalformedDatasetFile, match=r"images.txt, line 24: the image .* is not there"):
        load_cub(root, COUNTS["cub"])
    _cut_mid_line(root / "images.txt", 1)  # "2": one field
    with pytest.raises(MalformedDatasetFile, match=r"images.txt, line 24: expected 2 fields.*no newline"):
        load_cub(root, COUNTS["cub"])
    root = write_cub(tmp_path / "labels")
    _cut_mid_line(root / "image_class_labels.txt", 4)  # "24 1" instead of "24 104": a train class
    with pytest.raises(PartialDataset, match=r"train: 13 images"):
        load_cub(root, COUNTS["cub"])


def test_inshop_truncated(tmp_path):
    root = write_inshop(tmp_path)
    assert not load_inshop(root, COUNTS["inshop"]).partial
    path = root / "list_eval_partition.txt"
    _cut_lines(path, 2)
    with pytest.raises(PartialDataset, match=r"announces 32 images but the file lists 30"):
        load_inshop(root, COUNTS["inshop"])
    bench = load_inshop(root, COUNTS["inshop"], allow_partial=True)
    assert "gallery: 7 images, the protocol has 8" in bench.partial and "announces 32" in bench.partial
    _cut_mid_line(path, 10)
    with pytest.raises(MalformedDatasetFile, match=r"list_eval_partition.txt, line 32: expected 3 fields"):
        load_inshop(root, COUNTS["inshop"], allow_partial=True)
    text = path.read_text()
    path.write_text(text + "_front.jpg id_00000008 gall")  # a cut inside the status
    with pytest.raises(MalformedDatasetFile, match=r"line 32: unknown evaluation_status 'gall'"):
        load_inshop(root, COUNTS["inshop"], allow_partial=True)


@pytest.mark.parametrize("name", ["roxford5k", "rparis6k"])
def test_revisited_truncated(tmp_path, name):
    write_revisited(tmp_path, name)
    key = "roxford" if name == "roxford5k" else "rparis"
    assert not load_revisited(tmp_path, name, COUNTS[key]).partial
    pkl = tmp_path / name / f"gnd_{name}.pkl"
    data = pickle.loads(pkl.read_bytes())
    raw = pkl.read_bytes()
    # A list cut short: fewer database images than the protocol's (the ground truth still fits them).
    data["imlist"] = data["imlist"][:-1]
    for g in data["gnd"]:
        for k in ("easy", "hard", "junk"):
            g[k] = [i for i in g[k] if i < len(data["imlist"])]
    pkl.write_bytes(pickle.dumps(data))
    with pytest.raises(PartialDataset, match=r"database: 11 images, the protocol has 12"):
        load_revisited(tmp_path, name, COUNTS[key])
    assert load_revisited(tmp_path, name, COUNTS[key], allow_partial=True).partial
    # The file itself cut short (a download interrupted mid-way).
    pkl.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(MalformedDatasetFile, match=rf"gnd_{name}.pkl: not a revisited.*cut short"):
        load_revisited(tmp_path, name, COUNTS[key])
    # An image of imlist missing from jpg/.
    pkl.write_bytes(raw)
    (tmp_path / name / "jpg" / f"{name}_2_3.jpg").unlink()
    with pytest.raises(
        MalformedDatasetFile, match=rf"the image .*{name}_2_3.jpg is not there \(imlist\[11\]\)"
    ):
        load_revisited(tmp_path, name, COUNTS[key])


def test_an_unreadable_image_is_named(tmp_path):
    root = write_cub(tmp_path)
    bench = load_cub(root, COUNTS["cub"])
    bad = bench.query.paths[2]
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(UnreadableDatasetImage, match=rf"{bad.name}: cannot be read"):
        ImageDataset(bench.query)[2]


# --- the protocol's own counts ---------------------------------------------------------------------------


def _full_count_lists(root: Path) -> None:
    """List files with the paper's counts (no images): SOP, CUB, In-Shop, ROxford5k, RParis6k."""
    sop = root / "sop"
    sop.mkdir()
    image_id = 0
    for name, n_images, n_classes, first in (
        ("Ebay_train.txt", 59_551, 11_318, 1),
        ("Ebay_test.txt", 60_502, 11_316, 11_319),
    ):
        lines = ["image_id class_id super_class_id path"]
        for i in range(n_images):
            image_id += 1
            lines.append(f"{image_id} {first + i % n_classes} 1 bicycle_final/{image_id}_0.JPG")
        (sop / name).write_text("\n".join(lines) + "\n")
    cub = root / "cub"
    cub.mkdir()
    labels = [1 + i % 100 for i in range(5_864)] + [101 + i % 100 for i in range(5_924)]
    (cub / "images.txt").write_text("".join(f"{i + 1} x/{i + 1}.jpg\n" for i in range(len(labels))))
    (cub / "image_class_labels.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(labels)))
    inshop = root / "inshop"
    inshop.mkdir()
    status = ["train"] * 25_882 + ["query"] * 14_218 + ["gallery"] * 12_612
    rows = [f"img/{i}.jpg id_{i // 4:08d} {s}" for i, s in enumerate(status)]
    (inshop / "list_eval_partition.txt").write_text(
        "\n".join([str(len(rows)), "image_name item_id evaluation_status", *rows]) + "\n"
    )
    for name, n in (("roxford5k", 4_993), ("rparis6k", 6_322)):
        (root / name).mkdir()
        gnd = [{"bbx": [0, 0, 1, 1], "easy": [q], "hard": [], "junk": []} for q in range(70)]
        data = {"imlist": [f"im{i}" for i in range(n)], "qimlist": [f"q{i}" for i in range(70)], "gnd": gnd}
        (root / name / f"gnd_{name}.pkl").write_bytes(pickle.dumps(data))


def test_the_papers_counts_pass_and_one_line_less_is_refused(tmp_path):
    from irt_desktop.retrieval.benchmark.catalog import DATASETS

    _full_count_lists(tmp_path)
    # The catalog gives each reader the protocol's counts.
    assert {n: d.counts for n, d in DATASETS.items()} == {
        "sop": PROTOCOL_COUNTS["sop"],
        "cub": PROTOCOL_COUNTS["cub"],
        "inshop": PROTOCOL_COUNTS["inshop"],
        "roxford": PROTOCOL_COUNTS["roxford5k"],
        "rparis": PROTOCOL_COUNTS["rparis6k"],
    }
    kw = {"check_images": False}
    sop = load_sop(tmp_path / "sop", PROTOCOL_COUNTS["sop"], **kw)
    assert (len(sop.train), len(sop.query), sop.query.num_classes) == (59_551, 60_502, 11_316)
    cub = load_cub(tmp_path / "cub", PROTOCOL_COUNTS["cub"], **kw)
    assert (len(cub.train), len(cub.query)) == (5_864, 5_924)
    inshop = load_inshop(tmp_path / "inshop", PROTOCOL_COUNTS["inshop"], **kw)
    assert (len(inshop.train), len(inshop.query), len(inshop.gallery)) == (25_882, 14_218, 12_612)
    for name in ("roxford5k", "rparis6k"):
        bench = load_revisited(tmp_path, name, PROTOCOL_COUNTS[name], **kw)
        assert len(bench.queries) == 70 and not bench.partial
    # One line less, at a line boundary: refused, each naming what differs.
    _cut_lines(tmp_path / "sop" / "Ebay_test.txt", 1)
    with pytest.raises(PartialDataset, match=r"test: 60,501 images, the protocol has 60,502"):
        load_sop(tmp_path / "sop", PROTOCOL_COUNTS["sop"], **kw)
    for name in ("images.txt", "image_class_labels.txt"):
        _cut_lines(tmp_path / "cub" / name, 1)
    with pytest.raises(PartialDataset, match=r"test: 5,923 images, the protocol has 5,924"):
        load_cub(tmp_path / "cub", PROTOCOL_COUNTS["cub"], **kw)


# --- SfM-120k --------------------------------------------------------------------------------------------


def test_sfm120k_reads_the_cirtorch_layout(tmp_path):
    root = write_sfm120k(tmp_path / "retrieval-SfM-120k")
    sfm = load_sfm120k(root)
    assert len(sfm.train) == 12 and len(sfm.val) == 8
    assert sfm.train.num_classes == 3 and sorted(set(sfm.val.labels.tolist())) == [3, 4]
    cid = pickle.loads((root / "retrieval-SfM-120k.pkl").read_bytes())["train"]["cids"][5]
    assert sfm.train.paths[5] == root / "ims" / cid[-2:] / cid[-4:-2] / cid[-6:-4] / cid
    assert sfm.pairs["train"].shape == (9, 2) and sfm.cross_cluster_pairs == {"train": 0, "val": 0}
    image, label, _ = ImageDataset(sfm.train)[5]
    assert image.shape[0] == 3 and label == 1
    expected = ExpectedCounts({"train": 12, "val": 8}, {"train": 3, "val": 2})
    assert not load_sfm120k(root, expected).partial
    with pytest.raises(PartialDataset, match="train: 12 images, the protocol has 16"):
        load_sfm120k(root, ExpectedCounts({"train": 16, "val": 8}))


def test_sfm120k_errors(tmp_path):
    root = write_sfm120k(tmp_path)
    pkl = root / "retrieval-SfM-120k.pkl"
    raw = pkl.read_bytes()
    pkl.write_bytes(raw[: len(raw) - 40])
    with pytest.raises(MalformedDatasetFile, match=r"retrieval-SfM-120k.pkl: not an SfM-120k database.*cut"):
        load_sfm120k(root)
    db = pickle.loads(raw)
    db["train"]["pidxs"] = db["train"]["pidxs"][:-1]
    pkl.write_bytes(pickle.dumps(db))
    with pytest.raises(MalformedDatasetFile, match=r"\['train'\]: 9 qidxs but 8 pidxs"):
        load_sfm120k(root)
    db = pickle.loads(raw)
    os.remove(load_sfm120k_path(root, db["val"]["cids"][3]))
    pkl.write_bytes(raw)
    with pytest.raises(MalformedDatasetFile, match=r"is not there \(\['val'\]\['cids'\]\[3\]\)"):
        load_sfm120k(root)


def load_sfm120k_path(root: Path, cid: str) -> Path:
    return root / "ims" / cid[-2:] / cid[-4:-2] / cid[-6:-4] / cid


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_sfm120k_is_read_with_the_restricted_unpickler(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "retrieval-SfM-120k.pkl").write_bytes(pickle.dumps({"train": _Evil(marker), "val": {}}))
    with pytest.raises(MalformedDatasetFile, match="refusing to load") as err:
        load_sfm120k(tmp_path)
    assert isinstance(err.value.__cause__, UnsafePickleError) and not marker.exists()
    # numpy arrays, as files written by other tools hold them, are plain data.
    root = write_sfm120k(tmp_path / "np")
    db = pickle.loads((root / "retrieval-SfM-120k.pkl").read_bytes())
    for part in db.values():
        part["cluster"] = np.asarray(part["cluster"], dtype=np.int32)
        part["qidxs"], part["pidxs"] = np.asarray(part["qidxs"]), np.asarray(part["pidxs"])
    (root / "retrieval-SfM-120k.pkl").write_bytes(pickle.dumps(db, protocol=2))
    assert load_sfm120k(root).train.labels.tolist()[:5] == [0, 0, 0, 0, 1]


# --- the revisited query scale ---------------------------------------------------------------------------


def _landmark_set(root: Path) -> Path:
    """A 'building' (a dark square of 150 px) in 1000x750 photos: the database image shows it whole; the
    query is the same photo with a box of 400 x 300 px around the building."""
    folder = root / "roxford5k"
    (folder / "jpg").mkdir(parents=True)
    for name, at in (("db_0", (600, 300)), ("q_0", (300, 200))):
        img = Image.new("RGB", (1000, 750), (235, 235, 235))
        ImageDraw.Draw(img).rectangle((at[0], at[1], at[0] + 149, at[1] + 149), fill=(10, 10, 10))
        img.save(folder / "jpg" / f"{name}.jpg", quality=95)
    gnd = [{"bbx": [175.0, 125.0, 575.0, 425.0], "easy": [0], "hard": [], "junk": []}]
    data = {"imlist": ["db_0"], "qimlist": ["q_0"], "gnd": gnd}
    (folder / "gnd_roxford5k.pkl").write_bytes(pickle.dumps(data))
    return root


def _dark_extent(x) -> tuple[int, int]:
    """Width and height of the dark object in a normalised image tensor (rows/columns mostly dark)."""
    dark = x.mean(0) < -1.0  # ImageNet-normalised: near black is about -2, the light ground about +2
    cols, rows = np.flatnonzero(dark.sum(0) > 2), np.flatnonzero(dark.sum(1) > 2)
    return int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


@pytest.mark.parametrize("size", [224, 384])
def test_a_query_keeps_its_full_images_scale(tmp_path, size):
    from irt_desktop.retrieval.spec import ModelSpec
    from irt_desktop.retrieval.transforms import landmark_transform

    bench = load_revisited(_landmark_set(tmp_path), "roxford5k", ExpectedCounts({"database": 1, "query": 1}))
    transform = landmark_transform(ModelSpec(input_size=size), 16)
    db_img, _, _ = ImageDataset(bench.db, transform)[0]
    q_img, _, _ = ImageDataset(bench.queries, transform)[0]
    # The database photo: longer side `size`; the query crop: 400 px of a 1000 px photo -> 0.4 x size.
    scale = size / 1000
    assert db_img.shape[-1] == size and q_img.shape[-1] == -(-int(400 * scale) // 16) * 16
    db_w, db_h = _dark_extent(db_img)
    q_w, q_h = _dark_extent(q_img)
    assert abs(db_w - 150 * scale) <= 2 and abs(db_h - 150 * scale) <= 2
    assert abs(q_w - db_w) <= 1 and abs(q_h - db_h) <= 1  # the same object size in query and database
    # A crop resized on its own to the input size (what irt-desktop did before) would be 2.5x larger.
    assert q_w < 1.2 * db_w


def test_small_images_are_never_enlarged_and_sides_fit_the_patch_grid():
    from irt_desktop.retrieval.spec import ModelSpec
    from irt_desktop.retrieval.transforms import landmark_transform

    t = landmark_transform(ModelSpec(input_size=224), 16)
    img = Image.new("RGB", (80, 40), (255, 0, 0))
    img.paste((0, 0, 255), (40, 0, 80, 40))
    x = t(img)
    assert x.shape == (3, 48, 80)  # 80 x 40 as it is, padded to the 16 px grid
    assert x[0, :40, :8].mean() > 2 and x[2, :40, -8:].mean() > 2  # red left, blue right: nothing cut
    assert float(x[:, 40:].abs().max()) == 0.0  # the padding is the mean colour
    assert t.resize(Image.new("RGB", (1024, 768))).size == (224, 168)
    assert t(Image.new("RGB", (1024, 768))).shape == (3, 176, 224)
    # A crop of a 1024 px photo: 400 px -> 87 px (224 x 400 / 1024, floored), never the crop alone at 224.
    assert t.resize(Image.new("RGB", (400, 300)), full_side=1024).size == (87, 65)
    half = landmark_transform(ModelSpec(input_size=224), 16, scale=0.5)
    assert half(Image.new("RGB", (1024, 768))).shape == (3, 96, 112)  # 112 x 84, padded to 112 x 96
