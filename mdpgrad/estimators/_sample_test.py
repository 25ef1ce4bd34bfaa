"""The harness's tests with the sample covariance: Hotelling's T², Bonferroni's t tests, and the tail guard.

What it computes
----------------
Without a closed form or a usable reference (groups of episodes such as
GRPO's, models too large for the exact moments, off-policy sampling, or
``covariance="sample"``), Hotelling's T² (Hotelling 1931; Anderson 2003, §5.2) is used when the number of
independent units n comfortably exceeds the rank k of the sample covariance,
n ≥ 10·k·max(1, b₂ / (k(k+2))) with b₂ Mardia's multivariate kurtosis (Mardia
1970; k(k+2) for normal data, so heavy-tailed estimates ask for proportionally
more units), and that covariance is well-conditioned on its range (condition
number ≤ 1e8)::

    T² = n (x̄ − m)ᵀ Ĉ⁺ (x̄ − m),   (n − k) / (k (n − 1)) · T² ∼ F(k, n − k) under H₀

Otherwise it falls back to coordinate-wise t tests with a Bonferroni
correction, p = min(1, m · minᵢ pᵢ) over the m coordinates that vary.
Directions in which the estimates do not vary at all (e.g. the rows of a
softmax score sum to zero, or a terminal state's parameters) are checked
exactly: a mean differing from the target there is rejected with p = 0.

Limitations: the sample-covariance tests are anti-conservative on heavy
tails, badly so when the sample misses the rare episodes that carry the mean
(26.7 % false alarms at α = 0.01 on the jackpot model of
tests/test_harness_paired.py, where a 10⁻³ transition pays 1000); no test built
from the sample alone can avoid this, since a sample that misses an event
cannot tell its size (Bahadur & Savage 1956).  The
harness knows the model, though: before a sample-covariance test may reject,
:mod:`mdpgrad.estimators._tail` computes the part H of the mean carried by the
states, actions and transitions the sample is expected to see fewer than
RARE_COUNT = 30 times, and when the shift it would cause, λ_H = n Hᵀ Ĉ⁺ H, is
above MAX_HIDDEN_NONCENTRALITY (a quarter of a standard error) the result is
``status == "inconclusive"`` (``holds`` stays True: nothing was rejected) with
the outcome and the number of episodes that would see it, unless the rejection
survives any shift of the mean those outcomes can cause, each coordinate by its
own outcomes (:func:`explained_p_value`).  On the jackpot model
every seed is then inconclusive at n = 2000 and 20,000 (the sample test's own
p-value falls below α = 0.01 in 27 % and 1.7 % of them), and on a light-tailed
model the guard does not fire and the test keeps its level
(tests/test_harness_tail.py).  GRPO's group-normalised
advantages are bounded (|Âᵢ| ≤ √(G − 1)), and its sample-covariance test kept
its level there (2.5 % at α = 0.05 over 1000 seeds).

Identities checked by the tests (tests/test_harness.py,
tests/test_harness_tail.py): in one dimension T² is the square of scipy's
one-sample t statistic with the same p-value; the Bonferroni p-value is
m·min pᵢ of scipy's t tests; the guard decides on either side of
MAX_HIDDEN_NONCENTRALITY.

References: H. Hotelling, "The generalization of Student's ratio", Ann. Math.
Statist. 2(3), 1931; T. W. Anderson, An Introduction to Multivariate Statistical
Analysis, 3rd ed., 2003, §5.2; K. V. Mardia, "Measures of multivariate skewness
and kurtosis with applications", Biometrika 57(3), 1970; R. R. Bahadur and
L. J. Savage, "The nonexistence of certain statistical procedures in
nonparametric problems", Ann. Math. Statist. 27(4), 1956.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import ValidationError
from .._model import MDP
from .._policies import Policy
from ..sampling._sampler import StoppingProtocol
from ._chi2_test import EXACT_RTOL, NULL_RTOL, scipy_stats
from ._tail import RARE_COUNT, HiddenMean, hidden_mean

__all__ = ["HOTELLING_MAX_CONDITION", "HOTELLING_UNITS_PER_DIM", "explained_p_value", "hidden_noncentrality",
           "mean_test"]

#: Hotelling's T² needs n ≥ HOTELLING_UNITS_PER_DIM · k · max(1, b₂/(k(k+2))) units for rank k
#: (b₂ Mardia's kurtosis; the factor is 1 for normal data) ...
HOTELLING_UNITS_PER_DIM = 10

#: ... and a covariance with condition number ≤ this on its range (eigenvalues
#: are then accurate to ≈ 1e-8 relative, so Ĉ⁺ is trustworthy).
HOTELLING_MAX_CONDITION = 1e8


def _eigenpairs(centred: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and eigenvectors of Ĉ = XᵀX/(n − 1), X the (n, d) centred units.

    With n − 1 < d, Ĉ has rank ≤ n − 1: its nonzero eigenpairs come from the thin SVD of X
    (X = U Σ Vᵀ, Ĉ = V Σ²/(n − 1) Vᵀ) at O(n²d) instead of the O(d³) of ``eigh``; the d − n zero
    eigenvalues are left out (V has n columns).  Only eigenpairs above ``NULL_RTOL`` of the largest
    are used, and those agree between the two routes up to rounding.
    """
    n, d = centred.shape
    if n - 1 >= d:
        return np.linalg.eigh(C)
    _, s, Vt = np.linalg.svd(centred, full_matrices=False)
    return s[::-1] ** 2 / (n - 1), Vt[::-1].T


