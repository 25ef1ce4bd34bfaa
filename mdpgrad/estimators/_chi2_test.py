"""The harness's test with the exact covariance of one episode, and the number of episodes it needs.

What it computes
----------------
When the estimator has a closed-form second moment
(:func:`mdpgrad.estimators.estimator_moments` succeeds: the library's REINFORCE
family, baselines, GAE, PPO with an advantage table; one episode per unit), the
harness uses the EXACT covariance Σ of one episode instead of a sample
covariance (test ``"chi2"``)::

    q = n (x̄ − m)ᵀ Σ⁺ (x̄ − m),   k = rank Σ.

Under H₀, E q = k exactly and, with y = Σ^{-1/2}(ĝ − E ĝ) and β₂ = E‖y‖⁴
(Mardia's kurtosis of one episode; k(k+2) for normal data),
Var q = 2k + (β₂ − k(k+2))/n exactly.  q is referred to c·χ²(ν) with the same two
moments, c = Var q/(2k), ν = 2k²/Var q (Satterthwaite 1946; Box 1954), β₂
estimated by its sample value b₂; as n → ∞ this is χ²(k).  Why it is calibrated
where a sample covariance is not: inverting Ĉ built from heavy-tailed estimates
(rare, large returns) errs at order 1/√n, and Ĉ is correlated with x̄, so T²
over-rejects (a correct REINFORCE on the episodic 4 × 4 gridworld under the
uniform policy: 7.1% of 1000 tests at α = 0.05 with 4000 episodes); with Σ exact
the only error left is the non-normality of x̄, whose leading term in the
variance of q is the kurtosis correction above, and the rejection rate falls in
the exact binomial interval of α (tests/test_harness_calibration.py).
Directions outside the range of Σ are exact: the episodes do not vary there, so
a mean that differs from the target by more than rounding (EXACT_RTOL) and
CHEBYSHEV_FACTOR sampled standard deviations is rejected with p = 0, whatever
the target (∇J included).  :func:`~mdpgrad.estimators.sample_size` inverts the power of this test,
Pr(χ'²(k, λ) > c·χ²_{1−α}(ν)) with λ = n·biasᵀ Σ⁺ bias and the test's own
kurtosis-corrected critical value, to choose n (``n_episodes="auto",
detect=bias``), and :meth:`EstimatorCheck.power_against` reports the power the
test had.  The paired test of a hand-written estimator (``"paired"``,
``mdpgrad.estimators._paired``) is this test run with the bound (1 + s)² Σ_ref
in place of Σ.

Limitations: the χ² test with the exact Σ still relies on x̄ being close to
normal beyond its first two moments: its error is of order 1/n, with a constant
that grows with the skewness and kurtosis of one episode (an action of
probability 1e-3, a reward reached once in thousands of episodes), and b₂ is
itself a noisy estimate when the tails are heavy.
:func:`~mdpgrad.estimators.sample_size` takes the noncentral χ² as the law of q under
the alternative; with heavy tails the realised power falls short (72.7 %
instead of 80 % at α = 0.01 on the jackpot model of tests/test_harness_paired.py),
and passing the episodes' kurtosis ratio restores it (83.0 % at the corrected n;
benchmarks/bench_harness_calibration.py).

Identities checked by the tests (tests/test_harness.py,
tests/test_harness_calibration.py): q and its p-value equal an independent
computation with numpy's pseudo-inverse of estimator_moments' covariance;
calibration — a correct REINFORCE is rejected at a rate whose exact
(Clopper–Pearson) 99% interval contains α, over 200–300 seeds on the example
models — and power — REINFORCE without γᵗ is rejected against ∇J on at least
99% of 200 seeds of an MDP where its exact bias is large;
:func:`~mdpgrad.estimators.sample_size` is the boundary of the power (n − 1
episodes fall short, n do not; in one dimension the closed-form normal power),
and the rejection rate at that n matches the power over 300 seeds.

References: F. E. Satterthwaite, "An approximate distribution of estimates of
variance components", Biometrics Bulletin 2(6), 1946; G. E. P. Box, "Some
theorems on quadratic forms applied in the study of analysis of variance
problems, I", Ann. Math. Statist. 25(2), 1954; C. J. Clopper and E. S. Pearson,
"The use of confidence or fiducial limits illustrated in the case of the
binomial", Biometrika 26(4), 1934.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._errors import ValidationError
from .._validation import as_real_array, check_real
from ._moments import EstimatorMoments

__all__ = ["CHEBYSHEV_FACTOR", "COVARIANCE_RTOL", "EXACT_RTOL", "NULL_RTOL", "chi2_power", "exact_test",
           "range_split", "sample_size", "sample_size_from_covariance", "scipy_stats"]

#: Eigenvalues of the sample covariance below this fraction of the largest are
#: structural zeros (exact linear constraints leave ≈ d·1e-16 of rounding);
#: 1e-10 sits far above rounding and far below any genuine variance direction.
NULL_RTOL = 1e-10

#: Where the estimates do not vary, mean and target must agree to this relative
#: tolerance: both are sums of identical numbers or a linear solve (error ≈ 1e-13).
EXACT_RTOL = 1e-9

#: Directions in which the exact covariance is ≤ NULL_RTOL of its largest eigenvalue are checked
#: exactly; a sampled mean may still move there by its (tiny) standard deviation, so the check allows
#: CHEBYSHEV_FACTOR standard deviations: by Chebyshev's inequality a correct mean exceeds that with
#: probability ≤ 1/CHEBYSHEV_FACTOR² = 1e-8 per direction, whatever the tails.
CHEBYSHEV_FACTOR = 1e4

#: Relative rounding of an exact covariance (linear solves and eigh, ≈ d·1e-16 ≤ 1e-13): eigenvalues
#: below this fraction of the largest are structural zeros, not variances.
COVARIANCE_RTOL = 1e-12


def scipy_stats() -> ModuleType:  # scipy.stats takes ~0.5 s to import; only the tests themselves need it
    from scipy import stats

    return stats


def exact_test(units: np.ndarray, target: np.ndarray, cov: np.ndarray) -> dict[str, Any]:
    """Test H₀: E[units] = target knowing the exact covariance ``cov`` of one unit.

    q = n (x̄ − m)ᵀ Σ⁺ (x̄ − m) on the range of Σ, χ²(k) under H₀ (k = rank Σ);
    outside the range the units do not vary, and a mean differing from the
    target there by more than rounding and CHEBYSHEV_FACTOR standard
    deviations is rejected with p = 0.
    """
    n, d = units.shape
    mean = units.mean(axis=0)
    diff = mean - target
    w, V = np.linalg.eigh(cov)
    top = float(max(w.max(initial=0.0), 0.0))
    keep = w > NULL_RTOL * top if top > 0 else np.zeros(d, dtype=bool)
    k = int(keep.sum())
    var = np.clip(np.diag(cov), 0.0, None)
    se = np.sqrt(var / n)
    varying = var > NULL_RTOL * top if top > 0 else np.zeros(d, dtype=bool)
    scale = max(1.0, float(np.max(np.abs(target), initial=0.0)), float(np.max(np.abs(mean), initial=0.0)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(varying, diff / np.where(varying, se, 1.0),
                     np.where(np.abs(diff) <= EXACT_RTOL * scale, 0.0, np.sign(diff) * np.inf))
    Vn = V[:, ~keep]
    off = np.abs(Vn.T @ diff)
    # a genuine (tiny) variance wn there, or a sampled spread, lets the mean move by a few of its SEs;
    # eigenvalues below the covariance's rounding are structural zeros (exact linear constraints)
    wn = w[~keep]
    true_var = np.where(wn > COVARIANCE_RTOL * top, wn, 0.0)
    sample_var = np.var((units - mean) @ Vn, axis=0) if Vn.shape[1] else np.zeros(0)
    allowed = EXACT_RTOL * scale + CHEBYSHEV_FACTOR * np.sqrt(np.maximum(true_var, sample_var) / n)
    structural_ok = bool(np.all(off <= allowed))
    out: dict[str, Any] = dict(mean=mean, se=se, z=z, varying=varying, untested=0, untested_difference=0.0,
                               structural_ok=structural_ok, cov=cov)
    if k == 0:
        out.update(test="exact", dof=(0, 0), statistic=0.0 if structural_ok else np.inf,
                   p_value=1.0 if structural_ok else 0.0, kurtosis_ratio=np.nan)
        return out
    # E q = k exactly; Var q = 2k + (β₂ − k(k+2))/n with β₂ = E‖Σ^{-1/2}(ĝ − E ĝ)‖⁴ (Mardia's kurtosis of
    # one unit), estimated by its sample value b₂.  Match both moments with c·χ²(ν) (Satterthwaite 1946).
    Y = (units - mean) @ V[:, keep] / np.sqrt(w[keep])
    b2 = float(np.mean(np.sum(Y ** 2, axis=1) ** 2))
    out["kurtosis_ratio"] = b2 / (k * (k + 2))
    q = float(n * np.sum((V[:, keep].T @ diff) ** 2 / w[keep]))
    var_q = max(float(k), 2.0 * k + (b2 - k * (k + 2)) / n)
    c, nu = var_q / (2.0 * k), 2.0 * k * k / var_q
    p = float(scipy_stats().chi2.sf(q / c, nu))
    out.update(test="chi2", dof=(k, 0), statistic=q if structural_ok else np.inf,
               p_value=p if structural_ok else 0.0)
    return out


def range_split(cov: np.ndarray, bias: np.ndarray) -> tuple[int, float, float]:
    """(k, δ, outside): rank of Σ, δ = biasᵀ Σ⁺ bias on its range, largest |bias| component outside it."""
    w, V = np.linalg.eigh(cov)
    top = float(max(w.max(initial=0.0), 0.0))
    keep = w > NULL_RTOL * top if top > 0 else np.zeros(w.shape, dtype=bool)
    proj = V.T @ bias
    delta = float(np.sum(proj[keep] ** 2 / w[keep]))
    outside = float(np.max(np.abs(proj[~keep]), initial=0.0))
    return int(keep.sum()), delta, outside


def chi2_power(k: int, lam: float, alpha: float, n: int = 1, kurtosis_ratio: float = 1.0) -> float:
    """Power of the harness's level-α χ² test at noncentrality λ: Pr(χ'²(k, λ) > c·χ²_{1−α}(ν)).

    c·χ²(ν) is the null law the test uses after its kurtosis correction (module docstring):
    Var q = 2k + (κ − 1)·k(k+2)/n with κ = β₂/(k(k+2)), c = Var q/(2k), ν = 2k²/Var q; κ = 1
    (normal episodes) gives c = 1, ν = k, the plain χ²(k) critical value.
    """
    stats = scipy_stats()
    var_q = max(float(k), 2.0 * k + (kurtosis_ratio - 1.0) * k * (k + 2) / n)
    c, nu = var_q / (2.0 * k), 2.0 * k * k / var_q
    crit = c * float(stats.chi2.isf(alpha, nu))
    return float(stats.chi2.sf(crit, k)) if lam == 0.0 else float(stats.ncx2.sf(crit, k, lam))


def sample_size(moments: EstimatorMoments, bias: ArrayLike, *, alpha: float = 0.01,
                power: float = 0.9, kurtosis_ratio: float = 1.0) -> int:
    """Episodes needed for the harness's χ² test to detect a bias with a given power.

    The harness's test with the exact covariance Σ of one episode rejects
    H₀: E ĝ = m at level α when q = n (x̄ − m)ᵀ Σ⁺ (x̄ − m) exceeds the 1 − α
    quantile of χ²(k), k = rank Σ.  When the true mean is m + bias, q is
    (asymptotically) noncentral χ²(k, λ) with λ = n · biasᵀ Σ⁺ bias, so the
    power n ↦ Pr(χ'²(k, λ) > χ²_{1−α}(k)) increases with n; this returns the
    smallest n at which it reaches ``power``.  The test corrects its critical
    value for the kurtosis of one episode (it refers q to c·χ²(ν), c ≥ 1 when
    the episodes are heavier-tailed than normal); pass that kurtosis as
    ``kurtosis_ratio`` (β₂/(k(k+2)), reported by a previous check as
    ``EstimatorCheck.kurtosis_ratio``) to include the correction, which
    raises n.  The power is still asymptotic: the law of q under the
    alternative is taken as noncentral χ², which skewed, heavy-tailed episodes
    do not follow; measured on the jackpot model of
    tests/test_harness_paired.py (a 10⁻³ transition paying 1000) the realised
    power falls short of the target by several points (see the tests), so ask
    for a margin there.  A bias with a component outside
    the range of Σ (a direction in which the episodes do not vary at all) is
    detected with certainty by the harness's exact check: n = 1.

    Parameters
    ----------
    moments : EstimatorMoments
        From :func:`mdpgrad.estimators.estimator_moments` (its covariance is Σ).
    bias : array_like, shape param_shape
        The difference between the true mean and the target to detect.
    alpha : float
        Level of the test, 0 < α < 1.
    power : float
        Required probability of rejecting, α < power < 1.
    kurtosis_ratio : float, default 1
        β₂/(k(k+2)) of one episode's whitened estimate (1 for normal data,
        > 1 for heavy tails); ≥ 0.

    Returns
    -------
    int
        The smallest n ≥ 1 with power(n) ≥ ``power``.

    Raises
    ------
    ValidationError
        For a zero bias (argument ``"bias"``: it cannot be detected), a bias
        of the wrong shape, or α, power out of range.

    References
    ----------
    E. L. Lehmann and J. P. Romano, Testing Statistical Hypotheses, 3rd ed.,
    2005, §3.9 and §7.1 (power of χ² tests, noncentral χ²).

    Examples
    --------
    One decision between rewards 0 and 1 under π = (½, ½): the estimate of
    state 0 varies only along u = (−1, 1)/√2, with variance 2·(1/16) = 1/8.  A
    bias (−0.01, 0.01) = 0.02/√2 · u has λ = n·(0.02²/2)/(1/8) = 0.0016·n, and
    one degree of freedom needs λ = (z_{0.975} + z_{0.8})² ≈ 7.85 for power 0.8
    at α = 0.05.  A bias (0.01, 0.01) leaves the span of the scores, where
    the estimate never varies: one episode shows it.

    >>> import numpy as np
    >>> from mdpgrad.estimators import estimator_moments, reinforce_estimator, sample_size
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])
    >>> mom = estimator_moments(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)), reinforce_estimator())
    >>> sample_size(mom, [[-0.01, 0.01], [0.0, 0.0]], alpha=0.05, power=0.8)
    4906
    >>> sample_size(mom, [[0.01, 0.01], [0.0, 0.0]], alpha=0.05, power=0.8)
    1
    """
    from ._moments import EstimatorMoments as _Moments

    if not isinstance(moments, _Moments):
        raise ValidationError(f"moments is {type(moments).__name__}; expected EstimatorMoments "
                              "(mdpgrad.estimators.estimator_moments)", argument="moments", value=moments)
    alpha = check_real(alpha, "alpha", min_value=0.0, max_value=1.0, min_open=True, max_open=True)
    power = check_real(power, "power", min_value=alpha, max_value=1.0, min_open=True, max_open=True)
    kurt = check_real(kurtosis_ratio, "kurtosis_ratio", min_value=0.0)
    shape = moments.mean.shape
    b = as_real_array(bias, "bias", shape=shape).ravel()
    return sample_size_from_covariance(moments.covariance, b, alpha, power, kurt)


def sample_size_from_covariance(cov: np.ndarray, bias: np.ndarray, alpha: float, power: float,
                                kurtosis_ratio: float = 1.0) -> int:
    k, delta, outside = range_split(cov, bias)
    scale = max(1.0, float(np.max(np.abs(bias), initial=0.0)))
    if outside > EXACT_RTOL * scale:
        return 1
    if delta <= 0.0 or k == 0:
        raise ValidationError("bias is zero on the range of the covariance: no number of episodes detects "
                              "it", argument="bias", value=float(np.max(np.abs(bias), initial=0.0)))
    stats = scipy_stats()
    crit = float(stats.chi2.isf(alpha, k))
    hi = 1.0
    while float(stats.ncx2.sf(crit, k, hi)) < power:
        hi *= 2.0
    from scipy.optimize import brentq

    lam = float(brentq(lambda x: float(stats.ncx2.sf(crit, k, x)) - power, 0.0, hi, xtol=1e-12))
    n = max(1, int(np.ceil(lam / delta)))
    # settle the rounding of the root: the smallest n whose power reaches the target
    while n > 1 and chi2_power(k, (n - 1) * delta, alpha) >= power:
        n -= 1
    while chi2_power(k, n * delta, alpha) < power:
        n += 1
    if kurtosis_ratio <= 1.0:
        return n
    # the corrected critical value only raises n, and the power still increases with n: bisect
    def ok(m: int) -> bool:
        return chi2_power(k, m * delta, alpha, m, kurtosis_ratio) >= power

    lo, hi_n = n - 1, n
    while not ok(hi_n):
        lo, hi_n = hi_n, 2 * hi_n
    while hi_n - lo > 1:
        mid = (lo + hi_n) // 2
        lo, hi_n = (lo, mid) if ok(mid) else (mid, hi_n)
    return hi_n
