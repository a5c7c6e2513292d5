"""Decoding for indexing: the numpy preprocessing equals the model's eval transform; EXIF dates."""

from __future__ import annotations

import numpy as np
import pytest
from imagegen import TINY_SPEC, photo, save_photo
from PIL import Image

from irt_desktop.library.decode import Tensorizer, decode_file
from irt_desktop.library.hashing import quick_hash_bytes, quick_hash_file
from irt_desktop.retrieval.model import ModelSpec
from irt_desktop.retrieval.transforms import eval_transform


@pytest.mark.parametrize("spec", [TINY_SPEC, ModelSpec()], ids=["tiny", "deit-s"])
@pytest.mark.parametrize("size", [(97, 61), (61, 97), (640, 480), (300, 300)])
def test_tensorizer_matches_eval_transform(spec, size):
    im = photo(3, size)
    expected = eval_transform(spec)(im).numpy()
    got = Tensorizer(spec)(im)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() < 1e-5


def test_decode_file_reports_metadata_and_failures(tmp_path):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2021:07:14 10:30:00"
    path = save_photo(tmp_path / "p.jpg", 1, (1200, 800), quality=90, exif=exif.tobytes())
    d = decode_file(7, str(path), Tensorizer(TINY_SPEC))
    assert d.error is None and (d.width, d.height) == (1200, 800) and d.tensor.shape == (3, 32, 32)
    assert d.quick_hash == quick_hash_file(path) == quick_hash_bytes(path.read_bytes())
    from datetime import datetime

    assert datetime.fromtimestamp(d.exif_taken) == datetime(2021, 7, 14, 10, 30)
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 2000)  # quick hash: head + tail past 128 KiB
    assert quick_hash_file(big) == quick_hash_bytes(big.read_bytes())

    (tmp_path / "bad.jpg").write_bytes(b"\x00" * 100)
    bad = decode_file(8, str(tmp_path / "bad.jpg"), Tensorizer(TINY_SPEC))
    assert bad.tensor is None and "not a recognised image" in bad.error and bad.size == 100
    gone = decode_file(9, str(tmp_path / "gone.jpg"), Tensorizer(TINY_SPEC))
    assert gone.tensor is None and "cannot read" in gone.error
