"""Matrices: a Jacobian (or its antisymmetric part) as a heatmap; eigenvalues in the complex plane.

:func:`matrix` shows M, or its antisymmetric part (M − Mᵀ)/2, with ``imshow`` in
the diverging "RdBu_r" colours centred on 0 (vmin = −vmax = max|shown|), a
labelled colour bar, and the witness pair (i, j) of a symmetry verdict boxed
at (i, j) and (j, i): the two entries whose difference says the field is not a
gradient.  :func:`eigenvalues` scatters the eigenvalues of a square M in the
complex plane with the continuous-time stability boundary Re λ = 0 (ẇ = Mw is
stable iff every Re λ < 0) and, for a step size α, the boundary of the
iteration w ← w + αMw (stable iff every |1 + αλ| < 1: λ inside the circle of
centre −1/α and radius 1/α).

The tests check that the image holds M or (M − Mᵀ)/2 with the symmetric colour
limits, that the boxes sit on the witness cells, that the points are the
eigenvalues numpy computes and the circle has centre −1/α and radius 1/α, and
that bad input is refused with a ValidationError naming the argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from matplotlib.colors import Normalize
from matplotlib.image import AxesImage
from matplotlib.patches import Circle, Rectangle
from numpy.typing import ArrayLike

from .._errors import ValidationError
from .._validation import as_real_array, check_bool, check_finite, check_instance, check_real, is_integer
from ._axes import axes_or_new, check_drawable, legend_below, power_of_ten, scaled_label
from ._style import styled

__all__ = ["EigenvaluePicture", "MatrixPicture", "eigenvalues", "matrix"]

#: Tick labels are written for every row and column up to this size; larger matrices get matplotlib's.
MAX_TICKS = 30

#: A stability circle at most this many times the view's span is drawn as a Circle patch; a larger one
#: (a tiny step size) as the arc in view only: matplotlib's renderer slows down with the patch's size
#: (a radius of 1e9 spans takes seconds, 1e300 does not finish), and at 1e6 spans the arc is already
#: within 1e-6 spans of the line Re λ = 0.
MAX_CIRCLE_TO_VIEW = 1e6


@dataclass(frozen=True)
class MatrixPicture:
    """What :func:`matrix` drew: ``shown`` is M, or (M − Mᵀ)/2; ``image`` holds shown / 10**scale_exponent.

    ``witness`` is the (i, j) that was boxed (None when there is none);
    ``witness_marks`` the rectangles on (i, j) and (j, i) (one when i = j).
    ``scale_exponent`` is 0 unless an entry exceeds 1e300 in size; then the
    image and colour bar show the entries divided by 10**scale_exponent, and
    the colour bar's label says so ("÷ 1e308").
    """

    ax: Axes
    image: AxesImage
    colorbar: Colorbar
    shown: np.ndarray
    witness: tuple[int, int] | None
    witness_marks: list[Any]
    scale_exponent: int = 0


@dataclass(frozen=True)
class EigenvaluePicture:
    """What :func:`eigenvalues` drew: the eigenvalues and the boundary artists.

    ``boundaries`` holds the line Re λ = 0 and, when a step size was given, the
    circle ``|1 + αλ| = 1``.
    """

    ax: Axes
    values: np.ndarray
    points: Any
    boundaries: list[Any]


def _square(M: np.ndarray, name: str, why: str) -> None:
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValidationError(f"{name} has shape {M.shape}; expected a square matrix ({why})",
                              argument=name, value=M.shape)


def _witness_pair(witness: Any, n: int) -> tuple[int, int] | None:
    """(i, j) from a pair of ints, a SymmetryVerdict (``.witness``) or a TDSymmetry (``.symmetry...``)."""
    if witness is None:
        return None
    if not isinstance(witness, (tuple, list, np.ndarray)):
        if hasattr(witness, "witness"):
            witness = witness.witness
        elif hasattr(witness, "symmetry") and hasattr(witness.symmetry, "witness"):
            witness = witness.symmetry.witness
        else:
            raise ValidationError(
                f"witness is a {type(witness).__name__}; expected (i, j), a symmetry verdict or None",
                argument="witness", value=type(witness).__name__)
        if witness is None:
            return None
    if len(witness) != 2 or not all(is_integer(k) for k in witness):
        raise ValidationError(f"witness is {witness!r}; expected a pair of integers (i, j)",
                              argument="witness", value=witness)
    i, j = int(witness[0]), int(witness[1])
    for k, x in enumerate((i, j)):
        if not 0 <= x < n:
            raise ValidationError(f"witness[{k}] is {x}; expected an index in [0, {n - 1}]",
                                  argument="witness", index=(k,), value=x)
    return i, j


@styled
def matrix(M: ArrayLike, *, antisymmetric: bool = False, witness: Any = None,
           ax: Axes | None = None, labels: Sequence[str] | None = None, title: str | None = None,
           colorbar_label: str | None = None) -> MatrixPicture:
    """Heatmap of M (or (M − Mᵀ)/2), diverging colours centred on 0, witness pair (i, j)/(j, i) boxed.

    Parameters
    ----------
    M : array_like, shape (m, n)
        Real and finite; square when ``antisymmetric`` or ``witness`` is given.
    antisymmetric : bool
        Show (M − Mᵀ)/2, the part that a gradient's Jacobian lacks.
    witness : (i, j), a symmetry verdict, or None
        The pair to box at (i, j) and (j, i).  ``mg.fields.symmetry_verdict(M)``
        and ``verdict.witness`` are accepted as they are, and so is the result
        of ``mg.td_symmetry`` (its ``.symmetry.witness``).
    ax : matplotlib Axes, optional
    labels : sequence of str, optional
        Tick labels of the rows and columns (square M).
    title : str, optional
    colorbar_label : str, optional
        Default "M[i, j]" or "(M − Mᵀ)/2 [i, j]".

    Returns
    -------
    MatrixPicture

    Notes
    -----
    The colour limits are −max|shown| and +max|shown|, so white is exactly 0;
    an all-zero matrix is drawn on [−1, 1].
    """
    arr = as_real_array(M, "M")
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValidationError(f"M has shape {arr.shape}; expected a non-empty 2-D matrix",
                              argument="M", value=arr.shape)
    antisymmetric = check_bool(antisymmetric, "antisymmetric")
    if antisymmetric:
        _square(arr, "M", "its antisymmetric part needs M and its transpose to have one shape")
    pair = None
    if witness is not None:
        _square(arr, "M", "a witness pair (i, j) marks (i, j) and (j, i)")
        pair = _witness_pair(witness, arr.shape[0])
    if labels is not None:
        if not isinstance(labels, (list, tuple, np.ndarray)) or not all(isinstance(x, str) for x in labels):
            raise ValidationError(f"labels is {labels!r}; expected a sequence of strings",
                                  argument="labels", value=labels)
        _square(arr, "M", "one sequence of labels names both rows and columns")
        if len(labels) != arr.shape[0]:
            raise ValidationError(f"labels has {len(labels)} entries; expected {arr.shape[0]}",
                                  argument="labels", value=len(labels))
    for name, text in (("title", title), ("colorbar_label", colorbar_label)):
        if text is not None:
            check_instance(text, str, name, "a string or None")
    ax = axes_or_new(ax)

    shown = arr / 2.0 - arr.T / 2.0 if antisymmetric else arr     # halves first: no overflow near 1e308
    exponent = power_of_ten(shown)
    drawn = shown / 10.0 ** exponent if exponent else shown
    vmax = float(np.abs(drawn).max())
    if vmax == 0.0:
        vmax = 1.0
    image = ax.imshow(drawn, cmap="RdBu_r", norm=Normalize(vmin=-vmax, vmax=vmax), interpolation="nearest")
    if colorbar_label is None:
        colorbar_label = "(M − Mᵀ)/2 [i, j]" if antisymmetric else "M[i, j]"
    colorbar = ax.figure.colorbar(image, ax=ax, label=scaled_label(colorbar_label, exponent))
    n_rows, n_cols = shown.shape
    if labels is not None:
        ax.set_xticks(np.arange(n_cols), labels=list(labels), rotation=90)
        ax.set_yticks(np.arange(n_rows), labels=list(labels))
    else:
        if n_cols <= MAX_TICKS:
            ax.set_xticks(np.arange(n_cols))
        if n_rows <= MAX_TICKS:
            ax.set_yticks(np.arange(n_rows))
    ax.set_xlabel("column j")
    ax.set_ylabel("row i")
    if title is not None:
        ax.set_title(title)

    marks: list[Any] = []
    if pair is not None:
        i, j = pair
        for (row, col) in ((i, j), (j, i)) if i != j else ((i, j),):
            box = Rectangle((col - 0.5, row - 0.5), 1.0, 1.0, fill=False, edgecolor="black", linewidth=2.0,
                            zorder=3)
            ax.add_patch(box)
            marks.append(box)
    return MatrixPicture(ax=ax, image=image, colorbar=colorbar, shown=shown, witness=pair,
                         witness_marks=marks, scale_exponent=exponent)


@styled
def eigenvalues(M: ArrayLike, *, step_size: float | None = None, ax: Axes | None = None,
                label: str | None = None, title: str | None = None) -> EigenvaluePicture:
    """Eigenvalues of a square M in the complex plane, with the stability boundary.

    Parameters
    ----------
    M : array_like, shape (k, k)
        Real or complex, finite (e.g. ``mg.td.linear_td_jacobian(...)``).
    step_size : float, optional
        α > 0: also draw the circle ``|1 + αλ| = 1`` (centre −1/α, radius 1/α),
        inside which the iteration w ← w + αMw contracts along that eigenvector.
    ax : matplotlib Axes, optional
    label : str, optional
        Legend entry of the points (default "eigenvalues").
    title : str, optional

    Returns
    -------
    EigenvaluePicture
        ``values`` as ``np.linalg.eigvals`` returns them (complex).

    Notes
    -----
    The expected update ẇ = Mw is stable iff every Re λ < 0 (left of the dashed
    line).  The axes have equal scales (``set_aspect("equal")``), so the circle
    is drawn as a circle.  The view is fitted to the eigenvalues and 0, so a large circle
    (small α) shows as the arc near the origin that matters.
    """
    try:
        is_complex = not isinstance(M, (str, bytes)) and M is not None and np.asarray(M).dtype.kind == "c"
    except (ValueError, TypeError):
        is_complex = False
    if is_complex:
        arr: np.ndarray = np.asarray(M, dtype=complex)
        check_finite(arr, "M")
    else:
        arr = as_real_array(M, "M")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValidationError(f"M has shape {arr.shape}; expected a non-empty square matrix",
                              argument="M", value=arr.shape)
    alpha = None if step_size is None else check_real(step_size, "step_size", min_value=0.0, min_open=True)
    for name, text in (("label", label), ("title", title)):
        if text is not None:
            check_instance(text, str, name, "a string or None")
    ax = axes_or_new(ax)

    values = np.linalg.eigvals(arr)
    check_drawable(values, "M", "an eigenvalue of M: λ")
    re, im = values.real, values.imag
    x0, x1 = min(float(re.min()), 0.0), max(float(re.max()), 0.0)
    y0, y1 = min(float(im.min()), 0.0), max(float(im.max()), 0.0)
    span = max(x1 - x0, y1 - y0, 1e-3 * max(1.0, float(np.abs(values).max())))
    pad = 0.2 * span
    # a square view, one unit of Re λ as long as one of Im λ, so that the circle |1 + αλ| = 1 is drawn
    # round: the shorter of the two ranges is widened about its middle to the longer one's span
    half = 0.5 * span + pad
    xm, ym = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    boundaries: list[Any] = [ax.axvline(0.0, color="black", linestyle="--", linewidth=1.0, zorder=3,
                                        label="Re λ = 0: ẇ = Mw stable iff all Re λ < 0")]
    if alpha is not None:
        style: dict[str, Any] = {"linewidth": 1.5, "linestyle": "-", "zorder": 2,
                                 "label": f"|1 + αλ| = 1 (α = {alpha:g}): stable inside"}
        if 1.0 / alpha <= MAX_CIRCLE_TO_VIEW * span:
            circle: Any = Circle((-1.0 / alpha, 0.0), 1.0 / alpha, fill=False, edgecolor="tab:orange",
                                 **style)
            ax.add_patch(circle)
        else:
            # only the arc in view, x = −α y² / (1 + √(1 − (αy)²)) (the circle's right branch, without the
            # cancellation of −1/α + √(1/α² − y²)); |αy| < 1e-6 here
            ys = np.linspace(ym - half, ym + half, 201)
            (circle,) = ax.plot(-alpha * ys ** 2 / (1.0 + np.sqrt(1.0 - (alpha * ys) ** 2)), ys,
                                color="tab:orange", **style)
        boundaries.append(circle)
    points = ax.scatter(re, im, s=40, color="tab:blue", edgecolor="black", zorder=4,
                        label="eigenvalues" if label is None else label)
    ax.set_xlim(xm - half, xm + half)
    ax.set_ylim(ym - half, ym + half)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.axhline(0.0, color="0.7", linewidth=0.8, zorder=0)
    if title is not None:
        ax.set_title(title)
    legend_below(ax)                      # the boundary lines cross the whole view: no room inside
    return EigenvaluePicture(ax=ax, values=values, points=points, boundaries=boundaries)
