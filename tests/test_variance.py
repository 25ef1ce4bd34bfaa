"""Tests of mdpgrad.variance: Sobel's return variance and the sample-efficiency measure.

Tiers: hand-derived numbers (geometric episode length, Bernoulli reward,
deterministic chains), an identity between two formulas for the variance
(Sobel's second moment vs the law of total variance), dense = sparse over
generated MDPs, Monte Carlo agreement with a fixed seed, and the effective
sample size of correlated samples (the pairs of one episode) measured against
hand-derived values.
"""

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from mdpgrad import MDP, TabularSoftmax, ValidationError, evaluate, sample
from mdpgrad.strategies import mdps, policies
from mdpgrad.variance import (
    advantage_draws_covariance,
    effective_sample_size,
    return_variance,
    sample_efficiency,
)

#: Float agreement with a hand-derived value: two or three divisions of O(1)
#: numbers, rounding ≈ 1e-16; 1e-12 leaves room while catching any slip.
EXACT_TOL = 1e-12

#: Relative agreement of two float formulas solved on ≤ 5 states: LU backward
#: error ≈ cond·ε with cond ≤ ~1e4 for the generated MDPs (γ ≤ 1, bounded p_min).
RTOL = 1e-9

#: Monte Carlo checks accept |estimate − exact| ≤ 5 standard errors: under the
#: normal approximation a correct implementation fails with probability ≈ 6e-7
#: (and the seed is fixed, so the run is reproducible).
N_SIGMA = 5.0

#: Relative tolerance on a sampled effective sample size: with n = 4000 episodes
#: the sample total variance has relative SE ≈ √((κ − 1)/n) ≤ 4% for kurtosis
#: κ ≤ 7; 15% is more than 3 SE away yet far below the k-fold effects measured.
ESS_RTOL = 0.15

episodic_mdps = mdps(episodic=st.just(True), gammas=st.floats(0.0, 1.0))
any_mdps = st.one_of(mdps(), episodic_mdps)


def _geometric_mdp(p_continue, gamma):
    P = np.array([[[p_continue, 1 - p_continue]], [[0.0, 1.0]]], dtype=object)
    return MDP(P, [[1], [0]], gamma, rho0=[1, 0], terminal=np.array([False, True]))


# -- hand-derived values --------------------------------------------------------------
def test_geometric_number_of_rewards():
    # G = Σ_{t<T} γ^t, T ~ Geometric: E[G] = 1/(1 − γp), E[G²] = (1 + 2γp E[G]) / (1 − γ²p)
    p, gamma = Fraction(1, 3), Fraction(1, 2)
    mean = 1 / (1 - gamma * p)
    second = (1 + 2 * gamma * p * mean) / (1 - gamma ** 2 * p)
    rv = return_variance(_geometric_mdp(p, float(gamma)), np.ones((2, 1)))
    assert abs(rv.v[0] - float(mean)) <= EXACT_TOL
    assert abs(rv.second_moment[0] - float(second)) <= EXACT_TOL
    assert abs(rv.variance[0] - float(second - mean ** 2)) <= EXACT_TOL
    assert rv.variance[1] == 0.0 and rv.second_moment[1] == 0.0


def test_undiscounted_geometric_length_has_textbook_variance():
    # γ = 1: G = T ~ Geometric(q) on {1, 2, ...} with q = 1 − p: Var = (1 − q)/q² (Feller 1968, §XI.2)
    p = 0.75
    rv = return_variance(_geometric_mdp(Fraction(3, 4), 1.0), np.ones((2, 1)))
    assert abs(rv.variance[0] - p / (1 - p) ** 2) <= EXACT_TOL * 16
    assert abs(rv.variance_rho0 - p / (1 - p) ** 2) <= EXACT_TOL * 16


def test_bernoulli_reward_from_the_action():
    # one state, γ = 0, actions pay 0 and 1: G ~ Bernoulli(π(1)), Var = π(1)(1 − π(1))
    mdp = MDP(np.ones((1, 2, 1)), [[0.0, 1.0]], gamma=0.0)
    pi = np.array([[0.3, 0.7]])
    assert abs(return_variance(mdp, pi).variance[0] - 0.21) <= EXACT_TOL


