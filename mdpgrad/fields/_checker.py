"""Is a vector field a gradient?  Jacobian symmetry and circulation.

A continuously differentiable field F : ℝⁿ → ℝⁿ is the gradient of some
function only if its Jacobian is symmetric, ∂F_i/∂θ_j = ∂F_j/∂θ_i (Schwarz),
and then its line integral around every closed loop vanishes.  By Green's
theorem in the plane of coordinates (i, j), a circle of radius ρ gives

    ∮ F · dθ = ∬ (∂F_j/∂θ_i − ∂F_i/∂θ_j) dA  ≈  π ρ² (J[j, i] − J[i, j]),

so a circulation whose magnitude exceeds its quadrature error bound certifies
"not a gradient" without trusting any derivative (Apostol 1969, §10.14–10.16).

This module computes

* :func:`symmetry_verdict`: for any square matrix (dense or sparse), whether it
  is symmetric within a tolerance scaled to its norm, the largest asymmetry
  and its witness pair (decoded to (state, action) pairs when asked);
* :func:`field_jacobian`: the Jacobian of a callable by complex step when the
  callable carries complex input through analytically (detected, and checked
  against central differences), otherwise by central differences with an
  error estimate from a second step (Richardson);
* :func:`circulation`: the line integral around a circle in a coordinate
  plane by the trapezoid rule (spectrally accurate for smooth periodic
  integrands; Trefethen & Weideman 2014, §3), with an a-posteriori bound;
* :func:`is_gradient_field`: both, combined into a :class:`FieldVerdict`.

Identities checked by the tests: the circulation of a linear field equals
π ρ² (J[j,i] − J[i,j]); the circulation of a true gradient (∇J, regression and
residual-gradient fields) is zero within its bound; complex step and central
differences agree.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._errors import ValidationError

__all__ = [
    "CIRCULATION_NOISE_RTOL",
    "COMPLEX_STEP",
    "SYMMETRY_RTOL",
    "Circulation",
    "FieldJacobian",
    "FieldVerdict",
    "SymmetryVerdict",
    "circulation",
    "field_jacobian",
    "is_gradient_field",
    "symmetry_verdict",
]

#: Relative tolerance of :func:`symmetry_verdict`, against max|M|.  Closed-form
#: Jacobians are exact up to rounding in one matrix product and in the weighting
#: (a stationary or occupancy solve, relative error ≲ cond·ε ≈ 1e-13 for the
#: chains handled here); 1e-9 leaves four orders of room above that, while the
#: asymmetries of non-reversible chains are of the size of the entries.
SYMMETRY_RTOL = 1e-9

#: Complex step h in F(θ + i h e_k): truncation error is O(h²) and there is no
#: cancellation, so any h far below √ε·|θ| gives the derivative to rounding.
COMPLEX_STEP = 1e-20

#: Complex step and central differences must agree to this, relative to
#: max(1, max|J|), before the complex step is trusted.  Central differences at
#: h = ε^(1/3) are accurate to ≈ ε^(2/3) ≈ 4e-11 times the curvature scale; a
#: broken complex extension (abs, conj, a discarded imaginary part) is off by O(1).
COMPLEX_AGREEMENT_RTOL = 1e-6

#: Default relative error of one evaluation of F, used in the circulation
#: bound: the fields of this package solve linear systems with condition number
#: ≲ 1e3 (γ ≤ 0.999), so their values carry relative error ≲ 1e3·ε ≈ 2e-13.
CIRCULATION_NOISE_RTOL = 1e-12

#: Default loop radius relative to max(1, max|θ|): small enough that the
#: circulation measures the local curl, large enough that πρ²·curl ≫ noise.
RADIUS_RTOL = 1e-2

_EPS = float(np.finfo(float).eps)


# ---------------------------------------------------------------------------
# symmetry of a matrix
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SymmetryVerdict:
    """Whether a square matrix M is symmetric, and where it is not.

    Attributes
    ----------
    holds : bool
        max|M − Mᵀ| ≤ ``tolerance``.
    max_asymmetry : float
        max_{i,j} |M[i, j] − M[j, i]|.
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

    def describe(self) -> str:
        """One line for people."""
        if self.witness is None:
            return "symmetric (1 x 1)"
        where = self.witness_pairs if self.witness_pairs is not None else self.witness
        word = "symmetric" if self.holds else "NOT symmetric"
        return (f"{word}: max |M - M^T| = {self.max_asymmetry:.3g} (relative {self.relative_asymmetry:.3g}, "
                f"tolerance {self.tolerance:.3g}) at {where[0]} vs {where[1]}")


