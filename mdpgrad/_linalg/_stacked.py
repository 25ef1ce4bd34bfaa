"""Solves with a stack of dense matrices M, shape (..., S, S), each solved as it would be alone.

Stacks of policies: elimination with partial pivoting vectorised across the
stack for S ≤ :data:`BATCH_ELIMINATION_MAX` (:func:`batched_lu`,
:func:`batched_lu_solve`), numpy.linalg.solve above (:class:`StackedLU`); a
stack gives what the matrices solved one at a time give.  A matrix of the stack
is refused on the quantity :class:`~mdpgrad._linalg.DenseLU` decides on for it
alone, so the verdict about one matrix never depends on the others.
"""

from __future__ import annotations

import numpy as np

from ._base import SINGULAR_RCOND, neumann_bound_holds, refuse_singular
from ._dense import rcond_alone

__all__ = ["BATCH_ELIMINATION_MAX", "StackedLU", "batched_lu", "batched_lu_solve"]

#: Batches of systems with at most this many states are solved by elimination
#: vectorised across the batch (one numpy operation per pivot step, for all
#: matrices at once); larger ones go to LAPACK one matrix at a time
#: (numpy.linalg.solve), whose per-matrix call overhead no longer dominates.
BATCH_ELIMINATION_MAX = 8


class StackedLU:
    """Solves with every matrix of a dense stack M, shape (..., S, S), in one call.

    For S ≤ :data:`BATCH_ELIMINATION_MAX` the elimination with partial
    pivoting is vectorised across the stack (:func:`batched_lu`, one
    factorisation for every later solve); above, each solve goes to LAPACK
    matrix by matrix (numpy.linalg.solve, also partially pivoted).  Either way
    each matrix is solved as :class:`DenseLU` solves it alone, to rounding.
    Right-hand sides of shape (S,) or (..., S) broadcast against the stack.

    Raises
    ------
    ValidationError
        (argument ``"M"``, index the batch index) if a matrix of the stack is
        singular or numerically singular (:data:`SINGULAR_RCOND`).
    """

    def __init__(self, M: np.ndarray) -> None:
        self._M = M
        dominant = np.asarray(neumann_bound_holds(M)) if M.shape[-1] else np.ones(M.shape[:-2], bool)
        self._LU = None
        if M.shape[-1] <= BATCH_ELIMINATION_MAX:
            # a strictly row diagonally dominant matrix needs no pivoting (growth factor ≤ 2)
            self._LU = batched_lu(M, pivot=not dominant.all())
        if not dominant.all():
            _check_stack(M, ~dominant)

    def _apply(self, b: np.ndarray, transposed: bool) -> np.ndarray:
        if self._LU is not None:
            return batched_lu_solve(self._LU, b, transposed=transposed)
        M = np.swapaxes(self._M, -1, -2) if transposed else self._M
        return np.linalg.solve(M, np.broadcast_to(b, M.shape[:-1])[..., None])[..., 0]

    def solve(self, b: np.ndarray) -> np.ndarray:
        return self._apply(b, False)

    def solve_transposed(self, b: np.ndarray) -> np.ndarray:
        return self._apply(b, True)


def _check_stack(M: np.ndarray, doubtful: np.ndarray) -> None:
    """Refuse a stack with a singular or numerically singular matrix, naming the first one.

    Only the ``doubtful`` matrices are examined (the others satisfy the
    Neumann bound, which a matrix alone would pass too).  Each is decided on
    the quantity :class:`DenseLU` decides on for that matrix alone, LAPACK's
    estimate of 1/κ₁ from its own LU factors (:func:`rcond_alone`), so the
    decision about one matrix never depends on the others in the stack.
    """
    where = np.argwhere(doubtful)
    for index in where:
        rcond = rcond_alone(np.asarray(M[tuple(index)]))
        if not rcond >= SINGULAR_RCOND:
            refuse_singular(rcond, tuple(int(i) for i in index))


