"""Library options the GUI's Settings and the CLI set: exclude patterns, inference device and precision,
and the watcher's reporting mode (settled paths to the caller, who indexes them with pause and progress)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from imagegen import save_photo
from test_library_cli import _run
from test_library_support import SIZE, is_indexed, make_tree, wait_for

from irt_desktop.library import Library, LibraryError, PipelineConfig
from irt_desktop.library.excludes import ExcludeRules
from irt_desktop.library.model_store import install_bundle
from irt_desktop.retrieval.embedder import Embedder


def _live(lib) -> set[str]:
    rows = lib.catalog.conn.execute("SELECT path FROM images WHERE status != 'deleted'")
    return {r[0].rsplit("/", 1)[-1] for r in rows}


@pytest.mark.parametrize(
    ("rel", "is_dir", "excluded"),
    [
        ("notes.tmp", False, True),
        ("a/IMG.TMP", False, True),  # case-insensitive
        ("Screenshots", True, True),
        ("Screenshots", False, False),  # 'Screenshots/' is for folders only
        ("x/screenshots/shot.jpg", False, True),  # inside an excluded folder, at any depth
        ("cache/a.jpg", False, True),
        ("a/b/cache/c/d.jpg", False, True),
        ("a/cachet/d.jpg", False, False),
        ("2019/raw/a.jpg", False, True),
        ("x/2019/raw/a.jpg", False, False),  # a pattern with a slash is anchored at the root
        ("exports/a.jpg", False, True),
        ("x/exports/a.jpg", False, False),
        ("a/Private/z.jpg", False, True),
        ("a/Private.jpg", False, False),
        ("a/b_draft.jpg", False, True),
        ("a/b_draft2.jpg", False, False),
        ("[x].jpg", False, False),
        ("ok.jpg", False, False),
    ],
)
def test_exclude_pattern_semantics(rel, is_dir, excluded):
    rules = ExcludeRules.of(PATTERNS)
    assert rules.excludes(rel, is_dir) is excluded


PATTERNS = [
    *("*.tmp", "Screenshots/", "**/cache/**", "2019/raw", "/exports", "Private", "*_draft.jpg", "  ", "[x")
]


def test_the_walk_asks_each_entry_what_matches_would_answer(tmp_path):
    """matches_entry (the walk's: one joined regex per kind, the relative path built only for rules
    that need it) agrees with matching each rule on its own."""
    import itertools
    import os

    from irt_desktop.library.excludes import relative

    base = str(tmp_path)
    for patterns in (PATTERNS, ["*.tmp"], ["2019/raw"], ["Screenshots/"], []):
        rules = ExcludeRules.of(patterns)
        one_by_one = rules._rules
        names = ["notes.tmp", "Screenshots", "cache", "raw", "exports", "Private", "b_draft.jpg", "ok.jpg"]
        for folder, name, is_dir in itertools.product(["", "2019", "x/cache", "a"], names, (True, False)):
            path = os.path.join(base, folder, name)
            rel = relative(path, base)
            expected = any(
                (is_dir or not r.dirs_only) and r.regex.fullmatch(name if r.by_name else rel)
                for r in one_by_one
            )
            assert rules.matches_entry(name, path, base, is_dir) is expected, (patterns, rel, is_dir)
            assert rules.matches(rel, is_dir) is expected, (patterns, rel, is_dir)


def test_excluded_files_are_skipped_removed_and_restored(open_library, photos, tmp_path):
    save_photo(photos / "Screenshots" / "shot.jpg", 40, SIZE)
    save_photo(photos / "b" / "sunset_draft.JPG", 41, SIZE)
    lib = open_library()
    lib.add_root(photos)
    assert lib.index().embedded == 14

    assert lib.set_exclude_patterns(["*_draft.jpg", "Screenshots/", "**/deeper/**", "*_draft.jpg"])
    assert lib.exclude_patterns == ["*_draft.jpg", "Screenshots/", "**/deeper/**"]
    report = lib.index()
    # deeper/ holds img_001, 004, 007, 010: soft-deleted like missing files, nothing re-embedded.
    assert (report.scan.deleted, report.scan.excluded, report.embedded) == (6, 3, 0)
    assert _live(lib) == {f"img_{i:03d}.jpg" for i in range(12) if i % 3 != 1}
    assert [r.status for r in lib.roots()] == ["indexed"]
    hits = lib.search(photos / "Screenshots" / "shot.jpg", k=50)
    assert len(hits) == 8 and all("deeper" not in str(h.path) and "shot" not in h.path.name for h in hits)

    # Kept in the catalog: another process (the CLI) opening the library sees them.
    with Library.open(lib.path) as other:
        assert other.exclude_patterns == lib.exclude_patterns
    # A new file in an excluded folder, and the watcher's update() of one, stay out.
    new = save_photo(photos / "a" / "deeper" / "new.jpg", 42, SIZE)
    assert lib.update([new]).scan.new == 0 and lib.update([new.parent]).scan.new == 0
    assert lib.index().scan.new == 0

    # Patterns removed: the files come back with their stored vectors.
    assert lib.set_exclude_patterns([])
    back = lib.index()
    assert (back.scan.moved, back.scan.new, back.embedded) == (6, 1, 1)
    assert lib.status().n_indexed == 15


def test_an_update_of_a_file_that_now_matches_removes_it(open_library, photos):
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    target = photos / "b" / "img_002.jpg"
    lib.set_exclude_patterns(["img_002.*"])
    report = lib.update([target])
    assert report.scan.deleted == 1 and "img_002.jpg" not in _live(lib)


def test_a_root_whose_photos_are_all_excluded_is_not_taken_for_offline(open_library, photos):
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    lib.set_exclude_patterns(["a", "b"])
    report = lib.index()
    assert report.scan.offline_roots == [] and report.scan.deleted == 12
    assert lib.roots()[0].status == "indexed" and lib.status().n_images == 0


def test_inference_options_reach_the_models_the_library_loads(tmp_path, tiny_bundle, monkeypatch):
    import irt_desktop.device

    # bf16 attempted regardless of this machine's CPU; a forced $IRT_DEVICE that must lose to device=.
    monkeypatch.setattr(irt_desktop.device, "cpu_has_bf16", lambda: True)
    monkeypatch.setenv("IRT_DEVICE", "mps" if not _has_mps() else "cuda")
    install_bundle(tmp_path / "lib" / "models", tiny_bundle)
    lib = Library.open(tmp_path / "lib", device="cpu", low_precision=False)
    try:
        assert (lib.device, lib.low_precision) == ("cpu", False)
        fp32 = lib.embedder()
        assert fp32.device == "cpu" and fp32.precision == "fp32" and fp32.low_precision_check is None

        lib.set_inference("cpu", low_precision=True)
        low = lib.embedder()
        # A new model: bf16 was tried (and kept only if it agrees with fp32 on the probe batch).
        assert low is not fp32 and low.device == "cpu" and low.low_precision_check is not None
        lib.set_inference("cpu", low_precision=True)
        assert lib.embedder() is low  # no change, no reload

        with pytest.raises(LibraryError, match="unknown device"):
            lib.set_inference("tpu")
        assert lib.device == "cpu"
    finally:
        lib.close()
    with pytest.raises(LibraryError, match="cannot run on"):
        Library.open(tmp_path / "lib", device="cuda:7")


def _has_mps() -> bool:
    import torch

    return torch.backends.mps.is_available()


def test_a_running_pass_takes_the_new_inference_options_at_its_next_batch(
    tmp_path, tiny_bundle, photos, monkeypatch
):
    import irt_desktop.device

    monkeypatch.setattr(irt_desktop.device, "cpu_has_bf16", lambda: True)
    install_bundle(tmp_path / "lib" / "models", tiny_bundle)
    used: list[tuple[int, bool]] = []
    embed_tensor = Embedder.embed_tensor

    def spy(self, x, autocast="auto"):
        if autocast == "auto":  # not the constructor's bf16-against-fp32 probe
            used.append((id(self), self.low_precision_check is None))
        return embed_tensor(self, x, autocast)

    monkeypatch.setattr(Embedder, "embed_tensor", spy)
    lib = Library.open(
        tmp_path / "lib", device="cpu", low_precision=False, pipeline=PipelineConfig(batch_size=3)
    )
    lib.add_root(photos)
    changed = []

    def progress(p) -> None:
        if p.phase == "embed" and not changed:
            changed.append(p.done)
            lib.set_inference("cpu", low_precision=True)  # as the GUI's Settings do, from another thread

    try:
        report = lib.index(progress=progress)
    finally:
        lib.close()
    assert report.embedded == 12 and changed == [3]
    first, rest = used[0], used[1:]
    assert first[1] is True  # the fp32 model (no bf16 check) embedded the first batch
    assert rest and all(u[0] != first[0] and u[1] is False for u in rest), used


def test_reporting_watcher_hands_settled_paths_to_the_caller(open_library, tmp_path):
    photos = tmp_path / "photos"
    make_tree(photos, n=3)
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    lib.set_exclude_patterns(["*_draft.jpg"])
    received: list[list[str]] = []
    got = threading.Event()

    def on_paths(paths: list[str]) -> None:
        received.append(paths)
        got.set()

    with lib.watch(on_paths=on_paths, debounce_s=0.3) as watcher:
        wait_for(got.is_set, what="reconciliation paths")
        assert received == [[str(photos)]]  # the whole root, for the caller's reconciliation scan
        got.clear()
        save_photo(photos / "b" / "holiday_draft.jpg", 51, SIZE)
        source = save_photo(tmp_path / "src.jpg", 50, (640, 480), quality=95).read_bytes()
        new = photos / "b" / "copied.jpg"
        with open(new, "wb") as f:  # written in chunks: reported once, when it has settled
            for i in range(0, len(source), 4096):
                f.write(source[i : i + 4096])
                f.flush()
        wait_for(got.is_set, what="the new photo reported")
        wait_for(watcher.idle.is_set, what="watcher idle")
        # Reported, not indexed: that is the caller's job.
        assert received[1:] == [[str(new)]] and not is_indexed(lib, new)
        assert lib.catalog.image_id_for_path(str(new)) is None

        # The caller indexes it on its own thread, with pause honoured.
        pause = threading.Event()
        pause.set()
        phases: list[str] = []
        result = []

        def run_update() -> None:
            result.append(lib.update(received[-1], progress=lambda p: phases.append(p.phase), pause=pause))

        runner = threading.Thread(target=run_update)
        runner.start()
        wait_for(lambda: lib.catalog.image_id_for_path(str(new)) is not None, what="the photo scanned")
        wait_for(lambda: "load-model" in phases, what="embedding started")
        runner.join(0.5)
        assert runner.is_alive() and not is_indexed(lib, new)  # held by the pause
        pause.clear()
        runner.join(30)
        assert result and result[0].embedded == 1 and is_indexed(lib, new)
        assert lib.search(new, k=1)[0].path == new
    assert watcher.runs == 2


def test_cli_exclude_is_stored_for_the_library(tmp_path, tiny_bundle, capsys):
    photos = tmp_path / "photos"
    make_tree(photos, n=6)
    lib = str(tmp_path / "lib")
    args = ("--library", lib, "index", str(photos), "--model", str(tiny_bundle.path))
    code, out, err = _run(capsys, *args, "--exclude", "deeper/", "--json", "--device", "cpu")
    assert code == 0, err
    assert (json.loads(out)["embedded"], json.loads(out)["excluded"]) == (4, 1)
    code, out, err = _run(capsys, "--library", lib, "status", "--json")
    assert json.loads(out)["exclude_patterns"] == ["deeper/"] and json.loads(out)["n_images"] == 4
    # A later run without --exclude keeps honouring it; --clear-excludes brings the folder back.
    code, out, err = _run(capsys, "--library", lib, "index", "--json")
    assert json.loads(out)["new"] == 0
    code, out, err = _run(capsys, "--library", lib, "index", "--clear-excludes", "--json")
    assert json.loads(out)["embedded"] == 2
    code, out, err = _run(capsys, "--library", lib, "index", "--device", "warp")
    assert code == 2 and "unknown device" in err


def test_a_folder_added_while_watching_is_watched_at_once(open_library, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    make_tree(first, n=2)
    make_tree(second, n=2, seed0=20)
    lib = open_library()
    lib.add_root(first)
    received: list[list[str]] = []
    # The offline retry (which would also pick the folder up) is far beyond the test's reach.
    with lib.watch(
        on_paths=received.append, debounce_s=0.2, offline_retry_s=3600, reconcile=False
    ) as watcher:
        root = lib.add_root(second)
        assert root.id in watcher.watched_roots and len(watcher.watched_roots) == 2
        new = save_photo(second / "b" / "new.jpg", 60, SIZE)
        # b/ is created with it, so the folder may come in the same batch: either covers the photo.
        wait_for(lambda: any(str(new) in batch for batch in received), what="the new folder's photo reported")


def test_default_exclude_patterns_only_seed_a_library_without_its_own(tmp_path):
    with Library.open(tmp_path / "new", default_exclude_patterns=["*.tmp", "Private"]) as lib:
        assert lib.exclude_patterns == ["*.tmp", "Private"]
        assert lib.set_exclude_patterns([])  # none, on purpose
        assert not lib.set_exclude_patterns([])
    with Library.open(tmp_path / "new", default_exclude_patterns=["*.tmp"]) as lib:
        assert lib.exclude_patterns == []
        lib.set_exclude_patterns(["Screenshots/"])
    with Library.open(tmp_path / "new", default_exclude_patterns=["*.tmp"]) as lib:
        assert lib.exclude_patterns == ["Screenshots/"]


@pytest.mark.parametrize("overlap", [None, True])
def test_eager_torch_on_a_cpu_decodes_a_batch_then_embeds_it(
    tmp_path, tiny_bundle, photos, monkeypatch, overlap
):
    """Eager torch's OpenMP threads stall when a decode thread takes one of their cores: on a CPU the
    next batch is decoded only once this one is embedded (bench_indexing: +10-15 % images per
    CPU-second, same rounds). Asked to overlap, decodes run beside the model as on every other backend."""
    import irt_desktop.library.pipeline as pipeline

    install_bundle(tmp_path / "lib" / "models", tiny_bundle)
    embedding = threading.Event()
    during: list[bool] = []
    decode, commit = pipeline.DecodeStage.decode, pipeline.EmbeddingPipeline._commit

    def spy_decode(self, *args, **kwargs):
        during.append(embedding.is_set())
        return decode(self, *args, **kwargs)

    def spy_commit(self, batch, result):
        embedding.set()
        try:
            time.sleep(0.05)  # room for a decode to start, if one may
            return commit(self, batch, result)
        finally:
            embedding.clear()

    monkeypatch.setattr(pipeline.DecodeStage, "decode", spy_decode)
    monkeypatch.setattr(pipeline.EmbeddingPipeline, "_commit", spy_commit)
    lib = Library.open(
        tmp_path / "lib",
        device="cpu",
        low_precision=False,
        pipeline=PipelineConfig(batch_size=3, prefetch_batches=1, overlap_decode=overlap),
    )
    lib.add_root(photos)
    try:
        report = lib.index()
    finally:
        lib.close()
    assert report.embedded == 12 and len(during) == 12
    assert any(during) is bool(overlap), during
