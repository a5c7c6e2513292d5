"""Reports on the library: its status and counts, the files that could not be read, one image's
record, duplicate groups.

Threads: any thread, alongside indexing. They only read (duplicates also caches full-content hashes,
reading whole files, so the GUI asks for it from a worker).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from PIL import Image

from irt_desktop.images import ImageError, open_image
from irt_desktop.library.calibration import OTHERS_SAMPLE as CAL_OTHERS
from irt_desktop.library.calibration import SAMPLE as CAL_SAMPLE
from irt_desktop.library.calibration import SETTING, calibrate, from_json, to_json
from irt_desktop.library.catalog import Catalog
from irt_desktop.library.duplicates import exact_groups, find_duplicates
from irt_desktop.library.errors import LibraryBusy, LibraryError, StorageError
from irt_desktop.library.models import ModelRegistry
from irt_desktop.library.records import (
    Calibration,
    DuplicateReport,
    Failure,
    ImageInfo,
    ImageStatus,
    LibraryStatus,
)
from irt_desktop.library.roots import Roots
from irt_desktop.library.vector_cache import VectorCache
from irt_desktop.library.vector_index import VectorIndex

DEFAULT_THRESHOLD = 0.95  # only when no calibration could be made (no model, nothing decodable)
KEEP_FOLDERS = "duplicates.keep_folders"  # JSON list: always keep the copies in these folders
ROTATIONS_MAX = 500  # each photo decoded and embedded 4 more times: on by default for small libraries only
DECODE_SIDE = 256
EMBED_BATCH = 32
Embed = Callable[[Sequence[Image.Image]], np.ndarray]


class Reports:
    def __init__(self, catalog: Catalog, models: ModelRegistry, vectors: VectorCache, roots: Roots) -> None:
        self._catalog = catalog
        self._models = models
        self._vectors = vectors
        self._roots = roots

    def status(self) -> LibraryStatus:
        serving, target = self._models.serving, self._models.target
        counts = self._catalog.status_counts()
        vi = self._vectors.loaded(serving) if serving else None  # never loads an index just to report
        return LibraryStatus(
            n_images=sum(counts.values()),
            n_indexed=self._catalog.count_vectors(serving) if serving else 0,
            n_pending=self._catalog.count_pending(target or serving),
            n_failed=counts.get(ImageStatus.FAILED, 0),
            model_id=serving,
            roots=self._roots.records(target or serving),
            target_model_id=target,
            index_kind=None if vi is None else vi.info.kind,
        )

    def failures(self) -> list[Failure]:
        return self._catalog.failures()

    def image(self, image_id: int) -> ImageInfo:
        info = self._catalog.image_infos([image_id]).get(image_id)
        if info is None:
            raise LibraryError(f"there is no image with id {image_id}")
        return info

    def duplicates(
        self,
        threshold: float | None = None,
        *,
        embed: Embed | None = None,
        keep_folders: Sequence[str] | None = None,
        rotations: bool | None = None,
        recalibrate: bool = False,
        lookalike_threshold: float | None = None,
    ) -> DuplicateReport:
        """Exact copies, near-copy groups and look-alike groups (serving model), each with its suggested
        keeper.

        `threshold`, `lookalike_threshold`: None uses the calibrated ones (library.calibration;
        computed once per model with `embed`, stored in the catalog, again with `recalibrate`).
        `keep_folders`: always keep the copies in these folders (stored for next time; None: the
        stored ones). `rotations`: also look
        for rotated and mirrored copies, decoding and embedding each photo three more times (None: only
        for libraries of up to ROTATIONS_MAX photos)."""
        model_id = self._models.serving
        vi = self._vectors.index_for(model_id) if model_id else None
        if keep_folders is None:
            keep_folders = json.loads(self._catalog.setting(KEEP_FOLDERS) or "[]")
        else:
            keep_folders = [str(f) for f in keep_folders]
            self._catalog.set_setting(KEEP_FOLDERS, json.dumps(keep_folders))
        calibration = None
        if model_id is not None and vi is not None:
            key = SETTING.format(model_id=model_id)
            calibration = None if recalibrate else from_json(self._catalog.setting(key))
            if calibration is not None and calibration.lookalike_threshold is None and embed is not None:
                calibration = None  # made before look-alikes existed: derive both again
            if calibration is None and embed is not None:
                calibration = self._calibrate(model_id, vi, embed)
                if calibration is not None:
                    # A cache: a reader beside a writer (or on a read-only folder) skips storing it.
                    with contextlib.suppress(LibraryBusy, StorageError):
                        self._catalog.set_setting(key, to_json(calibration))
        if threshold is None:
            threshold = calibration.threshold if calibration is not None else DEFAULT_THRESHOLD
        if lookalike_threshold is None and calibration is not None:
            lookalike_threshold = calibration.lookalike_threshold
        transformed = None
        if embed is not None and vi is not None:
            if rotations is None:
                rotations = vi.ntotal <= ROTATIONS_MAX
            if rotations:
                transformed = functools.partial(self._transformed, embed)
        return find_duplicates(
            self._catalog,
            vi,
            model_id,
            threshold,
            keep_folders=keep_folders,
            transformed=transformed,
            calibration=calibration,
            lookalike_threshold=lookalike_threshold,
        )

    def _decoded(self, ids: Sequence[int]) -> Iterator[tuple[int, Image.Image]]:
        infos = self._catalog.image_infos(list(ids))
        for image_id in ids:
            info = infos.get(int(image_id))
            if info is None:
                continue
            try:
                yield int(image_id), open_image(str(info.path), min_side=DECODE_SIDE)
            except (ImageError, OSError):
                continue

    def _calibrate(self, model_id: str, vi: VectorIndex, embed: Embed) -> Calibration | None:
        ids, vectors = self._catalog.live_vectors(model_id, vi.info.dim)
        if not len(ids):
            return None
        rng = np.random.default_rng(0)
        order = rng.permutation(len(ids))
        photos = []
        for image_id, im in self._decoded([int(ids[i]) for i in order[: CAL_SAMPLE * 2]]):
            row = int(np.searchsorted(ids, image_id))
            photos.append((image_id, im, vectors[row]))
            if len(photos) == CAL_SAMPLE:
                break
        exact = {i for g in exact_groups(self._catalog) for i in g}
        sample = np.sort(order[:CAL_OTHERS])
        others = (ids[sample], vectors[sample])
        return calibrate(model_id, photos, lambda ims: embed(list(ims)), vi.search, exact, others)

    def _transformed(self, embed: Embed, ids: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, str]]:
        """Descriptors of each photo rotated a quarter turn either way, half a turn, and mirrored."""
        turns = {
            "rotated": (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270, Image.Transpose.ROTATE_180),
            "mirrored": (Image.Transpose.FLIP_LEFT_RIGHT,),
        }
        out: dict[str, tuple[list[int], list[np.ndarray]]] = {how: ([], []) for how in turns}
        batch: list[tuple[int, Image.Image]] = []

        def flush() -> None:
            for how, ops in turns.items():
                for op in ops:
                    vecs = embed([im.transpose(op) for _, im in batch])
                    out[how][0].extend(i for i, _ in batch)
                    out[how][1].append(np.asarray(vecs, np.float32))
            batch.clear()

        for item in self._decoded([int(i) for i in ids]):
            batch.append(item)
            if len(batch) == EMBED_BATCH:
                flush()
        if batch:
            flush()
        return [(np.asarray(q, np.int64), np.concatenate(v), how) for how, (q, v) in out.items() if q]
