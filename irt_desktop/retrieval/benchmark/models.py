"""Which model the benchmark evaluates: what an installed bundle is (the paper's variant, its training
data), the default DeiT-S (an installed one, verified published weights first, else an unverified
import, said so; else the published weights installed from the cache or the hub), a bundle with another
pooling, and the SfM-120k recipe for a backbone."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from irt_desktop.retrieval.benchmark.catalog import DATASETS, SFM120K
from irt_desktop.retrieval.benchmark.identity import ModelIdentity, identify
from irt_desktop.retrieval.bundle import ModelBundle, list_bundles
from irt_desktop.retrieval.model import IRT
from irt_desktop.retrieval.training.config import load_recipe
from irt_desktop.retrieval.zoo import DEFAULT_CARD


@dataclass(frozen=True)
class DefaultModel:
    """The installed bundle the benchmark uses when none is named, and what it is: `verified` published
    weights (the paper's IRT_O), or not (an imported file whose hash matches no published one)."""

    bundle: ModelBundle
    identity: ModelIdentity
    verified: bool
    title: str = "DeiT-S"  # the shipped card's, not the bundle's (an import's says "imported, ...")

    def describe(self) -> str:
        name = self.title.split(" (")[0]  # "DeiT-S (ImageNet-1k), off the shelf" -> "DeiT-S"
        if self.verified:
            return f"{name} off the shelf (IRT_O, verified published weights)"
        return f"{name} unverified (imported weights: no paper figure beside it)"


def installed_default(
    models: Path | Sequence[ModelBundle], card_name: str = DEFAULT_CARD
) -> DefaultModel | None:
    """The installed untrained bundle of the shipped card `card_name` at the card's own setting (full
    width, its pooling and input size): verified published weights first, else an unverified import of
    them; None when neither is installed. Random-init and fine-tuned bundles never stand in for it."""
    from irt_desktop.retrieval.card import shipped_cards

    card = shipped_cards()[card_name]
    title = card.title or card.name
    bundles = list_bundles(Path(models)) if isinstance(models, Path | str) else list(models)
    candidates = []
    for b in bundles:
        if b.card.spec != card.spec:
            continue
        ident = identify(b)
        if ident.variant == "IRT_O":
            candidates.append((0, b.id, DefaultModel(b, ident, True, title)))
        elif ident.label == "unverified":
            candidates.append((1, b.id, DefaultModel(b, ident, False, title)))
    return min(candidates, key=lambda c: c[:2])[2] if candidates else None


def is_off_the_shelf(bundle: ModelBundle) -> bool:
    """Verified published pretrained weights (ImageNet DeiT) with no training recorded: the paper's
    IRT_O. An imported file whose hash the card does not list is not, whatever card it came in as."""
    return identify(bundle).variant == "IRT_O"


def model_variant(bundle: ModelBundle) -> str:
    """The paper's name for what a bundle is, when a paper figure may stand beside it: IRT_O for verified
    off-the-shelf weights, IRT_L / IRT_R for one fine-tune of them; "" otherwise (see identity)."""
    ident = identify(bundle)
    return ident.variant if ident.comparable else ""


def training_data(bundle: ModelBundle) -> str | None:
    """What a bundle was fine-tuned on, as a paper_results dataset key ("sop", "sfm120k", or the
    recorded name of other data); None when it was not fine-tuned."""
    prov = bundle.card.provenance
    if prov.get("kind") not in ("trained", "fine-tuned") or prov.get("variant") == "IRT_O":
        return None
    data = prov.get("data") if isinstance(prov.get("data"), dict) else {}
    name = str(data.get("name", "")).strip().lower()
    if name in DATASETS:
        return DATASETS[name].paper_key
    if name == SFM120K.name:
        return SFM120K.paper_key
    recipe = prov.get("recipe") if isinstance(prov.get("recipe"), dict) else {}
    if str(recipe.get("dataset", "")).lower() == "sfm120k":
        # An SfM-120k recipe run on SfM-120k given as class folders, named whatever the folders are.
        return "sfm120k"
    return name or "unrecorded data"


def default_bundle(models_dir: Path) -> ModelBundle:
    """An installed off-the-shelf DeiT-S, else one made from cached or downloaded weights.

    Raises irt_desktop.retrieval.weights.WeightsUnavailable (with what to do) when offline and uncached.
    """
    return card_bundle(DEFAULT_CARD, models_dir)


def card_bundle(card_name: str, models_dir: Path) -> ModelBundle:
    """An installed verified off-the-shelf bundle of the shipped card `card_name` (full width, its own
    pooling), else one installed from cached or downloaded weights (the hub verifies the file).

    Raises WeightsUnavailable when offline and uncached, KeyError for an unknown card."""
    from irt_desktop.retrieval.card import shipped_cards
    from irt_desktop.retrieval.weights import install_pretrained

    card = shipped_cards()[card_name]
    for b in list_bundles(models_dir):
        if b.card.name == card_name and is_off_the_shelf(b) and b.card.spec == card.spec:
            return b
    return install_pretrained(card, models_dir)


def with_pooling(bundle: ModelBundle, pooling: str, models_dir: Path) -> ModelBundle:
    """`bundle` with another token pooling (the paper's pooling ablation): the same weights, a spec with
    `pooling`, saved as a bundle of its own (the provenance of the weights is unchanged)."""
    from irt_desktop.retrieval.bundle import save_bundle
    from irt_desktop.retrieval.card import ModelCard

    if bundle.card.spec.pooling == pooling:
        return bundle
    model = bundle.load_model()
    spec = dataclasses.replace(model.spec, pooling=pooling)
    derived = IRT(spec, backbone_state=None)
    derived.backbone.load_state_dict(model.backbone.state_dict())
    derived.set_pca(model.pca)
    card = ModelCard(
        name=f"{bundle.card.name}-{pooling}",
        spec=derived.spec,
        title=f"{bundle.card.title or bundle.card.name}, {pooling} pooling",
        description=f"{bundle.id} with {pooling} pooling of its tokens.",
        provenance={**bundle.card.provenance, "derived_from": bundle.id, "pooling": pooling},
    )
    return save_bundle(derived.eval(), card, models_dir)


def landmark_recipe(bundle: ModelBundle) -> str:
    """The SfM-120k recipe for this backbone (one whose starting card has it), else `sfm120k`."""
    from irt_desktop.retrieval.card import shipped_cards
    from irt_desktop.retrieval.training.config import list_recipes

    cards = shipped_cards()
    for name in list_recipes():
        recipe = load_recipe(name)
        card = cards.get(recipe.card)
        if (
            recipe.dataset == "sfm120k"
            and card is not None
            and card.spec.backbone == bundle.card.spec.backbone
        ):
            return name
    return "sfm120k"