def test_deterministic_chain_has_zero_variance_and_start_spread():
    # 0 → 1 → 2 (terminal), rewards 1 and 2, γ = ½: G(0) = 1 + ½·2 = 2, G(1) = 2, no randomness given s₀;
    # with ρ₀ = (½, ½, 0) the return is 2 either way, so Var over ρ₀ is 0 too.
    P = np.zeros((3, 1, 3))
    P[0, 0, 1] = P[1, 0, 2] = P[2, 0, 2] = 1.0
    mdp = MDP(P, [[1.0], [2.0], [0.0]], 0.5, rho0=[0.5, 0.5, 0.0], terminal=np.array([False, False, True]))
    rv = return_variance(mdp, np.ones((3, 1)))
    assert np.max(np.abs(rv.variance)) <= EXACT_TOL and abs(rv.variance_rho0) <= EXACT_TOL
    # and with rewards 1 and 4 the starts differ: G ∈ {3, 4}, Var over ρ₀ = ¼
    mdp2 = mdp.replace(r=np.array([[1.0], [4.0], [0.0]]))
    assert abs(return_variance(mdp2, np.ones((3, 1))).variance_rho0 - 0.25) <= EXACT_TOL


# -- identities over generated MDPs --------------------------------------------------
@st.composite
def _mdp_and_policy(draw, strategy=any_mdps):
    mdp = draw(strategy)
    return mdp, draw(policies(mdp.n_states, mdp.n_actions))


@given(_mdp_and_policy())
def test_sobel_equals_law_of_total_variance(pair):
    # Var(s) = σ²(s) + γ² Σ P^π(s, s') Var(s'), σ²(s) = E[(r + γ v(s') − v(s))² | s], solved independently
    mdp, pi = pair
    ev = evaluate(mdp, pi)
    P = mdp.P_dense()
    delta = mdp.r[:, :, None] + mdp.gamma * ev.v[None, None, :] - ev.v[:, None, None]
    sigma2 = np.einsum("sa,sat,sat->s", pi, P, delta ** 2)
    keep = ~mdp.terminal
    Pm = np.einsum("sa,sat->st", pi, P)[np.ix_(keep, keep)]
    var = np.zeros(mdp.n_states)
    var[keep] = np.linalg.solve(np.eye(keep.sum()) - mdp.gamma ** 2 * Pm, sigma2[keep])
    rv = return_variance(mdp, pi)
    scale = max(1.0, float(np.max(rv.second_moment)))
    assert np.max(np.abs(rv.variance - var)) <= RTOL * scale
    assert np.min(rv.variance) >= -RTOL * scale


@given(_mdp_and_policy(st.one_of(mdps(sparse=st.just(False)),
                                 mdps(sparse=st.just(False), episodic=st.just(True)))))
def test_dense_equals_sparse(pair):
    mdp, pi = pair
    dense = return_variance(mdp, pi)
    sparse = return_variance(mdp.replace(P=sp.csr_array(mdp.P_flat)), pi)
    scale = max(1.0, float(np.max(dense.second_moment)))
    assert np.max(np.abs(dense.second_moment - sparse.second_moment)) <= RTOL * scale
    assert abs(dense.variance_rho0 - sparse.variance_rho0) <= RTOL * scale


# -- Monte Carlo ------------------------------------------------------------------------
def _discounted_returns(tr):
    return np.sum(tr.rewards * tr.gamma ** np.arange(tr.rewards.shape[1]), axis=1)


def _assert_variance_matches(G, exact_var):
    n = G.size
    dev2 = (G - G.mean()) ** 2
    se = np.std(dev2, ddof=1) / np.sqrt(n)   # standard error of the sample variance
    assert abs(np.var(G, ddof=1) - exact_var) <= N_SIGMA * se + EXACT_TOL, (np.var(G, ddof=1), exact_var, se)


def test_sobel_matches_sampled_returns_episodic():
    P = np.zeros((4, 2, 4))
    P[0, 0] = [0.2, 0.5, 0.1, 0.2]
    P[0, 1] = [0.0, 0.3, 0.6, 0.1]
    P[1, 0] = [0.4, 0.0, 0.3, 0.3]
    P[1, 1] = [0.1, 0.1, 0.1, 0.7]
    P[2, 0] = [0.5, 0.5, 0.0, 0.0]
    P[2, 1] = [0.0, 0.0, 0.5, 0.5]
    P[3, :, 3] = 1.0
    r = np.array([[1.0, -2.0], [0.5, 3.0], [0.0, 1.0], [0.0, 0.0]])
    mdp = MDP(P, r, 0.9, terminal=np.array([False, False, False, True]))
    pi = np.array([[0.6, 0.4], [0.5, 0.5], [0.2, 0.8], [1.0, 0.0]])
    rv = return_variance(mdp, pi)
    rng = np.random.default_rng(2024)
    for s in range(3):
        G = _discounted_returns(sample(mdp, pi, 20_000, rng=rng, start_states=s))
        _assert_variance_matches(G, rv.variance[s])
    G = _discounted_returns(sample(mdp, pi, 20_000, rng=rng))
    _assert_variance_matches(G, rv.variance_rho0)


