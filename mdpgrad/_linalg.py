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
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, Protocol, get_args

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.linalg import blas as _blas

from ._errors import ValidationError
from ._progress import Progress, check_progress, reporter
from ._validation import check_choice, check_memory

try:  # scipy's CSR kernel y += A x, used to multiply without allocating; A @ x otherwise
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
except ImportError:  # pragma: no cover - depends on the scipy version
    _csr_matvec = None

__all__ = ["ACCURACY_MIN_DIGITS", "BATCH_ELIMINATION_MAX", "DOUBLE_DIGITS", "Accuracy", "DeflatedSolver",
           "InaccurateResultError", "InaccurateResultWarning", "check_accuracy", "digits_left",
           "inverse_norm_inf", "rounding_unit", "validate_accuracy", "KRYLOV_MIN_STATES", "KRYLOV_RTOL",
           "KRYLOV_THREAD_MIN_NNZ",
           "REFINED_MIN_STATES", "REFINE_MAX_STEPS", "REFINE_TOL", "SINGULAR_RCOND", "DenseLU",
           "KrylovSolver", "RefinedLU", "Solver", "SolverMethod", "SparseLU", "StackedLU", "batched_lu",
           "batched_lu_solve", "blas_gemm_columns", "blas_gemv", "factorize", "sparse_matvec",
           "validate_solver_method"]

#: How M = I − γP̃^π is solved: "auto" chooses by size and storage (module docstring); "lu" and
#: "refined" are dense, "splu" and "krylov" sparse.
SolverMethod = Literal["auto", "lu", "refined", "splu", "krylov"]
_DENSE_ONLY = ("lu", "refined")
_SPARSE_ONLY = ("splu", "krylov")

#: Batches of systems with at most this many states are solved by elimination
#: vectorised across the batch (one numpy operation per pivot step, for all
#: matrices at once); larger ones go to LAPACK one matrix at a time
#: (numpy.linalg.solve), whose per-matrix call overhead no longer dominates.
BATCH_ELIMINATION_MAX = 8

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

#: Refinement stops once the error estimate ρ·‖dx‖∞ (ρ = ‖dx‖/‖previous dx‖,
#: the observed contraction factor ≈ κ·2⁻²⁴) is below REFINE_TOL·‖x‖∞, i.e. x is
#: accurate to a few ulps; typically after two steps.  At most REFINE_MAX_STEPS.
REFINE_TOL = 1e-15
REFINE_MAX_STEPS = 10

#: Relative residual ‖b − M x‖/‖b‖ at which the Krylov solver stops: 1e-11 is
#: a factor 10 below the 1e-10 promised for large sparse problems (the final
#: check accepts up to 10·rtol), and the forward error is at most
#: cond(M) ≤ (1+γ)/(1−γ) times that.
KRYLOV_RTOL = 1e-11

#: Sparse products with at least this many stored entries are split by rows across
#: min(4, os.cpu_count()) threads (scipy's CSR kernel releases the GIL); below it the cost of
#: handing work to a thread (~50 µs) is not repaid.  Each thread writes its own rows, so the
#: result is bitwise the one-thread product.  Measured on a 10⁶-state slippery gridworld
#: (4·10⁶ entries): 3.5 ms on one thread, 2.0 ms on two.
KRYLOV_THREAD_MIN_NNZ = 500_000

_POOL: list[ThreadPoolExecutor] = []

def _pool() -> ThreadPoolExecutor | None:
    """The shared pool of helper threads for products and vector passes, or None on one core."""
    n = min(4, os.cpu_count() or 1)
    if n < 2:
        return None
    if not _POOL:     # the calling thread works too: n − 1 helpers
        _POOL.append(ThreadPoolExecutor(max_workers=n - 1, thread_name_prefix="mdpgrad-csr"))
    return _POOL[0]


def _parts_count() -> int:
    """How many threads share a product or a vector pass (the caller and the pool's helpers)."""
    pool = _pool()
    return 1 if pool is None else pool._max_workers + 1


#: Vector passes of the Krylov solver work through their range in blocks of this many entries, so
#: that the few temporaries stay in cache (256 KB per array) while numpy's loops stream the vectors.
KRYLOV_BLOCK = 32_768


