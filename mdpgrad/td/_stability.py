"""Stability of an expected update w ← w + α u(w): the eigenvalues of its Jacobian.

The expected iteration w ← w + α(A w + b) converges for small α > 0 iff every eigenvalue
of A has Re λ < 0, and grows along an eigenvector with Re λ > 0 for every α > 0 (Sutton &
Barto 2018, §9.4 and §11.2; Baird 1995).  Coordinates whose row and column of A are
exactly zero never move and move nothing (the terminal states of an on-policy weighted TD
field, which weights them 0): :func:`stability` sets them aside, reports them, and decides
on the remaining block.

Identities checked by the tests: hand-computed spectra of 2 × 2 matrices; on-policy TD(0)
on the random walk converges with its two terminal states set aside; Baird's
counterexample diverges under its behaviour weighting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._chains import Matrix
from .._display import compact_repr
from .._errors import ValidationError
from .._validation import check_memory, check_tolerance, format_number
from ._common import as_values, check_sparse_entries

__all__ = ["EIGENVALUE_ATOL", "Stability", "stability"]

#: Eigenvalues with |Re λ| below this (relative to max|λ|) count as zero: an
#: eigen-solver returns them to ≈ n·ε·‖A‖, far below 1e-10 for the sizes here.
EIGENVALUE_ATOL = 1e-10


def _dense(X: Any) -> np.ndarray:
    return X.toarray() if sp.issparse(X) else np.asarray(X)


@dataclass(frozen=True, eq=False)
class Stability:
    """Eigenvalues of an update's Jacobian and what they say about w ← w + α u(w).

    Attributes
    ----------
    eigenvalues : ndarray, shape (k,)
        Sorted by decreasing real part; all k of them, the fixed directions'
        zeros included.
    max_real : float
        The largest real part off the fixed directions (0 when every
        direction is fixed).
    diverges : bool
        Some eigenvalue has Re λ > 0: the expected iteration grows along it for
        every step size α > 0.
    converges : bool
        Every eigenvalue off the fixed directions has Re λ < 0: the iteration
        converges for small α (the fixed directions keep their initial value).
    n_neutral : int
        Eigenvalues with Re λ = 0 (within tolerance) off the fixed directions,
        e.g. the null space of Φ.
    fixed_directions : tuple of int
        Coordinates whose row and column of the Jacobian are exactly zero: the
        update never moves them and they move nothing (terminal states under an
        on-policy weighting, which gives them weight 0).  Each contributes an
        eigenvalue 0 to ``eigenvalues`` and is left out of the decision.
    """

    eigenvalues: np.ndarray
    max_real: float
    diverges: bool
    converges: bool
    n_neutral: int
    fixed_directions: tuple[int, ...] = ()

    __repr__ = compact_repr

    def __str__(self) -> str:
        word = "diverges" if self.diverges else "converges" if self.converges else "does not converge"
        k = self.eigenvalues.size - len(self.fixed_directions)
        fd = self.fixed_directions
        shown = ", ".join(map(str, fd[:6])) + (", ..." if len(fd) > 6 else "")
        fixed = f"; {len(fd)} fixed directions set aside: {shown}" if fd else ""
        return (f"Stability: {word} — largest Re λ {self.max_real:.3g} over {k} directions "
                f"({self.n_neutral} neutral){fixed}")


def stability(jacobian: ArrayLike | Matrix, *, atol: float = EIGENVALUE_ATOL) -> Stability:
    """Eigenvalues of a square Jacobian; stable iff all real parts are negative.

    The expected iteration w ← w + α(A w + b) converges for small α > 0 iff
    every eigenvalue of A has Re λ < 0 (Sutton & Barto 2018, §9.4 and §11.2).
    Coordinates whose row and column are exactly zero (terminal states of an
    on-policy weighted TD field) are never moved: they are reported in
    ``fixed_directions`` and the decision is taken on the remaining block.

    Parameters
    ----------
    jacobian : array_like or sparse, shape (k, k)
        Real or complex, finite.
    atol : float, optional
        Relative tolerance: ``|Re λ| ≤ atol·max(1, max|λ|)`` counts as zero.

    Returns
    -------
    Stability

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad.td import stability
    >>> s = stability(np.array([[-1.0, 2.0], [0.0, 0.5]]))
    >>> s.eigenvalues.real.tolist(), s.diverges
    ([0.5, -1.0], True)
    >>> stability(np.diag([0.0, -1.0])).fixed_directions, stability(np.diag([0.0, -1.0])).converges
    ((0,), True)
    """
    atol = check_tolerance(atol, "atol")
    if sp.issparse(jacobian):
        sparse: Any = jacobian
        shape = tuple(sparse.shape)
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValidationError(f"jacobian has shape {shape}; expected a square matrix",
                                  argument="jacobian", value=shape)
        check_sparse_entries(sparse, "jacobian")
        _check_eigen_memory(shape[0], np.dtype(sparse.dtype).kind == "c")
    J = as_values(_dense(jacobian) if sp.issparse(jacobian) else jacobian, None, "jacobian")
    if J.ndim != 2 or J.shape[0] != J.shape[1]:
        raise ValidationError(f"jacobian has shape {J.shape}; expected a square matrix",
                              argument="jacobian", value=J.shape)
    _check_eigen_memory(J.shape[0], np.iscomplexobj(J))
    idle = ~np.any(J != 0, axis=1) & ~np.any(J != 0, axis=0)
    fixed = tuple(int(k) for k in np.flatnonzero(idle))
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            block = np.linalg.eigvals(J[np.ix_(~idle, ~idle)])
            ev = np.concatenate([block, np.zeros(len(fixed), dtype=block.dtype)])
    except np.linalg.LinAlgError as exc:
        raise ValidationError(f"the eigenvalues of jacobian did not converge ({exc})", argument="jacobian",
                              value=J.shape) from None
    if not np.isfinite(ev).all():
        raise ValidationError("the eigenvalues of jacobian overflow float64: its entries are too large "
                              f"(max |J| = {format_number(np.abs(J).max())})", argument="jacobian",
                              value=float(np.abs(J).max()))
    ev = ev[np.argsort(-ev.real, kind="stable")]
    tol = atol * max(1.0, float(np.abs(ev).max()) if ev.size else 0.0)
    re, re_block = ev.real, block.real     # the fixed directions add exact zeros to ev
    return Stability(eigenvalues=ev, max_real=float(re_block.max()) if block.size else 0.0,
                     diverges=bool((re > tol).any()), converges=bool((re_block < -tol).all()),
                     n_neutral=int((np.abs(re_block) <= tol).sum()), fixed_directions=fixed)


def _check_eigen_memory(k: int, complex_: bool) -> None:
    """The eigen-solver works on a dense k × k copy (float64 or complex128) of the Jacobian."""
    item = 16 if complex_ else 8
    check_memory(float(item) * k * k, f"the eigenvalues of a {k} x {k} matrix (a dense working copy)",
                 "jacobian")
