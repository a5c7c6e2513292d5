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
# A card is a few hundred bytes of TOML; anything this large is not one, and is not read whole.
CARD_MAX_BYTES = 1 << 20
# What a descriptor's input size may be, in pixels.
INPUT_SIZE_RANGE = (8, 4096)


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
        """The card described by `d`; ValueError (one line, naming `where`) for anything that is not."""
        try:
            if not isinstance(d, Mapping):
                raise TypeError(f"a card is a table, not {type(d).__name__}")
            fmt = int(d.get("format", CARD_FORMAT))
            if fmt > CARD_FORMAT:
                raise ValueError(f"card format {fmt} is newer than this irt-desktop understands")
            for section in ("model", "weights", "provenance"):
                if not isinstance(d.get(section, {}), Mapping):
                    raise TypeError(f"[{section}] must be a table")
            card = cls(
                name=str(d["name"]),
                spec=ModelSpec.from_dict(d.get("model", {})),
                title=str(d.get("title", "")),
                description=str(d.get("description", "")),
                weights=dict(d.get("weights", {})),
                provenance=dict(d.get("provenance", {})),
            )
            _check_spec(card.spec)
            sha = card.weights.get("sha256")
            if sha is not None and not (isinstance(sha, str) and len(sha) == 64 and _is_hex(sha)):
                raise ValueError("weights.sha256 is not a SHA-256 hex digest")
            return card
        except KeyError as exc:
            raise ValueError(f"{where}: invalid model card: {exc} is missing") from exc
        except (ValueError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
            if str(exc).startswith(f"{where}: "):
                raise ValueError(str(exc)) from exc
            raise ValueError(f"{where}: invalid model card: {_one_line(exc)}") from exc

    def save(self, path: Path) -> None:
        path.write_bytes(tomli_w.dumps(self.to_dict()).encode("utf-8"))

    @classmethod
    def load(cls, path: Path) -> ModelCard:
        """Read a card.toml; ValueError (one line, naming the file) for one that is too large, not TOML,
        nested without end, or not a card. OSError if it cannot be read."""
        with open(path, "rb") as f:
            raw = f.read(CARD_MAX_BYTES + 1)
        if len(raw) > CARD_MAX_BYTES:
            raise ValueError(f"{path}: larger than {CARD_MAX_BYTES >> 20} MB, not a model card")
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not a valid card.toml: not UTF-8 text ({exc.reason})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not a valid card.toml: {_one_line(exc)}") from exc
        except RecursionError as exc:
            raise ValueError(f"{path}: not a valid card.toml: nested too deeply") from exc
        return cls.from_dict(data, where=str(path))


def _check_spec(spec: ModelSpec) -> None:
    low, high = INPUT_SIZE_RANGE
    if not low <= spec.input_size <= high:
        raise ValueError(f"model.input_size {spec.input_size} is outside {low}..{high} pixels")
    if spec.dims is not None and spec.dims <= 0:
        raise ValueError(f"model.dims {spec.dims} is not a positive number")
    if len(spec.mean) != 3 or len(spec.std) != 3 or not all(v > 0 for v in spec.std):
        raise ValueError("model.mean and model.std need three values (std positive)")


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


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
