"""Evaluation metrics: Recall@K (category level) and the revisited Oxford/Paris mAP protocol."""

from irt_desktop.retrieval.metrics.recall import (
    first_hit_ranks,
    recall_at_k,
    recall_from_ranks,
    unit_float32,
)
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
    "first_hit_ranks",
    "protocol_gnd",
    "rank_database",
    "recall_at_k",
    "recall_from_ranks",
    "unit_float32",
]
