"""Report section for sampled gradient estimators: REINFORCE against its exact expectation and ∇J.

Runs :func:`mdpgrad.check_estimator` on REINFORCE with γᵗ (against its exact
expectation: is the code right? then against ∇J: is it unbiased?) and on the
update without γᵗ (against ∇J, beside its exact bias; Nota & Thomas 2020).
Episodes come from ``numpy.random.default_rng(ctx.seed)`` (seed 0 when unset),
so the section is reproducible.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..estimators import Estimator, EstimatorCheck, reinforce_estimator, reinforce_without_discount_estimator
from ..estimators._harness import EXACT_RTOL, check_estimator
from .base import CheckContext, Section

__all__ = ["SECTION_ALPHA", "SECTION_EPISODES", "SECTION_FAIL_P", "SECTION_MAX_PAIRS", "estimator_section"]

#: The section samples only models with at most this many state-action pairs
#: (its covariance is (S·A)²; episodes of big models are long).
SECTION_MAX_PAIRS = 64

#: Episodes and level of the section's checks.  At α = 0.001 a correct
#: estimator is flagged on one seed in a thousand; the seed is fixed, so the
#: report is reproducible.
SECTION_EPISODES = 4000
SECTION_ALPHA = 1e-3

#: The section marks the report as failed (exit status 1) only on overwhelming
#: evidence, p below this: a rejection at α alone happens by chance on some
#: seeds (more often for heavy-tailed returns) and is shown, not failed.
SECTION_FAIL_P = 1e-9


def _verdict(c: EstimatorCheck) -> str:
    return (f"{'agrees' if c.holds else 'rejected'} (p = {c.p_value:.3g}, {c.test}, "
            f"max |z| = {c.max_abs_standardized_bias:.3g})")


def estimator_section(ctx: CheckContext) -> Section | None:
    """REINFORCE sampled against its exact expectation and ∇J, and the γᵗ-less update against ∇J.

    Opts out (None) for models with more than :data:`SECTION_MAX_PAIRS`
    state-action pairs.
    """
    mdp, pol, theta = ctx.mdp, ctx.policy, ctx.theta
    if mdp.n_states * mdp.n_actions > SECTION_MAX_PAIRS:
        return None
    seed = 0 if ctx.seed is None else int(ctx.seed)

    def check(estimator: Estimator, target: Literal["gradient"] | None) -> EstimatorCheck:
        return check_estimator(mdp, pol, theta, estimator, n_episodes=SECTION_EPISODES, target=target,
                               alpha=SECTION_ALPHA, rng=seed)

    plain = reinforce_estimator()
    code = check(plain, None)
    unbiased = check(plain, "gradient")
    no_discount = reinforce_without_discount_estimator()
    biased = check(no_discount, "gradient")
    exact_bias = float(np.max(np.abs(no_discount.expectation(mdp, pol, theta, protocol=biased.protocol)
                                      - biased.target)))
    rows = [
        ("sampling", f"{SECTION_EPISODES} episodes, protocol {code.protocol}, mean length "
                     f"{code.mean_length:.3g}, seed {seed}, alpha {SECTION_ALPHA:g}"),
        ("REINFORCE vs exact E", _verdict(code)),
        ("REINFORCE vs grad J", _verdict(unbiased)),
        ("effective sample size", f"{code.effective_sample_size:.4g} i.i.d. draws from mu for "
                                  f"{code.n_units} episodes ({code.n_units * code.mean_length:.4g} pairs)"),
    ]
    scale = max(1.0, float(np.max(np.abs(biased.target), initial=0.0)))
    if exact_bias > EXACT_RTOL * scale:  # the two coincide under "geometric" and when γ = 1
        rows.insert(3, ("no gamma^t vs grad J", _verdict(biased) + f"; exact bias max {exact_bias:.3g}"))
    data = dict(n_episodes=SECTION_EPISODES, protocol=code.protocol, seed=seed, alpha=SECTION_ALPHA,
                reinforce_vs_expectation_p=code.p_value, reinforce_vs_gradient_p=unbiased.p_value,
                without_discount_vs_gradient_p=biased.p_value, without_discount_exact_bias=exact_bias,
                effective_sample_size=code.effective_sample_size, mean_length=code.mean_length)
    return Section("estimators", "Sampled gradient estimators", rows, data,
                   ok=code.p_value >= SECTION_FAIL_P)
