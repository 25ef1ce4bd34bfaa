"""The estimator section's spread: exact one-episode SNR and SE of the mean beside the sampled ones.

The exact numbers must be :func:`mdpgrad.estimators.estimator_moments`' own, the
sampled ones the statistics of the very episodes the section drew (re-drawn here
from the same seed), and the two must agree within sampling error.
"""

import json

import numpy as np
import pytest

import mdpgrad as mg
from mdpgrad._report import build_context
from mdpgrad._report import estimators as section_module
from mdpgrad._report.estimators import estimator_section, spread
from mdpgrad.cli import main
from mdpgrad.estimators import estimator_moments, grpo_estimator, reinforce_estimator


@pytest.fixture(scope="module")
def default_report():
    """The JSON report of ``mdpgrad check`` on the default example (two-state, θ = 0, seed 0)."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["check", "--json"])
    assert code == 0
    return json.loads(buf.getvalue())


def _episodes(mdp, n, protocol, seed):
    """The section's REINFORCE estimates, re-drawn: check_estimator samples with default_rng(seed)."""
    pol = mg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    theta = np.zeros(pol.param_shape)
    traj = mg.sample(mdp, pol.probabilities(theta), n, rng=np.random.default_rng(seed), protocol=protocol)
    return reinforce_estimator().estimate(traj, pol, theta).reshape(n, -1)


def test_exact_snr_is_estimator_moments(default_report, capsys):
    est = default_report["estimators"]
    sp = est["moments"]["reinforce"]
    mdp = mg.get_example("two-state")
    pol = mg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    mom = estimator_moments(mdp, pol, np.zeros(pol.param_shape), reinforce_estimator(),
                            protocol=est["protocol"])
    n = est["n_episodes"]
    # JSON round-trips a float exactly and the section runs the same arithmetic; 1e-12 leaves room only
    # for a BLAS that sums in another order on another run (rounding ≈ 1e-15 relative).
    assert sp["exact_snr"] == pytest.approx(mom.snr, rel=1e-12)
    assert sp["exact_total_variance"] == pytest.approx(mom.total_variance, rel=1e-12)
    assert sp["exact_se_of_mean"] == pytest.approx(np.sqrt(np.sum(mom.standard_error(n) ** 2)), rel=1e-12)
    assert sp["exact_reason"] is None
    # the text report prints the same number (4 significant digits)
    main(["check"])
    row = next(line for line in capsys.readouterr().out.splitlines() if "REINFORCE SNR" in line)
    assert f"exact {mom.snr:.4g}, sampled {sp['sampled_snr']:.4g}" in row


def test_sampled_snr_is_the_statistic_of_the_same_episodes(default_report):
    est = default_report["estimators"]
    sp = est["moments"]["reinforce"]
    n = est["n_episodes"]
    x = _episodes(mg.get_example("two-state"), n, est["protocol"], est["seed"])
    trace = float(np.trace(np.cov(x, rowvar=False, ddof=1)))
    # the section sums n·SE² = diag(Ĉ) instead of taking the trace: rounding ≈ d·1e-16 relative
    assert sp["sampled_total_variance"] == pytest.approx(trace, rel=1e-12)
    assert sp["sampled_snr"] == pytest.approx(np.linalg.norm(x.mean(axis=0)) / np.sqrt(trace), rel=1e-12)
    assert sp["sampled_se_of_mean"] == pytest.approx(np.sqrt(trace / n), rel=1e-12)
    # and not a statistic of other episodes: seed 1 gives a different sample
    other = _episodes(mg.get_example("two-state"), n, est["protocol"], 1)
    assert abs(float(np.trace(np.cov(other, rowvar=False))) - trace) > 1e-6 * trace


