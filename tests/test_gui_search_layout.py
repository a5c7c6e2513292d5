"""The Search tab's layout without a library: the grid fills the width (no gutters, never a sideways
scroll bar, also with 500 results), it fits the room a 1024x700 window leaves it, the query panel
folds away, captions keep the underscores of CJK names, and no negative similarity is shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from irt_desktop.gui import formatting
from irt_desktop.gui.library_client import LibraryClient
from irt_desktop.gui.results_model import ResultDelegate, ResultsModel
from irt_desktop.gui.thumbnails import ThumbnailCache, ThumbnailLoader
from irt_desktop.library.records import SearchHit


@pytest.fixture
def search_view(qtbot, themed_app, gui_settings, tmp_path):
    from irt_desktop.gui.search_view import SearchView

    client = LibraryClient(tmp_path / "library", gui_settings, opener=lambda d, s: None)
    thumbs = ThumbnailLoader(ThumbnailCache(tmp_path / "thumbs"))
    view = SearchView(client, gui_settings, thumbs)
    qtbot.addWidget(view)
    yield view
    client.close()


def hits(n: int, name: str = "photo_{i}.jpg", score: float = 0.5) -> list[SearchHit]:
    return [SearchHit(i, Path("/nowhere") / name.format(i=i), score, 1000, 400, 300, None) for i in range(n)]


def test_the_grid_fills_the_width_without_a_sideways_scroll_bar(qtbot, search_view):
    view = search_view
    view.resize(1366 - 270, 640)
    view.show()
    view.model.set_hits(hits(500))
    qtbot.wait(50)
    grid = view.results
    assert not grid.horizontalScrollBar().isVisible()
    assert grid.verticalScrollBar().isVisible()
    columns = grid.columns()
    assert columns >= 3
    # The cells share the usable width exactly (rounding aside): no gutter on the right.
    assert 0 <= grid.usable_width() - columns * grid.gridSize().width() < columns
    # The cards are as wide as their cells.
    hint = view.delegate.sizeHint(QStyleOptionViewItem(), view.model.index(0))
    assert hint.width() == grid.gridSize().width()
    last = grid.visualRect(view.model.index(columns - 1))
    assert last.right() <= grid.viewport().width()


def test_fits_what_a_1024x700_window_leaves_and_the_panel_folds(qtbot, search_view):
    view = search_view
    # A 1024x700 window less the library panel, menus, toolbar and status bar.
    view.resize(1024 - 240, 700 - 130)
    view.show()
    view.model.set_hits(hits(40))
    qtbot.wait(50)
    assert view.minimumSizeHint().height() <= 700 - 130
    assert view.left_panel.minimumSizeHint().width() <= 300
    assert view.results.columns() >= 2
    c = view.controls
    for w in (view.query_view, view.results, c.folder_combo, c.date_from, c.date_to, c.sort_combo, c.k_spin):
        assert w.width() >= w.minimumSizeHint().width(), w
        assert w.height() >= w.minimumSizeHint().height(), w
    wide = view.results.width()
    view.panel_button.click()  # hide the query panel: the grid takes the width
    qtbot.wait(50)
    assert view.splitter.sizes()[0] == 0 and view.results.width() > wide
    view.panel_action.trigger()
    qtbot.wait(50)
    assert view.splitter.sizes()[0] > 0


_LOADERS: list = []  # kept alive: a thumbnail request in flight reports back to its loader


def paint_card(name: str) -> QImage:
    _LOADERS.append(ThumbnailLoader(ThumbnailCache(Path("/nonexistent"))))
    model = ResultsModel(_LOADERS[-1])
    model.set_hits(hits(1, name))
    delegate = ResultDelegate(96)
    option = QStyleOptionViewItem()
    size = delegate.sizeHint(option, model.index(0))
    option.rect = QRect(0, 0, size.width(), size.height())
    image = QImage(size, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    option.font = painter.font()
    delegate.paint(painter, option, model.index(0))
    painter.end()
    return image


def inked_rows(image: QImage) -> set[int]:
    return {
        y
        for y in range(image.height())
        if any(image.pixelColor(x, y).lightness() < 110 for x in range(image.width()))
    }


def test_captions_keep_underscores_of_cjk_names(themed_app):
    # The underscore is the only ink on its row (a name without descenders): a caption that clipped
    # it (a one-line box and a fallback font that draws it lower) inks the same rows as one with a
    # space, which is how "写真_215" came to read "写真 215".
    for stem in ("写真", "cat"):
        with_underscore = inked_rows(paint_card(f"{stem}_21.heic"))
        with_space = inked_rows(paint_card(f"{stem} 21.heic"))
        assert with_underscore > with_space, stem


def test_no_negative_similarity_is_shown(qtbot, search_view):
    from PySide6.QtCore import Qt

    model = search_view.model
    model.set_hits(hits(1, score=-0.123))
    index = model.index(0)
    assert "-" not in index.data(Qt.ItemDataRole.ToolTipRole).split("similarity ")[1].split("\n")[0]
    assert index.data(Qt.ItemDataRole.AccessibleTextRole).endswith("similarity 0.000")
    assert formatting.score(-0.5) == "0.000" and formatting.score(0.8766) == "0.877"
