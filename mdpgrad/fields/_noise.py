"""How accurate is one evaluation of a field?  The computational noise of F, estimated from F.

A field given as a callable (a linear solve, an iterative method, a sampler with a fixed seed)
returns F(θ) + e(θ), where the error e varies irregularly with θ.  Its size σ bounds what any
numerical verdict built on F can resolve: a central difference carries ≈ σ/h, a loop integral
≈ σ times the loop's length.  The Jacobian (:mod:`mdpgrad.fields._jacobian`) and the loop
(:mod:`mdpgrad.fields._circulation`) need σ, and an arbitrary callable does not state it.

:func:`field_noise` estimates σ for every component of F by the method of Moré & Wild (2011,
"Estimating computational noise", SIAM J. Sci. Comput. 33(3), §2–§4, algorithm ECnoise): evaluate
F at m + 1 equally spaced points θ + (k − m/2)·h·p along a fixed unit direction p, form the
difference table, and read the noise off the k-th differences,

    σ_k = sqrt( γ_k / (m + 1 − k) · Σ_i (Δᵏ f_i)² ),     γ_k = (k!)² / (2k)!,

since the k-th difference of independent errors of variance σ² has variance σ²/γ_k, while the
smooth part shrinks like hᵏ.  A level k is accepted where σ_k, σ_{k+1}, σ_{k+2} agree within a
factor :data:`NOISE_LEVEL_RATIO` and the k-th differences change sign (they are noise, not
curvature).  When no level qualifies the spacing is too large for F's curvature and it is divided
by 100 (at most :data:`NOISE_ATTEMPTS` times); if still none qualifies the largest σ_k of the
last table is returned, an over-estimate, so a verdict built on it can only become more cautious.

Identities checked by the tests: a field with added uniform noise of known standard deviation
gets an estimate within a factor 2 of it; a constant field gets σ = 0; the estimate for the
policy gradient grows with the condition number 1/(1 − γ) of its solves.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["NOISE_ATTEMPTS", "NOISE_LEVEL_RATIO", "NOISE_POINTS", "NOISE_RELATIVE_SPACING",
           "field_noise", "noise_direction"]

#: m + 1 points of the difference table: Moré & Wild (2011, §5) find m = 6–8 enough to
#: separate noise from curvature; 9 points give levels k = 1…8.
NOISE_POINTS = 9

#: First spacing h of the points, relative to max(1, max|θ|): small enough that the smooth part
#: of the third differences (h³·|F‴| ≈ 1e-18·|F‴|) lies below double-precision noise for fields
#: of moderate curvature, large enough that the points differ in many bits.
NOISE_RELATIVE_SPACING = 1e-6

#: Neighbouring noise levels σ_k must agree within this factor (Moré & Wild 2011, §4: 4).
NOISE_LEVEL_RATIO = 4.0

#: Spacings tried, each 100 times smaller than the last, before giving up (h down to 1e-12·scale).
NOISE_ATTEMPTS = 4


def noise_direction(n: int) -> np.ndarray:
    """A fixed unit direction touching every coordinate: p_k ∝ cos(k + 1), shape (n,)."""
    p = np.cos(np.arange(1, n + 1, dtype=float))
    return p / np.linalg.norm(p)


def _levels(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """σ_k for k = 1…m, shape (m, c), and whether the k-th differences change sign, shape (m, c)."""
    m = table.shape[0] - 1
    levels = np.zeros((m,) + table.shape[1:])
    signs = np.zeros((m,) + table.shape[1:], dtype=bool)
    diff = table
    gamma = 1.0
    for k in range(1, m + 1):
        diff = np.diff(diff, axis=0)
        gamma *= 0.5 * k / (2 * k - 1)          # (k!)²/(2k)! by recursion
        with np.errstate(over="ignore"):
            scale = np.max(np.abs(diff), axis=0)
            safe = np.where(scale > 0, scale, 1.0)
            # scaled sum of squares: no overflow for values near 1e308
            levels[k - 1] = safe * np.sqrt(gamma * np.mean((diff / safe) ** 2, axis=0))
        signs[k - 1] = (diff.min(axis=0) < 0) & (diff.max(axis=0) > 0)
    return levels, signs


def _accepted(levels: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Per component, the first accepted σ_k (Moré & Wild 2011, §4), or nan when none is."""
    m = levels.shape[0]
    out = np.full(levels.shape[1:], np.nan)
    for k in range(m - 3, -1, -1):      # the lowest qualifying level wins: overwrite downwards
        window = levels[k:k + 3]
        lo, hi = window.min(axis=0), window.max(axis=0)
        ok = signs[k] & (hi <= NOISE_LEVEL_RATIO * lo)
        out = np.where(ok, levels[k], out)
    return out


def field_noise(call: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """The noise σ_i of each component of a field at x (Moré & Wild 2011, ECnoise).

    Parameters
    ----------
    call : callable
        x ↦ F(x) on flat real vectors, returning finite floats, shape (c,).
    x : ndarray, shape (n,)
        The point, flat; n ≥ 1.

    Returns
    -------
    ndarray, shape (c,)
        Estimated standard deviation of the error of one evaluation of each component; 0 where
        every difference vanished (F exact there, e.g. constant), a deliberate over-estimate where
        no level qualified (see the module docstring).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noisy = lambda t: np.array([np.sin(t[0]) + 1e-10 * rng.uniform(-1, 1)])
    >>> s = field_noise(noisy, np.array([0.3]))[0]
    >>> bool(0.3e-10 < s < 1.2e-10)          # uniform on [−1e-10, 1e-10]: σ = 1e-10/√3 ≈ 5.8e-11
    True
    """
    n = x.size
    p = noise_direction(n)
    offsets = np.arange(NOISE_POINTS, dtype=float) - (NOISE_POINTS - 1) / 2.0
    h = NOISE_RELATIVE_SPACING * max(1.0, float(np.abs(x).max()))
    result = np.full(0, np.nan)
    fallback = result
    for attempt in range(NOISE_ATTEMPTS):
        table = np.stack([call(x + (o * h) * p) for o in offsets])
        levels, signs = _levels(table)
        accepted = _accepted(levels, signs)
        zero = ~np.any(np.diff(table, axis=0) != 0, axis=0)       # F identical at every point
        accepted = np.where(zero, 0.0, accepted)
        result = accepted if attempt == 0 else np.where(np.isnan(result), accepted, result)
        fallback = levels.max(axis=0)
        if not np.isnan(result).any():
            break
        h /= 100.0
    return np.where(np.isnan(result), fallback, result)
