"""What a model is, for the benchmark report: read from the provenance type (retrieval.provenance) only.

- Verified published weights, no training recorded: the paper's IRT_O.
- Fine-tuned by this project, one fine-tune from verified published weights: IRT_L / IRT_R, the variant
  its recipe ran (koleo_weight 0 or not).
- Anything else is shown for what it is, with no paper figure beside it: "unverified" (an imported
  file whose hash matches no published one), "random init", a fine-tune whose base is unrecorded,
  unverified or random, and a fine-tune of a fine-tune (the paper's figures are one fine-tune deep).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from irt_desktop.retrieval.bundle import ModelBundle, list_bundles
from irt_desktop.retrieval.provenance import Kind, Provenance

# Provenance keys that record training: a "pretrained" card with any of them is not off-the-shelf weights.
TRAINING_RECORD = ("variant", "training", "recipe", "data", "base_model")
RANDOM_INIT = "random init"
UNVERIFIED = "unverified"


@dataclass(frozen=True)
class ModelIdentity:
    """`variant`: the paper's name for the setting (IRT_O / IRT_L / IRT_R, "" when none). `label`: what
    the report's variant column shows. `comparable`: a paper figure may stand beside it; otherwise
    `reason` says why not. `depth`: fine-tunes since the first base. `seed`: the training seed."""

    variant: str
    label: str
    comparable: bool
    provenance: str
    reason: str = ""
    depth: int = 0
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "label": self.label,
            "comparable": self.comparable,
            "provenance": self.provenance,
            "reason": self.reason,
            "fine_tunes": self.depth,
            "seed": self.seed,
        }


def identify(
    bundle: ModelBundle,
    *,
    base: ModelBundle | None = None,
    models_dir: Path | None = None,
) -> ModelIdentity:
    """The identity of `bundle`. `base`: the bundle it was fine-tuned from, when the caller trained it
    (a card written before bases were nested records only the base's id); `models_dir`: where such an id
    is looked up."""
    raw = bundle.card.provenance
    prov = Provenance.from_dict(raw)
    words = prov.label()
    if prov.is_paper_off_the_shelf and not any(k in raw for k in TRAINING_RECORD):
        return ModelIdentity("IRT_O", "IRT_O", True, words)
    if prov.kind is Kind.RANDOM:
        return ModelIdentity(
            "",
            RANDOM_INIT,
            False,
            words,
            "random init: an untrained network, not the paper's ImageNet weights",
        )
    if not prov.trained:
        how = f" ({prov.verified_by})" if prov.verified_by else ""
        if prov.kind in (Kind.PRETRAINED, Kind.IMPORTED):
            reason = (
                f"{words}{how}: the weights are not verified as the published checkpoint, so they are "
                "not the paper's IRT_O"
            )
        else:
            reason = "its provenance records neither verified off-the-shelf weights nor a training run"
        return ModelIdentity("", UNVERIFIED, False, words, reason)

    variant = prov.variant or str(_recipe(raw).get("variant", "") or "")
    seed = _seed(raw)
    base_prov = prov.base
    if base_prov is None and base is not None:
        base_prov = Provenance.from_dict(base.card.provenance)
    if base_prov is None and prov.base_id and models_dir is not None:
        found = [b for b in list_bundles(models_dir) if b.id == prov.base_id]
        base_prov = Provenance.from_dict(found[0].card.provenance) if found else None
    name = variant or "fine-tuned"
    if base_prov is None:
        return ModelIdentity(
            variant,
            f"{name}, base unrecorded",
            False,
            words,
            "its card does not record the model it was fine-tuned from, so it cannot be traced to the "
            "published ImageNet weights",
            1,
            seed,
        )
    depth = 1 + base_prov.depth
    if depth > 1:
        return ModelIdentity(
            variant,
            f"{name}, fine-tune of a fine-tune",
            False,
            f"fine-tuned {depth} times: {words}",
            f"fine-tuned {depth} times in a row; the paper's figures are of one fine-tune from the "
            "ImageNet weights",
            depth,
            seed,
        )
    if base_prov.is_paper_off_the_shelf:
        words = f"fine-tuned from {base_prov.label()}"
        return ModelIdentity(
            variant, name, bool(variant), words, "" if variant else "no variant recorded", 1, seed
        )
    if base_prov.kind is Kind.RANDOM:
        label, what = f"{name} from random init", "random init"
    else:
        label, what = f"{name} from unverified weights", base_prov.label()
    return ModelIdentity(
        variant,
        label,
        False,
        f"fine-tuned from {base_prov.label()}",
        f"fine-tuned from {what}, not from the published ImageNet weights the paper starts from",
        1,
        seed,
    )


def _recipe(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    recipe = raw.get("recipe")
    return recipe if isinstance(recipe, Mapping) else {}


def _seed(raw: Mapping[str, Any]) -> int | None:
    seed = _recipe(raw).get("seed")
    try:
        return None if seed is None else int(seed)
    except (TypeError, ValueError):
        return None
