"""The lightbox: its view model (navigation, zoom and pan arithmetic, details rows) without Qt, and the
window over real photo files with jobs run inline: arrow keys walk the results, + - 0 1 zoom, the
details include the camera from EXIF, "open in other app" without one says so in the window."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from imagegen import photo
from PySide6.QtCore import Qt

from irt_desktop.gui import formatting, result_actions
from irt_desktop.gui.lightbox_model import LightboxModel, Zoom, detail_rows, read_details
from irt_desktop.gui.tasks import TaskRunner, run_inline
from irt_desktop.library.records import SearchHit


def hit(i: int, path: Path, score: float = 0.5) -> SearchHit:
    return SearchHit(i, path, score, path.stat().st_size if path.exists() else 10, 400, 300, None)


@pytest.fixture
def shots(tmp_path) -> list[Path]:
    from PIL import Image

    out = []
    for i in range(4):
        p = tmp_path / f"shot_{i}.jpg"
        im = photo(i, (400, 300))
        exif = Image.Exif()
        exif[0x010F] = "Canon"  # Make
        exif[0x0110] = "Canon EOS R6"  # Model
        exif[0x0132] = "2021:04:03 10:20:30"  # DateTime
        im.save(p, quality=90, exif=exif)
        out.append(p)
    return out


def test_navigation_and_removal_in_the_model():
    items = [SearchHit(i, Path(f"/p/{i}.jpg"), 0.9, 1, 4, 3, None) for i in range(4)]
    m = LightboxModel(items, 1)
    assert m.current.image_id == 1 and m.can_prev() and m.can_next() and m.position_text() == "2 of 4"
    m.zoom.set_scale(2.0, (400, 300), (200, 200))
    assert m.go(1) and m.current.image_id == 2 and m.zoom.fit  # a new photo starts fitted
    assert m.go(10) and m.current.image_id == 3 and not m.can_next()
    assert not m.go(1)
    m.remove_ids({3})  # the shown photo left: the previous one (it was the last)
    assert m.current.image_id == 2
    m.go_to(0)
    m.remove_ids({2})
    assert m.current.image_id == 0 and len(m.items) == 2
    m.remove_ids({0, 1})
    assert m.current is None and m.position_text() == ""


def test_zoom_keeps_the_point_under_the_pointer_and_pans_within_bounds():
    z = Zoom()
    image, view = (1000.0, 500.0), (500.0, 500.0)
    assert z.effective(image, view) == 0.5 and z.label(image, view) == "Fit (50 %)"
    z.zoom_in(image, view)
    assert not z.fit and z.scale == 0.67
    z.reset()
    anchor = (400.0, 250.0)  # right of centre: that image point must stay under it
    x0, _, _, _ = z.target_rect(image, view)
    point = (anchor[0] - x0) / 0.5
    z.set_scale(2.0, image, view, anchor)
    x1, _, w, _ = z.target_rect(image, view)
    assert abs((anchor[0] - x1) / 2.0 - point) < 1e-6 and w == 2000
    z.pan(10_000, 0, image, view)  # far right: clamped so the photo's left edge meets the view's
    x, _, _, _ = z.target_rect(image, view)
    assert abs(x) < 1e-6
    z.zoom_out(image, view)
    z.zoom_out(image, view)
    z.zoom_out(image, view)
    z.zoom_out(image, view)
    assert z.fit  # zooming out past "fit" is fit
    small = (100.0, 80.0)
    assert Zoom().effective(small, view) == 1.0  # never enlarged to fit
    assert not Zoom().can_pan(image, view)


def test_details_read_the_camera_from_exif(shots):
    details = read_details(shots[0])
    assert details.camera == "Canon EOS R6"  # the make is not repeated
    assert details.taken == datetime(2021, 4, 3, 10, 20, 30)
    rows = dict(detail_rows(hit(0, shots[0], -0.2), details, formatting))
    assert rows["Camera"] == "Canon EOS R6" and rows["Dimensions"] == "400 × 300"
    assert rows["Taken"] == "2021-04-03 10:20" and rows["Similarity"] == "0.000"  # never negative
    assert rows["Folder"] == str(shots[0].parent)
    assert read_details(shots[0].parent / "missing.jpg").camera == ""


def test_lightbox_window_walks_zooms_and_acts(qtbot, themed_app, shots, monkeypatch):
    from irt_desktop.gui.lightbox import Lightbox

    hits = [hit(i, p) for i, p in enumerate(shots)]
    box = Lightbox(hits, 1, TaskRunner(executor=run_inline))
    qtbot.addWidget(box)
    box.resize(900, 600)
    box.show()
    qtbot.waitUntil(lambda: box.canvas.pixmap is not None)
    assert box.current is hits[1] and box.position_label.text() == "2 of 4"
    assert (box.canvas.pixmap.width(), box.canvas.pixmap.height()) == (400, 300)  # full resolution
    form = {
        box.details_form.itemAt(r, box.details_form.ItemRole.LabelRole)
        .widget()
        .text(): box.details_form.itemAt(r, box.details_form.ItemRole.FieldRole).widget().text()
        for r in range(box.details_form.rowCount())
    }
    assert form["Camera:"] == "Canon EOS R6" and form["Name:"] == "shot_1.jpg"

    qtbot.keyClick(box, Qt.Key.Key_Right)
    assert box.current is hits[2]
    qtbot.keyClick(box, Qt.Key.Key_Left)
    qtbot.keyClick(box, Qt.Key.Key_Left)
    assert box.current is hits[0] and not box.prev_button.isEnabled()
    qtbot.keyClick(box, Qt.Key.Key_End)
    assert box.current is hits[3] and not box.next_button.isEnabled()

    qtbot.keyClick(box, Qt.Key.Key_1)
    assert box.zoom_label.text() == "100 %"
    qtbot.keyClick(box, Qt.Key.Key_Plus)
    assert box.zoom_label.text() == "150 %"
    qtbot.keyClick(box, Qt.Key.Key_Minus)
    qtbot.keyClick(box, Qt.Key.Key_0)
    assert box.zoom_label.text().startswith("Fit")

    # No application to hand the photo to: said in the window, not only in the log.
    monkeypatch.setattr(result_actions, "open_file", lambda p: False)
    box.open_action.trigger()
    assert box.notice.isVisible() and "No other application" in box.notice.text()

    asked, similar = [], []
    box.trash_requested.connect(asked.append)
    box.more_like_this.connect(similar.append)
    box.trash_action.trigger()
    assert asked == [[hits[3]]]
    box.remove_ids({3})
    assert box.current is hits[2]
    box.similar_action.trigger()
    assert similar == [hits[2]]


def test_lightbox_shows_a_query_without_a_file(qtbot, themed_app):
    from irt_desktop.gui.lightbox import Lightbox, QueryItem
    from irt_desktop.gui.thumbnails import pil_to_qimage

    image = pil_to_qimage(photo(3, (120, 90)))
    box = Lightbox([QueryItem(Path("pasted image"), image=image)], 0, TaskRunner(executor=run_inline))
    qtbot.addWidget(box)
    box.show()
    assert box.canvas.pixmap is not None and box.canvas.pixmap.width() == 120
    assert not box.trash_action.isEnabled() and not box.similar_action.isEnabled()
    assert box.position_label.text() == ""
