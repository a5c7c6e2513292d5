"""Managing a library's models: activate (old vectors serve until the new set is complete), switch back
(immediate while the old vectors are kept), rename (the id stays), remove (to the trash; never the model
in use), the cost of a switch; and the `models` commands that do the same with --json."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from imagegen import TINY_SPEC
from test_library_support import copy_query, make_tree

from irt_desktop.cli import main
from irt_desktop.library import Library, PipelineConfig
from irt_desktop.library import model_trash as trash_mod
from irt_desktop.library.models import ModelInUse, ModelManager
from irt_desktop.retrieval.bundle import list_bundles


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Three tiny models with different weights (a, b, c), made once."""
    from irt_desktop.retrieval.weights import random_init_bundle

    where = tmp_path_factory.mktemp("bundles")
    return [random_init_bundle(TINY_SPEC, f"tiny-{n}", where, seed=i) for i, n in enumerate("abc")]


@pytest.fixture
def fallback_trash(tmp_path, monkeypatch):
    """The freedesktop.org trash in the test's own $XDG_DATA_HOME."""
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
    return xdg / "Trash"


def _library(tmp_path: Path, photos: Path, bundle, others=()) -> Library:
    """A library of `photos` indexed with `bundle`, with `others` installed beside it (not active)."""
    from irt_desktop.library.model_store import install_bundle

    lib = Library.open(tmp_path / "library", pipeline=PipelineConfig(batch_size=4))
    lib.add_root(photos)
    lib.activate_model(bundle)
    for other in others:
        install_bundle(lib.models_dir, other)
    lib.index()
    return lib


def test_activation_serves_the_old_model_until_complete_and_switching_back_is_immediate(
    tmp_path, bundles
):
    a, b, c = bundles
    photos = tmp_path / "photos"
    make_tree(photos)
    lib = _library(tmp_path, photos, a, bundles[1:])
    manager = ModelManager.of(lib, trash=lambda p: pytest.fail(f"nothing is trashed here ({p})"))
    query = copy_query(photos / "a" / "img_000.jpg", tmp_path / "q.jpg")
    before = [h.image_id for h in lib.search(query, k=3)]

    # Activating b: a keeps serving while b is embedded; a cancelled pass changes nothing.
    activation = manager.activate(b.id)
    assert not activation.immediate and activation.pending == 12 and activation.previous == a.id
    assert (lib.model_id, lib.target_model_id) == (a.id, b.id)
    cancel = threading.Event()
    lib.index(progress=lambda p: p.phase == "embed" and p.done >= 4 and cancel.set(), cancel=cancel)
    assert (lib.model_id, lib.target_model_id) == (a.id, b.id)
    assert [h.image_id for h in lib.search(query, k=3)] == before
    report = lib.index()
    assert report.switched_model and (lib.model_id, lib.target_model_id) == (b.id, None)

    # a's vectors and FAISS file were kept: switching back is immediate, nothing is re-embedded.
    assert (lib.vectors_dir / f"{a.id}.faiss").is_file()
    rows = {m.id: m for m in manager.installed()}
    assert rows[a.id].previous and rows[a.id].vectors == 12 and rows[b.id].serving
    assert manager.activation_cost(a.id).immediate
    back = manager.switch_back()
    assert back.immediate and back.pending == 0 and lib.model_id == a.id and lib.target_model_id is None
    assert [h.image_id for h in lib.search(query, k=3)] == before
    assert lib.index().embedded == 0
    assert manager.switch_back().immediate and lib.model_id == b.id  # and forth again

    # A third model: the last two models' vectors are kept, older ones dropped (bundles stay installed).
    assert not manager.activate(c.id).immediate
    lib.index()
    assert lib.model_id == c.id
    assert sorted(lib.catalog.model_ids_with_vectors()) == sorted([b.id, c.id])
    assert not (lib.vectors_dir / f"{a.id}.faiss").exists()
    assert {m.id for m in manager.installed()} == {a.id, b.id, c.id}
    # Asking for a model with incomplete vectors re-embeds only what it lacks.
    make_tree(photos / "new", n=3, seed0=50)
    lib.index()
    cost = manager.activation_cost(b.id)
    assert (cost.pending, cost.immediate) == (3, False) and cost.seconds > 0
    lib.close()


