"""The objective J(θ) = ρ₀ · v^{π_θ}, its exact gradient, and independent checks of it.

Policy gradient theorem (Sutton et al. 2000; Sutton & Barto 2018, §13.2)::

    ∇J = Σ_s η(s) Σ_a ∇π(a|s) q(s, a)
       = Σ_{s,a} η(s) π(a|s) adv(s, a) ∇log π(a|s)        (Σ_a π ∇log π = 0)
       = (Σ η) · E_{(s,a)∼μ}[adv · ∇log π]

computed as one vector-Jacobian product of the policy with the weight table
w(s, a) = η(s) q(s, a), so no (S·A × n_params) Jacobian is ever formed.

Second computations, each written separately from the theorem so that the
tests compare two different routes to one number:

* :func:`recursion_gradient`: differentiate the Bellman equation,
  ∇v = (I − γP̃^π)⁻¹ Σ_a ∇π(a|·) q(·, a) and ∇J = ρ₀ᵀ ∇v, with ∇π taken
  column by column (complex-step directional derivatives of π);
* :func:`softmax_gradient`: ∂J/∂θ[s,a] = η(s) π(a|s) adv(s,a);
* :func:`loglinear_gradient`: Σ η π adv (φ(s,a) − Σ_b π(b|s) φ(s,b));
* :func:`direct_gradient`: ∂J/∂π(a|s) = η(s) q(s,a);
* :func:`check_gradient`: central finite differences of any callable.

Identities checked by the tests: all of the above agree on dense, sparse,
episodic (γ = 1), γ = 0 and γ near 1 MDPs for all three parameterisations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .._chains import stationary_distribution
from .._errors import ValidationError
from .._evaluation import Evaluation, evaluate
from .._model import MDP
from .._policies import Policy

__all__ = ["COMPLEX_STEP", "FD_TOL", "GradientCheck", "check_gradient", "direct_gradient",
           "expected_update_without_discount", "loglinear_gradient", "objective", "policy_gradient",
           "recursion_gradient", "softmax_gradient"]

#: Imaginary step of complex-step derivatives, f′(x) = Im f(x + ih) / h.  There
#: is no subtraction, so h can be tiny: the truncation error h²·|f‴| is far
#: below one ulp for any h ≤ 1e-20 and rounding does not grow as h shrinks
#: (Squire & Trapp 1998; Martins et al. 2003).
COMPLEX_STEP = 1e-20

#: Default pass mark of :func:`check_gradient`.  Central differences with the
#: step ε^(1/3) carry an error of about ε^(2/3) ≈ 4e-11 times the scale of f and
#: its third derivative; 1e-6 leaves room for third derivatives ~1e4 times
#: larger (γ near 1) while still catching any wrong term of the gradient.
FD_TOL = 1e-6


def objective(mdp: MDP, policy: Policy, theta: Any) -> Any:
    """J(θ) = ρ₀ · v^{π_θ}; a float, or an array over θ's leading batch axes.

    Examples
    --------
    >>> from mdpgrad import TabularSoftmax
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=0.9, rho0=[1.0, 0.0])
    >>> round(objective(mdp, TabularSoftmax(2, 2), np.zeros((2, 2))), 12)  # 0.5 / (1 − 0.45)
    0.909090909091
    """
    return evaluate(mdp, policy.probabilities(theta), validate=False).J


def policy_gradient(mdp: MDP, policy: Policy, theta: Any, *,
                    evaluation: Evaluation | None = None) -> np.ndarray:
    """Exact ∇_θ J by the policy gradient theorem, in θ's shape.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : ndarray, shape (..., *policy.param_shape)
        Leading axes form a batch (dense MDPs), computed in one vectorised call.
    evaluation : Evaluation, optional
        A precomputed ``evaluate(mdp, policy.probabilities(theta))`` to reuse.

    Returns
    -------
    ndarray, same shape as theta

    Examples
    --------
    >>> from mdpgrad import TabularSoftmax
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=0.9, rho0=[1.0, 0.0])
    >>> g = policy_gradient(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)))
    >>> np.round(g, 6).tolist()     # η(0)·π·adv = (1/0.55)·(1/2)·(∓1/11)
    [[-0.082645, 0.082645], [0.0, 0.0]]
    """
    theta = np.asarray(theta)
    theta = theta.astype(np.result_type(theta.dtype, np.float64), copy=False)  # complex θ allowed
    ev = evaluation if evaluation is not None else evaluate(
        mdp, policy.probabilities(theta), validate=False)
    w = ev.eta[..., None] * ev.q
    return policy.prob_vjp(theta, w)


def recursion_gradient(mdp: MDP, policy: Policy, theta: Any) -> np.ndarray:
    """∇J by differentiating the Bellman equation (the recursion form), in θ's shape.

    Differentiating v = r^π + γP̃^π v in θ_j gives (I − γP̃^π) ∂_j v = Σ_a ∂_j π(a|·) q(·, a),
    so, with one column per parameter::

        ∇v = (I − γP̃^π)⁻¹ Σ_a ∇π(a|·) q(·, a),      ∇J = ρ₀ᵀ ∇v.

    This route never forms η: it solves with I − γP̃^π on the right instead of
    its transpose on the left, and takes each column ∂_j π by a complex step
    ∂_j π = Im π(θ + ih e_j) / h (h = :data:`COMPLEX_STEP`).  It costs one solve
    per parameter, so it is a check for small models, not the way to compute ∇J.
    Reference: Sutton & Barto 2018, §13.2 (proof of the theorem, unrolled).

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : ndarray, shape policy.param_shape
        One parameter point (no batch axes).

    Returns
    -------
    ndarray, same shape as theta

    Examples
    --------
    >>> from mdpgrad import TabularSoftmax
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=0.9, rho0=[1.0, 0.0])
    >>> np.round(recursion_gradient(mdp, TabularSoftmax(2, 2), np.zeros((2, 2))), 6).tolist()
    [[-0.082645, 0.082645], [0.0, 0.0]]
    """
    theta = np.asarray(theta, dtype=float)
    if theta.shape != tuple(policy.param_shape):
        raise ValidationError(f"theta has shape {theta.shape}; recursion_gradient takes one point of "
                              f"shape {tuple(policy.param_shape)}", argument="theta", value=theta.shape)
    ev = evaluate(mdp, policy.probabilities(theta), validate=False)
    keep = ~mdp.terminal
    n = theta.size
    S, A = mdp.n_states, mdp.n_actions
    rho0 = np.where(keep, mdp.rho0, 0.0)
    out = np.empty(n)
    chunk = max(1, int(4e6 // (S * A)))  # bound the (chunk, S, A) complex table
    for start in range(0, n, chunk):
        cols = np.arange(start, min(n, start + chunk))
        E = np.zeros((cols.size, n))
        E[np.arange(cols.size), cols] = 1.0
        dpi = policy.probabilities(theta + 1j * COMPLEX_STEP * E.reshape((cols.size,) + theta.shape))
        dpi = dpi.imag / COMPLEX_STEP                                  # (k, S, A): ∂_j π
        G = np.einsum("ksa,sa->sk", dpi, ev.q) * keep[:, None]         # Σ_a ∂_j π q, (S, k)
        grad_v = ev.solver.solve(G)                                    # (I − γP̃^π)⁻¹ G
        out[cols] = rho0 @ grad_v
    return out.reshape(theta.shape)


def softmax_gradient(mdp: MDP, theta: Any) -> np.ndarray:
    """Closed form for tabular softmax: ∂J/∂θ[s,a] = η(s) π(a|s) adv(s,a).

    Reference: Agarwal et al. 2021, Lemma C.1; Mei et al. 2020, Lemma 1.

    Parameters
    ----------
    mdp : MDP
    theta : ndarray, shape (..., S, A)
        Logits; leading axes batch (dense MDPs).

    Returns
    -------
    ndarray, shape (..., S, A)

    Examples
    --------
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=0.9, rho0=[1.0, 0.0])
    >>> np.round(softmax_gradient(mdp, np.zeros((2, 2))), 6).tolist()
    [[-0.082645, 0.082645], [0.0, 0.0]]
    """
    theta = np.asarray(theta, dtype=float)
    z = np.exp(theta - theta.max(axis=-1, keepdims=True))
    pi = z / z.sum(axis=-1, keepdims=True)
    ev = evaluate(mdp, pi, validate=False)
    return ev.eta[..., None] * pi * ev.advantage


def loglinear_gradient(mdp: MDP, phi: Any, theta: Any) -> np.ndarray:
    """Closed form for π ∝ exp(φ·θ): ∇J = Σ_{s,a} η(s) π(a|s) adv(s,a) (φ(s,a) − Σ_b π(b|s) φ(s,b)).

    Reference: Sutton & Barto 2018, §13.2 and Exercise 13.3 (the eligibility vector).

    Parameters
    ----------
    mdp : MDP
    phi : ndarray, shape (S, A, k)
    theta : ndarray, shape (..., k)

    Returns
    -------
    ndarray, shape (..., k)
    """
    phi = np.asarray(phi, dtype=float)
    theta = np.asarray(theta, dtype=float)
    logits = np.einsum("sak,...k->...sa", phi, theta)
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    pi = z / z.sum(axis=-1, keepdims=True)
    ev = evaluate(mdp, pi, validate=False)
    score = phi - np.einsum("...sb,sbk->...sk", pi, phi)[..., None, :]   # (..., S, A, k)
    return np.einsum("...s,...sa,...sa,...sak->...k", ev.eta, pi, ev.advantage, score)


def direct_gradient(mdp: MDP, pi: Any) -> np.ndarray:
    """Closed form for the direct parameterisation: ∂J/∂π(a|s) = η(s) q(s,a).

    Derivatives are in the free entries of the table (off-simplex directions
    included).  Reference: Agarwal et al. 2021, §4 (the direct parameterisation).

    Parameters
    ----------
    mdp : MDP
    pi : ndarray, shape (..., S, A)

    Returns
    -------
    ndarray, shape (..., S, A)

    Examples
    --------
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=0.9, rho0=[1.0, 0.0])
    >>> np.round(direct_gradient(mdp, np.full((2, 2), 0.5)), 6).tolist()   # η(0) = 1/0.55
    [[1.487603, 1.818182], [0.0, 0.0]]
    """
    ev = evaluate(mdp, np.asarray(pi, dtype=float), validate=False)
    return ev.eta[..., None] * ev.q


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


def check_gradient(f: Callable[[np.ndarray], Any], grad: Callable[[np.ndarray], Any] | np.ndarray,
                   theta: Any, *, tol: float = FD_TOL, batched: bool = False) -> GradientCheck:
    """Compare a gradient with central finite differences of ``f``.

    Step rule (as in scipy.optimize's numdiff for the 3-point scheme):
    hᵢ = ε^(1/3)·max(1, |θᵢ|), ε the float64 machine epsilon, rounded so that
    θᵢ ± hᵢ is exactly representable.  Then

        g_fd[i] = (f(θ + hᵢeᵢ) − f(θ − hᵢeᵢ)) / (2hᵢ),
        error   = max_i |g[i] − g_fd[i]| / max(1, |g_fd[i]|).

    The mixed absolute/relative error treats small entries absolutely and
    large ones relatively.  Reference: Nocedal & Wright 2006, §8.1.

    Parameters
    ----------
    f : callable
        θ ↦ scalar.  With ``batched=True`` it must map a stack of points of
        shape (m, *theta.shape) to an array of shape (m,) in one call.
    grad : callable or ndarray
        θ ↦ ∇f(θ), or the gradient itself; shape theta.shape.
    theta : ndarray
    tol : float
        Pass mark for ``max_error`` (default :data:`FD_TOL`).
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
    if not (tol > 0):
        raise ValidationError(f"tol is {tol!r}; expected a positive number", argument="tol", value=tol)
    flat = theta.ravel()
    h = np.finfo(float).eps ** (1 / 3) * np.maximum(1.0, np.abs(flat))
    h = (flat + h) - flat
    n = flat.size
    points = np.repeat(flat[None, :], 2 * n, axis=0)
    points[np.arange(n), np.arange(n)] += h
    points[n + np.arange(n), np.arange(n)] -= h
    points = points.reshape((2 * n,) + theta.shape)
    if batched:
        values = np.asarray(f(points), dtype=float).reshape(2 * n)
    else:
        values = np.array([float(f(p)) for p in points])
    g_fd = ((values[:n] - values[n:]) / (2 * h)).reshape(theta.shape)
    error = np.abs(g - g_fd) / np.maximum(1.0, np.abs(g_fd))
    k = int(np.argmax(error)) if error.size else 0
    worst = tuple(int(i) for i in np.unravel_index(k, theta.shape)) if error.size else ()
    max_error = float(error.max()) if error.size else 0.0
    return GradientCheck(gradient=g, fd_gradient=g_fd, error=error, max_error=max_error,
                         worst_index=worst, step=h.reshape(theta.shape), tol=float(tol),
                         holds=bool(max_error <= tol))


def expected_update_without_discount(
        mdp: MDP, policy: Policy, theta: Any, *,
        visits: Literal["auto", "undiscounted", "stationary"] = "auto") -> np.ndarray:
    """Expected value of the update most code computes, Σ_t G_t ∇log π(a_t|s_t).

    Gₜ is the discounted return from t, but the factor γᵗ of the theorem is
    dropped, so states are weighted by how often they are visited rather than
    by η (Nota & Thomas 2020, §3; Thomas 2014)::

        episodic:    E[Σ_t G_t ∇log π(a_t|s_t)] = Σ_s η̃(s) Σ_a ∇π(a|s) q(s, a)
        continuing:  per-step expectation      = Σ_s d_π(s) Σ_a ∇π(a|s) q(s, a)

    with η̃ the undiscounted expected visits before termination and d_π the
    stationary distribution of P^π.  It is not the gradient of any function.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : ndarray, shape policy.param_shape
    visits : {"auto", "undiscounted", "stationary"}
        The state weights: "undiscounted" visits η̃ for episodic MDPs (needs
        termination under π), the "stationary" distribution d_π for continuing
        ones; "auto" picks "undiscounted" when the MDP has terminal states.

    Returns
    -------
    ndarray, same shape as theta
    """
    if visits == "auto":
        visits = "undiscounted" if mdp.terminal.any() else "stationary"
    theta = np.asarray(theta, dtype=float)
    pi = policy.probabilities(theta)
    ev = evaluate(mdp, pi, validate=False)
    if visits == "undiscounted":
        weights = evaluate(mdp.replace(gamma=1.0), pi, validate=False).eta
    elif visits == "stationary":
        weights = stationary_distribution(ev.P_pi)
    else:
        raise ValidationError(f"visits is {visits!r}; expected 'auto', 'undiscounted' or 'stationary'",
                              argument="visits", value=visits)
    return policy.prob_vjp(theta, weights[:, None] * ev.q)
