"""The runs a model name already stands for, a name that stands for none, and setting a run aside.

A fine-tune's work folder (LIBRARY/training/<name>-<key>) holds its checkpoint and a `run.json` naming
the model it makes; the models folder holds the bundles made. A name is taken when either knows it.
Starting a taken name over never deletes anything: the old work folder is renamed aside (its checkpoint
can still be resumed by hand) and installed models stay installed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from irt_desktop.retrieval.bundle import ModelBundle, list_bundles

if TYPE_CHECKING:
    from irt_desktop.retrieval.training.finetune.plan import FinetunePlan

RUN_FILE = "run.json"
CHECKPOINT_DIR = "checkpoint"  # trainer.CHECKPOINT_DIR, without importing torch for a name check
CHECKPOINT_META = "state.json"
ASIDE = ".set-aside-"


@dataclass(frozen=True)
class PastRun:
    """A work folder of an earlier run: `iteration` its checkpoint reached of `total` (0 / 0 when it
    holds no checkpoint yet)."""

    folder: Path
    name: str
    iteration: int
    total: int

    @property
    def finished(self) -> bool:
        return self.total > 0 and self.iteration >= self.total

    @property
    def resumable(self) -> bool:
        return 0 < self.iteration < self.total


@dataclass(frozen=True)
class NameUse:
    """What `name` already stands for: installed `models` of that name and earlier `runs` under it."""

    name: str
    models: tuple[ModelBundle, ...] = ()
    runs: tuple[PastRun, ...] = ()

    @property
    def taken(self) -> bool:
        return bool(self.models or self.runs)

    def run_in(self, folder: Path | None) -> PastRun | None:
        """The earlier run in `folder` (the work folder a plan would use), if any."""
        return next((r for r in self.runs if folder is not None and r.folder == Path(folder)), None)


def record_run(plan: FinetunePlan) -> None:
    """Write the plan's work folder's run.json (what model name it makes, from which model)."""
    if plan.work_dir is None:
        return
    folder = Path(plan.work_dir)
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "name": plan.name or "",
        "base": plan.base.id,
        "started": datetime.now().isoformat(timespec="seconds"),
    }
    (folder / RUN_FILE).write_text(json.dumps(record), encoding="utf-8")


def past_runs(work_root: Path | None) -> list[PastRun]:
    """Every run folder under `work_root` that records a model name (folders set aside excluded)."""
    out: list[PastRun] = []
    if work_root is None or not Path(work_root).is_dir():
        return out
    for folder in sorted(Path(work_root).iterdir()):
        if not folder.is_dir() or ASIDE in folder.name or folder.name.startswith("."):
            continue
        record = _read_json(folder / RUN_FILE)
        if record is None:
            continue
        iteration, total = _progress(folder / CHECKPOINT_DIR / CHECKPOINT_META)
        out.append(PastRun(folder, str(record.get("name", "")), iteration, total))
    return out


def name_use(name: str, models_dir: Path, work_root: Path | None) -> NameUse:
    """The installed models and earlier runs that `name` (a model_slug) already stands for."""
    models = tuple(b for b in list_bundles(Path(models_dir)) if b.card.name == name)
    runs = tuple(r for r in past_runs(work_root) if r.name == name)
    return NameUse(name, models, runs)


def unique_name(stem: str, models_dir: Path, work_root: Path | None) -> str:
    """`stem`, or `stem-2`, `stem-3`, ...: the first that no installed model and no earlier run uses."""
    taken = {b.card.name for b in list_bundles(Path(models_dir))}
    taken |= {r.name for r in past_runs(work_root)}
    if stem not in taken:
        return stem
    n = 2
    while f"{stem}-{n}" in taken:
        n += 1
    return f"{stem}-{n}"


def set_aside(folder: Path, when: datetime | None = None) -> Path | None:
    """Rename a run's work folder out of the way (kept, with its checkpoint) so that a run planned into
    it starts over; returns where it went, None when there was nothing to move."""
    folder = Path(folder)
    if not folder.exists():
        return None
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M%S")
    target = folder.with_name(f"{folder.name}{ASIDE}{stamp}")
    n = 2
    while target.exists():
        target = folder.with_name(f"{folder.name}{ASIDE}{stamp}-{n}")
        n += 1
    os.replace(folder, target)
    return target


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _progress(meta_path: Path) -> tuple[int, int]:
    """(iteration reached, iterations planned) of a checkpoint; (0, 0) without a readable one."""
    meta = _read_json(meta_path)
    if meta is None:
        return 0, 0
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    try:
        return int(meta.get("iteration", 0)), int(config.get("iterations", 0))
    except (TypeError, ValueError):
        return 0, 0
