"""Content identity for a scan: which new or changed files may keep or take vectors already computed.

The quick hash (size, first and last 64 KiB) only proposes: uncompressed scans with the same white
margins share it. A file keeps its row's vectors after a touch, or takes a moved, deleted or copied
row's vectors, only when its full-content hash equals the one stored for that row (taken when the row's
file was decoded). So only files whose quick hash matches a row are read whole, and a rescan of files
whose path, size and mtime are unchanged reads nothing.

Rows catalogued before full hashes were stored have none: a live one whose file is still as catalogued
gets its full hash now (once); a moved or deleted one cannot prove its content and is embedded afresh.

Threads: the scan's thread, before its write transaction (all file reads happen here, outside it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from irt_desktop.library.catalog import Catalog, StoredImage
from irt_desktop.library.hashing import full_hash_file, quick_hash_file
from irt_desktop.library.records import ImageStatus


@dataclass
class Evidence:
    quick: dict[str, str] = field(default_factory=dict)  # new file path -> quick hash
    full: dict[str, str] = field(default_factory=dict)  # new file path -> full hash (quick hash matched)
    filled: dict[int, str] = field(default_factory=dict)  # row id -> full hash of its file, taken now
    touched: set[int] = field(default_factory=set)  # changed rows whose content is still what was embedded
    files_hashed: int = 0  # files read whole, for benchmarks


HASH_THREADS = min(8, os.cpu_count() or 1)

# (path, root id, size, mtime_ns) of a file the catalog has no row for.
NewSeen = tuple[str, int, int, int]
# (path, row, size, mtime_ns) of a catalogued file whose size or time changed.
ChangedSeen = tuple[str, StoredImage, int, int]


def gather(
    catalog: Catalog, new: Iterable[NewSeen], changed: Iterable[ChangedSeen], gone: set[str]
) -> Evidence:
    """Read what the decision needs: quick hashes of new files some row's size matches, full hashes of
    those whose quick hash matches too, and of changed files whose quick hash did not change. `gone`:
    paths the scan found missing (their rows cannot be hashed from disk)."""
    ev = Evidence()
    new = list(new)
    sizes = catalog.sizes_with_hash(size for _, _, size, _ in new)
    ev.quick = _hash_all(quick_hash_file, [path for path, _, size, _ in new if size in sizes])
    candidates = catalog.content_candidates((ev.quick[p], size) for p, _, size, _ in new if p in ev.quick)
    proposed = [
        (path, candidates[key])
        for path, _, size, _ in new
        if (key := (ev.quick.get(path, ""), size)) in candidates
    ]
    # Same size and same quick hash: a touch, an EXIF-only rewrite by a tool that kept every byte, or
    # a scan overwritten by another with the same margins; only the full hash tells them apart.
    maybe_touched = [
        (path, row)
        for path, row, size, _ in changed
        if row.quick_hash is not None and row.full_hash is not None and row.size == size
    ]
    touched_quick = _hash_all(quick_hash_file, [path for path, _ in maybe_touched])
    maybe_touched = [(p, row) for p, row in maybe_touched if touched_quick.get(p) == row.quick_hash]
    legacy = {}
    for _, rows in proposed:
        for row, row_path in rows:
            if _legacy_source(row, row_path, gone):
                legacy[row_path] = row.id
    fulls = _hash_all(full_hash_file, [p for p, _ in proposed] + [p for p, _ in maybe_touched] + list(legacy))
    ev.files_hashed = len(fulls)
    ev.full = {p: fulls[p] for p, _ in proposed if p in fulls}
    ev.filled = {image_id: fulls[p] for p, image_id in legacy.items() if p in fulls}
    ev.touched = {row.id for p, row in maybe_touched if fulls.get(p) == row.full_hash}
    return ev


def _legacy_source(row: StoredImage, path: str, gone: set[str]) -> bool:
    """A row from before full hashes whose file is still as catalogued: its hash can be taken now."""
    if row.full_hash is not None or path in gone:
        return False
    if row.status not in (ImageStatus.OK, ImageStatus.FAILED):
        return False  # a pending row has nothing to share yet, and a deleted one's file is not there
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == (row.size, row.mtime_ns)


def _hash_all(fn: Callable[[str], str], paths: list[str]) -> dict[str, str]:
    """path -> fn(path) for the paths that could be read, a few at a time: hashing releases the GIL,
    and on a cold cache or a network drive the reads overlap."""
    paths = list(dict.fromkeys(paths))
    if len(paths) < 2:
        return {p: h for p in paths if (h := _try(fn, p)) is not None}
    with ThreadPoolExecutor(min(HASH_THREADS, len(paths)), thread_name_prefix="irt-hash") as pool:
        return {p: h for p, h in zip(paths, pool.map(lambda p: _try(fn, p), paths), strict=True) if h}


def _try(fn: Callable[[str], str], path: str) -> str | None:
    try:
        return fn(path)
    except OSError:
        return None
