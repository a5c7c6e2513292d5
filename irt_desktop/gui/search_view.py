"""The Search tab: the query area and its controls on the left, the results grid on the right.

Every change (new query, region, how many, minimum similarity, folder filter) becomes one SearchRequest
after a short pause, so dragging a slider does not queue a search per pixel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import formatting, icons, result_actions
from irt_desktop.gui.library_client import READY, LibraryClient, SearchAnswer, SearchRequest
from irt_desktop.gui.query_view import IMAGE_SUFFIXES, Query, QueryView, read_mime
from irt_desktop.gui.results_model import PathRole, ResultDelegate, ResultsModel
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.thumbnails import ThumbnailLoader

SEARCH_DEBOUNCE_MS = 200
IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES)) + ");;All files (*)"


class ResultsView(QListView):
    """The thumbnail grid: virtualised (only visible rows are painted or loaded), keyboard first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("results")
        self.setAccessibleName("Search results")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setSpacing(0)
        self.setWrapping(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setDragEnabled(False)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.justify()

    def justify(self) -> None:
        """Spread the columns over the full width instead of leaving a strip empty on the right: a grid
        as wide as the viewport allows, each card centred in its cell."""
        delegate = self.itemDelegate()
        if delegate is None or self.model() is None:
            return
        hint = delegate.sizeHint(QStyleOptionViewItem(), self.model().index(0, 0))
        width = self.viewport().width() - 1
        min_cell = hint.width() + 8
        columns = max(1, width // min_cell)
        grid = QSize(max(min_cell, width // columns), hint.height() + 8)
        if grid != self.gridSize():
            self.setGridSize(grid)

    def current_menu_point(self) -> QPoint:
        """Where a keyboard-opened context menu goes: under the current item."""
        index = self.currentIndex()
        rect = self.visualRect(index) if index.isValid() else self.viewport().rect()
        return rect.center()


class SearchView(QWidget):
    status_message = Signal(str)
    folders_dropped = Signal(list)

    def __init__(
        self,
        client: LibraryClient,
        settings: AppSettings,
        thumbnails: ThumbnailLoader,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.settings = settings
        self.query: Query | None = None
        self._last_answer: SearchAnswer | None = None
        self._searching = False

        # --- left column: query and controls ---------------------------------------------------------------
        self.query_view = QueryView()
        self.query_label = QLabel("No query yet")
        self.query_label.setWordWrap(True)
        self.query_label.setObjectName("hint")
        self.open_button = QPushButton(icons.icon("image-open"), "&Open image…")
        self.open_button.setToolTip("Search by a photo from disk (Ctrl+O)")
        self.paste_button = QPushButton(icons.icon("paste"), "&Paste")
        self.paste_button.setToolTip("Search by the image or file on the clipboard (Ctrl+V)")
        self.clear_region_button = QPushButton(icons.icon("crop"), "&Whole image")
        self.clear_region_button.setToolTip(
            "Forget the region and search by the whole image (Esc on the image)"
        )
        self.clear_region_button.setEnabled(False)
        query_buttons = QHBoxLayout()
        query_buttons.addWidget(self.open_button)
        query_buttons.addWidget(self.paste_button)

        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, 1000)
        self.k_spin.setSingleStep(10)
        self.k_spin.setValue(settings.result_count)
        self.k_spin.setAccessibleName("How many results")
        self.k_slider = QSlider(Qt.Orientation.Horizontal)
        self.k_slider.setRange(1, 500)
        self.k_slider.setValue(min(500, settings.result_count))
        self.k_slider.setAccessibleName("How many results")
        self.min_slider = QSlider(Qt.Orientation.Horizontal)
        self.min_slider.setRange(0, 100)
        self.min_slider.setValue(round(settings.min_similarity * 100))
        self.min_slider.setAccessibleName("Minimum similarity")
        self.min_label = QLabel()
        self.min_label.setMinimumWidth(36)
        self.folder_combo = QComboBox()
        self.folder_combo.setAccessibleName("Search in folder")
        self.folder_combo.addItem("All folders", None)
        self.folder_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.folder_combo.setMinimumContentsLength(12)

        k_row = QHBoxLayout()
        k_row.addWidget(self.k_slider, 1)
        k_row.addWidget(self.k_spin)
        min_row = QHBoxLayout()
        min_row.addWidget(self.min_slider, 1)
        min_row.addWidget(self.min_label)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        k_label = QLabel("&Results:")
        k_label.setBuddy(self.k_slider)
        min_label = QLabel("&Min. similarity:")
        min_label.setBuddy(self.min_slider)
        folder_label = QLabel("&In:")
        folder_label.setBuddy(self.folder_combo)
        form.addRow(k_label, k_row)
        form.addRow(min_label, min_row)
        form.addRow(folder_label, self.folder_combo)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(8, 8, 8, 8)
        title = QLabel("Search by example")
        title.setObjectName("paneTitle")
        left_layout.addWidget(title)
        left_layout.addWidget(self.query_view, 1)
        left_layout.addWidget(self.query_label)
        left_layout.addWidget(self.clear_region_button)
        left_layout.addLayout(query_buttons)
        left_layout.addSpacing(6)
        left_layout.addLayout(form)
        left.setMinimumWidth(280)

        # --- right: results -------------------------------------------------------------------------------
        self.thumbnails = thumbnails
        self.model = ResultsModel(thumbnails, self)
        self.delegate = ResultDelegate(settings.thumbnail_size, self)
        self.results = ResultsView()
        self.results.setModel(self.model)
        self.results.setItemDelegate(self.delegate)
        self.result_header = QLabel("Results appear here.")
        self.result_header.setObjectName("hint")
        self.result_header.setAccessibleName("Result summary")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 8, 8, 8)
        right_layout.addWidget(self.result_header)
        right_layout.addWidget(self.results, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([320, 900])
        splitter.setChildrenCollapsible(False)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(splitter)
        self.splitter = splitter

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.search_now)

        self._build_result_actions()
        self._connect()
        self._update_min_label()
        self.set_thumbnail_size(settings.thumbnail_size)
        self.setTabOrder(self.query_view, self.clear_region_button)
        self.setTabOrder(self.clear_region_button, self.open_button)
        self.setTabOrder(self.open_button, self.paste_button)
        self.setTabOrder(self.paste_button, self.k_slider)
        self.setTabOrder(self.k_slider, self.k_spin)
        self.setTabOrder(self.k_spin, self.min_slider)
        self.setTabOrder(self.min_slider, self.folder_combo)
        self.setTabOrder(self.folder_combo, self.results)

    # --- wiring -------------------------------------------------------------------------------------------
    def _connect(self) -> None:
        qv = self.query_view
        qv.files_dropped.connect(lambda files: self.set_query(Query(files[0], files[0].name)))
        qv.image_dropped.connect(lambda image: self.set_image_query(image, "dropped image"))
        qv.folders_dropped.connect(self.folders_dropped)
        qv.remote_dropped.connect(self._on_remote_drop)
        qv.region_changed.connect(self._on_region_changed)
        qv.preview_failed.connect(
            lambda reason: self.status_message.emit(f"Cannot show the query image: {reason}")
        )
        self.open_button.clicked.connect(self.open_image_dialog)
        self.paste_button.clicked.connect(self.paste)
        self.clear_region_button.clicked.connect(lambda: qv.set_region(None))
        self.k_slider.valueChanged.connect(self._on_k_slider)
        self.k_spin.valueChanged.connect(self._on_k_spin)
        self.min_slider.valueChanged.connect(self._on_min_changed)
        self.folder_combo.currentIndexChanged.connect(lambda _: self.schedule_search())
        self.results.activated.connect(lambda index: self._open_rows([index.row()]))
        self.results.customContextMenuRequested.connect(self._show_context_menu)
        self.client.state_changed.connect(self._on_client_state)
        self.client.roots_changed.connect(self.set_roots)
        self.client.model_changed.connect(lambda _: self.schedule_search())

    def _build_result_actions(self) -> None:
        def act(text: str, icon: str, shortcut: str | QKeySequence | None, slot) -> QAction:
            a = QAction(icons.icon(icon), text, self.results)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            a.triggered.connect(slot)
            self.results.addAction(a)
            return a

        self.open_action = act("&Open", "open", "Return", lambda: self._open_rows(self.selected_rows()))
        self.reveal_action = act("Show in &folder", "reveal", "Ctrl+Shift+R", self._reveal_selected)
        self.copy_action = act("&Copy path", "copy", QKeySequence.StandardKey.Copy, self._copy_selected)
        self.similar_action = act("&More like this", "similar", "Ctrl+M", self._more_like_selected)
        self.details_action = act("&Details…", "info", "Ctrl+I", self._details_selected)

    # --- queries ------------------------------------------------------------------------------------------
    def set_query(self, query: Query, show: bool = True) -> None:
        self.query = query
        if show:
            if isinstance(query.source, Path | bytes):
                self.query_view.load(query.source, query.crop)
            elif isinstance(query.source, QImage):
                self.query_view.show_image(query.source)
        self._describe_query()
        self.search_now()

    def set_image_query(self, image: QImage, label: str) -> None:
        """Decoded image data (paste, browser drag): shown now, encoded to PNG on the worker by the search."""
        self.query_view.show_image(image)
        self.set_query(Query(image, label), show=False)

    def open_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Search by photo", self.settings.last_dir, IMAGE_FILTER)
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

    def _on_region_changed(self, crop: tuple[int, int, int, int] | None) -> None:
        if self.query is None:
            return
        self.query = self.query.with_crop(crop)
        self._describe_query()
        self.schedule_search()

    def _describe_query(self) -> None:
        q = self.query
        if q is None:
            self.query_label.setText("No query yet")
            self.clear_region_button.setEnabled(False)
            return
        region = "whole image"
        if q.crop is not None:
            x0, y0, x1, y1 = q.crop
            region = f"region {x1 - x0} × {y1 - y0} at ({x0}, {y0})"
        self.query_label.setText(f"{q.label} — {region}")
        self.query_label.setToolTip(str(q.source) if isinstance(q.source, Path) else q.label)
        self.clear_region_button.setEnabled(q.crop is not None)

    # --- controls -----------------------------------------------------------------------------------------
    def _on_k_slider(self, value: int) -> None:
        if self.k_spin.value() != value:
            self.k_spin.blockSignals(True)
            self.k_spin.setValue(value)
            self.k_spin.blockSignals(False)
        self.settings.result_count = value
        self.schedule_search()

    def _on_k_spin(self, value: int) -> None:
        self.k_slider.blockSignals(True)
        self.k_slider.setValue(min(value, self.k_slider.maximum()))
        self.k_slider.blockSignals(False)
        self.settings.result_count = value
        self.schedule_search()

    def _on_min_changed(self, value: int) -> None:
        self.settings.min_similarity = value / 100
        self._update_min_label()
        self.schedule_search()

    def _update_min_label(self) -> None:
        v = self.min_slider.value()
        self.min_label.setText("off" if v == 0 else f"{v / 100:.2f}")

    def set_roots(self, roots: list[Any]) -> None:
        current = self.folder_combo.currentData()
        self.folder_combo.blockSignals(True)
        self.folder_combo.clear()
        self.folder_combo.addItem("All folders", None)
        for root in roots:
            self.folder_combo.addItem(icons.icon("folder"), Path(root.path).name or str(root.path), root.id)
            self.folder_combo.setItemData(
                self.folder_combo.count() - 1, str(root.path), Qt.ItemDataRole.ToolTipRole
            )
        found = self.folder_combo.findData(current)
        self.folder_combo.setCurrentIndex(max(0, found))
        self.folder_combo.blockSignals(False)
        if current is not None and found < 0:
            self.schedule_search()

    def filter_to_root(self, root: Any) -> None:
        found = self.folder_combo.findData(root.id)
        if found >= 0:
            self.folder_combo.setCurrentIndex(found)

    def set_thumbnail_size(self, size: int) -> None:
        self.delegate.thumb_size = size
        self.thumbnails.set_pixel_size(round(size * self.devicePixelRatioF()))
        self.results.justify()
        self.results.doItemsLayout()

    def request(self) -> SearchRequest | None:
        if self.query is None:
            return None
        min_score = self.min_slider.value() / 100 or None
        root = self.folder_combo.currentData()
        return SearchRequest(self.query, self.k_spin.value(), min_score, [root] if root is not None else None)

    def schedule_search(self) -> None:
        if self.query is not None:
            self._debounce.start()

    def search_now(self) -> None:
        self._debounce.stop()
        request = self.request()
        if request is None:
            return
        self._searching = True
        self.result_header.setText("Searching…")
        self.client.search(request, self._on_answer, self._on_search_failed)

    def _on_answer(self, answer: SearchAnswer) -> None:
        self._searching = False
        self._last_answer = answer
        if (
            answer.encoded is not None
            and self.query is not None
            and answer.request.query.source is self.query.source
        ):
            # Later searches (another region, another k) reuse the PNG instead of encoding again.
            self.query = Query(answer.encoded, self.query.label, self.query.crop, self.query.image_id)
        self.model.set_hits(answer.hits)
        if answer.hits:
            self.results.setCurrentIndex(self.model.index(0))
            self.results.selectionModel().select(
                self.model.index(0), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
        n = len(answer.hits)
        where = self.folder_combo.currentText() if self.folder_combo.currentData() is not None else ""
        self.result_header.setText(
            f"{formatting.plural(n, 'photo')} found{' in ' + where if where else ''} "
            f"({answer.seconds * 1000:.0f} ms)"
            if n
            else "No photos matched. Lower the minimum similarity, or add folders to the library."
        )

    def _on_search_failed(self, exc: BaseException) -> None:
        self._searching = False
        reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        if self.client.state != READY:
            reason = "The library is not ready yet: " + reason
        self.result_header.setText(f"Search failed: {reason}")
        self.status_message.emit(f"Search failed: {reason}")

    def _on_client_state(self, state: str) -> None:
        if state == READY and self.query is not None and self._last_answer is None and not self._searching:
            self.search_now()

    @property
    def is_searching(self) -> bool:
        return self._searching

    # --- result actions -----------------------------------------------------------------------------------
    def selected_rows(self) -> list[int]:
        rows = sorted({i.row() for i in self.results.selectionModel().selectedIndexes()})
        if not rows and self.results.currentIndex().isValid():
            rows = [self.results.currentIndex().row()]
        return rows

    def _paths(self, rows: list[int]) -> list[str]:
        return [self.model.index(r).data(PathRole) for r in rows]

    def _open_rows(self, rows: list[int]) -> None:
        for path in self._paths(rows)[:20]:
            result_actions.open_file(path)

    def _reveal_selected(self) -> None:
        for path in self._paths(self.selected_rows())[:5]:
            result_actions.reveal_in_file_manager(path)

    def _copy_selected(self) -> None:
        paths = self._paths(self.selected_rows())
        if paths:
            result_actions.copy_paths(paths)
            self.status_message.emit(f"Copied {formatting.plural(len(paths), 'path')}")

    def _more_like_selected(self) -> None:
        rows = self.selected_rows()
        if rows:
            self.more_like_this(self.model.hit(rows[0]))

    def more_like_this(self, hit: Any) -> None:
        path = Path(hit.path)
        self.set_query(Query(path, path.name, None, int(hit.image_id)))

    def _details_selected(self) -> None:
        rows = self.selected_rows()
        if rows:
            result_actions.DetailsDialog(self.model.hit(rows[0]), self).exec()

    def _show_context_menu(self, pos: QPoint) -> None:
        index = self.results.indexAt(pos)
        if index.isValid() and not self.results.selectionModel().isSelected(index):
            self.results.setCurrentIndex(index)
        if not self.selected_rows():
            return
        menu = QMenu(self)
        for a in (self.open_action, self.reveal_action, self.copy_action):
            menu.addAction(a)
        menu.addSeparator()
        menu.addAction(self.similar_action)
        menu.addAction(self.details_action)
        menu.popup(self.results.viewport().mapToGlobal(pos))
        self._menu = menu

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Menu and self.results.hasFocus():
            self._show_context_menu(self.results.current_menu_point())
            return
        super().keyPressEvent(event)
