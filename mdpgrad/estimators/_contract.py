"""The :class:`Estimator` contract and the pieces every estimator shares.

Sampled side: returns Gₜ, step weights γᵗ and the batched score vjp
Σₜ wₜ ∇log π(aₜ|sₜ) of one episode.  Exact side: :class:`ExactModel` (π_θ, the
masked chain P̃^π and the exact evaluation of π_θ), finite-horizon recursions
and linear solves from which the exact expectations are built.  See
:mod:`mdpgrad.estimators` for the stopping protocols.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._chains import bellman_matrix, chain_and_reward, masked_chain
from .._errors import ValidationError
from .._evaluation import Evaluation, evaluate, visit_counts
from .._linalg import factorize
from .._model import MDP, validate_mdp
from .._policies import Policy, policy_on_model, validate_parameterisation, validate_theta
from .._validation import as_real_array
from ..sampling._sampler import ProtocolOption, StoppingProtocol, Trajectories, resolve_protocol

__all__ = ["TABLE_CHUNK", "Estimator", "ExactModel", "checked_estimator", "exact_model", "returns",
           "score_vjp", "step_discount", "step_weights", "table_score", "validate_state_table",
           "validate_trajectories"]

#: Per-episode weight tables are built this many entries (n·S·A) at a time.
TABLE_CHUNK = 1 << 22


@dataclass(frozen=True, eq=False)
class Estimator:
    """A gradient estimator and its exact expectation.

    Attributes
    ----------
    name : str
    estimate : callable (Trajectories, Policy, ndarray) -> ndarray, shape ``(n, *param_shape)``
        One estimate per episode.
    expectation : callable
        ``expectation(mdp, policy, theta, protocol="auto", horizon=None)`` → the
        exact E[estimate of one episode], shape param_shape.
    behaviour_theta : ndarray or None
        When set, episodes must be sampled from π at these parameters (PPO's θ_old).
    group_size : int
        Episodes come in consecutive groups of this size sharing a start state.
    second_moment : callable or None
        ``second_moment(model, policy, theta)`` → (E[N], E[N Nᵀ]) of the
        episode's weight table N over state-action pairs (shapes (S·A,) and
        (S·A, S·A)), for the estimators with a closed form; see
        :func:`mdpgrad.estimators.estimator_moments`.
    """

    name: str
    estimate: Callable[[Trajectories, Policy, np.ndarray], np.ndarray]
    expectation: Callable[..., np.ndarray]
    behaviour_theta: np.ndarray | None = None
    group_size: int = 1
    second_moment: Callable[[ExactModel, Policy, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None


def checked_estimator(name: str, estimate: Callable[[Trajectories, Policy, np.ndarray], np.ndarray],
                      expectation: Callable[..., np.ndarray], **options: Any) -> Estimator:
    """An :class:`Estimator` whose two functions check their arguments first.

    ``estimate(traj, policy, theta)`` and ``expectation(mdp, policy, theta, protocol, horizon)``
    receive a :class:`Trajectories` of the policy's size, a parameterisation, θ as a finite float
    array of the policy's shape and an MDP; anything else is a :class:`~mdpgrad.ValidationError`.
    """
    def checked_estimate(traj: Trajectories, policy: Policy, theta: np.ndarray) -> np.ndarray:
        policy = validate_parameterisation(policy)
        th = validate_theta(theta, policy, batch=False)
        return estimate(validate_trajectories(traj, policy), policy, th)

    def checked_expectation(mdp: MDP, policy: Policy, theta: ArrayLike, protocol: ProtocolOption = "auto",
                            horizon: int | None = None) -> np.ndarray:
        mdp = validate_mdp(mdp)
        policy = validate_parameterisation(policy)
        th = validate_theta(theta, policy, batch=False)
        if (policy.n_states, policy.n_actions) != (mdp.n_states, mdp.n_actions):
            raise ValidationError(f"policy has {policy.n_states} states and {policy.n_actions} actions; the "
                                  f"mdp has {mdp.n_states} and {mdp.n_actions}", argument="policy",
                                  value=(policy.n_states, policy.n_actions))
        return expectation(mdp, policy_on_model(policy, mdp.actions), th, protocol, horizon)

    return Estimator(name, checked_estimate, checked_expectation, **options)


# --------------------------------------------------------------------------- sampled side

def step_discount(traj: Trajectories) -> float:
    """d = γ for the returns and the γᵗ weights; 1 under "geometric" (the stop carries the discount)."""
    return 1.0 if traj.protocol == "geometric" else traj.gamma


def returns(traj: Trajectories) -> np.ndarray:
    """Gₜ = rₜ + d·Gₜ₊₁ within each episode (d from :func:`step_discount`), time-major, shape (T, n)."""
    d = step_discount(traj)
    R = traj.rewards.T
    G = np.zeros_like(R, dtype=float)
    acc = np.zeros(R.shape[1])
    for t in range(R.shape[0] - 1, -1, -1):
        acc = R[t] + d * acc
        G[t] = acc
    return G


def step_weights(traj: Trajectories) -> np.ndarray:
    """dᵗ for t < T (γᵗ, or 1 under "geometric"), shape (T, 1)."""
    return (step_discount(traj) ** np.arange(traj.actions.shape[1], dtype=float))[:, None]


def score_vjp(traj: Trajectories, policy: Policy, theta: np.ndarray, coef: np.ndarray) -> np.ndarray:
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


def validate_trajectories(traj: object, policy: Policy) -> Trajectories:
    """``traj`` itself, after checking that it is a batch of episodes of the policy's size."""
    if not isinstance(traj, Trajectories):
        raise ValidationError(f"traj is {type(traj).__name__}; expected Trajectories", argument="traj")
    policy = validate_parameterisation(policy)
    S, A = policy.n_states, policy.n_actions
    if traj.states.max(initial=-1) >= S or traj.actions.max(initial=-1) >= A:
        raise ValidationError(f"traj holds states or actions outside the policy's {S} states and {A} actions",
                              argument="traj", value=(int(traj.states.max()), int(traj.actions.max())))
    return traj


