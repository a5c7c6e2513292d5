"""The Search tab: the query area and its controls on the left, the results grid on the right.

Every change (new query, region, how many, minimum similarity, folder filter) becomes one SearchRequest
after a short pause, so dragging a slider does not queue a search per pixel. What is searched and what
came back live in the view model (gui.search_model.SearchState); this module lays out and wires widgets.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import icons
from irt_desktop.gui.library_client import OPENING, READY, LibraryClient, LibraryNotReady
from irt_desktop.gui.model_warmup import PREPARING, is_preparing
from irt_desktop.gui.query import Crop, Query, image_file_filter, read_mime
from irt_desktop.gui.query_view import QueryView
from irt_desktop.gui.results_model import ResultDelegate, ResultsModel
from irt_desktop.gui.results_view import ResultsView
from irt_desktop.gui.search_model import SearchAnswer, SearchRequest, SearchState
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
        """`runner`: decodes the query preview (default: the client's)."""
        super().__init__(parent)
        self.client = client
        self.settings = settings
        self.state = SearchState()

        # --- left column: query and controls ---------------------------------------------------------------
        self.query_view = QueryView(runner=runner if runner is not None else client.runner)
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
        self.results = ResultsView(self.model)
        self.results.setItemDelegate(self.delegate)
        # The Edit menu offers it too.
        self.copy_action = self.results.copy_action
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
        self.results.more_like_this.connect(self.more_like_this)
        self.results.status_message.connect(self.status_message)
        self.client.state_changed.connect(self._on_client_state)
        self.client.roots_changed.connect(self.set_roots)
        self.client.model_changed.connect(lambda _: self.schedule_search())

    # --- queries ------------------------------------------------------------------------------------------
    @property
    def query(self) -> Query | None:
        return self.state.query

    @property
    def last_answer(self) -> SearchAnswer | None:
        return self.state.last_answer

    def set_query(self, query: Query, show: bool = True) -> None:
        self.state.set_query(query)
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
            self.schedule_search()

    def _describe_query(self) -> None:
        self.query_label.setText(self.state.query_text())
        self.query_label.setToolTip(self.state.query_tooltip())
        self.clear_region_button.setEnabled(self.query is not None and self.query.crop is not None)

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

    def set_roots(self, roots: list[Root]) -> None:
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

    def filter_to_root(self, root: Root) -> None:
        found = self.folder_combo.findData(root.id)
        if found >= 0:
            self.folder_combo.setCurrentIndex(found)

    def set_thumbnail_size(self, size: int) -> None:
        self.delegate.thumb_size = size
        self.thumbnails.set_pixel_size(round(size * self.devicePixelRatioF()))
        self.results.justify()
        self.results.doItemsLayout()

    def request(self) -> SearchRequest | None:
        return self.state.request(
            self.k_spin.value(), self.min_slider.value() / 100, self.folder_combo.currentData()
        )

    def schedule_search(self) -> None:
        if self.query is not None:
            self._debounce.start()

    def search_now(self) -> None:
        self._debounce.stop()
        request = self.request()
        if request is None:
            return
        self.state.started()
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
        folder = self.folder_combo.currentText() if self.folder_combo.currentData() is not None else ""
        self.result_header.setText(self.state.summary(answer, folder))

    def _on_search_failed(self, exc: BaseException) -> None:
        self.state.failed()
        if isinstance(exc, LibraryNotReady) and self.client.state in (OPENING, READY):
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
        if state == READY and self.query is not None and self.last_answer is None and not self.is_searching:
            self.search_now()

    @property
    def is_searching(self) -> bool:
        return self.state.searching

    def more_like_this(self, hit: SearchHit) -> None:
        self.set_query(self.state.more_like(hit))
