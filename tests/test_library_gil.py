"""GIL breaks in long background loops (library/gil.py; the folder listing's are tested with it, in
test_library_search_filters.py)."""

from __future__ import annotations

import time

from irt_desktop.library.gil import GilBreaks


def test_a_long_loop_takes_breaks_and_a_short_one_none():
    pause = GilBreaks(work_s=0.001, break_s=0.0001)
    for _ in range(10):
        pause()
    assert pause.taken == 0
    end = time.perf_counter() + 0.02
    while time.perf_counter() < end:
        pause()
    assert pause.taken >= 5
