"""``solve``: optimal values, every optimal action and an optimal policy, by the caller's method.

One public entry point over :mod:`mdpgrad.control._iteration`, :mod:`mdpgrad.control._linear_program` and
:mod:`mdpgrad.control._finite`; arguments are validated here, once.

Identity checked by the tests: every method gives the same v* (within the sum of their error bounds), the
same optimal action sets and the same policy.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from .._errors import ValidationError
from .._linalg import Accuracy, SolverMethod, validate_accuracy, validate_solver_method
from .._model import MDP, validate_mdp
from .._validation import as_real_array, check_choice, check_integer, check_real, first_index, format_number
from ._finite import backward_induction
from ._iteration import modified_policy_iteration, policy_iteration, value_iteration
from ._linear_program import linear_program
from ._solution import Solution

__all__ = ["DEFAULT_SWEEPS", "DEFAULT_TOL", "METHODS", "Method", "solve"]

Method = Literal["policy_iteration", "value_iteration", "modified_policy_iteration", "linear_program"]
METHODS: tuple[Method, ...] = ("policy_iteration", "value_iteration", "modified_policy_iteration",
                            "linear_program")

#: Default bound on ‖v − v*‖∞ for the iterative methods: six orders of magnitude above the rounding of a
#: backup of values of order 1 (≈ 1e-16 × the row length), so the span bound can reach it for γ up to
#: about 0.999, and below the 1e-9 at which results are compared with other toolboxes.
DEFAULT_TOL = 1e-10

#: Evaluation sweeps per improvement in modified policy iteration (Puterman 1994, §6.5 uses 5–20).
DEFAULT_SWEEPS = 10


def solve(mdp: MDP, method: Method = "policy_iteration", *, tol: float = DEFAULT_TOL,
          horizon: int | None = None, max_iter: int | None = None, sweeps: int = DEFAULT_SWEEPS,
          solver: SolverMethod = "auto", accuracy: Accuracy = "refuse", start: Any = None) -> Solution:
    """Solve an MDP for v*, q*, every optimal action and an optimal deterministic policy, certified.

    ``v*(s) = max_a [r(s, a) + γ Σ_s' P(s'|s, a) v*(s')]`` (Bellman 1957; Sutton & Barto 2018, §3.6 and
    chapter 4; Puterman 1994, chapter 6).  Unavailable actions (``mdp.actions``) are never considered.

    Parameters
    ----------
    mdp : MDP
    method : {"policy_iteration", "value_iteration", "modified_policy_iteration", "linear_program"}
        Policy iteration (exact evaluations; ``solver`` picks dense LU, sparse LU or Krylov), value
        iteration with the span-bound stop, modified policy iteration, or the LP through scipy's HiGHS.
        Ignored when ``horizon`` is given (backward induction).
    tol : float, optional
        Value and modified policy iteration stop once ‖v − v*‖∞ ≤ tol is certified (default 1e-10,
        absolute); with γ = 1 they stop at ‖T v − v‖∞ ≤ tol and finish by policy iteration.
    horizon : int, optional
        Solve the H-step problem instead (time-dependent policy; any γ in [0, 1]).
    max_iter : int, optional
        Largest number of evaluations (policy iteration, default 10,000) or backups (default 100,000).
    sweeps : int, optional
        Evaluation sweeps per improvement step of modified policy iteration (default 10).
    solver : {"auto", "lu", "refined", "splu", "krylov"}
        How each exact evaluation is solved (:func:`mdpgrad.evaluate`).
    accuracy : {"refuse", "warn", "ignore"}
        Passed to each exact evaluation.
    start : array_like, optional
        Policy iteration only: the first policy to evaluate, an available action per state (ints,
        shape (S,)) or a deterministic table (shape (S, A)).  Default: the one-step greedy policy
        (with γ = 1 a terminating one).  ``Solution.path`` then holds the values of every policy
        visited from it (Sutton & Barto 2018, §4.3).

    Returns
    -------
    Solution
        ``v`` (S,), ``q`` (S, A), ``optimal_actions`` (S, A), ``policy`` (S, A) and the certified
        ``error_bound``; with a horizon H, time-indexed: (H + 1, S), (H, S, A), (H, S, A), (H, S, A).

    Raises
    ------
    ValidationError
        On a bad argument; if ``tol`` is below what rounding allows; if an iteration does not stop within
        ``max_iter``; if the LP is infeasible (some value +∞).
    NonTerminatingPolicyError
        With γ = 1, when some state cannot reach a terminal state under any action, or when an
        improvement reaches a policy that never terminates (v* infinite, or attained only by looping).

    Examples
    --------
    State 0 may stay (reward 1) or move to the absorbing state 1 (reward 2); staying is worth 1/(1 − γ) = 2.

    >>> import numpy as np
    >>> import mdpgrad as mg
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = mg.MDP(P, [[1.0, 2.0], [0.0, 0.0]], gamma=0.5)
    >>> sol = mg.solve(mdp)
    >>> sol.v.round(12).tolist(), sol.optimal_actions.tolist()
    ([2.0, 0.0], [[True, True], [True, True]])
    >>> sol.policy.tolist()          # the tie at state 0: the lowest index
    [[1.0, 0.0], [1.0, 0.0]]
    """
    mdp = validate_mdp(mdp)
    method = check_choice(method, "method", METHODS)
    tol = check_real(tol, "tol", min_value=0.0, min_open=True)
    sweeps = check_integer(sweeps, "sweeps", min_value=1)
    solver = validate_solver_method(solver, sparse=mdp.is_sparse)
    accuracy = validate_accuracy(accuracy)
    if horizon is not None and start is None:
        return backward_induction(mdp, check_integer(horizon, "horizon", min_value=1))
    limit: Any = max_iter
    if start is not None and (method != "policy_iteration" or horizon is not None):
        raise ValidationError(f"start is given but method is {method!r}"
                              + (" with a horizon" if horizon is not None else "")
                              + "; only policy iteration starts from a policy", argument="start")
    if method == "policy_iteration":
        n = 10_000 if limit is None else check_integer(limit, "max_iter", min_value=1)
        return policy_iteration(mdp, solver=solver, max_iter=n, accuracy=accuracy,
                                start=None if start is None else _start_actions(mdp, start))
    if method == "linear_program":
        return linear_program(mdp, solver=solver, accuracy=accuracy)
    n = 100_000 if limit is None else check_integer(limit, "max_iter", min_value=1)
    if method == "value_iteration":
        return value_iteration(mdp, tol=tol, max_iter=n, solver=solver, accuracy=accuracy)
    return modified_policy_iteration(mdp, tol=tol, max_iter=n, sweeps=sweeps, solver=solver,
                                     accuracy=accuracy)


def _start_actions(mdp: MDP, start: Any) -> np.ndarray:
    """An available action per state from ``start`` (ints (S,) or a deterministic (S, A) table)."""
    S, A = mdp.n_states, mdp.n_actions
    arr = as_real_array(start, "start")
    if arr.shape == (S, A):
        rows = first_index(~np.all((arr == 0.0) | (arr == 1.0), axis=1) | (arr.sum(axis=1) != 1.0))
        if rows is not None:
            s = rows[0]
            raise ValidationError(f"start[{s}, :] is {arr[s].tolist()}; expected a deterministic row "
                                  "(one 1, zeros elsewhere)", argument="start", index=(s,),
                                  value=arr[s].tolist())
        index = np.argmax(arr, axis=1)
    elif arr.shape == (S,):
        bad = first_index((arr != np.round(arr)) | (arr < 0) | (arr >= A))
        if bad is not None:
            raise ValidationError(f"start[{bad[0]}] is {format_number(arr[bad])}; expected an action index "
                                  f"in 0..{A - 1}", argument="start", index=bad, value=float(arr[bad]))
        index = arr.astype(np.intp)
    else:
        raise ValidationError(f"start has shape {arr.shape}; expected ({S},) action indices or a ({S}, {A}) "
                              "deterministic table", argument="start", value=arr.shape)
    unavailable = first_index(~mdp.actions[np.arange(S), index])
    if unavailable is not None:
        s = unavailable[0]
        raise ValidationError(f"start chooses action {int(index[s])} in state {s}, which is unavailable "
                              f"there (mdp.actions[{s}, {int(index[s])}] is False)", argument="start",
                              index=(s, int(index[s])), value=int(index[s]))
    return index
