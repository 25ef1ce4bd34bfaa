"""The value polytope of a two-state MDP, drawn exactly (Dadashi et al. 2019).

SKELETON: signatures settled, bodies to be written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

from .._model import MDP

__all__ = ["PolytopePicture", "trajectory", "value_polytope"]


@dataclass(frozen=True)
class PolytopePicture:
    """What :func:`value_polytope` drew; ``vertices`` maps each deterministic policy to its (v(0), v(1))."""

    ax: Axes
    vertices: dict[tuple[int, ...], np.ndarray]
    segments: list[tuple[tuple[int, ...], tuple[int, ...]]]
    fill: Any
    artists: list[Any]


def value_polytope(mdp: MDP, *, ax: Axes | None = None, fill: bool = True, label_vertices: bool = True,
                   title: str | None = None) -> PolytopePicture:
    """The set {v^π} of a 2-state MDP, bounded by its semi-deterministic policies' segments."""
    raise NotImplementedError


def trajectory(points: ArrayLike, *, ax: Axes | None = None, label: str | None = None,
               color: str | None = None, marker: str = "o", markevery: int | None = None) -> Line2D:
    """A path of iterates (n, 2) over any picture, its start and end marked."""
    raise NotImplementedError
