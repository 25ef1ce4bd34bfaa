"""REINFORCE with and without γᵗ, whole-return REINFORCE, state baselines and GAE(λ).

Each factory returns an :class:`~mdpgrad.estimators.Estimator` whose exact
expectation is ∇J (with γᵗ, any state baseline, GAE with the exact v) or its
known bias (without γᵗ: Nota & Thomas 2020; GAE with an inexact value table:
Schulman et al. 2016).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from .._evaluation import evaluate
from .._model import MDP
from .._policies import Policy, validate_theta
from .._validation import check_real
from ..gradients._theorem import model_and_policy
from ..sampling._sampler import ProtocolOption, Trajectories
from ._contract import (
    Estimator,
    ExactModel,
    checked_estimator,
    exact_model,
    returns,
    score_vjp,
    step_discount,
    step_weights,
    table_score,
    validate_state_table,
    validate_trajectories,
)
from ._moments import StepValues, pair_chain, reward_values, step_discount_of, to_go_moments, whole_moments

__all__ = [
    "baseline_estimator",
    "gae_estimator",
    "reinforce_estimator",
    "reinforce_without_discount_estimator",
    "value_baseline",
    "whole_return_estimator",
]

# --------------------------------------------------------------------------- REINFORCE family

def _reinforce_table(m: ExactModel, with_discount: bool, baseline: np.ndarray | None = None) -> np.ndarray:
    """Σₜ cₜ Pr(sₜ = s) π(a|s) E[Gₜ − b(sₜ) | sₜ = s, aₜ = a] for the REINFORCE family, shape (S, A).

    cₜ = γᵗ with the discount, 1 without.  Under "horizon" a finite sum of the
    truncated q⁽ᴴ⁻ᵗ⁾; otherwise η(s) π(a|s) (q − b) with η discounted, or the
    undiscounted η̃ when the γᵗ is dropped under "terminal" ("geometric" keeps
    η: its stop supplies γᵗ).
    """
    b = np.zeros(m.mdp.n_states) if baseline is None else baseline
    if m.protocol == "horizon":
        qs = m.truncated_q()
        return m.horizon_sum(m.gamma if with_discount else 1.0, lambda k: qs[k] - b[:, None])
    discounted = with_discount or m.protocol == "geometric"
    return m.visits(discounted)[:, None] * m.pi * (m.evaluation.q - b[:, None])


def _reinforce_family(name: str, coef: Callable[[Trajectories, np.ndarray], np.ndarray], *,
                      with_discount: bool = True, baseline: ArrayLike | None = None,
                      shape: str = "to_go", step_weighted: bool | None = None) -> Estimator:
    """An estimator Σₜ coef[t, i] ∇log π(aₜ|sₜ) whose expectation is a REINFORCE table.

    ``coef(traj, b)`` gets the baseline table b (zeros when none) and returns
    the time-major weights, shape (T, n).  ``shape`` and ``step_weighted``
    (default: ``with_discount``) describe the weight table for its exact second
    moment: Σₜ wᵗ (Gₜ − b(sₜ)) ("to_go") or Σₜ wᵗ (G₀ − b(sₜ)) ("whole"),
    with w = d when step-weighted, else 1.
    """
    weighted = with_discount if step_weighted is None else step_weighted
    def table(n_states: int) -> np.ndarray:
        return np.zeros(n_states) if baseline is None else validate_state_table(baseline, "b", n_states)

    def estimate(traj: Trajectories, policy: Policy, theta: np.ndarray) -> np.ndarray:
        traj = validate_trajectories(traj, policy)
        return score_vjp(traj, policy, theta, coef(traj, table(policy.n_states)))

    def expectation(mdp: MDP, policy: Policy, theta: ArrayLike, protocol: ProtocolOption = "auto",
                    horizon: int | None = None) -> np.ndarray:
        m = exact_model(mdp, policy, theta, protocol, horizon)
        W = _reinforce_table(m, with_discount, None if baseline is None else table(mdp.n_states))
        return table_score(policy, theta, W)

    def second_moment(m: ExactModel, policy: Policy, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = step_discount_of(m)
        w = d if weighted else 1.0
        b = np.repeat(table(m.mdp.n_states), m.mdp.n_actions)
        chain = pair_chain(m, reward_values(m))
        if shape == "whole":
            return whole_moments(chain, w=w, d=d, b=b)
        return to_go_moments(chain, w=w, kappa=d, b=b)

    return checked_estimator(name, estimate, expectation, second_moment=second_moment)


def reinforce_estimator() -> Estimator:
    """REINFORCE with γᵗ: Σₜ γᵗ Gₜ ∇log π(aₜ|sₜ) (geometric: Σₜ Gₜ ∇log π, undiscounted Gₜ).

    Unbiased for ∇J under "terminal" and "geometric" (Sutton & Barto 2018,
    §13.3, the γᵗ of the REINFORCE update); under "horizon" its expectation is
    Σ_{t<H} γᵗ E[G⁽ᴴ⁾ₜ ∇log π(aₜ|sₜ)].

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP, sample, TabularSoftmax
    >>> from mdpgrad.estimators import reinforce_estimator
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[1.0, 0.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])
    >>> est, pol, th = reinforce_estimator(), TabularSoftmax(2, 2), np.zeros((2, 2))
    >>> est.expectation(mdp, pol, th).tolist()   # ∂J/∂θ[0, a] = π(a)·adv(a) = ±¼
    [[0.25, -0.25], [0.0, 0.0]]
    >>> g = est.estimate(sample(mdp, pol.probabilities(th), 4000, rng=0), pol, th)
    >>> bool(np.abs(g.mean(axis=0) - [[0.25, -0.25], [0, 0]]).max() < 0.05)
    True
    """
    return _reinforce_family("reinforce", lambda traj, b: step_weights(traj) * returns(traj))


def reinforce_without_discount_estimator() -> Estimator:
    """The update most code computes: Σₜ Gₜ ∇log π(aₜ|sₜ), the γᵗ dropped.

    Under "terminal" its expectation is Σ_s η̃(s) Σ_a π(a|s) q(s, a) ∇log π(a|s),
    with η̃ the undiscounted visits (Nota & Thomas 2020, §3), the same as
    :func:`mdpgrad.expected_update_without_discount` with
    ``visits="undiscounted"``; under "horizon" Σ_{t<H} E[G⁽ᴴ⁾ₜ ∇log π]; under
    "geometric" nothing is left to drop and it equals REINFORCE (expectation ∇J).
    """
    return _reinforce_family("reinforce_without_discount", lambda traj, b: returns(traj),
                             with_discount=False)


def whole_return_estimator() -> Estimator:
    """Whole-return REINFORCE: G₀ Σₜ ∇log π(aₜ|sₜ) (Williams 1992, eq. 11 form).

    G₀ = Σₜ γᵗ rₜ (geometric: Σₜ rₜ).  Rewards earned before step k are
    independent of the score at k given the past (E[∇log π(a_k|s_k) | past] = 0),
    so its expectation is that of REINFORCE with γᵗ under every protocol;
    only its variance is larger.
    """
    def coef(traj: Trajectories, b: np.ndarray) -> np.ndarray:
        return np.broadcast_to(returns(traj)[:1], traj.actions.T.shape)

    return _reinforce_family("whole_return", coef, shape="whole", step_weighted=False)


def value_baseline(mdp: MDP, policy: Policy, theta: ArrayLike) -> np.ndarray:
    """The exact state values v^{π_θ}, shape (S,), to pass to :func:`baseline_estimator`.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : array_like
        The parameters, shape ``policy.param_shape``.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> from mdpgrad.estimators import value_baseline
    >>> P = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    >>> value_baseline(MDP(P, [[1.0], [0.0]], 0.5), TabularSoftmax(2, 1), np.zeros((2, 1))).tolist()
    [2.0, 0.0]
    """
    mdp, policy = model_and_policy(mdp, policy)
    th = validate_theta(theta, policy, batch=False)
    return evaluate(mdp, policy.probabilities(th), validate=False).v


def baseline_estimator(b: ArrayLike) -> Estimator:
    """REINFORCE with a state baseline: Σₜ γᵗ (Gₜ − b(sₜ)) ∇log π(aₜ|sₜ).

    ``b`` is a constant or a table of shape (S,) (e.g. :func:`value_baseline`).
    Since Σ_a π(a|s) ∇log π(a|s) b(s) = 0 the expectation is REINFORCE's for
    every b (Sutton & Barto 2018, §13.4); it is computed with b kept in, so
    the tests check that identity.

    Parameters
    ----------
    b : float or array_like, shape (S,)
        The baseline b(s) (a constant, or one value per state, e.g. :func:`value_baseline`).
    """
    def coef(traj: Trajectories, b: np.ndarray) -> np.ndarray:
        return step_weights(traj) * (returns(traj) - b[np.maximum(traj.states[:, :-1].T, 0)])

    return _reinforce_family("baseline", coef, baseline=b)


# --------------------------------------------------------------------------- GAE(λ)

def _terminated(traj: Trajectories) -> np.ndarray:
    """Whether each episode ended in a terminal state (no bootstrap after it), shape (n,)."""
    if traj.terminated is not None:
        return np.asarray(traj.terminated, dtype=bool)
    if traj.protocol == "horizon":
        return traj.lengths < traj.horizon
    return np.ones(traj.n_episodes, dtype=bool)


def _gae_advantages(traj: Trajectories, V: np.ndarray, lam: float) -> np.ndarray:
    """Âₜ = Σ_l (γλ)^l δₜ₊ₗ, δₜ = rₜ + γV(sₜ₊₁) − V(sₜ), time-major (T, n).

    No bootstrap after a terminal state; under "geometric" none after the
    last step either, and γ is replaced by 1 (the stop carries the discount).
    """
    d = step_discount(traj)
    n, T = traj.actions.shape
    Vs = V[np.maximum(traj.states.T, 0)]                  # (T + 1, n); padding read as V[0], masked below
    t_idx = np.arange(T)[:, None]
    L = traj.lengths[None, :]
    live = t_idx < L
    boot_last = ~_terminated(traj) if traj.protocol != "geometric" else np.zeros(n, dtype=bool)
    use_next = (t_idx < L - 1) | ((t_idx == L - 1) & boot_last[None, :])
    delta = np.where(live, traj.rewards.T + d * np.where(use_next, Vs[1:], 0.0) - Vs[:-1], 0.0)
    adv = np.zeros_like(delta)
    acc = np.zeros(n)
    for t in range(T - 1, -1, -1):
        acc = delta[t] + d * lam * acc
        adv[t] = acc
    return adv


def gae_estimator(values: ArrayLike, lam: float) -> Estimator:
    """GAE(λ): Σₜ γᵗ Âₜ ∇log π(aₜ|sₜ) with Âₜ = Σ_l (γλ)^l δₜ₊ₗ (Schulman et al. 2016, eq. 16).

    δₜ = rₜ + γ V(sₜ₊₁) − V(sₜ) with the given table V, shape (S,), read as 0 at
    terminal states; a horizon cut bootstraps with γV(s_H).  Under "geometric"
    δₜ = rₜ + V(sₜ₊₁)·1[t + 1 < T] − V(sₜ), Âₜ = Σ_l λ^l δₜ₊ₗ and no γᵗ.

    Exact expectation: with δ̄(s, a) = r + γPV − V(s) and δ̄^π = Σ_a π δ̄,
    E[Âₜ | s, a] = δ̄(s, a) + γλ P(I − γλP̃^π)⁻¹ δ̄^π (finite sums under "horizon"),
    weighted by η(s)π(a|s).  With V = v, or with λ = 1, it equals ∇J.

    Parameters
    ----------
    values : array_like, shape (S,)
        The state values V used in the TD errors δₜ = rₜ + γV(sₜ₊₁) − V(sₜ).
    lam : float
        λ in [0, 1].

    Examples
    --------
    One decision, then the end: Â = r(a) − V(0), so any V gives ∇J = (−¼, ¼).

    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> from mdpgrad.estimators import gae_estimator
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])
    >>> gae_estimator([5.0, 0.0], 0.5).expectation(mdp, TabularSoftmax(2, 2), np.zeros((2, 2))).tolist()
    [[-0.25, 0.25], [0.0, 0.0]]
    """
    lam = check_real(lam, "lam", min_value=0.0, max_value=1.0)
    V_raw = values

    def estimate(traj: Trajectories, policy: Policy, theta: np.ndarray) -> np.ndarray:
        traj = validate_trajectories(traj, policy)
        V = validate_state_table(V_raw, "values", policy.n_states)
        adv = _gae_advantages(traj, V, lam)
        return score_vjp(traj, policy, theta, step_weights(traj) * adv)

    def expectation(mdp: MDP, policy: Policy, theta: ArrayLike, protocol: ProtocolOption = "auto",
                    horizon: int | None = None) -> np.ndarray:
        m = exact_model(mdp, policy, theta, protocol, horizon)
        V = validate_state_table(V_raw, "values", mdp.n_states) * m.keep
        g = m.gamma
        delta = mdp.r + g * m.P_next(V) - V[:, None]
        delta_pi = m.keep * np.sum(m.pi * delta, axis=1)
        if m.protocol == "horizon":
            us = [np.zeros(mdp.n_states)]
            for _ in range(m.H):
                us.append(m.keep * (delta_pi + m.chain(us[-1], g * lam)))
            W = m.horizon_sum(g, lambda k: delta + g * lam * m.P_next(us[k - 1]))
        else:
            u = m.keep * m.solve(g * lam, delta_pi)
            W = m.visits(True)[:, None] * m.pi * (delta + g * lam * m.P_next(u))
        return table_score(policy, theta, W)

    def second_moment(m: ExactModel, policy: Policy, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mdp = m.mdp
        d = step_discount_of(m)
        V = validate_state_table(V_raw, "values", mdp.n_states) * m.keep
        r = mdp.r.reshape(-1)
        V_here = np.repeat(V, mdp.n_actions)
        boot = r[:, None] + d * V[None, :] - V_here[:, None]         # δ when a next state is bootstrapped
        last = r - V_here                                             # δ when nothing follows
        chain = pair_chain(m, StepValues(cont=boot, terminal=last, cut=boot, coin=last))
        return to_go_moments(chain, w=d, kappa=d * lam, b=np.zeros(mdp.n_states * mdp.n_actions))

    return checked_estimator(f"gae(lam={lam:g})", estimate, expectation, second_moment=second_moment)
