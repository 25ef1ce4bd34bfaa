"""The Jacobian of a vector field given as a callable, with an error estimate that includes F's own error.

:func:`~mdpgrad.fields.field_jacobian` differentiates F by the complex step when F carries complex input
through analytically (detected, and checked against central differences), otherwise by
central differences with an error estimate from a second step (Richardson), using the
derivatives of :mod:`mdpgrad._derivatives`.  The error of every entry includes σ, the
absolute error of one evaluation of F, given by the caller or estimated from F
(Moré & Wild 2011; :mod:`mdpgrad.fields._noise`): σ/h for a central difference, σ relative
to F's scale for a complex step (Squire & Trapp 1998; Nocedal & Wright 2006, §8.1).

Identities checked by the tests: complex step equals hand-derived Jacobians of linear and
polynomial fields; complex step and central differences agree within the central error;
an explicit field error sets the complex-step floor.
"""

from __future__ import annotations

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
from .._display import compact_repr
from .._errors import ValidationError
from .._validation import (
    as_real_array,
    check_callable,
    check_choice,
    check_memory,
    check_tolerance,
    first_index,
    format_index,
    format_number,
)
from ._noise import field_noise

__all__ = ["COMPLEX_AGREEMENT_RTOL", "COMPLEX_NOISE_FACTOR", "Field", "FieldJacobian", "FieldMethod",
           "field_jacobian", "real_caller"]

#: A field θ ↦ F(θ), same shape as θ.
Field = Callable[[np.ndarray], Any]

#: How :func:`~mdpgrad.fields.field_jacobian` differentiates: "auto" tries the complex step first.
FieldMethod = Literal["auto", "complex-step", "central"]

#: Complex step and central differences must agree to this, relative to
#: max(1, max|J|), before the complex step is trusted.  Central differences at
#: h = ε^(1/3) are accurate to ≈ ε^(2/3) ≈ 4e-11 times the curvature scale; a
#: broken complex extension (abs, conj, a discarded imaginary part) is off by O(1).
COMPLEX_AGREEMENT_RTOL = 1e-6

#: The complex step Im F(θ + ihe_k)/h carries F's own evaluation error: the
#: imaginary parts of F's intermediate quantities are rounded like their real
#: parts, so the derivative is off by about σ per unit of θ, σ the error of one
#: value of F, even where the derivative itself cancels to ≈ 0 (∇²J at θ = 0 of
#: a symmetric model: entries of 3e-15 from rounding against σ ≈ 3e-15).  The
#: error floor of one entry is this factor times σ/max(1, max|θ|), plus 4ε·max|J|
#: for the rounding of the entry itself; 4 covers the few operations after the
#: solves, measured on every built-in example (asymmetries ≤ 1.1σ).
COMPLEX_NOISE_FACTOR = 4.0

_EPS = float(np.finfo(float).eps)


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
    field_scale : float
        max|F(θ)|, the size of the field at θ.
    """

    jacobian: np.ndarray
    error: np.ndarray
    method: Literal["complex-step", "central"]
    n_evaluations: int
    field_error: np.ndarray = field(default_factory=lambda: np.zeros(0))
    field_scale: float = 0.0

    __repr__ = compact_repr

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


def real_caller(F: Field, shape: tuple[int, ...], n: int) -> Callable[[np.ndarray], np.ndarray]:
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
    error estimate |D_h − D_2h| + rounding plus ``COMPLEX_AGREEMENT_RTOL``·max(1, |D_h|).
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
        with central differences to ``COMPLEX_AGREEMENT_RTOL``.
    field_error : float, optional
        Absolute error σ of one evaluation of F (each component), when the
        caller knows it; default: estimated from F (Moré & Wild 2011), at the
        cost of 9–36 evaluations.

    Returns
    -------
    FieldJacobian
        Complex step: J[:, k] = Im F(θ + i h e_k)/h, error
        ``COMPLEX_NOISE_FACTOR``·σ/max(1, max|θ|) + 4ε·max|J|.
        Central: ``h_k = ε^(1/3)·max(1, |θ_k|)``, error ``|D_h − D_2h|`` plus rounding
        ``ε(|F(θ+h)| + |F(θ−h)|)/h`` plus noise 2σ_i/h_k (Squire & Trapp 1998;
        Nocedal & Wright 2006, §8.1).

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad.fields import field_jacobian
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
    call = real_caller(counted, shape, n)
    if n == 0:
        return FieldJacobian(np.zeros((0, 0)), np.zeros((0, 0)), "central", count[0], np.zeros(0))
    f0 = call(x)
    sigma = _noise(call, x, f0, field_error)
    if method != "central":
        ccall = _complex_caller(counted, shape, n)
        try:
            if _complex_step_agrees(ccall, call, x):
                J = approx_jacobian(ccall, x)
                return FieldJacobian(J, _complex_step_error(J, f0, sigma, x), "complex-step", count[0], sigma,
                                     float(np.abs(f0).max()))
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
    return FieldJacobian(d1.jacobian, err, "central", count[0], sigma, float(np.abs(f0).max()))


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
    """The error floor of complex-step entries (see ``COMPLEX_NOISE_FACTOR``), shape (n, n)."""
    length = max(1.0, float(np.abs(x).max()))
    with np.errstate(over="ignore"):
        floor = COMPLEX_NOISE_FACTOR * float(sigma.max()) / length + 4.0 * _EPS * float(np.abs(J).max())
    err = np.full(J.shape, floor)
    _check_finite_jacobian(J, err, f0)
    return err


def _check_finite_jacobian(J: np.ndarray, err: np.ndarray, f0: np.ndarray) -> None:
    """Refuse a Jacobian or an error estimate that overflowed float64 (values of F near ±1e308)."""
    if not (np.isfinite(J).all() and np.isfinite(err).all()):
        raise ValidationError(f"the Jacobian of F or its error estimate overflows float64 (max |F(theta)| = "
                              f"{format_number(float(np.abs(f0).max()))}); expected a field whose values and "
                              "differences stay finite (rescale F)", argument="F",
                              value=float(np.abs(f0).max()))
