"""Fits in child processes that can be stopped: a time budget, a limit on fits at once, kill on exit.

A fit is CPU-bound Python (SciPy least squares in bootstrap loops). In the server's own process
it holds the GIL for its whole length, starves cheap requests, and cannot be interrupted: a
thread cannot be killed, and ``ProcessPoolExecutor`` cannot cancel a running task. So each fit
runs in a process of its own, forked from a ``forkserver`` that has NumPy, pandas, SciPy and the
predictors imported already (a fit pays a fork, milliseconds, not seconds of imports), at the
lowest CPU priority there is (nice 19 and, on Linux, ``SCHED_IDLE``), so the requests that need
no fit keep their CPU and get it back the moment they wake.

:meth:`FitPool.run` waits for the result while watching the budget, the caller's ``cancelled``
(a client that went away, a job that was cancelled) and :meth:`FitPool.close` (the server is
shutting down); on any of them the child is killed (SIGKILL) and reaped at once, so its CPU is
free. The child gets its inputs and sends its result (or its error, as a type name and message)
pickled over a pipe; it writes no database row and holds no connection.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

#: Seconds between looks at the budget, ``cancelled`` and shutdown while a fit runs or waits.
POLL_S = 0.1
#: :attr:`FitFailed.kind` when the child ended without a message (killed from outside, crashed).
PROCESS_DIED = "ProcessDied"
#: How much lower a fit's CPU priority is than the server's (``os.nice`` increment): the lowest
#: there is. At nice 19 a fit weighs 15 against a request thread's 1024 in Linux's scheduler, so
#: on a saturated machine fits take what requests leave (about 1.5% each) and cheap requests keep
#: their latency (at nice 10 a fit weighs 110: five of them outweigh half a request thread).
FIT_NICENESS = 19
#: Whether a lowered fit also runs under Linux's ``SCHED_IDLE`` policy. Weight alone still lets a
#: running fit finish its time slice before a woken request thread gets the core, which showed as
#: the loaded health check's p99; a ``SCHED_IDLE`` task is preempted the moment any normal task
#: wakes. Where the platform lacks the policy, the niceness above is all there is.
FIT_IDLE_POLICY = hasattr(os, "SCHED_IDLE")


class FitTimeout(Exception):
    """The budget ran out: while waiting for a slot (``waited_for_slot``) or while fitting."""

    def __init__(self, budget_s: float, *, waited_for_slot: bool) -> None:
        where = "waiting for a slot" if waited_for_slot else "fitting"
        super().__init__(f"the budget of {budget_s:g} s ran out {where}")
        self.budget_s, self.waited_for_slot = budget_s, waited_for_slot


class FitCancelled(Exception):
    """The caller went away or the pool is closing; the fit was stopped."""


class FitFailed(Exception):
    """The fit raised in the child (``kind`` is the exception's type name) or the child died."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _context(preload: tuple[str, ...]) -> ForkServerContext:
    """The process-wide forkserver context (the preload counts until the forkserver starts)."""
    ctx = multiprocessing.get_context("forkserver")
    # "__main__" first: a script's main module is imported once by the forkserver rather than
    # again in every fit (``python -m`` mains are never re-imported)
    ctx.set_forkserver_preload(["__main__", *preload])
    return ctx


def _forkserver_pid() -> int | None:
    """The forkserver's pid; multiprocessing keeps it on its module-level ForkServer only."""
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    return pid if isinstance(pid, int) else None


def _lower_priority(pid: int | None, nice: int) -> None:
    """Raise ``pid``'s niceness by ``nice`` over ours (at most 19) and make it idle-class.

    A no-op where not allowed (gone, or not ours to change): fits still lower themselves.
    """
    if pid is None or not nice:
        return
    target = min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice)
    with contextlib.suppress(OSError):
        if os.getpriority(os.PRIO_PROCESS, pid) < target:
            os.setpriority(os.PRIO_PROCESS, pid, target)
    _make_idle(pid)


def _make_idle(pid: int) -> None:
    """Put ``pid`` (0: this process) under ``SCHED_IDLE`` where the platform has it."""
    if FIT_IDLE_POLICY:
        with contextlib.suppress(OSError):  # not ours to change: the niceness still holds
            os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))


def _child(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...], nice: int) -> None:
    """Entry point in the child: lower priority, call, send ``("ok", result)`` or the error."""
    if nice:
        os.nice(nice)
        _make_idle(0)
    try:
        message: tuple[Any, ...] = ("ok", fn(*args))
    except BaseException as exc:  # everything goes back to the parent as a message
        message = ("error", type(exc).__name__, str(exc))
    try:
        conn.send(message)
    except Exception as exc:  # an unpicklable result: say so rather than die silently
        conn.send(("error", type(exc).__name__, f"the fit's result could not be sent: {exc}"))
    finally:
        conn.close()


