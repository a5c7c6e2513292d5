"""bench_scale's GUI figures: the real desktop application on a large library, watched from inside.

    DISPLAY=:75 QT_QPA_PLATFORM=xcb PYTHONPATH=. python tests/perf/scale_gui.py LIBRARY QUERY OUT.json \
        LAUNCH_EPOCH [--no-startup-pass]

The child runs `gui.app.run_app(library, [query])` as `irt-desktop --library LIBRARY QUERY` does and
records: the main window's first paint and the first result (seconds from the parent's launch); then
it asks for 5,000 results (the most the results box allows) and scrolls the grid from top to bottom
one step per frame. A frame is one scroll step painted synchronously (scroll bar moved, viewport
repainted: the delegate's paint of every visible cell, the model's data()); the GUI thread's longest
stall is the largest gap between ticks of a 0 ms timer meanwhile (thumbnails arriving, anything else
on the GUI thread). RSS: the child's VmRSS at the end of the scroll and its peak (VmHWM) then and once
the startup pass (a rescan of every file) has finished, which is when the child quits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1]), str(HERE.parents[2])]

import perfkit  # noqa: E402

BIG_K = 5000
FRAME_BUDGET_MS = 50.0


def _vm(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


# PySide6 6.12 on Python 3.11: every QModelIndex.data() / QTreeWidgetItem.data() / QListWidgetItem.data()
# called from Python that yields None takes one reference from None without giving it back; None is
# mortal before Python 3.12, so after some tens of thousands of such calls (a delegate painting cards
# whose thumbnails are not loaded yet) the process aborts ("none_dealloc: deallocating None"). Scrolling
# a 5,000-result grid gets there. pyproject now excludes 6.12 (tests/test_gui_qt_binding.py); with it
# installed anyway, the child tops None's count up so the figures can be measured at all. It reports how
# many references were lost (`none_refs_lost`: 0 with a sound binding).
NONE_TOP_UP = 10**9


def _none_refcount():
    import ctypes

    return ctypes.c_ssize_t.from_address(id(None))


def _watch_collections(seen: dict, launched: float) -> None:
    """Cyclic GC runs of 10 ms or more, [seconds from launch, ms, generation, thread]: a full
    collection holds the GIL, so one on any thread stalls the GUI thread's paint."""
    import gc
    import threading

    long_ones = seen.setdefault("gc_over_10ms", [])
    started: dict[str, float] = {}

    def probe(phase: str, info: dict) -> None:
        if phase == "start":
            started["t"] = time.perf_counter()
        elif "t" in started:
            ms = (time.perf_counter() - started.pop("t")) * 1e3
            if ms >= 10:
                at = round(time.time() - launched, 3)
                long_ones.append([at, round(ms, 1), info.get("generation"), threading.current_thread().name])

    gc.callbacks.append(probe)


