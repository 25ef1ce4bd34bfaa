"""Optimal control (mg.solve): known optimal values, agreement of the four methods, the tie and stopping
rules at their boundaries, γ = 1 with proper and improper policies, action sets, and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import mdpgrad as mg
from mdpgrad import ValidationError
from mdpgrad import examples as ex
from mdpgrad.control import Solution
from tests._models import random_mdp

METHODS = ["policy_iteration", "value_iteration", "modified_policy_iteration", "linear_program"]


def gambler(p: float = 0.4, goal: int = 100, sparse: bool = True) -> mg.MDP:
    """Sutton & Barto (2018), Example 4.3: capital s, stake 1..min(s, goal − s) (action a = stake − 1),
    reward 1 on reaching the goal, γ = 1, terminal states 0 and goal (their one action a = 0 stays)."""
    S, A = goal + 1, goal // 2
    rows, cols, vals = [], [], []
    r = np.zeros((S, A))
    actions = np.zeros((S, A), dtype=bool)
    for s in range(S):
        if s in (0, goal):
            actions[s, 0] = True
            rows.append(s * A)
            cols.append(s)
            vals.append(1.0)
            continue
        for stake in range(1, min(s, goal - s) + 1):
            x = s * A + stake - 1
            actions[s, stake - 1] = True
            rows += [x, x]
            cols += [s + stake, s - stake]
            vals += [p, 1 - p]
            if s + stake == goal:
                r[s, stake - 1] = p
    P = sp.csr_array((vals, (rows, cols)), shape=(S * A, S))
    terminal = np.zeros(S, dtype=bool)
    terminal[[0, goal]] = True
    return mg.MDP(P if sparse else P.toarray().reshape(S, A, S), r, 1.0, terminal=terminal, actions=actions)


# -- known numbers ----------------------------------------------------------------------------------

#: Sutton & Barto (2018), Figure 3.5: v* of the gridworld of Example 3.5, printed to one decimal.
FIGURE_3_5 = np.array([[22.0, 24.4, 22.0, 19.4, 17.5],
                       [19.8, 22.0, 19.8, 17.8, 16.0],
                       [17.8, 19.8, 17.8, 16.0, 14.4],
                       [16.0, 17.8, 16.0, 14.4, 13.0],
                       [14.4, 16.0, 14.4, 13.0, 11.7]])


@pytest.mark.parametrize("method", METHODS)
def test_figure_3_5_optimal_values(method):
    sol = mg.solve(ex.gridworld_example_3_5(), method)
    assert np.max(np.abs(sol.v.reshape(5, 5) - FIGURE_3_5)) <= 0.05 + sol.error_bound  # printed rounding
    # from A (0, 1) every action jumps to A' with +10: all four are optimal
    assert sol.optimal_actions[1].all()


@pytest.mark.parametrize("method", METHODS)
def test_example_4_1_optimal_values_and_every_shortest_move(method):
    """v*(s) = −(steps to the nearest corner); optimal = every move that shortens that distance."""
    sol = mg.solve(ex.gridworld_example_4_1(), method)
    rows, cols = np.divmod(np.arange(16), 4)
    dist = np.minimum(rows + cols, 6 - rows - cols)
    assert np.abs(sol.v + dist).max() <= 1e-12
    moves = ex.MOVES if hasattr(ex, "MOVES") else np.array([[-1, 0], [0, 1], [1, 0], [0, -1]])
    nr, nc = rows[:, None] + moves[:, 0], cols[:, None] + moves[:, 1]
    inside = (nr >= 0) & (nr < 4) & (nc >= 0) & (nc < 4)
    nd = np.where(inside, np.minimum(nr + nc, 6 - nr - nc), dist[:, None])
    expected = nd < dist[:, None]
    expected[[0, 15]] = True                        # terminal: every action is worth 0
    assert np.array_equal(sol.optimal_actions, expected)
    assert np.array_equal(sol.policy.argmax(axis=1), np.argmax(expected, axis=1))   # lowest index


@pytest.mark.parametrize("method", METHODS)
def test_gambler_values_and_optimal_stakes(method):
    sol = mg.solve(gambler(), method)
    assert np.abs(sol.v[[25, 50, 75]] - [4 / 25, 2 / 5, 16 / 25]).max() <= sol.error_bound + 1e-15
    assert sol.error_bound < 1e-12
    stakes = {s: (np.flatnonzero(sol.optimal_actions[s]) + 1).tolist() for s in (12, 25, 50, 51, 64)}
    assert stakes == {12: [12], 25: [25], 50: [50], 51: [1, 49], 64: [11, 14, 36]}
    assert sol.undecided[51].sum() == 2 and not sol.undecided[50].any()


def test_the_doc_example_states_its_tie_rule():
    P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    sol = mg.solve(mg.MDP(P, [[1.0, 2.0], [0.0, 0.0]], gamma=0.5))
    assert isinstance(sol, Solution) and str(sol).startswith("Solution: policy_iteration")
    assert sol.optimal_actions[0].all() and sol.policy[0].tolist() == [1.0, 0.0]


# -- the methods agree ------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["dense", "sparse", "episodic"])
def test_every_method_gives_the_same_answer(seed, kind):
    mdp = random_mdp(seed, n_states=7, n_actions=3, gamma=0.9, sparse=kind == "sparse", support=0.6,
                     episodic=kind == "episodic")
    sols = [mg.solve(mdp, m) for m in METHODS]
    pi = sols[0]
    for sol in sols[1:]:
        assert np.abs(sol.v - pi.v).max() <= sol.error_bound + pi.error_bound
        assert np.array_equal(sol.optimal_actions, pi.optimal_actions)
        assert np.array_equal(sol.policy, pi.policy)
    # v* is at least the value of every deterministic policy: compare with a few random ones
    rng = np.random.default_rng(seed)
    for _ in range(5):
        table = np.eye(3)[rng.integers(0, 3, mdp.n_states)]
        assert np.all(mg.evaluate(mdp, table).v <= pi.v + pi.error_bound + 1e-12)
    # the policy achieves v*
    assert np.abs(mg.evaluate(mdp, pi.policy).v - pi.v).max() <= 10 * pi.error_bound + 1e-12


def test_undiscounted_episodic_methods_agree():
    mdp = random_mdp(3, n_states=6, n_actions=3, gamma=1.0, episodic=True, p_end=0.2)
    sols = [mg.solve(mdp, m) for m in METHODS]
    for sol in sols[1:]:
        assert np.abs(sol.v - sols[0].v).max() <= sol.error_bound + sols[0].error_bound
        assert np.array_equal(sol.policy, sols[0].policy)


@pytest.mark.parametrize("solver", ["lu", "splu", "krylov"])
def test_sparse_and_krylov_evaluations_agree_with_dense(solver):
    dense = random_mdp(5, n_states=40, n_actions=3, gamma=0.95, support=0.2)
    sparse = dense.replace(P=sp.csr_array(dense.P_flat))
    a = mg.solve(dense)
    b = mg.solve(sparse, solver=solver if solver != "lu" else "splu")
    assert np.abs(a.v - b.v).max() <= a.error_bound + b.error_bound
    assert np.array_equal(a.policy, b.policy)


# -- certificates and stopping rules at their boundaries -------------------------------------------

@pytest.mark.parametrize("tol", [1e-2, 1e-5, 1e-9])
@pytest.mark.parametrize("method", ["value_iteration", "modified_policy_iteration"])
def test_the_span_bound_is_certified_and_meets_tol(method, tol):
    mdp = random_mdp(11, n_states=8, n_actions=3, gamma=0.95)
    exact = mg.solve(mdp)
    sol = mg.solve(mdp, method, tol=tol)
    assert sol.error_bound <= tol
    assert np.abs(sol.v - exact.v).max() <= sol.error_bound + exact.error_bound


def test_value_iteration_stops_only_once_the_bound_is_met():
    """One backup fewer would not do: with max_iter one below the count used, the bound exceeds tol."""
    mdp = random_mdp(2, n_states=5, n_actions=2, gamma=0.9)
    sol = mg.solve(mdp, "value_iteration", tol=1e-6)
    with pytest.warns(mg.InaccurateResultWarning):
        short = mg.solve(mdp, "value_iteration", tol=1e-6, max_iter=sol.iterations - 1)
    assert short.error_bound > 1e-6 >= sol.error_bound
    exact = mg.solve(mdp)
    assert np.abs(short.v - exact.v).max() <= short.error_bound + exact.error_bound   # still honest


def test_tol_below_the_rounding_floor_is_refused():
    mdp = random_mdp(2, n_states=5, n_actions=2, gamma=0.99)
    with pytest.raises(ValidationError) as err:
        mg.solve(mdp, "value_iteration", tol=1e-17)
    assert err.value.argument == "tol"
    assert mg.solve(mdp, "value_iteration", tol=1e-9).error_bound <= 1e-9


def _two_actions(delta: float) -> mg.MDP:
    """One state, two actions ending the episode with rewards 1 and 1 − δ."""
    P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    return mg.MDP(P, [[1.0, 1.0 - delta], [0.0, 0.0]], 0.9, terminal=np.array([False, True]))


@pytest.mark.parametrize("method", METHODS)
def test_a_gap_just_inside_the_tie_bound_is_undecided_just_outside_is_suboptimal(method):
    tie = float(mg.solve(_two_actions(0.0), method).tie_bound)
    assert 0 < tie < 1e-12                      # rounding of a backup, times γ/(1 − γ) = 9
    inside = mg.solve(_two_actions(0.5 * tie), method)
    assert inside.optimal_actions[0].tolist() == [True, True] and inside.undecided[0].all()
    assert 0 < inside.gap[0, 1] <= inside.tie_bound
    outside = mg.solve(_two_actions(2.0 * tie), method)
    assert outside.optimal_actions[0].tolist() == [True, False] and not outside.undecided.any()
    assert outside.gap[0, 1] > outside.tie_bound


# -- finite horizon --------------------------------------------------------------------------------

def test_one_step_horizon_is_the_greedy_reward():
    mdp = random_mdp(4, n_states=5, n_actions=3, gamma=0.9)
    sol = mg.solve(mdp, horizon=1)
    assert sol.v.shape == (2, 5) and sol.q.shape == sol.policy.shape == sol.optimal_actions.shape == (1, 5, 3)
    assert np.array_equal(sol.v[0], mdp.r.max(axis=1)) and not sol.v[1].any()
    assert np.array_equal(sol.policy[0].argmax(axis=1), mdp.r.argmax(axis=1))


def test_a_long_horizon_approaches_the_infinite_horizon_values():
    mdp = random_mdp(4, n_states=5, n_actions=3, gamma=0.8)
    H = 60
    sol = mg.solve(mdp, horizon=H)
    star = mg.solve(mdp)
    assert np.abs(sol.v[0] - star.v).max() <= 0.8**H * np.abs(mdp.r).max() / 0.2 + star.error_bound
    assert np.array_equal(sol.policy[0], star.policy)
    assert str(sol).startswith("Solution: backward_induction, horizon 60")


def test_finite_horizon_of_the_gridworld_counts_steps_up_to_the_horizon():
    """Example 4.1 with H steps left: v_0(s) = −min(H, distance to a corner)."""
    sol = mg.solve(ex.gridworld_example_4_1(), horizon=3)
    rows, cols = np.divmod(np.arange(16), 4)
    dist = np.minimum(rows + cols, 6 - rows - cols)
    assert np.array_equal(sol.v[0], -np.minimum(dist, 3).astype(float))


# -- γ = 1: proper and improper policies ----------------------------------------------------------

def _loop_model(loop_reward: float) -> mg.MDP:
    """State 0: action 0 stays (reward ``loop_reward``), action 1 ends the episode (reward −1 + 1 = 0)."""
    P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    return mg.MDP(P, [[loop_reward, 0.0], [0.0, 0.0]], 1.0, terminal=np.array([False, True]))


@pytest.mark.parametrize("method", METHODS)
def test_a_costly_loop_that_the_greedy_start_picks_is_avoided(method):
    """The one-step greedy policy (reward −0.5 > −1) loops; the start is made proper and ending wins."""
    P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    mdp = mg.MDP(P, [[-0.5, -1.0], [0.0, 0.0]], 1.0, terminal=np.array([False, True]))
    sol = mg.solve(mdp, method)
    assert sol.v.tolist() == [-1.0, 0.0] and sol.optimal_actions[0].tolist() == [False, True]


@pytest.mark.parametrize("method", METHODS)
def test_a_zero_reward_loop_tied_with_ending_gives_the_policy_that_ends(method):
    sol = mg.solve(_loop_model(0.0), method)
    assert sol.optimal_actions[0].tolist() == [True, True]
    assert sol.policy[0].tolist() == [0.0, 1.0]          # the lowest index loops forever: not chosen


@pytest.mark.parametrize("method", METHODS)
def test_a_loop_that_pays_forever_is_refused(method):
    with pytest.raises(ValidationError, match="infinite|\\+∞|loop"):
        mg.solve(_loop_model(1.0), method, max_iter=500)


def test_a_state_that_cannot_terminate_is_named():
    P = np.zeros((3, 1, 3))
    P[0, 0, 1] = P[1, 0, 0] = P[2, 0, 2] = 1.0
    P = np.concatenate([P, P], axis=1)
    mdp = mg.MDP(P, np.zeros((3, 2)) - 1.0 * np.array([[1], [1], [0]]), 1.0, terminal=np.array([0, 0, 1]) > 0)
    with pytest.raises(mg.NonTerminatingPolicyError) as err:
        mg.solve(mdp)
    assert err.value.index == (0,)


# -- action sets ----------------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_unavailable_actions_are_never_used(method):
    mdp = random_mdp(7, n_states=6, n_actions=3, gamma=0.9)
    free = mg.solve(mdp, method)
    mask = np.ones((6, 3), dtype=bool)
    mask[np.arange(6), free.policy.argmax(axis=1)] = False     # forbid the unconstrained optimum
    sol = mg.solve(mdp.replace(actions=mask), method)
    assert not (sol.policy.astype(bool) & ~mask).any() and not (sol.optimal_actions & ~mask).any()
    assert np.all(sol.q[~mask] == -np.inf) and np.all(np.isinf(sol.gap[~mask]))
    assert np.all(sol.v <= free.v + free.error_bound)
    # the constrained problem is the MDP whose forbidden actions are removed: compare with 2 actions
    keep = np.flatnonzero(mask.ravel()).reshape(6, 2)
    P2 = mdp.P.reshape(18, 6)[keep.ravel()].reshape(6, 2, 6)
    r2 = mdp.r.ravel()[keep.ravel()].reshape(6, 2)
    small = mg.solve(mg.MDP(P2, r2, 0.9))
    assert np.abs(small.v - sol.v).max() <= small.error_bound + sol.error_bound


# -- results and bad input ------------------------------------------------------------------------

def test_the_result_is_read_only_and_prints_two_lines():
    sol = mg.solve(ex.gridworld_example_4_1())
    with pytest.raises(ValueError):
        sol.v[0] = 1.0
    text = str(sol)
    assert text.startswith("Solution: policy_iteration") and len(text.splitlines()) == 2


@pytest.mark.parametrize("kwargs, argument", [
    (dict(method="q_learning"), "method"),
    (dict(tol=0.0), "tol"),
    (dict(tol=float("nan")), "tol"),
    (dict(horizon=0), "horizon"),
    (dict(horizon=2.5), "horizon"),
    (dict(sweeps=0), "sweeps"),
    (dict(max_iter=0), "max_iter"),
    (dict(solver="cholesky"), "solver"),
])
def test_bad_arguments_are_refused_by_name(kwargs, argument):
    with pytest.raises(ValidationError) as err:
        mg.solve(ex.two_state(), **kwargs)
    assert err.value.argument == argument


def test_max_iter_reached_by_policy_iteration_is_refused():
    mdp = gambler()
    with pytest.raises(ValidationError) as err:
        mg.solve(mdp, max_iter=1)
    assert err.value.argument == "max_iter"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mg.solve(mdp, max_iter=50)


# -- property: generated MDPs ---------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mdpgrad.strategies import mdps  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(mdps(max_states=5, max_actions=3), st.sampled_from(METHODS[1:]))
def test_generated_mdps_every_method_agrees_with_policy_iteration(mdp, method):
    pi = mg.solve(mdp)
    sol = mg.solve(mdp, method)
    assert np.abs(sol.v - pi.v).max() <= sol.error_bound + pi.error_bound
    # each keeps every action the other cannot exclude: the sets agree up to undecided ties
    assert np.all(sol.optimal_actions | ~pi.optimal_actions | pi.undecided)
    assert np.all(pi.optimal_actions | ~sol.optimal_actions | sol.undecided)
    # the tie-rule policy's own value is within the bound of v* (it is optimal when no tie is undecided)
    value = mg.evaluate(mdp, pi.policy, accuracy="ignore").v
    if not pi.undecided.any():
        assert np.abs(value - pi.v).max() <= 10 * pi.error_bound + 1e-12


def test_policy_iteration_from_a_given_start_records_every_policy_it_visits():
    # Sutton & Barto 2018, §4.3: each improvement is at least as good in every state (policy
    # improvement theorem), the last policy visited is the solution, and a start at the optimum is
    # evaluated once
    mdp = mg.get_example("gridworld")
    best = mg.solve(mdp)
    worst = np.argmin(best.q, axis=1)
    sol = mg.solve(mdp, start=worst)
    assert sol.path is not None and sol.path.shape[1] == mdp.n_states and len(sol.path) == sol.iterations
    assert np.all(np.diff(sol.path, axis=0) >= -1e-12)
    assert np.max(np.abs(sol.path[-1] - sol.v)) <= sol.error_bound   # v^π of the last policy visited
    np.testing.assert_allclose(sol.v, best.v, atol=sol.error_bound + best.error_bound)
    again = mg.solve(mdp, start=best.policy)
    assert again.iterations == 1 and len(again.path) == 1
    assert mg.solve(mdp, method="value_iteration").path is None


@pytest.mark.parametrize("start, fragment", [
    (np.full(25, 4), r"start\[0\] is 4; expected an action index in 0..3"),
    (np.full((25, 4), 0.25), r"start\[0, :\] is \[0.25, 0.25, 0.25, 0.25\]; expected a deterministic row"),
    (np.zeros(3), r"start has shape \(3,\)"),
])
def test_bad_starts_are_refused(start, fragment):
    with pytest.raises(mg.ValidationError, match=fragment):
        mg.solve(mg.get_example("gridworld"), start=start)


def test_start_is_refused_for_other_methods_and_unavailable_actions():
    with pytest.raises(mg.ValidationError, match="only policy iteration starts from a policy"):
        mg.solve(mg.get_example("gridworld"), method="value_iteration", start=np.zeros(25))
    gambler = mg.get_example("gamblers-problem")
    with pytest.raises(mg.ValidationError, match="start chooses action 0 in state 1, which is unavailable"):
        mg.solve(gambler, start=np.zeros(101))
