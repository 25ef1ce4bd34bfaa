"""Policies: tables π(a|s) and parameterisations θ ↦ π_θ.

Every parameterisation implements the :class:`Policy` protocol:

* ``probabilities(theta)`` → π_θ, shape (..., S, A), leading axes of θ batched;
* ``prob_vjp(theta, w)`` → Σ_{s,a} w[s,a] ∇_θ π_θ(a|s), in θ's shape;
* ``log_prob_vjp(theta, w)`` → Σ_{s,a} w[s,a] ∇_θ log π_θ(a|s), in θ's shape.

The vector-Jacobian products never build the dense (S·A × n_params) Jacobian.
Identity checked by the tests: ``log_prob_vjp(θ, w) = prob_vjp(θ, w / π)`` and
both equal central finite differences of Σ w·π and Σ w·log π.

Parameterisations (Sutton & Barto 2018, §13.2; Agarwal et al. 2021, §3):

* :class:`TabularSoftmax`: θ of shape (S, A), π(a|s) ∝ exp θ[s, a];
  ∇_{θ[s,b]} log π(a|s) = 1[a = b] − π(b|s).
* :class:`LogLinear`: features φ of shape (S, A, k), π(a|s) ∝ exp φ(s,a)·θ;
  ∇log π(a|s) = φ(s,a) − Σ_b π(b|s) φ(s,b).
* :class:`Direct`: θ is the table π itself (shape (S, A)); ∂π(a|s)/∂θ[s,a] = 1.

Action sets.  Each parameterisation takes ``actions=``, a bool (S, A) mask of
the available actions (default: all).  The softmax then runs over the
available actions only: π(a|s) = 0 exactly for an unavailable a, whose logit
gets zero gradient (∂π/∂θ[s,a] = 0).  A policy learns the mask when it is
built (``TabularSoftmax(S, A, actions=mdp.actions)``); where it meets a
model (:func:`policy_on_model`), one that may give an unavailable action
positive probability is refused, except :class:`Direct`, whose θ is the table
itself: it takes the model's mask and refuses a table θ with mass on an
unavailable action.  Tables π are checked the same way
(``validate_policy(..., actions=)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike

from ._errors import ValidationError
from ._model import DEFAULT_ATOL, MDP
from ._validation import (
    as_real_array,
    check_integer,
    check_memory,
    check_plain_array,
    check_real,
    first_index,
    format_count,
    format_index,
    format_number,
)

__all__ = [
    "Direct",
    "LogLinear",
    "Policy",
    "TabularSoftmax",
    "epsilon_greedy_policy",
    "greedy_policy",
    "policy_on_model",
    "uniform_policy",
    "validate_actions",
    "validate_parameterisation",
    "validate_policy",
    "validate_theta",
]


@runtime_checkable
class Policy(Protocol):
    """What every parameterisation provides (see module docstring)."""

    @property
    def n_states(self) -> int: ...

    @property
    def n_actions(self) -> int: ...

    @property
    def param_shape(self) -> tuple[int, ...]: ...

    def probabilities(self, theta: np.ndarray) -> np.ndarray: ...

    def prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray: ...

    def log_prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray: ...


def validate_policy(pi: ArrayLike, n_states: int, n_actions: int, *, atol: float = DEFAULT_ATOL,
                    name: str = "pi", actions: np.ndarray | None = None) -> np.ndarray:
    """Validate a (batch of) row-stochastic table(s) of shape (..., S, A); return float64.

    With ``actions`` (a validated bool (S, A) mask, e.g. ``mdp.actions``) an
    unavailable action must have probability exactly 0.

    Raises :class:`ValidationError` naming the first bad row, e.g.
    ``pi[2, :] sums to 0.9; expected 1 within atol=1e-10``, or the first
    positive probability of an unavailable action.
    """
    # the fast path only for a plain ndarray: np.matrix would keep matrix semantics (``*`` a matrix
    # product) and a masked array would lose its mask; as_real_array converts or refuses them
    arr = pi.astype(float, copy=False) if type(pi) is np.ndarray and pi.dtype.kind in "biuf" \
        else as_real_array(pi, name, finite=False)
    if arr.ndim < 2 or arr.shape[-2:] != (n_states, n_actions):
        raise ValidationError(f"{name} has shape {arr.shape}; expected (..., {n_states}, {n_actions})",
                              argument=name, value=arr.shape)
    idx = first_index(~np.isfinite(arr) | (arr < 0))
    if idx is not None:
        raise ValidationError(f"{format_index(name, idx)} is {format_number(arr[idx])}; expected a "
                              "probability >= 0", argument=name, index=idx, value=float(arr[idx]))
    sums = row_sums(arr)
    idx = first_index(np.abs(sums - 1.0) > atol)
    if idx is not None:
        raise ValidationError(f"{format_index(name, idx, True)} sums to {format_number(sums[idx])}; "
                              f"expected 1 within atol={atol:g}", argument=name, index=idx,
                              value=float(sums[idx]))
    if actions is not None and not actions.all():
        check_unavailable(arr, actions, name)
    return arr


def check_unavailable(table: np.ndarray, actions: np.ndarray, name: str) -> None:
    """Refuse a table (..., S, A) with a non-zero (real part of an) entry on an unavailable action."""
    idx = first_index((np.real(table) != 0) & ~actions)
    if idx is not None:
        s, a = idx[-2], idx[-1]
        value = float(np.real(table[idx]))
        raise ValidationError(f"{format_index(name, idx)} is {format_number(value)}, but action "
                              f"{a} is unavailable in state {s} (actions[{s}, {a}] is False); expected 0",
                              argument=name, index=idx, value=value)


def validate_actions(actions: Any, n_states: int, n_actions: int) -> np.ndarray | None:
    """A read-only copy of the bool (S, A) mask ``actions`` (every state keeping an action), or None."""
    if actions is None:
        return None
    mask = MDP._validate_actions(actions, n_states, n_actions)        # the model owns the rule for masks
    mask.flags.writeable = False
    return mask.view()


def policy_on_model(policy: Policy, actions: np.ndarray, name: str = "policy") -> Policy:
    """``policy``, checked against the model's mask of available actions ``actions`` (S, A).

    A parameterisation whose own mask (``policy.actions``; none means every
    action) allows an action the model does not is refused: it would give
    that action positive probability.  :class:`Direct` without a mask takes
    the model's (its θ is the table, checked when read).  A stricter mask
    than the model's is fine.
    """
    own = getattr(policy, "actions", None)
    if isinstance(policy, Direct) and own is None:
        return policy if actions.all() else replace(policy, actions=actions)
    if actions.all():
        return policy
    allowed = np.ones(actions.shape, dtype=bool) if own is None else np.asarray(own, dtype=bool)
    idx = first_index(allowed & ~actions)
    if idx is not None:
        s, a = idx
        how = ("has no mask of available actions" if own is None
               else f"allows action {a} in state {s} ({name}.actions[{s}, {a}] is True)")
        raise ValidationError(f"{name} {how}, but action {a} is unavailable in state {s} "
                              f"(mdp.actions[{s}, {a}] is False): it would get positive probability; build "
                              f"the policy with actions=mdp.actions", argument=name, index=(s, a), value=True)
    return policy


def validate_parameterisation(policy: Any, name: str = "policy") -> Policy:
    """``policy`` when it provides the :class:`Policy` protocol; a table, a string or None is refused."""
    if not isinstance(policy, Policy):
        hint = (" (a table of probabilities is a policy table pi; wrap it with mdpgrad.Direct)"
                if isinstance(policy, np.ndarray) else "")
        raise ValidationError(f"{name} is a {type(policy).__name__}; expected a parameterisation such as "
                              f"mdpgrad.TabularSoftmax{hint}", argument=name, value=type(policy).__name__)
    return policy


def validate_theta(theta: ArrayLike, policy: Policy, name: str = "theta", *,
                   batch: bool = True) -> np.ndarray:
    """θ as a real, finite float array of shape (..., *policy.param_shape) (no batch axes if ``batch=False``).

    Complex θ (complex-step derivatives) is an internal matter: public functions refuse it here
    and call their complex-capable implementations directly.
    """
    th = as_real_array(theta, name)
    shape = tuple(policy.param_shape)
    ok = th.shape[th.ndim - len(shape):] == shape and th.ndim >= len(shape) if shape else True
    if not ok or (not batch and th.shape != shape):
        expected = f"({', '.join(map(str, shape))})" if not batch else f"(..., {', '.join(map(str, shape))})"
        raise ValidationError(f"{name} has shape {th.shape}; expected {expected}", argument=name,
                              value=th.shape)
    return th


#: Up to this many actions, reductions over the action axis combine its columns one by one:
#: numpy's reduction over a short contiguous last axis is several times slower (the max of a
#: (10⁷, 4) array: 0.43 s against 0.06 s).
SHORT_AXIS = 16


def reduce_actions(ufunc: np.ufunc, x: np.ndarray) -> np.ndarray:
    """``ufunc.reduce(x, axis=-1)``, for a short last axis column by column (left to right)."""
    n = x.shape[-1]
    if n == 0 or n > SHORT_AXIS:
        return ufunc.reduce(x, axis=-1)
    out = x[..., 0].copy()
    for j in range(1, n):
        ufunc(out, x[..., j], out=out)
    return out


def row_sums(x: np.ndarray) -> np.ndarray:
    """Σ_a x[..., a], added left to right whatever the length of the axis and the memory layout.

    numpy's reduction adds a contiguous row pairwise but a strided one sequentially, so the same
    row could sum to different last bits alone and inside a batch (or a transposed stack); a
    tolerance decision on the sum then depended on the batch.  Adding the columns one by one is
    the same sequence of roundings for every row.
    """
    out = np.array(x[..., 0], dtype=np.result_type(x.dtype, np.float64))
    for j in range(1, x.shape[-1]):
        out += x[..., j]
    return out


def _softmax(logits: np.ndarray, actions: np.ndarray | None = None) -> np.ndarray:
    """Softmax over the last axis; with a mask ``actions`` (S, A) over the available actions only.

    An unavailable action's probability is an exact 0 whatever its logit (complex
    ones included), so its logit has no influence.
    """
    if actions is None:
        shift = reduce_actions(np.maximum, logits)
    else:
        shift = reduce_actions(np.maximum, np.where(actions, np.real(logits), -np.inf))
        logits = np.where(actions, logits, shift[..., None])
    e = np.subtract(logits, shift[..., None], dtype=np.result_type(logits.dtype, np.float64))
    np.exp(e, out=e)
    if actions is not None:
        e *= actions
    e /= reduce_actions(np.add, e)[..., None]
    return e


def _masked(w: Any, actions: np.ndarray | None) -> np.ndarray:
    """``w`` with its weights on unavailable actions set to 0 (unchanged without a mask)."""
    w = np.asarray(w)
    return w if actions is None else w * actions


def set_actions(policy: Any, n_states: int, n_actions: int) -> None:
    """Validate a frozen policy's ``actions`` field in place; its ``_key`` field (which takes part in
    equality and hashing, the array itself cannot) becomes the mask's bytes."""
    mask = validate_actions(policy.actions, n_states, n_actions)
    object.__setattr__(policy, "actions", mask)
    object.__setattr__(policy, "_key", None if mask is None else mask.tobytes())