def _check_square(M: Any, name: str) -> Any:
    if sp.issparse(M):
        if M.ndim != 2 or M.shape[0] != M.shape[1]:
            raise ValidationError(f"{name} has shape {M.shape}; expected a square matrix",
                                  argument=name, value=M.shape)
        M = sp.csr_array(M)
        data = M.data
    else:
        M = np.asarray(M)
        if M.ndim != 2 or M.shape[0] != M.shape[1]:
            raise ValidationError(f"{name} has shape {M.shape}; expected a square matrix",
                                  argument=name, value=M.shape)
        data = M
    if np.iscomplexobj(data):
        raise ValidationError(f"{name} is complex; expected a real matrix", argument=name,
                              value=str(data.dtype))
    if not sp.issparse(M):
        M = M.astype(float, copy=False)
        data = M
    bad = ~np.isfinite(data)
    if np.any(bad):
        if sp.issparse(M):
            k = int(np.argmax(bad))
            row = int(np.searchsorted(M.indptr, k, side="right") - 1)
            idx = (row, int(M.indices[k]))
            val = float(M.data[k])
        else:
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            val = float(M[idx])
        raise ValidationError(f"{name}[{idx[0]}, {idx[1]}] is {val!r}; expected a finite number",
                              argument=name, index=idx, value=val)
    return M


def symmetry_verdict(M: Any, *, rtol: float = SYMMETRY_RTOL, atol: float = 0.0,
                     n_actions: int | None = None) -> SymmetryVerdict:
    """Is M symmetric within rtol·max|M| + atol?  Where is it least symmetric?

    Parameters
    ----------
    M : ndarray or scipy.sparse matrix, shape (n, n)
        Real.  Sparse input stays sparse (M − Mᵀ is formed sparse).
    rtol : float, optional
        Relative tolerance against max|M| (default :data:`SYMMETRY_RTOL`).
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
    witness (i, j) maximises |M[i, j] − M[j, i]| = |∂F_i/∂θ_j − ∂F_j/∂θ_i|.

    Examples
    --------
    >>> v = symmetry_verdict(np.array([[-1.0, 0.9], [0.0, -1.0]]), n_actions=1)
    >>> v.holds, v.witness, v.witness_pairs, round(v.max_asymmetry, 12)
    (False, (0, 1), ((0, 0), (1, 0)), 0.9)
    >>> symmetry_verdict(np.array([[2.0, 1.0], [1.0, 2.0]])).holds
    True
    """
    M = _check_square(M, "M")
    if not (rtol >= 0 and atol >= 0):
        raise ValidationError(f"rtol={rtol!r}, atol={atol!r}; expected non-negative tolerances",
                              argument="rtol", value=(rtol, atol))
    n = M.shape[0]
    if n_actions is not None and (n_actions < 1 or n % n_actions):
        raise ValidationError(f"n_actions is {n_actions!r}; expected a divisor of the size {n}",
                              argument="n_actions", value=n_actions)
    if sp.issparse(M):
        scale = float(np.abs(M.data).max()) if M.nnz else 0.0
        diff = sp.coo_array(M - M.T)
        diff.sum_duplicates()
        rows, cols, vals = diff.row, diff.col, np.abs(diff.data)
        upper = rows < cols
        rows, cols, vals = rows[upper], cols[upper], vals[upper]
        anti = float(np.sqrt(2.0 * np.sum(vals ** 2)) / 2.0)
        if vals.size:
            k = int(np.argmax(vals))
            i, j, max_asym = int(rows[k]), int(cols[k]), float(vals[k])
        else:
            i, j, max_asym = 0, 1, 0.0
        values = (float(M[i, j]), float(M[j, i])) if n > 1 else None
    else:
        scale = float(np.abs(M).max()) if M.size else 0.0
        diff = np.abs(M - M.T)
        anti = float(np.linalg.norm(diff) / 2.0)
        upper = np.triu(diff, 1)
        flat = int(np.argmax(upper)) if n > 1 else 0
        max_asym = float(upper.flat[flat]) if n > 1 else 0.0
        i, j = divmod(flat, n) if max_asym > 0 else (0, 1)
        values = (float(M[i, j]), float(M[j, i])) if n > 1 else None
    tol = rtol * scale + atol
    witness = (i, j) if n > 1 else None
    pairs = None
    if witness is not None and n_actions is not None:
        pairs = (divmod(i, n_actions), divmod(j, n_actions))
    return SymmetryVerdict(holds=max_asym <= tol, max_asymmetry=max_asym,
                           relative_asymmetry=max_asym / scale if scale > 0 else 0.0,
                           witness=witness, witness_pairs=pairs, witness_values=values,
                           antisymmetric_norm=anti, scale=scale, tolerance=tol)


