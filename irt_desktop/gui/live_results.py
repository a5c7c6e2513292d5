"""Open results that follow the library: after an indexing pass (a watched change, a rescan) or a batch
action, photos that left the library leave the grid, moved ones show their new place, and photos that
would now be among the results are offered ("3 new photos may match: Refresh"). Nothing is searched
again by itself: the check asks the library with the answer's own descriptor, and only the user's
Refresh replaces the results.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from irt_desktop.gui import formatting
from irt_desktop.gui.folder_list import FolderRows, folder_rows
from irt_desktop.gui.results_view import MOVE_TO, TRASH
from irt_desktop.gui.search_model import Recheck, recheck, updated_hit

if TYPE_CHECKING:
    from irt_desktop.gui.search_view import SearchView
    from irt_desktop.library.records import IndexReport

log = logging.getLogger(__name__)

# Several passes in a row (a watcher batch, then the embedding) are checked once.
RECHECK_DELAY_MS = 400
# The folder list scans every row (~4 s at 10^6 photos on a busy 2-core CPU): after a listing that took
# t seconds, the next waits at least FOLDERS_PAUSE x t (and FOLDERS_MIN_S), unless the roots changed.
FOLDERS_PAUSE = 5.0
FOLDERS_MIN_S = 1.0
FOLDERS_LANE = "folders"


def report_changed_anything(report: IndexReport | None) -> bool:
    if report is None:
        return True
    scan = report.scan
    return bool(
        report.embedded
        or scan.new
        or scan.changed
        or scan.moved
        or scan.copied
        or scan.deleted
        or report.switched_model
    )


class LiveResults(QObject):
    """The Search tab's open results kept in step with the library (see the module docstring)."""

    rechecked = Signal(object)  # Recheck, once applied (tests wait on it)

    def __init__(self, view: SearchView) -> None:
        super().__init__(view)
        self.view = view
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RECHECK_DELAY_MS)
        self._timer.timeout.connect(self.check_now)
        self._folders_due = True
        self._checking = False
        self._listing = False
        self._listed_at = 0.0
        self._listing_s = 0.0
        # The folder list (with sub-folders) has come from the library at least once.
        self.folders_known = False

    # --- triggers ---------------------------------------------------------------------------------------
    def on_index_finished(self, report: IndexReport | None, error: BaseException | None) -> None:
        if report_changed_anything(report):
            self._folders_due = True
            self.schedule()

    def on_model_changed(self, _model_id: str) -> None:
        if self.view.last_answer is not None:
            self.offer("Search now uses the new model; these results are from the previous one.")

    def folders_stale(self, roots_changed: bool = False) -> None:
        self._folders_due = True
        if roots_changed:
            self._listed_at = 0.0  # a folder added or removed is listed at once
        self.schedule()

    def schedule(self) -> None:
        self._timer.start(RECHECK_DELAY_MS)

    # --- checking ---------------------------------------------------------------------------------------
    def check_now(self) -> None:
        view = self.view
        client = view.client
        if client.library is None:
            return
        if self._folders_due and not self._listing:
            pause = max(FOLDERS_MIN_S, FOLDERS_PAUSE * self._listing_s)
            wait = pause - (time.monotonic() - self._listed_at)
            if self.folders_known and wait > 0:
                # A watcher reporting photo after photo does not re-list 10^6 rows each time.
                self._timer.start(round(wait * 1000))
            else:
                self._list_folders(client.library)
        answer = view.last_answer
        if answer is None or view.is_searching or self._checking:
            return
        shown = view.model.hits()
        self._checking = True

        def done(result: Recheck) -> None:
            self._checking = False
            if view.last_answer is answer and not view.is_searching:
                self.apply(result)

        def failed(exc: BaseException) -> None:
            self._checking = False
            log.warning("checking the open results: %s", exc)

        client.submit(lambda lib: recheck(lib, answer, shown), done, failed, name="check results")

    def _list_folders(self, library: object) -> None:
        """In a lane of its own: it reads only (any thread may), and at 10^6 photos it takes seconds
        that searches in the library lane must not wait behind."""
        self._folders_due = False
        self._listing = True
        started = time.monotonic()

        def done(folders: FolderRows) -> None:
            self._listing = False
            self._listed_at = time.monotonic()
            self._listing_s = self._listed_at - started
            self.folders_known = True
            self.view.set_folders_gone(self.view.controls.set_folders(folders))

        def failed(exc: BaseException) -> None:
            self._listing = False
            log.warning("folders: %s", exc)

        # The rows' texts are made in the lane too (folder_list.folder_rows says why).
        self.view.client.runner.run(
            lambda: folder_rows(library.image_folders()), done, failed, name="list folders", lane=FOLDERS_LANE
        )

    def apply(self, result: Recheck) -> None:
        view = self.view
        if result.gone:
            view.model.remove_ids(set(result.gone))
            if view.lightbox is not None:
                view.lightbox.remove_ids(set(result.gone))
        if result.moved:
            by_id = {h.image_id: h for h in view.model.hits()}
            view.model.update_hits(
                {i: updated_hit(by_id[i], info) for i, info in result.moved.items() if i in by_id}
            )
        if result.model_changed:
            self.offer("Search now uses the new model; these results are from the previous one.")
        elif result.new:
            n = len(result.new)
            self.offer(f"{formatting.plural(n, 'new photo')} may match.")
        view.update_header()
        self.rechecked.emit(result)

    def offer(self, text: str) -> None:
        self.view.live_bar.show_notice(text)

    # --- batch actions ----------------------------------------------------------------------------------
    def on_batch_done(self, op: str, hits: list, result: Any) -> None:
        view = self.view
        if op == TRASH:
            ids = {h.image_id for h in hits}
            view.model.remove_ids(ids)
            if view.lightbox is not None:
                view.lightbox.remove_ids(ids)
        elif op == MOVE_TO:
            self._retarget({str(t.source): t.target for t in result.done})
        view.update_header()

    def on_batch_undone(self, op: str, hits: list, result: Any) -> None:
        view = self.view
        if op == TRASH:
            # The catalog has them back already (restore is immediate): check the rest now.
            self._restore_tiles(hits, {f.image_id for f in result.moved})
            self.schedule()
        elif op == MOVE_TO:
            # The library revives their rows at its next pass; that pass's end brings the next check.
            back = {str(t.source) for t in result.done}
            self._restore_tiles(hits, {h.image_id for h in hits if str(h.path) in back})
        view.update_header()

    def _restore_tiles(self, hits: list, ids: set[int]) -> None:
        """Photos back where they were: their tiles again, in the answer's order, as they were before."""
        answer = self.view.last_answer
        if answer is None or not ids:
            return
        shown = {h.image_id for h in self.view.model.hits()} | ids
        before = {h.image_id: h for h in hits if h.image_id in ids}
        self.view.model.set_hits([before.get(h.image_id, h) for h in answer.hits if h.image_id in shown])

    def _retarget(self, where: dict) -> None:
        """Tiles of moved photos point at their new place (the library's row follows at its next pass)."""
        changed = {}
        for h in self.view.model.hits():
            new = where.get(str(h.path))
            if new is not None:
                changed[h.image_id] = replace(h, path=new)
        if changed:
            self.view.model.update_hits(changed)
