"""The chains of mdpgrad._chains: masking, the pair chain, the termination search, the solvers' stacks.

Tiers: hand numbers (a 3-state corridor with a terminal state); identities
(masking state axes or pair axes agrees with the definition entry by entry;
P̃Π Q = P̃ (Σ_a π Q); dense = sparse; the termination search agrees with the
spectrum of P̃^π); property tests over generated MDPs; bad input.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _models import random_mdp, random_pi
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mdpgrad import (
    MDP,
    InaccurateResultError,
    NonTerminatingPolicyError,
    ValidationError,
    stationary_distribution,
)
from mdpgrad import strategies as mst
from mdpgrad._chains import (
    bellman_matrix,
    chain_and_reward,
    masked_chain,
    masked_start,
    pair_chain,
    policy_matrix,
    stuck_states,
    validate_termination,
)
from mdpgrad._linalg import BATCH_ELIMINATION_MAX, DenseLU, RefinedLU, StackedLU

#: Products and sums of a few probabilities: rounding ≈ S·ε.
ROUND_TOL = 1e-14
#: One LU solve of a well-conditioned system (cond ≤ 2/(1 − γ) ≤ 40 here): ≲ 1e-14 relative.
SOLVE_TOL = 1e-12


def _dense(X):
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def _corridor() -> MDP:
    """0 → 1 → 2 (terminal); action 1 at state 0 stays, rho0 puts 1/4 on the terminal state."""
    P = np.zeros((3, 2, 3))
    P[0, 0, 1] = P[0, 1, 0] = 1.0
    P[1, :, 2] = 1.0
    P[2, :, 2] = 1.0
    return MDP(P, [[1.0, 2.0], [3.0, 3.0], [0.0, 0.0]], 0.5, rho0=[0.75, 0.0, 0.25],
               terminal=np.array([False, False, True]))


def test_masked_chain_hand_numbers():
    mdp = _corridor()
    pi = np.array([[0.5, 0.5], [1.0, 0.0], [1.0, 0.0]])
    P_pi = chain_and_reward(mdp, pi)[0]
    np.testing.assert_array_equal(P_pi, [[0.5, 0.5, 0], [0, 0, 1], [0, 0, 1]])
    np.testing.assert_array_equal(masked_chain(mdp, P_pi), [[0.5, 0.5, 0], [0, 0, 0], [0, 0, 0]])
    # P in its (S·A, S) form: pair rows of the terminal state and the terminal column go
    np.testing.assert_array_equal(masked_chain(mdp, mdp.P_flat),
                                  [[0, 1, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(masked_start(mdp), [0.75, 0.0, 0.0])
    np.testing.assert_array_equal(P_pi, [[0.5, 0.5, 0], [0, 0, 1], [0, 0, 1]])   # not modified


def test_masked_chain_is_the_identity_without_terminal_states():
    mdp = MDP(np.array([[[0.5, 0.5]], [[1.0, 0.0]]]), [[1.0], [0.0]], 0.9)
    P_pi = chain_and_reward(mdp, np.ones((2, 1)))[0]
    assert masked_chain(mdp, P_pi) is P_pi
    P_flat = mdp.P_flat
    assert masked_chain(mdp, P_flat) is P_flat


def test_masked_chain_refuses_an_axis_of_another_length():
    with pytest.raises(ValueError, match="neither"):
        masked_chain(_corridor(), np.zeros((3, 5)))


@settings(max_examples=40)
@given(st.data())
def test_masking_agrees_with_the_definition(data):
    """Zeroing rows and columns of terminal states, on state axes and on pair axes, dense and sparse."""
    mdp = data.draw(mst.mdps(max_states=4, max_actions=3))
    S, A = mdp.n_states, mdp.n_actions
    pi = data.draw(mst.policies(S, A))
    keep = ~mdp.terminal
    keep_pairs = np.repeat(keep, A)
    P_pi = _dense(chain_and_reward(mdp, pi)[0])
    np.testing.assert_array_equal(_dense(masked_chain(mdp, chain_and_reward(mdp, pi)[0])),
                                  P_pi * np.outer(keep, keep))
    P_flat = _dense(mdp.P_flat)
    np.testing.assert_array_equal(_dense(masked_chain(mdp, mdp.P_flat)), P_flat * np.outer(keep_pairs, keep))
    # the pair chain: (P̃Π)[s·A+a, s'·A+a'] = P̃(s'|s,a) π(a'|s')
    expected = (P_flat * np.outer(keep_pairs, keep)) @ _dense(policy_matrix(pi))
    np.testing.assert_allclose(_dense(pair_chain(mdp, pi)), expected, rtol=0, atol=ROUND_TOL)
    # masking after forming P Π (pair axes on both sides) gives the same chain
    np.testing.assert_allclose(_dense(masked_chain(mdp, P_flat @ _dense(policy_matrix(pi)))), expected,
                               rtol=0, atol=ROUND_TOL)
    # P̃Π Q = P̃ (Σ_a' π(a'|·) Q(·, a')): what the TD update computes without forming P̃Π
    Q = data.draw(hnp.arrays(np.float64, (S, A), elements=st.floats(-1, 1)))
    np.testing.assert_allclose(_dense(pair_chain(mdp, pi)) @ Q.ravel(),
                               _dense(masked_chain(mdp, mdp.P_flat)) @ np.sum(pi * Q, axis=1),
                               rtol=0, atol=ROUND_TOL)


@settings(max_examples=25)
@given(st.data())
def test_bellman_matrix_is_identity_minus_c_times_the_masked_chain(data):
    mdp = data.draw(mst.mdps(max_states=4, max_actions=2))
    pi = data.draw(mst.policies(mdp.n_states, mdp.n_actions))
    P_pi = chain_and_reward(mdp, pi)[0]
    for c in (mdp.gamma, mdp.gamma ** 2, 1.0):
        np.testing.assert_allclose(_dense(bellman_matrix(mdp, P_pi, c)),
                                   np.eye(mdp.n_states) - c * _dense(masked_chain(mdp, P_pi)),
                                   rtol=0, atol=ROUND_TOL)


# -- termination ------------------------------------------------------------------
def test_validate_termination_names_the_first_stuck_state():
    mdp = _corridor()
    validate_termination(mdp, chain_and_reward(mdp, np.array([[0.5, 0.5], [1, 0], [1, 0]]))[0])
    stays = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])     # state 0 loops for ever
    with pytest.raises(NonTerminatingPolicyError, match="from state 0") as info:
        validate_termination(mdp, chain_and_reward(mdp, stays)[0])
    assert info.value.argument == "pi" and info.value.index == (0,) and info.value.value == 1


@st.composite
def supported_chains(draw):
    """(terminal, P^π) on S ≤ 5 states: a random 0/1 support with random weights, last state terminal."""
    S = draw(st.integers(2, 5))
    support = draw(hnp.arrays(bool, (S, S)))
    support[np.arange(S), draw(hnp.arrays(np.int64, S, elements=st.integers(0, S - 1)))] = True
    W = support * draw(hnp.arrays(np.float64, (S, S), elements=st.floats(0.1, 1.0)))
    W[-1] = 0.0
    W[-1, -1] = 1.0
    terminal = np.zeros(S, dtype=bool)
    terminal[-1] = True
    return terminal, W / W.sum(axis=1, keepdims=True)


@settings(max_examples=60)
@given(supported_chains())
def test_termination_search_agrees_with_the_spectrum(case):
    """Stuck states form a closed set (eigenvalue 1 of P̃^π); the others leave with probability 1."""
    terminal, P_pi = case
    stuck = stuck_states(terminal, *np.nonzero(P_pi))
    is_stuck = np.zeros(terminal.size, dtype=bool)
    is_stuck[stuck] = True
    assert not (is_stuck & terminal).any()
    assert np.all(P_pi[np.ix_(is_stuck, ~is_stuck)] == 0)          # nothing leaves the stuck set
    live = ~is_stuck & ~terminal
    sub = P_pi[np.ix_(live, live)]
    radius = float(np.max(np.abs(np.linalg.eigvals(sub)))) if sub.size else 0.0
    assert radius < 1.0 - 1e-9                                     # transient: I − P̃^π invertible there


# -- the stacked solver and the refined LU -------------------------------------------------
@pytest.mark.parametrize("S", [3, BATCH_ELIMINATION_MAX, BATCH_ELIMINATION_MAX + 4])
def test_stacked_lu_equals_numpy_solve(S):
    rng = np.random.default_rng(S)
    P = random_pi(rng, S, S, batch=(2, 3))              # a 2 × 3 batch of random S-state chains
    M = np.eye(S) - 0.9 * P
    b = rng.standard_normal(S)
    B = np.broadcast_to(b, (2, 3, S))[..., None]
    solver = StackedLU(M)
    np.testing.assert_allclose(solver.solve(b), np.linalg.solve(M, B)[..., 0], rtol=SOLVE_TOL)
    np.testing.assert_allclose(solver.solve_transposed(b), np.linalg.solve(np.swapaxes(M, -1, -2), B)[..., 0],
                               rtol=SOLVE_TOL)


def test_refined_lu_from_the_masked_chain_equals_float64_lu():
    S = 40
    mdp = random_mdp(5, n_states=S - 1, n_actions=2, gamma=0.95, episodic=True)   # S states in all
    P_pi, r_pi = chain_and_reward(mdp, np.full((S, 2), 0.5))
    refined = RefinedLU.from_chain(masked_chain(mdp, P_pi), mdp.gamma)
    exact = DenseLU(bellman_matrix(mdp, P_pi))
    np.testing.assert_allclose(refined.solve(r_pi), exact.solve(r_pi), rtol=SOLVE_TOL, atol=SOLVE_TOL)
    rho0 = masked_start(mdp)
    np.testing.assert_allclose(refined.solve_transposed(rho0), exact.solve_transposed(rho0), rtol=SOLVE_TOL)


# -- stationary distribution: bad input ----------------------------------------------------
@pytest.mark.parametrize("P_pi, fragment", [
    (np.ones((2, 3)) / 3, r"P_pi has shape \(2, 3\)"),
    (np.array([[np.nan, 1.0], [0.5, 0.5]]), r"P_pi\[0, 0\] is nan"),
    ([["a", "b"], ["c", "d"]], "P_pi"),
])
def test_stationary_distribution_bad_input(P_pi, fragment):
    with pytest.raises(ValidationError, match=fragment) as info:
        stationary_distribution(P_pi)
    assert info.value.argument == "P_pi"


def test_stationary_distribution_accepts_nested_lists():
    np.testing.assert_allclose(stationary_distribution([[0.9, 0.1], [0.3, 0.7]]), [0.75, 0.25], rtol=1e-12)


# -- stationary distribution: large sparse chains, 1-D and inf input ---------------------------
import time as _time  # noqa: E402


def test_stationary_distribution_of_a_million_state_sparse_chain_is_fast_and_exact():
    """From every state: back to state 0 or one step on, each with probability ½: d(s) = 2^-(s+1)."""
    S = 10**6
    i = np.arange(S)
    P = sp.csr_array((np.full(2 * S, 0.5), (np.r_[i, i], np.r_[np.zeros(S, int), np.minimum(i + 1, S - 1)])),
                     shape=(S, S))
    t0 = _time.perf_counter()
    d = stationary_distribution(P)
    assert _time.perf_counter() - t0 < 120
    np.testing.assert_allclose(d[:20], 0.5 ** np.arange(1, 21), rtol=1e-9)
    assert abs(d.sum() - 1.0) < 1e-12


@pytest.mark.parametrize("P_pi, fragment", [
    (np.array([0.5, 0.5]), r"shape \(2,\)"),
    (np.array([[np.inf, 0.0], [0.5, 0.5]]), r"P_pi\[0, 0\] is inf"),
    (sp.csr_array(np.array([[np.inf, 0.0], [0.5, 0.5]])), r"P_pi\[0, 0\] is inf"),
    (sp.csr_array(np.array([[1.0, 0.0], [0.0, 1.0]])), "2 recurrent classes"),
    (np.array([[1j, 0.0], [0.5, 0.5]]), "complex"),
])
def test_stationary_distribution_refuses(P_pi, fragment):
    with pytest.raises(ValidationError, match=fragment) as info:
        stationary_distribution(P_pi)
    assert info.value.argument == "P_pi"


def test_stationary_distribution_with_a_transient_state():
    """State 0 is transient, {1, 2} the recurrent class: d = (0, ½, ½)."""
    P = np.array([[0.0, 0.5, 0.5], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(stationary_distribution(P), [0.0, 0.5, 0.5], atol=1e-15)
    np.testing.assert_allclose(stationary_distribution(sp.csr_array(P)), [0.0, 0.5, 0.5], atol=1e-15)


def _weakly_coupled(t: float = 1e-200) -> np.ndarray:
    """0 → 1 → 2 with 1/2, back with t: d ∝ (2t², t, 1)·(1 + O(t)), unnormalised x overflows."""
    return np.array([[0.5, 0.5, 0.0], [t, 0.5, 0.5], [0.0, t, 1.0]])


def test_gth_keeps_a_weakly_coupled_chain_finite():
    # GTH's back substitution from state 0 reaches x(2) ≈ 1/t² = 1e400: rescaled by powers of two as
    # it goes, the entries keep GTH's small relative error; d(0) = 4e-400 underflows to 0
    d, err = stationary_distribution(_weakly_coupled(), error=True)
    assert d[0] == 0.0 and d[2] == 1.0 and err < 1e-12
    assert d[1] == pytest.approx(2e-200, rel=1e-14)


def test_a_stochastic_chain_too_weakly_coupled_for_lu_is_an_inaccurate_result():
    with pytest.raises(InaccurateResultError, match="row-stochastic with one recurrent class") as info:
        stationary_distribution(sp.csr_array(_weakly_coupled()))
    assert info.value.argument == "P_pi" and "symbolic" in str(info.value)


def test_a_chain_that_is_not_stochastic_is_named_so():
    P = _weakly_coupled()
    P[0, 1] = 0.6                     # row 0 sums to 1.1
    with pytest.raises(ValidationError, match="is it row-stochastic") as info:
        stationary_distribution(sp.csr_array(P))
    assert not isinstance(info.value, InaccurateResultError)
