"""Tests of mdpgrad.examples._sutton_barto: the gambler's problem, Jack's car rental, access control.

Each model is checked three ways: its structure (row sums, action sets, the clipped rows of
unavailable actions); its numbers against a direct computation written here (Poisson and binomial
sums, not the factory's tail formulas); and the book's figures reproduced by small numpy solvers
written here (value iteration, policy iteration, relative value iteration), which use P, r and the
action mask only.  Sources, all from Sutton & Barto (2018), Reinforcement Learning: An Introduction,
2nd ed.: Example 4.3 / Figure 4.3 (gambler), Example 4.2 / Figure 4.2 (Jack), Example 10.2 /
Figure 10.5 (access control).
"""

from fractions import Fraction
from math import comb, exp, factorial

import numpy as np
import pytest
import sympy

from mdpgrad import MDP, ValidationError, get_example
from mdpgrad.examples import EXAMPLES, access_control_queuing, gamblers_problem, jacks_car_rental

#: Rows of P built from float pmfs sum to 1 within a few ulps times the row length (≤ 441 terms):
#: ≈ 1e-14 at most; the task's bound 1e-12 leaves room and still catches a lost tail (≥ 1e-9 here).
ROW_TOL = 1e-12
#: Probabilities and rewards recomputed here by other sums (Poisson sums cut at 80 terms, whose
#: remainder is < 1e-40 for λ ≤ 4): agreement to rounding, a few ulps of numbers ≤ 70.
DIRECT_TOL = 1e-12
#: Value iteration sweeps until the largest change is below this: the gambler's values are ≤ 1
#: (a few ulps, 1e-15, is reachable); access control's discounted values are ≈ 300 (ulp 6e-14), and a
#: change below 1e-11 bounds the error by γ/(1 − γ)·1e-11 ≈ 1e-9, far below its margins (≥ 3e-3).
VI_STOP = 1e-15
VI_STOP_DISCOUNTED = 1e-11
#: Gambler's values against the bold-play values (a linear solve): both to ~1e-15; 1e-12 is generous.
VALUE_TOL = 1e-12
#: An action is "optimal" when its q is within this of the best.  Jack's solves are accurate to
#: ~1e-12 relative on values ≤ 640 (~1e-10 absolute); the smallest real gap between a best and a
#: second-best action is 6.8e-4 (Jack) and 2.3e-4 (gambler), so 1e-9 separates ties from choices.
TIE_TOL = 1e-9
#: ρ from relative value iteration (stopped at RVI_STOP) against μ·r_π from an eigenvector: both
#: accurate to ~1e-12 on numbers ≈ 3; 1e-9 leaves room.
GAIN_TOL = 1e-9
#: Relative value iteration stops when the relative values change by less than this (they are ≤ 26).
RVI_STOP = 1e-12
#: Numbers quoted in the docstrings to one or four decimals: within half a unit of the last digit.
HALF_UNIT = 0.05
HALF_UNIT_4 = 0.00005
#: Poisson sums cut here: Pr(X > 80) < 1e-40 for λ ≤ 4.
POISSON_TERMS = 80


def _poisson(k: int, lam: float) -> float:
    return exp(-lam) * lam ** k / factorial(k)


def _available_rows_sum_to_one(mdp: MDP) -> None:
    sums = mdp.P_dense().sum(axis=2)
    assert np.abs(sums - 1.0).max() <= ROW_TOL            # every row, available or not, is a distribution


# -- Example 4.3: the gambler's problem ----------------------------------------------

def _value_iteration(mdp: MDP, stop: float = VI_STOP) -> np.ndarray:
    """Value iteration over the available actions (terminal values stay 0)."""
    P, r, M = mdp.P_dense(), mdp.r, mdp.actions
    v = np.zeros(mdp.n_states)
    for _ in range(100_000):
        new = np.where(M, r + mdp.gamma * P @ v, -np.inf).max(axis=1)
        new[mdp.terminal] = 0.0
        if np.abs(new - v).max() < stop:
            return new
        v = new
    raise AssertionError("value iteration did not converge")