def test_activating_the_serving_model_calls_a_switch_off(tmp_path, bundles):
    a, b, _ = bundles
    photos = tmp_path / "photos"
    make_tree(photos, n=6)
    lib = _library(tmp_path, photos, a, bundles[1:])
    manager = ModelManager.of(lib)
    manager.activate(b.id)
    assert lib.target_model_id == b.id
    again = manager.activate(a.id)
    assert again.immediate and not again.unchanged and lib.target_model_id is None
    assert manager.activate(a.id).unchanged
    lib.close()


def test_remove_refuses_the_model_in_use_and_the_target_and_trashes_the_rest(tmp_path, bundles):
    a, b, c = bundles
    photos = tmp_path / "photos"
    make_tree(photos, n=6)
    lib = _library(tmp_path, photos, a, bundles[1:])
    trashed: list[Path] = []

    def trash(path: Path) -> None:
        trashed.append(path)
        path.rename(tmp_path / f"trashed-{path.name}")

    manager = ModelManager.of(lib, trash=trash)
    with pytest.raises(ModelInUse, match="in use"):
        manager.remove(a.id)
    manager.activate(b.id)
    lib.index()  # b serves; a is kept as the previous model, with its vectors and FAISS file
    lib.models.activate(c)
    with pytest.raises(ModelInUse, match="being switched to"):
        manager.remove(c.id)
    assert not trashed

    removal = manager.remove(a.id)
    assert removal.vectors_dropped == 6 and len(removal.trashed) == 2
    assert "moved to the trash" in removal.message() and "6 vectors were dropped" in removal.message()
    assert trashed == [lib.models_dir / a.id, lib.vectors_dir / f"{a.id}.faiss"]
    assert a.id not in lib.catalog.model_ids_with_vectors() and lib.catalog.previous_model() is None
    assert {m.id for m in manager.installed()} == {b.id, c.id}
    with pytest.raises(Exception, match="no previous model"):
        manager.switch_back()
    lib.close()


def test_rename_changes_the_title_only(tmp_path, bundles):
    a, _, _ = bundles
    photos = tmp_path / "photos"
    make_tree(photos, n=3)
    lib = _library(tmp_path, photos, a, bundles[1:])
    manager = ModelManager.of(lib)
    entry = manager.rename(a.id, "  Holiday   model ")
    assert entry.id == a.id and entry.title == "Holiday model" and entry.vectors == 3
    assert lib.model_id == a.id and list_bundles(lib.models_dir)[0].card.title == "Holiday model"
    for bad in ("", "x" * 500):
        with pytest.raises(Exception, match="title"):
            manager.rename(a.id, bad)
    lib.close()


def test_activation_cost_scales_a_measured_rate_by_model_size(tmp_path, bundles):
    from irt_desktop.library.model_store import describe

    a, b, _ = bundles
    photos = tmp_path / "photos"
    make_tree(photos, n=6)
    lib = _library(tmp_path, photos, a, bundles[1:])
    manager = ModelManager.of(lib)
    guessed = manager.activation_cost(b.id)
    assert guessed.pending == 6 and not guessed.measured and guessed.seconds > 0
    manager.record_rate(a.id, 3.0)
    measured = manager.activation_cost(b.id)
    assert measured.measured and measured.seconds == pytest.approx(6 / 3.0)  # same size of model
    assert describe(a).compute == describe(b).compute > 0
    lib.close()


def test_freedesktop_trash_fallback(tmp_path, fallback_trash):
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "card.toml").write_text("x")
    trash_mod.move_to_trash(folder)
    again = tmp_path / "bundle"
    again.mkdir()
    trash_mod.move_to_trash(again)
    assert not folder.exists()
    assert sorted(p.name for p in (fallback_trash / "files").iterdir()) == ["bundle", "bundle.2"]
    info = (fallback_trash / "info" / "bundle.trashinfo").read_text()
    assert info.startswith("[Trash Info]\nPath=") and str(folder) in info and "DeletionDate=" in info
    with pytest.raises(trash_mod.TrashError, match="does not exist"):
        trash_mod.move_to_trash(tmp_path / "nothing")


def test_send2trash_where_there_is_no_freedesktop_trash(tmp_path, monkeypatch):
    pytest.importorskip("send2trash")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    victim = tmp_path / "old.faiss"
    victim.write_bytes(b"x")
    trash_mod._native(victim)  # what Windows and macOS use
    assert not victim.exists()


