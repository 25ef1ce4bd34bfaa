"""A statistical harness: does a sampled gradient estimator have the mean it should?

What it computes
----------------
:func:`check_estimator` samples episodes from the exact model, runs an
estimator on them (one estimate per episode, or per group of episodes sharing
a start state), and tests H₀: E[estimate] = target at level α, where the target
is

* the estimator's exact expectation under the same protocol (the default):
  "is the code right?";
* ``"gradient"``, the exact ∇J: "is the estimator unbiased?";
* or any array of the parameter's shape.

The test is multivariate.  Hotelling's T² (Hotelling 1931; Anderson 2003,
§5.2) is used when the number of independent units n comfortably exceeds the
rank k of the sample covariance, n ≥ 10·k·max(1, b₂ / (k(k+2))) with b₂ Mardia's
multivariate kurtosis (Mardia 1970; k(k+2) for normal data, so heavy-tailed
estimates ask for proportionally more units), and that covariance is
well-conditioned on its range (condition number ≤ 1e8)::

    T² = n (x̄ − m)ᵀ Ĉ⁺ (x̄ − m),   (n − k) / (k (n − 1)) · T² ∼ F(k, n − k) under H₀

Otherwise it falls back to coordinate-wise t tests with a Bonferroni
correction, p = min(1, m · minᵢ pᵢ) over the m coordinates that vary.
Directions in which the estimates do not vary at all (e.g. the rows of a
softmax score sum to zero, or a terminal state's parameters) are checked
exactly: a mean differing from the target there is rejected with p = 0.

It also reports the standardized bias (x̄ − m)/SE per coordinate and the
effective sample size (see :class:`EstimatorCheck`).  Everything is
reproducible from ``seed``.

Limitations: like every normal-theory test it relies on the mean of the units
being close to normal.  Rare, large contributions (an action of probability
1e-3, a reward reached once in thousands of episodes) make the tails heavier
than the F or t distribution and the test anti-conservative; sample more
episodes, or keep policies away from determinism, when that matters.  The
covariance is d × d, so the harness is meant for parameters of dimension up to
a few thousand.

Identities checked by the tests (tests/test_harness.py): in one dimension T²
is the square of scipy's one-sample t statistic with the same p-value; the
Bonferroni p-value is m·min pᵢ of scipy's t tests; calibration — over 300 seeds
an unbiased REINFORCE is rejected at a rate inside the exact binomial interval
around α — and power — REINFORCE without γᵗ is rejected against ∇J on at least
99% of 200 seeds of an MDP where its exact bias is large.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import ValidationError
from .._evaluation import evaluate
from .._model import MDP
from .._policies import Policy
from ..gradients._theorem import policy_gradient
from ..sampling._sampler import group_start_states, resolve_protocol, sample
from ..variance import _scores, advantage_draws_covariance, effective_sample_size

__all__ = ["EstimatorCheck", "assert_unbiased", "check_estimator", "estimator_section"]

#: Eigenvalues of the sample covariance below this fraction of the largest are
#: structural zeros (exact linear constraints leave ≈ d·1e-16 of rounding);
#: 1e-10 sits far above rounding and far below any genuine variance direction.
NULL_RTOL = 1e-10

#: Where the estimates do not vary, mean and target must agree to this relative
#: tolerance: both are sums of identical numbers or a linear solve (error ≈ 1e-13).
EXACT_RTOL = 1e-9

#: Hotelling's T² needs n ≥ HOTELLING_UNITS_PER_DIM · k · max(1, b₂/(k(k+2))) units for rank k
#: (b₂ Mardia's kurtosis; the factor is 1 for normal data) ...
HOTELLING_UNITS_PER_DIM = 10

#: ... and a covariance with condition number ≤ this on its range (eigenvalues
#: are then accurate to ≈ 1e-8 relative, so Ĉ⁺ is trustworthy).
HOTELLING_MAX_CONDITION = 1e8

#: The ``mdpgrad check`` section samples only models with at most this many
#: state-action pairs (its covariance is (S·A)²; episodes of big models are long).
SECTION_MAX_PAIRS = 64

#: Episodes and level of the report section's checks.  At α = 0.001 a correct
#: estimator is flagged on one seed in a thousand; the seed is fixed, so the
#: report is reproducible.
SECTION_EPISODES = 4000
SECTION_ALPHA = 1e-3

#: The section marks the report as failed (exit status 1) only on overwhelming
#: evidence, p below this: a rejection at α alone happens by chance on some
#: seeds (more often for heavy-tailed returns) and is shown, not failed.
SECTION_FAIL_P = 1e-9


def _stats():  # scipy.stats takes ~0.5 s to import; only the tests themselves need it
    from scipy import stats

    return stats


@dataclass(frozen=True, eq=False)
class EstimatorCheck:
    """Result of :func:`check_estimator`.

    Attributes
    ----------
    estimator : str
        The estimator's name.
    target_kind : str
        ``"expectation"``, ``"gradient"`` or ``"array"``.
    protocol : str
        Sampling protocol used (``"auto"`` resolved).
    horizon : int or None
    truncation_bound : float
        γᴴ·max|r|/(1−γ) under ``"horizon"`` (the estimate of ∇J is biased by
        truncation; compare with the exact expectation to avoid it), else 0.
    n_episodes, group_size, n_units : int
        Episodes sampled; episodes per unit; independent units n = n_episodes / group_size.
    mean_length : float
        k, mean number of actions per episode.
    test : str
        ``"hotelling"``, ``"bonferroni"`` or ``"exact"`` (no variance at all).
    dof : tuple of int
        (k, n − k) for Hotelling's F; (m, n − 1) for the Bonferroni t tests; (0, 0) for exact.
    statistic : float
        Hotelling's T², or max |tᵢ| for Bonferroni (∞ when an exact direction disagrees).
    p_value, alpha : float
    holds : bool
        p_value ≥ alpha: H₀ (mean = target) is not rejected at level alpha.
    mean, target, standard_error, standardized_bias : ndarray, shape param_shape
        x̄, m, SE = sd/√n and (x̄ − m)/SE (0 where SE = 0 and x̄ = m, ±∞ where SE = 0 and x̄ ≠ m).
    max_abs_standardized_bias : float
        Over the coordinates that varied (variance above rounding); ∞ after a
        structural mismatch.
    untested_dims : int
        Directions in the span of the scores ∇log π in which the estimates never
        varied (events too rare to be sampled, or an estimator that ignores
        them): no variance, so no test; a difference there does not reject.
    untested_difference : float
        Largest |x̄ − m| component in those directions (0 when none).
    kurtosis_ratio : float
        Mardia's b₂ / (k(k+2)) of the units (≈ 1 for normal data; NaN when
        nothing varied), which sets how many units Hotelling's T² asks for.
    effective_sample_size : float
        ESS = tr Σ_μ / tr Ĉov(x̄): the number of i.i.d. draws (s, a) ∼ μ of
        g = (Σ η) adv(s, a) ∇log π(a|s) (exact advantage, mean ∇J) whose
        average would have the same total variance as this estimate.  Compare
        it with n_units (one sample per episode) and n_units · mean_length (one
        per (s, a) pair): the essay's third intuition is ESS ≈ n, not k·n.
        ∞ when the estimates do not vary.
    seed : int
    """

    estimator: str
    target_kind: str
    protocol: str
    horizon: int | None
    truncation_bound: float
    n_episodes: int
    group_size: int
    n_units: int
    mean_length: float
    test: str
    dof: tuple[int, int]
    statistic: float
    p_value: float
    alpha: float
    holds: bool
    mean: np.ndarray
    target: np.ndarray
    standard_error: np.ndarray
    standardized_bias: np.ndarray
    max_abs_standardized_bias: float
    untested_dims: int
    untested_difference: float
    kurtosis_ratio: float
    effective_sample_size: float
    seed: int

    def report(self) -> str:
        """A readable multi-line summary (the message of :func:`assert_unbiased`)."""
        verdict = "not rejected" if self.holds else "REJECTED"
        worst = int(np.argmax(np.abs(np.nan_to_num(self.standardized_bias.ravel(), posinf=1e300,
                                                       neginf=-1e300))))
        widx = np.unravel_index(worst, self.mean.shape)
        lines = [
            f"estimator {self.estimator!r}: H0 mean = {self.target_kind} {verdict} at alpha={self.alpha:g}",
            f"  test: {self.test}, statistic={self.statistic:.4g}, dof={self.dof}, p={self.p_value:.3g}"
            f" (kurtosis ratio {self.kurtosis_ratio:.3g})",
            f"  sampling: protocol={self.protocol}"
            + (f", horizon={self.horizon}, truncation bound={self.truncation_bound:.3g}"
               if self.horizon is not None else "")
            + f", {self.n_episodes} episodes in {self.n_units} unit(s) of {self.group_size}, "
              f"mean length {self.mean_length:.3g}, seed={self.seed}",
            f"  max |standardized bias| = {self.max_abs_standardized_bias:.3g} "
            f"at theta{list(map(int, widx))}: "
            f"mean {self.mean[widx]:.6g}, target {self.target[widx]:.6g}, SE {self.standard_error[widx]:.3g}",
            f"  effective sample size {self.effective_sample_size:.4g} i.i.d. draws from mu "
            f"(units: {self.n_units}, state-action pairs: {self.n_units * self.mean_length:.4g})",
        ]
        scale = max(1.0, float(np.max(np.abs(self.target), initial=0.0)))
        if self.untested_dims and self.untested_difference > EXACT_RTOL * scale:
            lines.append(f"  {self.untested_dims} direction(s) never varied in the sample and were not "
                         f"tested (mean - target there up to {self.untested_difference:.3g}); "
                         "sample more episodes to cover rare events")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def _check_int(name: str, value: Any, low: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise ValidationError(f"{name} is {value!r}; expected an integer >= {low}",
                              argument=name, value=value)
    return int(value)


def _mean_test(units: np.ndarray, target: np.ndarray, span: np.ndarray | None) -> dict[str, Any]:
    """Test H₀: E[units] = target with n independent rows (see module docstring).

    ``span`` is an orthonormal basis (r, d) of the directions an estimate can
    take (the span of the score vectors ∇log π(a|s)); None means all of ℝᵈ.
    """
    n, d = units.shape
    mean = units.mean(axis=0)
    diff = mean - target
    C = np.atleast_2d(np.cov(units, rowvar=False, ddof=1))
    w, V = np.linalg.eigh(C)
    top = float(w.max(initial=0.0))
    se = np.sqrt(np.clip(np.diag(C), 0.0, None) / n)
    # coordinates whose variance is at rounding level (≤ NULL_RTOL of the largest) do not vary
    varying = np.diag(C) > NULL_RTOL * top if top > 0 else np.zeros(d, dtype=bool)
    scale = max(1.0, float(np.max(np.abs(target), initial=0.0)), float(np.max(np.abs(mean), initial=0.0)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(varying, diff / np.where(varying, se, 1.0),
                     np.where(np.abs(diff) <= EXACT_RTOL * scale, 0.0, np.sign(diff) * np.inf))
    keep = w > NULL_RTOL * top if top > 0 else np.zeros(d, dtype=bool)
    k = int(keep.sum())
    # Structural check: a direction outside the span of the scores in which the estimates never
    # vary cannot hold any difference between a correct mean and its target.  Other directions
    # that never varied (rare events not sampled) are left untested.
    outside = diff if span is None else diff - span.T @ (span @ diff)
    Vn = V[:, ~keep]
    structural = Vn @ (Vn.T @ outside)
    structural_ok = bool(np.max(np.abs(structural), initial=0.0) <= EXACT_RTOL * scale)
    n_structural = 0 if span is None else d - span.shape[0]
    inside = diff - outside
    out: dict[str, Any] = dict(mean=mean, se=se, z=z, varying=varying, untested=max(0, d - k - n_structural),
                               untested_difference=float(np.max(np.abs(Vn @ (Vn.T @ inside)), initial=0.0)),
                               structural_ok=structural_ok)
    if k == 0:
        out.update(test="exact", dof=(0, 0), statistic=0.0 if structural_ok else np.inf,
                   p_value=1.0 if structural_ok else 0.0)
        return out
    cond = float(w[keep].max() / w[keep].min())
    # Mardia's multivariate kurtosis b₂ = mean(dᵢ⁴), dᵢ² the Mahalanobis norm of unit i; k(k+2) for
    # normal data.  Heavy tails make Ĉ noisy and T² anti-conservative, so ask for proportionally more units.
    Y = (units - mean) @ V[:, keep] / np.sqrt(w[keep])
    kurtosis_ratio = float(np.mean(np.sum(Y ** 2, axis=1) ** 2)) / (k * (k + 2))
    out["kurtosis_ratio"] = kurtosis_ratio
    needed = HOTELLING_UNITS_PER_DIM * k * max(1.0, kurtosis_ratio)
    if n >= needed and n > k and cond <= HOTELLING_MAX_CONDITION:
        proj = V[:, keep].T @ diff
        T2 = float(n * np.sum(proj ** 2 / w[keep]))
        F = (n - k) / (k * (n - 1)) * T2
        p = float(_stats().f.sf(F, k, n - k))
        out.update(test="hotelling", dof=(k, n - k), statistic=T2 if structural_ok else np.inf,
                   p_value=p if structural_ok else 0.0)
        return out
    m = int(varying.sum())
    t = np.abs(z[varying])
    p_each = 2.0 * _stats().t.sf(t, n - 1)
    p = float(min(1.0, m * p_each.min())) if m else 1.0
    out.update(test="bonferroni", dof=(m, n - 1),
               statistic=float(t.max(initial=0.0)) if structural_ok else np.inf,
               p_value=p if structural_ok else 0.0)
    return out


def _score_span(policy: Policy, theta: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Orthonormal basis (r, d) of span{∇log π(a|s) : mask[s, a]}."""
    G = _scores(policy, theta, mask)
    if not G.any():
        return np.zeros((0, G.shape[1]))
    _, sv, Vt = np.linalg.svd(G, full_matrices=False)
    return Vt[sv > NULL_RTOL * sv.max()]


