"""Robust image decoding shared by the photo library and the benchmark dataset readers.

One entry point, :func:`open_image`, turns whatever a user's disk holds (JPEG, PNG, WebP, TIFF, BMP, GIF,
HEIC/HEIF, AVIF) into an upright, fully loaded RGB :class:`PIL.Image.Image`, and every failure into an
:class:`ImageError` subclass that carries a short human reason, so a scan can record the reason and move on.

This is a leaf module: it imports nothing from ``irt_desktop`` and no Qt, SQLite or torch.

Two deliberate departures from ``PIL.Image.open``:

* Formats are probed here rather than through ``Image.open`` because ``Image.open`` applies Pillow's
  process-wide ``MAX_IMAGE_PIXELS`` (a warning above ~89 MP, an error above ~179 MP). The pixel cap must be
  a per-call argument, and toggling that global per call would race with other threads. Reading the
  header here leaves Pillow's global untouched and lets :func:`image_size` report any size.
* Only photo formats are decoded. Pillow can also open EPS (which runs Ghostscript), PSD, ICO, FITS and
  more; a folder scanner fed arbitrary files should not reach those code paths. They are reported as
  :class:`UnsupportedImage`.
"""

from __future__ import annotations

import io
import os
import threading
from typing import IO, TYPE_CHECKING, BinaryIO

from PIL import Image, ImageFile, ImageOps

from irt_desktop import raw  # RAW files decode through their embedded preview (irt_desktop.raw)
from irt_desktop.image_limits import MIN_PRESENT, EoiPadded, decode_cost, ends_with_eoi, flat_tail_rows

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "ImageError",
    "ImageSource",
    "ImageTooLarge",
    "NotAnImage",
    "TruncatedImage",
    "UnreadableImage",
    "UnsupportedImage",
    "image_size",
    "is_image_path",
    "open_image",
]


class ImageError(Exception):
    """Base of every decoding failure; ``reason`` is short human text, ``path`` the file if known."""

    def __init__(self, reason: str, path: str | None = None) -> None:
        # Both go to Exception.args so the error survives pickling (process pools, multiprocessing queues).
        super().__init__(reason, path)
        self.reason = reason
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class UnreadableImage(ImageError):
    """The bytes could not be read: missing file, permission, I/O error, empty file.

    ``transient``: the cause may pass by itself (permissions fixed, a drive back, an I/O error), so the
    file is worth trying again later; False for what stays true until the file changes (it is empty).
    """

    def __init__(self, reason: str, path: str | None = None, transient: bool = True) -> None:
        super().__init__(reason, path)
        self.transient = transient
        self.args = (reason, path, transient)


class TruncatedImage(ImageError):
    """Recognised as an image, but the data ends early or is damaged."""


class NotAnImage(ImageError):
    """The bytes are not any image format."""


class ImageTooLarge(ImageError):
    """The image exceeds the pixel cap (decompression bomb guard) or does not fit in memory."""


class UnsupportedImage(ImageError):
    """Recognised as an image, but this build cannot decode it (format, codec or pixel mode)."""


DEFAULT_MAX_PIXELS: int = 200_000_000

# Formats we decode, in probing order (most common first). MPO (multi-picture JPEG) comes through the
# JPEG factory. HEIF goes before AVIF because both claim the generic "mif1" brand and the AVIF plugin
# only rejects a HEVC file after trying it.
_DECODABLE_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "HEIF", "AVIF", "WEBP", "TIFF", "GIF", "BMP")

# Pillow formats whose signature test matches ~1 in 10^4 random byte strings (measured); a match is no
# evidence that a file is one, so they never turn "not an image" into "unsupported image".
_WEAK_SIGNATURES = frozenset({"PCX", "PPM", "SGI", "XBM"})

_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
)

# A POSIX path cannot be longer than this; anything longer in a bytes source is image data.
_MAX_PATH_BYTES = 4096


def _avif_supported() -> bool:
    try:
        from PIL import features

        return bool(features.check_module("avif"))
    except Exception:  # an older Pillow without the AVIF feature key
        return False


IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".heic", ".heif"}
    | raw.RAW_EXTENSIONS
    | ({".avif"} if _avif_supported() else set())
)


def is_image_path(path: str | os.PathLike[str] | os.PathLike[bytes] | bytes) -> bool:
    """True if the file name has one of :data:`IMAGE_EXTENSIONS` (case-insensitive); the file is not read."""
    name = os.fsdecode(os.fspath(path))
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def is_image_name(name: str) -> bool:
    """is_image_path for a bare file name (no folder), as a scan lists 10^6 of them: no path parsing.
    The extension is what os.path.splitext takes: after the last dot, unless only dots precede it."""
    dot = name.rfind(".")
    if dot <= 0 or (name[0] == "." and not name[:dot].lstrip(".")):
        return False
    return name[dot:].lower() in IMAGE_EXTENSIONS


# --------------------------------------------------------------------------------------------------------
# Plugin registry
# --------------------------------------------------------------------------------------------------------

_registry_lock = threading.Lock()
_plugins_loaded = False
_heif_state: str | None = None  # None: not tried yet; "": registered; otherwise why it is unavailable


def _ensure_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    with _registry_lock:
        if not _plugins_loaded:
            Image.init()
            _plugins_loaded = True


def _heif_unavailable_reason() -> str:
    """Register pillow-heif on first need; return "" when HEIF decoding is available."""
    global _heif_state
    if _heif_state is not None:
        return _heif_state
    with _registry_lock:
        if _heif_state is None:
            try:
                import pillow_heif

                pillow_heif.register_heif_opener()
                _heif_state = ""
            except ImportError:
                _heif_state = "HEIC/HEIF images need the pillow-heif package, which is not installed"
            except Exception as exc:
                _heif_state = f"HEIC/HEIF support could not be loaded ({exc})"
    return _heif_state


# --------------------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------------------

ImageSource = str | os.PathLike[str] | os.PathLike[bytes] | bytes | bytearray | memoryview | BinaryIO


class _Opened:
    """A readable, seekable binary stream for a source, closed on exit only if we opened it."""

    def __init__(self, source: ImageSource) -> None:
        self.path: str | None = None
        self._owned: IO[bytes] | None = None
        self._source = source

    def __enter__(self) -> IO[bytes]:
        source = self._source
        if isinstance(source, (bytes, bytearray, memoryview)) and not _looks_like_path(source):
            return io.BytesIO(source)
        if isinstance(source, (str, bytes, os.PathLike)):
            raw_path = os.fspath(source)
            self.path = os.fsdecode(raw_path)
            try:
                self._owned = open(raw_path, "rb")  # closed in __exit__
            except IsADirectoryError:
                raise UnreadableImage("is a directory, not a file", self.path, False) from None
            except FileNotFoundError:
                raise UnreadableImage("file not found", self.path) from None
            except PermissionError:
                raise UnreadableImage("permission denied", self.path) from None
            except (OSError, ValueError) as exc:  # ValueError: embedded NUL in a str path
                raise UnreadableImage(f"cannot open file ({_describe(exc)})", self.path) from None
            return self._owned
        if hasattr(source, "read"):
            name = getattr(source, "name", None)
            self.path = name if isinstance(name, str) else None
            if isinstance(source, io.TextIOBase):
                raise TypeError("open_image needs a binary file object, got a text stream")
            try:
                seekable = getattr(source, "seekable", None)
                if seekable is not None and seekable():
                    return source
                # Image plugins seek (TIFF jumps to IFD offsets), so a pipe or socket is buffered whole.
                return io.BytesIO(source.read())
            except (OSError, ValueError) as exc:  # ValueError: I/O on a closed file
                raise UnreadableImage(f"cannot read stream ({_describe(exc)})", self.path) from None
        raise TypeError(f"cannot read an image from {type(source).__name__}")

    def __exit__(self, *exc_info: object) -> None:
        if self._owned is not None:
            self._owned.close()


