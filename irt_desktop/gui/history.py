"""Back and Forward through queries, as in a web browser: a new query (a photo, a region of it, "more
like this") drops whatever was ahead of the current one. Qt-free; the search view shows each entry's
label and thumbnail (a path to load, or the query's own image data).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_ENTRIES = 100


@dataclass(frozen=True)
class Entry(Generic[T]):
    query: T
    label: str
    # The view's picture of the query (a QIcon), opaque here; kept when the query changes in place.
    thumb: object = None


class QueryHistory(Generic[T]):
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: list[Entry[T]] = []
        self._pos = -1
        self._max = max_entries

    def push(self, query: T, label: str) -> None:
        """A new query becomes the current one; a query equal to the current one replaces it (a
        region changed twice, or the same photo dropped again, is one step, not two)."""
        del self._entries[self._pos + 1 :]
        entry = Entry(query, label)
        if self._entries and self._entries[-1].query == query:
            self._entries[-1] = entry
        else:
            self._entries.append(entry)
        if len(self._entries) > self._max:
            del self._entries[: len(self._entries) - self._max]
        self._pos = len(self._entries) - 1

    def replace_current(self, query: T, label: str) -> None:
        """The current query changed in place (its region, or its image data once encoded)."""
        if self._pos < 0:
            self.push(query, label)
        else:
            self._entries[self._pos] = Entry(query, label, self._entries[self._pos].thumb)

    def set_thumb(self, thumb: object) -> None:
        """The current entry's picture (set by the view once the query preview is decoded)."""
        if self._pos >= 0:
            self._entries[self._pos] = replace(self._entries[self._pos], thumb=thumb)

    @property
    def current(self) -> Entry[T] | None:
        return self._entries[self._pos] if self._pos >= 0 else None

    def can_back(self) -> bool:
        return self._pos > 0

    def can_forward(self) -> bool:
        return self._pos < len(self._entries) - 1

    def back(self) -> Entry[T] | None:
        if not self.can_back():
            return None
        self._pos -= 1
        return self._entries[self._pos]

    def forward(self) -> Entry[T] | None:
        if not self.can_forward():
            return None
        self._pos += 1
        return self._entries[self._pos]

    def go_to(self, index: int) -> Entry[T] | None:
        if not 0 <= index < len(self._entries):
            return None
        self._pos = index
        return self._entries[index]

    def back_entries(self) -> list[tuple[int, Entry[T]]]:
        """(index, entry) before the current one, nearest first: the Back button's menu."""
        return [(i, self._entries[i]) for i in range(self._pos - 1, -1, -1)]

    def forward_entries(self) -> list[tuple[int, Entry[T]]]:
        return [(i, self._entries[i]) for i in range(self._pos + 1, len(self._entries))]

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def position(self) -> int:
        return self._pos
