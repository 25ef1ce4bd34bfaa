"""Tests of mdpgrad.examples._catalogue: published numbers, hand-derived values, hand-built models.

Sources of the expected values:
* Sutton & Barto (2018), Reinforcement Learning: An Introduction, 2nd ed.:
  Figure 3.2 (Example 3.5, random policy, one decimal), Figure 3.5 (Example 3.5,
  v*, one decimal), Figure 4.1 (Example 4.1, random policy, k = ∞, integers),
  Example 6.2 (random walk, true values 1/6..5/6), §7.1 (19-state walk),
  Example 6.6 (cliff walking, optimal path of 13 steps), Example 11.1 (Baird).
* Values derived by hand in the comments (gambler's ruin, two-state episodic).
"""

from fractions import Fraction

import gymnasium
import numpy as np
import pytest
import scipy.sparse as sp
import sympy

from mdpgrad import MDP, ValidationError, evaluate, get_example, stationary_distribution, uniform_policy
from mdpgrad.examples import (
    EXAMPLES,
    baird_counterexample,
    cliff_walking,
    garnet,
    gridworld_example_3_5,
    gridworld_example_4_1,
    random_walk,
    short_corridor,
    slippery_gridworld,
    two_state,
    two_state_episodic,
    two_state_reversible,
    two_state_tables,
)
from mdpgrad.io import from_gymnasium

#: Published tables are rounded to one decimal: the true value lies within half
#: a unit of the last digit (0.05), plus room for float rounding (≈1e-14).
HALF_UNIT = 0.05 + 1e-12
#: Exact answers solved in float64 on systems of ≤ 50 states with condition
#: numbers ≤ 1e4: errors are ≈ 1e-12 at most; 1e-9 leaves a wide margin.
EXACT_TOL = 1e-9
#: Entries built from the same decimal literals in two ways agree to a few ulps.
ULP_TOL = 1e-15

# Sutton & Barto (2018), Figure 3.2 (right): v of the equiprobable random policy.
FIGURE_3_2 = np.array([
    [3.3, 8.8, 4.4, 5.3, 1.5],
    [1.5, 3.0, 2.3, 1.9, 0.5],
    [0.1, 0.7, 0.7, 0.4, -0.4],
    [-1.0, -0.4, -0.4, -0.6, -1.2],
    [-1.9, -1.3, -1.2, -1.4, -2.0],
])
# Sutton & Barto (2018), Figure 3.5 (middle): v* of the same gridworld.
FIGURE_3_5 = np.array([
    [22.0, 24.4, 22.0, 19.4, 17.5],
    [19.8, 22.0, 19.8, 17.8, 16.0],
    [17.8, 19.8, 17.8, 16.0, 14.4],
    [16.0, 17.8, 16.0, 14.4, 13.0],
    [14.4, 16.0, 14.4, 13.0, 11.7],
])
# Sutton & Barto (2018), Figure 4.1 (left column, k = ∞): v of the random policy.
FIGURE_4_1 = np.array([
    [0, -14, -20, -22],
    [-14, -18, -20, -20],
    [-20, -20, -18, -14],
    [-22, -20, -14, 0],
])


def policy_iteration(mdp: MDP) -> tuple[np.ndarray, object]:
    """Howard's policy iteration on exact evaluations; keeps the current action on ties.

    Starts from the uniform policy (proper on every example used here, so γ = 1
    is fine: improvements of a proper policy stay proper when every step costs).
    """
    S, A = mdp.n_states, mdp.n_actions
    ev = evaluate(mdp, uniform_policy(S, A))
    actions = ev.q.argmax(axis=1)
    for _ in range(100):
        ev = evaluate(mdp, np.eye(A)[actions])
        q = ev.q
        keep = q[np.arange(S), actions] >= q.max(axis=1) - EXACT_TOL
        new = np.where(keep, actions, q.argmax(axis=1))
        if np.array_equal(new, actions):
            return actions, ev
        actions = new
    raise AssertionError("policy iteration did not converge in 100 steps")


# -- Example 3.5 -------------------------------------------------------------------

def test_gridworld_3_5_random_policy_matches_figure_3_2():
    ev = evaluate(gridworld_example_3_5(), uniform_policy(25, 4))
    assert np.abs(ev.v.reshape(5, 5) - FIGURE_3_2).max() <= HALF_UNIT


def test_gridworld_3_5_optimal_values_match_figure_3_5():
    _, ev = policy_iteration(gridworld_example_3_5())
    assert np.abs(ev.v.reshape(5, 5) - FIGURE_3_5).max() <= HALF_UNIT


