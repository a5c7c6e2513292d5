"""Getting pretrained weights: the Hugging Face cache through timm's config, or a file the user imports.

Offline is detected up front with a 2-second probe: huggingface_hub's own retries would otherwise make an
offline attempt hang for about 45 s before failing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

import torch

from irt_desktop.retrieval.bundle import ModelBundle, save_bundle, sha256_file
from irt_desktop.retrieval.card import ModelCard
from irt_desktop.retrieval.model import IRT, ModelSpec
from irt_desktop.retrieval.provenance import Kind, Provenance

Progress = Callable[[int, int], None]  # (bytes done, bytes total; 0 when unknown)
WEIGHTS_FILENAME = "model.safetensors"


class WeightsUnavailable(RuntimeError):
    """Pretrained weights are neither cached nor downloadable now; the message says what to do."""


def hub_location(card: ModelCard) -> tuple[str, str]:
    import timm

    tag = card.weights.get("timm_tag")
    if not tag:
        raise WeightsUnavailable(f"model card {card.name!r} names no pretrained weights (weights.timm_tag)")
    cfg = timm.models.get_pretrained_cfg(tag)
    if cfg is None or not cfg.hf_hub_id:
        raise WeightsUnavailable(f"timm knows no Hugging Face weights for {tag!r}")
    return cfg.hf_hub_id, cfg.hf_hub_filename or WEIGHTS_FILENAME


def cached_weights(card: ModelCard) -> Path | None:
    """The weights file if it is already in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    repo_id, filename = hub_location(card)
    found = try_to_load_from_cache(repo_id, filename)
    return Path(found) if isinstance(found, str) else None


def hub_reachable(timeout: float = 2.0) -> bool:
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def offline_message(card: ModelCard) -> str:
    repo_id, filename = hub_location(card)
    return (
        f"The weights of {card.title or card.name} are not on this computer and the model hub cannot be "
        f"reached, so they cannot be downloaded now.\n"
        f"Either connect to the internet and try again, or download the file {filename} from "
        f"https://huggingface.co/{repo_id} on another machine (the official DeiT .pth checkpoint works too) "
        f"and import it:\n    irt-desktop models import PATH --card {card.name}"
    )


def fetch_weights(card: ModelCard, progress: Progress | None = None, probe_timeout: float = 2.0) -> Path:
    """Path to the card's weights file, downloading into the Hugging Face cache if needed."""
    cached = cached_weights(card)
    if cached is not None:
        return cached
    if not hub_reachable(probe_timeout):
        raise WeightsUnavailable(offline_message(card))
    from huggingface_hub import hf_hub_download

    repo_id, filename = hub_location(card)
    try:
        return Path(hf_hub_download(repo_id, filename, tqdm_class=_progress_tqdm(progress)))
    except Exception as exc:  # any network/HTTP failure becomes the same actionable message
        raise WeightsUnavailable(
            f"Download of {repo_id}/{filename} failed: {exc}\n\n{offline_message(card)}"
        ) from exc


def _progress_tqdm(progress: Progress | None):
    from tqdm.auto import tqdm

    if progress is None:
        return tqdm

    class _Reporting(tqdm):  # huggingface_hub drives this with byte counts
        def update(self, n: float | None = 1) -> bool | None:
            out = super().update(n)
            progress(int(self.n), int(self.total or 0))
            return out

    return _Reporting


class WeightsFileError(ValueError):
    """A file that cannot be read as model weights; the message is one short sentence."""


# Official DeiT checkpoints wrap weights as {"model": ...}; training checkpoints as {"state_dict": ...}.
_WRAPPERS = ("model", "state_dict", "model_ema")


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A timm/DeiT checkpoint as a state dict: safetensors, or a .pth read with weights_only=True.

    The format is taken from the content, not the name (a .pth renamed .safetensors still reads, random
    bytes do not). Never unpickles arbitrary objects: a file a user was handed must not run code.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such weights file: {path}")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(16)
    if size < 16:
        raise WeightsFileError(f"{path.name} is {size} bytes: too short to be model weights")
    if head[8:9] == b"{":
        return _read_safetensors(path, int.from_bytes(head[:8], "little"), size)
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":
        return _read_torch(path)
    raise WeightsFileError(f"{path.name} is neither a safetensors file nor a PyTorch checkpoint")


def _read_safetensors(path: Path, header_len: int, size: int) -> dict[str, torch.Tensor]:
    if header_len > size - 8:
        raise WeightsFileError(
            f"{path.name}: the safetensors header claims {header_len:,} bytes but the file has {size:,}: "
            f"the file is truncated or damaged"
        )
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, ValueError, OSError, RuntimeError) as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise WeightsFileError(f"{path.name} is a damaged safetensors file ({reason})") from exc


def _read_torch(path: Path) -> dict[str, torch.Tensor]:
    import pickle

    try:
        # From an open file: torch.load goes by the name otherwise (a .pth renamed .safetensors fails).
        with open(path, "rb") as f:
            obj = torch.load(f, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsFileError(
            f"{path.name} holds objects other than tensors, so it was not loaded (a checkpoint that "
            f"needs unpickling could run code)"
        ) from exc
    except Exception as exc:
        raise WeightsFileError(f"{path.name} is a damaged or unsupported PyTorch checkpoint") from exc
    for key in _WRAPPERS:
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping):
        raise WeightsFileError(f"{path.name} does not hold a state dict of tensors")
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if len(tensors) != len(obj):
        raise WeightsFileError(f"{path.name} holds other things than tensors: not a plain state dict")
    return tensors


