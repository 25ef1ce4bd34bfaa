"""Is a square matrix symmetric?  If not, where is it least symmetric?

A continuously differentiable field F is a gradient only if its Jacobian is
symmetric, ∂F_i/∂θ_j = ∂F_j/∂θ_i (Schwarz's theorem; Apostol 1969, §10.14), so
the verdict on a Jacobian is the verdict on the field.  For the TD
semi-gradient the Jacobian is D(γPΠ − I), symmetric exactly when the weighted
state-action chain satisfies detailed balance (Ollivier 2018).

:func:`~mdpgrad.fields.symmetry_verdict` decides symmetry within a tolerance scaled to max|M|
and names the witness pair (i, j) of largest |M[i, j] − M[j, i]|, decoded to
state-action pairs x = s·A + a when asked; sparse matrices stay sparse.

Identities checked by the tests: hand-derived witnesses and antisymmetric
norms on 3 × 3 matrices; BBᵀ is symmetric within rounding; dense and sparse
inputs give the same verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._display import compact_repr
from .._errors import ValidationError
from .._validation import (
    as_real_array,
    check_finite,
    check_integer,
    check_tolerance,
    first_index,
    format_index,
    format_number,
)

__all__ = ["SYMMETRY_RTOL", "SymmetryVerdict", "symmetry_verdict"]

#: Relative tolerance of :func:`~mdpgrad.fields.symmetry_verdict`, against max|M|.  Closed-form
#: Jacobians are exact up to rounding in one matrix product and in the weighting
#: (a stationary or occupancy solve, relative error ≲ cond·ε ≈ 1e-13 for the
#: chains handled here); 1e-9 leaves four orders of room above that, while the
#: asymmetries of non-reversible chains are of the size of the entries.
SYMMETRY_RTOL = 1e-9


@dataclass(frozen=True)
class SymmetryVerdict:
    """Whether a square matrix M is symmetric, and where it is not.

    Attributes
    ----------
    holds : bool
        max|M − Mᵀ| ≤ ``tolerance``.
    max_asymmetry : float
        ``max_{i,j} |M[i, j] − M[j, i]|``.
    relative_asymmetry : float
        ``max_asymmetry / scale`` (0 for the zero matrix).
    witness : tuple of int or None
        (i, j), i < j, where the asymmetry is largest; None for 1 × 1.
    witness_pairs : tuple or None
        ((s, a), (s', a')) decoding i = s·A + a and j = s'·A + a' when
        ``n_actions`` was given.
    witness_values : tuple of float or None
        (M[i, j], M[j, i]).
    antisymmetric_norm : float
        ‖(M − Mᵀ)/2‖_F.
    scale : float
        max|M|, the norm the tolerance is scaled by.
    tolerance : float
        The absolute threshold used, rtol·scale + atol.
    """

    holds: bool
    max_asymmetry: float
    relative_asymmetry: float
    witness: tuple[int, int] | None
    witness_pairs: tuple[tuple[int, int], tuple[int, int]] | None
    witness_values: tuple[float, float] | None
    antisymmetric_norm: float
    scale: float
    tolerance: float

    __repr__ = compact_repr

    def __str__(self) -> str:
        word = "symmetric" if self.holds else "NOT symmetric"
        sign = "<=" if self.holds else ">"
        where = "" if self.witness is None else \
            f" at {self.witness_pairs if self.witness_pairs is not None else self.witness}"
        return (f"SymmetryVerdict: {word} — max |M - M^T| {self.max_asymmetry:.3g} {sign} tolerance "
                f"{self.tolerance:.2g}{where}")

    def describe(self) -> str:
        """One line for people."""
        if self.witness is None:
            return "symmetric (1 x 1)"
        where = self.witness_pairs if self.witness_pairs is not None else self.witness
        word = "symmetric" if self.holds else "NOT symmetric"
        return (f"{word}: max |M - M^T| = {self.max_asymmetry:.3g} (relative {self.relative_asymmetry:.3g}, "
                f"tolerance {self.tolerance:.3g}) at {where[0]} vs {where[1]}")


def _check_square(M: Any, name: str) -> Any:
    """M as a real, finite square matrix: a float ndarray, or a CSR array when sparse."""
    if sp.issparse(M):
        M = sp.csr_array(M)
        data = M.data
    else:
        M = as_real_array(M, name, finite=False)     # refuses strings, ragged nesting and complex entries
        data = M
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValidationError(f"{name} has shape {M.shape}; expected a square matrix",
                              argument=name, value=M.shape)
    if np.iscomplexobj(data):
        raise ValidationError(f"{name} is complex; expected a real matrix", argument=name,
                              value=str(data.dtype))
    if not sp.issparse(M):
        M = M.astype(float, copy=False)
        check_finite(M, name)
        return M
    k = first_index(~np.isfinite(data))
    if k is not None:   # decode the stored entry's (row, column)
        row = int(np.searchsorted(M.indptr, k[0], side="right") - 1)
        idx = (row, int(M.indices[k[0]]))
        raise ValidationError(f"{format_index(name, idx)} is {format_number(data[k])}; expected a finite "
                              "number", argument=name, index=idx, value=float(data[k]))
    return M


def _power_of_two_below(x: float) -> float:
    """2ᵏ with x/2 < 2ᵏ ≤ x (1 for x ≤ 1): dividing by it is exact and leaves every |entry| < 2."""
    return float(np.ldexp(1.0, int(np.frexp(x)[1]) - 1)) if x > 1.0 else 1.0


def symmetry_verdict(M: ArrayLike | sp.sparray | sp.spmatrix, *, rtol: float = SYMMETRY_RTOL,
                     atol: float = 0.0, n_actions: int | None = None) -> SymmetryVerdict:
    """Decide whether M is symmetric within rtol·max|M| + atol, and where it is least symmetric.

    Parameters
    ----------
    M : ndarray or scipy.sparse matrix, shape (n, n)
        Real.  Sparse input stays sparse (M − Mᵀ is formed sparse).
    rtol : float, optional
        Relative tolerance against max|M| (default ``SYMMETRY_RTOL``).
    atol : float, optional
        Additional absolute tolerance, e.g. the error bound of an estimated M.
    n_actions : int, optional
        When the indices are state-action pairs x = s·A + a, decode the
        witness to ((s, a), (s', a')).

    Returns
    -------
    SymmetryVerdict

    Notes
    -----
    A C¹ field is a gradient only if its Jacobian is symmetric (Schwarz); the
    witness (i, j) maximises ``|M[i, j] − M[j, i]| = |∂F_i/∂θ_j − ∂F_j/∂θ_i|``.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad.fields import symmetry_verdict
    >>> v = symmetry_verdict(np.array([[-1.0, 0.9], [0.0, -1.0]]), n_actions=1)
    >>> v.holds, v.witness, v.witness_pairs, round(v.max_asymmetry, 12)
    (False, (0, 1), ((0, 0), (1, 0)), 0.9)
    >>> symmetry_verdict(np.array([[2.0, 1.0], [1.0, 2.0]])).holds
    True
    """
    M = _check_square(M, "M")
    rtol = check_tolerance(rtol, "rtol")
    atol = check_tolerance(atol, "atol")
    n = M.shape[0]
    if n_actions is not None and check_integer(n_actions, "n_actions", min_value=1) and n % n_actions:
        raise ValidationError(f"n_actions is {n_actions!r}; expected a divisor of the size {n}",
                              argument="n_actions", value=n_actions)
    # work on M / 2ᵏ ≥ max|M| (exact: a power of two), so M − Mᵀ and its norm cannot overflow
    if sp.issparse(M):
        scale = float(np.abs(M.data).max()) if M.nnz else 0.0
        unit = _power_of_two_below(scale)
        Ms = M / unit
        diff = sp.coo_array(Ms - Ms.T)
        diff.sum_duplicates()
        rows, cols, vals = diff.row, diff.col, np.abs(diff.data)
        upper = rows < cols
        rows, cols, vals = rows[upper], cols[upper], vals[upper]
        anti_s = float(np.sqrt(2.0 * np.sum(vals ** 2)) / 2.0)
        if vals.size:
            k = int(np.argmax(vals))
            i, j, asym_s = int(rows[k]), int(cols[k]), float(vals[k])
        else:
            i, j, asym_s = 0, 1, 0.0
        values = (float(M[i, j]), float(M[j, i])) if n > 1 else None
    else:
        scale = float(np.abs(M).max()) if M.size else 0.0
        unit = _power_of_two_below(scale)
        Ms = M / unit
        diff = np.abs(Ms - Ms.T)
        anti_s = float(np.linalg.norm(diff) / 2.0)
        upper = np.triu(diff, 1)
        flat = int(np.argmax(upper)) if n > 1 else 0
        asym_s = float(upper.flat[flat]) if n > 1 else 0.0
        i, j = divmod(flat, n) if asym_s > 0 else (0, 1)
        values = (float(M[i, j]), float(M[j, i])) if n > 1 else None
    with np.errstate(over="ignore"):
        max_asym, anti = float(np.float64(asym_s) * unit), float(np.float64(anti_s) * unit)
    if not (np.isfinite(max_asym) and np.isfinite(anti)):
        raise ValidationError(f"|M[{i}, {j}] - M[{j}, {i}]| (or the norm of M - M^T) exceeds the largest "
                              f"float64 (max |M| = {format_number(scale)}); expected a matrix whose "
                              "asymmetry is representable (rescale M)", argument="M", index=(i, j),
                              value=scale)
    tol = rtol * scale + atol
    witness = (i, j) if n > 1 else None
    pairs = None
    if witness is not None and n_actions is not None:
        pairs = ((i // n_actions, i % n_actions), (j // n_actions, j % n_actions))
    return SymmetryVerdict(holds=max_asym <= tol, max_asymmetry=max_asym,
                           relative_asymmetry=max_asym / scale if scale > 0 else 0.0,
                           witness=witness, witness_pairs=pairs, witness_values=values,
                           antisymmetric_norm=anti, scale=scale, tolerance=tol)
