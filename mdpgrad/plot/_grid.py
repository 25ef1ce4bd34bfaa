"""Gridworld pictures: a per-state quantity as a heatmap, the policy as arrows.

:func:`grid_values` lays a per-state array (values v, visits η, the occupancy
d, a return variance, ...) on the MDP's ``grid_shape`` (state s in cell
(s // n_cols, s % n_cols)) with ``imshow`` and a labelled colour bar, writes
the numbers in the cells, greys out and labels the terminal cells, and draws a
policy table π(a|s) with ``quiver``: one arrow per action with π(a|s) > 0 from
every non-terminal cell, of length 0.4·π(a|s) cells.  :func:`action_directions`
reads the direction of each action off the transition model, so the built-in
grids need no direction table.

The drawing is bounded whatever the grid's size: numbers are written up to
400 cells, arrows are drawn in at most about 2500 cells (on larger grids, in
every k-th row and column, with a note under the axes saying so), terminal
cells get a hatched patch each up to 400 of them and one grey overlay beyond,
the numbers are 9 pt (the style's smallest text), and values larger than
1e300 in size are shown divided by a power of ten (the colour bar's label
says "÷ 1e…").

The tests check that the image holds the reshaped array, that the arrows'
tails, U and V are the cells and 0.4·π(a|s)·direction, that the built-in grids'
actions come out as up, right, down, left, and that bad input is refused with
a ValidationError naming the argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from matplotlib.colors import ListedColormap
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle
from matplotlib.quiver import Quiver
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from .._errors import ValidationError
from .._model import MDP, validate_mdp
from .._policies import validate_policy
from .._validation import as_real_array, check_bool, check_instance, check_memory
from ._axes import TEXT_SIZE, axes_or_new, power_of_ten, scaled_label
from ._style import styled

__all__ = ["GridPicture", "action_directions", "grid_values"]

#: Length, in cells, of the arrow of an action taken with probability 1.
ARROW_LENGTH = 0.4
#: Numbers are written in the cells only up to this many cells (beyond it they would be unreadable).
MAX_ANNOTATED_CELLS = 400
#: Every row and column gets a tick up to this size; larger grids get matplotlib's integer ticks.
MAX_TICKS = 30
#: Arrows are drawn in at most about this many cells (50 × 50): beyond it they would be thinner than a
#: pixel at any figure size, and each one costs a polygon (a 1000 × 1000 grid with one arrow per
#: state-action took 11 minutes and 6.7 GB).  Larger grids get arrows in every k-th row and column.
MAX_ARROW_CELLS = 2500
#: Size in points of the numbers written in the cells: the smallest text of the style (9 pt), so that a
#: 4-character number ("-1.2", "24.4") fits a cell of a 5 × 5 grid drawn 2 inches wide.
CELL_TEXT_SIZE = 9.0
#: Terminal cells get a hatched patch and a "T" each up to this many; more are greyed by one overlay image.
MAX_TERMINAL_MARKS = 400


@dataclass(frozen=True)
class GridPicture:
    """What :func:`grid_values` drew: ``values`` is the (n_rows, n_cols) array shown by ``image``.

    ``arrows`` is the quiver of the policy (None without one); its tails are the
    cells (x = column, y = row) and its (U, V) = 0.4·π(a|s)·(d_col, d_row), one
    arrow for each non-terminal state s and action a with π(a|s) > 0 and a
    non-zero direction.  ``policy`` and ``directions`` are the (S, A) table and
    the (A, 2) unit (d_row, d_col) used.  ``terminal_marks`` holds a grey
    hatched patch and a "T" per terminal cell (one grey overlay image when
    there are more than 400); ``texts`` the numbers written in the
    non-terminal cells (row-major order).

    On a grid of more than 2500 cells the arrows are drawn only in the cells
    whose row and column are multiples of ``arrow_stride`` (> 1); ``note`` is
    the text under the axes that says what was left out (those arrows, the
    numbers of a grid of more than 400 cells), None when nothing was.  ``image`` shows ``values`` /
    10**``scale_exponent`` (0 unless a value exceeds 1e300 in size).
    """

    ax: Axes
    image: AxesImage
    colorbar: Colorbar
    values: np.ndarray
    arrows: Quiver | None
    terminal_marks: list[Any]
    texts: list[Any]
    policy: np.ndarray | None = None
    directions: np.ndarray | None = None
    arrow_stride: int = 1
    scale_exponent: int = 0
    note: Any = None


def _grid_shape(mdp: MDP) -> tuple[int, int]:
    if mdp.grid_shape is None:
        raise ValidationError(
            f"mdp has no grid_shape ({mdp.n_states} states); pass grid_shape=(rows, cols) to MDP "
            "(or mdp.replace(grid_shape=(rows, cols))) to draw it on a grid", argument="mdp")
    return mdp.grid_shape


def action_directions(mdp: MDP) -> np.ndarray:
    """(A, 2) unit (d_row, d_col) of each action, from its mean displacement over the grid.

    For each non-terminal state s and action a the expected displacement
    E[cell(s') − cell(s) | s, a] is computed from P (dense or sparse); the
    action's direction is the component-wise **median** of these over the
    non-terminal states, normalised to unit length (a zero displacement stays
    zero).  The median rather than the mean, so that a few special cells do
    not tilt the arrows: in Example 3.5 of Sutton & Barto every action in A
    jumps four rows down, which would turn the mean of "right" by 18°; walls
    (no move) and the cliff's return to the start are outvoted the same way.

    Parameters
    ----------
    mdp : MDP
        A gridworld (with ``grid_shape``).

    Raises
    ------
    ValidationError
        If ``mdp`` is not an MDP or has no ``grid_shape`` (argument ``"mdp"``).

    Examples
    --------
    >>> from mdpgrad.plot import action_directions
    >>> import mdpgrad as mg
    >>> action_directions(mg.get_example("gridworld")).tolist()     # up, right, down, left
    [[-1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, -1.0]]
    """
    mdp = validate_mdp(mdp)
    _, n_cols = _grid_shape(mdp)
    S, A = mdp.n_states, mdp.n_actions
    cells = np.stack(np.divmod(np.arange(S), n_cols), axis=1).astype(float)      # (S, 2) (row, col)
    expected = np.asarray(mdp.P_flat @ cells).reshape(S, A, 2)                    # E[cell(s') | s, a]
    displacement = expected - cells[:, None, :]
    moving = ~mdp.terminal
    median = np.median(displacement[moving], axis=0)                              # (A, 2)
    norm = np.linalg.norm(median, axis=1, keepdims=True)
    out: np.ndarray = np.divide(median, norm, out=np.zeros_like(median), where=norm > 1e-12)
    return out + 0.0                                                              # no -0.0


def _readable_text_colour(rgba: Any) -> str:
    """Black on light cells, white on dark ones (relative luminance of the cell colour)."""
    r, g, b = (float(c) for c in rgba[:3])
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


@styled
def grid_values(mdp: MDP, values: ArrayLike, *, policy: ArrayLike | None = None, ax: Axes | None = None,
                label: str = "v(s)", cmap: str = "viridis", annotate: bool = True, fmt: str = "{:.1f}",
                directions: ArrayLike | None = None, title: str | None = None) -> GridPicture:
    """Heatmap of a per-state quantity on ``mdp.grid_shape``, the policy π(a|s) as arrows.

    Parameters
    ----------
    mdp : MDP
        With ``grid_shape`` (the built-in grids carry it).
    values : array_like, shape (S,)
        Any finite per-state quantity: v, η, d, a return variance.  Values
        larger than 1e300 in size are shown divided by a power of ten (the
        colour bar's label and the written numbers say so).
    policy : array_like, shape (S, A), optional
        A policy table, drawn as one arrow per action of length 0.4·π(a|s)
        cells from each non-terminal cell; on grids of more than 2500 cells
        only from the cells of every k-th row and column, k the smallest
        stride that leaves at most 2500 of them (a note under the axes says
        which).
    ax : matplotlib Axes, optional
    label : str
        The colour bar's label.
    cmap : str
        A matplotlib colormap name.
    annotate : bool
        Write ``fmt.format(value)`` in each non-terminal cell, black or white
        by the cell's colour (grids of at most 400 cells; larger ones are
        left unannotated, the numbers would not be readable).
    fmt : str
        A ``str.format`` pattern for one number.
    directions : array_like, shape (A, 2), optional
        (d_row, d_col) of each action; :func:`action_directions` by default.
    title : str, optional

    Returns
    -------
    GridPicture

    Raises
    ------
    ValidationError
        Naming the argument: an MDP without ``grid_shape`` ("mdp"), a wrong
        shape or a non-finite entry, a policy that is not a distribution, an
        unknown colormap, a ``fmt`` that does not format a number.
    """
    mdp = validate_mdp(mdp)
    n_rows, n_cols = _grid_shape(mdp)
    S, A = mdp.n_states, mdp.n_actions
    v = as_real_array(values, "values", shape=(S,))
    annotate = check_bool(annotate, "annotate")
    check_instance(label, str, "label", "a string")
    check_instance(cmap, str, "cmap", "a matplotlib colormap name")
    if cmap not in matplotlib.colormaps:
        raise ValidationError(f"cmap is {cmap!r}; expected a matplotlib colormap name, e.g. 'viridis'",
                              argument="cmap", value=cmap)
    check_instance(fmt, str, "fmt", "a format string such as '{:.1f}'")
    try:
        fmt.format(1.0)
    except (ValueError, IndexError, KeyError, TypeError, AttributeError) as exc:
        raise ValidationError(f"fmt is {fmt!r}, which does not format a number ({exc}); expected e.g. "
                              "'{:.1f}'", argument="fmt", value=fmt) from None
    if title is not None:
        check_instance(title, str, "title", "a string or None")
    pi = None
    dirs = None
    if policy is not None:
        pi = validate_policy(policy, S, A, name="policy")
        if pi.ndim != 2:
            raise ValidationError(f"policy has shape {pi.shape}; expected one table ({S}, {A})",
                                  argument="policy", value=pi.shape)
        dirs = (action_directions(mdp) if directions is None
                else as_real_array(directions, "directions", shape=(A, 2)))
    elif directions is not None:
        dirs = as_real_array(directions, "directions", shape=(A, 2))
    if pi is not None:
        # the masks and index arrays of the arrows: a few (S, A) arrays of bools and integers
        check_memory(24.0 * S * A, f"the arrows of a ({S}, {A}) policy table", "policy")
    ax = axes_or_new(ax)

    grid = v.reshape(n_rows, n_cols)
    exponent = power_of_ten(grid)
    shown = grid / 10.0 ** exponent if exponent else grid
    image = ax.imshow(shown, cmap=cmap, origin="upper", interpolation="nearest")
    colorbar = ax.figure.colorbar(image, ax=ax, label=scaled_label(label, exponent))
    for axis, n in ((ax.xaxis, n_cols), (ax.yaxis, n_rows)):
        if n <= MAX_TICKS:
            axis.set_ticks(np.arange(n))
        else:
            axis.set_major_locator(MaxNLocator(nbins="auto", integer=True))
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    if title is not None:
        ax.set_title(title)

    rows, cols = np.divmod(np.arange(S), n_cols)
    terminal_marks: list[Any] = []
    terminal_states = np.flatnonzero(mdp.terminal)
    if terminal_states.size > MAX_TERMINAL_MARKS:
        overlay = np.ma.masked_array(np.ones(grid.shape), mask=~mdp.terminal.reshape(grid.shape))
        terminal_marks.append(ax.imshow(overlay, cmap=ListedColormap(["0.75"]), origin="upper",
                                        interpolation="nearest", zorder=2))
        terminal_states = terminal_states[:0]
    for s in terminal_states:
        patch = Rectangle((cols[s] - 0.5, rows[s] - 0.5), 1.0, 1.0, facecolor="0.75", edgecolor="0.35",
                          hatch="//", zorder=2)
        ax.add_patch(patch)
        terminal_marks.append(patch)
        terminal_marks.append(ax.text(cols[s], rows[s], "T", ha="center", va="center", fontweight="bold",
                                      color="black", zorder=3))

    arrows = None
    stride = 1
    left_out: list[str] = []
    if pi is not None and dirs is not None:
        stride = max(1, int(np.ceil(np.sqrt(S / MAX_ARROW_CELLS))))
        while -(-n_rows // stride) * -(-n_cols // stride) > MAX_ARROW_CELLS:
            stride += 1
        drawn_cell = ~mdp.terminal
        if stride > 1:
            drawn_cell = drawn_cell & (rows % stride == 0) & (cols % stride == 0)
            left_out.append(f"arrows in one cell of each {stride} × {stride} block only\n"
                            f"({int(drawn_cell.sum())} of {int((~mdp.terminal).sum())} non-terminal cells)")
        s_idx, a_idx = np.nonzero((pi > 0) & drawn_cell[:, None] & (np.abs(dirs).sum(axis=1) > 0)[None, :])
        length = ARROW_LENGTH * pi[s_idx, a_idx]
        U = length * dirs[a_idx, 1]
        V = length * dirs[a_idx, 0]
        arrows = ax.quiver(cols[s_idx].astype(float), rows[s_idx].astype(float), U, V, angles="xy",
                           scale_units="xy", scale=1.0, pivot="tail", color="white", edgecolor="black",
                           linewidth=0.5, units="xy", width=0.035, headwidth=2.6, headlength=2.4,
                           headaxislength=2.2, minshaft=1.0, minlength=0.5, zorder=4)

    texts: list[Any] = []
    if annotate and S > MAX_ANNOTATED_CELLS:
        left_out.append(f"no numbers in the cells (more than {MAX_ANNOTATED_CELLS})")
    note = None
    if left_out:                  # under the x-axis label, inside the figure's layout
        note = ax.annotate("\n".join(left_out), xy=(0.0, 0.0), xycoords="axes fraction", xytext=(0, -36),
                           textcoords="offset points", ha="left", va="top", fontsize=TEXT_SIZE)
    if annotate and S <= MAX_ANNOTATED_CELLS:
        colours = np.asarray(image.cmap(image.norm(shown)))
        # with arrows in the cell, the number moves to the cell's top-left corner
        dx, dy, ha, va = ((-0.46, -0.46, "left", "top") if arrows is not None
                          else (0.0, 0.0, "center", "center"))
        for s in np.flatnonzero(~mdp.terminal):
            i, j = rows[s], cols[s]
            texts.append(ax.text(j + dx, i + dy, fmt.format(shown[i, j]), ha=ha, va=va,
                                 fontsize=CELL_TEXT_SIZE, color=_readable_text_colour(colours[i, j]),
                                 zorder=5))
    ax.set_xlim(-0.5, n_cols - 0.5)
    ax.set_ylim(n_rows - 0.5, -0.5)
    return GridPicture(ax=ax, image=image, colorbar=colorbar, values=grid, arrows=arrows,
                       terminal_marks=terminal_marks, texts=texts, policy=pi, directions=dirs,
                       arrow_stride=stride, scale_exponent=exponent, note=note)
