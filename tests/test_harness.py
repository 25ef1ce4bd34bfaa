"""Tests of mdpgrad.estimators._harness.

Tiers: identities between the harness and independent computations (scipy's
one-sample t test, the sampler called directly), exact cases, bad inputs,
calibration (size and power over many seeds), and the user-style test the
issue asks for: a REINFORCE that forgot γᵗ is caught by a property test written
with mdpgrad.strategies and assert_unbiased, while the correct one passes.
"""

import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mdpgrad import (
    MDP,
    TabularSoftmax,
    ValidationError,
    assert_unbiased,
    check_estimator,
    expected_update_without_discount,
    policy_gradient,
    sample,
)
from mdpgrad.estimators import Estimator, reinforce_estimator, reinforce_without_discount_estimator
from mdpgrad.strategies import mdps, thetas

#: Two float computations of one p-value or mean (same numbers, different code
#: paths: eigen-decomposition vs scipy's t test) agree to ≈ 1e-13; 1e-9 is ample.
RTOL = 1e-9

#: Calibration: level and number of seeds.  Under H₀ the number of rejections
#: is Binomial(N_SEEDS, ALPHA); we accept it inside the central interval of
#: probability CALIBRATION_COVERAGE.  With N = 300 and α = 0.05 that interval
#: is [6, 25] rejections, so a test rejecting at 2α (30 expected) is caught.
ALPHA = 0.05
N_SEEDS = 300
CALIBRATION_COVERAGE = 0.99

#: Power: the γᵗ-less estimator must be rejected on at least this fraction of seeds.
MIN_POWER = 0.99

#: Level of the user-style property test: tiny, because it runs once per
#: generated example and a correct estimator must never fail it.
USER_ALPHA = 1e-6


# -- fixtures -------------------------------------------------------------------------
def _bandit():
    """One decision (state 0, actions paying 0 and 1) then the terminal state 1."""
    P = np.zeros((2, 2, 2))
    P[:, :, 1] = 1.0
    return MDP(P, [[0.0, 1.0], [0.0, 0.0]], 1.0, rho0=[1.0, 0.0], terminal=np.array([False, True]))


def _three_state():
    """Two live states and a terminal one; stochastic, γ = 0.8 (used for size and power)."""
    P = np.zeros((3, 2, 3))
    P[0, 0] = [0.5, 0.3, 0.2]
    P[0, 1] = [0.1, 0.6, 0.3]
    P[1, 0] = [0.2, 0.5, 0.3]
    P[1, 1] = [0.4, 0.2, 0.4]
    P[2, :, 2] = 1.0
    r = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    return MDP(P, r, 0.8, rho0=[1.0, 0.0, 0.0], terminal=np.array([False, False, True]))


THETA3 = np.array([[0.3, -0.2], [0.0, 0.5], [0.0, 0.0]])


def _bandit_score(tr, policy, theta):
    """r·∇log π(a₀|s₀): the one-step score-function estimate."""
    w = np.zeros((tr.n_episodes, policy.n_states, policy.n_actions))
    w[np.arange(tr.n_episodes), tr.states[:, 0], tr.actions[:, 0]] = tr.rewards[:, 0]
    return policy.log_prob_vjp(theta, w)


# -- identities with independent computations ------------------------------------------
def test_hotelling_in_one_dimension_is_the_t_test():
    # softmax scores of one state with two actions span one direction, so T² = t² and the F(1, n−1)
    # p-value is the two-sided t test's: compare with scipy.stats.ttest_1samp on the same draws
    mdp, pol, theta = _bandit(), TabularSoftmax(2, 2), np.array([[0.4, -0.1], [0.0, 0.0]])
    target = np.array([[-0.2, 0.2], [0.0, 0.0]])
    check = check_estimator(mdp, pol, theta, _bandit_score, n_episodes=300, target=target, rng=3,
                            covariance="sample")
    tr = sample(mdp, pol.probabilities(theta), 300, rng=np.random.default_rng(3))
    x = _bandit_score(tr, pol, theta)[:, 0, 1]
    ref = stats.ttest_1samp(x, 0.2)
    assert check.test == "hotelling" and check.dof == (1, 299)
    assert abs(check.p_value - ref.pvalue) <= RTOL * ref.pvalue
    assert abs(check.statistic - ref.statistic ** 2) <= RTOL * ref.statistic ** 2
    assert abs(check.standardized_bias[0, 1] - ref.statistic) <= RTOL * abs(ref.statistic)
    assert abs(check.mean[0, 1] - x.mean()) <= RTOL * abs(x.mean())
    # Mardia's b₂ in one dimension is the sample kurtosis m₄/m₂² rescaled to the ddof = 1 variance
    b2 = stats.kurtosis(x, fisher=False) * ((x.size - 1) / x.size) ** 2
    assert abs(check.kurtosis_ratio - b2 / 3) <= RTOL * b2


