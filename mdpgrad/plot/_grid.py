"""Gridworld pictures: a per-state quantity as a heatmap, the policy as arrows.

SKELETON: signatures settled, bodies to be written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from matplotlib.image import AxesImage
from matplotlib.quiver import Quiver
from numpy.typing import ArrayLike

from .._model import MDP

__all__ = ["GridPicture", "action_directions", "grid_values"]


@dataclass(frozen=True)
class GridPicture:
    """What :func:`grid_values` drew: ``values`` is the (n_rows, n_cols) array shown by ``image``."""

    ax: Axes
    image: AxesImage
    colorbar: Colorbar
    values: np.ndarray
    arrows: Quiver | None
    terminal_marks: list[Any]
    texts: list[Any]


def action_directions(mdp: MDP) -> np.ndarray:
    """(A, 2) unit (d_row, d_col) of each action, from its mean displacement over the grid."""
    raise NotImplementedError


def grid_values(mdp: MDP, values: ArrayLike, *, policy: ArrayLike | None = None, ax: Axes | None = None,
                label: str = "v(s)", cmap: str = "viridis", annotate: bool = True, fmt: str = "{:.1f}",
                directions: ArrayLike | None = None, title: str | None = None) -> GridPicture:
    """Heatmap of a per-state quantity on ``mdp.grid_shape``, the policy π(a|s) as arrows."""
    raise NotImplementedError
