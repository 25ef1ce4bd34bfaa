"""Report section for sampled gradient estimators: REINFORCE against its exact expectation and ∇J.

Runs :func:`mdpgrad.check_estimator` on REINFORCE with γᵗ (against its exact
expectation: is the code right? then against ∇J: is it unbiased?) and on the
update without γᵗ (against ∇J, beside its exact bias; Nota & Thomas 2020).
Episodes come from ``numpy.random.default_rng(ctx.seed)`` (seed 0 when unset),
so the section is reproducible.

Memory: the sampled episodes are padded to the longest one, so a batch of n
episodes of expected length ℓ takes about n·ℓ·(1 + ln n) time steps (the
longest of n geometric lengths is about ℓ·ln n).  The section plans its sample
to fit :data:`SECTION_MEMORY`: first fewer episodes (down to
:data:`SECTION_MIN_EPISODES`), then episodes cut at a horizon H.  Cut
episodes still test the code against its exact expectation under that
horizon; the tests against ∇J are then skipped, since truncation alone can
change J by up to the truncation bound γᴴ·max|r|/(1 − γ).

Spread: beside each estimator's verdict the section shows its one-episode
signal-to-noise ratio ‖E ĝ‖ / √tr Cov[ĝ] and the standard error of the mean
of the n sampled episodes, √(tr Cov[ĝ] / n) (the root of E‖ḡ − E ĝ‖²), both
exact (:func:`mdpgrad.estimators.estimator_moments`) and sampled (the sample
mean and the sample covariance, ddof = 1, of the very episodes the verdict
used).  The exact moments take dense matrices over the state-action pairs
(times H when episodes are cut), so they are computed only up to
:data:`SECTION_MOMENT_PAIRS` pairs; above it, and for estimators without a
closed-form second moment, the exact column reads "n/a" with the reason.
The tests (tests/test_cli.py) check that the exact numbers are
estimator_moments' own, that the sampled ones are the statistics of the
episodes re-drawn from the same seed, and that the two agree within a
delta-method standard error on the default example.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from .._errors import ValidationError
from ..estimators import Estimator, EstimatorCheck, reinforce_estimator, reinforce_without_discount_estimator
from ..estimators._chi2_test import EXACT_RTOL
from ..estimators._harness import check_estimator
from ..estimators._moments import estimator_moments
from ..sampling._sampler import StoppingProtocol, expected_lengths, resolve_protocol, truncation_bound
from .base import CheckContext, Section, skipped_section

__all__ = ["SECTION_ALPHA", "SECTION_BYTES_PER_STEP", "SECTION_EPISODES", "SECTION_FAIL_P",
           "SECTION_MAX_PAIRS", "SECTION_MEMORY", "SECTION_MIN_EPISODES", "SECTION_MOMENT_PAIRS",
           "estimator_section", "plan_sample", "spread"]

#: The section samples only models with at most this many state-action pairs
#: (its covariance is (S·A)²; episodes of big models are long).
SECTION_MAX_PAIRS = 64

#: Episodes and level of the section's checks.  At α = 0.001 a correct
#: estimator is flagged on one seed in a thousand; the seed is fixed, so the
#: report is reproducible.
SECTION_EPISODES = 4000
SECTION_ALPHA = 1e-3

#: Fewest episodes the section samples before it cuts episodes at a horizon instead.
SECTION_MIN_EPISODES = 500

#: Bytes the section's padded episodes may take, with the estimators' working arrays.
SECTION_MEMORY = 150 * 10**6

#: Bytes per padded time step of one episode: 16 for the sampled state, action and reward, the
#: rest for the estimators' (T, n) working arrays (returns, weights, masks, indices).
SECTION_BYTES_PER_STEP = 96

#: The section marks the report as failed (exit status 1) only on overwhelming
#: evidence, p below this: a rejection at α alone happens by chance on some
#: seeds (more often for heavy-tailed returns) and is shown, not failed.
SECTION_FAIL_P = 1e-9


#: The section computes exact moments for pair chains (S·A, times H when episodes are cut) up to this
#: size: about a dozen dense n × n float64 matrices, 12·8·600² bytes ≈ 35 MB, and a few O(n³)
#: factorisations (tens of milliseconds), small beside the sampling budget above.
SECTION_MOMENT_PAIRS = 600


def plan_sample(ctx: CheckContext) -> tuple[int, StoppingProtocol, int | None, float]:
    """(episodes, protocol, horizon, expected padded length without a cut) fitting :data:`SECTION_MEMORY`.

    The padded length of n episodes is estimated as max_s ℓ(s)·(1 + ln n), ℓ the expected episode
    length from each state (:func:`mdpgrad.sampling._sampler.expected_lengths`).
    """
    mdp = ctx.mdp
    protocol = resolve_protocol(mdp, "auto", None)
    discount = mdp.gamma if protocol == "geometric" else 1.0
    ell = float(np.max(expected_lengths(mdp, ctx.evaluation.pi, discount), initial=0.0))
    if not math.isfinite(ell):
        raise ValidationError("the expected episode length is not finite", argument="pi", value=ell)
    cells = SECTION_MEMORY / SECTION_BYTES_PER_STEP

    def padded(n: int) -> float:
        return ell * (1.0 + math.log(n))

    n = SECTION_EPISODES
    for _ in range(8):  # padded(n) falls with n, so a few fixed-point steps settle
        if n * padded(n) <= cells or n == SECTION_MIN_EPISODES:
            break
        n = max(SECTION_MIN_EPISODES, int(cells / padded(n)))
    if n * padded(n) <= cells:
        return n, protocol, None, padded(n)
    H = max(1, int(cells / n))
    return n, "horizon", H, padded(n)


def _verdict(c: EstimatorCheck) -> str:
    return (f"{'agrees' if c.holds else 'rejected'} (p = {c.p_value:.3g}, {c.test}, "
            f"max |z| = {c.max_abs_standardized_bias:.3g})")


def _ess_text(c: EstimatorCheck) -> str:
    pairs = f"{c.n_units} episodes, {c.n_units * c.mean_length:.4g} state-action pairs"
    ess = c.effective_sample_size
    if not math.isfinite(ess):
        return f"not defined: the estimates did not vary ({pairs})"
    if ess == 0.0:
        return ("0: the exact advantage is 0 at every state-action pair, so draws of advantage x score "
                f"would not vary at all, while the sampled returns do ({pairs})")
    return (f"{ess:.4g}: as precise as that many independent draws of advantage x score from the "
            f"state-action distribution mu ({pairs})")


def _ratio(signal: float, total_variance: float) -> float:
    """‖mean‖ / √(tr Cov): ∞ for a noiseless non-zero mean, 0 for a noiseless zero one."""
    noise = math.sqrt(max(total_variance, 0.0))
    if noise == 0.0:
        return math.inf if signal > 0.0 else 0.0
    return signal / noise


def spread(ctx: CheckContext, estimator: Estimator, c: EstimatorCheck) -> dict[str, object]:
    """Exact and sampled one-episode SNR and standard error of the mean of the ``c.n_units`` episodes.

    Sampled: x̄ = ``c.mean`` and tr Ĉ = n·Σ ``c.sampled_standard_error``², the trace
    of the sample covariance (ddof = 1) of the episodes ``c`` was computed from.  Exact:
    :func:`mdpgrad.estimators.estimator_moments` under ``c``'s protocol and
    horizon; None (with ``exact_reason``) when the estimator has no closed-form
    second moment or its pair chain exceeds :data:`SECTION_MOMENT_PAIRS`.
    """
    n = c.n_units
    sampled_se = c.standard_error if c.sampled_standard_error is None else c.sampled_standard_error
    sampled_trace = float(n * np.sum(np.square(sampled_se)))
    out: dict[str, object] = dict(
        n_episodes=n, sampled_snr=_ratio(float(np.linalg.norm(c.mean)), sampled_trace),
        sampled_total_variance=sampled_trace, sampled_se_of_mean=math.sqrt(sampled_trace / n),
        exact_snr=None, exact_total_variance=None, exact_se_of_mean=None, exact_reason=None)
    mdp = ctx.mdp
    pairs = mdp.n_states * mdp.n_actions * (c.horizon if c.protocol == "horizon" and c.horizon else 1)
    if getattr(estimator, "second_moment", None) is None:
        out["exact_reason"] = "no closed form"
        return out
    if pairs > SECTION_MOMENT_PAIRS:
        out["exact_reason"] = (f"{pairs} pairs x steps > {SECTION_MOMENT_PAIRS}, "
                               "the section's limit for exact moments")
        return out
    try:
        mom = estimator_moments(mdp, ctx.policy, ctx.theta, estimator, protocol=c.protocol, horizon=c.horizon)
    except ValidationError as exc:
        out["exact_reason"] = "no closed form" if exc.argument == "estimator" else str(exc)
        return out
    out.update(exact_snr=mom.snr, exact_total_variance=mom.total_variance,
               exact_se_of_mean=math.sqrt(max(mom.total_variance, 0.0) / n))
    return out


def _spread_text(sp: dict[str, object]) -> str:
    def exact(key: str) -> str:
        v = sp[key]
        return f"exact {v:.4g}" if isinstance(v, float) else f"exact n/a ({sp['exact_reason']})"

    return (f"{exact('exact_snr')}, sampled {sp['sampled_snr']:.4g}; SE of the mean of {sp['n_episodes']}: "
            f"{exact('exact_se_of_mean')}, sampled {sp['sampled_se_of_mean']:.4g}")


def estimator_section(ctx: CheckContext) -> Section:
    """REINFORCE sampled against its exact expectation and ∇J, and the γᵗ-less update against ∇J.

    Skipped (with the reason) for models with more than :data:`SECTION_MAX_PAIRS`
    state-action pairs, or when the policy's episodes cannot be sampled.
    """
    mdp, pol, theta = ctx.mdp, ctx.policy, ctx.theta
    title = "Sampled gradient estimators"
    if mdp.n_states * mdp.n_actions > SECTION_MAX_PAIRS:
        return skipped_section("estimators", title, f"{mdp.n_states * mdp.n_actions} state-action pairs > "
                               f"{SECTION_MAX_PAIRS} (the test's covariance matrix grows with their square)")
    seed = 0 if ctx.seed is None else int(ctx.seed)
    try:
        n, protocol, horizon, padded = plan_sample(ctx)
    except ValidationError as exc:
        return skipped_section("estimators", title, f"episodes cannot be sampled: {exc}")

    def check(estimator: Estimator, target: Literal["gradient"] | None) -> EstimatorCheck:
        return check_estimator(mdp, pol, theta, estimator, n_episodes=n, target=target, protocol=protocol,
                               horizon=horizon, alpha=SECTION_ALPHA, rng=seed)

    plain = reinforce_estimator()
    code = check(plain, None)
    budget = f"{SECTION_MEMORY / 1e6:.0f} MB"
    rows = [("sampling", f"{n} episodes, protocol {code.protocol}"
                         + (f" (cut at H = {horizon} steps to fit {budget})" if horizon is not None else "")
                         + f", mean length {code.mean_length:.3g}, seed {seed}, alpha {SECTION_ALPHA:g}"),
            ("REINFORCE vs exact E", _verdict(code))]
    reinforce_spread = spread(ctx, plain, code)
    moments: dict[str, dict[str, object] | None] = dict(reinforce=reinforce_spread,
                                                        reinforce_without_discount=None)
    spread_rows = [("signal / noise", "one episode's |E g| / sqrt(tr Cov g), exact beside sampled (same "
                                      "episodes); SE of the mean of n = sqrt(tr Cov g / n)"),
                   ("REINFORCE SNR", _spread_text(reinforce_spread))]
    data: dict[str, object] = dict(n_episodes=n, protocol=code.protocol, seed=seed, alpha=SECTION_ALPHA,
                reinforce_vs_expectation_p=code.p_value,
                effective_sample_size=code.effective_sample_size, mean_length=code.mean_length,
                horizon=horizon, memory_budget=SECTION_MEMORY)
    if horizon is not None:
        bound = truncation_bound(mdp, horizon)
        rows.append(("grad J checks", f"skipped: episodes cut at H = {horizon} steps (uncut, the longest "
                                      f"of {n} would run about {padded:.3g} steps and not fit {budget}) "
                                      "can change J by up to "
                                      f"{bound:.3g} (truncation bound gamma^H max|r| / (1 - gamma))"))
        data.update(truncation_bound=bound, reinforce_vs_gradient_p=None, without_discount_vs_gradient_p=None,
                    without_discount_exact_bias=None)
    else:
        unbiased = check(plain, "gradient")
        no_discount = reinforce_without_discount_estimator()
        biased = check(no_discount, "gradient")
        exact_bias = float(np.max(np.abs(no_discount.expectation(mdp, pol, theta, protocol=biased.protocol)
                                          - biased.target)))
        rows.append(("REINFORCE vs grad J", _verdict(unbiased)))
        scale = max(1.0, float(np.max(np.abs(biased.target), initial=0.0)))
        if exact_bias > EXACT_RTOL * scale:  # the two coincide under "geometric" and when γ = 1
            rows.append(("no gamma^t vs grad J", _verdict(biased) + f"; exact bias max {exact_bias:.3g}"))
            no_discount_spread = spread(ctx, no_discount, biased)
            moments["reinforce_without_discount"] = no_discount_spread
            spread_rows.append(("no gamma^t SNR", _spread_text(no_discount_spread)))
        data.update(reinforce_vs_gradient_p=unbiased.p_value, without_discount_vs_gradient_p=biased.p_value,
                    without_discount_exact_bias=exact_bias)
    rows.extend(spread_rows)
    rows.append(("effective sample size", _ess_text(code)))
    data["moments"] = moments
    return Section("estimators", title, rows, data, ok=code.p_value >= SECTION_FAIL_P)
