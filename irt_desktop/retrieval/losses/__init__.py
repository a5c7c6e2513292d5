"""IRT training losses (PAPER.md "Loss"): contrastive with cross-batch memory, plus the KoLeo regulariser."""

from irt_desktop.retrieval.losses.contrastive import ContrastiveLoss, ContrastiveTerms
from irt_desktop.retrieval.losses.koleo import KoLeoLoss
from irt_desktop.retrieval.losses.memory import CrossBatchMemory

__all__ = ["ContrastiveLoss", "ContrastiveTerms", "CrossBatchMemory", "KoLeoLoss"]
