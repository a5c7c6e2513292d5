"""The model manager's view model: the installed models and how each stands in the library, and the
operations on them (activate, switch back, rename, remove), each run in the library lane of the client's
task runner. No widgets here; the questions the dialog asks are built by the plain functions below.

It also remembers how fast this computer indexes (the embed-phase rate of the last pass), which is what
"Re-index 1,032 photos, about 9 min on this computer" is estimated from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from irt_desktop.gui import formatting
from irt_desktop.gui.library_client import NO_MODEL, READY, LibraryClient

if TYPE_CHECKING:
    from irt_desktop.library import Library
    from irt_desktop.library.model_store import InstalledModel
    from irt_desktop.library.models import Activation, ActivationCost, Removal
    from irt_desktop.library.records import IndexProgress, IndexReport, LibraryStatus

log = logging.getLogger(__name__)

# A pass must embed at least this many images for its rate to count as a measurement.
MIN_MEASURED = 8


def _manager(lib: Library):
    from irt_desktop.library.models import ModelManager

    return ModelManager.of(lib)


def _starting_points() -> list[tuple[str, str]]:
    """(card name, title) of the shipped starting points that can be downloaded."""
    from irt_desktop.retrieval.card import shipped_cards

    cards = shipped_cards().items()
    return [(name, card.title or name) for name, card in cards if card.weights.get("timm_tag")]


class ModelsViewModel(QObject):
    models_changed = Signal(list)  # list[InstalledModel]
    active_changed = Signal(object)  # InstalledModel | None: the serving model
    activated = Signal(object)  # Activation
    removed = Signal(object)  # Removal
    message = Signal(str)
    failed = Signal(str, str)  # title, one-line reason
    busy_changed = Signal(bool)

    def __init__(self, client: LibraryClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.entries: list[InstalledModel] = []
        self.starting_points: list[tuple[str, str]] = []
        self.loaded = False
        self._busy = 0
        self._known: tuple[str | None, str | None] = (None, None)
        self._last_rate: tuple[int, float] | None = None
        client.status_changed.connect(self._on_status)
        client.index_progress.connect(self._on_progress)
        client.index_finished.connect(self._on_index_finished)
        client.model_changed.connect(lambda _id: self.refresh())

    # --- what is installed ------------------------------------------------------------------------------
    @property
    def serving(self) -> InstalledModel | None:
        return next((e for e in self.entries if e.serving), None)

    @property
    def target(self) -> InstalledModel | None:
        return next((e for e in self.entries if e.target), None)

    @property
    def previous(self) -> InstalledModel | None:
        return next((e for e in self.entries if e.previous), None)

    def entry(self, model_id: str) -> InstalledModel | None:
        return next((e for e in self.entries if e.id == model_id), None)

    @property
    def busy(self) -> bool:
        return self._busy > 0

    def refresh(self) -> None:
        """Re-read the installed models (off the GUI thread); models_changed answers."""
        if self.client.library is not None:
            self.client.submit(
                lambda lib: (_manager(lib).installed(), _starting_points()),
                self._on_listed,
                on_error=lambda exc: log.warning("listing models: %s", exc),
                name="list models",
            )
        else:
            # No library open (it failed to): what is installed in its folder, with no standing.
            models_dir = self.client.layout.models

            def listed() -> tuple[list[InstalledModel], list[tuple[str, str]]]:
                from irt_desktop.library.model_store import describe
                from irt_desktop.retrieval.bundle import list_bundles

                return [describe(b) for b in list_bundles(models_dir)], _starting_points()

            self.client.run_in_lane(
                listed,
                self._on_listed,
                lambda exc: log.warning("listing models: %s", exc),
                name="list models",
            )

    def _on_listed(self, answer: tuple[list[InstalledModel], list[tuple[str, str]]]) -> None:
        self.entries, self.starting_points = answer
        self.loaded = True
        serving, target = self.serving, self.target
        self._known = (serving.id if serving else None, target.id if target else None)
        self.models_changed.emit(self.entries)
        self.active_changed.emit(serving)

    def _on_status(self, status: LibraryStatus) -> None:
        if (status.model_id, status.target_model_id) != self._known or not self.loaded:
            self.refresh()

    # --- what a switch costs -----------------------------------------------------------------------------
    def cost(self, model_id: str, on_done: Callable[[ActivationCost], None]) -> None:
        self.client.submit(
            lambda lib: _manager(lib).activation_cost(model_id),
            on_done,
            on_error=self._fail("The cost of the switch could not be estimated"),
            name="estimate a model switch",
        )

    def _on_progress(self, p: IndexProgress) -> None:
        if p.phase == "embed" and p.done and p.images_per_s > 0:
            self._last_rate = (p.done, p.images_per_s)

    def _on_index_finished(self, report: IndexReport | None, error: BaseException | None) -> None:
        rate, self._last_rate = self._last_rate, None
        if report is None or error is not None or rate is None or not report.model_id:
            return
        done, per_s = rate
        if done >= MIN_MEASURED and self.client.library is not None:
            model_id = report.model_id
            self.client.submit(
                lambda lib: _manager(lib).record_rate(model_id, per_s),
                on_error=lambda exc: log.debug("rate not recorded: %s", exc),
                name="record the indexing rate",
            )

    # --- changes ------------------------------------------------------------------------------------------
    def activate(self, model_id: str, on_done: Callable[[Activation], None] | None = None) -> None:
        def done(activation: Activation) -> None:
            self._done()
            entry = self.entry(model_id)
            self.message.emit(activation.message(entry.title if entry else ""))
            self.activated.emit(activation)
            if self.client.state == NO_MODEL:
                self.client.check_model()
            elif self.client.state == READY:
                if not activation.immediate:
                    self.client.indexer.request()
                self.client.refresh()
            self.refresh()
            if on_done is not None:
                on_done(activation)

        self._start()
        self.client.submit(
            lambda lib: _manager(lib).activate(model_id),
            done,
            on_error=self._fail("The model was not activated"),
            name="activate model",
        )

    def switch_back(self) -> None:
        previous = self.previous
        if previous is not None:
            self.activate(previous.id)

    def rename(self, model_id: str, title: str) -> None:
        def done(entry: InstalledModel) -> None:
            self._done()
            self.message.emit(f"Renamed to “{entry.title}”")
            self.refresh()

        self._start()
        self.client.submit(
            lambda lib: _manager(lib).rename(model_id, title),
            done,
            on_error=self._fail("The model was not renamed"),
            name="rename model",
        )

    def remove(self, model_id: str) -> None:
        def done(removal: Removal) -> None:
            self._done()
            self.message.emit(removal.message())
            self.removed.emit(removal)
            self.refresh()

        self._start()
        self.client.submit(
            lambda lib: _manager(lib).remove(model_id),
            done,
            on_error=self._fail("The model was not removed"),
            name="remove model",
        )

    def _start(self) -> None:
        self._busy += 1
        self.busy_changed.emit(True)

    def _done(self) -> None:
        self._busy = max(0, self._busy - 1)
        self.busy_changed.emit(self.busy)

    def _fail(self, title: str) -> Callable[[BaseException], None]:
        def failed(exc: BaseException) -> None:
            self._done()
            text = str(exc) or type(exc).__name__
            self.failed.emit(title, text.splitlines()[0])
            self.refresh()

        return failed


# --- the questions the manager asks ---------------------------------------------------------------------


def cost_text(cost: ActivationCost) -> str:
    """'Re-index 1,032 photos, about 9 min on this computer.'"""
    if cost.immediate:
        return "Its vectors are already in the library: search switches to it at once, nothing is re-indexed."
    photos = formatting.plural(cost.pending, "photo")
    if cost.seconds is None:
        return f"Re-index {photos}."
    minutes = _rough_duration(cost.seconds)
    if cost.measured:
        return f"Re-index {photos}, about {minutes} on this computer."
    return f"Re-index {photos}, roughly {minutes} (a guess: this computer has not measured its speed yet)."


def _rough_duration(seconds: float) -> str:
    if seconds < 60:
        return "1 min" if seconds > 30 else "less than a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 10 else f"{round(hours)} h"


def activation_question(
    entry: InstalledModel, cost: ActivationCost, serving: InstalledModel | None
) -> tuple[str, str]:
    """(title, text) of the confirmation before switching to `entry`."""
    title = f"Use “{entry.title}” for search?"
    lines = [cost_text(cost)]
    if not cost.immediate and serving is not None:
        lines.append(
            f"Search keeps using “{serving.title}” until that is done, and you can switch back at any time."
        )
    if not entry.verified and entry.kind in ("imported", "pretrained", "unknown"):
        lines.append(f"Note: {entry.provenance_text}")
    return title, "\n\n".join(lines)


def removal_question(entry: InstalledModel) -> tuple[str, str]:
    title = f"Move “{entry.title}” to the trash?"
    what = f"Its folder ({formatting.size(entry.disk_bytes)}) and its search index go to the trash"
    text = f"{what}, from where they can be restored."
    if entry.vectors:
        text += (
            f"\n\nIts {formatting.plural(entry.vectors, 'vector')} are dropped from the library: using it "
            "again means re-indexing with it."
        )
    return title, text


def removal_refusal(entry: InstalledModel) -> str | None:
    """Why `entry` cannot be removed now, or None."""
    if entry.serving:
        return f"“{entry.title}” is the model in use: activate another model before removing it."
    if entry.target:
        return (
            f"“{entry.title}” is being switched to: activate the model in use again to call the switch "
            "off, then remove it."
        )
    return None


def metrics_text(metrics: dict[str, float] | Any) -> str:
    """'R@1 62.3 · R@2 71.0' for a fine-tune's held-out results; '' when none were recorded."""
    if not metrics:
        return ""

    def key(item: tuple[str, float]) -> tuple[int, str]:
        name = item[0]
        return (int(name[2:]) if name.startswith("R@") and name[2:].isdigit() else 10**6, name)

    return " · ".join(f"{k} {v:.1f}" for k, v in sorted(dict(metrics).items(), key=key))
