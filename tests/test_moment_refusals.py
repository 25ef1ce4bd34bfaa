"""The exact moments refuse what they cannot compute instead of returning NaN, inf or a negative variance.

* A policy that never terminates (γ = 1) raises NonTerminatingPolicyError, as evaluate does.
* γ = 1 with very long episodes: the resolvents (I − δK)⁻¹ are refused above
  MAX_RESOLVENT_CONDITION (1-norm condition number); below it, the mean agrees with
  the exact ∇J (policy gradient theorem, an independent linear solve) to κ·1e-16.
* Rewards whose squares overflow float64 raise ValidationError naming ``mdp``; the
  harness still tests such estimates (they are rescaled by a power of two).
* Every covariance returned is finite and positive semidefinite to PSD_RTOL.

The model is the short corridor of Sutton & Barto (2018), Example 13.1, with the
state-blind policy p = σ(θ): E[T] grows like e^{|θ|}.
"""

import numpy as np
import pytest

import mdpgrad as mg
from mdpgrad import NonTerminatingPolicyError, ValidationError
from mdpgrad.estimators import _moments, baseline_variances, estimator_moments, reinforce_estimator
from mdpgrad.variance import advantage_draws_covariance, return_variance


def corridor():
    phi = np.zeros((4, 2, 1))
    phi[:, 1, 0] = 1.0
    return mg.examples.short_corridor(), mg.LogLinear(phi)


def pair_condition(theta: float) -> float:
    """κ₁(I − K) of the corridor's pair chain, built here from P and π (γ = 1, terminal state 3)."""
    mdp, pol = corridor()
    pi = pol.probabilities(np.array([theta]))
    keep = (~mdp.terminal).astype(float)
    K = (mdp.P[:, :, :, None] * keep[None, None, :, None] * pi[None, None, :, :]).reshape(8, 8)
    return float(np.linalg.cond(np.eye(8) - K, 1))


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_a_policy_that_never_terminates_raises_like_evaluate(p):
    mdp = mg.examples.short_corridor()
    pol = mg.Direct(4, 2)
    theta = np.tile([1.0 - p, p], (4, 1))
    with pytest.raises(NonTerminatingPolicyError):
        mg.evaluate(mdp, theta)
    for f in (lambda: estimator_moments(mdp, pol, theta, reinforce_estimator()),
              lambda: baseline_variances(mdp, pol, theta)):
        with pytest.raises(NonTerminatingPolicyError):
            f()