def check_estimator(mdp: MDP, policy: Policy, theta: Any, estimator: Any, *, n_episodes: int,
                    protocol: str = "auto", horizon: int | None = None, target: Any = None,
                    alpha: float = 0.01, seed: int = 0) -> EstimatorCheck:
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
    n_episodes : int
        Episodes to sample (a multiple of the group size).
    protocol : {"auto", "terminal", "horizon", "geometric"}
        As in :func:`mdpgrad.sampling.sample`.
    horizon : int, optional
        H for protocol ``"horizon"``.
    target : None, "gradient" or ndarray
        None: the exact ``estimator.expectation(mdp, policy, theta, protocol=…,
        horizon=…)``; "gradient": the exact ∇J; or an array of θ's shape.
    alpha : float
        Level of the test, 0 < α < 1.
    seed : int
        Seed of the ``numpy.random.Generator`` used for all sampling.

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

    >>> from mdpgrad import TabularSoftmax
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1.0, 0.0], terminal=[False, True])
    >>> def score_function(tr, policy, theta):
    ...     w = np.zeros((tr.n_episodes, 2, 2))
    ...     w[np.arange(tr.n_episodes), tr.states[:, 0], tr.actions[:, 0]] = tr.rewards[:, 0]
    ...     return policy.log_prob_vjp(theta, w)
    >>> check = check_estimator(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)), score_function,
    ...                         n_episodes=2000, target="gradient", seed=1)
    >>> check.test, check.holds, check.target.tolist()
    ('hotelling', True, [[-0.25, 0.25], [0.0, 0.0]])
    """
    n_episodes = _check_int("n_episodes", n_episodes, 2)
    seed = _check_int("seed", seed, 0)
    if not (isinstance(alpha, numbers.Real) and 0.0 < float(alpha) < 1.0):
        raise ValidationError(f"alpha is {alpha!r}; expected a number in (0, 1)",
                              argument="alpha", value=alpha)
    estimate: Callable[..., Any] | None = getattr(estimator, "estimate", None)
    if estimate is None:
        if not callable(estimator):
            raise ValidationError(f"estimator is {estimator!r}; expected an Estimator or a callable "
                                  "(trajectories, policy, theta) -> (n, *param_shape)",
                                  argument="estimator", value=estimator)
        estimate = estimator
    name = str(getattr(estimator, "name", getattr(estimator, "__name__", repr(estimator))))
    group_size = _check_int("group_size", getattr(estimator, "group_size", 1), 1)
    if n_episodes % group_size:
        raise ValidationError(f"n_episodes is {n_episodes}; expected a multiple of the estimator's "
                              f"group_size {group_size}", argument="n_episodes", value=n_episodes)
    n_units = n_episodes // group_size
    if n_units < 2:
        raise ValidationError(f"n_episodes={n_episodes} gives {n_units} independent unit(s); "
                              "a variance needs at least 2", argument="n_episodes", value=n_episodes)
    theta = np.asarray(theta, dtype=float)
    shape = tuple(policy.param_shape)
    if theta.shape != shape:
        raise ValidationError(f"theta has shape {theta.shape}; expected {shape}", argument="theta",
                              value=theta.shape)
    protocol = resolve_protocol(mdp, protocol, horizon)
    if isinstance(target, str) and target != "gradient":
        raise ValidationError(f"target is {target!r}; expected None, 'gradient' or an array",
                              argument="target", value=target)
    if target is None and getattr(estimator, "expectation", None) is None:
        raise ValidationError("target is None but the estimator has no exact expectation; "
                              "pass target='gradient' or an array", argument="target")

    behaviour = getattr(estimator, "behaviour_theta", None)
    theta_b = theta if behaviour is None else np.asarray(behaviour, dtype=float)
    rng = np.random.default_rng(seed)
    starts = (group_start_states(mdp, n_units, group_size, rng=rng) if group_size > 1 else None)
    traj = sample(mdp, policy.probabilities(theta_b), n_episodes, rng=rng, protocol=protocol,
                  horizon=horizon, start_states=starts)
    est = np.asarray(estimate(traj, policy, theta), dtype=float)
    if est.shape != (n_episodes, *shape):
        raise ValidationError(f"the estimator returned shape {est.shape}; expected ({n_episodes}, "
                              f"{', '.join(map(str, shape))})", argument="estimator", value=est.shape)
    units = est.reshape(n_units, group_size, -1).mean(axis=1)

    ev = evaluate(mdp, policy.probabilities(theta), validate=False)
    if target is None:
        target_arr = np.asarray(estimator.expectation(mdp, policy, theta, protocol=protocol,
                                                      horizon=horizon), dtype=float)
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
    res = _mean_test(units, target_arr.ravel(), span)
    iid_trace = float(np.trace(advantage_draws_covariance(mdp, policy, theta, evaluation=ev)))
    z = res["z"].reshape(shape)
    return EstimatorCheck(
        estimator=name, target_kind=kind, protocol=protocol, horizon=traj.horizon,
        truncation_bound=float(traj.truncation_bound), n_episodes=n_episodes, group_size=group_size,
        n_units=n_units, mean_length=float(traj.lengths.mean()), test=res["test"], dof=res["dof"],
        statistic=float(res["statistic"]), p_value=float(res["p_value"]), alpha=float(alpha),
        holds=bool(res["p_value"] >= alpha), mean=res["mean"].reshape(shape), target=target_arr,
        standard_error=res["se"].reshape(shape), standardized_bias=z,
        max_abs_standardized_bias=(float(np.max(np.abs(z[res["varying"].reshape(shape)]), initial=0.0))
                                   if res["structural_ok"] else float("inf")),
        untested_dims=int(res["untested"]), untested_difference=float(res["untested_difference"]),
        kurtosis_ratio=float(res.get("kurtosis_ratio", np.nan)),
        effective_sample_size=effective_sample_size(units, iid_trace), seed=seed)


def assert_unbiased(mdp: MDP, policy: Policy, theta: Any, estimator: Any, *, n_episodes: int,
                    protocol: str = "auto", horizon: int | None = None, target: Any = "gradient",
                    alpha: float = 0.01, seed: int = 0) -> EstimatorCheck:
    """:func:`check_estimator` for tests: raise AssertionError with a report when rejected.

    The default target is ``"gradient"`` (the exact ∇J): the assertion states
    that the estimator is unbiased.  Pass ``target=None`` to check the code
    against the estimator's own exact expectation instead.

    Returns
    -------
    EstimatorCheck
        When the test does not reject.

    Raises
    ------
    AssertionError
        With :meth:`EstimatorCheck.report` as the message.

    Examples
    --------
    >>> from mdpgrad import TabularSoftmax
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
                            horizon=horizon, target=target, alpha=alpha, seed=seed)
    if not check.holds:
        raise AssertionError(check.report())
    return check


