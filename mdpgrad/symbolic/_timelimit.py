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

Checked by the tests: a busy loop in a non-main thread is stopped near its limit and does not
finish; a computation that finishes first returns its value and leaves no exception pending; an
inner limit does not catch an outer one's exception; the tests that follow a fired limit in the
same session run as they do alone.
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
        What ``fn`` returned, when it returned in time.

    Raises
    ------
    TimeLimitExceeded
        ``fn`` was stopped after ``seconds``.

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
    state = {"done": False, "fired": False}

    def fire() -> None:
        with lock:
            if not state["done"]:
                state["fired"] = True
                _raise_in(target, mine)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    delivered = False
    try:
        return fn()
    except mine:
        delivered = True
        raise TimeLimitExceeded(f"ran past its time limit of {seconds} s") from None
    finally:
        with lock:
            state["done"] = True
            timer.cancel()
        if state["fired"] and not delivered:    # fired as fn returned: take it here, not in the caller
            _absorb(mine)
