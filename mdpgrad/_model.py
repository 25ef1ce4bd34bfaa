"""The finite MDP: an immutable bundle of P, r, γ, ρ₀, the terminal states and the action sets.

What it holds
-------------
``P[s, a, s'] = Pr(s' | s, a)`` as a dense array of shape (S, A, S), or as a
``scipy.sparse.csr_array`` of shape (S·A, S) whose row ``s·A + a`` is
``P[s, a, :]``.  ``r[s, a]`` is the expected immediate reward; a reward table of
shape (S, A, S) is reduced to r(s, a) = Σ_s' P(s'|s, a) r(s, a, s').

Conventions
-----------
* **Terminal states** are absorbing (P[t, a, t] = 1 for every a) and pay zero
  reward.  An episode ends on reaching one: it is not visited afterwards, so
  v(t) = q(t, ·) = 0 and η(t) = 0.
* **Action sets.**  ``actions[s, a]`` is True when action a may be taken in
  state s (default: every action everywhere); every state keeps at least one.
  The row P[s, a, :] of an invalid action is either all zeros or a
  distribution, and r[s, a] any finite number: both are stored as given and
  never used, because every policy gives an invalid action probability 0
  (its q(s, a) is therefore meaningless and the optimal-control routines
  ignore it).  Terminal states are absorbing under their valid actions.
* **ρ₀** defaults to the uniform distribution over the non-terminal states.  It
  may put mass on terminal states (zero-length episodes) but not all of it.
* **γ = 1** is allowed.  The values then exist only for policies under which
  every non-terminal state reaches a terminal state with probability 1; this
  depends on the policy and is checked when a policy is evaluated
  (:class:`~mdpgrad.NonTerminatingPolicyError`).

Identity checked by the tests: every row of P of a valid action sums to 1 (within ``atol``), and
``P_flat`` is the (S·A, S) view of the same numbers in both layouts.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._errors import ValidationError
from ._validation import (
    as_real_array,
    check_finite,
    check_instance,
    check_integer,
    check_nonnegative,
    check_plain_array,
    check_real,
    check_tolerance,
    first_index,
    format_index,
    format_number,
    is_exact,
)

__all__ = ["DEFAULT_ATOL", "MDP", "validate_mdp"]

#: Tolerance on row sums of P and on sums of distributions.  Float rows built
#: from decimal literals sum to 1 within a few ulps (≈1e-16 · S); 1e-10 leaves
#: six orders of magnitude of room while still catching any real mistake.
DEFAULT_ATOL = 1e-10


def _check_exact_rows(raw: np.ndarray, name: str, valid: np.ndarray | None = None) -> None:
    """Exact inputs (ints, Fractions, sympy Rationals) must sum to exactly 1 (or 0 where ``valid``,
    flat, marks an unavailable action)."""
    if raw.dtype != object or not all(is_exact(e) for e in raw.ravel()):
        return
    rows = raw.reshape(-1, raw.shape[-1])
    for i, row in enumerate(rows):
        total = sum(row, Fraction(0))
        if total != 1 and not (valid is not None and not valid[i] and total == 0):
            idx = tuple(int(j) for j in np.unravel_index(i, raw.shape[:-1]))
            raise ValidationError(f"{format_index(name, idx, True)} sums to {total} exactly; expected 1",
                                  argument=name, index=idx, value=total)


def _check_rows(sums: np.ndarray, name: str, atol: float, n_actions: int | None,
                valid: np.ndarray | None = None) -> None:
    """Row sums of P (flat index s·A+a decoded when n_actions is given).

    ``valid`` (flat, bool) marks the rows of valid actions; the others may also sum to 0.
    """
    bad = np.abs(sums - 1.0) > atol
    if valid is not None:
        bad &= valid | (np.abs(sums) > atol)
    if bad.any():
        i = int(np.argmax(bad))
        idx = (i // n_actions, i % n_actions) if n_actions else (i,)
        raise ValidationError(
            f"{format_index(name, idx, True)} sums to {format_number(sums[i])}; "
            f"expected 1 within atol={atol:g}",
            argument=name, index=idx, value=float(sums[i]))


def validate_distribution(x: Any, name: str, size: int, atol: float = DEFAULT_ATOL) -> np.ndarray:
    """Validate a probability vector of length ``size`` and return it as float64."""
    arr = as_real_array(x, name, shape=(size,))
    raw = np.asarray(x)
    check_nonnegative(arr, name, "a probability")
    if raw.dtype == object and all(is_exact(e) for e in raw.ravel()):
        total = sum(raw.ravel(), Fraction(0))
        if total != 1:
            raise ValidationError(f"{name} sums to {total} exactly; expected 1",
                                  argument=name, value=total)
    elif abs(arr.sum() - 1.0) > atol:
        raise ValidationError(f"{name} sums to {format_number(arr.sum())}; expected 1 within atol={atol:g}",
                              argument=name, value=float(arr.sum()))
    return arr


def _readonly(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` (an array the model owns) that cannot be made writable again.

    numpy lets the owner of a buffer set ``flags.writeable = True`` back, but not a view of a
    read-only base; so the model keeps the base out of reach and hands out the view.
    """
    base = a if a.base is None and a.flags.c_contiguous else np.array(a, order="C", copy=True)
    base.flags.writeable = False
    return base.view()


