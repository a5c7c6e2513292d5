"""The model registry: which model serves searches, which one a switch is embedding, the bundles behind
them (library/models/<id>/) and the embedders loaded from them, with the library's inference options.

A model never becomes active without being asked for (activate_model, or a library with exactly one
installed model adopting it); the previous one stays installed so a switch can be undone, and its
vectors stay too (the indexer keeps the last two models'), so switching back is immediate. Activating a
model whose vectors are complete switches at once; any other keeps the serving model answering searches
until indexing has embedded every image with it. `ModelManager` adds what the model manager and the
`models` commands do: list, activate, switch back, rename, remove (to the trash), estimate the cost.

Threads: any. The embedder cache has its own lock, taken before the index lock when a model is
adopted; the serving/target settings are written under the vector cache's mutation (index lock, then
write transaction). The model runs on the thread that asked for the embedder (the one indexing worker,
or a search's caller), never on the decode pool.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from irt_desktop.library.catalog import Catalog, Tx
from irt_desktop.library.errors import LibraryError, NoModelError
from irt_desktop.library.model_store import (
    InstalledModel,
    bundle_for,
    default_bundle,
    describe,
    install_bundle,
    no_model_message,
    rename_bundle,
)
from irt_desktop.library.model_trash import TrashError, move_to_trash
from irt_desktop.retrieval.bundle import BundleError, ModelBundle, find_bundle, list_bundles
from irt_desktop.retrieval.serving import Served, checked_backend, open_bundle

if TYPE_CHECKING:
    from irt_desktop.library.library import Library
    from irt_desktop.library.vector_cache import VectorCache
    from irt_desktop.retrieval.serving import DescriptorModel as Embedder

Mutation = Callable[[], contextlib.AbstractContextManager[Tx]]

# Images per second assumed for a DeiT-S-sized model before this computer has measured a rate (a
# 2-core laptop CPU, decoding camera JPEGs included); the estimate says it is a guess.
GUESSED_RATE = 6.0
DEIT_S_COMPUTE = 21.7e6 * 197  # parameters x tokens of DeiT-S at 224 px (model_store._compute)


class ModelInUse(LibraryError):
    """The model serves searches or is being switched to: it cannot be removed now."""


@dataclass(frozen=True)
class Activation:
    """What activating a model did."""

    model_id: str
    previous: str | None  # the model that served when it was asked for
    immediate: bool  # it serves searches now (its vectors were complete)
    pending: int  # images still to embed before it serves (0 when immediate)
    unchanged: bool = False  # it already served (and no switch was running), or was already the target

    def message(self, title: str = "") -> str:
        name = title or self.model_id
        if self.unchanged and self.immediate:
            return f"{name} is already the model in use."
        if self.immediate:
            return f"{name} serves searches now: its vectors were already there, nothing to re-index."
        photos = f"{self.pending:,} photo" + ("" if self.pending == 1 else "s")
        return (
            f"Switching to {name}: {photos} to re-index; search keeps using the current model until "
            "that is done."
        )


@dataclass(frozen=True)
class ActivationCost:
    """What activating a model would cost: the photos to re-embed and about how long that takes here."""

    model_id: str
    pending: int
    n_images: int
    seconds: float | None  # None when nothing needs embedding
    measured: bool  # the rate was measured on this computer (else GUESSED_RATE)
    immediate: bool  # it would serve at once (nothing to embed)


@dataclass(frozen=True)
class Removal:
    model_id: str
    title: str
    trashed: list[Path]  # what went to the trash (bundle folder, FAISS file)
    vectors_dropped: int  # catalog vectors dropped with it

    def message(self) -> str:
        what = "its folder and search index" if len(self.trashed) > 1 else "its folder"
        dropped = (
            f"; its {self.vectors_dropped:,} vectors were dropped from the catalog (re-installing it "
            "means re-indexing with it)"
            if self.vectors_dropped
            else ""
        )
        return f"Removed {self.title} ({self.model_id}): {what} moved to the trash{dropped}."


class ModelRegistry:
    def __init__(
        self,
        catalog: Catalog,
        models_dir: Path,
        mutation: Mutation,
        factory: Callable[[], Embedder] | None = None,
        *,
        device: str | None = None,
        low_precision: bool = True,
        backend: str | None = None,
    ) -> None:
        """`factory` (tests, benchmarks) builds the embedder itself, which then serves as it is.
        `backend`: 'auto' (OpenVINO on x86 CPUs, else torch), 'torch' or 'openvino' (retrieval.serving)."""
        self._catalog = catalog
        self.models_dir = models_dir
        self._mutation = mutation
        self._factory = factory
        self._factory_embedder: Embedder | None = None
        self._embedders: dict[str, Embedder] = {}
        self._lock = threading.Lock()
        self._device = checked_device(device)
        self._low_precision = bool(low_precision)
        try:
            self._backend = checked_backend(backend)
        except ValueError as exc:
            raise LibraryError(str(exc)) from exc
        self._served: dict[str, Served] = {}

    @property
    def serving(self) -> str | None:
        """The model whose vectors answer searches."""
        return self._catalog.serving_model()

    @property
    def target(self) -> str | None:
        """The model being embedded by a switch in progress, else None."""
        return self._catalog.target_model()

    @property
    def indexing(self) -> str | None:
        """The model indexing embeds with: the switch's target, else the serving one."""
        return self.target or self.serving

    @property
    def factory_ready(self) -> bool:
        """False while a factory's embedder has not been built yet (so its model id is not known)."""
        return self._factory is None or self._factory_embedder is not None

    @property
    def previous(self) -> str | None:
        """The model that served before the last switch (switch back returns to it)."""
        return self._catalog.previous_model()

    def activate(self, bundle: ModelBundle) -> Activation:
        """Use `bundle` from now on. If it has a vector for every image already (a switch back), it
        serves at once; otherwise search keeps using the serving model's vectors until indexing has
        embedded every image with the new one, and then switches over."""
        installed = install_bundle(self.models_dir, bundle)
        self._catalog.register_model(installed.id, installed.card.name, bundle_dim(installed), installed.path)
        return self._adopt(installed.id)

    def _adopt(self, model_id: str) -> Activation:
        with self._mutation() as tx:
            serving, target = self.serving, self.target
            if serving is None:
                self._catalog.set_serving_model(tx, model_id)
                return Activation(model_id, None, immediate=True, pending=0)
            if serving == model_id:
                # Asking for the serving model again calls off a switch under way.
                self._catalog.set_serving_model(tx, model_id)
                return Activation(model_id, serving, immediate=True, pending=0, unchanged=target is None)
            pending = self._catalog.count_pending(model_id)
            if pending == 0:
                self._catalog.set_serving_model(tx, model_id)
                self._catalog.set_previous_model(tx, serving)
                return Activation(model_id, serving, immediate=True, pending=0)
            self._catalog.set_target_model(tx, model_id)
            again = target == model_id
            return Activation(model_id, serving, immediate=False, pending=pending, unchanged=again)

    def embedder(self, model_id: str | None = None) -> Embedder:
        """The embedder for `model_id` (None: the model indexing should use), created on first use."""
        with self._lock:
            if self._factory is not None and self._factory_embedder is None:
                embedder = self._factory()
                if not embedder.model_id:
                    raise LibraryError("the embedder factory returned an embedder without a model id")
                self._catalog.register_model(embedder.model_id, embedder.model_id, embedder.dim, None)
                self._factory_embedder = embedder
                self._embedders[embedder.model_id] = embedder
                if self.target != embedder.model_id:
                    self._adopt(embedder.model_id)
            if model_id is None:
                model_id = self.indexing
            if model_id is None:
                bundle = default_bundle(self.models_dir)
                self._catalog.register_model(bundle.id, bundle.card.name, bundle_dim(bundle), bundle.path)
                self._adopt(bundle.id)
                model_id = bundle.id
            if model_id not in self._embedders:
                bundle = bundle_for(self.models_dir, model_id)
                served = open_bundle(
                    bundle, backend=self._backend, device=self._device, low_precision=self._low_precision
                )
                embedder = served.embedder
                self._catalog.register_model(model_id, bundle.card.name, embedder.dim, bundle.path)
                self._embedders[model_id] = embedder
                self._served[model_id] = served
            return self._embedders[model_id]

    def serving_or_adopt(self) -> str:
        """The serving model; with none yet, the factory's or the only installed one is adopted first."""
        model_id = self.serving
        if model_id is None:
            self.embedder(None)  # adopts, or raises NoModelError saying what to install
            model_id = self.serving
        if model_id is None:
            raise NoModelError(no_model_message(self.models_dir))
        return model_id

    def unload(self, model_id: str) -> None:
        """Drop a replaced model's embedder (its bundle stays installed)."""
        with self._lock:
            self._embedders.pop(model_id, None)

    def served(self, model_id: str) -> Served | None:
        """How the loaded embedder of `model_id` serves (backend, why, any fallback), once loaded."""
        return self._served.get(model_id)

    # -- inference options -----------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        """The backend asked for ('auto', 'torch', 'openvino'); `served()` says which one serves."""
        return self._backend

    @property
    def device(self) -> str | None:
        """The device asked for; None: automatic. `embedder().device` is the one in use."""
        return self._device

    @property
    def low_precision(self) -> bool:
        return self._low_precision

    def set_inference(
        self, device: str | None = None, low_precision: bool = True, backend: str | None = None
    ) -> None:
        """Change the device, precision (and backend, when given) without reopening the library.

        The loaded models are dropped and rebuilt on their next use; a running indexing pass takes
        the new one at its next batch (EmbeddingPipeline's refresh), so nothing waits for it to end."""
        device = checked_device(device)
        try:
            backend = self._backend if backend is None else checked_backend(backend)
        except ValueError as exc:
            raise LibraryError(str(exc)) from exc
        with self._lock:
            wanted = (device, bool(low_precision), backend)
            if wanted == (self._device, self._low_precision, self._backend):
                return
            self._device, self._low_precision, self._backend = wanted
            self._served = {}
            # A factory's embedder cannot be rebuilt from here: it stays as the factory made it.
            self._embedders = {k: e for k, e in self._embedders.items() if e is self._factory_embedder}