def test_heavy_tails_send_hotelling_to_bonferroni():
    # a rare action (π ≈ 0.0025) paying 100: the one-step estimate is almost always 0 and rarely huge,
    # kurtosis ≈ 1/π, so 1000 units for one dimension are not enough for T² (n < 10·k·b₂/(k(k+2)))
    mdp = _bandit().replace(r=np.array([[0.0, 100.0], [0.0, 0.0]]))
    pol, theta = TabularSoftmax(2, 2), np.array([[3.0, -3.0], [0.0, 0.0]])
    check = check_estimator(mdp, pol, theta, _bandit_score, n_episodes=1000, target="gradient", rng=0,
                            covariance="sample")
    assert check.kurtosis_ratio > 10 and check.test == "bonferroni"
    light = check_estimator(_bandit(), pol, np.zeros((2, 2)), _bandit_score, n_episodes=1000,
                            target="gradient", rng=0, covariance="sample")
    assert light.kurtosis_ratio < 2 and light.test == "hotelling"


def test_bonferroni_when_units_are_few():
    # 12 units for rank 2 is below 10 per dimension: coordinate t tests, p = m · min pᵢ (REINFORCE has an
    # exact covariance, which the harness would use by default; covariance="sample" asks for the sampled one)
    mdp, pol = _three_state(), TabularSoftmax(3, 2)
    est = reinforce_estimator()
    check = check_estimator(mdp, pol, THETA3, est, n_episodes=12, rng=5, covariance="sample")
    tr = sample(mdp, pol.probabilities(THETA3), 12, rng=np.random.default_rng(5))
    X = est.estimate(tr, pol, THETA3).reshape(12, -1)
    target = est.expectation(mdp, pol, THETA3, protocol="terminal").ravel()
    varying = X.std(axis=0) > 0
    p_each = [stats.ttest_1samp(X[:, j], target[j]).pvalue for j in np.flatnonzero(varying)]
    assert check.test == "bonferroni" and check.dof == (int(varying.sum()), 11)
    assert abs(check.p_value - min(1.0, varying.sum() * min(p_each))) <= RTOL


def test_same_seed_same_result_and_seed_matters():
    mdp, pol, est = _three_state(), TabularSoftmax(3, 2), reinforce_estimator()
    a = check_estimator(mdp, pol, THETA3, est, n_episodes=200, rng=11)
    b = check_estimator(mdp, pol, THETA3, est, n_episodes=200, rng=11)
    c = check_estimator(mdp, pol, THETA3, est, n_episodes=200, rng=12)
    assert a.p_value == b.p_value and np.array_equal(a.mean, b.mean)
    assert not np.array_equal(a.mean, c.mean)
    # an int seed is recorded; a Generator in the same state draws the same episodes, and no seed is known
    g = check_estimator(mdp, pol, THETA3, est, n_episodes=200, rng=np.random.default_rng(11))
    assert np.array_equal(a.mean, g.mean) and a.seed == 11 and g.seed is None


def test_dense_and_sparse_models_give_the_same_check():
    # the sampler draws identical episodes from the dense and the CSR form of one model
    import scipy.sparse as sp

    mdp, pol, est = _three_state(), TabularSoftmax(3, 2), reinforce_estimator()
    twin = mdp.replace(P=sp.csr_array(mdp.P_flat))
    dense = check_estimator(mdp, pol, THETA3, est, n_episodes=300, rng=4, target="gradient")
    sparse = check_estimator(twin, pol, THETA3, est, n_episodes=300, rng=4, target="gradient")
    assert np.array_equal(dense.mean, sparse.mean)
    assert abs(dense.p_value - sparse.p_value) <= RTOL * dense.p_value
    assert np.max(np.abs(dense.target - sparse.target)) <= RTOL


