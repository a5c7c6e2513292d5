"""Filtered and sorted search through the library API on a real small library (tiny model): folders
(sub-folders included, siblings with a common prefix not), capture dates, file types, roots; k results
are k matching ones, also when the filter is selective (the candidate path: catalog ids + FAISS
selector, and the exact pass over few candidates under IVF); the sorts; the folder list."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from imagegen import save_photo
from test_library_support import SIZE, make_tree

from irt_desktop.library import search as search_mod
from irt_desktop.library.filters import SearchFilter, SortKey, date_range, natural_key, sort_hits
from irt_desktop.library.folders import canonical


def _stamp(paths, when: datetime) -> None:
    t = when.timestamp()
    for p in paths:
        os.utime(p, (t, t))


@pytest.fixture
def filtered_library(open_library, tmp_path):
    root = tmp_path / "photos"
    files = make_tree(root, n=12)  # 4 each in a, a/deeper, b
    # A sibling whose name starts like "a": a prefix match on "a" must not take it in.
    files += [save_photo(root / "ab" / f"sib_{i}.jpg", 100 + i, SIZE, quality=90) for i in range(2)]
    files += [save_photo(root / "b" / f"shot_{i}.png", 200 + i, SIZE) for i in range(3)]
    _stamp([p for p in files if p.parent.name == "b"], datetime(2020, 6, 15, 12))
    _stamp([p for p in files if p.parent.name != "b"], datetime(2022, 3, 1, 12))
    lib = open_library()
    lib.add_root(root)
    lib.index()
    return lib, root, files


def under(hit, folder: Path) -> bool:
    return Path(hit.path).is_relative_to(canonical(folder))


def test_folder_filter_includes_sub_folders_not_prefix_siblings(filtered_library):
    lib, root, files = filtered_library
    query = files[0]
    a = SearchFilter(folders=(canonical(root / "a"),))
    hits = lib.search(query, k=100, filters=a)
    assert len(hits) == 8  # a and a/deeper, not ab
    assert all(under(h, root / "a") and not under(h, root / "ab") for h in hits)
    deeper = SearchFilter(folders=(canonical(root / "a" / "deeper"),))
    # k results are k matching results: the filter is applied inside the search, not after it.
    assert [under(h, root / "a" / "deeper") for h in lib.search(query, k=3, filters=deeper)] == [True] * 3
    two = SearchFilter(folders=(canonical(root / "ab"), canonical(root / "b")))
    assert {Path(h.path).parent.name for h in lib.search(query, k=100, filters=two)} == {"ab", "b"}
    # More like this honours the filter too, and leaves the photo itself out.
    own = lib.catalog.image_id_for_path(canonical(files[1]))
    similar = lib.search_similar(own, k=100, filters=deeper)
    assert own not in {h.image_id for h in similar} and all(under(h, root / "a" / "deeper") for h in similar)


def test_date_type_and_root_filters_combine(filtered_library, open_library, tmp_path):
    lib, _root, files = filtered_library
    lo, hi = date_range(datetime(2020, 1, 1), datetime(2020, 12, 31))
    in_2020 = lib.search(files[0], k=100, filters=SearchFilter(taken_from=lo, taken_to=hi))
    assert in_2020 and all(Path(h.path).parent.name == "b" for h in in_2020)
    assert all(h.taken.year == 2020 for h in in_2020)
    pngs = lib.search(files[0], k=100, filters=SearchFilter(types=(".png",)))
    assert sorted(Path(h.path).name for h in pngs) == ["shot_0.png", "shot_1.png", "shot_2.png"]
    both = SearchFilter(taken_from=lo, taken_to=hi, types=(".jpg", ".jpeg"))
    assert {Path(h.path).suffix for h in lib.search(files[0], k=100, filters=both)} == {".jpg"}
    nothing = SearchFilter(taken_to=datetime(1990, 1, 1).timestamp())
    assert lib.search(files[0], k=10, filters=nothing) == []
    other = tmp_path / "other"
    save_photo(other / "x.jpg", 900, SIZE, quality=90)
    r2 = lib.add_root(other)
    lib.index()
    by_root = lib.search(files[0], k=100, filters=SearchFilter(roots=(r2.id,)))
    assert [Path(h.path).name for h in by_root] == ["x.jpg"]


def test_selective_filters_take_the_candidate_path_and_agree_with_brute_force(filtered_library, monkeypatch):
    """With the over-fetch made tiny, a filter whose matches rank low is answered by searching among
    the catalog's matching ids: the same hits, in the same order, as filtering the full ranking."""
    lib, root, files = filtered_library
    monkeypatch.setattr(search_mod, "MIN_FETCH", 1)
    monkeypatch.setattr(search_mod, "OVERFETCH", 1)
    monkeypatch.setattr(search_mod, "WIDEN_MAX", 0)  # never judged "near enough": the candidate path
    calls = []
    real = lib.catalog.filtered_ids
    monkeypatch.setattr(lib.catalog, "filtered_ids", lambda f, limit: calls.append(f) or real(f, limit))
    f = SearchFilter(folders=(canonical(root / "b"),))
    everything = lib.search(files[0], k=1000)
    expected = [h.image_id for h in everything if under(h, root / "b")][:5]
    got = lib.search(files[0], k=5, filters=f)
    assert [h.image_id for h in got] == expected
    assert calls, "the candidate path was not taken"
    # Too many candidates for the selector, or a filter that keeps a fair share: fetching deeper
    # fills k just the same.
    monkeypatch.setattr(search_mod, "CANDIDATES_MAX", 1)
    assert [h.image_id for h in lib.search(files[0], k=5, filters=f)] == expected
    monkeypatch.setattr(search_mod, "CANDIDATES_MAX", 200_000)
    monkeypatch.setattr(search_mod, "WIDEN_MAX", 10_000)
    calls.clear()
    assert [h.image_id for h in lib.search(files[0], k=5, filters=f)] == expected
    assert not calls  # answered by fetching deeper, no catalog listing


