"""The bulk path: an archive too large to embed here is embedded elsewhere (a Ray cluster, see
examples/ray_embed.py) and imported back, with the library the source of truth throughout.

1. `scan()`: walk the roots and record what is there, embedding nothing.
2. `export_manifest()`: the files the indexing model still has to embed, with their full-content
   hashes (computed where the catalog has none, and cached in it when this process may write).
3. An embedding job runs the same bundle and preprocessing (library/bulk_embed.py) over the manifest.
4. `import_vectors()`: every vector is checked before it counts: its bundle id must be the model the
   library indexes with, its file must be a live catalogued photo whose content still hashes to what
   was embedded; then it is committed as an indexing batch commits: one write transaction per batch
   under the vector cache's mutation (rows marked embedded with what decoding found, vectors tagged
   with the model id and a fresh write generation, the in-memory FAISS index updated and marked dirty).
   What is refused, and why, is reported one line each.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from irt_desktop.library.bulk_embed import (
    MANIFEST_COLUMNS,
    VECTOR_COLUMNS,
    manifest_schema,
    pyarrow,
    vector_matrix,
)
from irt_desktop.library.catalog.bulk import ImportTarget, ManifestRow
from irt_desktop.library.errors import LibraryBusy, LibraryError, NoModelError, StorageError
from irt_desktop.library.hashing import stream_hashes
from irt_desktop.library.model_store import no_model_message
from irt_desktop.library.records import ScanReport
from irt_desktop.library.scanner import Scanner

if TYPE_CHECKING:
    from irt_desktop.library.library import Library

# Vectors per write transaction: as an indexing batch, a few hundred rows hold the write lock briefly.
COMMIT_BATCH = 512
# Rows read from a vectors file at a time (bounded memory whatever its size).
READ_BATCH = 8192
HASH_THREADS = 4

Progress = Callable[[int, int], None]  # (done, total or 0 when unknown)


@dataclass(frozen=True)
class Refusal:
    path: str
    reason: str


@dataclass
class ExportReport:
    model_id: str
    exported: int = 0
    hashed: int = 0  # files read for their full-content hash (the rest had one in the catalog)
    unreadable: list[Refusal] = field(default_factory=list)


@dataclass
class ImportReport:
    model_id: str
    imported: int = 0
    already: int = 0  # rows that had a vector from this model already (a repeated import)
    hashed: int = 0
    refused: list[Refusal] = field(default_factory=list)
    pending: int = 0
    seconds: float = 0.0


def indexing_model(library: Library) -> str:
    model_id = library.models.indexing
    if model_id is None:
        raise NoModelError(no_model_message(library.models_dir))
    return model_id


def scan(library: Library, cancel: Any = None) -> ScanReport:
    """Scan every root as indexing does (new, changed, moved, deleted files), embedding nothing."""
    indexer = library.indexer
    with indexer._run_lock:  # one indexing run at a time, this one included
        scanner = Scanner(
            library.catalog,
            transaction=library.vector_cache.mutation,
            on_changes=library.vector_cache.apply_scan_changes,
            exclude=library.excludes.rules(),
            prepare=indexer._load_saved_indexes,
        )
        try:
            outcome = scanner.scan_roots(library.catalog.root_rows(), cancel)
            library.vector_cache.save()
        finally:
            library.storage.after_run()
    return outcome.report


# -- export ---------------------------------------------------------------------------------------------


def export_manifest(library: Library, out: Path, progress: Progress | None = None) -> ExportReport:
    """Write the manifest of the files the indexing model still has to embed to `out` (Parquet)."""
    pa = pyarrow()
    model_id = indexing_model(library)
    report = ExportReport(model_id)
    total = library.catalog.count_pending(model_id)
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        with (
            pa.parquet.ParquetWriter(tmp, manifest_schema(model_id)) as writer,
            ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="irt-hash") as pool,
        ):
            for rows in library.catalog.manifest_slices(model_id):
                hashed = list(pool.map(_current_hashes, rows))
                kept: list[tuple[ManifestRow, tuple[int, int, str, str]]] = []
                for row, (current, error) in zip(rows, hashed, strict=True):
                    if current is None:
                        report.unreadable.append(Refusal(row.path, error))
                    else:
                        kept.append((row, current))
                report.hashed += sum(1 for row, c in kept if (c[2], c[3]) != (row.quick_hash, row.full_hash))
                _cache_hashes(library, kept)
                columns = list(zip(*[(r.path, *c) for r, c in kept], strict=True)) or [[]] * 5
                arrays = [pa.array(c, type=f.type) for c, f in zip(columns, writer.schema, strict=True)]
                writer.write_table(pa.Table.from_arrays(arrays, schema=writer.schema))
                report.exported += len(kept)
                if progress is not None:
                    progress(report.exported + len(report.unreadable), total)
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return report


def _current_hashes(row: ManifestRow) -> tuple[tuple[int, int, str, str] | None, str]:
    """((size, mtime_ns, quick hash, full hash) of the file now, '') or (None, why it cannot be read).
    The catalog's hashes stand for a file whose size and time are the ones catalogued."""
    try:
        st = os.stat(row.path)
        if (st.st_size, st.st_mtime_ns) == (row.size, row.mtime_ns) and row.quick_hash and row.full_hash:
            return (row.size, row.mtime_ns, row.quick_hash, row.full_hash), ""
        with open(row.path, "rb") as f:
            before = os.fstat(f.fileno())
            n, quick, full = stream_hashes(f)
        if n != before.st_size:
            return None, "the file changed while it was read"
        return (before.st_size, before.st_mtime_ns, quick, full), ""
    except FileNotFoundError:
        return None, "the file is gone (run `irt-desktop index` to update the library)"
    except PermissionError:
        return None, "permission denied"
    except OSError as exc:
        return None, f"cannot read the file ({exc.strerror or exc})"