def test_default_target_is_the_exact_expectation_and_gradient_is_grad_J():
    mdp, pol = _three_state(), TabularSoftmax(3, 2)
    est = reinforce_without_discount_estimator()
    by_default = check_estimator(mdp, pol, THETA3, est, n_episodes=50, rng=0)
    against_grad = check_estimator(mdp, pol, THETA3, est, n_episodes=50, rng=0, target="gradient")
    # the γᵗ-less update's exact expectation is the visit-weighted one (Nota & Thomas 2020, §3)
    assert np.max(np.abs(by_default.target - expected_update_without_discount(mdp, pol, THETA3))) <= RTOL
    assert np.max(np.abs(against_grad.target - policy_gradient(mdp, pol, THETA3))) <= RTOL
    assert by_default.target_kind == "expectation" and against_grad.target_kind == "gradient"


# -- exact cases and plumbing -------------------------------------------------------------
def test_constant_estimates_cannot_be_tested_and_say_so():
    mdp, pol, theta = _bandit(), TabularSoftmax(2, 2), np.zeros((2, 2))
    grad = policy_gradient(mdp, pol, theta)            # [[-1/4, 1/4], [0, 0]]

    def exact(tr, policy, th):
        return np.broadcast_to(grad, (tr.n_episodes, 2, 2))

    def off_by_one_percent(tr, policy, th):
        return np.broadcast_to(1.01 * grad, (tr.n_episodes, 2, 2))

    # estimates that never vary leave nothing to test inside the span of the scores (a rare event may
    # be missing from the sample); the harness does not reject but reports the untested difference
    ok = check_estimator(mdp, pol, theta, exact, n_episodes=10, target="gradient", covariance="sample")
    off = check_estimator(mdp, pol, theta, off_by_one_percent, n_episodes=10, target="gradient",
                          covariance="sample")
    assert ok.test == "exact" and ok.p_value == 1.0 and ok.untested_difference == 0.0
    assert off.test == "exact" and off.holds and off.untested_dims == 1
    # x̄ − m = 0.01·∇J = 0.01·(−¼, ¼, 0, 0) lies in the span; its largest entry is 0.0025
    assert abs(off.untested_difference - 0.01 * 0.25) <= RTOL
    assert "never varied" in off.report() and "never varied" not in ok.report()


def test_a_difference_outside_the_span_of_the_scores_is_rejected_exactly():
    # adding a constant to every coordinate moves the estimate off the span of softmax scores
    # (each state's block sums to zero), where no variance can hide it
    mdp, pol, est = _three_state(), TabularSoftmax(3, 2), reinforce_estimator()
    shifted = Estimator(name="shifted", estimate=lambda tr, p, th: est.estimate(tr, p, th) + 1e-6,
                        expectation=est.expectation)
    check = check_estimator(mdp, pol, THETA3, shifted, n_episodes=200, rng=0)
    assert not check.holds and check.p_value == 0.0 and check.max_abs_standardized_bias == np.inf


def test_groups_share_a_start_state_and_are_averaged():
    P = np.zeros((3, 2, 3))
    P[:2, :, 2] = 1.0
    P[2, :, 2] = 1.0
    mdp = MDP(P, [[0.0, 1.0], [1.0, 3.0], [0.0, 0.0]], 1.0, rho0=[0.5, 0.5, 0.0],
              terminal=np.array([False, False, True]))
    pol = TabularSoftmax(3, 2)
    seen = []

    def estimate(tr, policy, theta):
        starts = tr.states[:, 0].reshape(-1, 4)
        seen.append(bool(np.all(starts == starts[:, :1])))
        return _bandit_score(tr, policy, theta)

    grouped = types.SimpleNamespace(name="grouped", estimate=estimate, group_size=4)
    check = check_estimator(mdp, pol, np.zeros((3, 2)), grouped, n_episodes=800, target="gradient")
    assert seen == [True] and check.n_units == 200 and check.group_size == 4 and check.holds