# -- the commands ----------------------------------------------------------------------------------------


def _cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_activate_switch_back_rename_remove(tmp_path, capsys, bundles, fallback_trash):
    a, b, _ = bundles
    photos = tmp_path / "photos"
    make_tree(photos, n=6)
    lib = _library(tmp_path, photos, a, bundles[1:])
    lib.close()
    libdir = tmp_path / "library"
    cli = ("--library", libdir, "models")

    # Importing installs only; --activate switches (with the re-embed to come).
    rc, out, err = _cli(capsys, *cli, "import", b.path / "model.safetensors", "--backbone", "nope")
    assert rc == 2 and "timm has no model named 'nope'" in err
    rc, out, err = _cli(capsys, *cli, "activate", b.id, "--json")
    assert rc == 0, err
    row = json.loads(out)
    assert row["switching_to"] and not row["active"] and not row["immediate"] and row["pending"] == 6
    assert row["replaces"] == a.id
    rc, out, _ = _cli(capsys, *cli, "list", "--json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows[a.id]["active"] and rows[b.id]["switching_to"] and rows[a.id]["vectors"] == 6
    assert {"id", "name", "provenance", "verified", "active", "title", "metrics"} <= set(rows[a.id])

    # The target and the model in use are refused, in one line, exit 2.
    for ref, why in ((b.id, "being switched to"), (a.id, "in use")):
        rc, _, err = _cli(capsys, *cli, "remove", ref)
        assert rc == 2 and why in err and err.count("\n") == 1, err
    assert (libdir / "models" / a.id).is_dir() and (libdir / "models" / b.id).is_dir()

    # The switch completes with `index`; then switching back is immediate.
    assert main(["--library", str(libdir), "index"]) == 0
    capsys.readouterr()
    rc, out, err = _cli(capsys, *cli, "activate", a.id)
    assert rc == 0 and "serves searches now" in out and "nothing to re-index" in out, out
    rc, out, _ = _cli(capsys, *cli, "activate", b.id, "--json")
    assert json.loads(out)["immediate"] and json.loads(out)["active"]

    # Rename: the title changes, the id does not.
    rc, out, err = _cli(capsys, *cli, "rename", a.id, "My first model", "--json")
    assert rc == 0, err
    assert json.loads(out)["id"] == a.id and json.loads(out)["title"] == "My first model"
    rc, _, err = _cli(capsys, *cli, "rename", a.id, "   ")
    assert rc == 2 and "cannot be empty" in err

    # Remove the previous model: to the trash with its FAISS file; the catalog's vectors go.
    rc, out, err = _cli(capsys, *cli, "remove", a.id, "--json")
    assert rc == 0, err
    removed = json.loads(out)
    assert removed["vectors_dropped"] == 6 and "moved to the trash" in removed["message"]
    assert not (libdir / "models" / a.id).exists()
    assert sorted(p.name for p in (fallback_trash / "files").iterdir()) == sorted([a.id, f"{a.id}.faiss"])
    rc, _, err = _cli(capsys, *cli, "remove", a.id)
    assert rc == 2 and "no model" in err
    rc, _, err = _cli(capsys, *cli, "activate", "nothing-like-it")
    assert rc == 2 and err.count("\n") == 1


def test_cli_import_activate_and_remove_outside_the_library(tmp_path, capsys, bundles):
    import timm
    import torch
    from safetensors.torch import save_file

    photos = tmp_path / "photos"
    make_tree(photos, n=3)
    _library(tmp_path, photos, bundles[0]).close()
    libdir = tmp_path / "library"
    weights = tmp_path / "deit_tiny.safetensors"
    torch.manual_seed(0)
    state = timm.create_model("deit_tiny_patch16_224", num_classes=0).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(weights))
    rc, out, err = _cli(capsys, "--library", libdir, "models", "import", weights, "--activate", "--json")
    assert rc == 0, err
    row = json.loads(out)
    assert row["imported"] and row["backbone"] == "deit_tiny_patch16_224" and row["provenance"] == (
        "imported, unverified"
    )
    assert row["switching_to"] and not row["active"] and row["pending"] == 3
    # Removing a bundle folder that is not in the library is refused.
    rc, _, err = _cli(capsys, "--library", libdir, "models", "remove", bundles[1].path)
    assert rc == 2 and "not installed in this library" in err
    assert bundles[1].path.is_dir()