def _check_theta(theta: Any, shape: tuple[int, ...]) -> np.ndarray:
    check_plain_array(theta, "theta")
    th = np.asarray(theta)
    if th.shape[th.ndim - len(shape):] != shape or th.ndim < len(shape):
        raise ValidationError(f"theta has shape {th.shape}; expected (..., {', '.join(map(str, shape))})",
                              argument="theta", value=th.shape)
    return th


@dataclass(frozen=True)
class TableShaped:
    """Parameterisations whose θ is an (S, A) table (numeric and symbolic)."""

    n_states: int
    n_actions: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_states", check_integer(self.n_states, "n_states", min_value=1))
        object.__setattr__(self, "n_actions", check_integer(self.n_actions, "n_actions", min_value=1))

    @property
    def param_shape(self) -> tuple[int, int]:
        """(S, A)."""
        return (self.n_states, self.n_actions)


@dataclass(frozen=True)
class TabularSoftmax(TableShaped):
    """π(a|s) = exp θ[s,a] / Σ_b exp θ[s,b], θ of shape (S, A).

    With ``actions`` (bool (S, A)) the sums run over the available actions b
    only and π(a|s) = 0 for an unavailable a (whose θ[s, a] is ignored).

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import TabularSoftmax
    >>> pol = TabularSoftmax(2, 2)
    >>> pol.probabilities(np.zeros((2, 2))).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    >>> TabularSoftmax(2, 2, actions=np.array([[True, True], [False, True]])).probabilities(
    ...     np.zeros((2, 2))).tolist()
    [[0.5, 0.5], [0.0, 1.0]]
    """

    actions: np.ndarray | None = field(default=None, compare=False, repr=False)
    _key: bytes | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        set_actions(self, self.n_states, self.n_actions)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle and copy support: rebuilt through the constructor, so the mask is read-only again."""
        return (type(self), (self.n_states, self.n_actions, self.actions))

    def probabilities(self, theta: np.ndarray) -> np.ndarray:
        return _softmax(_check_theta(theta, self.param_shape), self.actions)

    def prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        # ∂π(a|s)/∂θ[s,b] = π(a|s)(1[a=b] − π(b|s))  ⇒  vjp[s,b] = π(b|s)(w[s,b] − Σ_a π(a|s) w[s,a])
        # (an unavailable b has π(b|s) = 0: its component is exactly 0)
        pi = self.probabilities(theta)
        return pi * (w - reduce_actions(np.add, pi * w)[..., None])

    def log_prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        # vjp[s,b] = w[s,b] − π(b|s) Σ_a w[s,a], the sum over available actions (log π(a|s) = −∞
        # for the others: their weights are dropped)
        pi = self.probabilities(theta)
        w = _masked(w, self.actions)
        return w - pi * reduce_actions(np.add, w)[..., None]

    def theta_from(self, pi: Any) -> np.ndarray:
        """Logits θ = log π for a table π positive on the available actions (one preimage of π).

        An unavailable action (zero probability) gets θ = 0.
        """
        arr = validate_policy(pi, self.n_states, self.n_actions, actions=self.actions)
        mask = np.ones(arr.shape, dtype=bool) if self.actions is None else self.actions
        idx = first_index((arr <= 0) & mask)
        if idx is not None:
            raise ValidationError(f"{format_index('pi', idx)} is {format_number(arr[idx])}; softmax needs "
                                  "every probability > 0", argument="pi", index=idx, value=float(arr[idx]))
        return np.log(np.where(mask, arr, 1.0))


class FeatureShaped:
    """The sizes of a log-linear policy read off its (S, A, k) feature array ``phi``."""

    phi: Any

    @property
    def n_states(self) -> int:
        """Number of states S."""
        return int(self.phi.shape[0])

    @property
    def n_actions(self) -> int:
        """Number of actions A."""
        return int(self.phi.shape[1])


@dataclass(frozen=True, eq=False)
class LogLinear(FeatureShaped):
    """π(a|s) ∝ exp(φ(s,a)·θ), features ``phi`` of shape (S, A, k), θ of shape (k,).

    With ``actions`` (bool (S, A)) the normalisation runs over the available
    actions only and π(a|s) = 0 for an unavailable a (its φ(s, a) is ignored).

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import LogLinear
    >>> phi = np.zeros((2, 2, 1)); phi[:, 1, 0] = 1.0
    >>> pol = LogLinear(phi)
    >>> np.round(pol.probabilities(np.array([np.log(3.0)])), 3).tolist()
    [[0.25, 0.75], [0.25, 0.75]]
    """

    phi: np.ndarray
    actions: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        phi = np.array(as_real_array(self.phi, "phi"))     # an owned copy
        if phi.ndim != 3 or 0 in phi.shape:
            raise ValidationError(f"phi has shape {phi.shape}; expected (S, A, k) with S, A, k >= 1",
                                  argument="phi", value=phi.shape)
        phi.flags.writeable = False
        object.__setattr__(self, "phi", phi.view())    # a view of a read-only base stays read-only
        object.__setattr__(self, "actions", validate_actions(self.actions, phi.shape[0], phi.shape[1]))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle and copy support: rebuilt through the constructor, so ``phi`` is read-only again."""
        return (LogLinear, (self.phi, self.actions))

    @property
    def param_shape(self) -> tuple[int, ...]:
        return (int(self.phi.shape[2]),)

    def probabilities(self, theta: np.ndarray) -> np.ndarray:
        th = _check_theta(theta, self.param_shape)
        return _softmax(np.einsum("sak,...k->...sa", self.phi, th), self.actions)

    def _contract(self, c: np.ndarray) -> np.ndarray:
        return np.einsum("...sa,sak->...k", c, self.phi)

    def prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        pi = self.probabilities(theta)
        return self._contract(pi * (w - np.sum(pi * w, axis=-1, keepdims=True)))

    def log_prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        # the sum over available actions only (as for TabularSoftmax.log_prob_vjp)
        pi = self.probabilities(theta)
        w = _masked(w, self.actions)
        return self._contract(w - pi * np.sum(w, axis=-1, keepdims=True))


