"""Solvers for the policy-evaluation matrix M = I − γ P̃^π.

P̃^π is P^π with the rows and columns of terminal states set to zero: an
episode stops on reaching a terminal state, so those states carry no value and
no further visits.  One factorisation of M serves both

    v  = M⁻¹ r^π            (values)
    η  = M⁻ᵀ ρ̃₀             (discounted visit counts, ρ̃₀ = ρ₀ off terminal states)

and any later solve (the recursion form of ∇v, forward-mode derivatives).

Which solver (``factorize(M, method="auto")``, or ``evaluate(..., solver=...)``):

* dense, S < REFINED_MIN_STATES: LAPACK LU in float64 (:class:`DenseLU`);
* dense, larger: LU in float32 refined in float64 (:class:`RefinedLU`), the
  LAPACK dsgesv scheme; the float32 factorisation is 1.4–2× faster (OpenBLAS,
  2-core AVX-512 machine, S = 2000) and two refinement steps (one
  matrix-vector product each) restore double precision, with a float64
  fallback when κ(M) is too large for float32;
* sparse, S < KRYLOV_MIN_STATES: SuperLU (:class:`SparseLU`), one factor for v and η;
* sparse, larger: preconditioned BiCGSTAB (:class:`KrylovSolver`).  Sparse LU
  fill grows faster than S on grid-like chains (1.45·10⁸ factor entries for a
  1000 × 1000 gridworld), while a Krylov step costs O(nnz) and the number of
  steps is set by γ, not by S.  Its sparse products are split by rows across
  the cores (:data:`KRYLOV_THREAD_MIN_NNZ`), bitwise the one-thread product,
  its vector updates are fused passes shared by the cores, ``evaluate`` builds
  it from G = γP̃^π directly (:meth:`KrylovSolver.from_chain`), and its
  storage (G, Gᵀ and the work vectors) is checked against
  :func:`mdpgrad.set_memory_limit` before anything is allocated;
* stacks of policies: elimination with partial pivoting vectorised across the
  stack for S ≤ 8 (:func:`batched_lu`), numpy.linalg.solve above
  (:class:`StackedLU`); a stack gives what the matrices solved one at a time give.

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
