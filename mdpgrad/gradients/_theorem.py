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
* central finite differences of J (:func:`mdpgrad.check_gradient`).

Beside them, :func:`expected_update_without_discount`: the expectation of the
update with γᵗ dropped, Σ_s η̃(s) Σ_a ∇π(a|s) q(s, a), which is not a gradient
(Nota & Thomas 2020).

Identities checked by the tests: all of the above agree on dense, sparse,
episodic (γ = 1), γ = 0 and γ near 1 MDPs for all three parameterisations;
without discount (γ = 1) the update without γᵗ is ∇J.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from .._chains import stationary_distribution
from .._derivatives import BATCH_ENTRIES, batch_size, complex_step_blocks
from .._errors import ValidationError
from .._evaluation import Evaluation, evaluate, visit_counts
from .._model import MDP
from .._policies import Policy
from .._validation import as_real_array, check_choice

__all__ = ["direct_gradient", "expected_update_without_discount", "loglinear_gradient", "objective",
           "parameter_point", "policy_gradient", "recursion_gradient", "softmax_gradient"]

def parameter_point(theta: ArrayLike, policy: Policy, caller: str, name: str = "theta") -> np.ndarray:
    """θ as one real, finite parameter point of shape ``policy.param_shape`` (no batch axes).

    Raises
    ------
    ValidationError
        Naming ``name``: a non-real or non-finite entry, or another shape (the
        message says that ``caller`` takes one point).
    """
    th = as_real_array(theta, name)
    if th.shape != tuple(policy.param_shape):
        raise ValidationError(f"{name} has shape {th.shape}; {caller} takes one point of shape "
                              f"{tuple(policy.param_shape)}", argument=name, value=th.shape)
    return th


def objective(mdp: MDP, policy: Policy, theta: ArrayLike) -> Any:
    """J(θ) = ρ₀ · v^{π_θ}; a float, or an array over θ's leading batch axes.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : array_like, shape (..., *policy.param_shape)
        Leading axes batch (dense MDPs); complex θ gives a complex J (for complex steps).

    Returns
    -------
    float, complex or ndarray, shape (...)

    Examples
    --------
    >>> from mdpgrad import TabularSoftmax
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> round(objective(mdp, TabularSoftmax(2, 2), np.zeros((2, 2))), 12)  # 0.5 / (1 − 0.45)
    0.909090909091
    """
    return evaluate(mdp, policy.probabilities(np.asarray(theta)), validate=False).J


def policy_gradient(mdp: MDP, policy: Policy, theta: ArrayLike, *,
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
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
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


def recursion_gradient(mdp: MDP, policy: Policy, theta: ArrayLike) -> np.ndarray:
    """∇J by differentiating the Bellman equation (the recursion form), in θ's shape.

    Differentiating v = r^π + γP̃^π v in θ_j gives (I − γP̃^π) ∂_j v = Σ_a ∂_j π(a|·) q(·, a),
    so, with one column per parameter::

        ∇v = (I − γP̃^π)⁻¹ Σ_a ∇π(a|·) q(·, a),      ∇J = ρ₀ᵀ ∇v.

    This route never forms η: it solves with I − γP̃^π on the right instead of
    its transpose on the left, and takes each column ∂_j π by a complex step
    ∂_j π = Im π(θ + ih e_j) / h (h = :data:`mdpgrad._derivatives.COMPLEX_STEP`).  It costs one solve
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
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> np.round(recursion_gradient(mdp, TabularSoftmax(2, 2), np.zeros((2, 2))), 6).tolist()
    [[-0.082645, 0.082645], [0.0, 0.0]]
    """
    theta = parameter_point(theta, policy, "recursion_gradient")
    ev = evaluate(mdp, policy.probabilities(theta), validate=False)
    solver = ev.solver
    if solver is None:  # pragma: no cover - an unbatched evaluation always keeps its factors
        raise RuntimeError("the evaluation kept no factors of I − γP̃^π")
    keep = ~mdp.terminal
    S, A = mdp.n_states, mdp.n_actions
    rho0 = np.where(keep, mdp.rho0, 0.0)
    out = np.empty(theta.size)
    # columns in blocks: a (k, S, A) complex table of ∂_j π and its (S, k) right-hand sides at a time
    blocks = complex_step_blocks(policy.probabilities, theta, batched=True,
                                 chunk=batch_size(S * A + S, BATCH_ENTRIES))
    for cols, dpi in blocks:                                           # dpi (k, S, A): ∂_j π
        G = np.einsum("ksa,sa->sk", dpi, ev.q) * keep[:, None]         # Σ_a ∂_j π q, (S, k)
        out[cols] = rho0 @ solver.solve(G)                             # ρ₀ᵀ (I − γP̃^π)⁻¹ G
    return out.reshape(theta.shape)


def softmax_gradient(mdp: MDP, theta: ArrayLike) -> np.ndarray:
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
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> np.round(softmax_gradient(mdp, np.zeros((2, 2))), 6).tolist()
    [[-0.082645, 0.082645], [0.0, 0.0]]
    """
    theta = np.asarray(theta, dtype=float)
    z = np.exp(theta - theta.max(axis=-1, keepdims=True))
    pi = z / z.sum(axis=-1, keepdims=True)
    ev = evaluate(mdp, pi, validate=False)
    return ev.eta[..., None] * pi * ev.advantage


def loglinear_gradient(mdp: MDP, phi: ArrayLike, theta: ArrayLike) -> np.ndarray:
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


def direct_gradient(mdp: MDP, pi: ArrayLike) -> np.ndarray:
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
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> np.round(direct_gradient(mdp, np.full((2, 2), 0.5)), 6).tolist()   # η(0) = 1/0.55
    [[1.487603, 1.818182], [0.0, 0.0]]
    """
    ev = evaluate(mdp, np.asarray(pi, dtype=float), validate=False)
    return ev.eta[..., None] * ev.q


def expected_update_without_discount(
        mdp: MDP, policy: Policy, theta: ArrayLike, *,
        visits: Literal["auto", "undiscounted", "stationary"] = "auto") -> np.ndarray:
    """Expected value of the update most code computes, Σ_t G_t ∇log π(a_t|s_t).

    Gₜ is the discounted return from t, but the factor γᵗ of the theorem is
    dropped, so states are weighted by how often they are visited rather than
    by η (Nota & Thomas 2020, §3; Thomas 2014)::

        episodic:    E[Σ_t G_t ∇log π(a_t|s_t)] = Σ_s η̃(s) Σ_a ∇π(a|s) q(s, a)
        continuing:  per-step expectation      = Σ_s d_π(s) Σ_a ∇π(a|s) q(s, a)

    with η̃ the undiscounted expected visits before termination
    (``visit_counts(mdp, π, discounted=False)``) and d_π the stationary
    distribution of P^π.  It is not the gradient of any function.

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
    visits = check_choice(visits, "visits", ("auto", "undiscounted", "stationary"))
    if visits == "auto":
        visits = "undiscounted" if mdp.terminal.any() else "stationary"
    theta = np.asarray(theta, dtype=float)
    pi = policy.probabilities(theta)
    ev = evaluate(mdp, pi, validate=False)
    if visits == "undiscounted":
        weights = visit_counts(mdp, pi, discounted=False, validate=False)
    else:   # one stationary distribution per policy of a batch
        batch = pi.shape[:-2]
        chains = np.reshape(ev.P_pi, (-1,) + ev.P_pi.shape[-2:]) if batch else [ev.P_pi]
        weights = np.reshape([stationary_distribution(P) for P in chains], batch + (mdp.n_states,))
    return policy.prob_vjp(theta, weights[..., None] * ev.q)