def _bold_play_values(p: float, goal: int) -> np.ndarray:
    """v of bold play, a = min(s, goal − s), by a linear solve on the capitals 1..goal − 1."""
    inner = np.arange(1, goal)
    stake = np.minimum(inner, goal - inner)
    A = np.eye(goal + 1)
    b = np.zeros(goal + 1)
    for s, a in zip(inner, stake, strict=True):
        A[s, s + a] -= p if s + a < goal else 0.0
        A[s, s - a] -= (1 - p) if s - a > 0 else 0.0
        b[s] = p if s + a == goal else 0.0
    return np.linalg.solve(A, b)


def test_gambler_structure():
    p, goal = 0.4, 100
    mdp = gamblers_problem()
    P, r, M = mdp.P_dense(), mdp.r, mdp.actions
    assert (mdp.n_states, mdp.n_actions, mdp.gamma) == (101, 51, 1.0)
    assert mdp.terminal.nonzero()[0].tolist() == [0, 100]
    _available_rows_sum_to_one(mdp)
    for s in range(1, goal):
        top = min(s, goal - s)
        assert M[s].nonzero()[0].tolist() == list(range(1, top + 1))      # stakes 1..min(s, goal − s)
        for a in range(mdp.n_actions):
            stake = min(max(a, 1), top)                                   # unavailable: the clipped stake
            expected = np.zeros(goal + 1)
            expected[s + stake] += p
            expected[s - stake] += 1 - p
            assert np.array_equal(P[s, a], expected)
            assert r[s, a] == (p if s + stake == goal else 0.0)
    for t in (0, goal):
        assert M[t].nonzero()[0].tolist() == [0]
        assert (P[t, :, t] == 1).all() and (r[t] == 0).all()


def test_gambler_values_match_figure_4_3():
    # Figure 4.3 (p_h = 0.4): bold play is optimal (Dubins & Savage 1965), so
    # v*(50) = p, v*(25) = p², v*(75) = p + (1 − p)p exactly: 0.4, 0.16, 0.64.
    p = 0.4
    v = _value_iteration(gamblers_problem(p))
    assert abs(v[50] - p) <= VALUE_TOL
    assert abs(v[25] - p * p) <= VALUE_TOL
    assert abs(v[75] - (p + (1 - p) * p)) <= VALUE_TOL
    assert np.abs(v - _bold_play_values(p, 100)).max() <= VALUE_TOL
    # the rising curve of the figure's final sweep over capitals 0..99 (the goal is terminal: v = 0 there,
    # the +1 being paid on the step into it)
    assert np.all(np.diff(v[:100]) > 0) and v[100] == 0


def test_gambler_policy_shape_of_figure_4_3():
    # Figure 4.3's final policy: the spikes (stake 25 at capital 25, 50 at 50, 25 at 75) are the
    # only optimal stakes there, and the ramp at its left end stakes everything (a = s, s ≤ 12).
    mdp = gamblers_problem()
    v = _value_iteration(mdp)
    q = np.where(mdp.actions, mdp.r + mdp.P_dense() @ v, -np.inf)
    optimal = [set(np.flatnonzero(q[s] >= q[s].max() - TIE_TOL).tolist()) for s in range(101)]
    assert optimal[25] == {25} and optimal[50] == {50} and optimal[75] == {25}
    for s in range(1, 13):
        assert optimal[s] == {s}
    for s in range(1, 100):                          # bold play is among the optimal stakes everywhere
        assert min(s, 100 - s) in optimal[s]


def test_gambler_accepts_exact_probabilities():
    reference = gamblers_problem(0.4, goal=10)
    for p in (Fraction(2, 5), sympy.Rational(2, 5)):
        mdp = gamblers_problem(p, goal=10)
        assert np.array_equal(mdp.P_dense(), reference.P_dense()) and np.array_equal(mdp.r, reference.r)


# -- Example 4.2: Jack's car rental ------------------------------------------------------

@pytest.fixture(scope="module")
def jack() -> MDP:
    return jacks_car_rental()


def _location_law(request_rate: float, return_rate: float, max_cars: int = 20) -> np.ndarray:
    """L[c, n]: night count n from c morning cars, summed over requests x and returns y < POISSON_TERMS."""
    L = np.zeros((max_cars + 1, max_cars + 1))
    for c in range(max_cars + 1):
        for x in range(POISSON_TERMS):
            px = _poisson(x, request_rate)
            for y in range(POISSON_TERMS):
                L[c, min(c - min(x, c) + y, max_cars)] += px * _poisson(y, return_rate)
    return L


