"""The objective J(θ) = ρ₀ · v^{π_θ} and its exact gradient.

Policy gradient theorem (Sutton et al. 2000; Sutton & Barto 2018, §13.2)::

    ∇J = Σ_s η(s) Σ_a ∇π(a|s) q(s, a)
       = Σ_{s,a} η(s) π(a|s) adv(s, a) ∇log π(a|s)        (Σ_a π ∇log π = 0)
       = (Σ η) · E_{(s,a)∼μ}[adv · ∇log π]

computed as one vector-Jacobian product of the policy with the weight table
w(s, a) = η(s) q(s, a), so no (S·A × n_params) Jacobian is ever formed.

Identities checked by the tests: the theorem equals central finite differences
of J; for tabular softmax ∂J/∂θ[s,a] = η(s) π(a|s) adv(s,a); for the direct
parameterisation ∂J/∂π(a|s) = η(s) q(s,a).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ValidationError
from .evaluation import Evaluation, evaluate, stationary_distribution
from .model import MDP
from .policies import Policy

__all__ = ["expected_update_without_discount", "objective", "policy_gradient"]


def objective(mdp: MDP, policy: Policy, theta: Any) -> Any:
    """J(θ) = ρ₀ · v^{π_θ}; a float, or an array over θ's leading batch axes.

    Examples
    --------
    >>> from mdpgrad.policies import TabularSoftmax
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
    >>> from mdpgrad.policies import TabularSoftmax
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=0.9, rho0=[1.0, 0.0])
    >>> g = policy_gradient(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)))
    >>> np.round(g, 6).tolist()     # η(0)·π·adv = (1/0.55)·(1/2)·(∓1/11)
    [[-0.082645, 0.082645], [0.0, 0.0]]
    """
    theta = np.asarray(theta, dtype=float)
    ev = evaluation if evaluation is not None else evaluate(
        mdp, policy.probabilities(theta), validate=False)
    w = ev.eta[..., None] * ev.q
    return policy.prob_vjp(theta, w)


def expected_update_without_discount(mdp: MDP, policy: Policy, theta: Any, *,
                                     weighting: str = "auto") -> np.ndarray:
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
    weighting : {"auto", "visits", "stationary"}
        "visits" for episodic MDPs (needs termination under π), "stationary"
        for continuing ones; "auto" picks "visits" when the MDP has terminal
        states.

    Returns
    -------
    ndarray, same shape as theta
    """
    if weighting == "auto":
        weighting = "visits" if mdp.terminal.any() else "stationary"
    theta = np.asarray(theta, dtype=float)
    pi = policy.probabilities(theta)
    ev = evaluate(mdp, pi, validate=False)
    if weighting == "visits":
        weights = evaluate(mdp.replace(gamma=1.0), pi, validate=False).eta
    elif weighting == "stationary":
        weights = stationary_distribution(ev.P_pi)
    else:
        raise ValidationError(f"weighting is {weighting!r}; expected 'auto', 'visits' or 'stationary'",
                              argument="weighting", value=weighting)
    return policy.prob_vjp(theta, weights[:, None] * ev.q)