def test_direct_with_a_zero_probability_action_needs_no_score_there():
    # two-state episodic model, Direct policy with π(1|0) = 0: the estimate never uses that pair, so the
    # moments exist (earlier a refusal named an internal weight table the user never passed)
    mdp = mg.get_example("two-state-episodic")
    pol = mg.Direct(mdp.n_states, mdp.n_actions)
    theta = np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)
    theta[0] = [1.0, 0.0]
    mom = estimator_moments(mdp, pol, theta, reinforce_estimator())
    assert np.all(np.isfinite(mom.covariance))
    assert np.allclose(mom.mean, reinforce_estimator().expectation(mdp, pol, theta, protocol="terminal"),
                       rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("theta", [-37.0, 37.0, -20.0, 20.0])
def test_long_episodes_are_refused(theta):
    # θ = −37: E[T] ≈ 5·10¹⁶ (earlier: mean −1.90, variance −2.2e33, snr = inf, no warning)
    mdp, pol = corridor()
    with pytest.raises(ValidationError):
        estimator_moments(mdp, pol, np.array([theta]), reinforce_estimator())


@pytest.mark.parametrize("theta", [-15.0, -10.0, 10.0, 15.0])
def test_accepted_long_episodes_are_accurate(theta):
    mdp, pol = corridor()
    th = np.array([theta])
    kappa = pair_condition(theta)
    assert kappa <= _moments.MAX_RESOLVENT_CONDITION
    mom = estimator_moments(mdp, pol, th, reinforce_estimator())
    grad = mg.policy_gradient(mdp, pol, th)
    # relative error ≈ κ·u (u = 1.1e-16); 100·κ·u leaves room for the few solves in a row
    assert abs(mom.mean[0] - grad[0]) <= 100 * kappa * 1.1e-16 * abs(grad[0])
    assert mom.covariance[0, 0] > 0 and np.isfinite(mom.snr)


def test_condition_limit_at_its_boundary(monkeypatch):
    theta = -12.0
    kappa = pair_condition(theta)
    mdp, pol = corridor()
    # LAPACK's gecon estimates κ₁ within a small factor (exact on this 8 × 8 chain in practice); 2 % margins
    monkeypatch.setattr(_moments, "MAX_RESOLVENT_CONDITION", 1.02 * kappa)
    estimator_moments(mdp, pol, np.array([theta]), reinforce_estimator())
    monkeypatch.setattr(_moments, "MAX_RESOLVENT_CONDITION", 0.98 * kappa)
    with pytest.raises(ValidationError) as info:
        estimator_moments(mdp, pol, np.array([theta]), reinforce_estimator())
    assert info.value.argument == "theta"


@pytest.mark.parametrize("theta", np.linspace(-25.0, 25.0, 21))
def test_moments_are_finite_and_psd_or_refused(theta):
    mdp, pol = corridor()
    try:
        mom = estimator_moments(mdp, pol, np.array([theta]), reinforce_estimator())
    except ValidationError:
        assert pair_condition(theta) > 0.5 * _moments.MAX_RESOLVENT_CONDITION
        return
    assert np.all(np.isfinite(mom.covariance)) and np.all(np.isfinite(mom.mean)) and np.isfinite(mom.snr)
    assert np.linalg.eigvalsh(mom.covariance)[0] >= -_moments.PSD_RTOL * mom.second_moment.max()


def test_psd_check_at_its_boundary():
    second = np.diag([1.0, 1.0])
    _moments.check_psd(np.diag([1.0, -0.9 * _moments.PSD_RTOL]), second)
    with pytest.raises(ValidationError):
        _moments.check_psd(np.diag([1.0, -1.1 * _moments.PSD_RTOL]), second)


def _bandit(big):
    P = np.array([[[0.5, 0.5], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    return mg.MDP(P, [[big, 0.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])


@pytest.mark.parametrize("big", [1e155, 1e300])
def test_overflowing_second_moments_are_refused(big):
    mdp, pol, th = _bandit(big), mg.TabularSoftmax(2, 2), np.zeros((2, 2))
    calls = [lambda: estimator_moments(mdp, pol, th, reinforce_estimator()),
             lambda: baseline_variances(mdp, pol, th),
             lambda: return_variance(mdp, pol.probabilities(th))]
    for f in calls:
        with pytest.raises(ValidationError) as info:
            f()
        assert info.value.argument == "mdp"


def test_large_rewards_are_scaled_exactly():
    # rewards 2⁷⁰ (above the scaling threshold 2⁶⁴): every moment is 2⁷⁰ or 2¹⁴⁰ times that of rewards 1
    mdp1, mdpb = _bandit(1.0), _bandit(2.0 ** 70)
    pol, th = mg.TabularSoftmax(2, 2), np.array([[0.3, -0.1], [0.0, 0.0]])
    rv1, rvb = return_variance(mdp1, pol.probabilities(th)), return_variance(mdpb, pol.probabilities(th))
    assert np.array_equal(rvb.variance, np.ldexp(rv1.variance, 140))
    assert np.array_equal(rvb.v, np.ldexp(rv1.v, 70))
    a1 = advantage_draws_covariance(mdp1, pol, th)
    ab = advantage_draws_covariance(mdpb, pol, th)
    assert np.array_equal(ab, np.ldexp(a1, 140))


def test_the_harness_tests_estimates_near_the_float64_maximum():
    # earlier: LinAlgError from eigh of an overflowed sample covariance
    mdp, pol, th = _bandit(1e155), mg.TabularSoftmax(2, 2), np.zeros((2, 2))
    small = mg.check_estimator(_bandit(1.0), pol, th, reinforce_estimator(), n_episodes=200, rng=3)
    check = mg.check_estimator(mdp, pol, th, reinforce_estimator(), n_episodes=200, rng=3)
    assert check.covariance_source == "sample" and np.isfinite(check.p_value)
    # the same episodes with rewards scaled by 1e155: the sample-covariance test is scale-invariant
    ref = mg.check_estimator(_bandit(1.0), pol, th, reinforce_estimator(), n_episodes=200, rng=3,
                             covariance="sample")
    assert abs(check.p_value - ref.p_value) <= 1e-9 * max(ref.p_value, 1e-300)
    assert small.test == "chi2"


def test_max_pairs_message_counts_time_steps_once():
    mdp = mg.get_example("garnet")
    pol = mg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    H = _moments.MAX_PAIRS // (mdp.n_states * mdp.n_actions) + 1
    with pytest.raises(ValidationError) as info:
        estimator_moments(mdp, pol, np.zeros(pol.param_shape), reinforce_estimator(), protocol="horizon",
                          horizon=H)
    n0 = mdp.n_states * mdp.n_actions
    text = str(info.value)
    assert f"({H} time steps × {n0} state-action pairs)" in text
    assert f"{H * n0}" in text.replace(",", "") and "pairs × " not in text


def test_str_of_moment_results_start_with_the_class_name():
    mdp, pol = corridor()
    mom = estimator_moments(mdp, pol, np.array([0.0]), reinforce_estimator())
    bv = baseline_variances(mdp, pol, np.array([0.0]))
    assert str(mom).startswith("EstimatorMoments: exact") and f"{mom.total_variance:.4g}" in str(mom)
    assert str(bv).startswith("BaselineVariances: ") and f"{bv.none:.4g}" in str(bv)
    assert len(str(mom).splitlines()) == 1 and len(str(bv).splitlines()) == 1


def test_str_of_the_other_results_start_with_the_class_name():
    from mdpgrad.estimators import sgd_step
    from mdpgrad.variance import sample_efficiency

    mdp, pol = corridor()
    th = np.array([0.0])
    small = sgd_step(mdp, pol, th, reinforce_estimator(), 1e-4)     # α below α_c ≈ 1.8e-3: a gain
    large = sgd_step(mdp, pol, th, reinforce_estimator(), 1e-2)     # beyond it: a loss
    assert small.expected_change > 0 > large.expected_change
    assert str(small).startswith("SGDStep: alpha=0.0001") and "(gain)" in str(small)
    assert "(loss)" in str(large)
    rv = return_variance(mdp, pol.probabilities(th))
    assert str(rv).startswith(f"ReturnVariance: J = {rv.J:.6g}")
    se = sample_efficiency(mdp, pol, th, reinforce_estimator(), n_episodes=200)
    assert str(se).startswith(f"SampleEfficiency: 200 episodes worth {se.effective_sample_size:.4g}")
