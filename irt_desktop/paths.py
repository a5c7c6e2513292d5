"""Where the user's library lives on disk (ARCHITECTURE.md, Storage)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "irt-desktop"


def default_library_dir() -> Path:
    """$IRT_LIBRARY if set, else the platform's per-user data directory."""
    env = os.environ.get("IRT_LIBRARY")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def models_dir(library: Path) -> Path:
    return library / "models"
