"""What the Search tab does to a selection of photos: copy or move them to a folder, or move them to the
trash. Each asks first (how many, how much, what is skipped and why), runs off the GUI thread, and can be
undone once: a copy is removed again, a move goes back, the trash gives its files back.

File work is library/file_ops.py; trash is the library's own (Library.trash / restore). The questions
are module functions (`ask`, `choose_folder`) so tests answer them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from irt_desktop.gui import formatting
from irt_desktop.gui.results_view import COPY_TO, MOVE_TO, TRASH

if TYPE_CHECKING:
    from irt_desktop.gui.library_client import LibraryClient
    from irt_desktop.library.file_ops import TransferPlan, TransferResult
    from irt_desktop.library.records import SearchHit

log = logging.getLogger(__name__)

# File copies and moves run one after another in their own lane, never in front of a search.
FILES_LANE = "files"
MAX_LISTED = 5


def ask(parent: QWidget | None, title: str, text: str, ok_text: str) -> bool:
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, parent)
    ok = box.addButton(ok_text, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is ok


def choose_folder(parent: QWidget | None, title: str, start: str) -> Path | None:
    path = QFileDialog.getExistingDirectory(parent, title, start)
    return Path(path) if path else None


def photos_text(n: int, size: int | None = None) -> str:
    text = formatting.plural(n, "photo")
    return f"{text} ({formatting.size(size)})" if size else text


def transfer_question(plan: TransferPlan) -> tuple[str, str, str]:
    """(title, text, button) asked before a copy or a move."""
    verb = "Move" if plan.op == "move" else "Copy"
    what = photos_text(plan.count, plan.total_bytes)
    lines = [f"{verb} {what} to {plan.folder}?"]
    if plan.op == "move":
        lines.append("Each photo is copied, checked, and only then removed from its folder.")
    if plan.clashes:
        lines.append(f"{formatting.plural(len(plan.clashes), 'photo')} will be left where they are:")
        lines += [f"  • {src.name}: {why}" for src, why in plan.clashes[:MAX_LISTED]]
        if len(plan.clashes) > MAX_LISTED:
            lines.append(f"  • and {len(plan.clashes) - MAX_LISTED} more")
    lines.append("You can undo this.")
    return f"{verb} photos", "\n".join(lines), f"{verb} {formatting.plural(plan.count, 'photo')}"


def trash_question(hits: list[SearchHit]) -> tuple[str, str, str]:
    size = sum(h.size or 0 for h in hits)
    names = ", ".join(Path(h.path).name for h in hits[:3]) + ("…" if len(hits) > 3 else "")
    text = (
        f"Move {photos_text(len(hits), size)} to the trash?\n{names}\n\n"
        "They leave the library's results at once. You can undo this, or restore them from the "
        "system trash later."
    )
    return "Move to trash", text, "Move to trash"


def failures_text(failed: list[tuple[Any, str]]) -> str:
    if not failed:
        return ""
    first = ", ".join(f"{Path(p).name} ({why})" for p, why in failed[:2])
    more = f" and {len(failed) - 2} more" if len(failed) > 2 else ""
    return f"{formatting.plural(len(failed), 'photo')} not done: {first}{more}."


@dataclass
class Undo:
    """The last batch action, as it can be taken back."""

    op: str
    text: str
    result: Any  # TransferResult or the library's TrashResult
    hits: list  # the SearchHits it was done to, in grid order


class BatchActions(QObject):
    """Runs COPY_TO / MOVE_TO / TRASH on a selection and keeps the last one for Undo.

    `finished(op, hits, result)`: done (the view updates its tiles); `undone(op, hits, result)`;
    `message(text)`: what happened, for the status bar; `undo_changed(text)`: '' when nothing to undo."""

    finished = Signal(str, list, object)
    undone = Signal(str, list, object)
    message = Signal(str)
    undo_changed = Signal(str)

    def __init__(self, client: LibraryClient, parent_widget: QWidget, settings: Any) -> None:
        super().__init__(parent_widget)
        self.client = client
        self.widget = parent_widget
        self.settings = settings
        self.last: Undo | None = None
        self.busy = False

    def request(self, op: str, hits: list[SearchHit]) -> None:
        if not hits:
            return
        if self.busy:
            self.message.emit("The last copy, move or trash is still running; try again in a moment.")
            return
        if op == TRASH:
            title, text, ok = trash_question(hits)
            if ask(self.widget, title, text, ok):
                self._trash(hits)
            return
        if op not in (COPY_TO, MOVE_TO):
            raise ValueError(op)
        verb = "Move" if op == MOVE_TO else "Copy"
        start = getattr(self.settings, "last_dir", "") or str(Path(hits[0].path).parent)
        folder = choose_folder(self.widget, f"{verb} {photos_text(len(hits))} to…", start)
        if folder is None:
            return
        from irt_desktop.library.file_ops import plan_transfer

        paths = [Path(h.path) for h in hits]
        self._run(
            lambda: plan_transfer("move" if op == MOVE_TO else "copy", paths, folder),
            lambda plan: self._confirm_transfer(op, hits, plan),
            "check the photos",
        )

    def _confirm_transfer(self, op: str, hits: list[SearchHit], plan: TransferPlan) -> None:
        if not plan.count:
            self.message.emit(failures_text(plan.clashes) or "Nothing to do.")
            return
        title, text, ok = transfer_question(plan)
        if not ask(self.widget, title, text, ok):
            return
        from irt_desktop.library.file_ops import run_transfer

        done_paths = {str(src) for src, _ in plan.items}
        chosen = [h for h in hits if str(Path(h.path)) in done_paths]

        def finished(result: TransferResult) -> None:
            verb = "Moved" if op == MOVE_TO else "Copied"
            text = f"{verb} {photos_text(len(result.done), result.bytes)} to {result.folder.name}."
            self._after(op, chosen, result, text, failures_text(result.failed))
            self._rescan(result)

        self._run(lambda: run_transfer(plan), finished, "move photos" if op == MOVE_TO else "copy photos")

    def _trash(self, hits: list[SearchHit]) -> None:
        ids = [h.image_id for h in hits]

        def finished(result: Any) -> None:
            moved = {f.image_id for f in result.moved}
            done = [h for h in hits if h.image_id in moved]
            text = f"Moved {photos_text(len(done), sum(f.size for f in result.moved))} to the trash."
            self._after(TRASH, done, result, text, failures_text(result.failed))

        self.busy = True
        self.client.submit(lambda lib: lib.trash(ids), finished, self._failed, name="move to trash")

    def _after(self, op: str, hits: list, result: Any, text: str, problems: str) -> None:
        self.busy = False
        if hits:
            self.last = Undo(op, text, result, hits)
            self.undo_changed.emit(text)
        self.finished.emit(op, hits, result)
        self.message.emit(" ".join(t for t in (text if hits else "", problems) if t) or "Nothing was done.")

    def undo(self) -> None:
        last, self.last = self.last, None
        self.undo_changed.emit("")
        if last is None or self.busy:
            return

        def undone(result: Any) -> None:
            self.busy = False
            back = result.done if last.op != TRASH else result.moved
            problems = failures_text(result.failed)
            what = {COPY_TO: "Removed the copies of", MOVE_TO: "Moved back", TRASH: "Restored"}[last.op]
            self.message.emit(" ".join(t for t in (f"{what} {photos_text(len(back))}.", problems) if t))
            self.undone.emit(last.op, last.hits, result)
            if last.op != TRASH:
                self._rescan(result)

        self.busy = True
        if last.op == TRASH:
            self.client.submit(lambda lib: lib.restore(last.result), undone, self._failed, name="restore")
        else:
            from irt_desktop.library.file_ops import undo_transfer

            self._run(lambda: undo_transfer(last.result), undone, "undo")

    def _run(self, fn, on_done, name: str) -> None:
        self.busy = True

        def done(value: Any) -> None:
            self.busy = False
            on_done(value)

        self.client.runner.run(fn, done, self._failed, name=name, lane=FILES_LANE)

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        log.warning("batch action failed: %s", exc)
        self.message.emit(f"Not done: {getattr(exc, 'strerror', None) or exc}")

    def _rescan(self, result: TransferResult) -> None:
        """The library looks at both ends now, not at the watcher's next report (or never, unwatched)."""
        paths = sorted({str(t.source) for t in result.done} | {str(t.target) for t in result.done})
        indexer = getattr(self.client, "indexer", None)
        if paths and indexer is not None and self.client.library is not None:
            indexer.request_paths(paths)