def test_behaviour_theta_samples_from_the_behaviour_policy():
    # off-policy one-step estimate: importance weight π/π_b makes it unbiased; without it, it is not
    mdp, pol = _bandit(), TabularSoftmax(2, 2)
    theta, theta_b = np.zeros((2, 2)), np.array([[1.0, -1.0], [0.0, 0.0]])
    ratio = pol.probabilities(theta)[0] / pol.probabilities(theta_b)[0]

    def weighted(tr, policy, th):
        return ratio[tr.actions[:, 0]][:, None, None] * _bandit_score(tr, policy, th)

    good = types.SimpleNamespace(name="is-weighted", estimate=weighted, behaviour_theta=theta_b)
    naive = types.SimpleNamespace(name="naive", estimate=_bandit_score, behaviour_theta=theta_b)
    assert check_estimator(mdp, pol, theta, good, n_episodes=2000, target="gradient").holds
    assert not check_estimator(mdp, pol, theta, naive, n_episodes=2000, target="gradient").holds


def test_assert_unbiased_reports_readably():
    mdp, pol = _three_state(), TabularSoftmax(3, 2)
    check = assert_unbiased(mdp, pol, THETA3, reinforce_estimator(), n_episodes=500)
    assert check.holds
    with pytest.raises(AssertionError) as info:
        assert_unbiased(mdp, pol, THETA3, reinforce_without_discount_estimator(), n_episodes=3000)
    message = str(info.value)
    assert "REJECTED" in message and "gradient" in message and "standardized bias" in message
    assert "effective sample size" in message


@pytest.mark.parametrize("kwargs, argument", [
    (dict(n_episodes=1), "n_episodes"),
    (dict(n_episodes=10, alpha=0.0), "alpha"),
    (dict(n_episodes=10, alpha=1.5), "alpha"),
    (dict(n_episodes=10, rng=-1), "rng"),
    (dict(n_episodes=10, target="grad"), "target"),
    (dict(n_episodes=10, target=np.zeros(3)), "target"),
    (dict(n_episodes=10, protocol="forever"), "protocol"),
])
def test_bad_arguments(kwargs, argument):
    with pytest.raises(ValidationError) as info:
        check_estimator(_bandit(), TabularSoftmax(2, 2), np.zeros((2, 2)), reinforce_estimator(), **kwargs)
    assert info.value.argument == argument


def test_bad_estimators():
    mdp, pol, theta = _bandit(), TabularSoftmax(2, 2), np.zeros((2, 2))
    cases = [
        (42, "gradient", "estimator"),
        (lambda tr, p, th: np.zeros((tr.n_episodes, 3)), "gradient", "estimator"),    # wrong shape
        (_bandit_score, None, "target"),                                                # no expectation
        (types.SimpleNamespace(name="g3", estimate=_bandit_score, group_size=3), "gradient", "n_episodes"),
    ]
    for estimator, target, argument in cases:
        with pytest.raises(ValidationError) as info:
            check_estimator(mdp, pol, theta, estimator, n_episodes=10, target=target)
        assert info.value.argument == argument


# -- calibration ------------------------------------------------------------------------
@pytest.mark.slow
def test_unbiased_reinforce_is_rejected_at_rate_alpha():
    mdp, pol, est = _three_state(), TabularSoftmax(3, 2), reinforce_estimator()
    rejections = sum(not check_estimator(mdp, pol, THETA3, est, n_episodes=200, alpha=ALPHA, rng=seed).holds
                     for seed in range(N_SEEDS))
    low, high = stats.binom.interval(CALIBRATION_COVERAGE, N_SEEDS, ALPHA)
    assert low <= rejections <= high, (rejections, low, high)


@pytest.mark.slow
def test_reinforce_without_discount_is_rejected_with_high_power():
    mdp, pol = _three_state(), TabularSoftmax(3, 2)
    est = reinforce_without_discount_estimator()
    # its exact bias (Nota & Thomas 2020): E[update] − ∇J with η̃ for η, far from zero here
    bias = expected_update_without_discount(mdp, pol, THETA3) - policy_gradient(mdp, pol, THETA3)
    assert np.max(np.abs(bias)) > 0.2
    n_power = 200
    checks = [check_estimator(mdp, pol, THETA3, est, n_episodes=1000, alpha=ALPHA, target="gradient",
                              rng=seed) for seed in range(n_power)]
    assert sum(not c.holds for c in checks) >= MIN_POWER * n_power
    # and the same samples agree with the estimator's own exact expectation: the bias is exactly that
    assert check_estimator(mdp, pol, THETA3, est, n_episodes=1000, alpha=ALPHA, rng=0).holds


