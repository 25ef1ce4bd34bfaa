"""A statistical harness: does a sampled gradient estimator have the mean it should?

What it computes
----------------
:func:`~mdpgrad.check_estimator` samples episodes from the exact model, runs an
estimator on them (one estimate per episode, or per group of episodes sharing
a start state), and tests H₀: E[estimate] = target at level α, where the target
is

* the estimator's exact expectation under the same protocol (the default):
  "is the code right?";
* ``"gradient"``, the exact ∇J: "is the estimator unbiased?";
* or any array of the parameter's shape.

The test is multivariate, and which one runs depends on what is known of the
covariance of one unit.  When the estimator has a closed-form second moment
(:func:`mdpgrad.estimators.estimator_moments` succeeds), the harness uses the
EXACT covariance Σ of one episode (test ``"chi2"``,
``mdpgrad.estimators._chi2_test``, with :func:`~mdpgrad.estimators.sample_size`,
which inverts its power to choose n).

A hand-written estimator (a plain function, sampled on-policy, one episode per
unit) has no closed form, but it is *paired* with the library estimators run on
the same episodes (test ``"paired"``, ``mdpgrad.estimators._paired``): with
D = ĝ − ĝ_ref and s² the largest eigenvalue of the sampled Cov D relative to
the exact Σ_ref, Cov ĝ ≼ (1 + s)² Σ_ref, and the χ² test above runs with that
bound (the reference with the smallest s is used, and named in the result).
The tail the sample misses is carried by Σ_ref, computed exactly; only D, which
does not carry it when the user's code is close to the reference, is sampled.
Measured on a model where a 10⁻³ transition pays 1000 (γ = 0.9, n = 2000,
1000 seeds): a correct hand-written REINFORCE is rejected in 0.5 % of seeds at
α = 0.01 and 3.3 % at α = 0.05 (the sample-covariance tests: 26.7 % and
31.7 %).

Without a closed form or a usable reference, Hotelling's T² or Bonferroni's t
tests with the sample covariance decide, guarded by the part of the mean that
outcomes rare in the sample carry (``mdpgrad.estimators._sample_test``).

It also reports the standardized bias (x̄ − m)/SE per coordinate and the
effective sample size (see :class:`EstimatorCheck`).  Everything is
reproducible from the seed given as ``rng``.

Limitations: the paired bound rests on the sampled spread s of D: when the
user's estimator differs from every reference by a term that itself carries
the rare returns, s is underestimated in the same way.  The covariance is
d × d, so the harness is meant for parameters of dimension up to a few
thousand.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from scipy.sparse import csgraph

from .._errors import ValidationError
from .._evaluation import evaluate
from .._model import MDP
from .._policies import Policy, validate_theta
from .._validation import as_real_array, check_choice, check_integer, check_real, check_rng
from ..gradients._theorem import model_and_policy, policy_gradient
from ..sampling._sampler import ProtocolOption, group_start_states, resolve_protocol, sample
from ..variance import advantage_draws_covariance, score_matrix
from ..variance import ess_or_inf as effective_sample_size
from ._check_result import EstimatorCheck, InconclusiveTestWarning, TargetKind
from ._chi2_test import NULL_RTOL, exact_test, sample_size_from_covariance
from ._contract import Estimator
from ._moments import EstimatorMoments, estimator_moments
from ._paired import paired_bound
from ._sample_test import explained_p_value, hidden_noncentrality, mean_test
from ._tail import MAX_HIDDEN_NONCENTRALITY

__all__ = ["MAX_AUTO_EPISODES", "SCALE_EXPONENT", "CovarianceOption", "EstimateFunction", "assert_unbiased",
           "check_estimator"]

#: Where the covariance of one unit comes from: "auto" (exact when the estimator has a closed form),
#: "exact" (required) or "sample" (always the sample covariance).
CovarianceOption = Literal["auto", "exact", "sample"]
#: A function of a batch of episodes returning one estimate per episode, shape (n, *param_shape).
EstimateFunction = Callable[..., Any]

#: ``n_episodes="auto"`` refuses to sample more than this many episodes (memory: one estimate of the
#: parameter's size per episode); ask for a larger ``detect`` or a smaller power instead.
MAX_AUTO_EPISODES = 10_000_000

#: Estimates and targets above 2**SCALE_EXPONENT in magnitude are divided by a power of two before the
#: test squares them (exact; the statistics are scale-invariant); 2⁶⁴ leaves ≈ 10²⁶⁴ of headroom.
SCALE_EXPONENT = 64


def _scale_exponent(units: np.ndarray, target: np.ndarray) -> int:
    """e ≥ 0 with max(|units|, |target|) / 2ᵉ ≤ 1 when that maximum exceeds 2**SCALE_EXPONENT, else 0."""
    finite = np.concatenate([units.ravel(), target.ravel()])
    top = float(np.max(np.abs(finite[np.isfinite(finite)]), initial=0.0))
    return int(np.frexp(top)[1]) if top > 2.0 ** SCALE_EXPONENT else 0


def _score_span(policy: Policy, theta: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Orthonormal basis (r, d) of span{∇log π(a|s) : mask[s, a]}.

    The score matrix G (one row per pair) is split into the blocks of its sparsity pattern (connected
    components of the bipartite graph rows–parameters): rows of different blocks touch disjoint
    parameters, so G's singular values are the union of the blocks' and its right singular vectors
    are the blocks', padded with zeros.  A tabular policy has one block per state (an SVD of S small
    matrices instead of one of size S·A × d); a policy whose parameters are all shared has one block.
    """
    G = score_matrix(policy, theta, mask)
    nz = G != 0
    rows, cols = np.flatnonzero(nz.any(axis=1)), np.flatnonzero(nz.any(axis=0))
    if rows.size == 0:
        return np.zeros((0, G.shape[1]))
    pattern = sp.csr_array(nz[np.ix_(rows, cols)].astype(np.int8))
    graph = sp.block_array([[None, pattern], [pattern.T, None]], format="csr")
    n_blocks, labels = csgraph.connected_components(graph, directed=False)
    row_label, col_label = labels[:rows.size], labels[rows.size:]
    values, vectors = [], []
    for b in range(n_blocks):
        r, c = rows[row_label == b], cols[col_label == b]
        _, sv, Vt = np.linalg.svd(G[np.ix_(r, c)], full_matrices=False)
        full = np.zeros((sv.size, G.shape[1]))
        full[:, c] = Vt
        values.append(sv)
        vectors.append(full)
    sv, V = np.concatenate(values), np.concatenate(vectors)
    return V[sv > NULL_RTOL * sv.max()]


