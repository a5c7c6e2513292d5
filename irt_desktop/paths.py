"""Where things live on disk (ARCHITECTURE.md, Storage): the default library folder and its layout.

The one home of the library folder's layout: the library, the CLI and the GUI all name these paths
through `LibraryLayout`, so a folder moves in one place. Imports nothing heavy (no torch, no Qt).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "irt-desktop"


def default_library_dir() -> Path:
    """$IRT_LIBRARY if set, else the platform's per-user data directory."""
    env = os.environ.get("IRT_LIBRARY")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class LibraryLayout:
    """The folders and files of one library directory."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser())

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.sqlite"

    @property
    def vectors(self) -> Path:
        return self.root / "vectors"

    @property
    def thumbnails(self) -> Path:
        return self.root / "thumbnails"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def backups(self) -> Path:
        """Automatic copies of the catalog (library/health.py); `irt-desktop repair` restores them."""
        return self.root / "backups"

    @property
    def lock(self) -> Path:
        """The writer lock (library/lock.py): one process writes the library at a time."""
        return self.root / "library.lock"

    @property
    def open_marker(self) -> Path:
        """Present while a writer has the catalog open: found at open, the last one did not close."""
        return self.root / "catalog.open"

    def folders(self) -> tuple[Path, ...]:
        """Every folder a library needs, the root first (created in this order)."""
        return (self.root, self.vectors, self.thumbnails, self.models, self.logs)

    def index_file(self, model_id: str) -> Path:
        """The saved FAISS index of one model's vectors."""
        return self.vectors / f"{model_id}.faiss"


def models_dir(library: Path) -> Path:
    return LibraryLayout(library).models
