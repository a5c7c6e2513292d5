"""Long pure-Python loops in background threads, made to let the GUI thread in now and then.

A frame of the result grid calls into Python a few hundred times (the delegate's paint, the model's
data); each call has to take the GIL back. While another thread runs pure Python, every one of those
takes the GIL only after that thread's switch interval (5 ms), so 70 ms of Python in a lane made one
frame last 100 ms (the folder listing of a 10^6-photo library, measured). A shorter switch interval did
not help (tests/perf/bench_gil_convoy.py, a model of the paint beside a busy thread: worst frame 92 ms
at 1 ms against 94 ms); a short sleep every half millisecond of work did (34 ms).
"""

from __future__ import annotations

import time

# Work this long between breaks, then sleep this long: the listing of 10^4 folders takes ~25 ms longer.
WORK_S = 0.0005
BREAK_S = 0.0005


class GilBreaks:
    """Call once per item of a long loop; now and then it sleeps briefly, releasing the GIL."""

    def __init__(self, work_s: float = WORK_S, break_s: float = BREAK_S) -> None:
        self.work_s, self.break_s = work_s, break_s
        self.taken = 0
        self._since = time.perf_counter()

    def __call__(self) -> None:
        now = time.perf_counter()
        if now - self._since >= self.work_s:
            time.sleep(self.break_s)
            self.taken += 1
            self._since = time.perf_counter()
