"""Duplicates, three kinds: exact copies (the same bytes), near copies (the same photo re-encoded,
resized, cropped a little, rotated or mirrored) and look-alikes (another frame of a burst, the same scene
shot again: a looser threshold, never a near copy), each group with a suggested keeper (library.keeper).

Near-copy groups never chain: a batched FAISS range search proposes pairs scoring >= threshold, and a
group is grown from its keeper, a member joining only when it is within the threshold of *every* member
already in (complete linkage). A RAW and its camera JPEG (same folder, same name) are one photo: folded
into one member, never a trash candidate against each other. Exact copies are folded into one member
too, so the two kinds never repeat each other.

Threads: any thread; it reads whole-file hashes, so the GUI calls it from a worker.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import PurePath

import faiss
import numpy as np

from irt_desktop.library.catalog import Catalog
from irt_desktop.library.errors import LibraryUnavailable
from irt_desktop.library.hashing import full_hash_file
from irt_desktop.library.keeper import RAW_SUFFIXES, is_raw, keep_key, keep_order, keep_reason
from irt_desktop.library.records import Calibration, DuplicateGroup, DuplicateReport, ImageInfo
from irt_desktop.library.vector_index import VectorIndex

QUERY_BATCH = 1024
FLAT_MAX = 20_000  # exact pair search up to here; an inverted file beyond
NPROBE = 4
# (query image ids, their descriptors of a transformed image, how: 'rotated' | 'mirrored')
TransformedQueries = Callable[[np.ndarray], Iterable[tuple[np.ndarray, np.ndarray, str]]]
Pairs = dict[tuple[int, int], tuple[float, str]]


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


def raw_pairs(paths: Iterable[tuple[int, str]]) -> list[tuple[int, int]]:
    """(raw id, jpeg id) of RAW files and the camera JPEG beside them (same folder, same name)."""
    by_stem: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for image_id, path in paths:
        p = PurePath(path)
        by_stem[(str(p.parent), p.stem.casefold())].append((image_id, p.suffix.lower()))
    out = []
    for members in by_stem.values():
        raws = [i for i, suffix in members if suffix in RAW_SUFFIXES]
        others = [i for i, suffix in members if i not in raws]
        if raws and others:
            out.extend((raws[0], other) for other in others)
    return out


def _add(pairs: Pairs, a: int, b: int, score: float, how: str) -> None:
    if a == b:
        return
    key = (a, b) if a < b else (b, a)
    old = pairs.get(key)
    if old is None or score > old[0]:
        pairs[key] = (float(score), how)


def _pair_index(vectors: np.ndarray, flat_max: int | None = None) -> faiss.Index:
    n, dim = vectors.shape
    if n <= (FLAT_MAX if flat_max is None else flat_max):
        flat = faiss.IndexFlatIP(dim)
        flat.add(vectors)
        return flat
    nlist = int(2 * np.sqrt(n))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.niter = 10  # cells only route the search: a rough k-means is enough, and 4x cheaper
    # Unit centroids: plain k-means under inner product lets a few long centroids gather most vectors
    # (descriptors share a mean direction), and every query then scans those huge cells: 100k photos
    # had cells of 5000 where 160 is the mean, and the search took 2.3x as long.
    ivf.cp.spherical = True
    rng = np.random.default_rng(0)
    ivf.train(vectors[rng.choice(n, min(n, nlist * 40), replace=False)])
    ivf.add(vectors)
    ivf.nprobe = NPROBE
    return ivf


def near_pairs(
    index: VectorIndex,
    ids: np.ndarray,
    vectors: np.ndarray,
    threshold: float,
    rep: Callable[[int], int],
    transformed: Iterable[tuple[np.ndarray, np.ndarray, str]] = (),
    turned_threshold: float | None = None,
) -> Pairs:
    """(a, b) -> (best score, how) of every pair of members scoring >= threshold, batched range search;
    `transformed` adds queries made with rotated/mirrored descriptors of the photos, kept only at
    `turned_threshold` or above (default: `threshold`; a turned copy is a near copy, never a look-alike)."""
    turned_threshold = threshold if turned_threshold is None else turned_threshold
    vectors = np.ascontiguousarray(vectors, np.float32)
    ids = np.asarray(ids, np.int64)
    if not len(ids):
        return {}
    # The catalog's float32 vectors in an index of their own, never the serving index's fp16 codes
    # (range search decodes those one vector at a time: 50x slower; `index` only says what is served).
    # Up to FLAT_MAX exact (BLAS); beyond, an inverted file probing the few cells a near copy can be in
    # (a copy lies next to its original, so it shares its cell or a neighbour: bench_duplicates.py).
    flat = _pair_index(vectors)

    def search(queries: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lims, scores, rows = flat.range_search(np.ascontiguousarray(queries, np.float32), t)
        return lims, scores, ids[rows]

    # Folding (exact copies, a RAW's JPEG) in arrays: a Python call per found pair is what made 100k slow.
    rep_of = np.fromiter((rep(int(i)) for i in ids), np.int64, len(ids))
    order = np.argsort(ids)
    sorted_ids = ids[order]

    def rows_of(values: np.ndarray) -> np.ndarray:
        pos = np.minimum(np.searchsorted(sorted_ids, values), len(ids) - 1)
        return np.where(sorted_ids[pos] == values, order[pos], -1)

    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, str]] = []
    for q_all, v_all, how in [(ids, vectors, ""), *transformed]:
        t = turned_threshold if how else threshold
        for start in range(0, len(q_all), QUERY_BATCH):
            q_ids = np.asarray(q_all[start : start + QUERY_BATCH], np.int64)
            lims, scores, found = search(v_all[start : start + QUERY_BATCH], t)
            if not len(found):
                continue
            q = np.repeat(q_ids, np.diff(lims).astype(np.int64))
            found = np.asarray(found, np.int64)
            scores = np.asarray(scores, np.float32)
            qr, fr = rows_of(q), rows_of(found)
            a = np.where(qr >= 0, rep_of[qr], q)
            b = np.where(fr >= 0, rep_of[fr], found)
            keep = a != b
            if how:
                # A turned query counts only where the turn itself closes the gap: a rotated copy scores
                # far higher once turned back, a look-alike the model scores high anyway gains nothing.
                both = (qr >= 0) & (fr >= 0)
                direct = np.einsum("ij,ij->i", vectors[np.maximum(qr, 0)], vectors[np.maximum(fr, 0)])
                keep &= ~both | (scores - direct >= 1.0 - turned_threshold)
            a, b, scores = a[keep], b[keep], scores[keep]
            parts.append((np.minimum(a, b), np.maximum(a, b), scores, how))
    pairs: Pairs = {}
    if not parts:
        return pairs
    lo = np.concatenate([p[0] for p in parts])
    hi = np.concatenate([p[1] for p in parts])
    sc = np.concatenate([p[2] for p in parts])
    hows = ["", *sorted({p[3] for p in parts} - {""})]
    code = np.concatenate([np.full(len(p[0]), hows.index(p[3]), np.int8) for p in parts])
    # The best score of each pair: sort by pair then score descending, keep each pair's first.
    idx = np.lexsort((-sc, hi, lo))
    lo, hi, sc, code = lo[idx], hi[idx], sc[idx], code[idx]
    first = np.ones(len(lo), bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    for a, b, score, c in zip(
        lo[first].tolist(), hi[first].tolist(), sc[first].tolist(), code[first].tolist(), strict=True
    ):
        pairs[(a, b)] = (score, hows[c])
    return pairs


def complete_linkage(
    pairs: Pairs, infos: dict[int, ImageInfo], keep_folders: Sequence[str] = ()
) -> list[list[int]]:
    """Groups in which every member is within the threshold of every other, each grown from its keeper
    (the best remaining photo by the keep rule), the closest candidates first. A chain A~B~C with A and
    C apart never becomes one group."""
    neighbours: dict[int, dict[int, float]] = defaultdict(dict)
    turned: set[tuple[int, int]] = set()  # pairs matched only through a rotated or mirrored query
    for (a, b), (score, how) in pairs.items():
        if how:
            turned.update(((a, b), (b, a)))
        if a in infos and b in infos:
            neighbours[a][b] = score
            neighbours[b][a] = score
    # Connected components first: the greedy step then only looks inside one small component.
    seen: set[int] = set()
    groups: list[list[int]] = []
    for start in neighbours:
        if start in seen:
            continue
        component, stack = [], [start]
        seen.add(start)
        while stack:
            x = stack.pop()
            component.append(x)
            for y in neighbours[x]:
                if y not in seen:
                    seen.add(y)
                    stack.append(y)
        # The keep rule once per photo; keepers in its order (the best one not yet taken), which is
        # O(m log m) for a component of m where picking the minimum each round was O(m^2).
        keys = {i: keep_key(infos[i], keep_folders) for i in component}
        taken: set[int] = set()
        for keeper in sorted(component, key=keys.__getitem__):
            if keeper in taken:
                continue
            group = [keeper]
            near = neighbours[keeper]
            for cand in sorted((c for c in near if c not in taken), key=lambda c: -near[c]):
                # Two copies each turned a different way from the keeper (one rotated, one mirrored) cannot
                # match each other with one turn: their tie to the keeper is what counts for them.
                if all(
                    m in neighbours[cand] or ((keeper, m) in turned and (keeper, cand) in turned)
                    for m in group
                ):
                    group.append(cand)
            taken.update(group)
            if len(group) > 1:
                groups.append(group)
    return groups


def lookalike_pairs(pairs: Pairs, near_groups: Sequence[Sequence[int]]) -> Pairs:
    """The pairs look-alike groups are grown from: a near group is represented by its keeper alone (its
    copies are the same photo), and a pair matched only through a turn is a near copy, never a burst."""
    folded = {m for g in near_groups for m in g[1:]}
    return {
        (a, b): (score, "")
        for (a, b), (score, how) in pairs.items()
        if not how and a not in folded and b not in folded
    }


def _group(kind: str, ids: list[int], infos: dict[int, ImageInfo], pairs: Pairs, keep_folders, paired):
    keeper, rest = ids[0], ids[1:]
    ordered = [infos[keeper], *sorted((infos[i] for i in rest), key=lambda x: str(x.path))]
    key = [(min(keeper, m.id), max(keeper, m.id)) for m in ordered[1:]]
    return DuplicateGroup(
        kind,
        ordered,
        keep_reason(ordered, keep_folders),
        [1.0] + [pairs[k][0] for k in key],
        [""] + [pairs[k][1] for k in key],
        [paired(m) for m in ordered],
    )


def find_duplicates(
    catalog: Catalog,
    index: VectorIndex | None,
    model_id: str | None,
    threshold: float,
    *,
    keep_folders: Sequence[str] = (),
    transformed: TransformedQueries | None = None,
    calibration: Calibration | None = None,
    lookalike_threshold: float | None = None,
) -> DuplicateReport:
    """Exact copies, near copies (>= threshold) and, with `lookalike_threshold`, look-alikes: photos
    within that looser threshold of each other once near copies are folded into their keeper. One range
    search at the looser threshold serves both; each kind's groups are complete-linkage on their own."""
    keep_folders = [str(f) for f in keep_folders]
    if lookalike_threshold is not None and lookalike_threshold >= threshold:
        lookalike_threshold = None  # nothing lies between: no look-alikes at these settings
    exact = exact_groups(catalog)
    live = catalog.live_image_paths()
    pairs_raw = raw_pairs(live)
    infos = catalog.image_infos(sorted({i for g in exact for i in g} | {i for p in pairs_raw for i in p}))

    collapse: dict[int, int] = {}
    exact_ordered: list[list[ImageInfo]] = []
    for g in exact:
        ordered = keep_order([infos[i] for i in g if i in infos], keep_folders)
        if len(ordered) > 1:
            exact_ordered.append(ordered)
            collapse.update({m.id: ordered[0].id for m in ordered[1:]})
    paired_with: dict[int, int] = {}
    for raw_id, jpeg_id in pairs_raw:
        collapse.setdefault(jpeg_id, raw_id)
        paired_with[raw_id] = jpeg_id

    def rep(x: int) -> int:
        for _ in range(4):  # exact copy of a camera JPEG -> the JPEG -> its RAW
            y = collapse.get(x, x)
            if y == x:
                return x
            x = y
        return x

    near_ids: list[list[int]] = []
    look_ids: list[list[int]] = []
    pairs: Pairs = {}
    look: Pairs = {}
    rotations = False
    if index is not None and model_id is not None:
        ids, vectors = catalog.live_vectors(model_id, index.info.dim)
        extra: Iterable[tuple[np.ndarray, np.ndarray, str]] = ()
        if transformed is not None:
            # Only one query per folded member: its exact copies and paired JPEG would say the same.
            reps = np.asarray([i for i in ids if rep(int(i)) == int(i)], np.int64)
            extra = list(transformed(reps))
            rotations = True
        loosest = threshold if lookalike_threshold is None else lookalike_threshold
        found = near_pairs(index, ids, vectors, loosest, rep, extra, turned_threshold=threshold)
        del vectors
        members = {i for pair in found for i in pair}
        infos.update(catalog.image_infos(sorted(members - set(infos))))
        pairs = {k: v for k, v in found.items() if v[0] >= threshold}
        near_ids = complete_linkage(pairs, infos, keep_folders)
        if lookalike_threshold is not None:
            look = lookalike_pairs(found, near_ids)
            look_ids = complete_linkage(look, infos, keep_folders)

    def paired(info: ImageInfo):
        other = paired_with.get(info.id)
        return infos[other].path if other in infos else None

    groups: list[DuplicateGroup] = []
    for ordered in sorted(exact_ordered, key=lambda g: str(g[0].path)):
        groups.append(
            DuplicateGroup(
                "exact",
                ordered,
                keep_reason(ordered, keep_folders),
                [1.0] * len(ordered),
                [""] * len(ordered),
                [None] * len(ordered),
            )
        )
    for kind, found_ids, kind_pairs in (("near", near_ids, pairs), ("lookalike", look_ids, look)):
        made = [_group(kind, g, infos, kind_pairs, keep_folders, paired) for g in found_ids]
        groups += sorted(made, key=lambda g: str(g.members[0].path))
    return DuplicateReport(
        exact=[g.members for g in groups if g.kind == "exact"],
        near=[g.members for g in groups if g.kind == "near"],
        threshold=threshold,
        groups=groups,
        calibration=calibration,
        pairs=[[infos[r], infos[j]] for r, j in pairs_raw if r in infos and j in infos],
        rotations_checked=rotations,
        keep_folders=keep_folders,
        lookalike_threshold=lookalike_threshold,
    )


KINDS = ("exact", "near", "lookalike")

__all__ = [
    "KINDS",
    "complete_linkage",
    "exact_groups",
    "find_duplicates",
    "is_raw",
    "lookalike_pairs",
    "near_pairs",
    "raw_pairs",
]
