"""The benchmark pane's default model, its failures and its model list: a missing dataset is a visible
failure naming the file expected (never "finished"), the default entry is the installed DeiT-S (verified
weights first, else the unverified import, said so), and the list follows installs, removals and
fine-tunes through the model manager."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
from benchmark_layouts import use_layout_counts, write_cub
from imagegen import TINY_SPEC
from PySide6.QtWidgets import QWidget
from test_gui_benchmark import tick
from test_gui_helpers import WAIT_MS, build_window, wait_ready

from irt_desktop.gui.text_wrap import plain


def deit_s_bundles(models_dir, verified: bool, unverified: bool) -> dict[str, object]:
    """Random-init DeiT-S bundles at the shipped card's setting: one whose card says published weights
    (a hub install), one brought in through the import path (its hash matches no published file)."""
    import torch
    from safetensors.torch import save_file

    from irt_desktop.retrieval.bundle import save_bundle
    from irt_desktop.retrieval.card import ModelCard, shipped_cards
    from irt_desktop.retrieval.model import IRT, create_backbone
    from irt_desktop.retrieval.weights import import_weights

    card = shipped_cards()["deit-s"]
    out: dict[str, object] = {}
    torch.manual_seed(0)
    if unverified:
        weights = models_dir.parent / "downloaded-elsewhere.safetensors"
        weights.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.contiguous() for k, v in create_backbone(card.spec).state_dict().items()}
        save_file(state, str(weights))
        out["unverified"] = import_weights(weights, card, models_dir)
    if verified:
        torch.manual_seed(1)  # other weights than the import's: the same weights would be the same bundle
        hub = ModelCard(name="deit-s", spec=card.spec, title=card.title, provenance={"kind": "pretrained"})
        out["verified"] = save_bundle(IRT(card.spec).eval(), hub, models_dir)
    return out


@pytest.fixture
def inline_pane(qtbot, themed_app, library_dir, gui_settings):
    from irt_desktop.gui.benchmark_pane import BenchmarkPane
    from irt_desktop.gui.tasks import TaskRunner, run_inline

    host = QWidget()
    qtbot.addWidget(host)
    made = []

    def make(**kwargs):
        pane = BenchmarkPane(
            SimpleNamespace(library_dir=library_dir),
            gui_settings,
            host,
            runner=TaskRunner(executor=run_inline),
            **kwargs,
        )
        made.append(pane)
        return pane

    yield make
    for pane in made:
        pane.shutdown()


def test_the_only_ticked_dataset_missing_is_a_failure_naming_the_file(inline_pane, tmp_path, tiny_bundle):
    data = tmp_path / "data"
    data.mkdir()
    pane = inline_pane()
    pane.root_edit.setText(str(data))
    pane.refresh_datasets()
    tick(pane, {"cub"})
    pane.run()
    assert not pane.running and pane.result is None  # nothing started
    assert not pane.banner.isHidden()
    assert pane.banner.property("kind") == "error"
    text = plain(pane.banner.text.text())
    assert f"expected {data / 'cub'}" in text and "images.txt" in text
    assert "Browse…" in text and "Dataset folder…" in text  # buttons to press, not commands to type
    assert "finished" not in pane.progress_label.text()
    assert pane.progress.value() == 0

    # The list not checked again yet after the folder changed: the run checks the folders itself.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    pane.root_edit.setText(str(elsewhere))  # typed, not yet checked (editingFinished not sent)
    assert not pane.chooser.places_are_for(str(elsewhere))
    pane.banner.hide()
    pane.run()
    assert pane.result is None and not pane.running
    assert not pane.banner.isHidden() and pane.banner.property("kind") == "error"
    assert f"expected {elsewhere / 'cub'}" in plain(pane.banner.text.text())

    # A dataset whose index files are there but unreadable: the run says nothing was measured.
    (elsewhere / "cub").mkdir()
    (elsewhere / "cub" / "images.txt").write_text("this is not an image list\n")
    (elsewhere / "cub" / "image_class_labels.txt").write_text("nor this\n")
    pane.model_combo.setCurrentIndex(pane.model_combo.findData(tiny_bundle.id))
    pane.run()
    assert pane.result is not None and not pane.result.rows and "cub" in pane.result.failed
    assert pane.progress_label.text().startswith("Benchmark failed: nothing was measured")
    assert "finished" not in pane.progress_label.text()
    assert not pane.banner.isHidden() and "CUB-200-2011" in plain(pane.banner.text.text())


def test_a_run_with_one_dataset_missing_finishes_and_says_which(
    inline_pane, tmp_path, tiny_bundle, monkeypatch
):
    use_layout_counts(monkeypatch)
    data = tmp_path / "data"
    write_cub(data / "cub")
    pane = inline_pane()
    pane.root_edit.setText(str(data))
    pane.refresh_datasets()
    tick(pane, {"cub", "inshop"})
    pane.model_combo.setCurrentIndex(pane.model_combo.findData(tiny_bundle.id))
    pane.run()
    assert pane.result is not None and pane.result.rows
    assert "finished" in pane.progress_label.text()
    assert pane.banner.property("kind") == "warning" and "In-Shop" in plain(pane.banner.text.text())
    assert pane.banner.title.text() == "1 dataset could not be measured"


def test_the_default_entry_is_an_installed_deit_s_verified_first(inline_pane, library_dir):
    from irt_desktop.gui.benchmark_jobs import DOWNLOAD_ENTRY

    pane = inline_pane()
    assert pane.model_combo.itemText(0) == DOWNLOAD_ENTRY and pane.model_combo.itemData(0) == ""

    made = deit_s_bundles(library_dir / "models", verified=False, unverified=True)
    pane.refresh_models()
    unverified = made["unverified"]
    assert pane.model_combo.itemData(0) == unverified.id and pane.model_combo.currentIndex() == 0
    assert "unverified" in pane.model_combo.itemText(0)
    assert pane.model_combo.findData(unverified.id) == 0  # listed once, as the default

    made |= deit_s_bundles(library_dir / "models", verified=True, unverified=False)
    pane.refresh_models()
    assert pane.model_combo.itemData(0) == made["verified"].id
    assert "verified published weights" in pane.model_combo.itemText(0)
    assert pane.model_combo.findData(unverified.id) > 0  # still there, below
    # The default entry carries the bundle: the run is given it and needs no download.
    pane.remember()
    assert pane.settings.benchmark_state()["model"] == made["verified"].id


def test_missing_weights_are_told_in_gui_words(inline_pane, tmp_path, monkeypatch):
    from irt_desktop.gui import benchmark_jobs
    from irt_desktop.retrieval.weights import WeightsUnavailable

    def offline(*args, **kwargs):
        raise WeightsUnavailable("cannot be downloaded now ... irt-desktop models import PATH --card deit-s")

    monkeypatch.setattr(benchmark_jobs, "run_pane_suite", offline)
    monkeypatch.setattr("irt_desktop.gui.benchmark_pane.run_pane_suite", offline)
    pane = inline_pane()
    pane.suite_combo.setCurrentIndex(pane.suite_combo.findData("smoke-quick"))
    pane.run()
    text = plain(pane.banner.text.text())
    assert "File ▸ Models…" in text and "Import weights file…" in text
    assert "irt-desktop" not in text


def test_the_model_list_follows_installs_removals_and_fine_tunes(
    qtbot, themed_app, library_dir, gui_settings, tmp_path
):
    from test_gui_finetune import close_all, make_albums

    from irt_desktop.retrieval.weights import random_init_bundle

    client, window = build_window(library_dir, gui_settings)
    qtbot.addWidget(window)
    window.show()
    client.start()
    wait_ready(qtbot, window)
    vm = window.model_manager
    pane = window.benchmark_pane  # the window hands it the model manager
    qtbot.waitUntil(lambda: pane.model_combo.count() >= 2, timeout=WAIT_MS)
    ids = lambda: {pane.model_combo.itemData(i) for i in range(pane.model_combo.count())}  # noqa: E731

    extra = random_init_bundle(TINY_SPEC, "extra", library_dir / "models", seed=5)
    vm.refresh()  # what the model manager does after an install
    qtbot.waitUntil(lambda: extra.id in ids(), timeout=WAIT_MS)
    shutil.rmtree(extra.path)
    vm.refresh()  # and after a removal
    qtbot.waitUntil(lambda: extra.id not in ids(), timeout=WAIT_MS)

    # A fine-tune: the wizard tells the model manager, and the pane lists the new model.
    window.open_finetune_wizard()
    wizard = window._wizard
    assert wizard.models is vm
    wizard.folders_page.add_folder(make_albums(tmp_path / "Albums", 4))
    qtbot.waitUntil(wizard.folders_page.isComplete, timeout=WAIT_MS)
    wizard.next()
    page = wizard.settings_page
    qtbot.waitUntil(page.isComplete, timeout=WAIT_MS)
    page.iterations.setValue(2)
    page.batch.setValue(8)
    wizard.next()
    qtbot.waitUntil(
        lambda: wizard.training_page.done or "failed" in wizard.training_page.stage.text(),
        timeout=WAIT_MS * 2,
    )
    assert wizard.training_page.done, wizard.training_page.stage.text()
    wizard.next()
    wizard.result_page.activate_check.setChecked(False)
    new = wizard.state.result.bundle
    wizard.accept()
    qtbot.waitUntil(lambda: new.id in ids(), timeout=WAIT_MS)
    window._wizard = None  # close_all deletes it first; the window must not shut a deleted wizard down
    close_all(qtbot, wizard, window)


def test_messages_are_in_the_panes_words(tmp_path):
    from irt_desktop.gui.benchmark_jobs import gui_words, missing_text
    from irt_desktop.retrieval.benchmark import dataset_places

    partial = (
        "cub: not the complete dataset (5,000 of 5,924 images). A truncated list would be evaluated as "
        "if it were the benchmark; fix the dataset, or run with --allow-partial to evaluate it anyway "
        "(marked partial, with no paper figure)."
    )
    assert "--" not in gui_words(partial) and gui_words(partial).endswith("as if it were the benchmark.")
    assert gui_words("cub: the model is already 128-d; --dims 64 ignored.") == (
        "cub: the model is already 128-d; the 64-d descriptor asked for is not applied."
    )
    places = dataset_places(tmp_path, {}, ["cub", "sop"])
    text = missing_text(["cub", "sop"], places)
    assert f"expected {tmp_path / 'cub' / 'images.txt'}" in text and "Ebay_train.txt" in text
    assert missing_text(["cub"], {}) == ""  # not checked yet: the run will tell
    (tmp_path / "cub").mkdir()
    (tmp_path / "cub" / "images.txt").write_text("")
    (tmp_path / "cub" / "image_class_labels.txt").write_text("")
    present = dataset_places(tmp_path, {}, ["cub", "sop"])
    assert present["cub"].present and missing_text(["cub", "sop"], present) == ""
    assert "no data folder chosen" in missing_text(["cub"], dataset_places("", {}, ["cub"]))