def estimator_section(ctx: Any) -> Any:
    """Report section for ``mdpgrad check``: REINFORCE sampled against its exact expectation and ∇J.

    Runs :func:`check_estimator` on REINFORCE with γᵗ (against its exact
    expectation, then against ∇J) and on the γᵗ-less update (against ∇J, with
    its exact bias), with seed ``ctx.seed`` (0 when unset).  Opts out (None)
    for models with more than :data:`SECTION_MAX_PAIRS` state-action pairs.

    Parameters
    ----------
    ctx : mdpgrad.report.CheckContext

    Returns
    -------
    mdpgrad.report.Section or None
    """
    from .._report.base import Section  # the report package is optional for library users
    from . import reinforce_estimator, reinforce_without_discount_estimator

    mdp, pol, theta = ctx.mdp, ctx.policy, ctx.theta
    if mdp.n_states * mdp.n_actions > SECTION_MAX_PAIRS:
        return None
    seed = 0 if ctx.seed is None else int(ctx.seed)
    kw = dict(n_episodes=SECTION_EPISODES, alpha=SECTION_ALPHA, seed=seed)
    plain = reinforce_estimator()
    code = check_estimator(mdp, pol, theta, plain, **kw)
    unbiased = check_estimator(mdp, pol, theta, plain, target="gradient", **kw)
    no_discount = reinforce_without_discount_estimator()
    biased = check_estimator(mdp, pol, theta, no_discount, target="gradient", **kw)
    exact_bias = float(np.max(np.abs(no_discount.expectation(mdp, pol, theta, protocol=biased.protocol)
                                      - biased.target)))

    def line(c: EstimatorCheck) -> str:
        return (f"{'agrees' if c.holds else 'rejected'} (p = {c.p_value:.3g}, {c.test}, "
                f"max |z| = {c.max_abs_standardized_bias:.3g})")

    rows = [
        ("sampling", f"{SECTION_EPISODES} episodes, protocol {code.protocol}, mean length "
                     f"{code.mean_length:.3g}, seed {seed}, alpha {SECTION_ALPHA:g}"),
        ("REINFORCE vs exact E", line(code)),
        ("REINFORCE vs grad J", line(unbiased)),
        ("effective sample size", f"{code.effective_sample_size:.4g} i.i.d. draws from mu for "
                                  f"{code.n_units} episodes ({code.n_units * code.mean_length:.4g} pairs)"),
    ]
    scale = max(1.0, float(np.max(np.abs(biased.target), initial=0.0)))
    if exact_bias > EXACT_RTOL * scale:  # the two coincide under "geometric" and when γ = 1
        rows.insert(3, ("no gamma^t vs grad J", line(biased) + f"; exact bias max {exact_bias:.3g}"))
    data = dict(n_episodes=SECTION_EPISODES, protocol=code.protocol, seed=seed, alpha=SECTION_ALPHA,
                reinforce_vs_expectation_p=code.p_value, reinforce_vs_gradient_p=unbiased.p_value,
                without_discount_vs_gradient_p=biased.p_value, without_discount_exact_bias=exact_bias,
                effective_sample_size=code.effective_sample_size, mean_length=code.mean_length)
    return Section("estimators", "Sampled gradient estimators", rows, data,
                   ok=code.p_value >= SECTION_FAIL_P)
