"""Is a vector field a gradient?  Jacobian symmetry and circulation.

A continuously differentiable field F : ℝⁿ → ℝⁿ is the gradient of some
function only if its Jacobian is symmetric, ∂F_i/∂θ_j = ∂F_j/∂θ_i (Schwarz),
and then its line integral around every closed loop vanishes.  By Green's
theorem in the plane of coordinates (i, j), a circle of radius ρ gives

    ∮ F · dθ = ∬ (∂F_j/∂θ_i − ∂F_i/∂θ_j) dA  ≈  π ρ² (J[j, i] − J[i, j]),

so a circulation whose magnitude exceeds its quadrature error bound certifies
"not a gradient" without trusting any derivative (Apostol 1969, §10.14–10.16).

This module computes, with the symmetry verdict of :mod:`mdpgrad.fields._symmetry`
and the derivatives of :mod:`mdpgrad._derivatives`,

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
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from .._derivatives import (
    CENTRAL_RELATIVE_STEP,
    approx_jacobian,
    central_differences,
    central_directional,
    complex_step_directional,
)
from .._errors import ValidationError
from .._validation import (
    as_real_array,
    check_callable,
    check_choice,
    check_integer,
    check_memory,
    check_real,
    check_tolerance,
    first_index,
    format_index,
    format_number,
)
from ._symmetry import SYMMETRY_RTOL, SymmetryVerdict, symmetry_verdict

__all__ = [
    "CIRCULATION_NOISE_RTOL",
    "COMPLEX_AGREEMENT_RTOL",
    "Circulation",
    "FieldJacobian",
    "FieldMethod",
    "FieldVerdict",
    "RADIUS_RTOL",
    "circulation",
    "field_jacobian",
    "is_gradient_field",
]

#: A field θ ↦ F(θ), same shape as θ.
Field = Callable[[np.ndarray], Any]

#: How :func:`field_jacobian` differentiates: "auto" tries the complex step first.
FieldMethod = Literal["auto", "complex-step", "central"]

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

#: Most nodes :func:`circulation` will place on one loop (one evaluation of F each): the
#: trapezoid rule converges geometrically for smooth fields, so a loop that has not settled
#: after 65 536 nodes is not smooth at that radius, and more evaluations would not help.
MAX_CIRCULATION_NODES = 2**16

_EPS = float(np.finfo(float).eps)


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
    method: Literal["complex-step", "central"]
    n_evaluations: int


class _NotAnalytic(Exception):
    """F rejected complex input, or returned a real array for it."""


def _counted(F: Field) -> tuple[Field, list[int]]:
    """F and a one-element list counting its calls."""
    count = [0]

    def call(x: np.ndarray) -> Any:
        count[0] += 1
        return F(x)
    return call, count


def _real_caller(F: Field, shape: tuple[int, ...], n: int) -> Callable[[np.ndarray], np.ndarray]:
    """F on flat real vectors, returning its n values flat as floats.

    A value that is not a real number (complex included: nothing is dropped) or is nan or inf
    is refused, naming F, the entry and the point: a derivative or loop integral built from it
    would be meaningless.
    """
    def call(x: np.ndarray) -> np.ndarray:
        raw = F(x.reshape(shape))
        try:
            y = as_real_array(raw, "F(theta)", finite=False)
        except ValidationError as exc:
            raise ValidationError(f"F returned a value that is not an array of real numbers: {exc}",
                                  argument="F") from None
        if y.size != n:
            raise ValidationError(
                f"F returned {y.size} values for {n} parameters; a field must map θ to θ's shape",
                argument="F", value=y.shape)
        y = y.ravel()
        idx = first_index(~np.isfinite(y))
        if idx is not None:
            raise ValidationError(f"{format_index('F(theta)', idx)} is {format_number(y[idx])} at a point "
                                  "the check evaluates; expected a finite value", argument="F", index=idx,
                                  value=float(y[idx]))
        return y
    return call


def _jacobian_memory(n: int, method: str) -> None:
    """Refuse a field Jacobian whose n × n working arrays would exceed the memory limit.

    Complex step: columns, their stack and the error array (3 copies); central differences
    (also the fallback of "auto"): two steps, each with derivative and rounding as columns and
    stacked, and the error (9 copies).
    """
    copies = 3 if method == "complex-step" else 9
    check_memory(8.0 * copies * float(n) ** 2, f"the {n} x {n} field Jacobian and its error estimate",
                 "theta")


def _complex_caller(F: Field, shape: tuple[int, ...], n: int) -> Callable[[np.ndarray], np.ndarray]:
    """F on flat complex vectors; raises _NotAnalytic when it fails or drops the imaginary part."""
    complex_warning = getattr(np, "exceptions", np).ComplexWarning

    def call(z: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", complex_warning)
            try:
                y = np.asarray(F(z.reshape(shape)))
            except (TypeError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                raise _NotAnalytic from exc
        if y.size != n or not np.iscomplexobj(y) or not np.all(np.isfinite(y)):
            raise _NotAnalytic
        return y.ravel()
    return call


def _complex_step_agrees(ccall: Callable[[np.ndarray], np.ndarray], call: Callable[[np.ndarray], np.ndarray],
                         x: np.ndarray) -> bool:
    """Does the complex step along a fixed direction agree with central differences?

    The direction touches every coordinate; agreement is within the central
    error estimate |D_h − D_2h| + rounding plus :data:`COMPLEX_AGREEMENT_RTOL`·max(1, |D_h|).
    """
    direction = np.cos(np.arange(1, x.size + 1))
    direction /= np.linalg.norm(direction)
    cs = complex_step_directional(ccall, x, direction)
    h = CENTRAL_RELATIVE_STEP * max(1.0, float(np.abs(x).max()))
    fd, rounding = central_directional(call, x, direction, h)
    fd2, _ = central_directional(call, x, direction, 2 * h)
    slack = np.abs(fd2 - fd) + rounding
    scale = max(1.0, float(np.abs(fd).max()))
    return bool(np.all(np.abs(cs - fd) <= slack + COMPLEX_AGREEMENT_RTOL * scale))


def field_jacobian(F: Field, theta: ArrayLike, *, method: FieldMethod = "auto") -> FieldJacobian:
    """Jacobian of F at θ, by complex step when F allows it, else central differences.

    Parameters
    ----------
    F : callable
        θ ↦ F(θ), same shape as θ.
    theta : array_like, shape (...)
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
    F = check_callable(F, "F")
    method = check_choice(method, "method", ("auto", "complex-step", "central"))
    x = as_real_array(theta, "theta")
    shape, n = x.shape, x.size
    _jacobian_memory(n, method)
    x = x.ravel()
    counted, count = _counted(F)
    call = _real_caller(counted, shape, n)
    if method != "central" and n > 0:
        ccall = _complex_caller(counted, shape, n)
        try:
            if _complex_step_agrees(ccall, call, x):
                J = approx_jacobian(ccall, x)
                err = np.full((n, n), 4.0 * _EPS * max(float(np.abs(J).max()), _EPS))
                return FieldJacobian(J, err, "complex-step", count[0])
        except _NotAnalytic:
            pass
        if method == "complex-step":
            raise ValidationError("F does not carry complex input through analytically "
                                  "(it failed, returned a real array, or disagreed with central differences)",
                                  argument="F", value=method)
    if n == 0:
        return FieldJacobian(np.zeros((0, 0)), np.zeros((0, 0)), "central", count[0])
    d1 = central_differences(call, x)
    d2 = central_differences(call, x, steps=2.0 * d1.step)
    # truncation O(h²): D_2h − D_h ≈ 3ch², so |D_2h − D_h| over-estimates D_h's error threefold
    err = np.abs(d2.jacobian - d1.jacobian) + d1.rounding + d2.rounding
    return FieldJacobian(d1.jacobian, err, "central", count[0])


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