def _jack_clipped_moves() -> np.ndarray:
    n1, n2 = np.divmod(np.arange(441), 21)
    return np.clip(np.arange(-5, 6)[None, :], -n2[:, None], n1[:, None])


def test_jack_structure(jack):
    assert (jack.n_states, jack.n_actions, jack.gamma) == (441, 11, 0.9)
    assert not jack.terminal.any()
    _available_rows_sum_to_one(jack)
    n1, n2 = np.divmod(np.arange(441), 21)
    move = np.arange(-5, 6)
    # a move is available iff the sending location holds the cars
    assert np.array_equal(jack.actions, (move[None, :] <= n1[:, None]) & (-move[None, :] <= n2[:, None]))
    assert jack.actions[0].nonzero()[0].tolist() == [5]                   # (0, 0): move nothing
    assert jack.actions[21 * 20 + 20].all()                               # (20, 20): every move
    # an unavailable move repeats the row and reward of the clipped move
    moved = _jack_clipped_moves()
    P, r = jack.P_dense(), jack.r
    for s, a in zip(*np.nonzero(~jack.actions), strict=True):
        twin = moved[s, a] + 5
        assert jack.actions[s, twin]
        assert np.array_equal(P[s, a], P[s, twin]) and r[s, a] == r[s, twin]


def test_jack_transitions_equal_direct_poisson_sums(jack):
    # P[(n1, n2), a] is the product of the two locations' laws at the morning counts, each law summed
    # here over requests and returns directly (rent min(x, c), add y, cap at 20)
    L1, L2 = _location_law(3.0, 3.0), _location_law(4.0, 2.0)
    n1, n2 = np.divmod(np.arange(441), 21)
    moved = _jack_clipped_moves()
    c1, c2 = np.minimum(n1[:, None] - moved, 20), np.minimum(n2[:, None] + moved, 20)
    direct = (L1[c1][:, :, :, None] * L2[c2][:, :, None, :]).reshape(441, 11, 441)
    assert np.abs(jack.P_dense() - direct).max() <= DIRECT_TOL


def test_jack_expected_reward_equals_direct_computation(jack):
    # r = 10·(E min(X₁, c₁) + E min(X₂, c₂)) − 2·|cars moved|, E by a direct sum over the requests
    def rented(c: int, lam: float) -> float:
        return sum(min(x, c) * _poisson(x, lam) for x in range(POISSON_TERMS))

    E1 = np.array([rented(c, 3.0) for c in range(21)])
    E2 = np.array([rented(c, 4.0) for c in range(21)])
    n1, n2 = np.divmod(np.arange(441), 21)
    moved = _jack_clipped_moves()
    c1, c2 = np.minimum(n1[:, None] - moved, 20), np.minimum(n2[:, None] + moved, 20)
    direct = 10.0 * (E1[c1] + E2[c2]) - 2.0 * np.abs(moved)
    assert np.abs(jack.r - direct).max() <= DIRECT_TOL
    # one entry by hand: (20, 0), move 5: mornings (15, 5), so 10·(E min(X₁,15) + E min(X₂,5)) − 10
    assert abs(jack.r[21 * 20, 10] - (10 * (rented(15, 3.0) + rented(5, 4.0)) - 10)) <= DIRECT_TOL


