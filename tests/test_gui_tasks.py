"""The GUI's task runner: answers on the GUI thread, lanes in order, cancel drops, progress batches."""

from __future__ import annotations

import threading
import time

import pytest

from irt_desktop.gui.tasks import TaskRunner, run_inline, to_main


@pytest.fixture
def runner(qtbot):
    r = TaskRunner()
    yield r
    r.shutdown(5000)


def test_answer_arrives_on_the_gui_thread(qtbot, runner):
    main = threading.current_thread()
    seen = {}

    def work():
        seen["worker"] = threading.current_thread()
        return 41 + 1

    runner.run(work, lambda v: seen.update(value=v, thread=threading.current_thread()))
    qtbot.waitUntil(lambda: "value" in seen, timeout=5000)
    assert seen["value"] == 42
    assert seen["thread"] is main
    assert seen["worker"] is not main


def test_error_goes_to_on_error_and_the_pool_survives(qtbot, runner):
    errors, values = [], []

    def boom():
        raise ValueError("bad photo")

    runner.run(boom, values.append, errors.append)
    runner.run(lambda: "after", values.append)
    qtbot.waitUntil(lambda: bool(errors and values), timeout=5000)
    assert isinstance(errors[0], ValueError) and str(errors[0]) == "bad photo"
    assert values == ["after"]


def test_a_lane_runs_its_tasks_one_after_another_in_order(qtbot, runner):
    active, overlap, order = [0], [False], []
    lock = threading.Lock()

    def step(i):
        def work():
            with lock:
                active[0] += 1
                overlap[0] |= active[0] > 1
            time.sleep(0.02)
            with lock:
                active[0] -= 1
            return i

        return work

    for i in range(8):
        runner.run(step(i), order.append, lane="library")
    qtbot.waitUntil(lambda: len(order) == 8, timeout=10000)
    assert order == list(range(8))
    assert not overlap[0]
    assert runner.pending("library") == 0


def test_tasks_in_different_lanes_overlap(qtbot, runner):
    both = threading.Barrier(2, timeout=5)
    done = []
    runner.run(both.wait, done.append, lane="a")
    runner.run(both.wait, done.append, lane="b")
    qtbot.waitUntil(lambda: len(done) == 2, timeout=10000)


def test_cancel_drops_the_answer(qtbot, runner):
    release = threading.Event()
    got = []
    task = runner.run(lambda: release.wait(5) and "late", got.append)
    task.cancel()
    release.set()
    assert task.wait(5)
    qtbot.wait(100)
    assert got == []
    assert task.dropped


def test_progress_reaches_the_gui_in_batches_with_nothing_lost(qtbot, runner):
    batches, done = [], []

    def work(progress, cancel):
        for i in range(500):
            progress(i)
        return "ok"

    runner.run_with_progress(work, batches.append, done.append, interval_s=0.0)
    qtbot.waitUntil(lambda: done == ["ok"], timeout=5000)
    assert [v for b in batches for v in b] == list(range(500))


def test_cancel_stops_a_job_at_its_next_progress_report(qtbot, runner):
    started, cancelled, done = threading.Event(), [], []
    reports = [0]

    def work(progress, cancel):
        started.set()
        while True:
            reports[0] += 1
            progress(None)
            time.sleep(0.005)

    task = runner.run_with_progress(work, None, done.append, on_cancelled=lambda: cancelled.append(True))
    assert started.wait(5)
    task.cancel_event.set()  # a cancel that still wants to hear the job end
    qtbot.waitUntil(lambda: bool(cancelled), timeout=5000)
    assert done == []
    assert task.finished


def test_a_job_that_winds_down_itself_reports_cancelled(qtbot, runner):
    cancelled, done = [], []

    def work(progress, cancel):
        while not cancel.is_set():
            time.sleep(0.005)
        return "checkpoint saved"

    task = runner.run_with_progress(
        work, None, done.append, on_cancelled=lambda: cancelled.append(True), raise_on_cancel=False
    )
    qtbot.wait(30)
    task.cancel_event.set()
    qtbot.waitUntil(lambda: bool(cancelled), timeout=5000)
    assert done == []


def test_inline_executor_runs_jobs_on_the_calling_thread(qtbot):
    runner = TaskRunner(executor=run_inline)
    got = []
    runner.run(lambda: threading.current_thread(), got.append, lane="library")
    runner.run(lambda: 2, got.append)
    assert got == [threading.current_thread(), 2]


def test_nothing_is_delivered_after_shutdown(qtbot):
    runner = TaskRunner()
    release = threading.Event()
    got = []
    runner.run(lambda: release.wait(5), got.append, lane="library")
    runner.run(lambda: "queued", got.append, lane="library")
    runner.shutdown(0)
    release.set()
    assert runner.shutdown(5000)
    qtbot.wait(100)
    assert got == []
    late = runner.run(lambda: "after", got.append)
    assert late.dropped and late.finished


def test_to_main_from_a_worker_thread(qtbot):
    main = threading.current_thread()
    seen = []
    t = threading.Thread(target=lambda: to_main(lambda x: seen.append((x, threading.current_thread())), 7))
    t.start()
    t.join()
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert seen == [(7, main)]


def test_tasks_dropped_at_shutdown_count_as_finished(qtbot):
    runner = TaskRunner()
    release = threading.Event()
    running = runner.run(lambda: release.wait(5), lane="library")
    queued = runner.run(lambda: "never", lane="library")
    runner.shutdown(0)
    assert queued.dropped and queued.wait(0)  # nobody waiting on it hangs
    release.set()
    assert running.wait(5) and runner.shutdown(5000)


def test_the_gui_has_one_way_to_run_work(qtbot):
    """Outside the task runner, the indexing worker and the thumbnail pool, no gui module starts threads
    of its own."""
    import ast
    from pathlib import Path

    import irt_desktop.gui

    gui = Path(irt_desktop.gui.__file__).parent
    allowed = {
        "tasks.py": {"QThread", "QThreadPool", "QRunnable"},
        "workers.py": {"QThread"},
        "thumbnails.py": {"QThreadPool", "QRunnable"},
    }
    idioms = {"QThread", "QThreadPool", "QRunnable", "Thread", "TaskThread", "run_task", "SerialWorker"}
    found = {}
    for path in sorted(gui.rglob("*.py")):
        rel = path.relative_to(gui)
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
        used = (names & idioms) - allowed.get(rel.name, set())
        if used:
            found[str(rel)] = sorted(used)
    assert found == {}
