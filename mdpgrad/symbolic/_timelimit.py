"""A time limit on a computation, in any thread and on any operating system.

``run_within(seconds, fn)`` returns ``fn()`` or, once ``seconds`` have passed, raises
:class:`TimeLimitExceeded` in the thread running ``fn``.  A timer thread delivers the exception
with CPython's C function ``PyThreadState_SetAsyncExc`` (through ``ctypes``), so the limit needs
neither the main thread nor POSIX signals: SIGALRM, used before, did nothing off the main thread
and does not exist on Windows.

Like a signal handler, the exception surfaces at the next bytecode the thread executes: one long
call into C (a single big-integer product) finishes first.  The exact proofs spend their time in
sympy's pure-Python polynomial arithmetic, so the delay there is milliseconds.  An interpreter
without ``ctypes.pythonapi`` (not CPython) runs ``fn`` without a limit.

The exception can surface where the interpreter cannot pass it on: in a garbage-collector
callback, a ``__del__`` method or a weakref callback, it is reported as "unraisable" and dropped,
and code that catches ``BaseException`` drops it too.  So the timer sends it again, after 10 ms and
then at doubling intervals up to 0.25 s, until ``fn`` has stopped; and when ``fn`` returns after the
limit fired, its value is not returned: :class:`TimeLimitExceeded` is raised all the same.  Whether a
value comes back therefore depends only on the clock, never on where a delivery happened to land.

Checked by the tests: a busy loop in a non-main thread is stopped near its limit and does not
finish; a loop that drops the first delivery is still stopped; a computation whose every delivery
lands in a ``__del__`` is reported as over its limit; a computation that finishes first returns its
value and leaves no exception pending; an inner limit does not catch an outer one's exception; the
tests that follow a fired limit in the same session run as they do alone.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["TimeLimitExceeded", "enforced", "run_within"]

T = TypeVar("T")


class TimeLimitExceeded(BaseException):
    """The computation ran past its time limit (a BaseException: no ``except Exception`` inside
    sympy may swallow it)."""


def enforced() -> bool:
    """Whether this interpreter can interrupt a thread (CPython: every OS, every thread)."""
    return hasattr(ctypes, "pythonapi") and hasattr(ctypes.pythonapi, "PyThreadState_SetAsyncExc")


#: Loop steps given to a pending exception to surface (it does at the first one: the eval loop checks
#: for it at every backward jump while it is pending); the bound only guards against a lost one.
ABSORB_STEPS = 1000


def _raise_in(thread_id: int, exc: type[BaseException]) -> None:
    """Make ``exc`` pending in the thread: raised there at its next check of the eval loop."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc))


def _absorb(exc: type[BaseException]) -> None:
    """Let a pending ``exc`` of this thread surface here, and drop it.

    Not cleared with ``PyThreadState_SetAsyncExc(id, NULL)``: that leaves the interpreter's
    "pending" flag set with nothing to deliver (CPython 3.11), and every later check of the eval
    loop then takes the slow path: the whole process ran many times slower afterwards.
    """
    try:
        for _ in range(ABSORB_STEPS):
            pass
    except exc:
        pass


#: Seconds between repeated deliveries after the limit: the first, and the cap of the doubling.
RESEND_FIRST = 0.01
RESEND_MAX = 0.25


def run_within(seconds: float | None, fn: Callable[[], T]) -> T:
    """``fn()``, interrupted by :class:`TimeLimitExceeded` after ``seconds`` (None: no limit).

    Parameters
    ----------
    seconds : float or None
        The limit in seconds, > 0.
    fn : callable () -> T
        The computation; it runs in the calling thread.

    Returns
    -------
    T
        What ``fn`` returned, when it returned before the limit fired.

    Raises
    ------
    TimeLimitExceeded
        ``fn`` was stopped after ``seconds``, or returned after the limit fired.

    Examples
    --------
    >>> run_within(5.0, lambda: 6 * 7)
    42
    """
    if seconds is None or not enforced():
        return fn()
    # A class of its own for this call: an exception meant for an outer limit is not caught here.
    mine: type[TimeLimitExceeded] = type("TimeLimitExceeded", (TimeLimitExceeded,), {})
    target = threading.get_ident()
    lock = threading.Lock()
    stop = threading.Event()
    state = {"done": False, "fired": False}

    def watch() -> None:
        wait, resend = seconds, RESEND_FIRST
        while not stop.wait(wait):
            with lock:              # never sent once the caller has marked the call done
                if state["done"]:
                    return
                state["fired"] = True
                _raise_in(target, mine)
            wait, resend = resend, min(2 * resend, RESEND_MAX)

    watcher = threading.Thread(target=watch, name="mdpgrad-time-limit", daemon=True)
    watcher.start()
    timed_out = False
    try:
        try:
            result = fn()
        except mine:
            timed_out = True
    finally:
        # Mark the call done, then let a delivery sent before that surface and drop it here, not in
        # the caller.  A delivery can surface anywhere in this block, hence the retry; so can an
        # outer limit's or a Ctrl-C, passed on once the watcher is stopped (a watcher left running
        # would later interrupt whatever the thread is doing then).
        interrupted: BaseException | None = None
        while True:
            try:
                with lock:
                    state["done"] = True
                stop.set()
                if state["fired"]:
                    _absorb(mine)
                break
            except mine:
                continue
            except BaseException as exc:
                interrupted = exc
        if interrupted is not None:
            raise interrupted
    if timed_out or state["fired"]:     # fired and returned: every delivery was dropped on the way
        raise TimeLimitExceeded(f"ran past its time limit of {seconds} s")
    return result
