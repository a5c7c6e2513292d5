"""The near-copy threshold, calibrated per model and library at run time.

A random network and a fine-tuned DeiT do not share a score scale, so no fixed number serves both. The
library makes copies of a sample of its own photos (a JPEG re-encode, a resize, a slight crop, a resize
plus re-encode), embeds them with the serving model and scores each against the photo's stored
descriptor: what a true copy scores. It also scores each sampled photo against its nearest *other* photo:
what a non-copy reaches. The threshold is the midpoint between the copies' low end (5th percentile) and
the non-copies' high end (95th percentile), and the Calibration says so, with the figures.

Look-alikes (bursts, the same scene shot again) get a looser threshold the same way: the library also
makes "second frames" of the sampled photos (reframed, re-exposed, tilted a little, the subject moved)
and the look-alike threshold is the midpoint between their low end and the non-copies' high end, always
below the near-copy one (a look-alike is what is close but not a copy).

Threads: any thread (it decodes files and runs the model: the GUI calls it from a worker).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from irt_desktop.library.records import Calibration

SAMPLE = 32
COPY_QUANTILE = 0.05
OTHER_QUANTILE = 0.95
OTHERS_SAMPLE = 2000  # photos whose nearest other photo is scored (stored vectors: no decoding)
# Never below this: at lower scores "the same photo" means nothing whatever the model.
FLOOR = 0.5
SETTING = "duplicates.calibration.{model_id}"

Embed = Callable[[Sequence[Image.Image]], np.ndarray]
Neighbours = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out.convert("RGB")


def _resize(im: Image.Image, scale: float) -> Image.Image:
    return im.resize((max(8, round(im.width * scale)), max(8, round(im.height * scale))), Image.BICUBIC)


def _crop(im: Image.Image, keep: float) -> Image.Image:
    dx, dy = round(im.width * (1 - keep) / 2), round(im.height * (1 - keep) / 2)
    return im.crop((dx, dy, im.width - dx, im.height - dy))


# What a copy of a photo usually is: re-encoded by a messenger, resized for the web, cropped a little.
COPY_TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "re-encoded (JPEG q60)": lambda im: _jpeg(im, 60),
    "resized to 50%": lambda im: _resize(im, 0.5),
    "cropped 4% each side": lambda im: _crop(im, 0.92),
    "resized to 60% + JPEG q75": lambda im: _jpeg(_resize(im, 0.6), 75),
}


def _shift(im: Image.Image, keep: float, dx: float, dy: float) -> Image.Image:
    """A window of `keep` of each side, moved by (dx, dy) of the slack: the camera pointed a bit aside."""
    w, h = round(im.width * keep), round(im.height * keep)
    x, y = round((im.width - w) * dx), round((im.height - h) * dy)
    return im.crop((x, y, x + w, y + h)).resize(im.size, Image.BICUBIC)


def _exposure(im: Image.Image, factor: float) -> Image.Image:
    return Image.eval(im, lambda v: min(255, round(v * factor)))


def _tilt(im: Image.Image, degrees: float) -> Image.Image:
    turned = im.rotate(degrees, Image.BICUBIC, expand=False)
    return _crop(turned, 0.9).resize(im.size, Image.BICUBIC)


# What the next frame of a burst, or the same scene taken again, looks like against the first.
LOOKALIKE_TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "reframed (80% window, moved aside)": lambda im: _shift(im, 0.8, 1.0, 0.5),
    "re-exposed (-1/3 EV) and reframed": lambda im: _exposure(_shift(im, 0.85, 0.0, 0.3), 0.8),
    "tilted 4 degrees": lambda im: _tilt(im, 4.0),
}


def _lookalike_threshold(
    look_scores: list[float], other_hi: float | None, near: float
) -> tuple[float | None, str]:
    if not look_scores:
        return None, ""
    lo = float(np.quantile(look_scores, COPY_QUANTILE))
    if other_hi is not None:
        look = (lo + other_hi) / 2
        how = (
            f"midpoint of {lo:.4f} (5th percentile of {len(look_scores)} scores of your photos against "
            f"'second frames' of them: reframed, re-exposed, tilted) and {other_hi:.4f} (95th percentile "
            "of your photos against their nearest other photo)"
        )
    else:
        look = lo - 0.01 * (1 - lo)
        how = f"just below {lo:.4f}, the 5th percentile of {len(look_scores)} second-frame scores"
    if other_hi is not None and look < other_hi:
        # Second frames score no higher than unrelated photos with this model: below their 95th
        # percentile one photo in twenty would have a "look-alike" by chance.
        look = other_hi
        how += f"; raised to {other_hi:.4f} so that chance neighbours are not offered as look-alikes"
    if look >= near:
        # A look-alike is never a near copy: below the near-copy threshold by as much as that is below 1.
        look = near - (1 - near)
        how += f"; moved below the near-copy threshold {near:.4f}, which this model reaches for both"
    return float(min(max(look, FLOOR), near)), how


def calibrate(
    model_id: str,
    photos: Sequence[tuple[int, Image.Image, np.ndarray]],
    embed: Embed,
    neighbours: Neighbours,
    exact_ids: set[int] | None = None,
    others: tuple[np.ndarray, np.ndarray] | None = None,
) -> Calibration | None:
    """`photos`: (image id, decoded photo, its stored vector) of a sample; `neighbours(vectors, k)`:
    scores and ids of the library's nearest vectors; `others`: (ids, vectors) of a larger sample for
    the non-copies' scores (no decoding needed: their tail is what the threshold must clear, and 32
    photos put a 95th percentile on their second-highest score). None when the sample is empty."""
    if not photos:
        return None
    exact_ids = exact_ids or set()
    images, owners, look = [], [], []
    for n, (_image_id, im, _vec) in enumerate(photos):
        for transforms, is_look in ((COPY_TRANSFORMS, False), (LOOKALIKE_TRANSFORMS, True)):
            for transform in transforms.values():
                images.append(transform(im))
                owners.append(n)
                look.append(is_look)
    embedded = embed(images)
    stored = np.stack([np.asarray(vec, np.float32) for _, _, vec in photos])
    scored = [float(embedded[i] @ stored[owner]) for i, owner in enumerate(owners)]
    copy_scores = [s for s, is_look in zip(scored, look, strict=True) if not is_look]
    look_scores = [s for s, is_look in zip(scored, look, strict=True) if is_look]
    if others is None:
        others = (np.asarray([p[0] for p in photos], np.int64), stored)
    other_ids, other_vecs = others
    scores, ids = neighbours(np.ascontiguousarray(other_vecs, np.float32), 4)
    other_scores = []
    for row, image_id in enumerate(np.asarray(other_ids).tolist()):
        for score, other in zip(scores[row], ids[row], strict=True):
            # The photo itself and byte-identical copies of it are not "another photo".
            if other >= 0 and int(other) != image_id and int(other) not in exact_ids and score < 0.99999:
                other_scores.append(float(score))
                break
    lo = float(np.quantile(copy_scores, COPY_QUANTILE))
    median = float(np.median(copy_scores))
    # A nearest "other" photo scoring as high as most fresh copies (above their lower quartile) is
    # most likely a copy the library holds already: counted among non-copies it would push the
    # threshold above the real copies (a small library with a few copies has them in its top 5%).
    copy_q1 = float(np.quantile(copy_scores, 0.25))
    likely_copies = sum(1 for x in other_scores if x >= copy_q1)
    if likely_copies < len(other_scores):
        other_scores = [x for x in other_scores if x < copy_q1]
    hi = None
    if other_scores:
        hi = float(np.quantile(other_scores, OTHER_QUANTILE))
        threshold = (lo + hi) / 2
        how = (
            f"midpoint of {lo:.4f} (5th percentile of {len(copy_scores)} scores of {len(photos)} of your "
            f"photos against their own re-encodings, resizes and crops) and {hi:.4f} (95th percentile "
            f"of {len(other_scores)} of your photos against their nearest other photo)"
        )
        if hi >= lo and median > hi:
            # They overlap: a midpoint would group distinct photos. Missing a few of the hardest copies
            # (crops) is the lesser harm, so go up to midway between the non-copies' high end and the
            # copies' median.
            threshold = (hi + median) / 2
            how = (
                f"midway between {hi:.4f} (95th percentile of {len(other_scores)} of your photos against "
                f"their nearest other photo) and {median:.4f} (median of {len(copy_scores)} scores of "
                f"{len(photos)} photos against their own re-encodings, resizes and crops): with this model "
                "the copies' "
                f"low end ({lo:.4f}) reaches into distinct photos, so the hardest copies (crops) may be "
                "missed rather than distinct photos grouped"
            )
        elif hi >= lo:
            how += "; the two overlap with this model, so expect some false groups: check before trashing"
        if likely_copies:
            how += (
                f"; {likely_copies} photos whose nearest other photo scored like a copy (>= {copy_q1:.4f}) "
                "were left out of the non-copies"
            )
    else:
        threshold = lo - 0.01 * (1 - lo)
        how = f"just below {lo:.4f}, the 5th percentile of {len(copy_scores)} copy scores (no other photos)"
    threshold = round(float(min(max(threshold, FLOOR), 0.9999)), 4)
    look_threshold, look_how = _lookalike_threshold(look_scores, hi, threshold)
    if look_threshold is not None:
        # Shown and stored to 4 places: strictly below the near-copy threshold there too.
        look_threshold = min(round(look_threshold, 4), round(threshold - 0.0001, 4))
    return Calibration(
        model_id=model_id,
        threshold=threshold,
        copy_scores=[round(s, 5) for s in copy_scores],
        other_scores=[round(s, 5) for s in other_scores],
        sample=len(photos),
        how=how,
        lookalike_threshold=look_threshold,
        lookalike_scores=[round(s, 5) for s in look_scores],
        lookalike_how=look_how,
    )


def to_json(c: Calibration) -> str:
    return json.dumps(c.__dict__)


def from_json(text: str | None) -> Calibration | None:
    if not text:
        return None
    try:
        return Calibration(**json.loads(text))
    except (TypeError, ValueError):
        return None
