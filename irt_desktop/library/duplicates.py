"""Duplicates: byte-identical files, and visually near-identical images grouped by a score threshold."""

from __future__ import annotations

import contextlib
from collections import defaultdict

import numpy as np

from irt_desktop.library.catalog import LIVE, Catalog
from irt_desktop.library.hashing import full_hash_file
from irt_desktop.library.records import DuplicateReport, ImageInfo
from irt_desktop.library.vector_index import VectorIndex

QUERY_BATCH = 1024


def exact_groups(catalog: Catalog) -> list[list[int]]:
    """Groups of live image ids with identical content.

    Quick hash + size proposes candidates; a full-content hash (cached in the catalog, cleared when a
    file changes) confirms them, since the quick hash does not read the middle of large files.
    """
    rows = catalog.conn.execute(
        f"SELECT id, path, quick_hash, size, full_hash FROM images WHERE {LIVE} AND quick_hash IS NOT NULL "
        f"AND (quick_hash, size) IN (SELECT quick_hash, size FROM images WHERE {LIVE} "
        f"AND quick_hash IS NOT NULL GROUP BY quick_hash, size HAVING count(*) > 1) ORDER BY id"
    ).fetchall()
    computed: list[tuple[str, int]] = []
    by_full: dict[tuple[str, int], list[int]] = defaultdict(list)
    for image_id, path, _quick, size, full in rows:
        if full is None:
            with contextlib.suppress(OSError):
                full = full_hash_file(path)
                computed.append((full, image_id))
        if full is not None:
            by_full[(full, size)].append(image_id)
    if computed:
        with catalog.transaction() as conn:
            conn.executemany("UPDATE images SET full_hash = ? WHERE id = ?", computed)
    return [ids for ids in by_full.values() if len(ids) > 1]


def near_groups(
    index: VectorIndex, ids: np.ndarray, vectors: np.ndarray, threshold: float, collapse: dict[int, int]
) -> list[list[int]]:
    """Connected components of the graph 'score >= threshold', exact copies folded into one member."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for start in range(0, len(ids), QUERY_BATCH):
        q_ids = ids[start : start + QUERY_BATCH]
        lims, _scores, found = index.range_search(vectors[start : start + QUERY_BATCH], threshold)
        for row, qid in enumerate(q_ids):
            a = collapse.get(int(qid), int(qid))
            for other in found[lims[row] : lims[row + 1]]:
                b = collapse.get(int(other), int(other))
                if a != b:
                    ra, rb = find(a), find(b)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = defaultdict(list)
    for member in list(parent):
        groups[find(member)].append(member)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def find_duplicates(
    catalog: Catalog, index: VectorIndex | None, model_id: str | None, threshold: float
) -> DuplicateReport:
    exact = exact_groups(catalog)
    collapse = {member: group[0] for group in exact for member in group}
    near: list[list[int]] = []
    if index is not None and model_id is not None:
        dim = index.info.dim
        ids, vectors = catalog.live_vectors(model_id, dim)
        near = near_groups(index, ids, vectors, threshold, collapse)
    infos = catalog.image_infos([i for g in exact + near for i in g])

    def resolve(groups: list[list[int]]) -> list[list[ImageInfo]]:
        out = [[infos[i] for i in g if i in infos] for g in groups]
        return sorted((g for g in out if len(g) > 1), key=lambda g: str(g[0].path))

    return DuplicateReport(exact=resolve(exact), near=resolve(near), threshold=threshold)