def _in_parts(f: Callable[[int, int], np.ndarray], n: int) -> np.ndarray:
    """Σ over parts of f(lo, hi): the range 0..n cut into one part per thread (the caller takes the first).

    numpy's loops release the GIL, so the parts run at once; below KRYLOV_THREAD_MIN_NNZ entries
    the whole range is one part.
    """
    pool = _pool()
    k = _parts_count() if n >= KRYLOV_THREAD_MIN_NNZ else 1
    if pool is None or k == 1:
        return f(0, n)
    edges = [n * i // k for i in range(k + 1)]
    futures = [pool.submit(f, lo, hi) for lo, hi in zip(edges[1:-1], edges[2:], strict=True)]
    total = f(edges[0], edges[1])
    for fut in futures:
        total = total + fut.result()
    return total


class _SplitCSR:
    """A CSR matrix cut into row blocks of about equal numbers of entries, multiplied in threads."""

    def __init__(self, B: sp.csr_array) -> None:
        self.B = B
        pool = _pool()
        n_rows = B.shape[0]
        self.blocks: list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]] = []
        if (pool is None or _csr_matvec is None or B.nnz < KRYLOV_THREAD_MIN_NNZ
                or B.indices.dtype != B.indptr.dtype):
            return
        k = _parts_count()
        cuts = np.searchsorted(B.indptr, np.linspace(0, B.nnz, k + 1)[1:-1]).tolist()
        edges = [0, *cuts, n_rows]
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            if hi > lo:
                a, b = int(B.indptr[lo]), int(B.indptr[hi])
                self.blocks.append((lo, hi, B.indptr[lo:hi + 1] - B.indptr[lo], B.indices[a:b], B.data[a:b]))
        self.pool = pool

    def matvec(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out = B x without allocating a result (scipy's CSR kernel accumulates into out)."""
        B = self.B
        if len(self.blocks) > 1:
            n_cols = B.shape[1]

            def part(block: tuple[int, int, np.ndarray, np.ndarray, np.ndarray]) -> None:
                lo, hi, indptr, indices, data = block
                y = out[lo:hi]
                y.fill(0.0)
                _csr_matvec(hi - lo, n_cols, indptr, indices, data, x, y)

            futures = [self.pool.submit(part, blk) for blk in self.blocks[1:]]
            part(self.blocks[0])                 # the calling thread takes the first block
            for f in futures:
                f.result()
            return out
        out.fill(0.0)
        if _csr_matvec is not None and B.indices.dtype == B.indptr.dtype:
            _csr_matvec(B.shape[0], B.shape[1], B.indptr, B.indices, B.data, x, out)
        else:
            out[...] = B @ x
        return out


def sparse_matvec(B: sp.sparray, x: np.ndarray) -> np.ndarray:
    """B @ x for a CSR matrix, split by rows across the cores when B is large (bitwise B @ x)."""
    if not (isinstance(B, sp.csr_array) and x.ndim == 1 and B.dtype == np.float64 and x.dtype == np.float64):
        return np.asarray(B @ x)
    return _SplitCSR(B).matvec(x, np.empty(B.shape[0]))


#: A matrix whose reciprocal condition number 1/κ(M) is below this is singular
#: to working precision, LAPACK's rule (dgesvx returns info = n + 1 "RCOND is
#: less than machine precision"; Anderson et al. 1999, LAPACK Users' Guide,
#: §4.4): a solve would then carry no correct digit, so it is refused.
SINGULAR_RCOND = float(np.finfo(float).eps)


def blas_gemv(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A @ x, through scipy's BLAS (dgemv) for a float64 matrix and vector.

    numpy and scipy may link different OpenBLAS builds, each with its own thread pool whose threads
    spin for a while after a call; a numpy product right before a scipy LAPACK call leaves those
    threads competing with LAPACK's for the cores (a float32 LU of order 2000 measured 30 ms alone,
    58 ms right after a numpy matrix-vector product, 37 ms after scipy's, on 2 cores).  The solvers
    here call LAPACK through scipy, so their products go through scipy's BLAS too.
    """
    if A.dtype == np.float64 and x.dtype == np.float64 and A.ndim == 2 and x.ndim == 1:
        if A.flags.f_contiguous:
            return _blas.dgemv(1.0, A, x)
        if A.flags.c_contiguous:
            return _blas.dgemv(1.0, A.T, x, trans=1)
    return A @ x


def blas_gemm_columns(A: np.ndarray, X: np.ndarray) -> np.ndarray:
    """A @ X for a float64 matrix and a few columns X (S, k), through scipy's BLAS (dgemm), for the
    reason :func:`blas_gemv` gives: A is read once for all k columns (memory-bound, so k = 2 costs
    about what one column does)."""
    if A.dtype == np.float64 and X.dtype == np.float64 and A.ndim == 2 and A.flags.c_contiguous:
        return _blas.dgemm(1.0, A.T, X, trans_a=1)
    return A @ X


def _refuse_singular(rcond: float, index: tuple[int, ...] | None = None) -> None:
    """Raise the error of a singular (rcond = 0) or numerically singular M (argument ``"M"``)."""
    where = "" if index is None else f" (batch index {', '.join(map(str, index))})"
    if not rcond > 0.0:
        why = "is singular"
    else:
        why = (f"is numerically singular: its reciprocal condition number is about {rcond:.3g}, below "
               f"machine precision {SINGULAR_RCOND:.3g}")
    raise ValidationError(f"the matrix M = I − c·P̃^π{where} {why}, so the linear system has no reliable "
                          "solution", argument="M", index=index, value=float(rcond))


def _neumann_bound_holds(M: np.ndarray | sp.sparray) -> np.ndarray | bool:
    """q = ‖I − M‖∞ < 1 with κ₁(M) ≤ S²·(1+q)/(1−q) ≤ 1/SINGULAR_RCOND, per matrix of a stack.

    The Neumann series gives ‖M⁻¹‖∞ ≤ 1/(1 − q) (Higham 2002, §6.2), and
    κ₁ ≤ S²·κ∞ (‖X‖₁ ≤ S‖X‖∞ for X = M and M⁻¹), so a dense matrix that passes
    would pass LAPACK's check alone too (gecon's estimate of κ₁ is a lower bound):
    the shortcut never accepts in a stack what :class:`DenseLU` refuses alone.
    Such an M is also strictly diagonally dominant by rows.  (Sparse matrices
    keep the factor S of :func:`_neumann_bound_holds_for`.)
    """
    S = M.shape[-1]
    if sp.issparse(M):
        return _neumann_bound_holds_for(sp.csr_array(sp.eye_array(S, format="csr", dtype=M.dtype) - M))
    d = np.diagonal(M, axis1=-2, axis2=-1)
    q = (np.abs(M).sum(axis=-1) - np.abs(d) + np.abs(1.0 - d)).max(axis=-1, initial=0.0)
    return (1.0 - q) >= S * S * SINGULAR_RCOND * (1.0 + q)


def _neumann_bound_holds_for(G: sp.csr_array, q: float | None = None) -> bool:
    """The bound of :func:`_neumann_bound_holds` for M = I − G, from G (q = ‖G‖∞ when known)."""
    if q is None:
        q = float(np.max(abs(G).sum(axis=1), initial=0.0))
    return bool((1.0 - q) >= G.shape[0] * SINGULAR_RCOND * (1.0 + q))


def _refuse_if_ill_conditioned(M: sp.sparray, solve: Callable[[np.ndarray], np.ndarray],
                               solve_transposed: Callable[[np.ndarray], np.ndarray]) -> None:
    """Refuse M if its estimated reciprocal condition number is below :data:`SINGULAR_RCOND`."""
    rcond = _estimate_rcond(M, solve, solve_transposed)
    if not rcond >= SINGULAR_RCOND:
        _refuse_singular(rcond)


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


def _lapack_rcond(lu: np.ndarray, norm: float) -> float:
    """LAPACK's estimate of 1/κ₁(M) from M's LU factors and ‖M‖₁ (gecon; 0 when it fails)."""
    (gecon,) = sla.get_lapack_funcs(("gecon",), (lu,))
    rcond, info = gecon(lu, norm, norm="1")
    return float(rcond) if info == 0 else 0.0


def _rcond_alone(M: np.ndarray) -> float:
    """The reciprocal condition number :class:`DenseLU` would decide on for M alone (getrf, gecon)."""
    norm = float(np.abs(M).sum(axis=0).max(initial=0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sla.LinAlgWarning)
        lu = sla.lu_factor(M, check_finite=False)[0]
    pivots = np.abs(np.diagonal(lu))
    if not np.all(np.isfinite(pivots)) or pivots.min(initial=1.0) == 0.0:
        return 0.0
    return _lapack_rcond(lu, norm) if M.shape[0] else 1.0


class Solver(Protocol):
    """A factorised M = I − γP̃^π: solves M x = b and Mᵀ y = b."""

    def solve(self, b: np.ndarray) -> np.ndarray: ...

    def solve_transposed(self, b: np.ndarray) -> np.ndarray: ...


class DenseLU:
    """LU factors of a dense M (LAPACK getrf via scipy.linalg.lu_factor).

    ``overwrite=True`` lets LAPACK factorise M in place (M is then destroyed).
    """

    def __init__(self, M: np.ndarray, *, overwrite: bool = False) -> None:
        S = M.shape[0]
        norm = float(np.abs(M).sum(axis=0).max(initial=0.0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sla.LinAlgWarning)   # a zero pivot: refused just below
            self._lu = sla.lu_factor(M, overwrite_a=overwrite, check_finite=False)
        lu = self._lu[0]
        pivots = np.abs(np.diagonal(lu))
        if S and (not np.all(np.isfinite(pivots)) or pivots.min() == 0.0):
            _refuse_singular(0.0)
        if S:
            rcond = _lapack_rcond(lu, norm)
            if not rcond >= SINGULAR_RCOND:
                _refuse_singular(rcond)

    def solve(self, b: np.ndarray) -> np.ndarray:
        return sla.lu_solve(self._lu, b, check_finite=False)

    def solve_transposed(self, b: np.ndarray) -> np.ndarray:
        return sla.lu_solve(self._lu, b, trans=1, check_finite=False)


class RefinedLU:
    """Dense solves by a single-precision LU refined in double precision.

    M is factorised in float32 (LAPACK sgetrf, 1.4–2× faster than dgetrf
    on a 2-core machine; a row-major M is factorised as Mᵀ, which LAPACK reads
    column-major in place), and each solve is refined in float64 until the correction is
    below ``REFINE_TOL``·‖x‖ (mixed-precision iterative refinement, as in
    LAPACK's dsgesv: Langou et al. 2006; Higham 2002, §12.1).  Each step
    multiplies the error by about κ(M)·2⁻²⁴ with κ(M) ≤ (1+γ)/(1−γ), so for
    γ ≤ 0.999 two or three steps reach double precision.  If a step fails to
    contract the error by half, the solve falls back to a float64 LU, so the
    result is always as accurate as :class:`DenseLU`'s.
    """

    def __init__(self, M: np.ndarray) -> None:
        self._source = M
        self._gamma: float | None = None         # None: _source is M; else M = I − γ·_source
        self._setup(M.astype(np.float32))

    @classmethod
    def from_chain(cls, P_tilde: np.ndarray, gamma: float, *, nonnegative: bool = False) -> RefinedLU:
        """Solver for M = I − γP̃ without forming M in float64.

        ``P_tilde`` is the masked chain P̃^π (:func:`mdpgrad._chains.masked_chain`).
        The float32 matrix is built in one pass from it, and residuals use
        M x = x − γP̃ x, so the float64 S×S matrix M is never stored.

        ``nonnegative=True`` asserts P̃ ≥ 0 entrywise (π on the simplex; the
        caller checks).  Then q = ‖γP̃‖∞ = γ·max row sum (one matrix-vector
        product).  The Neumann series gives ‖M⁻¹‖∞ ≤ 1/(1−q), so κ∞(M) ≤ (1+q)/(1−q)
        (Higham 2002, §6.2); when S·(1+q)/(1−q), which also covers the growth of
        the float32 LU's backward error with S, is at most 2²³ the float32 condition
        estimate (sgecon) is skipped: refinement then contracts by at least ½ per
        step.  Every solve still checks its refinement and falls back to float64 LU.
        """
        self = cls.__new__(cls)
        self._source = P_tilde
        self._gamma = float(gamma)
        S = P_tilde.shape[0]
        known_conditioned = False
        if nonnegative and S:
            rows = blas_gemv(np.asarray(P_tilde, dtype=float), np.ones(S))
            q = abs(self._gamma) * float(np.max(rows)) * (1.0 + 4 * S * np.finfo(float).eps)
            known_conditioned = q < 1.0 and S * (1.0 + q) <= 2.0**23 * (1.0 - q)
        M32 = np.multiply(P_tilde, np.float32(-gamma), dtype=np.float32)
        M32[np.arange(S), np.arange(S)] += np.float32(1.0)
        self._setup(M32, known_conditioned=known_conditioned)
        return self

    def _setup(self, M32: np.ndarray, *, known_conditioned: bool = False) -> None:
        self._fallback: DenseLU | None = None
        #: number of refinement steps of every solve (−1: fell back to float64 LU)
        self.history: list[int] = []
        self._lu32: tuple[np.ndarray, np.ndarray] | None
        # LAPACK works on column-major arrays: a row-major M32 is factorised as its transpose, which is
        # column-major without a copy (in place); solves then swap "N" and "T".
        self._flip = bool(M32.flags.c_contiguous and not M32.flags.f_contiguous)
        F = M32.T if self._flip else M32
        norm32 = 0.0 if known_conditioned else float(np.abs(F).sum(axis=0).max(initial=0.0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sla.LinAlgWarning)   # singular in float32: handled below
            self._lu32 = sla.lu_factor(F, overwrite_a=True, check_finite=False)
        lu32 = self._lu32[0]
        pivots = np.abs(np.diagonal(lu32))
        usable = bool(np.all(np.isfinite(pivots)) and pivots.min(initial=1.0) > 0.0)
        if usable and lu32.shape[0] and not known_conditioned:
            # refinement contracts the error by about κ(M)·2⁻²⁴ per step: useless once κ ≥ 2²³
            rcond32, info = sla.lapack.sgecon(lu32, norm32, norm="1")
            usable = info == 0 and float(rcond32) >= 2.0**-23
        if not usable:
            self._lu32 = None                                   # use the float64 LU for every solve
            self._lu64()                                        # which refuses a singular M now

    def _matvec(self, x: np.ndarray, trans: int) -> np.ndarray:
        """M x (or Mᵀ x) in float64."""
        B = self._source.T if trans else self._source
        Bx = blas_gemv(B, x)
        return Bx if self._gamma is None else x - self._gamma * Bx

    def _lu64(self) -> DenseLU:
        if self._fallback is None:
            M = self._source
            if self._gamma is not None:
                M = np.eye(M.shape[0]) - self._gamma * M
            self._fallback = DenseLU(M)
        return self._fallback

    def _apply(self, b: np.ndarray, trans: int) -> np.ndarray:
        b = np.asarray(b)
        if np.iscomplexobj(b):
            return self._apply(b.real, trans) + 1j * self._apply(b.imag, trans)
        b = np.asarray(b, dtype=float)
        if self._lu32 is None:
            self.history.append(-1)
            return self._lu64().solve_transposed(b) if trans else self._lu64().solve(b)
        lu32 = self._lu32
        t32 = 1 - trans if self._flip else trans         # the factors are of Mᵀ when _flip
        x = sla.lu_solve(lu32, b.astype(np.float32), trans=t32, check_finite=False).astype(float)
        previous = float(np.max(np.abs(x))) if x.size else 0.0
        for step in range(1, REFINE_MAX_STEPS + 1):
            dx = sla.lu_solve(lu32, (b - self._matvec(x, trans)).astype(np.float32), trans=t32,
                              check_finite=False).astype(float)
            x += dx
            size = float(np.max(np.abs(dx))) if dx.size else 0.0
            if not np.isfinite(size) or size > 0.5 * previous:
                break                                   # not contracting: κ(M)·2⁻²⁴ too large
            # the error left in x is about (contraction factor)·‖dx‖ = (‖dx‖/‖previous dx‖)·‖dx‖
            if size == 0.0 or size * (size / previous) <= REFINE_TOL * float(np.max(np.abs(x))):
                self.history.append(step)
                return x
            previous = size
        self.history.append(-1)
        lu = self._lu64()
        return lu.solve_transposed(b) if trans else lu.solve(b)

    def solve(self, b: np.ndarray) -> np.ndarray:
        return self._apply(b, 0)

    def solve_transposed(self, b: np.ndarray) -> np.ndarray:
        return self._apply(b, 1)


class SparseLU:
    """SuperLU factors of a sparse M (scipy.sparse.linalg.splu)."""

    def __init__(self, M: sp.sparray, *, check: bool = True) -> None:
        M = sp.csc_matrix(M)
        self._dtype = M.dtype
        try:
            self._lu = spla.splu(M)
        except RuntimeError:                    # SuperLU: "Factor is exactly singular"
            _refuse_singular(0.0)
        if check and not _neumann_bound_holds(M):
            _refuse_if_ill_conditioned(M, self.solve, self.solve_transposed)

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


class KrylovSolver:
    """M x = b and Mᵀ y = b for M = I − G (G = γP̃^π) by preconditioned BiCGSTAB.

    Preconditioner: the first two terms of the Neumann series M⁻¹ = Σ Gᵏ,
    applied on the right: with x = (I + G) y the system becomes
    (I − G²) y = b, whose residual is exactly b − M x (Dubois, Greenbaum &
    Rodrigue 1979; Saad 2003, §12.3).  Squaring folds the spectrum: an
    eigenvalue λ of G becomes 1 − λ², so the eigenvalues near −γ that
    bipartite-like chains (a gridworld) put at the far end of the disc
    |z − 1| ≤ γ move next to those near +γ, and BiCGSTAB (van der Vorst 1992;
    Saad 2003, §7.4.2) needs about half the steps at the same number of sparse
    products (four per step), with half the vector updates.

    It runs until ‖b − M x‖ ≤ rtol·‖b‖ and checks that with a fresh product.
    Work per step is linear in nnz(M); the number of steps depends on γ, not
    on S.  Large systems are memory-bound, so each half step's vector updates
    and inner products are fused into one pass over the vectors, in cache-sized
    blocks, and every pass and product is shared by the cores (the calling
    thread and :func:`_pool`'s helpers; numpy's loops and scipy's CSR kernel
    release the GIL).  A step then streams 23 vectors through memory instead of
    the 35 of one BLAS call per update.  Should a solve fail to converge, the
    solver falls back to a sparse LU (:class:`SparseLU`), so an answer is always
    exact to rounding.

    Tiny values are flushed to zero in the iteration vectors every few steps:
    a point source (ρ₀ = δ) otherwise grows subnormal tails, which slow float
    arithmetic by orders of magnitude; the change is below 1e-290 relative.

    Raises
    ------
    ValidationError
        (argument ``"M"``) if G, Gᵀ and the work vectors, 2·(nnz + S)·(value
        + index bytes) + 128·S bytes, would exceed :func:`mdpgrad.set_memory_limit`.
    """

    def __init__(self, M: sp.sparray, *, rtol: float = KRYLOV_RTOL, maxiter: int = 2_000,
                 progress: Progress = None) -> None:
        M = sp.csr_array(M)
        self._setup(M, is_chain=False, rtol=rtol, maxiter=maxiter, q=None)
        self.progress = check_progress(progress)

    @classmethod
    def from_chain(cls, P_tilde: sp.sparray, gamma: float, *, nonnegative: bool = False,
                   rtol: float = KRYLOV_RTOL, maxiter: int = 2_000,
                   progress: Progress = None) -> KrylovSolver:
        """Solver for M = I − γP̃ that never forms M (it is built only if a solve falls back to LU).

        ``P_tilde`` is the masked chain P̃^π (:func:`mdpgrad._chains.masked_chain`); G = γP̃ is one
        scaled copy of it, and residuals use M x = x − G x.  ``nonnegative=True`` asserts P̃ ≥ 0
        (π on the simplex; the caller checks): then ‖G‖∞ = |γ|·(largest row sum of P̃).
        ``progress`` reports the iterations of every later solve.
        """
        self = cls.__new__(cls)
        P_tilde = sp.csr_array(P_tilde)
        G = sp.csr_array(P_tilde * float(gamma))            # new entries and indices: P̃ stays as it is
        q = None
        if nonnegative:            # ‖G‖∞ is |γ| times the largest row sum of P̃ ≥ 0
            q = abs(float(gamma)) * float(np.max(P_tilde @ np.ones(P_tilde.shape[1]), initial=0.0))
        self._setup(G, is_chain=True, rtol=rtol, maxiter=maxiter, q=q)
        self.progress = check_progress(progress)
        return self

    def _setup(self, B: sp.csr_array, *, is_chain: bool, rtol: float, maxiter: int,
               q: float | None) -> None:
        """Store G (B itself, or I − B when B is M) and Gᵀ split for threads; check memory and κ(M)."""
        S = B.shape[0]
        # G and Gᵀ (entries, column indices, row pointers) and the ten work vectors of BiCGSTAB
        check_memory(2 * (B.nnz + S) * (B.data.itemsize + B.indices.itemsize) + 16 * 8 * S,
                     f"the Krylov solver of a {S}-state chain with {B.nnz} transitions", "M")
        G = B if is_chain else sp.csr_array(sp.eye_array(S, format="csr", dtype=B.dtype) - B)
        M: sp.csr_array | None = None if is_chain else B
        self._M_stored = M
        self._G = G
        self._GT = sp.csr_array(G.T)
        for part in (self._G, self._GT):
            part.sort_indices()
        self._split = {id(self._G): _SplitCSR(self._G), id(self._GT): _SplitCSR(self._GT)}
        self.rtol = float(rtol)
        self.maxiter = int(maxiter)
        #: Where the iterations of each solve are reported.
        self.progress = None
        self._fallback: SparseLU | None = None
        #: (iterations, relative residual) of every solve, in order
        self.history: list[tuple[int, float]] = []
        if not _neumann_bound_holds_for(self._G, q):
            # no a-priori bound on κ(M) (γ = 1, or π off the simplex): estimate it from a few solves
            # (a solve that does not converge falls back to the sparse LU, which checks M itself)
            _refuse_if_ill_conditioned(self._M, self.solve, self.solve_transposed)
            self.history.clear()

    @property
    def _M(self) -> sp.csr_array:
        """M = I − G, formed on first use (the LU fallback and the condition estimate need it)."""
        if self._M_stored is None:
            S = self._G.shape[0]
            self._M_stored = sp.csr_array(sp.eye_array(S, format="csr", dtype=self._G.dtype) - self._G)
        return self._M_stored

    def _matvec(self, B: sp.csr_array, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out = B x (B is G or Gᵀ) without allocating."""
        return self._split[id(B)].matvec(x, out)

    def _bicgstab(self, G: sp.csr_array, b: np.ndarray) -> np.ndarray | None:
        """BiCGSTAB on (I − G²) y = b, x = (I + G) y.

        The vector updates and inner products of each half step are fused into one pass over
        the vectors (``_in_parts``: blocks of KRYLOV_BLOCK entries, one part per thread), so each
        vector is read once per pass instead of once per update.
        """
        n = b.size
        bnorm = float(np.linalg.norm(b))
        if bnorm == 0.0:
            self.history.append((0, 0.0))
            return np.zeros_like(b)
        y = np.zeros(n)                          # iterate of (I − G²) y = b; x = (I + G) y
        r = b.copy()                             # residual b − (I − G²) y
        rhat = b.copy()                          # shadow residual
        p, v, t, tmp = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
        goal = (self.rtol * bnorm) ** 2
        tiny = 1e-290 * float(np.max(np.abs(b)))
        alpha = omega = beta = 1.0               # read by the passes when they run

        def blocks(lo: int, hi: int) -> Iterator[tuple[slice, np.ndarray]]:
            work = np.empty(min(KRYLOV_BLOCK, hi - lo))
            for a in range(lo, hi, KRYLOV_BLOCK):
                e = min(a + KRYLOV_BLOCK, hi)
                yield slice(a, e), work[:e - a]

        def new_direction(lo: int, hi: int) -> np.ndarray:       # p = r + β (p − ω v)
            for i, w in blocks(lo, hi):
                P = p[i]
                np.multiply(v[i], omega, out=w)
                np.subtract(P, w, out=P)
                P *= beta
                P += r[i]
            return np.zeros(1)

        def finish_v(lo: int, hi: int) -> np.ndarray:            # v = p − G²p (v held G²p); r̂·v
            acc = 0.0
            for i, w in blocks(lo, hi):
                V = v[i]
                np.subtract(p[i], V, out=V)
                acc += float(np.add.reduce(np.multiply(rhat[i], V, out=w)))
            return np.array([acc])

        def half_step(lo: int, hi: int) -> np.ndarray:           # r ← s = r − α v, y += α p; ‖s‖²
            acc = 0.0
            for i, w in blocks(lo, hi):
                R, Y = r[i], y[i]
                np.multiply(v[i], alpha, out=w)
                R -= w
                np.multiply(p[i], alpha, out=w)
                Y += w
                acc += float(np.add.reduce(np.multiply(R, R, out=w)))
            return np.array([acc])

        def finish_t(lo: int, hi: int) -> np.ndarray:            # t = s − G²s; t·t, t·s
            tt = ts = 0.0
            for i, w in blocks(lo, hi):
                T, R = t[i], r[i]
                np.subtract(R, T, out=T)
                tt += float(np.add.reduce(np.multiply(T, T, out=w)))
                ts += float(np.add.reduce(np.multiply(T, R, out=w)))
            return np.array([tt, ts])

        def full_step(lo: int, hi: int) -> np.ndarray:           # y += ω s, r = s − ω t; r̂·r, ‖r‖²
            rr = ss = 0.0
            for i, w in blocks(lo, hi):
                R, Y = r[i], y[i]
                np.multiply(R, omega, out=w)
                Y += w
                np.multiply(t[i], omega, out=w)
                R -= w
                rr += float(np.add.reduce(np.multiply(rhat[i], R, out=w)))
                ss += float(np.add.reduce(np.multiply(R, R, out=w)))
            return np.array([rr, ss])

        def square(x: np.ndarray, out: np.ndarray) -> None:      # out = G²x
            self._matvec(G, x, tmp)
            self._matvec(G, tmp, out)

        rho = 1.0
        rho_new = float(rhat @ r)
        it = 0
        rep = reporter(self.progress, self.maxiter, f"Krylov solve ({n} states)")
        for it in range(1, self.maxiter + 1):
            rep.update(it - 1)
            if rho_new == 0.0 or omega == 0.0:
                break
            beta = (rho_new / rho) * (alpha / omega)
            _in_parts(new_direction, n)
            square(p, v)
            denom = float(_in_parts(finish_v, n)[0])
            if denom == 0.0:
                break
            alpha = rho_new / denom
            if _in_parts(half_step, n)[0] <= goal:
                break
            square(r, t)
            tt, ts = _in_parts(finish_t, n)
            omega = ts / tt if tt > 0 else 0.0
            rho = rho_new
            rho_new, rr = (float(z) for z in _in_parts(full_step, n))
            if it % 16 == 0:
                for w in (r, p, v, y):
                    w[np.abs(w) < tiny] = 0.0
            if rr <= goal:
                break
        x = y + self._matvec(G, y, tmp)
        self._matvec(G, x, tmp)                  # b − M x = b − x + G x, from scratch
        tmp += b
        tmp -= x
        resid = float(np.linalg.norm(tmp)) / bnorm
        self.history.append((it, resid))
        converged = resid <= 10 * self.rtol
        rep.finish(f"{'converged' if converged else 'NOT converged (sparse LU next)'} after {it} iterations, "
                   f"relative residual {resid:.2g}")
        return x if converged else None

    def _apply(self, b: np.ndarray, transposed: bool) -> np.ndarray:
        b = np.asarray(b)
        if np.iscomplexobj(b):
            return self._apply(b.real, transposed) + 1j * self._apply(b.imag, transposed)
        b = np.array(b, dtype=float)
        if b.ndim == 2:
            return np.stack([self._apply(b[:, j], transposed) for j in range(b.shape[1])], axis=1)
        x = self._bicgstab(self._GT if transposed else self._G, b)
        if x is None:                           # no convergence: exact sparse LU instead
            if self._fallback is None:
                self._fallback = SparseLU(self._M)
            x = self._fallback.solve_transposed(b) if transposed else self._fallback.solve(b)
        return x

    def solve(self, b: np.ndarray) -> np.ndarray:
        return self._apply(b, False)

    def solve_transposed(self, b: np.ndarray) -> np.ndarray:
        return self._apply(b, True)


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
        dominant = np.asarray(_neumann_bound_holds(M)) if M.shape[-1] else np.ones(M.shape[:-2], bool)
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
    estimate of 1/κ₁ from its own LU factors (:func:`_rcond_alone`), so the
    decision about one matrix never depends on the others in the stack.
    """
    where = np.argwhere(doubtful)
    for index in where:
        rcond = _rcond_alone(np.asarray(M[tuple(index)]))
        if not rcond >= SINGULAR_RCOND:
            _refuse_singular(rcond, tuple(int(i) for i in index))


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


# --- accuracy: forward-error estimates and the refusal of results that are noise -------------------------

#: What a call does with a result whose estimated forward error leaves fewer than
#: ``ACCURACY_MIN_DIGITS`` significant digits: "refuse" raises
#: :class:`InaccurateResultError` (the default everywhere), "warn" returns it with an
#: :class:`InaccurateResultWarning`, "ignore" returns it silently.
Accuracy = Literal["refuse", "warn", "ignore"]

#: Significant decimal digits of a double, −log₁₀ ε.
DOUBLE_DIGITS = float(-np.log10(np.finfo(float).eps))

#: A result is refused when its estimated error leaves fewer than this many significant
#: digits relative to its scale.  Six digits: well above the 1–3 digits that an error
#: *estimate* may be off by (condition estimators are within a factor 3 or so, and the
#: bounds used here are worst-case in the rounding constants; Higham 2002, §15.3), so a
#: result that passes has at least 3 correct digits even when the estimate is
#: optimistic, and well below the ≈ 15.6 digits of a double, so that an ordinary model
#: (κ of M up to 10⁶, offsets up to 10⁴ times the spread of the rewards) is never refused.
ACCURACY_MIN_DIGITS = 6.0


class InaccurateResultError(ValidationError):
    """A numeric result whose estimated forward error leaves too few significant digits.

    Raised when fewer than ``ACCURACY_MIN_DIGITS`` digits would remain; the
    message gives the estimated relative error, the digits left and what to do.
    ``argument`` names the call's input most responsible (``"mdp"`` for an
    ill-conditioned model), ``value`` is the estimated relative error.
    """


class InaccurateResultWarning(UserWarning):
    """``accuracy="warn"``: the result returned has fewer than ACCURACY_MIN_DIGITS digits."""


InaccurateResultError.__module__ = InaccurateResultWarning.__module__ = "mdpgrad"


def validate_accuracy(value: object) -> Accuracy:
    """``value`` as one of "refuse", "warn", "ignore"; else a ValidationError naming ``accuracy``."""
    return check_choice(value, "accuracy", get_args(Accuracy))


def rounding_unit(terms: int, eps: float | None = None) -> float:
    """(terms + 2)·ε: the rounding error bound, relative to the sum of |terms|, of an inner product
    of ``terms`` products followed by one addition (Higham 2002, §3.1, γ_n ≈ nε).

    ``eps``: the machine epsilon of the arithmetic (default float64's; np.longdouble's for a
    residual formed in extended precision)."""
    return (float(terms) + 2.0) * (float(np.finfo(float).eps) if eps is None else float(eps))


def digits_left(error: float, scale: float) -> float:
    """−log₁₀(error / scale) clipped to [0, DOUBLE_DIGITS]; DOUBLE_DIGITS for an error of 0."""
    if not error > 0.0 or scale == np.inf:
        return DOUBLE_DIGITS if error == 0.0 or (scale == np.inf and np.isfinite(error)) else 0.0
    if not scale > 0.0 or not np.isfinite(error):
        return 0.0
    return float(np.clip(-np.log10(error / scale), 0.0, DOUBLE_DIGITS))


def check_accuracy(what: str, error: np.ndarray | float, scale: np.ndarray | float, accuracy: Accuracy,
                   advice: str, argument: str = "mdp") -> None:
    """Refuse (or warn about) a result with fewer than ``ACCURACY_MIN_DIGITS`` digits left.

    ``error`` and ``scale`` are per result of a batch (same shape; scalars for one
    result); the first result of the batch that fails is named.
    """
    if accuracy == "ignore":
        return
    err = np.atleast_1d(np.asarray(error, dtype=float))
    sc = np.broadcast_to(np.atleast_1d(np.asarray(scale, dtype=float)), err.shape)
    bad = ~(err <= 10.0 ** -ACCURACY_MIN_DIGITS * sc)
    if not bad.any():
        return
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    e, s = float(err[idx]), float(sc[idx])
    digits = digits_left(e, s)
    where = f" (batch index {', '.join(map(str, idx))})" if np.ndim(error) else ""
    rel = e / s if s > 0 else np.inf
    msg = (f"{what}{where} is not reliable: its estimated relative error is {rel:.2g}, so about "
           f"{digits:.1f} significant digits are left (fewer than {ACCURACY_MIN_DIGITS:g}); {advice}; "
           "accuracy='warn' or accuracy='ignore' returns it anyway")
    if accuracy == "warn":
        warnings.warn(msg, InaccurateResultWarning, stacklevel=3)
        return
    raise InaccurateResultError(msg, argument=argument, index=idx if np.ndim(error) else None, value=rel)


def inverse_norm_inf(solve: Callable[[np.ndarray], np.ndarray],
                     solve_transposed: Callable[[np.ndarray], np.ndarray],
                     shape: tuple[int, ...]) -> np.ndarray:
    """‖M⁻¹‖∞ = ‖M⁻ᵀ‖₁ for every matrix of a stack of shape (..., S, S), estimated from solves.

    Hager's method in Higham's form (Hager 1984; Higham 1988; Higham 2002,
    Algorithm 15.4) applied to B = M⁻ᵀ (B x = ``solve_transposed(x)``,
    Bᵀ x = ``solve(x)``), vectorised over the stack with at most 4 rounds, and
    Higham's extra vector bᵢ = (−1)ⁱ⁺¹(1 + (i−1)/(S−1)) guarding against the
    rare cases where the iteration stops at a local maximum.  The estimate is a
    lower bound and in practice within a factor 3 (usually exact).  For S ≤ 4
    the norm is computed exactly from the inverse.

    Returns
    -------
    ndarray, shape (...)
    """
    batch, S = tuple(shape[:-2]), int(shape[-1])
    if S == 0:
        return np.zeros(batch)
    with np.errstate(all="ignore"):
        if S <= 4:
            rows = [np.abs(solve_transposed(np.broadcast_to(np.eye(S)[j], (*batch, S)).copy())).sum(axis=-1)
                    for j in range(S)]                  # M⁻ᵀe_j is row j of M⁻¹
            return np.max(np.stack(rows, axis=-1), axis=-1)
        x = np.full((*batch, S), 1.0 / S)
        best = np.zeros(batch)
        for _ in range(4):
            y = solve_transposed(x)
            best = np.maximum(best, np.abs(y).sum(axis=-1))
            z = solve(np.where(y >= 0, 1.0, -1.0))
            j = np.argmax(np.abs(z), axis=-1)
            x = (np.arange(S) == j[..., None]).astype(float)
        alt = np.where(np.arange(S) % 2 == 0, 1.0, -1.0) * (1.0 + np.arange(S) / (S - 1))
        extra = np.abs(solve_transposed(np.broadcast_to(alt, (*batch, S)).copy())).sum(axis=-1)
        extra *= 2.0 / (3 * S)
    est = np.maximum(best, extra)
    return np.where(np.isfinite(est), est, np.inf)


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