def _looks_like_path(data: bytes | bytearray | memoryview) -> bool:
    # Bytes are image data unless they could only be a file name: every image format puts a NUL byte in
    # its first few dozen bytes, and no path can contain one.
    if not isinstance(data, bytes) or len(data) > _MAX_PATH_BYTES or b"\0" in data:
        return False
    return os.path.lexists(data)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    # Decoder messages can run to several lines (libheif); a reason is one short line.
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


# --------------------------------------------------------------------------------------------------------
# Header probing
# --------------------------------------------------------------------------------------------------------


def _read_prefix(fp: IO[bytes], path: str | None) -> bytes:
    try:
        fp.seek(0)
        prefix = fp.read(16)
    except (OSError, ValueError) as exc:
        raise UnreadableImage(f"cannot read file ({_describe(exc)})", path) from None
    if not prefix:
        raise UnreadableImage("file is empty", path, False)
    return prefix


def _accepts(accept: Callable[[bytes], bool | str] | None, prefix: bytes) -> bool | str:
    if accept is None:
        return False  # plugins without a signature test would claim any data
    try:
        return accept(prefix)
    except Exception:
        return False


def _probe(fp: IO[bytes], path: str | None) -> ImageFile.ImageFile:
    """Identify the format and parse the header (no pixel data is decoded)."""
    prefix = _read_prefix(fp, path)
    is_iso_bmff = prefix[4:8] == b"ftyp"
    if is_iso_bmff and prefix[8:12] in _HEIF_BRANDS:
        heif_missing = _heif_unavailable_reason()
        if heif_missing and prefix[8:12] not in (b"mif1", b"msf1"):
            raise UnsupportedImage(heif_missing, path)
    _ensure_plugins()

    failure: Exception | None = None
    refusal: str | None = None
    for fmt in _DECODABLE_FORMATS:
        entry = Image.OPEN.get(fmt)
        if entry is None:
            continue
        factory, accept = entry
        verdict = _accepts(accept, prefix)
        if isinstance(verdict, str):  # the plugin recognises the data but lacks its codec
            refusal = refusal or verdict
            continue
        if not verdict:
            continue
        try:
            fp.seek(0)
            # No file name: with one, Pillow re-opens the file by name to memory-map uncompressed data,
            # bypassing our handle, and in Pillow 13 maps an orientation-5..8 TIFF with the wrong size.
            return factory(fp, "")
        except OSError as exc:
            if exc.errno is not None:  # a real read error, not a parse failure
                raise UnreadableImage(f"cannot read file ({_describe(exc)})", path) from None
            failure = failure or exc
        except (MemoryError, Image.DecompressionBombError) as exc:
            raise ImageTooLarge(f"image too large to open ({_describe(exc)})", path) from None
        except Exception as exc:
            failure = failure or exc

    if is_iso_bmff and prefix[8:12] in _HEIF_BRANDS and _heif_unavailable_reason():
        raise UnsupportedImage(_heif_unavailable_reason(), path)
    if failure is not None:
        raise TruncatedImage(f"damaged or truncated image header ({_describe(failure)})", path)
    if refusal is not None:
        raise UnsupportedImage(refusal, path)
    for fmt, (_factory, accept) in list(Image.OPEN.items()):
        if fmt not in _DECODABLE_FORMATS and fmt not in _WEAK_SIGNATURES and _accepts(accept, prefix):
            raise UnsupportedImage(f"{fmt} files are not supported", path)
    if prefix.lstrip().startswith((b"<svg", b"<?xml")):
        raise UnsupportedImage("vector images (SVG) are not supported", path)
    raise NotAnImage("not a recognised image format", path)


