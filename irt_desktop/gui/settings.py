"""User preferences persisted with QSettings: one typed accessor per setting, defaults in one place.

Tests hand in a QSettings on an ini file in a temporary folder, so they never touch the user's own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal

DEVICES = ("auto", "cpu", "cuda", "mps")
DEFAULT_EXCLUDES = ("@eaDir", ".*", "*.tmp", "Thumbs.db")


# The most results one search may ask for. 5,000 is what tests/perf/bench_scale.py measures at 10^6 photos
# (answered in ~1.6 s; the grid scrolls it at ~10 ms a frame).
MAX_RESULTS = 5000

class AppSettings(QObject):
    """Typed view of QSettings; `changed(key)` fires after a set so views can follow."""

    changed = Signal(str)

    def __init__(self, store: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store if store is not None else QSettings("irt-desktop", "irt-desktop")

    # --- raw helpers -------------------------------------------------------------------------------
    def _get(self, key: str, default: Any, kind: type) -> Any:
        value = self.store.value(key, None)
        if value is None:
            return default
        try:
            if kind is bool:
                return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
            return kind(value)
        except (TypeError, ValueError):
            return default

    def _set(self, key: str, value: Any) -> None:
        if self.store.value(key, None) == value:
            return
        self.store.setValue(key, value)
        self.changed.emit(key)

    def _get_json(self, key: str, default: Any) -> Any:
        raw = self.store.value(key, None)
        if raw is None:
            return default
        try:
            return json.loads(str(raw))
        except ValueError:
            return default

    def _set_json(self, key: str, value: Any) -> None:
        self._set(key, json.dumps(value, sort_keys=True))

    def sync(self) -> None:
        self.store.sync()

    # --- library -------------------------------------------------------------------------------------
    @property
    def library_path(self) -> Path | None:
        """Chosen in Settings; None means the command line's / platform default."""
        raw = self._get("library/path", "", str)
        return Path(raw) if raw else None

    @library_path.setter
    def library_path(self, value: Path | None) -> None:
        self._set("library/path", str(value) if value else "")

    @property
    def exclude_patterns(self) -> list[str]:
        return list(self._get_json("library/exclude_patterns", list(DEFAULT_EXCLUDES)))

    @exclude_patterns.setter
    def exclude_patterns(self, value: list[str]) -> None:
        self._set_json("library/exclude_patterns", [v.strip() for v in value if v.strip()])

    # --- compute -------------------------------------------------------------------------------------
    @property
    def device(self) -> str:
        value = self._get("compute/device", "auto", str)
        return value if value in DEVICES else "auto"

    @device.setter
    def device(self, value: str) -> None:
        self._set("compute/device", value if value in DEVICES else "auto")

    @property
    def bf16(self) -> bool:
        return self._get("compute/bf16", True, bool)

    @bf16.setter
    def bf16(self, value: bool) -> None:
        self._set("compute/bf16", bool(value))

    # --- view ----------------------------------------------------------------------------------------
    @property
    def thumbnail_size(self) -> int:
        return max(64, min(320, self._get("view/thumbnail_size", 160, int)))

    @thumbnail_size.setter
    def thumbnail_size(self, value: int) -> None:
        self._set("view/thumbnail_size", int(value))

    @property
    def theme(self) -> str:
        value = self._get("view/theme", "system", str)
        return value if value in ("system", "light", "dark") else "system"

    @theme.setter
    def theme(self, value: str) -> None:
        self._set("view/theme", value)

    # --- search --------------------------------------------------------------------------------------
    @property
    def result_count(self) -> int:
        return max(1, min(MAX_RESULTS, self._get("search/k", 50, int)))

    @result_count.setter
    def result_count(self, value: int) -> None:
        self._set("search/k", int(value))

    @property
    def min_similarity(self) -> float:
        return max(0.0, min(1.0, self._get("search/min_similarity", 0.0, float)))

    @min_similarity.setter
    def min_similarity(self, value: float) -> None:
        self._set("search/min_similarity", round(float(value), 3))

    # The Duplicates tab's thresholds as the user set them by hand, to 4 decimals (its sliders' step: a
    # small model's thresholds sit at 0.99x). Until they do, and again after "Use calibrated" or
    # "Recalibrate", the library's calibrated ones apply and these are not stored.
    @property
    def duplicate_threshold(self) -> float:
        return max(0.5, min(1.0, self._get("duplicates/threshold", 0.95, float)))

    @duplicate_threshold.setter
    def duplicate_threshold(self, value: float) -> None:
        self._set("duplicates/threshold", round(float(value), 4))

    @property
    def lookalike_threshold(self) -> float | None:
        """None: never set (the view starts it just below the near-copy one)."""
        value = self._get("duplicates/lookalike_threshold", None, float)
        return None if value is None else max(0.5, min(1.0, value))

    @lookalike_threshold.setter
    def lookalike_threshold(self, value: float) -> None:
        self._set("duplicates/lookalike_threshold", round(float(value), 4))

    @property
    def duplicate_thresholds_chosen(self) -> bool:
        """The user set the thresholds: theirs are used (after a restart too), not the calibrated ones."""
        return self._get("duplicates/chosen", False, bool)

    @duplicate_thresholds_chosen.setter
    def duplicate_thresholds_chosen(self, value: bool) -> None:
        self._set("duplicates/chosen", bool(value))

    def forget_duplicate_thresholds(self) -> None:
        """Back to the calibrated thresholds: both of the user's values go."""
        for key in ("duplicates/threshold", "duplicates/lookalike_threshold", "duplicates/chosen"):
            if self.store.contains(key):
                self.store.remove(key)
                self.changed.emit(key)

    # --- misc state ----------------------------------------------------------------------------------
    @property
    def last_dir(self) -> str:
        return self._get("dialogs/last_dir", str(Path.home()), str)

    @last_dir.setter
    def last_dir(self, value: str | Path) -> None:
        self._set("dialogs/last_dir", str(value))

    @property
    def model_fetch_declined(self) -> bool:
        return self._get("model/fetch_declined", False, bool)

    @model_fetch_declined.setter
    def model_fetch_declined(self, value: bool) -> None:
        self._set("model/fetch_declined", bool(value))

    def benchmark_state(self) -> dict[str, Any]:
        """Datasets ticked, their folders, model and mode of the benchmark pane."""
        return dict(self._get_json("benchmark/state", {}))

    def set_benchmark_state(self, state: dict[str, Any]) -> None:
        self._set_json("benchmark/state", state)

    def wizard_state(self) -> dict[str, Any]:
        return dict(self._get_json("finetune/state", {}))

    def set_wizard_state(self, state: dict[str, Any]) -> None:
        self._set_json("finetune/state", state)

    def window_state(self) -> tuple[bytes | None, bytes | None]:
        geometry = self.store.value("window/geometry", None)
        state = self.store.value("window/state", None)
        return (bytes(geometry) if geometry else None, bytes(state) if state else None)

    def set_window_state(self, geometry: bytes, state: bytes) -> None:
        self.store.setValue("window/geometry", geometry)
        self.store.setValue("window/state", state)
