"""Landscapes over a two-parameter slice θ = θ₀ + x·u + y·v: contours, fields and loops.

A slice is a centre θ₀ and two directions u, v of θ's shape (any shape: a
tabular policy's θ is (S, A); the products u·F are then sums over every
entry).  :func:`slice_contour` draws a scalar function f(θ) over a rectangle of
(x, y) as filled contours, :func:`slice_field` a vector field F(θ) as its two
directional components (u·F, v·F) with matplotlib's streamplot or quiver,
:func:`slice_loop` a circle in the slice with the circulation ∮ F·dθ computed by
:func:`mdpgrad.fields.circulation` (value and error bound written beside it),
and :func:`landscape` J(θ) with the exact ∇J (or any field) on top.

Nothing here computes a new formula: J, ∇J and the circulation come from the
library; this module evaluates them on a grid and draws.  The tests
(``tests/test_plot_landscape.py``) check that the drawn arrays are the computed
ones (the contour grid equals f at each point, the quiver's U, V equal u·F and
v·F), that the annotated circulation is the library's, and that bad input is
refused with a :class:`mdpgrad.ValidationError` naming the argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

from .._errors import ValidationError
from .._model import MDP, validate_mdp
from .._policies import Policy
from .._validation import (
    as_real_array,
    check_callable,
    check_choice,
    check_integer,
    check_real,
    format_number,
)
from ..fields import circulation
from ..gradients._theorem import objective, policy_gradient
from ._axes import TEXT_SIZE, axes_or_new, power_of_ten, scaled_label
from ._style import styled

__all__ = ["ContourPicture", "FieldPicture", "LandscapePicture", "LoopPicture", "landscape",
           "slice_contour", "slice_field", "slice_loop"]

Extent = tuple[float, float, float, float]

#: Most grid points per axis (a 400 × 400 grid is already finer than any figure shows).
MAX_GRID = 400
#: Largest field component handed to matplotlib as it is: streamplot squares the speeds and quiver
#: divides lengths by a small data-space epsilon, both of which overflow long before 1e308; (1e100)² is
#: far from overflow.  Larger fields are divided by a power of ten (the picture is scale-free).
FIELD_LIMIT = 1e100


@dataclass(frozen=True)
class ContourPicture:
    """What :func:`slice_contour` drew: f on the grid X, Y (Z[i, j] = f(θ₀ + X[i, j]·u + Y[i, j]·v)).

    The contours are of Z / 10**scale_exponent: ``scale_exponent`` is 0 unless
    a value of f exceeds 1e300 in size, and the colour bar's label then says
    "÷ 1e…".
    """

    ax: Axes
    contour: Any
    colorbar: Colorbar
    X: np.ndarray
    Y: np.ndarray
    Z: np.ndarray
    scale_exponent: int = 0


@dataclass(frozen=True)
class FieldPicture:
    """What :func:`slice_field` drew: (U, V) = (u·F, v·F) on the grid X, Y.

    The artist holds (U, V) / 10**scale_exponent: ``scale_exponent`` is 0
    unless an entry exceeds 1e100 in size (arrows and streamlines are scaled
    to the axes, so the picture does not change).
    """

    ax: Axes
    artist: Any
    X: np.ndarray
    Y: np.ndarray
    U: np.ndarray
    V: np.ndarray
    scale_exponent: int = 0


@dataclass(frozen=True)
class LoopPicture:
    """What :func:`slice_loop` drew: the circle and its circulation ∮ F·dθ with the error bound."""

    ax: Axes
    line: Any
    text: Any
    circulation: float
    error: float


@dataclass(frozen=True)
class LandscapePicture:
    """What :func:`landscape` drew: J's contours and a field on the same slice."""

    ax: Axes
    contour: ContourPicture
    field: FieldPicture


# -- checks ------------------------------------------------------------------------------------------

