"""User exclude patterns: glob patterns for files and folders a scan (and the watcher) leaves alone.

The rules are a small, predictable subset of .gitignore, matched case-insensitively (`*.tmp` should
also skip `IMG.TMP` from a camera or a Windows tool):

- A pattern without a slash (`*.tmp`, `Private`, `Thumbs.db`) matches the name of a file or folder at
  any depth; a folder that matches is skipped with everything under it.
- A trailing slash (`Screenshots/`) matches folders only.
- A pattern with a slash elsewhere (`2019/raw`, `/exports`, `**/cache/**`) matches the path relative
  to the watched folder: `*` and `?` stay within one path component, `**` spans any number of them.
  `X/**` is read as the folder X (everything inside it).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from irt_desktop.library.catalog import Catalog


def normalize_patterns(patterns: Iterable[str]) -> list[str]:
    """Stripped, non-empty, first occurrence kept: the form stored in the catalog."""
    out: list[str] = []
    for raw in patterns:
        p = str(raw).strip()
        if os.name == "nt":
            p = p.replace("\\", "/")
        if p and p.strip("/") and p not in out:
            out.append(p)
    return out


def parse_stored(raw: str | None) -> list[str]:
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return []
    return normalize_patterns(v for v in value if isinstance(v, str)) if isinstance(value, list) else []


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    by_name: bool  # matched against the last component only
    dirs_only: bool


def _compile(pattern: str) -> _Rule:
    p = pattern
    dirs_only = p.endswith("/")
    p = p.rstrip("/")
    if p.endswith("/**"):
        p = p[:-3].rstrip("/")
        dirs_only = True
    by_name = "/" not in p
    p = p.lstrip("/")
    return _Rule(re.compile(_glob_regex(p), re.IGNORECASE | re.DOTALL), by_name, dirs_only)


def _glob_regex(glob: str) -> str:
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if glob.startswith("**/", i) and (i == 0 or glob[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = i + 1
            j += glob[j : j + 1] in ("!", "^")
            j += glob[j : j + 1] == "]"  # a ']' first in the set is a member, not its end
            end = glob.find("]", j)
            if end < 0:  # no closing bracket: a literal '[', as fnmatch reads it
                out.append(re.escape(c))
                i += 1
                continue
            body = glob[i + 1 : end]
            negate = body[:1] in ("!", "^")
            if negate:
                body = body[1:]
            body = body.replace("\\", "\\\\").replace("]", "\\]")
            out.append(f"[^/{body}]" if negate else f"[{body}]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class ExcludeRules:
    """Compiled patterns. Paths given to the methods are relative to a root, with '/' separators."""

    patterns: tuple[str, ...] = ()
    _rules: tuple[_Rule, ...] = field(default=(), repr=False, compare=False)
    # The rules joined into one regex per (matched against the name or the path, folder or file), None
    # where no rule applies: a scan asks once per entry, 10^6 times at a million photos.
    _joined: dict[tuple[bool, bool], re.Pattern[str] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for by_name in (True, False):
            for is_dir in (True, False):
                parts = [
                    f"(?:{r.regex.pattern})"
                    for r in self._rules
                    if r.by_name == by_name and (is_dir or not r.dirs_only)
                ]
                joined = re.compile("|".join(parts), re.IGNORECASE | re.DOTALL) if parts else None
                self._joined[(by_name, is_dir)] = joined

    @classmethod
    def of(cls, patterns: Sequence[str]) -> ExcludeRules:
        kept = tuple(normalize_patterns(patterns))
        return cls(kept, tuple(_compile(p) for p in kept))

    def __bool__(self) -> bool:
        return bool(self._rules)

    def matches(self, rel: str, is_dir: bool) -> bool:
        """This entry itself matches (its parent folders are not looked at)."""
        by_name, by_path = self._joined[(True, is_dir)], self._joined[(False, is_dir)]
        if by_name is not None and by_name.fullmatch(rel.rsplit("/", 1)[-1]):
            return True
        return by_path is not None and by_path.fullmatch(rel) is not None

    def matches_entry(self, name: str, path: str, base: str, is_dir: bool) -> bool:
        """matches(relative(path, base), is_dir) for a walked entry called `name`, building the
        relative path only if a rule is matched against paths."""
        by_name, by_path = self._joined[(True, is_dir)], self._joined[(False, is_dir)]
        if by_name is not None and by_name.fullmatch(name):
            return True
        return by_path is not None and by_path.fullmatch(relative(path, base)) is not None

    def excludes(self, rel: str, is_dir: bool) -> bool:
        """The entry or any folder above it (inside the root) matches."""
        if not self._rules or rel in ("", "."):
            return False
        parts = rel.split("/")
        for i in range(1, len(parts)):
            if self.matches("/".join(parts[:i]), True):
                return True
        return self.matches(rel, is_dir)

    def excludes_path(self, path: str, root: str, is_dir: bool) -> bool:
        """`path` (absolute, under `root`) is excluded."""
        if not self._rules:
            return False
        return self.excludes(relative(path, root), is_dir)


def relative(path: str, root: str) -> str:
    prefix = root.rstrip(os.sep) + os.sep
    rel = path[len(prefix) :] if path.startswith(prefix) else os.path.relpath(path, root)
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


NONE = ExcludeRules()


class StoredExcludes:
    """The library's exclude patterns: the one place that reads, changes and compiles them. They are
    kept in the catalog, so the CLI and the GUI (even two processes on one library) share them.

    Threads: `set()` and `rules()` from any thread (each reads through its own catalog connection);
    `rules(reread=False)` from any thread at all, the watcher's event threads included: it answers from
    memory, as of the last read or change."""

    def __init__(self, catalog: Catalog, defaults: Sequence[str] | None = None) -> None:
        """`defaults` seed a library that has never had patterns set; one that has (even to none)
        keeps its own."""
        self._catalog = catalog
        if defaults is not None and catalog.stored_exclude_patterns() is None:
            self.set(defaults)
        self._rules = ExcludeRules.of(catalog.stored_exclude_patterns() or [])

    def rules(self, *, reread: bool = True) -> ExcludeRules:
        if reread:  # another process (the CLI beside the GUI) may have changed them
            stored = tuple(self._catalog.stored_exclude_patterns() or ())
            if stored != self._rules.patterns:
                self._rules = ExcludeRules.of(stored)
        return self._rules

    def set(self, patterns: Sequence[str]) -> bool:
        """Store the patterns; True if they changed. They take effect at the next scan: photos already
        indexed that now match leave search results then, as if deleted, and come back with their
        vectors if the pattern is removed again."""
        if isinstance(patterns, str):
            raise TypeError("exclude patterns are a list of strings, not one string")
        kept = normalize_patterns(patterns)
        stored = self._catalog.stored_exclude_patterns()
        if stored is not None and kept == stored:
            return False
        # Stored even when empty: "none, on purpose" is not "never set" (see `defaults`).
        self._catalog.store_exclude_patterns(kept)
        self._rules = ExcludeRules.of(kept)
        return kept != (stored or [])