def test_ivf_index_with_few_candidates_scores_them_exactly(open_library, tmp_path, monkeypatch):
    root = tmp_path / "photos"
    files = make_tree(root, n=40)
    lib = open_library(tmp_path / "ivf-library", exact_max=8)
    lib.add_root(root)
    lib.index()
    index = lib.vector_cache.index_for(lib.model_id)
    assert index.info.kind in ("ivf", "exact")  # IVF unless its recall fell short on 40 vectors
    monkeypatch.setattr(search_mod, "MIN_FETCH", 1)
    monkeypatch.setattr(search_mod, "OVERFETCH", 1)
    f = SearchFilter(folders=(canonical(root / "a" / "deeper"),))
    vector = lib.query_vector(files[0])
    brute = sorted(
        ((float(v @ vector), i) for i, v in lib.catalog.vectors_for(lib.model_id, range(1, 100)).items()),
        reverse=True,
    )
    deeper = {lib.catalog.image_id_for_path(canonical(p)) for p in files if p.parent.name == "deeper"}
    expected = [i for _, i in brute if i in deeper][:4]
    assert [h.image_id for h in lib.search_by_vector(vector, k=4, filters=f)] == expected


def test_sorts_reorder_the_k_best(filtered_library):
    lib, _root, files = filtered_library
    best = lib.search(files[0], k=8)
    for key, reverse in [(SortKey.NAME, False), (SortKey.SIZE, False), (SortKey.TAKEN, True)]:
        hits = lib.search(files[0], k=8, sort=key, reverse=reverse)
        assert {h.image_id for h in hits} == {h.image_id for h in best}  # the same k, reordered
    names = [Path(h.path).name for h in lib.search(files[0], k=8, sort="name")]
    assert names == sorted(names, key=natural_key)
    sizes = [h.size for h in lib.search(files[0], k=8, sort=SortKey.SIZE)]
    assert sizes == sorted(sizes, reverse=True)
    taken = [h.taken for h in lib.search(files[0], k=20, sort=SortKey.TAKEN)]
    assert taken == sorted(taken, reverse=True)
    oldest = [h.taken for h in lib.search(files[0], k=20, sort=SortKey.TAKEN, reverse=True)]
    assert oldest == sorted(oldest)
    scores = [h.score for h in lib.search(files[0], k=8, sort=SortKey.SIMILARITY)]
    assert scores == sorted(scores, reverse=True)