# ---------------------------------------------------------------------------
# Jacobian of a callable
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldJacobian:
    """J[i, j] = ∂F_i/∂θ_j of a field on flattened θ, with an error estimate.

    Attributes
    ----------
    jacobian : ndarray, shape (n, n)
    error : ndarray, shape (n, n)
        Estimated absolute error of each entry.
    method : str
        "complex-step" or "central".
    n_evaluations : int
        Calls of F made.
    """

    jacobian: np.ndarray
    error: np.ndarray
    method: str
    n_evaluations: int


def _caller(F: Callable[[np.ndarray], Any], shape: tuple[int, ...], n: int,
            dtype: Any = float) -> Callable[[np.ndarray], np.ndarray]:
    def call(x: np.ndarray) -> np.ndarray:
        y = np.asarray(F(x.reshape(shape)))
        if y.size != n:
            raise ValidationError(
                f"F returned {y.size} values for {n} parameters; a field must map θ to θ's shape",
                argument="F", value=y.shape)
        return y.ravel().astype(dtype, copy=False) if dtype is float else y.ravel()
    return call


def _central(call: Callable[[np.ndarray], np.ndarray], x: np.ndarray, direction: np.ndarray,
             h: float) -> tuple[np.ndarray, np.ndarray]:
    """Central difference along one direction and the rounding part of its error."""
    fp, fm = call(x + h * direction), call(x - h * direction)
    return (fp - fm) / (2.0 * h), _EPS * (np.abs(fp) + np.abs(fm)) / h