def test_gridworld_3_5_dynamics_as_stated():
    mdp = gridworld_example_3_5()
    P = mdp.P
    assert (P[1, :, 21] == 1).all() and (mdp.r[1] == 10).all()       # A -> A', +10
    assert (P[3, :, 13] == 1).all() and (mdp.r[3] == 5).all()        # B -> B', +5
    assert P[0, 0, 0] == 1 and mdp.r[0, 0] == -1 and mdp.r[0, 3] == -1  # off-grid from a corner
    assert P[12, 1, 13] == 1 and mdp.r[12, 1] == 0                   # an ordinary move
    assert mdp.gamma == 0.9 and not mdp.terminal.any()


# -- Example 4.1 -------------------------------------------------------------------

def test_gridworld_4_1_random_policy_matches_figure_4_1():
    mdp = gridworld_example_4_1()
    ev = evaluate(mdp, uniform_policy(16, 4))
    assert np.abs(ev.v.reshape(4, 4) - FIGURE_4_1).max() <= EXACT_TOL
    assert mdp.gamma == 1.0 and mdp.terminal.nonzero()[0].tolist() == [0, 15]


# -- random walks ------------------------------------------------------------------

def test_random_walk_5_true_values():
    mdp = random_walk(5)
    ev = evaluate(mdp, uniform_policy(7, 2))
    assert np.abs(ev.v[1:6] - np.arange(1, 6) / 6).max() <= EXACT_TOL
    assert mdp.rho0[3] == 1.0                     # start in C, the centre
    assert abs(ev.J - 0.5) <= EXACT_TOL


def test_random_walk_19_true_values():
    # Gambler's ruin: from k the walk exits right w.p. k/20, so v(k) = 2k/20 − 1.
    mdp = random_walk(19, left_reward=-1.0)
    ev = evaluate(mdp, uniform_policy(21, 2))
    assert np.abs(ev.v[1:20] - (np.arange(1, 20) / 10 - 1)).max() <= EXACT_TOL
    assert mdp.rho0[10] == 1.0 and abs(ev.J) <= EXACT_TOL


def test_random_walk_even_length_starts_between_middle_states():
    mdp = random_walk(4)
    assert mdp.rho0.tolist() == [0, 0, 0.5, 0.5, 0, 0]


# -- Baird ---------------------------------------------------------------------------

def test_baird_dynamics_as_in_example_11_1():
    ex = baird_counterexample()
    P = ex.mdp.P
    upper = np.r_[np.full(6, 1 / 6), 0.0]
    lower = np.eye(7)[6]
    for s in range(7):
        assert np.array_equal(P[s, 0], upper)   # dashed: one of the six upper states, 1/6 each
        assert np.array_equal(P[s, 1], lower)   # solid: the lower state
    assert (ex.mdp.r == 0).all() and ex.mdp.gamma == 0.99
    assert np.allclose(ex.mdp.rho0, 1 / 7, atol=ULP_TOL)
    # the book: under b the next-state distribution is uniform over all seven states
    P_b = np.einsum("sa,sat->st", ex.behaviour, P)
    assert np.abs(P_b - 1 / 7).max() <= ULP_TOL
    assert np.array_equal(ex.target, np.tile([0.0, 1.0], (7, 1)))


def test_baird_features():
    phi = baird_counterexample().phi
    w = np.arange(1.0, 9.0)  # distinct weights w_0..w_7 read back the feature pattern
    assert (phi @ w)[:6].tolist() == [2 * w[s] + w[7] for s in range(6)]
    assert (phi @ w)[6] == w[6] + 2 * w[7]
    assert phi.shape == (7, 8)


# -- cliff walking -----------------------------------------------------------------

def test_cliff_walking_safe_hand_built_path_and_optimum():
    mdp = cliff_walking()
    S = 48
    # Hand-built: up from S = (3, 0), right along row 2, down into G = (3, 11).
    a = np.zeros(S, dtype=int)              # up everywhere, except:
    a[24:35] = 1                            # right along row 2, cols 0..10
    a[35] = 2                               # down from (2, 11) to G
    a[:24] = 2                              # rows 0, 1 head down towards row 2
    ev = evaluate(mdp, np.eye(4)[a])
    assert ev.J == -13.0
    _, opt = policy_iteration(mdp)
    assert abs(opt.J - (-13.0)) <= EXACT_TOL


def test_cliff_walking_falling_returns_to_start():
    mdp = cliff_walking()
    assert mdp.P[36, 1, 36] == 1 and mdp.r[36, 1] == -100      # right from S into the cliff
    assert mdp.P[35, 2, 47] == 1 and mdp.r[35, 2] == -1        # down into G
    assert mdp.terminal.nonzero()[0].tolist() == [47] and mdp.rho0[36] == 1


