"""Matrices: a Jacobian (or its antisymmetric part) as a heatmap; eigenvalues in the complex plane.

SKELETON: signatures settled, bodies to be written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from matplotlib.image import AxesImage
from numpy.typing import ArrayLike

__all__ = ["EigenvaluePicture", "MatrixPicture", "eigenvalues", "matrix"]


@dataclass(frozen=True)
class MatrixPicture:
    """What :func:`matrix` drew: ``shown`` is the array in ``image`` (M, or (M − Mᵀ)/2)."""

    ax: Axes
    image: AxesImage
    colorbar: Colorbar
    shown: np.ndarray
    witness: tuple[int, int] | None
    witness_marks: list[Any]


@dataclass(frozen=True)
class EigenvaluePicture:
    """What :func:`eigenvalues` drew: the eigenvalues and the boundary artists."""

    ax: Axes
    values: np.ndarray
    points: Any
    boundaries: list[Any]


def matrix(M: ArrayLike, *, antisymmetric: bool = False, witness: tuple[int, int] | None = None,
           ax: Axes | None = None, labels: Sequence[str] | None = None, title: str | None = None,
           colorbar_label: str | None = None) -> MatrixPicture:
    """Heatmap of M (or (M − Mᵀ)/2), diverging colours centred on 0, witness pair (i, j)/(j, i) boxed."""
    raise NotImplementedError


def eigenvalues(M: ArrayLike, *, step_size: float | None = None, ax: Axes | None = None,
                label: str | None = None, title: str | None = None) -> EigenvaluePicture:
    """Eigenvalues of a square M in the complex plane, with the stability boundary."""
    raise NotImplementedError
