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

The average-reward criterion (``criterion="average"``; Sutton & Barto 2018,
§13.6): ρ(θ) = d_π · r^π and, for a unichain π_θ,
∇ρ = Σ_s d_π(s) Σ_a ∇π(a|s) q̃(s, a) with q̃ the differential action values
(:func:`mdpgrad.average_reward`); the same vector-Jacobian product with the
weight d_π·q̃ (or d_π·(q̃ − h) for a normalised parameterisation).

Identities checked by the tests: all of the above agree on dense, sparse,
episodic (γ = 1), γ = 0 and γ near 1 MDPs for all three parameterisations;
without discount (γ = 1) the update without γᵗ is ∇J.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from .._average import AverageReward, average_reward
from .._chains import stationary_distribution
from .._derivatives import BATCH_ENTRIES, batch_size, complex_step_blocks
from .._errors import ValidationError
from .._evaluation import Evaluation, advantage_floor, evaluate, visit_counts
from .._linalg import Accuracy, check_accuracy, rounding_unit, validate_accuracy
from .._model import MDP, validate_mdp
from .._policies import (
    Direct,
    LogLinear,
    Policy,
    TabularSoftmax,
    check_unavailable,
    policy_on_model,
    validate_parameterisation,
    validate_theta,
)
from .._validation import as_real_array, check_bool, check_choice

__all__ = ["GRADIENT_ADVICE", "Criterion", "average_gradient_at", "direct_gradient",
           "expected_update_without_discount", "gradient_at",
           "gradient_error", "loglinear_gradient", "model_and_policy", "objective", "objective_at",
           "parameter_point", "pointwise", "policy_gradient", "recursion_gradient", "softmax_gradient"]


#: The objective: the discounted (or episodic) J = ρ₀·v, or the average reward ρ = d_π·r^π.
Criterion = Literal["discounted", "average"]


def parameter_point(theta: ArrayLike, policy: Policy, caller: str, name: str = "theta") -> np.ndarray:
    """θ as one real, finite parameter point of shape ``policy.param_shape`` (no batch axes).

    Raises
    ------
    ValidationError
        Naming ``name``: a non-real or non-finite entry, or another shape (the
        message says that ``caller`` takes one point, so a batch is refused).
    """
    th = as_real_array(theta, name)
    if th.shape != tuple(policy.param_shape):
        raise ValidationError(f"{name} has shape {th.shape}; {caller} takes one point of shape "
                              f"{tuple(policy.param_shape)}", argument=name, value=th.shape)
    return th


def model_and_policy(mdp: Any, policy: Any) -> tuple[MDP, Policy]:
    """The model and the parameterisation, validated, and their sizes and action sets checked against each
    other (:func:`mdpgrad._policies.policy_on_model`: a :class:`Direct` without a mask takes the model's)."""
    mdp = validate_mdp(mdp)
    policy = validate_parameterisation(policy)
    if (policy.n_states, policy.n_actions) != (mdp.n_states, mdp.n_actions):
        raise ValidationError(f"policy is for {policy.n_states} states and {policy.n_actions} actions; the "
                              f"mdp has {mdp.n_states} and {mdp.n_actions}", argument="policy",
                              value=(policy.n_states, policy.n_actions))
    return mdp, policy_on_model(policy, mdp.actions)


