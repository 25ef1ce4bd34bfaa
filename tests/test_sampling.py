"""Tests for mdpgrad.sampling: known episodes, protocol semantics, marginals, dense = sparse, bad input.

Statistical checks use fixed seeds, so each is deterministic.  They compare a
sampled frequency with its exact value within ``Z`` standard errors: for a
correct sampler a 5-SE deviation of one coordinate has probability ≈ 6e-7
(normal tail), so over the few hundred coordinates checked here a correct
sampler passes for all but a ~1e-4 fraction of seeds, while every mistake we
guard against (wrong row, off-by-one in time, a biased draw) moves a frequency
by many SE at these sample sizes (one test below checks such a mistake is seen).
"""

from __future__ import annotations

import numpy as np
import pytest
from _models import random_mdp, random_pi
from hypothesis import given, settings
from hypothesis import strategies as st

from mdpgrad import MDP, NonTerminatingPolicyError, ValidationError, evaluate, sample, visit_counts
from mdpgrad.sampling import Trajectories, group_start_states, truncation_bound

#: Standard errors allowed between a sampled frequency and its exact value (see module docstring).
Z = 5.0
#: Exact arithmetic on a handful of floats: only rounding (≈1e-16) separates the two sides.
EXACT = 1e-12


#: Expected fraction of next states kept in each row of the random models: some structural
#: zeros, as in sparse models (a sampled transition must never land on one).
SUPPORT = 0.85
#: Policies are drawn from seed + POLICY_SEED, a stream apart from the model's.
POLICY_SEED = 1000


def chain_mdp() -> MDP:
    """0 → 1 → 2 (terminal), deterministic, one action; rewards 1 then 2."""
    P = np.zeros((3, 1, 3))
    P[0, 0, 1] = P[1, 0, 2] = P[2, 0, 2] = 1.0
    return MDP(P, [[1.0], [2.0], [0.0]], gamma=0.5, rho0=[1, 0, 0], terminal=np.array([False, False, True]))


# ----------------------------------------------------------------- known episodes

def test_deterministic_chain_gives_the_hand_written_episode() -> None:
    tr = sample(chain_mdp(), np.ones((3, 1)), 3, rng=0)
    assert tr.protocol == "terminal"
    assert tr.states.tolist() == [[0, 1, 2]] * 3
    assert tr.actions.tolist() == [[0, 0]] * 3
    assert tr.rewards.tolist() == [[1.0, 2.0]] * 3
    assert tr.lengths.tolist() == [2, 2, 2]
    assert tr.terminated.tolist() == [True] * 3


def test_horizon_cuts_the_chain_and_reports_the_bound() -> None:
    tr = sample(chain_mdp(), np.ones((3, 1)), 2, rng=0, protocol="horizon", horizon=1)
    assert tr.states.tolist() == [[0, 1]] * 2
    assert tr.lengths.tolist() == [1, 1]
    assert tr.terminated.tolist() == [False, False]
    # γᴴ·max|r|/(1−γ) = 0.5 · 2 / 0.5 = 2
    assert tr.truncation_bound == 2.0
    assert truncation_bound(chain_mdp(), 3) == pytest.approx(0.5, abs=EXACT)


def test_start_on_a_terminal_state_gives_an_empty_episode() -> None:
    tr = sample(chain_mdp(), np.ones((3, 1)), 2, rng=0, start_states=np.array([2, 1]))
    assert tr.lengths.tolist() == [0, 1]
    assert tr.states.tolist() == [[2, -1], [1, 2]]
    assert tr.actions.tolist() == [[-1], [0]]


def test_group_start_states_repeat_one_draw_per_group() -> None:
    mdp = random_mdp(0, support=SUPPORT)
    s = group_start_states(mdp, 50, 4, rng=1)
    blocks = s.reshape(50, 4)
    assert (blocks == blocks[:, :1]).all()
    assert len(set(blocks[:, 0].tolist())) > 1
    tr = sample(mdp, random_pi(POLICY_SEED, 4, 2), 200, rng=2, start_states=s, protocol="horizon", horizon=3)
    assert (tr.states[:, 0] == s).all()


# ----------------------------------------------------------------- structure

