"""Broken model bundles in a library (issue 15, item 13, the loading side): damaged cards and unreadable
weights give one line that names the bundle, `models list` names what is broken instead of "none"."""

from __future__ import annotations

import json
import shutil
import time

import pytest
from test_library_support import copy_query, make_tree

from irt_desktop.cli import main
from irt_desktop.retrieval.bundle import BundleError, load_bundle, scan_bundles, sha256_file
from irt_desktop.retrieval.card import CARD_MAX_BYTES, ModelCard


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def indexed(tmp_path, tiny_bundle, capsys):
    photos = tmp_path / "photos"
    make_tree(photos, n=3)
    lib = tmp_path / "lib"
    rc, _, err = _run(capsys, "--library", str(lib), "index", str(photos), "--model", str(tiny_bundle.path))
    assert rc == 0, err
    (bundle,) = (lib / "models").iterdir()
    return lib, bundle, copy_query(photos / "a" / "img_000.jpg", tmp_path / "q.jpg")


def test_a_deeply_nested_card_is_refused_quickly(tmp_path):
    card = tmp_path / "card.toml"
    card.write_text("x = " + "[" * 200_000)
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"nested too deeply|not a valid card\.toml"):
        ModelCard.load(card)
    assert time.monotonic() - started < 5


def test_a_huge_card_is_not_read_whole(tmp_path):
    card = tmp_path / "card.toml"
    with open(card, "wb") as f:
        f.truncate(300 * 1024 * 1024)  # sparse: 300 MB that cost no disk
    started = time.monotonic()
    with pytest.raises(ValueError, match="larger than 1 MB, not a model card"):
        ModelCard.load(card)
    assert time.monotonic() - started < 2
    assert CARD_MAX_BYTES == 1 << 20


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("name = 'x'\n[model]\ninput_size = 0\n", "outside"),
        ("name = 'x'\nmodel = 3\n", "must be a table"),
        ("name = 'x'\n[model]\ndims = -4\n", "not a positive number"),
        ("name = 'x'\n[model]\nmean = [1, 2]\n", "three values"),
        ("[model]\nbackbone = 'vit'\n", "'name' is missing"),
        ("name = 'x'\n[weights]\nsha256 = 7\n", "not a SHA-256"),
        ("name = 'x'\nformat = 'abc'\n", "invalid model card"),
        (b"\xff\xfe name", "not UTF-8"),
    ],
)
def test_invalid_cards_are_one_line_naming_the_file(tmp_path, text, why):
    card = tmp_path / "card.toml"
    card.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ValueError) as refused:
        ModelCard.load(card)
    message = str(refused.value)
    assert message.startswith(str(card)) and why in message and "\n" not in message


def test_models_list_names_the_broken_card_instead_of_none(indexed, capsys):
    lib, bundle, _query = indexed
    (bundle / "card.toml").write_text("name = " + "[" * 200_000)
    rc, out, err = _run(capsys, "--library", str(lib), "models", "list")
    assert rc == 0, err
    assert "Installed models: none usable" in out
    assert f" ! {bundle.name}: not usable: {bundle / 'card.toml'}: not a valid card.toml" in out
    rc, out, err = _run(capsys, "--library", str(lib), "models", "list", "--json")
    assert rc == 0 and json.loads(out) == [] and f"not usable: {bundle}" in err
    bundles, broken = scan_bundles(lib / "models")
    assert bundles == [] and [p for p, _ in broken] == [bundle]


def test_search_with_a_damaged_card_is_one_line(indexed, capsys):
    lib, bundle, query = indexed
    (bundle / "card.toml").write_text("x = " + "[" * 200_000)
    rc, _, err = _run(capsys, "--library", str(lib), "search", str(query))
    assert rc == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"irt-desktop: model {bundle.name} is not usable: {bundle / 'card.toml'}")


@pytest.mark.parametrize(
    "weights",
    [b"", b"\x00" * 64, b"\xff" * 8 + b"{}", (10**15).to_bytes(8, "little") + b"{}", b"\x80\x04K\x01."],
    ids=["empty", "zeros", "absurd-header", "huge-header-length", "pickle"],
)
def test_unreadable_bundle_weights_are_one_line_naming_the_bundle(indexed, capsys, tmp_path, weights):
    lib, bundle, _query = indexed
    broken = tmp_path / "broken-bundle"
    shutil.copytree(bundle, broken)
    target = broken / "model.safetensors"
    target.write_bytes(weights)
    # The card is made to match, so the checksum passes and the file itself is what must be refused.
    old_sha = load_bundle(broken).card.weights["sha256"]
    card = broken / "card.toml"
    card.write_text(card.read_text().replace(old_sha, sha256_file(target)))
    with pytest.raises(BundleError, match="is not a readable safetensors file") as refused:
        load_bundle(broken).load_model()
    assert str(target) in str(refused.value) and "\n" not in str(refused.value)
    rc, _, err = _run(capsys, "--library", str(lib), "index", "--model", str(broken))
    assert rc == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "model.safetensors is not a readable safetensors file" in err


def test_changed_weights_are_one_line(indexed, capsys):
    lib, bundle, query = indexed
    with open(bundle / "model.safetensors", "r+b") as f:
        f.seek(200)
        f.write(b"\x00\x01\x02\x03")
    rc, _, err = _run(capsys, "--library", str(lib), "search", str(query))
    assert rc == 1 and err.count("\n") == 1, err
    assert "checksum does not match card.toml" in err and str(bundle) in err
