"""The result of an optimal-control solve: v*, q*, every optimal action, a policy, and its certificate.

Nothing is computed here but the result's own summary; :mod:`mdpgrad.control._bellman` states the
bounds the fields carry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._display import compact_repr

__all__ = ["Solution"]


@dataclass(frozen=True, eq=False)
class Solution:
    """Optimal values, every optimal action and an optimal deterministic policy, with their certificate.

    Infinite horizon (``horizon`` is None): arrays are indexed by state (and action).  Finite horizon H:
    a leading time axis t = 0 … H − 1 (``v`` has H + 1 rows, v[H] = 0; v[t] is the optimal value with
    H − t steps to go).

    Attributes
    ----------
    v : ndarray, shape (S,) or (H + 1, S)
        Optimal state values, ‖v − v*‖∞ ≤ ``error_bound``.
    q : ndarray, shape (S, A) or (H, S, A)
        q = r + γ P v, −∞ at unavailable actions.
    optimal_actions : ndarray of bool, shape (S, A) or (H, S, A)
        Every action whose gap max_b q(s, b) − q(s, a) is at most ``tie_bound``: the gap of each truly
        optimal action is 0, so its computed gap is within ``tie_bound`` and it is never left out; every
        action left out is provably suboptimal.  Gaps in (0, ``tie_bound``] cannot be told from 0 at
        this accuracy: those actions are kept, and marked in ``undecided``.
    undecided : ndarray of bool, shape like ``optimal_actions``
        The optimal actions of the non-terminal states with more than one: each is optimal, or
        suboptimal by at most ``tie_bound``; floating point cannot decide exact ties
        (:func:`mdpgrad.symbolic.solve` does).
    policy : ndarray, shape (S, A) or (H, S, A)
        A deterministic table.  Tie rule: the lowest-index action among ``optimal_actions``; with
        γ = 1, when that choice never terminates (a zero-reward loop that ties with ending), the
        lowest-index optimal action that moves toward a terminal state (breadth-first from them).
    gap : ndarray, shape like ``q``
        max_b q(s, b) − q(s, a); +∞ at unavailable actions.
    method : str
        "policy_iteration", "value_iteration", "modified_policy_iteration", "linear_program" or
        "backward_induction".
    iterations : int
        Policy evaluations (policy iteration), backups (value iteration), improvement steps (modified
        policy iteration), simplex/IPM iterations (HiGHS) or stages (backward induction).
    error_bound : float
        Bound on ‖v − v*‖∞ (the max over time for a finite horizon).
    tie_bound : float or ndarray, shape (H,)
        2·(bound on ‖q − q*‖∞): the largest gap still counted as a tie.
    certificate : str
        How ``error_bound`` was obtained, in one sentence.
    horizon : int or None
    path : ndarray, shape (k, S), or None
        Policy iteration only: the values v^π of the k policies it evaluated, in order (the last is
        within ``error_bound`` of ``v``, which may carry the span bound's correction); None for the
        other methods.
    """

    v: np.ndarray
    q: np.ndarray
    optimal_actions: np.ndarray
    undecided: np.ndarray
    policy: np.ndarray
    gap: np.ndarray
    method: str
    iterations: int
    error_bound: float
    tie_bound: float | np.ndarray
    certificate: str
    horizon: int | None = None
    path: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("v", "q", "optimal_actions", "undecided", "policy", "gap"):
            getattr(self, name).flags.writeable = False
        if self.path is not None:
            self.path.flags.writeable = False
        if isinstance(self.tie_bound, np.ndarray):
            self.tie_bound.flags.writeable = False

    def __repr__(self) -> str:
        return compact_repr(self)

    def __str__(self) -> str:
        S, A = self.q.shape[-2:]
        ties = int(np.sum(np.any(self.undecided, axis=-1)))
        when = f"horizon {self.horizon}, " if self.horizon is not None else ""
        return (f"Solution: {self.method}, {when}{self.iterations} iteration(s), {S} states x {A} actions; "
                f"|v - v*| <= {self.error_bound:.2g}\n"
                f"{int(self.optimal_actions.sum())} optimal actions, {ties} state(s) with ties "
                f"(within {float(np.max(self.tie_bound)):.2g}); {self.certificate}")
