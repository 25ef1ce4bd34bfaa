"""Optimal values by linear programming (scipy's HiGHS), a route independent of the iterations.

What it computes (Puterman 1994, §6.9; d'Epenoux 1963)
-------------------------------------------------------
The primal LP over the values of the non-terminal states (v = 0 at terminal states)::

    minimise Σ_s v(s)   subject to   v(s) ≥ r(s, a) + γ Σ_s' P̃(s, a, s') v(s')   for every available (s, a)

whose unique solution is v* (any feasible v dominates v*, Puterman Theorem 6.9.1; with γ = 1 when a proper
policy is optimal and every loop costs, Bertsekas 2012, §3.2).  HiGHS (Huangfu & Hall 2018) solves it
to its feasibility tolerance (about 1e-9 relative); the greedy policy of the LP's values, with ties
within that tolerance broken by the tie rule, is then evaluated exactly (:func:`mdpgrad.evaluate`) and
certified as in :mod:`mdpgrad.control._bellman`.  An infeasible LP (values +∞: a loop that pays
forever) and an unbounded one are refused, naming why.

Identity checked by the tests: the LP's policy and values equal those of policy iteration.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from .._chains import masked_chain
from .._errors import ValidationError
from .._evaluation import evaluate
from .._linalg import Accuracy, SolverMethod
from .._model import MDP
from ._bellman import backup, choose_actions, one_hot, optimal_sets, policy_certificate, span_certificate
from ._iteration import finish
from ._solution import Solution

__all__ = ["LP_TIE_TOL", "linear_program"]

#: Relative width of the ties among the greedy actions of the LP's values: HiGHS's primal and dual
#: feasibility tolerances are 1e-7 by default, and its solutions meet them by a few orders of magnitude
#: more (1e-9 relative on the tests' models); gaps below 1e-8 × the size of q are ties of the LP's answer.
LP_TIE_TOL = 1e-8


def linear_program(mdp: MDP, *, solver: SolverMethod = "auto", accuracy: Accuracy = "refuse") -> Solution:
    """The LP of the module notes, then one exact evaluation of its greedy policy."""
    S, A = mdp.n_states, mdp.n_actions
    live = np.flatnonzero(~mdp.terminal)
    keep = (mdp.actions & ~mdp.terminal[:, None]).ravel()
    rows = np.flatnonzero(keep)
    P = sp.csr_array(masked_chain(mdp, mdp.P_flat)) if mdp.is_sparse else masked_chain(mdp, mdp.P_flat)
    G = sp.csr_array(P[rows][:, live]) if mdp.is_sparse else sp.csr_array(P[np.ix_(rows, live)])
    E = sp.csr_array((np.ones(rows.size), (np.arange(rows.size), np.searchsorted(live, rows // A))),
                     shape=(rows.size, live.size))
    A_ub = sp.csr_array(mdp.gamma * G - E)                     # γ P̃ v − v ≤ −r
    b_ub = -mdp.r.ravel()[rows]
    res = linprog(np.ones(live.size), A_ub=A_ub, b_ub=b_ub, bounds=(None, None), method="highs")
    if res.status == 2:
        raise ValidationError("the linear program is infeasible: no finite v satisfies v ≥ T v, so some "
                              "optimal value is +∞ (with gamma=1, a loop that pays forever)",
                              argument="mdp", value=res.message)
    if res.status != 0:
        raise ValidationError(f"HiGHS did not solve the linear program: {res.message}", argument="mdp",
                              value=int(res.status))
    v_lp = np.zeros(S)
    v_lp[live] = res.x
    q = backup(mdp, v_lp)
    scale = max(1.0, float(np.max(np.abs(q[np.isfinite(q)]), initial=0.0)))
    optimal, _ = optimal_sets(mdp, q, LP_TIE_TOL * scale / 2.0)
    index = choose_actions(mdp, optimal)
    ev = evaluate(mdp, one_hot(index, A), solver=solver, accuracy="ignore")    # v is judged by finish
    iterations = int(getattr(res, "nit", 0))
    lead = "HiGHS solved the LP; its greedy policy was evaluated exactly"
    if mdp.gamma < 1.0:
        w, bound, _, _ = span_certificate(mdp, ev.v)
        return finish(mdp, w, bound, "linear_program", iterations,
                      f"{lead}; span bound of one backup (MacQueen 1966)", accuracy)
    if ev.error is None:            # only complex tables come without one; a policy table never does
        raise ValidationError("the evaluation of the LP's policy has no error estimate", argument="mdp")
    bound = policy_certificate(mdp, ev.v, float(ev.error.v), float(ev.error.inverse_norm))
    return finish(mdp, np.array(ev.v), bound, "linear_program", iterations,
                  f"{lead}; v^π ≤ v* ≤ v^π + N·max(T v^π − v^π), N the expected episode length under π",
                  accuracy)
