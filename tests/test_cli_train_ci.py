"""`irt-desktop train` ends as the wizard's comparison does: Recall@1 before and after on the held-out
photos with their 95 % bootstrap intervals and the interval of the change, in one line, and the same in
`--json` (a few steps of the tiny random-init model on generated albums)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from imagegen import save_albums

from irt_desktop.cli import main
from irt_desktop.commands.train import comparison_line
from irt_desktop.retrieval.training.finetune import compare_recall

QUICK = [
    "--iterations",
    "2",
    "--holdout",
    "0.5",
    "--workers",
    "0",
    "--device",
    "cpu",
    "--set",
    "batch_size=8",
]
NUM = r"[+-]?\d+\.\d"
LINE = re.compile(
    rf"^R@1 on 12 held-out photos: before (?P<b>{NUM}) \((?P<bl>{NUM}) to (?P<bh>{NUM})\), "
    rf"after (?P<a>{NUM}) \((?P<al>{NUM}) to (?P<ah>{NUM})\), "
    rf"change (?P<d>{NUM}) \((?P<dl>{NUM}) to (?P<dh>{NUM})\) points \(95% bootstrap intervals\): "
    r"(?P<verdict>better|worse|unclear)$",
    re.MULTILINE,
)


@pytest.fixture(scope="module")
def albums(tmp_path_factory) -> Path:
    """4 classes of 6 photos; half the classes (12 photos) are held out."""
    return save_albums(tmp_path_factory.mktemp("albums"), 4, 700)


def _train(albums: Path, bundle, library: Path, *extra: str) -> int:
    return main(
        [
            "--library",
            str(library),
            "train",
            "--folders",
            str(albums),
            "--model",
            str(bundle.path),
            *QUICK,
            *extra,
        ]
    )


def _verdict(low: float, high: float) -> str:
    return "better" if low > 0 else "worse" if high < 0 else "unclear"


def test_the_line_gives_both_recalls_their_intervals_and_the_change():
    # 4 queries: 2 found first before, 3 after; one query better, none worse.
    c = compare_recall([0, 0, 1, 2], [0, 0, 0, 1])
    line = comparison_line(c)
    assert line.startswith("R@1 on 4 held-out photos: before 50.0 (") and ", after 75.0 (" in line
    assert ", change +25.0 (+0.0 to +" in line and line.endswith(" points (95% bootstrap intervals): unclear")
    assert comparison_line(compare_recall([0], [0])).startswith("R@1 on 1 held-out photo: ")


def test_train_prints_recall_at_1_before_and_after_with_its_interval(albums, tiny_bundle, tmp_path, capsys):
    assert _train(albums, tiny_bundle, tmp_path / "lib") == 0
    out = capsys.readouterr().out
    m = LINE.search(out)
    assert m, out
    # The same Recall@1 as the before / after lines, each inside its own interval.
    before = float(re.search(r"^before: R@1 (\S+)", out, re.MULTILINE).group(1))
    after = float(re.search(r"^after:  R@1 (\S+)", out, re.MULTILINE).group(1))
    assert (float(m["b"]), float(m["a"])) == (before, after)
    for point, low, high in (("b", "bl", "bh"), ("a", "al", "ah"), ("d", "dl", "dh")):
        assert float(m[low]) <= float(m[point]) <= float(m[high])
    assert float(m["d"]) == pytest.approx(after - before, abs=0.11)
    assert m["verdict"] == _verdict(float(m["dl"]), float(m["dh"]))
    lines = out.splitlines()
    assert lines.index(m.group(0)) < next(i for i, x in enumerate(lines) if x.startswith("saved "))
    # Anything short of "better" says why in words, as the wizard does.
    assert (m["verdict"] != "better") == ("note: " in out.split(m.group(0))[1])


def test_train_json_holds_the_comparison_and_stdout_holds_only_it(albums, tiny_bundle, tmp_path, capsys):
    assert _train(albums, tiny_bundle, tmp_path / "lib", "--json") == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    c = report["comparison"]
    assert (c["metric"], c["held_out"], c["level"], c["resamples"]) == ("R@1", 12, 0.95, 2000)
    for key in ("before", "after", "change"):
        assert c[key]["low"] <= c[key]["value"] <= c[key]["high"]
    assert c["before"]["value"] == pytest.approx(report["before"]["R@1"], abs=0.01)
    assert c["after"]["value"] == pytest.approx(report["after"]["R@1"], abs=0.01)
    assert c["verdict"] == _verdict(c["change"]["low"], c["change"]["high"])
    assert (c["warning"] is None) == (c["verdict"] == "better")
    assert not report["cancelled"] and report["model_id"] and Path(report["path"]).exists()
    # What plain text says went to stderr, the comparison's line with it.
    assert LINE.search(captured.err) and "saved " in captured.err
