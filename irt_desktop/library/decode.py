"""File -> model input, on a worker thread: read once, fingerprint, decode near target size, tensorize.

The tensor is made with PIL + numpy rather than the torchvision transform: both release the GIL for the
heavy parts, while torch ops called from several decode threads would each start an OpenMP team and
fight the model's own threads for the CPU. The result is the same as `eval_transform` (tested).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from PIL import Image

from irt_desktop.images import DEFAULT_MAX_PIXELS, ImageError, image_size, open_image
from irt_desktop.library.hashing import quick_hash_bytes
from irt_desktop.retrieval.spec import ModelSpec, resize_side

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_DATETIME = 0x0132


class Tensorizer:
    """Resize the short side (bicubic), centre-crop, scale and normalise: `eval_transform` in numpy."""

    def __init__(self, spec: ModelSpec) -> None:
        self.size = spec.input_size
        self.resize = resize_side(spec)
        self.mean = np.asarray(spec.mean, np.float32).reshape(3, 1, 1)
        self.std = np.asarray(spec.std, np.float32).reshape(3, 1, 1)

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


def decode_file(
    image_id: int,
    path: str,
    tensorize: Tensorizer,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Decoded:
    """Never raises for a bad file: the reason goes into `error`."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
    except OSError as exc:
        return Decoded(image_id, 0, 0, None, error=f"cannot read file ({exc.strerror or exc})")
    # The size and time of the bytes actually decoded: if the file changes later, the next scan sees it.
    out = Decoded(image_id, st.st_size, st.st_mtime_ns, quick_hash_bytes(data))
    try:
        out.width, out.height = image_size(io.BytesIO(data))
        im = open_image(io.BytesIO(data), min_side=tensorize.resize, max_pixels=max_pixels)
        out.exif_taken = exif_timestamp(im)
        out.tensor = tensorize(im)
    except ImageError as exc:
        out.error = exc.reason
    except Exception as exc:  # a decoder bug must cost one file, not the run
        out.error = f"cannot decode ({type(exc).__name__}: {exc})"
    return out


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