def backbone_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors the descriptor uses: known heads (classifier, distillation head) dropped."""
    from irt_desktop.retrieval.architecture import HEAD_PREFIXES

    return {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIXES)}


def build_bundle(
    card: ModelCard, state_dict: Mapping[str, torch.Tensor], models_dir: Path, provenance: dict | None = None
) -> ModelBundle:
    """Backbone weights -> IRT model -> bundle. The tensors must fit the card's backbone exactly (only
    the position grid may differ: timm resamples it to the input size); anything else is refused."""
    from irt_desktop.retrieval.architecture import check_fits

    check_fits(state_dict, card.spec.backbone, card.spec.backbone_kwargs)
    try:
        model = IRT(card.spec, backbone_state=backbone_state(state_dict))
    except RuntimeError as exc:
        first = str(exc).splitlines()[0][:160]
        raise WeightsFileError(f"the weights do not fit {card.spec.backbone}: {first}") from exc
    out = ModelCard(
        name=card.name,
        spec=card.spec,
        title=card.title,
        description=card.description,
        weights={k: v for k, v in card.weights.items() if k != "sha256"},  # save_bundle records the new one
        provenance=provenance or dict(card.provenance),
    )
    return save_bundle(model.eval(), out, models_dir)


def install_pretrained(card: ModelCard, models_dir: Path, progress: Progress | None = None) -> ModelBundle:
    """Resolve a shipped starting-point card into a bundle in the user's models folder. The hub checks
    the file against its own LFS record, so the result is verified pretrained weights."""
    path = fetch_weights(card, progress)
    provenance = Provenance.from_dict(card.provenance)
    provenance = replace(provenance, kind=Kind.PRETRAINED, verified=True, verified_by="hub")
    return build_bundle(card, read_checkpoint(path), models_dir, provenance.to_dict())


def card_for_backbone(backbone: str, input_size: int | None = None) -> ModelCard:
    """A card for any timm ViT/DeiT: the shipped card of that backbone if there is one, else one made
    from timm's own pretrained config (its mean/std and input size)."""
    import timm

    from irt_desktop.retrieval.architecture import pretty_name
    from irt_desktop.retrieval.card import shipped_cards

    for card in shipped_cards().values():
        if card.spec.backbone == backbone:
            found = card
            break
    else:
        cfg = timm.models.get_pretrained_cfg(backbone)
        if cfg is None:
            from irt_desktop.retrieval.architecture import WeightsMismatch

            raise WeightsMismatch(f"timm has no model named {backbone!r}")
        native = int(cfg.input_size[-1])
        spec = ModelSpec(
            backbone=backbone,
            pooling="cls",
            # Beyond 384 px (DINOv2's 518) a desktop index gets slow; 224 is on every patch grid.
            input_size=native if native <= 384 else 224,
            mean=tuple(float(v) for v in cfg.mean),
            std=tuple(float(v) for v in cfg.std),
        )
        found = ModelCard(name=backbone.replace("_", "-"), spec=spec, title=pretty_name(backbone))
    if input_size:
        found.spec = replace(found.spec, input_size=int(input_size))
    return found


def import_weights(
    path: Path,
    card: ModelCard | None,
    models_dir: Path,
    *,
    backbone: str | None = None,
    input_size: int | None = None,
) -> ModelBundle:
    """`irt-desktop models import`: a user-supplied checkpoint becomes a bundle (nothing is activated).

    The backbone is `card`'s, else `backbone`, else detected from the tensors. The file's sha256 is
    compared with the published files the card lists: a match is verified pretrained weights, anything
    else is an unverified import, and says so everywhere the model is shown."""
    from irt_desktop.retrieval.architecture import check_fits, detect

    state = read_checkpoint(path)
    if card is None:
        card = card_for_backbone(backbone or detect(state).backbone, input_size)
    elif input_size:
        card.spec = replace(card.spec, input_size=int(input_size))
    check_fits(state, card.spec.backbone, card.spec.backbone_kwargs, what=Path(path).name)
    digest = sha256_file(Path(path))
    listed = [str(h).lower() for h in card.weights.get("source_sha256", [])]
    base = Provenance.from_dict(card.provenance)
    common = {
        "source": base.source,
        "source_sha256": digest,
        "imported_from": os.fspath(Path(path).resolve()),
    }
    if digest in listed:
        provenance = Provenance(Kind.PRETRAINED, verified=True, verified_by="sha256", **common)
    else:
        why = (
            "sha256 not among the published files the card lists"
            if listed
            else ("no published sha256 is recorded for this model")
        )
        provenance = Provenance(Kind.IMPORTED, verified=False, verified_by=why, **common)
    title = card.title or card.name
    if not provenance.verified:
        title = f"{title.split(',')[0]} (imported, unverified)"
    named = ModelCard(
        name=card.name, spec=card.spec, title=title, description=card.description, weights=dict(card.weights)
    )
    return build_bundle(named, state, models_dir, provenance.to_dict())


def random_init_bundle(spec: ModelSpec, name: str, models_dir: Path, seed: int = 0) -> ModelBundle:
    """A random-init model as a bundle: for tests, and training from scratch."""
    torch.manual_seed(seed)
    model = IRT(spec)
    provenance = Provenance(Kind.RANDOM, extra={"seed": seed}).to_dict()
    card = ModelCard(name=name, spec=spec, title=name, provenance=provenance)
    return save_bundle(model.eval(), card, models_dir)