def test_sobel_matches_sampled_returns_continuing_with_long_horizon():
    # horizon H with γ^H·max|r|/(1−γ) < 1e-9: truncation changes the moments far below the MC error
    P = np.array([[[0.7, 0.3], [0.1, 0.9]], [[0.5, 0.5], [0.9, 0.1]]])
    mdp = MDP(P, [[1.0, 0.0], [-1.0, 2.0]], 0.6, rho0=[0.5, 0.5])
    pi = np.array([[0.5, 0.5], [0.3, 0.7]])
    rv = return_variance(mdp, pi)
    tr = sample(mdp, pi, 20_000, rng=np.random.default_rng(7), protocol="horizon", horizon=50)
    assert tr.truncation_bound < 1e-9
    _assert_variance_matches(_discounted_returns(tr), rv.variance_rho0)


# -- the advantage-draw covariance -----------------------------------------------------
def test_advantage_draws_covariance_equals_brute_force_draws():
    # draw (s, a) ∼ μ exactly (enumerate), g = (Σ η) adv ∇log π, compare with the closed form
    P = np.array([[[0.7, 0.3], [0.1, 0.9]], [[0.5, 0.5], [0.9, 0.1]]])
    mdp = MDP(P, [[1.0, 0.0], [-1.0, 2.0]], 0.8, rho0=[1.0, 0.0])
    pol = TabularSoftmax(2, 2)
    theta = np.array([[0.2, -0.4], [1.0, 0.0]])
    ev = evaluate(mdp, pol.probabilities(theta))
    Z = ev.eta.sum()
    draws, weights = [], []
    for s in range(2):
        for a in range(2):
            score = np.eye(2)[a] - ev.pi[s]                       # tabular softmax ∇log π, row s
            g = np.zeros((2, 2))
            g[s] = Z * ev.advantage[s, a] * score
            draws.append(g.ravel())
            weights.append(ev.mu[s, a])
    D, w = np.array(draws), np.array(weights)
    mean = w @ D
    cov = (D * w[:, None]).T @ D - np.outer(mean, mean)
    assert np.max(np.abs(advantage_draws_covariance(mdp, pol, theta) - cov)) <= RTOL * np.max(np.abs(cov))


@pytest.mark.parametrize("kwargs, argument", [
    (dict(n_episodes=1), "n_episodes"),
    (dict(n_episodes=10, rng=-1), "rng"),
    (dict(n_episodes=10, protocol="forever"), "protocol"),
])
def test_sample_efficiency_bad_arguments(kwargs, argument):
    mdp = MDP(np.ones((1, 2, 1)), [[0.0, 1.0]], gamma=0.5)
    with pytest.raises(ValidationError) as info:
        sample_efficiency(mdp, TabularSoftmax(1, 2), np.zeros((1, 2)), lambda tr, p, th: None, **kwargs)
    assert info.value.argument == argument


def test_effective_sample_size_rejects_single_row():
    with pytest.raises(ValidationError) as info:
        effective_sample_size(np.ones((1, 3)), 1.0)
    assert info.value.argument == "estimates"


# -- correlated samples: an episode is worth about one draw, not k -----------------------
def _chain(k):
    """k live states in a line, 3 actions paying 0, 1, 3, all moving forward; γ = 1; terminal at k."""
    S = k + 1
    P = np.zeros((S, 3, S))
    for s in range(k):
        P[s, :, s + 1] = 1.0
    P[k, :, k] = 1.0
    r = np.zeros((S, 3))
    r[:k] = [0.0, 1.0, 3.0]
    rho0 = np.zeros(S)
    rho0[0] = 1.0
    return MDP(P, r, 1.0, rho0=rho0, terminal=np.arange(S) == k)


def _weighted_scores(tr, policy, theta, coef):
    """Σ_t coef[i, t] ∇log π(a_t|s_t) per episode."""
    n, T = tr.actions.shape
    A = policy.n_actions
    W = np.zeros((n, policy.n_states * A))
    x = np.where(tr.mask, tr.states[:, :T] * A + tr.actions, 0)
    np.add.at(W, (np.repeat(np.arange(n), T), x.ravel()), np.where(tr.mask, coef, 0.0).ravel())
    return policy.log_prob_vjp(theta, W.reshape(n, policy.n_states, A))