def batched_lu(M: np.ndarray, *, pivot: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """LU factors with partial pivoting of a stack of small matrices, shape (..., S, S).

    Returns ``(LU, perm)``: LU holds the unit lower factor L below the diagonal
    and U on and above it, and ``perm`` (shape (..., S)) the row order, so that
    M[perm] = L U matrix by matrix.  The pivot of step k is the first entry of
    largest modulus in column k on or below the diagonal, LAPACK getrf's choice
    (Golub & Van Loan 2013, §3.4.3; Higham 2002, §9.1), so each matrix is
    factorised as it would be alone; the elimination runs on all matrices at
    once, one numpy operation per step.  Partial pivoting matters off the
    simplex (π with entries outside [0, 1]), where M need not be diagonally
    dominant.  ``pivot=False`` (perm None) is for stacks whose matrices are all
    diagonally dominant by rows, where elimination without pivoting has growth
    factor at most 2 (Higham 2002, §9.5).  A singular matrix leaves a zero
    pivot (inf or nan in its solves); callers check the stack (:class:`StackedLU`).
    """
    LU = np.array(M, copy=True)
    S = LU.shape[-1]
    if not pivot:
        for k in range(S - 1):
            LU[..., k + 1:, k] /= LU[..., k, k, None]
            LU[..., k + 1:, k + 1:] -= LU[..., k + 1:, k, None] * LU[..., k, None, k + 1:]
        return LU, None
    batch = LU.shape[:-2]
    flat = LU.reshape(-1, S, S)
    n = flat.shape[0]
    rows, states = np.arange(n), np.arange(S)
    perm = np.broadcast_to(states, (n, S)).copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(S - 1):
            p = k + np.argmax(np.abs(flat[:, k:, k]), axis=1)
            at_p = states[None, :] == p[:, None]                       # (n, S): row p of each matrix
            row_p, row_k = flat[rows, p], flat[:, k].copy()            # swap rows k and p
            np.copyto(flat, row_k[:, None, :], where=at_p[:, :, None])
            flat[:, k] = row_p
            perm_p, perm_k = perm[rows, p], perm[:, k].copy()
            np.copyto(perm, perm_k[:, None], where=at_p)
            perm[:, k] = perm_p
            flat[:, k + 1:, k] /= flat[:, k, k, None]
            flat[:, k + 1:, k + 1:] -= flat[:, k + 1:, k, None] * flat[:, k, None, k + 1:]
    return flat.reshape(LU.shape), perm.reshape(*batch, S)


def batched_lu_solve(factors: tuple[np.ndarray, np.ndarray | None], b: np.ndarray, *,
                     transposed: bool = False) -> np.ndarray:
    """Solve M x = b (or Mᵀ x = b) for every matrix of a stack factorised by :func:`batched_lu`.

    ``b`` has shape (..., S) broadcastable against the stack; returns (..., S).
    With M[perm] = L U: M x = b is L U x = b[perm]; Mᵀ x = b is Uᵀ Lᵀ y = b with
    x[perm] = y.
    """
    LU, perm = factors
    S = LU.shape[-1]
    shape = np.broadcast_shapes(LU.shape[:-1], np.shape(b))
    x = np.array(np.broadcast_to(b, shape), dtype=np.result_type(LU, b))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if not transposed:
            if perm is not None:
                x = np.take_along_axis(x, np.broadcast_to(perm, shape), axis=-1)
            for i in range(1, S):          # L y = b[perm] (unit diagonal)
                x[..., i] -= np.sum(LU[..., i, :i] * x[..., :i], axis=-1)
            for i in range(S - 1, -1, -1):  # U x = y
                x[..., i] -= np.sum(LU[..., i, i + 1:] * x[..., i + 1:], axis=-1)
                x[..., i] /= LU[..., i, i]
            return x
        for i in range(S):              # Uᵀ z = b
            x[..., i] -= np.sum(LU[..., :i, i] * x[..., :i], axis=-1)
            x[..., i] /= LU[..., i, i]
        for i in range(S - 2, -1, -1):  # Lᵀ y = z (unit diagonal)
            x[..., i] -= np.sum(LU[..., i + 1:, i] * x[..., i + 1:], axis=-1)
        if perm is None:
            return x
        out = np.empty_like(x)
        np.put_along_axis(out, np.broadcast_to(perm, shape), x, axis=-1)
        return out
