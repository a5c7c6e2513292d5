"""The lightbox's view model, apart from its widgets: which photo of the results is shown, how it is
zoomed and panned, and what its details say. Qt-free, so navigation and zoom are tested without a window.

Zoom: "fit" (the whole photo in the view, never enlarged past 100 %) until the user zooms; then a scale
from ZOOM_STEPS, about a point that stays put under the pointer (the wheel) or the view's centre (keys).
Pan moves the photo's centre, clamped so the photo never leaves the view while it is larger than it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ZOOM_STEPS = (0.05, 0.1, 0.125, 0.25, 0.33, 0.5, 0.67, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 16.0)
# Decoded at most this long a side: a 100 % view of today's cameras, and a pixel cap for panoramas.
MAX_SIDE = 8192

Size = tuple[float, float]
Point = tuple[float, float]


@dataclass
class Zoom:
    """How a photo of `image` size is shown in a view of `view` size."""

    fit: bool = True
    scale: float = 1.0
    # The image point (in image pixels) at the view's centre.
    centre: Point | None = None

    def fit_scale(self, image: Size, view: Size) -> float:
        if image[0] <= 0 or image[1] <= 0:
            return 1.0
        return min(1.0, view[0] / image[0], view[1] / image[1])

    def effective(self, image: Size, view: Size) -> float:
        return self.fit_scale(image, view) if self.fit else self.scale

    def reset(self) -> None:
        self.fit, self.scale, self.centre = True, 1.0, None

    def set_scale(self, scale: float, image: Size, view: Size, anchor: Point | None = None) -> None:
        """Zoom to `scale`, keeping the image point under `anchor` (view pixels) where it is."""
        old = self.effective(image, view)
        centre = self.centre if (self.centre is not None and not self.fit) else (image[0] / 2, image[1] / 2)
        if anchor is not None:
            # The image point under the anchor before and after must be the same.
            ax, ay = anchor[0] - view[0] / 2, anchor[1] - view[1] / 2
            px, py = centre[0] + ax / old, centre[1] + ay / old
            centre = (px - ax / scale, py - ay / scale)
        self.fit, self.scale = False, scale
        self.centre = centre
        self.clamp(image, view)

    def zoom_in(self, image: Size, view: Size, anchor: Point | None = None) -> None:
        now = self.effective(image, view)
        bigger = [s for s in ZOOM_STEPS if s > now * 1.001]
        self.set_scale(bigger[0] if bigger else ZOOM_STEPS[-1], image, view, anchor)

    def zoom_out(self, image: Size, view: Size, anchor: Point | None = None) -> None:
        now = self.effective(image, view)
        smaller = [s for s in ZOOM_STEPS if s < now * 0.999]
        target = smaller[-1] if smaller else ZOOM_STEPS[0]
        if target <= self.fit_scale(image, view):
            self.reset()  # zooming out past "fit" is fit: the whole photo, centred
        else:
            self.set_scale(target, image, view, anchor)

    def actual_size(self, image: Size, view: Size) -> None:
        self.set_scale(1.0, image, view)

    def pan(self, dx: float, dy: float, image: Size, view: Size) -> None:
        """Move the photo by (dx, dy) view pixels (a drag, or arrow keys when zoomed in)."""
        if self.fit:
            return
        cx, cy = self.centre or (image[0] / 2, image[1] / 2)
        self.centre = (cx - dx / self.scale, cy - dy / self.scale)
        self.clamp(image, view)

    def clamp(self, image: Size, view: Size) -> None:
        if self.centre is None:
            return
        s = self.effective(image, view)
        cx, cy = self.centre
        half_w, half_h = view[0] / 2 / s, view[1] / 2 / s
        cx = image[0] / 2 if image[0] <= 2 * half_w else min(max(cx, half_w), image[0] - half_w)
        cy = image[1] / 2 if image[1] <= 2 * half_h else min(max(cy, half_h), image[1] - half_h)
        self.centre = (cx, cy)

    def can_pan(self, image: Size, view: Size) -> bool:
        s = self.effective(image, view)
        return not self.fit and (image[0] * s > view[0] + 0.5 or image[1] * s > view[1] + 0.5)

    def target_rect(self, image: Size, view: Size) -> tuple[float, float, float, float]:
        """(x, y, w, h) in view pixels where the whole photo is drawn."""
        s = self.effective(image, view)
        cx, cy = self.centre if (self.centre is not None and not self.fit) else (image[0] / 2, image[1] / 2)
        w, h = image[0] * s, image[1] * s
        return (view[0] / 2 - cx * s, view[1] / 2 - cy * s, w, h)

    def label(self, image: Size, view: Size) -> str:
        pct = round(self.effective(image, view) * 100)
        return f"Fit ({pct} %)" if self.fit else f"{pct} %"


@dataclass
class PhotoDetails:
    """What EXIF adds to the catalog's row; read on a worker (read_details)."""

    camera: str = ""
    lens: str = ""
    exposure: str = ""
    taken: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


