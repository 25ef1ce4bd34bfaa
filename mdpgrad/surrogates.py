"""The "policy gradient loss" and its relatives, computed exactly from the model.

A *frozen batch* holds what one round of data collection at θ₀ fixes: the
visit counts η₀, the policy π₀ and the advantages adv₀.  Population
surrogates built from it:

* stop-gradient surrogate   L₀(θ)   = −Σ_{s,a} η₀(s) π₀(a|s) adv₀(s,a) log π_θ(a|s);
  ∇L₀(θ₀) = −∇J(θ₀), and for θ ≠ θ₀ it no longer tracks ∇J(θ);
* live surrogate            L(θ)    = −Σ η_θ(s) π_θ(a|s) adv_θ(s,a) log π_θ(a|s),
  the same expression with nothing frozen: a different function with a
  different gradient, even at θ₀ (its exact gradient is taken by complex steps);
* importance-weighted       L_IS(θ) = J(θ₀) + Σ η₀(s) π_θ(a|s) adv₀(s,a)
  (CPI, Kakade & Langford 2002; TRPO, Schulman et al. 2015, eq. 3);
* PPO clipped               L_clip(θ) = Σ η₀ π₀ min(ρ adv₀, clip(ρ, 1−ε, 1+ε) adv₀),
  ρ = π_θ/π₀ (Schulman et al. 2017, eq. 7).

:func:`reuse_frozen_batch` takes k optimiser steps on one frozen batch and
records, after each, J(θ_k) and the cosine between the surrogate's ascent
direction and the true ∇J(θ_k): 1 at θ₀, then falling, because the frozen η₀
and adv₀ no longer describe π_θ (Kakade & Langford 2002, §6; Schulman et al.
2015, §3).  Identities checked by the tests: ∇L₀(θ₀) = −∇J(θ₀) =
−∇L_IS(θ₀) = −∇L_clip(θ₀); the live gradient differs and matches finite
differences; the surrogate gradients match finite differences away from kinks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from ._display import compact_repr
from ._errors import ValidationError
from ._evaluation import evaluate
from ._model import MDP
from ._policies import Policy, validate_parameterisation, validate_theta
from ._validation import (
    as_real_array,
    check_choice,
    check_integer,
    check_memory,
    check_real,
    first_index,
    format_index,
    format_number,
)
from .gradients._second_order import evaluation_jacobian
from .gradients._theorem import gradient_at, model_and_policy, parameter_point, pointwise

__all__ = [
    "FrozenBatch",
    "ReuseTrace",
    "clip_active",
    "freeze",
    "importance_surrogate",
    "importance_surrogate_gradient",
    "live_surrogate",
    "live_surrogate_gradient",
    "ppo_clip_surrogate",
    "ppo_clip_surrogate_gradient",
    "reuse_frozen_batch",
    "stop_gradient_surrogate",
    "stop_gradient_surrogate_gradient",
]

#: The surrogates :func:`reuse_frozen_batch` can optimise.
Surrogate = Literal["stop_gradient", "importance", "ppo"]

#: Most steps :func:`reuse_frozen_batch` takes on one batch.  Each step is an exact evaluation
#: (a linear solve) and the trace keeps four arrays per step; the point of reusing a batch is
#: visible within tens of steps, and a million would already take hours on small models.
MAX_REUSE_STEPS = 1_000_000


@dataclass(frozen=True, eq=False)
class FrozenBatch:
    """Everything a batch collected at θ₀ fixes, in exact population form.

    Attributes
    ----------
    theta0 : ndarray, shape policy.param_shape
    eta : ndarray, shape (S,)
        η₀, discounted visit counts under π₀.
    pi : ndarray, shape (S, A)
        π₀.
    advantage : ndarray, shape (S, A)
        adv₀ = q₀ − v₀.
    J : float
        J(θ₀).
    """

    theta0: np.ndarray
    eta: np.ndarray
    pi: np.ndarray
    advantage: np.ndarray
    J: float

    __repr__ = compact_repr

    def __str__(self) -> str:
        return (f"FrozenBatch: J(θ₀) = {self.J:.10g}, {self.pi.shape[0]} states x {self.pi.shape[1]} actions "
                f"frozen (η₀, π₀, adv₀)")

    @property
    def weights(self) -> np.ndarray:
        """η₀(s) π₀(a|s) adv₀(s, a), shape (S, A): the frozen weight of log π_θ(a|s)."""
        return self.eta[:, None] * self.pi * self.advantage


def freeze(mdp: MDP, policy: Policy, theta0: ArrayLike) -> FrozenBatch:
    """Evaluate π_θ₀ exactly and freeze η₀, π₀, adv₀ and J(θ₀).

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta0 : array_like, shape policy.param_shape

    Returns
    -------
    FrozenBatch
        Read-only arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> from mdpgrad.surrogates import freeze
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> fb = freeze(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)))
    >>> np.round(fb.weights * 121, 9).tolist()        # η π adv = (20/11)(1/2)(∓1/11)
    [[-10.0, 10.0], [0.0, 0.0]]
    """
    mdp, policy = model_and_policy(mdp, policy)
    theta0 = np.array(parameter_point(theta0, policy, "freeze", name="theta0"))   # a copy, frozen below
    ev = evaluate(mdp, policy.probabilities(theta0), validate=False)
    for a in (theta0, ev.eta, ev.pi, ev.advantage):
        a.flags.writeable = False
    return FrozenBatch(theta0=theta0, eta=ev.eta, pi=ev.pi, advantage=ev.advantage, J=float(ev.J))


def _batch_point(batch: Any, policy: Any, theta: ArrayLike,
                 caller: str) -> tuple[FrozenBatch, Policy, np.ndarray]:
    """The frozen batch, the parameterisation and one point θ, checked against each other."""
    if not isinstance(batch, FrozenBatch):
        raise ValidationError(f"batch is a {type(batch).__name__}; {caller} takes the FrozenBatch of "
                              "mdpgrad.surrogates.freeze: call freeze(mdp, policy, theta0) first",
                              argument="batch", value=type(batch).__name__)
    policy = validate_parameterisation(policy)
    if (policy.n_states, policy.n_actions) != batch.pi.shape:
        raise ValidationError(f"policy is for {policy.n_states} states and {policy.n_actions} actions; the "
                              f"batch was frozen on a table of shape {batch.pi.shape}", argument="policy",
                              value=(policy.n_states, policy.n_actions))
    th = parameter_point(theta, policy, caller)
    if th.shape != batch.theta0.shape:
        raise ValidationError(f"theta has shape {th.shape}; the batch was frozen at a theta0 of shape "
                              f"{batch.theta0.shape}", argument="theta", value=th.shape)
    return batch, policy, th


def _log_pi(policy: Policy, theta: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """log π_θ where the weight is non-zero (0 elsewhere); π_θ = 0 under a non-zero weight is refused."""
    pi = policy.probabilities(theta)
    idx = first_index((weights != 0) & ~(pi > 0))
    if idx is not None:
        raise ValidationError(f"{format_index('pi', idx)} is {format_number(pi[idx])} at theta where the "
                              "frozen weight is not zero: log pi, and the surrogate, are unbounded there",
                              argument="theta", index=idx, value=float(pi[idx]))
    return np.log(np.where(weights != 0, pi, 1.0))


def stop_gradient_surrogate(batch: FrozenBatch, policy: Policy, theta: ArrayLike) -> float:
    """L₀(θ) = −Σ η₀ π₀ adv₀ log π_θ (terms with zero weight are skipped).

    Parameters
    ----------
    batch : FrozenBatch
        Collected at θ₀ (:func:`freeze`).
    policy : Policy
    theta : array_like, shape policy.param_shape

    Returns
    -------
    float
    """
    batch, policy, th = _batch_point(batch, policy, theta, "stop_gradient_surrogate")
    w = batch.weights
    logp = _log_pi(policy, th, w)
    return float(-np.sum(np.where(w != 0, w * logp, 0.0)))


def stop_gradient_surrogate_gradient(batch: FrozenBatch, policy: Policy, theta: ArrayLike) -> np.ndarray:
    """∇L₀(θ) = −Σ η₀ π₀ adv₀ ∇log π_θ, one vector-Jacobian product of log π.

    At θ = θ₀ this is −∇J(θ₀) by the policy gradient theorem.

    Parameters
    ----------
    batch : FrozenBatch
        What the data collection at θ₀ fixed (:func:`freeze`).
    policy : Policy
    theta : array_like
        The parameters θ, shape ``policy.param_shape``.

    Returns
    -------
    ndarray, shape theta.shape

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> from mdpgrad.surrogates import freeze, stop_gradient_surrogate_gradient
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> pol = TabularSoftmax(2, 2)
    >>> fb = freeze(mdp, pol, np.zeros((2, 2)))
    >>> np.round(stop_gradient_surrogate_gradient(fb, pol, np.zeros((2, 2))) * 121, 9).tolist()
    [[10.0, -10.0], [0.0, 0.0]]
    """
    batch, policy, th = _batch_point(batch, policy, theta, "stop_gradient_surrogate_gradient")
    return -policy.log_prob_vjp(th, batch.weights)


def live_surrogate(mdp: MDP, policy: Policy, theta: ArrayLike) -> Any:
    """L(θ) = −Σ η_θ π_θ adv_θ log π_θ with nothing frozen (terms with π_θ(a|s) = 0 are 0, the limit).

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : array_like, shape ``(..., *policy.param_shape)``
        Real and finite; leading axes batch, as a loop of single calls would.

    Returns
    -------
    float or ndarray, shape (...)
    """
    mdp, policy = model_and_policy(mdp, policy)
    th = validate_theta(theta, policy)
    if th.ndim == len(policy.param_shape):
        return live_surrogate_at(mdp, policy, th)
    return pointwise(mdp, th, len(policy.param_shape),
                      lambda t: np.asarray(live_surrogate_at(mdp, policy, t)))


def live_surrogate_at(mdp: MDP, policy: Policy, theta: np.ndarray) -> Any:
    """:func:`live_surrogate` without validation, analytic in θ (complex θ allowed, for complex steps)."""
    theta = np.asarray(theta)
    pi = policy.probabilities(theta)
    ev = evaluate(mdp, pi, validate=False)
    w = ev.eta[..., None] * pi * ev.advantage
    nonzero = pi != 0
    return -np.sum(np.where(nonzero, w * np.log(np.where(nonzero, pi, 1.0)), 0.0), axis=(-2, -1))


def live_surrogate_gradient(mdp: MDP, policy: Policy, theta: ArrayLike) -> np.ndarray:
    """Exact ∇L(θ) of :func:`live_surrogate`, by complex steps through every solve.

    ∇L = −Σ log π ∇(η π adv) − Σ η π adv ∇log π: the second term is ∇L₀, the
    first is what leaving η and adv live adds, and it is not zero.  One complex
    evaluation per parameter (batched for dense MDPs).  Needs π > 0.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : array_like, shape policy.param_shape

    Returns
    -------
    ndarray, shape theta.shape
    """
    mdp, policy = model_and_policy(mdp, policy)
    theta = parameter_point(theta, policy, "live_surrogate_gradient")
    pi = policy.probabilities(theta)
    idx = first_index(~(pi > 0))
    if idx is not None:
        raise ValidationError(f"{format_index('pi', idx)} is {format_number(pi[idx])}; the live surrogate's "
                              "gradient needs log pi, so every probability must be > 0", argument="theta",
                              index=idx, value=float(pi[idx]))
    return evaluation_jacobian(mdp, lambda th: live_surrogate_at(mdp, policy, th), theta)


def importance_surrogate(batch: FrozenBatch, policy: Policy, theta: ArrayLike) -> float:
    """L_IS(θ) = J(θ₀) + Σ η₀(s) π_θ(a|s) adv₀(s,a): equals J and ∇J at θ₀ (first-order model of J).

    Parameters
    ----------
    batch : FrozenBatch
        What the data collection at θ₀ fixed (:func:`freeze`).
    policy : Policy
    theta : array_like
        The parameters θ, shape ``policy.param_shape``.

    Returns
    -------
    float
    """
    batch, policy, th = _batch_point(batch, policy, theta, "importance_surrogate")
    pi = policy.probabilities(th)
    return float(batch.J + np.sum(batch.eta[:, None] * pi * batch.advantage))


def importance_surrogate_gradient(batch: FrozenBatch, policy: Policy, theta: ArrayLike) -> np.ndarray:
    """∇L_IS(θ) = Σ η₀ adv₀ ∇π_θ, one vector-Jacobian product of π.

    Parameters
    ----------
    batch : FrozenBatch
        What the data collection at θ₀ fixed (:func:`freeze`).
    policy : Policy
    theta : array_like
        The parameters θ, shape ``policy.param_shape``.

    Returns
    -------
    ndarray, shape theta.shape
    """
    batch, policy, th = _batch_point(batch, policy, theta, "importance_surrogate_gradient")
    return policy.prob_vjp(th, batch.eta[:, None] * batch.advantage)


def _check_clip(clip: float) -> float:
    return check_real(clip, "clip", min_value=0.0, max_value=1.0, min_open=True, max_open=True)


def _ratio(batch: FrozenBatch, pi: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(batch.pi > 0, pi / np.where(batch.pi > 0, batch.pi, 1.0), 1.0)


def ppo_clip_surrogate(batch: FrozenBatch, policy: Policy, theta: ArrayLike, clip: float = 0.2) -> float:
    """L_clip(θ) = Σ η₀ π₀ min(ρ adv₀, clip(ρ, 1 − ε, 1 + ε) adv₀), ρ = π_θ/π₀.

    Reference: Schulman et al. 2017, eq. 7, with the expectation taken exactly.

    Parameters
    ----------
    batch : FrozenBatch
    policy : Policy
    theta : array_like, shape policy.param_shape
    clip : float
        ε, in (0, 1).

    Returns
    -------
    float
    """
    batch, policy, th = _batch_point(batch, policy, theta, "ppo_clip_surrogate")
    eps = _check_clip(clip)
    rho = _ratio(batch, policy.probabilities(th))
    adv = batch.advantage
    obj = np.minimum(rho * adv, np.clip(rho, 1 - eps, 1 + eps) * adv)
    return float(np.sum(batch.eta[:, None] * batch.pi * obj))


def clip_active(ratio: ArrayLike, adv: ArrayLike, clip: float) -> np.ndarray:
    """Where min(ρ·adv, clip(ρ, 1−ε, 1+ε)·adv) still depends on θ (its gradient is then adv·∇ρ).

    Active while the ratio can move in the improving direction: ρ < 1 + ε where
    adv > 0, ρ > 1 − ε where adv < 0.  On the boundary itself the one-sided
    derivative into the clipped region is 0, so the boundary counts as clipped;
    the sampled PPO estimator and the population surrogate share this rule.

    Parameters
    ----------
    ratio, adv : array_like, same shape
        ρ = π_θ/π₀ and the advantages; real and finite.
    clip : float
        ε > 0.

    Returns
    -------
    ndarray of bool, shape of ratio
    """
    ratio = as_real_array(ratio, "ratio")
    adv = as_real_array(adv, "adv", shape=ratio.shape)
    clip = check_real(clip, "clip", min_value=0.0, min_open=True)
    return clip_active_at(ratio, adv, clip)


def clip_active_at(ratio: np.ndarray, adv: np.ndarray, clip: float) -> np.ndarray:
    """:func:`clip_active` without validation (arrays broadcast), for estimators that checked their inputs."""
    return ((adv > 0) & (ratio < 1 + clip)) | ((adv < 0) & (ratio > 1 - clip))


def ppo_clip_surrogate_gradient(batch: FrozenBatch, policy: Policy, theta: ArrayLike,
                                clip: float = 0.2) -> np.ndarray:
    """Exact ∇L_clip(θ) = Σ η₀ adv₀ 1[unclipped] ∇π_θ.

    A pair contributes while its ratio can still move in the improving
    direction: ρ < 1 + ε where adv₀ > 0, ρ > 1 − ε where adv₀ < 0.  Outside
    (and on the boundary itself, where the one-sided derivative into the
    clipped region is 0) the term is constant in θ.

    Parameters
    ----------
    batch : FrozenBatch
        What the data collection at θ₀ fixed (:func:`freeze`).
    policy : Policy
    theta : array_like
        The parameters θ, shape ``policy.param_shape``.
    clip : float, optional
        The clipping range ε > 0.

    Returns
    -------
    ndarray, shape theta.shape

    Examples
    --------
    One state, γ = 0: adv₀ = (−1, 1) at π₀ = (½, ½).  Once ρ(1) > 1.2 and
    ρ(0) < 0.8 both terms are clipped and the gradient vanishes.

    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> from mdpgrad.surrogates import freeze, ppo_clip_surrogate_gradient
    >>> mdp = MDP(np.ones((1, 2, 1)), [[0.0, 2.0]], gamma=0.0)
    >>> pol = TabularSoftmax(1, 2)
    >>> fb = freeze(mdp, pol, np.zeros((1, 2)))
    >>> ppo_clip_surrogate_gradient(fb, pol, np.array([[0.0, 1.0]])).tolist()
    [[0.0, 0.0]]
    """
    batch, policy, theta = _batch_point(batch, policy, theta, "ppo_clip_surrogate_gradient")
    eps = _check_clip(clip)
    rho = _ratio(batch, policy.probabilities(theta))
    adv = batch.advantage
    active = clip_active_at(rho, adv, eps)
    return policy.prob_vjp(theta, np.where(active, batch.eta[:, None] * adv, 0.0))


@dataclass(frozen=True, eq=False)
class ReuseTrace:
    """k optimiser steps on one frozen batch.

    Attributes
    ----------
    surrogate : {"stop_gradient", "importance", "ppo"}
    thetas : ndarray, shape ``(k+1, *param_shape)``
        θ₀ … θ_k.
    J : ndarray, shape (k+1,)
        J(θ_i), exact.
    surrogate_directions : ndarray, shape ``(k+1, *param_shape)``
        The ascent direction each step used (−∇L₀, ∇L_IS or ∇L_clip at θ_i).
    true_gradients : ndarray, shape ``(k+1, *param_shape)``
        ∇J(θ_i).
    cosine : ndarray, shape (k+1,)
        cos∠(surrogate direction, ∇J(θ_i)); 1 at θ₀ and NaN where a norm is 0.
    """

    surrogate: Surrogate
    thetas: np.ndarray
    J: np.ndarray
    surrogate_directions: np.ndarray
    true_gradients: np.ndarray
    cosine: np.ndarray

    __repr__ = compact_repr

    def __str__(self) -> str:
        k = len(self.J) - 1
        with np.errstate(invalid="ignore"):
            worst = float(np.nanmin(self.cosine)) if np.any(np.isfinite(self.cosine)) else float("nan")
        return (f"ReuseTrace: {k} {self.surrogate} step(s) on one batch: J {float(self.J[0]):.6g} → "
                f"{float(self.J[-1]):.6g}; cosine with ∇J {float(self.cosine[-1]):.3g} at the last step "
                f"(lowest {worst:.3g})")


def reuse_frozen_batch(mdp: MDP, policy: Policy, theta0: ArrayLike, *, n_steps: int, step_size: float,
                       surrogate: Surrogate = "stop_gradient", clip: float = 0.2) -> ReuseTrace:
    """Gradient ascent for ``n_steps`` steps on one frozen batch, with the exact truth alongside.

    θ_{i+1} = θ_i + α d_i, where d_i is the surrogate's ascent direction at θ_i
    computed from the batch frozen at θ₀; J(θ_i) and ∇J(θ_i) are exact.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta0 : ndarray, shape policy.param_shape
    n_steps : int
        0 ≤ k ≤ ``MAX_REUSE_STEPS``; the trace's memory, about 8(k + 1)(3n + 2) bytes
        for n parameters, is also checked against the memory limit before the first step.
    step_size : float
        α > 0; a step that leaves the floats (θ overflows) is refused.
    surrogate : {"stop_gradient", "importance", "ppo"}
    clip : float
        PPO's ε.

    Returns
    -------
    ReuseTrace

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> from mdpgrad.surrogates import reuse_frozen_batch
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> tr = reuse_frozen_batch(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)), n_steps=3, step_size=5.0)
    >>> np.round(tr.cosine, 6).tolist()      # one state moves: the direction stays aligned
    [1.0, 1.0, 1.0, 1.0]
    """
    surrogate = check_choice(surrogate, "surrogate", ("stop_gradient", "importance", "ppo"))
    n_steps = check_integer(n_steps, "n_steps", min_value=0, max_value=MAX_REUSE_STEPS)
    step_size = check_real(step_size, "step_size", min_value=0.0, min_open=True)
    if surrogate == "ppo":
        _check_clip(clip)
    batch = freeze(mdp, policy, theta0)
    n = batch.theta0.size
    check_memory(8.0 * (n_steps + 1) * (3 * n + 2), f"the trace of {n_steps} steps with {n} parameters",
                 "n_steps")

    def direction(th: np.ndarray) -> np.ndarray:
        if surrogate == "stop_gradient":
            return -stop_gradient_surrogate_gradient(batch, policy, th)
        if surrogate == "importance":
            return importance_surrogate_gradient(batch, policy, th)
        return ppo_clip_surrogate_gradient(batch, policy, th, clip)

    thetas, Js, dirs, grads = [], [], [], []
    th = batch.theta0.copy()
    for i in range(n_steps + 1):
        ev = evaluate(mdp, policy.probabilities(th), validate=False)
        thetas.append(th.copy())
        Js.append(float(ev.J))
        grads.append(gradient_at(mdp, policy, th, ev))
        dirs.append(direction(th))
        if i < n_steps:
            with np.errstate(over="ignore", invalid="ignore"):
                th = th + step_size * dirs[-1]
            if not np.all(np.isfinite(th)):
                raise ValidationError(f"step {i + 1} with step_size={format_number(step_size)} took theta "
                                      "out of the floats; expected a smaller step size", argument="step_size",
                                      value=step_size)
    D = np.stack(dirs)
    G = np.stack(grads)
    k = len(thetas)
    num = np.einsum("ki,ki->k", D.reshape(k, -1), G.reshape(k, -1))
    den = np.linalg.norm(D.reshape(k, -1), axis=1) * np.linalg.norm(G.reshape(k, -1), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return ReuseTrace(surrogate=surrogate, thetas=np.stack(thetas), J=np.array(Js), surrogate_directions=D,
                      true_gradients=G, cosine=cosine)