def check_estimator(mdp: MDP, policy: Policy, theta: ArrayLike, estimator: Estimator | EstimateFunction, *,
                    n_episodes: int | Literal["auto"], protocol: ProtocolOption = "auto",
                    horizon: int | None = None, target: Literal["gradient"] | ArrayLike | None = None,
                    alpha: float = 0.01, rng: np.random.Generator | int = 0,
                    covariance: CovarianceOption = "auto", detect: ArrayLike | None = None,
                    power: float = 0.9) -> EstimatorCheck:
    """Sample, estimate, and test whether the estimator's mean equals a target.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : ndarray, shape policy.param_shape
        Where the gradient is estimated (the target policy).
    estimator : Estimator or callable
        An :class:`mdpgrad.estimators.Estimator` (its ``behaviour_theta``, when
        set, is the policy that samples; its ``group_size`` > 1 makes groups of
        episodes share a start state, averaged into one unit each), or a plain
        function ``(trajectories, policy, theta) -> (n, *param_shape)``.
    n_episodes : int or "auto"
        Episodes to sample (a multiple of the group size); ``"auto"``: the
        :func:`~mdpgrad.estimators.sample_size` at which the test detects ``detect`` with
        probability ``power`` (needs the exact covariance; at least 2, at most
        ``MAX_AUTO_EPISODES``).
    protocol : {"auto", "terminal", "horizon", "geometric"}
        As in :func:`mdpgrad.sample`.
    horizon : int, optional
        H for protocol ``"horizon"``.
    target : None, "gradient" or ndarray
        None: the exact ``estimator.expectation(mdp, policy, theta, protocol=…,
        horizon=…)``; "gradient": the exact ∇J; or an array of θ's shape.
    alpha : float
        Level of the test, 0 < α < 1.
    rng : numpy.random.Generator or int
        Source of all sampling; an int seeds ``numpy.random.default_rng`` and is
        recorded as ``EstimatorCheck.seed``.
    covariance : {"auto", "exact", "sample"}
        "auto": the exact covariance of one episode when the estimator has a
        closed-form second moment (:func:`mdpgrad.estimators.estimator_moments`
        succeeds; groups of episodes, hand-written estimators and models too
        large for it use the sample covariance); "exact": require it;
        "sample": always the sample covariance (Hotelling's T² or Bonferroni).
    detect : array_like, shape param_shape, optional
        A bias the test should be able to see: the result reports its
        ``EstimatorCheck.power`` against it, and ``n_episodes="auto"``
        chooses n from it.
    power : float
        Power required by ``n_episodes="auto"``, α < power < 1.

    Returns
    -------
    EstimatorCheck

    References
    ----------
    H. Hotelling, "The generalization of Student's ratio", Ann. Math. Statist.
    2(3), 1931; T. W. Anderson, An Introduction to Multivariate Statistical
    Analysis, 3rd ed., 2003, §5.2; K. V. Mardia, "Measures of multivariate
    skewness and kurtosis with applications", Biometrika 57(3), 1970.

    Examples
    --------
    A one-step bandit: action 1 pays 1, action 0 pays 0, episodes end after one
    step.  The plain score-function estimate r·∇log π(a) has mean ∇J.

    >>> import numpy as np
    >>> from mdpgrad import check_estimator, MDP, TabularSoftmax
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1.0, 0.0], terminal=[False, True])
    >>> def score_function(tr, policy, theta):
    ...     w = np.zeros((tr.n_episodes, 2, 2))
    ...     w[np.arange(tr.n_episodes), tr.states[:, 0], tr.actions[:, 0]] = tr.rewards[:, 0]
    ...     return policy.log_prob_vjp(theta, w)
    >>> check = check_estimator(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)), score_function,
    ...                         n_episodes=2000, target="gradient", rng=1)
    >>> check.test, check.reference, check.holds, check.target.tolist()
    ('paired', 'reinforce', True, [[-0.25, 0.25], [0.0, 0.0]])
    >>> print(check)
    EstimatorCheck: unbiased at alpha=0.01 — p = 0.561, max |z| = 0.58, 2000 episodes
      estimator 'score_function'; paired with 'reinforce', s = 0; .report() for details

    The hand-written function has no closed-form second moment; the harness
    ran the library's REINFORCE on the same episodes, found the differences
    zero (s = 0) and tested with REINFORCE's exact covariance (see
    ``mdpgrad.estimators._paired``).
    """
    mdp, policy = model_and_policy(mdp, policy)
    auto_n = isinstance(n_episodes, str)
    if auto_n:
        check_choice(n_episodes, "n_episodes", ("auto",))
    else:
        n_episodes = check_integer(n_episodes, "n_episodes", min_value=2)
    covariance = check_choice(covariance, "covariance", ("auto", "exact", "sample"))
    gen = check_rng(rng)
    seed = None if isinstance(rng, np.random.Generator) else int(rng)
    alpha = check_real(alpha, "alpha", min_value=0.0, max_value=1.0, min_open=True, max_open=True)
    power = check_real(power, "power", min_value=alpha, max_value=1.0, min_open=True, max_open=True)
    estimate: EstimateFunction | None = getattr(estimator, "estimate", None)
    if estimate is None:
        if not callable(estimator):
            raise ValidationError(f"estimator is {estimator!r}; expected an Estimator or a callable "
                                  "(trajectories, policy, theta) -> (n, *param_shape)",
                                  argument="estimator", value=estimator)
        estimate = estimator
    name = str(getattr(estimator, "name", getattr(estimator, "__name__", repr(estimator))))
    group_size = check_integer(getattr(estimator, "group_size", 1), "group_size", min_value=1)
    shape = tuple(policy.param_shape)
    theta = validate_theta(theta, policy, batch=False)
    resolved = resolve_protocol(mdp, protocol, horizon)
    detect_arr = None if detect is None else as_real_array(detect, "detect", shape=shape)
    moments: EstimatorMoments | None = None
    if covariance != "sample":
        if group_size == 1 and isinstance(estimator, Estimator) and estimator.second_moment is not None:
            try:
                moments = estimator_moments(mdp, policy, theta, estimator, protocol=resolved,
                                            horizon=horizon)
            except ValidationError:
                if covariance == "exact":
                    raise
        elif covariance == "exact":
            raise ValidationError(f"covariance='exact' but estimator {name!r} has no closed-form second "
                                  "moment of one episode (hand-written, grouped or group-normalised "
                                  "estimators); use covariance='auto' or 'sample'", argument="covariance",
                                  value=covariance)
    if auto_n:
        if detect_arr is None:
            raise ValidationError("n_episodes='auto' needs the bias to detect: pass detect=",
                                  argument="detect")
        if moments is None:
            raise ValidationError(f"n_episodes='auto' needs the exact covariance, which estimator {name!r} "
                                  "does not have here; give n_episodes", argument="n_episodes", value="auto")
        needed = sample_size_from_covariance(moments.covariance, detect_arr.ravel(), alpha, power)
        if needed > MAX_AUTO_EPISODES:
            raise ValidationError(f"detecting this bias with power {power:g} at alpha={alpha:g} needs "
                                  f"{needed} episodes > {MAX_AUTO_EPISODES}; detect a larger bias or give "
                                  "n_episodes",
                                  argument="detect", value=needed)
        n_episodes = max(2, needed)
    n_episodes = int(n_episodes)           # an int by now: "auto" was replaced above
    if n_episodes % group_size:
        raise ValidationError(f"n_episodes is {n_episodes}; expected a multiple of the estimator's "
                              f"group_size {group_size}", argument="n_episodes", value=n_episodes)
    n_units = n_episodes // group_size
    if n_units < 2:
        raise ValidationError(f"n_episodes={n_episodes} gives {n_units} independent unit(s); "
                              "a variance needs at least 2", argument="n_episodes", value=n_episodes)
    if isinstance(target, str):
        check_choice(target, "target", ("gradient",))
    elif target is not None:
        target = as_real_array(target, "target", shape=shape)
    expectation = getattr(estimator, "expectation", None)
    if target is None and expectation is None:
        raise ValidationError("target is None but the estimator has no exact expectation; "
                              "pass target='gradient' or an array", argument="target")

    behaviour = getattr(estimator, "behaviour_theta", None)
    theta_b = (theta if behaviour is None
               else validate_theta(behaviour, policy, "behaviour_theta", batch=False))
    starts = group_start_states(mdp, n_units, group_size, rng=gen) if group_size > 1 else None
    traj = sample(mdp, policy.probabilities(theta_b), n_episodes, rng=gen, protocol=resolved,
                  horizon=horizon, start_states=starts)
    est = as_real_array(estimate(traj, policy, theta), "the estimator's output")
    if est.shape != (n_episodes, *shape):
        raise ValidationError(f"the estimator returned shape {est.shape}; expected ({n_episodes}, "
                              f"{', '.join(map(str, shape))})", argument="estimator", value=est.shape)
    units = est.reshape(n_units, group_size, -1).mean(axis=1)
    est2 = est.reshape(n_episodes, -1)

    ev = evaluate(mdp, policy.probabilities(theta), validate=False)
    kind: TargetKind
    if target is None and expectation is not None:
        target_arr = np.asarray(expectation(mdp, policy, theta, protocol=resolved, horizon=horizon),
                                dtype=float)
        kind = "expectation"
    elif isinstance(target, str):
        target_arr = policy_gradient(mdp, policy, theta, evaluation=ev)
        kind = "gradient"
    else:
        target_arr = np.asarray(target, dtype=float)
        kind = "array"
    if target_arr.shape != shape:
        raise ValidationError(f"the target has shape {target_arr.shape}; expected {shape}",
                              argument="target", value=target_arr.shape)

    pi_b = policy.probabilities(theta_b)
    possible = (ev.pi > 0) & (pi_b > 0) & ~mdp.terminal[:, None]
    span = _score_span(policy, theta, possible)
    paired = None
    if (moments is None and covariance == "auto" and group_size == 1 and behaviour is None
            and not (isinstance(estimator, Estimator) and estimator.second_moment is not None)):
        paired = paired_bound(mdp, policy, theta, traj, est2, protocol=resolved, horizon=horizon)
    # the tests are invariant under a common scale: divide by a power of two (exact) so that squares of
    # estimates up to the float64 maximum do not overflow, and multiply means and SEs back
    e = _scale_exponent(units, target_arr)
    units_s, target_s = np.ldexp(units, -e), np.ldexp(target_arr.ravel(), -e)
    if moments is not None:
        res = exact_test(units_s, target_s, np.ldexp(moments.covariance, -2 * e))
    elif paired is not None:
        res = exact_test(units_s, target_s, np.ldexp(paired.covariance, -2 * e))
        res["test"] = "paired" if res["test"] == "chi2" else res["test"]
    else:
        res = mean_test(units_s, target_s, span)
        lam, reason, H_s, count = hidden_noncentrality(mdp, policy, theta, ev, pi_b, n_episodes, resolved,
                                                        horizon, res["eig"], n_units, e)
        res["se_scaled"], res["diff"] = res["se"], units_s.mean(axis=0) - target_s
        # without H nothing bounds what the rare outcomes may explain: the sample test decides nothing
        explained = (1.0 if reason is None or not np.all(np.isfinite(H_s))
                     else explained_p_value(res, H_s, count, alpha, n_units))
        res["hidden"] = (lam, reason, explained)
    res["mean"], res["se"] = np.ldexp(units_s.mean(axis=0), e), np.ldexp(res["se"], e)
    with np.errstate(over="ignore"):
        cov_back = np.ldexp(res["cov"], 2 * e)
    res["cov"] = cov_back if np.all(np.isfinite(cov_back)) else None    # beyond float64: not reported
    res["untested_difference"] = float(np.ldexp(res["untested_difference"], e))
    try:
        iid_trace = float(np.trace(advantage_draws_covariance(mdp, policy, theta, evaluation=ev)))
        ess = effective_sample_size(units_s, float(np.ldexp(iid_trace, -2 * e)))
    except ValidationError:                           # Σ_μ overflows float64 (rewards near its maximum)
        ess = float("nan")
    z = res["z"].reshape(shape)
    check = EstimatorCheck(
        estimator=name, target_kind=kind, protocol=resolved, horizon=traj.horizon,
        truncation_bound=float(traj.truncation_bound), n_episodes=n_episodes, group_size=group_size,
        n_units=n_units, mean_length=float(traj.lengths.mean()), test=res["test"], dof=res["dof"],
        statistic=float(res["statistic"]), p_value=float(res["p_value"]), alpha=alpha,
        holds=bool(res["p_value"] >= alpha), mean=res["mean"].reshape(shape), target=target_arr,
        standard_error=res["se"].reshape(shape), standardized_bias=z,
        max_abs_standardized_bias=(float(np.max(np.abs(z[res["varying"].reshape(shape)]), initial=0.0))
                                   if res["structural_ok"] else float("inf")),
        untested_dims=int(res["untested"]), untested_difference=float(res["untested_difference"]),
        kurtosis_ratio=float(res.get("kurtosis_ratio", np.nan)),
        effective_sample_size=ess, seed=seed,
        covariance_source="exact" if moments is not None else "paired" if paired is not None else "sample",
        unit_covariance=res["cov"],
        sampled_standard_error=np.ldexp(units_s.std(axis=0, ddof=1) / np.sqrt(n_units), e).reshape(shape),
        detect=detect_arr, reference=None if paired is None else paired.reference,
        reference_spread=None if paired is None else paired.s, varying=res["varying"].reshape(shape))
    if "hidden" in res:
        lam, reason, explained = res["hidden"]
        # outcomes the sample barely sees carry a noticeable part of the mean: the test decides only when
        # its rejection survives any shift of the mean they can cause
        inconclusive = (reason is not None and lam > MAX_HIDDEN_NONCENTRALITY and bool(res["structural_ok"])
                        and explained >= alpha)
        if inconclusive:
            reason = f"{reason}; allowing for them, p = {explained:.3g}"
        check = replace(check, hidden_noncentrality=lam, inconclusive_reason=reason if inconclusive else None,
                        status="inconclusive" if inconclusive else check.status,
                        holds=check.holds or inconclusive)
    if not check.holds:
        check = replace(check, status="rejected")
    if detect_arr is not None:
        check = replace(check, power=check.power_against(detect_arr))
    return check