def pointwise(mdp: MDP, theta: np.ndarray, point_ndim: int,
               f: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """f over θ's leading batch axes: one vectorised call on dense MDPs, a loop on sparse ones."""
    batch = theta.shape[:theta.ndim - point_ndim]
    if not batch or not mdp.is_sparse:
        return f(theta)
    point_shape = tuple(theta.shape[theta.ndim - point_ndim:])
    flat = theta.reshape((-1, *point_shape))
    if len(flat) == 0:      # an empty batch: the shape of one result, repeated zero times
        one = np.asarray(f(np.zeros(point_shape)))
        return np.zeros(batch + one.shape)
    out = np.stack([np.asarray(f(th)) for th in flat])
    return out.reshape(batch + out.shape[1:])


def objective_at(mdp: MDP, policy: Policy, theta: np.ndarray, accuracy: Accuracy = "refuse") -> Any:
    """J(θ) without validation, complex θ allowed (the complex-step machinery calls this)."""
    return evaluate(mdp, policy.probabilities(np.asarray(theta)), validate=False, accuracy=accuracy).J


GRADIENT_ADVICE = ("centre the rewards (subtract a constant: the gradient does not change), avoid γ so "
                   "close to 1 or termination probabilities so close to 0, or use exact rationals "
                   "(mdpgrad.symbolic)")


def _normalised(policy: Policy) -> bool:
    """π_θ sums to 1 in every row for every θ by construction (Σ_a ∇π(a|s) = 0)."""
    return isinstance(policy, (TabularSoftmax, LogLinear))


def gradient_at(mdp: MDP, policy: Policy, theta: np.ndarray, evaluation: Evaluation | None = None,
                accuracy: Accuracy = "ignore") -> np.ndarray:
    """∇J(θ) by the theorem without validation, complex θ allowed (for complex steps of ∇J).

    For a parameterisation normalised by construction (softmax, log-linear)
    Σ_a ∇π(a|s) = 0, so the weight η·q may be replaced by η·adv, which is free
    of the large common part of q and v (the cancellation happens
    analytically instead of in the vector-Jacobian product); otherwise w = η·q.
    """
    theta = np.asarray(theta)
    theta = theta.astype(np.result_type(theta.dtype, np.float64), copy=False)
    ev = evaluation if evaluation is not None else evaluate(
        mdp, policy.probabilities(theta), validate=False, accuracy=accuracy)
    w = ev.eta[..., None] * (ev.advantage if _normalised(policy) else ev.q)
    return policy.prob_vjp(theta, w)


def _abs_vjp(policy: Policy, theta: np.ndarray, pi: np.ndarray, E: np.ndarray) -> np.ndarray:
    """A bound on |Σ_x ∂π(x)/∂θ · δw(x)| for |δw| ≤ E entrywise, in θ's shape.

    Tabular softmax: |π_b(δw_b − Σ_a π_a δw_a)| ≤ 2π_b(1 − π_b)·max_a E(s, a);
    log-linear: Σ_{s,a} π |φ − E_π φ| (E + Σ_b π E); direct: E; another
    parameterisation: |vjp(E)|, an estimate rather than a bound.
    """
    if isinstance(policy, TabularSoftmax):
        return 2.0 * pi * (1.0 - pi) * np.max(E, axis=-1, keepdims=True)
    if isinstance(policy, LogLinear):
        phi = policy.phi
        centred = np.abs(phi - np.einsum("...sb,sbk->...sk", pi, phi)[..., None, :])
        return np.einsum("...sa,...sak->...k", pi * (E + np.sum(pi * E, axis=-1, keepdims=True)), centred)
    if isinstance(policy, Direct):
        return np.broadcast_to(E, np.shape(theta)).copy()
    return np.abs(policy.prob_vjp(theta, E))


def gradient_error(mdp: MDP, policy: Policy, theta: np.ndarray, evaluation: Evaluation) -> tuple[Any, Any]:
    """(error, scale): an entrywise bound on |∇J computed − ∇J exact| in θ's shape, and per point of a
    batch the scale it is judged against.

    First order in the errors of the evaluation (:class:`mdpgrad.ErrorEstimate`):
    the weight w = η·adv (or η·q) has entrywise error at most
    E = η·δadv + δη·|adv| + (rounding of the product), which the policy's
    Jacobian maps as in :func:`_abs_vjp`; the vector-Jacobian product's own
    rounding adds ε·(S·A + 2) times the same map of |w|.  The scale is
    max|∇J|, or the gradient the spread of the rewards alone can give when
    larger (so that an exactly zero gradient, as with one action, is not
    refused for rounding): the same map of max_s η(s)·(max r − min r), infinite when every
    advantage vanishes (:func:`mdpgrad._evaluation.advantage_floor`).
    """
    err = evaluation.error
    if err is None:
        raise ValidationError("the evaluation has no error estimate (complex tables carry none)",
                              argument="evaluation")
    pi = policy.probabilities(np.asarray(theta))
    use_adv = _normalised(policy)
    x = evaluation.advantage if use_adv else evaluation.q
    dx = np.asarray(err.advantage if use_adv else err.q)[..., None, None]
    deta = np.asarray(err.eta)[..., None, None]
    eta = np.abs(evaluation.eta)[..., None]
    eps = rounding_unit(mdp.n_states * mdp.n_actions)
    E = eta * dx + deta * np.abs(x) + eps * eta * np.abs(x)
    E = np.where(mdp.actions, E, 0.0)     # π = 0 on unavailable actions: their weights reach no θ
    error = _abs_vjp(policy, theta, pi, E)
    spread = advantage_floor(mdp)
    g = policy.prob_vjp(np.asarray(theta), np.asarray(evaluation.eta)[..., None] * x)
    nd = np.ndim(theta) - (np.ndim(pi) - 2)
    axes = tuple(range(np.ndim(g) - nd, np.ndim(g)))
    gmax = np.max(np.abs(g), axis=axes, initial=0.0)
    if spread == np.inf:             # every advantage vanishes (or only termination sets them): not judged
        return error, np.full(np.shape(gmax), np.inf)
    # the visits of the most visited state: the error bound δη is one number for every state, so an
    # unvisited state (η = 0) has a non-zero error but its own η would give it no floor (with action
    # sets every visited state may have a single action, and ∇J = 0 exactly)
    top = np.max(eta, axis=-2, keepdims=True)
    reach = _abs_vjp(policy, theta, pi, np.broadcast_to(top * spread, np.shape(pi)))
    scale = np.maximum(gmax, np.max(reach, axis=axes, initial=0.0))
    return error, scale


def objective(mdp: MDP, policy: Policy, theta: ArrayLike, *, accuracy: Accuracy = "refuse",
              criterion: Criterion = "discounted") -> Any:
    """J(θ) = ρ₀ · v^{π_θ}, or the gain ρ(θ); a float, or an array over θ's leading batch axes.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : array_like, shape ``(..., *policy.param_shape)``
        Real and finite (nan and ±inf are refused, also where the softmax has a
        limit).  Leading axes batch: the result is what a loop of single calls gives.
    accuracy : {"refuse", "warn", "ignore"}
        As for :func:`mdpgrad.evaluate` (J and the values it averages judged by
        their error estimates).
    criterion : {"discounted", "average"}
        "discounted" (default): J = ρ₀ · v with the model's γ (episodic when
        γ = 1).  "average": the gain ρ = d_π · r^π of the unichain policy π_θ
        (:func:`mdpgrad.average_reward`; γ and ρ₀ are not used).

    Returns
    -------
    float or ndarray, shape (...)

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP, objective, TabularSoftmax
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> round(objective(mdp, TabularSoftmax(2, 2), np.zeros((2, 2))), 12)  # 0.5 / (1 − 0.45)
    0.909090909091
    """
    mdp, policy = model_and_policy(mdp, policy)
    theta = validate_theta(theta, policy)
    nd = len(policy.param_shape)
    accuracy = validate_accuracy(accuracy)
    if _criterion(criterion) == "average":
        return _each_point(theta, nd, lambda th: np.asarray(
            average_reward(mdp, policy.probabilities(th), accuracy=accuracy).gain))
    if theta.ndim == nd:
        return objective_at(mdp, policy, theta, accuracy)
    return pointwise(mdp, theta, nd, lambda th: np.asarray(objective_at(mdp, policy, th, accuracy)))


def policy_gradient(mdp: MDP, policy: Policy, theta: ArrayLike, *, evaluation: Evaluation | None = None,
                    accuracy: Accuracy = "refuse", error: bool = False,
                    criterion: Criterion = "discounted") -> Any:
    r"""Exact ∇_θ J (or ∇_θ ρ) by the policy gradient theorem, in θ's shape.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : ndarray, shape ``(..., *policy.param_shape)``
        Real and finite.  Leading axes form a batch (one vectorised call on
        dense MDPs, a loop on sparse ones); the result is what the loop gives.
    evaluation : Evaluation, optional
        A precomputed ``evaluate(mdp, policy.probabilities(theta))`` to reuse
        (its table must have the shape of π_θ).
    accuracy : {"refuse", "warn", "ignore"}
        What to do when the estimated error of ∇J (or of the evaluation under it)
        leaves fewer than ``ACCURACY_MIN_DIGITS`` significant
        digits relative to max|∇J|: raise :class:`~mdpgrad.InaccurateResultError`
        (default), warn, or return it silently.
    error : bool
        Also return the entrywise error estimate (``gradient_error``).
    criterion : {"discounted", "average"}
        "discounted" (default): ∇J = Σ_s η(s) Σ_a ∇π(a|s) q(s, a).  "average":
        the continuing-case theorem ∇ρ = Σ_s d_π(s) Σ_a ∇π(a|s) q̃(s, a)
        (Sutton & Barto 2018, §13.6) for a unichain π_θ, with d_π and the
        differential q̃ of :func:`mdpgrad.average_reward` (γ and ρ₀ are not
        used; a multichain π_θ raises :class:`~mdpgrad.MultichainPolicyError`);
        ``evaluation`` does not apply, and the error estimate propagates
        that of :class:`~mdpgrad.AverageReward`.

    Returns
    -------
    ndarray, same shape as theta
        Or (gradient, error) with ``error=True``.

    Notes
    -----
    The policy gradient theorem (Sutton et al. 2000; Sutton & Barto 2018, §13.2), with the
    discounted visits η(s) = Σ_t γᵗ Pr(s_t = s) from ρ₀:

    .. math::

        \nabla_\theta J(\theta) = \sum_{s, a} \eta(s)\, \pi_\theta(a \mid s)\,
        \operatorname{adv}(s, a)\, \nabla_\theta \log \pi_\theta(a \mid s),

    evaluated as one vector-Jacobian product of π_θ with the weights η(s)·adv(s, a), since
    π ∇log π = ∇π; no Jacobian of the policy is formed.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP, policy_gradient, TabularSoftmax
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> g = policy_gradient(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)))
    >>> np.round(g, 6).tolist()     # η(0)·π·adv = (1/0.55)·(1/2)·(∓1/11)
    [[-0.082645, 0.082645], [0.0, 0.0]]
    """
    mdp, policy = model_and_policy(mdp, policy)
    theta = validate_theta(theta, policy)
    nd = len(policy.param_shape)
    if _criterion(criterion) == "average":
        if evaluation is not None:
            raise ValidationError("evaluation is a discounted Evaluation; criterion='average' computes the "
                                  "stationary distribution and bias itself (pass evaluation=None)",
                                  argument="evaluation", value=type(evaluation).__name__)
        acc = validate_accuracy(accuracy)
        if not check_bool(error, "error"):
            return _each_point(theta, nd, lambda th: average_gradient_at(mdp, policy, th, acc))
        both = _each_point(theta, nd, lambda th: np.stack(average_gradient_at(mdp, policy, th, acc, True)))
        lead = theta.ndim - nd                     # (batch..., 2, *param_shape): gradient, error
        return np.take(both, 0, axis=lead), np.take(both, 1, axis=lead)
    if evaluation is not None:
        if not isinstance(evaluation, Evaluation):
            raise ValidationError(f"evaluation is a {type(evaluation).__name__}; expected an "
                                  "mdpgrad.Evaluation of policy.probabilities(theta)", argument="evaluation",
                                  value=type(evaluation).__name__)
        expected = theta.shape[:theta.ndim - nd] + (mdp.n_states, mdp.n_actions)
        if np.shape(evaluation.q) != expected:
            raise ValidationError(f"evaluation has action values of shape {np.shape(evaluation.q)}; expected "
                                  f"{expected} for this theta", argument="evaluation",
                                  value=np.shape(evaluation.q))
        return _checked(mdp, policy, theta, evaluation, validate_accuracy(accuracy), error)
    policy_ = validate_accuracy(accuracy)
    if not error and (not mdp.is_sparse or theta.ndim == nd):
        return _checked(mdp, policy, theta, None, policy_, False)
    if not mdp.is_sparse or theta.ndim == nd:
        return _checked(mdp, policy, theta, None, policy_, True)
    grads = pointwise(mdp, theta, nd, lambda th: np.asarray(_checked(mdp, policy, th, None, policy_, False)))
    if not error:
        return grads
    errs = pointwise(mdp, theta, nd,
                     lambda th: np.asarray(_checked(mdp, policy, th, None, "ignore", True)[1]))
    return grads, errs


def _criterion(criterion: object) -> Criterion:
    return check_choice(criterion, "criterion", ("discounted", "average"))


def _each_point(theta: np.ndarray, point_ndim: int, f: Callable[[np.ndarray], np.ndarray]) -> Any:
    """f at each point of θ's leading batch axes (a loop: the chains differ in their classes)."""
    batch = theta.shape[:theta.ndim - point_ndim]
    if not batch:
        out = f(theta)
        return float(out) if np.ndim(out) == 0 else out
    flat = theta.reshape((-1, *theta.shape[theta.ndim - point_ndim:]))
    if len(flat) == 0:
        one = np.asarray(f(np.zeros(theta.shape[theta.ndim - point_ndim:])))
        return np.zeros(batch + one.shape)
    out = np.stack([np.asarray(f(th)) for th in flat])
    return out.reshape(batch + out.shape[1:])


def average_gradient_at(mdp: MDP, policy: Policy, theta: np.ndarray, accuracy: Accuracy = "refuse",
                        with_error: bool = False, average: AverageReward | None = None) -> Any:
    """∇ρ(θ) = Σ_s d_π(s) Σ_a ∇π(a|s) q̃(s, a) at one point θ, without validation of θ.

    The weight is d_π·(q̃ − h) for a parameterisation normalised by construction
    (Σ_a ∇π(a|s) = 0), d_π·q̃ otherwise.  With ``with_error``, also an entrywise
    bound: E = d·δq̃ + δd·|q̃| + rounding, mapped by the policy's Jacobian as
    in :func:`gradient_error`.
    """
    theta = np.asarray(theta, dtype=float)
    pi = policy.probabilities(theta)
    ar = average if average is not None else average_reward(mdp, pi, accuracy=accuracy)
    x = ar.advantage if _normalised(policy) else ar.q
    d = ar.stationary[:, None]
    g = policy.prob_vjp(theta, d * x)
    if not with_error:
        return g
    err = ar.error
    dx = err.q + (err.bias if _normalised(policy) else 0.0)
    E = d * dx + err.stationary * np.abs(x) + rounding_unit(mdp.n_states * mdp.n_actions) * d * np.abs(x)
    return g, _abs_vjp(policy, theta, pi, E)


def _checked(mdp: MDP, policy: Policy, theta: np.ndarray, evaluation: Evaluation | None,
             accuracy: Accuracy, with_error: bool) -> Any:
    """∇J at θ (one point or a dense batch), refused or warned about per ``accuracy``."""
    ev = evaluation if evaluation is not None else evaluate(
        mdp, policy.probabilities(theta), validate=False, accuracy=accuracy)
    g = gradient_at(mdp, policy, theta, ev)
    if ev.error is None or (accuracy == "ignore" and not with_error):
        return (g, None) if with_error else g
    err, scale = gradient_error(mdp, policy, theta, ev)
    nd = np.ndim(theta) - (np.ndim(ev.pi) - 2)
    worst = np.max(err, axis=tuple(range(np.ndim(err) - nd, np.ndim(err))), initial=0.0)
    check_accuracy("the policy gradient", worst, scale, accuracy, GRADIENT_ADVICE)
    return (g, err) if with_error else g


def recursion_gradient(mdp: MDP, policy: Policy, theta: ArrayLike) -> np.ndarray:
    """∇J by differentiating the Bellman equation (the recursion form), in θ's shape.

    Differentiating v = r^π + γP̃^π v in θ_j gives (I − γP̃^π) ∂_j v = Σ_a ∂_j π(a|·) q(·, a),
    so, with one column per parameter::

        ∇v = (I − γP̃^π)⁻¹ Σ_a ∇π(a|·) q(·, a),      ∇J = ρ₀ᵀ ∇v.

    This route never forms η: it solves with I − γP̃^π on the right instead of
    its transpose on the left, and takes each column ∂_j π by a complex step
    ∂_j π = Im π(θ + ih e_j) / h (h = ``mdpgrad._derivatives.COMPLEX_STEP``).  It costs one solve
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
    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> from mdpgrad.gradients import recursion_gradient
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> np.round(recursion_gradient(mdp, TabularSoftmax(2, 2), np.zeros((2, 2))), 6).tolist()
    [[-0.082645, 0.082645], [0.0, 0.0]]
    """
    mdp, policy = model_and_policy(mdp, policy)
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
        Real, finite logits (±inf is refused: give the limit policy to
        :func:`direct_gradient` instead); leading axes batch, as a loop would.

    Returns
    -------
    ndarray, shape (..., S, A)

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.gradients import softmax_gradient
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> np.round(softmax_gradient(mdp, np.zeros((2, 2))), 6).tolist()
    [[-0.082645, 0.082645], [0.0, 0.0]]
    """
    mdp = validate_mdp(mdp)
    theta = _table_batch(theta, mdp, "theta")
    return pointwise(mdp, theta, 2, lambda th: _softmax_gradient(mdp, th))


def _table_batch(x: ArrayLike, mdp: MDP, name: str) -> np.ndarray:
    """A real, finite array of shape (..., S, A)."""
    arr = as_real_array(x, name)
    S, A = mdp.n_states, mdp.n_actions
    if arr.ndim < 2 or arr.shape[-2:] != (S, A):
        raise ValidationError(f"{name} has shape {arr.shape}; expected (..., {S}, {A})", argument=name,
                              value=arr.shape)
    return arr


def _masked_softmax(logits: np.ndarray, avail: np.ndarray) -> np.ndarray:
    """exp over the available actions ``avail`` (S, A), normalised per state; 0 elsewhere."""
    top = np.where(avail, logits, -np.inf).max(axis=-1, keepdims=True)
    z = np.where(avail, np.exp(np.where(avail, logits, top) - top), 0.0)
    return z / z.sum(axis=-1, keepdims=True)


def _softmax_gradient(mdp: MDP, theta: np.ndarray) -> np.ndarray:
    pi = _masked_softmax(theta, mdp.actions)
    ev = evaluate(mdp, pi, validate=False)
    return ev.eta[..., None] * pi * ev.advantage


def loglinear_gradient(mdp: MDP, phi: ArrayLike, theta: ArrayLike) -> np.ndarray:
    """Closed form for π ∝ exp(φ·θ): ∇J = Σ_{s,a} η(s) π(a|s) adv(s,a) (φ(s,a) − Σ_b π(b|s) φ(s,b)).

    Reference: Sutton & Barto 2018, §13.2 and Exercise 13.3 (the eligibility vector).

    Parameters
    ----------
    mdp : MDP
    phi : ndarray, shape (S, A, k)
        Real and finite.
    theta : ndarray, shape (..., k)
        Real and finite (±inf is refused); the last axis must have length k
        (nothing is broadcast); leading axes batch, as a loop would.

    Returns
    -------
    ndarray, shape (..., k)
    """
    mdp = validate_mdp(mdp)
    phi = as_real_array(phi, "phi")
    S, A = mdp.n_states, mdp.n_actions
    if phi.ndim != 3 or phi.shape[:2] != (S, A) or phi.shape[2] == 0:
        raise ValidationError(f"phi has shape {phi.shape}; expected ({S}, {A}, k) with k >= 1",
                              argument="phi", value=phi.shape)
    k = phi.shape[2]
    theta = as_real_array(theta, "theta")
    if theta.ndim < 1 or theta.shape[-1] != k:
        raise ValidationError(f"theta has shape {theta.shape}; expected (..., {k}) to match phi's {k} "
                              "features", argument="theta", value=theta.shape)
    return pointwise(mdp, theta, 1, lambda th: _loglinear_gradient(mdp, phi, th))


def _loglinear_gradient(mdp: MDP, phi: np.ndarray, theta: np.ndarray) -> np.ndarray:
    pi = _masked_softmax(np.einsum("sak,...k->...sa", phi, theta), mdp.actions)
    ev = evaluate(mdp, pi, validate=False)
    score = phi - np.einsum("...sb,sbk->...sk", pi, phi)[..., None, :]   # (..., S, A, k)
    return np.einsum("...s,...sa,...sa,...sak->...k", ev.eta, pi, ev.advantage, score)


def direct_gradient(mdp: MDP, pi: ArrayLike) -> np.ndarray:
    """Closed form for the direct parameterisation: ∂J/∂π(a|s) = η(s) q(s,a).

    Derivatives are in the free entries of the table (off-simplex directions
    included); on a model with action sets the entries of unavailable actions
    must be 0 and are not free (their derivatives are 0).  Reference: Agarwal
    et al. 2021, §4 (the direct parameterisation).

    Parameters
    ----------
    mdp : MDP
    pi : ndarray, shape (..., S, A)
        Real, finite table(s), on or off the simplex; leading axes batch, as a loop would.

    Returns
    -------
    ndarray, shape (..., S, A)

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.gradients import direct_gradient
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> np.round(direct_gradient(mdp, np.full((2, 2), 0.5)), 6).tolist()   # η(0) = 1/0.55
    [[1.487603, 1.818182], [0.0, 0.0]]
    """
    mdp = validate_mdp(mdp)
    pi = _table_batch(pi, mdp, "pi")
    check_unavailable(pi, mdp.actions, "pi")

    def one(p: np.ndarray) -> np.ndarray:
        ev = evaluate(mdp, p, validate=False)
        return ev.eta[..., None] * ev.q * mdp.actions
    return pointwise(mdp, pi, 2, one)


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
    distribution of P^π.

    When it is a gradient (Nota & Thomas 2020, "Is the policy gradient a
    gradient?", §4): on an episodic MDP with γ = 1, η̃ = η and the update *is*
    ∇J, a gradient at every θ on every such model.
    With γ < 1, or on a continuing MDP (stationary weighting), it is not the
    gradient of any function in general: on ``get_example("two-state")`` at
    θ = 0 its Jacobian is asymmetric (∂u[0,1]/∂θ[1,1] − ∂u[1,1]/∂θ[0,1] ≈
    1.6e-3) and its circulation around a loop of radius 0.01 in that plane is
    4.9e-7 against an error bound of 5e-14, which certifies it
    (:func:`mdpgrad.is_gradient_field`).  "In general" is exact: particular
    models can still make it symmetric at particular θ
    (``get_example("two-state-reversible")`` at θ = 0).

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : ndarray, shape ``(..., *policy.param_shape)``
        Real and finite; leading axes batch, as a loop would.
    visits : {"auto", "undiscounted", "stationary"}
        The state weights: "undiscounted" visits η̃ for episodic MDPs (needs
        termination under π), the "stationary" distribution d_π for continuing
        ones; "auto" picks "undiscounted" when the MDP has terminal states.

    Returns
    -------
    ndarray, same shape as theta

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import expected_update_without_discount, get_example, is_gradient_field, TabularSoftmax
    >>> mdp, pol = get_example("two-state"), TabularSoftmax(2, 2)
    >>> is_gradient_field(lambda th: expected_update_without_discount(mdp, pol, th), np.zeros((2, 2))).verdict
    'NOT a gradient'
    """
    mdp, policy = model_and_policy(mdp, policy)
    theta = validate_theta(theta, policy)
    visits = check_choice(visits, "visits", ("auto", "undiscounted", "stationary"))
    if visits == "auto":
        visits = "undiscounted" if mdp.terminal.any() else "stationary"
    return pointwise(mdp, theta, len(policy.param_shape),
                      lambda th: _update_without_discount(mdp, policy, th, visits))


def _update_without_discount(mdp: MDP, policy: Policy, theta: np.ndarray, visits: str) -> np.ndarray:
    pi = policy.probabilities(theta)
    ev = evaluate(mdp, pi, validate=False)
    if visits == "undiscounted":
        weights = visit_counts(mdp, pi, discounted=False, validate=False)
    else:   # one stationary distribution per policy of a batch
        batch = pi.shape[:-2]
        chains = np.reshape(ev.P_pi, (-1,) + ev.P_pi.shape[-2:]) if batch else [ev.P_pi]
        weights = np.reshape([stationary_distribution(P) for P in chains], batch + (mdp.n_states,))
    return policy.prob_vjp(theta, weights[..., None] * ev.q)
