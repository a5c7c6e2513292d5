"""Content fingerprints: a quick one to recognise moved files, a full one to confirm exact duplicates."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

# Head and tail cover a JPEG's EXIF header (which holds the capture time and camera serial) and the end
# of its entropy-coded data; together with the exact size that tells files apart in practice, for the
# price of two small reads instead of reading the whole file.
QUICK_CHUNK = 64 * 1024


def quick_hash_bytes(data: bytes | memoryview) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(len(data).to_bytes(8, "little"))
    if len(data) <= 2 * QUICK_CHUNK:
        h.update(data)
    else:
        h.update(data[:QUICK_CHUNK])
        h.update(data[-QUICK_CHUNK:])
    return h.hexdigest()


def quick_hash_file(path: str | os.PathLike[str]) -> str:
    """Same value as quick_hash_bytes(whole file), without reading the middle of large files."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size <= 2 * QUICK_CHUNK:
            return quick_hash_bytes(f.read())
        head = f.read(QUICK_CHUNK)
        f.seek(size - QUICK_CHUNK)
        tail = f.read(QUICK_CHUNK)
    h = hashlib.blake2b(digest_size=16)
    h.update(size.to_bytes(8, "little"))
    h.update(head)
    h.update(tail)
    return h.hexdigest()


def full_hash_file(path: Path) -> str:
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
