"""Where a model's weights come from: the one provenance type the library, the GUI, the wizard and the
benchmark report all read (a card's [provenance] table).

Four kinds. *pretrained*: a published checkpoint, verified when it came through the hub (which checks
the file against its LFS record) or when its sha256 is one the card lists. *imported*: a file a user
supplied whose hash matches nothing listed; it stays "unverified" everywhere. *fine-tuned*: trained by
this project, with its base's provenance inside, recursively. *random-init*: no training at all.
Only a verified pretrained model is the paper's IRT_O; only a fine-tune of a verified base can stand
beside the paper's IRT_L / IRT_R figures.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    PRETRAINED = "pretrained"
    IMPORTED = "imported"
    FINETUNED = "fine-tuned"
    RANDOM = "random-init"
    UNKNOWN = "unknown"


# Cards written before this type existed said "trained" for fine-tunes.
_LEGACY_KINDS = {"trained": Kind.FINETUNED}


@dataclass(frozen=True)
class Provenance:
    kind: Kind
    verified: bool = False
    # How it was verified (or why not): "hub", "sha256", "not listed", ...
    verified_by: str = ""
    source: str = ""  # the published checkpoint it is, in words
    source_sha256: str = ""  # sha256 of the file it was made from, when known
    imported_from: str = ""
    # Fine-tunes: the recipe variant (IRT_L / IRT_R), the data, and the base model's provenance.
    variant: str = ""
    data_name: str = ""
    base_id: str = ""
    base_name: str = ""
    base: Provenance | None = None
    # Anything else the card records (recipe settings, metrics, training details), kept as it is.
    extra: Mapping[str, Any] = field(default_factory=dict)

    # -- reading and writing ---------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Provenance:
        d = dict(d or {})
        raw_kind = str(d.pop("kind", "") or "")
        kind = _LEGACY_KINDS.get(raw_kind) or next((k for k in Kind if k.value == raw_kind), None)
        base_raw = d.pop("base", None)
        verified = d.pop("verified", None)
        verified_by = str(d.pop("verified_by", "") or "")
        imported_as = d.pop("imported_as", None)
        if kind is None:
            kind = Kind.UNKNOWN
        if kind is Kind.IMPORTED and verified is None and imported_as == "pretrained":
            # Imported before verification existed: nothing checked the file, whatever card it came in as.
            verified, verified_by = False, "imported before files were verified"
        if kind is Kind.PRETRAINED and verified is None:
            # A shipped starting point (the card in model/cards) or a hub install of one.
            verified, verified_by = True, verified_by or "hub"
        base = cls.from_dict(base_raw) if isinstance(base_raw, Mapping) else None
        return cls(
            kind=kind,
            verified=bool(verified),
            verified_by=verified_by,
            source=str(d.pop("source", "") or ""),
            source_sha256=str(d.pop("source_sha256", "") or ""),
            imported_from=str(d.pop("imported_from", "") or ""),
            variant=str(d.pop("variant", "") or ""),
            data_name=_data_name(d.get("data")),
            base_id=str(d.pop("base_model", "") or ""),
            base_name=str(d.pop("base_name", "") or ""),
            base=base,
            extra=d,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out["kind"] = self.kind.value
        out["verified"] = self.verified
        for key, value in (
            ("verified_by", self.verified_by),
            ("source", self.source),
            ("source_sha256", self.source_sha256),
            ("imported_from", self.imported_from),
            ("variant", self.variant),
            ("base_model", self.base_id),
            ("base_name", self.base_name),
        ):
            if value:
                out[key] = value
        if self.data_name and not isinstance(out.get("data"), Mapping):
            out["data"] = {"name": self.data_name}
        if self.base is not None:
            out["base"] = self.base.to_dict()
        return out

    # -- what it means -----------------------------------------------------------------------------------

    @property
    def trained(self) -> bool:
        return self.kind is Kind.FINETUNED

    @property
    def is_paper_off_the_shelf(self) -> bool:
        """The paper's IRT_O: verified published weights, no training recorded."""
        return self.kind is Kind.PRETRAINED and self.verified

    @property
    def from_verified_base(self) -> bool:
        """A fine-tune whose chain of bases ends in verified published weights, one fine-tune deep."""
        return self.trained and self.base is not None and self.base.is_paper_off_the_shelf

    @property
    def depth(self) -> int:
        """How many fine-tunes lie between this model and its first base."""
        return 0 if not self.trained else 1 + (self.base.depth if self.base is not None else 0)

    def label(self) -> str:
        """A few words for lists and the status bar: 'pretrained, verified', 'imported, unverified'."""
        if self.kind is Kind.PRETRAINED:
            return "pretrained, verified" if self.verified else "pretrained, unverified"
        if self.kind is Kind.IMPORTED:
            return "imported, verified" if self.verified else "imported, unverified"
        if self.kind is Kind.FINETUNED:
            base = self.base.label() if self.base is not None else "unrecorded base"
            on = f" on {self.data_name}" if self.data_name else ""
            return f"fine-tuned{on} from {base}"
        if self.kind is Kind.RANDOM:
            return "random init (untrained)"
        return "unrecorded origin"


def _data_name(data: Any) -> str:
    if isinstance(data, Mapping):
        return str(data.get("name", "") or "")
    return str(data or "")


def finetune_title(data_name: str, base_title: str) -> str:
    """'Fine-tuned on <folders> from <base>', never grown by repetition: a fine-tune of a fine-tune
    names the first base once and counts the rounds."""
    base, rounds = base_title, 1
    m = _FINETUNE_TITLE.fullmatch(base_title)
    if m:
        base, rounds = m["base"], int(m["round"] or 1) + 1
    suffix = f" (round {rounds})" if rounds > 1 else ""
    return f"Fine-tuned on {data_name} from {base}{suffix}"


_FINETUNE_TITLE = re.compile(r"Fine-tuned on .+? from (?P<base>.+?)(?: \(round (?P<round>\d+)\))?")