# -- the user-style test -----------------------------------------------------------------
def my_reinforce(traj, policy, theta):
    """What a user writes: Σ_t γᵗ G_t ∇log π(a_t|s_t) for each episode."""
    n, T = traj.actions.shape
    G = np.zeros((n, T + 1))
    for t in reversed(range(T)):
        G[:, t] = traj.rewards[:, t] + traj.gamma * G[:, t + 1]
    weight = traj.gamma ** np.arange(T) * G[:, :T]
    W = np.zeros((n, policy.n_states, policy.n_actions))
    i, t = np.nonzero(traj.mask)
    np.add.at(W, (i, traj.states[i, t], traj.actions[i, t]), weight[i, t])
    return policy.log_prob_vjp(theta, W)


def my_reinforce_forgot_discount(traj, policy, theta):
    """The common bug: Σ_t G_t ∇log π(a_t|s_t), γᵗ dropped."""
    n, T = traj.actions.shape
    G = np.zeros((n, T + 1))
    for t in reversed(range(T)):
        G[:, t] = traj.rewards[:, t] + traj.gamma * G[:, t + 1]
    W = np.zeros((n, policy.n_states, policy.n_actions))
    i, t = np.nonzero(traj.mask)
    np.add.at(W, (i, traj.states[i, t], traj.actions[i, t]), G[i, t])
    return policy.log_prob_vjp(theta, W)


def property_test_for(estimate):
    """The property test a user writes for their estimator, with mdpgrad.strategies and the harness."""

    @given(mdp=mdps(min_states=3, max_states=5, min_actions=2, max_actions=3,
                    episodic=st.just(True), gammas=st.floats(0.3, 0.8)),
           data=st.data())
    @settings(max_examples=15, database=None)
    def test_reinforce_is_unbiased(mdp, data):
        policy = TabularSoftmax(mdp.n_states, mdp.n_actions)
        theta = data.draw(thetas(policy, min_value=-1.0, max_value=1.0))
        assert_unbiased(mdp, policy, theta, estimate, n_episodes=2000, alpha=USER_ALPHA)

    return test_reinforce_is_unbiased


def test_user_property_test_passes_a_correct_reinforce():
    property_test_for(my_reinforce)()


@pytest.mark.slow
def test_user_property_test_catches_a_reinforce_that_forgot_gamma_t():
    with pytest.raises(AssertionError, match="REJECTED"):
        property_test_for(my_reinforce_forgot_discount)()


# -- report section ------------------------------------------------------------------------
def test_report_section_shows_the_missing_discount_only_where_it_matters():
    from mdpgrad import evaluate
    from mdpgrad._report.base import CheckContext
    from mdpgrad._report.estimators import estimator_section

    def context(mdp, theta):
        pol = TabularSoftmax(mdp.n_states, mdp.n_actions)
        return CheckContext(name="t", mdp=mdp, policy=pol, theta=theta, policy_name="given", seed=1,
                            evaluation=evaluate(mdp, pol.probabilities(theta)))

    episodic = estimator_section(context(_three_state(), THETA3))
    assert episodic.ok and episodic.data["reinforce_vs_expectation_p"] >= 1e-3
    labels = [label for label, _ in episodic.rows]
    assert "no gamma^t vs grad J" in labels and episodic.data["without_discount_vs_gradient_p"] < 1e-3
    bias = expected_update_without_discount(_three_state(), TabularSoftmax(3, 2), THETA3) \
        - policy_gradient(_three_state(), TabularSoftmax(3, 2), THETA3)
    assert abs(episodic.data["without_discount_exact_bias"] - np.max(np.abs(bias))) <= RTOL
    # under the geometric protocol of a continuing MDP the two updates coincide: no such row
    P = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.7, 0.3]]])
    continuing = estimator_section(context(MDP(P, [[1.0, 0.0], [0.0, 2.0]], 0.8), np.zeros((2, 2))))
    assert continuing.data["protocol"] == "geometric"
    assert "no gamma^t vs grad J" not in [label for label, _ in continuing.rows]


