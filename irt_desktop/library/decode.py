"""File -> model input, on a worker thread: hash and decode from the open file, near target size.

The file is never read whole into memory: it is hashed in chunks (the quick hash and the full-content
hash that decides whether rows share vectors, in one pass), then decoded from the same open file, which
the page cache now holds. The byte cap is checked before any read and the pixel cap and the memory
budget (`reserve`) on the header, before any pixel is decoded.

The tensor is made with PIL + numpy rather than the torchvision transform: both release the GIL for the
heavy parts, while torch ops called from several decode threads would each start an OpenMP team and
fight the model's own threads for the CPU. The result is the same as `eval_transform` (tested).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

import numpy as np
from PIL import Image

from irt_desktop.images import DEFAULT_MAX_PIXELS, ImageError, UnreadableImage, image_size, open_image
from irt_desktop.library.hashing import stream_hashes
from irt_desktop.library.records import FailureKind
from irt_desktop.retrieval.spec import ModelSpec, resize_side

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_DATETIME = 0x0132

# Larger files are refused unread: no photo is this big, and hashing a disk image named .jpg would
# take minutes.
DEFAULT_MAX_FILE_BYTES = 1 << 30

# Called with the bytes a decode will allocate, before it does; may wait, or raise ImageError to refuse.
Reserve = Callable[[int], None]


class Tensorizer:
    """Resize the short side (bicubic), centre-crop, scale and normalise: `eval_transform` in numpy."""

    def __init__(self, spec: ModelSpec) -> None:
        self.size = spec.input_size
        self.resize = resize_side(spec)
        self.mean = np.asarray(spec.mean, np.float32).reshape(3, 1, 1)
        self.std = np.asarray(spec.std, np.float32).reshape(3, 1, 1)

    @property
    def tensor_bytes(self) -> int:
        """The size of one result: what each decoded image waiting for the model holds."""
        return 3 * self.size * self.size * 4

    def __call__(self, im: Image.Image) -> np.ndarray:
        im = im.convert("RGB") if im.mode != "RGB" else im
        w, h = im.size
        short, long = (w, h) if w <= h else (h, w)
        if short != self.resize:
            new_long = int(self.resize * long / short)
            new = (self.resize, new_long) if w <= h else (new_long, self.resize)
            im = im.resize(new, Image.Resampling.BICUBIC)
        w, h = im.size
        c = self.size
        if w < c or h < c:  # torchvision pads undersized images with zeros before cropping
            canvas = Image.new("RGB", (max(w, c), max(h, c)))
            canvas.paste(im, ((max(w, c) - w) // 2, (max(h, c) - h) // 2))
            im, (w, h) = canvas, canvas.size
        # Python rounds halves to even, as torchvision does here.
        top, left = round((h - c) / 2.0), round((w - c) / 2.0)
        im = im.crop((left, top, left + c, top + c))
        x = np.asarray(im, dtype=np.uint8).transpose(2, 0, 1).astype(np.float32) / np.float32(255)
        return (x - self.mean) / self.std


@dataclass
class Decoded:
    image_id: int
    size: int
    mtime_ns: int
    quick_hash: str | None
    tensor: np.ndarray | None = None
    width: int | None = None
    height: int | None = None
    exif_taken: float | None = None
    error: str | None = None
    full_hash: str | None = None
    kind: FailureKind | None = None  # set with `error`

    def fail(self, error: str, kind: FailureKind = FailureKind.PERMANENT) -> Decoded:
        self.error, self.kind, self.tensor = error, kind, None
        return self


def open_for_decode(path: str) -> BinaryIO:
    """The file, opened for reading (tests replace this to simulate read errors)."""
    return open(path, "rb")


def decode_file(
    image_id: int,
    path: str,
    tensorize: Tensorizer,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    reserve: Reserve | None = None,
) -> Decoded:
    """Never raises for a bad file: the reason goes into `error`, and whether it may pass into `kind`."""
    try:
        f = open_for_decode(path)
    except OSError as exc:
        return Decoded(image_id, 0, 0, None).fail(_read_error(exc), FailureKind.TRANSIENT)
    with f:
        try:
            st = os.fstat(f.fileno())
        except OSError as exc:
            return Decoded(image_id, 0, 0, None).fail(_read_error(exc), FailureKind.TRANSIENT)
        # The size and time of the bytes actually decoded: if the file changes later, the next scan sees it.
        out = Decoded(image_id, st.st_size, st.st_mtime_ns, None)
        if st.st_size > max_bytes:
            return out.fail(f"file is {_size_text(st.st_size)}, over the limit of {_size_text(max_bytes)}")
        try:
            n, out.quick_hash, out.full_hash = stream_hashes(f)
        except OSError as exc:
            return out.fail(_read_error(exc), FailureKind.TRANSIENT)
        if n != st.st_size:
            return out.fail("the file changed while it was read", FailureKind.TRANSIENT)
        try:
            out.width, out.height = image_size(f)
            im = open_image(
                f, min_side=tensorize.resize, max_pixels=max_pixels, reserve=reserve, detach=False
            )
            out.exif_taken = exif_timestamp(im)
            out.tensor = tensorize(im)
            # Now, not when the garbage collector finds it (a PNG's image sits in a reference cycle):
            # the memory budget counts on pixels being gone once the decode returns.
            im.close()
        except UnreadableImage as exc:
            out.fail(exc.reason, FailureKind.TRANSIENT if exc.transient else FailureKind.PERMANENT)
        except ImageError as exc:
            out.fail(exc.reason)
        except MemoryError:
            out.fail("not enough memory to decode it")
        except Exception as exc:  # a decoder bug must cost one file, not the run
            out.fail(f"cannot decode ({type(exc).__name__}: {exc})")
    return out


def _read_error(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "cannot read file (it went away while being indexed)"
    return f"cannot read file ({exc.strerror or exc})"


def _size_text(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def exif_timestamp(im: Image.Image) -> float | None:
    """When the photo was taken per EXIF (local time, as cameras record it), or None."""
    try:
        exif = im.getexif()
        ifd = exif.get_ifd(_EXIF_IFD)
        raw = ifd.get(_DATETIME_ORIGINAL) or ifd.get(_DATETIME_DIGITIZED) or exif.get(_DATETIME)
        if not raw:
            return None
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        return datetime.strptime(text.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S").timestamp()
    except Exception:  # unreadable or nonsense dates are common and never worth failing a photo
        return None
