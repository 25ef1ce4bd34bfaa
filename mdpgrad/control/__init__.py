"""mdpgrad.control: optimal control of finite MDPs, certified.

``mdpgrad.solve(mdp, method=...)`` returns a :class:`Solution`: v*, q*, every optimal action of every
state (decided against a stated bound, never by float equality), an optimal deterministic policy with a
stated tie rule, and a certified bound on ‖v − v*‖∞ with the sentence saying how it was obtained.

Methods (Puterman 1994, chapter 6; Sutton & Barto 2018, chapter 4): policy iteration with exact
evaluations (dense, sparse or Krylov), value iteration stopped by the span bound (MacQueen 1966), modified
policy iteration, and the linear program through scipy's HiGHS, an independent route; finite horizons by
backward induction (a time-dependent policy).  γ = 1 with terminal states is the stochastic shortest path
problem: policies that never terminate are avoided where possible and refused with the state named where
they would be optimal.  ``mdpgrad.symbolic.solve`` decides every tie exactly, in rationals.

>>> import numpy as np
>>> import mdpgrad as mg
>>> P = np.array([[[0.5, 0.5], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
>>> sol = mg.solve(mg.MDP(P, [[1.0, 0.0], [0.0, 0.0]], gamma=0.9, terminal=np.array([False, True])))
>>> print(sol)  # doctest: +ELLIPSIS
Solution: policy_iteration, 1 iteration(s), 2 states x 2 actions; |v - v*| <= ...
3 optimal actions, 0 state(s) with ties (within ...); policy iteration stopped ...
>>> sol.optimal_actions.tolist()     # both actions of the terminal state are worth 0
[[True, False], [True, True]]
"""

from ._linear_program import LP_TIE_TOL
from ._solution import Solution
from ._solve import DEFAULT_SWEEPS, DEFAULT_TOL

__all__ = ["DEFAULT_SWEEPS", "DEFAULT_TOL", "LP_TIE_TOL", "Solution"]
