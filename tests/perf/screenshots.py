"""Screenshots of the desktop application, for reviewing layout and themes by eye.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python tests/perf/screenshots.py --out build/screenshots
    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/perf/screenshots.py     # without an X server

Builds a throwaway library of generated photos with a small random-init model (no download), then
captures: the main window with results and a region query (light and dark, 1280x800 and 1920x1080),
the duplicates view, the first-run "no model" banner, the fine-tune wizard's training and result pages,
the benchmark pane after a run on tiny datasets in the real layouts (its model is DeiT-S with random
weights brought in through the import path, so the paper's IRT_O column has something to stand beside),
and the model manager (light and dark, its activation question, a refused weights file's banner).
Then the window matrix: every tab (Search, Duplicates, Benchmark) with the library panel, the Settings
dialog and the unreadable-files dialog, at 1024x700, 1366x768 and 1920x1080, light and dark, each
grabbed from the screen as it shows there (a real window under Xvfb), so a window that grew itself or a
clipped widget is seen as the user would see it.

    --only models        the main window and the model manager alone (a quick look at one part)
    --only window        the main window, the duplicates found, the Go and Edit menus, the window matrix
    --only search        the Search tab and the lightbox at 1024x700, 1366x768, 1920x1080 (shots_search.py)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent.parent)]
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
# Layout is what is looked at here: the torch backend spares an OpenVINO conversion of every demo model.
os.environ.setdefault("IRT_BACKEND", "torch")

from benchmark_layouts import write_cub, write_sop  # noqa: E402
from imagegen import photo, save_photo  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402
from shots_menus import menus_section  # noqa: E402
from shots_search import add_browse_photos, search_section  # noqa: E402

from irt_desktop.gui.app import create_application  # noqa: E402
from irt_desktop.gui.library_client import LibraryClient  # noqa: E402
from irt_desktop.gui.main_window import MainWindow  # noqa: E402
from irt_desktop.gui.query import Query  # noqa: E402
from irt_desktop.gui.settings import AppSettings  # noqa: E402
from irt_desktop.gui.theme import apply_theme  # noqa: E402

# Big enough to look like a model at work, small enough to index a few hundred photos in seconds.
SPEC_KWARGS = {"depth": 2, "patch_size": 8, "embed_dim": 96, "num_heads": 3}


def pump(app: QApplication, until=lambda: False, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if until():
            return
        time.sleep(0.01)
    if until is not None and not until():
        raise TimeoutError("timed out waiting for the application")


def settle(app: QApplication, seconds: float = 0.4) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def grab(widget: QWidget, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(path))
    print(f"wrote {path}")


def make_library(root: Path) -> tuple[Path, Path, list[Path]]:
    from irt_desktop.library.model_store import install_bundle
    from irt_desktop.retrieval.model import ModelSpec
    from irt_desktop.retrieval.weights import random_init_bundle

    spec = ModelSpec(backbone="vit_tiny_patch16_224", input_size=64, backbone_kwargs=SPEC_KWARGS)
    bundle = random_init_bundle(spec, "demo", root / "bundles", seed=0)
    library = root / "library"
    install_bundle(library / "models", bundle)
    photos = []
    for album, start in (("Holidays 2023", 0), ("Garden", 200), ("Family", 400)):
        for i in range(start, start + 60):
            photos.append(
                save_photo(root / "Pictures" / album / f"IMG_{i:04d}.jpg", i, (400, 300), quality=90)
            )
    # A few copies and re-encodes so the duplicates view has something to show.
    import shutil

    for i in (3, 7):
        photo(i, (400, 300)).save(root / "Pictures" / "Garden" / f"IMG_{i:04d} small.jpg", quality=60)
    shutil.copy2(photos[10], root / "Pictures" / "Family" / "IMG_0010 (1).jpg")
    # Two files that cannot be read, for the unreadable-files dialog and the counts beside the photos.
    (root / "Pictures" / "Family" / "scan of a receipt.jpg").write_bytes(b"not a photo at all")
    (root / "Pictures" / "Garden" / "IMG_0299.jpg").write_bytes(photos[0].read_bytes()[:900])
    return library, root / "Pictures", photos


def make_albums(root: Path) -> Path:
    """Albums whose photos share an object (the smoke suite's procedural shapes) but not the picture."""
    import numpy as np

    from irt_desktop.retrieval.benchmark.smoke_data import render, smoke_classes

    for c, cls in enumerate(smoke_classes(10, seed=5)):
        rng = np.random.default_rng([5, c])
        for i in range(8):
            (root / cls.slug).mkdir(parents=True, exist_ok=True)
            render(cls, rng, 72).save(root / cls.slug / f"{i}.jpg", quality=90)
    save_photo(root / "misc" / "only.jpg", 3000)
    return root


def imported_deit_s(models_dir: Path):
    """A DeiT-S bundle made through the import path from *random* weights: the benchmark table then has
    the paper's IRT_O column to show beside it (our figures are of course meaningless)."""
    from safetensors.torch import save_file

    from irt_desktop.retrieval.card import shipped_cards
    from irt_desktop.retrieval.model import create_backbone
    from irt_desktop.retrieval.weights import import_weights

    card = shipped_cards()["deit-s"]
    weights = models_dir.parent / "random-deit-s.safetensors"
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in create_backbone(card.spec).state_dict().items()}, str(weights))
    return import_weights(weights, card, models_dir)


