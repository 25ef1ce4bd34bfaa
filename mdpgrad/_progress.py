"""Progress of long computations: the ``progress=`` argument and the ``"mdpgrad"`` logger.

Long work (Krylov solves, sampling many episodes, exact proofs, exact estimator moments) counts
its steps through a :class:`Reporter`, which passes them on according to ``progress``:

* ``None`` or ``False`` (the default): nothing is shown; the start, the progress and the end of
  the work are logged at DEBUG level on ``logging.getLogger("mdpgrad")``;
* ``True``: a `tqdm <https://tqdm.github.io>`_ bar on stderr when tqdm is installed (it is not a
  dependency), else the same messages at INFO level on the logger;
* a callable ``progress(done, total, message)``: called with ``0 ≤ done ≤ total``, ``done`` never
  decreasing, and a last call with ``done == total`` when the work completes (work that stops
  early, such as a Krylov solve that converges before its iteration cap, jumps to ``total``).

An update is passed on when :data:`MIN_INTERVAL` seconds or :data:`MIN_FRACTION` of the total have
passed since the last one (the first and the last always are), so reporting costs nothing
measurable even when the work counts millions of steps.

Checked by the tests: callbacks see non-decreasing counts ending at ``total``; the logger
receives the messages; ``progress=True`` works without tqdm; a bad ``progress`` is refused.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ._errors import ValidationError

__all__ = ["LOGGER", "MIN_FRACTION", "MIN_INTERVAL", "Progress", "Reporter", "check_progress", "reporter"]

#: The package's logger: DEBUG for every long computation, INFO for ``progress=True`` without tqdm.
LOGGER = logging.getLogger("mdpgrad")
#: Seconds between two updates passed on: a bar or a log refreshed 10 times a second is smooth
#: enough to read, and the check is one clock read per step.
MIN_INTERVAL = 0.1
#: ... unless this fraction of the total has been done since: at most 100 such updates, and work of a
#: few stages (an exact proof, the moments) reports every stage.
MIN_FRACTION = 0.01

#: What a ``progress=`` argument accepts (module docstring).
Progress = None | bool | Callable[[int, int, str], Any]


def check_progress(progress: object, name: str = "progress") -> Progress:
    """``progress`` if it is None, a bool or a callable; else a ValidationError naming ``name``."""
    if progress is None or isinstance(progress, bool) or callable(progress):
        return progress
    raise ValidationError(f"{name} is {progress!r}; expected None, True, False or a callable "
                          "(done, total, message)", argument=name, value=repr(progress))


def _tqdm() -> Any:
    try:
        return importlib.import_module("tqdm").tqdm
    except ImportError:
        return None


class Reporter:
    """Counts the steps of one computation and passes them on (module docstring).

    Use as a context manager: leaving the block normally reports completion (``done = total``);
    leaving it by an exception closes a bar without completing it.
    """

    def __init__(self, progress: Progress, total: int, what: str) -> None:
        self.total = max(int(total), 0)
        self.what = what
        self.done = 0
        self._callback: Callable[[int, int, str], Any] | None = None
        self._bar: Any = None
        self._level = logging.DEBUG
        self._finished = False
        if callable(progress):
            self._callback = progress
        elif progress is True:
            bar = _tqdm()
            if bar is not None:
                self._bar = bar(total=self.total, desc=what, leave=False)
            else:
                self._level = logging.INFO
        self._start = self._last = time.perf_counter()
        LOGGER.log(self._level, "%s: started (total %d)", what, self.total)
        self._emit("started")

    def _emit(self, message: str) -> None:
        if self._callback is not None:
            self._callback(self.done, self.total, f"{self.what}: {message}")
        if self._bar is not None:
            self._bar.n = self.done
            self._bar.set_postfix_str(message, refresh=True)

    def update(self, done: int, message: str = "") -> None:
        """``done`` steps of ``total`` are finished (clipped to [previous, total])."""
        done = min(max(int(done), self.done), self.total)
        now = time.perf_counter()
        if done == self.done or (done < self.total and now - self._last < MIN_INTERVAL
                                 and (done - self.done) < MIN_FRACTION * self.total):
            return      # too soon and too little since the last update: the next one carries the count
        self.done, self._last = done, now
        LOGGER.log(self._level, "%s: %d/%d %s", self.what, done, self.total, message)
        self._emit(message or f"{done}/{self.total}")

    def finish(self, message: str = "done") -> None:
        """The work is complete: one last update with ``done = total`` (once; later calls do nothing)."""
        if self._finished:
            return
        self._finished = True
        self.done = self.total
        elapsed = time.perf_counter() - self._start
        LOGGER.log(self._level, "%s: %s in %.3g s", self.what, message, elapsed)
        self._emit(message)
        self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.finish()
        else:
            LOGGER.log(self._level, "%s: stopped by %s", self.what, kind.__name__)
            self.close()


def reporter(progress: Progress, total: int, what: str) -> Reporter:
    """A :class:`Reporter` for ``total`` steps of the work called ``what``.

    Parameters
    ----------
    progress : None, bool or callable
        As in the module docstring (checked: a ValidationError for anything else).
    total : int
        The number of steps (an upper bound for work that may stop early).
    what : str
        A short name of the work, the prefix of every message.

    Returns
    -------
    Reporter

    Examples
    --------
    >>> seen = []
    >>> with reporter(lambda done, total, msg: seen.append((done, total)), 3, "demo") as rep:
    ...     for k in range(1, 4):
    ...         rep.update(k)
    >>> seen[0], seen[-1]
    ((0, 3), (3, 3))
    """
    return Reporter(check_progress(progress), total, what)
