"""What the user searches by, and what a drop or the clipboard carries.

`Query` is the search tab's unit of work; `read_mime` sorts a drag or paste into image files, folders,
decoded image data and web links. Which files count as images is `irt_desktop.images.IMAGE_EXTENSIONS`
(the library's scanner uses the same set), imported when first needed so the window comes up without
Pillow.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlparse

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMimeData
from PySide6.QtGui import QImage, QPixmap

Crop = tuple[int, int, int, int]


@dataclass(frozen=True)
class Query:
    """What to search by: a file, encoded image bytes, decoded image data (paste, browser drag; encoded
    on the worker by the first search) or a library image ("more like this")."""

    source: Path | bytes | QImage
    label: str
    # (left, top, right, bottom) in full-size upright pixels; None = the whole image.
    crop: Crop | None = None
    # Set when the query is an image of the library: without a crop its stored vector is used.
    image_id: int | None = None

    def with_crop(self, crop: Crop | None) -> Query:
        return replace(self, crop=crop)

    def describe(self) -> str:
        """The query label: "name — whole image" or "name — region W × H at (x, y)"."""
        region = "whole image"
        if self.crop is not None:
            x0, y0, x1, y1 = self.crop
            region = f"region {x1 - x0} × {y1 - y0} at ({x0}, {y0})"
        return f"{self.label} — {region}"


def is_image_file(path: Path) -> bool:
    """An existing file with a suffix the library indexes; the decoder decides in the end."""
    from irt_desktop.images import is_image_path

    return is_image_path(path) and path.is_file()


def image_file_filter() -> str:
    """The file dialog's name filter for photos, from the one list of image suffixes."""
    from irt_desktop.images import IMAGE_EXTENSIONS

    return "Images (" + " ".join(f"*{s}" for s in sorted(IMAGE_EXTENSIONS)) + ");;All files (*)"


def encode_png(image: QImage) -> bytes:
    """QImage -> PNG bytes; QImage is reentrant so this may run on a worker."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


@dataclass
class MimeContent:
    """What a drop or the clipboard carries, sorted by what we do with it."""

    image_files: list[Path]
    folders: list[Path]
    image: QImage | None
    remote_urls: list[str]

    @property
    def has_query(self) -> bool:
        return bool(self.image_files) or self.image is not None


def read_mime(mime: QMimeData) -> MimeContent:
    """Local image files, folders, decoded image data (browsers) and remote links in `mime`."""
    files: list[Path] = []
    folders: list[Path] = []
    remote: list[str] = []
    for url in mime.urls():
        if url.isLocalFile():
            path = Path(url.toLocalFile())
            if path.is_dir():
                folders.append(path)
            elif is_image_file(path):
                files.append(path)
        elif url.scheme() in ("http", "https"):
            remote.append(url.toString())
    if not files and not folders and mime.hasText():
        # Some file managers and terminals hand over plain paths or file:// text instead of URLs.
        for line in mime.text().splitlines():
            line = line.strip()
            if line.startswith("file://"):
                line = unquote(urlparse(line).path)
            if line and not line.startswith(("http://", "https://")):
                with contextlib.suppress(OSError, ValueError):
                    path = Path(line).expanduser()
                    if path.is_dir():
                        folders.append(path)
                    elif is_image_file(path):
                        files.append(path)
    return MimeContent(files, folders, _image_data(mime), remote)


def _image_data(mime: QMimeData) -> QImage | None:
    if mime.hasImage():
        value = mime.imageData()
        if isinstance(value, QPixmap):
            value = value.toImage()
        if isinstance(value, QImage) and not value.isNull():
            return value
    for fmt in mime.formats():
        if fmt.startswith("image/"):
            candidate = QImage.fromData(mime.data(fmt))
            if not candidate.isNull():
                return candidate
    return None
