"""Helpers and fixtures shared by the test_library_* files (registered in conftest.py; holds no tests)."""

from __future__ import annotations

import os
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
def open_library(tmp_path, tiny_embedder, monkeypatch):
    """Library factory on the tiny model, small batches; closes what it opened. `survey_in_child=True`:
    every full scan surveys in a child process, as a large library's do (library/survey_process.py),
    and a child that fails fails the test instead of falling back to a survey in this process."""
    opened: list[Library] = []
    surveys: list = []
    wanted: list[bool] = []

    def factory(path: Path | None = None, *, survey_in_child: bool = False, **kwargs) -> Library:
        kwargs.setdefault("pipeline", PipelineConfig(batch_size=4, decode_workers=2))
        lib = Library.open(path or tmp_path / "library", lambda: tiny_embedder, **kwargs)
        opened.append(lib)
        wanted.append(survey_in_child)
        if survey_in_child:
            _record_child_surveys(monkeypatch, surveys)
            lib.indexer.survey_in_child_from = 0
        return lib

    factory.child_surveys = surveys
    yield factory
    for lib in opened:
        lib.close()
    if any(wanted):
        assert surveys, "survey_in_child=True, yet no scan surveyed in a child process"


def _record_child_surveys(monkeypatch, surveys: list) -> None:
    from irt_desktop.library import survey_process

    real = getattr(survey_process.survey_in_child, "real", survey_process.survey_in_child)

    def recorded(*args, **kwargs):
        try:
            survey = real(*args, **kwargs)
        except survey_process.SurveyFailed as exc:
            raise AssertionError(f"the child survey failed: {exc}") from exc
        assert survey is None or survey.pid != os.getpid()
        surveys.append(survey)
        return survey

    recorded.real = real
    monkeypatch.setattr(survey_process, "survey_in_child", recorded)


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
