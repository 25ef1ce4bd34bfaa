"""A gradient compared with central finite differences of its function.

The check of any claimed gradient g of a function f (Nocedal & Wright 2006,
§8.1; the mixed error of ``scipy.optimize.check_grad``)::

    g_fd[i] = (f(θ + hᵢeᵢ) − f(θ − hᵢeᵢ)) / (2hᵢ),     hᵢ = ε^(1/3)·max(1, |θᵢ|),
    error   = max_i |g[i] − g_fd[i]| / max(1, |g_fd[i]|),

with the steps and differences of :mod:`mdpgrad._derivatives`.  The mixed
absolute/relative error treats small entries absolutely and large ones
relatively.

Identities checked by the tests: for f = Σ θ³, g_fd = 3θ² + h² exactly; the
exact ∇J of every parameterisation passes on dense, sparse, episodic and
near-undiscounted MDPs; a gradient off by 1 % fails; batched and looped
evaluations of f agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._derivatives import central_differences
from .._display import compact_repr
from .._errors import ValidationError
from .._validation import (
    as_real_array,
    check_callable,
    check_real,
    check_tolerance,
    first_index,
    format_index,
)

__all__ = ["FD_TOL", "GradientCheck", "check_gradient"]

#: Default pass mark of :func:`check_gradient`.  Central differences with the
#: step ε^(1/3) carry an error of about ε^(2/3) ≈ 4e-11 times the scale of f and
#: its third derivative; 1e-6 leaves room for third derivatives ~1e4 times
#: larger (γ near 1) while still catching any wrong term of the gradient.
FD_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class GradientCheck:
    """A gradient compared with central finite differences.

    Attributes
    ----------
    gradient, fd_gradient : ndarray, shape of theta
        The gradient under test and its finite-difference estimate.
    error : ndarray, shape of theta
        Mixed error ``|g − g_fd| / max(1, |g_fd|)``, entry by entry.
    max_error : float
    worst_index : tuple of int
        Where ``error`` is largest.
    step : ndarray, shape of theta
        The step h_i actually used.
    tol : float
    holds : bool
        ``max_error <= tol``.
    """

    gradient: np.ndarray
    fd_gradient: np.ndarray
    error: np.ndarray
    max_error: float
    worst_index: tuple[int, ...]
    step: np.ndarray
    tol: float
    holds: bool

    __repr__ = compact_repr

    def __str__(self) -> str:
        word, sign = ("holds", "<=") if self.holds else ("FAILS", ">")
        where = f" at theta[{', '.join(map(str, self.worst_index))}]" if self.worst_index else ""
        return (f"GradientCheck: {word} — max error {self.max_error:.2g} {sign} {self.tol:.2g}{where} "
                f"(central differences, {self.error.size} coordinates)")

    def describe(self) -> str:
        """The verdict explained: what was compared, the tolerance, the margin and what to do next."""
        if not self.worst_index and self.error.size == 0:
            return "GradientCheck holds: theta has no coordinates, nothing was compared"
        i = self.worst_index
        where = f"theta[{', '.join(map(str, i))}]" if i else "theta"
        g, g_fd = float(self.gradient[i]), float(self.fd_gradient[i])
        ratio = self.max_error / self.tol
        margin = (f"{1 / ratio:.3g} times below the tolerance" if self.holds and ratio > 0 else
                  "exactly zero" if self.holds else f"{ratio:.3g} times the tolerance")
        lines = [
            f"GradientCheck {'holds' if self.holds else 'FAILS'}: the gradient "
            f"{'agrees' if self.holds else 'disagrees'} with central finite differences of f",
            f"  compared: {self.error.size} coordinates, g_fd[i] = (f(θ + hᵢeᵢ) − f(θ − hᵢeᵢ)) / 2hᵢ with "
            f"hᵢ = ε^(1/3)·max(1, |θᵢ|) (steps {float(self.step.min()):.2g} to {float(self.step.max()):.2g})",
            f"  error: max |g − g_fd| / max(1, |g_fd|) = {self.max_error:.3g} at {where} "
            f"(g = {g:.10g}, g_fd = {g_fd:.10g})",
            f"  tolerance: {self.tol:.3g}; the error is {margin}",
        ]
        if self.holds:
            lines.append("  next: a pass at one theta is evidence, not proof: repeat at a few random theta")
        else:
            lines.append(f"  next: look at {where} of the gradient first; if f carries noise of its own (an "
                         "iterative solve), g_fd has error ~ noise / h and may not resolve this tolerance")
        return "\n".join(lines)


def check_gradient(f: Callable[[np.ndarray], Any], grad: Callable[[np.ndarray], Any] | ArrayLike,
                   theta: ArrayLike, *, tol: float = FD_TOL, batched: bool = False) -> GradientCheck:
    """Compare a gradient with central finite differences of ``f``.

    Step rule (as in scipy.optimize's numdiff for the 3-point scheme):
    ``hᵢ = ε^(1/3)·max(1, |θᵢ|)``, ε the float64 machine epsilon, rounded so that
    θᵢ + hᵢ is exactly representable.  Then

        g_fd[i] = (f(θ + hᵢeᵢ) − f(θ − hᵢeᵢ)) / (2hᵢ),
        error   = ``max_i |g[i] − g_fd[i]| / max(1, |g_fd[i]|)``.

    Reference: Nocedal & Wright 2006, §8.1.

    Parameters
    ----------
    f : callable
        θ ↦ scalar.  With ``batched=True`` it must map a stack of points of
        shape ``(m, *theta.shape)`` to an array of shape (m,) in one call.
    grad : callable or array_like
        θ ↦ ∇f(θ), or the gradient itself; shape theta.shape.
    theta : array_like, shape (...)
        Real and finite.
    tol : float
        Pass mark for ``max_error`` (default ``FD_TOL``): finite and > 0
        (an infinite tolerance would pass everything).
    batched : bool
        Evaluate all 2·θ.size points in one call of ``f``.

    Returns
    -------
    GradientCheck

    Raises
    ------
    ValidationError
        A non-callable ``f``, a non-finite θ, gradient or value of ``f`` (at θ ± hᵢeᵢ),
        or an infinite, nan or non-positive ``tol``.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import check_gradient
    >>> chk = check_gradient(lambda x: float(np.sum(x ** 3)), lambda x: 3 * x ** 2, np.array([1.0, -2.0]))
    >>> chk.holds, chk.max_error < 1e-8
    (True, True)
    """
    f = check_callable(f, "f")
    tol = check_tolerance(tol, "tol")
    tol = check_real(tol, "tol", min_value=0.0, min_open=True)
    if not isinstance(batched, (bool, np.bool_)):
        raise ValidationError(f"batched is {batched!r}; expected True or False", argument="batched",
                              value=repr(batched))
    theta = np.array(as_real_array(theta, "theta"))
    g = as_real_array(grad(theta.copy()) if callable(grad) else grad, "grad")
    if g.shape != theta.shape:
        raise ValidationError(f"the gradient has shape {g.shape}; expected theta's shape {theta.shape}",
                              argument="grad", value=g.shape)

    def scalar(points: np.ndarray) -> np.ndarray | float:
        if batched:
            values = as_real_array(f(points), "f(theta)", finite=False)
            if values.size != len(points):
                raise ValidationError(f"f returned {values.size} values for a batch of {len(points)} points",
                                      argument="f", value=values.shape)
            return values.reshape(len(points))
        value = as_real_array(f(points), "f(theta)", finite=False)
        if value.size != 1:
            raise ValidationError(f"f returned {value.size} values; expected one number", argument="f",
                                  value=value.shape)
        return float(value.reshape(()))

    fd = central_differences(scalar, theta, batched=batched)
    g_fd = fd.jacobian
    bad = first_index(~np.isfinite(g_fd))
    if bad is not None:
        raise ValidationError(f"f is not finite at theta ± h along {format_index('theta', bad)}, or its "
                              "difference overflowed; expected finite values of f near theta", argument="f",
                              index=bad)
    error = np.abs(g - g_fd) / np.maximum(1.0, np.abs(g_fd))
    k = int(np.argmax(error)) if error.size else 0
    worst = tuple(int(i) for i in np.unravel_index(k, theta.shape)) if error.size else ()
    max_error = float(error.max()) if error.size else 0.0
    return GradientCheck(gradient=g, fd_gradient=g_fd, error=error, max_error=max_error,
                         worst_index=worst, step=fd.step, tol=tol, holds=bool(max_error <= tol))