# -- slippery gridworld ------------------------------------------------------------

def hand_built_slippery(n_rows, n_cols, slip):
    """Loop-by-loop construction straight from the docstring's words."""
    moves = {0: (-1, 0), 1: (0, 1), 2: (1, 0), 3: (0, -1)}
    perpendicular = {0: (1, 3), 1: (0, 2), 2: (1, 3), 3: (0, 2)}
    S = n_rows * n_cols
    P = np.zeros((S, 4, S))
    for s in range(S):
        row, col = divmod(s, n_cols)
        for a in range(4):
            if s == S - 1:
                P[s, a, s] = 1.0
                continue
            for d, p in ((a, 1 - slip), (perpendicular[a][0], slip / 2), (perpendicular[a][1], slip / 2)):
                nr, nc = row + moves[d][0], col + moves[d][1]
                nxt = nr * n_cols + nc if 0 <= nr < n_rows and 0 <= nc < n_cols else s
                P[s, a, nxt] += p
    return P


@pytest.mark.parametrize("shape,slip", [((3, 4), 0.2), ((1, 5), 0.5), ((4, 1), 0.0), ((2, 3), 1.0)])
def test_slippery_gridworld_equals_hand_built(shape, slip):
    mdp = slippery_gridworld(*shape, slip=slip)
    assert mdp.is_sparse
    S = shape[0] * shape[1]
    assert np.abs(mdp.P_dense() - hand_built_slippery(*shape, slip)).max() <= ULP_TOL
    rows = np.asarray(mdp.P.sum(axis=1)).ravel()
    assert np.abs(rows - 1).max() <= ULP_TOL
    assert mdp.P.nnz <= 3 * S * 4
    assert mdp.terminal.nonzero()[0].tolist() == [S - 1] and mdp.rho0[0] == 1
    assert (mdp.r[:-1] == -1).all() and (mdp.r[-1] == 0).all()
    dense = slippery_gridworld(*shape, slip=slip, sparse=False)
    assert not dense.is_sparse and np.array_equal(dense.P, mdp.P_dense())


def test_slippery_gridworld_deterministic_values_are_discounted_distances():
    # slip = 0 and the policy "down, then right": v(s) = −Σ_{t<d} γ^t with d the Manhattan distance
    R, C, g = 3, 4, 0.9
    mdp = slippery_gridworld(R, C, slip=0.0, gamma=g)
    rows, cols = np.divmod(np.arange(R * C), C)
    a = np.where(rows < R - 1, 2, 1)
    ev = evaluate(mdp, np.eye(4)[a])
    dist = (R - 1 - rows) + (C - 1 - cols)
    assert np.abs(ev.v - (-(1 - g ** dist) / (1 - g))).max() <= EXACT_TOL


def test_slippery_gridworld_matches_gymnasium_frozenlake_without_holes():
    # Gymnasium's slippery FrozenLake moves in the intended direction or either perpendicular one
    # w.p. 1/3 each: slip = 2/3 here.  Its actions are 0 left, 1 down, 2 right, 3 up, i.e. ours
    # reversed (a -> 3 − a).  Rewards differ (+1 at the goal there, −1 per step here).
    lake = gymnasium.make("FrozenLake-v1", desc=["SFFF", "FFFF", "FFFF", "FFFG"], is_slippery=True)
    theirs = from_gymnasium(lake, gamma=0.99)
    ours = slippery_gridworld(4, 4, slip=2 / 3)
    assert np.abs(ours.P_dense() - theirs.P[:, ::-1, :]).max() <= ULP_TOL
    assert np.array_equal(ours.terminal, theirs.terminal)


# -- Garnet --------------------------------------------------------------------------

@pytest.mark.parametrize("sparse", [False, True])
def test_garnet_branching_and_reproducibility(sparse):
    S, A, b = 12, 3, 4
    m1 = garnet(S, A, b, rng=7, sparse=sparse)
    m2 = garnet(S, A, b, rng=7, sparse=sparse)
    m3 = garnet(S, A, b, rng=8, sparse=sparse)
    P1 = m1.P_dense()
    assert (np.count_nonzero(P1, axis=2) == b).all()
    assert np.abs(P1.sum(axis=2) - 1).max() <= 1e-14  # b numbers normalised in float64
    assert np.array_equal(P1, m2.P_dense()) and np.array_equal(m1.r, m2.r)
    assert not np.array_equal(P1, m3.P_dense())
    assert m1.is_sparse == sparse


