"""Dense solves of M = I − γP̃^π: LAPACK LU in float64, or in float32 refined in float64.

* :class:`DenseLU`: LAPACK LU in float64 (getrf), refused when LAPACK's estimate
  of 1/κ₁(M) (gecon) is below :data:`~mdpgrad._linalg.SINGULAR_RCOND`;
* :class:`RefinedLU`: LU in float32 refined in float64, the LAPACK dsgesv
  scheme; the float32 factorisation is 1.4–2× faster (OpenBLAS, 2-core AVX-512
  machine, S = 2000) and two refinement steps (one matrix-vector product each)
  restore double precision, with a float64 fallback when κ(M) is too large for
  float32.

The products of the refinement go through scipy's BLAS (:func:`blas_gemv`,
:func:`blas_gemm_columns`), the library whose LAPACK factorises M.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg as sla
from scipy.linalg import blas as _blas

from ._base import SINGULAR_RCOND, refuse_singular

__all__ = ["REFINE_MAX_STEPS", "REFINE_TOL", "DenseLU", "RefinedLU", "blas_gemm_columns", "blas_gemv",
           "rcond_alone"]

#: Refinement stops once the error estimate ρ·‖dx‖∞ (ρ = ‖dx‖/‖previous dx‖,
#: the observed contraction factor ≈ κ·2⁻²⁴) is below REFINE_TOL·‖x‖∞, i.e. x is
#: accurate to a few ulps; typically after two steps.  At most REFINE_MAX_STEPS.
REFINE_TOL = 1e-15
REFINE_MAX_STEPS = 10


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


def _lapack_rcond(lu: np.ndarray, norm: float) -> float:
    """LAPACK's estimate of 1/κ₁(M) from M's LU factors and ‖M‖₁ (gecon; 0 when it fails)."""
    (gecon,) = sla.get_lapack_funcs(("gecon",), (lu,))
    rcond, info = gecon(lu, norm, norm="1")
    return float(rcond) if info == 0 else 0.0


def rcond_alone(M: np.ndarray) -> float:
    """The reciprocal condition number :class:`DenseLU` would decide on for M alone (getrf, gecon)."""
    norm = float(np.abs(M).sum(axis=0).max(initial=0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sla.LinAlgWarning)
        lu = sla.lu_factor(M, check_finite=False)[0]
    pivots = np.abs(np.diagonal(lu))
    if not np.all(np.isfinite(pivots)) or pivots.min(initial=1.0) == 0.0:
        return 0.0
    return _lapack_rcond(lu, norm) if M.shape[0] else 1.0


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
            refuse_singular(0.0)
        if S:
            rcond = _lapack_rcond(lu, norm)
            if not rcond >= SINGULAR_RCOND:
                refuse_singular(rcond)

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
