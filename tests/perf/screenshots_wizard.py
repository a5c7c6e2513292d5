"""Screenshots of the fine-tune wizard and the benchmark pane at 1024x700, 1366x768 and 1920x1080, light
and dark, for looking at by eye (the rest of the application: screenshots.py).

    Xvfb :73 -screen 0 1920x1080x24 & DISPLAY=:73 .venv/bin/python tests/perf/screenshots_wizard.py \
        --out build/screenshots/wizard

Every wizard page of one real run on generated albums with a small random-init model (settings sized by
the real probe; training, and Recall@1 before / after with its bootstrap interval), the question a taken
name gets, a failure shown in full with Start over, a result whose interval cannot tell the models apart
(100 % before and after on 32 photos), and the benchmark pane with its only ticked dataset missing and
after a run with the default entry (a DeiT-S imported from random weights: "unverified", so no paper
figure) on tiny datasets in the real layouts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent.parent)]

from benchmark_layouts import write_cub, write_sop  # noqa: E402
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402
from screenshots import grab, imported_deit_s, make_albums, make_library, pump, settle  # noqa: E402

from irt_desktop.gui.app import create_application  # noqa: E402
from irt_desktop.gui.library_client import LibraryClient  # noqa: E402
from irt_desktop.gui.main_window import MainWindow  # noqa: E402
from irt_desktop.gui.settings import AppSettings  # noqa: E402
from irt_desktop.gui.theme import apply_theme  # noqa: E402

SIZES = ((1024, 700), (1366, 768), (1920, 1080))
THEMES = ("light", "dark")


def every_look(app: QApplication, widget: QWidget, out: Path, stem: str, resize: bool = True) -> None:
    """`widget` at every size and theme, saved as <stem>-<W>x<H>-<theme>.png."""
    for theme in THEMES:
        apply_theme(app, theme)
        for w, h in SIZES:
            if resize:
                widget.resize(w, h)
            settle(app, 0.5)
            grab(widget, out / f"{stem}-{w}x{h}-{theme}.png")
    apply_theme(app, "light")


def wizard_section(app: QApplication, w: MainWindow, client: LibraryClient, out: Path, tmp: Path) -> None:
    from irt_desktop.gui.finetune import naming
    from irt_desktop.retrieval.training import CheckpointError
    from irt_desktop.retrieval.training.finetune import FinetuneResult, NameUse, PastRun, compare_recall

    albums = make_albums(tmp / "Albums")
    w.open_finetune_wizard()
    wizard = w._wizard
    wizard.folders_page.add_folder(albums)
    pump(app, wizard.folders_page.isComplete)
    pump(
        app,
        lambda: all(w.thumbnails.pixmap(str(r.path)) is not None for r in wizard.state.dataset.records[:8]),
    )
    every_look(app, wizard, out, "wizard-1-folders")
    wizard.next()
    page2 = wizard.settings_page
    pump(app, page2.isComplete, timeout=300)
    pump(app, lambda: page2.estimate_label.text().startswith("about"), timeout=300)
    every_look(app, wizard, out, "wizard-2-settings")

    # The question a taken name gets (an earlier run of it stopped part of the way).
    name = page2.name_edit.text()
    past = PastRun(client.library_dir / "training" / f"{name}-3f9a0c1e2b", name, 24, page2.iterations.value())
    use = NameUse(name, (), (past,))
    question = naming.name_question(use, past, page2.iterations.value(), f"{name}-2")
    box, _ = naming.name_box(wizard, question)
    box.show()
    for theme in THEMES:
        apply_theme(app, theme)
        settle(app, 0.5)
        grab(box, out / f"wizard-2b-name-taken-{theme}.png")
    apply_theme(app, "light")
    box.close()

    wizard.next()
    page3 = wizard.training_page
    pump(app, lambda: page3.done or "failed" in page3.stage.text(), timeout=900)
    settle(app)
    every_look(app, wizard, out, "wizard-3-training")
    work = client.library_dir / "training" / f"{name}-3f9a0c1e2b" / "checkpoint"
    page3._on_failed(
        CheckpointError(
            f"{work} holds a checkpoint of a different run (trajectory, data differ); use another work "
            "folder, or start over without resuming\n\nin the child process:\nTraceback (most recent call "
            'last):\n  File ".../trainer.py", line 233, in _try_resume\n    raise CheckpointError(...)'
        )
    )
    every_look(app, wizard, out, "wizard-3b-failed")
    page3.initializePage()  # trains again: the result pages need a finished run
    pump(app, lambda: not page3.running, timeout=900)
    assert page3.done, page3.stage.text()
    wizard.next()
    settle(app)
    every_look(app, wizard, out, "wizard-4-result")

    real = wizard.state.result
    keep_before, keep_after = wizard.state.before, wizard.state.after
    wizard.state.before, wizard.state.after = {"R@1": 100.0, "R@2": 100.0}, {"R@1": 100.0, "R@2": 100.0}
    wizard.state.result = FinetuneResult(real.bundle, False, comparison=compare_recall([0] * 32, [0] * 32))
    wizard.result_page.initializePage()
    every_look(app, wizard, out, "wizard-4b-result-saturated")
    wizard.state.before, wizard.state.after, wizard.state.result = keep_before, keep_after, real
    wizard.result_page.initializePage()
    wizard.result_page.keep_check.setChecked(False)
    wizard.accept()


def benchmark_section(app: QApplication, w: MainWindow, client: LibraryClient, out: Path, tmp: Path) -> None:
    empty = tmp / "no-datasets-here"
    empty.mkdir()
    data = tmp / "datasets"
    write_cub(data / "cub", train_classes=6, test_classes=6, per_class=5)
    write_sop(data / "sop", train_classes=6, test_classes=6, per_class=4)
    # These tiny layouts are checked against their own counts, not the paper's (as the tests do).
    import dataclasses

    from benchmark_layouts import layout_counts

    from irt_desktop.retrieval.benchmark.catalog import DATASETS

    counts = layout_counts(sop=(6, 6, 4), cub=(6, 6, 5))
    for name in ("sop", "cub"):
        DATASETS[name] = dataclasses.replace(DATASETS[name], counts=counts[name])
    deit = imported_deit_s(client.library_dir / "models")
    w.model_manager.refresh()  # as after an import in the model manager: the pane's list follows
    pane = w.benchmark_pane
    pump(app, lambda: pane.model_combo.itemData(0) == deit.id, timeout=120)

    def tick(names: set[str]) -> None:
        for i in range(pane.datasets.topLevelItemCount()):
            item = pane.datasets.topLevelItem(i)
            checked = item.data(0, Qt.ItemDataRole.UserRole + 1) in names
            item.setCheckState(0, Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    pane.root_edit.setText(str(empty))
    pane.refresh_datasets()
    pump(app, lambda: bool(pane.chooser.places))
    tick({"cub"})
    pane.run()
    settle(app)
    every_look(app, w, out, "benchmark-missing")

    pane.root_edit.setText(str(data))
    pane.refresh_datasets()
    pump(app, lambda: pane.chooser.places.get("cub") is not None and pane.chooser.places["cub"].present)
    tick({"cub", "sop", "inshop"})
    pane.model_combo.setCurrentIndex(0)
    pane.run()
    pump(app, lambda: not pane.running, timeout=900)
    settle(app)
    every_look(app, w, out, "benchmark-result")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("build/screenshots/wizard"))
    ap.add_argument("--only", choices=["wizard", "benchmark"], default=None)
    args = ap.parse_args()
    out = args.out.resolve()
    tmp = Path(tempfile.mkdtemp(prefix="irt-shots-wizard-"))
    app = create_application([sys.argv[0]])
    settings = AppSettings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    apply_theme(app, "light")
    library, _pictures, _photos = make_library(tmp)
    client = LibraryClient(library, settings)
    w = MainWindow(client, settings, auto_fetch_model=False)
    w.resize(1024, 700)
    w.show()
    client.start()
    pump(app, lambda: client.state == "ready", timeout=300)
    if args.only in (None, "wizard"):
        wizard_section(app, w, client, out, tmp)
    if args.only in (None, "benchmark"):
        benchmark_section(app, w, client, out, tmp)
    w.close()
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