@dataclass(frozen=True)
class Direct(TableShaped):
    """θ is the table π itself, shape (S, A); ∂π(a|s)/∂θ[s',b] = 1[(s,a) = (s',b)].

    ``probabilities`` returns θ unchanged and does not project onto the simplex:
    derivatives are those of the closed forms in the entries of π, e.g.
    ∂J/∂π(a|s) = η(s) q(s, a) (Agarwal et al. 2021, Lemma 4.1 form).

    With ``actions`` (bool (S, A)) the entries of unavailable actions are not
    parameters: a θ with a non-zero one is refused (naming the state, action
    and value), and their derivatives are 0.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import Direct
    >>> Direct(1, 2).log_prob_vjp(np.array([[0.25, 0.75]]), np.array([[1.0, 3.0]])).tolist()
    [[4.0, 4.0]]
    """

    actions: np.ndarray | None = field(default=None, compare=False, repr=False)
    _key: bytes | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        set_actions(self, self.n_states, self.n_actions)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle and copy support: rebuilt through the constructor, so the mask is read-only again."""
        return (type(self), (self.n_states, self.n_actions, self.actions))

    def probabilities(self, theta: np.ndarray) -> np.ndarray:
        th = _check_theta(theta, self.param_shape)
        th = th.astype(np.result_type(th.dtype, np.float64))  # complex θ stays complex
        if self.actions is None:
            return th
        check_unavailable(th, self.actions, "theta")
        return th * self.actions           # imaginary steps on unavailable entries dropped too

    def prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        w = _masked(w, self.actions)
        return np.broadcast_to(w.astype(np.result_type(w.dtype, np.float64)), np.shape(theta)).copy()

    def log_prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        pi = self.probabilities(theta)
        w = np.asarray(w, dtype=float)
        idx = first_index((pi == 0) & (w != 0))
        if idx is not None:
            raise ValidationError(f"log pi is undefined where {format_index('pi', idx)} = 0 but the weight "
                                  f"{format_index('w', idx)} is {format_number(w[idx])}", argument="w",
                                  index=idx, value=float(w[idx]))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(pi > 0, w / np.where(pi > 0, pi, 1.0), 0.0)


def uniform_policy(n_states: int, n_actions: int, *, actions: Any = None) -> np.ndarray:
    """The uniform table π(a|s) = 1/A, shape (S, A), or uniform over each state's available actions.

    With ``actions``, π(a|s) is one over the number of available actions of s for an available a,
    and 0 elsewhere.

    Parameters
    ----------
    n_states, n_actions : int
        S and A.
    actions : array_like of bool, shape (S, A), optional
        The available actions (``mdp.actions``); default: every action.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import uniform_policy
    >>> uniform_policy(2, 2, actions=np.array([[True, True], [False, True]])).tolist()
    [[0.5, 0.5], [0.0, 1.0]]
    """
    n_states = check_integer(n_states, "n_states", min_value=1)
    n_actions = check_integer(n_actions, "n_actions", min_value=1)
    check_memory(8 * n_states * n_actions, f"a ({format_count(n_states)}, {format_count(n_actions)}) policy "
                 "table", "n_states")
    mask = validate_actions(actions, n_states, n_actions)
    if mask is None:
        return np.full((n_states, n_actions), 1.0 / n_actions)
    return mask / mask.sum(axis=1, keepdims=True)


def _action_values(q: ArrayLike) -> np.ndarray:
    """q as a real, finite (..., S, A) array with at least one state and one action."""
    arr = as_real_array(q, "q")
    if arr.ndim < 2 or 0 in arr.shape:
        raise ValidationError(f"q has shape {arr.shape}; expected (S, A) with S, A >= 1", argument="q",
                              value=arr.shape)
    return arr


def greedy_policy(q: ArrayLike, *, actions: Any = None, atol: float = 0.0) -> np.ndarray:
    """Deterministic table choosing argmax_a q(s, a), shape (..., S, A).

    Tie rule: every action a with q(s, a) ≥ max_b q(s, b) − ``atol`` is tied with
    the maximum, and the lowest index among them is chosen.  The default
    ``atol=0`` ties only exact equals; a positive one makes the choice stable
    under rounding (two values computed along different routes).

    Parameters
    ----------
    q : array_like, shape (..., S, A)
        Action values.
    actions : array_like of bool, shape (S, A), optional
        The available actions; the maximum and the choice run over them only (q of an
        unavailable action is ignored).  Default: every action.
    atol : float, optional
        The tie tolerance (default 0).

    Examples
    --------
    >>> from mdpgrad import greedy_policy
    >>> greedy_policy([[1.0, 1.0 + 1e-12]]).tolist(), greedy_policy([[1.0, 1.0 + 1e-12]], atol=1e-9).tolist()
    ([[0.0, 1.0]], [[1.0, 0.0]])
    """
    q = _action_values(q)
    atol = check_real(atol, "atol", min_value=0.0)
    mask = validate_actions(actions, q.shape[-2], q.shape[-1])
    avail = np.ones(q.shape[-2:], dtype=bool) if mask is None else mask
    best = reduce_actions(np.maximum, np.where(avail, q, -np.inf))
    tied = avail & (q >= best[..., None] - atol)
    pi = np.zeros_like(q)
    np.put_along_axis(pi, np.argmax(tied, axis=-1)[..., None], 1.0, axis=-1)
    return pi


def epsilon_greedy_policy(q: ArrayLike, epsilon: float, *, actions: Any = None,
                          atol: float = 0.0) -> np.ndarray:
    """π = (1 − ε)·greedy(q) + ε·uniform, shape (..., S, A), both over the available ``actions``.

    Parameters
    ----------
    q : array_like, shape (..., S, A)
        Action values; the greedy action of each state follows :func:`greedy_policy`'s tie rule.
    epsilon : float
        Weight 0 ≤ ε ≤ 1 of the uniform policy.
    actions : array_like of bool, shape (S, A), optional
        The available actions; default: every action.
    atol : float, optional
        The greedy choice's tie tolerance (default 0).
    """
    epsilon = check_real(epsilon, "epsilon", min_value=0.0, max_value=1.0)
    q = _action_values(q)
    mask = validate_actions(actions, q.shape[-2], q.shape[-1])
    uniform = 1.0 / q.shape[-1] if mask is None else mask / mask.sum(axis=1, keepdims=True)
    return (1.0 - epsilon) * greedy_policy(q, actions=mask, atol=atol) + epsilon * uniform
