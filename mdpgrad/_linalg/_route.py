"""Which solver factorises M = I − γP̃^π: :func:`factorize` and the ``solver=`` argument.

One factorisation of M serves v = M⁻¹ r^π, η = M⁻ᵀ ρ̃₀ and any later solve.

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

A ``method`` that does not fit the storage of M is refused
(:func:`validate_solver_method`).
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import scipy.sparse as sp

from .._errors import ValidationError
from .._validation import check_choice
from ._base import Solver
from ._dense import DenseLU, RefinedLU
from ._sparse import KrylovSolver, SparseLU
from ._stacked import StackedLU

__all__ = ["KRYLOV_MIN_STATES", "REFINED_MIN_STATES", "SolverMethod", "factorize", "validate_solver_method"]

#: How M = I − γP̃^π is solved: "auto" chooses by size and storage (module docstring); "lu" and
#: "refined" are dense, "splu" and "krylov" sparse.
SolverMethod = Literal["auto", "lu", "refined", "splu", "krylov"]
_DENSE_ONLY = ("lu", "refined")
_SPARSE_ONLY = ("splu", "krylov")

#: Sparse systems with at least this many states go to :class:`KrylovSolver`
#: under ``method="auto"``.  Sparse LU's fill grows faster than S on grid-like
#: chains (≈1.45·10⁸ factor entries and 17–38 s for a 1000 × 1000 gridworld on
#: a 2-core machine), while the preconditioned BiCGSTAB takes ~50 steps of four
#: sparse products for γ = 0.99 whatever S is.  Measured on slippery gridworlds
#: (γ = 0.99) the Krylov solver is already 2× faster at 10⁴–4·10⁴ states; the
#: threshold sits a little above that because its step count grows as γ → 1
#: while the LU's cost does not depend on γ.
KRYLOV_MIN_STATES = 20_000

#: Dense systems with at least this many states use :class:`RefinedLU` under
#: ``method="auto"``: below it the float64 LU is so cheap that the refinement
#: steps (one matrix-vector product each) cost about what they save (measured
#: on random dense MDPs, A = 4: equal at S = 500, refined 1.3× faster at 1000
#: and 1.5× at 1500, on 2 cores).
REFINED_MIN_STATES = 1000


def factorize(M: np.ndarray | sp.sparray, *, overwrite: bool = False,
              method: SolverMethod = "auto") -> Solver:
    """Prepare solves with M = I − γP̃^π; the choice of method is explained in the module docstring.

    Parameters
    ----------
    M : ndarray, shape (S, S) or (..., S, S), or sparse matrix, shape (S, S)
        A stack of dense matrices (ndim > 2) is solved directly, matrix by
        matrix (:class:`StackedLU`), whatever ``method``.
    overwrite : bool
        Dense only: let LAPACK factorise M in place.
    method : {"auto", "lu", "refined", "splu", "krylov"}
        Dense: "lu" (float64 LU) or "refined" (:class:`RefinedLU`); sparse:
        "splu" or "krylov" (:class:`KrylovSolver`).  "auto" picks "refined"
        for real dense M with at least :data:`REFINED_MIN_STATES` states and
        "lu" below, "krylov" for sparse M with at least
        :data:`KRYLOV_MIN_STATES` states and "splu" below.

    Returns
    -------
    Solver

    Raises
    ------
    ValidationError
        If ``method`` is unknown or does not fit the storage of M, or if the
        Krylov solver's storage would exceed the memory limit.
    """
    method = validate_solver_method(method, sparse=sp.issparse(M))
    if sp.issparse(M):
        if method == "krylov" or (method == "auto" and M.shape[0] >= KRYLOV_MIN_STATES
                                  and not np.iscomplexobj(M.data)):
            return KrylovSolver(M)
        return SparseLU(M)
    if M.ndim > 2:
        return StackedLU(M)
    if method == "refined" or (method == "auto" and M.shape[0] >= REFINED_MIN_STATES
                               and not np.iscomplexobj(M)):
        return RefinedLU(M)
    return DenseLU(M, overwrite=overwrite)


def validate_solver_method(method: object, *, sparse: bool) -> SolverMethod:
    """``method`` as a :data:`SolverMethod` that applies to dense (or sparse) matrices; else raise.

    Raises
    ------
    ValidationError
        Naming the argument ``solver``.
    """
    kind = check_choice(method, "solver", get_args(SolverMethod))
    if kind in (_DENSE_ONLY if sparse else _SPARSE_ONLY):
        storage = "sparse" if sparse else "dense"
        raise ValidationError(f"solver {kind!r} does not apply to a {storage} MDP", argument="solver",
                              value=kind)
    return kind
