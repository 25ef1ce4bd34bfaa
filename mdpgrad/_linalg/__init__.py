"""Solvers for the policy-evaluation matrix M = I − γ P̃^π.

P̃^π is P^π with the rows and columns of terminal states set to zero: an
episode stops on reaching a terminal state, so those states carry no value and
no further visits.  One factorisation of M serves both

    v  = M⁻¹ r^π            (values)
    η  = M⁻ᵀ ρ̃₀             (discounted visit counts, ρ̃₀ = ρ₀ off terminal states)

and any later solve (the recursion form of ∇v, forward-mode derivatives).

Which solver ``factorize(M, method="auto")`` (or ``evaluate(..., solver=...)``) picks, and
why, is set out in :mod:`mdpgrad._linalg._route`: dense LU, float32 LU refined in float64,
SuperLU, preconditioned BiCGSTAB, or a stacked solve for several policies.

Every factorisation is checked: a matrix that is singular, or whose
reciprocal condition number (1-norm) is below :data:`SINGULAR_RCOND`, is
refused with a :class:`~mdpgrad.ValidationError` (argument ``"M"``) rather than
solved into inf, nan or digits that mean nothing.  When ‖c·P̃^π‖∞ < 1 (every
row-stochastic π with γ < 1) the Neumann series bounds κ∞(M) ≤ (1+q)/(1−q),
q = ‖c·P̃^π‖∞, and no estimate is needed for the sparse and stacked solvers.

Every solver answers the :class:`Solver` protocol: ``solve(b)`` = M⁻¹b and
``solve_transposed(b)`` = M⁻ᵀb.

What lives here
---------------
* ``_base``: the :class:`Solver` protocol, :data:`SINGULAR_RCOND` and the
  refusal of a singular or numerically singular M;
* ``_dense``: :class:`DenseLU`, :class:`RefinedLU` and the BLAS products
  (:func:`blas_gemv`, :func:`blas_gemm_columns`);
* ``_stacked``: :class:`StackedLU`, :func:`batched_lu`, :func:`batched_lu_solve`;
* ``_sparse``: :class:`SparseLU`, :class:`KrylovSolver` and the row-split
  product :func:`sparse_matvec`;
* ``_deflated``: :class:`DeflatedSolver`, for M nearly singular at γ → 1;
* ``_route``: :func:`factorize`, :func:`validate_solver_method` and the sizes
  at which ``method="auto"`` changes solver;
* ``_accuracy``: forward-error estimates (:func:`rounding_unit`,
  :func:`inverse_norm_inf`) and the refusal of results that are noise
  (:func:`check_accuracy`, :class:`InaccurateResultError`).
"""

from ._accuracy import (
    ACCURACY_MIN_DIGITS,
    DOUBLE_DIGITS,
    Accuracy,
    InaccurateResultError,
    InaccurateResultWarning,
    check_accuracy,
    digits_left,
    inverse_norm_inf,
    rounding_unit,
    validate_accuracy,
)
from ._base import SINGULAR_RCOND, Solver
from ._deflated import DeflatedSolver
from ._dense import REFINE_MAX_STEPS, REFINE_TOL, DenseLU, RefinedLU, blas_gemm_columns, blas_gemv
from ._route import KRYLOV_MIN_STATES, REFINED_MIN_STATES, SolverMethod, factorize, validate_solver_method
from ._sparse import KRYLOV_RTOL, KRYLOV_THREAD_MIN_NNZ, KrylovSolver, SparseLU, sparse_matvec
from ._stacked import BATCH_ELIMINATION_MAX, StackedLU, batched_lu, batched_lu_solve

__all__ = ["ACCURACY_MIN_DIGITS", "BATCH_ELIMINATION_MAX", "DOUBLE_DIGITS", "Accuracy", "DeflatedSolver",
           "InaccurateResultError", "InaccurateResultWarning", "check_accuracy", "digits_left",
           "inverse_norm_inf", "rounding_unit", "validate_accuracy", "KRYLOV_MIN_STATES", "KRYLOV_RTOL",
           "KRYLOV_THREAD_MIN_NNZ",
           "REFINED_MIN_STATES", "REFINE_MAX_STEPS", "REFINE_TOL", "SINGULAR_RCOND", "DenseLU",
           "KrylovSolver", "RefinedLU", "Solver", "SolverMethod", "SparseLU", "StackedLU", "batched_lu",
           "batched_lu_solve", "blas_gemm_columns", "blas_gemv", "factorize", "sparse_matvec",
           "validate_solver_method"]
