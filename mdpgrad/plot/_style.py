"""One style for every picture: slide-ready resolution and text sizes, applied without touching rcParams.

:data:`STYLE` is a set of matplotlib rcParams: figures at 150 dots per inch,
text of at least 9 pt (tick labels 9.5 pt, legends and notes 10 pt, labels
10.5 pt, titles 11.5 pt), mathtext in the DejaVu Sans of the rest of the
text.  The layout engine is left to the caller (the figures mdpgrad.plot makes
itself use constrained layout).  :func:`style` is
:func:`matplotlib.rc_context` over it: inside the ``with`` block new figures
and text take the style, and the caller's rcParams are restored on leaving
it, whatever happened inside.

Every function of :mod:`mdpgrad.plot` runs inside :func:`style` (the
decorator :func:`styled`) and, because matplotlib creates tick labels lazily
(when the figure is drawn, possibly after the ``with`` block has ended), also
sets the tick-label size on the axes it drew on with ``Axes.tick_params``:
the one lasting change, on those axes only.  A lesson or a user who wants the
style for their own figures says so, with ``with mplot.style():`` around the
figure, or ``matplotlib.rcParams.update(mplot.STYLE)`` once in a notebook.

:func:`mdpgrad.plot.figure_problems` checks a finished figure against the
same numbers (``MIN_DPI``, ``MIN_TEXT_SIZE``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, ParamSpec, TypeVar

import matplotlib
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar

from ._axes import DPI, TEXT_SIZE

__all__ = ["MIN_DPI", "MIN_TEXT_SIZE", "STYLE", "TICK_SIZE", "style", "styled"]

#: Lowest resolution of a figure meant for a slide or print: a 5-inch-wide figure at 150 dpi is 750
#: pixels wide, enough for a projector at full width, and 9 pt text is then 19 pixels high.
MIN_DPI = 150
#: Smallest text in a figure, in points: 9 pt is the usual floor for figure text in print (journals ask
#: for 8-9 pt at the printed size) and stays readable when a figure fills half a 16:9 slide.
MIN_TEXT_SIZE = 9.0
#: Size of tick labels (the smallest text the style writes; legends and notes are TEXT_SIZE, 10 pt).
TICK_SIZE = 9.5

#: The rcParams of every mdpgrad.plot picture (read-only; ``dict(STYLE)`` for a copy).
STYLE: Mapping[str, Any] = MappingProxyType({
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.size": 10.0,
    "axes.titlesize": 11.5,
    "axes.labelsize": 10.5,
    "xtick.labelsize": TICK_SIZE,
    "ytick.labelsize": TICK_SIZE,
    "legend.fontsize": TEXT_SIZE,
    "legend.title_fontsize": TEXT_SIZE,
    "figure.titlesize": 12.0,
    "mathtext.fontset": "dejavusans",
    "axes.titlepad": 6.0,
    "axes.labelpad": 4.0,
    "lines.linewidth": 1.6,
})

P = ParamSpec("P")
R = TypeVar("R")


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Inside the block, matplotlib uses :data:`STYLE`; the caller's rcParams come back on leaving it.

    Yields
    ------
    None
        The style is in force until the ``with`` block ends.

    Examples
    --------
    >>> import matplotlib
    >>> import mdpgrad.plot as mplot
    >>> before = matplotlib.rcParams["figure.dpi"]
    >>> with mplot.style():
    ...     matplotlib.rcParams["figure.dpi"]
    150.0
    >>> matplotlib.rcParams["figure.dpi"] == before
    True
    """
    with matplotlib.rc_context(dict(STYLE)):  # type: ignore[arg-type]  # keys are rcParams names
        yield


def _drawn_axes(result: Any, depth: int = 0) -> list[Axes]:
    """The axes a picture record names: its ``ax``, its colour bars' axes, those of nested records."""
    if isinstance(result, Axes):
        return [result]
    if isinstance(result, Colorbar):
        return [result.ax]
    if depth < 2 and dataclasses.is_dataclass(result) and not isinstance(result, type):
        found: list[Axes] = []
        for f in dataclasses.fields(result):
            found += _drawn_axes(getattr(result, f.name), depth + 1)
        return found
    axes = getattr(result, "axes", None)                # an artist (trajectory returns a Line2D)
    return [axes] if depth == 0 and isinstance(axes, Axes) else []


def styled(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` run inside :func:`style`, the tick labels of the axes it drew on set to TICK_SIZE."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with style():
            result = function(*args, **kwargs)
        for ax in dict.fromkeys(_drawn_axes(result)):
            ax.tick_params(labelsize=TICK_SIZE)
        return result

    return wrapper