def _slice(center: ArrayLike, u: ArrayLike, v: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """θ₀, u, v as real finite arrays of one shape (u and v not zero)."""
    c = as_real_array(center, "center")
    if c.size == 0:
        raise ValidationError("center is empty; expected a point θ₀ with at least one entry",
                              argument="center", value=c.shape)
    uu = as_real_array(u, "u", shape=c.shape)
    vv = as_real_array(v, "v", shape=c.shape)
    for name, d in (("u", uu), ("v", vv)):
        if not np.any(d):
            raise ValidationError(f"{name} is the zero vector; expected a direction", argument=name,
                                  value=0.0)
    return c, uu, vv


def _extent(extent: Any) -> Extent:
    """(x0, x1, y0, y1), finite, with x0 < x1 and y0 < y1."""
    if not isinstance(extent, (tuple, list, np.ndarray)) or len(extent) != 4:
        raise ValidationError(f"extent is {extent!r}; expected (x0, x1, y0, y1)", argument="extent",
                              value=extent)
    x0, x1, y0, y1 = (check_real(e, "extent") for e in extent)
    if not (x0 < x1 and y0 < y1):
        raise ValidationError(f"extent is {tuple(extent)!r}; expected x0 < x1 and y0 < y1",
                              argument="extent", value=tuple(extent))
    return x0, x1, y0, y1


def _grid(extent: Extent, n: int) -> tuple[np.ndarray, np.ndarray]:
    x0, x1, y0, y1 = extent
    return np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))


def _point(c: np.ndarray, u: np.ndarray, v: np.ndarray, x: float, y: float) -> np.ndarray:
    return c + x * u + y * v


def _components(F: Callable[[np.ndarray], np.ndarray], c: np.ndarray, u: np.ndarray, v: np.ndarray,
                x: float, y: float, name: str) -> tuple[float, float]:
    """(u·F(θ), v·F(θ)) at θ = θ₀ + x·u + y·v, refusing a value of the wrong shape or not finite."""
    theta = _point(c, u, v, x, y)
    value = np.asarray(F(theta))
    if value.shape != c.shape or value.dtype.kind not in "biuf":
        raise ValidationError(f"{name}(θ) at (x, y) = ({format_number(x)}, {format_number(y)}) has shape "
                              f"{value.shape} and dtype {value.dtype}; expected real numbers of θ's shape "
                              f"{c.shape}", argument=name, value=value.shape)
    if not np.all(np.isfinite(value)):
        raise ValidationError(f"{name}(θ) at (x, y) = ({format_number(x)}, {format_number(y)}) is not "
                              "finite", argument=name, index=None, value=(x, y))
    return float(np.sum(u * value)), float(np.sum(v * value))


def _legend(ax: Axes) -> None:
    """A legend on a mid-grey frame: white streamlines (the default over contours) and dark ones both show."""
    ax.legend(loc="upper right", facecolor="0.6", framealpha=0.9, fontsize=TEXT_SIZE)


