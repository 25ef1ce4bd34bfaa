"""The circulation ∮ F·dθ of a field around a small circle, bounded by quadrature and F's own error.

By Green's theorem in the plane of coordinates (i, j), a circle of radius ρ gives

    ∮ F · dθ = ∬ (∂F_j/∂θ_i − ∂F_i/∂θ_j) dA  ≈  π ρ² (J[j, i] − J[i, j]),

and a gradient field has zero circulation around every loop, so a circulation whose
magnitude exceeds its error bound certifies "not a gradient" without trusting any
derivative (Apostol 1969, §10.14–10.16).  :func:`~mdpgrad.fields.circulation` integrates by the trapezoid
rule (spectrally accurate for smooth periodic integrands; Trefethen & Weideman 2014, §3);
the bound is the a-posteriori quadrature gap plus 4πρ·σ, twice the loop's length times the
error σ of one evaluation of F (given, or estimated from F: Moré & Wild 2011).

Identities checked by the tests: the circulation of a linear field equals
πρ²(J[j, i] − J[i, j]); the circulation of a true gradient is zero within its bound, also
when F is evaluated with noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._display import compact_repr
from .._errors import ValidationError
from .._validation import (
    as_real_array,
    check_callable,
    check_integer,
    check_real,
    check_tolerance,
    format_number,
)
from ._jacobian import Field, real_caller
from ._noise import field_noise

__all__ = ["CIRCULATION_NOISE_RTOL", "MAX_CIRCULATION_NODES", "RADIUS_RTOL", "Circulation", "check_plane",
           "circulation", "error_argument", "loop_circulation"]

#: Least relative error assumed for one evaluation of F when its error is
#: estimated rather than given: an estimate of noise from nine values is a
#: statistic, and no field computed by linear solves is more accurate than
#: 1e-12 of its largest value once the solve's condition number exceeds ≈ 1e4.
CIRCULATION_NOISE_RTOL = 1e-12

#: Default loop radius relative to max(1, max|θ|): small enough that the
#: circulation measures the local curl, large enough that πρ²·curl ≫ noise.
RADIUS_RTOL = 1e-2

#: Most nodes :func:`~mdpgrad.fields.circulation` will place on one loop (one evaluation of F each): the
#: trapezoid rule converges geometrically for smooth fields, so a loop that has not settled
#: after 65 536 nodes is not smooth at that radius, and more evaluations would not help.
MAX_CIRCULATION_NODES = 2**16

_EPS = float(np.finfo(float).eps)


@dataclass(frozen=True)
class Circulation:
    """∮ F·dθ around the circle θ + ρ(cos t e_i + sin t e_j), t ∈ [0, 2π).

    Attributes
    ----------
    value : float
        The trapezoid-rule integral with ``n_nodes`` nodes.
    bound : float
        Error bound: ``|T_N − T_{N/2}|`` (a posteriori; the error of the N-node
        rule is far smaller once convergence is geometric) plus 4πρ·f_error
        for the evaluation error of F.
    plane : tuple of int
        (i, j) in flattened θ; the loop is counter-clockwise in (θ_i, θ_j).
    radius : float
    n_nodes : int
    f_error : float
        The absolute error assumed for each value of F: given, or estimated
        from F at the centre (Moré & Wild 2011), at least
        ``CIRCULATION_NOISE_RTOL``·max|F|.
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

    __repr__ = compact_repr

    @property
    def holds(self) -> bool:
        """``|value| ≤ bound``: the loop integral is zero within its error bound, as for a gradient.

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
        ρ > 0; default ``RADIUS_RTOL``·max(1, max|θ|).
    f_error : float, optional
        Absolute error of one value of F (also named ``field_error``; give at
        most one); default: estimated from F at θ (Moré & Wild 2011), at least
        ``CIRCULATION_NOISE_RTOL``·max|F| over the nodes.
    min_nodes, max_nodes : int
        4 ≤ min_nodes ≤ max_nodes ≤ ``MAX_CIRCULATION_NODES``.
    field_error : float, optional
        The same argument as ``f_error`` under its other name.

    Returns
    -------
    Circulation

    Notes
    -----
    Green's theorem: a gradient field has zero circulation around every loop;
    for a linear field F(θ) = Jθ + b the value is πρ²(J[j, i] − J[i, j]).

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad.fields import circulation
    >>> c = circulation(lambda t: np.array([-t[1], t[0]]), np.zeros(2), (0, 1), radius=1.0)
    >>> round(c.value / np.pi, 12), not c.holds          # curl 2 over a disc of area π
    (2.0, True)
    """
    F = check_callable(F, "F")
    x = as_real_array(theta, "theta")
    shape, n = x.shape, x.size
    x = x.ravel()
    i, j = check_plane(plane, n)
    min_nodes = check_integer(min_nodes, "min_nodes", min_value=4, max_value=MAX_CIRCULATION_NODES)
    max_nodes = check_integer(max_nodes, "max_nodes", min_value=min_nodes, max_value=MAX_CIRCULATION_NODES)
    if radius is None:
        rho = RADIUS_RTOL * max(1.0, float(np.abs(x).max()))
    else:
        rho = check_real(radius, "radius", min_value=0.0, min_open=True)
    f_error = error_argument(f_error, field_error)
    call = real_caller(F, shape, n)
    estimate = None
    if f_error is None:
        with np.errstate(over="ignore", invalid="ignore"):
            sigma = field_noise(call, x)
        estimate = float(max(sigma[i], sigma[j]))
    return loop_circulation(call, x, i, j, rho, f_error, estimate, min_nodes, max_nodes)


def error_argument(f_error: float | None, field_error: float | None) -> float | None:
    """The absolute error of one evaluation, from either of its two names (at most one given)."""
    if f_error is not None and field_error is not None:
        raise ValidationError("f_error and field_error name the same error; pass one of them",
                              argument="field_error", value=field_error)
    if field_error is not None:
        return check_tolerance(field_error, "field_error")
    return None if f_error is None else check_tolerance(f_error, "f_error")


def loop_circulation(call: Callable[[np.ndarray], np.ndarray], x: np.ndarray, i: int, j: int, rho: float,
          f_error: float | None, estimate: float | None, min_nodes: int, max_nodes: int) -> Circulation:
    """The circulation of a validated flat field (see :func:`~mdpgrad.fields.circulation`).

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
    ``CIRCULATION_NOISE_RTOL``·max|F|.
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


def check_plane(plane: Any, n: int) -> tuple[int, int]:
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