def _projector_by_one_svd(G: np.ndarray) -> np.ndarray:
    _, sv, Vt = np.linalg.svd(G, full_matrices=False)
    V = Vt[sv > 1e-10 * sv.max()]
    return V.T @ V


@pytest.mark.parametrize("case", ["tabular", "masked tabular", "shared features", "two feature groups"])
def test_score_span_by_blocks_is_the_span_of_one_svd(case):
    # the harness's span of the scores, found block by block, against one SVD of the whole score
    # matrix: the same orthogonal projector (entries of size ≤ 1, rounding ~ d·ε: 1e-12)
    from mdpgrad import LogLinear
    from mdpgrad.estimators._harness import _score_span
    from mdpgrad.variance import score_matrix

    rng = np.random.default_rng(7)
    S, A = 6, 3
    mask = np.ones((S, A), dtype=bool)
    if case in ("tabular", "masked tabular"):
        pol, theta = TabularSoftmax(S, A), rng.standard_normal((S, A))
        if case == "masked tabular":
            mask[1, 2] = mask[4, :2] = False          # state 4 keeps one pair: its score still spans a line
    else:
        phi = rng.standard_normal((S, A, 4))
        if case == "two feature groups":          # states 0–2 use features 0–1, states 3–5 features 2–3
            phi[:3, :, 2:] = 0.0
            phi[3:, :, :2] = 0.0
        pol, theta = LogLinear(phi), rng.standard_normal(4)
    span = _score_span(pol, theta, mask)
    np.testing.assert_allclose(span @ span.T, np.eye(span.shape[0]), atol=1e-12)
    expected = _projector_by_one_svd(score_matrix(pol, theta, mask))
    np.testing.assert_allclose(span.T @ span, expected, atol=1e-12)


@pytest.mark.parametrize("n", [5, 12, 20, 30])
def test_sample_test_with_fewer_units_than_dimensions_matches_the_full_eigendecomposition(n, monkeypatch):
    # d = 30 coordinates, 6 never vary and 4 are copies of others (rank-deficient Ĉ): the thin-SVD
    # route (n − 1 < d) and eigh of the d × d covariance give the same test.  Statistics are ratios of
    # eigenvalues ≥ NULL_RTOL·top: relative rounding ≲ 1e-9 (condition ≤ HOTELLING_MAX_CONDITION ~ 1e6)
    import mdpgrad.estimators._sample_test as st_mod

    rng = np.random.default_rng(n)
    X = rng.standard_t(3, size=(n, 30))
    X[:, :6] = 0.5
    X[:, 6:10] = X[:, 10:14]
    target = np.full(30, 0.1)
    target[:6] = 0.5
    span = np.eye(30)[4:]                     # coordinates 0–3 outside the span
    fast = st_mod.mean_test(X, target, span)
    monkeypatch.setattr(st_mod, "_eigenpairs", lambda centred, C: np.linalg.eigh(C))
    full = st_mod.mean_test(X, target, span)
    assert fast["test"] == full["test"] and fast["dof"] == full["dof"]
    assert fast["untested"] == full["untested"] and fast["structural_ok"] == full["structural_ok"]
    assert fast["statistic"] == pytest.approx(full["statistic"], rel=1e-9)
    assert fast["p_value"] == pytest.approx(full["p_value"], rel=1e-9, abs=1e-300)
    assert fast["untested_difference"] == pytest.approx(full["untested_difference"], rel=1e-9, abs=1e-12)

    def shift(eig, H):                        # Hᵀ Ĉ⁺ H on the kept eigenpairs, as the tail guard forms it
        w, V = eig
        keep = w > st_mod.NULL_RTOL * w.max()
        return float(np.sum((V[:, keep].T @ H) ** 2 / w[keep]))

    H = rng.standard_normal(30)
    assert shift(fast["eig"], H) == pytest.approx(shift(full["eig"], H), rel=1e-9)
    assert fast["eig"][1].shape[0] == 30 and (n - 1 >= 30 or fast["eig"][0].size == n)
