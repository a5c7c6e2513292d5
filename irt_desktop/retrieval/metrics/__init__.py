"""Evaluation metrics: Recall@K (category level) and the revisited Oxford/Paris mAP protocol."""

from irt_desktop.retrieval.metrics.recall import recall_at_k, unit_float32
from irt_desktop.retrieval.metrics.revisited import (
    PROTOCOLS,
    MapResult,
    compute_map,
    evaluate_revisited,
    protocol_gnd,
    rank_database,
)

__all__ = [
    "PROTOCOLS",
    "MapResult",
    "compute_map",
    "evaluate_revisited",
    "protocol_gnd",
    "rank_database",
    "recall_at_k",
    "unit_float32",
]
