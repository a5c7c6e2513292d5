"""The fine-tune wizard's defaults, names, memory, failures and result, with jobs run inline on the tiny
model: iterations and batch sized to the photos and the timed device, a free name proposed and a taken
one asked about (start over keeps the old model and sets the old run aside), settings remembered across
openings, a failure shown in full with Start over, and Recall@1 with its bootstrap interval driving the
warning on "Use it for my library now"."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from imagegen import TINY_SPEC, save_photo
from PySide6.QtWidgets import QWidget
from shiboken6 import isValid
from test_gui_finetune import make_albums
from test_gui_helpers import WAIT_MS

from irt_desktop.gui.finetune import naming
from irt_desktop.gui.finetune import settings_page as settings_page_module
from irt_desktop.retrieval.training.finetune import TIME_BUDGET_S, DeviceCost


class Asked:
    """Stands in for the message boxes: records each question, gives the answer set beforehand."""

    def __init__(self, answer: str = naming.CANCEL, confirm: bool = True) -> None:
        self.answer, self.confirm_answer = answer, confirm
        self.questions: list = []
        self.confirms: list = []

    def ask(self, parent, question) -> str:
        self.questions.append(question)
        return self.answer

    def confirm(self, parent, title, text, yes) -> bool:
        self.confirms.append((title, text))
        return self.confirm_answer


@pytest.fixture
def open_wizard(qtbot, themed_app, library_dir, gui_settings, tmp_path):
    """A function making wizards on the test's library whose jobs run inline; all are shut at the end."""
    from irt_desktop.gui.finetune import FinetuneWizard
    from irt_desktop.gui.tasks import TaskRunner, run_inline
    from irt_desktop.gui.thumbnails import ThumbnailCache, ThumbnailLoader

    host = QWidget()  # the owner, as the main window is in the app; deleted here, after the wizards
    thumbnails = ThumbnailLoader(ThumbnailCache(tmp_path / "thumbnails"), parent=host)
    made = []

    def make(asked: Asked | None = None, **kwargs):
        asked = asked or Asked()
        client = SimpleNamespace(library_dir=library_dir, library=None)
        wizard = FinetuneWizard(
            client,
            gui_settings,
            thumbnails,
            host,
            runner=TaskRunner(executor=run_inline),
            ask_name=asked.ask,
            confirm=asked.confirm,
            **kwargs,
        )
        made.append(wizard)
        wizard.show()
        return wizard

    yield make
    for wizard in made:
        wizard.shutdown()
        # Deleted before their host: a QWizard deleted with its parent makes a later
        # QApplication.setStyleSheet crash (see test_gui_finetune.close_all).
        wizard.deleteLater()
        qtbot.waitUntil(lambda w=wizard: not isValid(w), timeout=WAIT_MS)
    thumbnails.shutdown()
    host.deleteLater()
    qtbot.waitUntil(lambda: not isValid(host), timeout=WAIT_MS)


def to_settings(wizard, albums: Path | None = None):
    if albums is not None:
        wizard.folders_page.add_folder(albums)
    assert wizard.folders_page.isComplete()
    wizard.next()
    page = wizard.settings_page
    assert page.isComplete(), page.estimate_label.text()
    return page


def test_defaults_are_sized_to_the_photos_and_the_timed_device(open_wizard, tmp_path):
    page = to_settings(open_wizard(), make_albums(tmp_path / "Albums", 10))
    train, classes, held = page.counts()
    assert (train, classes) == (43, 7) and held == 18  # 10 albums of 6 and one lone photo, 3 held out
    s = page.suggested
    # Not the recipe's 1,000 x 64: every training class once per batch, about 20 passes over the photos.
    assert (page.iterations.value(), page.batch.value()) == (s.iterations, s.batch_size) == (31, 28)
    assert s.seconds <= TIME_BUDGET_S
    text = page.estimate_label.text()
    assert text.startswith("about ") and "31 iterations of 28 photos" in text and "Timed here" in text
    assert "s per training photo" in text and "to read one of yours" in text  # the probe read the photos


def test_a_slow_device_gets_a_run_that_fits_and_the_user_can_ask_for_more(open_wizard, tmp_path, monkeypatch):
    slow = DeviceCost(train_s=1.2, eval_s=0.4, decode_s=0.05, setup_s=8.0, how="a slow laptop")
    monkeypatch.setattr(settings_page_module, "probe_cost", lambda *args: slow)
    page = to_settings(open_wizard(), make_albums(tmp_path / "Albums", 10))
    s = page.suggested
    assert s.limited and s.seconds <= TIME_BUDGET_S and page.iterations.value() == s.iterations
    assert "Sized to about 15 min" in page.estimate_label.text()
    assert page.estimated_s == pytest.approx(s.seconds)

    page.iterations.setValue(400)  # the user asks for more: kept, and the estimate says what it costs
    assert not page.auto_size and page.iterations.value() == 400
    assert "longer than the 15 min" in page.estimate_label.text()
    assert page.estimated_s > TIME_BUDGET_S
    page.use_suggested()
    assert page.auto_size and page.iterations.value() == s.iterations


