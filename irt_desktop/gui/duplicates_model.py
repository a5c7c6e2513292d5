"""The Duplicates tab's view model, Qt-free (dupeGuru-style: the widgets only draw it and forward clicks).

Three kinds, three workflows, never mixed:
- exact copies (the same bytes): bulk "check all but the keeper" and trash, safe: nothing differs;
- near copies (the same photo re-encoded, resized, cropped, rotated, mirrored): the same bulk action,
  per kind, after a look at the differences;
- look-alikes (bursts, the same scene shot again): different photos, so there is no bulk tick at all;
  they are reviewed one group at a time in the compare view ("keep only this one" is one key) and only
  what the user chose is trashed. A burst's best frame is a judgement (sharpness, eyes open) that no
  keep rule makes, and a wrong bulk guess there loses a real photo, not a redundant copy.

Checks are kept per kind, by image id; every action (tick, clear, trash) names one kind. The trash
confirmation names how many files, how much space (hard links once) and which folders.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from irt_desktop.gui import formatting
from irt_desktop.library.keeper import keep_order, keep_reason
from irt_desktop.library.records import DuplicateGroup

if TYPE_CHECKING:
    from irt_desktop.library.records import Calibration, DuplicateReport, ImageInfo
    from irt_desktop.library.trash import TrashAction

KINDS = ("exact", "near", "lookalike")
TITLES = {
    "exact": "Exact copies",
    "near": "Near copies",
    "lookalike": "Look-alikes",
}
EXPLAIN = {
    "exact": "The same bytes in more than one place. Safe to remove all but the keeper.",
    "near": "The same photo re-encoded, resized, cropped, rotated or mirrored. Check the differences, then "
    "remove all but the keeper.",
    "lookalike": "Different shots of the same scene (bursts, retakes). Not copies: review each group and "
    "keep the frames you want; nothing here is ticked for you.",
}
# Which kinds have the bulk "check all but the keeper": look-alikes are reviewed one by one.
BULK = {"exact": True, "near": True, "lookalike": False}
NOUN = {
    "exact": ("exact copy", "exact copies"),
    "near": ("near copy", "near copies"),
    "lookalike": ("look-alike", "look-alikes"),
}
COLUMNS = ["Photo", "Folder", "Size", "Dimensions", "Date", "Match"]
FreedBytes = Callable[[Sequence[str]], int]


def groups_of(report: DuplicateReport) -> list[DuplicateGroup]:
    """The report's groups; a report with only plain lists gets groups ordered by the keep rule."""
    if report.groups:
        return report.groups
    out = []
    for kind, lists in (("exact", report.exact), ("near", report.near)):
        for g in lists:
            ordered = keep_order(g)
            out.append(DuplicateGroup(kind, ordered, keep_reason(ordered), [1.0] * len(ordered)))
    return out


@dataclass(frozen=True)
class Row:
    """One member's cells, tooltip and identity, as the tree shows them."""

    info: ImageInfo
    cells: list[str]
    tooltip: str
    folder: str  # the whole folder (the folder column's tooltip)
    keeper: bool


def shown_folders(folders: Sequence[str]) -> list[str]:
    """Each folder as the folder column shows it: below the group's common folder ("Holidays 2023" vs
    "Backup copy/Holidays 2023"), so what tells two copies apart is never cut off behind a long shared
    prefix; one folder for all by its name."""
    if len(set(folders)) <= 1:
        return [Path(f).name or f for f in folders]
    base = os.path.commonpath(folders)
    if base in folders:  # "Family" and "Family/Bursts", not "Family" and "Bursts"
        base = str(Path(base).parent)
    return [os.path.relpath(f, base) for f in folders]


def rows_of(group: DuplicateGroup) -> list[Row]:
    out = []
    shown = shown_folders([str(Path(m.path).parent) for m in group.members])
    for rank, info in enumerate(group.members):
        path = str(info.path)
        paired = group.paired[rank] if rank < len(group.paired) else None
        score = group.scores[rank] if rank < len(group.scores) else 1.0
        how = group.how[rank] if rank < len(group.how) else ""
        name = Path(path).name + (f" + {Path(paired).name}" if paired else "")
        if rank == 0:
            match = "keeper" if group.kind != "lookalike" else "suggested"
        else:
            match = "same bytes" if group.kind == "exact" else f"{score:.4f}"
        if how:
            match += f" ({how})"
        tip = path
        if paired:
            tip += f"\nShown with its camera JPEG {paired}: one photo, never trashed against it"
        if rank == 0:
            tip += "\nSuggested copy to keep.\n" + group.keep_reason
        cells = [
            name,
            shown[rank],
            formatting.size(info.size),
            formatting.dimensions(info.width, info.height),
            formatting.date(info.taken).split(" ")[0],
            match,
        ]
        out.append(Row(info, cells, tip, str(Path(path).parent), rank == 0))
    return out


