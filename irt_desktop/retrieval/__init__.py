"""The paper's side: descriptor model, losses, training, metrics and benchmark datasets.

Knows nothing of Qt, SQLite or the user's library (ARCHITECTURE.md).
"""