def test_a_free_name_is_proposed_and_a_taken_one_can_start_over(open_wizard, library_dir, tmp_path):
    from irt_desktop.retrieval.bundle import list_bundles
    from irt_desktop.retrieval.training.finetune.runs import past_runs
    from irt_desktop.retrieval.weights import random_init_bundle

    models = library_dir / "models"
    random_init_bundle(TINY_SPEC, "tiny-albums", models, seed=1)  # the name the wizard would propose
    albums = make_albums(tmp_path / "Albums", 4)
    wizard = open_wizard()
    page = to_settings(wizard, albums)
    assert page.name_edit.text() == "tiny-albums-2"
    page.iterations.setValue(3)
    page.batch.setValue(8)
    wizard.next()
    assert wizard.training_page.done, wizard.training_page.stage.text()
    first = wizard.state.result.bundle
    wizard.next()
    wizard.result_page.activate_check.setChecked(False)  # no library here to switch
    wizard.accept()
    assert first.card.name == "tiny-albums-2" and first.path.is_dir()

    # Next opening: the proposal is free again.
    asked = Asked(naming.START_OVER)
    again = open_wizard(asked)
    page = to_settings(again, None if again.state.roots else albums)
    assert page.name_edit.text() == "tiny-albums-3"
    # The user picks the taken name with the same settings: asked, and starting over keeps everything.
    page.name_edit.setText("tiny-albums-2")
    page.name_edit.setModified(True)
    page.iterations.setValue(3)
    page.batch.setValue(8)
    (work,) = [r.folder for r in past_runs(library_dir / "training") if r.name == "tiny-albums-2"]
    assert (work / "checkpoint").is_dir()
    again.next()
    assert len(asked.questions) == 1
    question = asked.questions[0]
    assert "taken" in question.title and "already installed" in question.text
    assert [key for key, _ in question.options] == [naming.RENAME, naming.START_OVER, naming.CANCEL]
    assert again.training_page.done, again.training_page.stage.text()
    aside = [p for p in work.parent.iterdir() if p.name.startswith(work.name + ".set-aside-")]
    assert len(aside) == 1 and (aside[0] / "checkpoint").is_dir()  # the old run's progress is kept
    assert first.path.is_dir()  # and the old model stays installed
    assert {b.id for b in list_bundles(models)} >= {first.id, again.state.result.bundle.id}
    # Not keeping the new one removes only what this run added: a retrained model that came out
    # identical to the installed one is that one, and stays.
    again.next()
    again.result_page.keep_check.setChecked(False)
    again.accept()
    assert first.path.is_dir()


def test_cancel_and_rename_answers(open_wizard, library_dir, tmp_path):
    from irt_desktop.retrieval.weights import random_init_bundle

    random_init_bundle(TINY_SPEC, "taken", library_dir / "models", seed=1)
    asked = Asked(naming.CANCEL)
    wizard = open_wizard(asked)
    page = to_settings(wizard, make_albums(tmp_path / "Albums", 4))
    page.name_edit.setText("taken")
    page.name_edit.setModified(True)
    assert not page.validatePage()  # Cancel: stays on the page
    asked.answer = naming.RENAME
    assert page.validatePage()
    assert wizard.state.name == "taken-2" == page.name_edit.text()


def test_settings_are_remembered_between_openings(open_wizard, tmp_path):
    albums = make_albums(tmp_path / "Albums", 5)
    first = open_wizard()
    page = to_settings(first, albums)
    page.iterations.setValue(7)
    page.batch.setValue(12)
    page.holdout.setValue(40)
    page.split_by.setCurrentIndex(page.split_by.findData("image"))
    page.variant_combo.setCurrentIndex(page.variant_combo.findData("IRT_L"))
    page.name_edit.setText("holiday model")
    page.name_edit.setModified(True)
    assert page.validatePage()

    second = open_wizard()
    second.folders_page.initializePage()  # QWizard does this on show; the folders come back
    assert second.state.roots == [albums]
    page = to_settings(second)
    assert (page.iterations.value(), page.batch.value(), page.holdout.value()) == (7, 12, 40)
    assert not page.auto_size  # the user's own size, kept as such
    assert page.split_by.currentData() == "image" and page.variant_combo.currentData() == "IRT_L"
    assert page.name_edit.text() == "holiday-model"
    assert page.base_combo.currentData() == first.state.base.id


