"""The :class:`Estimator` contract and the pieces every estimator shares.

Sampled side: returns, γᵗ weights and the batched score vjp
Σₜ wₜ ∇log π(aₜ|sₜ) of one episode.  Exact side: :class:`_Model` (π_θ and the
masked chain P̃^π), finite-horizon recursions and linear solves from which the
exact expectations are built.  See :mod:`mdpgrad.estimators` for the protocols.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._chains import chain_and_reward, masked_chain
from .._errors import ValidationError
from .._evaluation import evaluate
from .._linalg import factorize
from .._model import MDP
from .._policies import Policy
from ..sampling._sampler import Trajectories, resolve_protocol

__all__ = ["Estimator", "TABLE_CHUNK"]

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
    P_pi = masked_chain(mdp, chain_and_reward(mdp, pi)[0])
    keep = (~mdp.terminal).astype(float)
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