def _labels(ax: Axes, xlabel: str, ylabel: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


# -- pictures ----------------------------------------------------------------------------------------

@styled
def slice_contour(f: Callable[[np.ndarray], float], center: ArrayLike, u: ArrayLike, v: ArrayLike, *,
                  extent: Extent = (-1.0, 1.0, -1.0, 1.0), n: int = 41, levels: int = 20,
                  ax: Axes | None = None, label: str = "J(θ)", cmap: str = "viridis",
                  xlabel: str = "x (along u)", ylabel: str = "y (along v)") -> ContourPicture:
    """Filled contours of f(θ₀ + x·u + y·v) over the rectangle ``extent`` = (x0, x1, y0, y1).

    The grid is ``np.meshgrid(linspace(x0, x1, n), linspace(y0, y1, n))`` and
    Z[i, j] = f(θ₀ + X[i, j]·u + Y[i, j]·v), one call of f per point; f must
    return a finite real number (a value that is not is refused, naming the
    point).  The colour bar carries ``label``.

    Parameters
    ----------
    f : callable
        θ ↦ a real number.
    center : array_like
        θ₀, the centre of the slice.
    u, v : array_like
        The directions of the slice, in θ's shape.
    extent : (float, float, float, float), optional
        (x0, x1, y0, y1).
    n : int, optional
        Grid points per axis.
    levels : int, optional
        Number of contour levels.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; default a new figure of its own.
    label : str, optional
        The colour bar's label.
    cmap : str, optional
        The colour map.
    xlabel, ylabel : str, optional
        The axis labels.
    """
    check_callable(f, "f")
    c, uu, vv = _slice(center, u, v)
    box = _extent(extent)
    n = check_integer(n, "n", min_value=2, max_value=MAX_GRID)
    levels = check_integer(levels, "levels", min_value=1, max_value=1000)
    if not isinstance(label, str):
        raise ValidationError(f"label is {label!r}; expected a string", argument="label", value=label)
    ax = axes_or_new(ax)
    X, Y = _grid(box, n)
    Z = np.empty_like(X)
    for idx in np.ndindex(X.shape):
        x, y = float(X[idx]), float(Y[idx])
        value = f(_point(c, uu, vv, x, y))
        arr = np.asarray(value)
        if arr.shape != () or arr.dtype.kind not in "biuf":
            raise ValidationError(f"f(θ) at (x, y) = ({format_number(x)}, {format_number(y)}) is {value!r}; "
                                  "expected a real number", argument="f", value=(x, y))
        if not np.isfinite(arr):
            raise ValidationError(f"f(θ) at (x, y) = ({format_number(x)}, {format_number(y)}) is "
                                  f"{format_number(arr)}; expected a finite number", argument="f",
                                  value=(x, y))
        Z[idx] = float(arr)
    exponent = power_of_ten(Z)
    contour = ax.contourf(X, Y, Z / 10.0 ** exponent if exponent else Z, levels=levels, cmap=cmap)
    colorbar = ax.figure.colorbar(contour, ax=ax, label=scaled_label(label, exponent))
    _labels(ax, xlabel, ylabel)
    return ContourPicture(ax=ax, contour=contour, colorbar=colorbar, X=X, Y=Y, Z=Z, scale_exponent=exponent)


@styled
def slice_field(F: Callable[[np.ndarray], np.ndarray], center: ArrayLike, u: ArrayLike, v: ArrayLike, *,
                extent: Extent = (-1.0, 1.0, -1.0, 1.0), n: int = 21,
                kind: Literal["stream", "quiver"] = "stream", ax: Axes | None = None,
                color: str = "white", label: str | None = None,
                xlabel: str = "x (along u)", ylabel: str = "y (along v)") -> FieldPicture:
    """A vector field F(θ) on the slice, projected onto it: (u·F, v·F), as streamlines or arrows.

    For orthonormal u, v the pair (u·F, v·F) is the orthogonal projection of
    F onto the plane of the slice, in its coordinates; for other u, v it is
    the pair of directional components (when F = ∇f, the derivatives of
    x, y ↦ f(θ₀ + x·u + y·v), i.e. the gradient of the function drawn by
    :func:`slice_contour`).  ``kind="stream"``
    calls ``ax.streamplot`` (an evenly spaced grid, hence ``linspace``),
    ``"quiver"`` calls ``ax.quiver``.  ``label`` adds a legend entry (a proxy
    line for streamlines, which take no label).

    Parameters
    ----------
    F : callable
        θ ↦ a vector in θ's shape.
    center : array_like
        θ₀, the centre of the slice.
    u, v : array_like
        The directions of the slice, in θ's shape.
    extent : (float, float, float, float), optional
        (x0, x1, y0, y1).
    n : int, optional
        Grid points per axis.
    kind : {"stream", "quiver"}, optional
        Streamlines or arrows.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; default a new figure of its own.
    color : str, optional
        The colour of the lines or arrows.
    label : str, optional
        A legend entry.
    xlabel, ylabel : str, optional
        The axis labels.
    """
    check_callable(F, "F")
    c, uu, vv = _slice(center, u, v)
    box = _extent(extent)
    n = check_integer(n, "n", min_value=2, max_value=MAX_GRID)
    kind = check_choice(kind, "kind", ("stream", "quiver"))
    if label is not None and not isinstance(label, str):
        raise ValidationError(f"label is {label!r}; expected a string or None", argument="label", value=label)
    ax = axes_or_new(ax)
    X, Y = _grid(box, n)
    U, V = np.empty_like(X), np.empty_like(X)
    for idx in np.ndindex(X.shape):
        U[idx], V[idx] = _components(F, c, uu, vv, float(X[idx]), float(Y[idx]), "F")
    # arrows and streamlines are scaled to the axes, so dividing the field by a constant leaves the
    # picture as it is; a large field is divided by a power of ten before matplotlib squares it
    exponent = power_of_ten(np.concatenate([U.ravel(), V.ravel()]), FIELD_LIMIT)
    dU, dV = (U / 10.0 ** exponent, V / 10.0 ** exponent) if exponent else (U, V)
    artist: Any
    if kind == "stream":
        artist = ax.streamplot(X, Y, dU, dV, color=color, density=1.0, linewidth=0.9, arrowsize=1.0)
        if label is not None:
            ax.add_line(Line2D([], [], color=color, label=label))
            _legend(ax)
    else:
        artist = ax.quiver(X, Y, dU, dV, color=color, label=label, angles="xy")
        if label is not None:
            _legend(ax)
    _labels(ax, xlabel, ylabel)
    return FieldPicture(ax=ax, artist=artist, X=X, Y=Y, U=U, V=V, scale_exponent=exponent)


@styled
def slice_loop(F: Callable[[np.ndarray], np.ndarray], center: ArrayLike, u: ArrayLike, v: ArrayLike, *,
               radius: float, at: tuple[float, float] = (0.0, 0.0), f_error: float | None = None,
               ax: Axes | None = None, color: str = "red") -> LoopPicture:
    """A circle in the slice and the circulation of F around it, annotated with its error bound.

    The circle of ``radius`` around the slice point ``at`` = (x, y) is the loop
    θ(t) = θ₀ + (x + ρ cos t)·u + (y + ρ sin t)·v, counter-clockwise, and
    ∮ F·dθ = ∮ (u·F dx + v·F dy) is :func:`mdpgrad.fields.circulation` of the
    2-D field G(x, y) = (u·F, v·F) in the plane (0, 1), with ``f_error``
    passed through.  The text (at the bottom of the axes, with a line to the
    circle) reads
    "∮ F·dθ = value ± bound"; a value larger than its bound certifies that F
    is not a gradient on this slice (Green's theorem).  The axes get equal
    scales (``set_aspect("equal")``) so that the circle is drawn round.

    Parameters
    ----------
    F : callable
        θ ↦ a vector in θ's shape.
    center : array_like
        θ₀, the centre of the slice.
    u, v : array_like
        The directions of the slice, in θ's shape.
    radius : float
        The radius ρ > 0 of the circle, in slice coordinates.
    at : (float, float), optional
        The circle's centre (x, y) in the slice.
    f_error : float, optional
        Absolute error of one value of F, passed to :func:`mdpgrad.fields.circulation`.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; default a new figure of its own.
    color : str, optional
        The circle's colour.
    """
    check_callable(F, "F")
    c, uu, vv = _slice(center, u, v)
    rho = check_real(radius, "radius", min_value=0.0, min_open=True)
    if not isinstance(at, (tuple, list, np.ndarray)) or len(at) != 2:
        raise ValidationError(f"at is {at!r}; expected a point (x, y) of the slice", argument="at", value=at)
    x0, y0 = check_real(at[0], "at"), check_real(at[1], "at")
    if f_error is not None:
        f_error = check_real(f_error, "f_error", min_value=0.0)
    ax = axes_or_new(ax)

    def G(p: np.ndarray) -> np.ndarray:
        return np.array(_components(F, c, uu, vv, float(p[0]), float(p[1]), "F"))

    result = circulation(G, np.array([x0, y0]), (0, 1), radius=rho, f_error=f_error)
    t = np.linspace(0.0, 2.0 * np.pi, 181)
    (line,) = ax.plot(x0 + rho * np.cos(t), y0 + rho * np.sin(t), color=color, linewidth=1.8)
    ax.set_aspect("equal", adjustable="box")      # a circle in the slice looks like one
    corner = (x0 + rho * np.cos(np.pi / 4), y0 - rho * np.sin(np.pi / 4))
    text = ax.annotate(f"∮ F·dθ = {result.value:.2e} ± {result.bound:.1e}", xy=corner,
                       xytext=(0.5, 0.03), textcoords="axes fraction", color=color, fontsize=TEXT_SIZE,
                       va="bottom", ha="center",
                       bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.85,
                             "edgecolor": color},
                       arrowprops={"arrowstyle": "-", "color": color, "linewidth": 0.8})
    return LoopPicture(ax=ax, line=line, text=text, circulation=float(result.value),
                       error=float(result.bound))


