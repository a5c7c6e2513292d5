"""Tests for irt_desktop.images: every file is generated here with Pillow / pillow-heif in real formats."""

from __future__ import annotations

import io
import os
import pickle
import random
import struct
import sys
import time
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from irt_desktop import images
from irt_desktop.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    ImageError,
    ImageTooLarge,
    NotAnImage,
    TruncatedImage,
    UnreadableImage,
    UnsupportedImage,
    image_size,
    is_image_path,
    open_image,
)

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)
GREY = (128, 128, 128)

ORIENTATION = 0x0112


# --------------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------------


def assert_close(actual: tuple[int, ...], expected: tuple[int, ...], tol: int = 12) -> None:
    assert len(actual) == len(expected), (actual, expected)
    assert all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True)), (actual, expected)


def upright_pattern(width: int = 60, height: int = 40) -> Image.Image:
    """Grey canvas, red block top-left, blue block top-right, green block bottom-left: no symmetry."""
    im = Image.new("RGB", (width, height), GREY)
    bw, bh = width // 4, height // 4
    im.paste(RED, (0, 0, bw, bh))
    im.paste(BLUE, (width - bw, 0, width, bh))
    im.paste(GREEN, (0, height - bh, bw, height))
    return im


def assert_upright_pattern(im: Image.Image, width: int = 60, height: int = 40) -> None:
    assert im.mode == "RGB"
    assert im.size == (width, height)
    bw, bh = width // 4, height // 4
    assert_close(im.getpixel((bw // 2, bh // 2)), RED, tol=40)
    assert_close(im.getpixel((width - bw // 2 - 1, bh // 2)), BLUE, tol=40)
    assert_close(im.getpixel((bw // 2, height - bh // 2 - 1)), GREEN, tol=40)
    assert_close(im.getpixel((width - bw // 2 - 1, height - bh // 2 - 1)), GREY, tol=40)


def exif_with_orientation(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return exif


# What the camera stored for each orientation, written from the EXIF definitions rather than from the
# transpose table the module uses, so a wrong table in both places cannot pass. PIL's rotate() turns
# counter-clockwise.
STORED_FOR_ORIENTATION = {
    1: lambda im: im,
    2: lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),  # viewer mirrors horizontally
    3: lambda im: im.rotate(180),  # viewer turns 180
    4: lambda im: im.transpose(Image.Transpose.FLIP_TOP_BOTTOM),  # viewer mirrors vertically
    6: lambda im: im.rotate(90, expand=True),  # viewer turns 90 clockwise
    8: lambda im: im.rotate(-90, expand=True),  # viewer turns 90 counter-clockwise
}


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def crafted_png(width: int, height: int) -> bytes:
    """A well-formed PNG (correct CRCs) that declares width x height but carries almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def jpeg_bytes(im: Image.Image, **save_args: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", **save_args)
    return buf.getvalue()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4000x3000 JPEG with a red 400x400 block in the top-left corner."""
    im = Image.new("RGB", (4000, 3000), GREY)
    im.paste(RED, (0, 0, 400, 400))
    path = tmp_path_factory.mktemp("big") / "big.jpg"
    im.save(path, quality=90)
    return path


# --------------------------------------------------------------------------------------------------------
# failures
# --------------------------------------------------------------------------------------------------------


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = jpeg_bytes(upright_pattern(400, 300), quality=95)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedImage) as info:
        open_image(path)
    assert "truncated" in info.value.reason
    assert info.value.path == str(path)
    assert str(path) in str(info.value)


def test_jpeg_cut_inside_header(tmp_path: Path) -> None:
    path = tmp_path / "head.jpg"
    path.write_bytes(jpeg_bytes(upright_pattern())[:40])
    with pytest.raises(TruncatedImage):
        open_image(path)


def test_truncated_png(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.effect_noise((300, 300), 60).convert("RGB").save(buf, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(TruncatedImage):
        open_image(path)


def test_zero_byte_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(UnreadableImage, match="empty"):
        open_image(path)
    with pytest.raises(UnreadableImage, match="empty"):
        open_image(io.BytesIO())
    with pytest.raises(UnreadableImage, match="empty"):
        image_size(path)


def test_missing_file_and_directory_are_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImage, match="not found") as info:
        open_image(tmp_path / "nope.jpg")
    assert info.value.path == str(tmp_path / "nope.jpg")
    with pytest.raises(UnreadableImage):
        open_image(tmp_path)


def test_permission_denied_is_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.jpg"
    path.write_bytes(jpeg_bytes(upright_pattern()))
    if sys.platform == "win32" or os.geteuid() == 0:
        # Root (CI) reads a chmod-0 file anyway: make the OS's refusal happen the way it would for a user.
        real_open = open

        def refusing_open(file, *args, **kwargs):
            if os.fspath(file) == os.fspath(path):
                raise PermissionError(13, "Permission denied", os.fspath(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr("builtins.open", refusing_open)
    path.chmod(0)
    try:
        with pytest.raises(UnreadableImage, match="permission"):
            open_image(path)
    finally:
        path.chmod(0o600)


def test_random_bytes_are_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "noise.jpg"
    path.write_bytes(random.Random(1234).randbytes(5000))
    with pytest.raises(NotAnImage):
        open_image(path)
    with pytest.raises(NotAnImage):
        open_image(b"this is a text file, honest\n" * 10)


def test_recognised_but_unsupported_formats(tmp_path: Path) -> None:
    ico = tmp_path / "icon.jpg"
    upright_pattern(32, 32).save(ico, format="ICO")
    with pytest.raises(UnsupportedImage, match="ICO"):
        open_image(ico)
    with pytest.raises(UnsupportedImage, match="SVG"):
        open_image(b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>')


def test_crafted_huge_png_header_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(crafted_png(50_000, 50_000))
    assert path.stat().st_size < 100

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixel data must not be decoded for an over-cap image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    start = time.perf_counter()
    with pytest.raises(ImageTooLarge) as info:
        open_image(path)
    assert time.perf_counter() - start < 1.0
    assert "50000x50000" in info.value.reason
    # The header is still readable for reporting.
    assert image_size(path) == (50_000, 50_000)


def test_pixel_cap_does_not_depend_on_pillow_global(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "photo.jpg"
    upright_pattern(100, 80).save(path, quality=95)
    # Pillow would warn above 1000 pixels and refuse above 2000; our per-call cap must be what decides.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert open_image(path).size == (100, 80)
        assert image_size(path) == (100, 80)
    assert Image.MAX_IMAGE_PIXELS == 1000  # left as the caller set it


def test_header_beyond_pillow_hard_limit_is_readable_and_capped() -> None:
    data = crafted_png(15_000, 15_000)  # 225 MP: Pillow's own default would raise DecompressionBombError
    assert Image.MAX_IMAGE_PIXELS is not None and 2 * Image.MAX_IMAGE_PIXELS < 15_000**2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert image_size(data) == (15_000, 15_000)
        with pytest.raises(ImageTooLarge):
            open_image(data)  # DEFAULT_MAX_PIXELS is 200 MP


def test_max_pixels_is_configurable() -> None:
    data = jpeg_bytes(upright_pattern(100, 80))
    with pytest.raises(ImageTooLarge, match="7999 pixels"):
        open_image(data, max_pixels=7999)
    assert open_image(data, max_pixels=8000).size == (100, 80)
    assert DEFAULT_MAX_PIXELS >= 100_000_000


def test_errors_pickle_and_share_a_base() -> None:
    err = TruncatedImage("file is truncated", "/photos/a.jpg")
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is TruncatedImage
    assert (copy.reason, copy.path) == ("file is truncated", "/photos/a.jpg")
    assert str(copy) == "/photos/a.jpg: file is truncated"
    for cls in (UnreadableImage, TruncatedImage, NotAnImage, ImageTooLarge, UnsupportedImage):
        assert issubclass(cls, ImageError)
    assert str(NotAnImage("nope")) == "nope"


def test_bad_arguments_are_programming_errors() -> None:
    data = jpeg_bytes(upright_pattern())
    with pytest.raises(ValueError):
        open_image(data, min_side=0)
    with pytest.raises(ValueError):
        open_image(data, max_pixels=0)
    with pytest.raises(TypeError):
        open_image(12.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        open_image(io.StringIO("text"))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------------
# pixel modes
# --------------------------------------------------------------------------------------------------------


def test_cmyk_jpeg_becomes_rgb_with_right_colours(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (80, 16), (0, 0, 0, 0))  # white
    blocks = [(255, 0, 0, 0), (0, 255, 0, 0), (0, 0, 255, 0), (0, 0, 0, 255), (0, 255, 255, 0)]
    for i, ink in enumerate(blocks):
        cmyk.paste(ink, (i * 16, 0, i * 16 + 16, 16))
    path = tmp_path / "cmyk.jpg"
    cmyk.save(path, quality=95)
    with Image.open(path) as raw:
        assert raw.mode == "CMYK"
    im = open_image(path)
    assert im.mode == "RGB"
    expected = [(0, 255, 255), (255, 0, 255), (255, 255, 0), (0, 0, 0), RED]
    for i, colour in enumerate(expected):
        assert_close(im.getpixel((i * 16 + 8, 8)), colour, tol=20)


def test_16bit_png_keeps_brightness(tmp_path: Path) -> None:
    im16 = Image.new("I;16", (30, 10))
    for i, value in enumerate((1000, 32768, 65535)):
        # paste() of a bare int into I;16 stores the wrong value in Pillow 13; paste a filled image.
        im16.paste(Image.new("I;16", (10, 10), value), (i * 10, 0))
    assert [im16.getpixel((x, 5)) for x in (5, 15, 25)] == [1000, 32768, 65535]
    path = tmp_path / "deep.png"
    im16.save(path)
    with Image.open(path) as raw:
        assert raw.mode.startswith("I")
    im = open_image(path)
    assert im.mode == "RGB"
    assert_close(im.getpixel((5, 5)), (4, 4, 4), tol=1)
    assert_close(im.getpixel((15, 5)), (128, 128, 128), tol=1)  # a clipping conversion gives 255 here
    assert im.getpixel((25, 5)) == WHITE


def test_32bit_int_and_float_tiff_are_scaled(tmp_path: Path) -> None:
    as_int = Image.new("I", (20, 10))
    as_int.paste(Image.new("I", (10, 10), 16384), (0, 0))
    as_int.paste(Image.new("I", (10, 10), 65535), (10, 0))
    as_int.save(tmp_path / "int.tif")
    im = open_image(tmp_path / "int.tif")
    assert_close(im.getpixel((5, 5)), (64, 64, 64), tol=1)
    assert im.getpixel((15, 5)) == WHITE

    as_float = Image.new("F", (20, 10))
    as_float.paste(Image.new("F", (10, 10), 0.25), (0, 0))
    as_float.paste(Image.new("F", (10, 10), 1.0), (10, 0))
    as_float.save(tmp_path / "float.tif")
    im = open_image(tmp_path / "float.tif")
    assert_close(im.getpixel((5, 5)), (64, 64, 64), tol=1)
    assert im.getpixel((15, 5)) == WHITE


def test_grayscale_and_bilevel_become_rgb(tmp_path: Path) -> None:
    Image.new("L", (10, 10), 77).save(tmp_path / "g.jpg", quality=100)
    assert_close(open_image(tmp_path / "g.jpg").getpixel((5, 5)), (77, 77, 77), tol=2)
    Image.new("1", (10, 10), 1).save(tmp_path / "b.png")
    assert open_image(tmp_path / "b.png").getpixel((5, 5)) == WHITE


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    im = Image.new("RGBA", (30, 10), (255, 0, 0, 0))
    im.paste((255, 0, 0, 255), (0, 0, 10, 10))
    im.paste((255, 0, 0, 128), (10, 0, 20, 10))
    im.save(tmp_path / "a.png")
    out = open_image(tmp_path / "a.png")
    assert out.mode == "RGB"
    assert out.getpixel((5, 5)) == RED
    assert_close(out.getpixel((15, 5)), (255, 127, 127), tol=2)
    assert out.getpixel((25, 5)) == WHITE  # fully transparent red must not show as red or black

    Image.new("LA", (4, 4), (0, 0)).save(tmp_path / "la.png")
    assert open_image(tmp_path / "la.png").getpixel((1, 1)) == WHITE


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (20, 10), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.paste(1, (10, 0, 20, 10))
    im.save(tmp_path / "p.png", transparency=0)
    with Image.open(tmp_path / "p.png") as raw:
        assert raw.mode == "P" and "transparency" in raw.info
    out = open_image(tmp_path / "p.png")
    assert out.getpixel((5, 5)) == WHITE  # index 0 is black but transparent
    assert out.getpixel((15, 5)) == RED
    assert "transparency" not in out.info


def test_animated_gif_gives_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in (RED, GREEN, BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    with Image.open(path) as raw:
        assert raw.n_frames == 3
    out = open_image(path)
    assert out.size == (16, 16)
    assert out.getpixel((8, 8)) == RED


def test_animated_webp_gives_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in (GREEN, RED, BLUE)]
    path = tmp_path / "anim.webp"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, lossless=True)
    with Image.open(path) as raw:
        assert raw.n_frames == 3
    assert open_image(path).getpixel((8, 8)) == GREEN


def test_gif_with_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (20, 10), 0)
    im.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(1, (0, 0, 10, 10))
    im.save(tmp_path / "t.gif", transparency=0)
    out = open_image(tmp_path / "t.gif")
    assert out.getpixel((5, 5)) == BLUE
    assert out.getpixel((15, 5)) == WHITE


# --------------------------------------------------------------------------------------------------------
# orientation
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", sorted(STORED_FOR_ORIENTATION))
def test_exif_orientation_jpeg_is_upright(tmp_path: Path, orientation: int) -> None:
    stored = STORED_FOR_ORIENTATION[orientation](upright_pattern())
    path = tmp_path / f"o{orientation}.jpg"
    stored.save(path, quality=95, exif=exif_with_orientation(orientation))
    out = open_image(path)
    assert_upright_pattern(out)
    assert image_size(path) == (60, 40)
    # The result is upright, so its metadata must not ask a later viewer to rotate it again.
    assert out.getexif().get(ORIENTATION, 1) == 1


def test_orientation_from_tiff_tags_survives_mode_conversion(tmp_path: Path) -> None:
    # A greyscale TIFF: the orientation lives in the TIFF IFD and the image needs converting to RGB.
    upright = Image.new("L", (60, 40), 128)
    upright.paste(255, (0, 0, 15, 10))
    stored = upright.rotate(90, expand=True)
    path = tmp_path / "o6.tif"
    stored.save(path, tiffinfo={ORIENTATION: 6})
    out = open_image(path)
    assert out.size == (60, 40)
    assert out.getpixel((5, 5)) == WHITE
    assert out.getpixel((55, 35)) == (128, 128, 128)
    assert image_size(path) == (60, 40)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
def test_corrupt_exif_does_not_cost_the_photo(tmp_path: Path) -> None:
    path = tmp_path / "badexif.jpg"
    upright_pattern().save(path, quality=95, exif=b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xffgarbage")
    assert_upright_pattern(open_image(path))
    assert image_size(path) == (60, 40)


# --------------------------------------------------------------------------------------------------------
# draft / min_side
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("min_side", "expected"),
    [
        (256, (500, 375)),  # 1/8 DCT scale
        (400, (1000, 750)),  # 1/4: 1/8 would give 375 < 400
        (1500, (2000, 1500)),  # 1/2, exactly min_side
        (1600, (4000, 3000)),  # no DCT scale keeps 1600
        (None, (4000, 3000)),
    ],
)
def test_min_side_uses_jpeg_draft(big_jpeg: Path, min_side: int | None, expected: tuple[int, int]) -> None:
    out = open_image(big_jpeg, min_side=min_side)
    assert out.size == expected
    assert out.mode == "RGB"
    assert_close(out.getpixel((5, 5)), RED, tol=30)
    assert_close(out.getpixel((out.width - 5, out.height - 5)), GREY, tol=30)


def test_min_side_256_on_12_megapixels(big_jpeg: Path) -> None:
    out = open_image(big_jpeg, min_side=256)
    assert 256 <= min(out.size) < 3000
    # A DCT-scaled size, not a resampled one: exactly the 1/8 ceiling of the stored size.
    assert out.size == (-(-4000 // 8), -(-3000 // 8))


def test_min_side_with_rotation(tmp_path: Path) -> None:
    upright = Image.new("RGB", (3000, 4000), GREY)
    upright.paste(RED, (0, 0, 300, 300))
    stored = upright.rotate(90, expand=True)  # 4000x3000 on disk
    path = tmp_path / "portrait.jpg"
    stored.save(path, quality=90, exif=exif_with_orientation(6))
    out = open_image(path, min_side=256)
    assert out.size == (375, 500)
    assert_close(out.getpixel((5, 5)), RED, tol=30)
    assert_close(out.getpixel((370, 495)), GREY, tol=30)
    assert image_size(path) == (3000, 4000)


@pytest.mark.parametrize(("width", "height"), [(1001, 777), (777, 1001), (513, 2049), (3001, 257)])
@pytest.mark.parametrize("min_side", [1, 64, 128, 255, 256, 300, 777])
def test_min_side_never_undershoots(width: int, height: int, min_side: int) -> None:
    data = jpeg_bytes(Image.new("RGB", (width, height), GREY), quality=50)
    out = open_image(data, min_side=min_side)
    assert min(out.size) >= min(min_side, width, height)
    # Exactly a DCT scale of the stored size (each side rounded up), never a resampled shape.
    assert out.size in [(-(-width // k), -(-height // k)) for k in (1, 2, 4, 8)]


def test_min_side_on_non_jpeg_decodes_full_size(tmp_path: Path) -> None:
    upright_pattern(600, 400).save(tmp_path / "p.png")
    assert_upright_pattern(open_image(tmp_path / "p.png", min_side=50), 600, 400)


# --------------------------------------------------------------------------------------------------------
# HEIC / AVIF
# --------------------------------------------------------------------------------------------------------


def _save_heic(im: Image.Image, path: Path, **kwargs: object) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip(f"this pillow-heif build has no HEIF (HEVC) encoder: {pillow_heif.libheif_info()}")
    heif = pillow_heif.from_pillow(im)
    heif.save(path, quality=95, **kwargs)


def test_heic_decodes(tmp_path: Path) -> None:
    path = tmp_path / "photo.heic"
    _save_heic(upright_pattern(64, 48), path)
    assert path.read_bytes()[4:12] == b"ftypheic"
    out = open_image(path)
    assert_upright_pattern(out, 64, 48)
    assert image_size(path) == (64, 48)


def test_heic_orientation_is_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "o6.heic"
    stored = upright_pattern(64, 48).rotate(90, expand=True)
    _save_heic(stored, path, exif=exif_with_orientation(6).tobytes())
    assert image_size(path) == (64, 48)
    assert_upright_pattern(open_image(path), 64, 48)


def test_truncated_heic(tmp_path: Path) -> None:
    path = tmp_path / "full.heic"
    _save_heic(Image.effect_noise((128, 96), 50).convert("RGB"), path)
    data = path.read_bytes()
    for cut in (30, 200, len(data) // 2):
        with pytest.raises(TruncatedImage) as info:
            open_image(data[:cut])
        assert "\n" not in info.value.reason


def test_heic_without_pillow_heif_is_unsupported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "photo.heic"
    _save_heic(upright_pattern(), path)
    monkeypatch.setattr(images, "_heif_state", "HEIC/HEIF images need the pillow-heif package")
    with pytest.raises(UnsupportedImage, match="pillow-heif"):
        open_image(path)


def test_avif_decodes_with_orientation(tmp_path: Path) -> None:
    if ".avif" not in IMAGE_EXTENSIONS:
        pytest.skip("this Pillow build has no AVIF support")
    path = tmp_path / "o6.avif"
    stored = upright_pattern(64, 48).rotate(90, expand=True)
    try:
        stored.save(path, quality=95, exif=exif_with_orientation(6))
    except (OSError, KeyError) as exc:
        pytest.skip(f"this Pillow build cannot encode AVIF: {exc}")
    assert_upright_pattern(open_image(path), 64, 48)
    assert image_size(path) == (64, 48)


# --------------------------------------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------------------------------------


def test_bytes_and_file_object_sources(tmp_path: Path) -> None:
    data = jpeg_bytes(upright_pattern(), quality=95)
    assert_upright_pattern(open_image(data))
    assert_upright_pattern(open_image(bytearray(data)))
    assert_upright_pattern(open_image(memoryview(data)))
    assert image_size(data) == (60, 40)

    stream = io.BytesIO(b"junk" + data)
    stream.seek(4)
    with pytest.raises(NotAnImage):  # file objects are read from their start, like PIL.Image.open
        open_image(stream)

    path = tmp_path / "f.jpg"
    path.write_bytes(data)
    with open(path, "rb") as fh:
        assert_upright_pattern(open_image(fh))
        assert not fh.closed  # the caller's file stays the caller's
        assert image_size(fh) == (60, 40)


def test_non_seekable_stream() -> None:
    data = jpeg_bytes(upright_pattern(), quality=95)

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self._buf = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b: bytearray) -> int:  # type: ignore[override]
            chunk = self._buf.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    pipe = Pipe()
    assert not pipe.seekable()
    assert_upright_pattern(open_image(pipe))


def test_pathlike_and_str_sources(tmp_path: Path) -> None:
    path = tmp_path / "s.png"
    upright_pattern().save(path)
    assert_upright_pattern(open_image(str(path)))
    assert_upright_pattern(open_image(path))
    assert_upright_pattern(open_image(os.fsencode(path)))


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="file names there must be valid Unicode")
def test_non_utf8_file_name(tmp_path: Path) -> None:
    raw_dir = os.fsencode(tmp_path)
    raw_path = os.path.join(raw_dir, b"caf\xe9.jpg")
    try:
        with open(raw_path, "wb") as fh:
            fh.write(jpeg_bytes(upright_pattern(), quality=95))
    except OSError as exc:
        pytest.skip(f"this file system refuses a Latin-1 byte in a name: {exc}")
    as_str = os.fsdecode(raw_path)
    assert "\udce9" in as_str  # surrogateescape: what os.walk / os.scandir on a str root return
    assert_upright_pattern(open_image(as_str))
    assert_upright_pattern(open_image(raw_path))
    assert_upright_pattern(open_image(Path(as_str)))
    (entry,) = list(os.scandir(raw_dir))
    assert isinstance(entry.path, bytes)
    assert_upright_pattern(open_image(entry))
    assert image_size(raw_path) == (60, 40)
    assert is_image_path(raw_path) and is_image_path(as_str)

    broken = os.path.join(raw_dir, b"\xff\xfe.jpg")
    with open(broken, "wb") as fh:
        fh.write(b"\x00" * 50)
    with pytest.raises(NotAnImage) as info:
        open_image(broken)
    assert isinstance(info.value.path, str)
    assert info.value.path == os.fsdecode(broken)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors through /proc")
def test_no_file_descriptor_leaks(tmp_path: Path, big_jpeg: Path) -> None:
    good = tmp_path / "g.gif"
    frames = [Image.new("RGB", (8, 8), c) for c in (RED, GREEN)]
    frames[0].save(good, save_all=True, append_images=frames[1:])
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(big_jpeg.read_bytes()[:20_000])
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(crafted_png(50_000, 50_000))
    noise = tmp_path / "noise.jpg"
    noise.write_bytes(b"\x01" * 100)
    open_image(big_jpeg, min_side=256)  # warm up lazy imports that may hold descriptors
    before = open_fds()
    for _ in range(20):
        open_image(good)
        open_image(big_jpeg, min_side=256)
        image_size(big_jpeg)
        for bad in (cut, bomb, noise):
            with pytest.raises(ImageError):
                open_image(bad)
    assert open_fds() == before
    # The file can be replaced right after decoding (what Windows needs closed handles for).
    os.replace(good, tmp_path / "moved.gif")


def test_result_is_detached_and_loaded(tmp_path: Path) -> None:
    path = tmp_path / "d.jpg"
    upright_pattern().save(path, quality=95)
    out = open_image(path)
    assert not isinstance(out, ImageFile.ImageFile)
    path.unlink()
    assert_upright_pattern(out.copy())


def test_threads_decode_consistently(big_jpeg: Path) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        sizes = list(pool.map(lambda _: open_image(big_jpeg, min_side=256).size, range(8)))
    assert sizes == [(500, 375)] * 8


# --------------------------------------------------------------------------------------------------------
# extensions
# --------------------------------------------------------------------------------------------------------


def test_is_image_path() -> None:
    for name in ("a.jpg", "A.JPG", "b.JpEg", "c.png", "d.webp", "e.tif", "f.TIFF", "g.bmp", "h.gif"):
        assert is_image_path(name), name
    assert is_image_path("x.heic") and is_image_path("x.HEIF")
    assert is_image_path(Path("dir.d/photo.jpe")) and is_image_path(b"raw.jfif")
    for name in ("a.txt", "a.jpg.part", "jpg", "dir.jpg/readme", "a.svg", "a.psd"):
        assert not is_image_path(name), name
    assert all(ext.startswith(".") and ext == ext.lower() for ext in IMAGE_EXTENSIONS)
    assert {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".heic", ".heif"} <= (
        IMAGE_EXTENSIONS
    )


def test_every_listed_writable_extension_decodes(tmp_path: Path) -> None:
    pattern = upright_pattern()
    for ext, fmt, kwargs in [
        (".jpg", "JPEG", {"quality": 95}),
        (".png", "PNG", {}),
        (".webp", "WEBP", {"lossless": True}),
        (".tiff", "TIFF", {"compression": "tiff_lzw"}),
        (".bmp", "BMP", {}),
    ]:
        path = tmp_path / f"x{ext}"
        pattern.save(path, format=fmt, **kwargs)
        assert is_image_path(path)
        assert_upright_pattern(open_image(path))


def test_is_image_name_answers_as_is_image_path_for_every_short_name():
    """The walk's bare-name check (no path parsing) against os.path.splitext's rules: every name of up
    to six characters over dots, the letters of .jpg in both cases and one other character."""
    import itertools

    from irt_desktop.images import is_image_name, is_image_path

    names = ["..jpg", ".jpg", "a.b.JPG", "x.tar.gz", "photo.CR2", "noext", "", "IMG_0001.jpeg"]
    for n in range(7):
        names += ["".join(t) for t in itertools.product(".jJpPgG_", repeat=n)]
    assert [is_image_name(x) for x in names] == [is_image_path(x) for x in names]
    assert is_image_name("a.jpg") and not is_image_name(".jpg") and not is_image_name("a.jpg.tmp")