def finetuned_demo(models_dir: Path, base):
    """A bundle recorded as a fine-tune of `base` (the trainer's card shape, made-up held-out results):
    the manager's fine-tune row without minutes of training."""
    import torch

    from irt_desktop.retrieval.bundle import save_bundle
    from irt_desktop.retrieval.card import ModelCard
    from irt_desktop.retrieval.model import IRT
    from irt_desktop.retrieval.provenance import Kind, Provenance, finetune_title

    torch.manual_seed(3)
    data = "Holidays 2023, Garden"
    provenance = Provenance(
        Kind.FINETUNED,
        variant="IRT_R",
        data_name=data,
        base_id=base.id,
        base_name=base.card.name,
        base=Provenance.from_dict(base.card.provenance),
        extra={
            "data": {"name": data, "images": 120, "classes": 2},
            "metrics": {"R@1": 71.4, "R@2": 80.2, "R@4": 88.9},
            "training": {"iterations": 300},
        },
    )
    card = ModelCard(
        name="demo-folders-irt_r",
        spec=base.card.spec,
        title=finetune_title(data, base.card.title or base.card.name),
        provenance=provenance.to_dict(),
    )
    return save_bundle(IRT(base.card.spec).eval(), card, models_dir)


MATRIX_SIZES = ((1024, 700), (1366, 768), (1920, 1080))
TAB_NAMES = ("search", "duplicates", "benchmark")


