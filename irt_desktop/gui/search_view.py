"""The Search tab: the query area and its controls on the left (collapsible), the results grid on the
right, Back / Forward through the queries, a lightbox for one photo, batch actions on a selection.

Every change (new query, region, how many, minimum similarity, filters, order) becomes one SearchRequest
after a short pause, so dragging a slider does not queue a search per pixel. What is searched and what
came back live in the view model (gui.search_model.SearchState); this module lays out and wires widgets.
Open results follow the library (gui.live_results): photos that leave it leave the grid, new matches
are offered, and nothing is searched again unless the user asks.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QImage, QKeySequence, QMouseEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui.batch_actions import BatchActions
from irt_desktop.gui.library_client import OPENING, READY, LibraryClient, LibraryNotReady
from irt_desktop.gui.lightbox import Lightbox, QueryItem
from irt_desktop.gui.live_results import LiveResults
from irt_desktop.gui.model_warmup import PREPARING, is_preparing
from irt_desktop.gui.query import Crop, Query, image_file_filter, read_mime
from irt_desktop.gui.results_pane import ResultsPane
from irt_desktop.gui.search_model import SearchAnswer, SearchRequest, SearchState
from irt_desktop.gui.search_panel import QueryPanel
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.tasks import TaskRunner
from irt_desktop.gui.thumbnails import ThumbnailLoader

if TYPE_CHECKING:
    from irt_desktop.library.records import Root, SearchHit

SEARCH_DEBOUNCE_MS = 200


class SearchView(QWidget):
    status_message = Signal(str)
    folders_dropped = Signal(list)

    def __init__(
        self,
        client: LibraryClient,
        settings: AppSettings,
        thumbnails: ThumbnailLoader,
        parent: QWidget | None = None,
        *,
        runner: TaskRunner | None = None,
    ) -> None:
        """`runner`: decodes the query preview and lightbox photos (default: the client's)."""
        super().__init__(parent)
        self.client = client
        self.settings = settings
        self.state = SearchState()
        self.runner = runner if runner is not None else client.runner
        self.lightbox: Lightbox | None = None
        self._roots_key: tuple = ()

        # --- left column: query and controls (collapsible) ------------------------------------------------
        self.panel = QueryPanel(settings, self.runner)
        self.left_panel = self.panel
        # The panel's widgets are the view's too (tests, the window's menus and older callers use them).
        p = self.panel
        self.query_view, self.query_label, self.controls = p.query_view, p.query_label, p.controls
        self.back_button, self.forward_button = p.back_button, p.forward_button
        self.open_button, self.paste_button = p.open_button, p.paste_button
        self.clear_region_button, self.view_query_button = p.clear_region_button, p.view_query_button
        self.k_spin, self.k_slider = self.controls.k_spin, self.controls.k_slider
        self.min_slider, self.min_label = self.controls.min_slider, self.controls.min_label
        self.folder_combo, self.sort_combo = self.controls.folder_combo, self.controls.sort_combo
        left = self.panel

        # --- right: results -------------------------------------------------------------------------------
        self.thumbnails = thumbnails
        right = ResultsPane(thumbnails, settings.thumbnail_size)
        self.results_pane = right
        self.model, self.delegate, self.results = right.model, right.delegate, right.results
        self.panel_button, self.result_header = right.panel_button, right.result_header
        self.live_bar, self.undo_bar = right.live_bar, right.undo_bar
        # The Edit menu offers it too.
        self.copy_action = self.results.copy_action

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 900])
        splitter.setCollapsible(0, True)
        splitter.setCollapsible(1, False)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(splitter)
        self.splitter = splitter

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.search_now)
        self.batch = BatchActions(client, self, settings)
        self.live = LiveResults(self)

        self._connect()
        self._actions()
        self.set_thumbnail_size(settings.thumbnail_size)
        self._update_history_buttons()
        order = [
            self.query_view,
            self.back_button,
            self.forward_button,
            self.clear_region_button,
            self.view_query_button,
            self.open_button,
            self.paste_button,
            *self.controls.tab_order(),
            self.panel_button,
            self.results,
        ]
        for a, b in itertools.pairwise(order):
            self.setTabOrder(a, b)

    def _actions(self) -> None:
        def act(text: str, shortcut: str, slot) -> QAction:
            action = QAction(text, self)
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            self.addAction(action)
            return action

        self.back_action = act("Back", "Alt+Left", self.go_back)
        self.forward_action = act("Forward", "Alt+Right", self.go_forward)
        self.undo_action = act("Undo", "Ctrl+Z", self.batch.undo)
        self.panel_action = act("Query panel", "Ctrl+Shift+H", self.panel_button.toggle)

    # --- wiring -------------------------------------------------------------------------------------------
    def _connect(self) -> None:
        qv = self.query_view
        qv.files_dropped.connect(lambda files: self.set_query(Query(files[0], files[0].name)))
        qv.image_dropped.connect(lambda image: self.set_image_query(image, "dropped image"))
        qv.folders_dropped.connect(self.folders_dropped)
        qv.remote_dropped.connect(self._on_remote_drop)
        qv.region_changed.connect(self._on_region_changed)
        qv.preview_ready.connect(self._remember_thumbnail)
        qv.preview_failed.connect(
            lambda reason: self.status_message.emit(f"Cannot show the query image: {reason}")
        )
        self.back_button.clicked.connect(self.go_back)
        self.forward_button.clicked.connect(self.go_forward)
        self.panel.history_requested.connect(self.go_to_history)
        self.open_button.clicked.connect(self.open_image_dialog)
        self.paste_button.clicked.connect(self.paste)
        self.clear_region_button.clicked.connect(lambda: qv.set_region(None))
        self.view_query_button.clicked.connect(self.view_query)
        self.controls.changed.connect(self.schedule_search)
        self.panel_button.toggled.connect(self.set_panel_visible)
        self.splitter.splitterMoved.connect(
            lambda *_: self.panel_button.setChecked(self.splitter.sizes()[0] > 0)
        )
        self.results.more_like_this.connect(self.more_like_this)
        self.results.status_message.connect(self.status_message)
        self.results.view_requested.connect(self.view_result)
        self.results.batch_requested.connect(self.batch.request)
        self.batch.message.connect(self.status_message)
        self.batch.undo_changed.connect(lambda text: self.undo_bar.show_notice(text))
        self.batch.finished.connect(self.live.on_batch_done)
        self.batch.undone.connect(self.live.on_batch_undone)
        self.undo_bar.triggered.connect(self.batch.undo)
        self.live_bar.triggered.connect(self.refresh)
        self.client.state_changed.connect(self._on_client_state)
        self.client.roots_changed.connect(self.set_roots)
        self.client.model_changed.connect(self.live.on_model_changed)
        self.client.index_finished.connect(self.live.on_index_finished)

    # --- queries ------------------------------------------------------------------------------------------
    @property
    def query(self) -> Query | None:
        return self.state.query

    @property
    def last_answer(self) -> SearchAnswer | None:
        return self.state.last_answer

    def set_query(self, query: Query, show: bool = True, *, record: bool = True) -> None:
        self.state.set_query(query, record=record)
        if show:
            self._show_query(query)
        self._describe_query()
        self._update_history_buttons()
        self.search_now()

    def _show_query(self, query: Query) -> None:
        if isinstance(query.source, Path | bytes):
            self.query_view.load(query.source, query.crop)
        elif isinstance(query.source, QImage):
            self.query_view.show_image(query.source)
            if query.crop is not None:
                self.query_view.set_region(query.crop, notify=False)

    def set_image_query(self, image: QImage, label: str) -> None:
        """Decoded image data (paste, browser drag): shown now, encoded to PNG on the worker by the search."""
        self.set_query(Query(image, label))

    def open_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Search by photo", self.settings.last_dir, image_file_filter()
        )
        if path:
            self.settings.last_dir = str(Path(path).parent)
            self.set_query(Query(Path(path), Path(path).name))

    def paste(self) -> bool:
        """Search by what the clipboard holds: an image, or an image file copied in a file manager."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return False
        content = read_mime(mime)
        if content.image_files:
            self.set_query(Query(content.image_files[0], content.image_files[0].name))
            return True
        if content.image is not None:
            self.set_image_query(content.image, "pasted image")
            return True
        self.status_message.emit("The clipboard holds no image or image file to search by.")
        return False

    def _on_remote_drop(self, urls: list[str]) -> None:
        self.status_message.emit(
            "That is a link to an image on the web. irt-desktop does not download it: save the image "
            "first, or drag the picture itself."
        )

    def _on_region_changed(self, crop: Crop | None) -> None:
        if self.state.set_crop(crop):
            self._describe_query()
            self._remember_thumbnail()
            self._update_history_buttons()
            self.schedule_search()

    def _describe_query(self) -> None:
        self.query_label.setText(self.state.query_text())
        self.query_label.setToolTip(self.state.query_tooltip())
        self.clear_region_button.setEnabled(self.query is not None and self.query.crop is not None)
        self.view_query_button.setEnabled(self.query is not None)

    # --- history ------------------------------------------------------------------------------------------
    def go_back(self) -> None:
        query = self.state.back()
        if query is not None:
            self.set_query(query, record=False)

    def go_forward(self) -> None:
        query = self.state.forward()
        if query is not None:
            self.set_query(query, record=False)

    def go_to_history(self, index: int) -> None:
        query = self.state.go_to(index)
        if query is not None:
            self.set_query(query, record=False)

    def _remember_thumbnail(self) -> None:
        pixmap = self.query_view.thumbnail()
        if pixmap is not None:
            self.state.history.set_thumb(QIcon(pixmap))
        self._update_history_buttons()

    def _update_history_buttons(self) -> None:
        self.panel.show_history(self.state.history)

    def showEvent(self, event) -> None:
        # Back from another tab (the Duplicates tab may have trashed some of these): check them.
        super().showEvent(event)
        if self.last_answer is not None:
            self.live.schedule()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        # The mouse's own back and forward buttons, as in a browser.
        if event.button() == Qt.MouseButton.BackButton:
            self.go_back()
        elif event.button() == Qt.MouseButton.ForwardButton:
            self.go_forward()
        else:
            super().mousePressEvent(event)

    # --- controls -----------------------------------------------------------------------------------------
    def set_roots(self, roots: list[Root]) -> None:
        """The watched folders changed (or their counts): the folder list is asked for again, and
        until it first comes the watched folders alone are offered."""
        key = tuple((r.id, str(r.path), r.n_images) for r in roots)
        if key == self._roots_key:
            return
        same_roots = [k[:2] for k in key] == [k[:2] for k in self._roots_key]
        self._roots_key = key
        if not self.live.folders_known:
            self.set_folders_gone(self.controls.set_roots(roots))
        self.live.folders_stale(roots_changed=not same_roots)

    def set_folders_gone(self, gone: bool) -> None:
        if gone:
            self.live.offer("The folder the results were limited to is no longer in the library.")

    def filter_to_root(self, root: Root) -> None:
        self.controls.select_folder(str(root.path), Path(root.path).name or str(root.path))

    def set_panel_visible(self, visible: bool) -> None:
        sizes = self.splitter.sizes()
        if visible and sizes[0] == 0:
            self.splitter.setSizes([300, max(1, sum(sizes) - 300)])
        elif not visible and sizes[0] > 0:
            self.splitter.setSizes([0, sum(sizes)])
        self.panel_button.setChecked(visible)

    def set_thumbnail_size(self, size: int) -> None:
        self.delegate.thumb_size = size
        self.thumbnails.set_pixel_size(round(size * 1.25 * self.devicePixelRatioF()))
        self.results.justify()
        self.results.doItemsLayout()

    def request(self) -> SearchRequest | None:
        key, reverse = self.controls.sort()
        return self.state.request(
            self.k_spin.value(), self.min_slider.value() / 100, None, self.controls.filters(), key, reverse
        )

    def schedule_search(self) -> None:
        if self.query is not None:
            self._debounce.start()

    def refresh(self) -> None:
        """The user asked: search again (after the library changed, or the model was switched)."""
        self.live_bar.hide()
        self.search_now()

    def search_now(self) -> None:
        self._debounce.stop()
        request = self.request()
        if request is None:
            return
        self.state.started()
        self.live_bar.hide()
        preparing = self.client.state == OPENING or is_preparing(self.client)
        self.result_header.setText(PREPARING if preparing else "Searching…")
        self.client.search(request, self._on_answer, self._on_search_failed)

    def _on_answer(self, answer: SearchAnswer) -> None:
        self.state.answered(answer)
        self.model.set_hits(answer.hits)
        if answer.hits:
            self.results.setCurrentIndex(self.model.index(0))
            self.results.selectionModel().select(
                self.model.index(0), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
        self.update_header()

    def update_header(self) -> None:
        answer = self.last_answer
        if answer is not None:
            c = self.controls
            text = self.state.summary(answer, c.folder_text(), self.model.rowCount(), c.filter_text())
            self.result_header.setText(text)

    def _on_search_failed(self, exc: BaseException) -> None:
        # A search the library never saw (it was not open yet) runs once it opens; any other failure
        # waits for the user.
        never_ran = isinstance(exc, LibraryNotReady)
        self.state.failed(library_not_open=never_ran)
        # The old results answer another query: they go, so nothing under "failed" looks like an answer.
        self.model.set_hits([])
        self.live_bar.hide()
        if never_ran and self.client.state in (OPENING, READY):
            # Asked for before the library was open: searched again once it is (_on_client_state), or
            # now if it opened while this search was waiting.
            self.result_header.setText(PREPARING)
            if self.client.state == READY and self.client.library is not None:
                self.schedule_search()
            return
        reason = self.state.failure_text(exc, self.client.state == READY)
        self.result_header.setText(f"Search failed: {reason}")
        self.status_message.emit(f"Search failed: {reason}")

    def _on_client_state(self, state: str) -> None:
        # Only a search that was waiting for the library runs by itself; a failed one waits for the user.
        if (
            state == READY
            and self.query is not None
            and self.state.waiting_for_library
            and not self.is_searching
        ):
            self.search_now()

    @property
    def is_searching(self) -> bool:
        return self.state.searching

    def more_like_this(self, hit: SearchHit) -> None:
        self.set_query(self.state.more_like(hit))

    # --- the lightbox -------------------------------------------------------------------------------------
    def view_result(self, row: int) -> Lightbox | None:
        hits = self.model.hits()
        if not 0 <= row < len(hits):
            return None
        return self._open_lightbox(Lightbox(hits, row, self.runner, self.window()))

    def view_query(self) -> Lightbox | None:
        q = self.query
        if q is None:
            return None
        if isinstance(q.source, Path):
            item = QueryItem(q.source)
        else:
            image = q.source if isinstance(q.source, QImage) else QImage.fromData(q.source)
            item = QueryItem(Path(q.label), image=image, width=image.width(), height=image.height())
        return self._open_lightbox(Lightbox([item], 0, self.runner, self.window(), title=f"Query: {q.label}"))

    def _open_lightbox(self, box: Lightbox) -> Lightbox:
        if self.lightbox is not None:
            self.lightbox.close()
        self.lightbox = box
        box.more_like_this.connect(self.more_like_this)
        box.trash_requested.connect(lambda hits: self.batch.request("trash", hits))
        box.status_message.connect(self.status_message)
        box.destroyed.connect(lambda *_: setattr(self, "lightbox", None) if self.lightbox is box else None)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window = self.window()
        box.resize(max(640, round(window.width() * 0.92)), max(480, round(window.height() * 0.92)))
        box.show()
        box.raise_()
        box.activateWindow()
        box.setFocus()
        return box