def mean_test(units: np.ndarray, target: np.ndarray, span: np.ndarray | None) -> dict[str, Any]:
    """Test H₀: E[units] = target with n independent rows (see module docstring).

    ``span`` is an orthonormal basis (r, d) of the directions an estimate can
    take (the span of the score vectors ∇log π(a|s)); None means all of ℝᵈ.
    """
    n, d = units.shape
    mean = units.mean(axis=0)
    diff = mean - target
    C = np.atleast_2d(np.cov(units, rowvar=False, ddof=1))
    w, V = _eigenpairs(units - mean, C)
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
    Vk = V[:, keep]          # the null space of Ĉ is the complement of its kept eigenvectors
    structural = outside - Vk @ (Vk.T @ outside)
    structural_ok = bool(np.max(np.abs(structural), initial=0.0) <= EXACT_RTOL * scale)
    n_structural = 0 if span is None else d - span.shape[0]
    inside = diff - outside
    untested_part = inside - Vk @ (Vk.T @ inside)
    out: dict[str, Any] = dict(mean=mean, se=se, z=z, varying=varying, cov=C, eig=(w, V),
                               untested=max(0, d - k - n_structural),
                               untested_difference=float(np.max(np.abs(untested_part), initial=0.0)),
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
        p = float(scipy_stats().f.sf(F, k, n - k))
        out.update(test="hotelling", dof=(k, n - k), statistic=T2 if structural_ok else np.inf,
                   p_value=p if structural_ok else 0.0)
        return out
    m = int(varying.sum())
    t = np.abs(z[varying])
    p_each = 2.0 * scipy_stats().t.sf(t, n - 1)
    p = float(min(1.0, m * p_each.min())) if m else 1.0
    out.update(test="bonferroni", dof=(m, n - 1),
               statistic=float(t.max(initial=0.0)) if structural_ok else np.inf,
               p_value=p if structural_ok else 0.0)
    return out


def hidden_noncentrality(mdp: MDP, policy: Policy, theta: np.ndarray, ev: Any, pi_b: np.ndarray,
                         n_episodes: int, protocol: StoppingProtocol, horizon: int | None,
                         eig: tuple[np.ndarray, np.ndarray], n_units: int,
                         e: int) -> tuple[float, str | None, np.ndarray, float]:
    """λ_H = n Hᵀ Ĉ⁺ H, the shift of T² a sample missing the rare outcomes suffers, and why it matters;
    also H (scaled) and the expected count of the outcome carrying the largest part.

    H is computed from the model (:mod:`mdpgrad.estimators._tail`), Ĉ is the sample covariance of one unit
    (scaled by 2^−2e like the units), given by its eigendecomposition.  When H cannot be computed the
    sample test is not trusted either.
    """
    try:
        h: HiddenMean = hidden_mean(mdp, policy, theta, ev, pi_b, n_episodes, protocol, horizon)
    except ValidationError as exc:
        return (float("inf"), f"the part of the mean that rare outcomes carry could not be computed ({exc})",
                np.full(eig[1].shape[0], np.nan), 0.0)
    if h.n_rare == 0:
        return 0.0, None, np.zeros(eig[1].shape[0]), float("inf")
    H = np.ldexp(h.hidden.ravel(), -e)
    w, V = eig
    top = float(max(w.max(initial=0.0), 0.0))
    keep = w > NULL_RTOL * top if top > 0 else np.zeros(w.shape, dtype=bool)
    lam = float(n_units * np.sum((V[:, keep].T @ H) ** 2 / w[keep])) if keep.any() else 0.0
    where = {1: "state", 2: "action", 3: "transition"}[len(h.largest)]
    reason = (f"the {where} {h.largest} is expected {h.largest_count:.3g} times in {n_episodes} episodes, "
              "and "
              f"{h.n_rare} outcome(s) expected fewer than {RARE_COUNT:g} times carry a part of the mean "
              f"{np.sqrt(lam):.3g} standard errors long: a sample-covariance test cannot see them "
              f"(Bahadur & Savage 1956); use the exact or paired covariance, or about {h.episodes_needed} "
              "episodes")
    return lam, reason, H, h.smallest_count


def explained_p_value(res: dict[str, Any], H: np.ndarray, count: float, alpha: float, n_units: int) -> float:
    """The sample test's p-value once the rare outcomes may have shifted the sampled mean along H.

    A sample that misses the rare outcomes has mean m − H; one that sees them k times for λ expected
    has m + (k/λ − 1)·H.  Different rare outcomes (in different states, say) are seen independently,
    so each coordinate j gets its own c_j in [1 − k_hi/λ, 1], k_hi the 1 − α/2 quantile of Poisson(λ)
    and λ the least expected count of a rare outcome that carries a part (the widest range).  The
    statistic is minimised over that box (per coordinate for the Bonferroni t tests; for Hotelling's
    T², the bounded least-squares problem min ‖Ĉ^{−1/2}(d + H∘c)‖, solved by
    :func:`scipy.optimize.lsq_linear`) and referred to the test's own law: a rejection that survives
    this is not explained by the tail.
    """
    w, V = res["eig"]
    top = float(max(w.max(initial=0.0), 0.0))
    keep = w > NULL_RTOL * top if top > 0 else np.zeros(w.shape, dtype=bool)
    d = res["diff"]
    k_hi = float(scipy_stats().poisson.ppf(1.0 - alpha / 2.0, count)) if count > 0 else 1.0
    c_lo = 1.0 - k_hi / count if count > 0 else 1.0
    n, k = n_units, int(keep.sum())
    if res["test"] == "hotelling":
        Vk, wk = V[:, keep], w[keep]
        Y = Vk.T / np.sqrt(wk)[:, None]                      # T² = n‖Y(d + H∘c)‖²
        moves = H != 0
        shifted = d.copy()
        if moves.any() and c_lo < 1.0:
            from scipy.optimize import lsq_linear

            fit = lsq_linear(Y[:, moves] * H[moves], -(Y @ d), bounds=(c_lo, 1.0), method="bvls")
            shifted[moves] += fit.x * H[moves]
        else:                      # k_hi = 0: the outcomes are surely missed, c = 1
            shifted += H
        T2 = float(n * np.sum((Y @ shifted) ** 2))
        return float(scipy_stats().f.sf((n - k) / (k * (n - 1)) * T2, k, n - k))
    varying = res["varying"]
    m = int(varying.sum())
    if not m:
        return 1.0
    dv, hv = d[varying], H[varying]
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(hv != 0, np.clip(-dv / np.where(hv != 0, hv, 1.0), c_lo, 1.0), 0.0)
    t = np.abs((dv + c * hv) / res["se_scaled"][varying])
    return float(min(1.0, m * float(np.min(2.0 * scipy_stats().t.sf(t, n - 1)))))
