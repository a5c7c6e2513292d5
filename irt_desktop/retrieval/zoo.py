"""Fixed choices of the model zoo (model/cards/), torch-free so any layer can name them cheaply."""

from __future__ import annotations

# The shipped card a new library starts from, and the off-the-shelf model the benchmark compares with.
DEFAULT_CARD = "deit-s"
