"""Policy-gradient estimators, one estimate per episode, each with its exact expectation.

What it computes
----------------
An :class:`Estimator` bundles ``estimate(traj, policy, θ)`` (an array of shape
(n, *param_shape), one gradient estimate per sampled episode) with
``expectation(mdp, policy, θ, protocol=..., horizon=...)``, the exact
expectation of one episode's estimate under the same stopping protocol,
computed from the model.  Every estimate has the form Σₜ wₜ ∇log π(aₜ|sₜ), so
it is one batched ``policy.log_prob_vjp`` of the per-episode table
W[i, s, a] = Σₜ wₜ 1[sₜ = s, aₜ = a]; every expectation is one
``log_prob_vjp`` of a table Σₜ cₜ Pr(sₜ = s) π(a|s) E[wₜ | sₜ = s, aₜ = a].

Protocols (see :mod:`mdpgrad.sampling`)
---------------------------------------
* "terminal": returns Gₜ = Σ_{k≥t} γ^{k−t} r_k; the step weight is γᵗ.
* "horizon": the same, truncated at H; expectations are finite sums over t < H
  (finite-horizon recursions), so the bias of truncation is part of them.
* "geometric": returns are **undiscounted** sums and **no** γᵗ weight is used:
  Pr(t < T) = γᵗ already puts it in (and the continuation probability γ puts
  the discount into Gₜ).  Hence REINFORCE with and without γᵗ coincide there,
  and every expectation equals the discounted infinite-horizon one.

Identity checked by the tests: sampled means agree with the exact expectations
for every estimator; the exact expectation of REINFORCE (with γᵗ, whole-return,
any state baseline, GAE with the exact v or with λ = 1) is ∇J under
"terminal"/"geometric", while the γᵗ-less one equals
:func:`mdpgrad.gradients.expected_update_without_discount` ("visits").

References: Williams (1992); Sutton & Barto (2018), §13.3–13.4; Schulman et
al. (2016) for GAE(λ); Schulman et al. (2017) for the clipped surrogate; Shao
et al. (2024), §4.1 for group-normalised advantages; Nota & Thomas (2020) for
the missing γᵗ.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import gammaln

from ._linalg import factorize
from .errors import ValidationError
from .evaluation import evaluate, state_chain
from .gradients import expected_update_without_discount
from .model import MDP
from .policies import Policy
from .sampling import Trajectories, resolve_protocol

__all__ = [
    "Estimator",
    "baseline_estimator",
    "gae_estimator",
    "grpo_estimator",
    "ppo_estimator",
    "reinforce_estimator",
    "reinforce_without_discount_estimator",
    "value_baseline",
    "whole_return_estimator",
]

#: Per-episode weight tables are built this many entries (n·S·A) at a time.
TABLE_CHUNK = 1 << 22


@dataclass(frozen=True, eq=False)
class Estimator:
    """A gradient estimator and its exact expectation.

    Attributes
    ----------
    name : str
    estimate : callable (Trajectories, Policy, ndarray) -> ndarray, shape (n, *param_shape)
        One estimate per episode.
    expectation : callable
        ``expectation(mdp, policy, theta, protocol="auto", horizon=None)`` → the
        exact E[estimate of one episode], shape param_shape.
    behaviour_theta : ndarray or None
        When set, episodes must be sampled from π at these parameters (PPO's θ_old).
    group_size : int
        Episodes come in consecutive groups of this size sharing a start state.
    """

    name: str
    estimate: Callable[[Trajectories, Policy, np.ndarray], np.ndarray]
    expectation: Callable[..., np.ndarray]
    behaviour_theta: np.ndarray | None = None
    group_size: int = 1


# --------------------------------------------------------------------------- sampled side

def _step_discount(traj: Trajectories) -> float:
    """γ for the returns and the γᵗ weights; 1 under "geometric"."""
    return 1.0 if traj.protocol == "geometric" else traj.gamma


def _returns(traj: Trajectories, discount: float) -> np.ndarray:
    """Gₜ = rₜ + discount·Gₜ₊₁ within each episode, time-major, shape (T, n)."""
    R = traj.rewards.T
    G = np.zeros_like(R, dtype=float)
    acc = np.zeros(R.shape[1])
    for t in range(R.shape[0] - 1, -1, -1):
        acc = R[t] + discount * acc
        G[t] = acc
    return G


def _powers(traj: Trajectories, discount: float) -> np.ndarray:
    """discountᵗ for t < T, shape (T, 1)."""
    return (discount ** np.arange(traj.actions.shape[1], dtype=float))[:, None]


def _score_vjp(traj: Trajectories, policy: Policy, theta: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Σₜ coef[t, i] ∇log π(aₜ|sₜ) per episode i, shape (n, *param_shape).

    Builds W[i, s, a] = Σₜ coef[t, i] 1[sₜ = s, aₜ = a] (chunks of episodes) and
    calls ``policy.log_prob_vjp`` once per chunk with leading batch axis i.
    """
    S, A = policy.n_states, policy.n_actions
    theta = np.asarray(theta, dtype=float)
    n, T = traj.actions.shape
    st = traj.states[:, :T].T
    ac = traj.actions.T
    m = np.arange(T)[:, None] < traj.lengths[None, :]
    out = np.empty((n, *np.shape(theta)))
    size = max(1, TABLE_CHUNK // (S * A))
    for c0 in range(0, n, size):
        c1 = min(n, c0 + size)
        mm = m[:, c0:c1]
        ep = np.broadcast_to(np.arange(c1 - c0), mm.shape)[mm]
        flat = (ep * S + st[:, c0:c1][mm]) * A + ac[:, c0:c1][mm]
        W = np.bincount(flat, weights=coef[:, c0:c1][mm], minlength=(c1 - c0) * S * A)
        out[c0:c1] = policy.log_prob_vjp(theta, W.reshape(c1 - c0, S, A))
    return out


def _check_traj(traj: Any, policy: Policy) -> Trajectories:
    if not isinstance(traj, Trajectories):
        raise ValidationError(f"traj is {type(traj).__name__}; expected Trajectories", argument="traj")
    S, A = policy.n_states, policy.n_actions
    if traj.states.max(initial=-1) >= S or traj.actions.max(initial=-1) >= A:
        raise ValidationError(f"traj holds states or actions outside the policy's {S} states and {A} actions",
                              argument="traj", value=(int(traj.states.max()), int(traj.actions.max())))
    return traj


def _check_table(b: Any, name: str, S: int) -> np.ndarray:
    arr = np.asarray(b, dtype=float)
    if arr.ndim == 0:
        arr = np.full(S, float(arr))
    if arr.shape != (S,):
        raise ValidationError(f"{name} has shape {arr.shape}; expected a number or shape ({S},)",
                              argument=name, value=arr.shape)
    if not np.isfinite(arr).all():
        i = int(np.argmax(~np.isfinite(arr)))
        raise ValidationError(f"{name}[{i}] is {arr[i]!r}; expected a finite number",
                              argument=name, index=(i,), value=float(arr[i]))
    return arr


# --------------------------------------------------------------------------- exact side

@dataclass(frozen=True, eq=False)
class _Model:
    """π_θ and the pieces of the model the expectations need."""

    mdp: MDP
    pi: np.ndarray          # (S, A)
    P_pi: Any               # (S, S) dense or sparse, terminal rows/cols zeroed
    keep: np.ndarray        # (S,) float, 1 off terminal states
    protocol: str
    horizon: int | None

    @property
    def gamma(self) -> float:
        return self.mdp.gamma

    def P_next(self, x: np.ndarray) -> np.ndarray:
        """(P x)(s, a) = Σ_s' P(s'|s, a) x(s'), shape (S, A)."""
        return np.asarray(self.mdp.P_flat @ x).reshape(self.mdp.n_states, self.mdp.n_actions)

    def chain(self, x: np.ndarray, c: float = 1.0) -> np.ndarray:
        """x ↦ c·P̃^π x (masked chain), shape (S,)."""
        return c * np.asarray(self.P_pi @ x)

    def chain_t(self, p: np.ndarray) -> np.ndarray:
        """p ↦ (P̃^π)ᵀ p (one step of the state marginal), shape (S,)."""
        return np.asarray(self.P_pi.T @ p)

    def solve(self, c: float, b: np.ndarray, *, transposed: bool = False) -> np.ndarray:
        """(I − c P̃^π)⁻¹ b, or its transpose."""
        S = self.mdp.n_states
        M = (sp.eye_array(S, format="csr") - c * self.P_pi) if sp.issparse(self.P_pi) \
            else np.eye(S) - c * self.P_pi
        lu = factorize(M)
        return lu.solve_transposed(b) if transposed else lu.solve(b)

    def marginals(self) -> np.ndarray:
        """pₜ(s) = Pr(sₜ = s, t < T) for t < H, shape (H, S) ("horizon" only)."""
        p = np.empty((self.horizon, self.mdp.n_states))
        p[0] = self.mdp.rho0 * self.keep
        for t in range(1, self.horizon):
            p[t] = self.chain_t(p[t - 1])
        return p


def _model(mdp: MDP, policy: Policy, theta: Any, protocol: str, horizon: int | None) -> _Model:
    if not isinstance(mdp, MDP):
        raise ValidationError(f"mdp is {type(mdp).__name__}; expected MDP", argument="mdp")
    protocol = resolve_protocol(mdp, protocol, horizon)
    pi = policy.probabilities(np.asarray(theta, dtype=float))
    P_pi, _ = state_chain(mdp, pi)
    keep = (~mdp.terminal).astype(float)
    if sp.issparse(P_pi):
        N = sp.diags_array(keep)
        P_pi = sp.csr_array(N @ P_pi @ N)
    else:
        P_pi = keep[:, None] * P_pi * keep[None, :]
    return _Model(mdp=mdp, pi=pi, P_pi=P_pi, keep=keep, protocol=protocol, horizon=horizon)


def _truncated_q(m: _Model) -> list[np.ndarray]:
    """q⁽ᵏ⁾ for k = 0..H: k-step truncated discounted action values, q⁽⁰⁾ = 0."""
    S, A = m.mdp.n_states, m.mdp.n_actions
    qs = [np.zeros((S, A))]
    v = np.zeros(S)
    for _ in range(m.horizon):
        q = m.mdp.r + m.gamma * m.P_next(v)
        v = m.keep * np.sum(m.pi * q, axis=1)
        qs.append(q)
    return qs


def _visits(m: _Model, discounted: bool) -> np.ndarray:
    """η (discounted) or η̃ (undiscounted) expected visits before termination, shape (S,)."""
    c = m.gamma if discounted else 1.0
    return m.keep * m.solve(c, m.mdp.rho0 * m.keep, transposed=True)


def _horizon_sum(m: _Model, step_weight: float, table_at: Callable[[int], np.ndarray]) -> np.ndarray:
    """Σ_{t<H} step_weightᵗ pₜ(s) π(a|s) table_at(H − t)(s, a), shape (S, A)."""
    p = m.marginals()
    W = np.zeros_like(m.pi)
    for t in range(m.horizon):
        W += step_weight ** t * p[t][:, None] * m.pi * table_at(m.horizon - t)
    return W


def _vjp(policy: Policy, theta: Any, W: np.ndarray) -> np.ndarray:
    return policy.log_prob_vjp(np.asarray(theta, dtype=float), W)


def _reinforce_table(m: _Model, with_discount: bool, baseline: np.ndarray | None = None) -> np.ndarray:
    """Σₜ cₜ Pr(sₜ = s) π(a|s) E[Gₜ − b(sₜ) | s, a] for the REINFORCE family, shape (S, A)."""
    b = np.zeros(m.mdp.n_states) if baseline is None else baseline
    if m.protocol == "horizon":
        qs = _truncated_q(m)
        return _horizon_sum(m, m.gamma if with_discount else 1.0, lambda k: qs[k] - b[:, None])
    ev = evaluate(m.mdp, m.pi, validate=False)
    discounted = with_discount or m.protocol == "geometric"
    return _visits(m, discounted)[:, None] * m.pi * (ev.q - b[:, None])


# --------------------------------------------------------------------------- REINFORCE family

def reinforce_estimator() -> Estimator:
    """REINFORCE with γᵗ: Σₜ γᵗ Gₜ ∇log π(aₜ|sₜ) (geometric: Σₜ Gₜ ∇log π, undiscounted Gₜ).

    Unbiased for ∇J under "terminal" and "geometric" (Sutton & Barto 2018,
    §13.3, the γᵗ of the REINFORCE update); under "horizon" its expectation is
    Σ_{t<H} γᵗ E[G⁽ᴴ⁾ₜ ∇log π(aₜ|sₜ)].

    Examples
    --------
    >>> from mdpgrad.policies import TabularSoftmax
    >>> from mdpgrad.sampling import sample
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
    ``expected_update_without_discount(..., weighting="visits")``; under
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
                                                    weighting="visits")
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
    >>> from mdpgrad.policies import TabularSoftmax
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


def _check_unit_interval(x: Any, name: str) -> float:
    try:
        f = float(x)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} is {x!r}; expected a number in [0, 1]",
                              argument=name, value=x) from None
    if not (0.0 <= f <= 1.0):
        raise ValidationError(f"{name} is {x!r}; expected a number in [0, 1]", argument=name, value=x)
    return f


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


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

    >>> from mdpgrad.policies import TabularSoftmax
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


# --------------------------------------------------------------------------- enumeration helpers

#: Largest number of atoms of one return distribution (PPO with sampled advantages).
MAX_ATOMS = 100_000
#: Largest number of enumerated episodes (GRPO), and of episode × (S·A) table entries.
MAX_PATHS = 200_000
MAX_PATH_TABLE = 20_000_000
#: Longest episode enumerated under "terminal" (GRPO).
MAX_ENUM_STEPS = 200
#: Largest number of multisets of group partners (GRPO), and of multisets × return atoms.
MAX_COMBOS = 200_000
MAX_COMBO_TABLE = 20_000_000


def _merge_atoms(vals: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u, inv = np.unique(vals, return_inverse=True)
    return u, np.bincount(inv.ravel(), weights=probs, minlength=u.size)


def _return_atoms(m: _Model) -> list[dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]]:
    """Exact law of the truncated return G⁽ᵏ⁾ given (s, a), k = 1..H, as atoms (values, probs).

    G⁽ᵏ⁾(s, a) = r(s, a) + γ G⁽ᵏ⁻¹⁾(s'), s' ∼ P(·|s, a), a' ∼ π; 0 at terminal
    states.  Raises ValidationError when a law has more than MAX_ATOMS atoms.
    """
    mdp, S, A = m.mdp, m.mdp.n_states, m.mdp.n_actions
    P = mdp.P_flat
    rows = [(np.asarray(P[[x]].toarray()).ravel() if sp.issparse(P) else P[x]) for x in range(S * A)]
    zero = (np.zeros(1), np.ones(1))
    dv = [zero] * S
    out: list[dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]] = [{}]
    for k in range(1, m.horizon + 1):
        dq: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        new_dv = []
        for s in range(S):
            if m.keep[s] == 0:
                new_dv.append(zero)
                continue
            vs, ps = [], []
            for a in range(A):
                nz = np.flatnonzero(rows[s * A + a])
                vals = np.concatenate([mdp.r[s, a] + m.gamma * dv[t][0] for t in nz])
                probs = np.concatenate([rows[s * A + a][t] * dv[t][1] for t in nz])
                atoms = _merge_atoms(vals, probs)
                if atoms[0].size > MAX_ATOMS:
                    raise ValidationError(
                        f"the return law of (s, a) = ({s}, {a}) over {k} steps has {atoms[0].size} atoms, "
                        f"more than MAX_ATOMS={MAX_ATOMS}; use a smaller horizon or an advantage table",
                        argument="horizon", index=(s, a), value=atoms[0].size)
                dq[(s, a)] = atoms
                if m.pi[s, a] > 0:
                    vs.append(atoms[0])
                    ps.append(m.pi[s, a] * atoms[1])
            new_dv.append(_merge_atoms(np.concatenate(vs), np.concatenate(ps)))
        dv = new_dv
        out.append(dq)
    return out


@dataclass(frozen=True, eq=False)
class _Paths:
    start: np.ndarray    # (m,) int, start state
    prob: np.ndarray     # (m,) probability given the start
    ret: np.ndarray      # (m,) Σₜ γᵗ rₜ
    counts: np.ndarray   # (m, S·A) visits of (s, a)


def _enumerate_paths(m: _Model) -> _Paths:
    """Every episode (with its probability) from every start state with ρ₀ > 0.

    Finite only under "horizon", or under "terminal" when every episode ends
    within MAX_ENUM_STEPS; limits MAX_PATHS and MAX_PATH_TABLE.
    """
    mdp, S, A = m.mdp, m.mdp.n_states, m.mdp.n_actions
    if m.protocol == "geometric":
        raise ValidationError("exact enumeration of episodes needs a bounded length: use protocol 'horizon' "
                              "(or 'terminal' on an MDP whose episodes end within "
                              f"MAX_ENUM_STEPS={MAX_ENUM_STEPS} steps)",
                              argument="protocol", value=m.protocol)
    P = sp.csr_array(mdp.P_flat) if not mdp.is_sparse else mdp.P
    row = np.repeat(np.arange(S * A), np.diff(P.indptr))
    w = m.pi.ravel()[row] * P.data
    ok = (w > 0) & (m.keep[row // A] > 0)
    row, nxt, w = row[ok], P.indices[ok], w[ok]
    K = np.bincount(row // A, minlength=S)
    first = np.concatenate(([0], np.cumsum(K)))[:-1]
    starts = np.flatnonzero(mdp.rho0 > 0)
    active = _Paths(start=starts, prob=np.ones(starts.size), ret=np.zeros(starts.size),
                    counts=np.zeros((starts.size, S * A)))
    state, disc = starts.copy(), np.ones(starts.size)
    done: list[_Paths] = []
    n_done = 0
    limit = m.horizon if m.protocol == "horizon" else MAX_ENUM_STEPS
    for _ in range(limit + 1):
        fin = m.keep[state] == 0
        if fin.any():
            done.append(_Paths(active.start[fin], active.prob[fin], active.ret[fin], active.counts[fin]))
            n_done += int(fin.sum())
            keep = ~fin
            active = _Paths(active.start[keep], active.prob[keep], active.ret[keep], active.counts[keep])
            state, disc = state[keep], disc[keep]
        if not state.size:
            break
        if _ == limit:
            if m.protocol == "horizon":
                done.append(active)
                break
            raise ValidationError(f"some episodes are longer than MAX_ENUM_STEPS={MAX_ENUM_STEPS} steps; "
                                  "exact enumeration needs protocol 'horizon'", argument="protocol",
                                  value=m.protocol)
        rep = K[state]
        total = int(rep.sum())
        if n_done + total > MAX_PATHS or total * S * A > MAX_PATH_TABLE:
            raise ValidationError(f"exact enumeration needs more than MAX_PATHS={MAX_PATHS} episodes "
                                  f"(or {MAX_PATH_TABLE} table entries); use a smaller MDP or horizon",
                                  argument="horizon", value=n_done + total)
        parent = np.repeat(np.arange(state.size), rep)
        e = first[state][parent] + (np.arange(total) - np.repeat(np.cumsum(rep) - rep, rep))
        counts = active.counts[parent]
        counts[np.arange(total), row[e]] += 1.0
        active = _Paths(active.start[parent], active.prob[parent] * w[e],
                        active.ret[parent] + disc[parent] * mdp.r.ravel()[row[e]], counts)
        state, disc = nxt[e], disc[parent] * m.gamma
    fields = ("start", "prob", "ret", "counts")
    return _Paths(*(np.concatenate([getattr(p, f) for p in done]) for f in fields))


# --------------------------------------------------------------------------- PPO

def _ppo_active(ratio: np.ndarray, adv: np.ndarray, clip: float) -> np.ndarray:
    """Where the clipped surrogate min(ρÂ, clip(ρ, 1−ε, 1+ε)Â) has gradient ρÂ∇log π (else 0)."""
    return ~(((adv > 0) & (ratio > 1.0 + clip)) | ((adv < 0) & (ratio < 1.0 - clip)))


def ppo_estimator(theta_old: Any, clip: float, *, advantages: Any = None, values: Any = None) -> Estimator:
    """Gradient of PPO's clipped surrogate at θ ≠ θ_old, episodes sampled from π_θ_old.

    Per episode Σₜ γᵗ ∇_θ min(ρₜÂₜ, clip(ρₜ, 1 − ε, 1 + ε)Âₜ) with ρₜ = π_θ(aₜ|sₜ)/π_old(aₜ|sₜ)
    (Schulman et al. 2017, eq. 7), i.e. γᵗ ρₜ Âₜ ∇log π_θ(aₜ|sₜ) where the clip
    does not bind and 0 where it does ((Â > 0, ρ > 1 + ε) or (Â < 0, ρ < 1 − ε)).

    Âₜ is ``advantages[sₜ, aₜ]`` when a table of shape (S, A) is given (e.g.
    the exact advantage of θ_old), else the sampled Gₜ − b(sₜ) with
    b = ``values`` (a constant or shape (S,); default 0).

    Exact expectation: with a table, Σ_s η_old(s) Σ_a π_θ(a|s) 1[active] Â(s, a) ∇log π_θ
    by one linear solve (finite sums under "horizon").  With sampled Â, where
    the clip can bind the expectation needs E[max(Â, 0) | s, a] or
    E[min(Â, 0) | s, a]: computed from the exact law of the truncated return
    under "horizon" (at most MAX_ATOMS atoms per law); under "terminal" and
    "geometric" it is only available when the clip cannot bind anywhere π_old
    goes (ValidationError otherwise).

    Examples
    --------
    A bandit with rewards (0, 1), π_old = (½, ½), exact advantages (−½, ½); at
    π_θ = (0.2, 0.8) both ratios (0.4, 1.6) sit where the clip binds:

    >>> from mdpgrad.policies import TabularSoftmax
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])
    >>> est = ppo_estimator(np.zeros((2, 2)), 0.2, advantages=[[-0.5, 0.5], [0.0, 0.0]])
    >>> theta = np.array([[0.0, np.log(4.0)], [0.0, 0.0]])
    >>> float(np.abs(est.expectation(mdp, TabularSoftmax(2, 2), theta)).max())
    0.0
    """
    th_old = np.asarray(theta_old, dtype=float)
    eps = float(clip)
    if not (eps >= 0.0 and np.isfinite(eps)):
        raise ValidationError(f"clip is {clip!r}; expected a number >= 0", argument="clip", value=clip)
    table = None if advantages is None else np.asarray(advantages, dtype=float)

    def _adv_table(S: int, A: int) -> np.ndarray:
        if table is None:
            raise ValueError  # pragma: no cover - guarded by callers
        if table.shape != (S, A) or not np.isfinite(table).all():
            raise ValidationError(f"advantages has shape {table.shape}; expected finite ({S}, {A})",
                                  argument="advantages", value=table.shape)
        return table

    def estimate(traj: Trajectories, policy: Policy, theta: np.ndarray) -> np.ndarray:
        traj = _check_traj(traj, policy)
        S, A = policy.n_states, policy.n_actions
        d = _step_discount(traj)
        st = np.maximum(traj.states[:, :-1].T, 0)
        ac = np.maximum(traj.actions.T, 0)
        pi_new = policy.probabilities(np.asarray(theta, dtype=float))
        pi_old = policy.probabilities(th_old)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(pi_old[st, ac] > 0, pi_new[st, ac] / pi_old[st, ac], 0.0)
        if table is not None:
            adv = _adv_table(S, A)[st, ac]
        else:
            adv = _returns(traj, d) - _check_table(0.0 if values is None else values, "values", S)[st]
        live = np.arange(traj.actions.shape[1])[:, None] < traj.lengths[None, :]
        coef = np.where(live & _ppo_active(ratio, adv, eps), _powers(traj, d) * ratio * adv, 0.0)
        return _score_vjp(traj, policy, theta, coef)

    def expectation(mdp: MDP, policy: Policy, theta: Any, protocol: str = "auto",
                    horizon: int | None = None) -> np.ndarray:
        m = _model(mdp, policy, th_old, protocol, horizon)
        S, A = mdp.n_states, mdp.n_actions
        pi_new = policy.probabilities(np.asarray(theta, dtype=float))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(m.pi > 0, pi_new / np.where(m.pi > 0, m.pi, 1.0), 0.0)
        inside = (ratio >= 1.0 - eps) & (ratio <= 1.0 + eps)
        if table is not None:
            Ahat = _adv_table(S, A)
            h = np.where(_ppo_active(ratio, Ahat, eps), Ahat, 0.0)
            if m.protocol == "horizon":
                W = _horizon_sum(m, m.gamma, lambda k: ratio * h)
            else:
                W = _visits(m, True)[:, None] * m.pi * ratio * h
            return _vjp(policy, theta, W)
        b = _check_table(0.0 if values is None else values, "values", S)
        if m.protocol == "horizon":
            laws = _return_atoms(m)

            def h_at(k: int) -> np.ndarray:
                out = np.zeros((S, A))
                for (s, a), (vals, probs) in laws[k].items():
                    x = vals - b[s]
                    if ratio[s, a] > 1.0 + eps:
                        x = np.minimum(x, 0.0)
                    elif ratio[s, a] < 1.0 - eps:
                        x = np.maximum(x, 0.0)
                    out[s, a] = probs @ x
                return ratio * out

            return _vjp(policy, theta, _horizon_sum(m, m.gamma, h_at))
        eta = _visits(m, True)
        reach = (eta[:, None] * m.pi > 0) & ~inside
        if reach.any():
            s, a = (int(i) for i in np.argwhere(reach)[0])
            raise ValidationError(
                f"the clip binds at (s, a) = ({s}, {a}) (ratio {ratio[s, a]:.6g}); "
                "the exact expectation with "
                "sampled advantages needs protocol 'horizon', or pass an advantages table",
                argument="protocol", index=(s, a), value=float(ratio[s, a]))
        ev = evaluate(mdp, m.pi, validate=False)
        return _vjp(policy, theta, eta[:, None] * m.pi * ratio * (ev.q - b[:, None]))

    return Estimator(f"ppo(clip={eps:g})", estimate, expectation, behaviour_theta=th_old)


# --------------------------------------------------------------------------- GRPO

def _group_advantages(R: np.ndarray, group_size: int, eps: float) -> np.ndarray:
    """(R − mean_group R) / (std_group R + ε), population std, shape (n,)."""
    g = R.reshape(-1, group_size)
    sd = g.std(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, (g - g.mean(axis=1, keepdims=True)) / (sd + eps), 0.0).ravel()


def grpo_estimator(group_size: int, *, eps: float = 1e-8) -> Estimator:
    """Group-normalised advantages (GRPO-style): Âᵢ Σₜ ∇log π(aₜ|sₜ) for episode i.

    Episodes come in consecutive groups of ``group_size`` sharing one start
    state; Âᵢ = (Rᵢ − mean(R))/(std(R) + ε) over the group (population std),
    Rᵢ = Σₜ γᵗ rₜ (geometric: Σₜ rₜ) (Shao et al. 2024, §4.1.2, outcome
    supervision); Âᵢ = 0 when all returns of the group are equal.  The
    normalisation makes it biased for ∇J in general.

    Exact expectation (s₀ ∼ ρ₀ per group): every episode τ is enumerated with
    its probability, return and visit counts (needs "horizon", or "terminal"
    with episodes ending within MAX_ENUM_STEPS; at most MAX_PATHS episodes);
    then E[Â | R₁ = x] is averaged over all multisets of the other
    group_size − 1 returns (at most MAX_COMBOS).  Beyond these limits
    ValidationError.

    Examples
    --------
    Pairs on a bandit with rewards (0, 1) at π = (½, ½): Â = ±1/(1 + 2ε) when
    the two returns differ, so the expectation is ∇J/(1 + 2ε) ≈ (−¼, ¼).

    >>> from mdpgrad.policies import TabularSoftmax
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])
    >>> e = grpo_estimator(2).expectation(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)))
    >>> np.round(e, 6).tolist()
    [[-0.25, 0.25], [0.0, 0.0]]
    """
    if not _is_int(group_size) or group_size < 2:
        raise ValidationError(f"group_size is {group_size!r}; expected an integer >= 2",
                              argument="group_size", value=group_size)
    G = int(group_size)
    eps = float(eps)

    def estimate(traj: Trajectories, policy: Policy, theta: np.ndarray) -> np.ndarray:
        traj = _check_traj(traj, policy)
        n = traj.n_episodes
        if n % G:
            raise ValidationError(f"traj has {n} episodes; expected a multiple of group_size={G}",
                                  argument="traj", value=n)
        s0 = traj.states[:, 0].reshape(-1, G)
        bad = np.flatnonzero((s0 != s0[:, :1]).any(axis=1))
        if bad.size:
            raise ValidationError(f"group {int(bad[0])} does not share one start state: "
                                  f"{s0[bad[0]].tolist()}",
                                  argument="traj", index=(int(bad[0]),), value=s0[bad[0]].tolist())
        R = _returns(traj, _step_discount(traj))[0] if traj.actions.shape[1] else np.zeros(n)
        adv = _group_advantages(R, G, eps)
        return _score_vjp(traj, policy, theta, np.broadcast_to(adv[None, :], traj.actions.T.shape))

    def expectation(mdp: MDP, policy: Policy, theta: Any, protocol: str = "auto",
                    horizon: int | None = None) -> np.ndarray:
        m = _model(mdp, policy, theta, protocol, horizon)
        paths = _enumerate_paths(m)
        W = np.zeros(mdp.n_states * mdp.n_actions)
        for s0 in np.unique(paths.start):
            sel = paths.start == s0
            x, inv = np.unique(paths.ret[sel], return_inverse=True)
            q = np.bincount(inv, weights=paths.prob[sel], minlength=x.size)
            nc = int(np.round(np.exp(gammaln(x.size + G - 1) - gammaln(G) - gammaln(x.size))))
            if nc > MAX_COMBOS or nc * x.size > MAX_COMBO_TABLE:
                raise ValidationError(f"the return of start state {int(s0)} has {x.size} values: "
                                      f"{nc} groups of "
                                      f"partners to enumerate, more than MAX_COMBOS={MAX_COMBOS}",
                                      argument="group_size", value=nc)
            C = np.array(list(itertools.combinations_with_replacement(range(x.size), G - 1)), dtype=np.intp)
            C = C.reshape(-1, G - 1)
            mult = np.zeros((C.shape[0], x.size))
            np.add.at(mult, (np.repeat(np.arange(C.shape[0]), G - 1), C.ravel()), 1.0)
            with np.errstate(divide="ignore"):
                logp = (gammaln(G) - gammaln(mult + 1).sum(axis=1)
                        + (mult * np.log(q)).sum(axis=1, where=mult > 0))
            pc = np.exp(logp)
            so, so2 = x[C].sum(axis=1), (x[C] ** 2).sum(axis=1)
            mean = (x[:, None] + so[None, :]) / G
            var = ((x[:, None] - mean) ** 2 + so2[None, :] - 2 * mean * so[None, :]
                   + (G - 1) * mean ** 2) / G
            sd = np.sqrt(np.maximum(var, 0.0))
            with np.errstate(divide="ignore", invalid="ignore"):
                A_hat = np.where(sd > 0, (x[:, None] - mean) / (sd + eps), 0.0)
            g = A_hat @ pc                                      # E[Â | R₁ = x], shape (n_atoms,)
            W += mdp.rho0[s0] * ((paths.prob[sel] * g[inv]) @ paths.counts[sel])
        return _vjp(policy, theta, W.reshape(mdp.n_states, mdp.n_actions))

    return Estimator(f"grpo(group_size={G})", estimate, expectation, group_size=G)
