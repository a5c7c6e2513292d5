"""Benchmark results: rows (ours beside the paper's), the printed table, results.json and report.md."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class BenchmarkRow:
    """One figure, in percent. `paper` is None where the paper reports no number for this setting, or
    where this model or dataset is not the paper's setting (the notes say which); `caveat` says how the
    run differs from the paper's (e.g. fewer iterations) where its figure is still shown for reference
    (marked * in the tables).

    `variant`: what the report shows for the model (IRT_O / IRT_L / IRT_R, or "unverified", "random
    init", ...: benchmark.identity); `provenance`: where its weights come from, in words. `seeds`: the
    training seeds of a fine-tune; with several, `ours` is the mean over `runs` and `std` their sample
    standard deviation. `partial`: the dataset was not the complete one (allowed with --allow-partial).
    """

    dataset: str
    metric: str
    ours: float
    paper: float | None
    variant: str = ""
    dims: int | None = None
    caveat: str = ""
    provenance: str = ""
    seeds: tuple[int, ...] = ()
    std: float | None = None
    runs: tuple[float, ...] = ()
    partial: bool = False

    @property
    def diff(self) -> float | None:
        return None if self.paper is None else self.ours - self.paper

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seeds"], d["runs"] = list(self.seeds), list(self.runs)
        return {**d, "diff": self.diff}


@dataclass
class BenchmarkResult:
    """What a benchmark run measured; `missing` maps dataset -> what to download where, `failed` dataset
    -> why it could not be evaluated (a malformed or partial list, an unreadable image), `partial`
    dataset -> how it differs from the protocol where a partial set was allowed."""

    title: str
    settings: dict[str, Any]
    rows: list[BenchmarkRow] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    partial: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    cancelled: bool = False
    passed: bool | None = None  # the smoke suite's verdict; None for the paper benchmark
    report_md: str = ""
    out_dir: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": self.settings,
            "rows": [r.to_dict() for r in self.rows],
            "details": self.details,
            "missing": self.missing,
            "failed": self.failed,
            "partial": self.partial,
            "notes": self.notes,
            "cancelled": self.cancelled,
            "passed": self.passed,
        }

    def _cells(self, r: BenchmarkRow) -> tuple[str, ...]:
        return (
            r.dataset + (" (partial)" if r.partial else ""),
            r.variant,
            str(r.dims or ""),
            r.metric,
            _ours(r),
            _paper(r),
            _num(r.diff, True),
            ",".join(map(str, r.seeds)),
        )

    def table(self) -> str:
        """Plain-text table for the terminal."""
        head = ("dataset", "variant", "dims", "metric", "ours", "paper", "diff", "seeds")
        body = [self._cells(r) for r in self.rows]
        widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
            for line in [head, *body]
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def render_markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for k, v in self.settings.items():
            if isinstance(v, dict):
                v = ", ".join(f"{name} {version}" for name, version in v.items())
            out.append(f"- {k}: {v}")
        out.append("")
        if self.rows:
            out += [
                "| dataset | variant | dims | metric | ours | paper | diff | seeds |",
                "|---|---|---|---|---|---|---|---|",
            ]
            out += ["| " + " | ".join(self._cells(r)) + " |" for r in self.rows]
            out += [
                "",
                "Figures in percent; paper: El-Nouby et al. 2021 (arXiv 2102.05644), `-` where it has none "
                "for this setting, or where the model or the dataset is not the paper's (see the notes).",
            ]
            if any(r.std is not None for r in self.rows):
                out.append("`a ± b`: mean and sample standard deviation over the seeds listed.")
            if any(r.caveat for r in self.rows):
                out.append("`*`: a setting differs from the paper's (see the notes); shown for reference.")
            if any(r.partial for r in self.rows):
                out.append("`(partial)`: not the complete dataset (--allow-partial); no paper figure.")
        else:
            out.append("No dataset was evaluated.")
        models = {d.get("model"): d for d in self.details.values() if isinstance(d, dict) and d.get("model")}
        if models:
            out += ["", "## Models", ""]
            for model_id, d in models.items():
                ident = d.get("identity") or {}
                line = f"- {model_id}: {ident.get('label') or d.get('variant') or '?'}"
                if ident.get("provenance"):
                    line += f"; {ident['provenance']}"
                if ident.get("reason"):
                    line += f"; no paper figure: {ident['reason']}"
                out.append(line)
        if self.passed is not None:
            out += ["", f"Verdict: {'PASS' if self.passed else 'FAIL'}"]
        if self.notes:
            out += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        if self.failed:
            out += ["", "## Failed datasets", ""]
            for name, msg in self.failed.items():
                out += [f"### {name}", "", "```", msg, "```", ""]
        if self.missing:
            out += ["", "## Missing datasets", ""]
            for name, msg in self.missing.items():
                out += [f"### {name}", "", "```", msg, "```", ""]
        if self.cancelled:
            out += ["", "**Cancelled before the end: the figures above are partial.**"]
        return "\n".join(out).rstrip() + "\n"

    def write(self, out_dir: Path) -> None:
        """`out_dir/results.json` and `out_dir/report.md`."""
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir = out_dir
        self.report_md = self.render_markdown()
        (out_dir / "results.json").write_text(
            json.dumps(self.to_dict(), indent=2, default=str) + "\n", "utf-8"
        )
        (out_dir / "report.md").write_text(self.report_md, encoding="utf-8")


def _ours(row: BenchmarkRow) -> str:
    return _num(row.ours) + (f" ± {row.std:.1f}" if row.std is not None else "")


def _paper(row: BenchmarkRow) -> str:
    return _num(row.paper) + ("*" if row.caveat and row.paper is not None else "")


def _num(v: float | None, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:+.1f}" if signed else f"{v:.1f}"
