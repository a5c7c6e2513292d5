"""The Search tab's controls at archive scale: the "In:" box takes a listing of 10^4 folders in one model
reset (adding QComboBox items one by one held the GUI thread 230 ms mid-scroll at 10^6 photos) and still
reads, finds, keeps and indents folders as before; a search may ask for 5,000 results."""

from __future__ import annotations

from PySide6.QtCore import Qt

from irt_desktop.gui.folder_list import DEPTH_ROLE
from irt_desktop.gui.search_controls import SearchControls
from irt_desktop.library.filters import FolderCount

N = 10_000


def _folders(n: int) -> list[FolderCount]:
    rows = [FolderCount("/photos", 1, n, 0, "photos")]
    rows += [FolderCount(f"/photos/{i // 100:03d}/event-{i:05d}", 1, 1, 2, "") for i in range(n)]
    return rows


def test_a_listing_of_ten_thousand_folders_is_one_reset_not_an_item_each(qtbot, gui_settings):
    controls = SearchControls(gui_settings)
    qtbot.addWidget(controls)
    combo, model = controls.folder_combo, controls.folder_combo.model()
    inserted, resets = [], []
    model.rowsInserted.connect(lambda *a: inserted.append(a))
    model.modelReset.connect(lambda: resets.append(1))

    assert controls.set_folders(_folders(N)) is False
    assert (inserted, len(resets)) == ([], 1)
    assert combo.count() == N + 2 and combo.itemText(0) == "All folders" and combo.itemData(0) is None
    assert combo.itemText(1) == "photos" and combo.itemText(N + 1) == f"event-{N - 1:05d}"
    assert combo.itemData(N + 1) == f"/photos/{(N - 1) // 100:03d}/event-{N - 1:05d}"
    assert combo.itemData(N + 1, DEPTH_ROLE) == 2 and combo.itemData(1, DEPTH_ROLE) == 0
    assert "1 photo" in combo.itemData(2, Qt.ItemDataRole.ToolTipRole)
    assert not combo.itemIcon(2).isNull()

    chosen = combo.findText("event-04321", Qt.MatchFlag.MatchContains)
    combo.setCurrentIndex(chosen)
    assert controls.filters().folders == ("/photos/043/event-04321",)
    # A new listing keeps the chosen folder; one without it says it is gone and falls back to all.
    assert controls.set_folders(_folders(N)) is False and combo.currentIndex() == chosen
    assert controls.set_folders(_folders(10)) is True and combo.currentIndex() == 0


def test_a_folder_chosen_before_it_is_listed_is_added_and_chosen(qtbot, gui_settings):
    controls = SearchControls(gui_settings)
    qtbot.addWidget(controls)
    controls.set_folders(_folders(3))
    controls.select_folder("/elsewhere/new", "new")
    combo = controls.folder_combo
    assert combo.currentText() == "new" and combo.currentData() == "/elsewhere/new"
    assert combo.count() == 6  # all, the watched folder, its three, the new one
    controls.select_folder("/photos/000/event-00001")
    assert combo.currentIndex() == 3


def test_a_search_may_ask_for_the_five_thousand_results_the_scale_figures_scroll(qtbot, gui_settings):
    controls = SearchControls(gui_settings)
    qtbot.addWidget(controls)
    controls.k_spin.setValue(5000)
    assert controls.k_spin.value() == 5000 and gui_settings.result_count == 5000


def test_a_card_scales_its_thumbnail_once_not_at_every_paint(qtbot, themed_app):
    """A smooth rescale of every visible thumbnail at every paint was most of a scroll frame."""
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QColor, QPixmap

    from irt_desktop.gui.results_model import ResultDelegate

    delegate = ResultDelegate(96)
    thumb = QPixmap(300, 200)
    thumb.fill(QColor("red"))
    fitted = delegate.scaled(thumb, QSize(100, 100), 2.0)
    assert (fitted.width(), fitted.height(), fitted.devicePixelRatio()) == (200, 133, 2.0)
    assert fitted.deviceIndependentSize().toSize() == QSize(100, 67)
    assert delegate.scaled(thumb, QSize(100, 100), 2.0).cacheKey() == fitted.cacheKey()
    assert delegate.scaled(thumb, QSize(120, 120), 1.0).width() == 120  # a wider card: scaled anew
    for _ in range(ResultDelegate.SCALED_KEEP + 10):
        other = QPixmap(10, 10)
        delegate.scaled(other, QSize(50, 50), 1.0)
    assert len(delegate._scaled) == ResultDelegate.SCALED_KEEP