def _estimators(ev):
    def exact_advantage(tr, policy, theta):
        T = tr.actions.shape[1]
        s, a = np.where(tr.mask, tr.states[:, :T], 0), np.where(tr.mask, tr.actions, 0)
        return _weighted_scores(tr, policy, theta, ev.advantage[s, a])

    def returns_minus_v(tr, policy, theta):
        G = np.cumsum(tr.rewards[:, ::-1], axis=1)[:, ::-1]     # γ = 1: G_t = Σ_{u≥t} r_u
        s = np.where(tr.mask, tr.states[:, :-1], 0)
        return _weighted_scores(tr, policy, theta, G - ev.v[s])

    def returns(tr, policy, theta):
        G = np.cumsum(tr.rewards[:, ::-1], axis=1)[:, ::-1]
        return _weighted_scores(tr, policy, theta, G)

    return exact_advantage, returns_minus_v, returns


@pytest.mark.parametrize("k", [5, 20])
def test_trajectories_are_worth_about_n_samples_not_kn(k):
    # Uniform π on the chain: adv = c − 4/3 with c ∈ {0, 1, 3}; per visited state E = E[adv²|∇log π|²] = 28/27
    # and |E[adv ∇log π]|² = 14/27.  Hand-derived (actions i.i.d., transitions deterministic):
    #   exact advantage:    ESS/n = (kE − m²)/(E − m²)               = 2k − 1   (≥ k·n: a sample per pair)
    #   returns minus v(s): ESS/n = (28k² − 14k) / (14k²)             = 2 − 1/k  (about n, whatever k)
    #   plain returns G_t:  ESS/n = (28k² − 14k) / (14k² + 16k(k+1)(2k+1)/3)   (below n, falls like 1/k)
    mdp, pol, theta, n = _chain(k), TabularSoftmax(k + 1, 3), np.zeros((k + 1, 3)), 4000
    exact_advantage, returns_minus_v, returns = _estimators(evaluate(mdp, pol.probabilities(theta)))
    expected = {
        exact_advantage: 2 * k - 1,
        returns_minus_v: 2 - 1 / k,
        returns: (28 * k ** 2 - 14 * k) / (14 * k ** 2 + 16 * k * (k + 1) * (2 * k + 1) / 3),
    }
    for seed, (est, ess_per_episode) in enumerate(expected.items()):
        eff = sample_efficiency(mdp, pol, theta, est, n_episodes=n, rng=seed)
        assert eff.mean_length == k
        assert abs(eff.effective_sample_size / n - ess_per_episode) <= ESS_RTOL * ess_per_episode, est
        assert abs(eff.ratio - k * n / eff.effective_sample_size) <= RTOL * eff.ratio
    # k = 20: n episodes of return-based advantages are worth ~2n i.i.d. draws from μ, not 20n
    if k == 20:
        eff = sample_efficiency(mdp, pol, theta, returns_minus_v, n_episodes=n, rng=99)
        assert eff.effective_sample_size < 3 * n < 0.2 * k * n


# -- report section ------------------------------------------------------------------------
def test_report_section_on_the_random_walk():
    # S&B 2018 Example 6.2: from the centre of the 5-state walk, under the uniform policy the episode
    # exits right (reward 1) with probability ½, so G ~ Bernoulli(½): J = ½ and Var[G] = ¼
    from mdpgrad import get_example
    from mdpgrad._report.base import build_context
    from mdpgrad._report.variance import return_variance_section

    section = return_variance_section(build_context("random-walk-5", get_example("random-walk-5")))
    assert section.ok and section.key == "return_variance"
    assert abs(section.data["J"] - 0.5) <= EXACT_TOL
    assert abs(section.data["variance_rho0"] - 0.25) <= EXACT_TOL


@pytest.mark.parametrize("gamma", [0.9, 0.99, 0.999])
def test_deterministic_cycle_has_zero_variance_without_cancellation(gamma):
    # A deterministic 3-cycle: G is a fixed number from each start, so Var[G | s] = 0 exactly.
    # Sobel's M − v² loses ~ε·v² ≈ 1e-8 to cancellation at γ = 0.999 (v ≈ 1000); the
    # variance must not: every temporal difference is ≈ 1e-13, so σ² and Var are ≲ 1e-24.
    P = np.zeros((3, 1, 3))
    P[[0, 1, 2], 0, [1, 2, 0]] = 1.0
    mdp = MDP(P, [[-1.0], [-2.0], [-0.5]], gamma)
    rv = return_variance(mdp, np.ones((3, 1)))
    assert np.all(rv.variance >= 0.0) and np.max(rv.variance) <= 1e-20
    # from a uniformly random start the only randomness is v(s₀): Var = mean((v − J)²)
    assert rv.variance_rho0 == pytest.approx(np.var(rv.v), rel=1e-12)
