"""Where a picture is drawn: the caller's axes, or a new figure of its own.

Every function in :mod:`mdpgrad.plot` takes ``ax=``.  Without it, a new
:class:`matplotlib.figure.Figure` is made directly (not through
``matplotlib.pyplot``), so drawing never touches pyplot's current figure; in a
notebook, end the cell with ``picture.ax.figure`` to show it.
"""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._errors import ValidationError

__all__ = ["axes_or_new"]


def axes_or_new(ax: Any, *, figsize: tuple[float, float] = (5.0, 4.0)) -> Axes:
    """``ax`` when it is a matplotlib Axes; a new constrained-layout figure's axes when it is None."""
    if ax is None:
        return Figure(figsize=figsize, layout="constrained").add_subplot()
    if not isinstance(ax, Axes):
        raise ValidationError(f"ax is a {type(ax).__name__}; expected a matplotlib Axes or None",
                              argument="ax", value=type(ax).__name__)
    return ax
