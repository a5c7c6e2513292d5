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
from collections.abc import Iterable
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
    for path, _, size, _ in new:
        if size in sizes and (h := _try(quick_hash_file, path)) is not None:
            ev.quick[path] = h
    candidates = catalog.content_candidates((ev.quick[p], size) for p, _, size, _ in new if p in ev.quick)
    for path, _, size, _ in new:
        key = (ev.quick.get(path), size)
        if key in candidates and (f := _full(path, ev)) is not None:
            ev.full[path] = f
            for row, row_path in candidates[key]:
                _fill_legacy(row, row_path, gone, ev)
    for path, row, size, _ in changed:
        # Same size and same quick hash: a touch, an EXIF-only rewrite by a tool that kept every byte,
        # or a scan overwritten by another with the same margins; only the full hash tells them apart.
        if row.quick_hash is None or row.full_hash is None or row.size != size:
            continue
        if _try(quick_hash_file, path) == row.quick_hash and _full(path, ev) == row.full_hash:
            ev.touched.add(row.id)
    return ev


def _fill_legacy(row: StoredImage, path: str, gone: set[str], ev: Evidence) -> None:
    if row.full_hash is not None or row.id in ev.filled or path in gone:
        return
    if row.status not in (ImageStatus.OK, ImageStatus.FAILED):
        return  # a pending row has nothing to share yet, and a deleted one's file is not there
    try:
        st = os.stat(path)
    except OSError:
        return
    if (st.st_size, st.st_mtime_ns) == (row.size, row.mtime_ns) and (f := _full(path, ev)) is not None:
        ev.filled[row.id] = f


def _full(path: str, ev: Evidence) -> str | None:
    ev.files_hashed += 1
    return _try(full_hash_file, path)


def _try(fn, path: str) -> str | None:
    try:
        return fn(path)
    except OSError:
        return None
