"""Thumbnails: a disk cache under <library>/thumbnails filled by a QThreadPool, and an in-memory LRU of
pixmaps for what is on screen.

Decoding goes through irt_desktop.images.open_image so orientation, HEIC and odd pixel modes look the same
as what the library embedded. Workers produce QImages (safe off the GUI thread); only the GUI thread turns
them into QPixmaps. Newer requests get higher pool priority, so scrolling fast shows what is on screen
now rather than working through what scrolled past.

Why a pool of its own rather than the window's TaskRunner: a grid asks for hundreds of thumbnails at
once and the newest must jump the queue (QThreadPool priorities; the runner keeps submission order), a
thumbnail size change throws away every queued request at once (pool.clear()), and a screenful of
decodes must never sit in front of a search or hold the threads the library lane needs. ARCHITECTURE.md
(Threads) names this pool.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import tempfile
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

log = logging.getLogger(__name__)

MEMORY_ITEMS = 800


def pil_to_qimage(im) -> QImage:
    """A PIL image as a QImage that owns its pixels (the PIL buffer goes away)."""
    im = im.convert("RGB")
    data = im.tobytes()
    w, h = im.size
    return QImage(data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def decode_scaled(source: str | bytes, max_side: int) -> tuple[QImage, tuple[int, int]]:
    """(preview no larger than max_side, full upright size) of an image; for worker threads only."""
    from irt_desktop.images import image_size, open_image

    full = image_size(source)
    im = open_image(source, min_side=max(1, min(max_side, min(full))))
    im.thumbnail((max_side, max_side))
    return pil_to_qimage(im), full


class ThumbnailCache:
    """JPEG thumbnails keyed by path, mtime, file size and pixel size; safe to use from many threads."""

    def __init__(self, root: Path) -> None:
        """`root`: the library's thumbnails folder (LibraryLayout.thumbnails)."""
        self.root = Path(root)

    def file_for(self, path: str, pixel_size: int) -> Path | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = hashlib.sha1(f"{os.path.abspath(path)}\0{st.st_mtime_ns}\0{st.st_size}\0{pixel_size}".encode())
        digest = key.hexdigest()
        return self.root / digest[:2] / f"{digest}.jpg"

    def load_or_make(self, path: str, pixel_size: int) -> QImage | None:
        cached = self.file_for(path, pixel_size)
        if cached is None:
            return None
        if cached.is_file():
            image = QImage(str(cached))
            if not image.isNull():
                return image
        from irt_desktop.images import ImageError, open_image

        try:
            im = open_image(path, min_side=pixel_size)
        except ImageError as exc:
            log.debug("no thumbnail for %s: %s", path, exc)
            return None
        im.thumbnail((pixel_size, pixel_size))
        self._store(cached, im)
        return pil_to_qimage(im)

    def _store(self, target: Path, im) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".thumb-", suffix=".jpg", dir=target.parent)
            with os.fdopen(fd, "wb") as f:
                im.convert("RGB").save(f, "JPEG", quality=85)
            os.replace(tmp, target)
        except OSError as exc:  # a read-only or full disk costs speed, never the thumbnail
            log.debug("thumbnail cache write failed for %s: %s", target, exc)
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)


class _Task(QRunnable):
    def __init__(self, loader: ThumbnailLoader, path: str, pixel_size: int) -> None:
        super().__init__()
        self._loader = loader
        self._path = path
        self._pixel_size = pixel_size

    def run(self) -> None:
        try:
            image = self._loader.cache.load_or_make(self._path, self._pixel_size)
        except Exception as exc:  # a pool thread must not die on one odd file
            log.warning("thumbnail failed for %s: %s", self._path, exc)
            image = None
        self._loader._loaded.emit(self._path, self._pixel_size, image)


class ThumbnailLoader(QObject):
    """`pixmap(path)` answers from memory or starts a load; `ready(path)` says when to ask again."""

    ready = Signal(str)
    _loaded = Signal(str, int, object)

    def __init__(
        self, cache: ThumbnailCache, pixel_size: int = 160, threads: int = 2, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.cache = cache
        self.pixel_size = pixel_size
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, threads))
        self._memory: OrderedDict[str, QPixmap] = OrderedDict()
        self._pending: set[str] = set()
        self._failed: set[str] = set()
        self._priority = itertools.count()
        self._loaded.connect(self._on_loaded)

    def set_pixel_size(self, pixel_size: int) -> None:
        if pixel_size != self.pixel_size:
            self.pixel_size = pixel_size
            self.pool.clear()
            self._memory.clear()
            self._pending.clear()
            self._failed.clear()

    def pixmap(self, path: str) -> QPixmap | None:
        found = self._memory.get(path)
        if found is not None:
            self._memory.move_to_end(path)
            return found
        if path not in self._pending and path not in self._failed:
            self._pending.add(path)
            # Newest first: priority grows with each request (QThreadPool runs higher numbers first).
            self.pool.start(_Task(self, path, self.pixel_size), min(next(self._priority), 2**30))
        return None

    def failed(self, path: str) -> bool:
        return path in self._failed

    @Slot(str, int, object)
    def _on_loaded(self, path: str, pixel_size: int, image: QImage | None) -> None:
        if pixel_size != self.pixel_size:
            return
        self._pending.discard(path)
        if image is None or image.isNull():
            self._failed.add(path)
        else:
            self._memory[path] = QPixmap.fromImage(image)
            while len(self._memory) > MEMORY_ITEMS:
                self._memory.popitem(last=False)
        self.ready.emit(path)

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone(5000)
