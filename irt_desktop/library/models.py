"""The model registry: which model serves searches, which one a switch is embedding, the bundles behind
them (library/models/<id>/) and the embedders loaded from them, with the library's inference options.

A model never becomes active without being asked for (activate_model, or a library with exactly one
installed model adopting it); the previous one stays installed so a switch can be undone.

Threads: any. The embedder cache has its own lock, taken before the index lock when a model is
adopted; the serving/target settings are written under the vector cache's mutation (index lock, then
write transaction). The model runs on the thread that asked for the embedder (the one indexing worker,
or a search's caller), never on the decode pool.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from irt_desktop.library.catalog import Catalog, Tx
from irt_desktop.library.errors import LibraryError, NoModelError
from irt_desktop.library.model_store import bundle_for, default_bundle, install_bundle, no_model_message
from irt_desktop.retrieval.bundle import ModelBundle
from irt_desktop.retrieval.serving import Served, checked_backend, open_bundle

if TYPE_CHECKING:
    from irt_desktop.retrieval.serving import DescriptorModel as Embedder

Mutation = Callable[[], contextlib.AbstractContextManager[Tx]]


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

    def activate(self, bundle: ModelBundle) -> None:
        """Use `bundle` from now on. With vectors of another model present, search keeps using those
        until indexing has embedded every image with the new one; then it switches over."""
        installed = install_bundle(self.models_dir, bundle)
        self._catalog.register_model(installed.id, installed.card.name, bundle_dim(installed), installed.path)
        self._adopt(installed.id)

    def _adopt(self, model_id: str) -> None:
        serving = self.serving
        with self._mutation() as tx:
            if serving is None or serving == model_id:
                self._catalog.set_serving_model(tx, model_id)
            else:
                self._catalog.set_target_model(tx, model_id)

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
