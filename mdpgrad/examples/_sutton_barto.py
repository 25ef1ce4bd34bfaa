"""Three dynamic-programming examples of Sutton & Barto (2018) built with action sets.

What it builds
--------------
* :func:`gamblers_problem`: Example 4.3, the gambler who stakes on coin flips
  until reaching the goal or going broke (states 0..goal, stake = action).
* :func:`jacks_car_rental`: Example 4.2, two rental locations with Poisson
  requests and returns and overnight moves (441 states, 11 actions).
* :func:`access_control_queuing`: Example 10.2, accepting or rejecting
  customers of four priorities on k servers (44 states, 2 actions).

Each factory returns a validated :class:`~mdpgrad.MDP` whose ``actions`` mask
marks the choices the book allows in each state: a stake larger than the
capital (or than the gap to the goal), a move of more cars than a location
holds, accepting a customer with no free server.  An unavailable action
repeats the row P[s, a, :] and the reward r(s, a) of the nearest available
one: the stake clipped to 1..min(s, goal − s), the move clipped to the cars
present, and accepting with no free server is the rejection the book
imposes.  So every row of P is a distribution and a policy that ignores the
mask (a softmax over all actions) still plays the book's game; the mask says
which choices are the book's, and optimal control ranges over those only.

Identities checked by the tests (``tests/test_examples_sutton_barto.py``):
every row of P is a distribution to 1e-12 and an unavailable action's row
and reward are those of its clipped twin; the expected rewards
equal direct sums over the Poisson and binomial laws; independent numpy
value / policy / relative value iteration on these models reproduce the
book's Figures 4.2, 4.3 and 10.5.

Reference: R. S. Sutton, A. G. Barto (2018), *Reinforcement Learning: An
Introduction*, 2nd ed., MIT Press, §4.3–4.4 and §10.3.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import ValidationError
from .._model import MDP
from .._validation import check_integer, check_real

__all__ = ["access_control_queuing", "gamblers_problem", "jacks_car_rental"]


# -- Example 4.3: the gambler's problem -------------------------------------------

def gamblers_problem(p_heads: Any = 0.4, goal: int = 100) -> MDP:
    """The gambler's problem, Sutton & Barto (2018), Example 4.3.

    A gambler with capital s stakes a whole number of dollars a on a coin
    that comes up heads with probability p_h: heads wins the stake (s → s + a),
    tails loses it (s → s − a).  The episode ends at the goal (reward +1 on the
    step that reaches it) or at 0 (reward 0); every other step pays 0, and
    γ = 1, so v(s) is the probability of reaching the goal from s.

    States are the capitals s = 0, 1, ..., goal; 0 and goal are terminal.  The
    action index is the stake, a = 0, 1, ..., ⌊goal/2⌋.  In a non-terminal
    state the available stakes are a = 1, ..., min(s, goal − s), the stakes of
    Figure 4.3, which start at 1: the stake 0 the book's action set also lists
    changes nothing, ties with every optimal stake (q(s, 0) = v(s) when γ = 1)
    and, played forever, never ends the episode, so it is left out.  In the
    two terminal states only the stake 0 is available; every stake is
    absorbing there.  An unavailable stake elsewhere repeats the clipped
    stake's row and reward (0 → 1, above min(s, goal − s) → that maximum).
    ρ₀ is uniform over the capitals 1..goal − 1.

    For p_h < 1/2 bold play (a = min(s, goal − s)) is optimal (Dubins &
    Savage 1965): v*(goal/2) = p_h, v*(goal/4) = p_h², v*(3·goal/4) =
    p_h + (1 − p_h)·p_h; for p_h = 0.4 and goal 100, v*(25) = 0.16,
    v*(50) = 0.4 and v*(75) = 0.64, the values of Figure 4.3.

    Parameters
    ----------
    p_heads : float, fractions.Fraction or sympy.Rational, optional
        Probability of heads, 0 ≤ p_h ≤ 1 (default 0.4, the book's).  An exact
        number is accepted and rounded once to the nearest float, which the
        model stores (as it stores every probability).
    goal : int, optional
        The capital that wins, ≥ 2 (default 100).

    Returns
    -------
    MDP
        goal + 1 states, ⌊goal/2⌋ + 1 actions, dense, terminal {0, goal},
        with action sets.

    References
    ----------
    L. E. Dubins, L. J. Savage (1965), *How to Gamble If You Must*, McGraw-Hill.

    Examples
    --------
    >>> from mdpgrad.examples import gamblers_problem
    >>> mdp = gamblers_problem(goal=4)
    >>> mdp.actions.astype(int).tolist()      # stakes 0, 1, 2 in capitals 0..4
    [[1, 0, 0], [0, 1, 0], [0, 1, 1], [0, 1, 0], [1, 0, 0]]
    >>> mdp.P[2, 2].tolist(), float(mdp.r[2, 2])    # stake 2 from 2: to 4 (win) or 0
    ([0.6, 0.0, 0.0, 0.0, 0.4], 0.4)
    """
    p = check_real(p_heads, "p_heads", min_value=0.0, max_value=1.0)
    n = check_integer(goal, "goal", min_value=2)
    S, A = n + 1, n // 2 + 1
    P = np.zeros((S, A, S))
    r = np.zeros((S, A))
    actions = np.zeros((S, A), dtype=bool)
    for s in range(1, n):
        top = min(s, n - s)
        actions[s, 1:top + 1] = True
        for a in range(A):
            stake = min(max(a, 1), top)
            P[s, a, s + stake] += p
            P[s, a, s - stake] += 1 - p
            if s + stake == n:
                r[s, a] = p
    for t in (0, n):
        actions[t, 0] = True
        P[t, :, t] = 1.0
    terminal = np.zeros(S, dtype=bool)
    terminal[[0, n]] = True
    return MDP(P, r, 1.0, terminal=terminal, actions=actions)


# -- Example 4.2: Jack's car rental -----------------------------------------------

def _poisson_location(max_cars: int, request_rate: float,
                      return_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """One location's day: T[c, n] = Pr(n cars at night | c cars in the morning), and E[cars rented | c].

    Requests beyond the c cars present are lost: k < c cars are rented w.p. Pois(k; λ_req) and all c
    w.p. Pr(X ≥ c).  Returns arrive after the rentals and the count is capped: from c − k cars the
    night count is c − k + j w.p. Pois(j; λ_ret) below max_cars, and max_cars w.p. Pr(Y ≥ max_cars −
    (c − k)).  Both tails come from ``scipy.stats.poisson.sf`` (no cancellation), so each row of T is a
    distribution to rounding.
    """
    # scipy.stats takes ~0.5 s to import: only when a model is built
    from scipy import stats
    m = max_cars
    k = np.arange(m + 1)
    req_pmf = stats.poisson.pmf(k, request_rate)
    req_tail = stats.poisson.sf(k - 1, request_rate)           # Pr(X >= k)
    ret_pmf = stats.poisson.pmf(k, return_rate)
    ret_tail = stats.poisson.sf(k - 1, return_rate)            # Pr(Y >= k)
    T = np.zeros((m + 1, m + 1))
    rented = np.zeros(m + 1)
    for c in range(m + 1):
        q = np.append(req_pmf[:c], req_tail[c])                # cars rented: 0..c
        rented[c] = float(q @ np.arange(c + 1))
        for n_rented, w in enumerate(q):
            left = c - n_rented
            T[c, left:m] += w * ret_pmf[:m - left]
            T[c, m] += w * ret_tail[m - left]
    return T, rented


def jacks_car_rental(*, max_cars: int = 20, max_move: int = 5, move_cost: float = 2.0, rent: float = 10.0,
                     request_rates: tuple[float, float] = (3.0, 4.0),
                     return_rates: tuple[float, float] = (3.0, 2.0), gamma: float = 0.9) -> MDP:
    """Jack's car rental, Sutton & Barto (2018), Example 4.2 (Figure 4.2).

    State s = (max_cars + 1)·n₁ + n₂: n₁, n₂ ∈ 0..max_cars cars at the first
    and second location at the end of a day.  Action a ∈ 0..2·max_move is the
    net number of cars m = a − max_move moved overnight from the first
    location to the second (negative: from the second to the first), at
    ``move_cost`` per car; it is available when the sending location holds
    the cars (m ≤ n₁ and −m ≤ n₂); an unavailable move repeats the row and
    reward of the move clipped to the cars present.  A location that would then hold more
    than max_cars cars keeps max_cars: the extra cars go back to the
    nationwide company, as in the book.

    The next day, location i receives X_i ~ Poisson(λ_req,i) requests,
    λ_req = (3, 4), and rents min(X_i, cars present) cars at ``rent`` each;
    then Y_i ~ Poisson(λ_ret,i) cars come back, λ_ret = (3, 2), usable from
    the following day.  The two locations are independent.  The tails of the
    Poisson laws are handled exactly, not truncated: requests beyond the cars
    present are lost (the mass Pr(X ≥ c) is the event "all c cars rented"),
    and returns beyond the cap are lumped in "max_cars cars" (mass
    Pr(Y ≥ max_cars − cars left)).  So every available row of P is a
    distribution to rounding, and

        r(s, a) = rent · (E[min(X₁, c₁)] + E[min(X₂, c₂)]) − move_cost · abs(m),

    with c₁ = min(n₁ − m, max_cars), c₂ = min(n₂ + m, max_cars) the cars in
    the morning.  γ = 0.9; ρ₀ uniform; no terminal states.  Policy iteration
    from the policy that never moves a car stops at π₄, as in Figure 4.2;
    v* runs from 421.4 at (0, 0) to 637.0 at (20, 20) (the figure's value
    surface is drawn on an axis marked 420 to 612).

    Parameters
    ----------
    max_cars : int, optional
        Cars a location can hold, ≥ 1 (default 20).
    max_move : int, optional
        Most cars moved in one night, ≥ 0 (default 5).
    move_cost, rent : float, optional
        Dollars per car moved (default 2) and per car rented (default 10).
    request_rates, return_rates : (float, float), optional
        Poisson means of the daily requests and returns at the two locations
        (defaults (3, 4) and (3, 2)).
    gamma : float, optional
        Discount (default 0.9).

    Returns
    -------
    MDP
        (max_cars + 1)² states, 2·max_move + 1 actions, dense, with action sets.

    Examples
    --------
    >>> from mdpgrad.examples import jacks_car_rental
    >>> mdp = jacks_car_rental()
    >>> mdp.n_states, mdp.n_actions, mdp.actions[0].tolist().count(True)   # (0, 0): move nothing
    (441, 11, 1)
    >>> float(mdp.r[21 * 20 + 0, 10].round(4))      # (20, 0), move 5: 10·(E min(X₁,15) + E min(X₂,5)) − 2·5
    55.897
    """
    m = check_integer(max_cars, "max_cars", min_value=1)
    k = check_integer(max_move, "max_move", min_value=0)
    cost = check_real(move_cost, "move_cost")
    price = check_real(rent, "rent")
    lam_req = [check_real(x, f"request_rates[{i}]", min_value=0.0) for i, x in enumerate(_pair(request_rates,
                                                                                            "request_rates"))]
    lam_ret = [check_real(x, f"return_rates[{i}]", min_value=0.0) for i, x in enumerate(_pair(return_rates,
                                                                                           "return_rates"))]
    T1, E1 = _poisson_location(m, lam_req[0], lam_ret[0])
    T2, E2 = _poisson_location(m, lam_req[1], lam_ret[1])
    n1, n2 = np.divmod(np.arange((m + 1) ** 2), m + 1)
    move = np.arange(-k, k + 1)
    actions = (move[None, :] <= n1[:, None]) & (-move[None, :] <= n2[:, None])
    moved = np.clip(move[None, :], -n2[:, None], n1[:, None])  # = move where available
    c1 = np.minimum(n1[:, None] - moved, m)                     # the mornings' counts
    c2 = np.minimum(n2[:, None] + moved, m)
    P = (T1[c1][:, :, :, None] * T2[c2][:, :, None, :]).reshape(n1.size, move.size, n1.size)
    r = price * (E1[c1] + E2[c2]) - cost * np.abs(moved)
    return MDP(P, r, gamma, actions=actions)


def _pair(x: Any, name: str) -> tuple[Any, Any]:
    """``x`` as a pair (one value per location)."""
    try:
        a, b = x
    except (TypeError, ValueError):
        raise ValidationError(f"{name} is {x!r}; expected a pair of rates, one per location",
                              argument=name, value=repr(x)) from None
    return a, b


# -- Example 10.2: an access-control queuing task --------------------------------------

def access_control_queuing(*, n_servers: int = 10, priorities: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0),
                           p_free: float = 0.06, gamma: float = 0.99) -> MDP:
    """The access-control queuing task, Sutton & Barto (2018), Example 10.2 (Figure 10.5).

    k = ``n_servers`` servers; at each step the customer at the head of an
    endless queue has one of the priorities (1, 2, 4, 8), each with
    probability 1/4, and is accepted (action 1; the customer pays its
    priority and takes a free server) or rejected (action 0; reward 0).
    Accepting is available only when a server is free: with none free the
    customer is always rejected (so there the unavailable "accept" repeats
    the row and reward 0 of "reject").  Then each busy server, including one just
    taken, becomes free with probability p = 0.06, independently, and the
    next customer's priority is drawn.  So from n free servers, after the
    action leaves n' = n − [accept] free, the next count is
    n' + Binomial(k − n', p).

    State s = i·(k + 1) + n for the head customer's priority index i
    (0..3 for 1, 2, 4, 8) and n = 0..k free servers: ``v.reshape(4, k + 1)``
    is laid out as Figure 10.5 (one row per priority, free servers across).

    The book's task is continuing and undiscounted (average reward).  An
    :class:`~mdpgrad.MDP` without terminal states needs γ < 1, so the model
    carries γ = 0.99 as a stand-in: the average-reward optimal policy is the
    limit of the discounted ones as γ → 1 (Blackwell 1962; Puterman 1994,
    §10.1), and average-reward analyses use P and r and ignore γ.  ρ₀ is
    uniform; no terminal states.  The average-reward optimum (relative value
    iteration) has gain ρ* ≈ 2.7476 and accepts priority 8 and 4 whenever a
    server is free, priority 2 from 4 free servers on, and never priority 1
    (rejecting it with 10 free servers wins by only ≈ 0.003); the γ = 0.99
    optimum differs there: it also accepts priority 1 with 9 or 10 free.

    Parameters
    ----------
    n_servers : int, optional
        k ≥ 1 (default 10).
    priorities : tuple of float, optional
        The rewards of the equally likely priorities (default (1, 2, 4, 8)).
    p_free : float, optional
        Probability that a busy server becomes free in a step, 0 ≤ p ≤ 1 (default 0.06).
    gamma : float, optional
        Discount (default 0.99), see above.

    Returns
    -------
    MDP
        len(priorities)·(k + 1) states, 2 actions, dense, with action sets.

    References
    ----------
    D. Blackwell (1962), "Discrete dynamic programming", Ann. Math. Statist. 33(2):719–726.
    M. L. Puterman (1994), *Markov Decision Processes*, Wiley.

    Examples
    --------
    >>> from mdpgrad.examples import access_control_queuing
    >>> mdp = access_control_queuing()
    >>> mdp.n_states, bool(mdp.actions[0, 1]), float(mdp.r[3 * 11 + 5, 1])   # accept an 8 at 5 free
    (44, False, 8.0)
    """
    # scipy.stats takes ~0.5 s to import: only when a model is built
    from scipy import stats
    k = check_integer(n_servers, "n_servers", min_value=1)
    p = check_real(p_free, "p_free", min_value=0.0, max_value=1.0)
    if isinstance(priorities, (str, bytes)) or not hasattr(priorities, "__len__") or len(priorities) == 0:
        raise ValidationError(f"priorities is {priorities!r}; expected a non-empty sequence of rewards",
                              argument="priorities", value=repr(priorities))
    pay = np.array([check_real(x, f"priorities[{i}]") for i, x in enumerate(priorities)])
    H, N = pay.size, k + 1
    actions = np.ones((N, 2), dtype=bool)
    actions[0, 1] = False                                               # no free server: reject
    free_after = np.arange(N)[:, None] - actions * np.arange(2)[None, :]   # (n, a): n − [accepted]
    # freed[n', n_next] = Pr(n_next free | n' free after the action) = Binom(n_next − n'; k − n', p)
    n_after = np.arange(N)[:, None]
    freed = stats.binom.pmf(np.arange(N)[None, :] - n_after, k - n_after, p)
    P_free = freed[free_after]
    # s = i·N + n; the next priority is independent of everything and uniform
    P = np.tile(np.repeat(P_free[None, :, :, None, :] / H, H, axis=3).reshape(1, N, 2, H * N),
                (H, 1, 1, 1)).reshape(H * N, 2, H * N)
    r = np.zeros((H, N, 2))
    r[:, :, 1] = pay[:, None]
    r[:, ~actions[:, 1], 1] = 0.0
    return MDP(P, r.reshape(H * N, 2), gamma, actions=np.tile(actions, (H, 1)))
