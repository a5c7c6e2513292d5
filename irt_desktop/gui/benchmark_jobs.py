"""The Benchmark tab's work and words, free of Qt: what runs on the worker (the model list with its
default DeiT-S, the run itself) and the messages a run that measured nothing, or failed, is shown with,
in the words of the pane's buttons."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from irt_desktop.paths import LibraryLayout

# The runner's messages are shared with the command line; the pane has no such options to offer.
# (Written "-{2}" here, so that no string in the GUI's code reads like an option to type.)
_CLI_HINTS = (
    (re.compile(r"\s*\(-{2}allow-partial[^)]*\)"), ""),
    (
        re.compile(r";? ?(fix the dataset, )?or run with\s+-{2}allow-partial to evaluate it anyway[^.]*\."),
        ".",
    ),
    (re.compile(r"-{2}dims (\d+) ignored"), r"the \1-d descriptor asked for is not applied"),
)

# The first entry of the model list when no DeiT-S is installed: run_benchmark installs the published
# weights (from the cache, else the hub) when it is given no model.
DOWNLOAD_ENTRY = "DeiT-S off the shelf (IRT_O; its weights are downloaded when you press Run)"
FIX_WEIGHTS = (
    "Add a DeiT-S in File ▸ Models…: Download (when online), or Import weights file… with a copy of "
    "deit_small_patch16_224 from another computer."
)


def list_models(models_dir: Path) -> dict[str, Any]:
    """Worker side: the installed models, and the default entry: an installed DeiT-S (verified published
    weights first, else an unverified import, said so), or None (downloaded at Run)."""
    from irt_desktop.retrieval.benchmark.models import installed_default
    from irt_desktop.retrieval.bundle import list_bundles

    bundles = list_bundles(models_dir)
    default = installed_default(bundles)
    return {
        "models": [(b.id, f"{b.card.title or b.card.name} ({b.id})") for b in bundles],
        "default": None if default is None else (default.bundle.id, default.describe(), default.verified),
    }


def missing_text(names: list[str], places: dict[str, Any]) -> str:
    """Why a run of `names` would measure nothing: each dataset missing, with the file expected, in the
    words of the pane's buttons; "" when some dataset is there (or its place is not known yet)."""
    if not names or any(n not in places or places[n].present for n in names):
        return ""
    lines = []
    for name in names:
        place = places[name]
        if place.folder is None:
            lines.append(f"{place.title}: no data folder chosen.")
        else:
            lines.append(f"{place.title} is not there: expected {place.missing}.")
    lines.append(
        "Choose the folder that holds the datasets (Browse…), or a dataset's own folder (Dataset folder…)."
    )
    return "\n".join(lines)


class NothingToRun(Exception):
    """Every ticked dataset is missing: the message says what was expected where."""


def failure_text(exc: BaseException) -> str:
    """A failed run in the pane's words (the command line's advice is for the command line)."""
    if type(exc).__name__ == "WeightsUnavailable":
        return f"The DeiT-S weights are not on this computer and cannot be downloaded now. {FIX_WEIGHTS}"
    return str(exc).strip() or type(exc).__name__


def run_pane_suite(library_dir: Path, choices: dict[str, Any], progress: Any, cancel: threading.Event) -> Any:
    """Worker side: the run the pane was set up for, on the fastest device here; None if it was stopped
    before it had an answer."""
    from irt_desktop.device import best_device
    from irt_desktop.retrieval.benchmark import benchmark_output_dir, dataset_places, run_suite
    from irt_desktop.retrieval.bundle import find_bundle

    if choices["suite"] == "paper":
        # Checked here too, on the folders as they are now: the pane's list may be a moment old.
        names = list(choices["datasets"])
        missing = missing_text(names, dataset_places(choices["data_root"], choices["dataset_folders"], names))
        if missing:
            raise NothingToRun(missing)
    model_id = choices["model"]
    try:
        model = find_bundle(LibraryLayout(library_dir).models, model_id) if model_id else None
        return run_suite(
            out_dir=benchmark_output_dir(library_dir, choices["suite"]),
            model=model,
            device=best_device(None),
            progress=progress,
            cancel=cancel,
            **{k: v for k, v in choices.items() if k != "model"},
        )
    except Exception:
        if cancel.is_set():  # failed while stopping: a stop, not a failure
            return None
        raise


def gui_words(text: str) -> str:
    """`text` without the command line's options (the pane's buttons do what they do)."""
    from irt_desktop.gui.gui_words import gui_text

    for pattern, replacement in _CLI_HINTS:
        text = pattern.sub(replacement, text)
    return gui_text(text)


def unmeasured(result: Any) -> str:
    """The datasets a run could not measure and why, one short line each (the notes have the rest)."""
    from irt_desktop.gui.benchmark_datasets import DATASET_TITLES

    lines = []
    for name, why in {**result.missing, **result.failed}.items():
        first = (why.splitlines() or ["not found"])[0]
        # The reader's line names the file ("<title>: <path> not found. <what it is>"): up to the file.
        cut = first.find(" not found.")
        text = first[: cut + len(" not found.")] if cut >= 0 else _first_sentence(first)
        title = DATASET_TITLES.get(name, name)
        lines.append(text if ":" in text[: len(title) + 40] else f"{title}: {text}")
    return gui_words("\n".join(lines))


def _first_sentence(text: str, limit: int = 240) -> str:
    end = text.find(". ")
    text = text[: end + 1] if end >= 0 else text
    return text if len(text) <= limit else text[: limit - 1] + "…"
