"""Settings: library location, compute device, bf16, thumbnail size, exclude patterns, appearance."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui.elide import wrapping
from irt_desktop.gui.settings import DEVICES, AppSettings

DEVICE_TEXT = {
    "auto": "Automatic (GPU if there is one)",
    "cpu": "CPU",
    "cuda": "NVIDIA GPU (CUDA)",
    "mps": "Apple GPU (MPS)",
}


class SettingsDialog(QDialog):
    def __init__(
        self,
        settings: AppSettings,
        current_library: Path,
        parent: QWidget | None = None,
        exclude_patterns: list[str] | None = None,
    ) -> None:
        """`exclude_patterns`: the open library's, which the dialog edits (default: the saved ones)."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.changed_keys: set[str] = set()
        self._initial_excludes = list(
            settings.exclude_patterns if exclude_patterns is None else exclude_patterns
        )

        self.library_edit = QLineEdit(str(settings.library_path or current_library))
        self.library_edit.setAccessibleName("Library folder")
        browse = QPushButton("&Browse…")
        browse.clicked.connect(self._browse)
        lib_row = QHBoxLayout()
        lib_row.addWidget(self.library_edit, 1)
        lib_row.addWidget(browse)

        self.device_combo = QComboBox()
        for d in DEVICES:
            self.device_combo.addItem(DEVICE_TEXT[d], d)
        self.device_combo.setCurrentIndex(DEVICES.index(settings.device))
        self.bf16_check = QCheckBox("Use &bf16 where the hardware runs it natively")
        self.bf16_check.setToolTip(
            "Faster indexing on recent CPUs (AVX512-BF16/AMX) and GPUs. irt-desktop checks that bf16 "
            "descriptors agree with fp32 ones and falls back to fp32 if they do not."
        )
        self.bf16_check.setChecked(settings.bf16)

        self.thumb_slider = QSlider(Qt.Orientation.Horizontal)
        self.thumb_slider.setRange(96, 320)
        self.thumb_slider.setSingleStep(16)
        self.thumb_slider.setPageStep(32)
        self.thumb_slider.setValue(settings.thumbnail_size)
        self.thumb_label = QLabel()
        self.thumb_slider.valueChanged.connect(lambda v: self.thumb_label.setText(f"{v} px"))
        self.thumb_label.setText(f"{settings.thumbnail_size} px")
        thumb_row = QHBoxLayout()
        thumb_row.addWidget(self.thumb_slider, 1)
        thumb_row.addWidget(self.thumb_label)

        self.theme_combo = QComboBox()
        for value, text in (("system", "Follow the system"), ("light", "Light"), ("dark", "Dark")):
            self.theme_combo.addItem(text, value)
        self.theme_combo.setCurrentIndex(self.theme_combo.findData(settings.theme))

        self.exclude_edit = QPlainTextEdit("\n".join(self._initial_excludes))
        self.exclude_edit.setAccessibleName("Exclude patterns")
        self.exclude_edit.setPlaceholderText(
            "One pattern per line, e.g. *_draft.jpg, Screenshots/ or **/cache/**"
        )
        self.exclude_edit.setToolTip(
            "A name (Private, *.tmp) skips matching files and folders at any depth; a trailing / means "
            "folders only; a path with / (2019/raw, **/cache/**) is matched inside each watched folder. "
            "Photos already indexed that match leave the search results."
        )
        self.exclude_edit.setTabChangesFocus(True)
        self.exclude_edit.setMaximumHeight(110)

        def label(text: str, buddy: QWidget) -> QLabel:
            widget = QLabel(text)
            widget.setBuddy(buddy)
            return widget

        form = QFormLayout()
        form.addRow(label("&Library folder:", self.library_edit), lib_row)
        hint = QLabel("The catalog, index, thumbnails and models live here. Changing it opens that library.")
        hint.setObjectName("hint")
        form.addRow("", wrapping(hint))
        form.addRow(label("&Device:", self.device_combo), self.device_combo)
        form.addRow("", self.bf16_check)
        form.addRow(label("&Thumbnail size:", self.thumb_slider), thumb_row)
        form.addRow(label("&Appearance:", self.theme_combo), self.theme_combo)
        form.addRow(label("&Skip files and folders:", self.exclude_edit), self.exclude_edit)
        note = QLabel(
            "Hidden files and system folders (@eaDir, .DS_Store, Thumbs.db, recycle bins) are always skipped."
        )
        note.setObjectName("hint")
        form.addRow("", wrapping(note))

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(560, self.sizeHint().height())
        # Opening Settings must not put the cursor in the library path (one keystroke would change
        # which library opens): OK has the focus, and Enter closes the dialog with nothing changed.
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setDefault(True)
        self.ok_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Library folder", self.library_edit.text())
        if folder:
            self.library_edit.setText(folder)

    def accept(self) -> None:
        s = self.settings
        keys: set[str] = set()
        s.changed.connect(keys.add)
        try:
            new_lib = Path(self.library_edit.text()).expanduser()
            if self.library_edit.text().strip() and new_lib != (s.library_path or None):
                s.library_path = new_lib
            s.device = self.device_combo.currentData()
            s.bf16 = self.bf16_check.isChecked()
            s.thumbnail_size = self.thumb_slider.value()
            s.theme = self.theme_combo.currentData()
            s.exclude_patterns = self.exclude_edit.toPlainText().splitlines()
        finally:
            s.changed.disconnect(keys.add)
        # The library's patterns can differ from the saved ones (set by the CLI): what counts is whether
        # the user changed what the dialog showed.
        if s.exclude_patterns != [p.strip() for p in self._initial_excludes if p.strip()]:
            keys.add("library/exclude_patterns")
        self.changed_keys = keys
        super().accept()
