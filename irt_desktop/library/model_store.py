"""Which descriptor models a library has: bundles installed in its models/ folder (what each one is, in
plain words, its size on disk, its display title), and the guidance when there is none (the GUI turns
NoModelError into its "import weights" banner). Torch-free: the GUI's model manager reads it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from irt_desktop.fsutil import make_shareable, temp_prefix
from irt_desktop.library.errors import BundleUnusable, LibraryError, NoModelError
from irt_desktop.retrieval.bundle import (
    CARD_FILE,
    WEIGHTS_FILE,
    BundleError,
    ModelBundle,
    bundle_id,
    list_bundles,
    load_bundle,
)
from irt_desktop.retrieval.card import ModelCard
from irt_desktop.retrieval.provenance import Kind, Provenance
from irt_desktop.retrieval.zoo import DEFAULT_CARD

TITLE_MAX = 120


def no_model_message(models_dir: Path, detail: str = "") -> str:
    lead = f"No descriptor model is installed in this library ({models_dir})."
    if detail:
        lead = f"{detail}\n{lead}"
    try:
        from irt_desktop.retrieval.card import shipped_cards
        from irt_desktop.retrieval.weights import offline_message

        card = shipped_cards()[DEFAULT_CARD]
        how = (
            f"Install the pretrained {card.title or card.name} with `irt-desktop models install {card.name}` "
            f"(downloads the public weights once).\nWithout internet access: {offline_message(card)}"
        )
    except Exception:  # the guidance must not fail because a card or timm is unavailable
        how = "Install one with `irt-desktop models install deit-s` or `irt-desktop models import FILE`."
    direct = "A model bundle folder can also be given directly: `irt-desktop index PATH --model BUNDLE`."
    return f"{lead}\n{how}\n{direct}"


def install_bundle(models_dir: Path, bundle: ModelBundle) -> ModelBundle:
    """The bundle as a copy inside `models_dir` (the library must not depend on a folder elsewhere)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    final = models_dir / bundle.id
    try:
        if final.resolve() == Path(bundle.path).resolve():
            return bundle
    except OSError:
        pass
    if not (final / "card.toml").is_file():
        tmp = Path(tempfile.mkdtemp(prefix=temp_prefix("install"), dir=models_dir))
        try:
            for name in ("model.safetensors", "card.toml"):
                shutil.copy2(Path(bundle.path) / name, tmp / name)
            make_shareable(tmp)  # mkdtemp's 0700 (and a 0600 source) would lock a shared library's others out
            if final.exists():  # a half-copied leftover of an earlier crash
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    installed = load_bundle(final)
    if installed.id != bundle.id:
        raise BundleError(f"{final} holds a different model than {bundle.path}")
    return installed


def bundle_for(models_dir: Path, model_id: str) -> ModelBundle:
    path = models_dir / model_id
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        if not path.is_dir():
            raise NoModelError(no_model_message(models_dir, f"Model {model_id} is not installed.")) from exc
        # There but broken: one line that names it (the card's or the weights' problem).
        raise BundleUnusable(
            f"model {model_id} is not usable: {exc} (reinstall it, or see `irt-desktop models list`)"
        ) from exc
    if bundle.id != model_id:  # its card or weights were changed in place
        raise BundleUnusable(
            f"model {model_id} is not usable: {path} now holds a different model ({bundle.id}); reinstall it"
        )
    return bundle


def default_bundle(models_dir: Path) -> ModelBundle:
    """The model to adopt when a library has none yet: the only one installed, else the default card's."""
    bundles = list_bundles(models_dir)
    if len(bundles) == 1:
        return bundles[0]
    preferred = [b for b in bundles if b.card.name == DEFAULT_CARD]
    if len(preferred) == 1:
        return preferred[0]
    if not bundles:
        raise NoModelError(no_model_message(models_dir))
    names = ", ".join(b.id for b in bundles)
    raise NoModelError(
        f"Several models are installed in {models_dir} ({names}) and none is active; choose one "
        f"(`irt-desktop index --model ID`, or Library.activate_model)."
    )


