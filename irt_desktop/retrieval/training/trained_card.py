"""The model card a training run writes for its bundle: what it is (title, description) and the full
training record as its provenance (recipe, data, metrics, PCA, device), the starting model's own
provenance nested inside, so a fine-tune can always be traced back to the weights it started from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from irt_desktop.retrieval.card import ModelCard


def trained_card(run: Any, total: int, metrics: dict | None, pca_info: dict | None) -> ModelCard:
    """The card of the bundle `run` (a trainer's run) trained: titled by what it is ("Fine-tuned on
    <data> from <base>", never grown by repetition), its provenance the training record with the base's
    own provenance inside."""
    from irt_desktop.retrieval.provenance import Kind, Provenance, finetune_title

    base, cfg = run.t.base, run.cfg
    variant = cfg.variant
    label = cfg.recipe or "custom"
    name = run.t.name or f"{base.card.name}-{label}-{variant.lower()}"
    settings = {k: v for k, v in cfg.to_dict().items() if k not in ("device", "num_workers", "extra")}
    record = {
        "recipe": settings,
        "data": {
            "name": run.t.data_name,
            "images": len(run.t.records),
            "classes": len({r.label for r in run.t.records}),
            "fingerprint": run.fingerprint,
        },
        "metrics": metrics,
        "pca": pca_info,
        "training": {
            "iterations": total,
            "device": run.device,
            "precision": run.precision,
            "processes": run.ctx.world_size,
            "memory_size": run.memory.size if run.memory is not None else 0,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    }
    provenance = Provenance(
        Kind.FINETUNED,
        variant=variant,
        data_name=run.t.data_name,
        base_id=base.id,
        base_name=base.card.name,
        base=Provenance.from_dict(base.card.provenance),
        extra=record,
    )
    return ModelCard(
        name=name,
        spec=run.model.spec,
        title=finetune_title(run.t.data_name, base.card.title or base.card.name),
        description=f"{variant} fine-tuned from {base.id} on {run.t.data_name} for {total} iterations.",
        weights={},
        provenance=provenance.to_dict(),
    )
