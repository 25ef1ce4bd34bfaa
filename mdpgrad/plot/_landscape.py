"""Landscapes over a two-parameter slice θ = θ₀ + x·u + y·v: contours, fields and loops.

SKELETON: signatures settled, bodies to be written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from numpy.typing import ArrayLike

from .._model import MDP
from .._policies import Policy

__all__ = ["ContourPicture", "FieldPicture", "LandscapePicture", "LoopPicture", "landscape",
           "slice_contour", "slice_field", "slice_loop"]

Extent = tuple[float, float, float, float]


@dataclass(frozen=True)
class ContourPicture:
    """What :func:`slice_contour` drew: f on the grid X, Y (Z[i, j] = f(θ₀ + X[i, j]·u + Y[i, j]·v))."""

    ax: Axes
    contour: Any
    colorbar: Colorbar
    X: np.ndarray
    Y: np.ndarray
    Z: np.ndarray


@dataclass(frozen=True)
class FieldPicture:
    """What :func:`slice_field` drew: (U, V) = (u·F, v·F) on the grid X, Y."""

    ax: Axes
    artist: Any
    X: np.ndarray
    Y: np.ndarray
    U: np.ndarray
    V: np.ndarray


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


def slice_contour(f: Callable[[np.ndarray], float], center: ArrayLike, u: ArrayLike, v: ArrayLike, *,
                  extent: Extent = (-1.0, 1.0, -1.0, 1.0), n: int = 41, levels: int = 20,
                  ax: Axes | None = None, label: str = "J(θ)", cmap: str = "viridis",
                  xlabel: str = "x (along u)", ylabel: str = "y (along v)") -> ContourPicture:
    """Filled contours of f(θ₀ + x·u + y·v) over the rectangle ``extent`` = (x0, x1, y0, y1)."""
    raise NotImplementedError


def slice_field(F: Callable[[np.ndarray], np.ndarray], center: ArrayLike, u: ArrayLike, v: ArrayLike, *,
                extent: Extent = (-1.0, 1.0, -1.0, 1.0), n: int = 21,
                kind: Literal["stream", "quiver"] = "stream", ax: Axes | None = None,
                color: str = "white", label: str | None = None,
                xlabel: str = "x (along u)", ylabel: str = "y (along v)") -> FieldPicture:
    """A vector field F(θ) on the slice, projected onto it: (u·F, v·F), as streamlines or arrows."""
    raise NotImplementedError


def slice_loop(F: Callable[[np.ndarray], np.ndarray], center: ArrayLike, u: ArrayLike, v: ArrayLike, *,
               radius: float, at: tuple[float, float] = (0.0, 0.0), f_error: float | None = None,
               ax: Axes | None = None, color: str = "red") -> LoopPicture:
    """A circle in the slice and the circulation of F around it, annotated with its error bound."""
    raise NotImplementedError


def landscape(mdp: MDP, policy: Policy, theta0: ArrayLike, u: ArrayLike | None = None,
              v: ArrayLike | None = None, *, field: Callable[[np.ndarray], np.ndarray] | None = None,
              extent: Extent = (-1.0, 1.0, -1.0, 1.0), n: int = 41,
              kind: Literal["stream", "quiver"] = "stream", ax: Axes | None = None) -> LandscapePicture:
    """J(θ) over the slice with a field (the exact ∇J by default) drawn on top."""
    raise NotImplementedError
