"""Each scorer in a process of its own, as ann-benchmarks runs each algorithm: one that hangs past `--timeout`, or
that the kernel kills (out of memory, most often), fails alone with its reason, and the run goes on.

On the CPU the child is forked, so it starts in milliseconds with the embeddings already in its memory (and any
scorer registered in the parent, test doubles included). CUDA cannot be used in a forked child, so on the GPU it is
spawned: a fresh interpreter, a few seconds per scorer, its arguments pickled across."""
from __future__ import annotations

import multiprocessing
import pickle
import signal
from collections.abc import Callable

from core.errors import ScorerError

ISOLATION = ("process", "none")
DEFAULT_TIMEOUT = 3600.0  # seconds per scorer and seed; generous, so only a scorer that hangs meets it


def _child(send, fn: Callable, args: tuple) -> None:
    try:
        outcome = (True, fn(*args))
    except BaseException as exc:  # handed to the parent, which raises it as if the call had been its own
        outcome = (False, exc)
    try:
        send.send(outcome)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:  # an exception or result that does not pickle
        send.send((False, ScorerError(f"{type(outcome[1]).__name__}: {outcome[1]} (could not be sent back: {exc})")))
    finally:
        send.close()


def _death(exitcode: int) -> str:
    if exitcode == -signal.SIGKILL:
        return "killed (out of memory?) by SIGKILL"
    if exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exited with code {exitcode} before returning"


def call(fn: Callable, args: tuple, what: str, isolate: str = "process", timeout: float | None = DEFAULT_TIMEOUT,
         device: str = "cpu"):
    """`fn(*args)`, in a child process unless `isolate` is "none"; a timeout or a dead child raises
    `ScorerError` naming `what`, any exception in the child is raised here as itself."""
    if isolate == "none":
        return fn(*args)
    if isolate not in ISOLATION:
        raise ValueError(f"isolate must be one of {', '.join(ISOLATION)}, not {isolate!r}")
    context = multiprocessing.get_context("spawn" if device == "cuda" else "fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, fn, args), daemon=True, name=f"scorer {what}")
    child.start()
    send.close()  # the child holds the only writing end, so its death reads as EOF here
    try:
        if not receive.poll(timeout):
            raise ScorerError(f"{what}: timeout after {timeout:g} s (--timeout gives a scorer longer)")
        try:
            ok, value = receive.recv()
        except EOFError:
            child.join()
            raise ScorerError(f"{what}: {_death(child.exitcode)}") from None
    finally:
        child.join(1)  # a child that answered is exiting; one that timed out is killed
        if child.is_alive():
            child.kill()
            child.join()
        receive.close()
    if not ok:
        raise value
    return value
