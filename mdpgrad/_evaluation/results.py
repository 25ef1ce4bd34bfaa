"""The results of an exact evaluation: :class:`Evaluation` and its :class:`ErrorEstimate`.

An :class:`Evaluation` holds P^π, r^π, v, q, the advantage, η, d, μ and J of
one policy (or a batch), with the factorisation of I − γP̃^π that gave v and
η for later solves; its arrays are read-only and its own (π is copied).
:meth:`Evaluation.bellman_residual` checks v = r^π + γP^π v.  An
:class:`ErrorEstimate` holds the forward-error bounds of those numbers
(``mdpgrad._evaluation.accuracy``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._chains import Matrix
from .._display import compact_repr
from .._linalg import Solver
from .._model import MDP

__all__ = ["ErrorEstimate", "Evaluation"]


@dataclass(frozen=True)
class ErrorEstimate:
    """Forward-error estimates of an evaluation; per policy of a batch (shape (...)) or floats.

    Each error is an estimate of ‖computed − exact‖ built as
    ‖K⁻¹‖∞·(residual + rounding of the residual) for the matrix K that was
    factorised (Higham 2002, §7.2 and §15.3; LAPACK's FERR, Anderson et al.
    1999, §4.4), then propagated to the quantities formed from the solution,
    including the rounding of the difference q − v.  ‖K⁻¹‖∞ is exact
    (Neumann bound, or M⁻¹1 for an M-matrix) or Hager's estimate (a lower
    bound, in practice within a factor 3).  The model is taken as given with
    its rows of P and π summing to exactly 1 (they do to rounding).  d = η/Ση
    and μ carry about twice η's relative error; they are not judged separately.

    Attributes
    ----------
    route : {"direct", "deflated"}
        Which system was solved: M = I − γP̃^π, or B = M + γ1uᵀ (``mdpgrad._evaluation.routes``).
    inverse_norm : float or ndarray
        ‖K⁻¹‖∞ of that system; its condition number κ∞ ≤ (1 + 2γ)·inverse_norm.
    v, q, advantage : float or ndarray
        Bounds on the max-norm errors (q and the advantage over the available
        actions of a model with action sets).
    eta : float or ndarray
        Bound on the 1-norm error of η.
    J : float or ndarray
    digits : float
        Significant digits left in the least accurate of v (relative to max|v|),
        q (max|q|), advantage (max|adv| or ``advantage_floor``, whichever
        is larger), η (‖η‖₁) and J (max|v|: J averages v, and may be 0 by symmetry), over the whole
        batch.
    """

    route: str
    inverse_norm: Any
    v: Any
    q: Any
    advantage: Any
    eta: Any
    J: Any
    digits: float

    __repr__ = compact_repr


    def __str__(self) -> str:
        return (f"ErrorEstimate: {self.digits:.1f} significant digits left ({self.route} route, "
                f"‖K⁻¹‖∞ ≈ {float(np.max(self.inverse_norm)):.3g}); error of J ≤ "
                f"{float(np.max(self.J)):.2g}, of the advantage ≤ {float(np.max(self.advantage)):.2g}")


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Everything exact about one policy (or a batch of policies) on one MDP.

    Arrays carry the policy's leading batch axes, written ``...`` below.

    Attributes
    ----------
    pi : ndarray, shape (..., S, A)
    P_pi : ndarray, shape (..., S, S), or sparse (S, S)
        State chain under π (terminal rows absorbing, as in P).
    r_pi : ndarray, shape (..., S)
    v : ndarray, shape (..., S)
    q, advantage : ndarray, shape (..., S, A)
        On a model with action sets, the entries of unavailable actions are
        computed from their stored rows and rewards and mean nothing.
    eta : ndarray, shape (..., S)
        Expected discounted visits before termination.
    d : ndarray, shape (..., S)
        η / Σ η.
    mu : ndarray, shape (..., S, A)
        d(s) π(a|s).
    J : float or ndarray, shape (...)
        ρ₀ · v.
    solver : Solver or None
        The factorisation of M = I − γP̃^π that gave v and η, for further
        solves with the same matrix: ``solver.solve(b)`` = M⁻¹b,
        ``solver.solve_transposed(b)`` = M⁻ᵀb (b of shape (S,) or (S, k)).
        Set for every evaluation of a single policy; None for a batch.  On
        the deflated route (``mdpgrad._evaluation.routes``) a ``DeflatedSolver``.
    error : ErrorEstimate or None
        Forward-error estimates of v, q, advantage, η and J (None for complex
        tables, which only the complex-step machinery passes).

    Every array is read-only and owned by the evaluation (π is copied), so
    nothing written later, by the caller or into these arrays, changes
    ``solver``'s later solves.
    """

    pi: np.ndarray
    P_pi: Matrix
    r_pi: np.ndarray
    v: np.ndarray
    q: np.ndarray
    advantage: np.ndarray
    eta: np.ndarray
    d: np.ndarray
    mu: np.ndarray
    J: Any
    solver: Solver | None = field(default=None, repr=False)
    error: ErrorEstimate | None = field(default=None, repr=False)

    __repr__ = compact_repr

    def __str__(self) -> str:
        S = self.v.shape[-1]
        A = self.q.shape[-1]
        batch = self.v.shape[:-1]
        size = f"{S} states x {A} actions" + (f", batch {batch}" if batch else "")
        J = float(np.max(self.J)) if batch else float(self.J)
        digits = "" if self.error is None else f"; {self.error.digits:.1f} significant digits"
        return (f"Evaluation: J = {J:.6g}{' (largest in the batch)' if batch else ''} ({size}); "
                f"v in [{float(np.min(self.v)):.6g}, {float(np.max(self.v)):.6g}], "
                f"sum eta = {float(np.max(np.sum(self.eta, axis=-1))):.6g}{digits}")

    def bellman_residual(self, mdp: MDP) -> float:
        """``max_s |v − r^π − γP^π v|``, the check that v solves the Bellman equation."""
        if sp.issparse(self.P_pi):
            resid = self.v - self.r_pi - mdp.gamma * (self.P_pi @ self.v)
        else:
            resid = self.v - self.r_pi - mdp.gamma * np.einsum("...st,...t->...s", self.P_pi, self.v)
        return float(np.max(np.abs(resid)))
