"""mg.symbolic.solve: exact policy iteration in rationals; the Gambler's problem exactly; exact ties that
floating point leaves undecided; sparse exact models and action sets; bad input."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from sympy import Rational

import mdpgrad as mg
from mdpgrad import ValidationError
from mdpgrad import examples as ex
from mdpgrad import symbolic as sy
from mdpgrad.symbolic._model import MAX_SYMBOLIC_ENTRIES
from tests.test_control import gambler

HEADS = Rational(2, 5)


def gambler_exact(p: Rational = HEADS, goal: int = 100) -> sy.MDP:
    """Sutton & Barto (2018), Example 4.3, written directly as a sparse rational model."""
    S, A = goal + 1, goal // 2
    P: dict[tuple[int, int, int], Rational] = {}
    r = [[0] * A for _ in range(S)]
    actions = np.zeros((S, A), dtype=bool)
    for s in range(S):
        if s in (0, goal):
            P[(s, 0, s)] = 1
            actions[s, 0] = True
            continue
        for stake in range(1, min(s, goal - s) + 1):
            a = stake - 1
            actions[s, a] = True
            P[(s, a, s + stake)] = p
            P[(s, a, s - stake)] = 1 - p
            r[s][a] = p if s + stake == goal else 0
    terminal = [s in (0, goal) for s in range(S)]
    return sy.MDP(sympy.ImmutableSparseNDimArray(P, (S, A, S)), r, 1, terminal=terminal, actions=actions)


@pytest.fixture(scope="module")
def gambler_solution() -> sy.Solution:
    return sy.solve(gambler_exact())


def test_gambler_exact_values(gambler_solution):
    """Sutton & Barto (2018), Figure 4.3 with p_h = 0.4: v*(25) = p², v*(50) = p, v*(75) = p + (1 − p)p."""
    v = gambler_solution.v
    assert (v[25], v[50], v[75]) == (Rational(4, 25), Rational(2, 5), Rational(16, 25))
    assert gambler_solution.error_bound == 0


def test_gambler_optimal_stakes_are_found_exactly_and_match_every_float_method(gambler_solution):
    exact = np.array(gambler_solution.optimal_actions)
    # the stakes of Figure 4.3 at its spikes, and the ties around them (stake = action + 1)
    spikes = [np.flatnonzero(exact[s]).tolist() for s in (25, 50, 51, 64)]
    assert spikes == [[24], [49], [0, 48], [10, 13, 35]]
    assert int(exact[1:100].sum(axis=1).max()) >= 3
    for method in ("policy_iteration", "value_iteration", "modified_policy_iteration", "linear_program"):
        sol = mg.solve(gambler(), method)
        assert np.array_equal(sol.optimal_actions, exact), method
        assert np.array_equal(sol.policy, np.array(gambler_solution.policy.tolist(), dtype=float)), method
        v = np.array(gambler_solution.v.tolist(), dtype=float).ravel()
        assert np.abs(sol.v - v).max() <= sol.error_bound + 1e-16


def test_the_exact_q_gaps_exceed_the_float_tie_bound(gambler_solution):
    """Why the float sets can equal the exact ones here: the smallest exact non-zero gap is far above the
    float tie bound (had it been below, the float result would have marked the action undecided)."""
    q = gambler_solution.q
    gaps = [max(x for x in q.row(s) if x != -sympy.oo) - x
            for s in range(q.rows) for x in q.row(s) if x != -sympy.oo]
    smallest = min(g for g in gaps if g != 0)
    assert smallest > 0 and float(smallest) > 1e6 * mg.solve(gambler()).tie_bound


def test_rationalize_of_the_sparse_float_gambler_fits_the_cap_and_solves_to_the_same_answer(gambler_solution):
    model = gambler()
    assert model.P_flat.nnz + model.n_states * model.n_actions <= MAX_SYMBOLIC_ENTRIES
    assert model.n_states**2 * model.n_actions > MAX_SYMBOLIC_ENTRIES     # dense would not fit
    exact = sy.rationalize(model)
    assert isinstance(exact.P, sympy.ImmutableSparseNDimArray)
    sol = sy.solve(exact)
    assert sol.v == gambler_solution.v and sol.optimal_actions == gambler_solution.optimal_actions
    back = exact.to_numeric()
    assert back.is_sparse and np.array_equal(back.actions, model.actions)
    assert (back.P_flat != model.P_flat).nnz == 0


def test_example_4_1_exactly():
    sol = sy.solve(sy.rationalize(ex.gridworld_example_4_1()))
    rows, cols = np.divmod(np.arange(16), 4)
    assert list(sol.v) == [-int(d) for d in np.minimum(rows + cols, 6 - rows - cols)]
    assert np.array_equal(np.array(sol.optimal_actions), mg.solve(ex.gridworld_example_4_1()).optimal_actions)


def _two_actions(second: Rational) -> sy.MDP:
    """One state and two actions that end the episode with rewards 3/10 and ``second``."""
    return sy.MDP([[[0, 1], [0, 1]], [[0, 1], [0, 1]]], [[Rational(3, 10), second], [0, 0]], Rational(9, 10),
                  terminal=[False, True])


def test_an_exact_tie_and_a_gap_of_1e_minus_20_are_told_apart_exactly_but_not_in_floats():
    tie = sy.solve(_two_actions(Rational(1, 10) + Rational(2, 10)))
    near = sy.solve(_two_actions(Rational(3, 10) - Rational(1, 10**20)))
    assert tie.optimal_actions[0] == (True, True) and near.optimal_actions[0] == (True, False)
    for exact in (tie, near):
        floats = mg.solve(_two_actions(Rational(3, 10) - Rational(1, 10**20)).to_numeric())
        assert floats.optimal_actions[0].tolist() == [True, True] and floats.undecided[0].all()
        assert exact.policy.row(0).tolist() == [[1, 0]]


def test_gamma_one_zero_reward_loop_tied_with_ending():
    mdp = sy.MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 0], [0, 0]], 1, terminal=[False, True])
    sol = sy.solve(mdp)
    assert sol.optimal_actions[0] == (True, True) and sol.policy.row(0).tolist() == [[0, 1]]


def test_gamma_one_loop_that_pays_forever_is_refused():
    mdp = sy.MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[1, 0], [0, 0]], 1, terminal=[False, True])
    with pytest.raises(mg.NonTerminatingPolicyError):
        sy.solve(mdp)


@pytest.mark.parametrize("seed", range(4))
def test_discounted_random_rational_models_match_float_policy_iteration(seed):
    rng = np.random.default_rng(seed)
    S, A = 6, 3
    w = rng.integers(0, 4, size=(S, A, S))
    w[..., 0] += 1                                            # no empty row
    P = [[[Rational(int(w[s, a, t]), int(w[s, a].sum())) for t in range(S)] for a in range(A)]
         for s in range(S)]
    r = [[Rational(int(x), 4) for x in row] for row in rng.integers(-4, 5, size=(S, A))]
    exact = sy.MDP(P, r, Rational(3, 4))
    sol = sy.solve(exact)
    v_star = np.array(sol.v.tolist(), dtype=float).ravel()
    for method in ("value_iteration", "modified_policy_iteration", "linear_program"):
        other = mg.solve(exact.to_numeric(), method)          # every certified bound holds against v*
        assert np.abs(v_star - other.v).max() <= other.error_bound, method
    floats = mg.solve(exact.to_numeric())
    assert np.abs(v_star - floats.v).max() <= floats.error_bound
    # integer-quarter rewards make exact ties likely: the float sets must contain every exact optimum
    # and nothing the exact solve excludes, unless the gap is below the float tie bound
    gap = np.array([[float(max(sol.q.row(s)) - x) for x in sol.q.row(s)] for s in range(S)])
    ties = np.array(sol.optimal_actions)
    assert np.all(floats.optimal_actions[ties])
    assert np.array_equal(floats.optimal_actions, ties | (gap <= floats.tie_bound))


def test_unavailable_actions_have_minus_infinity_and_a_zero_row():
    mdp = sy.MDP([[[0, 1], [0, 0]], [[0, 1], [0, 1]]], [[1, 5], [0, 0]], Rational(1, 2),
                 terminal=[False, True], actions=np.array([[True, False], [True, True]]))
    sol = sy.solve(mdp)
    assert sol.q[0, 1] == -sympy.oo and sol.optimal_actions[0] == (True, False) and sol.v[0] == 1
    with pytest.raises(ValidationError) as err:            # an available action's row must sum to 1
        sy.MDP([[[0, 1], [0, 0]], [[0, 1], [0, 1]]], [[1, 5], [0, 0]], Rational(1, 2), terminal=[False, True])
    assert err.value.index == (0, 1)


def test_free_symbols_and_non_models_are_refused():
    p = sympy.Symbol("p", positive=True)
    mdp = sy.MDP([[[p, 1 - p]], [[0, 1]]], [[1], [0]], Rational(1, 2))
    with pytest.raises(ValidationError, match="free symbols"):
        sy.solve(mdp)
    with pytest.raises(ValidationError):
        sy.solve(ex.two_state())
    with pytest.raises(ValidationError):
        sy.solve(sy.MDP([[[1]]], [[1]], Rational(1, 2)), max_iter=0)
