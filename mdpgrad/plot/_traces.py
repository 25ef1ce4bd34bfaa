"""Traces over iterations and an estimator's samples against its exact expectation.

SKELETON: signatures settled, bodies to be written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

__all__ = ["SamplePicture", "TracePicture", "estimator_histogram", "estimator_scatter", "trace"]


@dataclass(frozen=True)
class TracePicture:
    """What :func:`trace` drew: ``gaps`` lists the steps where the quantity is undefined (NaN)."""

    ax: Axes
    line: Line2D
    steps: np.ndarray
    values: np.ndarray
    gaps: np.ndarray
    note: Any


@dataclass(frozen=True)
class SamplePicture:
    """What an estimator picture drew: the samples shown and the reference markers."""

    ax: Axes
    samples: np.ndarray
    mean: np.ndarray
    artists: dict[str, Any]


def trace(values: ArrayLike, *, steps: ArrayLike | None = None, ax: Axes | None = None,
          label: str | None = None, xlabel: str = "step", ylabel: str = "", note_gaps: bool = True,
          **line_kwargs: Any) -> TracePicture:
    """A quantity over iterations; NaN entries (undefined steps) are gaps, and a note says how many."""
    raise NotImplementedError


def estimator_histogram(samples: ArrayLike, expectation: ArrayLike, gradient: ArrayLike | None = None, *,
                        coordinate: int = 0, bins: int | str = "auto", ax: Axes | None = None,
                        xlabel: str | None = None) -> SamplePicture:
    """Histogram of one coordinate of the samples, with the sample mean, exact expectation and ∇J."""
    raise NotImplementedError


def estimator_scatter(samples: ArrayLike, expectation: ArrayLike, gradient: ArrayLike | None = None, *,
                      coordinates: tuple[int, int] = (0, 1), ax: Axes | None = None,
                      max_points: int = 5000) -> SamplePicture:
    """Scatter of two coordinates of the samples, with the sample mean, exact expectation and ∇J."""
    raise NotImplementedError