def _cache_hashes(library: Library, kept: list[tuple[ManifestRow, tuple[int, int, str, str]]]) -> None:
    fresh = [
        (r.id, c[0], c[1], c[2], c[3])
        for r, c in kept
        if (c[0], c[1]) == (r.size, r.mtime_ns) and (c[2], c[3]) != (r.quick_hash, r.full_hash)
    ]
    if not fresh:
        return
    # A cache: a reader beside a writer (or on a read-only folder) goes on without storing it.
    with contextlib.suppress(LibraryBusy, StorageError), library.catalog.transaction() as tx:
        library.catalog.cache_content_hashes(tx, fresh)


# -- import ---------------------------------------------------------------------------------------------


@dataclass
class _Accepted:
    target: ImportTarget
    size: int
    mtime_ns: int
    quick_hash: str | None
    full_hash: str
    width: int | None
    height: int | None
    exif_taken: float | None
    vector: np.ndarray


def import_vectors(library: Library, source: Path, progress: Progress | None = None) -> ImportReport:
    """Check and commit the vectors in `source` (a Parquet file or a folder of them)."""
    started = time.monotonic()
    model_id = indexing_model(library)
    dim = library.catalog.model_dim(model_id)
    if dim is None:
        raise NoModelError(no_model_message(library.models_dir, f"Model {model_id} is not registered."))
    report = ImportReport(model_id)
    dataset = _open_vectors(source)
    wrong: dict[str, int] = {}
    total = dataset.count_rows()
    seen = 0
    cache = library.vector_cache
    cache.index_for(model_id)  # loaded (or rebuilt) before the first batch, not inside it
    with ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="irt-hash") as pool:
        for batch in _batches(dataset):
            cols = {name: batch.column(name).to_pylist() for name in batch.schema.names if name != "vector"}
            accepted = _check_batch(library, model_id, dim, cols, batch, wrong, report, pool)
            for start in range(0, len(accepted), COMMIT_BATCH):
                _commit(library, model_id, dim, accepted[start : start + COMMIT_BATCH], report)
            seen += batch.num_rows
            if progress is not None:
                progress(seen, total)
    for bundle_id, n in sorted(wrong.items()):
        report.refused.append(
            Refusal(
                "",
                f"{n} vector{'s' if n != 1 else ''} from model {bundle_id or '(none)'}: this library "
                f"embeds with {model_id} (embed the manifest with that bundle)",
            )
        )
    cache.save()
    library.storage.after_run()
    report.pending = library.catalog.count_pending(model_id)
    report.seconds = time.monotonic() - started
    return report