@styled
def landscape(mdp: MDP, policy: Policy, theta0: ArrayLike, u: ArrayLike | None = None,
              v: ArrayLike | None = None, *, field: Callable[[np.ndarray], np.ndarray] | None = None,
              extent: Extent = (-1.0, 1.0, -1.0, 1.0), n: int = 41,
              kind: Literal["stream", "quiver"] = "stream", ax: Axes | None = None) -> LandscapePicture:
    """J(θ) over the slice with a field (the exact ∇J by default) drawn on top.

    J is :func:`mdpgrad.objective`; the default field is
    :func:`mdpgrad.policy_gradient`.  u and v default to the first two unit
    vectors of θ (flat indices 0 and 1).  The field is drawn on a grid half as
    fine as the contours (at least 2 points per axis).

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta0 : array_like
        The centre of the slice, shape ``policy.param_shape``.
    u, v : array_like, optional
        The directions of the slice, in θ's shape.
    field : callable, optional
        θ ↦ a vector in θ's shape; default the exact ∇J.
    extent : (float, float, float, float), optional
        (x0, x1, y0, y1) of the slice.
    n : int, optional
        Grid points per axis of the contours.
    kind : {"stream", "quiver"}, optional
        Streamlines or arrows.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; default a new figure of its own.
    """
    validate_mdp(mdp)
    if not hasattr(policy, "param_shape"):
        raise ValidationError(f"policy is a {type(policy).__name__}; expected an mdpgrad Policy",
                              argument="policy", value=type(policy).__name__)
    shape = tuple(policy.param_shape)
    c = as_real_array(theta0, "theta0", shape=shape)
    if u is None or v is None:
        if c.size < 2:
            raise ValidationError(f"theta0 has {c.size} entry; the default slice needs two",
                                  argument="theta0", value=c.size)
    if u is None:
        u = np.zeros(shape)
        u.flat[0] = 1.0
    if v is None:
        v = np.zeros(shape)
        v.flat[1] = 1.0
    if field is None:
        def field(theta: np.ndarray) -> np.ndarray:
            return policy_gradient(mdp, policy, theta)
    n = check_integer(n, "n", min_value=2, max_value=MAX_GRID)
    ax = axes_or_new(ax)
    contour = slice_contour(lambda theta: objective(mdp, policy, theta), c, u, v, extent=extent, n=n, ax=ax)
    drawn = slice_field(field, c, u, v, extent=extent, n=max(2, (n + 1) // 2), kind=kind, ax=ax)
    return LandscapePicture(ax=ax, contour=contour, field=drawn)
