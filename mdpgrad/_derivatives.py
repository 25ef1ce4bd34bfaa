"""Numerical derivatives: the complex step and central differences, in one place.

Every derivative mdpgrad takes numerically comes from this module, in the
manner of ``scipy.optimize.approx_derivative(method=...)``: a Jacobian (one
column per coordinate, optionally a block of coordinates per call), a
directional derivative, or the central-difference gradient of a scalar.

**Complex step** (Squire & Trapp 1998; Martins et al. 2003).  For f analytic
in x (it accepts complex input and carries it through without abs, conj or a
cast to real)::

    ∂f/∂u (x) = Im f(x + ih u) / h + O(h²),      h = 1e-20 (COMPLEX_STEP).

No two nearby values are subtracted, so nothing cancels and h can be tiny:
the truncation term h²·|f‴| lies far below one ulp and the result is exact to
rounding.  The perturbation rides through every linear solve in complex
arithmetic, so Im ∇J(θ + ihu)/h is the Hessian-vector product ∇²J(θ) u for
the price of one complex gradient.

**Central differences** (Nocedal & Wright 2006, §8.1), for any f::

    ∂f/∂x_j ≈ (f(x + h_j e_j) − f(x − h_j e_j)) / (2 h_j),
    h_j = ε^(1/3)·max(1, |x_j|),  rounded so that x_j + h_j is exactly representable,

with ε the float64 machine epsilon.  The error is O(h²)·|f‴| from truncation
plus O(ε/h)·|f| from rounding; the step ε^(1/3) balances the two at about
ε^(2/3) ≈ 4e-11 of the scale of f (the rule of scipy's 3-point scheme).  The
rounding part of one difference is bounded by ε(|f(x + h)| + |f(x − h)|)/h,
returned alongside the derivative.

A *batched* f maps a stack of points, shape (m, *x.shape), to a stack of
values, shape (m, *out_shape), in one call; the Jacobians then evaluate
``chunk`` coordinates per call, so that a memory cap (:data:`BATCH_ENTRIES`,
see :func:`batch_size`) bounds what is built at once.

Memory: every (k × n) block of perturbed points and every (out × n) Jacobian is
estimated before it is allocated and refused beyond :func:`mdpgrad.set_memory_limit`
(the Jacobian once the first block has revealed the size of f's output).

Identities checked by the tests: the complex step equals hand-derived
Jacobians of polynomials, exp and sin to a few ulps; batched and looped
Jacobians are equal bit for bit whatever the chunk; the central difference of
Σ x³ is 3x² + h² exactly (the truncation term f‴h²/6); complex step and
central differences agree to the central error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import check_choice, check_memory

__all__ = [
    "BATCH_ENTRIES",
    "CENTRAL_RELATIVE_STEP",
    "COMPLEX_STEP",
    "CentralDifferences",
    "DerivativeMethod",
    "approx_jacobian",
    "batch_size",
    "central_differences",
    "central_directional",
    "central_steps",
    "complex_step_blocks",
    "complex_step_directional",
]

#: Imaginary step h of f′(x) = Im f(x + ih)/h.  Without a subtraction there is
#: no cancellation, so any h ≤ 1e-20 puts the truncation error h²·|f‴| far below
#: one ulp while rounding does not grow as h shrinks (Squire & Trapp 1998).
COMPLEX_STEP = 1e-20

_EPS = float(np.finfo(np.float64).eps)

#: Relative step of central differences, ε^(1/3) ≈ 6.06e-6: it balances the
#: truncation error h²·|f‴|/6 against the rounding error ε·|f|/h.
CENTRAL_RELATIVE_STEP = _EPS ** (1.0 / 3.0)

#: Upper bound on the entries of one batch of perturbed points and of what the
#: function builds from them (≈ 320 MB of complex numbers).
BATCH_ENTRIES = 20_000_000

#: How a Jacobian is approximated.
DerivativeMethod = Literal["complex-step", "central"]

#: A function of one point (or, batched, of a stack of points) returning an array.
Function = Callable[[np.ndarray], Any]


class CentralDifferences(NamedTuple):
    """Central differences of f at x along every coordinate.

    Attributes
    ----------
    jacobian : ndarray, shape out_shape + x.shape
        (f(x + h_j e_j) − f(x − h_j e_j)) / (2h_j) in the slot of x_j.
    rounding : ndarray, shape out_shape + x.shape
        ε(|f(x + h_j e_j)| + |f(x − h_j e_j)|)/h_j, the rounding part of the error.
    step : ndarray, shape x.shape
        The steps h_j used.
    """

    jacobian: np.ndarray
    rounding: np.ndarray
    step: np.ndarray


def central_steps(x: ArrayLike) -> NDArray[np.float64]:
    """The central-difference steps h_j = ε^(1/3)·max(1, |x_j|), exactly representable.

    Each h_j is replaced by (x_j + h_j) − x_j, the step the floating-point
    point x_j + h_j really lies at, so the quotient divides by the true step.

    Parameters
    ----------
    x : array_like, shape (...)

    Returns
    -------
    ndarray, shape x.shape

    Examples
    --------
    >>> bool(central_steps([0.0])[0] == CENTRAL_RELATIVE_STEP)
    True
    """
    x = np.asarray(x, dtype=float)
    h = CENTRAL_RELATIVE_STEP * np.maximum(1.0, np.abs(x))
    return (x + h) - x


def batch_size(entries_per_point: int, max_entries: int = BATCH_ENTRIES) -> int:
    """How many points fit in one batch: max(1, max_entries // entries_per_point).

    Examples
    --------
    >>> batch_size(6_000), batch_size(10 ** 9)
    (3333, 1)
    """
    return max(1, int(max_entries) // max(1, int(entries_per_point)))


def complex_step_directional(f: Function, x: ArrayLike, u: ArrayLike) -> np.ndarray:
    """The derivative of f at x along u, Im f(x + ih u)/h, with h = :data:`COMPLEX_STEP`.

    Parameters
    ----------
    f : callable
        Analytic in x (accepts complex input).
    x, u : array_like, same shape

    Returns
    -------
    ndarray, shape of f(x)

    Examples
    --------
    >>> float(complex_step_directional(lambda z: np.exp(z).sum(), np.zeros(2), [1.0, 2.0]))
    3.0
    """
    x = np.asarray(x)
    return np.asarray(f(x + 1j * COMPLEX_STEP * np.asarray(u))).imag / COMPLEX_STEP


def _block_size(n: int, batched: bool, chunk: int | None) -> int:
    if not batched:
        return 1
    return max(1, n if chunk is None else int(chunk))


def complex_step_blocks(f: Function, x: ArrayLike, *, batched: bool = False,
                        chunk: int | None = None) -> Iterator[tuple[NDArray[np.intp], np.ndarray]]:
    """The partial derivatives ∂f/∂x_j by complex steps, a block of coordinates at a time.

    For callers that contract each block at once and never hold the whole
    Jacobian (:func:`approx_jacobian` stacks them).

    Parameters
    ----------
    f : callable
        Analytic in x.  Batched: maps (k, *x.shape) to (k, *out_shape).
    x : array_like, real
    batched : bool
        Evaluate ``chunk`` coordinates per call of f (default: one per call).
    chunk : int, optional
        Coordinates per batched call (default: all at once).

    Yields
    ------
    j : ndarray of int, shape (k,)
        Flat indices into x.
    D : ndarray, shape (k, *out_shape)
        D[i] = ∂f/∂x_{j[i]}.
    """
    x = np.asarray(x, dtype=float)
    flat = x.ravel()
    n = flat.size
    step = _block_size(n, batched, chunk)
    check_memory(16.0 * min(step, n) * n, f"a block of {min(step, n)} complex points of {n} coordinates", "x")
    for start in range(0, n, step):
        idx = np.arange(start, min(n, start + step))
        points = np.repeat(flat[None, :].astype(complex), idx.size, axis=0)
        points[np.arange(idx.size), idx] += 1j * COMPLEX_STEP
        if batched:
            out = np.asarray(f(points.reshape((idx.size,) + x.shape)))
        else:
            out = np.asarray(f(points[0].reshape(x.shape)))[None]
        yield idx, out.imag / COMPLEX_STEP


def central_directional(f: Function, x: ArrayLike, u: ArrayLike,
                        h: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The central difference of f at x along u, and the rounding part of its error.

    Parameters
    ----------
    f : callable
    x, u : array_like, same shape
        ``u`` is taken as given (normalise it for a derivative per unit length).
    h : float, optional
        The step; default ε^(1/3)·max(1, max|x|).

    Returns
    -------
    derivative : ndarray, shape of f(x)
        (f(x + hu) − f(x − hu)) / (2h).
    rounding : ndarray, shape of f(x)
        ε(|f(x + hu)| + |f(x − hu)|)/h.

    Examples
    --------
    >>> d, r = central_directional(lambda z: z[0] ** 2, np.array([3.0]), np.array([1.0]))
    >>> round(float(d), 6), bool(r < 1e-9)
    (6.0, True)
    """
    x = np.asarray(x, dtype=float)
    u = np.asarray(u, dtype=float)
    if h is None:
        h = CENTRAL_RELATIVE_STEP * max(1.0, float(np.abs(x).max()) if x.size else 0.0)
    fp, fm = np.asarray(f(x + h * u)), np.asarray(f(x - h * u))
    return (fp - fm) / (2.0 * h), _EPS * (np.abs(fp) + np.abs(fm)) / h


def central_differences(f: Function, x: ArrayLike, *, steps: ArrayLike | None = None,
                        batched: bool = False, chunk: int | None = None) -> CentralDifferences:
    """Central differences of f along every coordinate of x, with their rounding bound.

    Parameters
    ----------
    f : callable
        x ↦ array.  Batched: maps (m, *x.shape) to (m, *out_shape); a call
        receives the k points x + h_j e_j of a block followed by the k points
        x − h_j e_j.
    x : array_like, real
    steps : array_like, shape x.shape, optional
        h_j (default :func:`central_steps`).
    batched : bool
        Evaluate 2·``chunk`` points per call of f (default: one per call).
    chunk : int, optional
        Coordinates per batched call (default: all at once).

    Returns
    -------
    CentralDifferences

    Examples
    --------
    f = Σ x³: the difference is 3x² + h² exactly (truncation f‴h²/6).

    >>> cd = central_differences(lambda z: np.sum(z ** 3), np.array([1.0, -2.0]))
    >>> bool(np.allclose(cd.jacobian, [3.0, 12.0], rtol=1e-9))
    True
    """
    x = np.asarray(x, dtype=float)
    flat = x.ravel()
    n = flat.size
    h = (central_steps(flat) if steps is None
         else np.broadcast_to(np.asarray(steps, dtype=float), x.shape).ravel())
    columns: list[np.ndarray] = []
    rounding: list[np.ndarray] = []
    size = _block_size(n, batched, chunk)
    check_memory(16.0 * min(size, n) * n, f"a block of {2 * min(size, n)} points of {n} coordinates", "x")
    for start in range(0, n, size):
        idx = np.arange(start, min(n, start + size))
        k = idx.size
        points = np.repeat(flat[None, :], 2 * k, axis=0)
        points[np.arange(k), idx] += h[idx]
        points[k + np.arange(k), idx] -= h[idx]
        if batched:
            values = np.asarray(f(points.reshape((2 * k,) + x.shape)))
        else:
            values = np.stack([np.asarray(f(p.reshape(x.shape))) for p in points])
        hk = h[idx].reshape((k,) + (1,) * (values.ndim - 1))
        if start == 0:   # the Jacobian and its rounding bound, out × n each, held as columns and stacked
            _check_jacobian_memory(values[0].size, n, 4)
        columns.extend((values[:k] - values[k:]) / (2 * hk))
        rounding.extend(_EPS * (np.abs(values[:k]) + np.abs(values[k:])) / hk)
    return CentralDifferences(jacobian=_as_jacobian(columns, f, x, batched),
                              rounding=_as_jacobian(rounding, f, x, batched),
                              step=h.reshape(x.shape))


def _check_jacobian_memory(out_size: int, n: int, copies: int) -> None:
    """Refuse an (out × n) float Jacobian that, with its ``copies`` working copies, exceeds the limit."""
    check_memory(8.0 * copies * float(out_size) * n, f"an ({out_size} x {n}) Jacobian", "x")


def _as_jacobian(columns: list[np.ndarray], f: Function, x: np.ndarray, batched: bool) -> np.ndarray:
    """Stack per-coordinate derivatives (each of out_shape) into out_shape + x.shape."""
    if not columns:  # x has no coordinates: read the output shape off one call at x
        out_shape = np.shape(f(x[None])[0]) if batched else np.shape(f(x))
        return np.zeros(out_shape + x.shape)
    jac = np.stack(columns, axis=-1)
    return jac.reshape(jac.shape[:-1] + x.shape)


def approx_jacobian(f: Function, x: ArrayLike, *, method: DerivativeMethod = "complex-step",
                    batched: bool = False, chunk: int | None = None) -> np.ndarray:
    """The Jacobian ∂f[i]/∂x[j] by the complex step or by central differences.

    Parameters
    ----------
    f : callable
        x ↦ array of any shape; analytic in x for the complex step.  Batched:
        maps a stack (m, *x.shape) to (m, *out_shape).
    x : array_like, real
    method : {"complex-step", "central"}
        "complex-step": column j is Im f(x + ih e_j)/h, exact to rounding;
        "central": (f(x + h_j e_j) − f(x − h_j e_j))/(2h_j), error ≈ ε^(2/3).
    batched : bool
        Evaluate a block of ``chunk`` coordinates per call of f.
    chunk : int, optional
        Coordinates per batched call (default: all; see :func:`batch_size`).

    Returns
    -------
    ndarray, shape out_shape + x.shape

    Examples
    --------
    >>> jac = approx_jacobian(lambda z: np.array([z[0] * z[1], np.sin(z[0])]), np.array([2.0, 3.0]))
    >>> np.round(jac, 12).tolist()
    [[3.0, 2.0], [-0.416146836547, 0.0]]
    """
    method = check_choice(method, "method", ("complex-step", "central"))
    x = np.asarray(x, dtype=float)
    if method == "central":
        return central_differences(f, x, batched=batched, chunk=chunk).jacobian
    columns: list[np.ndarray] = []
    for idx, block in complex_step_blocks(f, x, batched=batched, chunk=chunk):
        if idx[0] == 0:   # columns and their stack: two copies of out × n
            _check_jacobian_memory(block[0].size, x.size, 2)
        columns.extend(block)
    return _as_jacobian(columns, f, x, batched)