# -- can a starting point be downloaded now ----------------------------------------------------------------


def weights_in_hub_cache(timm_tag: str) -> bool:
    """Whether timm's published weights for `timm_tag` are in the local Hugging Face cache (timm keeps
    its weights at timm/<tag> on the hub). Torch-free, unlike retrieval.weights.cached_weights."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(f"timm/{timm_tag}", "model.safetensors")
    except Exception:
        return False
    return isinstance(found, str)


def hub_reachable_soon(timeout: float = 1.5) -> bool:
    """Whether the model hub answers a TCP connection within `timeout` seconds, name lookup included:
    socket timeouts do not cover getaddrinfo, so a resolver that hangs would otherwise make an offline
    attempt wait far longer. Torch-free, so a GUI can answer "offline" before loading torch."""
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    answer: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((url.hostname or "", port), timeout=timeout):
                answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, name="hub probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answer and answer[0])


# -- what an installed model is ----------------------------------------------------------------------------


@dataclass(frozen=True)
class InstalledModel:
    """One installed bundle as the model manager and `models list` show it (ModelRegistry.installed
    adds how it stands in the library: serving, being switched to, previous, vectors indexed)."""

    id: str
    name: str
    title: str
    backbone: str
    input_size: int
    dims: int | None  # PCA output dims; None: the backbone's full width
    width: int | None  # the descriptor width it produces, when the header says
    provenance: str  # a few words: "pretrained, verified", "imported, unverified"
    provenance_text: str  # a sentence a person can read
    origin: str  # fewer words, for a table column: "fine-tuned from verified weights"
    kind: str
    verified: bool
    metrics: Mapping[str, float]
    path: Path
    disk_bytes: int
    compute: float | None  # relative cost of embedding one image (parameters x tokens), None if unknown
    serving: bool = False
    target: bool = False
    previous: bool = False
    vectors: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """What `models list --json` prints for it."""
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title,
            "backbone": self.backbone,
            "input_size": self.input_size,
            "dims": self.dims,
            "provenance": self.provenance,
            "provenance_text": self.provenance_text,
            "kind": self.kind,
            "verified": self.verified,
            "metrics": dict(self.metrics),
            "active": self.serving,
            "switching_to": self.target,
            "previous": self.previous,
            "vectors": self.vectors,
            "disk_bytes": self.disk_bytes,
            "path": str(self.path),
        }


def describe(bundle: ModelBundle) -> InstalledModel:
    """What `bundle` is, read from its card and its weights' header (no torch, no weights loaded)."""
    spec = bundle.card.spec
    prov = Provenance.from_dict(bundle.card.provenance)
    metrics = bundle.card.provenance.get("metrics")
    header = _header(Path(bundle.path) / WEIGHTS_FILE)
    return InstalledModel(
        id=bundle.id,
        name=bundle.card.name,
        title=bundle.card.title or bundle.card.name,
        backbone=spec.backbone,
        input_size=spec.input_size,
        dims=spec.dims,
        width=spec.dims or _width(header),
        provenance=prov.label(),
        provenance_text=provenance_text(prov),
        origin=origin_words(prov),
        kind=prov.kind.value,
        verified=prov.verified,
        metrics={str(k): float(v) for k, v in metrics.items() if _is_number(v)}
        if isinstance(metrics, Mapping)
        else {},
        path=Path(bundle.path),
        disk_bytes=_disk_bytes(Path(bundle.path)),
        compute=_compute(header, spec.input_size),
    )


