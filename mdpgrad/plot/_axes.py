"""Where a picture is drawn: the caller's axes, or a new figure of its own.

Every function in :mod:`mdpgrad.plot` takes ``ax=``.  Without it, a new
:class:`matplotlib.figure.Figure` is made directly (not through
``matplotlib.pyplot``), so drawing never touches pyplot's current figure; in a
notebook, end the cell with ``picture.ax.figure`` to show it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.transforms import ScaledTranslation

from .._errors import ValidationError
from .._validation import format_number

__all__ = ["BELOW_AXES", "DPI", "DRAWABLE_LIMIT", "TEXT_SIZE", "axes_or_new", "check_drawable",
           "legend_below", "power_of_ten", "scaled_label"]


#: Resolution of the figures mdpgrad.plot makes itself (``ax=None``): at 150 dots per inch a 5 × 4 inch
#: figure is 750 × 600 pixels, and 10 pt text is 21 pixels high, readable on a projector or in print.
DPI = 150
#: Size in points of the text mdpgrad.plot writes itself (legends, notes, labels on points); the numbers
#: written inside grid cells are the exception, they must fit in a cell.
TEXT_SIZE = 10


def axes_or_new(ax: Any, *, figsize: tuple[float, float] = (5.0, 4.0)) -> Axes:
    """``ax`` if it is a matplotlib Axes; if None, the axes of a new constrained-layout figure at DPI."""
    if ax is None:
        return Figure(figsize=figsize, layout="constrained", dpi=DPI).add_subplot()
    if not isinstance(ax, Axes):
        raise ValidationError(f"ax is a {type(ax).__name__}; expected a matplotlib Axes or None",
                              argument="ax", value=type(ax).__name__)
    return ax


#: Gap in points between the bottom of the axes and a legend drawn under them: the tick labels (9.5 pt
#: text, 1.2 line height), the axis label (10.5 pt) and matplotlib's pads (tick 3.5 + 3.5, label 4 pt)
#: take about 34 pt.
BELOW_AXES = 38.0


def legend_below(ax: Axes, **kwargs: Any) -> Legend:
    """A legend centred under the axes, below the x-axis label: it covers no line or point of the data.

    Placed :data:`BELOW_AXES` points under the axes (a fixed distance, whatever
    the axes' size); a constrained-layout figure makes room for it.
    """
    offset = ScaledTranslation(0.0, -BELOW_AXES / 72.0, ax.figure.dpi_scale_trans)
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=ax.transAxes + offset,
                     borderaxespad=0.0, fontsize=TEXT_SIZE, **kwargs)


#: Largest magnitude a picture draws as it is.  matplotlib computes axis ranges, tick steps and colour
#: levels as differences and multiples of the data (x1 − x0, n·step), which overflow to inf beyond
#: ~1.8e308 and then fail inside matplotlib; 1e300 leaves eight orders of magnitude for that arithmetic.
#: Heatmaps and contours rescale larger values by a power of ten (said in the colour bar's label); the
#: line, point and histogram pictures refuse them, naming the argument.
DRAWABLE_LIMIT = 1e300


def check_drawable(arr: np.ndarray, name: str, what: str = "") -> None:
    """Refuse a finite entry of ``arr`` (real or complex) larger than :data:`DRAWABLE_LIMIT` in size."""
    size = np.abs(np.asarray(arr))
    too_large = np.flatnonzero(np.isfinite(size) & (size > DRAWABLE_LIMIT))
    if too_large.size:
        index = tuple(int(i) for i in np.unravel_index(int(too_large[0]), size.shape))
        value = np.asarray(arr)[index]
        shown = format_number(float(value)) if np.isrealobj(value) else str(complex(value))
        raise ValidationError(
            f"{what or name}{list(index) if index else ''} is {shown}, larger in size than "
            f"{DRAWABLE_LIMIT:g}, "
            f"which this picture cannot draw (matplotlib's range arithmetic overflows); expected values of "
            f"at most {DRAWABLE_LIMIT:g} in size (rescale them, e.g. divide by a power of ten)",
            argument=name, index=index, value=float(np.abs(value)))


def power_of_ten(arr: np.ndarray, limit: float = DRAWABLE_LIMIT) -> int:
    """k such that ``arr / 10**k`` is drawable: 0 up to ``limit``, else the exponent of max|arr|."""
    finite = np.abs(arr[np.isfinite(arr)])
    largest = float(finite.max()) if finite.size else 0.0
    return 0 if largest <= limit else int(np.floor(np.log10(largest)))


def scaled_label(label: str, k: int) -> str:
    """``label`` for data divided by 10**k: unchanged for k = 0, else "label (÷ 1e{k})"."""
    return label if k == 0 else f"{label} (÷ 1e{k})"
