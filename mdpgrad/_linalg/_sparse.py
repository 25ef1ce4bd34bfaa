"""Sparse solves of M = I − γP̃^π: SuperLU, or preconditioned BiCGSTAB with products split across the cores.

* :class:`SparseLU`: SuperLU, one factor for v and η;
* :class:`KrylovSolver`: preconditioned BiCGSTAB.  Sparse LU fill grows faster
  than S on grid-like chains (1.45·10⁸ factor entries for a 1000 × 1000
  gridworld), while a Krylov step costs O(nnz) and the number of steps is set
  by γ, not by S.  Its sparse products are split by rows across the cores
  (:data:`KRYLOV_THREAD_MIN_NNZ`), bitwise the one-thread product, its vector
  updates are fused passes shared by the cores, ``evaluate`` builds it from
  G = γP̃^π directly (:meth:`KrylovSolver.from_chain`), and its storage (G, Gᵀ
  and the work vectors) is checked against :func:`mdpgrad.set_memory_limit`
  before anything is allocated.

:func:`sparse_matvec` is the same row-split product for any CSR matrix.  The
tests check that the split product equals the unsplit one bit for bit and that
the Krylov solves agree with a direct sparse solve.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._progress import Progress, check_progress, reporter
from .._validation import check_memory
from ._base import neumann_bound_holds, neumann_bound_holds_for, refuse_if_ill_conditioned, refuse_singular

try:  # scipy's CSR kernel y += A x, used to multiply without allocating; A @ x otherwise
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
except ImportError:  # pragma: no cover - depends on the scipy version
    _csr_matvec = None

__all__ = ["KRYLOV_BLOCK", "KRYLOV_RTOL", "KRYLOV_THREAD_MIN_NNZ", "KrylovSolver", "SparseLU",
           "sparse_matvec"]

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


class SparseLU:
    """SuperLU factors of a sparse M (scipy.sparse.linalg.splu)."""

    def __init__(self, M: sp.sparray, *, check: bool = True) -> None:
        M = sp.csc_matrix(M)
        self._dtype = M.dtype
        try:
            self._lu = spla.splu(M)
        except RuntimeError:                    # SuperLU: "Factor is exactly singular"
            refuse_singular(0.0)
        if check and not neumann_bound_holds(M):
            refuse_if_ill_conditioned(M, self.solve, self.solve_transposed)

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
        if not neumann_bound_holds_for(self._G, q):
            # no a-priori bound on κ(M) (γ = 1, or π off the simplex): estimate it from a few solves
            # (a solve that does not converge falls back to the sparse LU, which checks M itself)
            refuse_if_ill_conditioned(self._M, self.solve, self.solve_transposed)
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
