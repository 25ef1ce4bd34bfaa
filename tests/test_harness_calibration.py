"""Calibration and power of the harness's χ² test with the exact covariance of one episode.

When an estimator has a closed-form second moment, :func:`mdpgrad.check_estimator`
tests H₀: E ĝ = m with q = n (x̄ − m)ᵀ Σ⁺ (x̄ − m) ∼ χ²(rank Σ), Σ the exact
covariance of one episode, instead of Hotelling's T² with the sample covariance.

Checked here:

* the statistic is the one computed independently from the same episodes (numpy's
  pseudo-inverse of estimator_moments' covariance and scipy's χ² tail);
* size: over N_SEEDS disjoint blocks of N_EPISODES episodes a correct REINFORCE is
  rejected at level α at a rate whose exact (Clopper–Pearson) 99% interval contains
  α, on every example model below, including the heavy-tailed episodic gridworld
  where the sample-covariance test over-rejects;
* power: :func:`mdpgrad.estimators.sample_size` at its boundary (n − 1 episodes
  fall short of the power, n reach it), in one dimension against the closed-form
  normal power Φ(√λ − z) + Φ(−√λ − z), and against simulation;
* the exact check of directions in which the episodes never vary, at its boundary.

Blocks: sampling N_SEEDS · n episodes once and splitting them into N_SEEDS blocks
gives N_SEEDS independent tests (episodes are i.i.d.), far cheaper than N_SEEDS
calls; one test checks that check_estimator gives the block statistic exactly.

Why the Clopper–Pearson interval: the number R of rejections among N independent
blocks is exactly Binomial(N, α) for a test of exact size α, so "α lies in the
exact 99% interval computed from R" is an exact two-sided binomial test of the
size, with probability ≤ 1% of failing a perfectly calibrated test (≈ 0.5–0.8%
for these N, computed from the binomial law in the comments); a normal-theory
interval would not hold its level at N α ≈ 10–20 expected rejections.
"""

import numpy as np
import pytest
from scipy import stats

import mdpgrad as mg
from mdpgrad import TabularSoftmax, ValidationError, check_estimator
from mdpgrad.estimators import estimator_moments, reinforce_estimator, sample_size
from mdpgrad.estimators._chi2_test import exact_test as _exact_test

#: Level of the calibrated test and the confidence of the interval that must contain it.
ALPHA = 0.05
COVERAGE = 0.99

#: Two computations of the same χ² statistic (eigh vs pinv of the same matrix): ≈ 1e-12 relative.
RTOL = 1e-8


def _uniform(name):
    mdp = mg.get_example(name)
    pol = TabularSoftmax(mdp.n_states, mdp.n_actions)
    return mdp, pol, np.zeros(pol.param_shape)