def test_garnet_dense_equals_sparse_and_extremes():
    assert np.array_equal(garnet(6, 2, 3, rng=1).P, garnet(6, 2, 3, rng=1, sparse=True).P_dense())
    full = garnet(5, 2, 5, rng=3).P
    assert (full > 0).all()
    det = garnet(5, 2, 1, rng=3).P
    assert set(np.unique(det).tolist()) == {0.0, 1.0}


# -- two-state examples -------------------------------------------------------------

def pair_chain(mdp, pi):
    """PΠ over state-action pairs, built entry by entry: (PΠ)[(s,a),(s',a')] = P(s'|s,a) π(a'|s')."""
    S, A = mdp.n_states, mdp.n_actions
    M = np.zeros((S * A, S * A))
    for s in range(S):
        for a in range(A):
            for s2 in range(S):
                for a2 in range(A):
                    M[s * A + a, s2 * A + a2] = mdp.P[s, a, s2] * pi[s2, a2]
    return M


def test_two_state_exact_tables_match_floats():
    t = two_state_tables()
    mdp = two_state()
    assert all(isinstance(x, Fraction) for x in np.ravel(t["P"]))
    assert np.array_equal(np.array(t["P"], dtype=float), mdp.P)
    assert np.array_equal(np.array(t["r"], dtype=float), mdp.r)
    assert t["gamma"] == Fraction(9, 10) and mdp.gamma == 0.9
    # every probability and reward is a dyadic rational, stored exactly
    assert all(Fraction(float(x)) == x for x in np.ravel(t["P"]))


def test_two_state_td_jacobian_not_symmetric_for_any_positive_weighting():
    mdp = two_state()
    M = pair_chain(mdp, uniform_policy(2, 2))
    assert M[0, 2] == 1 / 8 and M[2, 0] == 1 / 4
    # D M symmetric needs d_x M[x,y] = d_y M[y,x]; M[3, 0] = 0 < M[0, 3] forces d_0 = 0.
    assert M[3, 0] == 0 and M[0, 3] > 0


def test_two_state_exact_values_with_sympy():
    # v = (I − γP^π)⁻¹ r^π in exact rationals from the tables, against the float evaluation.
    t = two_state_tables()
    P = sympy.Matrix(2, 2, lambda s, s2: sum(sympy.Rational(t["P"][s][a][s2]) for a in range(2)) / 2)
    r = sympy.Matrix([sum(sympy.Rational(x) for x in t["r"][s]) / 2 for s in range(2)])
    v = (sympy.eye(2) - sympy.Rational(9, 10) * P).solve(r)
    ev = evaluate(two_state(), uniform_policy(2, 2))
    assert np.abs(ev.v - np.array([float(x) for x in v])).max() <= EXACT_TOL


def test_two_state_reversible_is_symmetric():
    M = pair_chain(two_state_reversible(), uniform_policy(2, 2))
    assert np.array_equal(M, M.T)
    # the uniform distribution over pairs is stationary and M is symmetric: detailed balance
    assert np.abs(stationary_distribution(M) - 0.25).max() <= EXACT_TOL


@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 1.0])
def test_two_state_episodic_value(p):
    # v(0) = p·1 + (1 − p)·½·v(0)  ⇒  v(0) = 2p / (1 + p)
    ev = evaluate(two_state_episodic(), np.array([[p, 1 - p], [0.5, 0.5]]))
    assert abs(ev.v[0] - 2 * p / (1 + p)) <= EXACT_TOL


# -- registry and bad input -----------------------------------------------------------

def test_registry_builds_every_example():
    required = {"two-state", "gridworld", "gridworld-episodic", "random-walk-5", "random-walk-19", "baird",
                "cliff-walking", "slippery-gridworld", "garnet"}
    assert required <= set(EXAMPLES)
    for name, (factory, description) in EXAMPLES.items():
        mdp = factory()
        assert isinstance(mdp, MDP)
        assert isinstance(get_example(name), MDP)
        assert description and "\n" not in description
    assert get_example("slippery-gridworld").is_sparse
    assert get_example("random-walk-19").r[1, 0] == -1


@pytest.mark.parametrize("call,argument", [
    (lambda: get_example("no-such-example"), "name"),
    (lambda: get_example(["two-state"]), "name"),
    (lambda: slippery_gridworld(1, 1), "n_rows"),
    (lambda: slippery_gridworld(0, 3), "n_rows"),
    (lambda: slippery_gridworld(2, 2.5), "n_cols"),
    (lambda: slippery_gridworld(2, 2, slip=1.5), "slip"),
    (lambda: garnet(3, 2, 4), "branching"),
    (lambda: garnet(3, 2, 0), "branching"),
    (lambda: garnet(0, 2, 1), "n_states"),
    (lambda: garnet(3, 2, 1, rng=1.5), "rng"),
    (lambda: random_walk(0), "n_states"),
    (lambda: random_walk(True), "n_states"),
])
def test_bad_arguments_raise(call, argument):
    with pytest.raises(ValidationError) as info:
        call()
    assert info.value.argument == argument
    assert argument in str(info.value)


