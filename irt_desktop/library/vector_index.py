"""The FAISS side: a derived, rebuildable cache of one model's vectors, keyed by image row id.

Storage choice (measured in tests/perf/bench_search.py): vectors are kept as float16 (FAISS scalar
quantizer QT_fp16 with inner product). Single-query exact search is memory-bandwidth bound, and half the
bytes is about half the time; for unit vectors fp16 keeps scores within ~1e-3, far below the gaps that
order real results. Up to EXACT_MAX vectors the search is exhaustive (IndexIDMap2 over the fp16 codes);
above that an IVF index with the same codes is built, its nprobe calibrated at build time until
recall@10 against exhaustive search reaches RECALL_TARGET on a sample of the collection's own vectors.

File format (`vectors/<model-id>.faiss`): 8-byte magic, 4-byte header length, a JSON header (model id,
count and checksum of the catalog rows it was built from, payload digest) and the FAISS index serialized
to bytes. Python does the file I/O, so non-ASCII library paths work wherever Python works, and the write
is atomic: a temporary file in the same folder (`.tmp-<pid>-*.faiss`, so a crash's leftover can be told
from a file being written; library/health.py removes those), given the umask's mode, fsync, rename.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import struct
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from irt_desktop.fsutil import make_shareable, temp_prefix

MAGIC = b"IRTVIDX1"
# Exhaustive fp16 search costs ~0.07 ms per 1k vectors on one core of a laptop-class CPU, so the 10 ms
# budget for a single query ends near 150k vectors; IVF above that (see tests/perf/bench_search.py).
EXACT_MAX = 150_000
# Calibrate above the required 0.95 so that a slightly different query mix still clears it.
RECALL_TARGET = 0.97
# A collection IVF cannot serve this well at any nprobe tried (no neighbourhood structure) is searched
# exhaustively instead: slower, never wrong.
RECALL_FLOOR = 0.95
NPROBE_STEPS = (4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
CALIBRATION_QUERIES = 256
# Read size when a saved index is checked and loaded.
READ_CHUNK = 1 << 20
# Up to this many queries a search runs single-threaded (see VectorIndex.search).
FEW_QUERIES = 4


class IndexFileError(Exception):
    """A saved index that cannot be used (missing, damaged, or built from other catalog rows)."""


@dataclass
class IndexInfo:
    kind: str  # 'exact' | 'ivf'
    dim: int
    model_id: str
    nlist: int = 0
    nprobe: int = 0
    trained_on: int = 0
    # recall@10 of the chosen nprobe against exhaustive search, measured when the index was built
    recall_at_10: float | None = None


class VectorIndex:
    """Thread-safe wrapper: FAISS indexes allow concurrent searches, but not a search during an add."""

    def __init__(self, index: faiss.Index, info: IndexInfo) -> None:
        self._index = index
        self.info = info
        self._lock = threading.RLock()
        # The largest id ever added (None: not known yet). New photos get ids above every earlier one,
        # so an add of ids above it cannot replace anything, and skips remove_ids: that scans the whole
        # index, and IndexIDMap2 rebuilds its id map after it (~0.1 s at 10^6, for every batch).
        self._max_id: int | None = None if index.ntotal else -1

    # -- construction ----------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        model_id: str,
        dim: int,
        ids: np.ndarray,
        vectors: np.ndarray,
        *,
        exact_max: int = EXACT_MAX,
        seed: int = 0,
    ) -> VectorIndex:
        n = len(ids)
        if n <= exact_max:
            index = faiss.IndexIDMap2(_fp16_codes(dim))
            info = IndexInfo("exact", dim, model_id)
            vi = cls(index, info)
        else:
            vi = cls._build_ivf(model_id, dim, vectors, seed)
        if n:
            vi.add(ids, vectors, replace=False)
        if vi.info.kind == "ivf":
            vi._calibrate(ids, vectors, seed)
            if (vi.info.recall_at_10 or 0.0) < RECALL_FLOOR:
                exact = cls(faiss.IndexIDMap2(_fp16_codes(dim)), IndexInfo("exact", dim, model_id))
                exact.add(ids, vectors, replace=False)
                exact.info.trained_on = n
                exact.info.recall_at_10 = vi.info.recall_at_10  # what IVF managed, for the record
                return exact
        return vi

    @classmethod
    def _build_ivf(cls, model_id: str, dim: int, vectors: np.ndarray, seed: int) -> VectorIndex:
        n = len(vectors)
        # ~sqrt(n) lists keeps both the k-means training and the per-query scan small on a laptop CPU.
        nlist = int(min(8192, max(256, 2 ** round(math.log2(math.sqrt(n))))))
        nlist = min(nlist, max(1, n // 32))  # k-means needs points to spare per centroid
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
        index.cp.seed = seed
        index.cp.niter = 10
        rng = np.random.default_rng(seed)
        sample = vectors[np.sort(rng.choice(n, min(n, 64 * nlist), replace=False))]
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        # Cells of nearby descriptors differ in size; IVF's own list ids replace IndexIDMap2 here.
        return cls(index, IndexInfo("ivf", dim, model_id, nlist=nlist, nprobe=16, trained_on=n))

    def _calibrate(self, ids: np.ndarray, vectors: np.ndarray, seed: int) -> None:
        """Smallest nprobe whose recall@10 (query's own row excluded) reaches RECALL_TARGET."""
        rng = np.random.default_rng(seed + 1)
        pick = rng.choice(len(ids), min(len(ids), CALIBRATION_QUERIES), replace=False)
        queries = np.ascontiguousarray(vectors[pick], dtype=np.float32)
        # Brute force straight over the caller's array: an IndexFlatIP would copy it (1.5 GB at 10^6).
        _, truth_rows = faiss.knn(
            queries, np.ascontiguousarray(vectors, dtype=np.float32), 11, faiss.METRIC_INNER_PRODUCT
        )
        truth = [set(ids[r[r != p]][:10].tolist()) for r, p in zip(truth_rows, pick, strict=True)]
        for nprobe in sorted({min(step, self.info.nlist) for step in NPROBE_STEPS}):
            self._index.nprobe = nprobe
            _, found = self._index.search(queries, 11)
            recall = float(
                np.mean(
                    [
                        len(t & set(f[f != ids[p]][:10].tolist())) / max(1, len(t))
                        for t, f, p in zip(truth, found, pick, strict=True)
                    ]
                )
            )
            self.info.nprobe, self.info.recall_at_10 = nprobe, recall
            if recall >= RECALL_TARGET:
                break

    # -- use -------------------------------------------------------------------------------------------

    @property
    def ntotal(self) -> int:
        with self._lock:
            return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray, *, replace: bool = True) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not len(ids):
            return
        with self._lock:
            if self._max_id is None:
                self._max_id = int(self.ids().max(initial=-1))
            if replace and self._index.ntotal and int(ids.min()) <= self._max_id:
                # An id is never stored twice, whatever order the callers' updates come in.
                self._index.remove_ids(faiss.IDSelectorBatch(ids))
            self._index.add_with_ids(vectors, ids)
            self._max_id = max(self._max_id, int(ids.max()))

    def remove(self, ids: np.ndarray) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if not len(ids):
            return 0
        with self._lock:
            return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids, best first; missing slots (fewer than k vectors) have id -1."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        with self._lock:
            if self.info.kind == "ivf":
                self._index.nprobe = self.info.nprobe
            k = max(1, min(k, int(self._index.ntotal) or 1))
            if len(queries) > FEW_QUERIES:
                return self._index.search(queries, k)
            # A few queries run on this thread alone: an OpenMP team on cores that indexing (or any other
            # program) keeps busy waits a scheduler slice at every barrier, ~10 ms, for a sub-ms scan.
            # omp_set_num_threads is per calling thread, so this does not touch other threads' searches.
            previous = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                return self._index.search(queries, k)
            finally:
                faiss.omp_set_num_threads(previous)

    def search_among(self, query: np.ndarray, k: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Like search() for one query, but only over the vectors of `ids` (a filtered search: FAISS
        skips the others itself, so no over-fetch is needed). IVF visits its calibrated nprobe lists."""
        query = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))
        with self._lock:
            k = max(1, min(k, len(ids), int(self._index.ntotal) or 1))
            if self.info.kind == "ivf":
                params = faiss.SearchParametersIVF(sel=selector, nprobe=self.info.nprobe)
            else:
                params = faiss.SearchParameters(sel=selector)
            previous = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)  # one query: see search()
            try:
                return self._index.search(query, k, params=params)
            finally:
                faiss.omp_set_num_threads(previous)

    def range_search(
        self, queries: np.ndarray, threshold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        with self._lock:
            if self.info.kind == "ivf":
                self._index.nprobe = self.info.nprobe
            return self._index.range_search(queries, float(threshold))

    def ids(self) -> np.ndarray:
        with self._lock:
            if isinstance(self._index, faiss.IndexIDMap2):
                return faiss.vector_to_array(self._index.id_map).astype(np.int64)
            inv = self._index.invlists
            out = [
                faiss.rev_swig_ptr(inv.get_ids(i), inv.list_size(i)).copy()
                for i in range(self._index.nlist)
                if inv.list_size(i)
            ]
            return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)

    def suits_size(self, n: int, exact_max: int = EXACT_MAX) -> bool:
        """False when the collection has outgrown (or shrunk out of) this kind of index."""
        if self.info.kind == "exact":
            # An exact index chosen because IVF fell short stays until the collection doubles.
            return n <= max(exact_max * 1.25, self.info.trained_on * 2)
        return exact_max // 2 <= n <= max(self.info.trained_on, 1) * 4

    # -- persistence -----------------------------------------------------------------------------------

    def save(self, path: Path, count: int, checksum: str) -> None:
        """Streamed to the file (the payload digest is patched into the fixed-size header afterwards):
        serializing to bytes first held the index two more times over, ~1.5 GB extra at 10^6 vectors.
        Searches wait meanwhile (the index must not change while it is written)."""
        with self._lock:
            info = asdict(self.info)

        def header(digest: str) -> bytes:
            fields = {**info, "count": count, "checksum": checksum, "payload_blake2b": digest}
            return json.dumps(fields).encode()

        placeholder = header("0" * 32)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix("tmp"), suffix=".faiss", dir=path.parent)
        try:
            make_shareable(tmp, fd)  # mkstemp's 0600 would hide the file from a shared folder's other users
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + struct.pack("<I", len(placeholder)) + placeholder)
                digest = hashlib.blake2b(digest_size=16)

                def write(chunk: bytes) -> int:
                    digest.update(chunk)
                    return f.write(chunk)

                writer = faiss.PyCallbackIOWriter(write)
                with self._lock:
                    faiss.write_index(self._index, writer)
                del writer  # flushes its buffer into `write`
                final = header(digest.hexdigest())
                if len(final) != len(placeholder):  # cannot happen: the digest is 32 hex digits
                    raise OSError("index header changed size")
                f.seek(12)
                f.write(final)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(path.parent)

    @staticmethod
    def saved_checksum(path: Path) -> str | None:
        """The catalog checksum a saved file's header names (None: no file, or no readable header);
        reads the header only."""
        try:
            with path.open("rb") as f:
                header = _read_header(f, path)
        except (OSError, IndexFileError):
            return None
        checksum = header.get("checksum")
        return checksum if isinstance(checksum, str) else None

    @classmethod
    def load(cls, path: Path, model_id: str, count: int, checksum: str) -> VectorIndex:
        """The saved index if it is intact and was built from exactly these catalog rows. Read twice,
        streamed (digest, then FAISS), never held whole as bytes beside the index made from them."""
        try:
            f = path.open("rb")
        except FileNotFoundError:
            raise IndexFileError(f"{path.name} is missing") from None
        except OSError as exc:
            raise IndexFileError(f"{path.name} cannot be read: {exc}") from None
        try:
            with f:
                return cls._load_from(f, path, model_id, count, checksum)
        except OSError as exc:
            raise IndexFileError(f"{path.name} cannot be read: {exc}") from None

    @classmethod
    def _load_from(cls, f, path: Path, model_id: str, count: int, checksum: str) -> VectorIndex:
        header = _read_header(f, path)
        payload_at = f.tell()
        digest = hashlib.blake2b(digest_size=16)
        while chunk := f.read(READ_CHUNK):
            digest.update(chunk)
        if digest.hexdigest() != header.get("payload_blake2b"):
            raise IndexFileError(f"{path.name} is damaged (checksum mismatch)")
        if header.get("model_id") != model_id:
            raise IndexFileError(f"{path.name} belongs to model {header.get('model_id')!r}")
        if header.get("count") != count or header.get("checksum") != checksum:
            raise IndexFileError(f"{path.name} is stale: the catalog changed after it was saved")
        f.seek(payload_at)
        try:
            index = faiss.read_index(faiss.PyCallbackIOReader(f.read))
        except RuntimeError as exc:
            raise IndexFileError(f"{path.name} cannot be decoded: {exc}") from None
        if index.ntotal != count:
            raise IndexFileError(f"{path.name} holds {index.ntotal} vectors, the catalog {count}")
        fields = {k: header[k] for k in IndexInfo.__dataclass_fields__ if k in header}
        return cls(index, IndexInfo(**fields))


def _read_header(f, path: Path) -> dict:
    """The JSON header after the magic and its length; `f` is left at the payload's first byte."""
    start = f.read(12)
    if start[:8] != MAGIC or len(start) < 12:
        raise IndexFileError(f"{path.name} is not an irt-desktop index file")
    (hlen,) = struct.unpack("<I", start[8:12])
    try:
        header = json.loads(f.read(hlen))
    except (ValueError, UnicodeDecodeError):
        raise IndexFileError(f"{path.name} has a damaged header") from None
    if not isinstance(header, dict):
        raise IndexFileError(f"{path.name} has a damaged header")
    return header


def _fp16_codes(dim: int) -> faiss.Index:
    return faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)


def _fsync_dir(path: Path) -> None:
    # Makes the rename itself durable on POSIX; directories cannot be opened this way on Windows.
    if os.name == "posix":
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
