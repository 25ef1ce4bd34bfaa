"""Solvers for the policy-evaluation matrix M = I − γ P̃^π.

P̃^π is P^π with the rows and columns of terminal states set to zero: an
episode stops on reaching a terminal state, so those states carry no value and
no further visits.  One factorisation of M serves both

    v  = M⁻¹ r^π            (values)
    η  = M⁻ᵀ ρ̃₀             (discounted visit counts, ρ̃₀ = ρ₀ off terminal states)

and any later solve (the recursion form of ∇v, forward-mode derivatives).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["DenseLU", "Solver", "SparseLU", "factorize"]


class Solver(Protocol):
    """A factorised M = I − γP̃^π: solves M x = b and Mᵀ y = b."""

    def solve(self, b: np.ndarray) -> np.ndarray: ...

    def solve_transposed(self, b: np.ndarray) -> np.ndarray: ...


class DenseLU:
    """LU factors of a dense M (LAPACK getrf via scipy.linalg.lu_factor)."""

    def __init__(self, M: np.ndarray) -> None:
        self._lu = sla.lu_factor(M, check_finite=False)

    def solve(self, b: np.ndarray) -> np.ndarray:
        return sla.lu_solve(self._lu, b, check_finite=False)

    def solve_transposed(self, b: np.ndarray) -> np.ndarray:
        return sla.lu_solve(self._lu, b, trans=1, check_finite=False)


class SparseLU:
    """SuperLU factors of a sparse M (scipy.sparse.linalg.splu)."""

    def __init__(self, M: sp.sparray) -> None:
        M = sp.csc_matrix(M)
        self._dtype = M.dtype
        self._lu = spla.splu(M)

    def _apply(self, b: np.ndarray, trans: str) -> np.ndarray:
        b = np.asarray(b)
        if np.iscomplexobj(b) and self._dtype.kind != "c":
            # real factors, complex right-hand side: solve the two real systems
            return (self._lu.solve(np.ascontiguousarray(b.real, dtype=float), trans=trans)
                    + 1j * self._lu.solve(np.ascontiguousarray(b.imag, dtype=float), trans=trans))
        return self._lu.solve(np.asarray(b, dtype=np.result_type(b.dtype, self._dtype)), trans=trans)

    def solve(self, b: np.ndarray) -> np.ndarray:
        return self._apply(b, "N")

    def solve_transposed(self, b: np.ndarray) -> np.ndarray:
        return self._apply(b, "T")


def factorize(M: np.ndarray | sp.sparray) -> Solver:
    """Factorise M once; dense input gives :class:`DenseLU`, sparse :class:`SparseLU`."""
    if sp.issparse(M):
        return SparseLU(M)
    return DenseLU(M)
