"""What the exact second moments are for: baselines, SNR, standard errors, and the refusals.

Known numbers: the one-decision bandit (rewards 0 and 1, π = (½, ½)), where every quantity is a
fraction worked out by hand in the comments.  Identities: the quadratic form of
:func:`baseline_variances` equals :func:`estimator_moments` of the baseline estimator at any
table b, and its minimisers are minima (no perturbation does better).
"""

from __future__ import annotations

import numpy as np
import pytest
from _models import random_mdp

import mdpgrad as mg
from mdpgrad import estimators as est

P_BANDIT = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
BANDIT = mg.MDP(P_BANDIT, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])
SOFTMAX = mg.TabularSoftmax(2, 2)
ZERO = np.zeros((2, 2))

# Every number below is a sum of a few fractions with denominators up to 16, computed in float64
# by a handful of LU solves on a 2-pair chain: the rounding is ~1e-16, so 1e-12 is a wide margin
# that still fails on any wrong term (the smallest term is 1/16).
EXACT = 1e-12


def test_bandit_moments_by_hand():
    # a = 1 (prob ½): G = 1, ĝ[0] = e₁ − π = (−½, ½); a = 0: G = 0, ĝ = 0.
    mom = est.estimator_moments(BANDIT, SOFTMAX, ZERO, est.reinforce_estimator())
    np.testing.assert_allclose(mom.mean, [[-0.25, 0.25], [0.0, 0.0]], atol=EXACT)
    second = np.zeros((4, 4))
    second[:2, :2] = 0.5 * np.outer([-0.5, 0.5], [-0.5, 0.5])
    np.testing.assert_allclose(mom.second_moment, second, atol=EXACT)
    assert mom.total_variance == pytest.approx(0.125, abs=EXACT)          # ¼ − ⅛
    assert mom.snr == pytest.approx(np.sqrt(0.125) / np.sqrt(0.125), abs=EXACT)   # ‖μ‖ = √⅛
    np.testing.assert_allclose(mom.standard_error(4), np.sqrt(np.array([[1 / 16, 1 / 16], [0, 0]]) / 4),
                               atol=EXACT)


def test_bandit_whole_return_equals_to_go_on_one_step():
    # with one step the whole return is the return to go
    a = est.estimator_moments(BANDIT, SOFTMAX, ZERO, est.whole_return_estimator())
    b = est.estimator_moments(BANDIT, SOFTMAX, ZERO, est.reinforce_estimator())
    np.testing.assert_allclose(a.second_moment, b.second_moment, atol=EXACT)


def test_bandit_best_constant_baseline_removes_all_variance():
    bv = est.baseline_variances(BANDIT, SOFTMAX, ZERO)
    assert bv.none == pytest.approx(0.125, abs=EXACT)
    assert bv.constant_baseline == pytest.approx(0.5, abs=EXACT)          # the mean reward
    assert bv.constant == pytest.approx(0.0, abs=EXACT)
    assert bv.value == pytest.approx(0.0, abs=EXACT)                      # v(0) = ½ here
    assert bv.state == pytest.approx(0.0, abs=EXACT)


CASES = [(random_mdp(2, n_states=4, n_actions=3, gamma=0.9, episodic=True), "terminal", None),
         (random_mdp(3, n_states=3, n_actions=2, gamma=0.8), "geometric", None),
         (random_mdp(3, n_states=3, n_actions=2, gamma=0.8), "horizon", 4)]


