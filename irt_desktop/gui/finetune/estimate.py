"""The fine-tune wizard's time estimate in words: the cost model of finetune.plan at the values in the
form, what was timed, and whether the run is longer than a first run is sized to."""

from __future__ import annotations

from typing import Any

from irt_desktop.gui import formatting


def each(seconds: float) -> str:
    """A per-photo time: '0.31 s', '12 ms'."""
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{max(seconds * 1000, 0.1):.3g} ms"


def estimate_lines(
    cost: Any,
    iterations: int,
    batch_size: int,
    m_per_class: int,
    train: int,
    held: int,
    suggested: Any,
    auto_size: bool,
) -> tuple[float, list[str]]:
    """(seconds, lines) for a run of `iterations` x `batch_size` (rounded to whole classes) on `train`
    photos measuring `held` ones, at the DeviceCost `cost`; `suggested`: the RunSize the form offers."""
    from irt_desktop.retrieval.training.finetune import TIME_BUDGET_S, periodic_evaluations, round_batch

    batch, note = round_batch(batch_size, m_per_class)
    during = suggested.evaluations if suggested is not None else 0
    measured = (2 + periodic_evaluations(iterations, during)[1]) if held else 0
    seconds = cost.seconds(iterations, batch, held, measured)
    passes = iterations * batch / max(train, 1)
    lines = [
        f"about {formatting.duration(seconds)} on this computer: "
        f"{formatting.count(iterations)} iterations of {batch} photos "
        f"({passes:.0f} passes over your {formatting.plural(train, 'training photo')})"
        + (
            f", and the {formatting.plural(held, 'held-out photo')} measured {measured} times."
            if held
            else "."
        )
    ]
    per_photo = f"{each(cost.train_s)} per training photo"
    if cost.decode_s:
        per_photo += f" and {each(cost.decode_s)} to read one of yours"
    lines.append(f"Timed here: {per_photo}.")
    if seconds > TIME_BUDGET_S:
        lines.append(
            f"That is longer than the {formatting.duration(TIME_BUDGET_S)} a first run is sized to; "
            "“Use suggested size” brings it back."
        )
    elif auto_size and suggested is not None and suggested.limited:
        lines.append(
            f"Sized to about {formatting.duration(TIME_BUDGET_S)}: more iterations may learn more, "
            "and take longer."
        )
    if note:
        lines.append(f"{note[0].upper()}{note[1:]}.")
    return seconds, lines
