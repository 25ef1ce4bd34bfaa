"""What every solver of M = I − γP̃^π shares: the :class:`Solver` protocol and the refusal of a singular M.

Every solver answers the :class:`Solver` protocol: ``solve(b)`` = M⁻¹b and
``solve_transposed(b)`` = M⁻ᵀb.

Every factorisation is checked: a matrix that is singular, or whose
reciprocal condition number (1-norm) is below :data:`SINGULAR_RCOND`, is
refused with a :class:`~mdpgrad.ValidationError` (argument ``"M"``) rather than
solved into inf, nan or digits that mean nothing.  When ‖c·P̃^π‖∞ < 1 (every
row-stochastic π with γ < 1) the Neumann series bounds κ∞(M) ≤ (1+q)/(1−q),
q = ‖c·P̃^π‖∞, and no estimate is needed for the sparse and stacked solvers
(:func:`neumann_bound_holds`); otherwise ‖M⁻¹‖₁ is estimated from a few solves
(:func:`refuse_if_ill_conditioned`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._errors import ValidationError

__all__ = ["SINGULAR_RCOND", "Solver", "neumann_bound_holds", "neumann_bound_holds_for",
           "refuse_if_ill_conditioned", "refuse_singular"]

#: A matrix whose reciprocal condition number 1/κ(M) is below this is singular
#: to working precision, LAPACK's rule (dgesvx returns info = n + 1 "RCOND is
#: less than machine precision"; Anderson et al. 1999, LAPACK Users' Guide,
#: §4.4): a solve would then carry no correct digit, so it is refused.
SINGULAR_RCOND = float(np.finfo(float).eps)


def refuse_singular(rcond: float, index: tuple[int, ...] | None = None) -> None:
    """Raise the error of a singular (rcond = 0) or numerically singular M (argument ``"M"``)."""
    where = "" if index is None else f" (batch index {', '.join(map(str, index))})"
    if not rcond > 0.0:
        why = "is singular"
    else:
        why = (f"is numerically singular: its reciprocal condition number is about {rcond:.3g}, below "
               f"machine precision {SINGULAR_RCOND:.3g}")
    raise ValidationError(f"the matrix M = I − c·P̃^π{where} {why}, so the linear system has no reliable "
                          "solution", argument="M", index=index, value=float(rcond))


def neumann_bound_holds(M: np.ndarray | sp.sparray) -> np.ndarray | bool:
    """q = ‖I − M‖∞ < 1 with κ₁(M) ≤ S²·(1+q)/(1−q) ≤ 1/SINGULAR_RCOND, per matrix of a stack.

    The Neumann series gives ‖M⁻¹‖∞ ≤ 1/(1 − q) (Higham 2002, §6.2), and
    κ₁ ≤ S²·κ∞ (‖X‖₁ ≤ S‖X‖∞ for X = M and M⁻¹), so a dense matrix that passes
    would pass LAPACK's check alone too (gecon's estimate of κ₁ is a lower bound):
    the shortcut never accepts in a stack what :class:`DenseLU` refuses alone.
    Such an M is also strictly diagonally dominant by rows.  (Sparse matrices
    keep the factor S of :func:`neumann_bound_holds_for`.)
    """
    S = M.shape[-1]
    if sp.issparse(M):
        return neumann_bound_holds_for(sp.csr_array(sp.eye_array(S, format="csr", dtype=M.dtype) - M))
    d = np.diagonal(M, axis1=-2, axis2=-1)
    q = (np.abs(M).sum(axis=-1) - np.abs(d) + np.abs(1.0 - d)).max(axis=-1, initial=0.0)
    return (1.0 - q) >= S * S * SINGULAR_RCOND * (1.0 + q)


def neumann_bound_holds_for(G: sp.csr_array, q: float | None = None) -> bool:
    """The bound of :func:`neumann_bound_holds` for M = I − G, from G (q = ‖G‖∞ when known)."""
    if q is None:
        q = float(np.max(abs(G).sum(axis=1), initial=0.0))
    return bool((1.0 - q) >= G.shape[0] * SINGULAR_RCOND * (1.0 + q))


def refuse_if_ill_conditioned(M: sp.sparray, solve: Callable[[np.ndarray], np.ndarray],
                               solve_transposed: Callable[[np.ndarray], np.ndarray]) -> None:
    """Refuse M if its estimated reciprocal condition number is below :data:`SINGULAR_RCOND`."""
    rcond = _estimate_rcond(M, solve, solve_transposed)
    if not rcond >= SINGULAR_RCOND:
        refuse_singular(rcond)


def _estimate_rcond(M: sp.sparray, solve: Callable[[np.ndarray], np.ndarray],
                    solve_transposed: Callable[[np.ndarray], np.ndarray]) -> float:
    """1/(‖M‖₁‖M⁻¹‖₁) with ‖M⁻¹‖₁ estimated from a few solves (Higham & Tisseur 2000, onenormest)."""
    S = M.shape[0]
    norm = float(spla.norm(M, 1))
    if S == 0 or norm == 0.0:
        return 0.0 if S else 1.0
    op = spla.LinearOperator((S, S), matvec=lambda x: solve(np.ravel(x)), dtype=float,
                             rmatvec=lambda x: solve_transposed(np.ravel(x)))
    with np.errstate(all="ignore"):
        inv_norm = float(spla.onenormest(op)) if S > 4 else float(np.abs(solve(np.eye(S))).sum(axis=0).max())
    if not np.isfinite(inv_norm) or inv_norm == 0.0:
        return 0.0
    return 1.0 / (norm * inv_norm)


class Solver(Protocol):
    """A factorised M = I − γP̃^π: solves M x = b and Mᵀ y = b."""

    def solve(self, b: np.ndarray) -> np.ndarray: ...

    def solve_transposed(self, b: np.ndarray) -> np.ndarray: ...
