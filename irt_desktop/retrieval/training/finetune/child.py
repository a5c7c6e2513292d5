"""Fine-tuning (and the speed probe) in a child process, so a GUI can keep serving searches meanwhile.

The child is started with the "spawn" method: a fresh interpreter that imports only what the job needs,
with none of the parent's threads, Qt state or open SQLite connections (fork would copy them mid-use).
Events come back over a multiprocessing queue and are handed to `on_event` on the calling thread;
cancelling the caller's `cancel` sets a multiprocessing Event the child's job watches, so a stopped run
still saves its checkpoint. The answer (or the job's exception, re-raised here) ends the call.

`run_finetune_in_child`, `measure_cost_in_child` and `measure_speed_in_child` take the same arguments
as their in-process counterparts in finetune.run, so a caller switches between the two by name alone.
This module loads no torch in the caller: the jobs are named by module-level functions that import
finetune.run (and torch) when they run, in the child.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from irt_desktop.retrieval.bundle import ModelBundle
    from irt_desktop.retrieval.training.finetune.events import FinetuneResult
    from irt_desktop.retrieval.training.finetune.plan import DeviceCost, FinetunePlan
    from irt_desktop.retrieval.training.finetune.run import CancelFlag, OnEvent

T = TypeVar("T")

POLL_S = 0.1
# After a cancel the child winds down on its own (the trainer finishes its step and saves a checkpoint);
# only a child still running after this long is terminated.
STOP_GRACE_S = 120.0
# Exceptions of these packages come back as ChildProcessFailed, with their type and message.
TORCH_MODULES = ("torch", "timm", "torchvision")


class ChildProcessFailed(RuntimeError):
    """The child ended without an answer (killed, out of memory), or its error could not be sent back
    as it is (torch's own exception types are sent as this, named in the message)."""


def run_finetune_in_child(
    plan: FinetunePlan, on_event: OnEvent | None = None, cancel: CancelFlag | None = None
) -> FinetuneResult:
    """run_finetune(plan, on_event, cancel) in a spawned child process."""
    return call_in_child(_run_finetune, plan, on_event=on_event, cancel=cancel)


def measure_speed_in_child(
    bundle: ModelBundle, input_size: int, device: str, cancel: CancelFlag | None = None
) -> float:
    """measure_speed(bundle, input_size, device) in a spawned child process."""
    return call_in_child(_measure_speed, bundle, input_size, device, cancel=cancel)


def measure_cost_in_child(
    bundle: ModelBundle,
    input_size: int,
    device: str,
    precision: str = "auto",
    sample: tuple[str, ...] = (),
    cancel: CancelFlag | None = None,
) -> DeviceCost:
    """measure_cost(bundle, input_size, device, precision=..., sample=...) in a spawned child process."""
    return call_in_child(_measure_cost, bundle, input_size, device, precision, tuple(sample), cancel=cancel)


def _measure_cost(
    bundle: ModelBundle,
    input_size: int,
    device: str,
    precision: str,
    sample: tuple[str, ...],
    on_event: OnEvent | None = None,
    cancel: CancelFlag | None = None,
) -> DeviceCost:
    from irt_desktop.retrieval.training.finetune.run import measure_cost

    return measure_cost(bundle, input_size, device, precision=precision, sample=sample, cancel=cancel)


def _run_finetune(
    plan: FinetunePlan, on_event: OnEvent | None = None, cancel: CancelFlag | None = None
) -> FinetuneResult:
    from irt_desktop.retrieval.training.finetune.run import run_finetune

    return run_finetune(plan, on_event, cancel)


def _measure_speed(
    bundle: ModelBundle,
    input_size: int,
    device: str,
    on_event: OnEvent | None = None,
    cancel: CancelFlag | None = None,
) -> float:
    from irt_desktop.retrieval.training.finetune.run import measure_speed

    return measure_speed(bundle, input_size, device, on_event=on_event, cancel=cancel)


def call_in_child(
    target: Callable[..., T],
    *args: Any,
    on_event: Callable[[Any], None] | None = None,
    cancel: CancelFlag | None = None,
) -> T:
    """`target(*args, on_event=..., cancel=...)` in a spawned process; returns what it returns.

    `target` and `args` must be picklable (a module-level function, dataclasses). `on_event` runs on
    the calling thread for every event the target reports; if it raises, the child is stopped and the
    exception propagates."""
    ctx = multiprocessing.get_context("spawn")
    events = ctx.Queue()
    stop = ctx.Event()
    # Not a daemon: the training job's DataLoader starts worker processes of its own, which a daemonic
    # process may not. The child watches its parent instead (_watch_parent).
    proc = ctx.Process(target=_child_main, args=(target, args, events, stop), name=f"irt-{_name(target)}")
    proc.start()
    answered = False
    try:
        while True:
            if cancel is not None and cancel.is_set():
                stop.set()
            try:
                kind, payload = events.get(timeout=POLL_S)
            except queue.Empty:
                if proc.is_alive():
                    continue
                # The child's last messages can still be in the pipe after it exited.
                try:
                    kind, payload = events.get(timeout=1.0)
                except queue.Empty:
                    raise ChildProcessFailed(
                        f"the {_name(target)} process ended without an answer (exit code {proc.exitcode})"
                    ) from None
            if kind == "event":
                if on_event is not None:
                    on_event(payload)
                continue
            answered = True
            if kind == "error":
                raise payload
            return payload
    finally:
        if not answered:
            stop.set()
        _reap(proc, events, STOP_GRACE_S if not answered else 10.0)


def _reap(proc: Any, events: Any, grace_s: float) -> None:
    """Wait for the child to exit, reading what it still sends: a child exits only once its queue is
    flushed, so not reading could leave both waiting on each other."""
    deadline = time.monotonic() + grace_s
    while proc.is_alive() and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            events.get(timeout=POLL_S)
    if proc.is_alive():
        proc.terminate()
    proc.join(5.0)
    events.close()
    events.cancel_join_thread()


def _child_main(target: Callable[..., Any], args: tuple, events: Any, stop: Any) -> None:
    threading.Thread(target=_watch_parent, args=(stop,), name="parent-watch", daemon=True).start()

    def emit(event: Any) -> None:
        events.put(("event", event))

    try:
        result = target(*args, on_event=emit, cancel=stop)
    except BaseException as exc:  # sent to the parent, which re-raises it
        events.put(("error", _sendable(exc)))
    else:
        events.put(("done", result))
    events.close()
    events.join_thread()


def _watch_parent(stop: Any) -> None:
    """A parent that died (killed, crashed) cannot cancel: stop as if it had, keeping the checkpoint."""
    parent = multiprocessing.parent_process()
    while parent is not None and parent.is_alive():
        time.sleep(1.0)
    stop.set()


def _sendable(exc: BaseException) -> BaseException:
    """`exc` with the child's traceback as a note, or a stand-in when it cannot cross the pipe or is
    one of torch's own types (unpickling it would load torch into a parent that must not have it)."""
    text = "".join(traceback.format_exception(exc))
    if type(exc).__module__.partition(".")[0] in TORCH_MODULES:
        return ChildProcessFailed(f"{type(exc).__name__}: {exc}\n{text}")
    try:
        exc.add_note(f"in the child process:\n{text}")
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return ChildProcessFailed(f"{type(exc).__name__}: {exc}\n{text}")


def _name(target: Callable[..., Any]) -> str:
    return getattr(target, "__name__", "child").lstrip("_") or "child"