def assert_unbiased(mdp: MDP, policy: Policy, theta: ArrayLike, estimator: Estimator | EstimateFunction, *,
                    n_episodes: int | Literal["auto"], protocol: ProtocolOption = "auto",
                    horizon: int | None = None, target: Literal["gradient"] | ArrayLike | None = "gradient",
                    alpha: float = 0.01, rng: np.random.Generator | int = 0,
                    covariance: CovarianceOption = "auto", detect: ArrayLike | None = None,
                    power: float = 0.9) -> EstimatorCheck:
    """:func:`~mdpgrad.check_estimator` for tests: raise AssertionError with a report when rejected.

    The default target is ``"gradient"`` (the exact ∇J): the assertion states
    that the estimator is unbiased.  Pass ``target=None`` to check the code
    against the estimator's own exact expectation instead.  The other
    arguments are those of :func:`~mdpgrad.check_estimator`.

    Parameters
    ----------
    mdp, policy, theta, estimator, n_episodes, protocol, horizon
        As in :func:`~mdpgrad.check_estimator`.
    target, alpha, rng, covariance, detect, power
        As in :func:`~mdpgrad.check_estimator`.

    Returns
    -------
    EstimatorCheck
        When the test does not reject.

    Raises
    ------
    AssertionError
        With :meth:`~mdpgrad.estimators.EstimatorCheck.report` as the message.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax, assert_unbiased
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1.0, 0.0], terminal=[False, True])
    >>> def reward_only(tr, policy, theta):          # forgets the score function: biased
    ...     return np.repeat(tr.rewards[:, :1, None], 2, axis=2) * [[1.0, 1.0], [0.0, 0.0]]
    >>> assert_unbiased(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)), reward_only,
    ...                 n_episodes=500)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: estimator 'reward_only': H0 mean = gradient REJECTED at alpha=0.01
    ...
    """
    check = check_estimator(mdp, policy, theta, estimator, n_episodes=n_episodes, protocol=protocol,
                            horizon=horizon, target=target, alpha=alpha, rng=rng, covariance=covariance,
                            detect=detect, power=power)
    if not check.holds:
        raise AssertionError(check.report())
    if check.status == "inconclusive":
        warnings.warn(InconclusiveTestWarning(check.report()), stacklevel=2)
    return check