def child(library: Path, query: Path, out: Path, launched: float, timeout_s: float = 600) -> int:
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    import irt_desktop.gui.app as app

    seen: dict[str, object] = {}
    _watch_collections(seen, launched)

    class Watch(QObject):
        def __init__(self, session) -> None:
            super().__init__()
            self.session = session
            self.stage = "first"
            self.timer = QTimer(self)
            self.timer.timeout.connect(self.poll)
            self.timer.start(5)
            QTimer.singleShot(int(timeout_s * 1000), self.give_up)
            self.scrolled = False
            session.client.index_finished.connect(self.pass_finished)

        def pass_finished(self, report, error) -> None:
            # The startup pass (the rescan of every file) holds its maps of 10^6 files and rows while
            # it runs: the session's true peak is taken once it is over, not when the scroll ends.
            if "pass_done_s" not in seen:
                seen["pass_done_s"] = time.time() - launched
                seen["rss_peak_after_pass_mb"] = _vm("VmHWM")
                if self.scrolled:
                    QTimer.singleShot(0, QApplication.instance().quit)

        def give_up(self) -> None:
            seen["timed_out_in"] = self.stage
            QApplication.instance().quit()

        def eventFilter(self, obj, event) -> bool:
            if "paint_s" not in seen and event.type() == QEvent.Type.Paint and obj is self.session.window:
                seen["paint_s"] = time.time() - launched
            return False

        def poll(self) -> None:
            view = self.session.window.search_view
            answer = view.last_answer
            if self.stage == "first" and answer is not None:
                seen["first_result_s"] = time.time() - launched
                seen["first_hits"] = len(answer.hits)
                seen["first_search_s"] = answer.seconds
                seen["rss_first_result_mb"] = _vm("VmRSS")
                self.stage = "big"
                self.asked = time.perf_counter()
                view.k_spin.setValue(BIG_K)
            elif self.stage == "big" and answer is not None and len(answer.hits) >= BIG_K:
                seen["big_hits"] = len(answer.hits)
                seen["big_answer_s"] = time.perf_counter() - self.asked
                self.stage = "scroll"
                self.timer.stop()
                QTimer.singleShot(500, lambda: self.scroll(view))

        def scroll(self, view) -> None:
            results = view.results
            bar = results.verticalScrollBar()
            step = max(1, bar.pageStep() // 2)
            frames: list[float] = []
            gaps: list[float] = []
            slow = seen.setdefault("slow_frames", [])  # [seconds from launch, ms] of each frame over budget
            last = [time.perf_counter()]
            ticker = QTimer(self)
            ticker.setInterval(0)

            def tick() -> None:
                now = time.perf_counter()
                gaps.append(now - last[0])
                last[0] = now
                if bar.value() >= bar.maximum():
                    ticker.stop()
                    self.done(frames, gaps, bar.maximum())
                    return
                t = time.perf_counter()
                bar.setValue(min(bar.maximum(), bar.value() + step))
                results.viewport().repaint()
                frames.append(time.perf_counter() - t)
                if frames[-1] * 1e3 > FRAME_BUDGET_MS:
                    slow.append([round(time.time() - launched - frames[-1], 3), round(frames[-1] * 1e3, 1)])
                last[0] = time.perf_counter()

            ticker.timeout.connect(tick)
            ticker.start()

        def done(self, frames: list[float], gaps: list[float], maximum: int) -> None:
            ms = sorted(1e3 * f for f in frames)
            gap_ms = sorted(1e3 * g for g in gaps)
            seen.update(
                scroll_frames=len(ms),
                scroll_range_px=maximum,
                frame_p50_ms=ms[len(ms) // 2] if ms else None,
                frame_max_ms=ms[-1] if ms else None,
                frames_over_budget=sum(1 for f in ms if f > FRAME_BUDGET_MS),
                stall_max_ms=gap_ms[-1] if gap_ms else None,
                rss_end_mb=_vm("VmRSS"),
                rss_peak_mb=_vm("VmHWM"),
            )
            self.scrolled = True
            if "pass_done_s" in seen or not self.session.client.indexer.isRunning():
                QTimer.singleShot(0, QApplication.instance().quit)

    original_start = app.Session.start

    def start(session, photos):
        watch = Watch(session)
        QApplication.instance().installEventFilter(watch)
        session._scale_watch = watch
        original_start(session, photos)

    app.Session.start = start
    count = _none_refcount()
    import PySide6

    if sys.version_info < (3, 12) and PySide6.__version__.startswith("6.12"):
        count.value += NONE_TOP_UP
    before = count.value
    code = app.run_app(library, [query])
    seen["none_refs_lost"] = before - count.value
    seen["torch_loaded"] = "torch" in sys.modules
    out.write_text(json.dumps(seen))
    return code


def measure(built: dict, runs: int, env: dict[str, str], log=print) -> dict:
    """Medians over `runs` launches of the real application on the built library."""
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="irt-scale-gui-"))
    query = next(p for p in sorted(Path(built["photos"]).rglob("IMG_*.jpg"))[:50] if p.stat().st_size > 1000)
    rows = []
    env = dict(env)
    gui_backend = env.pop("IRT_GUI_BACKEND", None)
    env.pop("IRT_BACKEND", None)  # a user's launch: the product picks, unless the caller names one
    for r in range(runs):
        out = work / f"run{r}.json"
        run_env = {k: v for k, v in os.environ.items() if k != "IRT_BACKEND"}
        run_env.update(
            env,
            XDG_CONFIG_HOME=str(work / f"config{r}"),
            PYTHONPATH=os.pathsep.join([str(perfkit.REPO), os.environ.get("PYTHONPATH", "")]),
        )
        if gui_backend:
            run_env["IRT_BACKEND"] = gui_backend
        launched = time.time()
        subprocess.run(
            [sys.executable, str(HERE), built["library"], str(query), str(out), str(launched)],
            env=run_env,
            timeout=900,
            check=False,
        )
        got = json.loads(out.read_text()) if out.exists() else {"failed": True}
        log(f"  gui run {r + 1}/{runs}: {json.dumps(got)}")
        rows.append(got)
    keys = sorted({k for row in rows for k, v in row.items() if isinstance(v, int | float)})
    fig = {k: perfkit.median([row[k] for row in rows if isinstance(row.get(k), int | float)]) for k in keys}
    fig["runs"] = len(rows)
    fig["backend"] = gui_backend or "auto"
    fig["torch_loaded"] = any(row.get("torch_loaded") for row in rows)
    fig["command"] = (
        f"DISPLAY=:75 PYTHONPATH=. python tests/perf/scale_gui.py {built['library']} {query} OUT.json "
        "LAUNCH_EPOCH (QT_QPA_PLATFORM=xcb)"
    )
    return fig


if __name__ == "__main__":
    library, query, out, launched = (
        Path(sys.argv[1]),
        Path(sys.argv[2]),
        Path(sys.argv[3]),
        float(sys.argv[4]),
    )
    if "--no-startup-pass" in sys.argv[5:]:
        # What the startup pass costs the scroll: the same launch with the pass never started (its figures
        # lack pass_done_s; the child quits after the scroll).
        import irt_desktop.gui.workers as workers

        workers.IndexingWorker.request = lambda self: None
    raise SystemExit(child(library, query, out, launched))
