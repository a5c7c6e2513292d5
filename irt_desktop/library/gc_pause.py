"""Python's cyclic garbage collector held off while a scan builds its maps of every file and row.

At 10^6 photos a rescan allocates millions of small objects (the walk's listing, the catalog's rows),
none of them in cycles. CPython 3.11 answers that growth with full collections every ~25 % more objects,
each one walking the whole heap with the GIL held: 50 ms, then 100, then 230 ms, stalls of the GUI
thread while the user scrolls results. Reference counting still frees everything meanwhile; the paused
collector runs again once the last scan ends. Nested and concurrent scans share one pause.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
