"""Second-order quantities of J(θ): the policy Hessian, Hessian-vector products,
the Fisher information and the natural gradient, exact to rounding.

Derivatives of gradient-like fields are taken by the complex step of
:mod:`mdpgrad._derivatives` (Squire & Trapp 1998; Martins et al. 2003)::

    ∂F/∂θ_j = Im F(θ + ih e_j) / h,      h = 1e-20,

which carries the perturbation through every linear solve in complex
arithmetic.  There is no subtraction, so the result is accurate to a few ulps
(far better than the 1e-9 relative asked of it), unlike finite differences,
whose error is ≈ ε^(2/3) at best.  It needs F to be analytic in θ: the
policy-gradient code path is (softmax, solves, products; no abs or conj).

* :func:`policy_hessian`: ∇²J, one complex gradient per parameter (batched for
  dense MDPs);
* :func:`hessian_vector_product`: ∇²J u with a single complex gradient;
* :func:`fisher_information`: F = Σ_s η(s) Σ_a π(a|s) ∇log π ∇log πᵀ (Kakade 2002);
* :func:`fisher_vector_product`: F u without forming F;
* :func:`natural_gradient`: F⁺ ∇J (minimum-norm, as F is singular for softmax);
* :func:`evaluation_jacobian`: the complex-step Jacobian of any function of θ
  that evaluates policies, batched within a memory cap (also used for the
  live surrogate's gradient).

Identities checked by the tests: ∇²J is symmetric to rounding and matches an
exact sympy Hessian on a 2-state MDP and central differences of the exact
gradient; ∇²J u = (∇²J) u; for tabular softmax F is block diagonal with blocks
η(s)(diag π − ππᵀ) and the natural gradient is adv(s,a) − mean_b adv(s,b)
(Kakade 2002, §4; Agarwal et al. 2021, Lemma 15).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._derivatives import approx_jacobian, batch_size, complex_step_directional
from .._errors import ValidationError
from .._evaluation import evaluate
from .._linalg import Accuracy, check_accuracy, validate_accuracy
from .._model import MDP
from .._policies import Policy
from .._validation import as_real_array, check_memory, check_real, first_index, format_index
from ._theorem import GRADIENT_ADVICE, gradient_at, gradient_error, model_and_policy, parameter_point

__all__ = ["NATURAL_RCOND", "evaluation_jacobian", "fisher_information", "fisher_vector_product",
           "hessian_error", "hessian_vector_product", "natural_gradient", "policy_hessian"]

#: Eigenvalues of F below NATURAL_RCOND·max eig are treated as zero by
#: :func:`natural_gradient`.  F's exact null directions (a constant added to a
#: state's logits) come out of the arithmetic at ≈ n·ε·‖F‖ ≈ 1e-14‖F‖; 1e-10
#: discards those while keeping every genuine curvature above 1e-10‖F‖.
NATURAL_RCOND = 1e-10


def evaluation_jacobian(mdp: MDP, f: Callable[[np.ndarray], Any], theta: np.ndarray) -> np.ndarray:
    """Complex-step Jacobian of a function of θ that evaluates policies on ``mdp``.

    Dense MDPs evaluate the perturbed points in batches (f must accept a stack
    (k, *theta.shape)), as many per call as fit :data:`mdpgrad._derivatives.BATCH_ENTRIES`
    with S(S + A) + n entries per point (the chain, the action values and θ);
    sparse MDPs, which evaluate one policy at a time, go one coordinate per call.

    Parameters
    ----------
    mdp : MDP
    f : callable
        θ ↦ array, analytic in θ (complex θ allowed).
    theta : ndarray, shape policy.param_shape

    Returns
    -------
    ndarray, shape out_shape + theta.shape

    Raises
    ------
    ValidationError
        When the (n × n) result (the usual case: f maps θ to θ's shape) would exceed the memory
        limit; the estimate is refused before anything is evaluated.
    """
    check_memory(2.0 * 8.0 * float(theta.size) ** 2, f"a {theta.size} x {theta.size} Jacobian", "theta")
    if mdp.is_sparse:
        return approx_jacobian(f, theta)
    per_point = mdp.n_states * (mdp.n_states + mdp.n_actions) + theta.size
    return approx_jacobian(f, theta, batched=True, chunk=batch_size(per_point))


def policy_hessian(mdp: MDP, policy: Policy, theta: ArrayLike, *, accuracy: Accuracy = "refuse",
                   error: bool = False) -> Any:
    """The exact Hessian ∇²J(θ), shape theta.shape + theta.shape.

    Column j is the complex-step derivative of the policy gradient theorem,
    ∂_j ∇J = Im ∇J(θ + ih e_j)/h; the gradient's solves run in complex
    arithmetic.  Dense MDPs evaluate the columns in batches.  Reference for the
    second-order structure: Shen et al. 2019 (Hessian-aided policy gradient).

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : ndarray, shape policy.param_shape
    accuracy : {"refuse", "warn", "ignore"}
        What to do when ``hessian_error`` leaves fewer than six significant
        digits relative to max|∇²J| (as for :func:`mdpgrad.policy_gradient`).
    error : bool
        Also return the error estimate (a float, ``hessian_error``).

    Returns
    -------
    ndarray, shape theta.shape + theta.shape
        Or (Hessian, error) with ``error=True``.

    Examples
    --------
    Two states, action 1 in state 0 pays 1 and ends in the absorbing state 1.

    >>> import numpy as np
    >>> from mdpgrad import MDP, policy_hessian, TabularSoftmax
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> H = policy_hessian(mdp, TabularSoftmax(2, 2), np.zeros((2, 2))).reshape(4, 4)
    >>> np.round(H[:2, :2] * 1331, 9).tolist()     # exact: ∓90/1331 (derived in the tests)
    [[-90.0, 90.0], [90.0, -90.0]]
    """
    mdp, policy = model_and_policy(mdp, policy)
    theta = parameter_point(theta, policy, "policy_hessian")
    accuracy = validate_accuracy(accuracy)
    H = evaluation_jacobian(mdp, lambda th: gradient_at(mdp, policy, th), theta)
    if accuracy == "ignore" and not error:
        return H
    err = hessian_error(mdp, policy, theta, H)
    scale = float(np.max(np.abs(H), initial=0.0))
    check_accuracy("the policy Hessian", err, scale, accuracy, GRADIENT_ADVICE)
    return (H, err) if error else H


def hessian_error(mdp: MDP, policy: Policy, theta: np.ndarray, H: np.ndarray) -> float:
    """An estimate of max|∇²J computed − ∇²J exact| for H = :func:`policy_hessian` at θ.

    The complex steps differentiate the gradient through the same systems, so
    the derivative carries the relative error of the gradient it differentiates
    (Martins et al. 2003, §3): max(gradient error)/scale (``gradient_error``)
    times max|H|.  The asymmetry max|H − Hᵀ|, zero in exact arithmetic, is a
    second, a-posteriori witness; the larger of the two is returned.  A
    first-order estimate, not a bound.
    """
    ev = evaluate(mdp, policy.probabilities(theta), validate=False, accuracy="ignore")
    if ev.error is None:   # pragma: no cover - a real θ always gives a real table
        return 0.0
    err, scale = gradient_error(mdp, policy, theta, ev)
    rel = float(np.max(err, initial=0.0)) / float(scale) if float(scale) > 0 else 0.0
    n = theta.size
    square = H.reshape(n, n)
    return max(rel * float(np.max(np.abs(H), initial=0.0)),
               float(np.max(np.abs(square - square.T), initial=0.0)))


def hessian_vector_product(mdp: MDP, policy: Policy, theta: ArrayLike, u: ArrayLike) -> np.ndarray:
    """∇²J(θ) u with one complex gradient: Im ∇J(θ + ih u)/h, in θ's shape.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta, u : ndarray, shape policy.param_shape

    Returns
    -------
    ndarray, shape theta.shape

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> from mdpgrad.gradients import hessian_vector_product
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> u = np.array([[1.0, 0.0], [0.0, 0.0]])
    >>> np.round(hessian_vector_product(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)), u) * 1331, 9).tolist()
    [[-90.0, 90.0], [0.0, 0.0]]
    """
    mdp, policy = model_and_policy(mdp, policy)
    theta = parameter_point(theta, policy, "hessian_vector_product")
    u = as_real_array(u, "u", shape=theta.shape)
    return complex_step_directional(lambda th: gradient_at(mdp, policy, th), theta, u)


def _log_available(policy: Policy, avail: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """θ ↦ log π_θ(a|s) on the available actions ``avail`` (S, A), 0 on the others (π = 0 there: they
    carry no weight in F)."""
    return lambda th: np.log(np.where(avail, policy.probabilities(th), 1.0))


def _score_jacobian(policy: Policy, theta: np.ndarray, avail: np.ndarray) -> np.ndarray:
    """∇_θ log π(a|s) for every available (s, a) (0 for the others), shape (S, A, n), by complex steps on
    log π."""
    pi = policy.probabilities(theta)
    idx = first_index((pi <= 0) & avail)
    if idx is not None:
        raise ValidationError(f"{format_index('pi', idx)} is {float(pi[idx]):.12g}; the Fisher information "
                              f"needs log pi, so every probability of an available action must be > 0",
                              argument="theta", index=idx, value=float(pi[idx]))
    check_memory(16.0 * pi.size * theta.size, f"the ({pi.size} x {theta.size}) score Jacobian", "theta")
    jac = approx_jacobian(_log_available(policy, avail), theta, batched=True, chunk=batch_size(pi.size))
    return jac.reshape(pi.shape + (theta.size,))


def fisher_information(mdp: MDP, policy: Policy, theta: ArrayLike) -> np.ndarray:
    """F = Σ_s η(s) Σ_a π(a|s) ∇log π(a|s) ∇log π(a|s)ᵀ, shape theta.shape + theta.shape.

    Weighted by the discounted visits η (not their normalisation d), so that
    the natural gradient F⁺∇J carries no factor 1/(1 − γ) (Kakade 2002, §3).
    The score ∇log π is taken by complex steps on log π, one parameter at a time.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : ndarray, shape policy.param_shape
        Every π(a|s) must be positive.

    Returns
    -------
    ndarray, shape theta.shape + theta.shape

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import fisher_information, MDP, TabularSoftmax
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> F = fisher_information(mdp, TabularSoftmax(2, 2), np.zeros((2, 2))).reshape(4, 4)
    >>> np.round(F[:2, :2] * 11, 12).tolist()     # η(0)(diag π − ππᵀ) = (20/11)·(±1/4)
    [[5.0, -5.0], [-5.0, 5.0]]
    """
    mdp, policy = model_and_policy(mdp, policy)
    theta = parameter_point(theta, policy, "fisher_information")
    return _fisher(mdp, policy, theta)


def _fisher(mdp: MDP, policy: Policy, theta: np.ndarray) -> np.ndarray:
    n = theta.size
    check_memory(8.0 * n * n, f"the {n} x {n} Fisher information", "theta")
    ev = evaluate(mdp, policy.probabilities(theta), validate=False)
    score = _score_jacobian(policy, theta, mdp.actions)                       # (S, A, n)
    weight = ev.eta[:, None] * ev.pi                             # (S, A)
    F = np.einsum("sa,sai,saj->ij", weight, score, score, optimize=True)
    return F.reshape(theta.shape + theta.shape)


def fisher_vector_product(mdp: MDP, policy: Policy, theta: ArrayLike, u: ArrayLike) -> np.ndarray:
    """F u without forming F: Σ η π (∇log π · u) ∇log π, in θ's shape.

    The directional derivative ∇log π · u is one complex step on log π; the
    outer sum is the policy's own vector-Jacobian product of log π.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta, u : ndarray, shape policy.param_shape

    Returns
    -------
    ndarray, shape theta.shape
    """
    mdp, policy = model_and_policy(mdp, policy)
    theta = parameter_point(theta, policy, "fisher_vector_product")
    u = as_real_array(u, "u", shape=theta.shape)
    ev = evaluate(mdp, policy.probabilities(theta), validate=False)
    du = complex_step_directional(_log_available(policy, mdp.actions), theta, u)   # (S, A)
    return policy.log_prob_vjp(theta, ev.eta[:, None] * ev.pi * du)


def natural_gradient(mdp: MDP, policy: Policy, theta: ArrayLike, *,
                     rcond: float = NATURAL_RCOND) -> np.ndarray:
    """The natural gradient F⁺ ∇J (minimum-norm solution of F x = ∇J), in θ's shape.

    F is symmetric positive semi-definite; it is inverted on the eigenvectors
    whose eigenvalues exceed ``rcond`` times the largest (Kakade 2002).  For
    tabular softmax the answer is adv(s, a) − mean_b adv(s, b) in every state
    with η(s) > 0 (Agarwal et al. 2021, Lemma 15, with η in place of d/(1−γ)).

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : ndarray, shape policy.param_shape
    rcond : float
        Relative eigenvalue cut-off (default ``NATURAL_RCOND``).

    Returns
    -------
    ndarray, shape theta.shape

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP, natural_gradient, TabularSoftmax
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> np.round(natural_gradient(mdp, TabularSoftmax(2, 2), np.zeros((2, 2))) * 11, 12).tolist()
    [[-1.0, 1.0], [0.0, 0.0]]
    """
    mdp, policy = model_and_policy(mdp, policy)
    theta = parameter_point(theta, policy, "natural_gradient")
    rcond = check_real(rcond, "rcond", min_value=0.0, max_value=1.0, min_open=True, max_open=True)
    n = theta.size
    # F, its symmetrised copy and the n × n eigenvectors are held at once
    check_memory(3 * 8.0 * n * n, f"the eigendecomposition of the {n} x {n} Fisher information", "theta")
    F = _fisher(mdp, policy, theta).reshape(n, n)
    g = gradient_at(mdp, policy, theta).ravel()
    lam, V = np.linalg.eigh(0.5 * (F + F.T))
    keep = lam > rcond * max(float(lam.max()), 0.0)
    x = V[:, keep] @ ((V[:, keep].T @ g) / lam[keep])
    return x.reshape(theta.shape)
