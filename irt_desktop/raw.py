"""Camera RAW files (.dng, .cr2, .cr3, .nef, .arw, .raf, .orf, .rw2) through their embedded preview.

Every RAW carries the camera's own JPEG rendering (full size on most bodies); decoding it is fast and
looks like what the photographer saw, where developing the sensor data would be slow and look different
from their JPEG. rawpy (LibRaw) extracts it; without a preview the sensor data is developed at half size.
Without rawpy, Pillow still reads what it can (DNG and TIFF-based RAWs open as TIFF).

`preview_source(source)` is the hook images.open_image calls first: for RAW data it returns the preview
as encoded bytes, for anything else the source unchanged. Imports nothing of the package.
"""

from __future__ import annotations

import io
import os
from typing import Any

RAW_EXTENSIONS: frozenset[str] = frozenset({".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2"})

# Leading bytes of RAW containers: TIFF-based (DNG, NEF, ARW, CR2, and plain TIFFs: LibRaw tells them
# apart), Olympus ORF, Panasonic RW2, Fujifilm RAF, Canon CR3 (an ISO media file of brand 'crx ').
_MAGIC = (b"II*\x00", b"MM\x00*", b"IIRO", b"IIRS", b"MMOR", b"IIU\x00", b"FUJIFILMCCD-RAW")


def is_raw_path(path: str | os.PathLike[str]) -> bool:
    return os.path.splitext(os.fspath(path))[1].lower() in RAW_EXTENSIONS


def _looks_raw(prefix: bytes) -> bool:
    return prefix.startswith(_MAGIC) or prefix[4:12] == b"ftypcrx "


def available() -> bool:
    try:
        import rawpy  # noqa: F401
    except ImportError:
        return False
    return True


def preview_bytes(data: bytes) -> bytes | None:
    """The embedded preview (JPEG bytes), or the sensor data developed at half size (PNG bytes); None
    when rawpy is missing or LibRaw does not read the data (a plain TIFF, say)."""
    try:
        import rawpy
    except ImportError:
        return None
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            try:
                thumb = raw.extract_thumb()
            except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
                thumb = None
            if thumb is not None and thumb.format == rawpy.ThumbFormat.JPEG:
                return bytes(thumb.data)
            from PIL import Image

            pixels = thumb.data if thumb is not None else raw.postprocess(half_size=True, use_camera_wb=True)
            out = io.BytesIO()
            Image.fromarray(pixels).save(out, "PNG")
            return out.getvalue()
    except Exception:  # LibRaw's errors (unsupported, corrupt data) and anything it raises on odd files
        return None


def preview_source(source: Any) -> Any:
    """`source` as images.open_image takes it; RAW data becomes its preview's bytes."""
    data: bytes | None = None
    if isinstance(source, (str, os.PathLike)) and is_raw_path(source):
        try:
            with open(source, "rb") as fh:
                data = fh.read()
        except OSError:
            return source
    elif isinstance(source, (bytes, bytearray, memoryview)) and _looks_raw(bytes(source[:16])):
        data = bytes(source)
    elif hasattr(source, "read") and hasattr(source, "seek"):
        try:
            pos = source.tell()
            prefix = source.read(16)
            source.seek(pos)
        except (OSError, ValueError):
            return source
        if not _looks_raw(prefix):
            return source
        data = source.read()
        source.seek(pos)
    if data is None:
        return source
    preview = preview_bytes(data)
    return source if preview is None else preview
