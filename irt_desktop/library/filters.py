"""What a search may be narrowed to and how its results are ordered: plain records and pure functions.

A `SearchFilter` is applied inside the search (library/search.py asks the catalog which candidates
match, catalog/search_filters.py holds the SQL), so k results are k matching photos, not k photos of
which the view hides some. Sorting reorders the k best matches; it never changes which ones they are.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from irt_desktop.raw import RAW_EXTENSIONS

# The file types a user picks from, by the suffixes the scanner indexes (irt_desktop.images).
FILE_TYPES: dict[str, tuple[str, ...]] = {
    "JPEG": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "PNG": (".png",),
    "HEIC / HEIF": (".heic", ".heif"),
    "WebP / AVIF": (".webp", ".avif"),
    "TIFF": (".tif", ".tiff"),
    "GIF / BMP": (".gif", ".bmp"),
    "RAW": tuple(sorted(RAW_EXTENSIONS)),
}


@dataclass(frozen=True)
class SearchFilter:
    """Every given condition must hold; an empty field does not narrow anything.

    `folders`: canonical folder paths (library.folders.canonical); a photo matches when it is in one of
    them or in any sub-folder. `roots`: watched-folder ids. `taken_from` / `taken_to`: the capture date
    (EXIF, else the file's time) in epoch seconds, from inclusive, to exclusive. `types`: lower-case
    suffixes with their dot (FILE_TYPES)."""

    folders: tuple[str, ...] = ()
    roots: tuple[int, ...] = ()
    taken_from: float | None = None
    taken_to: float | None = None
    types: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(
            self.folders
            or self.roots
            or self.taken_from is not None
            or self.taken_to is not None
            or self.types
        )

    def with_roots(self, roots: Sequence[int] | None) -> SearchFilter:
        """This filter narrowed to `roots` instead of its own (the older `roots=` search argument)."""
        if not roots:
            return self
        return replace(self, roots=tuple(int(r) for r in roots))


def date_range(start: datetime | None, end: datetime | None) -> tuple[float | None, float | None]:
    """(from, to) epoch seconds for whole days `start`..`end` inclusive (naive datetimes: local time)."""
    lo = None if start is None else datetime(start.year, start.month, start.day).timestamp()
    hi = None
    if end is not None:
        day = datetime(end.year, end.month, end.day)
        hi = day.timestamp() + 86400
    return lo, hi


def suffixes_for(type_names: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for name in type_names:
        out.extend(FILE_TYPES.get(name, ()))
    return tuple(sorted(set(out)))


class SortKey(StrEnum):
    """The order of the results; each key's natural direction is what a user expects first."""

    SIMILARITY = "similarity"  # most similar first
    TAKEN = "taken"  # newest first
    NAME = "name"  # A to Z, numbers in number order (IMG_9 before IMG_10)
    SIZE = "size"  # largest first


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part.casefold() for part in _DIGITS.split(name))


def sort_hits(hits: Sequence, key: SortKey | str = SortKey.SIMILARITY, reverse: bool = False) -> list:
    """`hits` (SearchHit-like) in `key` order; ties keep the similarity order. `reverse` flips it."""
    key = SortKey(key)
    ordered = list(hits)
    if key == SortKey.SIMILARITY:
        ordered.sort(key=lambda h: -h.score)
    elif key == SortKey.TAKEN:
        # Photos with no date go last whichever way the rest is ordered.
        dated = [h for h in ordered if h.taken is not None]
        undated = [h for h in ordered if h.taken is None]
        dated.sort(key=lambda h: h.taken, reverse=not reverse)
        return dated + undated
    elif key == SortKey.NAME:
        ordered.sort(key=lambda h: (natural_key(os.path.basename(str(h.path))), str(h.path)))
    elif key == SortKey.SIZE:
        ordered.sort(key=lambda h: -(h.size or 0))
    return ordered[::-1] if reverse else ordered


@dataclass(frozen=True)
class FolderCount:
    """A folder that holds live photos (directly or below), for the "In:" filter: `path` canonical,
    `photos` counted with its sub-folders, `depth` 0 for a watched folder itself."""

    path: str
    root_id: int
    photos: int
    depth: int
    name: str = field(default="")