class ModelManager:
    """The model manager's and the `models` commands' operations on an open library: the registry,
    with the catalog and the vector cache beside it. Any thread (the GUI calls it in its library lane)."""

    def __init__(
        self,
        catalog: Catalog,
        registry: ModelRegistry,
        vectors: VectorCache,
        trash: Callable[[Path], None] = move_to_trash,
    ) -> None:
        self._catalog = catalog
        self.registry = registry
        self._vectors = vectors
        self._trash = trash

    @classmethod
    def of(cls, library: Library, trash: Callable[[Path], None] = move_to_trash) -> ModelManager:
        return cls(library.catalog, library.models, library.vector_cache, trash)

    @property
    def models_dir(self) -> Path:
        return self.registry.models_dir

    def find(self, ref: str) -> ModelBundle:
        """An installed bundle by id, unique id prefix or card name (LibraryError if none or several)."""
        try:
            bundle = find_bundle(self.models_dir, ref)
        except BundleError as exc:
            raise LibraryError(str(exc)) from exc
        if Path(bundle.path).resolve().parent != self.models_dir.resolve():
            raise LibraryError(f"{ref} is not installed in this library ({self.models_dir})")
        return bundle

    def installed(self) -> list[InstalledModel]:
        """Every installed bundle, with how it stands: serving, being switched to, previous, vectors."""
        serving, target, previous = self.registry.serving, self.registry.target, self.registry.previous
        counts = self._catalog.vector_counts()
        out = []
        for bundle in list_bundles(self.models_dir):
            entry = describe(bundle)
            out.append(
                replace(
                    entry,
                    serving=entry.id == serving,
                    target=entry.id == target,
                    previous=entry.id == previous and entry.id != serving,
                    vectors=counts.get(entry.id, 0),
                )
            )
        return out

    def activate(self, ref: str | ModelBundle) -> Activation:
        """Switch to an installed model (or install `ref` if it is a bundle elsewhere, then switch)."""
        bundle = ref if isinstance(ref, ModelBundle) else self.find(ref)
        old = self.registry.serving
        activation = self.registry.activate(bundle)
        if activation.immediate and not activation.unchanged:
            self._vectors.index_for(activation.model_id)  # loaded now: the next search does not wait
            if old and old != activation.model_id:
                self.registry.unload(old)
                self._vectors.evict(old)  # its file stays, for switching back
        return activation

    def switch_back(self) -> Activation:
        """Activate the model that served before the last switch."""
        previous = self.registry.previous
        if not previous or previous == self.registry.serving:
            raise LibraryError("there is no previous model to switch back to")
        try:
            bundle = bundle_for(self.models_dir, previous)
        except NoModelError as exc:
            raise LibraryError(f"the previous model {previous} is no longer installed") from exc
        return self.activate(bundle)

    def rename(self, ref: str, title: str) -> InstalledModel:
        """Change a model's display title; its id, and so its vectors, stay the same."""
        renamed = rename_bundle(self.find(ref), title)
        return next(m for m in self.installed() if m.id == renamed.id)

    def remove(self, ref: str) -> Removal:
        """Move an installed model to the trash, its FAISS file too, and drop its catalog vectors. The
        serving model and one being switched to are refused (ModelInUse)."""
        bundle = self.find(ref)
        model_id = bundle.id
        title = bundle.card.title or bundle.card.name
        if model_id == self.registry.serving:
            raise ModelInUse(
                f"{model_id} is the model in use and cannot be removed; activate another model first"
            )
        if model_id == self.registry.target:
            raise ModelInUse(
                f"{model_id} is being switched to and cannot be removed; activate the model in use "
                "again to call the switch off first"
            )
        try:
            self._trash(Path(bundle.path))
        except (TrashError, OSError) as exc:
            raise LibraryError(f"{title} was not removed: {exc}") from exc
        trashed = [Path(bundle.path)]
        self.registry.unload(model_id)
        self._vectors.evict(model_id)
        index_file = self._vectors.path_for(model_id)
        if index_file.exists():
            try:
                self._trash(index_file)
                trashed.append(index_file)
            except (TrashError, OSError):
                index_file.unlink(missing_ok=True)  # derived from the catalog's vectors: never needed alone
        dropped = self._catalog.vector_counts().get(model_id, 0)
        self._catalog.forget_model(model_id)
        return Removal(model_id, title, trashed, dropped)

    # -- what a switch costs -----------------------------------------------------------------------------

    def activation_cost(self, ref: str) -> ActivationCost:
        bundle = self.find(ref)
        entry = describe(bundle)
        pending = 0 if entry.id == self.registry.serving else self._catalog.count_pending(entry.id)
        n_images = self._catalog.count_pending(None)
        if pending == 0:
            return ActivationCost(entry.id, 0, n_images, None, measured=False, immediate=True)
        rate, measured = self._rate_for(entry)
        return ActivationCost(entry.id, pending, n_images, pending / rate, measured, immediate=False)

    def record_rate(self, model_id: str, images_per_s: float) -> None:
        """A rate indexing measured (what activation_cost scales to other models)."""
        self._catalog.record_embed_rate(model_id, images_per_s)

    def _rate_for(self, entry: InstalledModel) -> tuple[float, bool]:
        recorded = self._catalog.embed_rate()
        if recorded is not None:
            model_id, rate = recorded
            if model_id == entry.id or entry.compute is None:
                return rate, True
            try:
                measured_on = describe(bundle_for(self.models_dir, model_id)).compute
            except NoModelError:
                measured_on = None
            if measured_on:
                return rate * measured_on / entry.compute, True
            return rate, True
        scale = DEIT_S_COMPUTE / entry.compute if entry.compute else 1.0
        return GUESSED_RATE * scale, False


