"""Solves with the nearly singular M = I − γP^π of a continuing chain, from a well-conditioned deflation.

:class:`DeflatedSolver` solves with M = B − c·1uᵀ from the factors of
B = I − γP^π + γ1uᵀ (c = γ), by Sherman–Morrison: the part of M⁻¹ that grows as
γ → 1, along 1, is written analytically, and only B, which stays well
conditioned, is factorised.
"""

from __future__ import annotations

import numpy as np

from ._base import Solver

__all__ = ["DeflatedSolver"]


class DeflatedSolver:
    """Solves with M = B − c·1uᵀ from the factors of B, where B1 = 1 and uᵀ1 = 1, 0 ≤ c < 1.

    Sherman–Morrison with B⁻¹1 = 1 gives M⁻¹ = B⁻¹ + c/(1 − c)·1·uᵀB⁻¹, so
    M⁻¹b = B⁻¹b + c/(1 − c)(uᵀB⁻¹b)·1 and M⁻ᵀb = B⁻ᵀb + c/(1 − c)(1ᵀb)·B⁻ᵀu
    (Golub & Van Loan 2013, §2.1.4).  The nearly singular M = I − γP^π of a
    continuing chain at γ → 1 is solved this way from the well-conditioned
    B = I − γP^π + γ1uᵀ; its large part, along 1, is written analytically.
    """

    def __init__(self, B: Solver, u: np.ndarray, c: float) -> None:
        self._B, self._u, self._c = B, u, float(c)
        self._Bu: np.ndarray | None = None

    @property
    def base(self) -> Solver:
        """The factors of B."""
        return self._B

    def solve(self, b: np.ndarray) -> np.ndarray:
        y = self._B.solve(b)
        g = np.tensordot(self._u, y, axes=(0, 0)) if y.ndim == 2 else y @ self._u
        return y + self._c / (1.0 - self._c) * (g[None] if y.ndim == 2 else g)

    def solve_transposed(self, b: np.ndarray) -> np.ndarray:
        if self._Bu is None:
            self._Bu = self._B.solve_transposed(self._u)
        z = self._B.solve_transposed(b)
        s = np.sum(b, axis=0)
        k = self._c / (1.0 - self._c)
        return z + k * (np.multiply.outer(self._Bu, s) if np.ndim(b) == 2 else s * self._Bu)
