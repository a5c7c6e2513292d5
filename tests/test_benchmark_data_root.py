"""Where the benchmark datasets are: present or missing (with the file expected), folders of their own,
the per-run root of links, the default root. No dataset is read."""

from __future__ import annotations

from datetime import datetime

from benchmark_layouts import write_cub, write_revisited, write_sop

from irt_desktop.retrieval.benchmark import (
    benchmark_output_dir,
    dataset_places,
    default_data_root,
    linked_data_root,
)


def test_present_missing_and_own_folders(tmp_path):
    data = tmp_path / "data"
    write_cub(data / "CUB_200_2011")  # an accepted name other than the documented one
    write_revisited(data, "roxford5k")
    write_sop(tmp_path / "elsewhere" / "my_sop")
    (data / "inshop").mkdir()  # the folder is there, its index file is not

    places = dataset_places(data, {"sop": tmp_path / "elsewhere" / "my_sop"})
    assert list(places) == ["sop", "cub", "inshop", "roxford", "rparis"]
    assert places["cub"].present and places["cub"].folder == data / "CUB_200_2011"
    assert places["roxford"].present and places["roxford"].describe() == str(data / "roxford5k")
    assert places["sop"].present and places["sop"].own_folder
    assert not places["inshop"].present
    assert places["inshop"].missing == data / "inshop" / "list_eval_partition.txt"
    assert places["inshop"].describe() == f"not found: expected {data / 'inshop' / 'list_eval_partition.txt'}"
    assert places["rparis"].missing == data / "rparis6k" / "gnd_rparis6k.pkl"

    # In-Shop's index file may also sit in Eval/, as the archive unpacks it.
    (data / "inshop" / "Eval").mkdir()
    (data / "inshop" / "Eval" / "list_eval_partition.txt").write_text("0\n")
    assert dataset_places(data, names=["inshop"])["inshop"].present

    nowhere = dataset_places("", names=["cub"])["cub"]
    assert nowhere.folder is None and not nowhere.present and nowhere.describe() == "choose a data folder"


def test_a_run_sees_own_folders_through_links_under_one_root(tmp_path):
    data = tmp_path / "data"
    write_cub(data / "cub")
    write_sop(tmp_path / "elsewhere" / "my_sop")
    out = tmp_path / "run"
    assert linked_data_root(out, data, {}, ["cub", "sop"]) == data  # nothing elsewhere: the root itself
    root = linked_data_root(out, data, {"sop": str(tmp_path / "elsewhere" / "my_sop")}, ["cub", "sop"])
    assert root == out / "data"
    assert (root / "sop").resolve() == (tmp_path / "elsewhere" / "my_sop").resolve()
    assert (root / "cub").resolve() == (data / "cub").resolve()
    assert all(p.present for p in dataset_places(root, names=["cub", "sop"]).values())


def test_default_root_and_output_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("IRT_DATA", raising=False)
    assert default_data_root(tmp_path) == tmp_path / "datasets"
    monkeypatch.setenv("IRT_DATA", str(tmp_path / "elsewhere"))
    assert default_data_root(tmp_path) == tmp_path / "elsewhere"
    when = datetime(2024, 5, 1, 12, 30, 5)
    assert benchmark_output_dir(tmp_path, when=when) == tmp_path / "benchmarks" / "20240501-123005"
    assert benchmark_output_dir(tmp_path, "smoke-quick", when).name == "20240501-123005-smoke-quick"
