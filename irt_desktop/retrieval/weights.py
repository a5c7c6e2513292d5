"""Getting pretrained weights: the Hugging Face cache through timm's config, or a file the user imports.

Offline is detected up front with a 2-second probe: huggingface_hub's own retries would otherwise make an
offline attempt hang for about 45 s before failing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlparse

import torch

from irt_desktop.retrieval.bundle import ModelBundle, save_bundle
from irt_desktop.retrieval.card import ModelCard
from irt_desktop.retrieval.model import IRT, ModelSpec

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


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A timm/DeiT checkpoint as a state dict: safetensors, or a .pth read with weights_only=True.

    Never unpickles arbitrary objects: a file a user was handed must not be able to run code.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such weights file: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"{path} is not a plain PyTorch checkpoint (only tensors and containers are accepted): {exc}"
        ) from exc
    # Official DeiT checkpoints wrap weights as {"model": ...}; training checkpoints as {"state_dict": ...}.
    for key in ("model", "state_dict", "model_ema"):
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors")
    return dict(obj)


def build_bundle(
    card: ModelCard, state_dict: Mapping[str, torch.Tensor], models_dir: Path, provenance: dict | None = None
) -> ModelBundle:
    """Backbone weights -> IRT model (timm adapts layouts and position embeddings) -> bundle."""
    try:
        model = IRT(card.spec, backbone_state=state_dict)
    except RuntimeError as exc:
        raise ValueError(f"the weights do not fit {card.spec.backbone}: {exc}") from exc
    out = ModelCard(
        name=card.name,
        spec=card.spec,
        title=card.title,
        description=card.description,
        weights=dict(card.weights),  # save_bundle records the new file's sha256
        provenance=provenance or dict(card.provenance),
    )
    return save_bundle(model.eval(), out, models_dir)


def install_pretrained(card: ModelCard, models_dir: Path, progress: Progress | None = None) -> ModelBundle:
    """Resolve a shipped starting-point card into a bundle in the user's models folder."""
    path = fetch_weights(card, progress)
    return build_bundle(card, read_checkpoint(path), models_dir)


def import_weights(path: Path, card: ModelCard, models_dir: Path) -> ModelBundle:
    """`irt-desktop models import`: a user-supplied checkpoint for `card`'s backbone becomes a bundle."""
    state = read_checkpoint(path)
    provenance = {
        **card.provenance,
        "kind": "imported",
        # The kind of card the file came in as: "pretrained" (a shipped starting point) says the file is
        # that card's published checkpoint, which is what makes the bundle the paper's IRT_O.
        "imported_as": card.provenance.get("kind"),
        "imported_from": os.fspath(Path(path).resolve()),
    }
    return build_bundle(card, state, models_dir, provenance)


def random_init_bundle(spec: ModelSpec, name: str, models_dir: Path, seed: int = 0) -> ModelBundle:
    """A random-init model as a bundle: for tests, and training from scratch."""
    torch.manual_seed(seed)
    model = IRT(spec)
    card = ModelCard(name=name, spec=spec, title=name, provenance={"kind": "random-init", "seed": seed})
    return save_bundle(model.eval(), card, models_dir)
