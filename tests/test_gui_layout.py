"""The window fits real screens: at 1024x700 and 1366x768, on every tab, with a populated library, long
folder names and a long error on show, every visible widget gets at least the room its layout promises
it, and the window never grows itself.

"The room promised" is what Qt's layouts give a widget at the least (qSmartMinSize): its minimum size
hint, unless its size policy ignores the hint (labels that wrap or elide by design) or it has an
explicit minimum size. A widget with less than that is clipped: its buttons, columns or text cut off.
"""

from __future__ import annotations

import contextlib

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QSizePolicy,
    QWidget,
)
from test_gui_helpers import WAIT_MS, make_photos, wait_ready, wait_results

from irt_desktop.gui.query import Query

SIZES = [(1024, 700), (1366, 768)]
LONG_NAME = "A folder with a very long name from an export of the whole summer of 2023 in Kyoto and Osaka"
LONG_ERROR = (
    "No descriptor model is installed in this library "
    "(/home/someone/.local/share/irt-desktop/library/models). Install the pretrained DeiT-S with "
    "`irt-desktop models install deit-s` (downloads the public weights "
    "once). Without internet access: download model.safetensors from "
    "https://huggingface.co/timm/deit_small_patch16_224.fb_in1k/resolve/main/model.safetensors and import it:"
    " irt-desktop models import /home/someone/Downloads/deit_small_patch16_224.fb_in1k/model.safetensors "
    "--card deit-s. A model bundle folder can also be given directly: "
    "`irt-desktop index PATH --model BUNDLE`."
)


def promised(widget: QWidget) -> QSize:
    """The least size the widget's layout gives it (Qt's qSmartMinSize)."""
    hint, minimum, maximum = widget.minimumSizeHint(), widget.minimumSize(), widget.maximumSize()
    policy = widget.sizePolicy()
    out = QSize(0, 0)
    for dim, pol in (("width", policy.horizontalPolicy()), ("height", policy.verticalPolicy())):
        value = 0
        if pol != QSizePolicy.Policy.Ignored:
            if pol.value & QSizePolicy.PolicyFlag.ShrinkFlag.value:
                value = getattr(hint, dim)()
            else:
                value = max(getattr(widget.sizeHint(), dim)(), getattr(hint, dim)())
        if getattr(minimum, dim)() > 0:
            value = getattr(minimum, dim)()
        value = min(value, getattr(maximum, dim)())
        getattr(out, "setWidth" if dim == "width" else "setHeight")(value)
    return out


def _name(widget: QWidget) -> str:
    parts = []
    w = widget
    while w is not None and len(parts) < 6:
        label = type(w).__name__ + (f"#{w.objectName()}" if w.objectName() else "")
        text = getattr(w, "text", None)
        if callable(text) and not parts:
            with contextlib.suppress(TypeError):
                label += f"[{str(text())[:30]!r}]"
        parts.append(label)
        w = w.parentWidget()
    return " < ".join(parts)


def clipped_widgets(window: QWidget) -> list[str]:
    """Every visible widget of the window that has less room than its layout promises."""
    out = []
    for w in window.findChildren(QWidget):
        if not w.isVisibleTo(window) or w.isWindow() or w.width() == 0 or w.height() == 0:
            continue  # hidden, a separate window, or a side panel the user dragged shut
        parent = w.parentWidget()
        if isinstance(parent, QAbstractSpinBox | QComboBox):
            continue  # a spin box's or combo box's own parts, which it places itself
        if isinstance(parent, QAbstractScrollArea) or (
            parent is not None and isinstance(parent.parentWidget(), QAbstractScrollArea)
        ):
            continue  # a scroll area's viewport and content: larger than what shows, by design
        need = promised(w)
        if need.width() > w.width() or need.height() > w.height():
            out.append(f"{_name(w)}: needs {need.width()}x{need.height()}, has {w.width()}x{w.height()}")
        if isinstance(w, QLabel) and w.wordWrap() and w.heightForWidth(w.width()) > w.height() + 2:
            out.append(f"{_name(w)}: wrapped text needs {w.heightForWidth(w.width())} px, has {w.height()}")
    return out


@pytest.fixture
def populated_window(qtbot, themed_app, library_dir, gui_settings, tmp_path):
    from test_gui_helpers import build_window

    client, w = build_window(library_dir, gui_settings)
    qtbot.addWidget(w)
    w.resize(1024, 700)
    w.show()
    client.start()
    wait_ready(qtbot, w)
    photos = make_photos(tmp_path / "Pictures" / LONG_NAME / ("sub folder " * 6).strip(), 20)
    other = make_photos(tmp_path / "Garden", 6, start=100)
    (tmp_path / "Garden" / "broken.jpg").write_bytes(b"not a photo")
    w.add_folders([tmp_path / "Pictures" / LONG_NAME, other[0].parent])
    qtbot.waitUntil(
        lambda: sum(r.n_images for r in w.library_panel.roots()) == 27
        and all(r.status in ("indexed", "errors") for r in w.library_panel.roots())
        and not client.indexer.is_running,
        timeout=WAIT_MS,
    )
    w.search_view.set_query(Query(photos[3], photos[3].name))
    wait_results(qtbot, w.search_view)
    # Every tab built (the benchmark pane is made when first shown).
    for i in range(w.tabs.count()):
        w.tabs.setCurrentIndex(i)
        qtbot.wait(50)
    w.tabs.setCurrentIndex(0)
    yield w
    w.close()


def test_minimum_size_fits_a_small_screen_with_every_tab_built(qtbot, populated_window):
    w = populated_window
    hint = w.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 700, (hint.width(), hint.height())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_tab_fits_without_clipping_or_growing(qtbot, populated_window, size):
    w = populated_window
    w.resize(*size)
    # A long error of command lines, in the banner and in the status bar.
    w.banner.show_message("Could not download", LONG_ERROR, kind="error", dismiss=w.banner.hide)
    w.client.error.emit("Indexing stopped", LONG_ERROR)
    w.status.message(LONG_ERROR)
    problems = []
    for i in range(w.tabs.count()):
        w.tabs.setCurrentIndex(i)
        qtbot.wait(150)
        assert (w.width(), w.height()) == size, f"tab {w.tabs.tabText(i)} grew the window to {w.size()}"
        problems += [f"tab {w.tabs.tabText(i)!r}: {p}" for p in clipped_widgets(w)]
    room = w.screen().availableGeometry().size()
    assert w.minimumSize().width() <= room.width() and w.minimumSize().height() <= room.height()
    assert not problems, "\n".join(problems)


def test_the_window_never_grows_past_its_screen(qtbot, populated_window):
    """Whatever a label asks for, the window's minimum stays within the screen's free area."""
    w = populated_window
    room = w.screen().availableGeometry().size()
    w.resize(min(1024, room.width()), min(700, room.height()))
    huge = QLabel("x" * 2000)  # a widget that wants far more than any screen
    w.statusBar().addWidget(huge)
    huge.show()
    qtbot.wait(100)
    assert w.minimumSize().width() <= room.width()
    assert w.width() <= room.width()
    w.statusBar().removeWidget(huge)
