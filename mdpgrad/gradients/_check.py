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
from .._errors import ValidationError
from .._validation import check_real

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
        Mixed error |g − g_fd| / max(1, |g_fd|), entry by entry.
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


def check_gradient(f: Callable[[np.ndarray], Any], grad: Callable[[np.ndarray], Any] | ArrayLike,
                   theta: ArrayLike, *, tol: float = FD_TOL, batched: bool = False) -> GradientCheck:
    """Compare a gradient with central finite differences of ``f``.

    Step rule (as in scipy.optimize's numdiff for the 3-point scheme):
    hᵢ = ε^(1/3)·max(1, |θᵢ|), ε the float64 machine epsilon, rounded so that
    θᵢ + hᵢ is exactly representable.  Then

        g_fd[i] = (f(θ + hᵢeᵢ) − f(θ − hᵢeᵢ)) / (2hᵢ),
        error   = max_i |g[i] − g_fd[i]| / max(1, |g_fd[i]|).

    Reference: Nocedal & Wright 2006, §8.1.

    Parameters
    ----------
    f : callable
        θ ↦ scalar.  With ``batched=True`` it must map a stack of points of
        shape (m, *theta.shape) to an array of shape (m,) in one call.
    grad : callable or array_like
        θ ↦ ∇f(θ), or the gradient itself; shape theta.shape.
    theta : array_like, shape (...)
    tol : float
        Pass mark for ``max_error`` (default :data:`FD_TOL`), > 0.
    batched : bool
        Evaluate all 2·θ.size points in one call of ``f``.

    Returns
    -------
    GradientCheck

    Examples
    --------
    >>> chk = check_gradient(lambda x: float(np.sum(x ** 3)), lambda x: 3 * x ** 2, np.array([1.0, -2.0]))
    >>> chk.holds, chk.max_error < 1e-8
    (True, True)
    """
    theta = np.array(theta, dtype=float)
    g = np.asarray(grad(theta) if callable(grad) else grad, dtype=float)
    if g.shape != theta.shape:
        raise ValidationError(f"the gradient has shape {g.shape}; expected theta's shape {theta.shape}",
                              argument="grad", value=g.shape)
    tol = check_real(tol, "tol", min_value=0.0, min_open=True)

    def scalar(points: np.ndarray) -> np.ndarray | float:
        if batched:
            return np.asarray(f(points), dtype=float).reshape(len(points))
        return float(f(points))

    fd = central_differences(scalar, theta, batched=batched)
    g_fd = fd.jacobian
    error = np.abs(g - g_fd) / np.maximum(1.0, np.abs(g_fd))
    k = int(np.argmax(error)) if error.size else 0
    worst = tuple(int(i) for i in np.unravel_index(k, theta.shape)) if error.size else ()
    max_error = float(error.max()) if error.size else 0.0
    return GradientCheck(gradient=g, fd_gradient=g_fd, error=error, max_error=max_error,
                         worst_index=worst, step=fd.step, tol=tol, holds=bool(max_error <= tol))