def circulation(F: Field, theta: ArrayLike, plane: tuple[int, int], *,
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
        ρ > 0; default :data:`RADIUS_RTOL`·max(1, max|θ|).
    f_error : float, optional
        Absolute error of one value of F; default
        :data:`CIRCULATION_NOISE_RTOL`·max|F| over the nodes.
    min_nodes, max_nodes : int
        4 ≤ min_nodes ≤ max_nodes ≤ :data:`MAX_CIRCULATION_NODES`.

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
    F = check_callable(F, "F")
    x = as_real_array(theta, "theta")
    shape, n = x.shape, x.size
    x = x.ravel()
    i, j = _check_plane(plane, n)
    min_nodes = check_integer(min_nodes, "min_nodes", min_value=4, max_value=MAX_CIRCULATION_NODES)
    max_nodes = check_integer(max_nodes, "max_nodes", min_value=min_nodes, max_value=MAX_CIRCULATION_NODES)
    if radius is None:
        rho = RADIUS_RTOL * max(1.0, float(np.abs(x).max()))
    else:
        rho = check_real(radius, "radius", min_value=0.0, min_open=True)
    if f_error is not None:
        f_error = check_tolerance(f_error, "f_error")
    call = _real_caller(F, shape, n)
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
    try:
        cur, bound, N, ferr = _refine(rule, N, max_nodes, rho, f_error)
    except OverflowError:
        cur = bound = math.inf
        ferr = 0.0
    if not (math.isfinite(cur) and math.isfinite(bound)):
        raise ValidationError(f"the loop integral overflowed at radius {format_number(rho)}; expected a "
                              "radius (and a centre theta) at which F and the integrand stay finite",
                              argument="radius", value=rho)
    return Circulation(value=float(cur), bound=float(bound), plane=(i, j), radius=rho, n_nodes=N,
                       f_error=ferr)


def _refine(rule: Callable[[int], tuple[float, float]], N: int, max_nodes: int, rho: float,
            f_error: float | None) -> tuple[float, float, int, float]:
    """Double the trapezoid nodes from N until converged; the value, its bound, the nodes, F's error."""
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
    return cur, gap + noise, N, ferr


def _check_plane(plane: Any, n: int) -> tuple[int, int]:
    """Two distinct flat indices below n."""
    ok = isinstance(plane, (tuple, list)) and len(plane) == 2
    if ok:
        try:
            i = check_integer(plane[0], "plane[0]", min_value=0, max_value=n - 1)
            j = check_integer(plane[1], "plane[1]", min_value=0, max_value=n - 1)
        except ValidationError:
            ok = False
        else:
            ok = i != j
    if not ok:
        raise ValidationError(f"plane is {plane!r}; expected two distinct flat indices below {n}",
                              argument="plane", value=repr(plane))
    return i, j


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
        c, where, stokes = self.circulation, self.plane_index, self.stokes_estimate
        if c is None or where is None or stokes is None:
            return "a gradient: one coordinate only"
        loop = (f"circulation {c.value:.3g} around a circle of radius {c.radius:.3g} in the plane "
                f"{where[0]}, {where[1]} (bound {c.bound:.2g}; Jacobian predicts {stokes:.3g})")
        if self.holds:
            return f"consistent with a gradient: symmetric Jacobian ({self.jacobian.method}); {loop}"
        head = "NOT a gradient (certified by circulation)" if self.certified_not_gradient else \
            "NOT a gradient (Jacobian asymmetry beyond its error estimate)"
        return f"{head}: {self.symmetry.describe()}; {loop}"


def is_gradient_field(F: Field, theta: ArrayLike, *, method: FieldMethod = "auto",
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
    F = check_callable(F, "F")
    x = as_real_array(theta, "theta")
    rtol = check_tolerance(rtol, "rtol")
    if plane is not None:
        plane = _check_plane(plane, x.size)
    if radius is not None:
        radius = check_real(radius, "radius", min_value=0.0, min_open=True)
    if f_error is not None:
        f_error = check_tolerance(f_error, "f_error")
    fj = field_jacobian(F, x, method=method)
    n = x.size
    atol = 2.0 * float(fj.error.max()) if n else 0.0
    sym = symmetry_verdict(fj.jacobian, rtol=rtol, atol=atol)
    pair = sym.witness if plane is None else (int(plane[0]), int(plane[1]))
    if n < 2 or pair is None:
        return FieldVerdict(True, False, sym, fj, None, None, None)
    i, j = pair
    circ = circulation(F, x, (i, j), radius=radius, f_error=f_error)
    with np.errstate(over="ignore", invalid="ignore"):
        stokes = float(np.pi * np.float64(circ.radius) ** 2 * (fj.jacobian[j, i] - fj.jacobian[i, j]))
    if not math.isfinite(stokes):
        raise ValidationError(f"Green's-theorem estimate pi rho^2 (J[j, i] - J[i, j]) overflowed at radius "
                              f"{format_number(circ.radius)}; expected a smaller radius or theta",
                              argument="radius", value=circ.radius)
    idx = (tuple(int(k) for k in np.unravel_index(i, x.shape)),
           tuple(int(k) for k in np.unravel_index(j, x.shape)))
    certified = not circ.holds
    return FieldVerdict(holds=sym.holds and not certified, certified_not_gradient=certified,
                        symmetry=sym, jacobian=fj, circulation=circ, plane_index=idx,
                        stokes_estimate=float(stokes))