def check_structure(tr: Trajectories, mdp: MDP, pi: np.ndarray) -> None:
    n, T = tr.actions.shape
    assert tr.states.shape == (n, T + 1) and tr.rewards.shape == (n, T)
    assert T == tr.lengths.max()
    m = tr.mask
    t = np.arange(T + 1)
    assert (tr.states[t[None, :] <= tr.lengths[:, None]] >= 0).all()
    assert (tr.states[t[None, :] > tr.lengths[:, None]] == -1).all()
    assert (tr.actions[~m] == -1).all() and (tr.rewards[~m] == 0).all()
    s, a = tr.states[:, :-1][m], tr.actions[m]
    s_next = tr.states[:, 1:][m]
    P = mdp.P_dense()
    assert (pi[s, a] > 0).all()
    assert (P[s, a, s_next] > 0).all()
    assert np.array_equal(tr.rewards[m], mdp.r[s, a])
    assert not mdp.terminal[s].any()          # no action is taken in a terminal state
    ends = tr.states[np.arange(n), tr.lengths]
    assert np.array_equal(tr.terminated, mdp.terminal[ends])


@settings(max_examples=20)
@given(seed=st.integers(0, 10_000), episodic=st.booleans(), sparse=st.booleans(),
       protocol=st.sampled_from(["auto", "horizon", "geometric"]), chunk=st.sampled_from([None, 7]))
def test_every_sampled_transition_is_possible_and_padding_is_consistent(seed, episodic, sparse, protocol,
                                                                          chunk) -> None:
    mdp = random_mdp(seed, support=SUPPORT, episodic=episodic, sparse=sparse)
    pi = random_pi(seed + POLICY_SEED, mdp.n_states, 2)
    pi[pi < 0.1] = 0.0
    pi /= pi.sum(axis=1, keepdims=True)
    tr = sample(mdp, pi, 40, rng=seed, protocol=protocol, horizon=5 if protocol == "horizon" else None,
                chunk_size=chunk)
    check_structure(tr, mdp, pi)
    if protocol == "horizon":
        assert (tr.lengths <= 5).all()
        assert ((tr.lengths == 5) | tr.terminated).all()
    if tr.protocol == "terminal":
        assert tr.terminated.all()


# ----------------------------------------------------------------- protocol semantics and marginals

def test_geometric_lengths_follow_geometric_one_minus_gamma() -> None:
    gamma, n = 0.8, 40_000
    mdp = random_mdp(1, support=SUPPORT, gamma=gamma)
    tr = sample(mdp, random_pi(1 + POLICY_SEED, 4, 2), n, rng=3, protocol="geometric")
    for k in range(1, 8):
        p = (1 - gamma) * gamma ** (k - 1)
        freq = np.mean(tr.lengths == k)
        assert abs(freq - p) <= Z * np.sqrt(p * (1 - p) / n), k
    mean_se = np.sqrt(gamma) / (1 - gamma) / np.sqrt(n)     # sd of Geometric(1−γ) is √γ/(1−γ)
    assert abs(tr.lengths.mean() - 1 / (1 - gamma)) <= Z * mean_se


