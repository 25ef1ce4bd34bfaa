"""Variances: of the discounted return (exact), and of gradient estimators (measured).

What it computes
----------------
* :func:`return_variance` — the exact variance of the discounted return
  G = Σ_t γᵗ r(s_t, a_t) from every start state (Sobel 1982, Theorem 1), for
  deterministic rewards r(s, a) and actions drawn from π::

      M = (I − γ²P̃^π)⁻¹ b,   b(s) = Σ_a π(a|s) [r(s,a)² + 2γ r(s,a) (P v)(s,a)]
      Var[G | s₀ = s] = M(s) − v(s)²

  The variance itself is computed by the law of total variance,
  Var = (I − γ²P̃^π)⁻¹ σ² with σ²(s) = E[(r + γ v(s') − v(s))² | s] summed
  transition by transition, which is non-negative and free of the
  cancellation in M − v² when Var ≪ v² (e.g. v ≈ −100 and Var ≈ 0); the
  ``mdpgrad check`` report shows that the two agree.

  P̃^π is P^π with terminal rows and columns zeroed, as in
  :func:`mdpgrad.evaluate` (episodes stop at terminal states, so M = 0 there).
* :func:`advantage_draws_covariance` — the exact covariance Σ_μ of one
  i.i.d. draw of the advantage-weighted estimator
  g(s, a) = (Σ η) · adv(s, a) · ∇log π(a|s),  (s, a) ∼ μ,
  whose mean is ∇J by the policy gradient theorem (Sutton & Barto 2018,
  §13.2).  It is the yardstick of "one sample".
* :func:`effective_sample_size` and :func:`sample_efficiency` — how many such
  i.i.d. draws n episodes of mean length k are worth: ESS = tr Σ_μ / tr Cov(mean).
  The k state-action pairs of one episode are correlated samples (with
  return-based advantages they share the same future rewards), so, like a
  cluster of k correlated observations (Kish 1965, the design effect
  1 + (k − 1)ρ), an episode counts for fewer than k draws; with returns as
  advantage estimates ESS is of the order of n, not k·n.

Identities checked by the tests: Sobel's M − v² equals the sampled variance of
discounted returns; on hand-derived MDPs it equals the variance of a geometric
number of rewards and of a Bernoulli reward; dense = sparse; Σ_μ from the
formula equals the covariance of brute-force i.i.d. draws from μ.

References: M. J. Sobel, "The variance of discounted Markov decision
processes", J. Applied Probability 19(4), 1982; L. Kish, Survey Sampling,
Wiley, 1965.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from ._chains import bellman_matrix
from ._display import compact_repr
from ._errors import ValidationError
from ._evaluation import Evaluation, evaluate
from ._linalg import factorize
from ._model import MDP, validate_mdp
from ._policies import Policy, policy_on_model, validate_parameterisation, validate_policy, validate_theta
from ._validation import as_real_array, check_callable, check_integer, check_memory, check_real, check_rng
from .sampling._sampler import ProtocolOption, sample

__all__ = ["ReturnVariance", "SampleEfficiency", "advantage_draws_covariance", "effective_sample_size",
           "return_variance", "sample_efficiency"]


@dataclass(frozen=True, eq=False)
class ReturnVariance:
    """Moments of the discounted return G under a policy.

    Attributes
    ----------
    v : ndarray, shape (S,)
        E[G | s₀ = s].
    second_moment : ndarray, shape (S,)
        M(s) = E[G² | s₀ = s].
    variance : ndarray, shape (S,)
        Var[G | s₀ = s] = M − v², computed without cancellation (zero at
        terminal states).
    J : float
        E[G] with s₀ ∼ ρ₀.
    variance_rho0 : float
        Var[G] with s₀ ∼ ρ₀: ρ₀·Var + ρ₀·(v − J)² (= ρ₀·M − J², including the
        randomness of s₀).
    """

    v: np.ndarray
    second_moment: np.ndarray
    variance: np.ndarray
    J: float
    variance_rho0: float

    __repr__ = compact_repr

    def __str__(self) -> str:
        return (f"ReturnVariance: J = {self.J:.6g}, Var[G] from rho0 = {self.variance_rho0:.6g} "
                f"(sd {np.sqrt(max(self.variance_rho0, 0.0)):.4g}), {self.v.size} states")


def return_variance(mdp: MDP, pi: ArrayLike) -> ReturnVariance:
    """Exact variance of the discounted return from every state (Sobel 1982).

    M = (I − γ²P̃^π)⁻¹ b with b(s) = Σ_a π(a|s)[r(s,a)² + 2γ r(s,a)(P v)(s,a)],
    and Var = M − v².  Rewards are deterministic given (s, a); the randomness
    is that of the actions and of the transitions.  Sparse MDPs stay sparse.

    Parameters
    ----------
    mdp : MDP
    pi : ndarray, shape (S, A)
        One row-stochastic policy table (not a batch).

    Returns
    -------
    ReturnVariance
        v, the second moment M, the variance by state and from ρ₀.

    Raises
    ------
    ValidationError
        If π is not one valid (S, A) table, or (argument ``"mdp"``) the second
        moments exceed the float64 range.  Rewards above 2⁶⁴ are divided by a
        power of two first and the results multiplied back exactly, so
        squares of large finite rewards (1e155 and more) do not overflow.
    NonTerminatingPolicyError
        If γ = 1 and π does not terminate from some state.

    References
    ----------
    M. J. Sobel, "The variance of discounted Markov decision processes",
    J. Applied Probability 19(4), 1982, Theorem 1.

    Examples
    --------
    State 0 pays 1 per step and ends the episode w.p. ½ (γ = 1), so G is a
    geometric number of steps with mean 2 and variance (1 − ½)/½² = 2:

    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.variance import return_variance
    >>> P = np.array([[[0.5, 0.5]], [[0.0, 1.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=1.0, rho0=[1.0, 0.0], terminal=[False, True])
    >>> rv = return_variance(mdp, np.ones((2, 1)))
    >>> rv.v.tolist(), rv.second_moment.tolist(), rv.variance.tolist()
    ([2.0, 0.0], [6.0, 0.0], [2.0, 0.0])
    """
    mdp = validate_mdp(mdp)
    S, A = mdp.n_states, mdp.n_actions
    table = validate_policy(pi, S, A, actions=mdp.actions)
    if table.ndim != 2:
        raise ValidationError(f"pi has shape {table.shape}; return_variance takes one ({S}, {A}) table",
                              argument="pi", value=table.shape)
    if not mdp.is_sparse:
        check_memory(8.0 * S * A * S, f"the temporal differences of every transition, a dense ({S}, {A}, "
                     f"{S}) float64 array,", "mdp")
    original, (mdp, k) = mdp, reward_scaled(mdp)
    ev = evaluate(mdp, table, validate=False)
    Pv = np.asarray(mdp.P_flat @ ev.v).reshape(S, A)
    b = np.sum(ev.pi * (mdp.r ** 2 + 2.0 * mdp.gamma * mdp.r * Pv), axis=1)
    b = np.where(mdp.terminal, 0.0, b)
    lu = factorize(bellman_matrix(mdp, ev.P_pi, mdp.gamma ** 2))
    M = np.where(mdp.terminal, 0.0, lu.solve(b))
    var = np.where(mdp.terminal, 0.0, lu.solve(_one_step_variance(mdp, ev.v, ev.pi)))
    var_rho0 = float(mdp.rho0 @ var + mdp.rho0 @ (ev.v - ev.J) ** 2)
    with np.errstate(over="ignore"):
        v, M, var = np.ldexp(ev.v, k), np.ldexp(M, 2 * k), np.ldexp(var, 2 * k)
        J, var_rho0 = float(np.ldexp(ev.J, k)), float(np.ldexp(var_rho0, 2 * k))
    finite_or_refuse(original, v, M, var, np.array([var_rho0]))
    return ReturnVariance(v=v, second_moment=M, variance=var, J=J, variance_rho0=var_rho0)


#: Rewards above 2**REWARD_SCALE_EXPONENT in magnitude are divided by a power of two before squaring
#: (exact in binary floating point); 2⁶⁴ leaves a factor 10²⁶⁴ of headroom below the float64 overflow
#: for sums of squares over long episodes, and no ordinary reward is touched.
REWARD_SCALE_EXPONENT = 64


def reward_scaled(mdp: MDP) -> tuple[MDP, int]:
    """(mdp with r / 2ᵏ, k): k ≥ 0 chosen so that max |r| / 2ᵏ ≤ 1 when max |r| > 2**REWARD_SCALE_EXPONENT.

    Values scale by 2ᵏ and second moments by 4ᵏ exactly (``np.ldexp``), so squares of rewards up to
    the float64 maximum never overflow in between.
    """
    top = float(np.max(np.abs(mdp.r), initial=0.0))
    if top <= 2.0 ** REWARD_SCALE_EXPONENT:
        return mdp, 0
    k = int(np.frexp(top)[1])
    return mdp.replace(r=np.ldexp(mdp.r, -k)), k


def finite_or_refuse(mdp: MDP, *arrays: np.ndarray) -> None:
    """Refuse results that overflow float64 (rescaled second moments above ≈ 1.8e308), naming ``mdp``."""
    if all(np.all(np.isfinite(a)) for a in arrays):
        return
    top = float(np.max(np.abs(mdp.r), initial=0.0))
    raise ValidationError(f"with rewards up to |r| = {top:.3g} the second moments exceed the float64 range "
                          "(about 1.8e308): divide the rewards (and any baseline or value table) by a power "
                          "of two 2^k and read the means in units of 2^k, the second moments in units of 4^k",
                          argument="mdp", value=top)


def _one_step_variance(mdp: MDP, v: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """σ²(s) = Σ_a π(a|s) Σ_s' P(s'|s,a) (r(s,a) + γ v(s') − v(s))², term by term; 0 at terminal states.

    Each squared temporal difference is formed before summing, so no large
    terms cancel.  O(nnz(P)) for sparse P; an (S, A, S) temporary for dense P.
    """
    S, A = mdp.n_states, mdp.n_actions
    if mdp.is_sparse:
        P = sp.csr_array(mdp.P)
        rows = np.repeat(np.arange(S * A), np.diff(P.indptr))
        delta = mdp.r.ravel()[rows] + mdp.gamma * v[P.indices] - v[rows // A]
        per_pair = np.bincount(rows, weights=P.data * delta ** 2, minlength=S * A).reshape(S, A)
    else:
        delta = mdp.r[:, :, None] + mdp.gamma * v[None, None, :] - v[:, None, None]
        per_pair = np.einsum("sat,sat->sa", mdp.P, delta ** 2)
    return np.where(mdp.terminal, 0.0, np.sum(pi * per_pair, axis=1))


def score_matrix(policy: Policy, theta: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The score vectors ∇log π(a|s) as rows: row s·A + a for mask[s, a], zeros elsewhere.

    Parameters
    ----------
    policy : Policy
    theta : ndarray, shape policy.param_shape
    mask : ndarray of bool, shape (S, A)

    Returns
    -------
    ndarray, shape (S·A, d), d = prod(policy.param_shape)
    """
    S, A = mask.shape
    d = int(np.prod(policy.param_shape))
    out = np.zeros((S * A, d))
    for x in np.flatnonzero(mask.ravel()):
        w = np.zeros((S, A))
        w.flat[x] = 1.0
        out[x] = np.ravel(policy.log_prob_vjp(theta, w))
    return out


def advantage_draws_covariance(mdp: MDP, policy: Policy, theta: ArrayLike, *,
                               evaluation: Evaluation | None = None) -> np.ndarray:
    """Covariance of one draw of g = (Σ η) adv(s, a) ∇log π(a|s), (s, a) ∼ μ.

    Σ_μ = (Σ η)² Σ_{s,a} μ(s,a) adv(s,a)² ∇log π ∇log πᵀ − ∇J ∇Jᵀ, since
    E_μ[g] = ∇J (policy gradient theorem).  Its trace is the total variance of
    the "one i.i.d. sample" against which trajectories are measured.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : ndarray, shape policy.param_shape
    evaluation : Evaluation, optional
        A precomputed ``evaluate(mdp, policy.probabilities(theta))``.

    Returns
    -------
    ndarray, shape (d, d), d = prod(policy.param_shape)

    Examples
    --------
    One state, two actions paying 0 and 1, γ = 0, uniform softmax: adv = ∓½ and
    ∇log π(a) = e_a − (½, ½), so g = (−¼, ¼) for both actions and Σ_μ = 0.

    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> from mdpgrad.variance import advantage_draws_covariance
    >>> mdp = MDP(np.ones((1, 2, 1)), [[0.0, 1.0]], gamma=0.0)
    >>> advantage_draws_covariance(mdp, TabularSoftmax(1, 2), np.zeros((1, 2))).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """
    mdp = validate_mdp(mdp)
    policy = validate_parameterisation(policy)
    theta = validate_theta(theta, policy, batch=False)
    policy = _check_policy_fits(mdp, policy)
    _check_score_memory(mdp, policy)
    if evaluation is None:
        ev = evaluate(mdp, policy.probabilities(theta), validate=False)
    elif isinstance(evaluation, Evaluation) and np.shape(evaluation.mu) == (mdp.n_states, mdp.n_actions):
        ev = evaluation
    else:
        raise ValidationError(f"evaluation is a {type(evaluation).__name__}; expected the mdpgrad.Evaluation "
                              "of this policy on this MDP (or None)", argument="evaluation",
                              value=type(evaluation).__name__)
    original, (mdp, k) = mdp, reward_scaled(mdp)
    if k:
        ev = evaluate(mdp, policy.probabilities(theta), validate=False)
    mu = ev.mu
    Z = float(ev.eta.sum())
    G = score_matrix(policy, theta, mu > 0)                 # (S·A, d)
    weights = (Z * ev.advantage).ravel()                     # g_x = weights[x] · G[x]
    m = mu.ravel()
    mean = (m * weights) @ G
    second = (G * (m * weights ** 2)[:, None]).T @ G
    with np.errstate(over="ignore"):
        cov = np.ldexp(second - np.outer(mean, mean), 2 * k)
    finite_or_refuse(original, cov)
    return cov


def _check_policy_fits(mdp: MDP, policy: Policy) -> Policy:
    if (policy.n_states, policy.n_actions) != (mdp.n_states, mdp.n_actions):
        raise ValidationError(f"policy is for {policy.n_states} states and {policy.n_actions} actions; "
                              f"the MDP has {mdp.n_states} and {mdp.n_actions}", argument="policy",
                              value=(policy.n_states, policy.n_actions))
    return policy_on_model(policy, mdp.actions)


def _check_score_memory(mdp: MDP, policy: Policy) -> None:
    """The (S·A, d) score matrix and the d × d covariance are dense: refuse them before allocating."""
    d = int(np.prod(policy.param_shape))
    n = mdp.n_states * mdp.n_actions
    check_memory(8.0 * n * d, f"the score matrix, a dense {n} x {d} float64 array,", "policy")
    check_memory(8.0 * d * d, f"the covariance of the draws, a dense {d} x {d} float64 matrix,", "policy")


def effective_sample_size(estimates: ArrayLike, iid_trace: float) -> float:
    """Number of i.i.d. advantage-weighted draws with the same total variance as the mean.

    ESS = tr Σ_μ / tr Ĉov(x̄), where Ĉov(x̄) = Ĉ / n is the sample covariance of
    the mean of the n independent rows of ``estimates`` (episodes, or groups of
    episodes).  Compare it with n (one sample per episode) and with k·n (one
    per state-action pair visited).  Estimates that do not vary (or whose
    variance overflows) have no finite ESS and are refused.

    Parameters
    ----------
    estimates : ndarray, shape (n, ...)
        One independent estimate per row.
    iid_trace : float
        tr Σ_μ from :func:`advantage_draws_covariance`; finite and ≥ 0.

    Raises
    ------
    ValidationError
        If fewer than 2 rows are given, an entry is not a finite real number,
        or the estimates do not vary.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad.variance import effective_sample_size
    >>> x = np.array([[1.0], [3.0]])        # sample variance 2, variance of the mean 1
    >>> effective_sample_size(x, 5.0)
    5.0
    """
    X = as_real_array(estimates, "estimates")
    trace = check_real(iid_trace, "iid_trace", min_value=0.0)
    if X.ndim == 0:
        raise ValidationError(f"estimates is a scalar ({X.item()!r}); expected one estimate per row, "
                              "shape (n, ...)", argument="estimates", value=X.shape)
    n = X.shape[0]
    if n < 2:
        raise ValidationError(f"estimates has {n} row(s); a variance needs at least 2",
                              argument="estimates", value=n)
    total = _mean_variance(X.reshape(n, -1))
    if not np.isfinite(total):
        raise ValidationError("the variance of estimates overflows float64", argument="estimates",
                              value=float(np.abs(X).max()))
    if total == 0.0:
        raise ValidationError(f"estimates do not vary across its {n} rows: the variance of their mean is 0 "
                              "and the effective sample size is unbounded", argument="estimates", value=0.0)
    return trace / total


def ess_or_inf(estimates: np.ndarray, iid_trace: float) -> float:
    """:func:`effective_sample_size` for trusted internal input: ∞ (not an error) when nothing varies.

    For reports that measure estimators which may be exact (a zero-variance
    estimator is worth infinitely many draws).
    """
    X = np.asarray(estimates, dtype=float)
    total = _mean_variance(X.reshape(X.shape[0], -1))
    return float(iid_trace) / total if total > 0 else float("inf")


def _mean_variance(X: np.ndarray) -> float:
    """tr Ĉov(x̄) = Σ_j var_j / n for the n rows of X (sample variances, ddof = 1)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sum(np.var(X, axis=0, ddof=1))) / X.shape[0]


@dataclass(frozen=True, eq=False)
class SampleEfficiency:
    """n episodes of a trajectory-based estimator against k·n i.i.d. draws from μ.

    Attributes
    ----------
    n_episodes : int
    mean_length : float
        k, the mean number of (s, a) pairs per episode.
    trajectory_variance : float
        tr Cov of the mean of n per-episode estimates (sample covariance / n).
    iid_variance : float
        tr Σ_μ / (k·n): the same for the mean of k·n i.i.d. advantage-weighted draws.
    ratio : float
        trajectory_variance / iid_variance (1 when each pair counts as a sample).
    effective_sample_size : float
        tr Σ_μ / trajectory_variance = k·n / ratio (inf when the per-episode
        estimates do not vary).
    """

    n_episodes: int
    mean_length: float
    trajectory_variance: float
    iid_variance: float
    ratio: float
    effective_sample_size: float

    __repr__ = compact_repr

    def __str__(self) -> str:
        return (f"SampleEfficiency: {self.n_episodes} episodes worth {self.effective_sample_size:.4g} i.i.d. "
                f"draws from mu (variance ratio {self.ratio:.3g}, mean length {self.mean_length:.3g})")


def sample_efficiency(mdp: MDP, policy: Policy, theta: ArrayLike, estimator: object, *, n_episodes: int,
                      protocol: ProtocolOption = "auto", horizon: int | None = None,
                      rng: np.random.Generator | int = 0) -> SampleEfficiency:
    """Measure n episodes of a trajectory-based estimator against k·n i.i.d. draws from μ.

    Samples ``n_episodes`` on-policy episodes, takes the sample covariance Ĉ of
    the per-episode estimates, and compares the total variance of their mean,
    tr Ĉ / n, with that of k·n i.i.d. draws of
    g = (Σ η) adv(s, a) ∇log π(a|s), (s, a) ∼ μ, namely tr Σ_μ / (k·n), k being
    the mean episode length::

        ratio = (tr Ĉ / n) / (tr Σ_μ / (k n)),   ESS = tr Σ_μ / (tr Ĉ / n) = k n / ratio

    If every visited (s, a) pair were worth one independent sample, ESS would
    be k·n.  The pairs of one episode are correlated: return-based advantage
    estimates make them share the same future rewards, and ESS falls to the
    order of n (an episode is a cluster of correlated observations; Kish 1965).

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : ndarray, shape policy.param_shape
    estimator : Estimator or callable
        ``estimator.estimate`` (or the callable itself) maps
        ``(trajectories, policy, theta)`` to per-episode estimates
        ``(n, *param_shape)``.  Sampling is on-policy and ungrouped.
    n_episodes : int
        At least 2.
    protocol : {"auto", "terminal", "horizon", "geometric"}
        As in :func:`mdpgrad.sample`.
    horizon : int, optional
        H for protocol "horizon".
    rng : numpy.random.Generator or int
        Source of the episodes (an int seeds ``numpy.random.default_rng``).

    Returns
    -------
    SampleEfficiency

    Raises
    ------
    ValidationError
        For a bad argument; when the estimator's output is not one finite
        real estimate per episode; when tr Σ_μ = 0 (nothing to compare with).

    Examples
    --------
    A one-step bandit has k = 1: an episode weighting ∇log π by the exact
    advantage r − 4/3 *is* one i.i.d. draw from μ, so the ratio is ≈ 1.

    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> from mdpgrad.variance import sample_efficiency
    >>> P = np.zeros((2, 3, 2)); P[:, :, 1] = 1.0
    >>> mdp = MDP(P, [[0.0, 1.0, 3.0], [0.0, 0.0, 0.0]], gamma=1.0, rho0=[1.0, 0.0],
    ...           terminal=[False, True])
    >>> def advantage_score(tr, policy, theta):
    ...     w = np.zeros((tr.n_episodes, 2, 3))
    ...     w[np.arange(tr.n_episodes), 0, tr.actions[:, 0]] = tr.rewards[:, 0] - 4 / 3
    ...     return policy.log_prob_vjp(theta, w)
    >>> eff = sample_efficiency(mdp, TabularSoftmax(2, 3), np.zeros((2, 3)), advantage_score,
    ...                         n_episodes=4000, rng=0)
    >>> eff.mean_length, bool(0.9 < eff.ratio < 1.1)
    (1.0, True)
    """
    mdp = validate_mdp(mdp)
    policy = validate_parameterisation(policy)
    theta = validate_theta(theta, policy, batch=False)
    policy = _check_policy_fits(mdp, policy)
    n = check_integer(n_episodes, "n_episodes", min_value=2)
    gen = check_rng(rng)
    estimate = check_callable(getattr(estimator, "estimate", estimator), "estimator")
    _check_score_memory(mdp, policy)
    d = int(np.prod(policy.param_shape))
    check_memory(float(min(8 * n * d, 2**1000)), f"the estimates of {n} episodes, a dense ({n}, {d}) float64 "
                 "array,", "n_episodes")
    pi = policy.probabilities(theta)
    ev = evaluate(mdp, pi, validate=False)
    traj = sample(mdp, pi, n, rng=gen, protocol=protocol, horizon=horizon)
    X = as_real_array(estimate(traj, policy, theta), "the estimator's output")
    if X.ndim == 0 or X.shape[0] != n:
        raise ValidationError(f"the estimator returned shape {X.shape}; expected ({n}, ...), one "
                              "estimate per episode", argument="estimator", value=X.shape)
    X = X.reshape(n, -1)
    k = float(traj.lengths.mean())
    trace_mu = float(np.trace(advantage_draws_covariance(mdp, policy, theta, evaluation=ev)))
    traj_var = _mean_variance(X)
    if not (trace_mu > 0 and k > 0):
        raise ValidationError(f"the covariance of one advantage-weighted draw has trace {trace_mu:g} (a "
                              "deterministic policy, or zero advantages) and the episodes have mean length "
                              f"{k:g}: there is no i.i.d. variance to compare with", argument="theta",
                              value=trace_mu)
    if not np.isfinite(traj_var):
        raise ValidationError("the variance of the estimator's output overflows float64",
                              argument="estimator",
                              value=float(np.abs(X).max()))
    iid_var = trace_mu / (k * n)
    ratio = traj_var / iid_var
    ess = ess_or_inf(X, trace_mu)
    return SampleEfficiency(n_episodes=n, mean_length=k, trajectory_variance=traj_var, iid_variance=iid_var,
                            ratio=ratio, effective_sample_size=ess)
