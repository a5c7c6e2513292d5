"""Where OpenVINO serves, the fine-tune wizard loads no torch into the GUI process: scanning the folders,
the recipes, defaults, device line, sizing, the time estimate (its probe times torch in a child
process), the name check and the plan all run beside OpenVINO without torch, timm or torchvision.

Each check runs in a fresh subprocess with $IRT_BACKEND=openvino (the pytest process has torch loaded
and pins the torch backend). This module imports nothing heavy at its top: the subprocess imports
`walk_wizard` from it.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
HEAVY = ("torch", "timm", "torchvision")


def walk_wizard(library_dir: str, albums: str, train: bool = False) -> dict:
    """In a process where OpenVINO serves `library_dir`'s library: the wizard over `albums` through the
    folders page and the settings page (estimate shown, name and plan checked); with `train`, on to a
    2-iteration run (in a child process) and its result, kept but not activated. What it saw, and
    which heavy modules it loaded."""
    import resource
    import time

    t0 = time.perf_counter()
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication, QWidget

    from irt_desktop.gui.finetune import FinetuneWizard, naming
    from irt_desktop.gui.settings import AppSettings
    from irt_desktop.gui.tasks import TaskRunner, run_inline
    from irt_desktop.gui.thumbnails import ThumbnailCache, ThumbnailLoader
    from irt_desktop.library import Library

    app = QApplication.instance() or QApplication([])
    lib_path = Path(library_dir)
    settings = AppSettings(QSettings(str(lib_path.parent / "settings.ini"), QSettings.Format.IniFormat))
    out: dict = {}
    with Library.open(lib_path, role="gui") as library:
        out["library_backend"] = library.models.backend
        host = QWidget()
        thumbnails = ThumbnailLoader(ThumbnailCache(lib_path.parent / "thumbnails"), parent=host)
        # The library's view the wizard reads (its folder, the serving model, the backend it asked
        # for); the jobs run inline so each page has its answer when the call returns.
        client = SimpleClient(lib_path, library)
        wizard = FinetuneWizard(client, settings, thumbnails, host, runner=TaskRunner(executor=run_inline))
        wizard.show()
        wizard.folders_page.add_folder(Path(albums))
        out["folders_complete"] = wizard.folders_page.isComplete()
        out["usable"] = wizard.state.usable
        wizard.next()
        page = wizard.settings_page
        out["settings_complete"] = page.isComplete()
        out["recipe"] = page.recipe_combo.currentData()
        out["device"] = wizard.state.device
        out["device_text"] = page.device_label.text()
        out["estimate"] = page.estimate_label.text()
        size = page.suggested
        out["suggested"] = None if size is None else [size.iterations, size.batch_size]
        out["validated"] = page.validatePage()  # the name check: what Next does before training starts
        work_dir = naming.planned_work_dir(wizard)  # the plan, as a taken name's question makes it
        out["work_dir"] = None if work_dir is None else str(work_dir)
        out["work_root"] = str(wizard.work_root)
        if train:
            page.iterations.setValue(2)
            page.batch.setValue(8)
            wizard.next()  # the run starts; with the inline runner it has ended when next() returns
            training = wizard.training_page
            out["trained"] = training.done
            out["stage"] = training.stage.text()
            out["loss_points"] = len(next(x for x in training.loss_chart.series if x.name == "loss").points)
            wizard.next()
            out["after"] = wizard.result_page.after_label.text()
            wizard.result_page.keep_check.setChecked(True)
            wizard.result_page.activate_check.setChecked(False)
            wizard.accept()
            bundle = wizard.state.result.bundle
            out["bundle"] = str(bundle.path) if bundle is not None else None
        wizard.shutdown()
        thumbnails.shutdown()
        host.deleteLater()
        app.processEvents()
    out["seconds"] = time.perf_counter() - t0
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["heavy"] = [m for m in HEAVY if m in sys.modules]
    return out


class SimpleClient:
    """What the wizard reads of gui.library_client.LibraryClient: the library's folder and the open
    library (a real one, opened with the backend $IRT_BACKEND names)."""

    def __init__(self, library_dir: Path, library: object) -> None:
        self.library_dir = library_dir
        self.library = library

    def activate_model(self, bundle: object) -> None:  # the result page's; never reached here
        raise AssertionError("the wizard was not meant to get to its result")


def _env(tmp_path: Path) -> dict[str, str]:
    from irt_desktop.retrieval.training.hardware import accelerator_possible

    env = {
        **os.environ,
        "IRT_BACKEND": "openvino",
        "QT_QPA_PLATFORM": "offscreen",
        "IRT_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)]),
    }
    if accelerator_possible():
        # Where a GPU could train, OpenVINO serves only on a CPU chosen for it (auto picks torch there);
        # elsewhere the automatic device choice itself is what must stay torch-free.
        env["IRT_DEVICE"] = "cpu"
    return env


def _run(code: str, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_wizard_up_to_its_estimate_loads_no_torch_where_openvino_serves(library_dir, tmp_path):
    from test_gui_finetune import make_albums

    albums = make_albums(tmp_path / "Albums", 5)
    got = _run(
        f"""
        import json
        from test_wizard_torch_free import walk_wizard
        print(json.dumps(walk_wizard({str(library_dir)!r}, {str(albums)!r})))
        """,
        _env(tmp_path),
    )
    assert got["library_backend"] == "openvino"
    assert got["folders_complete"] and got["usable"] == 5
    assert got["settings_complete"] and got["recipe"] == "folders"
    assert got["device"] == "cpu" and got["device_text"].startswith("CPU (")
    # Timed for real: the probe built the model and trained a few steps in a child process.
    assert got["estimate"].startswith("about ") and "Timed here" in got["estimate"], got["estimate"]
    assert got["suggested"] is not None
    assert got["validated"] is True
    assert got["work_dir"] is not None and Path(got["work_dir"]).parent == Path(got["work_root"])
    assert got["heavy"] == []


def test_the_wizard_trains_in_a_child_and_shows_the_result_without_torch(library_dir, tmp_path):
    """Past the estimate: the run trains in a spawned child (torch there), its progress events and its
    answer reach the training and result pages of a process that still has no torch."""
    from test_gui_finetune import make_albums

    albums = make_albums(tmp_path / "Albums", 4)
    got = _run(
        f"""
        import json
        from test_wizard_torch_free import walk_wizard
        print(json.dumps(walk_wizard({str(library_dir)!r}, {str(albums)!r}, train=True)))
        """,
        _env(tmp_path),
    )
    assert got["trained"], got["stage"]
    assert got["loss_points"] >= 1  # Step events from the child drew the loss curve
    assert got["after"].endswith("%")
    assert got["bundle"] is not None and Path(got["bundle"]).parent == library_dir / "models"
    assert (Path(got["bundle"]) / "model.safetensors").is_file()
    assert got["heavy"] == []


def _from_a_child() -> bytes:
    """What a run in a child process sends its parent (finetune.child): events, the cost, an answer,
    errors, one of them torch's own. Pickled here, where torch is loaded, as the child would."""
    import torch

    from irt_desktop.retrieval.training import CheckpointError
    from irt_desktop.retrieval.training.finetune import (
        Baseline,
        DeviceCost,
        Evaluating,
        FinetuneResult,
        Stage,
        Started,
        Step,
        compare_recall,
    )
    from irt_desktop.retrieval.training.finetune.child import _sendable

    step = Step(3, 6, 0.5, 0.4, 0.1, 12.0, 5.0, {"R@1": 50.0})
    return pickle.dumps(
        [
            Started(6, 8, 20, 10, "cpu", None, ("batch 30 rounded to 32",)),
            Evaluating("before", 5, 10),
            Baseline({"R@1": 40.0}, (0, 1, 2)),
            step,
            Stage("save"),
            FinetuneResult(None, False, {"R@1": 40.0}, {"R@1": 50.0}, [step], compare_recall((0, 1), (0, 0))),
            DeviceCost(train_s=0.01, eval_s=0.003),
            _sendable(CheckpointError("another run's checkpoint")),
            _sendable(torch.OutOfMemoryError("out of memory")),
        ]
    )


