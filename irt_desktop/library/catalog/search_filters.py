"""Catalog: the reads a filtered search makes (which of these ids match, which ids match at all) and the
folders the "In:" filter offers.

Scale: a folder is a range scan of the unique path index; the other conditions are checked row by row
in SQLite (C), never in a Python loop over the collection. `filtered_among` is bounded by the FAISS
candidates it is given; `filtered_ids` stops at `limit + 1` rows, so an unselective filter costs one
short scan before the search falls back to over-fetching.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from irt_desktop.library.catalog.base import LIVE, CatalogBase, chunks, marks
from irt_desktop.library.filters import FolderCount, SearchFilter
from irt_desktop.library.folders import prefix_range
from irt_desktop.library.gil import GilBreaks

# The capture date as the catalog keeps it: EXIF when the photo has one, else the file's time.
_TAKEN = "coalesce(exif_taken, mtime_ns / 1e9)"


def filter_sql(f: SearchFilter) -> tuple[str, list]:
    """(WHERE clause, parameters) selecting the live images that pass `f`."""
    where = [LIVE]
    params: list = []
    if f.roots:
        where.append(f"root_id IN ({marks(len(f.roots))})")
        params += [int(r) for r in f.roots]
    if f.folders:
        ranges = []
        for folder in f.folders:
            lo, hi = prefix_range(folder)
            ranges.append("(path >= ? AND path < ?)")
            params += [lo, hi]
        where.append("(" + " OR ".join(ranges) + ")")
    if f.taken_from is not None:
        where.append(f"{_TAKEN} >= ?")
        params.append(float(f.taken_from))
    if f.taken_to is not None:
        where.append(f"{_TAKEN} < ?")
        params.append(float(f.taken_to))
    if f.types:
        # LIKE ignores ASCII case, as suffixes are matched elsewhere; a suffix holds no % or _.
        where.append("(" + " OR ".join("path LIKE ?" for _ in f.types) + ")")
        params += [f"%{s}" for s in f.types]
    return " AND ".join(where), params


class SearchFiltersMixin(CatalogBase):
    def filtered_among(self, ids: Sequence[int], f: SearchFilter) -> set[int]:
        """Those of `ids` that are live and pass `f`."""
        where, params = filter_sql(f)
        found: set[int] = set()
        for chunk in chunks([int(i) for i in ids]):
            rows = self.conn.execute(
                f"SELECT id FROM images WHERE id IN ({marks(len(chunk))}) AND {where}", [*chunk, *params]
            )
            found.update(r[0] for r in rows)
        return found

    def filtered_ids(self, f: SearchFilter, limit: int) -> np.ndarray | None:
        """The ids of every live image that passes `f`, or None when more than `limit` do."""
        where, params = filter_sql(f)
        rows = self.conn.execute(f"SELECT id FROM images WHERE {where} LIMIT ?", [*params, limit + 1])
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64)
        return None if len(ids) > limit else ids

    def image_folders(self) -> list[FolderCount]:
        """Every folder under a watched folder that holds live photos, or whose sub-folders do, with
        how many photos it holds in all, in path order (a parent before its sub-folders)."""
        sep = os.sep
        # rtrim(path, <every character but the separator>) leaves the folder part with its last separator.
        rows = self.conn.execute(
            f"SELECT i.root_id, r.path, rtrim(i.path, replace(i.path, ?, '')) AS folder, count(*) "
            f"FROM images i JOIN roots r ON r.id = i.root_id WHERE i.{LIVE} GROUP BY i.root_id, folder",
            (sep,),
        ).fetchall()
        totals: dict[tuple[int, str], int] = {}
        root_paths: dict[int, str] = {}
        # 10^4 folders at 10^6 photos: Python enough to hold up the GUI thread's paint (library/gil.py).
        pause = GilBreaks()
        for root_id, root_path, folder, n in rows:
            pause()
            root_paths[root_id] = root_path
            folder = folder.rstrip(sep) or sep
            # Count the photos in every folder from this one up to the watched folder.
            while True:
                totals[(root_id, folder)] = totals.get((root_id, folder), 0) + n
                if folder == root_path or len(folder) <= len(root_path):
                    break
                parent = os.path.dirname(folder)
                if parent == folder:
                    break
                folder = parent
        # Watched folders with no photos (yet) are offered too.
        for root_id, root_path in self.conn.execute("SELECT id, path FROM roots"):
            root_paths.setdefault(root_id, root_path)
            totals.setdefault((root_id, root_path), 0)
        out = []
        for (root_id, folder), n in totals.items():
            pause()
            root_path = root_paths[root_id]
            # Slicing, not os.path.relpath: the folders are under their root by construction, and at
            # 10^4 folders relpath was 130 ms of Python that starved the GUI thread's paint of the GIL.
            prefix = root_path.rstrip(sep) + sep
            if folder == root_path:
                rel = ""
            elif folder.startswith(prefix):
                rel = folder[len(prefix) :]
            else:
                rel = os.path.relpath(folder, root_path)
            depth = 0 if not rel else rel.count(sep) + 1
            name = rel if rel else (os.path.basename(root_path) or root_path)
            out.append(FolderCount(folder, root_id, n, depth, name))
        keys = []
        for c in out:
            pause()
            keys.append((root_paths[c.root_id], c.path.split(sep)))
        order = sorted(range(len(out)), key=keys.__getitem__)
        return [out[i] for i in order]