def grab_screen(app: QApplication, widget: QWidget, path: Path) -> None:
    """What the screen shows where the window is (frame, and any dialog over it, included)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    geometry = widget.frameGeometry()
    shot = app.primaryScreen().grabWindow(0, geometry.x(), geometry.y(), geometry.width(), geometry.height())
    if shot.isNull() or shot.width() == 0:  # offscreen: no screen to read
        shot = widget.grab()
    shot.save(str(path))
    print(f"wrote {path} ({widget.width()}x{widget.height()})")


def indexing_states(app: QApplication, w: MainWindow, out: Path) -> None:
    """A folder added while indexing is paused, then cancelled, then resumed: the status bar and the
    folder list in each state, at 1024x700 in both themes."""
    client = w.client
    folder = client.library_dir.parent / "Pictures" / "Kyoto 2019 — a folder with a long name"
    for i in range(40):
        save_photo(folder / f"DSC{i:05d}.jpg", 5000 + i, (400, 300), quality=85)
    w.resize(1024, 700)
    w.indexing_status.pause_button.setChecked(True)
    w.add_folders([folder])
    pump(app, lambda: client.indexer.is_running and w.indexing_status.label.text().startswith("Paused"))
    pump(app, lambda: any("indexing:" in r for r in _panel_lines(w)), timeout=30)
    for theme in ("light", "dark"):
        apply_theme(app, theme)
        settle(app, 0.5)
        grab_screen(app, w, out / "window" / f"indexing-paused-{theme}-1024x700.png")
    apply_theme(app, "light")
    w.indexing_status.cancel_button.click()
    status = w.indexing_status.label
    pump(app, lambda: not client.indexer.is_running and status.text().startswith("Indexing stopped ·"))
    for theme in ("light", "dark"):
        apply_theme(app, theme)
        settle(app, 0.5)
        grab_screen(app, w, out / "window" / f"indexing-stopped-{theme}-1024x700.png")
    apply_theme(app, "light")
    w.indexing_status.resume_button.click()
    pump(app, lambda: not client.indexer.is_stopped and client.library.status().n_pending == 0, timeout=300)
    pump(app, lambda: not client.indexer.is_running, timeout=60)
    settle(app, 0.5)


def _panel_lines(w: MainWindow) -> list[str]:
    folders = w.library_panel.list
    return [folders.item(i).text() for i in range(folders.count())]


def window_matrix(app: QApplication, w: MainWindow, out: Path) -> None:
    """Every tab, the Settings dialog and the unreadable-files dialog, per size and theme. A window that
    does not keep the size it was given is reported (it grew itself to fit something)."""
    from irt_desktop.gui.settings_dialog import SettingsDialog
    from irt_desktop.gui.unreadable_dialog import UnreadableFilesDialog
    from irt_desktop.library.model_store import no_model_message

    found: list = []
    w.client.submit(lambda lib: (lib.failures(), lib.skipped()), found.append)
    pump(app, lambda: bool(found))
    failures, skipped = found[0]
    w.move(0, 0)
    from PySide6.QtCore import QSize

    import irt_desktop.gui.window_size as window_size

    real_room = window_size.screen_room
    window_size.screen_room = lambda _w: QSize(1024, 700)
    w.setMinimumSize(0, 0)
    indexing_states(app, w, out)
    for theme in ("light", "dark"):
        apply_theme(app, theme)
        for width, height in MATRIX_SIZES:
            # The window is told its screen is this size (the X screen is one size for the whole run):
            # it shows what a laptop of that size shows, a window capped at its screen included.
            room = QSize(width, height)
            window_size.screen_room = lambda _w, room=room: room
            w.setMinimumSize(0, 0)
            w.resize(width, height)
            settle(app, 0.5)
            tag = f"{theme}-{width}x{height}"
            for i, name in enumerate(TAB_NAMES):
                w.tabs.setCurrentIndex(i)
                settle(app, 0.6)
                hint = w.minimumSizeHint()
                grown = (w.width(), w.height()) != (width, height)
                if grown or hint.width() > width or hint.height() > height:
                    print(
                        f"NOTE: {name} tab at {width}x{height}: window {w.width()}x{w.height()}, "
                        f"its widgets want at least {hint.width()}x{hint.height()}"
                    )
                grab_screen(app, w, out / "window" / f"{name}-{tag}.png")
            w.tabs.setCurrentIndex(0)
            settle(app, 0.3)
            grab(w.library_panel, out / "window" / f"library-panel-{tag}.png")
            # A long error of command lines, as the library words it, in the banner: it must wrap.
            w.notices.model_failed(no_model_message(w.client.library_dir / "models"))
            settle(app, 0.5)
            grab_screen(app, w, out / "window" / f"long-error-{tag}.png")
            w.banner.hide()
            excludes = w.client.exclude_patterns
            dialog = SettingsDialog(w.settings, w.client.library_dir, w, exclude_patterns=excludes)
            dialog.show()
            dialog.move(w.x() + 60, w.y() + 60)
            settle(app, 0.5)
            print(f"settings focus: {type(dialog.focusWidget()).__name__}")
            grab_screen(app, w, out / "window" / f"settings-{tag}.png")
            dialog.reject()
            box = UnreadableFilesDialog(failures, w, skipped)
            box.show()
            box.move(w.x() + 40, w.y() + 80)
            settle(app, 0.5)
            grab_screen(app, w, out / "window" / f"unreadable-{tag}.png")
            box.reject()
    window_size.screen_room = real_room
    apply_theme(app, "light")
    w.resize(1280, 800)
    settle(app)


def models_section(app: QApplication, w: MainWindow, client: LibraryClient, out: Path, deit) -> None:
    """The model manager: a serving model, a fine-tune used before (switch back is immediate), an
    imported unverified DeiT-S; light and dark; the activation question; a refused file's banner."""
    import torch
    from safetensors.torch import save_file

    from irt_desktop.gui.models_dialog import ModelsDialog, activation_question, question_box
    from irt_desktop.library.model_store import install_bundle
    from irt_desktop.retrieval.bundle import list_bundles

    library = client.library_dir
    base = next(b for b in list_bundles(library / "models") if b.id == client.library.model_id)
    tuned = finetuned_demo(library.parent / "bundles", base)
    install_bundle(library / "models", tuned)
    if deit is None:
        deit = imported_deit_s(library / "models")
    vm = w.model_manager
    # Use the fine-tune, index with it, then switch back: it becomes "used before".
    vm.activate(tuned.id)
    pump(app, lambda: client.library.model_id == tuned.id, timeout=300)
    pump(app, lambda: not client.indexer.is_running, timeout=300)
    vm.refresh()
    pump(app, lambda: vm.previous is not None and vm.previous.id == base.id, timeout=60)
    vm.switch_back()
    pump(app, lambda: client.library.model_id == base.id, timeout=60)
    vm.refresh()
    pump(app, lambda: vm.previous is not None and vm.previous.id == tuned.id, timeout=60)
    w.resize(1280, 800)
    w.open_models_dialog()
    dialog: ModelsDialog = w._models_dialog
    pump(app, lambda: dialog.tree.topLevelItemCount() == 3)
    dialog.select(tuned.id)
    settle(app, 0.6)
    grab(dialog, out / "models-light.png")
    dialog.select(deit.id)
    done = []
    vm.cost(deit.id, done.append)
    pump(app, lambda: bool(done))
    entry = vm.entry(deit.id)
    title, text = activation_question(entry, done[0], vm.serving)
    box, _ok = question_box(dialog, title, text, "Re-index and switch")
    box.show()
    settle(app, 0.6)
    grab(box, out / "models-activate-question.png")
    box.close()
    apply_theme(app, "dark")
    dialog.select(tuned.id)
    settle(app, 0.6)
    grab(dialog, out / "models-dark.png")
    apply_theme(app, "light")
    dialog.close()
    bad = library.parent / "not-weights.safetensors"
    save_file({"foo": torch.zeros(3)}, str(bad))
    w.model_setup.import_file(w, path=bad, card_name="")
    pump(app, lambda: "not imported" in w.banner.title.text() and not w.model_setup.busy)
    settle(app, 0.6)
    grab(w, out / "models-import-refused.png")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("build/screenshots"))
    ap.add_argument(
        "--only", choices=["models", "window", "search"], default=None, help="capture only this part"
    )
    args = ap.parse_args()
    out = args.out.resolve()
    tmp = Path(tempfile.mkdtemp(prefix="irt-shots-"))
    app = create_application([sys.argv[0]])
    settings = AppSettings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    apply_theme(app, "light")

    # --- first run: no model ------------------------------------------------------------------------------
    if args.only is None:
        client0 = LibraryClient(tmp / "empty-library", settings)
        w0 = MainWindow(client0, settings, auto_fetch_model=False)
        w0.resize(1280, 800)
        w0.show()
        client0.start()
        pump(app, lambda: client0.state == "no_model")
        settle(app)
        grab(w0, out / "first-run-no-model.png")
        w0.close()

    # --- main window with results ---
    library, pictures, photos = make_library(tmp)
    add_browse_photos(pictures)
    client = LibraryClient(library, settings)
    w = MainWindow(client, settings, auto_fetch_model=False)
    w.resize(1280, 800)
    w.show()
    client.start()
    pump(app, lambda: client.state == "ready")
    w.add_folders([pictures / d for d in ("Holidays 2023", "Garden", "Family")])
    pump(
        app,
        lambda: (
            sum(r.n_images for r in client.roots) >= len(photos) + 9
            and not client.indexer.is_running
            and all(r.status in ("indexed", "errors") for r in client.roots)
        ),
        timeout=300,
    )
    sv = w.search_view
    query = photos[65]
    sv.set_query(Query(query, query.name))
    pump(app, lambda: sv.last_answer is not None and sv.query_view.has_image)
    previous = sv.last_answer
    sv.query_view.set_region((60, 40, 300, 230))
    pump(app, lambda: sv.last_answer is not previous and not sv.is_searching)
    pump(
        app,
        lambda: all(w.thumbnails.pixmap(str(h.path)) is not None for h in sv.model.hits()[:24]),
        timeout=60,
    )
    settle(app)
    grab(w, out / "main-light-1280x800.png")
    w.resize(1920, 1080)
    settle(app)
    pump(
        app,
        lambda: all(w.thumbnails.pixmap(str(h.path)) is not None for h in sv.model.hits()[:40]),
        timeout=60,
    )
    settle(app)
    grab(w, out / "main-light-1920x1080.png")
    apply_theme(app, "dark")
    w.resize(1280, 800)
    settle(app)
    grab(w, out / "main-dark-1280x800.png")
    apply_theme(app, "light")
    if args.only in (None, "search"):
        search_section(app, w, client, out, pump, settle, grab)
    if args.only == "search":
        w.close()
        print(f"screenshots in {out}")
        return 0
    if args.only == "models":
        models_section(app, w, client, out, None)
        w.close()
        print(f"screenshots in {out}")
        return 0

    # --- duplicates ---
    w.duplicates_action.trigger()
    dv = w.duplicates_view
    dv.find()  # the threshold calibrated for this random-init model on this library
    pump(app, lambda: dv.report is not None, timeout=300)
    dv.check_all_but_best("exact")
    settle(app, 1.0)
    grab(w, out / "duplicates.png")
    if args.only == "window":
        menus_section(app, w, out, tmp / "xdg", pump, settle, grab_screen)
        window_matrix(app, w, out)
        w.close()
        print(f"screenshots in {out}")
        return 0
    apply_theme(app, "dark")
    settle(app, 0.5)
    grab(w, out / "duplicates-dark.png")
    if dv.near_tree.topLevelItemCount():
        compare = dv.compare_group(dv.near_tree.topLevelItem(0))
        pump(app, lambda: all(p.source is not None for p in compare.panes), timeout=30)
        settle(app, 0.5)
        grab(compare, out / "duplicates-compare-dark.png")
        compare.reject()
    apply_theme(app, "light")

    # --- fine-tune wizard ---
    from irt_desktop.gui.finetune import FinetuneWizard

    albums = make_albums(tmp / "Albums")
    wizard = FinetuneWizard(client, settings, w.thumbnails, w)
    wizard.show()
    wizard.folders_page.add_folder(albums)
    pump(app, wizard.folders_page.isComplete)
    settle(app, 1.0)
    grab(wizard, out / "wizard-1-folders.png")
    wizard.next()
    page2 = wizard.settings_page
    pump(app, page2.isComplete)
    pump(app, lambda: page2.estimate_label.text().startswith("about"))
    page2.iterations.setValue(120)
    page2.batch.setValue(32)
    settle(app)
    grab(wizard, out / "wizard-2-settings.png")
    wizard.next()
    page3 = wizard.training_page
    pump(app, lambda: page3.done or "failed" in page3.stage.text(), timeout=600)
    settle(app)
    grab(wizard, out / "wizard-3-training.png")
    wizard.next()
    settle(app)
    grab(wizard, out / "wizard-4-result.png")
    wizard.result_page.keep_check.setChecked(False)
    wizard.accept()

    # --- benchmark pane ---
    data = tmp / "datasets"
    write_cub(data / "cub", train_classes=6, test_classes=6, per_class=5)
    write_sop(data / "sop", train_classes=6, test_classes=6, per_class=4)
    deit = imported_deit_s(library / "models")
    pane = w.benchmark_pane
    pump(app, lambda: pane.model_combo.findData(deit.id) >= 0)
    pane.root_edit.setText(str(data))
    pane.refresh_datasets()
    for i in range(pane.datasets.topLevelItemCount()):
        item = pane.datasets.topLevelItem(i)
        from PySide6.QtCore import Qt

        name = item.data(0, Qt.ItemDataRole.UserRole + 1)
        item.setCheckState(
            0, Qt.CheckState.Checked if name in ("cub", "sop", "inshop") else Qt.CheckState.Unchecked
        )
    pane.model_combo.setCurrentIndex(pane.model_combo.findData(deit.id))
    pane.run()
    pump(app, lambda: pane.result is not None or "stopped" in pane.progress_label.text(), timeout=600)
    settle(app)
    grab(w, out / "benchmark.png")
    models_section(app, w, client, out, deit)
    window_matrix(app, w, out)
    w.close()
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
