"""The model manager in a real window over a real library: the list, activation after a confirmation
that says what it costs, switching back, rename, remove (refused for the model in use), the model in
the status bar, and imports or downloads that fail leaving the model in use and the banner alone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from imagegen import TINY_SPEC
from test_gui_helpers import WAIT_MS, install_model, wait_indexed, wait_ready


@pytest.fixture(scope="module")
def other_bundle(tmp_path_factory):
    from irt_desktop.retrieval.weights import random_init_bundle

    return random_init_bundle(TINY_SPEC, "tiny-b", tmp_path_factory.mktemp("other"), seed=7)


class Answers:
    """Stands in for the confirmation box: records each question, answers from a list."""

    def __init__(self, *answers: bool) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, str, str]] = []

    def __call__(self, parent, title: str, text: str, yes: str) -> bool:
        self.asked.append((title, text, yes))
        return self.answers.pop(0) if self.answers else False


def _ready_with_photos(qtbot, window, photo_files):
    wait_ready(qtbot, window)
    window.add_folders([photo_files[0].parent])
    wait_indexed(qtbot, window, len(photo_files))


def _open_manager(qtbot, window, n_models: int):
    window.models_action.trigger()
    dialog = window._models_dialog
    qtbot.waitUntil(lambda: dialog.tree.topLevelItemCount() == n_models, timeout=WAIT_MS)
    return dialog


def _select(qtbot, dialog, model_id):
    qtbot.waitUntil(lambda: dialog.select(model_id), timeout=WAIT_MS)
    assert dialog.selected_id() == model_id


def test_manager_lists_activates_after_asking_and_switches_back(
    qtbot, main_window, photo_files, tiny_bundle, other_bundle
):
    w = main_window
    _ready_with_photos(qtbot, w, photo_files)
    install_model(w.client.library_dir, other_bundle)
    dialog = _open_manager(qtbot, w, 2)
    answers = Answers(False, True, True)
    dialog.confirm = answers

    # The list: the model in use marked, with what it is and how far it is indexed.
    from irt_desktop.gui.models_dialog import ID_ROLE

    tree = dialog.tree
    rows = {tree.topLevelItem(i).data(0, ID_ROLE): i for i in range(tree.topLevelItemCount())}
    assert set(rows) == {tiny_bundle.id, other_bundle.id}
    active = dialog.tree.topLevelItem(rows[tiny_bundle.id])
    assert active.text(1) == "In use" and active.font(0).bold()
    assert active.text(6) == "24" and active.text(5) == "random init (untrained)"
    assert dialog.tree.topLevelItem(rows[other_bundle.id]).text(6) == "0"
    assert w.model_button.text() == f"Model: {tiny_bundle.card.title}"
    _select(qtbot, dialog, tiny_bundle.id)
    assert not dialog.activate_button.isEnabled() and not dialog.remove_button.isEnabled()
    assert "Random weights" in dialog.details.text()

    # Activation asks first and says what it costs; "no" changes nothing.
    _select(qtbot, dialog, other_bundle.id)
    dialog.activate_selected()
    qtbot.waitUntil(lambda: len(answers.asked) == 1, timeout=WAIT_MS)
    title, text, yes = answers.asked[0]
    assert title == f"Use “{other_bundle.card.title}” for search?" and yes == "Re-index and switch"
    assert text.startswith("Re-index 24 photos, ") and "on this computer" in text
    assert f"Search keeps using “{tiny_bundle.card.title}” until that is done" in text
    qtbot.wait(200)
    assert w.client.library.model_id == tiny_bundle.id and w.client.library.target_model_id is None

    # "Yes": re-indexed in the background, then it serves; the status bar follows.
    dialog.activate_selected()
    qtbot.waitUntil(lambda: w.client.library.model_id == other_bundle.id, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: w.model_button.text() == f"Model: {other_bundle.card.title}", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: dialog.back_button.isEnabled(), timeout=WAIT_MS)
    assert tiny_bundle.card.title[:10] in dialog.back_button.text()

    # Switching back: the old vectors are still there, so it is immediate, and the question says so.
    wait_indexed(qtbot, w, len(photo_files))
    dialog.switch_back()
    qtbot.waitUntil(lambda: len(answers.asked) == 3, timeout=WAIT_MS)
    assert "already in the library" in answers.asked[2][1] and answers.asked[2][2] == "Switch now"
    qtbot.waitUntil(lambda: w.client.library.model_id == tiny_bundle.id, timeout=WAIT_MS)
    assert w.client.library.target_model_id is None and w.client.library.status().n_pending == 0
    qtbot.waitUntil(lambda: w.model_button.text() == f"Model: {tiny_bundle.card.title}", timeout=WAIT_MS)
    dialog.close()


def test_rename_and_remove_and_the_model_in_use_is_refused(
    qtbot, main_window, photo_files, tiny_bundle, other_bundle, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    w = main_window
    _ready_with_photos(qtbot, w, photo_files)
    install_model(w.client.library_dir, other_bundle)
    dialog = _open_manager(qtbot, w, 2)
    answers = Answers(True)
    dialog.confirm = answers
    dialog.ask_title = lambda parent, current: "Holiday model"

    # Rename the model in use: the title changes everywhere, the id does not.
    _select(qtbot, dialog, tiny_bundle.id)
    dialog.rename_selected()
    qtbot.waitUntil(lambda: w.model_button.text() == "Model: Holiday model", timeout=WAIT_MS)
    assert w.client.library.model_id == tiny_bundle.id

    # Removing the model in use is refused, without asking.
    _select(qtbot, dialog, tiny_bundle.id)
    assert not dialog.remove_button.isEnabled()
    assert "model in use" in dialog.remove_button.toolTip()
    dialog.remove_selected()
    assert not answers.asked and "cannot be removed" in dialog.banner.title.text()

    # Another model: asks (saying what goes where), then it goes to the trash.
    _select(qtbot, dialog, other_bundle.id)
    assert dialog.remove_button.isEnabled()
    dialog.remove_selected()
    title, text, yes = answers.asked[0]
    assert title == f"Move “{other_bundle.card.title}” to the trash?" and yes == "Move to trash"
    assert "can be restored" in text
    qtbot.waitUntil(lambda: dialog.tree.topLevelItemCount() == 1, timeout=WAIT_MS)
    assert not (w.client.layout.models / other_bundle.id).exists()
    assert (tmp_path / "xdg" / "Trash" / "files" / other_bundle.id / "card.toml").is_file()
    assert "moved to the trash" in dialog.banner.title.text()
    dialog.close()


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    import torch
    from safetensors.torch import save_file

    files = {"foo": tmp_path / "foo.safetensors", "random": tmp_path / "random.safetensors"}
    save_file({"foo": torch.zeros(3)}, str(files["foo"]))
    files["random"].write_bytes(bytes(range(256)) * 40)
    return files


def test_a_failed_import_says_why_leaves_the_model_and_can_be_dismissed(
    qtbot, main_window, photo_files, tiny_bundle, tmp_path
):
    w = main_window
    _ready_with_photos(qtbot, w, photo_files)
    files = _bad_files(tmp_path)
    expected = {
        "foo": "foo.safetensors: 1 tensors, none of a known vision transformer: this is not ViT/DeiT weights",
        "random": "random.safetensors is neither a safetensors file nor a PyTorch checkpoint",
    }
    for kind, path in files.items():
        w.model_setup.import_file(w, path=path, card_name="")
        qtbot.waitUntil(lambda: w.banner.isVisible() and not w.model_setup.busy, timeout=WAIT_MS)
        assert w.banner.title.text() == "The weights file was not imported"
        assert w.banner.text.text().startswith(expected[kind])
        assert "The model in use has not changed." in w.banner.text.text()
        assert "No model installed" not in w.banner.title.text()
        assert w.client.state == "ready" and w.client.library.model_id == tiny_bundle.id
        w.banner.dismiss_button().click()
        assert not w.banner.isVisible()
    # A shipped card named for the wrong weights: the one-sentence mismatch.
    w.model_setup.import_file(w, path=files["foo"], card_name="deit-s")
    qtbot.waitUntil(lambda: w.banner.isVisible() and not w.model_setup.busy, timeout=WAIT_MS)
    assert w.banner.text.text().startswith(
        "foo.safetensors: 1 tensors, 0 match DeiT-S: this is not DeiT-S weights; missing e.g. blocks.0."
    )
    assert w.model_button.text() == f"Model: {tiny_bundle.card.title}"


def test_a_failed_first_import_keeps_the_no_model_banner_behind_it(
    qtbot, themed_app, gui_settings, tmp_path
):
    from test_gui_helpers import build_window

    client, w = build_window(tmp_path / "empty", gui_settings)
    qtbot.addWidget(w)
    w.show()
    client.start()
    qtbot.waitUntil(lambda: client.state == "no_model", timeout=WAIT_MS)
    w.model_setup.import_file(w, path=_bad_files(tmp_path)["random"], card_name="")
    qtbot.waitUntil(lambda: "not imported" in w.banner.title.text(), timeout=WAIT_MS)
    assert "Indexing waits for a model" in w.banner.text.text()
    w.banner.dismiss_button().click()
    assert w.banner.isVisible() and "No model installed" in w.banner.title.text()
    w.banner.dismiss_button().click()  # that one can be dismissed too
    assert not w.banner.isVisible()
    w.close()


def test_an_import_installs_without_switching(
    qtbot, main_window, photo_files, tiny_bundle, other_bundle, monkeypatch
):
    from irt_desktop.gui import model_setup

    w = main_window
    _ready_with_photos(qtbot, w, photo_files)

    def importer(path, card, models_dir):
        install_model(models_dir.parent, other_bundle)
        return other_bundle

    monkeypatch.setattr(w.model_setup, "_importer", importer)
    assert model_setup.DETECT.startswith("Detect")
    w.model_setup.import_file(w, path=Path("weights.safetensors"), card_name="")
    qtbot.waitUntil(lambda: w.banner.title.text().startswith("Model installed"), timeout=WAIT_MS)
    assert "not in use yet" in w.banner.text.text()
    assert [b.text() for b in w.banner.buttons()] == ["Use it…", "Models…", "Dismiss"]
    qtbot.wait(300)
    assert w.client.library.model_id == tiny_bundle.id and w.client.library.target_model_id is None

    # "Use it…" asks first (the same question as the manager's).
    asked = []
    from irt_desktop.gui import models_dialog

    monkeypatch.setattr(models_dialog, "confirm_box", lambda *a: asked.append(a[1]) or False)
    monkeypatch.setattr(
        models_dialog, "ask_and_activate", _with_confirm(models_dialog.ask_and_activate, asked)
    )
    w.banner.buttons()[0].click()
    qtbot.waitUntil(lambda: bool(asked), timeout=WAIT_MS)
    assert asked[0].startswith("Use “")
    assert w.client.library.target_model_id is None


def _with_confirm(ask_and_activate, asked):
    def wrapped(parent, vm, model_id, confirm=None):
        return ask_and_activate(parent, vm, model_id, lambda *a: asked.append(a[1]) or False)

    return wrapped


def test_download_offline_says_so_within_two_seconds(qtbot, main_window, photo_files, monkeypatch):
    import socket

    from irt_desktop.gui import model_setup

    w = main_window
    wait_ready(qtbot, w)

    def hangs(*args, **kwargs):
        time.sleep(10)  # a resolver or a network that never answers
        raise OSError("unreachable")

    monkeypatch.setattr(socket, "create_connection", hangs)
    monkeypatch.setattr(model_setup, "_in_hub_cache", lambda tag: False)
    started = time.monotonic()
    w.fetch_model()
    qtbot.waitUntil(lambda: "cannot be reached" in w.banner.title.text(), timeout=WAIT_MS)
    assert time.monotonic() - started < 2.0
    assert "Import weights file" in w.banner.text.text()
    assert [b.text() for b in w.banner.buttons()] == ["Import weights file…", "Dismiss"]
    assert w.client.state == "ready" and "No model" not in w.banner.title.text()
    assert not w.model_setup.busy and w.model_setup.dialog is None


def test_the_questions_in_plain_words():
    from irt_desktop.gui.models_view_model import cost_text, metrics_text, removal_question
    from irt_desktop.library.models import ActivationCost

    cost = ActivationCost("m", 1032, 1032, 540.0, measured=True, immediate=False)
    assert cost_text(cost) == "Re-index 1,032 photos, about 9 min on this computer."
    guess = ActivationCost("m", 1, 1, 2.0, measured=False, immediate=False)
    assert cost_text(guess).startswith("Re-index 1 photo, roughly less than a minute (a guess")
    assert "nothing is re-indexed" in cost_text(ActivationCost("m", 0, 5, None, False, True))
    assert metrics_text({"R@10": 90.0, "R@1": 61.23, "R@2": 70.0}) == "R@1 61.2 · R@2 70.0 · R@10 90.0"
    assert metrics_text(None) == ""
    from dataclasses import dataclass

    @dataclass
    class Entry:
        title: str = "A model"
        disk_bytes: int = 90 * 1024 * 1024
        vectors: int = 1032

    title, text = removal_question(Entry())
    assert title == "Move “A model” to the trash?"
    assert "90.0 MB" in text and "1,032 vectors are dropped" in text


def test_download_from_the_manager_shows_progress_installs_without_switching_and_offline_says_so(
    qtbot, main_window, photo_files, tiny_bundle, other_bundle, monkeypatch
):
    import threading

    from irt_desktop.retrieval.weights import WeightsUnavailable

    w = main_window
    _ready_with_photos(qtbot, w, photo_files)
    dialog = _open_manager(qtbot, w, 1)
    assert dialog.download_combo.currentData() == "deit-s"
    go = threading.Event()
    asked = []

    def installer(card, models_dir, progress):
        asked.append(card)
        progress(40_000, 100_000)
        go.wait(5)
        install_model(models_dir.parent, other_bundle)
        return other_bundle

    monkeypatch.setattr(w.model_setup, "_installer", installer)
    dialog.download()
    qtbot.waitUntil(lambda: w.model_setup.dialog is not None and "of" in w.model_setup.dialog.labelText(),
                    timeout=WAIT_MS)
    go.set()
    qtbot.waitUntil(lambda: dialog.selected_id() == other_bundle.id, timeout=WAIT_MS)
    assert asked == ["deit-s"] and dialog.banner.title.text().startswith("Installed")
    assert w.client.library.model_id == tiny_bundle.id and w.client.library.target_model_id is None

    def offline(card, models_dir, progress):
        raise WeightsUnavailable("The model hub cannot be reached, so the weights cannot be downloaded now.")

    monkeypatch.setattr(w.model_setup, "_installer", offline)
    dialog.download()
    qtbot.waitUntil(lambda: "cannot be reached" in dialog.banner.title.text(), timeout=WAIT_MS)
    assert [b.text() for b in dialog.banner.buttons()] == ["Import weights file…", "Dismiss"]
    assert not w.banner.isVisible()  # the dialog says it; the window's banner is left alone
    dialog.close()
