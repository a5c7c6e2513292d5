"""What a weights file is: strict fit checks against a backbone, and the timm ViT it holds.

A state dict fits a backbone when every tensor the backbone needs is there with the right shape; the
position embedding may have another grid (timm resamples it to the input size) but must have the same
width and prefix tokens. Extra tensors are allowed only for known heads (classifier, distillation head,
DINOv2's mask token), which the descriptor drops. Anything else is refused with one short sentence,
never a state-dict dump: a file with one unrelated tensor must not become a random network.

Models are built on the meta device for these checks: shapes only, no memory, no weights.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import torch

# Tensors a checkpoint may carry that the descriptor does not use.
HEAD_PREFIXES = ("head.", "head_dist.", "pre_logits.", "mask_token")

# The timm ViTs an import is matched against, most likely first: the paper's DeiTs, then DINOv2 and
# plain ViTs. Architecturally identical entries (deit_small vs vit_small) resolve to the first; pass
# --backbone for the other (their preprocessing differs: mean/std).
CANDIDATES: tuple[str, ...] = (
    "deit_small_patch16_224",
    "deit_small_distilled_patch16_224",
    "deit_tiny_patch16_224",
    "deit_tiny_distilled_patch16_224",
    "deit_base_patch16_224",
    "deit_base_distilled_patch16_224",
    "deit_base_patch16_384",
    "deit_base_distilled_patch16_384",
    "vit_small_patch14_dinov2",
    "vit_base_patch14_dinov2",
    "vit_large_patch14_dinov2",
    "vit_small_patch14_reg4_dinov2",
    "vit_base_patch14_reg4_dinov2",
    "vit_tiny_patch16_224",
    "vit_small_patch16_224",
    "vit_base_patch16_224",
    "vit_small_patch32_224",
    "vit_base_patch32_224",
    "vit_large_patch16_224",
)

_PRETTY = {
    "deit_tiny_patch16_224": "DeiT-Ti",
    "deit_small_patch16_224": "DeiT-S",
    "deit_base_patch16_224": "DeiT-B",
    "deit_tiny_distilled_patch16_224": "DeiT-Ti distilled",
    "deit_small_distilled_patch16_224": "DeiT-S distilled",
    "deit_base_distilled_patch16_224": "DeiT-B distilled",
    "deit_base_patch16_384": "DeiT-B 384",
    "vit_tiny_patch16_224": "ViT-Ti/16",
    "vit_small_patch16_224": "ViT-S/16",
    "vit_base_patch16_224": "ViT-B/16",
    "deit_base_distilled_patch16_384": "DeiT-B distilled 384",
    "vit_small_patch14_dinov2": "DINOv2 ViT-S/14",
    "vit_base_patch14_dinov2": "DINOv2 ViT-B/14",
}


class WeightsMismatch(ValueError):
    """The tensors do not fit the backbone; the message is one sentence a person can act on."""


def pretty_name(backbone: str) -> str:
    return _PRETTY.get(backbone, backbone)


@dataclass
class Fit:
    """How a state dict compares with a backbone's parameters."""

    backbone: str
    n_tensors: int
    matched: int = 0
    needed: int = 0
    missing: list[str] = field(default_factory=list)
    wrong_shape: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.wrong_shape or self.unknown)

    def message(self, what: str = "the file") -> str:
        """One sentence: what the file is and is not."""
        name = pretty_name(self.backbone)
        if self.n_tensors == 0:
            return f"{what} holds no tensors: it is not model weights"
        if self.matched == 0:
            example = f"; missing e.g. {_example(self.missing)}" if self.missing else ""
            return f"{self.n_tensors} tensors, 0 match {name}: this is not {name} weights{example}"
        if self.wrong_shape:
            key, got, want = self.wrong_shape[0]
            return (
                f"{len(self.wrong_shape)} of {self.needed} {name} tensors have other shapes "
                f"(e.g. {key} is {_shape(got)}, {name} has {_shape(want)}): these are weights of a "
                f"differently sized model"
            )
        if self.missing:
            return (
                f"{self.matched} of {self.needed} {name} tensors present: incomplete {name} weights; "
                f"missing e.g. {_example(self.missing)}"
            )
        return (
            f"{len(self.unknown)} tensors that {name} does not have (e.g. {self.unknown[0]}): "
            f"this is not plain {name} weights"
        )


def _example(keys: Sequence[str]) -> str:
    # A block's own tensor reads better than a stray norm.
    preferred = [k for k in keys if k.startswith("blocks.0.")]
    return (preferred or list(keys))[0]


def _shape(shape: Sequence[int]) -> str:
    return "x".join(str(s) for s in shape) or "a scalar"


@cache
def _expected_shapes(backbone: str, kwargs_key: tuple[tuple[str, Any], ...] = ()) -> dict[str, tuple]:
    """Parameter shapes of a headless timm backbone, built on the meta device."""
    import timm

    kwargs = dict(kwargs_key)
    kwargs.setdefault("num_classes", 0)
    try:
        with torch.device("meta"):
            model = timm.create_model(backbone, **kwargs)
    except RuntimeError as exc:
        if "Unknown model" in str(exc):
            raise WeightsMismatch(f"timm has no model named {backbone!r}") from exc
        raise
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def expected_shapes(backbone: str, backbone_kwargs: Mapping[str, Any] | None = None) -> dict[str, tuple]:
    key = tuple(sorted((backbone_kwargs or {}).items()))
    return dict(_expected_shapes(backbone, key))