def test_a_childs_messages_are_received_without_torch(tmp_path):
    got = _run(
        f"""
        import json, pickle, sys
        received = pickle.loads(bytes.fromhex({_from_a_child().hex()!r}))
        print(json.dumps({{
            "types": [type(r).__name__ for r in received],
            "oom": str(received[-1]).splitlines()[0],
            "heavy": [m for m in {HEAVY!r} if m in sys.modules],
        }}))
        """,
        _env(tmp_path),
    )
    assert got["types"] == [
        "Started",
        "Evaluating",
        "Baseline",
        "Step",
        "Stage",
        "FinetuneResult",
        "DeviceCost",
        "CheckpointError",  # the training page offers Start over for it by its name
        "ChildProcessFailed",
    ]
    assert got["oom"] == "OutOfMemoryError: out of memory"
    assert got["heavy"] == []


def test_planning_a_run_loads_no_torch(library_dir, tmp_path):
    from test_gui_finetune import make_albums

    albums = make_albums(tmp_path / "Albums", 4)
    got = _run(
        f"""
        import json, sys
        from pathlib import Path
        import irt_desktop.retrieval.training.finetune as finetune
        from irt_desktop.retrieval.bundle import list_bundles
        from irt_desktop.retrieval.datasets import scan_class_folders
        from irt_desktop.retrieval.training import list_recipes
        from irt_desktop.retrieval.training.hardware import device_text, plan_device

        library = Path({str(library_dir)!r})
        base = list_bundles(library / "models")[0]
        dataset = scan_class_folders([Path({str(albums)!r})])
        cost = finetune.DeviceCost(train_s=0.01, eval_s=0.003, decode_s=0.001, setup_s=2.0)
        train, classes, held = finetune.split_counts(dataset, 0.3, "image")
        size = finetune.size_run(train, classes, held, cost)
        plan = finetune.plan_finetune(
            dataset,
            finetune.FinetuneSettings(
                iterations=size.iterations, batch_size=30, holdout=0.3, split_by="image"
            ),
            base=base,
            models_dir=library / "models",
            work_root=finetune.default_work_root(library),
        )
        print(json.dumps({{
            "recipes": "folders" in list_recipes(),
            "defaults": finetune.recipe_defaults("folders")["m_per_class"],
            "device": plan.device,
            "device_text": device_text(plan_device(None)),
            "batch": plan.config.batch_size,
            "workers": plan.config.num_workers,
            "work_dir": str(plan.work_dir),
            "heavy": [m for m in {HEAVY!r} if m in sys.modules],
        }}))
        """,
        _env(tmp_path),
    )
    assert got["recipes"] and got["defaults"] == 4
    assert got["device"] == "cpu" and got["device_text"].startswith("CPU (")
    assert got["batch"] == 32  # rounded to whole groups of 4, as in a torch process
    assert got["workers"] == (0 if (os.cpu_count() or 1) <= 4 else 2)
    assert Path(got["work_dir"]).parent == library_dir / "training"
    assert got["heavy"] == []
