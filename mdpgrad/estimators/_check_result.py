"""The verdict of the statistical harness: :class:`EstimatorCheck`, its report and the power it had.

What it records
---------------
:func:`~mdpgrad.check_estimator` answers with one :class:`EstimatorCheck`: the
test that decided, its statistic, degrees of freedom and p-value, the decision
at level α, and per coordinate the sampled mean, the target, the standard error
and the standardized bias (x̄ − m)/SE, with the effective sample size of the
estimate and where the covariance of one unit came from.  The tests:

* ``"chi2"``: q = n (x̄ − m)ᵀ Σ⁺ (x̄ − m) with the exact covariance Σ of one
  episode, referred to c·χ²(ν) with the same two moments, whose kurtosis
  correction c, ν comes from Mardia's b₂ of the episodes
  (``mdpgrad.estimators._chi2_test``); ``"paired"`` is the same test with the
  bound (1 + s)² Σ_ref from a library estimator run on the same episodes
  (``mdpgrad.estimators._paired``);
* ``"hotelling"`` and ``"bonferroni"``: the sample covariance
  (``mdpgrad.estimators._sample_test``).  When outcomes the sample is
  expected to see fewer than RARE_COUNT = 30 times carry more than a quarter
  of a standard error of the mean (λ_H = n Hᵀ Ĉ⁺ H above
  MAX_HIDDEN_NONCENTRALITY, :mod:`mdpgrad.estimators._tail`) and the rejection
  does not survive the shift they can cause, the result is
  ``status == "inconclusive"``: the p-value is reported, nothing is rejected;
* ``"exact"``: the estimates cannot vary at all.

:meth:`EstimatorCheck.power_against` gives the probability the test that
decided had of rejecting a given bias (noncentral χ² with the test's own
kurtosis-corrected critical value, noncentral F for Hotelling's T², a normal
lower bound for Bonferroni); :meth:`~EstimatorCheck.report`,
:meth:`~EstimatorCheck.describe` and :meth:`~EstimatorCheck.verdict` put the
result in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from .._display import compact_repr
from .._validation import as_real_array
from ..sampling._sampler import StoppingProtocol
from ._chi2_test import EXACT_RTOL, NULL_RTOL, chi2_power, range_split, scipy_stats
from ._tail import MAX_HIDDEN_NONCENTRALITY, RARE_COUNT

__all__ = ["EstimatorCheck", "InconclusiveTestWarning", "TargetKind", "TestKind"]

#: What the sampled mean is tested against: the estimator's exact expectation, ∇J, or a given array.
TargetKind = Literal["expectation", "gradient", "array"]
#: The test that decided: Hotelling's T², Bonferroni-corrected t tests, or an exact comparison.
TestKind = Literal["chi2", "paired", "hotelling", "bonferroni", "exact"]


@dataclass(frozen=True, eq=False)
class EstimatorCheck:
    """Result of :func:`~mdpgrad.check_estimator`.

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
    test : {"chi2", "hotelling", "bonferroni", "exact"}
        The test that decided: "chi2" with the exact covariance of one episode
        (module docstring), Hotelling's T² or Bonferroni's t tests with the
        sample covariance, "exact" when the estimates cannot vary at all.
    dof : tuple of int
        (k, 0) for the χ² test (k = rank Σ); (k, n − k) for Hotelling's F;
        (m, n − 1) for the Bonferroni t tests; (0, 0) for exact.
    statistic : float
        q = n (x̄ − m)ᵀ Σ⁺ (x̄ − m) for "chi2", Hotelling's T², or ``max |tᵢ|`` for
        Bonferroni (∞ when an exact direction disagrees).
    p_value, alpha : float
    holds : bool
        H₀ (mean = target) is not rejected at level alpha: p_value ≥ alpha, or
        the result is inconclusive.
    mean, target, standard_error, standardized_bias : ndarray, shape param_shape
        x̄, m, SE = sd/√n (sd exact for "chi2", sampled otherwise) and (x̄ − m)/SE
        (0 where SE = 0 and x̄ = m, ±∞ where SE = 0 and x̄ ≠ m).
    max_abs_standardized_bias : float
        Over the coordinates that varied (variance above rounding); ∞ after a
        structural mismatch.
    untested_dims : int
        Directions in the span of the scores ∇log π in which the estimates never
        varied (events too rare to be sampled, or an estimator that ignores
        them): no variance, so no test; a difference there does not reject.
    untested_difference : float
        Largest ``|x̄ − m|`` component in those directions (0 when none).
    kurtosis_ratio : float
        Mardia's b₂ / (k(k+2)) of the units (≈ 1 for normal data; NaN when
        nothing varied), whitened by the exact Σ for "chi2" (where it sets the
        variance correction of q) and by the sample covariance otherwise
        (where it sets how many units Hotelling's T² asks for).
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
    covariance_source : {"exact", "sample"}
        Where the covariance of one unit came from: the estimator's exact
        second moment (:func:`mdpgrad.estimators.estimator_moments`; test
        ``"chi2"``) or the sampled units (tests ``"hotelling"``, ``"bonferroni"``).
    unit_covariance : ndarray, shape (d, d), or None
        That covariance Σ of one unit (d = prod(param_shape), C order); None
        when it exceeds the float64 range (estimates near 1e154 and above,
        tested after an exact rescaling by a power of two).
    sampled_standard_error : ndarray, shape param_shape
        The sample standard deviation of the units (ddof = 1) over √n, whichever
        covariance the test used (NaN with a single unit).
    detect : ndarray or None, shape param_shape
        The bias the test was asked to detect (``detect=``), or None.
    power : float or None
        :meth:`power_against` ``detect``: the probability the test had of
        rejecting if the true mean were target + detect (None when no
        ``detect`` was given).
    reference, reference_spread : str or None, float or None
        Test ``"paired"`` only: the library estimator run on the same
        episodes and s, with Cov ĝ ≼ (1 + s)² Σ_ref the covariance used
        (``mdpgrad.estimators._paired``).
    varying : ndarray of bool or None, shape param_shape
        The coordinates whose variance is above rounding (those
        ``max_abs_standardized_bias`` ranges over).
    status : {"not rejected", "rejected", "inconclusive"}
        "inconclusive" when a sample-covariance test cannot be trusted:
        outcomes the sample is expected to see fewer than 30 times carry more
        than a quarter of a standard error of the mean (module docstring);
        the p-value is then reported but nothing is rejected.
    hidden_noncentrality : float or None
        λ_H = n Hᵀ Ĉ⁺ H for the sample-covariance tests (None otherwise).  Above 1/16 the test
        rejects only if it still rejects with the mean shifted by any c·H the rare outcomes can
        cause (c between 1 − k/λ and 1, k the 1 − α/2 Poisson quantile of their count λ).
    inconclusive_reason : str or None
        The rare outcome that carries the largest part, its expected count
        and the episodes that would see every such outcome 30 times.
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
    covariance_source: Literal["exact", "paired", "sample"] = "sample"
    unit_covariance: np.ndarray | None = None
    sampled_standard_error: np.ndarray | None = None
    detect: np.ndarray | None = None
    power: float | None = None
    reference: str | None = None
    reference_spread: float | None = None
    varying: np.ndarray | None = None
    status: Literal["not rejected", "rejected", "inconclusive"] = "not rejected"
    hidden_noncentrality: float | None = None
    inconclusive_reason: str | None = None

    def power_against(self, bias: ArrayLike) -> float:
        """Probability that this test, with these n units, rejects when E[unit] = target + bias.

        With the exact covariance (test ``"chi2"``, or ``"paired"`` with its
        bound) it is Pr(χ'²(k, λ) > c·χ²_{1−α}(ν)), λ = n · biasᵀ Σ⁺ bias, with
        the test's own kurtosis-corrected critical value (c, ν from the sampled
        ``kurtosis_ratio``; see :func:`~mdpgrad.estimators.sample_size`); for Hotelling's T² the
        noncentral F(k, n − k, λ) with Σ the sample covariance; for Bonferroni's
        t tests the lower bound ``maxᵢ Pr(|N(√n biasᵢ/σᵢ, 1)| > z_{1−α/(2m)})`` (normal
        approximation).  A bias with a component outside the range of Σ is
        rejected by the exact check: power 1.

        Parameters
        ----------
        bias : array_like, shape param_shape

        Returns
        -------
        float
        """
        b = as_real_array(bias, "bias", shape=self.mean.shape).ravel()
        if self.unit_covariance is None:
            return float("nan")
        k, delta, outside = range_split(self.unit_covariance, b)
        if outside > EXACT_RTOL * max(1.0, float(np.max(np.abs(b), initial=0.0))):
            return 1.0
        if k == 0:
            return 0.0
        n, stats = self.n_units, scipy_stats()
        if self.test == "hotelling":
            crit = float(stats.f.isf(self.alpha, k, n - k))
            return float(stats.ncf.sf(crit, k, n - k, n * delta)) if delta > 0 else float(self.alpha)
        if self.test == "bonferroni":
            sd = np.sqrt(np.clip(np.diag(self.unit_covariance), 0.0, None))
            ok = sd > NULL_RTOL * max(float(sd.max(initial=0.0)), 1e-300)
            m = max(1, int(ok.sum()))
            c = float(stats.norm.isf(self.alpha / (2 * m)))
            shift = np.sqrt(n) * np.abs(b[ok]) / sd[ok]
            return float(np.max(stats.norm.sf(c - shift) + stats.norm.cdf(-c - shift), initial=0.0))
        kurt = self.kurtosis_ratio if np.isfinite(self.kurtosis_ratio) else 1.0
        return chi2_power(k, n * delta, self.alpha, n, kurt)

    def __repr__(self) -> str:
        return compact_repr(self, fields=("estimator", "status", "target_kind", "test", "statistic",
                                          "p_value", "alpha", "n_episodes", "max_abs_standardized_bias",
                                          "covariance_source", "mean"))

    def report(self) -> str:
        """A readable multi-line summary (the message of :func:`~mdpgrad.assert_unbiased`)."""
        verdict = {"rejected": "REJECTED", "inconclusive": "INCONCLUSIVE (not rejected)"}.get(self.status,
                                                                                        "not rejected")
        z = np.abs(np.nan_to_num(self.standardized_bias.ravel(), nan=0.0, posinf=1e300, neginf=1e300))
        if self.varying is not None and np.isfinite(self.max_abs_standardized_bias) and self.varying.any():
            z = np.where(self.varying.ravel(), z, -1.0)      # the coordinate max |z| was taken over
        widx = np.unravel_index(int(np.argmax(z)), self.mean.shape)
        lines = [
            f"estimator {self.estimator!r}: H0 mean = {self.target_kind} {verdict} at alpha={self.alpha:g}",
            f"  test: {self.test} ({self._covariance_text()}), statistic={self.statistic:.4g}, "
            f"dof={self.dof}, p={self.p_value:.3g} (kurtosis ratio {self.kurtosis_ratio:.3g})"
            + (f", power {self.power:.3g} against the bias to detect" if self.detect is not None else ""),
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
        if self.covariance_source == "sample" and self.inconclusive_reason is not None:
            lines.append(f"  INCONCLUSIVE: {self.inconclusive_reason}")
        elif self.covariance_source == "sample":
            shift = float(np.sqrt(self.hidden_noncentrality or 0.0))
            lines.append(f"  sample covariance: outcomes expected fewer than {RARE_COUNT:g} times carry "
                         f"{shift:.2g} standard errors of the mean (at most "
                         f"{np.sqrt(MAX_HIDDEN_NONCENTRALITY):.2g} is trusted)")
        scale = max(1.0, float(np.max(np.abs(self.target), initial=0.0)))
        if self.untested_dims and self.untested_difference > EXACT_RTOL * scale:
            lines.append(f"  {self.untested_dims} direction(s) never varied in the sample and were not "
                         f"tested (mean - target there up to {self.untested_difference:.3g}); "
                         "sample more episodes to cover rare events")
        return "\n".join(lines)

    def describe(self) -> str:
        """The verdict explained: :meth:`report` and what to do next."""
        if self.status == "inconclusive":
            step = ("nothing was decided: sample the episodes the reason names, or test a library estimator "
                    "(exact covariance) or a hand-written one on-policy (paired with the library's)")
        elif self.holds:
            step = ("a test that does not reject is not a proof of unbiasedness: its power is set by "
                    "n_episodes; pass detect= to learn which bias it could have seen")
        else:
            step = ("the mean differs beyond sampling error: compare .mean with .target coordinate by "
                    "coordinate (.standardized_bias) to find the term the estimator gets wrong")
        return f"{self.report()}\n  next: {step}"

    def _covariance_text(self) -> str:
        if self.covariance_source == "paired":
            return (f"covariance bounded by (1 + {self.reference_spread:.3g})² × the exact covariance of "
                    f"{self.reference!r} on the same episodes")
        return f"{self.covariance_source} covariance"

    def verdict(self) -> str:
        """The decision in words: "unbiased" / "BIASED" against ∇J, else whether the mean matches;
        "inconclusive" when the sample cannot see the outcomes that carry part of the mean."""
        if self.status == "inconclusive":
            return "inconclusive"
        if self.target_kind == "gradient":
            return "unbiased" if self.holds else "BIASED"
        what = "its exact expectation" if self.target_kind == "expectation" else "the target"
        return f"mean matches {what}" if self.holds else f"mean DIFFERS from {what}"

    def __str__(self) -> str:
        source = (f"paired with {self.reference!r}, s = {self.reference_spread:.2g}"
                  if self.covariance_source == "paired"
                  else f"{self.test}, {self.covariance_source} covariance")
        return (f"EstimatorCheck: {self.verdict()} at alpha={self.alpha:g} — p = {self.p_value:.3g}, "
                f"max |z| = {self.max_abs_standardized_bias:.2g}, {self.n_episodes} episodes\n"
                f"  estimator {self.estimator!r}; {source}; .report() for details")


class InconclusiveTestWarning(UserWarning):
    """A sample-covariance test could not decide: outcomes rare in the sample carry part of the mean."""
