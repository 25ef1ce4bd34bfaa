"""Exact policy evaluation on symbolic MDPs: v, q, advantage, η, d, μ and J.

The formulas of :func:`mdpgrad.evaluate` (Sutton & Barto 2018, §3.5 and §4.1;
Puterman 1994, §6.1), solved exactly in the field of rational functions::

    v = (I − γP̃^π)⁻¹ r^π,   q = r + γ P v,   adv = q − v
    ηᵀ = ρ̃₀ᵀ (I − γP̃^π)⁻¹,  d = η / Σ η,  μ(s, a) = d(s) π(a|s),  J = ρ₀ · v

P̃^π is P^π with terminal rows and columns zeroed: terminal states have
v = q = η = 0.  Every entry is a reduced quotient of polynomials in the model's
symbols (and exp-atoms of π), returned as immutable sympy matrices.

Identities checked by the tests: v = r^π + γP^π v exactly; J = ρ₀·v = Σ η π r;
Σ η = 1/(1−γ) without terminal states; the numbers agree with
:func:`mdpgrad.evaluate` on float copies of rational models (relative 1e-12).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy
from sympy import ImmutableMatrix
from sympy.polys.matrices import DomainMatrix
from sympy.polys.matrices.exceptions import DMNonInvertibleMatrixError

from .._errors import NonTerminatingPolicyError, ValidationError
from ._algebra import RationalSpace, dataclass_repr, show, space_for
from ._model import MDP, exact_matrix, validate_symbolic_mdp

__all__ = ["Evaluation", "evaluate", "stationary_distribution", "visit_counts"]


@dataclass(frozen=True)
class Evaluation:
    """Everything exact about one policy on one symbolic MDP.

    Attributes
    ----------
    pi : ImmutableMatrix, shape (S, A)
    P_pi : ImmutableMatrix, shape (S, S)
    r_pi, v, eta, d : ImmutableMatrix, shape (S, 1)
    q, advantage, mu : ImmutableMatrix, shape (S, A)
    J : sympy.Expr
    """

    pi: ImmutableMatrix
    P_pi: ImmutableMatrix
    r_pi: ImmutableMatrix
    v: ImmutableMatrix
    q: ImmutableMatrix
    advantage: ImmutableMatrix
    eta: ImmutableMatrix
    d: ImmutableMatrix
    mu: ImmutableMatrix
    J: sympy.Expr

    __repr__ = dataclass_repr

    def __str__(self) -> str:
        """One line: the size and J (or how many symbols J has, when it is long)."""
        S, A = self.q.shape
        J = show(self.J)
        if len(J) > 80:
            J = f"an expression in {len(self.J.free_symbols)} symbols (print .J)"
        return f"Evaluation: exact v, q, adv, η, d, μ of a policy on {S} states, {A} actions; J = {J}"

    def latex(self, name: str = "v") -> str:
        """LaTeX of one attribute, e.g. ``ev.latex("J")``."""
        return sympy.latex(getattr(self, name))


# -- the engine: field elements in nested lists ------------------------------------------------


@dataclass(frozen=True)
class FractionModel:
    """An MDP and a policy table lifted to a :class:`RationalSpace` (lists of field elements)."""

    space: RationalSpace
    P: list
    r: list
    gamma: Any
    rho0: list
    terminal: tuple
    pi: list

    @property
    def S(self) -> int:
        return len(self.r)

    @property
    def A(self) -> int:
        return len(self.r[0])


def lift(space: RationalSpace, mdp: MDP, pi: Any) -> FractionModel:
    """Convert the model and a (S, A) table of expressions into field elements."""
    S, A = validate_symbolic_mdp(mdp).n_states, mdp.n_actions
    K = space
    P = [[[K(mdp.P[s, a, t]) for t in range(S)] for a in range(A)] for s in range(S)]
    r = [[K(mdp.r[s, a]) for a in range(A)] for s in range(S)]
    pif = [[K(pi[s, a]) for a in range(A)] for s in range(S)]
    return FractionModel(K, P, r, K(mdp.gamma), [K(mdp.rho0[s]) for s in range(S)], mdp.terminal, pif)


def chain(F: FractionModel, pi: list | None = None) -> tuple[list, list]:
    """P^π and r^π as nested lists."""
    pi = F.pi if pi is None else pi
    S, A = F.S, F.A
    zero = F.space.field.zero
    P_pi = [[sum((pi[s][a] * F.P[s][a][t] for a in range(A)), zero) for t in range(S)] for s in range(S)]
    r_pi = [sum((pi[s][a] * F.r[s][a] for a in range(A)), zero) for s in range(S)]
    return P_pi, r_pi


def solve_both(F: FractionModel, P_pi: list, gamma: Any, rhs: list, rhs_t: list) -> tuple[list, list]:
    """x = M⁻¹ rhs and y = M⁻ᵀ rhs_t for M = I − γP̃^π (terminal rows/cols zeroed)."""
    S = F.S
    K = F.space.field
    keep = [not t for t in F.terminal]
    M = [[(K.one if s == t else K.zero) - (gamma * P_pi[s][t] if keep[s] and keep[t] else K.zero)
          for t in range(S)] for s in range(S)]
    dom = K.to_domain()
    Md = DomainMatrix(M, (S, S), dom)
    try:
        Minv = Md.inv()
    except (DMNonInvertibleMatrixError, ZeroDivisionError):
        raise NonTerminatingPolicyError(
            "I − γP^π is singular: with γ = 1 the policy does not reach a terminal state from every "
            "state, so the undiscounted values do not exist", argument="pi") from None
    b = DomainMatrix([[x if keep[s] else K.zero] for s, x in enumerate(rhs)], (S, 1), dom)
    c = DomainMatrix([[x if keep[s] else K.zero for s, x in enumerate(rhs_t)]], (1, S), dom)
    x = Minv * b
    y = c * Minv
    return ([x[i, 0].element if keep[i] else K.zero for i in range(S)],
            [y[0, i].element if keep[i] else K.zero for i in range(S)])


def evaluate_fractions(F: FractionModel, pi: list | None = None, *, gamma: Any = None) -> dict:
    """v, q, adv, η, J, P^π, r^π as nested lists of field elements."""
    pi = F.pi if pi is None else pi
    gamma = F.gamma if gamma is None else gamma
    S, A = F.S, F.A
    P_pi, r_pi = chain(F, pi)
    v, eta = solve_both(F, P_pi, gamma, r_pi, F.rho0)
    K = F.space.field
    q = [[K.zero if F.terminal[s] else
          F.r[s][a] + gamma * sum((F.P[s][a][t] * v[t] for t in range(S)), K.zero)
          for a in range(A)] for s in range(S)]
    adv = [[q[s][a] - v[s] for a in range(A)] for s in range(S)]
    J = sum((F.rho0[s] * v[s] for s in range(S)), K.zero)
    return dict(P_pi=P_pi, r_pi=r_pi, v=v, q=q, advantage=adv, eta=eta, J=J, pi=pi)


def stationary_fractions(F: FractionModel, P_pi: list) -> list:
    """d_π with d_πᵀ P^π = d_πᵀ, Σ d_π = 1: (I − P^π)ᵀ d = 0, last equation replaced by Σ d = 1."""
    S = len(P_pi)
    K = F.space.field
    rows = [[(K.one if s == t else K.zero) - P_pi[t][s] for t in range(S)] for s in range(S - 1)]
    rows.append([K.one] * S)
    dom = K.to_domain()
    try:
        sol = DomainMatrix(rows, (S, S), dom).inv() * DomainMatrix([[K.zero]] * (S - 1) + [[K.one]],
                                                                     (S, 1), dom)
    except (DMNonInvertibleMatrixError, ZeroDivisionError):
        raise ValidationError("P_pi has no unique stationary distribution (more than one recurrent class)",
                              argument="P_pi") from None
    return [sol[i, 0].element for i in range(S)]


# -- public API ---------------------------------------------------------------------------------


def validate_table(pi: Any, S: int, A: int, validate: bool,
                   actions: np.ndarray | None = None) -> ImmutableMatrix:
    """π as an exact (S, A) matrix; with ``validate`` its rows must sum to exactly 1, its entries be
    >= 0 where they are numbers, and (with ``actions``) the entries of unavailable actions exactly 0."""
    M = exact_matrix(pi, "pi", (S, A))
    if validate and actions is not None:
        for s, a in np.argwhere(~actions).tolist():
            if M[s, a] != 0:
                raise ValidationError(f"pi[{s}, {a}] is {show(M[s, a])}, but action {a} is unavailable in "
                                      f"state {s} (actions[{s}, {a}] is False); expected 0", argument="pi",
                                      index=(s, a), value=M[s, a])
    if validate:
        for s in range(S):
            total = sympy.cancel(sum(M.row(s)) - 1)
            if total != 0 and sympy.simplify(total) != 0:
                raise ValidationError(f"pi[{s}, :] sums to {show(sum(M.row(s)))}; expected exactly 1",
                                      argument="pi", index=(s,), value=sum(M.row(s)))
            for a in range(A):
                e = M[s, a]
                if e.is_number and e.is_negative:
                    raise ValidationError(f"pi[{s}, {a}] is {show(e)}; expected a probability >= 0",
                                          argument="pi", index=(s, a), value=e)
    return M


def model_exprs(mdp: MDP) -> list:
    """Every entry of the model, for building a space."""
    return list(mdp.P) + list(mdp.r) + [mdp.gamma] + list(mdp.rho0)


def _col(space: RationalSpace, xs: Sequence) -> ImmutableMatrix:
    return ImmutableMatrix(len(xs), 1, [space.to_expr(x) for x in xs])


def _table(space: RationalSpace, xs: list) -> ImmutableMatrix:
    return ImmutableMatrix(len(xs), len(xs[0]), [space.to_expr(x) for row in xs for x in row])


def evaluate(mdp: MDP, pi: Any, *, validate: bool = True) -> Evaluation:
    """Evaluate a table of expressions π exactly on a symbolic MDP.

    Parameters
    ----------
    mdp : MDP
        A :class:`mdpgrad.symbolic.MDP`.
    pi : Matrix or nested sequence, shape (S, A)
        Rows must sum to exactly 1 when ``validate``; entries may contain symbols
        and exp(...) (e.g. ``TabularSoftmax.probabilities(θ)``).
    validate : bool, optional

    Returns
    -------
    Evaluation

    Raises
    ------
    ValidationError
        For a malformed π.
    NonTerminatingPolicyError
        If γ = 1 and I − P̃^π is singular.

    Examples
    --------
    State 0 pays 1 and stays with probability p; state 1 is absorbing.

    >>> import sympy
    >>> from mdpgrad.symbolic import MDP, evaluate
    >>> p, g = sympy.symbols("p gamma")
    >>> mdp = MDP([[[p, 1 - p]], [[0, 1]]], [[1], [0]], g, rho0=[1, 0])
    >>> ev = evaluate(mdp, [[1], [1]])
    >>> sympy.factor(ev.v[0]), ev.J == ev.v[0]
    (-1/(gamma*p - 1), True)
    """
    S, A = validate_symbolic_mdp(mdp).n_states, mdp.n_actions
    table = validate_table(pi, S, A, validate, mdp.actions)
    space, _ = space_for(model_exprs(mdp) + list(table))
    F = lift(space, mdp, table)
    ev = evaluate_fractions(F)
    return to_evaluation(F, ev)


def to_evaluation(F: FractionModel, ev: dict) -> Evaluation:
    """Convert a field-level evaluation into the public immutable form."""
    K = F.space
    total = sum(ev["eta"], K.field.zero)
    d = [e / total for e in ev["eta"]]
    mu = [[d[s] * ev["pi"][s][a] for a in range(F.A)] for s in range(F.S)]
    return Evaluation(pi=_table(K, ev["pi"]), P_pi=_table(K, ev["P_pi"]), r_pi=_col(K, ev["r_pi"]),
                      v=_col(K, ev["v"]), q=_table(K, ev["q"]), advantage=_table(K, ev["advantage"]),
                      eta=_col(K, ev["eta"]), d=_col(K, d), mu=_table(K, mu), J=K.to_expr(ev["J"]))


def stationary_distribution(P_pi: Any) -> ImmutableMatrix:
    """The stationary distribution d_π of a state chain, exactly, shape (S, 1).

    Solves (I − P^π)ᵀ d = 0 with the last equation replaced by Σ d = 1
    (Stewart 1994, §2.3).

    Parameters
    ----------
    P_pi : Matrix, shape (S, S)
        A row-stochastic state chain (exact entries).

    Examples
    --------
    >>> import sympy
    >>> from mdpgrad.symbolic import stationary_distribution
    >>> a, b = sympy.symbols("a b")
    >>> list(stationary_distribution([[1 - a, a], [b, 1 - b]]))
    [b/(a + b), a/(a + b)]
    """
    M = exact_matrix(P_pi, "P_pi")
    S = M.shape[0]
    if M.shape != (S, S):
        raise ValidationError(f"P_pi has shape {M.shape}; expected a square matrix", argument="P_pi",
                              value=M.shape)
    space, _ = space_for(list(M))
    F = FractionModel(space, [], [], None, [], (False,) * S, [])
    rows = [[space(M[s, t]) for t in range(S)] for s in range(S)]
    return _col(space, stationary_fractions(F, rows))


def visit_counts(mdp: MDP, pi: Any, *, discounted: bool = True) -> ImmutableMatrix:
    """Expected visits before termination η(s) = Σ_t γᵗ Pr(s_t = s), shape (S, 1).

    With ``discounted=False`` the γᵗ are dropped (η̃ of an episodic MDP).

    Parameters
    ----------
    mdp : MDP
        A symbolic model.
    pi : Matrix, shape (S, A)
        Policy table (expressions).
    discounted : bool, optional
        η with γᵗ (True) or the undiscounted visits η̃.

    Examples
    --------
    >>> import sympy
    >>> from mdpgrad.symbolic import MDP, visit_counts
    >>> mdp = MDP([[[sympy.Rational(1, 2), sympy.Rational(1, 2)]], [[0, 1]]], [[1], [0]], 1,
    ...           rho0=[1, 0], terminal=[False, True])
    >>> list(visit_counts(mdp, [[1], [1]]))
    [2, 0]
    """
    S, A = validate_symbolic_mdp(mdp).n_states, mdp.n_actions
    table = validate_table(pi, S, A, True, mdp.actions)
    space, _ = space_for(model_exprs(mdp) + list(table))
    F = lift(space, mdp, table)
    gamma = F.gamma if discounted else space.field.one
    ev = evaluate_fractions(F, gamma=gamma)
    return _col(space, ev["eta"])
