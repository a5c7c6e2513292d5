"""The serving model is prepared right after the library opens, a query asked for earlier says
"Preparing the model…" and is answered once it is, and the wizard's torch work moves to a child process
when OpenVINO serves (decided by gui.finetune.jobs.torch_in_child)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

from PySide6.QtWidgets import QWidget
from test_gui_helpers import build_window, make_photos, wait_ready, wait_results

from irt_desktop.gui.model_warmup import PREPARING, is_preparing, prepare_model


def _indexed_library(library_dir: Path, photos: list[Path]) -> None:
    from irt_desktop.library import Library

    with Library.open(library_dir) as lib:
        lib.add_root(photos[0].parent)
        lib.index()


def test_the_model_is_loaded_once_the_library_opens(qtbot, themed_app, library_dir, gui_settings, tmp_path):
    photos = make_photos(tmp_path / "Photos", 6)
    _indexed_library(library_dir, photos)
    client, window = build_window(library_dir, gui_settings)
    qtbot.addWidget(window)
    window.show()
    client.start()
    wait_ready(qtbot, window)
    qtbot.waitUntil(lambda: not is_preparing(client), timeout=10_000)
    lib = client.library
    assert lib.models.served(lib.model_id) is not None  # loaded before any search asked for it
    window.close()


def test_a_query_before_the_library_opens_says_preparing_then_is_answered(
    qtbot, themed_app, library_dir, gui_settings, tmp_path
):
    from irt_desktop.gui.library_open import open_real_library

    photos = make_photos(tmp_path / "Photos", 6)
    _indexed_library(library_dir, photos)

    def slow_open(path, settings):
        time.sleep(0.5)  # the query below arrives while the library is still opening
        return open_real_library(path, settings)

    client, window = build_window(library_dir, gui_settings, opener=slow_open)
    qtbot.addWidget(window)
    window.show()
    client.start()
    window.search_photos([photos[2]])
    view = window.search_view
    qtbot.waitUntil(lambda: view.result_header.text() == PREPARING, timeout=5_000)
    hits = wait_results(qtbot, view)
    assert hits and hits[0].path.name == photos[2].name
    window.close()


def test_prepare_model_without_a_serving_model_does_nothing():
    assert prepare_model(SimpleNamespace(model_id=None)) is None


def test_torch_runs_in_a_child_when_the_library_serves_with_openvino(monkeypatch):
    import irt_desktop.retrieval.openvino_runtime as runtime
    from irt_desktop.gui.finetune.jobs import torch_in_child

    monkeypatch.setattr(runtime, "openvino_version", lambda: "2099.1")  # no OpenVINO in this process
    library = SimpleNamespace(models=SimpleNamespace(backend="openvino", device=None))
    assert torch_in_child(library)
    library.models.backend = "torch"
    assert not torch_in_child(library)
    library.models.backend, library.models.device = "auto", "cuda"
    assert not torch_in_child(library)
    assert not torch_in_child(None) and not torch_in_child(SimpleNamespace())


def test_the_wizard_trains_and_probes_in_a_child_when_openvino_serves(
    qtbot, themed_app, library_dir, gui_settings, tmp_path, monkeypatch
):
    """Inline runner, torch_in_child forced: training and the speed probe must not run in this process
    (their in-process versions are made to fail here; a spawned child imports the real ones)."""
    from test_gui_finetune import make_albums

    import irt_desktop.gui.finetune.jobs as jobs
    import irt_desktop.retrieval.training.finetune as finetune
    from irt_desktop.gui.finetune import FinetuneWizard
    from irt_desktop.gui.tasks import TaskRunner, run_inline
    from irt_desktop.gui.thumbnails import ThumbnailCache, ThumbnailLoader

    def not_here(*args, **kwargs):
        raise AssertionError("torch computed in the GUI process")

    monkeypatch.setattr(jobs, "torch_in_child", lambda library: True)
    monkeypatch.setattr(finetune, "run_finetune", not_here)
    monkeypatch.setattr(finetune, "measure_cost", not_here)
    host = QWidget()
    qtbot.addWidget(host)
    client = SimpleNamespace(library_dir=library_dir, library=None)
    thumbnails = ThumbnailLoader(ThumbnailCache(tmp_path / "thumbnails"), parent=host)
    wizard = FinetuneWizard(client, gui_settings, thumbnails, host, runner=TaskRunner(executor=run_inline))
    wizard.show()
    wizard.folders_page.add_folder(make_albums(tmp_path / "Albums", 3))
    wizard.next()
    page2 = wizard.settings_page
    page2.iterations.setValue(2)
    page2.batch.setValue(8)
    page2.refresh()  # the estimate's probe ran in a child already (inline runner); shown again
    assert page2.estimate_label.text().startswith("about"), page2.estimate_label.text()
    wizard.next()
    page3 = wizard.training_page
    assert page3.done, page3.stage.text()
    assert wizard.state.result.bundle is not None and wizard.state.result.last_step.iteration == 2
    wizard.next()
    wizard.result_page.keep_check.setChecked(False)
    wizard.accept()
    wizard.shutdown()
    thumbnails.shutdown()
