"""What decoding an image will cost in memory, read from its header, and how to read a cut-off JPEG.

A helper of :mod:`irt_desktop.images` (a leaf module like it: nothing from ``irt_desktop``, no Qt).

The cost is estimated before any pixel is decoded (``Image.open`` only parses the header), so a caller
with a memory budget can wait for room, or refuse the file, before the allocation that could kill it.
"""

from __future__ import annotations

import io
from typing import IO

from PIL import Image

# A JPEG whose data ends early decodes, with the missing part filled in flat, when the decoder is handed
# the end-of-image marker it never got; a picture with less than this share of its rows left is refused.
MIN_PRESENT = 0.5
EOI = b"\xff\xd9"

# Decoders that fill a buffer of their own, which Pillow then copies: bytes per pixel on top.
_DECODER_COPY = {"HEIF": 4, "AVIF": 4, "WEBP": 4}


def pixel_bytes(mode: str) -> int:
    """Bytes per pixel Pillow allocates for `mode`: multi-band and 32-bit modes take 4 (RGB too)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def decode_cost(im: Image.Image, *, oriented: bool, detach: bool) -> int:
    """Peak bytes `images.open_image` allocates for `im` (header parsed, draft applied): the decoded
    pixels, a turned copy when the EXIF orientation asks for one, and the RGB conversion's images."""
    width, height = im.size
    raw = pixel_bytes(im.mode)
    per_pixel = raw + _DECODER_COPY.get(im.format or "", 0)
    if oriented:
        per_pixel += raw
    mode = im.mode
    if mode.startswith("I;16"):
        per_pixel += 13  # to I, scaled, to L, to RGB
    elif mode in ("I", "F"):
        per_pixel += 9
    elif mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in im.info:
        per_pixel += 9  # RGBA, the RGB canvas, the alpha mask
    elif mode != "RGB" or detach:
        per_pixel += 4  # the RGB result (or the detached copy of an RGB one)
    return width * height * per_pixel


def ends_with_eoi(fp: IO[bytes]) -> bool:
    """True if the stream's last two bytes are a JPEG end-of-image marker; the position is kept."""
    here = fp.tell()
    try:
        end = fp.seek(0, io.SEEK_END)
        if end < 2:
            return False
        fp.seek(end - 2)
        return fp.read(2) == EOI
    finally:
        fp.seek(here)


class EoiPadded(io.RawIOBase):
    """A read-only view of a seekable stream with an end-of-image marker appended.

    Per image, unlike Pillow's process-wide ``LOAD_TRUNCATED_IMAGES``: libjpeg, reaching the marker
    where data should be, fills the rest with zero coefficients (flat blocks) and finishes."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self._size = raw.seek(0, io.SEEK_END)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size + len(EOI)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        total = self._size + len(EOI)
        if n is None or n < 0:
            n = total - self._pos
        out = b""
        if self._pos < self._size:
            self._raw.seek(self._pos)
            out = self._raw.read(min(n, self._size - self._pos))
            self._pos += len(out)
        if len(out) < n and self._pos >= self._size:
            start = self._pos - self._size
            pad = EOI[start : start + n - len(out)]
            self._pos += len(pad)
            out += pad
        return out

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def flat_tail_rows(im: Image.Image, tolerance: int = 1) -> int:
    """How many rows at the bottom of a loaded image hold one flat colour (the colour of its last pixel):
    for a JPEG decoded past its end, the part that was filled in rather than read."""
    width, height = im.size
    if not width or not height:
        return 0
    last = im.getpixel((width - 1, height - 1))
    target = last if isinstance(last, tuple) else (last,)

    def flat(top: int, bottom: int) -> bool:
        extrema = im.crop((0, top, width, bottom)).getextrema()
        bands = extrema if isinstance(extrema[0], tuple) else (extrema,)
        pairs = zip(bands, target, strict=True)
        return all(lo >= t - tolerance and hi <= t + tolerance for (lo, hi), t in pairs)

    stripe = 16
    y = height
    while y > 0:  # a stripe at a time, so a whole photo costs a few dozen crops, not one per row
        top = max(0, y - stripe)
        if flat(top, y):
            y = top
            continue
        while y > top and flat(y - 1, y):
            y -= 1
        break
    return height - y
