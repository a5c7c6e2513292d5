"""Which copy of a duplicate group to keep: the rule that prefers originals, and why it chose.

In order: a folder the user pinned ("always keep copies in this folder"); not in a folder or file name
that marks a copy (backup, copy, duplicates, "(1)", " - Copy", "Kopie", export and thumbnail caches);
the larger pixel count; the better format (RAW, then HEIC/PNG/TIFF, over a JPEG re-encode); the earliest
capture time; the larger file; the shorter path.

Qt-free and I/O-free: it looks only at ImageInfo records.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePath

from irt_desktop.library.records import ImageInfo

RAW_SUFFIXES = frozenset({".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2"})
# Lower is better: camera RAW, then lossless or camera-native formats, then JPEG and the rest.
FORMAT_RANK = {
    **dict.fromkeys(RAW_SUFFIXES, 0),
    **dict.fromkeys((".heic", ".heif", ".png", ".tif", ".tiff", ".avif"), 1),
    **dict.fromkeys((".jpg", ".jpeg", ".jpe", ".jfif"), 2),
}
OTHER_FORMAT = 3

# Folder names that mark copies: backups, "copy", duplicates, exports, thumbnail and cache folders.
COPY_FOLDER = re.compile(
    r"(^|[ _.-])(backups?|copy|copies|kopie|duplicates?|dupes?|export(s|ed)?|thumbnails?|thumbs|"
    r"\.?cache|previews?|sicherung)([ _.-]|$)|^@eaDir$|^\.thumbnails$",
    re.IGNORECASE,
)
# File stems that mark copies: "IMG_1 (1)", "IMG_1 copy", "IMG_1 - Copy", "IMG_1-copy 2", "Kopie von …".
COPY_NAME = re.compile(
    r"(\(\d+\)$|[ _-]copy( \d+)?$|^copy of |^kopie|[ _-]kopie( \d+)?$|\(copy\)$|\(kopie\)$|_thumb$)",
    re.IGNORECASE,
)

RULES = (
    "in a folder you chose to keep",
    "not in a backup/copy folder and not named like a copy",
    "more pixels",
    "a better format (RAW, HEIC/PNG over a JPEG re-encode)",
    "taken earlier",
    "the larger file",
    "the shorter path",
)


def is_raw(path: PurePath | str) -> bool:
    return PurePath(path).suffix.lower() in RAW_SUFFIXES


def copy_mark(path: PurePath | str) -> str | None:
    """What marks `path` as a copy (a folder or the file name), or None."""
    p = PurePath(path)
    if COPY_NAME.search(p.stem):
        return f"the name {p.name!r}"
    for part in p.parent.parts:
        if COPY_FOLDER.search(part):
            return f"the folder {part!r}"
    return None


def _pinned(path: PurePath, keep_folders: Sequence[str]) -> bool:
    return any(path.is_relative_to(folder) for folder in keep_folders)


def keep_key(info: ImageInfo, keep_folders: Sequence[str] = ()) -> tuple:
    """Sort key: the best copy to keep sorts first."""
    path = PurePath(info.path)
    pixels = (info.width or 0) * (info.height or 0)
    taken = info.taken.timestamp() if info.taken else float("inf")
    return (
        not _pinned(path, keep_folders),
        copy_mark(path) is not None,
        -pixels,
        FORMAT_RANK.get(path.suffix.lower(), OTHER_FORMAT),
        taken,
        -(info.size or 0),
        len(str(path)),
        str(path),
    )


def keep_order(group: Sequence[ImageInfo], keep_folders: Sequence[str] = ()) -> list[ImageInfo]:
    """The group, the copy to keep first."""
    return sorted(group, key=lambda info: keep_key(info, keep_folders))


def keep_reason(group: Sequence[ImageInfo], keep_folders: Sequence[str] = ()) -> str:
    """Why the first of keep_order(group) is kept: the first rule that tells it from the runner-up,
    with the whole rule in order (for a tooltip)."""
    ordered = keep_order(group, keep_folders)
    why = "the shorter path"
    if len(ordered) > 1:
        best, second = keep_key(ordered[0], keep_folders), keep_key(ordered[1], keep_folders)
        for n, rule in enumerate(RULES):
            # The last rule (shorter path) spans the key's final two fields: length, then the path itself.
            if best[n] != second[n] or n == len(RULES) - 1:
                why = rule
                break
        if why.startswith("not in a backup"):
            mark = copy_mark(Path(ordered[1].path))
            why = f"{why} (the other copy has {mark})" if mark else why
    steps = "\n".join(f"{n}. {rule}" for n, rule in enumerate(RULES, 1))
    return f"Kept because: {why}.\nThe keep rule, in order:\n{steps}"