def provenance_text(prov: Provenance) -> str:
    """Where the weights come from, in a sentence, and whether anything checked them."""
    if prov.kind is Kind.PRETRAINED:
        source = f" ({prov.source})" if prov.source else ""
        if not prov.verified:
            return f"Published pretrained weights{source}, not checked against the published file."
        how = {
            "hub": "downloaded from the model hub, which checked the file",
            "sha256": "the file's checksum matches the published one",
        }.get(prov.verified_by, "checked")
        return f"Published pretrained weights{source}: verified ({how})."
    if prov.kind is Kind.IMPORTED:
        name = Path(prov.imported_from).name if prov.imported_from else "a file"
        if prov.verified:
            return f"Imported from {name}: verified, its checksum matches published weights."
        return (
            f"Imported from {name}: not verified. Its checksum matches no published weights, so where "
            "it comes from is not known."
        )
    if prov.kind is Kind.FINETUNED:
        data = f" on {prov.data_name}" if prov.data_name else ""
        variant = f" ({prov.variant})" if prov.variant else ""
        if prov.base is None:
            return f"Fine-tuned here{data}{variant}; its starting model was not recorded."
        base = provenance_text(prov.base).rstrip(".")
        return f"Fine-tuned here{data}{variant}, starting from: {base[0].lower()}{base[1:]}."
    if prov.kind is Kind.RANDOM:
        return "Random weights, never trained: for tests only, its search results mean nothing."
    return "Where these weights come from was not recorded: not verified."


def origin_words(prov: Provenance) -> str:
    """The provenance label, shorter for fine-tunes: what their first base was, not the whole chain."""
    if prov.kind is not Kind.FINETUNED:
        return prov.label()
    base = prov.base
    while base is not None and base.kind is Kind.FINETUNED:
        base = base.base
    if base is None:
        return "fine-tuned, base not recorded"
    if base.kind is Kind.RANDOM:
        return "fine-tuned from random init"
    return "fine-tuned from " + ("verified weights" if base.verified else "unverified weights")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _disk_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def _header(weights: Path) -> dict[str, Any]:
    """The safetensors header (tensor name -> dtype, shape, offsets); {} when unreadable."""
    try:
        with open(weights, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n <= 16 << 20:
                return {}
            header = json.loads(f.read(n))
    except (OSError, ValueError):
        return {}
    return header if isinstance(header, dict) else {}


def _shape(header: Mapping[str, Any], key: str) -> list[int] | None:
    entry = header.get(key)
    shape = entry.get("shape") if isinstance(entry, Mapping) else None
    return [int(s) for s in shape] if isinstance(shape, list) else None


def _width(header: Mapping[str, Any]) -> int | None:
    for key in ("backbone.cls_token", "backbone.norm.weight"):
        shape = _shape(header, key)
        if shape:
            return shape[-1]
    return None


def _compute(header: Mapping[str, Any], input_size: int) -> float | None:
    """Parameters x tokens per image: proportional to a ViT's multiply-adds, enough to scale a measured
    rate from one model to another."""
    patch = _shape(header, "backbone.patch_embed.proj.weight")
    if not patch or len(patch) != 4 or patch[-1] <= 0:
        return None
    params = 0
    for key, entry in header.items():
        shape = entry.get("shape") if isinstance(entry, Mapping) else None
        if key.startswith("backbone.") and isinstance(shape, list):
            params += math.prod(int(s) for s in shape)
    tokens = (input_size // patch[-1]) ** 2 + 1
    return float(params * tokens) if params else None


# -- changing what is installed --------------------------------------------------------------------------


def rename_bundle(bundle: ModelBundle, title: str) -> ModelBundle:
    """Give the bundle another display title. Only card.toml's title changes: the id (from the weights,
    the card's name and its spec) and so the library's vectors stay the same."""
    title = " ".join(str(title).split())
    if not title:
        raise LibraryError("a model's title cannot be empty")
    if len(title) > TITLE_MAX:
        raise LibraryError(f"a model's title can have at most {TITLE_MAX} characters, not {len(title)}")
    path = Path(bundle.path) / CARD_FILE
    card = ModelCard.load(path)
    card.title = title
    if bundle_id(card, card.weights.get("sha256", "")) != bundle.id:
        # Cannot happen while the title stays out of bundle_id; never orphan a library's vectors.
        raise LibraryError(f"renaming {bundle.id} would change its id; nothing was renamed")
    tmp = path.with_name(f".{CARD_FILE}.tmp")
    try:
        card.save(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LibraryError(f"cannot rename the model: {exc}") from exc
    return load_bundle(Path(bundle.path))