def checked_device(device: str | None) -> str | None:
    """None for automatic; a device torch cannot use here is refused now rather than at the first batch."""
    choice = (device or "").strip().lower()
    if choice in ("", "auto"):
        return None
    kind, _, index = choice.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and (kind != "cuda" or not index.isdigit())):
        raise LibraryError(f"unknown device {device!r}: use cpu, cuda, cuda:N, mps or auto")
    if kind == "cpu":
        return "cpu"  # always there; checking would import torch, which OpenVINO serving avoids
    import torch

    from irt_desktop.device import best_device

    try:
        choice = best_device(choice)
    except RuntimeError as exc:
        raise LibraryError(f"cannot run on {device!r}: {exc}") from exc
    if index and int(index) >= torch.cuda.device_count():
        raise LibraryError(f"cannot run on {device!r}: torch sees {torch.cuda.device_count()} CUDA devices")
    return choice


def bundle_dim(bundle: ModelBundle) -> int:
    """The descriptor width a bundle produces, without loading its weights."""
    spec = bundle.card.spec
    if spec.dims:
        return int(spec.dims)
    width = _width_from_header(Path(bundle.path) / "model.safetensors")
    if width:
        return width
    import torch

    from irt_desktop.retrieval.model import IRT

    # The backbone's width, from a skeleton on the meta device: no memory, no weights loaded.
    with torch.device("meta"):
        return int(IRT(spec).dim)


def _width_from_header(weights: Path) -> int | None:
    """The backbone width from the safetensors header (JSON before the tensors): no torch needed."""
    import json

    try:
        with open(weights, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n <= 16 << 20:
                return None
            header = json.loads(f.read(n))
    except (OSError, ValueError):
        return None
    for key in ("backbone.cls_token", "backbone.norm.weight"):
        shape = header.get(key, {}).get("shape") if isinstance(header.get(key), dict) else None
        if shape:
            return int(shape[-1])
    return None