def visit_frequencies(tr: Trajectories, S: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean visits per episode of each state and their standard errors."""
    m = tr.mask
    ep = np.broadcast_to(np.arange(tr.n_episodes)[:, None], m.shape)[m]
    counts = np.zeros((tr.n_episodes, S))
    np.add.at(counts, (ep, tr.states[:, :-1][m]), 1.0)
    return counts.mean(axis=0), counts.std(axis=0) / np.sqrt(tr.n_episodes)


@pytest.mark.parametrize("sparse", [False, True])
def test_geometric_visit_frequencies_match_eta(sparse: bool) -> None:
    # Pr(t < T) = γᵗ, so E[#visits of s] = Σₜ γᵗ Pr(sₜ = s) = η(s)
    mdp = random_mdp(2, support=SUPPORT, sparse=sparse)
    pi = random_pi(2 + POLICY_SEED, 4, 2)
    tr = sample(mdp, pi, 30_000, rng=4, protocol="geometric")
    mean, se = visit_frequencies(tr, 4)
    eta = evaluate(mdp, pi).eta
    assert (np.abs(mean - eta) <= Z * se).all()
    # a discount-less count would be caught: Σ η = 1/(1−γ) = 5 against a horizon of sampled lengths
    assert abs(mean.sum() - 1 / (1 - mdp.gamma)) <= Z * se.sum()


def test_terminal_visit_frequencies_match_undiscounted_visits() -> None:
    mdp = random_mdp(3, support=SUPPORT, episodic=True, gamma=0.9)
    pi = random_pi(3 + POLICY_SEED, 5, 2)
    tr = sample(mdp, pi, 30_000, rng=5)
    mean, se = visit_frequencies(tr, 5)
    exact = visit_counts(mdp, pi, discounted=False)
    assert (np.abs(mean - exact) <= Z * np.maximum(se, 1e-12)).all()
    assert tr.terminated.all() and mean[4] == 0.0


def test_horizon_marginals_match_the_chain_powers() -> None:
    mdp = random_mdp(4, support=SUPPORT, episodic=True, gamma=0.9)
    pi = random_pi(4 + POLICY_SEED, 5, 2)
    H, n = 4, 30_000
    tr = sample(mdp, pi, n, rng=6, protocol="horizon", horizon=H)
    P_pi = evaluate(mdp, pi).P_pi
    p = mdp.rho0.copy()                       # Pr(sₜ = s) in the absorbing chain
    absorbed = 0.0
    for t in range(H + 1):
        freq = np.bincount(tr.states[:, t][tr.states[:, t] >= 0], minlength=5) / n
        # an episode shows the terminal state 4 only at the step it arrives: Pr(T = t)
        exact = np.append(p[:4], p[4] - absorbed)
        assert (np.abs(freq - exact) <= Z * np.sqrt(exact * (1 - exact) / n) + EXACT).all(), t
        absorbed = p[4]
        p = p @ P_pi
    assert ((tr.lengths == H) | tr.terminated).all()


def test_action_and_next_state_frequencies_match_pi_and_P() -> None:
    mdp = random_mdp(5, support=SUPPORT)
    pi = random_pi(5 + POLICY_SEED, 4, 2)
    tr = sample(mdp, pi, 20_000, rng=7, protocol="horizon", horizon=5)
    m = tr.mask
    s, a, s2 = tr.states[:, :-1][m], tr.actions[m], tr.states[:, 1:][m]
    for x in range(4):
        k = np.sum(s == x)
        freq = np.bincount(a[s == x], minlength=2) / k
        assert (np.abs(freq - pi[x]) <= Z * np.sqrt(pi[x] * (1 - pi[x]) / k)).all()
        for y in range(2):
            sel = (s == x) & (a == y)
            k2 = sel.sum()
            p = mdp.P[x, y]
            f2 = np.bincount(s2[sel], minlength=4) / k2
            assert (np.abs(f2 - p) <= Z * np.sqrt(p * (1 - p) / k2) + EXACT).all()


def test_a_wrong_target_is_rejected() -> None:
    # the same frequencies are many SE away from the marginal of a different policy
    mdp = random_mdp(2, support=SUPPORT)
    pi = random_pi(2 + POLICY_SEED, 4, 2)
    tr = sample(mdp, pi, 30_000, rng=4, protocol="geometric")
    mean, se = visit_frequencies(tr, 4)
    other = evaluate(mdp, pi[:, ::-1]).eta
    assert (np.abs(mean - other) > Z * se).any()


def test_mean_return_is_the_value_under_each_protocol() -> None:
    mdp = random_mdp(6, support=SUPPORT, episodic=True, gamma=0.9)
    pi = random_pi(6 + POLICY_SEED, 5, 2)
    J = evaluate(mdp, pi).J
    n = 30_000
    for protocol in ("terminal", "geometric"):
        tr = sample(mdp, pi, n, rng=8, protocol=protocol)
        disc = mdp.gamma ** np.arange(tr.rewards.shape[1]) if protocol == "terminal" else 1.0
        R = (tr.rewards * disc).sum(axis=1)
        assert abs(R.mean() - J) <= Z * R.std() / np.sqrt(n), protocol


# ----------------------------------------------------------------- dense = sparse, chunks

@pytest.mark.parametrize("protocol", ["auto", "horizon", "geometric"])
def test_dense_and_sparse_give_identical_episodes(protocol: str) -> None:
    dense = random_mdp(7, support=SUPPORT, episodic=True)
    sparse = random_mdp(7, support=SUPPORT, episodic=True, sparse=True)
    pi = random_pi(7 + POLICY_SEED, 5, 2)
    kw = dict(protocol=protocol, horizon=6 if protocol == "horizon" else None)
    a = sample(dense, pi, 500, rng=9, **kw)
    b = sample(sparse, pi, 500, rng=9, **kw)
    for f in ("states", "actions", "rewards", "lengths", "terminated"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f


def test_chunks_do_not_change_the_distribution() -> None:
    mdp = random_mdp(8, support=SUPPORT)
    pi = random_pi(8 + POLICY_SEED, 4, 2)
    n = 20_000
    a = sample(mdp, pi, n, rng=10, chunk_size=n)
    b = sample(mdp, pi, n, rng=11, chunk_size=1_000)
    ma, sa = visit_frequencies(a, 4)
    mb, sb = visit_frequencies(b, 4)
    assert (np.abs(ma - mb) <= Z * np.hypot(sa, sb)).all()
    check_structure(b, mdp, pi)


def test_same_seed_same_episodes() -> None:
    mdp = random_mdp(9, support=SUPPORT)
    pi = random_pi(9 + POLICY_SEED, 4, 2)
    a = sample(mdp, pi, 100, rng=np.random.default_rng(3))
    b = sample(mdp, pi, 100, rng=np.random.default_rng(3))
    assert np.array_equal(a.states, b.states) and np.array_equal(a.rewards, b.rewards)


# ----------------------------------------------------------------- bad input

def loop_mdp() -> MDP:
    """State 0: action 0 stays forever, action 1 ends in the terminal state 1."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    return MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=0.9, rho0=[1, 0], terminal=np.array([False, True]))


@pytest.mark.parametrize("kwargs, argument", [
    (dict(protocol="forever"), "protocol"),
    (dict(protocol="horizon"), "horizon"),
    (dict(protocol="horizon", horizon=0), "horizon"),
    (dict(protocol="horizon", horizon=2.5), "horizon"),
    (dict(protocol="geometric", horizon=3), "horizon"),
    (dict(start_states=5), "start_states"),
    (dict(start_states=np.array([0, 1])), "start_states"),
    (dict(rng="seed"), "rng"),
    (dict(rng=-1), "rng"),
    (dict(max_steps=0), "max_steps"),
    (dict(chunk_size=0), "chunk_size"),
    (dict(n_episodes=0), "n_episodes"),
])
def test_bad_arguments_raise(kwargs: dict, argument: str) -> None:
    args = dict(n_episodes=3, rng=0)
    args.update(kwargs)
    with pytest.raises(ValidationError) as info:
        sample(chain_mdp(), np.ones((3, 1)), args.pop("n_episodes"), **args)
    assert info.value.argument == argument


@pytest.mark.parametrize("kwargs, argument", [
    (dict(n_groups=0), "n_groups"),
    (dict(group_size=True), "group_size"),
    (dict(rng=1.5), "rng"),
])
def test_bad_group_arguments_raise(kwargs: dict, argument: str) -> None:
    args = dict(n_groups=2, group_size=3, rng=0) | kwargs
    with pytest.raises(ValidationError) as info:
        group_start_states(chain_mdp(), args.pop("n_groups"), args.pop("group_size"), **args)
    assert info.value.argument == argument


def test_terminal_protocol_needs_terminal_states() -> None:
    with pytest.raises(ValidationError) as info:
        sample(random_mdp(0, support=SUPPORT), random_pi(POLICY_SEED, 4, 2), 3, rng=0, protocol="terminal")
    assert info.value.argument == "protocol"


def test_policy_that_never_ends_is_refused_under_terminal() -> None:
    pi = np.array([[1.0, 0.0], [0.5, 0.5]])
    with pytest.raises(NonTerminatingPolicyError) as info:
        sample(loop_mdp(), pi, 3, rng=0)
    assert info.value.index == (0,)
    # the same policy is fine with a horizon or a geometric stop
    assert sample(loop_mdp(), pi, 3, rng=0, protocol="horizon", horizon=4).lengths.tolist() == [4, 4, 4]
    assert (sample(loop_mdp(), pi, 3, rng=0, protocol="geometric").lengths >= 1).all()


def test_max_steps_raises_instead_of_truncating() -> None:
    pi = np.array([[0.999, 0.001], [0.5, 0.5]])
    with pytest.raises(ValidationError) as info:
        sample(loop_mdp(), pi, 50, rng=0, max_steps=3)
    assert info.value.argument == "max_steps"


def test_bad_policy_row_raises() -> None:
    with pytest.raises(ValidationError) as info:
        sample(loop_mdp(), np.array([[0.5, 0.4], [0.5, 0.5]]), 3, rng=0)
    assert info.value.argument == "pi" and info.value.index == (0,)