def shapes_of(state: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    return {str(k): tuple(int(s) for s in v.shape) for k, v in state.items()}


def fit(
    shapes: Mapping[str, tuple[int, ...]], backbone: str, backbone_kwargs: Mapping[str, Any] | None = None
) -> Fit:
    """Compare tensor shapes (name -> shape) with what `backbone` needs."""
    want = expected_shapes(backbone, backbone_kwargs)
    result = Fit(backbone=backbone, n_tensors=len(shapes), needed=len(want))
    for key, shape in want.items():
        got = shapes.get(key)
        if got is None:
            result.missing.append(key)
        elif got == shape or (key == "pos_embed" and _pos_embed_resamplable(got, shape)):
            result.matched += 1
        else:
            result.wrong_shape.append((key, got, shape))
    result.unknown = [k for k in shapes if k not in want and not k.startswith(HEAD_PREFIXES)]
    return result


def _pos_embed_resamplable(got: tuple[int, ...], want: tuple[int, ...]) -> bool:
    """Same width, and a square grid after the same number of prefix tokens: timm can resample it."""
    if len(got) != 3 or len(want) != 3 or got[2] != want[2]:
        return False
    prefix = want[1] - _square_part(want[1])
    grid = got[1] - prefix
    return grid > 0 and math.isqrt(grid) ** 2 == grid


def _square_part(n: int) -> int:
    """The largest square <= n whose remainder is a plausible prefix (class, distillation, registers)."""
    for prefix in range(0, 9):
        g = n - prefix
        if g > 0 and math.isqrt(g) ** 2 == g:
            return g
    return n


def check_fits(
    state: Mapping[str, Any],
    backbone: str,
    backbone_kwargs: Mapping[str, Any] | None = None,
    what: str = "the file",
) -> None:
    """Raise WeightsMismatch (one sentence) unless `state` is complete, shape-exact weights of `backbone`."""
    shapes = shapes_of(state)
    result = fit(shapes, backbone, backbone_kwargs)
    if result.ok:
        return
    message = result.message(what)
    if result.n_tensors:
        try:
            actual = detect(shapes).backbone
        except WeightsMismatch:
            actual = None
        if actual is not None and actual != backbone:
            message = (
                f"these are {pretty_name(actual)} weights ({actual}), not {pretty_name(backbone)}: "
                f"import them without --card to use them as {pretty_name(actual)}"
            )
    raise WeightsMismatch(message)


@dataclass(frozen=True)
class Detection:
    backbone: str
    # Architecturally identical alternatives (same tensors and shapes), if any.
    same_as: tuple[str, ...] = ()
    # The checkpoint's own input size, from its position grid and patch size.
    native_size: int | None = None


def native_input_size(shapes: Mapping[str, tuple[int, ...]], prefix_tokens: int) -> int | None:
    pos = shapes.get("pos_embed")
    patch = shapes.get("patch_embed.proj.weight")
    if pos is None or patch is None or len(pos) != 3 or len(patch) != 4:
        return None
    grid = pos[1] - prefix_tokens
    side = math.isqrt(max(grid, 0))
    return side * patch[-1] if side * side == grid else None


def detect(state_or_shapes: Mapping[str, Any], candidates: Sequence[str] = CANDIDATES) -> Detection:
    """The timm ViT these tensors are: every candidate they fit exactly, preferring the one whose native
    position grid matches. WeightsMismatch when none fits, saying what the tensors look like."""
    shapes = _as_shapes(state_or_shapes)
    if not shapes:
        raise WeightsMismatch("the file holds no tensors: it is not model weights")
    fitting = [name for name in candidates if fit(shapes, name).ok]
    if not fitting:
        raise WeightsMismatch(_describe_unknown(shapes))
    # Candidates whose native grid equals the checkpoint's come first (DeiT-B 384 vs DeiT-B 224).
    exact_grid = [n for n in fitting if expected_shapes(n).get("pos_embed") == shapes.get("pos_embed")]
    ordered = exact_grid + [n for n in fitting if n not in exact_grid]
    best = ordered[0]
    want = expected_shapes(best)
    same = tuple(n for n in ordered[1:] if expected_shapes(n) == want)
    prefix = want["pos_embed"][1] - _square_part(want["pos_embed"][1]) if "pos_embed" in want else 1
    return Detection(best, same, native_input_size(shapes, prefix))


def _as_shapes(state_or_shapes: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    out = {}
    for k, v in state_or_shapes.items():
        out[str(k)] = tuple(int(s) for s in (v.shape if hasattr(v, "shape") else v))
    return out


def _describe_unknown(shapes: Mapping[str, tuple[int, ...]]) -> str:
    width = shapes.get("cls_token", (0, 0, 0))[-1] if "cls_token" in shapes else None
    depth = len({m.group(1) for k in shapes if (m := re.match(r"blocks\.(\d+)\.", k))})
    if width and depth:
        patch = shapes.get("patch_embed.proj.weight", (0, 0, 0, 0))[-1]
        return (
            f"{len(shapes)} tensors of a ViT ({depth} blocks, width {width}, patch {patch}) that matches "
            f"no known model; name its timm architecture with --backbone"
        )
    return f"{len(shapes)} tensors, none of a known vision transformer: this is not ViT/DeiT weights"