def _orientation(im: Image.Image, *, header_only: bool = False) -> int:
    """The EXIF orientation (1-8); 1 when absent or unreadable, since bad EXIF must not cost a photo."""
    try:
        if header_only and im.format == "PNG" and "exif" not in im.info:
            # PngImageFile.getexif() decodes the whole image to look for a trailing eXIf chunk.
            return 1
        value = im.getexif().get(0x0112, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _ends_with_eoi(fp: IO[bytes], path: str | None) -> bool:
    try:
        return ends_with_eoi(fp)
    except (OSError, ValueError) as exc:
        raise UnreadableImage(f"cannot read file ({_describe(exc)})", path) from None


def _pixels_text(n: int) -> str:
    return f"{n / 1e6:.1f} MP" if n >= 100_000 else f"{n} pixels"


# --------------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------------


def _decode_error(exc: BaseException, path: str | None, size: tuple[int, int]) -> ImageError:
    if isinstance(exc, ImageError):
        return exc
    if isinstance(exc, MemoryError):
        return ImageTooLarge(f"not enough memory to decode a {size[0]}x{size[1]} image", path)
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        # Raised by Pillow's own global limit inside a few plugins (GIF frames, TIFF tiles, MPO).
        return ImageTooLarge(f"image too large to decode ({_describe(exc)})", path)
    lowered = str(exc).lower()
    if isinstance(exc, OSError) and exc.errno is not None:
        return UnreadableImage(f"cannot read file ({_describe(exc)})", path)
    if any(word in lowered for word in ("not available", "not supported", "unsupported", "unknown")):
        # e.g. "decoder jpeg2k not available", "unsupported TIFF compression"
        return UnsupportedImage(f"cannot decode this image ({_describe(exc)})", path)
    if "truncated" in lowered or isinstance(exc, EOFError):
        return TruncatedImage("file is truncated", path)
    return TruncatedImage(f"damaged image data ({_describe(exc)})", path)


def _to_rgb(im: Image.Image) -> Image.Image:
    """Return an RGB view of ``im``; may return ``im`` itself when it already is RGB without alpha."""
    mode = im.mode
    if mode.startswith("I;16"):
        # Pillow's I;16 -> L conversion clips at 255, turning every 16-bit photo white; scale instead.
        return _scale_to_l(im.convert("I"), 65535).convert("RGB")
    if mode == "I":
        lo, hi = im.getextrema()
        return _scale_to_l(im, 65535 if lo >= 0 and hi <= 65535 else hi, lo=min(lo, 0)).convert("RGB")
    if mode == "F":
        lo, hi = im.getextrema()
        return _scale_to_l(im, 1.0 if lo >= 0 and hi <= 1.0 else hi, lo=min(lo, 0)).convert("RGB")
    if mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in im.info:
        rgba = im if mode == "RGBA" else im.convert("RGBA")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
        out.info = {k: v for k, v in im.info.items() if k != "transparency"}
        return out
    if mode == "RGB":
        return im
    return im.convert("RGB")


def _scale_to_l(im: Image.Image, hi: float, *, lo: float = 0) -> Image.Image:
    span = (hi - lo) or 1
    scale = 255.0 / span
    if im.mode == "F":
        return im.point(lambda v: (v - lo) * scale).convert("L")
    return im.point(lambda v: v * scale - lo * scale).convert("L")


def open_image(
    source: ImageSource,
    *,
    min_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    apply_exif: bool = True,
    reserve: Callable[[int], None] | None = None,
    detach: bool = True,
) -> Image.Image:
    """Decode ``source`` to an upright, fully loaded RGB image.

    ``source`` is a path (``str``, ``os.PathLike`` - including ``os.DirEntry`` from a bytes ``scandir`` -
    or ``bytes`` that name an existing file and contain no NUL), encoded image data (``bytes``,
    ``bytearray``, ``memoryview``), or a binary file object, which is read from its start and left open.

    ``min_side``: the caller will shrink the image so that its shorter side is ``min_side``; decoders that
    can produce a smaller image cheaply (JPEG DCT scaling, HEIF embedded thumbnails) are asked for one
    whose shorter side is still at least ``min_side``. The result may be larger than asked (no resampling
    here); it is smaller only when the image itself is. ``None`` decodes at full size.

    ``max_pixels``: images whose header declares more pixels are refused before any decoding.

    Orientation: EXIF orientation is applied (HEIF transforms are applied by libheif), and the orientation
    tag is removed from ``info["exif"]`` of the result. ``apply_exif=False`` leaves the pixels as stored
    (and the tag in place), for datasets whose annotations are in the stored pixel grid and whose
    reference code ignores EXIF (the revisited Oxford/Paris query boxes); a transform that a decoder
    applies itself (libheif) still happens.

    Alpha is composited onto white; CMYK, 16-bit, palette and greyscale become RGB; of an animation, only
    the first frame is decoded.

    ``reserve``: called with the bytes decoding will allocate at its peak (estimated from the header,
    after draft mode), before any pixel is decoded; it may wait for memory or raise an :class:`ImageError`
    to refuse the image. ``detach=False`` spares the copy of an image that is RGB as decoded, for a
    caller that uses the result at once, while ``source`` is still open.

    A JPEG whose data ends early is decoded with the missing part filled in flat (as viewers show it),
    unless less than half of its rows are there. Pillow's global ``LOAD_TRUNCATED_IMAGES`` is not used.

    Raises an :class:`ImageError` subclass for every problem with the data; ``TypeError`` / ``ValueError``
    only for invalid arguments (a programming error, not a bad file).
    """
    if min_side is not None and (not isinstance(min_side, int) or min_side < 1):
        raise ValueError(f"min_side must be a positive int or None, got {min_side!r}")
    if not isinstance(max_pixels, int) or max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive int, got {max_pixels!r}")

    source = raw.preview_source(source)
    opened = _Opened(source)
    with opened as fp:
        path = opened.path
        im = _probe(fp, path)
        width, height = im.size
        if width * height > max_pixels:
            raise ImageTooLarge(
                f"image is {width}x{height} ({_pixels_text(width * height)}), "
                f"over the limit of {_pixels_text(max_pixels)}",
                path,
            )
        try:
            if min_side is not None and min(width, height) >= 2 * min_side:
                # A square request keeps both sides >= min_side, so the shorter side stays >= min_side
                # whichever way the EXIF orientation later turns the image.
                im.draft("RGB", (min_side, min_side))
        except Exception as exc:
            raise _decode_error(exc, path, (width, height)) from None
        if reserve is not None:
            oriented = apply_exif and _orientation(im, header_only=True) != 1
            reserve(decode_cost(im, oriented=oriented, detach=detach))
        padded = im.format in ("JPEG", "MPO") and not _ends_with_eoi(fp, path)
        try:
            if padded:
                # Tile offsets are positions in the same bytes, so the padded view serves them as is.
                im.fp = EoiPadded(fp)
            im.load()
        except Exception as exc:
            raise _decode_error(exc, path, (width, height)) from None
        if padded:
            present = 1 - flat_tail_rows(im) / max(1, im.size[1])
            if present < MIN_PRESENT:
                raise TruncatedImage(f"file is truncated (only {present:.0%} of the image is there)", path)

        orientation = _orientation(im) if apply_exif else 1
        try:
            upright: Image.Image = im
            if orientation != 1:
                upright = ImageOps.exif_transpose(im)
            rgb = _to_rgb(upright)
            if rgb is im and detach:
                # The file-backed image would keep a reference to a stream closed on return.
                rgb = im.copy()
        except MemoryError:
            raise ImageTooLarge(f"not enough memory to convert a {width}x{height} image", path) from None
        except (ValueError, OSError) as exc:
            reason = f"cannot convert {im.mode} pixels to RGB ({_describe(exc)})"
            raise UnsupportedImage(reason, path) from None
        except Exception as exc:
            raise _decode_error(exc, path, (width, height)) from None
    return rgb


def image_size(source: ImageSource) -> tuple[int, int]:
    """(width, height) as :func:`open_image` would return them at full size, reading the header only.

    EXIF orientation is taken into account (5-8 swap width and height). For PNG only an eXIf chunk placed
    before the pixel data is seen, since a trailing one would require decoding the image.
    """
    opened = _Opened(source)
    with opened as fp:
        im = _probe(fp, opened.path)
        width, height = im.size
        tags = getattr(im, "tag_v2", None)
        if im.format == "TIFF" and tags is not None:
            # Pillow >= 11 already reports a TIFF's upright size (it turns TIFFs itself on load), older
            # versions the stored one; the IFD's own width and length are the stored size in both.
            width, height = tags.get(256, width), tags.get(257, height)
        if _orientation(im, header_only=True) >= 5:
            width, height = height, width
    return width, height
