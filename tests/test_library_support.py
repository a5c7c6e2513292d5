"""Helpers and fixtures shared by the test_library_* files (registered in conftest.py; holds no tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from imagegen import save_photo

from irt_desktop.library import Library, PipelineConfig

# Big enough for JPEG draft mode and distinct enough for the tiny random model to tell apart.
SIZE = (160, 120)


def make_tree(root: Path, n: int = 12, seed0: int = 0) -> list[Path]:
    """`n` photos in nested folders: root/a, root/a/deeper, root/b."""
    folders = [root / "a", root / "a" / "deeper", root / "b"]
    out = []
    for i in range(n):
        out.append(save_photo(folders[i % 3] / f"img_{seed0 + i:03d}.jpg", seed0 + i, SIZE, quality=92))
    return out


def add_bad_files(root: Path, good: Path) -> tuple[Path, Path]:
    data = good.read_bytes()
    truncated = root / "b" / "truncated.jpg"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = root / "a" / "random.jpg"
    garbage.write_bytes(bytes(range(256)) * 20)
    return truncated, garbage


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def copy_query(src: Path, dest: Path, scale: float = 0.6, quality: int = 75) -> Path:
    """A resized, re-encoded copy of a photo (as a user would have one from a messenger)."""
    from PIL import Image

    with Image.open(src) as im:
        small = im.resize((int(im.width * scale), int(im.height * scale)), Image.BICUBIC)
        small.save(dest, quality=quality)
    return dest


@pytest.fixture
def open_library(tmp_path, tiny_embedder):
    """Library factory on the tiny model, small batches; closes what it opened."""
    opened: list[Library] = []

    def factory(path: Path | None = None, **kwargs) -> Library:
        kwargs.setdefault("pipeline", PipelineConfig(batch_size=4, decode_workers=2))
        lib = Library.open(path or tmp_path / "library", lambda: tiny_embedder, **kwargs)
        opened.append(lib)
        return lib

    yield factory
    for lib in opened:
        lib.close()


@pytest.fixture
def photos(tmp_path) -> Path:
    root = tmp_path / "photos"
    make_tree(root)
    return root


def is_indexed(lib, path) -> bool:
    """The file is a live catalog row with a vector."""
    return bool(
        lib.catalog.scalar(
            "SELECT count(*) FROM images i JOIN vectors v ON v.image_id = i.id "
            "WHERE i.path = ? AND i.status = 'ok'",
            (str(path),),
        )
    )