def test_exact_and_sampled_agree_within_sampling_error(default_report):
    est = default_report["estimators"]
    sp = est["moments"]["reinforce"]
    n = est["n_episodes"]
    x = _episodes(mg.get_example("two-state"), n, est["protocol"], est["seed"])
    xbar = x.mean(axis=0)
    dev = x - xbar
    sq = np.sum(dev ** 2, axis=1)                     # ‖xᵢ − x̄‖², mean ≈ tr Cov
    T = float(sq.mean())
    # delta method (van der Vaart 1998, ch. 3): SNR = f(x̄, T) = ‖x̄‖ / √T has the influence
    # ∇ₓf·(xᵢ − x̄) + ∂_T f·(‖xᵢ − x̄‖² − T) per episode, with ∇ₓf = x̄/(‖x̄‖√T), ∂_T f = −‖x̄‖/(2T^{3/2})
    norm = float(np.linalg.norm(xbar))
    infl = dev @ xbar / (norm * np.sqrt(T)) - norm / (2 * T ** 1.5) * (sq - T)
    se_snr = float(infl.std(ddof=1) / np.sqrt(n))
    se_trace = float(sq.std(ddof=1) / np.sqrt(n))
    # 4 standard errors: under the normal limit each comparison fails a correct section with
    # probability 6.3e-5, both together ≤ 1.3e-4 (the episodes are bounded-reward geometric, so the
    # fourth moments the two standard errors need are finite)
    assert abs(sp["sampled_snr"] - sp["exact_snr"]) <= 4 * se_snr
    assert abs(sp["sampled_total_variance"] - sp["exact_total_variance"]) <= 4 * se_trace
    # the tolerance is not vacuous: 4 SE (≈ 0.043 here) is under a quarter of the SNR (≈ 0.19), so an
    # exact SNR off by a quarter, or a trace off by half (4 SE ≈ 300 of ≈ 780), would fail
    assert 4 * se_snr < 0.25 * sp["exact_snr"] and 4 * se_trace < 0.5 * sp["exact_total_variance"]


def _check(horizon):
    mdp = mg.get_example("two-state")
    ctx = build_context("two-state", mdp)
    c = mg.check_estimator(mdp, ctx.policy, ctx.theta, reinforce_estimator(), n_episodes=200,
                           protocol="horizon", horizon=horizon, rng=0)
    return ctx, c


def test_exact_moments_are_computed_up_to_the_pair_limit_and_not_beyond(monkeypatch):
    ctx, c = _check(horizon=5)                        # 2 states × 2 actions × 5 steps = 20 pairs
    monkeypatch.setattr(section_module, "SECTION_MOMENT_PAIRS", 20)
    inside = spread(ctx, reinforce_estimator(), c)
    mom = estimator_moments(ctx.mdp, ctx.policy, ctx.theta, reinforce_estimator(), protocol="horizon",
                            horizon=5)
    assert inside["exact_snr"] == pytest.approx(mom.snr, rel=1e-12)   # same arithmetic (see above)
    monkeypatch.setattr(section_module, "SECTION_MOMENT_PAIRS", 19)
    outside = spread(ctx, reinforce_estimator(), c)
    assert outside["exact_snr"] is None and "20 pairs x steps > 19" in outside["exact_reason"]
    assert outside["sampled_snr"] == inside["sampled_snr"]
    assert "exact n/a (20 pairs x steps > 19" in section_module._spread_text(outside)


def test_estimator_without_closed_form_reads_not_available():
    mdp = mg.get_example("two-state")
    ctx = build_context("two-state", mdp)
    est = grpo_estimator(4)
    c = mg.check_estimator(mdp, ctx.policy, ctx.theta, est, n_episodes=400, target="gradient", rng=0)
    sp = spread(ctx, est, c)
    assert sp["exact_snr"] is None and sp["exact_reason"] == "no closed form"
    assert np.isfinite(sp["sampled_snr"])
    assert "exact n/a (no closed form), sampled" in section_module._spread_text(sp)


def test_section_lists_the_discount_free_update_with_its_own_moments():
    # slippery gridworld under the terminal protocol with γ < 1: the γᵗ-less update differs from REINFORCE
    from mdpgrad.estimators import reinforce_without_discount_estimator

    ex = mg.get_example("slippery-gridworld")
    sec = estimator_section(build_context("slippery-gridworld", ex))
    m = sec.data["moments"]["reinforce_without_discount"]
    assert m is not None and "no gamma^t SNR" in dict(sec.rows)
    pol = mg.TabularSoftmax(ex.n_states, ex.n_actions)
    mom = estimator_moments(ex, pol, np.zeros(pol.param_shape), reinforce_without_discount_estimator(),
                            protocol=sec.data["protocol"])
    assert m["exact_snr"] == pytest.approx(mom.snr, rel=1e-12)    # same arithmetic (see above)
    # a different estimator, so a different number (0.0750 against 0.0666 in the report)
    assert m["exact_snr"] != pytest.approx(sec.data["moments"]["reinforce"]["exact_snr"], rel=1e-3)
