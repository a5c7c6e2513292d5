"""The bulk path's file formats, and the embedding side that runs anywhere (a Ray worker, another
computer): the same bundle, the same decode and Tensorizer path, the same serving embedder as indexing.

Manifest (`irt-desktop export-manifest`): one row per file the library's model still has to embed:
path, size, mtime_ns, quick_hash, full_hash; the model id in the file's metadata (`irt.model_id`).

Vectors (what an embedding job writes, `irt-desktop import-vectors` reads): path, full_hash (of the
bytes actually decoded), bundle_id, vector (float32 list, null where the file could not be decoded),
error, and what decoding found that indexing records too: size, mtime_ns, quick_hash, width, height,
exif_taken. A file or a folder of Parquet files (what Ray's write_parquet makes).

Threads: a ManifestEmbedder belongs to one thread (one Ray actor); it decodes and embeds in turn.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from irt_desktop.library.decode import Tensorizer, decode_file

MODEL_KEY = b"irt.model_id"
KIND_KEY = b"irt.kind"
MANIFEST_COLUMNS = ("path", "size", "mtime_ns", "quick_hash", "full_hash")
VECTOR_COLUMNS = ("path", "full_hash", "bundle_id", "vector")
MANIFEST_BATCH = 8192  # rows a manifest is read in


def pyarrow() -> Any:
    """pyarrow, or a LibraryError saying how to install it (it comes with the `cluster` extra)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet  # registers pa.parquet
    except ImportError:
        from irt_desktop.library.errors import LibraryError

        raise LibraryError(
            "Parquet support needs pyarrow: pip install 'irt-desktop[cluster]' (or pip install pyarrow)"
        ) from None
    return pa


def manifest_schema(model_id: str) -> Any:
    pa = pyarrow()
    return pa.schema(
        [
            ("path", pa.string()),
            ("size", pa.int64()),
            ("mtime_ns", pa.int64()),
            ("quick_hash", pa.string()),
            ("full_hash", pa.string()),
        ],
        metadata={MODEL_KEY: model_id.encode(), KIND_KEY: b"manifest"},
    )


def vectors_schema(dim: int, model_id: str) -> Any:
    pa = pyarrow()
    return pa.schema(
        [
            ("path", pa.string()),
            ("full_hash", pa.string()),
            ("bundle_id", pa.string()),
            ("vector", pa.list_(pa.float32(), dim)),
            ("error", pa.string()),
            ("size", pa.int64()),
            ("mtime_ns", pa.int64()),
            ("quick_hash", pa.string()),
            ("width", pa.int32()),
            ("height", pa.int32()),
            ("exif_taken", pa.float64()),
        ],
        metadata={MODEL_KEY: model_id.encode(), KIND_KEY: b"vectors"},
    )


class ManifestEmbedder:
    """Embeds manifest paths exactly as the library's indexing does, with the bundle at `bundle_path`.

    `model_id`: the manifest's; a bundle with another id is refused (the vectors would be refused at
    import anyway, after all the work). `backend`, `device`, `low_precision`: as for the library (keep
    them the same as the library's, or the vectors differ by the precision's rounding)."""

    def __init__(
        self,
        bundle_path: str | Path,
        *,
        model_id: str | None = None,
        backend: str | None = None,
        device: str | None = None,
        low_precision: bool = True,
        batch_size: int = 32,
    ) -> None:
        from irt_desktop.retrieval.bundle import load_bundle
        from irt_desktop.retrieval.serving import open_bundle

        bundle = load_bundle(Path(bundle_path))
        if model_id is not None and bundle.id != model_id:
            raise ValueError(
                f"the bundle at {bundle_path} is model {bundle.id}, the manifest's is {model_id}"
            )
        self.served = open_bundle(
            bundle, backend=backend, device=device, low_precision=low_precision, batch_size=batch_size
        )
        self.embedder = self.served.embedder
        self.model_id = bundle.id
        self.batch_size = max(1, batch_size)
        self.tensorize = Tensorizer(self.embedder.spec)

    def embed(self, paths: Sequence[str]) -> Any:
        """A pyarrow Table of `paths` in the vectors format (one row per path, in order)."""
        pa = pyarrow()
        decoded = [decode_file(n, str(p), self.tensorize) for n, p in enumerate(paths)]
        dim = self.embedder.dim
        vectors = np.zeros((len(decoded), dim), np.float32)
        good = [d for d in decoded if d.tensor is not None]
        for start in range(0, len(good), self.batch_size):
            part = good[start : start + self.batch_size]
            out = self.embedder.embed_array(np.stack([d.tensor for d in part]))
            vectors[[d.image_id for d in part]] = out
        ok = np.asarray([d.tensor is not None for d in decoded])
        flat = pa.array(vectors.reshape(-1), pa.float32())
        column = pa.FixedSizeListArray.from_arrays(flat, dim, mask=pa.array(~ok))
        return pa.Table.from_arrays(
            [
                pa.array([str(p) for p in paths], pa.string()),
                pa.array([d.full_hash for d in decoded], pa.string()),
                pa.array([self.model_id] * len(decoded), pa.string()),
                column,
                pa.array([d.error for d in decoded], pa.string()),
                pa.array([d.size or None for d in decoded], pa.int64()),
                pa.array([d.mtime_ns or None for d in decoded], pa.int64()),
                pa.array([d.quick_hash for d in decoded], pa.string()),
                pa.array([d.width for d in decoded], pa.int32()),
                pa.array([d.height for d in decoded], pa.int32()),
                pa.array([d.exif_taken for d in decoded], pa.float64()),
            ],
            schema=vectors_schema(dim, self.model_id),
        )


def vector_matrix(column: Any, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(float32 rows x dim, bool rows: usable) from a Parquet vector column, whichever list type the
    writer chose (fixed-size list, list, large list, or Ray's tensor extension over one of them)."""
    pa = pyarrow()
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if isinstance(arr.type, pa.ExtensionType):
        arr = arr.storage
    n = len(arr)
    out = np.zeros((n, dim), np.float32)
    valid = np.zeros(n, bool)
    if n == 0:
        return out, valid
    if pa.types.is_fixed_size_list(arr.type):
        lengths = np.full(n, arr.type.list_size)
    elif pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type):
        lengths = np.diff(np.asarray(arr.offsets))
    else:
        return out, valid
    nulls = np.asarray(arr.is_null())
    valid = (lengths == dim) & ~nulls
    if valid.any():
        rows = arr.filter(pa.array(valid))
        values = np.asarray(rows.flatten().cast(pa.float32()).to_numpy(zero_copy_only=False), np.float32)
        out[valid] = values.reshape(-1, dim)
    return out, valid


def iter_manifest(path: Path) -> Iterator[dict[str, list]]:
    """The manifest's rows, READ_BATCH at a time, as column lists (for embedding jobs and tests)."""
    pa = pyarrow()
    f = pa.parquet.ParquetFile(path)
    for batch in f.iter_batches(batch_size=MANIFEST_BATCH):
        yield batch.to_pydict()


def manifest_model(path: Path) -> str | None:
    """The model id a manifest was exported for."""
    pa = pyarrow()
    meta = pa.parquet.read_schema(path).metadata or {}
    value = meta.get(MODEL_KEY)
    return value.decode() if value else None
