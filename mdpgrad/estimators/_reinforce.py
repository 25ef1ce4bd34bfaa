"""REINFORCE with and without γᵗ, whole-return REINFORCE, state baselines and GAE(λ).

Each factory returns an :class:`~mdpgrad.estimators.base.Estimator` whose exact
expectation is ∇J (with γᵗ, any state baseline, GAE with the exact v) or its
known bias (without γᵗ: Nota & Thomas 2020; GAE with an inexact value table:
Schulman et al. 2016).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._evaluation import evaluate
from .._model import MDP
from .._policies import Policy
from ..gradients._theorem import expected_update_without_discount
from ..sampling._sampler import Trajectories
from ._contract import (
    Estimator,
    _check_table,
    _check_traj,
    _check_unit_interval,
    _horizon_sum,
    _model,
    _powers,
    _reinforce_table,
    _returns,
    _score_vjp,
    _step_discount,
    _visits,
    _vjp,
)

__all__ = [
    "baseline_estimator",
    "gae_estimator",
    "reinforce_estimator",
    "reinforce_without_discount_estimator",
    "value_baseline",
    "whole_return_estimator",
]

# --------------------------------------------------------------------------- REINFORCE family

def reinforce_estimator() -> Estimator:
    """REINFORCE with γᵗ: Σₜ γᵗ Gₜ ∇log π(aₜ|sₜ) (geometric: Σₜ Gₜ ∇log π, undiscounted Gₜ).

    Unbiased for ∇J under "terminal" and "geometric" (Sutton & Barto 2018,
    §13.3, the γᵗ of the REINFORCE update); under "horizon" its expectation is
    Σ_{t<H} γᵗ E[G⁽ᴴ⁾ₜ ∇log π(aₜ|sₜ)].

    Examples
    --------
    >>> from mdpgrad import TabularSoftmax
    >>> from mdpgrad import sample
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[1.0, 0.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])
    >>> est, pol, th = reinforce_estimator(), TabularSoftmax(2, 2), np.zeros((2, 2))
    >>> est.expectation(mdp, pol, th).tolist()   # ∂J/∂θ[0, a] = π(a)·adv(a) = ±¼
    [[0.25, -0.25], [0.0, 0.0]]
    >>> g = est.estimate(sample(mdp, pol.probabilities(th), 4000, rng=0), pol, th)
    >>> bool(np.abs(g.mean(axis=0) - [[0.25, -0.25], [0, 0]]).max() < 0.05)
    True
    """
    def estimate(traj: Trajectories, policy: Policy, theta: np.ndarray) -> np.ndarray:
        traj = _check_traj(traj, policy)
        d = _step_discount(traj)
        return _score_vjp(traj, policy, theta, _powers(traj, d) * _returns(traj, d))

    def expectation(mdp: MDP, policy: Policy, theta: Any, protocol: str = "auto",
                    horizon: int | None = None) -> np.ndarray:
        m = _model(mdp, policy, theta, protocol, horizon)
        return _vjp(policy, theta, _reinforce_table(m, with_discount=True))

    return Estimator("reinforce", estimate, expectation)


def reinforce_without_discount_estimator() -> Estimator:
    """The update most code computes: Σₜ Gₜ ∇log π(aₜ|sₜ), the γᵗ dropped.

    Under "terminal" its expectation is Σ_s η̃(s) Σ_a ∇π(a|s) q(s, a), with η̃
    the undiscounted visits (Nota & Thomas 2020, §3), i.e.
    ``expected_update_without_discount(..., visits="undiscounted")``; under
    "horizon" Σ_{t<H} E[G⁽ᴴ⁾ₜ ∇log π]; under "geometric" nothing is left to
    drop and it equals REINFORCE (expectation ∇J).
    """
    def estimate(traj: Trajectories, policy: Policy, theta: np.ndarray) -> np.ndarray:
        traj = _check_traj(traj, policy)
        return _score_vjp(traj, policy, theta, _returns(traj, _step_discount(traj)))

    def expectation(mdp: MDP, policy: Policy, theta: Any, protocol: str = "auto",
                    horizon: int | None = None) -> np.ndarray:
        m = _model(mdp, policy, theta, protocol, horizon)
        if m.protocol == "terminal":
            return expected_update_without_discount(mdp, policy, np.asarray(theta, dtype=float),
                                                    visits="undiscounted")
        return _vjp(policy, theta, _reinforce_table(m, with_discount=False))

    return Estimator("reinforce_without_discount", estimate, expectation)


def whole_return_estimator() -> Estimator:
    """Whole-return REINFORCE: G₀ Σₜ ∇log π(aₜ|sₜ) (Williams 1992, eq. 11 form).

    G₀ = Σₜ γᵗ rₜ (geometric: Σₜ rₜ).  Rewards earned before step k are
    independent of the score at k given the past (E[∇log π(a_k|s_k) | past] = 0),
    so its expectation is that of REINFORCE with γᵗ under every protocol;
    only its variance is larger.
    """
    def estimate(traj: Trajectories, policy: Policy, theta: np.ndarray) -> np.ndarray:
        traj = _check_traj(traj, policy)
        G0 = _returns(traj, _step_discount(traj))[:1]
        coef = np.broadcast_to(G0, traj.actions.T.shape)
        return _score_vjp(traj, policy, theta, coef)

    def expectation(mdp: MDP, policy: Policy, theta: Any, protocol: str = "auto",
                    horizon: int | None = None) -> np.ndarray:
        m = _model(mdp, policy, theta, protocol, horizon)
        return _vjp(policy, theta, _reinforce_table(m, with_discount=True))

    return Estimator("whole_return", estimate, expectation)


def value_baseline(mdp: MDP, policy: Policy, theta: Any) -> np.ndarray:
    """The exact state values v^{π_θ}, shape (S,), to pass to :func:`baseline_estimator`.

    Examples
    --------
    >>> from mdpgrad import TabularSoftmax
    >>> P = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    >>> value_baseline(MDP(P, [[1.0], [0.0]], 0.5), TabularSoftmax(2, 1), np.zeros((2, 1))).tolist()
    [2.0, 0.0]
    """
    return evaluate(mdp, policy.probabilities(np.asarray(theta, dtype=float)), validate=False).v


def baseline_estimator(b: Any) -> Estimator:
    """REINFORCE with a state baseline: Σₜ γᵗ (Gₜ − b(sₜ)) ∇log π(aₜ|sₜ).

    ``b`` is a constant or a table of shape (S,) (e.g. :func:`value_baseline`).
    Since Σ_a π(a|s) ∇log π(a|s) b(s) = 0 the expectation is REINFORCE's for
    every b (Sutton & Barto 2018, §13.4); it is computed with b kept in, so
    the tests check that identity.
    """
    b_raw = b

    def _b(S: int) -> np.ndarray:
        return _check_table(b_raw, "b", S)

    def estimate(traj: Trajectories, policy: Policy, theta: np.ndarray) -> np.ndarray:
        traj = _check_traj(traj, policy)
        d = _step_discount(traj)
        bs = _b(policy.n_states)[np.maximum(traj.states[:, :-1].T, 0)]
        return _score_vjp(traj, policy, theta, _powers(traj, d) * (_returns(traj, d) - bs))

    def expectation(mdp: MDP, policy: Policy, theta: Any, protocol: str = "auto",
                    horizon: int | None = None) -> np.ndarray:
        m = _model(mdp, policy, theta, protocol, horizon)
        return _vjp(policy, theta, _reinforce_table(m, with_discount=True, baseline=_b(mdp.n_states)))

    return Estimator("baseline", estimate, expectation)


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
    d = _step_discount(traj)
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


def gae_estimator(values: Any, lam: float) -> Estimator:
    """GAE(λ): Σₜ γᵗ Âₜ ∇log π(aₜ|sₜ) with Âₜ = Σ_l (γλ)^l δₜ₊ₗ (Schulman et al. 2016, eq. 16).

    δₜ = rₜ + γ V(sₜ₊₁) − V(sₜ) with the given table V, shape (S,), read as 0 at
    terminal states; a horizon cut bootstraps with γV(s_H).  Under "geometric"
    δₜ = rₜ + V(sₜ₊₁)·1[t + 1 < T] − V(sₜ), Âₜ = Σ_l λ^l δₜ₊ₗ and no γᵗ.

    Exact expectation: with δ̄(s, a) = r + γPV − V(s) and δ̄^π = Σ_a π δ̄,
    E[Âₜ | s, a] = δ̄(s, a) + γλ P(I − γλP̃^π)⁻¹ δ̄^π (finite sums under "horizon"),
    weighted by η(s)π(a|s).  With V = v, or with λ = 1, it equals ∇J.

    Examples
    --------
    One decision, then the end: Â = r(a) − V(0), so any V gives ∇J = (−¼, ¼).

    >>> from mdpgrad import TabularSoftmax
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])
    >>> gae_estimator([5.0, 0.0], 0.5).expectation(mdp, TabularSoftmax(2, 2), np.zeros((2, 2))).tolist()
    [[-0.25, 0.25], [0.0, 0.0]]
    """
    lam = _check_unit_interval(lam, "lam")
    V_raw = values

    def estimate(traj: Trajectories, policy: Policy, theta: np.ndarray) -> np.ndarray:
        traj = _check_traj(traj, policy)
        V = _check_table(V_raw, "values", policy.n_states)
        adv = _gae_advantages(traj, V, lam)
        return _score_vjp(traj, policy, theta, _powers(traj, _step_discount(traj)) * adv)

    def expectation(mdp: MDP, policy: Policy, theta: Any, protocol: str = "auto",
                    horizon: int | None = None) -> np.ndarray:
        m = _model(mdp, policy, theta, protocol, horizon)
        V = _check_table(V_raw, "values", mdp.n_states) * m.keep
        g = m.gamma
        delta = mdp.r + g * m.P_next(V) - V[:, None]
        delta_pi = m.keep * np.sum(m.pi * delta, axis=1)
        if m.protocol == "horizon":
            us = [np.zeros(mdp.n_states)]
            for _ in range(m.horizon):
                us.append(m.keep * (delta_pi + m.chain(us[-1], g * lam)))
            W = _horizon_sum(m, g, lambda k: delta + g * lam * m.P_next(us[k - 1]))
        else:
            u = m.keep * m.solve(g * lam, delta_pi)
            W = _visits(m, True)[:, None] * m.pi * (delta + g * lam * m.P_next(u))
        return _vjp(policy, theta, W)

    return Estimator(f"gae(lam={lam:g})", estimate, expectation)
