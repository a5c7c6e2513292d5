"""Numbers, sizes, durations and dates as the user reads them."""

from __future__ import annotations

import datetime as dt
import math


def count(n: int) -> str:
    return f"{n:,}"


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def size(num_bytes: int | None) -> str:
    if num_bytes is None:
        return "?"
    value = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{num_bytes} B"


def duration(seconds: float | None) -> str:
    """Rough remaining-time text: '45 s', '3 min', '1 h 20 min'."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s" if s < 600 else f"{round(s / 60)} min"
    h, rem = divmod(s, 3600)
    return f"{h} h {rem // 60:02d} min"


def rate(per_second: float | None, unit: str = "images") -> str:
    if per_second is None or not math.isfinite(per_second) or per_second <= 0:
        return f"— {unit}/s"
    return f"{per_second:.1f} {unit}/s" if per_second < 10 else f"{per_second:.0f} {unit}/s"


def date(value: dt.datetime | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int | float):
        value = dt.datetime.fromtimestamp(value)
    return value.strftime("%Y-%m-%d %H:%M")


def score(value: float) -> str:
    """Cosine similarity as shown: below 0 means "nothing alike" just as 0 does, and a minus sign only
    puzzles, so it reads 0.000."""
    return f"{max(0.0, value):.3f}"


def dimensions(width: int | None, height: int | None) -> str:
    if not width or not height:
        return "?"
    return f"{width} × {height}"
