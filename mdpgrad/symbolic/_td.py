"""The footnote, symbolically: the TD update, its Jacobian, and when it is symmetric.

With Q's entries as symbols the TD(0) expected update (Sutton & Barto 2018,
§6.4 and §9.3) is ::

    u(Q) = D (r + γ P Π Q − Q),     ∂u/∂Q = D (γ P Π − I)

so ∂u(x)/∂Q(y) = D_x γ P(s_y|s_x, a_x) π(a_y|s_y) for x ≠ y.  As in
:mod:`mdpgrad.td`, terminal states bootstrap zero (P̃: their rows and columns
of P are dropped from the target).  A continuously
differentiable field is a gradient only if its Jacobian is symmetric, which
here is detailed balance of the state-action chain PΠ for the weighting D:
D_x P(s_y|x) π(a_y|s_y) = D_y P(s_x|y) π(a_x|s_x) (Ollivier 2018).  The
Jacobian is computed by sympy differentiation of u, and
:func:`~mdpgrad.fields.symmetry_verdict` decides each mirror pair exactly, returning the
asymmetric pair as expressions and the symmetry conditions as sympy ``Eq``.

Identity checked by the tests: ``td_jacobian`` (by differentiation) equals
D(γPΠ − I) built from the formula, and its numbers equal the numeric ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy
from sympy import ImmutableMatrix

from .._errors import ValidationError
from .._validation import check_integer
from ._algebra import (
    as_expression,
    dataclass_repr,
    find_nonzero_point,
    show,
    small_positive_sampler,
    space_for,
)
from ._evaluation import model_exprs, validate_table
from ._model import MDP, check_symbolic_size, exact, exact_matrix, indexed_name, validate_symbolic_mdp

__all__ = [
    "SymmetryVerdict",
    "detailed_balance_conditions",
    "q_symbols",
    "symmetry_verdict",
    "td_jacobian",
    "td_jacobian_v",
    "td_update",
    "td_update_v",
]


def q_symbols(n_states: int, n_actions: int, name: str = "Q") -> ImmutableMatrix:
    """Q as symbols ``{name}{s}{a}``, shape (S, A).

    Parameters
    ----------
    n_states, n_actions : int
        S and A.
    name : str, optional
        The prefix of the symbols.

    Examples
    --------
    >>> from mdpgrad.symbolic import q_symbols
    >>> q_symbols(1, 2)
    Matrix([[Q00, Q01]])
    """
    n_states = check_integer(n_states, "n_states", min_value=1)
    n_actions = check_integer(n_actions, "n_actions", min_value=1)
    check_symbolic_size(n_states * n_actions, "the table of Q symbols", "n_states")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValidationError(f"name is {name!r}; expected an identifier", argument="name", value=name)
    return ImmutableMatrix(n_states, n_actions,
                           lambda s, a: sympy.Symbol(indexed_name(name, (s, a), (n_states, n_actions))))


def _diag(D: Any, n: int, mask: np.ndarray | None = None) -> list:
    """The diagonal of D; None or "identity" is 1, except 0 on the unavailable pairs ``mask`` marks."""
    if D is None or (isinstance(D, str) and D == "identity"):
        if mask is not None:
            return [sympy.Integer(int(x)) for x in mask.ravel()]
        return [sympy.Integer(1)] * n
    if isinstance(D, str):
        raise ValidationError(f"D is {D!r}; expected None, 'identity' or {n} diagonal entries",
                              argument="D", value=D)
    if isinstance(D, sympy.MatrixBase) and D.shape == (n, n):
        vals = [D[i, i] for i in range(n)]
    else:
        vals = list(D) if not isinstance(D, sympy.MatrixBase) else list(D)
    if len(vals) != n:
        raise ValidationError(f"D has {len(vals)} diagonal entries; expected {n}", argument="D",
                              value=len(vals))
    out = [exact(v, "D", (i,)) for i, v in enumerate(vals)]
    for i, v in enumerate(out):
        if v.is_number and v.is_negative:
            raise ValidationError(f"D[{i}] is {show(v)}; a weighting must be >= 0", argument="D", index=(i,),
                                  value=v)
    return out


def _values(X: Any, shape: tuple[int, int], name: str) -> ImmutableMatrix:
    return exact_matrix(X, name, shape)


def _refuse_clash(default: ImmutableMatrix, argument: str, *sources: tuple[str, Any]) -> None:
    """Default value symbols (Q00, V0, ...) must not be named like a symbol of the model, π or D:
    sympy would merge the two and u(Q) would silently lose a term."""
    mine = {str(x) for x in default.free_symbols}
    for where, exprs in sources:
        for e in exprs:
            taken = sorted(str(x) for x in as_expression(e).free_symbols if str(x) in mine)
            if taken:
                raise ValidationError(f"the {where} uses the symbol {taken[0]}, a name of the default "
                                      f"{argument} symbols; pass {argument}= explicitly with other symbols "
                                      "(or rename the model's symbol)", argument=argument, value=taken[0])


def td_update(mdp: MDP, pi: Any, Q: Any = None, *, D: Any = None, validate: bool = True) -> ImmutableMatrix:
    """u(Q) = D (r + γ P Π Q − Q) as an (S, A) matrix of expressions.

    Parameters
    ----------
    mdp : MDP
    pi : Matrix, shape (S, A)
        Policy table (expressions; rows sum to 1 when ``validate``).
    Q : Matrix, shape (S, A), optional
        Default: the symbols of :func:`q_symbols`.
    D : None, "identity", or sequence of S·A expressions
        Diagonal of the weighting, indexed x = s·A + a.
    validate : bool, optional
        Check the model and π (stochastic rows) first.

    Examples
    --------
    >>> import sympy
    >>> from mdpgrad.symbolic import MDP, td_update
    >>> g = sympy.Symbol("gamma")
    >>> mdp = MDP([[[0, 1]], [[1, 0]]], [[1], [0]], g)
    >>> td_update(mdp, [[1], [1]])
    Matrix([
    [-Q00 + Q10*gamma + 1],
    [     Q00*gamma - Q10]])
    """
    S, A = validate_symbolic_mdp(mdp).n_states, mdp.n_actions
    table = validate_table(pi, S, A, validate, mdp.actions)
    Qm = q_symbols(S, A) if Q is None else _values(Q, (S, A), "Q")
    d = _diag(D, S * A, mdp.actions)
    if Q is None:
        _refuse_clash(Qm, "Q", ("model", model_exprs(mdp)), ("policy", list(table)), ("weighting D", d))
    keep = [0 if t else 1 for t in mdp.terminal]
    Vn = [keep[t] * sum(table[t, b] * Qm[t, b] for b in range(A)) for t in range(S)]
    return ImmutableMatrix(S, A, lambda s, a: d[s * A + a] * (
        mdp.r[s, a] + keep[s] * mdp.gamma * sum(mdp.P[s, a, t] * Vn[t] for t in range(S)) - Qm[s, a]))


def td_jacobian(mdp: MDP, pi: Any, *, D: Any = None, validate: bool = True) -> ImmutableMatrix:
    """∂u/∂Q = D (γ P Π − I), shape (S·A, S·A), by sympy differentiation of :func:`td_update`.

    Parameters
    ----------
    mdp : MDP
        A symbolic model.
    pi : Matrix, shape (S, A)
        Policy table (expressions; rows sum to 1 when ``validate``).
    D : None, "identity", or sequence of S·A expressions
        Diagonal of the weighting, indexed x = s·A + a.
    validate : bool, optional
        Check the model and π (stochastic rows) first.

    Examples
    --------
    >>> import sympy
    >>> from mdpgrad.symbolic import MDP, td_jacobian
    >>> g = sympy.Symbol("gamma")
    >>> mdp = MDP([[[0, 1]], [[1, 0]]], [[1], [0]], g)
    >>> td_jacobian(mdp, [[1], [1]])
    Matrix([
    [   -1, gamma],
    [gamma,    -1]])
    """
    S, A = validate_symbolic_mdp(mdp).n_states, mdp.n_actions
    Q = ImmutableMatrix(S, A, lambda s, a: sympy.Dummy(f"Q{s}{a}"))
    u = td_update(mdp, pi, Q, D=D, validate=validate)
    return ImmutableMatrix(u.reshape(S * A, 1).jacobian(list(Q)))


def td_update_v(mdp: MDP, pi: Any, v: Any = None, *, D: Any = None, validate: bool = True) -> ImmutableMatrix:
    """u(v) = D (r^π + γ P^π v − v) for state values, shape (S, 1); v defaults to symbols ``V{s}``.

    Parameters
    ----------
    mdp : MDP
        A symbolic model.
    pi : Matrix, shape (S, A)
        Policy table (expressions; rows sum to 1 when ``validate``).
    v : Matrix, shape (S, 1), optional
        Default: the symbols ``V{s}``.
    D : None, "identity", or sequence of S expressions
        Diagonal of the weighting over states.
    validate : bool, optional
        Check the model and π (stochastic rows) first.

    Examples
    --------
    >>> import sympy
    >>> from mdpgrad.symbolic import MDP, td_update_v
    >>> g = sympy.Symbol("gamma")
    >>> td_update_v(MDP([[[0, 1]], [[1, 0]]], [[1], [0]], g), [[1], [1]])
    Matrix([
    [-V0 + V1*gamma + 1],
    [     V0*gamma - V1]])
    """
    S, A = validate_symbolic_mdp(mdp).n_states, mdp.n_actions
    table = validate_table(pi, S, A, validate, mdp.actions)
    if v is None:
        Vm = ImmutableMatrix(S, 1, lambda s, _: sympy.Symbol(f"V{s}"))
    else:
        Vm = _values(v, (S, 1), "v")
    d = _diag(D, S)
    if v is None:
        _refuse_clash(Vm, "v", ("model", model_exprs(mdp)), ("policy", list(table)), ("weighting D", d))
    P_pi = [[sum(table[s, a] * mdp.P[s, a, t] for a in range(A)) for t in range(S)] for s in range(S)]
    r_pi = [sum(table[s, a] * mdp.r[s, a] for a in range(A)) for s in range(S)]
    keep = [0 if t else 1 for t in mdp.terminal]
    return ImmutableMatrix(S, 1, lambda s, _: d[s] * (
        r_pi[s] + keep[s] * mdp.gamma * sum(P_pi[s][t] * keep[t] * Vm[t] for t in range(S)) - Vm[s]))


def td_jacobian_v(mdp: MDP, pi: Any, *, D: Any = None, validate: bool = True) -> ImmutableMatrix:
    """∂u/∂v = D (γ P^π − I), shape (S, S), by sympy differentiation of :func:`td_update_v`.

    Sutton & Barto 2018, §9.4 (the TD fixed point's matrix).

    Parameters
    ----------
    mdp : MDP
        A symbolic model.
    pi : Matrix, shape (S, A)
        Policy table (expressions; rows sum to 1 when ``validate``).
    D : None, "identity", or sequence of S expressions
        Diagonal of the weighting over states.
    validate : bool, optional
        Check the model and π (stochastic rows) first.

    Examples
    --------
    >>> import sympy
    >>> from mdpgrad.symbolic import MDP, td_jacobian_v
    >>> p, g = sympy.symbols("p gamma")
    >>> td_jacobian_v(MDP([[[p, 1 - p]], [[1, 0]]], [[1], [0]], g), [[1], [1]])
    Matrix([
    [gamma*p - 1, gamma*(1 - p)],
    [      gamma,            -1]])
    """
    S = validate_symbolic_mdp(mdp).n_states
    V = ImmutableMatrix(S, 1, lambda s, _: sympy.Dummy(f"V{s}"))
    u = td_update_v(mdp, pi, V, D=D, validate=validate)
    return ImmutableMatrix(u.jacobian(list(V)))


@dataclass(frozen=True)
class SymmetryVerdict:
    """Exact verdict on the symmetry of a matrix of expressions.

    Attributes
    ----------
    holds : bool
        True when M[i, j] − M[j, i] cancels to zero for every pair (for all values
        of the symbols).
    witness : tuple (i, j) or None
        The pair with the largest ``|M[i, j] − M[j, i]|`` at ``point``.
    witness_pairs : ((s, a), (s', a')) or None
        ``witness`` decoded as state-action pairs when ``n_actions`` is given.
    entry, mirror : Expr or None
        M[i, j] and M[j, i] at the witness, as expressions.
    conditions : tuple of sympy.Eq
        Eq(M[i, j], M[j, i]) for every pair i < j that is not identically equal:
        M is symmetric exactly where all of them hold.
    point : dict or None
        Exact values of the symbols where every listed pair differs.
    max_asymmetry : Rational or None
        ``|M[i, j] − M[j, i]|`` at the witness and ``point``.
    """

    holds: bool
    witness: tuple[int, int] | None
    witness_pairs: tuple | None
    entry: sympy.Expr | None
    mirror: sympy.Expr | None
    conditions: tuple
    point: dict | None
    max_asymmetry: sympy.Expr | None

    __repr__ = dataclass_repr

    def __str__(self) -> str:
        """One line when symmetric, two when not; the verdict comes first."""
        if self.holds or self.witness is None:
            return "SymmetryVerdict: symmetric — M[i, j] = M[j, i] for all values of the symbols"
        i, j = self.witness
        pt = ", ".join(f"{show(k)} = {show(v)}" for k, v in (self.point or {}).items()) or "every point"
        n = len(self.conditions)
        return (f"SymmetryVerdict: NOT symmetric — M[{i}, {j}] = {show(self.entry)} but M[{j}, {i}] = "
                f"{show(self.mirror)} ({n} pair{'s' if n != 1 else ''} differ)\n"
                f"  they differ by {show(self.max_asymmetry)} at {pt}")

    def latex(self) -> str:
        """LaTeX of the witness pair (or 'symmetric')."""
        if self.holds or self.witness is None:
            return r"\text{symmetric}"
        i, j = self.witness
        return (rf"M_{{{i},{j}}} = {sympy.latex(self.entry)} \neq M_{{{j},{i}}} = "
                rf"{sympy.latex(self.mirror)}")


def symmetry_verdict(M: Any, *, n_actions: int | None = None,
                     rng: int | random.Random = 0) -> SymmetryVerdict:
    """Decide exactly whether a square matrix of expressions is symmetric.

    Each mirror difference is reduced in the field of rational functions (exp-atoms
    written as positive symbols); the non-zero ones become ``Eq`` conditions and a
    random exact point where all of them are non-zero picks the witness.  Symbols
    are drawn in (0, 1/(n+1)) so that transition rows stay probabilities.

    Parameters
    ----------
    M : Matrix, shape (n, n)
    n_actions : int, optional
        Decode indices x = s·A + a into state-action pairs.
    rng : int or random.Random
        Source of the random exact points (an int seeds one).

    Examples
    --------
    >>> import sympy
    >>> from mdpgrad.symbolic import symmetry_verdict
    >>> a, b = sympy.symbols("a b")
    >>> symmetry_verdict(sympy.Matrix([[0, a], [b, 0]])).conditions
    (Eq(a, b),)
    >>> symmetry_verdict(sympy.Matrix([[0, a], [a, 0]])).holds
    True
    """
    Mm = exact_matrix(M, "M")
    n = Mm.shape[0]
    if Mm.shape != (n, n):
        raise ValidationError(f"M has shape {Mm.shape}; expected a square matrix", argument="M",
                              value=Mm.shape)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    entries = [Mm[i, j] for i, j in pairs] + [Mm[j, i] for i, j in pairs]
    free = sorted(set().union(*[e.free_symbols for e in entries]), key=sympy.default_sort_key)
    space, exprs = space_for(entries, sampler=small_positive_sampler(free, n))
    m = len(pairs)
    diffs = [(pairs[k], space(exprs[k]) - space(exprs[m + k])) for k in range(m)]
    live = [(p, d) for p, d in diffs if d != 0]
    if not live:
        return SymmetryVerdict(True, None, None, None, None, (), None, None)
    product = space.field.one
    for _, d in live:
        product *= d
    cex = find_nonzero_point(space, product, rng=rng)
    values = [(abs(space.evaluate_defined(d, cex.raw)), p) for p, d in live]
    best, (i, j) = max(values, key=lambda t: t[0])
    conditions = tuple(sympy.Eq(Mm[p], Mm[p[::-1]], evaluate=False) for p, _ in live)
    wp = ((divmod(i, n_actions), divmod(j, n_actions)) if n_actions else None)
    return SymmetryVerdict(False, (i, j), wp, Mm[i, j], Mm[j, i], conditions, cex.point,
                           sympy.Rational(best.numerator, best.denominator))


def detailed_balance_conditions(mdp: MDP, pi: Any, *, D: Any = None,
                                validate: bool = True) -> tuple:
    """The equations D_x P(s_y|x) π(a_y|s_y) = D_y P(s_x|y) π(a_x|s_x) not identically true.

    They are the symmetry conditions of the TD Jacobian D(γPΠ − I) with the
    common factor γ divided out: detailed balance of the state-action chain PΠ
    with respect to the weighting D (Ollivier 2018).

    Parameters
    ----------
    mdp : MDP
        A symbolic model.
    pi : Matrix, shape (S, A)
        Policy table (expressions; rows sum to 1 when ``validate``).
    D : None, "identity", or sequence of S·A expressions
        Diagonal of the weighting, indexed x = s·A + a.
    validate : bool, optional
        Check the model and π (stochastic rows) first.

    Examples
    --------
    >>> import sympy
    >>> from mdpgrad.symbolic import MDP, detailed_balance_conditions
    >>> p = sympy.Symbol("p")
    >>> mdp = MDP([[[p, 1 - p]], [[sympy.Rational(1, 2), sympy.Rational(1, 2)]]], [[0], [0]],
    ...           sympy.Rational(1, 2))
    >>> detailed_balance_conditions(mdp, [[1], [1]])
    (Eq(1 - p, 1/2),)
    """
    S, A = validate_symbolic_mdp(mdp).n_states, mdp.n_actions
    table = validate_table(pi, S, A, validate, mdp.actions)
    d = _diag(D, S * A, mdp.actions)
    n = S * A
    keep = [0 if t else 1 for t in mdp.terminal]
    entry = [[d[x] * keep[x // A] * keep[y // A] * mdp.P[x // A, x % A, y // A] * table[y // A, y % A]
              for y in range(n)] for x in range(n)]
    pairs = [(x, y) for x in range(n) for y in range(x + 1, n)]
    space, exprs = space_for([entry[x][y] for x, y in pairs] + [entry[y][x] for x, y in pairs])
    m = len(pairs)
    return tuple(sympy.Eq(entry[x][y], entry[y][x], evaluate=False)
                 for k, (x, y) in enumerate(pairs) if space(exprs[k]) != space(exprs[m + k]))
