"""Why background loops take GIL breaks (irt_desktop/library/gil.py): a model of one frame of the result
grid (150 returns to Python, as the delegate's paint and the model's data make) timed alone and beside a
thread running pure Python in 80 ms stretches (as the folder listing did), three ways: the thread as is,
with a 1 ms switch interval, and with GilBreaks.

    python tests/perf/bench_gil_convoy.py [--frames 100]

Measured here (2 cores): worst frame 94 ms as is, 92 ms at a 1 ms switch interval, 34 ms with breaks.
Each way runs in its own interpreter (the switch interval is process-wide).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time


def _frame() -> float:
    t = time.perf_counter()
    for _ in range(150):
        time.sleep(0)  # back to C and the GIL taken again, as each Python callback of a paint does
        sum(range(50))
    return (time.perf_counter() - t) * 1e3


def _busy(stop: threading.Event, breaks: bool) -> None:
    from irt_desktop.library.gil import GilBreaks

    while not stop.is_set():
        pause = GilBreaks() if breaks else (lambda: None)
        t = time.perf_counter()
        d: dict = {}
        i = 0
        while time.perf_counter() - t < 0.08:
            pause()
            for j in range(200):
                d[(i, j)] = str(j).rstrip("0") + "/x"
            i += 1
        time.sleep(0.05)


def _one(way: str, frames: int) -> None:
    if way == "interval-1ms":
        sys.setswitchinterval(0.001)
    alone = [_frame() for _ in range(frames // 2)]
    stop = threading.Event()
    thread = threading.Thread(target=_busy, args=(stop, way == "breaks"))
    thread.start()
    time.sleep(0.01)
    beside = [_frame() for _ in range(frames)]
    stop.set()
    thread.join()
    print(
        f"{way:13s} frame alone p50 {statistics.median(alone):5.1f} ms | beside the busy thread "
        f"p50 {statistics.median(beside):5.1f} ms, worst {max(beside):5.1f} ms"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--way", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.way:
        _one(args.way, args.frames)
        return 0
    for way in ("as-is", "interval-1ms", "breaks"):
        subprocess.run([sys.executable, __file__, "--way", way, "--frames", str(args.frames)], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