class FitPool:
    """Runs callables in killable child processes, at most ``max_concurrent`` at a time."""

    def __init__(
        self,
        *,
        max_concurrent: int,
        preload: Sequence[str] = ("numpy", "pandas", "scipy.optimize"),
        nice: int = FIT_NICENESS,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be >= 1, got {max_concurrent}")
        self.max_concurrent, self.nice = max_concurrent, nice
        self._preload = tuple(preload)
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._running: dict[int, BaseProcess] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def start(self) -> None:
        """Start the forkserver now (it imports the preload in the background), not at first fit.

        The forkserver itself runs at the fits' priority: each fit is a fork of it, and copying
        the page tables of a process that holds NumPy and SciPy is kernel work charged to the
        forkserver, which at the server's priority competed with the requests.
        """
        from multiprocessing import forkserver

        _context(self._preload)
        forkserver.ensure_running()
        _lower_priority(_forkserver_pid(), self.nice)

    def close_on_signals(self, signals: Sequence[int] = (signal.SIGTERM, signal.SIGINT)) -> None:
        """Close the pool the moment the process is told to stop, before any graceful wait.

        uvicorn lets running requests finish (up to ``timeout_graceful_shutdown``) before the
        app's shutdown runs, so a request waiting on a long fit would hold the exit that long.
        The handler installed here closes the pool (from a thread: a signal handler must not take
        a lock its own thread may hold) and then calls the handler it replaced, which uvicorn
        restores when it is done. Only possible in the main thread; elsewhere a no-op.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in signals:
            previous = signal.getsignal(sig)

            def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
                threading.Thread(target=self.close, name="fit-pool-close", daemon=True).start()
                if callable(previous):
                    previous(signum, frame)
                elif previous == signal.SIG_DFL:
                    signal.signal(signum, signal.SIG_DFL)
                    signal.raise_signal(signum)

            signal.signal(sig, handler)

    @property
    def running_pids(self) -> list[int]:
        """Process ids of the fits running now (for tests and diagnostics)."""
        with self._lock:
            return [p.pid for p in self._running.values() if p.pid is not None]

    def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        timeout: float,
        cancelled: Callable[[], bool] | None = None,
    ) -> Any:
        """``fn(*args)`` in a child within ``timeout`` seconds (slot wait included).

        Raises :class:`FitTimeout`, :class:`FitCancelled` or :class:`FitFailed`; the child is
        gone (killed and reaped) whenever this returns or raises.
        """
        deadline = time.monotonic() + timeout
        while not self._slots.acquire(timeout=max(0.0, min(POLL_S, deadline - time.monotonic()))):
            self._check(cancelled)
            if time.monotonic() >= deadline:
                raise FitTimeout(timeout, waited_for_slot=True)
        try:
            self._check(cancelled)
            return self._run_child(fn, args, deadline, timeout, cancelled)
        finally:
            self._slots.release()

    def _check(self, cancelled: Callable[[], bool] | None) -> None:
        if self._closed.is_set():
            raise FitCancelled("the server is shutting down")
        if cancelled is not None and cancelled():
            raise FitCancelled("the caller went away")

    def _run_child(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        deadline: float,
        timeout: float,
        cancelled: Callable[[], bool] | None,
    ) -> Any:
        ctx = _context(self._preload)
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(sender, fn, args, self.nice), daemon=True)
        try:
            proc.start()
            sender.close()
            with self._lock:
                self._running[id(proc)] = proc
            while True:
                if receiver.poll(max(0.0, min(POLL_S, deadline - time.monotonic()))):
                    try:
                        message = receiver.recv()
                    except EOFError:  # closed without a message: killed, or died hard
                        self._check(cancelled)
                        proc.join(1)
                        raise FitFailed(
                            PROCESS_DIED, f"the fit process died (exit code {proc.exitcode})"
                        ) from None
                    break
                self._check(cancelled)
                if time.monotonic() >= deadline:
                    raise FitTimeout(timeout, waited_for_slot=False)
        finally:
            self._stop(proc)
            receiver.close()
            sender.close()
        if message[0] == "ok":
            return message[1]
        raise FitFailed(message[1], message[2])

    def _stop(self, proc: BaseProcess) -> None:
        """Kill ``proc`` if it still runs, and reap it."""
        with self._lock:
            self._running.pop(id(proc), None)
        if proc.pid is None:
            return
        if proc.is_alive():
            proc.kill()
        proc.join()

    def close(self) -> None:
        """Stop every running fit and refuse new ones (waiters get :class:`FitCancelled`)."""
        self._closed.set()
        with self._lock:
            procs = list(self._running.values())
        for proc in procs:
            if proc.is_alive():
                proc.kill()