def _blocks(mdp, pol, theta, n, seeds, rng=0):
    """seeds disjoint blocks of n episodes' REINFORCE estimates (flattened), and the exact moments."""
    est = reinforce_estimator()
    mom = estimator_moments(mdp, pol, theta, est)
    gen = np.random.default_rng(rng)
    per_chunk = max(1, 100_000 // n)     # episodes are padded to the longest of their batch: keep it small
    chunks = []
    for start in range(0, seeds, per_chunk):
        m = min(per_chunk, seeds - start)
        tr = mg.sample(mdp, pol.probabilities(theta), n * m, rng=gen, protocol=mom.protocol)
        chunks.append(est.estimate(tr, pol, theta).reshape(m, n, -1))
    return np.concatenate(chunks), mom


def _in_clopper_pearson(rejections, seeds):
    ci = stats.binomtest(int(rejections), seeds, ALPHA).proportion_ci(COVERAGE, method="exact")
    return ci.low <= ALPHA <= ci.high, (ci.low, ci.high)


# -- identity with an independent computation -----------------------------------------------
def test_check_estimator_computes_the_chi2_statistic_with_the_exact_covariance():
    mdp, pol, theta = _uniform("random-walk-5")
    est = reinforce_estimator()
    check = check_estimator(mdp, pol, theta, est, n_episodes=3000, rng=7, alpha=ALPHA)
    tr = mg.sample(mdp, pol.probabilities(theta), 3000, rng=np.random.default_rng(7))
    x = est.estimate(tr, pol, theta).reshape(3000, -1)
    mom = estimator_moments(mdp, pol, theta, est)
    diff = x.mean(axis=0) - mom.mean.ravel()
    k = np.linalg.matrix_rank(mom.covariance, tol=1e-10 * np.abs(mom.covariance).max())
    pinv = np.linalg.pinv(mom.covariance, rcond=1e-10, hermitian=True)
    q = 3000 * diff @ pinv @ diff
    # the null law c·χ²(ν) matches E q = k and Var q = 2k + (b₂ − k(k+2))/n, b₂ the sampled Mardia kurtosis
    centred = x - x.mean(axis=0)
    b2 = np.mean(np.einsum("ij,jk,ik->i", centred, pinv, centred) ** 2)
    var_q = 2 * k + (b2 - k * (k + 2)) / 3000
    assert check.test == "chi2" and check.covariance_source == "exact" and check.dof == (k, 0)
    assert abs(check.statistic - q) <= RTOL * q
    assert abs(check.kurtosis_ratio - b2 / (k * (k + 2))) <= RTOL * b2
    p = stats.chi2.sf(q / (var_q / (2 * k)), 2 * k * k / var_q)
    assert abs(check.p_value - p) <= RTOL * p
    assert np.allclose(check.standard_error.ravel(), np.sqrt(np.diag(mom.covariance) / 3000), rtol=RTOL)
    # the same call with covariance="sample" is the old Hotelling / Bonferroni test on the same episodes
    sampled = check_estimator(mdp, pol, theta, est, n_episodes=3000, rng=7, alpha=ALPHA, covariance="sample")
    assert sampled.test in ("hotelling", "bonferroni") and sampled.covariance_source == "sample"
    assert np.array_equal(sampled.mean, check.mean)


def test_off_policy_ppo_uses_the_exact_covariance_of_the_behaviour_episodes():
    # PPO samples from θ_old; its exact moments are those of the behaviour episodes.  Level 1e-4: a
    # correct estimator fails this with probability ≈ 1e-4.
    from mdpgrad.estimators import ppo_estimator

    mdp, pol, theta = _uniform("random-walk-5")
    old = 0.3 * np.random.default_rng(0).standard_normal(pol.param_shape)
    adv = np.random.default_rng(1).standard_normal((mdp.n_states, mdp.n_actions))
    check = check_estimator(mdp, pol, theta, ppo_estimator(old, 0.2, advantages=adv), n_episodes=2000,
                            rng=0, alpha=1e-4, covariance="exact")
    assert check.test == "chi2" and check.holds


def test_hand_written_estimators_are_paired_unless_the_sample_covariance_is_asked_for():
    mdp, pol, theta = _uniform("two-state-episodic")
    est = reinforce_estimator()
    check = check_estimator(mdp, pol, theta, est.estimate, n_episodes=500, target="gradient")
    assert check.covariance_source == "paired" and check.test == "paired" and check.reference == "reinforce"
    sampled = check_estimator(mdp, pol, theta, est.estimate, n_episodes=500, target="gradient",
                              covariance="sample")
    assert sampled.covariance_source == "sample" and sampled.test in ("hotelling", "bonferroni")
    with pytest.raises(ValidationError) as info:
        check_estimator(mdp, pol, theta, est.estimate, n_episodes=500, target="gradient", covariance="exact")
    assert info.value.argument == "covariance"


# -- size ---------------------------------------------------------------------------------------
# (model, episodes per test, seeds).  The gridworld's returns are heavy-tailed (uniform policy: long
# random walks to the corner); the sample-covariance test rejected 71 of 1000 blocks of 4000 there.
# The false-failure probability of each case, an exactly calibrated test failing the Clopper–Pearson
# check, is P(R < lo) + P(R > hi) under Binomial(N, α): 0.005 for N = 200, 0.007 for N = 300.
CASES = [
    ("gridworld-episodic", 4000, 200),
    ("two-state", 1000, 300),
    ("two-state-episodic", 1000, 300),
    ("random-walk-5", 1000, 300),
    ("short-corridor", 1000, 300),
    ("gridworld", 1000, 200),
    ("two-state-reversible", 1000, 200),
    ("random-walk-19", 500, 200),
    ("slippery-gridworld", 1000, 200),
    ("garnet", 1000, 200),
]
# Not here: cliff-walking (a uniform walker needs thousands of steps per episode: too slow for the
# suite) and baird, whose rewards are all 0 (below: every estimate is 0, so the test is exact).


#: The cases that take more than about 5 s alone (20–200 s in a full run on a busy 2-core machine);
#: ``pytest -m "not slow"`` runs the others.
SLOW_CASES = {"gridworld-episodic", "gridworld", "random-walk-19", "slippery-gridworld", "garnet"}


@pytest.mark.parametrize("name, n, seeds", [pytest.param(*c, marks=pytest.mark.slow) if c[0] in SLOW_CASES
                                            else c for c in CASES])
def test_correct_reinforce_is_rejected_at_rate_alpha(name, n, seeds):
    mdp, pol, theta = _uniform(name)
    X, mom = _blocks(mdp, pol, theta, n, seeds)
    rejections = sum(_exact_test(X[b], mom.mean.ravel(), mom.covariance)["p_value"] < ALPHA
                     for b in range(seeds))
    inside, ci = _in_clopper_pearson(rejections, seeds)
    assert inside, (name, rejections, seeds, ci)


def test_on_bairds_zero_rewards_every_estimate_is_zero_and_the_test_is_exact():
    mdp, pol, theta = _uniform("baird")
    X, mom = _blocks(mdp, pol, theta, 50, 4)
    assert np.all(X == 0.0) and np.all(mom.covariance == 0.0)
    res = _exact_test(X[0], mom.mean.ravel(), mom.covariance)
    assert res["test"] == "exact" and res["p_value"] == 1.0
    assert _exact_test(X[0], mom.mean.ravel() + 1e-3, mom.covariance)["p_value"] == 0.0


# -- power and sample size ------------------------------------------------------------------------
def _normal_power(lam, alpha):
    """Power of the two-sided level-α z test at mean √λ: Φ(√λ − z) + Φ(−√λ − z) (χ'²(1, λ) in one dim)."""
    z = stats.norm.isf(alpha / 2)
    return stats.norm.sf(z - np.sqrt(lam)) + stats.norm.cdf(-z - np.sqrt(lam))


@pytest.mark.parametrize("alpha, power", [(0.05, 0.8), (0.01, 0.9), (1e-4, 0.99)])
def test_sample_size_in_one_dimension_is_the_normal_boundary(alpha, power):
    # two-state-episodic under the uniform policy: one live state with two actions, rank Σ = 1
    mdp, pol, theta = _uniform("two-state-episodic")
    mom = estimator_moments(mdp, pol, theta, reinforce_estimator())
    u = np.array([-1.0, 1.0]) / np.sqrt(2)
    bias = np.zeros(pol.param_shape)
    bias[0] = 0.01 * u
    var_u = u @ mom.covariance.reshape(2, 2, 2, 2)[0, :, 0, :] @ u       # variance along the score direction
    delta = 0.01 ** 2 / var_u
    n = sample_size(mom, bias, alpha=alpha, power=power)
    assert _normal_power((n - 1) * delta, alpha) < power <= _normal_power(n * delta, alpha)


def test_sample_size_in_several_dimensions_is_the_noncentral_chi2_boundary():
    mdp, pol, theta = _uniform("random-walk-5")
    mom = estimator_moments(mdp, pol, theta, reinforce_estimator())
    bias = 0.02 * np.sqrt(np.diag(mom.covariance)).reshape(pol.param_shape) * [1.0, -1.0]
    k = np.linalg.matrix_rank(mom.covariance, tol=1e-10 * np.abs(mom.covariance).max())
    b = bias.ravel()
    delta = b @ np.linalg.pinv(mom.covariance, rcond=1e-10, hermitian=True) @ b
    crit = stats.chi2.isf(0.01, k)
    n = sample_size(mom, bias, alpha=0.01, power=0.9)
    assert k == 5 and stats.ncx2.sf(crit, k, (n - 1) * delta) < 0.9 <= stats.ncx2.sf(crit, k, n * delta)


@pytest.mark.parametrize("kurtosis_ratio", [1.0, 50.0, 1000.0])
def test_sample_size_with_the_kurtosis_correction_is_its_boundary(kurtosis_ratio):
    # the test refers q to c·χ²(ν), Var q = 2k + (κ − 1)k(k+2)/n, c = Var q/(2k), ν = 2k²/Var q: with the
    # critical value c·χ²_{1−α}(ν) computed here, n − 1 episodes fall short of the power and n reach it
    mdp, pol, theta = _uniform("random-walk-5")
    mom = estimator_moments(mdp, pol, theta, reinforce_estimator())
    bias = 0.02 * np.sqrt(np.diag(mom.covariance)).reshape(pol.param_shape) * [1.0, -1.0]
    k = 5
    b = bias.ravel()
    delta = b @ np.linalg.pinv(mom.covariance, rcond=1e-10, hermitian=True) @ b

    def power(n):
        var_q = max(k, 2 * k + (kurtosis_ratio - 1) * k * (k + 2) / n)
        crit = var_q / (2 * k) * stats.chi2.isf(0.01, 2 * k * k / var_q)
        return stats.ncx2.sf(crit, k, n * delta)

    n = sample_size(mom, bias, alpha=0.01, power=0.9, kurtosis_ratio=kurtosis_ratio)
    assert power(n - 1) < 0.9 <= power(n)
    plain = sample_size(mom, bias, alpha=0.01, power=0.9)
    assert (n == plain) if kurtosis_ratio == 1.0 else (n > plain)


def test_sample_size_rejects_a_negative_kurtosis_ratio():
    mdp, pol, theta = _uniform("two-state-episodic")
    mom = estimator_moments(mdp, pol, theta, reinforce_estimator())
    with pytest.raises(ValidationError) as info:
        sample_size(mom, np.ones(pol.param_shape), kurtosis_ratio=-1.0)
    assert info.value.argument == "kurtosis_ratio"


@pytest.mark.slow
def test_sample_size_against_simulation_and_auto_n():
    # a target shifted by `bias` from the true mean must be rejected on ≈ power of the seeds at n =
    # sample_size; the rejection count is Binomial(seeds, p) with p in [power(n − 1), power(n)] ⊂
    # [0.89, 0.9] here, and the exact 99% Clopper–Pearson interval from the count must meet that range
    # (false-failure probability ≤ 1%)
    mdp, pol, theta = _uniform("random-walk-5")
    mom = estimator_moments(mdp, pol, theta, reinforce_estimator())
    bias = 0.05 * np.sqrt(np.diag(mom.covariance)).reshape(pol.param_shape) * [1.0, -1.0]
    n = sample_size(mom, bias, alpha=ALPHA, power=0.9)
    seeds = 300
    X, _ = _blocks(mdp, pol, theta, n, seeds, rng=3)
    target = mom.mean.ravel() - bias.ravel()
    rejections = sum(_exact_test(X[b], target, mom.covariance)["p_value"] < ALPHA for b in range(seeds))
    ci = stats.binomtest(int(rejections), seeds).proportion_ci(COVERAGE, method="exact")
    assert ci.low <= 0.9 and ci.high >= 0.89, (n, rejections, ci)
    # the harness picks the same n and reports the power it had against the bias
    check = check_estimator(mdp, pol, theta, reinforce_estimator(), n_episodes="auto", detect=bias,
                            alpha=ALPHA, power=0.9, target=mom.mean - bias, rng=0)
    # (power_against corrects the critical value with the sampled kurtosis, sample_size with κ = 1 here:
    # the two differ by the small correction at this n)
    assert check.n_episodes == n and abs(check.power - 0.9) <= 0.01
    assert check.power_against(bias) == check.power and check.power_against(0.5 * bias) < 0.9


def test_a_bias_outside_the_range_needs_one_episode_and_is_rejected_exactly():
    # softmax scores of a state sum to zero, so a bias (c, c) in one state is outside the range of Σ
    mdp, pol, theta = _uniform("two-state-episodic")
    est = reinforce_estimator()
    mom = estimator_moments(mdp, pol, theta, est)
    outside = np.zeros(pol.param_shape)
    outside[0] = [1.0, 1.0]
    assert sample_size(mom, 1e-6 * outside, alpha=0.01, power=0.99) == 1
    far = check_estimator(mdp, pol, theta, est, n_episodes=100, target=mom.mean + 1e-6 * outside, rng=0)
    assert not far.holds and far.p_value == 0.0 and far.power_against(1e-6 * outside) == 1.0
    # at the boundary of EXACT_RTOL = 1e-9 (relative to max(1, |target|)): a difference of 0.5e-9 passes,
    # 2e-9 is rejected (the episodes vary there only by rounding, ≈ 1e-17, so no allowance is added)
    near = check_estimator(mdp, pol, theta, est, n_episodes=100, target=mom.mean + 0.5e-9 * outside, rng=0)
    just_out = check_estimator(mdp, pol, theta, est, n_episodes=100, target=mom.mean + 2e-9 * outside,
                               rng=0)
    assert just_out.p_value == 0.0
    assert near.test == "chi2" and near.p_value > 0.0


def test_sample_size_refuses_what_it_cannot_detect():
    mdp, pol, theta = _uniform("two-state-episodic")
    mom = estimator_moments(mdp, pol, theta, reinforce_estimator())
    for kwargs, argument in [(dict(bias=np.zeros(pol.param_shape)), "bias"),
                             (dict(bias=np.zeros(3)), "bias"),
                             (dict(bias=np.ones(pol.param_shape), power=0.01), "power"),
                             (dict(bias=np.ones(pol.param_shape), alpha=1.0), "alpha"),
                             (dict(moments=mom.covariance, bias=np.ones(pol.param_shape)), "moments")]:
        with pytest.raises(ValidationError) as info:
            sample_size(**{"moments": mom, **kwargs})
        assert info.value.argument == argument
    with pytest.raises(ValidationError) as info:
        check_estimator(mdp, pol, theta, reinforce_estimator(), n_episodes="auto")
    assert info.value.argument == "detect"
    tiny = np.zeros(pol.param_shape)
    tiny[0] = [-1e-6, 1e-6]
    with pytest.raises(ValidationError) as info:
        check_estimator(mdp, pol, theta, reinforce_estimator(), n_episodes="auto", detect=tiny)
    assert info.value.argument == "detect"
