"""Named MDPs: textbook examples with published values, and generators.

Every factory returns a validated :class:`~mdpgrad.MDP` whose dynamics
are stated in its docstring in words and numbers, with the source.  The
textbook examples reproduce numbers printed in Sutton & Barto (2018),
*Reinforcement Learning: An Introduction*, 2nd ed.; the tests evaluate them
with :func:`mdpgrad.evaluate` and compare with the published tables
(Figure 3.2, Figure 4.1) and with the hand-derived values of the random walks.

Conventions shared by the gridworlds: cell (row, col) is state
``s = row · n_cols + col`` (row 0 at the top), and the actions are
0 = up, 1 = right, 2 = down, 3 = left (Gymnasium's order for CliffWalking).
Episodic tasks end in terminal states (absorbing, zero reward); a reward paid
on the step into a terminal state sits in r(s, a) of the state left.

``EXAMPLES`` maps the command-line names to zero-argument factories and a
one-line description; :func:`get_example` builds one by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from .._errors import ValidationError
from .._model import MDP
from .._validation import check_integer, check_memory, check_real, check_rng
from ._sutton_barto import access_control_queuing, gamblers_problem, jacks_car_rental

#: Grid moves (d_row, d_col) for the actions 0 = up, 1 = right, 2 = down, 3 = left.
MOVES = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]])


def _grid_step(n_rows: int, n_cols: int) -> np.ndarray:
    """next_cell[s, a]: the cell reached from s by move a; moves off the grid stay put."""
    rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    nr = rows[:, None] + MOVES[None, :, 0]
    nc = cols[:, None] + MOVES[None, :, 1]
    inside = (nr >= 0) & (nr < n_rows) & (nc >= 0) & (nc < n_cols)
    return np.where(inside, nr * n_cols + nc, np.arange(n_rows * n_cols)[:, None])


def _deterministic_P(next_state: np.ndarray) -> np.ndarray:
    """Dense P of shape (S, A, S) with P[s, a, next_state[s, a]] = 1."""
    S, A = next_state.shape
    P = np.zeros((S, A, S))
    P[np.arange(S)[:, None], np.arange(A)[None, :], next_state] = 1.0
    return P


# -- two-state teaching MDPs --------------------------------------------------

def two_state_tables() -> dict[str, object]:
    """The exact numbers of :func:`two_state`, as ``fractions.Fraction``.

    Returns a dict with ``P`` (nested lists, shape (2, 2, 2)), ``r`` (shape
    (2, 2)), ``gamma`` = 9/10 and ``rho0`` = (1/2, 1/2), for symbolic work
    (pass them through ``sympy.Rational``).  Note that the float 0.9 stored in
    the numeric MDP is not exactly 9/10; every other number is a dyadic
    rational and is stored exactly.

    Examples
    --------
    >>> from mdpgrad.examples import two_state_tables
    >>> t = two_state_tables()
    >>> t["gamma"], t["P"][0][1]
    (Fraction(9, 10), [Fraction(1, 4), Fraction(3, 4)])
    """
    F = Fraction
    return {
        "P": [[[F(3, 4), F(1, 4)], [F(1, 4), F(3, 4)]],
              [[F(1, 2), F(1, 2)], [F(0), F(1)]]],
        "r": [[F(1), F(0)], [F(0), F(2)]],
        "gamma": F(9, 10),
        "rho0": [F(1, 2), F(1, 2)],
    }


def two_state(gamma: float = 0.9) -> MDP:
    """The default two-state, two-action continuing MDP (``mdpgrad check``'s example).

    Dynamics (x = s·A + a; every number a half or a quarter)::

        state 0, action 0 ("stay"):  to 0 w.p. 3/4, to 1 w.p. 1/4, reward 1
        state 0, action 1 ("move"):  to 0 w.p. 1/4, to 1 w.p. 3/4, reward 0
        state 1, action 0 ("leave"): to 0 w.p. 1/2, to 1 w.p. 1/2, reward 0
        state 1, action 1 ("camp"):  to 1 w.p. 1,                  reward 2

    γ = 0.9, ρ₀ = (½, ½).  Under the uniform policy the TD Jacobian
    γPΠ − I is not symmetric: (PΠ)[(0,0),(1,0)] = ¼·½ = 1/8 while
    (PΠ)[(1,0),(0,0)] = ½·½ = 1/4.  No positive diagonal weighting D makes
    DPΠ symmetric either (the pair chain is not reversible, Ollivier 2018):
    P(0|1, camp) = 0 while P(1|0, a) > 0 for both a.
    A minimal hand-made example; exact numbers in :func:`two_state_tables`.

    Parameters
    ----------
    gamma : float, optional
        Discount (default 0.9).

    Returns
    -------
    MDP
        2 states, 2 actions, dense.

    Examples
    --------
    >>> from mdpgrad.examples import two_state
    >>> mdp = two_state()
    >>> mdp.P[1, 1].tolist(), mdp.r.tolist()
    ([0.0, 1.0], [[1.0, 0.0], [0.0, 2.0]])
    """
    t = two_state_tables()
    return MDP(np.array(t["P"], dtype=float), np.array(t["r"], dtype=float), gamma,
               rho0=np.array(t["rho0"], dtype=float))


def two_state_reversible(gamma: float = 0.9) -> MDP:
    """A two-state MDP whose TD semi-gradient *is* a gradient under the uniform policy.

    Both actions move the same way, to the other state w.p. 1/4 and stay
    w.p. 3/4; they differ only in reward: r(s, 0) = 1, r(s, 1) = 0 in state 0
    and r(1, 0) = 0, r(1, 1) = 2 in state 1.  γ = 0.9.  Under any policy that
    is the same in both states, PΠ is symmetric, since
    P(s' | s, a) π(a' | s') = P(s|s', a') π(a|s): detailed balance with the
    identity (and the uniform stationary) weighting, the reversible case of
    Ollivier (2018) where a symmetry checker must answer "symmetric".

    Parameters
    ----------
    gamma : float, optional
        The discount γ.

    Examples
    --------
    >>> from mdpgrad.examples import two_state_reversible
    >>> mdp = two_state_reversible()
    >>> mdp.P[0].tolist()
    [[0.75, 0.25], [0.75, 0.25]]
    """
    P = np.array([[[0.75, 0.25], [0.75, 0.25]],
                  [[0.25, 0.75], [0.25, 0.75]]])
    r = np.array([[1.0, 0.0], [0.0, 2.0]])
    return MDP(P, r, gamma)


def two_state_episodic(gamma: float = 1.0) -> MDP:
    """The smallest episodic MDP: one decision state and one terminal state.

    From state 0, action 0 ("quit") ends the episode with reward 1; action 1
    ("gamble") pays 0 and ends the episode w.p. 1/2, else stays in state 0.
    State 1 is terminal.  γ = 1, ρ₀ = δ₀.  Every policy with π(quit|0) = p
    terminates, and v(0) = p / (p + (1 − p)/2) · 1 = 2p / (1 + p) (solve
    v = p + (1 − p)·½·v by hand); the optimum is p = 1 with v = 1.

    Parameters
    ----------
    gamma : float, optional
        The discount γ.

    Examples
    --------
    >>> from mdpgrad.examples import two_state_episodic
    >>> mdp = two_state_episodic()
    >>> mdp.terminal.tolist(), mdp.rho0.tolist()
    ([False, True], [1.0, 0.0])
    """
    P = np.array([[[0.0, 1.0], [0.5, 0.5]],
                  [[0.0, 1.0], [0.0, 1.0]]])
    r = np.array([[1.0, 0.0], [0.0, 0.0]])
    return MDP(P, r, gamma, rho0=[1.0, 0.0], terminal=np.array([False, True]))


# -- Sutton & Barto gridworlds ------------------------------------------------

def gridworld_example_3_5(gamma: float = 0.9) -> MDP:
    """The 5×5 gridworld of Sutton & Barto (2018), Example 3.5 (Figure 3.2).

    Continuing task, 25 states (s = 5·row + col), 4 actions (up, right, down,
    left).  Every action in cell A = (0, 1) moves to A' = (4, 1) with reward
    +10; every action in B = (0, 3) moves to B' = (2, 3) with reward +5.
    Elsewhere a move that would leave the grid leaves the state unchanged and
    pays −1; any other move pays 0.  γ = 0.9, ρ₀ uniform.  Under the
    equiprobable random policy the book prints v to one decimal, e.g.
    v(A) = 8.8 and v(B) = 5.3.

    Parameters
    ----------
    gamma : float, optional
        The discount γ.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad.examples import gridworld_example_3_5
    >>> mdp = gridworld_example_3_5()
    >>> int(np.argmax(mdp.P[1, 0])), float(mdp.r[1, 0]), float(mdp.r[0, 0])
    (21, 10.0, -1.0)
    """
    n = 5
    nxt = _grid_step(n, n)
    r = np.where(nxt == np.arange(n * n)[:, None], -1.0, 0.0)
    for (src, dst, reward) in (((0, 1), (4, 1), 10.0), ((0, 3), (2, 3), 5.0)):
        s = src[0] * n + src[1]
        nxt[s, :] = dst[0] * n + dst[1]
        r[s, :] = reward
    return MDP(_deterministic_P(nxt), r, gamma, grid_shape=(n, n))


def gridworld_example_4_1() -> MDP:
    """The 4×4 episodic gridworld of Sutton & Barto (2018), Example 4.1 (Figure 4.1).

    16 cells (s = 4·row + col); the shaded corners 0 and 15 are terminal.  The
    4 actions (up, right, down, left) move deterministically; a move off the
    grid leaves the state unchanged.  Every transition from a non-terminal
    state pays −1.  Undiscounted (γ = 1), ρ₀ uniform over the 14 non-terminal
    cells.  Under the equiprobable random policy v is minus the expected number
    of steps to a corner: the integers 14, 18, 20, 22 of Figure 4.1 (k = ∞).

    Examples
    --------
    >>> from mdpgrad.examples import gridworld_example_4_1
    >>> mdp = gridworld_example_4_1()
    >>> mdp.terminal.nonzero()[0].tolist(), float(mdp.r[5, 2])
    ([0, 15], -1.0)
    """
    n = 4
    nxt = _grid_step(n, n)
    terminal = np.zeros(n * n, dtype=bool)
    terminal[[0, n * n - 1]] = True
    nxt[terminal] = np.flatnonzero(terminal)[:, None]
    r = np.where(terminal[:, None], 0.0, -1.0) * np.ones((1, 4))
    return MDP(_deterministic_P(nxt), r, 1.0, terminal=terminal, grid_shape=(n, n))


def random_walk(n_states: int = 5, *, left_reward: float = 0.0, right_reward: float = 1.0,
                gamma: float = 1.0) -> MDP:
    """The random walk of Sutton & Barto (2018), Example 6.2 (n = 5) and §7.1 (n = 19).

    States 1..n form a chain between two terminal states, 0 (left end) and
    n + 1 (right end).  Action 0 moves one step left, action 1 one step right;
    under the uniform policy this is the book's walk, which moves left or right
    with probability ½.  Leaving the chain on the right pays ``right_reward``,
    on the left ``left_reward``; every other step pays 0.  ρ₀ starts in the
    centre state (n + 1)/2 (split between the two middle states when n is
    even).  γ = 1.

    Example 6.2 uses n = 5, left 0, right +1: the true values are
    v(k) = k/6, i.e. 1/6, …, 5/6.  The 19-state walk of §7.1 uses left −1,
    right +1 (``left_reward=-1``), with true values v(k) = k/10 − 1 (gambler's
    ruin: the walk exits right w.p. k/(n + 1)).

    Parameters
    ----------
    n_states : int
        Number of non-terminal states n ≥ 1; the MDP has n + 2 states.
    left_reward, right_reward : float
        Reward on exiting to the left and to the right.
    gamma : float
        Discount (default 1).

    Examples
    --------
    >>> from mdpgrad.examples import random_walk
    >>> mdp = random_walk(5)
    >>> mdp.n_states, mdp.rho0.tolist()[3], float(mdp.r[5, 1])
    (7, 1.0, 1.0)
    """
    n = check_integer(n_states, "n_states", min_value=1)
    check_memory((n + 2) * 2 * (n + 2) * 8, f"a random walk with {n} states (dense P)", "n_states")
    left_reward = check_real(left_reward, "left_reward")
    right_reward = check_real(right_reward, "right_reward")
    S = n + 2
    s = np.arange(S)
    nxt = np.stack([s - 1, s + 1], axis=1)
    terminal = np.zeros(S, dtype=bool)
    terminal[[0, S - 1]] = True
    nxt[terminal] = s[terminal, None]
    r = np.zeros((S, 2))
    r[1, 0] = left_reward
    r[n, 1] += right_reward
    rho0 = np.zeros(S)
    np.add.at(rho0, [(n + 1) // 2, (n + 2) // 2], 0.5)
    return MDP(_deterministic_P(nxt), r, gamma, rho0=rho0, terminal=terminal)


# -- Baird's counterexample ---------------------------------------------------

@dataclass(frozen=True, eq=False)
class BairdCounterexample:
    """Baird's counterexample bundled with its features and two policies.

    Attributes
    ----------
    mdp : MDP
        7 states, 2 actions (0 = dashed, 1 = solid), zero rewards.
    phi : ndarray, shape (7, 8)
        State features: v̂(s) = φ(s)·w.
    behaviour : ndarray, shape (7, 2)
        b(dashed|s) = 6/7, b(solid|s) = 1/7.
    target : ndarray, shape (7, 2)
        π(solid|s) = 1.
    """

    mdp: MDP
    phi: np.ndarray
    behaviour: np.ndarray
    target: np.ndarray


def baird_counterexample(gamma: float = 0.99) -> BairdCounterexample:
    """Baird's counterexample (Baird 1995; Sutton & Barto 2018, Example 11.1).

    Seven states: six upper states 0..5 and one lower state 6.  The dashed
    action (0) moves to one of the six upper states with probability 1/6 each;
    the solid action (1) moves to the lower state.  All rewards are 0,
    γ = 0.99, ρ₀ uniform, no terminal states.  The features make
    v̂(s) = 2wₛ + w₇ for an upper state s and v̂(6) = w₆ + 2w₇ (0-based
    weights).  The behaviour policy takes dashed w.p. 6/7, so its next state is
    uniform over all seven; the target policy always takes solid.  Off-policy
    semi-gradient TD(0) diverges on this example.

    Parameters
    ----------
    gamma : float, optional
        The discount γ.

    Examples
    --------
    >>> from mdpgrad.examples import baird_counterexample
    >>> ex = baird_counterexample()
    >>> ex.mdp.P[6, 0].round(4).tolist(), ex.phi[6].tolist()
    ([0.1667, 0.1667, 0.1667, 0.1667, 0.1667, 0.1667, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0])
    """
    S = 7
    P = np.zeros((S, 2, S))
    P[:, 0, :6] = 1.0 / 6.0
    P[:, 1, 6] = 1.0
    mdp = MDP(P, np.zeros((S, 2)), gamma)
    phi = np.zeros((S, 8))
    phi[np.arange(6), np.arange(6)] = 2.0
    phi[:6, 7] = 1.0
    phi[6, 6], phi[6, 7] = 1.0, 2.0
    behaviour = np.tile([6.0 / 7.0, 1.0 / 7.0], (S, 1))
    target = np.tile([0.0, 1.0], (S, 1))
    for a in (phi, behaviour, target):
        a.flags.writeable = False
    return BairdCounterexample(mdp=mdp, phi=phi, behaviour=behaviour, target=target)


# -- short corridor -------------------------------------------------------------

def short_corridor() -> MDP:
    """The short corridor with switched actions, Sutton & Barto (2018), Example 13.1.

    Four states in a row, s = 0, 1, 2 and the goal 3 (terminal); actions
    0 = left, 1 = right.  In states 0 and 2 the actions move as named (left
    from 0 stays in 0); in state 1 they are switched (right goes to 0, left
    to 2).  Every step pays −1; γ = 1; ρ₀ = δ₀.  The states look alike to the
    agent, so the book's policy is state-blind: right with probability p in
    every state.  Its value is J(p) = v(0) = 2(2 − p)/(p(p − 1)), best at
    p* = 2 − √2 with J* = −(6 + 4√2) ≈ −11.657; the ε-greedy policies with
    ε = 0.1 (p = 0.95 and p = 0.05) score −44.211 and −82.105.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad.examples import short_corridor
    >>> mdp = short_corridor()
    >>> int(np.argmax(mdp.P[1, 1])), int(np.argmax(mdp.P[1, 0])), mdp.terminal.tolist()
    (0, 2, [False, False, False, True])
    """
    nxt = np.array([[0, 1], [2, 0], [1, 3], [3, 3]])
    r = np.array([[-1.0, -1.0], [-1.0, -1.0], [-1.0, -1.0], [0.0, 0.0]])
    terminal = np.array([False, False, False, True])
    return MDP(_deterministic_P(nxt), r, 1.0, rho0=[1.0, 0.0, 0.0, 0.0], terminal=terminal)


# -- cliff walking --------------------------------------------------------------

def cliff_walking(gamma: float = 1.0) -> MDP:
    """Cliff walking, Sutton & Barto (2018), Example 6.6.

    A 4×12 grid (s = 12·row + col).  The start S is (3, 0), the goal G is
    (3, 11), and the cells (3, 1)..(3, 10) between them are the cliff.  The 4
    actions (up, right, down, left) move deterministically; a move off the
    grid stays put.  Every move pays −1, except a move into the cliff, which
    pays −100 and sends the agent back to S.  G is terminal; ρ₀ = δ_S; γ = 1.
    The cliff cells are kept as states (so the indices match Gymnasium's
    CliffWalking) but are never entered; moves out of them follow the same
    rules.  The optimal path runs along the cliff edge in 13 steps, return −13.

    Parameters
    ----------
    gamma : float, optional
        The discount γ.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad.examples import cliff_walking
    >>> mdp = cliff_walking()
    >>> mdp.n_states, float(mdp.r[36, 1]), int(np.argmax(mdp.P[36, 1]))
    (48, -100.0, 36)
    """
    n_rows, n_cols = 4, 12
    start, goal = 3 * n_cols, 4 * n_cols - 1
    nxt = _grid_step(n_rows, n_cols)
    cliff = np.zeros(n_rows * n_cols, dtype=bool)
    cliff[3 * n_cols + 1: 4 * n_cols - 1] = True
    into_cliff = cliff[nxt]
    r = np.where(into_cliff, -100.0, -1.0)
    nxt = np.where(into_cliff, start, nxt)
    terminal = np.zeros(n_rows * n_cols, dtype=bool)
    terminal[goal] = True
    nxt[goal] = goal
    r[goal] = 0.0
    rho0 = np.zeros(n_rows * n_cols)
    rho0[start] = 1.0
    return MDP(_deterministic_P(nxt), r, gamma, rho0=rho0, terminal=terminal, grid_shape=(n_rows, n_cols))


# -- generators -------------------------------------------------------------------

def slippery_gridworld(n_rows: int, n_cols: int, *, slip: float = 0.2, gamma: float = 0.99,
                       sparse: bool = True) -> MDP:
    """A slippery gridworld of any size, built without a loop over states.

    Cells s = n_cols·row + col; actions 0 = up, 1 = right, 2 = down, 3 = left.
    The intended move happens w.p. 1 − slip; otherwise the agent slips to one
    of the two perpendicular moves, w.p. slip/2 each.  A move off the grid
    bounces back (the state is unchanged).  Every step pays −1.  The goal,
    the bottom-right cell, is terminal; ρ₀ = δ at the top-left cell.  The
    default slip = 0.2 is the 0.8/0.1/0.1 model of Russell & Norvig's 4×3
    world (Artificial Intelligence: A Modern Approach, 3rd ed., 2010, §17.1);
    slip = 2/3 gives the 1/3, 1/3, 1/3 dynamics of Gymnasium's slippery
    FrozenLake on a map without holes.  As γ → 1, −v(s) becomes the expected
    number of steps to the goal.

    The (S·A, S) matrix has at most 3 non-zeros per row and is assembled
    directly in CSR form, so 10⁶ states take a few seconds.  The assembly
    holds about three copies of the 3·S·A entries (value and column index),
    432 bytes a state with int32 indices: 4.3 GB for 10⁷ states, above the
    default memory limit of 4 GiB (raise it with :func:`mdpgrad.set_memory_limit`);
    the estimate is checked before anything is allocated.

    Parameters
    ----------
    n_rows, n_cols : int
        Grid size, n_rows·n_cols ≥ 2.
    slip : float, optional
        Probability of slipping sideways, 0 ≤ slip ≤ 1 (default 0.2).
    gamma : float, optional
        Discount (default 0.99).
    sparse : bool, optional
        Store P as a csr_array of shape (S·A, S) (default) or densely.

    Raises
    ------
    ValidationError
        (argument ``"n_rows"``) if the assembly would exceed the memory limit.

    Examples
    --------
    >>> from mdpgrad.examples import slippery_gridworld
    >>> mdp = slippery_gridworld(2, 2, slip=0.5)
    >>> mdp.P_dense()[0, 1].tolist()     # right from (0, 0): right 1/2, up-bounce 1/4, down 1/4
    [0.25, 0.5, 0.25, 0.0]
    """
    R = check_integer(n_rows, "n_rows", min_value=1)
    C = check_integer(n_cols, "n_cols", min_value=1)
    if R * C < 2:
        raise ValidationError("a 1x1 slippery gridworld has no non-goal state; need n_rows*n_cols >= 2",
                              argument="n_rows", value=(R, C))
    slip_f = check_real(slip, "slip", min_value=0.0, max_value=1.0)
    S, A = R * C, 4
    idx = np.int32 if 3 * S * A < 2**31 - 1 else np.int64
    # peak of the assembly: the 3·S·A entries (float64 value + column index) live in about three
    # copies at once (the arrays built below, and the canonical copy sum_duplicates makes)
    check_memory(3 * (3 * S * A) * (8 + np.dtype(idx).itemsize),
                 f"a {R}x{C} slippery gridworld ({S} states, 3 successors per state-action pair)", "n_rows")
    row, col = np.divmod(np.arange(S, dtype=idx), idx(C))
    # neighbour[d]: the cell reached by move d from every cell (bounce at walls)
    neighbour = np.empty((4, S), dtype=idx)
    s_all = np.arange(S, dtype=idx)
    neighbour[0] = np.where(row > 0, s_all - C, s_all)
    neighbour[1] = np.where(col < C - 1, s_all + 1, s_all)
    neighbour[2] = np.where(row < R - 1, s_all + C, s_all)
    neighbour[3] = np.where(col > 0, s_all - 1, s_all)
    goal = S - 1
    neighbour[:, goal] = goal  # terminal: every outcome returns to the goal
    # row x = s·A + a holds (intended, perpendicular left, perpendicular right)
    cols = np.empty((S, A, 3), dtype=idx)
    for a in range(A):
        cols[:, a, 0] = neighbour[a]
        cols[:, a, 1] = neighbour[(a + 1) % 4]
        cols[:, a, 2] = neighbour[(a + 3) % 4]
    data = np.tile(np.array([1.0 - slip_f, slip_f / 2, slip_f / 2]), S * A)
    indptr = np.arange(0, 3 * S * A + 1, 3, dtype=np.int64 if 3 * S * A >= 2**31 else idx)
    P = sp.csr_array((data, cols.reshape(-1), indptr), shape=(S * A, S))
    P.sum_duplicates()
    P.eliminate_zeros()
    r = np.full((S, A), -1.0)
    r[goal] = 0.0
    terminal = np.zeros(S, dtype=bool)
    terminal[goal] = True
    rho0 = np.zeros(S)
    rho0[0] = 1.0
    if not sparse:
        P = P.toarray().reshape(S, A, S)
    return MDP(P, r, gamma, rho0=rho0, terminal=terminal, grid_shape=(R, C))


def _random_subsets(rng: np.random.Generator, n_rows: int, n: int, k: int) -> np.ndarray:
    """k distinct integers from range(n) per row, uniformly (Floyd's algorithm, vectorised)."""
    chosen = np.empty((n_rows, k), dtype=np.int64)
    for i, j in enumerate(range(n - k, n)):
        t = rng.integers(0, j + 1, size=n_rows)
        seen = (chosen[:, :i] == t[:, None]).any(axis=1)
        chosen[:, i] = np.where(seen, j, t)
    return np.sort(chosen, axis=1)


def garnet(n_states: int, n_actions: int, branching: int, *, gamma: float = 0.9,
           rng: np.random.Generator | int = 0,
           sparse: bool = False) -> MDP:
    """A random Garnet MDP (Archibald et al. 1995; Bhatnagar et al. 2009, §6).

    For every pair (s, a), ``branching`` distinct next states are drawn
    uniformly without replacement, and their probabilities are the gaps
    between b − 1 uniform cut points of [0, 1] (a flat Dirichlet draw, made
    from normalised exponentials so every probability is positive).  Expected
    rewards r(s, a) are i.i.d. standard normal (a simplification of the
    papers' reward noise: only expectations enter the exact analysis).
    ρ₀ uniform, no terminal states.  The same integer ``rng`` (a seed) gives the same MDP.

    Parameters
    ----------
    n_states, n_actions : int
        S ≥ 1 and A ≥ 1.
    branching : int
        Non-zeros per row of P, 1 ≤ b ≤ S.
    gamma : float, optional
        Discount (default 0.9).
    rng : numpy.random.Generator or int, optional
        Source of the random draws; an int seeds ``numpy.random.default_rng`` (default 0).
    sparse : bool, optional
        Store P as a csr_array of shape (S·A, S) (default: dense).

    References
    ----------
    T. W. Archibald, K. I. M. McKinnon, L. C. Thomas (1995), "On the generation
    of Markov decision processes", J. Oper. Res. Soc. 46(3):354–361.
    S. Bhatnagar, R. S. Sutton, M. Ghavamzadeh, M. Lee (2009), "Natural
    actor-critic algorithms", Automatica 45(11):2471–2482.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad.examples import garnet
    >>> mdp = garnet(4, 2, 2, rng=1)
    >>> np.count_nonzero(mdp.P_dense(), axis=2).tolist()
    [[2, 2], [2, 2], [2, 2], [2, 2]]
    """
    S = check_integer(n_states, "n_states", min_value=1)
    A = check_integer(n_actions, "n_actions", min_value=1)
    b = check_integer(branching, "branching", min_value=1)
    if b > S:
        raise ValidationError(f"branching is {branching!r}; expected at most n_states={S}",
                              argument="branching", value=branching)
    stored = S * A * b * 16 if sparse else S * A * S * 8
    check_memory(stored + S * A * 8, f"a Garnet MDP with {S} states, {A} actions and branching {b}",
                 "n_states")
    rng = check_rng(rng)
    cols = _random_subsets(rng, S * A, S, b)
    weights = rng.standard_exponential((S * A, b)) + np.finfo(float).tiny
    probs = weights / weights.sum(axis=1, keepdims=True)
    r = rng.standard_normal((S, A))
    P = sp.csr_array((probs.ravel(), cols.ravel(), np.arange(0, S * A * b + 1, b)), shape=(S * A, S))
    if not sparse:
        P = P.toarray().reshape(S, A, S)
    return MDP(P, r, gamma)


# -- registry ---------------------------------------------------------------------

EXAMPLES: dict[str, tuple[Callable[[], MDP], str]] = {
    "two-state": (two_state, "2 states, 2 actions, gamma 0.9; TD Jacobian not symmetric (default)"),
    "two-state-reversible": (two_state_reversible,
                             "2 states, 2 actions, gamma 0.9; detailed balance, TD is a gradient"),
    "two-state-episodic": (two_state_episodic, "1 decision state + 1 terminal, gamma 1: quit or gamble"),
    "gridworld": (gridworld_example_3_5, "Sutton & Barto Example 3.5: 5x5 gridworld, A->A' +10, B->B' +5"),
    "gridworld-episodic": (gridworld_example_4_1,
                           "Sutton & Barto Example 4.1: 4x4 gridworld, -1 per step, gamma 1"),
    "random-walk-5": (lambda: random_walk(5), "Sutton & Barto Example 6.2: 5-state random walk, +1 right"),
    "random-walk-19": (lambda: random_walk(19, left_reward=-1.0),
                       "Sutton & Barto 7.1: 19-state random walk, -1 left, +1 right"),
    "baird": (lambda: baird_counterexample().mdp,
              "Sutton & Barto Example 11.1: Baird's counterexample, 7 states, gamma 0.99"),
    "short-corridor": (short_corridor, "Sutton & Barto Example 13.1: short corridor with switched actions"),
    "cliff-walking": (cliff_walking, "Sutton & Barto Example 6.6: 4x12 cliff walking, gamma 1"),
    "slippery-gridworld": (lambda: slippery_gridworld(4, 4),
                           "4x4 slippery gridworld, slip 0.2, gamma 0.99, sparse"),
    "garnet": (lambda: garnet(10, 3, 2, rng=0), "Garnet MDP: 10 states, 3 actions, branching 2, seed 0"),
    "gamblers-problem": (gamblers_problem,
                         "Sutton & Barto Example 4.3: gambler's problem, p_h 0.4, goal 100, gamma 1"),
    "jacks-car-rental": (jacks_car_rental,
                         "Sutton & Barto Example 4.2: Jack's car rental, 441 states, 11 moves, gamma 0.9"),
    "access-control": (access_control_queuing,
                       "Sutton & Barto Example 10.2: access control, 10 servers, gamma 0.99 stand-in"),
}


def get_example(name: str) -> MDP:
    """Build the named example (see ``EXAMPLES`` for the names).

    Parameters
    ----------
    name : str
        One of the names in ``EXAMPLES`` (``mdpgrad examples`` lists them).

    Raises
    ------
    ValidationError
        For an unknown name (argument ``"name"``).

    Examples
    --------
    >>> from mdpgrad import get_example
    >>> get_example("two-state")
    MDP(n_states=2, n_actions=2, gamma=0.9, dense, n_terminal=0)
    """
    try:
        factory, _ = EXAMPLES[name]
    except (KeyError, TypeError):
        raise ValidationError(f"name {name!r} is not a known example; known: {', '.join(sorted(EXAMPLES))}",
                              argument="name", value=name) from None
    return factory()
