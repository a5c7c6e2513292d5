"""Long paths in word-wrapped labels: a path has no spaces, so a label cannot wrap it and instead widens
its window past a small screen. A zero-width space after each separator gives the line breaker places
to break; copied text keeps them, so only text shown in labels goes through here (details boxes and the
clipboard get the plain text)."""

from __future__ import annotations

import re

ZERO_WIDTH_SPACE = "\u200b"
# After a path separator, and inside very long runs of anything else.
_AFTER_SEPARATOR = re.compile(r"([/\\_-])(?=\S)")
_LONG_RUN = re.compile("([^\\s\u200b]{40})(?=[^\\s\u200b])")


def breakable(text: str) -> str:
    """`text` with break opportunities after path separators and every 40 characters of a long word."""
    text = _AFTER_SEPARATOR.sub(lambda m: m.group(1) + ZERO_WIDTH_SPACE, text)
    return _LONG_RUN.sub(lambda m: m.group(1) + ZERO_WIDTH_SPACE, text)


def plain(text: str) -> str:
    """`text` without the break opportunities breakable() added."""
    return text.replace(ZERO_WIDTH_SPACE, "")