def test_sort_helpers():
    assert sorted(["IMG_10.jpg", "IMG_9.jpg", "img_1.jpg"], key=natural_key) == [
        "img_1.jpg",
        "IMG_9.jpg",
        "IMG_10.jpg",
    ]

    class H:
        def __init__(self, taken):
            self.taken, self.score, self.size, self.path = taken, 0.5, 1, "x"

    undated, new, old = H(None), H(datetime(2022, 1, 1)), H(datetime(2020, 1, 1))
    assert sort_hits([undated, old, new], SortKey.TAKEN) == [new, old, undated]
    assert sort_hits([undated, new, old], SortKey.TAKEN, reverse=True) == [old, new, undated]
    lo, hi = date_range(datetime(2021, 4, 1), datetime(2021, 4, 30))
    assert hi - lo == 30 * 86400 or abs(hi - lo - 30 * 86400) <= 3600  # a DST change may fall inside


def test_folders_list_sub_folders_with_counts_and_query_vector_round_trip(filtered_library, monkeypatch):
    lib, root, files = filtered_library
    # Names come from slicing each folder under its root: at 10^4 folders os.path.relpath was 130 ms of
    # Python in the listing's thread, enough to starve the GUI thread's paint of the GIL.
    relpaths = []
    real_relpath = os.path.relpath
    monkeypatch.setattr(os.path, "relpath", lambda *a: relpaths.append(a) or real_relpath(*a))
    listed = lib.image_folders()
    monkeypatch.undo()
    assert relpaths == []
    folders = {Path(f.path).relative_to(canonical(root)).as_posix(): f for f in listed}
    assert set(folders) == {".", "a", "a/deeper", "ab", "b"}
    assert [folders[k].photos for k in (".", "a", "a/deeper", "ab", "b")] == [17, 8, 4, 2, 7]
    assert (folders["."].depth, folders["a"].depth, folders["a/deeper"].depth) == (0, 1, 2)
    assert folders["a/deeper"].name == os.path.join("a", "deeper")
    # The descriptor a search uses gives the same answer through search_by_vector.
    vector = lib.query_vector(files[2])
    assert [h.image_id for h in lib.search_by_vector(vector, k=5)] == [
        h.image_id for h in lib.search(files[2], k=5)
    ]
    # live_images: a deleted photo is no longer live (the query photo itself, ids[0], stays).
    ids = [h.image_id for h in lib.search(files[2], k=3)]
    gone = Path(lib.image(ids[1]).path)
    gone.unlink()
    lib.update([gone])
    assert set(lib.live_images(ids)) == {ids[0], ids[2]}
    assert ids[1] not in {h.image_id for h in lib.search(files[2], k=50)}


def test_a_capture_date_filter_reads_the_date_index(filtered_library):
    # At 10^6 photos a month's filter scanned every row; the index must be on the very expression
    # the filter uses, or SQLite ignores it.
    from irt_desktop.library.catalog.search_filters import filter_sql

    lib, _root, _files = filtered_library
    lo, hi = date_range(datetime(2020, 1, 1), datetime(2020, 12, 31))
    where, params = filter_sql(SearchFilter(taken_from=lo, taken_to=hi))
    sql = f"EXPLAIN QUERY PLAN SELECT id FROM images WHERE {where}"
    plan = lib.catalog.conn.execute(sql, params).fetchall()
    assert any("images_taken" in str(row[-1]) for row in plan), plan


def test_the_folder_listing_takes_a_break_per_stretch_of_work(filtered_library, monkeypatch):
    """Its Python, 10^4 folders at 10^6 photos, held up the GUI thread's paint (library/gil.py)."""
    from irt_desktop.library.catalog import search_filters
    from irt_desktop.library.gil import GilBreaks

    calls = []

    class Counted(GilBreaks):
        def __call__(self) -> None:
            calls.append(1)
            super().__call__()

    monkeypatch.setattr(search_filters, "GilBreaks", Counted)
    lib, _root, _files = filtered_library
    folders = lib.image_folders()
    # Asked once per folder row, per folder listed and per sort key: no stretch of it goes unchecked.
    assert len(calls) >= 2 * len(folders)
