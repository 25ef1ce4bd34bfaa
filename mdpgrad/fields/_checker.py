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

Every error bound uses the error of F itself: σ, the absolute error of one
evaluation, given by the caller (``field_error=``) or estimated from F by the
noise-estimation method of Moré & Wild (2011; :mod:`mdpgrad.fields._noise`).
A central difference then carries σ/h, a complex step σ relative to F's scale,
and a loop of length 2πρ carries 2πρσ.  "Not a gradient" is certified only
when the Jacobian asymmetry exceeds its error floor AND the circulation exceeds
its bound; "consistent with a gradient" needs a symmetric Jacobian and a
circulation within its bound; anything else is "undecided" (with the reason:
the field's error is too large to resolve its asymmetry, or the two tests
disagree).

Identities checked by the tests: the circulation of a linear field equals
π ρ² (J[j,i] − J[i,j]); the circulation of a true gradient (∇J, regression and
residual-gradient fields) is zero within its bound; complex step and central
differences agree.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
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
from ._noise import field_noise
from ._symmetry import SYMMETRY_RTOL, SymmetryVerdict, symmetry_verdict

__all__ = [
    "CIRCULATION_NOISE_RTOL",
    "COMPLEX_AGREEMENT_RTOL",
    "COMPLEX_NOISE_FACTOR",
    "Circulation",
    "FieldJacobian",
    "FieldMethod",
    "FieldStatus",
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

#: Least relative error assumed for one evaluation of F when its error is
#: estimated rather than given: an estimate of noise from nine values is a
#: statistic, and no field computed by linear solves is more accurate than
#: 1e-12 of its largest value once the solve's condition number exceeds ≈ 1e4.
CIRCULATION_NOISE_RTOL = 1e-12

#: The complex step Im F(θ + ihe_k)/h inherits the relative error of F's own
#: evaluation, measured against the scale of the derivatives of F's
#: intermediate quantities, which can exceed the derivative itself when terms
#: cancel (∇²J ≈ 0 at θ = 0 of a symmetric model: entries 3e-15 of rounding
#: against max|F| = 2.5).  The error floor of one entry is this factor times
#: (σ/max|F|)·max(max|J|, max|F|/max(1, max|θ|)); 4 covers the rounding of the
#: few operations after the solve, measured on every built-in example.
COMPLEX_NOISE_FACTOR = 4.0

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
    field_error : ndarray, shape (n,)
        The absolute error σ_i of one evaluation of each component of F the
        estimate used: given by the caller, or estimated from F (Moré & Wild 2011).
    """

    jacobian: np.ndarray
    error: np.ndarray
    method: Literal["complex-step", "central"]
    n_evaluations: int
    field_error: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __str__(self) -> str:
        n = self.jacobian.shape[0]
        err = float(self.error.max()) if self.error.size else 0.0
        sigma = float(self.field_error.max()) if self.field_error.size else 0.0
        return (f"FieldJacobian: {n} x {n} by {self.method}, max error {err:.2g} "
                f"(field error {sigma:.2g}, {self.n_evaluations} evaluations)")


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
    # values near ±1e308 overflow to an infinite slack: no agreement is claimed from it
    with np.errstate(over="ignore", invalid="ignore"):
        fd, rounding = central_directional(call, x, direction, h)
        fd2, _ = central_directional(call, x, direction, 2 * h)
        slack = np.abs(fd2 - fd) + rounding
        scale = max(1.0, float(np.abs(fd).max()))
        return bool(np.all(np.abs(cs - fd) <= slack + COMPLEX_AGREEMENT_RTOL * scale))


def field_jacobian(F: Field, theta: ArrayLike, *, method: FieldMethod = "auto",
                   field_error: float | None = None) -> FieldJacobian:
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
    field_error : float, optional
        Absolute error σ of one evaluation of F (each component), when the
        caller knows it; default: estimated from F (Moré & Wild 2011), at the
        cost of 9–36 evaluations.

    Returns
    -------
    FieldJacobian
        Complex step: J[:, k] = Im F(θ + i h e_k)/h, error
        :data:`COMPLEX_NOISE_FACTOR`·(σ/max|F|)·max(max|J|, max|F|/max(1, max|θ|)),
        at least 4ε·max|J|.
        Central: h_k = ε^(1/3)·max(1, |θ_k|), error |D_h − D_2h| plus rounding
        ε(|F(θ+h)| + |F(θ−h)|)/h plus noise 2σ_i/h_k (Squire & Trapp 1998;
        Nocedal & Wright 2006, §8.1).

    Examples
    --------
    >>> fj = field_jacobian(lambda t: np.array([t[1], -t[0]]), np.zeros(2))
    >>> fj.method, fj.jacobian.tolist()
    ('complex-step', [[0.0, 1.0], [-1.0, 0.0]])
    """
    F = check_callable(F, "F")
    method = check_choice(method, "method", ("auto", "complex-step", "central"))
    if field_error is not None:
        field_error = check_tolerance(field_error, "field_error")
    x = as_real_array(theta, "theta")
    shape, n = x.shape, x.size
    _jacobian_memory(n, method)
    x = x.ravel()
    counted, count = _counted(F)
    call = _real_caller(counted, shape, n)
    if n == 0:
        return FieldJacobian(np.zeros((0, 0)), np.zeros((0, 0)), "central", count[0], np.zeros(0))
    f0 = call(x)
    sigma = _noise(call, x, f0, field_error)
    if method != "central":
        ccall = _complex_caller(counted, shape, n)
        try:
            if _complex_step_agrees(ccall, call, x):
                J = approx_jacobian(ccall, x)
                return FieldJacobian(J, _complex_step_error(J, f0, sigma, x), "complex-step", count[0], sigma)
        except _NotAnalytic:
            pass
        if method == "complex-step":
            raise ValidationError("F does not carry complex input through analytically "
                                  "(it failed, returned a real array, or disagreed with central differences)",
                                  argument="F", value=method)
    with np.errstate(over="ignore", invalid="ignore"):
        d1 = central_differences(call, x)
        d2 = central_differences(call, x, steps=2.0 * d1.step)
        # truncation O(h²): D_2h − D_h ≈ 3ch², so |D_2h − D_h| over-estimates D_h's error threefold;
        # the noise σ_i of each value enters a difference quotient as 2σ_i/(2h_k) per side
        err = (np.abs(d2.jacobian - d1.jacobian) + d1.rounding + d2.rounding
               + 2.0 * sigma[:, None] / d1.step[None, :])
    _check_finite_jacobian(d1.jacobian, err, f0)
    return FieldJacobian(d1.jacobian, err, "central", count[0], sigma)


def _noise(call: Callable[[np.ndarray], np.ndarray], x: np.ndarray, f0: np.ndarray,
           field_error: float | None) -> np.ndarray:
    """σ_i per component: the caller's ``field_error``, else the estimate, never below ε·|F(θ)|."""
    floor = _EPS * np.abs(f0)
    if field_error is not None:
        return np.maximum(floor, field_error)
    with np.errstate(over="ignore", invalid="ignore"):
        est = field_noise(call, x)
    return np.maximum(floor, est)


def _complex_step_error(J: np.ndarray, f0: np.ndarray, sigma: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The error floor of complex-step entries (see :data:`COMPLEX_NOISE_FACTOR`), shape (n, n)."""
    jmax = float(np.abs(J).max())
    fmax = float(np.abs(f0).max())
    smax = float(sigma.max())
    length = max(1.0, float(np.abs(x).max()))
    rel = smax / fmax if fmax > 0 else _EPS
    with np.errstate(over="ignore"):
        floor = COMPLEX_NOISE_FACTOR * rel * max(jmax, fmax / length)
    err = np.full(J.shape, max(floor, 4.0 * _EPS * max(jmax, _EPS)))
    _check_finite_jacobian(J, err, f0)
    return err


def _check_finite_jacobian(J: np.ndarray, err: np.ndarray, f0: np.ndarray) -> None:
    """Refuse a Jacobian or an error estimate that overflowed float64 (values of F near ±1e308)."""
    if not (np.isfinite(J).all() and np.isfinite(err).all()):
        raise ValidationError(f"the Jacobian of F or its error estimate overflows float64 (max |F(theta)| = "
                              f"{format_number(float(np.abs(f0).max()))}); expected a field whose values and "
                              "differences stay finite (rescale F)", argument="F",
                              value=float(np.abs(f0).max()))


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
        The absolute error assumed for each value of F: given, or estimated
        from F at the centre (Moré & Wild 2011), at least
        :data:`CIRCULATION_NOISE_RTOL`·max|F|.
    noise : float
        The part of ``bound`` due to F's error, 4πρ·(f_error + 2ε·max|F|):
        twice the loop length times the error of one value.
    """

    value: float
    bound: float
    plane: tuple[int, int]
    radius: float
    n_nodes: int
    f_error: float
    noise: float = 0.0

    @property
    def holds(self) -> bool:
        """|value| ≤ bound: the loop integral is zero within its error bound, as for a gradient.

        False certifies that F is not a gradient.
        """
        return bool(abs(self.value) <= self.bound)

    def __str__(self) -> str:
        word = "zero within its bound" if self.holds else "non-zero beyond its bound"
        return (f"Circulation: {word} — {self.value:.3g} vs bound {self.bound:.2g} around a circle of "
                f"radius {self.radius:.3g} in the plane {self.plane} ({self.n_nodes} nodes, "
                f"field error {self.f_error:.2g})")


def circulation(F: Field, theta: ArrayLike, plane: tuple[int, int], *,
                radius: float | None = None, f_error: float | None = None,
                min_nodes: int = 8, max_nodes: int = 1024, field_error: float | None = None) -> Circulation:
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
    f_error, field_error : float, optional
        Absolute error of one value of F (two names for one argument; give at
        most one); default: estimated from F at θ (Moré & Wild 2011), at least
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
    f_error = _error_argument(f_error, field_error)
    call = _real_caller(F, shape, n)
    estimate = None
    if f_error is None:
        with np.errstate(over="ignore", invalid="ignore"):
            sigma = field_noise(call, x)
        estimate = float(max(sigma[i], sigma[j]))
    return _loop(call, x, i, j, rho, f_error, estimate, min_nodes, max_nodes)


def _error_argument(f_error: float | None, field_error: float | None) -> float | None:
    """The absolute error of one evaluation, from either of its two names (at most one given)."""
    if f_error is not None and field_error is not None:
        raise ValidationError("f_error and field_error name the same error; pass one of them",
                              argument="field_error", value=field_error)
    if field_error is not None:
        return check_tolerance(field_error, "field_error")
    return None if f_error is None else check_tolerance(f_error, "f_error")


def _loop(call: Callable[[np.ndarray], np.ndarray], x: np.ndarray, i: int, j: int, rho: float,
          f_error: float | None, estimate: float | None, min_nodes: int, max_nodes: int) -> Circulation:
    """The circulation of a validated flat field (see :func:`circulation`).

    ``f_error``: the caller's error of F; ``estimate``: the error estimated from F.
    """
    cache: dict[float, tuple[float, float]] = {}

    def integrand(t: float) -> tuple[float, float]:
        if t not in cache:
            z = x.copy()
            z[i] += rho * math.cos(t)
            z[j] += rho * math.sin(t)
            y = call(z)
            yi, yj = float(y[i]), float(y[j])       # Python floats overflow to inf without warnings
            # ρ first: the two products may each be near 1e308 while their sum times ρ is not
            cache[t] = ((-rho * math.sin(t)) * yi + (rho * math.cos(t)) * yj, max(abs(yi), abs(yj)))
        return cache[t]

    def rule(N: int) -> tuple[float, float]:
        vals = [integrand(2.0 * math.pi * k / N) for k in range(N)]
        return 2.0 * math.pi / N * math.fsum(v for v, _ in vals), max(m for _, m in vals)

    N = max(4, int(min_nodes))
    try:
        cur, bound, N, ferr, noise = _refine(rule, N, max_nodes, rho, f_error, estimate)
    except (OverflowError, ValueError):     # math.fsum: intermediate overflow, or inf − inf
        cur = bound = math.inf
        ferr = noise = 0.0
    if not (math.isfinite(cur) and math.isfinite(bound) and math.isfinite(ferr)):
        raise ValidationError(f"the loop integral overflowed at radius {format_number(rho)}; expected a "
                              "radius (and a centre theta) at which F and the integrand stay finite",
                              argument="radius", value=rho)
    return Circulation(value=float(cur), bound=float(bound), plane=(i, j), radius=rho, n_nodes=N,
                       f_error=ferr, noise=noise)


def _refine(rule: Callable[[int], tuple[float, float]], N: int, max_nodes: int, rho: float,
            f_error: float | None, estimate: float | None) -> tuple[float, float, int, float, float]:
    """Double the trapezoid nodes from N until converged; the value, its bound, the nodes, F's error, noise.

    F's error is ``f_error`` when given, else the larger of the estimate and
    :data:`CIRCULATION_NOISE_RTOL`·max|F|.
    """
    prev, fmax = rule(N)
    while True:
        N *= 2
        cur, fmax2 = rule(N)
        fmax = max(fmax, fmax2)
        ferr = (float(f_error) if f_error is not None
                else max(float(estimate or 0.0), CIRCULATION_NOISE_RTOL * fmax))
        # evaluation error of F plus rounding in the sum: refining below it is pointless
        noise = 4.0 * math.pi * rho * (ferr + 2 * _EPS * fmax)
        gap = abs(cur - prev)
        if gap <= 1e-3 * abs(cur) or gap <= noise or N >= max_nodes:
            break
        prev = cur
    return cur, gap + noise, N, ferr, noise


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
#: The three answers of :func:`is_gradient_field`.
FieldStatus = Literal["gradient", "not a gradient", "undecided"]


@dataclass(frozen=True)
class FieldVerdict:
    """Is F a gradient near θ?  Jacobian symmetry and circulation, with witnesses.

    Attributes
    ----------
    holds : bool
        Symmetric Jacobian (within its error) and a circulation within its bound.
    certified_not_gradient : bool
        The Jacobian asymmetry exceeds its error floor AND the circulation
        around the witness loop exceeds its error bound: a proof, up to the
        stated bounds (which include F's own error), that F is not a gradient.
    symmetry : SymmetryVerdict
        Of the Jacobian, with atol = twice its largest estimated error.
    jacobian : FieldJacobian
    circulation : Circulation or None
        None when θ has a single coordinate (every 1-D field is a gradient).
    plane_index : tuple or None
        The witness plane's coordinates as indices into θ's shape.
    stokes_estimate : float or None
        πρ²(J[j, i] − J[i, j]), the circulation the Jacobian predicts.
    status : {"gradient", "not a gradient", "undecided"}
        "gradient" iff ``holds``, "not a gradient" iff ``certified_not_gradient``.
    reason : str
        Why undecided ("" otherwise): "field error too large" when F's error
        hides its asymmetry in the loop, else "Jacobian and circulation disagree".
    field_error : float
        The absolute error of one evaluation of F the bounds used (largest component).
    """

    holds: bool
    certified_not_gradient: bool
    symmetry: SymmetryVerdict
    jacobian: FieldJacobian
    circulation: Circulation | None
    plane_index: tuple[tuple[int, ...], tuple[int, ...]] | None
    stokes_estimate: float | None
    status: FieldStatus = "gradient"
    reason: str = ""
    field_error: float = 0.0

    @property
    def verdict(self) -> str:
        """The answer in words: "gradient", "NOT a gradient" or "undecided: <reason>"."""
        if self.status == "undecided":
            return f"undecided: {self.reason}"
        return "gradient" if self.holds else "NOT a gradient"

    def __str__(self) -> str:
        c, sym = self.circulation, self.symmetry
        if c is None:
            return "FieldVerdict: gradient — one coordinate only"
        return (f"FieldVerdict: {self.verdict} — Jacobian asymmetry {sym.max_asymmetry:.3g} vs tolerance "
                f"{sym.tolerance:.2g} ({self.jacobian.method}); circulation {c.value:.3g} vs bound "
                f"{c.bound:.2g}")

    def describe(self) -> str:
        """One paragraph for people."""
        c, where, stokes = self.circulation, self.plane_index, self.stokes_estimate
        if c is None or where is None or stokes is None:
            return "a gradient: one coordinate only"
        loop = (f"circulation {c.value:.3g} around a circle of radius {c.radius:.3g} in the plane "
                f"{where[0]}, {where[1]} (bound {c.bound:.2g}; Jacobian predicts {stokes:.3g})")
        if self.holds:
            return f"consistent with a gradient: symmetric Jacobian ({self.jacobian.method}); {loop}"
        head = ("NOT a gradient (certified by Jacobian asymmetry and circulation)"
                if self.certified_not_gradient else
                f"undecided ({self.reason}, field error {self.field_error:.2g})")
        return f"{head}: {self.symmetry.describe()}; {loop}"


def is_gradient_field(F: Field, theta: ArrayLike, *, method: FieldMethod = "auto",
                      plane: tuple[int, int] | None = None, radius: float | None = None,
                      f_error: float | None = None, rtol: float = SYMMETRY_RTOL,
                      field_error: float | None = None) -> FieldVerdict:
    """Decide whether the field F is a gradient near θ.

    Steps: (1) the error σ of one evaluation of F (``field_error``, or
    estimated from F: Moré & Wild 2011); (2) the Jacobian J by
    :func:`field_jacobian`, with error estimates that include σ; (3) its
    symmetry, tolerating rtol·max|J| plus twice the largest estimated entry
    error (the floor); (4) the circulation around a circle in the plane of the
    witness pair (or ``plane``), bounded by quadrature error plus σ times twice
    the loop length.  Answers:

    * "gradient" (``holds``): symmetric Jacobian and circulation within its
      bound (a local statement at θ);
    * "not a gradient" (``certified_not_gradient``): asymmetry beyond the floor
      AND circulation beyond its bound (Green's theorem);
    * "undecided": anything else, with the reason.

    Parameters
    ----------
    F : callable
        θ ↦ F(θ), same shape as θ.
    theta : array_like
    method : {"auto", "complex-step", "central"}
    plane : tuple of int, optional
        Flat indices of the loop plane; default the Jacobian's witness pair.
    radius : float, optional
        Passed to :func:`circulation`.
    f_error, field_error : float, optional
        Absolute error of one evaluation of F (two names for one argument):
        for a caller who knows it; default estimated from F.
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
    >>> print(is_gradient_field(lambda t: A @ t, np.ones(2)).verdict)
    gradient

    A rotation evaluated with an error of 0.1 cannot be told from a gradient
    on a loop of radius 0.01:

    >>> is_gradient_field(lambda t: np.array([-t[1], t[0]]), np.zeros(2), field_error=0.1).verdict
    'undecided: field error too large'
    """
    F = check_callable(F, "F")
    x = as_real_array(theta, "theta")
    rtol = check_tolerance(rtol, "rtol")
    if plane is not None:
        plane = _check_plane(plane, x.size)
    if radius is not None:
        radius = check_real(radius, "radius", min_value=0.0, min_open=True)
    given = _error_argument(f_error, field_error)
    fj = field_jacobian(F, x, method=method, field_error=given)
    n = x.size
    floor = 2.0 * float(fj.error.max()) if n else 0.0
    if not math.isfinite(floor):
        raise ValidationError(f"the error floor of F's Jacobian overflows float64 (max error "
                              f"{format_number(float(fj.error.max()))}); expected a field whose derivatives "
                              "stay finite (rescale F)", argument="F", value=float(fj.error.max()))
    try:
        sym = symmetry_verdict(fj.jacobian, rtol=rtol, atol=floor)
    except ValidationError as exc:
        raise ValidationError(f"the Jacobian of F: {exc}", argument="F", index=exc.index,
                              value=exc.value) from None
    sigma = float(fj.field_error.max()) if n else 0.0
    pair = sym.witness if plane is None else (int(plane[0]), int(plane[1]))
    if n < 2 or pair is None:
        return FieldVerdict(True, False, sym, fj, None, None, None, "gradient", "", sigma)
    i, j = pair
    rho = RADIUS_RTOL * max(1.0, float(np.abs(x).max())) if radius is None else radius
    call = _real_caller(F, x.shape, n)
    estimate = float(max(fj.field_error[i], fj.field_error[j]))
    circ = _loop(call, x.ravel(), i, j, rho, given, estimate, 8, 1024)
    with np.errstate(over="ignore", invalid="ignore"):
        stokes = float(np.pi * np.float64(circ.radius) ** 2 * (fj.jacobian[j, i] - fj.jacobian[i, j]))
    if not math.isfinite(stokes):
        raise ValidationError(f"Green's-theorem estimate pi rho^2 (J[j, i] - J[i, j]) overflowed at radius "
                              f"{format_number(circ.radius)}; expected a smaller radius or theta",
                              argument="radius", value=circ.radius)
    idx = (tuple(int(k) for k in np.unravel_index(i, x.shape)),
           tuple(int(k) for k in np.unravel_index(j, x.shape)))
    asymmetric = sym.max_asymmetry > floor
    holds = sym.holds and circ.holds
    certified = asymmetric and not circ.holds
    status: FieldStatus = "gradient" if holds else "not a gradient" if certified else "undecided"
    reason = ""
    if status == "undecided":
        # the loop cannot resolve what the Jacobian predicts, or the Jacobian's floor hides what the loop sees
        hidden = circ.noise >= abs(stokes) if circ.holds else math.pi * circ.radius ** 2 * floor >= circ.bound
        reason = "field error too large" if hidden else "Jacobian and circulation disagree"
    return FieldVerdict(holds=holds, certified_not_gradient=certified, symmetry=sym, jacobian=fj,
                        circulation=circ, plane_index=idx, stokes_estimate=float(stokes), status=status,
                        reason=reason, field_error=sigma)