class RewardShaped:
    """The sizes of a model read off its (S, A) reward table ``r`` (numeric and symbolic models)."""

    r: Any

    @property
    def n_states(self) -> int:
        """Number of states S."""
        return int(self.r.shape[0])

    @property
    def n_actions(self) -> int:
        """Number of actions A."""
        return int(self.r.shape[1])


@dataclass(frozen=True, eq=False, init=False)
class MDP(RewardShaped):
    """A finite Markov decision process.

    Parameters
    ----------
    P : ndarray, shape (S, A, S), or scipy.sparse matrix, shape (S·A, S)
        Transition probabilities, ``P[s, a, s'] = Pr(s' | s, a)``; in the
        sparse form row ``s·A + a`` holds ``P[s, a, :]``.  Sparse input is
        stored as ``csr_array`` and stays sparse through every computation.
    r : ndarray, shape (S, A) or (S, A, S)
        Expected immediate reward r(s, a), or r(s, a, s') which is reduced to
        r(s, a) = Σ_s' P(s' | s, a) r(s, a, s').
    gamma : float
        Discount, 0 ≤ γ ≤ 1.  γ = 1 needs terminal states (see module notes).
    rho0 : ndarray, shape (S,), optional
        Start-state distribution.  Default: uniform over non-terminal states.
    terminal : ndarray of bool, shape (S,), optional
        Absorbing zero-reward states where episodes end.  Default: none.
    atol : float, optional
        Tolerance on row sums of P and on the sum of ρ₀ (default 1e-10).
    grid_shape : (int, int), optional
        For a gridworld, its (n_rows, n_cols), with n_rows·n_cols = S and
        state s in cell (s // n_cols, s % n_cols).  Only pictures use it
        (:mod:`mdpgrad.plot`); it changes no computation.
    actions : ndarray of bool, shape (S, A), optional
        ``actions[s, a]`` is True when action a is available in state s;
        every state needs one.  Default: every action in every state.  The
        rows P[s, a, :] of unavailable actions may be all zeros.

    Raises
    ------
    ValidationError
        On any malformed input; the message names the argument, index and value.

    Examples
    --------
    >>> from mdpgrad import MDP
    >>> import numpy as np
    >>> P = np.array([[[0.9, 0.1], [0.1, 0.9]],
    ...               [[0.5, 0.5], [0.0, 1.0]]])
    >>> r = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> mdp = MDP(P, r, gamma=0.9)
    >>> mdp.n_states, mdp.n_actions, mdp.rho0.tolist()
    (2, 2, [0.5, 0.5])
    """

    _P: np.ndarray | sp.csr_array
    r: np.ndarray
    gamma: float
    rho0: np.ndarray
    terminal: np.ndarray
    actions: np.ndarray
    grid_shape: tuple[int, int] | None

    def __init__(self, P: Any, r: Any, gamma: float, rho0: Any = None, terminal: Any = None,
                 *, atol: float = DEFAULT_ATOL, grid_shape: Any = None, actions: Any = None) -> None:
        atol = check_tolerance(atol, "atol")
        shape = self._shape_of_P(P)
        actions_store = None if shape is None else self._validate_actions(actions, *shape)
        P_store, S, A = self._validate_P(P, atol, actions_store)
        if actions_store is None:
            actions_store = self._validate_actions(actions, S, A)
        r_store = self._validate_r(r, P_store, S, A)
        gamma_f = self._validate_gamma(gamma)
        terminal_store = self._validate_terminal(terminal, P_store, r_store, S, A, actions_store)
        if rho0 is None:
            nonterminal = ~terminal_store
            if not nonterminal.any():
                raise ValidationError("every state is terminal; an MDP needs a non-terminal state",
                                      argument="terminal")
            rho0_arr = nonterminal / nonterminal.sum()
        else:
            rho0_arr = validate_distribution(rho0, "rho0", S, atol)
            if terminal_store.any() and rho0_arr[~terminal_store].sum() == 0:
                raise ValidationError("rho0 puts all its mass on terminal states",
                                      argument="rho0")
        if gamma_f == 1.0 and not terminal_store.any():
            raise ValidationError(
                "gamma=1 needs terminal states: without them no policy terminates "
                "and the undiscounted values do not exist", argument="gamma", value=gamma)
        object.__setattr__(self, "_P", P_store)
        object.__setattr__(self, "r", _readonly(r_store))
        object.__setattr__(self, "gamma", gamma_f)
        object.__setattr__(self, "rho0", _readonly(rho0_arr))
        object.__setattr__(self, "terminal", _readonly(terminal_store))
        object.__setattr__(self, "actions", _readonly(actions_store))
        object.__setattr__(self, "grid_shape", self._validate_grid_shape(grid_shape, S))

    # -- validation -------------------------------------------------------
    @staticmethod
    def _shape_of_P(P: Any) -> tuple[int, int] | None:
        """(S, A) read off P's shape when it is well formed (checked in full by ``_validate_P``)."""
        shape = getattr(P, "shape", None)
        if shape is None:
            try:
                shape = np.shape(P)
            except ValueError:          # ragged nesting: _validate_P names it
                return None
        if sp.issparse(P) and len(shape) == 2 and shape[1] and not shape[0] % shape[1]:
            return int(shape[1]), int(shape[0] // shape[1])
        if len(shape) == 3 and shape[0] == shape[2]:
            return int(shape[0]), int(shape[1])
        return None

    @staticmethod
    def _validate_actions(actions: Any, S: int, A: int) -> np.ndarray:
        """The (S, A) bool mask of available actions."""
        if actions is None:
            return np.ones((S, A), dtype=bool)
        check_plain_array(actions, "actions")
        m = np.asarray(actions)
        if m.shape != (S, A) or m.dtype != bool:
            raise ValidationError(
                f"actions has shape {m.shape} and dtype {m.dtype}; expected a bool array of shape ({S}, {A})",
                argument="actions", value=(m.shape, str(m.dtype)))
        empty = first_index(~np.asarray(m.any(axis=1)))
        if empty is not None:
            raise ValidationError(f"state {empty[0]} has no available action: actions[{empty[0]}, :] is all "
                                  "False; expected at least one True", argument="actions", index=empty,
                                  value=False)
        return m.copy()

    @staticmethod
    def _validate_P(P: Any, atol: float, actions: np.ndarray | None = None) -> tuple[Any, int, int]:
        valid = None if actions is None else actions.ravel()
        if sp.issparse(P):
            if P.ndim != 2 or P.shape[0] == 0 or P.shape[1] == 0 or P.shape[0] % P.shape[1]:
                raise ValidationError(
                    f"sparse P has shape {P.shape}; expected (S*A, S) with S, A >= 1",
                    argument="P", value=P.shape)
            S = P.shape[1]
            A = P.shape[0] // S
            if P.dtype.kind not in "biuf":
                raise ValidationError(f"sparse P has dtype {P.dtype}; expected real numbers (mdpgrad does "
                                      "not drop imaginary parts)", argument="P", value=str(P.dtype))
            try:    # an owned copy: the caller's matrix is neither shared nor re-sorted in place
                csr = sp.csr_array(P, dtype=np.float64, copy=True)
            except (TypeError, ValueError) as exc:
                raise ValidationError(f"sparse P cannot be read as real numbers ({exc})", argument="P",
                                      value=str(getattr(P, "dtype", ""))) from None
            csr.sum_duplicates()
            csr.sort_indices()
            data = csr.data
            k_bad = first_index(~np.isfinite(data) | (data < 0))
            if k_bad is not None:
                k = k_bad[0]
                row = int(np.searchsorted(csr.indptr, k, side="right") - 1)
                idx = (row // A, row % A, int(csr.indices[k]))
                raise ValidationError(
                    f"{format_index('P', idx)} is {format_number(data[k])}; "
                    "expected a finite probability >= 0",
                    argument="P", index=idx, value=float(data[k]))
            _check_rows(np.asarray(csr.sum(axis=1)).ravel(), "P", atol, A, valid)
            csr.data, csr.indices, csr.indptr = (_readonly(part) for part in (csr.data, csr.indices,
                                                                               csr.indptr))
            return csr, S, A
        arr = as_real_array(P, "P", finite=False)
        raw = np.asarray(P)
        if arr.ndim != 3 or arr.shape[0] != arr.shape[2] or 0 in arr.shape:
            raise ValidationError(
                f"P has shape {arr.shape}; expected (S, A, S) with S, A >= 1",
                argument="P", value=arr.shape)
        check_finite(arr, "P")
        check_nonnegative(arr, "P", "a probability")
        _check_exact_rows(raw, "P", valid)
        S, A = arr.shape[0], arr.shape[1]
        _check_rows(arr.sum(axis=2).ravel(), "P", atol, A, valid)
        return _readonly(arr), S, A

    @staticmethod
    def _validate_r(r: Any, P: Any, S: int, A: int) -> np.ndarray:
        arr = as_real_array(r, "r")
        if arr.shape == (S, A):
            return arr
        if arr.shape == (S, A, S):
            if sp.issparse(P):
                return np.asarray(P.multiply(arr.reshape(S * A, S)).sum(axis=1)).reshape(S, A)
            return np.einsum("ijk,ijk->ij", P, arr)
        raise ValidationError(f"r has shape {arr.shape}; expected ({S}, {A}) or ({S}, {A}, {S})",
                              argument="r", value=arr.shape)

    @staticmethod
    def _validate_gamma(gamma: Any) -> float:
        if is_exact(gamma) and not isinstance(gamma, numbers.Real):
            gamma = float(gamma)          # a sympy Rational: exact, so rounding it once is the value
        return check_real(gamma, "gamma", min_value=0.0, max_value=1.0)

    @staticmethod
    def _validate_grid_shape(grid_shape: Any, S: int) -> tuple[int, int] | None:
        if grid_shape is None:
            return None
        if isinstance(grid_shape, (str, bytes)) or not hasattr(grid_shape, "__len__") or len(grid_shape) != 2:
            raise ValidationError(f"grid_shape is {grid_shape!r}; expected (n_rows, n_cols)",
                                  argument="grid_shape", value=repr(grid_shape))
        n_rows = check_integer(grid_shape[0], "grid_shape[0]", min_value=1)
        n_cols = check_integer(grid_shape[1], "grid_shape[1]", min_value=1)
        if n_rows * n_cols != S:
            raise ValidationError(
                f"grid_shape is ({n_rows}, {n_cols}), {n_rows * n_cols} cells; expected one cell per "
                f"state, {S}", argument="grid_shape", value=(n_rows, n_cols))
        return (n_rows, n_cols)

    @staticmethod
    def _validate_terminal(terminal: Any, P: Any, r: np.ndarray, S: int, A: int,
                           actions: np.ndarray | None) -> np.ndarray:
        if terminal is None:
            return np.zeros(S, dtype=bool)
        check_plain_array(terminal, "terminal")
        t = np.asarray(terminal)
        if t.shape != (S,) or t.dtype != bool:
            raise ValidationError(
                f"terminal has shape {t.shape} and dtype {t.dtype}; expected a bool array of shape ({S},)",
                argument="terminal", value=(t.shape, str(t.dtype)))
        term = np.flatnonzero(t)
        if term.size == 0:
            return t.copy()
        rows = (term[:, None] * A + np.arange(A)).ravel()       # flat rows s·A + a
        cols = np.repeat(term, A)
        stay = (np.asarray(P[rows, cols]).ravel() if sp.issparse(P)
                else P.reshape(S * A, S)[rows, cols])
        valid = np.ones(rows.size, dtype=bool) if actions is None else actions.ravel()[rows]
        for k in np.flatnonzero((stay != 1.0) & valid)[:1]:
            s, a = int(cols[k]), int(rows[k] % A)
            raise ValidationError(
                f"terminal state {s} is not absorbing: P[{s}, {a}, {s}] is {format_number(stay[k])}; "
                "expected 1",
                argument="terminal", index=(s, a), value=float(stay[k]))
        paid = r[term] != 0.0
        if actions is not None:
            paid &= actions[term]
        if paid.any():
            i, a = (int(x) for x in np.argwhere(paid)[0])
            s = int(term[i])
            raise ValidationError(
                f"terminal state {s} pays reward: r[{s}, {a}] is {format_number(r[s, a])}; expected 0",
                argument="terminal", index=(s, a), value=float(r[s, a]))
        return t.copy()

    # -- views ------------------------------------------------------------
    @property
    def P(self) -> np.ndarray | sp.csr_array:
        """P: the read-only (S, A, S) array, or a new (S·A, S) ``csr_array`` over the model's read-only
        data, indices and indptr.

        A sparse matrix object can be changed in place (``resize``, assigning ``.data``), so the
        model keeps its own and hands out a fresh one at each access: changing that one leaves the
        model as it was.
        """
        P = self._P
        if isinstance(P, np.ndarray):
            return P
        view = sp.csr_array((P.data, P.indices, P.indptr), shape=P.shape, copy=False)
        view.has_canonical_format = True           # sorted, no duplicates: checked when built
        return view

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle and copy support: the restored model's arrays are read-only again."""
        return (_restore_mdp, (self._P, self.r, self.gamma, self.rho0, self.terminal, self.grid_shape,
                               self.actions))

    @property
    def is_sparse(self) -> bool:
        """True when P is stored as a sparse (S·A, S) matrix."""
        return sp.issparse(self._P)

    @property
    def P_flat(self) -> np.ndarray | sp.csr_array:
        """P in its (S·A, S) form: row s·A + a is P[s, a, :] (a view when dense)."""
        if self.is_sparse:
            return self.P
        return self.P.reshape(self.n_states * self.n_actions, self.n_states)

    def P_dense(self) -> np.ndarray:
        """P as a dense (S, A, S) array (a copy when stored sparse; mind the size)."""
        if isinstance(self.P, np.ndarray):
            return self.P
        return self.P.toarray().reshape(self.n_states, self.n_actions, self.n_states)

    @property
    def has_action_sets(self) -> bool:
        """True when some action is unavailable in some state."""
        return not bool(self.actions.all())

    def replace(self, **changes: Any) -> MDP:
        """A new MDP with some of P, r, gamma, rho0, terminal, grid_shape, actions replaced (validated
        again)."""
        kw: dict[str, Any] = dict(P=self.P, r=self.r, gamma=self.gamma, rho0=self.rho0,
                                  terminal=self.terminal, grid_shape=self.grid_shape, actions=self.actions)
        kw.update(changes)
        return MDP(**kw)

    def __repr__(self) -> str:
        kind = "dense" if isinstance(self.P, np.ndarray) else f"sparse, nnz={self.P.nnz}"
        return (f"MDP(n_states={self.n_states}, n_actions={self.n_actions}, gamma={self.gamma!r}, "
                f"{kind}, n_terminal={int(self.terminal.sum())}"
                + (f", n_unavailable={int((~self.actions).sum())})" if self.has_action_sets else ")"))


def _frozen(a: Any) -> np.ndarray:
    """``a`` read-only for good: already such a view, or a private copy behind a read-only view."""
    arr = np.asarray(a)
    if not arr.flags.writeable and isinstance(arr.base, np.ndarray) and not arr.base.flags.writeable:
        return arr                      # copy.copy: the original's views, shared
    return _readonly(np.array(arr, copy=True))


def _restore_mdp(P: Any, r: Any, gamma: float, rho0: Any, terminal: Any,
                 grid_shape: tuple[int, int] | None, actions: Any = None) -> MDP:
    """An MDP rebuilt from pickled (or deep-copied) fields, which were validated when first built.

    Unpickled arrays come back writable; they are made read-only again (and sparse P's parts too),
    so a copy is as immutable as the original.
    """
    if sp.issparse(P):
        P = sp.csr_array((_frozen(P.data), _frozen(P.indices), _frozen(P.indptr)), shape=P.shape,
                         copy=False)
        P.has_canonical_format = True
    else:
        P = _frozen(P)
    mdp = object.__new__(MDP)
    for name, value in (("_P", P), ("r", _frozen(r)), ("gamma", float(gamma)), ("rho0", _frozen(rho0)),
                        ("terminal", _frozen(terminal)), ("grid_shape", grid_shape),
                        ("actions", _frozen(np.ones(np.shape(r), dtype=bool) if actions is None
                                            else actions))):
        object.__setattr__(mdp, name, value)
    return mdp


def validate_mdp(mdp: Any, name: str = "mdp") -> MDP:
    """``mdp`` itself when it is an :class:`MDP`; anything else (a name, a dict, arrays) is refused."""
    hint = " (mdpgrad.get_example builds a named one)" if isinstance(mdp, str) else ""
    return check_instance(mdp, MDP, name, "an mdpgrad.MDP", hint)
