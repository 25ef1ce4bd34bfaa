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

An exception can also surface where it does harm: ``logging`` takes its module lock in one function
and releases it in another, so an exception surfacing in between leaves the lock held and the next
``logging`` call of any other thread waits for ever (CPython 3.11; seen within tens of limits fired
in a logging loop).  So a delivery is held back (and tried again every millisecond) while any frame
of the thread above :func:`run_within` runs one of the standard-library modules that take locks
this way (``LOCKING_MODULES``), and the check is made without releasing the GIL, so that the thread
cannot move between the check and the delivery.  A computation that spends its time in those
modules is therefore stopped late, when it is caught outside them, or runs to its end and is then
reported as over its limit; a limit never leaves a lock held.

Checked by the tests: a busy loop in a non-main thread is stopped near its limit and does not
finish; a loop that drops the first delivery is still stopped; a computation whose every delivery
lands in a ``__del__`` is reported as over its limit; a computation that finishes first returns its
value and leaves no exception pending; an inner limit does not catch an outer one's exception; the
tests that follow a fired limit in the same session run as they do alone; a computation waiting in
``queue.get`` is stopped in its own code afterwards; a hundred limits fired in a logging loop leave
logging's lock free.
"""

from __future__ import annotations

import ctypes
import os
import sys
import sysconfig
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
#: Seconds before a delivery postponed (the thread was in code that takes locks) is tried again.
POSTPONE = 0.001

#: Where the standard library lives, and its packages and modules that take locks and release them
#: in a later statement or another function (logging's module and handler locks, threading's
#: conditions, the import system's module locks, ...): an exception surfacing in between would leave
#: the lock held, and the next call of any thread that needs it would wait for ever.
_STDLIB = tuple(os.path.normcase(os.path.realpath(sysconfig.get_paths()[key])) + os.sep
                for key in ("stdlib", "platstdlib"))
LOCKING_MODULES = frozenset({"logging", "threading", "queue", "concurrent", "importlib", "multiprocessing",
                             "asyncio", "selectors", "subprocess", "socketserver", "_threading_local",
                             "weakref", "_weakrefset", "tempfile", "warnings", "zipimport", "runpy"})


def _takes_locks(filename: str) -> bool:
    """Whether a source file is one of ``LOCKING_MODULES`` of the standard library."""
    if filename.startswith("<frozen "):                      # "<frozen importlib._bootstrap>"
        return filename[len("<frozen "):].rstrip(">").split(".")[0] in LOCKING_MODULES
    path = os.path.normcase(os.path.realpath(filename)) if os.path.isabs(filename) else ""
    for root in _STDLIB:
        if path.startswith(root):
            first = path[len(root):].split(os.sep)[0]
            return first.removesuffix(".py") in LOCKING_MODULES
    return False


#: Source file → whether it is one of LOCKING_MODULES, filled as frames are met.
_LOCKING_FILES: dict[str, bool] = {}


def _interruptible(thread_id: int) -> bool:
    """Whether no frame of the thread above :func:`run_within`'s own runs one of ``LOCKING_MODULES``.

    The answer is only good while the thread stays where it is, so nothing here may release the
    GIL: a file not yet classified is classified (``realpath`` makes system calls, which do release
    it) and the answer is "not now".
    """
    frame = sys._current_frames().get(thread_id)
    unknown: list[str] = []
    safe = True
    while frame is not None and frame.f_code is not _RUN_WITHIN_CODE:
        name = frame.f_code.co_filename
        known = _LOCKING_FILES.get(name)
        if known is None:
            unknown.append(name)
        elif known:
            safe = False
        frame = frame.f_back
    for name in unknown:
        _LOCKING_FILES[name] = _takes_locks(name)
    return safe and not unknown


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
                if not _interruptible(target):
                    wait = POSTPONE
                    continue
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


_RUN_WITHIN_CODE = run_within.__code__
