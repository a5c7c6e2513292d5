"""A memory budget for decoded pixels, shared by the decode threads of one embedding run.

Each decode holds a ticket for its whole attempt. Once the header says how much the decode will
allocate, the ticket grows by that much, waiting until the running decodes leave room; a decode that
alone would take most of the budget waits until it is the only one (exclusive), so it never runs beside
another, and so that a process it kills leaves no doubt which file did it.

Threads: any number of decode threads; no lock is held while decoding. Deadlock-free because a grown
ticket never waits again (it only finishes), and an exclusive one gives back what it held before waiting.
"""

from __future__ import annotations

import ctypes
import functools
import sys
import threading
from collections.abc import Callable
from types import TracebackType

# After a decode that held at least this much, freed memory is handed back to the system at once.
TRIM_AFTER = 8 << 20


class MemoryBudget:
    def __init__(self, limit: int) -> None:
        if limit <= 0:
            raise ValueError(f"a memory budget must be positive, got {limit}")
        self.limit = limit
        self._cond = threading.Condition()
        self._used = 0
        self._holders = 0
        self._exclusive = False
        self._exclusive_waiting = 0
        self.peak = 0  # the most ever reserved at once, for tests and benchmarks

    @property
    def used(self) -> int:
        with self._cond:
            return self._used

    def ticket(self, *, exclusive: bool = False) -> Ticket:
        return Ticket(self, exclusive)

    # -- for Ticket ------------------------------------------------------------------------------------

    def _enter(self, exclusive: bool) -> None:
        with self._cond:
            if exclusive:
                self._wait_exclusive()
            else:
                # Newcomers step aside for a waiting exclusive ticket, or it could wait for ever.
                self._cond.wait_for(lambda: not self._exclusive and not self._exclusive_waiting)
                self._holders += 1

    def _wait_exclusive(self) -> None:
        self._exclusive_waiting += 1
        try:
            self._cond.wait_for(lambda: self._holders == 0)
        finally:
            self._exclusive_waiting -= 1
        self._exclusive = True
        self._holders = 1

    def _grow(self, nbytes: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._used + nbytes <= self.limit or self._used == 0)
            self._used += nbytes
            self.peak = max(self.peak, self._used)

    def _to_exclusive(self, held: int) -> None:
        with self._cond:
            self._used -= held
            self._holders -= 1
            self._cond.notify_all()
            self._wait_exclusive()

    def _leave(self, held: int, exclusive: bool) -> None:
        with self._cond:
            self._used -= held
            self._holders -= 1
            if exclusive:
                self._exclusive = False
            self._cond.notify_all()


class Ticket:
    """One decode's share of the budget (a context manager)."""

    def __init__(self, budget: MemoryBudget, exclusive: bool) -> None:
        self._budget = budget
        self.exclusive = exclusive
        self.held = 0

    def __enter__(self) -> Ticket:
        self._budget._enter(self.exclusive)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._budget._leave(self.held, self.exclusive)
        self.held = 0

    def go_exclusive(self) -> None:
        """Wait until no other decode runs, and keep others out until this ticket is done."""
        if not self.exclusive:
            self._budget._to_exclusive(self.held)
            self.held = 0
            self.exclusive = True

    def grow(self, nbytes: int) -> None:
        """Reserve `nbytes` more (at most the whole budget), waiting for room."""
        nbytes = min(max(0, nbytes), self._budget.limit)
        if self.exclusive:
            # Nobody else runs: the whole budget is this ticket's, so only the bookkeeping changes.
            with self._budget._cond:
                self._budget._used += nbytes
                self._budget.peak = max(self._budget.peak, self._budget._used)
        else:
            self._budget._grow(nbytes)
        self.held += nbytes


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc; musl has none
    except (OSError, AttributeError):
        return None


def give_back_freed_memory() -> None:
    """Return freed heap memory to the system now (glibc). Each decode thread's malloc arena would
    otherwise keep the largest image it ever decoded: RSS would grow with the number of threads
    whatever the budget."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
