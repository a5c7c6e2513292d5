"""Duplicates: byte-identical files, and visually near-identical images grouped by a score threshold.

Threads: any thread; it reads whole-file hashes, so the GUI calls it from a worker.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict

import numpy as np

from irt_desktop.library.catalog import Catalog
from irt_desktop.library.errors import LibraryUnavailable
from irt_desktop.library.hashing import full_hash_file
from irt_desktop.library.records import DuplicateReport, ImageInfo
from irt_desktop.library.vector_index import VectorIndex

QUERY_BATCH = 1024


def exact_groups(catalog: Catalog) -> list[list[int]]:
    """Groups of live image ids with identical content.

    Quick hash + size proposes candidates; a full-content hash (cached in the catalog, cleared when a
    file changes) confirms them, since the quick hash does not read the middle of large files.
    """
    computed: list[tuple[int, str]] = []
    by_full: dict[tuple[str, int], list[int]] = defaultdict(list)
    for image_id, path, size, full in catalog.images_sharing_quick_hash():
        if full is None:
            with contextlib.suppress(OSError):
                full = full_hash_file(path)
                computed.append((image_id, full))
        if full is not None:
            by_full[(full, size)].append(image_id)
    if computed:
        # A cache: a reader beside a running indexer (or in a read-only folder) computes them again.
        with contextlib.suppress(LibraryUnavailable):
            catalog.set_full_hashes(computed)
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
