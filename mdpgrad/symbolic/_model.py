"""The symbolic MDP: P, r, γ, ρ₀ as sympy Rationals or symbols, checked exactly.

What it holds
-------------
The same numbers as :class:`mdpgrad.MDP`, as exact sympy objects:
``P`` an immutable (S, A, S) array with P[s, a, s'] = Pr(s' | s, a), ``r`` an
immutable (S, A) matrix, ``gamma`` an expression, ``rho0`` an immutable (S, 1)
column and ``terminal`` a tuple of bools (absorbing, zero-reward states).

Exactness
---------
Floats are refused: 0.1 is not one tenth, and a float row that sums to
0.9999999999999999 would be silently wrong.  Pass ``sympy.Rational(1, 10)``,
``fractions.Fraction(1, 10)``, integers or symbols instead (sympy.stats'
``DiscreteMarkovChain`` asks the same).  Each row of P must sum to exactly 1
after cancellation (e.g. ``p`` and ``1 - p``); entries that are numbers must
lie in [0, 1].  A numeric MDP is converted with :func:`rationalize`.

Identity checked by the tests: every row sum of P cancels to exactly 1, and
``to_numeric`` of a rational model reproduces the float model's numbers.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp
import sympy
from sympy import ImmutableDenseNDimArray, ImmutableMatrix, ImmutableSparseNDimArray

from .._errors import ValidationError
from .._model import MDP as NumericMDP
from .._model import RewardShaped
from .._validation import check_instance, check_integer, format_count
from ._algebra import show

__all__ = ["MAX_SYMBOLIC_ENTRIES", "MDP", "check_symbolic_size", "exact", "general_mdp", "row_entries"]



def exact(x: Any, name: str, index: tuple[int, ...] | None = None) -> sympy.Expr:
    """Convert one entry to an exact sympy expression, refusing floats.

    >>> exact(Fraction(1, 3), "P")
    1/3
    """
    where = f"{name}{list(index)}" if index is not None else name
    if isinstance(x, (bool, np.bool_)):
        raise ValidationError(f"{where} is {x!r}; expected a number or a symbol",
                              argument=name, index=index, value=x)
    if isinstance(x, (float, np.floating)):
        raise ValidationError(
            f"{where} is the float {x!r}; symbolic models are exact: pass sympy.Rational "
            f"or fractions.Fraction (e.g. sympy.Rational('{x}')) instead",
            argument=name, index=index, value=x)
    if isinstance(x, Fraction):
        return sympy.Rational(x.numerator, x.denominator)
    if isinstance(x, (numbers.Integral, np.integer)):
        return sympy.Integer(int(x))
    if not isinstance(x, sympy.Basic):
        raise ValidationError(f"{where} is {x!r} of type {type(x).__name__}; expected a number or a symbol",
                              argument=name, index=index, value=x)
    if x.has(sympy.Float):
        raise ValidationError(
            f"{where} is {show(x)} and contains a float; pass sympy.Rational or fractions.Fraction instead",
            argument=name, index=index, value=x)
    if not isinstance(x, sympy.Expr):
        raise ValidationError(f"{where} is {x!r}; expected a sympy expression",
                              argument=name, index=index, value=x)
    non_real = x.has(sympy.I, sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)
    if non_real or x.is_real is False or x.is_finite is False:
        raise ValidationError(f"{where} is {show(x)}; expected a finite real number or a real expression",
                              argument=name, index=index, value=x)
    return x


def indexed_name(prefix: str, index: Sequence[int], sizes: Sequence[int]) -> str:
    """A symbol name for ``prefix[index]`` that no other index of these ``sizes`` shares.

    Indices are written as digits side by side (``p010``) while every size is at most 10, and
    separated by underscores otherwise (``p1_0_10``), so that P[1, 0, 10] and P[10, 1, 0] differ.
    """
    if all(n <= 10 for n in sizes):
        return prefix + "".join(str(int(i)) for i in index)
    return prefix + "_".join(str(int(i)) for i in index)


def exact_matrix(x: Any, name: str, shape: tuple[int, int] | None = None) -> ImmutableMatrix:
    """A 2-D table of exact entries as an immutable matrix, built without ever parsing a string.

    Nested sequences and arrays are read entry by entry with :func:`exact` (which refuses
    strings, floats and non-real values) before sympy sees them: ``sympy.Matrix`` on raw input
    would run ``sympify`` on strings, which evaluates them as code.  A one-row or one-column
    table is accepted for a column ``shape`` (k, 1).
    """
    if isinstance(x, sympy.MatrixBase):
        rows = x.tolist()
    else:
        if isinstance(x, (str, bytes)):
            raise ValidationError(f"{name} is {x!r}; expected a table of numbers or expressions",
                                  argument=name, value=x)
        rows = x
    try:
        arr: np.ndarray = np.empty(np.shape(np.asarray(rows, dtype=object)), dtype=object)
        arr[...] = np.asarray(rows, dtype=object)
    except ValueError:
        raise ValidationError(f"{name} is ragged; expected a rectangular table", argument=name) from None
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1) if shape is not None and shape[1] == 1 else arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ValidationError(f"{name} has shape {arr.shape}; expected a 2-D table", argument=name,
                              value=arr.shape)
    if shape is not None and arr.shape != shape:
        if shape[1] == 1 and arr.shape == (1, shape[0]):
            arr = arr.T
        else:
            raise ValidationError(f"{name} has shape {arr.shape}; expected {shape}", argument=name,
                                  value=arr.shape)
    n, m = arr.shape
    return ImmutableMatrix(n, m, [exact(arr[i, j], name, (i, j)) for i in range(n) for j in range(m)])


def _nested(x: Any, name: str, shape_len: int | None) -> np.ndarray:
    if isinstance(x, sympy.NDimArray):
        x = x.tolist()
    elif isinstance(x, sympy.MatrixBase):
        x = x.tolist()
    arr = np.empty(np.shape(np.asarray(x, dtype=object)), dtype=object)
    arr[...] = np.asarray(x, dtype=object)
    if shape_len is not None and arr.ndim != shape_len:
        raise ValidationError(f"{name} has shape {arr.shape}; expected {shape_len} axes",
                              argument=name, value=arr.shape)
    out = np.empty(arr.shape, dtype=object)
    for idx in np.ndindex(arr.shape):
        out[idx] = exact(arr[idx], name, tuple(int(i) for i in idx))
    return out


def _check_probability(e: sympy.Expr, name: str, idx: tuple[int, ...]) -> None:
    if e.is_Rational and 0 <= e <= 1:   # the common case, decided without the assumptions system
        return
    if e.is_number and (e.is_negative or (e - 1).is_positive):
        raise ValidationError(f"{name}{list(idx)} is {show(e)}; expected a probability in [0, 1]",
                              argument=name, index=idx, value=e)
    if e.is_nonnegative is False and not e.is_number:
        raise ValidationError(f"{name}{list(idx)} is {show(e)}, which is negative by its assumptions",
                              argument=name, index=idx, value=e)


def _check_gamma_assumptions(g: sympy.Expr) -> None:
    """Refuse a symbolic γ whose sympy assumptions contradict 0 ≤ γ ≤ 1 (or leave only γ = 0)."""
    if g.is_number:
        return
    if g.is_nonnegative is False or g.is_negative:
        why = "is negative" if g.is_negative else "is not nonnegative"
        raise ValidationError(f"gamma is {show(g)}, which {why} by its assumptions; "
                              "expected 0 <= gamma <= 1", argument="gamma", value=g)
    if g.is_positive is False:
        raise ValidationError(f"gamma is {show(g)}, which is not positive by its assumptions: its only "
                              "value in [0, 1] is 0; pass 0, or a symbol without positive=False",
                              argument="gamma", value=g)
    if (g - 1).is_positive:
        raise ValidationError(f"gamma is {show(g)}, which exceeds 1 by its assumptions; expected "
                              "0 <= gamma <= 1", argument="gamma", value=g)


def _is_exactly(e: sympy.Expr, target: int) -> bool:
    if e.is_Rational:                   # a number: compared directly (cancel is slow on thousands of rows)
        return bool(e == target)
    d = sympy.cancel(e - target)
    if d == 0:
        return True
    if d.is_number:
        return False
    return sympy.simplify(d) == 0


def _sparse_P(P: Any) -> tuple[ImmutableSparseNDimArray, int, int]:
    """A sparse (S, A, S) array checked entry by stored entry (the absent ones are 0)."""
    shape = tuple(P.shape)
    if len(shape) != 3 or shape[0] != shape[2] or 0 in shape:
        raise ValidationError(f"P has shape {shape}; expected (S, A, S) with S, A >= 1", argument="P",
                              value=shape)
    check_symbolic_size(len(P._sparse_array), "the exact transition table", "P")
    entries = {}
    for k, x in dict(P._sparse_array).items():
        idx = tuple(int(i) for i in np.unravel_index(int(k), shape))
        e = exact(x, "P", idx)
        _check_probability(e, "P", idx)
        if e != 0:
            entries[int(k)] = e
    return ImmutableSparseNDimArray(entries, shape), int(shape[0]), int(shape[1])


def row_entries(P: Any, S: int, A: int) -> dict[tuple[int, int], dict[int, sympy.Expr]]:
    """{(s, a): {s': P[s, a, s']}} over the non-zero entries (of a sparse array, or of a dense table)."""
    rows: dict[tuple[int, int], dict[int, sympy.Expr]] = {}
    if isinstance(P, ImmutableSparseNDimArray):
        for k, e in dict(P._sparse_array).items():
            s, a, t = (int(i) for i in np.unravel_index(int(k), (S, A, S)))
            rows.setdefault((s, a), {})[t] = e
        return rows
    for s in range(S):
        for a in range(A):
            rows[(s, a)] = {t: P[s, a, t] for t in range(S) if P[s, a, t] != 0}
    return rows


@dataclass(frozen=True, eq=False, init=False)
class MDP(RewardShaped):
    """A finite MDP with exact (rational or symbolic) entries.

    Parameters
    ----------
    P : nested sequence or sympy Array, shape (S, A, S)
        P[s][a][s'] = Pr(s' | s, a); each row must cancel to exactly 1.
    r : nested sequence or sympy Matrix, shape (S, A) or (S, A, S)
        Expected reward r(s, a), or r(s, a, s') reduced to Σ_s' P r.
    gamma : Rational or symbol
        Discount, 0 ≤ γ ≤ 1 when it is a number.
    rho0 : sequence, shape (S,), optional
        Start distribution (default uniform over non-terminal states).
    terminal : sequence of bool, shape (S,), optional
        Absorbing states with zero reward (default: none).
    actions : array_like of bool, shape (S, A), optional
        Action sets, as for :class:`mdpgrad.MDP`: ``actions[s, a]`` is True when
        a is available in s (default: all); each state keeps one.  The row
        P[s, a, :] of an unavailable action may be all zeros; the terminal
        checks use the available actions only.

    Raises
    ------
    ValidationError
        For floats, wrong shapes, rows that do not sum to exactly 1, ...

    Notes
    -----
    A sparse P (a ``sympy.SparseNDimArray``, e.g. ``ImmutableSparseNDimArray(dict, (S, A, S))``) is
    checked and stored entry by stored entry: a model with many states and few successors each, such
    as the Gambler's problem (Sutton & Barto 2018, Example 4.3), fits within ``MAX_SYMBOLIC_ENTRIES`` entries.

    Examples
    --------
    >>> import sympy
    >>> from mdpgrad.symbolic import MDP
    >>> p, g = sympy.symbols("p gamma")
    >>> mdp = MDP([[[p, 1 - p]], [[0, 1]]], [[1], [0]], g)
    >>> mdp.n_states, mdp.n_actions, list(mdp.rho0)
    (2, 1, [1/2, 1/2])
    >>> MDP([[[0.5, 0.5]], [[0, 1]]], [[1], [0]], g)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mdpgrad.ValidationError: P[0, 0, 0] is the float 0.5; symbolic models are exact: ...
    """

    P: ImmutableDenseNDimArray
    r: ImmutableMatrix
    gamma: sympy.Expr
    rho0: ImmutableMatrix
    terminal: tuple[bool, ...]
    actions: np.ndarray

    def __init__(self, P: Any, r: Any, gamma: Any, rho0: Any = None, terminal: Any = None, *,
                 actions: Any = None) -> None:
        if isinstance(P, sympy.SparseNDimArray):
            Parr, S, A = _sparse_P(P)
        else:
            Parr = _nested(P, "P", 3)
            S, A = Parr.shape[0], Parr.shape[1]
            if Parr.shape[2] != S or S == 0 or A == 0:
                raise ValidationError(f"P has shape {Parr.shape}; expected (S, A, S) with S, A >= 1",
                                      argument="P", value=Parr.shape)
            for idx in np.ndindex(Parr.shape):
                _check_probability(Parr[idx], "P", idx)
        acts = NumericMDP._validate_actions(actions, S, A)     # one rule for masks, numeric and exact
        acts.flags.writeable = False
        rows = row_entries(Parr, S, A)
        for s in range(S):
            for a in range(A):
                total = sum(rows.get((s, a), {}).values(), sympy.Integer(0))
                if not _is_exactly(total, 1) and (acts[s][a] or total != 0):
                    raise ValidationError(f"P[{s}, {a}, :] sums to {show(total)}; expected exactly 1"
                                          + ("" if acts[s][a] else " or 0 (an unavailable action)"),
                                          argument="P", index=(s, a), value=total)
        rarr = _nested(r, "r", None)
        if rarr.shape == (S, A, S):
            rarr = np.array([[sympy.expand(sum((p * rarr[s, a, t] for t, p in rows.get((s, a), {}).items()),
                                               sympy.Integer(0)))
                              for a in range(A)] for s in range(S)], dtype=object)
        if rarr.shape != (S, A):
            raise ValidationError(f"r has shape {rarr.shape}; expected ({S}, {A}) or ({S}, {A}, {S})",
                                  argument="r", value=rarr.shape)
        g = exact(gamma, "gamma")
        if g.is_number and not (g.is_real and 0 <= g <= 1):
            raise ValidationError(f"gamma is {show(g)}; expected a number in [0, 1]", argument="gamma",
                                  value=g)
        _check_gamma_assumptions(g)
        term = self._validate_terminal(terminal, rows, rarr, S, A, acts)
        if rho0 is None:
            n = S - sum(term)
            if n == 0:
                raise ValidationError("every state is terminal; an MDP needs a non-terminal state",
                                      argument="terminal")
            rho = [sympy.Integer(0) if t else sympy.Rational(1, n) for t in term]
        else:
            rho_arr = _nested(rho0, "rho0", 1)
            if rho_arr.shape != (S,):
                raise ValidationError(f"rho0 has shape {rho_arr.shape}; expected ({S},)",
                                      argument="rho0", value=rho_arr.shape)
            for i in range(S):
                _check_probability(rho_arr[i], "rho0", (i,))
            total = sum(rho_arr, sympy.Integer(0))
            if not _is_exactly(total, 1):
                raise ValidationError(f"rho0 sums to {show(total)}; expected exactly 1", argument="rho0",
                                      value=total)
            if any(term) and all(rho_arr[s] == 0 for s in range(S) if not term[s]):
                raise ValidationError("rho0 puts all its mass on terminal states", argument="rho0")
            rho = list(rho_arr)
        if g == 1 and not any(term):
            raise ValidationError("gamma=1 needs terminal states: without them no policy terminates",
                                  argument="gamma", value=g)
        object.__setattr__(self, "P", Parr if isinstance(Parr, ImmutableSparseNDimArray)
                           else ImmutableDenseNDimArray(Parr.tolist()))
        object.__setattr__(self, "r", ImmutableMatrix(rarr.tolist()))
        object.__setattr__(self, "gamma", g)
        object.__setattr__(self, "rho0", ImmutableMatrix(S, 1, rho))
        object.__setattr__(self, "terminal", term)
        object.__setattr__(self, "actions", acts)

    @property
    def has_action_sets(self) -> bool:
        """True when some action is unavailable in some state."""
        return not bool(self.actions.all())

    def _mask_argument(self) -> np.ndarray | None:
        """The mask to pass on when building a related model (None without action sets)."""
        return np.array(self.actions) if self.has_action_sets else None

    @staticmethod
    def _validate_terminal(terminal: Any, rows: dict, r: np.ndarray, S: int, A: int,
                           acts: np.ndarray) -> tuple[bool, ...]:
        if terminal is None:
            return (False,) * S
        t = np.asarray(terminal)
        if t.shape != (S,) or t.dtype != bool:
            raise ValidationError(f"terminal has shape {t.shape} and dtype {t.dtype}; expected ({S},) bool",
                                  argument="terminal", value=(t.shape, str(t.dtype)))
        for s in np.flatnonzero(t):
            for a in range(A):
                if not acts[s][a]:
                    continue
                stay = rows.get((int(s), a), {}).get(int(s), sympy.Integer(0))
                if not _is_exactly(stay, 1):
                    raise ValidationError(f"terminal state {s} is not absorbing: P[{s}, {a}, {s}] is "
                                          f"{show(stay)}; expected 1", argument="terminal",
                                          index=(int(s), a), value=stay)
                if not _is_exactly(r[s, a], 0):
                    raise ValidationError(f"terminal state {s} pays reward: r[{s}, {a}] is {show(r[s, a])}; "
                                          "expected 0", argument="terminal", index=(int(s), a),
                                          value=r[s, a])
        return tuple(bool(x) for x in t)

    # -- views ------------------------------------------------------------
    @property
    def P_flat(self) -> ImmutableMatrix:
        """P as an (S·A, S) matrix, row s·A + a holding P[s, a, :]."""
        S, A = self.n_states, self.n_actions
        return ImmutableMatrix(S * A, S, lambda x, t: self.P[x // A, x % A, t])

    @property
    def free_symbols(self) -> set:
        """Every symbol appearing in P, r, γ or ρ₀."""
        out = set(self.gamma.free_symbols) | set(self.r.free_symbols) | set(self.rho0.free_symbols)
        return out | set(self.P.free_symbols)

    def subs(self, values: Mapping[Any, Any]) -> MDP:
        """A new MDP with symbols replaced by values (validated again)."""
        vals = {k: exact(v, f"values[{k}]") for k, v in dict(values).items()}
        return MDP(self.P.subs(vals), self.r.subs(vals), self.gamma.subs(vals), list(self.rho0.subs(vals)),
                   list(self.terminal) if any(self.terminal) else None, actions=self._mask_argument())

    def to_numeric(self) -> NumericMDP:
        """The float :class:`mdpgrad.MDP` with the same numbers (no free symbols allowed)."""
        if self.free_symbols:
            raise ValidationError(f"the model still has free symbols {sorted(map(str, self.free_symbols))}; "
                                  "substitute values first with subs()", argument="mdp",
                                  value=sorted(map(str, self.free_symbols)))
        S, A = self.n_states, self.n_actions
        P: Any
        if isinstance(self.P, ImmutableSparseNDimArray):
            flat = sorted((int(k), float(e)) for k, e in dict(self.P._sparse_array).items())
            keys = np.array([k for k, _ in flat], dtype=np.int64)
            P = sp.csr_array((np.array([e for _, e in flat]), (keys // S, keys % S)), shape=(S * A, S))
        else:
            P = np.array([[[float(self.P[s, a, t]) for t in range(S)] for a in range(A)] for s in range(S)])
        r = np.array(self.r.tolist(), dtype=float)
        return NumericMDP(P, r, float(self.gamma), np.array(list(self.rho0), dtype=float),
                          np.array(self.terminal) if any(self.terminal) else None,
                          actions=self._mask_argument())

    def __repr__(self) -> str:
        return (f"symbolic MDP(n_states={self.n_states}, n_actions={self.n_actions}, "
                f"gamma={show(self.gamma)}, "
                f"symbols={sorted(map(str, self.free_symbols))}, n_terminal={sum(self.terminal)})")


#: Largest number of stored entries of a symbolic table (S·A·S for a dense P, its non-zero entries for a
#: sparse one; S·A for θ or Q): an exact model holds one sympy object per stored entry (about 1 kB each
#: with its bookkeeping).  20,000 entries is far beyond what an exact proof over symbols finishes on,
#: while a sparse rational model of a hundred states and fifty actions with two successors each (the
#: Gambler's problem, about 5,000 non-zero probabilities) fits and is solved exactly.
MAX_SYMBOLIC_ENTRIES = 20_000


def check_symbolic_size(n_entries: int, what: str, argument: str) -> None:
    """Refuse a symbolic table of more than :data:`MAX_SYMBOLIC_ENTRIES` entries, before building it."""
    if n_entries > MAX_SYMBOLIC_ENTRIES:
        raise ValidationError(f"{what} would have {format_count(n_entries)} entries, above the "
                              f"{MAX_SYMBOLIC_ENTRIES} an exact symbolic model is meant for",
                              argument=argument, value=min(n_entries, 2**63 - 1))


def general_mdp(n_states: int, n_actions: int, *, gamma: Any = None, terminal: Sequence[bool] | None = None,
                rewards: bool = True, rho0: bool = True) -> MDP:
    """The general MDP of a given size: every probability, reward, ρ₀ entry and γ a symbol.

    P[s, a, s'] is the symbol ``p{s}{a}{s'}`` for s' < S−1 and one minus their
    sum for s' = S−1; r[s, a] is ``r{s}{a}`` (indices separated by ``_`` when a size
    exceeds 10, see ``indexed_name``); ρ₀ is ``rho{s}`` (last entry one
    minus the rest) and γ the symbol ``gamma``.  Terminal states are absorbing
    with zero reward.

    Parameters
    ----------
    n_states, n_actions : int
        S and A.
    gamma : expression, optional
        The discount; default the symbol ``gamma``.
    terminal : sequence of bool, optional
        Terminal states (absorbing, zero reward).
    rewards : bool, optional
        Rewards as symbols ``r{s}{a}`` (False: all zero).
    rho0 : bool, optional
        ρ₀ as symbols over the non-terminal states (False: the default uniform ρ₀).

    Examples
    --------
    >>> from mdpgrad.symbolic import general_mdp
    >>> m = general_mdp(2, 2)
    >>> m.P[1, 0, 0], m.P[1, 0, 1], m.rho0[1]
    (p100, 1 - p100, 1 - rho0)
    """
    S = check_integer(n_states, "n_states", min_value=1)
    A = check_integer(n_actions, "n_actions", min_value=1)
    check_symbolic_size(S * A * S, "the general model's transition table", "n_states")
    term = list(terminal) if terminal is not None else [False] * S
    P: list[list[list[Any]]] = []
    r: list[list[Any]] = []
    for s in range(S):
        P.append([])
        r.append([])
        for a in range(A):
            if term[s]:
                P[s].append([sympy.Integer(int(t == s)) for t in range(S)])
                r[s].append(sympy.Integer(0))
                continue
            row = [sympy.Symbol(indexed_name("p", (s, a, t), (S, A, S))) for t in range(S - 1)]
            P[s].append(row + [1 - sum(row)])
            r[s].append(sympy.Symbol(indexed_name("r", (s, a), (S, A))) if rewards else sympy.Integer(0))
    g = sympy.Symbol("gamma") if gamma is None else gamma
    rho = None
    if rho0:
        live = [s for s in range(S) if not term[s]]
        head = {s: sympy.Symbol(f"rho{s}") for s in live[:-1]}
        rho = [head.get(s, sympy.Integer(0)) for s in range(S)]
        rho[live[-1]] = 1 - sum(head.values())
    return MDP(P, r, g, rho, term if terminal is not None else None)


def validate_symbolic_mdp(mdp: Any, name: str = "mdp") -> MDP:
    """``mdp`` when it is a symbolic :class:`MDP`; a numeric one is pointed to :func:`rationalize`."""
    hint = " (mdpgrad.symbolic.rationalize converts a numeric one)" if isinstance(mdp, NumericMDP) else ""
    return check_instance(mdp, MDP, name, "an mdpgrad.symbolic.MDP", hint)
