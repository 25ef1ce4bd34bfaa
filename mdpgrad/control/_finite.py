"""Finite horizon by backward induction: a time-dependent optimal policy.

What it computes (Puterman 1994, §4.5; Sutton & Barto 2018, §4.1 with a horizon)
---------------------------------------------------------------------------------
v_H = 0, and for t = H − 1, …, 0::

    q_t = r + γ P v_{t+1},   v_t(s) = max_a q_t(s, a)

(−∞ at unavailable actions, 0 at terminal states).  v_t is the optimal expected discounted reward of the
H − t steps left; γ = 1 needs no terminal state here.  Rounding is the only error: with ρ_t the rounding
bound of backup t, err_t = ρ_t + γ·err_{t+1} bounds ‖v_t − v*_t‖∞, and the optimal sets of step t keep
the actions with gap ≤ 2·err_q,t, err_q,t = ρ_t + γ·err_{t+1}.

Identity checked by the tests: with a long horizon and γ < 1, v_0 approaches the infinite-horizon v*
within γ^H·max|r|/(1 − γ); pymdptoolbox's FiniteHorizon gives the same values and policies.
"""

from __future__ import annotations

import numpy as np

from .._model import MDP
from ._bellman import backup, backup_rounding, one_hot, optimal_sets
from ._solution import Solution

__all__ = ["backward_induction"]


def backward_induction(mdp: MDP, horizon: int) -> Solution:
    """The optimal values, optimal sets and policy of each of the ``horizon`` steps."""
    S, A = mdp.n_states, mdp.n_actions
    v = np.zeros((horizon + 1, S))
    q = np.empty((horizon, S, A))
    err_q = np.empty(horizon)
    err = 0.0
    for t in range(horizon - 1, -1, -1):
        q[t] = backup(mdp, v[t + 1])
        v[t] = np.max(q[t], axis=1)
        err_q[t] = backup_rounding(mdp, v[t + 1]) + mdp.gamma * err
        err = err_q[t]
    optimal, gap = optimal_sets(mdp, q, err_q)
    index = np.argmax(optimal, axis=-1)        # lowest index: no episode needs to end within H steps
    undecided = optimal & ((optimal.sum(axis=-1) > 1) & ~mdp.terminal)[..., None]
    return Solution(v=v, q=q, optimal_actions=optimal, undecided=undecided, policy=one_hot(index, A), gap=gap,
                    method="backward_induction", iterations=horizon, error_bound=float(err),
                    tie_bound=2.0 * err_q,
                    certificate=f"backward induction over {horizon} steps; rounding bounds each backup",
                    horizon=horizon)