@pytest.mark.parametrize("mdp, protocol, horizon", CASES, ids=[c[1] for c in CASES])
def test_baseline_quadratic_form_is_the_engine_at_every_table(mdp, protocol, horizon):
    rng = np.random.default_rng(0)
    policy = mg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    theta = rng.normal(size=policy.param_shape)
    bv = est.baseline_variances(mdp, policy, theta, protocol=protocol, horizon=horizon)
    tables = [np.zeros(mdp.n_states), rng.normal(size=mdp.n_states), bv.state_baseline,
              est.value_baseline(mdp, policy, theta)]
    for b in tables:
        direct = est.estimator_moments(mdp, policy, theta, est.baseline_estimator(b), protocol=protocol,
                                       horizon=horizon).total_variance
        # two exact computations of the same number by different products of the same resolvents
        assert bv.variance(b) == pytest.approx(direct, rel=1e-10)
    assert bv.variance(bv.constant_baseline) == pytest.approx(bv.constant, rel=1e-12)
    assert bv.state <= bv.constant <= bv.none + 1e-12
    assert bv.state <= bv.value + 1e-12
    for _ in range(5):          # a minimum: no perturbation does better
        assert bv.variance(bv.state_baseline + 0.05 * rng.normal(size=mdp.n_states)) >= bv.state - 1e-12
        assert bv.variance(bv.constant_baseline + 0.05 * rng.normal()) >= bv.constant - 1e-12


def test_estimators_without_a_closed_form_are_refused():
    with pytest.raises(mg.ValidationError) as info:
        est.estimator_moments(BANDIT, SOFTMAX, ZERO, est.grpo_estimator(4))
    assert info.value.argument == "estimator"
    mine = est.Estimator("mine", lambda traj, pol, th: np.zeros((traj.n_episodes, 2, 2)),
                         lambda *args: np.zeros((2, 2)))
    with pytest.raises(mg.ValidationError, match="no closed-form second moment"):
        est.estimator_moments(BANDIT, SOFTMAX, ZERO, mine)
    with pytest.raises(mg.ValidationError) as info:
        est.estimator_moments(BANDIT, SOFTMAX, ZERO, "reinforce")
    assert info.value.argument == "estimator"


def test_ppo_with_sampled_advantages_is_refused_where_the_clip_can_bind():
    theta_old = np.zeros((2, 2))
    ppo = est.ppo_estimator(theta_old, 0.2)
    inside = np.array([[0.0, np.log(1.19 / 0.81)], [0.0, 0.0]])     # π = (0.405, 0.595): ratios 0.81, 1.19
    pi = SOFTMAX.probabilities(inside)[0] / 0.5                       # the two ratios π/π_old
    assert np.all((pi >= 0.8) & (pi <= 1.2))                          # just inside [1 − ε, 1 + ε]
    est.estimator_moments(BANDIT, SOFTMAX, inside, ppo)
    outside = np.array([[0.0, np.log(1.25 / 0.75)], [0.0, 0.0]])
    ratio = SOFTMAX.probabilities(outside)[0] / 0.5
    assert ratio.max() > 1.2                                          # just outside
    with pytest.raises(mg.ValidationError, match="clip can bind") as info:
        est.estimator_moments(BANDIT, SOFTMAX, outside, ppo)
    assert info.value.argument == "estimator"


def test_too_large_a_pair_chain_is_refused_with_its_memory():
    big = mg.examples.slippery_gridworld(40, 40, sparse=False)       # 6400 pairs > MAX_PAIRS = 5000
    policy = mg.TabularSoftmax(big.n_states, big.n_actions)
    with pytest.raises(mg.ValidationError, match="GiB") as info:
        est.estimator_moments(big, policy, np.zeros(policy.param_shape), est.reinforce_estimator())
    assert info.value.argument == "mdp"
    edge = mg.examples.slippery_gridworld(25, 50, sparse=False)      # 5000 pairs: handled
    assert edge.n_states * edge.n_actions == 5000


def test_standard_error_needs_a_positive_count():
    mom = est.estimator_moments(BANDIT, SOFTMAX, ZERO, est.reinforce_estimator())
    with pytest.raises(mg.ValidationError) as info:
        mom.standard_error(0)
    assert info.value.argument == "n_episodes"
    np.testing.assert_allclose(mom.standard_error(1), np.sqrt(np.diag(mom.covariance)).reshape(2, 2))