def test_a_failure_is_shown_in_full_and_can_start_over(open_wizard, tmp_path):
    from irt_desktop.retrieval.training import CheckpointError

    asked = Asked(confirm=True)
    wizard = open_wizard(asked)
    page = to_settings(wizard, make_albums(tmp_path / "Albums", 4))
    page.iterations.setValue(2)
    page.batch.setValue(8)
    wizard.next()
    training = wizard.training_page
    assert training.done
    long = "/very/long/" + "folder/" * 30 + "checkpoint holds a checkpoint of a different run (data differ)"
    training._on_failed(CheckpointError(f"{long}\nsecond line of the reason"))
    # In the pane's words on the page (the button to press), the reason in full below it.
    assert training.stage.wordWrap() and "Press Start over…" in training.stage.text()
    assert not training.details.isHidden() and long in training.details.toPlainText()
    assert "second line" in training.details.toPlainText() and not training.isComplete()
    assert not training.start_over_button.isHidden()
    training.start_over_button.click()
    assert asked.confirms and "not deleted" in asked.confirms[0][1]
    assert training.done and training.details.isHidden() and training.start_over_button.isHidden()


def test_an_unreadable_photo_fails_with_its_name_readable(open_wizard, tmp_path):
    albums = make_albums(tmp_path / "Albums", 4)
    bad = albums / "album_0" / "broken.jpg"
    bad.write_bytes(b"not a jpeg at all")
    wizard = open_wizard()
    page = to_settings(wizard, albums)
    page.iterations.setValue(2)
    page.batch.setValue(8)
    wizard.next()
    training = wizard.training_page
    assert not training.done and training.stage.text().startswith("Training failed")
    assert "broken.jpg" in wizard.state.error
    assert training.stage.wordWrap()
    assert training.start_over_button.isHidden()  # not a checkpoint problem: starting over would not help


def test_result_shows_intervals_and_the_warning_comes_from_them(open_wizard, tmp_path):
    from irt_desktop.retrieval.training.finetune import FinetuneResult, compare_recall

    wizard = open_wizard()
    page = to_settings(wizard, make_albums(tmp_path / "Albums", 6))
    page.iterations.setValue(3)
    page.batch.setValue(8)
    wizard.next()
    assert wizard.training_page.done
    result = wizard.state.result
    cmp = result.comparison
    assert cmp is not None and cmp.n == wizard.state.result.comparison.n > 0
    assert cmp.before.value == pytest.approx(wizard.state.before["R@1"])
    assert cmp.after.value == pytest.approx(wizard.state.after["R@1"])
    wizard.next()
    rp = wizard.result_page
    assert "95% interval" in rp.before_ci.text() and "95% interval" in rp.after_ci.text()
    assert f"{cmp.n} held-out photos" in rp.delta_label.text()
    assert (not rp.warning.isHidden()) == bool(cmp.warning())
    assert rp.activate_check.isChecked() == (cmp.warning() == "")

    # Both at 100 % on 32 photos: said plainly, the choice still offered but not ticked.
    wizard.state.before, wizard.state.after = {"R@1": 100.0}, {"R@1": 100.0}
    wizard.state.result = FinetuneResult(result.bundle, False, comparison=compare_recall([0] * 32, [0] * 32))
    rp.initializePage()
    assert not rp.warning.isHidden() and "100 %" in rp.warning.text.text()
    assert rp.activate_check.isEnabled() and not rp.activate_check.isChecked()
    assert "not recommended" in rp.activate_check.text() and "100 %" in rp.activate_hint.text()
    # A clear gain on 40 photos: no warning, and the choice is ticked.
    wizard.state.before, wizard.state.after = {"R@1": 0.0}, {"R@1": 100.0}
    wizard.state.result = FinetuneResult(result.bundle, False, comparison=compare_recall([4] * 40, [0] * 40))
    rp.initializePage()
    assert rp.warning.isHidden() and rp.activate_check.isChecked()
    assert rp.activate_check.text() == "&Use it for my library now"
    rp.keep_check.setChecked(False)
    wizard.accept()


def test_name_question_offers_resume_only_for_a_run_part_of_the_way():
    from irt_desktop.retrieval.training.finetune import NameUse, PastRun

    past = PastRun(Path("/lib/training/x-abc"), "x", 40, 100)
    q = naming.name_question(NameUse("x", (), (past,)), past, 100, "x-2")
    assert [k for k, _ in q.options] == [naming.RESUME, naming.RENAME, naming.START_OVER, naming.CANCEL]
    assert "iteration 40 of 100" in q.text and "set aside" in q.text
    done = PastRun(Path("/lib/training/x-abc"), "x", 100, 100)
    q = naming.name_question(NameUse("x", (), (done,)), done, 100, "x-2")
    assert naming.RESUME not in [k for k, _ in q.options] and "start over" in q.text


def test_a_photo_folder_that_vanished_is_not_restored(open_wizard, tmp_path, gui_settings):
    gui_settings.set_wizard_state({"roots": [str(tmp_path / "gone")]})
    wizard = open_wizard()
    wizard.folders_page.initializePage()
    assert wizard.state.roots == []
    save_photo(tmp_path / "x.jpg", 1)  # keeps the imports honest