def test_large_slippery_gridworld_stays_sparse():
    mdp = slippery_gridworld(60, 70)
    assert sp.issparse(mdp.P) and mdp.P.shape == (4200 * 4, 4200)
    assert mdp.P.nnz <= 3 * 4200 * 4


# -- the short corridor (Sutton & Barto 2018, Example 13.1) ------------------------

def _corridor_policy(p):
    return np.tile([1.0 - p, p], (4, 1))


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 2 - np.sqrt(2), 0.8, 0.95])
def test_short_corridor_value_is_the_books_closed_form(p):
    # J(p) = 2(2 − p)/(p(p − 1)), §13.1; a 4-state solve against a formula: 1e-12 relative
    v = evaluate(short_corridor(), _corridor_policy(p)).v
    assert v[0] == pytest.approx(2 * (2 - p) / (p * (p - 1)), rel=1e-12)


def test_short_corridor_published_numbers():
    mdp = short_corridor()
    assert evaluate(mdp, _corridor_policy(0.95)).v[0] == pytest.approx(-44.211, abs=5e-4)
    assert evaluate(mdp, _corridor_policy(0.05)).v[0] == pytest.approx(-82.105, abs=5e-4)
    best = evaluate(mdp, _corridor_policy(2 - np.sqrt(2))).v[0]
    assert best == pytest.approx(-(6 + 4 * np.sqrt(2)), rel=1e-12)
    assert best == pytest.approx(-11.657, abs=5e-4)


def test_short_corridor_state_blind_gradient_vanishes_only_at_p_star():
    from mdpgrad import LogLinear, policy_gradient
    phi = np.zeros((4, 2, 1))
    phi[:, 1, 0] = 1.0                      # π(right) = σ(θ) in every state
    logit = lambda p: np.array([np.log(p / (1 - p))])   # noqa: E731
    at_best = policy_gradient(short_corridor(), LogLinear(phi), logit(2 - np.sqrt(2)))
    assert abs(at_best[0]) < 1e-10          # J'' ≈ -27 there, so 1e-10 pins p* to ~4e-12
    assert policy_gradient(short_corridor(), LogLinear(phi), logit(0.5))[0] > 0
    assert policy_gradient(short_corridor(), LogLinear(phi), logit(0.7))[0] < 0


# -- grid layout ---------------------------------------------------------------------

def test_grid_examples_carry_their_shape():
    assert gridworld_example_3_5().grid_shape == (5, 5)
    assert gridworld_example_4_1().grid_shape == (4, 4)
    assert cliff_walking().grid_shape == (4, 12)
    assert slippery_gridworld(3, 7).grid_shape == (3, 7)
    assert two_state().grid_shape is None
    assert gridworld_example_3_5().replace(gamma=0.5).grid_shape == (5, 5)


@pytest.mark.parametrize("bad, where", [((5, 4), "grid_shape"), ((0, 25), "grid_shape[0]"),
                                        ((5, 2.5), "grid_shape[1]"), ("55", "grid_shape"),
                                        ((5, 5, 1), "grid_shape"), ((25, 1, 0), "grid_shape")])
def test_a_wrong_grid_shape_is_refused(bad, where):
    with pytest.raises(ValidationError) as info:
        gridworld_example_3_5().replace(grid_shape=bad)
    assert info.value.argument == where


def test_slippery_gridworld_memory_estimate_is_checked_at_its_boundary():
    # 3·(3·S·A) entries of 8 + 4 bytes: 432 bytes a state for int32 indices
    from mdpgrad import set_memory_limit

    S = 3 * 4
    old = set_memory_limit(432 * S - 1)
    try:
        with pytest.raises(ValidationError, match="3x4 slippery gridworld") as info:
            slippery_gridworld(3, 4)
        assert info.value.argument == "n_rows"
        set_memory_limit(432 * S)
        assert slippery_gridworld(3, 4).n_states == S
    finally:
        set_memory_limit(old)


def test_slippery_gridworld_refuses_1e8_states_under_the_default_limit_with_the_estimate():
    with pytest.raises(ValidationError, match=r"10000x10000 slippery gridworld .* about 43\.2 GB") as info:
        slippery_gridworld(10_000, 10_000)
    assert info.value.argument == "n_rows"
