"""Each scorer in a process of its own, as ann-benchmarks runs each algorithm: one that hangs past `--timeout`, or
that the kernel kills (out of memory, most often), fails alone with its reason, and the run goes on.

Children come from a fork server: a fresh interpreter that imported the scorer's module once and forks a child per
call, so each starts in milliseconds. A child forked from this process instead would inherit its OpenMP thread
pools (faiss's, torch's), which GNU libgomp leaves deadlocked after a fork, and CUDA, which cannot cross a fork.
The call and its arguments are pickled across with this process's `sys.path`, environment and working folder, so
the child sees what this one sees: scorers registered at run time travel by reference to their class."""
from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sys
from collections.abc import Callable

from core.errors import ScorerError

ISOLATION = ("process", "none")
DEFAULT_TIMEOUT = 3600.0  # seconds per scorer and seed; generous, so only a scorer that hangs meets it


def _child(send, path: list[str], environ: dict[str, str], cwd: str, payload: bytes) -> None:
    sys.path[:] = path
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    try:
        fn, args = pickle.loads(payload)
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


def call(fn: Callable, args: tuple, what: str, isolate: str = "process", timeout: float | None = DEFAULT_TIMEOUT):
    """`fn(*args)`, in a child process unless `isolate` is "none"; a timeout or a dead child raises
    `ScorerError` naming `what`, any exception in the child is raised here as itself."""
    if isolate == "none":
        return fn(*args)
    if isolate not in ISOLATION:
        raise ValueError(f"isolate must be one of {', '.join(ISOLATION)}, not {isolate!r}")
    try:
        payload = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise ScorerError(f"{what}: cannot be sent to its own process ({exc}); define it at a module's top level, "
                          "or run with --isolate none") from None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([fn.__module__])  # read when the server starts: once per run
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, list(sys.path), dict(os.environ), os.getcwd(), payload),
                            daemon=True, name=f"scorer {what}")
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