def group_title(group: DuplicateGroup, n: int) -> str:
    label = {"exact": "Copy set", "near": "Near copies", "lookalike": "Look-alikes"}[group.kind]
    return f"{label} {n} · {formatting.plural(len(group.members), 'photo')}"


@dataclass
class DuplicatesModel:
    """What the tab shows and what the user ticked, per kind."""

    freed_bytes: FreedBytes
    report: DuplicateReport | None = None
    groups: dict[str, list[DuplicateGroup]] = field(default_factory=lambda: {k: [] for k in KINDS})
    checked: dict[str, set[int]] = field(default_factory=lambda: {k: set() for k in KINDS})
    history: list[TrashAction] = field(default_factory=list)

    def set_report(self, report: DuplicateReport) -> None:
        self.report = report
        self.groups = {k: [g for g in groups_of(report) if g.kind == k] for k in KINDS}
        live = {k: {m.id for g in self.groups[k] for m in g.members} for k in KINDS}
        self.checked = {k: self.checked.get(k, set()) & live[k] for k in KINDS}

    # -- checks, one kind at a time ----------------------------------------------------------------------

    def check_all_but_keeper(self, kind: str) -> None:
        """Tick every photo of `kind` but each group's keeper; the other kinds are left as they are.
        Look-alikes have no such action (see the module docstring)."""
        if not BULK[kind]:
            raise ValueError("look-alikes are reviewed one group at a time, never ticked in bulk")
        self.checked[kind] = {m.id for g in self.groups[kind] for m in g.members[1:]}

    def clear(self, kind: str) -> None:
        self.checked[kind] = set()

    def set_checked(self, kind: str, image_id: int, checked: bool) -> None:
        (self.checked[kind].add if checked else self.checked[kind].discard)(image_id)

    def decide(self, kind: str, group: DuplicateGroup, trash_ids: set[int]) -> None:
        """The compare view's choices for one group: exactly `trash_ids` of it ticked."""
        ids = {m.id for m in group.members}
        self.checked[kind] = (self.checked[kind] - ids) | (trash_ids & ids)

    def whole_groups(self, kind: str) -> list[DuplicateGroup]:
        """Groups of `kind` with every member ticked: trashing them leaves no copy of that photo outside
        the trash (the confirmation says so first)."""
        return [g for g in self.groups[kind] if all(m.id in self.checked[kind] for m in g.members)]

    def checked_infos(self, kind: str) -> list[ImageInfo]:
        seen: dict[int, ImageInfo] = {}
        for g in self.groups[kind]:
            for m in g.members:
                if m.id in self.checked[kind]:
                    seen.setdefault(m.id, m)
        return list(seen.values())

    # -- words ---------------------------------------------------------------------------------------------

    def noun(self, kind: str, n: int) -> str:
        one, many = NOUN[kind]
        return formatting.plural(n, one, many)

    def tab_title(self, kind: str) -> str:
        return f"{TITLES[kind]} ({len(self.groups[kind])})"

    def trash_label(self, kind: str) -> str:
        n = len(self.checked[kind])
        return f"Move {self.noun(kind, n)} to trash…" if n else f"Move checked {NOUN[kind][1]} to trash…"

    def describe(self, kind: str) -> tuple[str, str]:
        """(headline, details) of a trash confirmation: how many files of which kind, how much space
        (hard links counted once), which folders (with how many files from each)."""
        paths = [str(i.path) for i in self.checked_infos(kind)]
        per_folder = Counter(str(Path(p).parent) for p in paths)
        freed = self.freed_bytes(paths)
        head = (
            f"Move {self.noun(kind, len(paths))} ({formatting.size(freed)} freed once the trash is "
            f"emptied) from {formatting.plural(len(per_folder), 'folder')} to the trash?"
        )
        touched = sum(1 for g in self.groups[kind] if any(m.id in self.checked[kind] for m in g.members))
        whole = self.whole_groups(kind)
        lines = [f"{folder}  ({n})" for folder, n in sorted(per_folder.items())]
        details = "Folders:\n" + "\n".join(lines)
        if whole:
            names = ", ".join(g.members[0].path.name for g in whole[:5]) + ("…" if len(whole) > 5 else "")
            head = (
                f"Every copy of {formatting.plural(len(whole), 'photo')} is checked: nothing of "
                f"{'it' if len(whole) == 1 else 'them'} would be left outside the trash ({names}). " + head
            )
        else:
            details += f"\n\nEach of the {formatting.plural(touched, 'group')} keeps at least one photo."
        return head, details

    def summary(self) -> str:
        if self.report is None:
            return "Find exact copies, near copies and look-alikes of your photos in the library."
        n = {k: len(self.groups[k]) for k in KINDS}
        if not any(n.values()):
            return "No duplicates found at these thresholds."
        wasted = sum(sum(i.size or 0 for i in g.members[1:]) for g in self.groups["exact"])
        text = (
            f"{formatting.plural(n['exact'], 'set')} of exact copies ({formatting.size(wasted)} could be "
            f"freed), {formatting.plural(n['near'], 'group')} of near copies, "
            f"{formatting.plural(n['lookalike'], 'group')} of look-alikes. Nothing is deleted without asking."
        )
        if self.report.pairs:
            text += f" {formatting.plural(len(self.report.pairs), 'RAW + JPEG pair')} kept together."
        if not self.report.rotations_checked:
            text += " Rotated and mirrored copies were not looked for."
        return text