def _policy_iteration(mdp: MDP, start: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Howard's policy iteration over the available actions, keeping the current action on ties.

    Returns the policies π₀, π₁, ... (action indices), the final value and the final q.
    """
    P, r, M, g = mdp.P_dense(), mdp.r, mdp.actions, mdp.gamma
    S = mdp.n_states
    pi, seq = start, [start]
    for _ in range(50):
        v = np.linalg.solve(np.eye(S) - g * P[np.arange(S), pi], r[np.arange(S), pi])
        q = np.where(M, r + g * P @ v, -np.inf)
        keep = q[np.arange(S), pi] >= q.max(axis=1) - TIE_TOL
        new = np.where(keep, pi, q.argmax(axis=1))
        if np.array_equal(new, pi):
            return seq, v, q
        pi = new
        seq.append(pi)
    raise AssertionError("policy iteration did not converge")


def test_jack_policy_iteration_reproduces_figure_4_2(jack):
    never_move = np.full(441, 5)
    seq, v, q = _policy_iteration(jack, never_move)
    # Figure 4.2: policy iteration from the policy that never moves a car stops at π₄
    assert len(seq) == 5
    pi = seq[-1]
    # the result is greedy w.r.t. its own value: it satisfies the Bellman optimality equation
    assert np.abs(q.max(axis=1) - v).max() <= TIE_TOL * np.abs(v).max()
    policy = (pi - 5).reshape(21, 21)                 # policy[n1, n2]: net cars moved 1 → 2
    assert policy[20, 0] == 5                         # π₄'s corner: 20 cars at the first location, 0 at 2nd
    assert policy[0, 0] == 0 and policy[0, 20] < 0    # nothing to move; cars go to the empty first location
    # π₄ is drawn as staircase regions: moves fall as the second location fills and rise with the first
    assert (np.diff(policy, axis=1) <= 0).all() and (np.diff(policy, axis=0) >= 0).all()
    # v₄'s surface in Figure 4.2 starts at 420 (its lowest tick), at (0, 0)
    assert int(np.argmin(v)) == 0 and 420.0 <= v.min() <= 425.0
    # the docstring's range, 421.4 to 637.0 (one decimal), the top at (20, 20)
    assert abs(v.min() - 421.4) <= HALF_UNIT and abs(v.max() - 637.0) <= HALF_UNIT
    assert int(np.argmax(v)) == 440


# -- Example 10.2: access control ---------------------------------------------------------

def _relative_value_iteration(mdp: MDP) -> tuple[float, np.ndarray]:
    """Relative value iteration (Puterman 1994, §8.5.5) over the available actions, reference state 0.

    Returns the optimal gain ρ and the relative values h (h[0] = 0); γ is not used.
    """
    P, r, M = mdp.P_dense(), mdp.r, mdp.actions
    h = np.zeros(mdp.n_states)
    for _ in range(100_000):
        T = np.where(M, r + P @ h, -np.inf).max(axis=1)
        new = T - T[0]
        if np.abs(new - h).max() < RVI_STOP:
            return float(T[0]), new
        h = new
    raise AssertionError("relative value iteration did not converge")


def test_access_control_structure():
    mdp = access_control_queuing()
    k, p, N = 10, 0.06, 11
    assert (mdp.n_states, mdp.n_actions) == (44, 2) and not mdp.terminal.any()
    _available_rows_sum_to_one(mdp)
    P, r, M = mdp.P_dense(), mdp.r, mdp.actions
    for i, pay in enumerate((1, 2, 4, 8)):
        for n in range(N):
            s = i * N + n
            assert M[s, 0] and M[s, 1] == (n > 0)
            for a in (0, 1):
                left = n - (a if n > 0 else 0)                    # accepting with no free server rejects
                busy = k - left
                row = np.zeros(N)
                for j in range(busy + 1):                         # j of the busy servers become free
                    row[left + j] = comb(busy, j) * p ** j * (1 - p) ** (busy - j)
                expected = np.tile(row / 4, 4)                    # next priority uniform
                assert np.abs(P[s, a] - expected).max() <= DIRECT_TOL
            assert r[s, 0] == 0 and r[s, 1] == (pay if n > 0 else 0)


def test_access_control_policy_shape_of_figure_10_5():
    mdp = access_control_queuing()
    rho, h = _relative_value_iteration(mdp)
    q = np.where(mdp.actions, mdp.r + mdp.P_dense() @ h, -np.inf)
    accept = (q[:, 1] > q[:, 0] + TIE_TOL).reshape(4, 11)            # rows: priority 1, 2, 4, 8
    reject = (q[:, 0] > q[:, 1] + TIE_TOL).reshape(4, 11)
    # what Figure 10.5 shows: priority 8 accepted whenever a server is free; priority 1 rejected when
    # few are free; each priority accepted from a threshold on, higher priorities from lower ones
    assert accept[3, 1:].all()
    assert reject[0, 1:5].all()
    assert reject[1, 1] and accept[1, 10]
    thresholds = [int(np.argmax(row)) if row.any() else 11 for row in accept]
    for row, t in zip(accept, thresholds, strict=True):
        assert row[t:].all() and not row[:t].any()
    assert thresholds == sorted(thresholds, reverse=True)
    # the docstring's optimum: priorities 8 and 4 from 1 free server, 2 from 4, 1 never
    assert thresholds == [11, 4, 1, 1]
    # the gain: ρ = μ·r_π for the stationary law μ of the greedy policy's chain, and above the
    # R̄ ≈ 2.31 the caption of Figure 10.5 reports for the learned ε-greedy policy
    pi = accept.ravel().astype(int)
    P_pi = mdp.P_dense()[np.arange(44), pi]
    w, V = np.linalg.eig(P_pi.T)
    mu = np.real(V[:, np.argmin(np.abs(w - 1))])
    mu /= mu.sum()
    assert abs(mu @ mdp.r[np.arange(44), pi] - rho) <= GAIN_TOL
    assert rho > 2.31
    assert abs(rho - 2.7476) <= HALF_UNIT_4        # the docstring's ρ* ≈ 2.7476


def test_access_control_discounted_stand_in_policy():
    # the docstring's note: at γ = 0.99 the discounted-optimal policy also accepts priority 1 with 9 or
    # 10 free servers, where the average-optimal one rejects it by a margin of ≈ 0.003
    mdp = access_control_queuing()
    v = _value_iteration(mdp, VI_STOP_DISCOUNTED)
    q = np.where(mdp.actions, mdp.r + mdp.gamma * mdp.P_dense() @ v, -np.inf)
    accept = (q[:, 1] > q[:, 0] + TIE_TOL).reshape(4, 11)
    assert accept[0].nonzero()[0].tolist() == [9, 10]


# -- registry and bad input -------------------------------------------------------------------

@pytest.mark.parametrize("name,factory", [("gamblers-problem", gamblers_problem),
                                          ("jacks-car-rental", jacks_car_rental),
                                          ("access-control", access_control_queuing)])
def test_registered_by_name(name, factory):
    assert name in EXAMPLES and EXAMPLES[name][0] is factory
    built, direct = get_example(name), factory()
    assert np.array_equal(built.P_dense(), direct.P_dense()) and np.array_equal(built.actions, direct.actions)


@pytest.mark.parametrize("call,argument", [
    (lambda: gamblers_problem(goal=1), "goal"),
    (lambda: gamblers_problem(p_heads=1.5), "p_heads"),
    (lambda: gamblers_problem(p_heads=-0.1), "p_heads"),
    (lambda: jacks_car_rental(max_cars=0), "max_cars"),
    (lambda: jacks_car_rental(max_move=-1), "max_move"),
    (lambda: jacks_car_rental(request_rates=(3.0,)), "request_rates"),
    (lambda: jacks_car_rental(return_rates=(3.0, -2.0)), "return_rates[1]"),
    (lambda: jacks_car_rental(gamma=1.0), "gamma"),
    (lambda: access_control_queuing(n_servers=0), "n_servers"),
    (lambda: access_control_queuing(p_free=1.5), "p_free"),
    (lambda: access_control_queuing(priorities=()), "priorities"),
    (lambda: access_control_queuing(gamma=1.0), "gamma"),
])
def test_bad_arguments_raise(call, argument):
    with pytest.raises(ValidationError) as info:
        call()
    assert info.value.argument == argument
    assert argument in str(info.value)


@pytest.mark.parametrize("call", [
    lambda: gamblers_problem(p_heads=0.0, goal=2),          # the bounds just inside: p_h ∈ [0, 1], goal ≥ 2
    lambda: gamblers_problem(p_heads=1.0, goal=3),
    lambda: jacks_car_rental(max_cars=1, max_move=0),       # max_cars ≥ 1, max_move ≥ 0
    lambda: jacks_car_rental(max_cars=2, request_rates=(0.0, 0.0), return_rates=(0.0, 0.0)),
    lambda: access_control_queuing(n_servers=1, p_free=0.0),
    lambda: access_control_queuing(n_servers=2, p_free=1.0, priorities=(5.0,)),
])
def test_smallest_and_extreme_arguments_build(call):
    mdp = call()
    _available_rows_sum_to_one(mdp)
    assert mdp.actions.any(axis=1).all()