def _open_vectors(source: Path) -> Any:
    pa = pyarrow()
    import pyarrow.dataset as ds

    source = Path(source)
    if not source.exists():
        raise LibraryError(f"{source}: no such file or folder")
    try:
        dataset = ds.dataset(source, format="parquet", exclude_invalid_files=False)
        names = set(dataset.schema.names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise LibraryError(f"{source} is not a Parquet file of vectors ({_first_line(exc)})") from None
    missing = [c for c in VECTOR_COLUMNS if c not in names]
    if missing:
        hint = (
            " (a manifest: embed it first, see examples/ray_embed.py)"
            if set(MANIFEST_COLUMNS) <= names
            else ""
        )
        raise LibraryError(
            f"{source} has no {', '.join(missing)} column{'s' if len(missing) > 1 else ''}{hint}"
        )
    return dataset


def _batches(dataset: Any) -> Iterator[Any]:
    """The record batches of every file, one row group at a time: the dataset scanner and
    ParquetFile.iter_batches both kept the whole vector column decoded (1.5 GB at 10^6 vectors)."""
    pa = pyarrow()
    for path in dataset.files:
        f = pa.parquet.ParquetFile(path)
        for i in range(f.metadata.num_row_groups):
            table = f.read_row_group(i, columns=list(dataset.schema.names))
            yield from table.to_batches(max_chunksize=READ_BATCH)
            del table


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _check_batch(
    library: Library,
    model_id: str,
    dim: int,
    cols: dict[str, list],
    batch: Any,
    wrong: dict[str, int],
    report: ImportReport,
    pool: ThreadPoolExecutor,
) -> list[_Accepted]:
    n = batch.num_rows
    matrix, shaped = vector_matrix(batch.column("vector"), dim)
    finite = np.isfinite(matrix).all(axis=1)

    def col(name: str) -> list:
        return cols.get(name) or [None] * n

    errors, widths, heights, taken = col("error"), col("width"), col("height"), col("exif_taken")
    candidates: list[int] = []
    for i in range(n):
        path, bundle_id = cols["path"][i], cols["bundle_id"][i]
        if bundle_id != model_id:
            wrong[bundle_id or ""] = wrong.get(bundle_id or "", 0) + 1
        elif not path:
            report.refused.append(Refusal("(no path)", "a row without a path"))
        elif errors[i] and not shaped[i]:
            report.refused.append(Refusal(path, f"not decoded by the embedding job: {errors[i]}"))
        elif not shaped[i]:
            report.refused.append(Refusal(path, f"no vector of {dim} values (the model's size)"))
        elif not finite[i]:
            report.refused.append(Refusal(path, "the vector holds NaN or infinite values"))
        elif not cols["full_hash"][i]:
            report.refused.append(Refusal(path, "no full-content hash to check the file against"))
        else:
            candidates.append(i)
    targets = library.catalog.import_targets(model_id, [cols["path"][i] for i in candidates])
    todo: list[tuple[int, ImportTarget]] = []
    for i in candidates:
        path = cols["path"][i]
        target = targets.get(path)
        if target is None:
            report.refused.append(
                Refusal(path, "not a photo of this library (not scanned yet, excluded, failed, or removed)")
            )
        elif target.has_vector:
            report.already += 1
        else:
            todo.append((i, target))
    accepted = []
    found = pool.map(lambda item: _file_now(cols["path"][item[0]], item[1]), todo)
    for (i, target), (now, why, read) in zip(todo, found, strict=True):
        path = cols["path"][i]
        report.hashed += read
        if now is None:
            report.refused.append(Refusal(path, why))
        elif now[3] != cols["full_hash"][i]:
            report.refused.append(
                Refusal(
                    path, "the file changed after it was embedded (its content hash differs): not imported"
                )
            )
        else:
            accepted.append(
                _Accepted(
                    target,
                    now[0],
                    now[1],
                    now[2],
                    now[3],
                    widths[i],
                    heights[i],
                    _finite(taken[i]),
                    matrix[i],
                )
            )
    return accepted


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _file_now(path: str, target: ImportTarget) -> tuple[tuple[int, int, str | None, str] | None, str, int]:
    """((size, mtime_ns, quick hash, full hash) of the file now, '', files read) or (None, why, read)."""
    try:
        st = os.stat(path)
        if (st.st_size, st.st_mtime_ns) == (target.size, target.mtime_ns) and target.full_hash:
            return (st.st_size, st.st_mtime_ns, target.quick_hash, target.full_hash), "", 0
        with open(path, "rb") as f:
            before = os.fstat(f.fileno())
            n, quick, full = stream_hashes(f)
        if n != before.st_size:
            return None, "the file changed while it was read", 1
        return (before.st_size, before.st_mtime_ns, quick, full), "", 1
    except FileNotFoundError:
        return None, "the file is gone", 0
    except PermissionError:
        return None, "permission denied", 0
    except OSError as exc:
        return None, f"cannot read the file ({exc.strerror or exc})", 0


def _commit(library: Library, model_id: str, dim: int, batch: list[_Accepted], report: ImportReport) -> None:
    """One batch as EmbeddingPipeline._commit writes it: rows, vectors and FAISS in one mutation."""
    if not batch:
        return
    catalog, cache = library.catalog, library.vector_cache
    now = time.time()
    with cache.mutation() as tx:
        seq = catalog.next_seq(tx)
        ids, vecs = [], []
        for a in batch:
            if catalog.mark_embedded(
                tx,
                a.target.id,
                size=a.size,
                mtime_ns=a.mtime_ns,
                quick_hash=a.quick_hash,
                full_hash=a.full_hash,
                width=a.width,
                height=a.height,
                exif_taken=a.exif_taken,
                at=now,
            ):
                ids.append(a.target.id)
                vecs.append(a.vector)
        id_array = np.asarray(ids, np.int64)
        vec_array = np.asarray(vecs, np.float32).reshape(len(ids), dim)
        catalog.put_vectors(tx, model_id, id_array, vec_array, seq)
        if len(ids):
            cache.add(model_id, id_array, vec_array)
    report.imported += len(ids)
