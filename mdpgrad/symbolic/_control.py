"""Exact optimal control: policy iteration in rationals, every tie decided exactly.

What it computes (Howard 1960; Puterman 1994, §6.4; Sutton & Barto 2018, §4.3)
-------------------------------------------------------------------------------
For a model whose entries are rational numbers: evaluate the deterministic policy π exactly,
v = (I − γP̃^π)⁻¹ r^π over the non-terminal states (a sparse LU over ℚ, sympy's ``DomainMatrix``), form
q = r + γ P v, and switch a state to the lowest-index maximiser of q only when it is strictly better than
the current action.  The values rise strictly, there are finitely many policies, and at the stop
v^π = v* exactly (Puterman Theorem 6.4.2).  Then the optimal actions of s are exactly those with
q*(s, a) = max_b q*(s, b), compared as rationals: no tolerance anywhere.

γ = 1 (terminal states): the start is a proper policy (breadth-first from the terminal states when the
one-step greedy policy loops), and an improvement that reaches a policy that never terminates is refused:
an endless loop then earns at least as much as ending.

Identity checked by the tests: the Gambler's problem (Sutton & Barto 2018, Example 4.3) with p_h = 2/5 has
v*(25) = 4/25, v*(50) = 2/5, v*(75) = 16/25, and every float method's optimal action sets equal these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy
from sympy import ImmutableMatrix
from sympy.polys.domains import QQ
from sympy.polys.matrices import DomainMatrix
from sympy.polys.matrices.exceptions import DMNonInvertibleMatrixError

from .._errors import NonTerminatingPolicyError, ValidationError
from .._validation import check_integer
from ._algebra import dataclass_repr
from ._model import MDP, row_entries, validate_symbolic_mdp

__all__ = ["Solution", "solve"]


@dataclass(frozen=True)
class Solution:
    """The exact optimal values, q*, every optimal action and the tie-rule policy of a rational MDP.

    Attributes
    ----------
    v : ImmutableMatrix, shape (S, 1)
        v*, exactly.
    q : ImmutableMatrix, shape (S, A)
        q* = r + γ P v*; −∞ (``-sympy.oo``) at unavailable actions.
    optimal_actions : tuple of tuples of bool, shape (S, A)
        q*(s, a) = max_b q*(s, b), decided in rationals.
    policy : ImmutableMatrix, shape (S, A)
        Deterministic: the lowest-index optimal action; with γ = 1, when that choice never terminates,
        the lowest-index optimal action that moves toward a terminal state (breadth-first from them).
    method : str
        "policy_iteration".
    iterations : int
        Exact policy evaluations.
    error_bound : sympy.Integer
        0: the values are exact.
    """

    v: ImmutableMatrix
    q: ImmutableMatrix
    optimal_actions: tuple[tuple[bool, ...], ...]
    policy: ImmutableMatrix
    method: str
    iterations: int
    error_bound: sympy.Integer

    __repr__ = dataclass_repr

    def __str__(self) -> str:
        S, A = self.q.shape
        ties = sum(1 for row in self.optimal_actions if sum(row) > 1)
        return (f"Solution: exact {self.method}, {self.iterations} iteration(s), {S} states x {A} actions; "
                f"{sum(map(sum, self.optimal_actions))} optimal actions, {ties} state(s) with exact ties")


class _Model:
    """The MDP's numbers as elements of ℚ, by rows: P[(s, a)] = {s': p}."""

    def __init__(self, mdp: MDP) -> None:
        self.S, self.A = mdp.n_states, mdp.n_actions
        rational = sympy.Rational
        self.P = {k: {t: QQ(rational(p).p, rational(p).q) for t, p in row.items()}
                  for k, row in row_entries(mdp.P, self.S, self.A).items()}
        self.r = [[QQ(rational(mdp.r[s, a]).p, rational(mdp.r[s, a]).q) for a in range(self.A)]
                  for s in range(self.S)]
        g = rational(mdp.gamma)
        self.gamma = QQ(g.p, g.q)
        self.undiscounted = g == 1
        self.terminal = mdp.terminal
        self.actions = mdp.actions
        self.live = [s for s in range(self.S) if not self.terminal[s]]

    def evaluate(self, index: list[int]) -> list[Any]:
        """v^π exactly (0 at terminal states); raises when I − γP̃^π is singular (π never terminates)."""
        pos = {s: i for i, s in enumerate(self.live)}
        n = len(self.live)
        rows: dict[int, dict[int, Any]] = {}
        for i, s in enumerate(self.live):
            row = {i: QQ(1)}
            for t, p in self.P.get((s, index[s]), {}).items():
                if t in pos:
                    row[pos[t]] = row.get(pos[t], QQ(0)) - self.gamma * p
            rows[i] = {j: x for j, x in row.items() if x}
        for i, s in enumerate(self.live):
            if self.r[s][index[s]]:
                rows[i][n] = self.r[s][index[s]]
        # [M | b] reduced by sparse Gauss–Jordan elimination: the few successors per state keep it sparse
        R, pivots = DomainMatrix(rows, (n, n + 1), QQ).rref()
        if len(pivots) < n or (pivots and pivots[-1] == n):
            raise DMNonInvertibleMatrixError("I − γP̃^π is singular")
        v = [QQ(0)] * self.S
        for (i, j), val in R.to_dok().items():
            if j == n:
                v[self.live[i]] = val
        return v

    def backup(self, v: list[Any]) -> list[list[Any]]:
        """q = r + γ P v (None at unavailable actions, 0 at terminal states)."""
        q: list[list[Any]] = []
        for s in range(self.S):
            row: list[Any] = []
            for a in range(self.A):
                if not self.actions[s][a]:
                    row.append(None)
                elif self.terminal[s]:
                    row.append(QQ(0))
                else:
                    succ = self.P.get((s, a), {})
                    row.append(self.r[s][a] + self.gamma * sum((p * v[t] for t, p in succ.items()), QQ(0)))
            q.append(row)
        return q

    def proper(self, allowed: list[list[bool]]) -> list[int] | None:
        """Breadth-first from the terminal states over ``allowed`` actions; None if some state is stuck."""
        reached = list(self.terminal)
        choice = [row.index(True) for row in allowed]
        changed = True
        while changed:
            changed = False
            new = []
            for s in range(self.S):
                if reached[s]:
                    continue
                for a in range(self.A):
                    if allowed[s][a] and any(reached[t] and p for t, p in self.P.get((s, a), {}).items()):
                        choice[s] = a
                        new.append(s)
                        break
            for s in new:
                reached[s] = changed = True
        return choice if all(reached) else None

    def terminates(self, index: list[int]) -> bool:
        allowed = [[a == index[s] for a in range(self.A)] for s in range(self.S)]
        return self.proper(allowed) is not None


def _best(row: list[Any]) -> Any:
    return max(x for x in row if x is not None)


def solve(mdp: MDP, *, max_iter: int = 10_000) -> Solution:
    """Exact v*, q*, every optimal action and the tie-rule policy, by policy iteration in rationals.

    Parameters
    ----------
    mdp : symbolic MDP
        Rational entries only (substitute values for symbols first with ``mdp.subs``).
    max_iter : int, optional
        Largest number of exact evaluations (default 10,000).

    Returns
    -------
    Solution

    Raises
    ------
    ValidationError
        If the model has free symbols, or policy iteration does not stop within ``max_iter``.
    NonTerminatingPolicyError
        With γ = 1, when some state reaches no terminal state under any action, or an improvement reaches
        a policy that never terminates.

    Examples
    --------
    Staying in state 0 pays 1 per step; leaving pays 2 once; with γ = 1/2 both are worth 2 exactly.

    >>> import sympy
    >>> from mdpgrad import symbolic as sy
    >>> half = sympy.Rational(1, 2)
    >>> mdp = sy.MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[1, 2], [0, 0]], half)
    >>> sol = sy.solve(mdp)
    >>> list(sol.v), sol.optimal_actions[0], sol.policy.row(0)
    ([2, 0], (True, True), Matrix([[1, 0]]))
    """
    mdp = validate_symbolic_mdp(mdp)
    max_iter = check_integer(max_iter, "max_iter", min_value=1)
    if mdp.free_symbols:
        names = sorted(map(str, mdp.free_symbols))
        raise ValidationError(f"the model has free symbols {names}; exact policy iteration compares numbers: "
                              "substitute rational values first with mdp.subs()", argument="mdp", value=names)
    F = _Model(mdp)
    q0 = F.backup([QQ(0)] * F.S)
    index = [row.index(_best(row)) for row in q0]
    if F.undiscounted and not F.terminates(index):
        start = F.proper([list(row) for row in F.actions])
        if start is None:
            raise NonTerminatingPolicyError("gamma=1 but some state reaches no terminal state under any "
                                            "action: the undiscounted optimal values do not exist",
                                            argument="mdp", value=None)
        index = start
    k = 0
    while True:
        k += 1
        try:
            v = F.evaluate(index)
        except (DMNonInvertibleMatrixError, ZeroDivisionError):
            raise NonTerminatingPolicyError(
                f"gamma=1 and improvement step {k - 1} chose a policy that never terminates: an endless loop "
                "earns at least as much as ending, so the optimal values are infinite or attained only by "
                "never terminating", argument="mdp", value=k - 1) from None
        q = F.backup(v)
        changed = False
        for s in range(F.S):
            best = _best(q[s])
            if best > q[s][index[s]]:
                index[s] = q[s].index(best)
                changed = True
        if not changed:
            break
        if k >= max_iter:
            raise ValidationError(f"policy iteration did not stop within max_iter={max_iter} evaluations",
                                  argument="max_iter", value=max_iter)
    optimal = [[x is not None and x == _best(row) for x in row] for row in q]
    choice = [row.index(True) for row in optimal]
    if F.undiscounted and not F.terminates(choice):
        choice = F.proper(optimal) or index
    to_expr = QQ.to_sympy
    return Solution(
        v=ImmutableMatrix(F.S, 1, [to_expr(x) for x in v]),
        q=ImmutableMatrix(F.S, F.A, [-sympy.oo if x is None else to_expr(x) for row in q for x in row]),
        optimal_actions=tuple(tuple(row) for row in optimal),
        policy=ImmutableMatrix(F.S, F.A, [int(a == choice[s]) for s in range(F.S) for a in range(F.A)]),
        method="policy_iteration", iterations=k, error_bound=sympy.Integer(0))
