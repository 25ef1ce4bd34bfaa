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
reproducible from the seed given as ``rng``.

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

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from .._errors import ValidationError
from .._evaluation import evaluate
from .._model import MDP, validate_mdp
from .._policies import Policy, validate_parameterisation, validate_theta
from .._validation import as_real_array, check_choice, check_integer, check_real, check_rng
from ..gradients._theorem import policy_gradient
from ..sampling._sampler import ProtocolOption, StoppingProtocol, group_start_states, resolve_protocol, sample
from ..variance import advantage_draws_covariance, score_matrix
from ..variance import ess_or_inf as effective_sample_size
from ._contract import Estimator

__all__ = ["EstimatorCheck", "assert_unbiased", "check_estimator"]

#: What the sampled mean is tested against: the estimator's exact expectation, ∇J, or a given array.
TargetKind = Literal["expectation", "gradient", "array"]
#: The test that decided: Hotelling's T², Bonferroni-corrected t tests, or an exact comparison.
TestKind = Literal["hotelling", "bonferroni", "exact"]
#: A function of a batch of episodes returning one estimate per episode, shape (n, *param_shape).
EstimateFunction = Callable[..., Any]

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

def _stats() -> ModuleType:  # scipy.stats takes ~0.5 s to import; only the tests themselves need it
    from scipy import stats

    return stats


@dataclass(frozen=True, eq=False)
class EstimatorCheck:
    """Result of :func:`check_estimator`.

    Attributes
    ----------
    estimator : str
        The estimator's name.
    target_kind : {"expectation", "gradient", "array"}
        What the mean was tested against.
    protocol : {"terminal", "horizon", "geometric"}
        Sampling protocol used (``"auto"`` resolved).
    horizon : int or None
    truncation_bound : float
        γᴴ·max|r|/(1−γ) under ``"horizon"`` (the estimate of ∇J is biased by
        truncation; compare with the exact expectation to avoid it), else 0.
    n_episodes, group_size, n_units : int
        Episodes sampled; episodes per unit; independent units n = n_episodes / group_size.
    mean_length : float
        k, mean number of actions per episode.
    test : {"hotelling", "bonferroni", "exact"}
        The test that decided ("exact": the estimates did not vary at all).
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
        per (s, a) pair): the pairs of one episode are correlated samples, so
        with return-based estimates ESS is of the order of n, not k·n (see
        :func:`mdpgrad.variance.sample_efficiency`).  ∞ when the estimates do
        not vary.
    seed : int or None
        The integer seed passed as ``rng``; None when a Generator was passed.
    """

    estimator: str
    target_kind: TargetKind
    protocol: StoppingProtocol
    horizon: int | None
    truncation_bound: float
    n_episodes: int
    group_size: int
    n_units: int
    mean_length: float
    test: TestKind
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
    seed: int | None

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
    G = score_matrix(policy, theta, mask)
    if not G.any():
        return np.zeros((0, G.shape[1]))
    _, sv, Vt = np.linalg.svd(G, full_matrices=False)
    return Vt[sv > NULL_RTOL * sv.max()]


def check_estimator(mdp: MDP, policy: Policy, theta: ArrayLike, estimator: Estimator | EstimateFunction, *,
                    n_episodes: int, protocol: ProtocolOption = "auto", horizon: int | None = None,
                    target: Literal["gradient"] | ArrayLike | None = None, alpha: float = 0.01,
                    rng: np.random.Generator | int = 0) -> EstimatorCheck:
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
        recorded as :attr:`EstimatorCheck.seed`.

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
    ...                         n_episodes=2000, target="gradient", rng=1)
    >>> check.test, check.holds, check.target.tolist()
    ('hotelling', True, [[-0.25, 0.25], [0.0, 0.0]])
    """
    mdp = validate_mdp(mdp)
    policy = validate_parameterisation(policy)
    if (policy.n_states, policy.n_actions) != (mdp.n_states, mdp.n_actions):
        raise ValidationError(f"policy has {policy.n_states} states and {policy.n_actions} actions; the mdp "
                              f"has {mdp.n_states} and {mdp.n_actions}", argument="policy",
                              value=(policy.n_states, policy.n_actions))
    n_episodes = check_integer(n_episodes, "n_episodes", min_value=2)
    gen = check_rng(rng)
    seed = None if isinstance(rng, np.random.Generator) else int(rng)
    alpha = check_real(alpha, "alpha", min_value=0.0, max_value=1.0, min_open=True, max_open=True)
    estimate: EstimateFunction | None = getattr(estimator, "estimate", None)
    if estimate is None:
        if not callable(estimator):
            raise ValidationError(f"estimator is {estimator!r}; expected an Estimator or a callable "
                                  "(trajectories, policy, theta) -> (n, *param_shape)",
                                  argument="estimator", value=estimator)
        estimate = estimator
    name = str(getattr(estimator, "name", getattr(estimator, "__name__", repr(estimator))))
    group_size = check_integer(getattr(estimator, "group_size", 1), "group_size", min_value=1)
    if n_episodes % group_size:
        raise ValidationError(f"n_episodes is {n_episodes}; expected a multiple of the estimator's "
                              f"group_size {group_size}", argument="n_episodes", value=n_episodes)
    n_units = n_episodes // group_size
    if n_units < 2:
        raise ValidationError(f"n_episodes={n_episodes} gives {n_units} independent unit(s); "
                              "a variance needs at least 2", argument="n_episodes", value=n_episodes)
    shape = tuple(policy.param_shape)
    theta = validate_theta(theta, policy, batch=False)
    resolved = resolve_protocol(mdp, protocol, horizon)
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
    res = _mean_test(units, target_arr.ravel(), span)
    iid_trace = float(np.trace(advantage_draws_covariance(mdp, policy, theta, evaluation=ev)))
    z = res["z"].reshape(shape)
    return EstimatorCheck(
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
        effective_sample_size=effective_sample_size(units, iid_trace), seed=seed)


def assert_unbiased(mdp: MDP, policy: Policy, theta: ArrayLike, estimator: Estimator | EstimateFunction, *,
                    n_episodes: int, protocol: ProtocolOption = "auto", horizon: int | None = None,
                    target: Literal["gradient"] | ArrayLike | None = "gradient", alpha: float = 0.01,
                    rng: np.random.Generator | int = 0) -> EstimatorCheck:
    """:func:`check_estimator` for tests: raise AssertionError with a report when rejected.

    The default target is ``"gradient"`` (the exact ∇J): the assertion states
    that the estimator is unbiased.  Pass ``target=None`` to check the code
    against the estimator's own exact expectation instead.  The other
    arguments are those of :func:`check_estimator`.

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
                            horizon=horizon, target=target, alpha=alpha, rng=rng)
    if not check.holds:
        raise AssertionError(check.report())
    return check
