"""Model bundles: a folder with model.safetensors + card.toml, the unit the app loads and training produces.

Reading cards and listing bundles is torch-free (the OpenVINO serving path does it); loading or saving
the weights as a torch model imports torch there and then.

A bundle's id is derived from its weights and the model-defining part of its card, so vectors made by
different models can never be mixed up, and the same weights saved twice get the same id.

Whatever is wrong with a bundle folder (a card that is too large, not TOML or not a card; weights that
are missing, changed, not safetensors, or do not fit the backbone) is a BundleError with one line that
names the folder; `scan_bundles` lists the broken ones beside the good ones. Saved bundles follow the
umask (not mkdtemp's 0700), and their temporary folder carries the writer's pid (`.bundle-<pid>-*`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from irt_desktop.fsutil import make_shareable, temp_prefix
from irt_desktop.retrieval.card import ModelCard

if TYPE_CHECKING:
    from irt_desktop.retrieval.model import IRT

WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "card.toml"


class BundleError(Exception):
    """A bundle folder that cannot be used, with the reason."""


@dataclass
class ModelBundle:
    path: Path
    card: ModelCard

    @property
    def id(self) -> str:
        return bundle_id(self.card, self.card.weights["sha256"])

    def load_model(self, map_location: str = "cpu") -> IRT:
        from safetensors.torch import load_file

        from irt_desktop.retrieval.model import IRT

        weights = self.path / WEIGHTS_FILE
        try:
            digest = sha256_file(weights)
        except OSError as exc:
            raise BundleError(f"{weights} cannot be read: {exc.strerror or exc}") from exc
        if digest != self.card.weights.get("sha256"):
            raise BundleError(f"{weights}: checksum does not match card.toml (file changed or damaged)")
        try:
            model = IRT(self.card.spec)
        except Exception as exc:  # timm: unknown backbone, kwargs it does not take
            backbone = self.card.spec.backbone
            raise BundleError(f"{self.path}: cannot build {backbone}: {_one_line(exc)}") from exc
        try:
            state = load_file(str(weights), device=map_location)
        except Exception as exc:  # safetensors' SafetensorError (not a safetensors file, absurd header)
            raise BundleError(f"{weights} is not a readable safetensors file: {_one_line(exc)}") from exc
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shapes that do not fit
            raise BundleError(f"{weights} does not fit {self.card.spec.backbone}: {_one_line(exc)}") from exc
        if missing or unexpected:
            raise BundleError(
                f"{weights} does not fit {self.card.spec.backbone}: "
                f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
            )
        return model.eval()


def bundle_id(card: ModelCard, weights_sha256: str) -> str:
    model_def = json.dumps(card.spec.to_dict(), sort_keys=True)
    digest = hashlib.sha256(f"{weights_sha256}\n{model_def}".encode()).hexdigest()[:12]
    slug = re.sub(r"[^a-z0-9]+", "-", card.name.lower()).strip("-") or "model"
    return f"{slug}-{digest}"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_bundle(model: IRT, card: ModelCard, models_dir: Path) -> ModelBundle:
    """Write `model` as `models_dir/<id>/` atomically; the card's spec is taken from the model itself."""
    import torch
    from safetensors.torch import save_file

    models_dir.mkdir(parents=True, exist_ok=True)
    card.spec = model.spec
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix("bundle"), dir=models_dir))
    try:
        state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": "irt-desktop"})
        card.weights = {**card.weights, "sha256": sha256_file(tmp / WEIGHTS_FILE)}
        card.save(tmp / CARD_FILE)
        final = models_dir / bundle_id(card, card.weights["sha256"])
        make_shareable(tmp)  # mkdtemp made it 0700: a shared library's other users could not read it
        if final.exists():
            shutil.rmtree(tmp)  # same weights and card: same bundle already there
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ModelBundle(final, ModelCard.load(final / CARD_FILE))


def load_bundle(path: Path) -> ModelBundle:
    """The bundle in `path` (its card read and checked; the weights are read by load_model)."""
    path = Path(path)
    card_path = path / CARD_FILE
    if not card_path.is_file():
        raise BundleError(f"{path} is not a model bundle: {CARD_FILE} is missing")
    if not (path / WEIGHTS_FILE).is_file():
        raise BundleError(f"{path} is not a model bundle: {WEIGHTS_FILE} is missing")
    try:
        card = ModelCard.load(card_path)
    except ValueError as exc:
        raise BundleError(str(exc)) from exc
    except OSError as exc:
        raise BundleError(f"{card_path} cannot be read: {exc.strerror or exc}") from exc
    if "sha256" not in card.weights:
        raise BundleError(f"{card_path}: no weights sha256 recorded")
    return ModelBundle(path, card)


def list_bundles(models_dir: Path) -> list[ModelBundle]:
    """Bundles under `models_dir`, skipping half-written, broken or foreign folders."""
    return scan_bundles(models_dir)[0]


def scan_bundles(models_dir: Path) -> tuple[list[ModelBundle], list[tuple[Path, str]]]:
    """(bundles, broken): the usable bundles under `models_dir`, and (folder, why) for each folder that
    looks like a bundle (it has a card.toml or model.safetensors) but cannot be used. Temporary
    folders (dot names) and folders that hold neither file are not looked at."""
    bundles: list[ModelBundle] = []
    broken: list[tuple[Path, str]] = []
    try:
        subs = sorted(models_dir.iterdir()) if models_dir.is_dir() else []
    except OSError:
        return bundles, broken
    for sub in subs:
        if sub.name.startswith(".") or not sub.is_dir():
            continue
        try:
            bundles.append(load_bundle(sub))
        except BundleError as exc:
            if (sub / CARD_FILE).exists() or (sub / WEIGHTS_FILE).exists():
                broken.append((sub, str(exc)))
    return bundles, broken


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def find_bundle(models_dir: Path, ref: str) -> ModelBundle:
    """A bundle by folder path, exact id, or unique id prefix / card name."""
    as_path = Path(ref).expanduser()
    if (as_path / CARD_FILE).is_file():
        return load_bundle(as_path)
    bundles = list_bundles(models_dir)
    exact = [b for b in bundles if b.id == ref]
    if exact:
        return exact[0]
    matches = [b for b in bundles if b.id.startswith(ref) or b.card.name == ref]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise BundleError(f"no model {ref!r} in {models_dir} (see `irt-desktop models list`)")
    raise BundleError(f"{ref!r} is ambiguous: {', '.join(b.id for b in matches)}")
