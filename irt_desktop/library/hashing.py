"""Content fingerprints: a quick one that proposes (moved, copied, touched files), a full one that decides.

The quick hash (size + first and last 64 KiB) is a filter: two scans with the same white margins share
it. A row adopts another row's vectors only when the full-content hash agrees too; that hash is taken
while the file is read for decoding anyway, and stored, so each version of a file is read for it once.
"""

from __future__ import annotations

import hashlib
import os
from typing import BinaryIO

# Head and tail cover a JPEG's EXIF header (which holds the capture time and camera serial) and the end
# of its entropy-coded data; together with the exact size that tells photos apart nearly always, for the
# price of two small reads instead of reading the whole file.
QUICK_CHUNK = 64 * 1024
# Read size for the full hash: few system calls, and a buffer per decode thread that never matters.
FULL_CHUNK = 256 << 10


def quick_hash_bytes(data: bytes | memoryview) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(len(data).to_bytes(8, "little"))
    if len(data) <= 2 * QUICK_CHUNK:
        h.update(data)
    else:
        h.update(data[:QUICK_CHUNK])
        h.update(data[-QUICK_CHUNK:])
    return h.hexdigest()


def _quick(size: int, head: bytes, tail: bytes) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(size.to_bytes(8, "little"))
    h.update(head)
    h.update(tail)
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
    return _quick(size, head, tail)


def full_hash_file(path: str | os.PathLike[str]) -> str:
    """The hash of the whole content, read in chunks."""
    with open(path, "rb") as f:
        return stream_hashes(f)[2]


def stream_hashes(f: BinaryIO) -> tuple[int, str, str]:
    """(bytes read, quick hash, full hash) of an open file from its start, in one pass of chunked reads;
    the values equal quick_hash_file() and full_hash_file() of the same content."""
    full = hashlib.blake2b(digest_size=20)
    f.seek(0)
    # One buffer, refilled: a fresh 1 MiB object per read would leave each decode thread's malloc arena
    # holding freed memory that the decoded pixels then cannot reuse.
    buf = bytearray(FULL_CHUNK)
    view = memoryview(buf)
    size = 0
    head = b""
    tail = b""
    while n := f.readinto(view):
        chunk = view[:n]
        full.update(chunk)
        if size < QUICK_CHUNK:
            head += bytes(chunk[: QUICK_CHUNK - size])
        size += n
        # The last QUICK_CHUNK bytes, which a short last read leaves spread over two reads.
        last = bytes(chunk[-QUICK_CHUNK:])
        tail = (tail + last)[-QUICK_CHUNK:] if n < QUICK_CHUNK else last
    if size <= 2 * QUICK_CHUNK:  # small files: the quick hash is of the whole content (one read)
        return size, quick_hash_bytes(bytes(view[:size])), full.hexdigest()
    return size, _quick(size, head, tail), full.hexdigest()