def calibration_text(cal: Calibration | None, near: float, look: float | None, by_user: bool) -> str:
    if cal is None:
        return "Not calibrated: there is no model serving this library yet."
    look_cal = "—" if cal.lookalike_threshold is None else f"{cal.lookalike_threshold:.4f}"
    text = (
        f"Calibrated on {formatting.plural(cal.sample, 'photo')} of this library: near copies ≥ "
        f"{cal.threshold:.4f}, look-alikes ≥ {look_cal}"
    )
    if by_user:
        chosen = f"near {near:.4f}" + ("" if look is None else f", look-alikes {look:.4f}")
        text += f" (you chose {chosen})"
    return text


def _spread(scores: Sequence[float]) -> str:
    if not scores:
        return "none"
    s = sorted(scores)
    pick = [s[0], s[len(s) // 20], s[len(s) // 2], s[-1]]
    return "min {:.4f} · 5% {:.4f} · median {:.4f} · max {:.4f}".format(*pick)


def calibration_details(cal: Calibration | None) -> str:
    """How the thresholds were derived, with the score distributions (the tooltip)."""
    if cal is None:
        return ""
    lines = [
        f"Near copies: {cal.how}.",
        f"Look-alikes: {cal.lookalike_how or 'not calibrated'}.",
        "",
        f"Your photos vs their own copies: {_spread(cal.copy_scores)}",
        f"Your photos vs 'second frames' of them: {_spread(cal.lookalike_scores)}",
        f"Your photos vs their nearest other photo: {_spread(cal.other_scores)}",
        "",
        "Recalibrate after changing the model or adding many photos.",
    ]
    return "\n".join(lines)


def history_label(action: TrashAction, now: float | None = None) -> str:
    """One undo entry: when, what, from where."""
    when = time.strftime(
        "%H:%M" if (now or time.time()) - action.at < 86400 else "%d %b %H:%M", time.localtime(action.at)
    )
    folders = action.folders
    where = (
        Path(folders[0]).name or folders[0]
        if len(folders) == 1
        else formatting.plural(len(folders), "folder")
    )
    # An entry trashed from the Search tab carries no label of its kind.
    detail = ", ".join(part for part in (action.label, f"from {where}", when) if part)
    return f"Put back {formatting.plural(len(action.items), 'file')} ({detail})"


def history_tooltip(action: TrashAction) -> str:
    return (
        "Back to:\n" + "\n".join(action.folders) + "\n\nIn the trash now:\n" + "\n".join(action.trash_folders)
    )
