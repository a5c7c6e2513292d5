"""One embedding run's decoding: within a memory budget, each file marked in the catalog while it decodes.

Poison files: a file whose decode kills the process (out of memory, a crashing codec) must not stop
every later run at the same place. Before a file is decoded a marker is committed, and removed when
the decode ends; markers a dead process left are settled at the start of the next run:

- a file that was decoded alone (it needed most of the budget, or it was a suspect already) is failed
  for good: "the last attempt to read this file did not finish". One killed run is all it costs.
- files that were decoded side by side become suspects: a kill -9 or a power cut leaves markers on
  innocent files too, so one unfinished attempt fails nobody. Suspects are decoded last in the next
  run, each alone, after everything else is committed; a suspect that kills that run is known for sure.

Failures carry a kind: permanent ones wait for the file to change, transient ones (permission, I/O)
are tried again by later scans after RETRY_BACKOFF_S.

Threads: `decode()` on the decode pool's threads; `settle_leftovers()` on the run's thread, first.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence

from irt_desktop.images import ImageTooLarge
from irt_desktop.library.budget import TRIM_AFTER, MemoryBudget, give_back_freed_memory
from irt_desktop.library.catalog import Catalog, DecodeMarks, Tx
from irt_desktop.library.decode import Decoded, Tensorizer, decode_file

# Decoded pixels of the images being decoded at once, in bytes (see PipelineConfig.memory_budget).
DEFAULT_MEMORY_BUDGET = 1_500_000_000
# A decode that needs more than this share of the budget runs alone.
ALONE_SHARE = 0.25
# Waits before the 1st, 2nd, 3rd, ... retry of a transient failure (the last one repeats).
RETRY_BACKOFF_S: tuple[float, ...] = (60.0, 600.0, 3600.0, 86400.0)
UNFINISHED_REASON = (
    "the last attempt to read this file did not finish (it crashed the indexer or ran it out of memory)"
)


def next_retry(failed_before: int, now: float) -> float:
    """When a transient failure, the file's `failed_before + 1`-th in a row, may be tried again."""
    return now + RETRY_BACKOFF_S[min(max(failed_before, 0), len(RETRY_BACKOFF_S) - 1)]


def _alive(pid: int) -> bool:
    """Whether another process with this id runs (then its markers are its own business)."""
    if pid == os.getpid() or os.name == "nt":  # Windows: os.kill would terminate it; one writer anyway
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, as another user
        return True
    return True


def settle_leftovers(
    catalog: Catalog, transaction: Callable[[], contextlib.AbstractContextManager[Tx]]
) -> list[int]:
    """Turn markers left by dead processes into failures or suspects; the ids failed for good."""
    left = [(i, alone) for i, pid, alone in catalog.unfinished_decodes() if not _alive(pid)]
    if not left:
        return []
    crashed = [i for i, alone in left if alone]
    suspects = [i for i, alone in left if not alone]
    with transaction() as tx:
        catalog.settle_unfinished(tx, crashed, suspects, UNFINISHED_REASON, time.time())
    return crashed


def suspects_last(catalog: Catalog, todo: Sequence[tuple[int, str]]) -> list[tuple[int, str, bool]]:
    """`todo` as (id, path, suspect), suspects at the end: they run alone, after the rest is safe."""
    suspects = catalog.suspect_ids()
    first = [(i, p, False) for i, p in todo if i not in suspects]
    return first + [(i, p, True) for i, p in todo if i in suspects]


class DecodeStage:
    """Decodes files for one run, within `budget`, each announced by a marker in `marks`."""

    def __init__(
        self,
        tensorize: Tensorizer,
        budget: MemoryBudget,
        marks: DecodeMarks,
        *,
        max_pixels: int,
        max_bytes: int,
    ) -> None:
        self.tensorize = tensorize
        self.budget = budget
        self.marks = marks
        self.max_pixels = max_pixels
        self.max_bytes = max_bytes

    def decode(self, image_id: int, path: str, suspect: bool) -> Decoded:
        budget, marks = self.budget, self.marks
        with budget.ticket(exclusive=suspect) as ticket:
            marks.begin(image_id, time.time(), alone=suspect)
            try:

                def reserve(nbytes: int) -> None:
                    if nbytes > budget.limit:
                        raise ImageTooLarge(
                            f"decoding it needs {nbytes / 1e6:.0f} MB, more than the memory budget "
                            f"for decoding ({budget.limit / 1e6:.0f} MB)"
                        )
                    if nbytes > budget.limit * ALONE_SHARE and not ticket.exclusive:
                        ticket.go_exclusive()
                        marks.now_alone(image_id)
                    ticket.grow(nbytes)

                decoded = decode_file(
                    image_id,
                    path,
                    self.tensorize,
                    max_pixels=self.max_pixels,
                    max_bytes=self.max_bytes,
                    reserve=reserve,
                )
                if ticket.held >= TRIM_AFTER:
                    give_back_freed_memory()  # before the room is given to the next decode
                return decoded
            finally:
                marks.end(image_id)