def validate_state_table(b: ArrayLike, name: str, n_states: int) -> np.ndarray:
    """A finite number or a finite table of shape (S,), as a float array of shape (S,)."""
    arr = as_real_array(b, name)
    if arr.ndim == 0:
        arr = np.full(n_states, float(arr))
    if arr.shape != (n_states,):
        raise ValidationError(f"{name} has shape {arr.shape}; expected a number or shape ({n_states},)",
                              argument=name, value=arr.shape)
    return arr


# --------------------------------------------------------------------------- exact side

@dataclass(frozen=True, eq=False)
class ExactModel:
    """π_θ on an MDP, with what the exact expectations of one episode are built from.

    Attributes
    ----------
    mdp : MDP
    pi : ndarray, shape (S, A)
        π_θ.
    keep : ndarray, shape (S,)
        1.0 off terminal states, 0.0 on them (episodes stop there).
    protocol : {"terminal", "horizon", "geometric"}
    horizon : int or None
        H under "horizon".
    """

    mdp: MDP
    pi: np.ndarray
    keep: np.ndarray
    protocol: StoppingProtocol
    horizon: int | None

    @property
    def gamma(self) -> float:
        return self.mdp.gamma

    @property
    def H(self) -> int:
        """The horizon H ("horizon" only)."""
        if self.horizon is None:
            raise ValueError("the model has no horizon")  # pragma: no cover - guarded by the protocol
        return self.horizon

    @cached_property
    def evaluation(self) -> Evaluation:
        """The exact evaluation of π: v, q, η and the factors of I − γP̃^π (built on first use)."""
        return evaluate(self.mdp, self.pi, validate=False)

    @cached_property
    def P_pi(self) -> Any:
        """P̃^π, the state chain with terminal rows and columns zeroed, (S, S) dense or sparse."""
        return masked_chain(self.mdp, chain_and_reward(self.mdp, self.pi)[0])

    def P_next(self, x: np.ndarray) -> np.ndarray:
        """(P x)(s, a) = Σ_s' P(s'|s, a) x(s'), shape (S, A)."""
        return np.asarray(self.mdp.P_flat @ x).reshape(self.mdp.n_states, self.mdp.n_actions)

    def chain(self, x: np.ndarray, c: float = 1.0) -> np.ndarray:
        """x ↦ c·P̃^π x, shape (S,)."""
        return c * np.asarray(self.P_pi @ x)

    def solve(self, c: float, b: np.ndarray) -> np.ndarray:
        """(I − c P̃^π)⁻¹ b; c = γ reuses the factors of the evaluation."""
        if c == 0.0:
            return np.array(b, dtype=float)
        if c == self.gamma and self.evaluation.solver is not None:
            return self.evaluation.solver.solve(b)
        return factorize(bellman_matrix(self.mdp, self.P_pi, c)).solve(b)

    def visits(self, discounted: bool) -> np.ndarray:
        """η (discounted) or η̃ (undiscounted) expected visits before termination, shape (S,)."""
        if discounted or self.gamma == 1.0:
            return self.evaluation.eta
        return visit_counts(self.mdp, self.pi, discounted=False)

    def marginals(self) -> np.ndarray:
        """pₜ(s) = Pr(sₜ = s, t < T) for t < H, shape (H, S) ("horizon" only)."""
        p = np.empty((self.H, self.mdp.n_states))
        p[0] = self.mdp.rho0 * self.keep
        for t in range(1, self.H):
            p[t] = np.asarray(self.P_pi.T @ p[t - 1])
        return p

    def truncated_q(self) -> list[np.ndarray]:
        """q⁽ᵏ⁾ for k = 0..H: k-step truncated discounted action values, q⁽⁰⁾ = 0."""
        qs = [np.zeros_like(self.pi)]
        v = np.zeros(self.mdp.n_states)
        for _ in range(self.H):
            q = self.mdp.r + self.gamma * self.P_next(v)
            v = self.keep * np.sum(self.pi * q, axis=1)
            qs.append(q)
        return qs

    def horizon_sum(self, step_weight: float, table_at: Callable[[int], np.ndarray]) -> np.ndarray:
        """Σ_{t<H} step_weightᵗ pₜ(s) π(a|s) table_at(H − t)(s, a), shape (S, A)."""
        p = self.marginals()
        W = np.zeros_like(self.pi)
        for t in range(self.H):
            W += step_weight ** t * p[t][:, None] * self.pi * table_at(self.H - t)
        return W


def exact_model(mdp: MDP, policy: Policy, theta: ArrayLike, protocol: ProtocolOption,
                horizon: int | None) -> ExactModel:
    """The :class:`ExactModel` of π_θ under ``protocol`` ("auto" resolved), after checking the arguments."""
    mdp = validate_mdp(mdp)
    resolved = resolve_protocol(mdp, protocol, horizon)
    pi = policy.probabilities(np.asarray(theta, dtype=float))
    keep = (~mdp.terminal).astype(float)
    return ExactModel(mdp=mdp, pi=pi, keep=keep, protocol=resolved,
                      horizon=None if horizon is None else int(horizon))


def table_score(policy: Policy, theta: ArrayLike, W: np.ndarray) -> np.ndarray:
    """Σ_{s,a} W(s, a) ∇log π(a|s), shape policy.param_shape (an expectation from its table W)."""
    return policy.log_prob_vjp(np.asarray(theta, dtype=float), W)
