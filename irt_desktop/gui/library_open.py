"""How the GUI opens a library and reads what it can do: the Settings that shape it, whether it has a
model, the device line of the status bar. Every function here runs on a worker (they load torch), except
`is_no_model_error` and `inference_options`, which are cheap anywhere.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from irt_desktop.gui.settings import AppSettings
from irt_desktop.paths import LibraryLayout

if TYPE_CHECKING:
    from irt_desktop.library import Library

log = logging.getLogger(__name__)

Opener = Callable[[Path, AppSettings], "Library"]


def inference_options(settings: AppSettings) -> tuple[str | None, bool]:
    """(device, low_precision) for the library from Settings; None lets the library pick the device."""
    return (None if settings.device == "auto" else settings.device), settings.bf16


def open_real_library(library_dir: Path, settings: AppSettings) -> Library:
    from irt_desktop.library import Library, LibraryError
    from irt_desktop.library.errors import LibraryUnavailable

    device, low_precision = inference_options(settings)
    # Exclude patterns belong to the library (the CLI honours them too); the ones last saved in Settings
    # seed a library that has none yet, and the Settings dialog edits the open library's.
    # The window holds the library's writer lock while it is open (role "gui": `irt-desktop index
    # FOLDER` then hands its folders to this window instead of indexing itself).
    options = {
        "low_precision": low_precision,
        "default_exclude_patterns": settings.exclude_patterns,
        "role": "gui",
        # The startup rescan of a large library walks in a child process: in the window's process it
        # shared the GIL and the cores with the GUI thread, and scrolling stuttered (survey_process.py).
        "survey_in_child": True,
    }
    try:
        return Library.open(library_dir, device=device, **options)
    except LibraryError as exc:
        if device is None or isinstance(exc, LibraryUnavailable):
            raise
        # A device chosen on another machine (settings travel with the user) must not keep the library
        # shut: open it on the best device there is; the client says so.
        log.warning("device %r is not available; opening the library with the automatic choice", device)
        return Library.open(library_dir, device=None, **options)


def library_has_model(library: Library, library_dir: Path) -> bool:
    """Whether indexing can run: a serving or target model, or one installed that it would adopt."""
    if getattr(library, "model_id", None) or getattr(library, "target_model_id", None):
        return True
    from irt_desktop.library.model_store import default_bundle

    try:
        default_bundle(LibraryLayout(library_dir).models)
    except Exception as exc:
        if is_no_model_error(exc):
            return False
        raise
    return True


def is_no_model_error(exc: BaseException) -> bool:
    """True for the library's NoModelError. Looked up, never imported: an instance can only exist once
    the library's errors module is loaded, and importing it from the GUI thread would load torch today
    (irt_desktop.library's package init imports the whole library)."""
    errors = sys.modules.get("irt_desktop.library.errors")
    return errors is not None and isinstance(exc, errors.NoModelError)


def describe_device(library: Library | None, settings: AppSettings) -> str:
    """What the status bar shows for the device indexing runs on: "NVIDIA … · bf16", "CPU … · fp32".

    When OpenVINO serves, this is answered without torch: importing it here (~1 s, ~300 MB) would put
    it in the GUI process ahead of the first search, which is the point of the light process."""
    from irt_desktop.retrieval.serving import choose_backend, cpu_bf16_native

    wanted, low_precision = inference_options(settings)
    if library is not None:
        wanted, low_precision = (
            getattr(library, "device", wanted),
            getattr(library, "low_precision", low_precision),
        )
    models = getattr(library, "models", None)
    choice = choose_backend(getattr(models, "backend", None), wanted)
    if choice.backend == "openvino":
        bf16 = "bf16" if low_precision and cpu_bf16_native() else "fp32"
        return f"CPU ({os.cpu_count()} cores) · OpenVINO {bf16}"
    from irt_desktop.device import autocast_dtype, best_device, cpu_has_bf16
    from irt_desktop.device import describe_device as device_text

    try:
        device = best_device(wanted)
    except RuntimeError:
        device = best_device(None)
    text = device_text(device)
    if device == "cpu" and not cpu_has_bf16():
        return text  # "without bf16" already says it all
    low = autocast_dtype(device, low_precision)
    return f"{text} · {str(low).removeprefix('torch.') if low else 'fp32'}"


def is_damaged_error(exc: BaseException | None) -> bool:
    """True for the library's CatalogDamaged (looked up, not imported, like is_no_model_error)."""
    errors = sys.modules.get("irt_desktop.library.errors")
    return exc is not None and errors is not None and isinstance(exc, errors.CatalogDamaged)


def repair_library(library_dir: Path, start_empty: bool = False) -> tuple[bool, list[str]]:
    """What `irt-desktop repair` does, for the GUI while the library is closed: under the writer lock,
    the damaged catalog is kept aside (renamed, never deleted) and the newest sound backup restored, or,
    with `start_empty`, an empty catalog started. (ok, the report's lines)."""
    from irt_desktop.library.health import refuse_non_folder, remove_leftovers, repair
    from irt_desktop.library.lock import WriterLock

    layout = LibraryLayout(library_dir)
    refuse_non_folder(layout.root)
    lock = WriterLock(layout.root, role="repair")
    lock.acquire()
    try:
        remove_leftovers(layout, lock.acquired_at or 0.0)
        report = repair(layout, start_empty=start_empty)
    finally:
        lock.release()
    return report.ok, list(report.lines)
