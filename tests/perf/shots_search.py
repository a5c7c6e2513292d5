"""The Search tab's part of tests/perf/screenshots.py: results, filters, history and the lightbox at
1024x700, 1366x768 and 1920x1080, light and dark.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python tests/perf/screenshots.py --only search
"""

from __future__ import annotations

from pathlib import Path

from imagegen import save_photo

SIZES = ((1024, 700), (1366, 768), (1920, 1080))


def add_browse_photos(pictures: Path) -> None:
    """A trip in a sub-folder (for the "In:" filter) and CJK names with underscores (their captions)."""
    for i in range(8):
        save_photo(
            pictures / "Holidays 2023" / "2023" / "Trip to Kyoto" / f"京都_{i:03d}.jpg", 65 + i, (400, 300)
        )
    save_photo(pictures / "Holidays 2023" / "写真_215.jpg", 66, (300, 400), quality=90)


def search_section(app, w, client, out: Path, pump, settle, grab) -> None:
    from irt_desktop.gui.query import Query
    from irt_desktop.gui.theme import apply_theme

    sv = w.search_view
    pictures = Path(str(client.roots[0].path)).parent
    query = pictures / "Holidays 2023" / "2023" / "Trip to Kyoto" / "京都_001.jpg"
    sv.k_spin.setValue(120)
    previous = sv.last_answer
    sv.set_query(Query(query, query.name))
    pump(app, lambda: sv.last_answer is not previous and not sv.is_searching and sv.query_view.has_image)
    # A second step, so Back has something to show.
    previous = sv.last_answer
    sv.more_like_this(sv.model.hit(1))
    pump(app, lambda: sv.last_answer is not previous and not sv.is_searching)
    previous = sv.last_answer
    sv.go_back()
    pump(app, lambda: sv.last_answer is not previous and not sv.is_searching)
    pump(app, lambda: sv.folder_combo.findText("Trip to Kyoto", flags_contains()) > 0, timeout=60)
    for theme in ("light", "dark"):
        apply_theme(app, theme)
        for width, height in SIZES:
            w.resize(width, height)
            settle(app, 0.5)
            hits = sv.model.hits()
            pump(
                app,
                lambda hits=hits: all(w.thumbnails.pixmap(str(h.path)) is not None for h in hits[:30]),
                60,
            )
            settle(app, 0.3)
            grab(w, out / f"search-{theme}-{width}x{height}.png")
            box = sv.view_result(0)
            pump(app, lambda box=box: box.canvas.pixmap is not None, timeout=30)
            settle(app, 0.4)
            grab(box, out / f"lightbox-{theme}-{width}x{height}.png")
            if (width, height) == (1366, 768):
                box.actual_size()
                settle(app, 0.2)
                grab(box, out / f"lightbox-100pct-{theme}.png")
            box.close()
            settle(app, 0.2)
    apply_theme(app, "light")
    # Filtered to a sub-folder, sorted by name, with the live notice and a selection.
    w.resize(1366, 768)
    previous = sv.last_answer
    sv.folder_combo.setCurrentIndex(sv.folder_combo.findText("Trip to Kyoto", flags_contains()))
    pump(app, lambda: sv.last_answer is not previous and not sv.is_searching)
    previous = sv.last_answer
    sv.sort_combo.setCurrentIndex(sv.sort_combo.findText("Name (A to Z)"))
    pump(app, lambda: sv.last_answer is not previous and not sv.is_searching)
    sv.live.offer("3 new photos may match.")
    settle(app, 0.6)
    grab(w, out / "search-filtered-1366x768.png")
    sv.set_panel_visible(False)
    w.resize(1024, 700)
    settle(app, 0.6)
    grab(w, out / "search-panel-hidden-1024x700.png")
    sv.set_panel_visible(True)
    sv.controls.clear_filters()
    sv.sort_combo.setCurrentIndex(0)
    sv.live_bar.hide()


def flags_contains():
    from PySide6.QtCore import Qt

    return Qt.MatchFlag.MatchContains
