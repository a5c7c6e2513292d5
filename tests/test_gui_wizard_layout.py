"""The fine-tune wizard's pages and the benchmark pane at 1024x700: their minimum size fits the screen,
and every visible widget gets at least its minimum size (nothing clipped), also with a long error shown
and a populated result."""

from __future__ import annotations

from benchmark_layouts import use_layout_counts, write_cub
from PySide6.QtWidgets import QApplication, QHeaderView, QWidget
from test_gui_benchmark import tick
from test_gui_benchmark_defaults import inline_pane  # noqa: F401 (a fixture)
from test_gui_finetune import make_albums
from test_gui_finetune_sizing import open_wizard, to_settings  # noqa: F401 (a fixture)

SMALL = (1024, 700)
# What the tab area of the main window has at 1024x700 (menu, tool and status bars, tab bar and the
# library panel taken off), with a margin.
PANE = (1000, 560)


def clipped(top: QWidget) -> list[str]:
    """Visible widgets given less than their minimum size hint (1 px of rounding allowed)."""
    QApplication.processEvents()
    out = []
    for w in [top, *top.findChildren(QWidget)]:
        # A header view's minimum size hint is square (its own scrolling); the table sizes it.
        # Qt's own parts (a spin box's line edit) are sized by the widget they belong to.
        if not w.isVisible() or isinstance(w, QHeaderView) or w.objectName().startswith("qt_"):
            continue
        hint = w.minimumSizeHint()
        if not hint.isValid():
            continue
        # What a layout honours: an explicit minimum before the hint (as Qt's qSmartMinSize does); a
        # word-wrapped label needs the height of its text at the width it was given.
        need_w = w.minimumWidth() or hint.width()
        need_h = (
            w.heightForWidth(w.width()) if w.hasHeightForWidth() else (w.minimumHeight() or hint.height())
        )
        if w.width() + 1 < need_w or w.height() + 1 < need_h:
            name = w.objectName() or w.accessibleName() or getattr(w, "text", lambda: "")()
            out.append(
                f"{type(w).__name__} {name!r}: {w.width()}x{w.height()} < {hint.width()}x{hint.height()}"
            )
    return out


def test_every_wizard_page_fits_1024x700(open_wizard, tmp_path):  # noqa: F811
    wizard = open_wizard()
    wizard.resize(*SMALL)
    wizard.folders_page.add_folder(make_albums(tmp_path / "Albums", 8))
    pages = []
    hint = wizard.minimumSizeHint()
    assert hint.width() <= SMALL[0] and hint.height() <= SMALL[1], hint
    assert clipped(wizard) == []
    pages.append("folders")
    page = to_settings(wizard)
    assert clipped(wizard) == [], "settings"
    page.iterations.setValue(2)
    page.batch.setValue(8)
    wizard.next()
    assert wizard.training_page.done
    assert clipped(wizard) == [], "training"
    # A long failure: wrapped, in its details box, nothing pushed off the page.
    long = "cannot read " + "/a/very/long/folder/name" * 12 + "/photo.jpg\n" + "detail line\n" * 20
    wizard.training_page._on_failed(RuntimeError(long))
    assert wizard.size().width() <= SMALL[0] + 1 and clipped(wizard) == [], "training failed"
    wizard.training_page.initializePage()  # trains again (inline) and succeeds
    wizard.next()
    assert clipped(wizard) == [], "result"
    assert wizard.width() <= SMALL[0] + 1 and wizard.height() <= SMALL[1] + 1
    wizard.result_page.keep_check.setChecked(False)
    wizard.accept()


def test_benchmark_pane_fits_the_tab_area_at_1024x700(inline_pane, tmp_path, tiny_bundle, monkeypatch):  # noqa: F811
    use_layout_counts(monkeypatch)
    data = tmp_path / ("a-rather-long-folder-name-for-the-datasets" * 3)
    write_cub(data / "cub")
    pane = inline_pane()
    pane.resize(*PANE)
    pane.show()
    hint = pane.minimumSizeHint()
    assert hint.width() <= PANE[0] and hint.height() <= PANE[1], hint
    pane.root_edit.setText(str(data))
    pane.refresh_datasets()
    assert clipped(pane) == []
    tick(pane, {"cub", "sop", "inshop", "roxford", "rparis"})
    pane.model_combo.setCurrentIndex(pane.model_combo.findData(tiny_bundle.id))
    pane.run()
    assert pane.result is not None and pane.result.rows
    assert not pane.banner.isHidden()  # four datasets missing, named
    assert pane.width() <= PANE[0] + 1 and pane.height() <= PANE[1] + 1
    assert clipped(pane) == []
    # The only ticked dataset missing: the failure banner, wrapped.
    tick(pane, {"sop"})
    pane.run()
    assert pane.banner.property("kind") == "error"
    assert clipped(pane) == []
    pane.hide()


def test_benchmark_pane_in_the_main_window_at_1024x700(qtbot, themed_app, library_dir, gui_settings):
    from test_gui_helpers import build_window, wait_ready

    client, window = build_window(library_dir, gui_settings)
    qtbot.addWidget(window)
    window.resize(*SMALL)
    window.show()
    client.start()
    wait_ready(qtbot, window)
    pane = window.benchmark_pane
    qtbot.waitUntil(lambda: pane.model_combo.count() >= 2, timeout=60_000)
    QApplication.processEvents()
    assert clipped(pane) == []
    window.close()


def test_switching_theme_with_the_wizard_open(open_wizard, themed_app, tmp_path):  # noqa: F811
    """Settings can switch light / dark while the wizard is open (replacing the application style under
    a QWizard crashed Qt: a theme now changes the palette and the style sheet only)."""
    from irt_desktop.gui.theme import apply_theme, is_dark

    wizard = open_wizard()
    to_settings(wizard, make_albums(tmp_path / "Albums", 4))
    style = themed_app.style()
    for theme in ("dark", "light", "dark"):
        apply_theme(themed_app, theme)
        QApplication.processEvents()
        assert is_dark(themed_app) == (theme == "dark")
    assert themed_app.style() is style
    apply_theme(themed_app, "light")
