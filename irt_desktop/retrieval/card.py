"""Model cards: a model described as data (card.toml), for shipped starting points and for bundles."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from irt_desktop.retrieval.spec import ModelSpec

CARD_FORMAT = 1


@dataclass
class ModelCard:
    name: str
    spec: ModelSpec
    title: str = ""
    description: str = ""
    # Where the weights come from: {"timm_tag": "deit_small_patch16_224.fb_in1k"} for a starting point,
    # {"sha256": ...} for a bundle's own model.safetensors.
    weights: dict[str, Any] = field(default_factory=dict)
    # How the model came to be: pretrained / imported / trained (+ recipe, dataset, metrics).
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model = {k: v for k, v in self.spec.to_dict().items() if v is not None}
        model["pca"] = self.spec.dims is not None
        if not model["backbone_kwargs"]:
            del model["backbone_kwargs"]
        return {
            "format": CARD_FORMAT,
            "name": self.name,
            "title": self.title or self.name,
            "description": self.description,
            "model": model,
            "weights": _drop_none(self.weights),
            "provenance": _drop_none(self.provenance),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "card") -> ModelCard:
        if int(d.get("format", CARD_FORMAT)) > CARD_FORMAT:
            raise ValueError(f"{where}: card format {d['format']} is newer than this irt-desktop understands")
        try:
            return cls(
                name=str(d["name"]),
                spec=ModelSpec.from_dict(d.get("model", {})),
                title=str(d.get("title", "")),
                description=str(d.get("description", "")),
                weights=dict(d.get("weights", {})),
                provenance=dict(d.get("provenance", {})),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{where}: invalid model card: {exc}") from exc

    def save(self, path: Path) -> None:
        path.write_bytes(tomli_w.dumps(self.to_dict()).encode("utf-8"))

    @classmethod
    def load(cls, path: Path) -> ModelCard:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not a valid card.toml: {exc}") from exc
        return cls.from_dict(data, where=str(path))


def _drop_none(value: Any) -> Any:
    """TOML has no null: leave unset values out rather than failing to save."""
    if isinstance(value, Mapping):
        return {str(k): _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_drop_none(v) for v in value if v is not None]
    return value


def shipped_cards() -> dict[str, ModelCard]:
    """The known starting points in model/cards/, by name."""
    from irt_desktop.resources import data_path

    cards = {}
    for path in sorted(data_path("model", "cards").glob("*.toml")):
        card = ModelCard.load(path)
        cards[card.name] = card
    return cards
