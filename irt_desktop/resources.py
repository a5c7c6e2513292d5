"""Locate the data that ships with the application (model cards, recipes, icons).

In a wheel, `model/` and `resources/` are installed as `irt_desktop/_data/...`; in a source checkout they
sit at the repository root. Both are found the same way so nothing else needs to care.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def data_path(*parts: str) -> Path:
    """Path of a shipped file or folder, e.g. `data_path("model", "cards")`."""
    installed = resources.files("irt_desktop").joinpath("_data", *parts)
    if installed.is_file() or installed.is_dir():
        return Path(str(installed))
    candidate = _SOURCE_ROOT.joinpath(*parts)
    if candidate.exists():
        return candidate
    raise FileNotFoundError(
        f"shipped data not found: {'/'.join(parts)} (looked in {installed} and {candidate})"
    )