def read_details(path: Path | str) -> PhotoDetails:
    """Camera, lens and exposure from EXIF where the photo has them (worker thread; never raises)."""
    details = PhotoDetails()
    with contextlib.suppress(Exception):
        from PIL import ExifTags, Image

        with Image.open(path) as im:
            exif = im.getexif()
            make = str(exif.get(ExifTags.Base.Make, "") or "").strip().strip("\x00")
            model = str(exif.get(ExifTags.Base.Model, "") or "").strip().strip("\x00")
            details.camera = model if make and model.lower().startswith(make.lower()) else f"{make} {model}"
            details.camera = details.camera.strip()
            sub = exif.get_ifd(ExifTags.IFD.Exif)
            details.lens = str(sub.get(ExifTags.Base.LensModel, "") or "").strip().strip("\x00")
            details.exposure = _exposure(sub)
            stamp = sub.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
            if stamp:
                with contextlib.suppress(ValueError, TypeError):
                    details.taken = datetime.strptime(str(stamp).strip("\x00"), "%Y:%m:%d %H:%M:%S")
    return details


def _exposure(sub: Any) -> str:
    parts = []
    with contextlib.suppress(Exception):
        f = sub.get(0x829D)  # FNumber
        if f:
            parts.append(f"f/{float(f):.1f}")
        t = sub.get(0x829A)  # ExposureTime
        if t:
            t = float(t)
            parts.append(f"1/{round(1 / t)} s" if 0 < t < 1 else f"{t:g} s")
        iso = sub.get(0x8827)  # ISOSpeedRatings
        if iso:
            parts.append(f"ISO {iso if not isinstance(iso, tuple) else iso[0]}")
        focal = sub.get(0x920A)  # FocalLength
        if focal:
            parts.append(f"{float(focal):g} mm")
    return ", ".join(parts)


class LightboxModel:
    """A list of items (SearchHit-like: path, size, width, height, taken, score, image_id) and the one
    shown; `query` is an extra item shown first-less (opened on its own, not part of the walk)."""

    def __init__(self, items: Sequence[Any], index: int = 0) -> None:
        self.items = list(items)
        self.index = min(max(0, index), max(0, len(self.items) - 1))
        self.zoom = Zoom()

    @property
    def current(self) -> Any | None:
        return self.items[self.index] if self.items else None

    def can_prev(self) -> bool:
        return self.index > 0

    def can_next(self) -> bool:
        return self.index < len(self.items) - 1

    def go(self, step: int) -> bool:
        """Move by `step` (clamped); True if the photo changed. The zoom starts over for a new photo."""
        target = min(max(0, self.index + step), len(self.items) - 1)
        if target == self.index or not self.items:
            return False
        self.index = target
        self.zoom.reset()
        return True

    def go_to(self, index: int) -> bool:
        return self.go(index - self.index)

    def remove_ids(self, image_ids: set[int]) -> None:
        """Photos that left (trashed, moved away): the walk goes on from the next one."""
        current = self.current
        kept = [h for h in self.items if getattr(h, "image_id", None) not in image_ids]
        if current is not None and getattr(current, "image_id", None) in image_ids:
            # The next photo takes the removed one's place; at the end, the previous one.
            pos = self.index
            self.items = kept
            self.index = min(pos, max(0, len(kept) - 1))
            self.zoom.reset()
        else:
            self.items = kept
            if current is not None and current in kept:
                self.index = kept.index(current)

    def position_text(self) -> str:
        return f"{self.index + 1} of {len(self.items)}" if self.items else ""


def detail_rows(item: Any, details: PhotoDetails | None, fmt: Any) -> list[tuple[str, str]]:
    """(label, value) rows for the details panel; `fmt` is gui.formatting (injected: no Qt here)."""
    path = Path(item.path)
    rows = [
        ("Name", path.name),
        ("Folder", str(path.parent)),
        ("Size", fmt.size(getattr(item, "size", None))),
        ("Dimensions", fmt.dimensions(getattr(item, "width", None), getattr(item, "height", None))),
    ]
    taken = (
        details.taken if details is not None and details.taken is not None else getattr(item, "taken", None)
    )
    rows.append(("Taken", fmt.date(taken) or "unknown"))
    if details is not None and details.camera:
        rows.append(("Camera", details.camera))
    if details is not None and details.lens:
        rows.append(("Lens", details.lens))
    if details is not None and details.exposure:
        rows.append(("Exposure", details.exposure))
    score = getattr(item, "score", None)
    if score is not None:
        rows.append(("Similarity", fmt.score(score)))
    rows.append(("Type", path.suffix.lstrip(".").upper() or "?"))
    return rows
