"""Symbolic policies: π_θ as sympy expressions of a symbol vector θ.

The same three parameterisations as the numeric API (:class:`mdpgrad.TabularSoftmax`, ...;
Sutton & Barto 2018, §13.2; Agarwal et al. 2021, §3), with the same names:

* :class:`TabularSoftmax`: θ of shape (S, A), π(a|s) = exp θ[s,a] / Σ_b exp θ[s,b];
* :class:`LogLinear`: integer features φ (S, A, k), π(a|s) ∝ exp(φ(s,a)·θ);
* :class:`Direct`: θ is the table π itself.

``probabilities(theta)`` gives π as an immutable (S, A) matrix of expressions.
``rational(theta)`` gives the form the exact engine works in: with zₖ = exp θₖ
a positive symbol, a softmax or integer-feature log-linear π is a *rational*
function of z, and ∂/∂θₖ = zₖ ∂/∂zₖ.  This is what makes exact proofs fast.

Action sets: each takes ``actions=`` (bool (S, A)) as the numeric ones do: the
softmax runs over the available actions, an unavailable one gets π = 0 (for
:class:`Direct` its entry of θ is replaced by 0).  A policy meeting a model with
action sets must have a mask allowing only its available actions
(:func:`check_policy_actions`).

Identity checked by the tests: ``rational(θ).pi`` with z = exp θ substituted
back equals ``probabilities(θ)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy
from sympy import ImmutableMatrix

from .._errors import ValidationError
from .._policies import FeatureShaped, TableShaped, set_actions, validate_actions
from ._algebra import show
from ._model import check_symbolic_size, exact, exact_matrix, indexed_name

__all__ = ["Direct", "LogLinear", "RationalPolicy", "TabularSoftmax", "check_policy_actions"]


@dataclass(frozen=True)
class RationalPolicy:
    """π written as rational functions of ``variables``.

    Attributes
    ----------
    params : tuple of Symbol
        θ, flattened in row-major order of the parameter shape.
    variables : tuple of Symbol
        One per parameter: zₖ = exp θₖ (positive symbol) or θₖ itself.
    exp_of : dict
        zₖ ↦ θₖ for the exponential variables.
    pi : ImmutableMatrix, shape (S, A)
        π(a|s) as a rational function of ``variables``.
    shape : tuple of int
        Shape of the matrix θ (``(S, A)`` or ``(k, 1)``).
    """

    params: tuple
    variables: tuple
    exp_of: dict
    pi: ImmutableMatrix
    shape: tuple


def _theta(theta: Any, shape: tuple[int, int]) -> ImmutableMatrix:
    return exact_matrix(theta, "theta", shape)


def _symbols_only(theta: ImmutableMatrix) -> tuple:
    flat = tuple(theta)
    for i, t in enumerate(flat):
        if not isinstance(t, sympy.Symbol):
            idx = divmod(i, theta.shape[1])
            raise ValidationError(f"theta{list(idx)} is {t}; derivatives need a distinct symbol "
                                  "per parameter",
                                  argument="theta", index=idx, value=t)
    if len(set(flat)) != len(flat):
        raise ValidationError("theta repeats a symbol; each parameter needs its own symbol",
                              argument="theta", value=flat)
    return flat


def _exp_vars(params: tuple) -> tuple[tuple, dict]:
    zs = tuple(sympy.Symbol(f"z_{t.name}", positive=True) for t in params)
    return zs, dict(zip(zs, params, strict=True))


def _symbols(name: str, rows: int, cols: int, row_col: bool = True) -> ImmutableMatrix:
    check_symbolic_size(rows * cols, "the table of parameter symbols", "policy")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValidationError(f"name is {name!r}; expected an identifier", argument="name", value=name)
    if row_col:
        return ImmutableMatrix(rows, cols, [sympy.Symbol(indexed_name(name, (i, j), (rows, cols)), real=True)
                                            for i in range(rows) for j in range(cols)])
    return ImmutableMatrix(rows, cols, [sympy.Symbol(f"{name}{i}", real=True) for i in range(rows)])


@dataclass(frozen=True)
class TabularSoftmax(TableShaped):
    """π(a|s) = exp θ[s,a] / Σ_b exp θ[s,b], θ an (S, A) matrix of symbols.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad.symbolic import TabularSoftmax
    >>> pol = TabularSoftmax(1, 2)
    >>> pol.probabilities(pol.symbols())[0, 0]
    exp(theta00)/(exp(theta00) + exp(theta01))
    >>> pol.rational(pol.symbols()).pi[0, 0]
    z_theta00/(z_theta00 + z_theta01)
    >>> masked = TabularSoftmax(1, 3, actions=np.array([[True, False, True]]))
    >>> masked.rational(masked.symbols("t")).pi
    Matrix([[z_t00/(z_t00 + z_t02), 0, z_t02/(z_t00 + z_t02)]])
    """

    actions: np.ndarray | None = field(default=None, compare=False, repr=False)
    _key: bytes | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        set_actions(self, self.n_states, self.n_actions)

    def _available(self) -> np.ndarray:
        return np.ones(self.param_shape, dtype=bool) if self.actions is None else self.actions

    def symbols(self, name: str = "theta") -> ImmutableMatrix:
        """θ as real symbols ``{name}{s}{a}``, shape (S, A)."""
        return _symbols(name, self.n_states, self.n_actions)

    def probabilities(self, theta: Any) -> ImmutableMatrix:
        th = _theta(theta, self.param_shape)
        S, A = self.param_shape
        m = self._available()
        return ImmutableMatrix(S, A, lambda s, a: sympy.exp(th[s, a]) / sum(sympy.exp(th[s, b])
                                                                              for b in range(A) if m[s, b])
                               if m[s, a] else sympy.Integer(0))

    def rational(self, theta: Any) -> RationalPolicy:
        th = _theta(theta, self.param_shape)
        params = _symbols_only(th)
        zs, exp_of = _exp_vars(params)
        S, A = self.param_shape
        Z = ImmutableMatrix(S, A, zs)
        m = self._available()
        pi = ImmutableMatrix(S, A, lambda s, a: Z[s, a] / sum(Z[s, b] for b in range(A) if m[s, b])
                             if m[s, a] else sympy.Integer(0))
        return RationalPolicy(params, zs, exp_of, pi, self.param_shape)


@dataclass(frozen=True, eq=False)
class LogLinear(FeatureShaped):
    """π(a|s) ∝ exp(φ(s,a)·θ) with integer features φ of shape (S, A, k), θ of shape (k, 1).

    Integer features keep exp(φ·θ) = Π zₖ^φₖ a (Laurent) monomial in z = exp θ.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad.symbolic import LogLinear
    >>> phi = np.zeros((1, 2, 1), dtype=int); phi[0, 1, 0] = 1
    >>> pol = LogLinear(phi)
    >>> pol.rational(pol.symbols()).pi[0, 1]
    z_theta0/(z_theta0 + 1)
    """

    phi: Any
    actions: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        arr = np.asarray(self.phi, dtype=object)
        if arr.ndim != 3 or 0 in arr.shape:
            raise ValidationError(f"phi has shape {arr.shape}; expected (S, A, k) with S, A, k >= 1",
                                  argument="phi", value=arr.shape)
        out = np.empty(arr.shape, dtype=object)
        for idx in np.ndindex(arr.shape):
            v = arr[idx]
            if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
                out[idx] = sympy.Integer(int(v))
            elif isinstance(v, (float, np.floating)) and float(v).is_integer():
                out[idx] = sympy.Integer(int(v))
            else:
                e = exact(v, "phi", tuple(int(i) for i in idx))
                if not e.is_integer:
                    raise ValidationError(f"phi{list(idx)} is {show(e)}; symbolic log-linear policies need "
                                          "integer features", argument="phi", index=tuple(map(int, idx)),
                                          value=e)
                out[idx] = e
        object.__setattr__(self, "phi", out)
        object.__setattr__(self, "actions", validate_actions(self.actions, arr.shape[0], arr.shape[1]))

    @property
    def param_shape(self) -> tuple[int, int]:
        return (int(self.phi.shape[2]), 1)

    def symbols(self, name: str = "theta") -> ImmutableMatrix:
        """θ as real symbols ``{name}{k}``, shape (k, 1)."""
        return _symbols(name, self.param_shape[0], 1, row_col=False)

    def _weights(self, base: ImmutableMatrix, exponential: bool) -> list[list[sympy.Expr]]:
        """exp(φ(s,a)·θ) (or Π zᵢ^φᵢ) for available actions, 0 for the others."""
        S, A, k = self.phi.shape
        m = np.ones((S, A), dtype=bool) if self.actions is None else self.actions
        if exponential:
            return [[sympy.exp(sum(self.phi[s, a, i] * base[i] for i in range(k))) if m[s, a]
                     else sympy.Integer(0) for a in range(A)] for s in range(S)]
        return [[sympy.Mul(*[base[i] ** self.phi[s, a, i] for i in range(k)]) if m[s, a]
                 else sympy.Integer(0) for a in range(A)] for s in range(S)]

    def probabilities(self, theta: Any) -> ImmutableMatrix:
        th = _theta(theta, self.param_shape)
        w = self._weights(th, True)
        return ImmutableMatrix(self.n_states, self.n_actions, lambda s, a: w[s][a] / sum(w[s]))

    def rational(self, theta: Any) -> RationalPolicy:
        th = _theta(theta, self.param_shape)
        params = _symbols_only(th)
        zs, exp_of = _exp_vars(params)
        w = self._weights(ImmutableMatrix(zs), False)
        pi = ImmutableMatrix(self.n_states, self.n_actions,
                             lambda s, a: sympy.cancel(w[s][a] / sum(w[s])))
        return RationalPolicy(params, zs, exp_of, pi, self.param_shape)


@dataclass(frozen=True)
class Direct(TableShaped):
    """θ is the table π itself, an (S, A) matrix of symbols; ∂π(a|s)/∂θ[s,a] = 1.

    As in :class:`mdpgrad.Direct`, derivatives are those of the closed
    forms in the entries of π (no projection onto the simplex).

    Examples
    --------
    >>> from mdpgrad.symbolic import Direct
    >>> Direct(1, 2).symbols("pi")
    Matrix([[pi00, pi01]])
    """

    actions: np.ndarray | None = field(default=None, compare=False, repr=False)
    _key: bytes | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        set_actions(self, self.n_states, self.n_actions)

    def symbols(self, name: str = "pi") -> ImmutableMatrix:
        """π as real symbols ``{name}{s}{a}``, shape (S, A)."""
        return _symbols(name, self.n_states, self.n_actions)

    def _masked(self, th: ImmutableMatrix) -> ImmutableMatrix:
        """θ with the entries of unavailable actions replaced by 0 (they are not parameters of π)."""
        if self.actions is None:
            return th
        m = self.actions
        return ImmutableMatrix(*th.shape, lambda s, a: th[s, a] if m[s, a] else sympy.Integer(0))

    def probabilities(self, theta: Any) -> ImmutableMatrix:
        return self._masked(_theta(theta, self.param_shape))

    def rational(self, theta: Any) -> RationalPolicy:
        th = _theta(theta, self.param_shape)
        params = _symbols_only(th)
        return RationalPolicy(params, params, {}, self._masked(th), self.param_shape)


def check_policy_actions(policy: TabularSoftmax | LogLinear | Direct, actions: np.ndarray,
                         name: str = "policy") -> None:
    """Refuse a symbolic policy that may give positive probability to an action the model's mask
    ``actions`` (S, A) marks unavailable (a policy without a mask allows every action)."""
    if actions.all():
        return
    own = policy.actions
    allowed = np.ones(actions.shape, dtype=bool) if own is None else own
    bad = np.argwhere(allowed & ~actions)
    if bad.size:
        s, a = (int(x) for x in bad[0])
        raise ValidationError(f"{name} allows action {a} in state {s}, which the model marks unavailable "
                              f"(mdp.actions[{s}, {a}] is False); build the policy with actions=mdp.actions",
                              argument=name, index=(s, a), value=True)


def validate_symbolic_policy(policy: Any, name: str = "policy") -> TabularSoftmax | LogLinear | Direct:
    """``policy`` when it is a symbolic parameterisation (TabularSoftmax, LogLinear or Direct)."""
    if not isinstance(policy, (TabularSoftmax, LogLinear, Direct)):
        raise ValidationError(f"{name} is a {type(policy).__name__}; expected a symbolic TabularSoftmax, "
                              "LogLinear or Direct", argument=name, value=type(policy).__name__)
    return policy