def _central_jacobian(call: Callable[[np.ndarray], np.ndarray], x: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    n = x.size
    J = np.empty((n, n))
    err = np.empty((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = 1.0
        h = _EPS ** (1.0 / 3.0) * max(1.0, abs(float(x[k])))
        d1, r1 = _central(call, x, e, h)
        d2, r2 = _central(call, x, e, 2.0 * h)
        J[:, k] = d1
        # truncation O(h²): d2 − d1 ≈ 3ch², so |d2 − d1| over-estimates d1's error threefold
        err[:, k] = np.abs(d2 - d1) + r1 + r2
    return J, err


def _complex_call(F: Callable[[np.ndarray], Any], shape: tuple[int, ...], n: int
                  ) -> Callable[[np.ndarray], np.ndarray] | None:
    """F as a callable on complex vectors, or None when it drops or rejects the imaginary part."""
    cexc = getattr(np, "exceptions", np).ComplexWarning
    raw = _caller(F, shape, n, dtype=complex)

    def call(z: np.ndarray) -> np.ndarray | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", cexc)
            try:
                y = raw(z)
            except (TypeError, ValueError, ArithmeticError, np.linalg.LinAlgError):
                return None
        return y if np.iscomplexobj(y) else None
    return call


def field_jacobian(F: Callable[[np.ndarray], Any], theta: Any, *, method: str = "auto") -> FieldJacobian:
    """Jacobian of F at θ, by complex step when F allows it, else central differences.

    Parameters
    ----------
    F : callable
        θ ↦ F(θ), same shape as θ.
    theta : array_like
    method : {"auto", "complex-step", "central"}
        "auto" probes F with a complex θ along a fixed direction; the complex
        step is used when F returns a complex array whose derivative agrees
        with central differences to :data:`COMPLEX_AGREEMENT_RTOL`.

    Returns
    -------
    FieldJacobian
        Complex step: J[:, k] = Im F(θ + i h e_k)/h, error ≈ 4ε·max|J|.
        Central: h_k = ε^(1/3)·max(1, |θ_k|), error |D_h − D_2h| plus rounding
        ε(|F(θ+h)| + |F(θ−h)|)/h (Squire & Trapp 1998; Nocedal & Wright 2006, §8.1).

    Examples
    --------
    >>> fj = field_jacobian(lambda t: np.array([t[1], -t[0]]), np.zeros(2))
    >>> fj.method, fj.jacobian.tolist()
    ('complex-step', [[0.0, 1.0], [-1.0, 0.0]])
    """
    x = np.asarray(theta, dtype=float)
    shape, n = x.shape, x.size
    x = x.ravel()
    if method not in ("auto", "complex-step", "central"):
        raise ValidationError(f"method is {method!r}; expected 'auto', 'complex-step' or 'central'",
                              argument="method", value=method)
    call = _caller(F, shape, n)
    use_complex = False
    ccall = None
    evals = 0
    if method in ("auto", "complex-step") and n > 0:
        ccall = _complex_call(F, shape, n)
        direction = np.cos(np.arange(1, n + 1))  # a fixed direction touching every coordinate
        direction /= np.linalg.norm(direction)
        y = ccall(x + 1j * COMPLEX_STEP * direction)
        evals += 1
        if y is not None:
            cs = y.imag / COMPLEX_STEP
            h = _EPS ** (1.0 / 3.0) * max(1.0, float(np.abs(x).max()))
            fd, rnd = _central(call, x, direction, h)
            fd2, _ = _central(call, x, direction, 2 * h)
            evals += 4
            slack = np.abs(fd2 - fd) + rnd
            scale = max(1.0, float(np.abs(fd).max()))
            use_complex = bool(np.all(np.abs(cs - fd) <= slack + COMPLEX_AGREEMENT_RTOL * scale))
        if method == "complex-step" and not use_complex:
            raise ValidationError("F does not carry complex input through analytically "
                                  "(it failed, returned a real array, or disagreed with central differences)",
                                  argument="F", value=method)
    if use_complex:
        J = np.empty((n, n))
        for k in range(n):
            z = x.astype(complex)
            z[k] += 1j * COMPLEX_STEP
            J[:, k] = ccall(z).imag / COMPLEX_STEP
        evals += n
        err = np.full((n, n), 4.0 * _EPS * max(float(np.abs(J).max()) if n else 0.0, _EPS))
        return FieldJacobian(J, err, "complex-step", evals)
    J, err = _central_jacobian(call, x)
    return FieldJacobian(J, err, "central", evals + 4 * n)


# ---------------------------------------------------------------------------
# circulation
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Circulation:
    """∮ F·dθ around the circle θ + ρ(cos t e_i + sin t e_j), t ∈ [0, 2π).

    Attributes
    ----------
    value : float
        The trapezoid-rule integral with ``n_nodes`` nodes.
    bound : float
        Error bound: |T_N − T_{N/2}| (a posteriori; the error of the N-node
        rule is far smaller once convergence is geometric) plus 4πρ·f_error
        for the evaluation error of F.
    plane : tuple of int
        (i, j) in flattened θ; the loop is counter-clockwise in (θ_i, θ_j).
    radius : float
    n_nodes : int
    f_error : float
        The absolute error assumed for each value of F.
    """

    value: float
    bound: float
    plane: tuple[int, int]
    radius: float
    n_nodes: int
    f_error: float

    @property
    def holds(self) -> bool:
        """|value| ≤ bound: the loop integral is zero within its error bound, as for a gradient.

        False certifies that F is not a gradient.
        """
        return bool(abs(self.value) <= self.bound)


def circulation(F: Callable[[np.ndarray], Any], theta: Any, plane: tuple[int, int], *,
                radius: float | None = None, f_error: float | None = None,
                min_nodes: int = 8, max_nodes: int = 1024) -> Circulation:
    """Line integral of F around a small circle in the plane of coordinates (i, j).

    ∮ F·dθ = ∫₀^{2π} ρ (−sin t · F_i(θ(t)) + cos t · F_j(θ(t))) dt,
    by the trapezoid rule, doubling the nodes from ``min_nodes`` until two
    successive values agree to 1e-3 relative or ``max_nodes`` is reached.

    Parameters
    ----------
    F : callable
        θ ↦ F(θ), same shape as θ.
    theta : array_like
        Centre of the loop.
    plane : tuple of int
        Flat indices (i, j), i ≠ j, into θ.
    radius : float, optional
        ρ; default :data:`RADIUS_RTOL`·max(1, max|θ|).
    f_error : float, optional
        Absolute error of one value of F; default
        :data:`CIRCULATION_NOISE_RTOL`·max|F| over the nodes.

    Returns
    -------
    Circulation

    Notes
    -----
    Green's theorem: a gradient field has zero circulation around every loop;
    for a linear field F(θ) = Jθ + b the value is πρ²(J[j, i] − J[i, j]).

    Examples
    --------
    >>> c = circulation(lambda t: np.array([-t[1], t[0]]), np.zeros(2), (0, 1), radius=1.0)
    >>> round(c.value / np.pi, 12), not c.holds          # curl 2 over a disc of area π
    (2.0, True)
    """
    x = np.asarray(theta, dtype=float)
    shape, n = x.shape, x.size
    x = x.ravel()
    i, j = (int(plane[0]), int(plane[1]))
    if not (0 <= i < n and 0 <= j < n and i != j):
        raise ValidationError(f"plane is {plane!r}; expected two distinct flat indices below {n}",
                              argument="plane", value=plane)
    rho = RADIUS_RTOL * max(1.0, float(np.abs(x).max())) if radius is None else float(radius)
    if not (rho > 0 and math.isfinite(rho)):
        raise ValidationError(f"radius is {radius!r}; expected a positive number", argument="radius",
                              value=radius)
    call = _caller(F, shape, n)
    cache: dict[float, tuple[float, float]] = {}

    def integrand(t: float) -> tuple[float, float]:
        if t not in cache:
            z = x.copy()
            z[i] += rho * math.cos(t)
            z[j] += rho * math.sin(t)
            y = call(z)
            cache[t] = (rho * (-math.sin(t) * y[i] + math.cos(t) * y[j]), float(max(abs(y[i]), abs(y[j]))))
        return cache[t]

    def rule(N: int) -> tuple[float, float]:
        vals = [integrand(2.0 * math.pi * k / N) for k in range(N)]
        return 2.0 * math.pi / N * math.fsum(v for v, _ in vals), max(m for _, m in vals)

    N = max(4, int(min_nodes))
    prev, fmax = rule(N)
    while True:
        N *= 2
        cur, fmax2 = rule(N)
        fmax = max(fmax, fmax2)
        ferr = CIRCULATION_NOISE_RTOL * fmax if f_error is None else float(f_error)
        # evaluation error of F plus rounding in the sum: refining below it is pointless
        noise = 4.0 * math.pi * rho * (ferr + 2 * _EPS * fmax)
        gap = abs(cur - prev)
        if gap <= 1e-3 * abs(cur) or gap <= noise or N >= max_nodes:
            break
        prev = cur
    bound = gap + noise
    return Circulation(value=float(cur), bound=float(bound), plane=(i, j), radius=rho, n_nodes=N,
                       f_error=ferr)


# ---------------------------------------------------------------------------
# the verdict
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldVerdict:
    """Is F a gradient near θ?  Jacobian symmetry and circulation, with witnesses.

    Attributes
    ----------
    holds : bool
        Symmetric Jacobian (within its error) and a circulation within its bound.
    certified_not_gradient : bool
        The circulation around the witness loop exceeds its error bound: a
        proof, up to the stated bound, that F is not a gradient.
    symmetry : SymmetryVerdict
        Of the Jacobian, with atol = twice its largest estimated error.
    jacobian : FieldJacobian
    circulation : Circulation or None
        None when θ has a single coordinate (every 1-D field is a gradient).
    plane_index : tuple or None
        The witness plane's coordinates as indices into θ's shape.
    stokes_estimate : float or None
        πρ²(J[j, i] − J[i, j]), the circulation the Jacobian predicts.
    """

    holds: bool
    certified_not_gradient: bool
    symmetry: SymmetryVerdict
    jacobian: FieldJacobian
    circulation: Circulation | None
    plane_index: tuple[tuple[int, ...], tuple[int, ...]] | None
    stokes_estimate: float | None

    def describe(self) -> str:
        """One paragraph for people."""
        if self.circulation is None:
            return "a gradient: one coordinate only"
        c = self.circulation
        loop = (f"circulation {c.value:.3g} around a circle of radius {c.radius:.3g} in the plane "
                f"{self.plane_index[0]}, {self.plane_index[1]} (bound {c.bound:.2g}; "
                f"Jacobian predicts {self.stokes_estimate:.3g})")
        if self.holds:
            return f"consistent with a gradient: symmetric Jacobian ({self.jacobian.method}); {loop}"
        head = "NOT a gradient (certified by circulation)" if self.certified_not_gradient else \
            "NOT a gradient (Jacobian asymmetry beyond its error estimate)"
        return f"{head}: {self.symmetry.describe()}; {loop}"


def is_gradient_field(F: Callable[[np.ndarray], Any], theta: Any, *, method: str = "auto",
                      plane: tuple[int, int] | None = None, radius: float | None = None,
                      f_error: float | None = None, rtol: float = SYMMETRY_RTOL) -> FieldVerdict:
    """Decide whether the field F is a gradient near θ.

    Steps: (1) the Jacobian J by :func:`field_jacobian`; (2) its symmetry,
    tolerating rtol·max|J| plus twice the largest estimated entry error;
    (3) the circulation around a circle in the plane of the witness pair (or
    ``plane``).  A circulation beyond its bound certifies "not a gradient"
    (Green's theorem); a symmetric Jacobian and a vanishing circulation are
    reported as "consistent with a gradient" (a local statement at θ).

    Parameters
    ----------
    F : callable
        θ ↦ F(θ), same shape as θ.
    theta : array_like
    method : {"auto", "complex-step", "central"}
    plane : tuple of int, optional
        Flat indices of the loop plane; default the Jacobian's witness pair.
    radius, f_error : float, optional
        Passed to :func:`circulation`.
    rtol : float, optional
        Passed to :func:`symmetry_verdict`.

    Returns
    -------
    FieldVerdict

    Examples
    --------
    A rotation is not a gradient; the gradient of ½θᵀAθ is:

    >>> rot = is_gradient_field(lambda t: np.array([-t[1], t[0]]), np.zeros(2))
    >>> rot.holds, rot.certified_not_gradient, rot.symmetry.witness
    (False, True, (0, 1))
    >>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> is_gradient_field(lambda t: A @ t, np.ones(2)).holds
    True
    """
    x = np.asarray(theta, dtype=float)
    fj = field_jacobian(F, x, method=method)
    n = x.size
    atol = 2.0 * float(fj.error.max()) if n else 0.0
    sym = symmetry_verdict(fj.jacobian, rtol=rtol, atol=atol)
    if n < 2:
        return FieldVerdict(True, False, sym, fj, None, None, None)
    i, j = sym.witness if plane is None else (int(plane[0]), int(plane[1]))
    circ = circulation(F, x, (i, j), radius=radius, f_error=f_error)
    stokes = math.pi * circ.radius ** 2 * (fj.jacobian[j, i] - fj.jacobian[i, j])
    idx = (tuple(int(k) for k in np.unravel_index(i, x.shape)),
           tuple(int(k) for k in np.unravel_index(j, x.shape)))
    certified = not circ.holds
    return FieldVerdict(holds=sym.holds and not certified, certified_not_gradient=certified,
                        symmetry=sym, jacobian=fj, circulation=circ, plane_index=idx,
                        stokes_estimate=float(stokes))
