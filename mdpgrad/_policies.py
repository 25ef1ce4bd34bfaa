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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike

from ._errors import ValidationError
from ._model import DEFAULT_ATOL
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
    "uniform_policy",
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
                    name: str = "pi") -> np.ndarray:
    """Validate a (batch of) row-stochastic table(s) of shape (..., S, A); return float64.

    Raises :class:`ValidationError` naming the first bad row, e.g.
    ``pi[2, :] sums to 0.9; expected 1 within atol=1e-10``.
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
    return arr


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


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.subtract(logits, reduce_actions(np.maximum, logits)[..., None],
                    dtype=np.result_type(logits.dtype, np.float64))
    np.exp(e, out=e)
    e /= reduce_actions(np.add, e)[..., None]
    return e


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

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import TabularSoftmax
    >>> pol = TabularSoftmax(2, 2)
    >>> pol.probabilities(np.zeros((2, 2))).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """

    def probabilities(self, theta: np.ndarray) -> np.ndarray:
        return _softmax(_check_theta(theta, self.param_shape))

    def prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        # ∂π(a|s)/∂θ[s,b] = π(a|s)(1[a=b] − π(b|s))  ⇒  vjp[s,b] = π(b|s)(w[s,b] − Σ_a π(a|s) w[s,a])
        pi = self.probabilities(theta)
        return pi * (w - reduce_actions(np.add, pi * w)[..., None])

    def log_prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        # vjp[s,b] = w[s,b] − π(b|s) Σ_a w[s,a]
        pi = self.probabilities(theta)
        return w - pi * reduce_actions(np.add, np.asarray(w))[..., None]

    def theta_from(self, pi: Any) -> np.ndarray:
        """Logits θ = log π for a strictly positive table π (one preimage of π)."""
        arr = validate_policy(pi, self.n_states, self.n_actions)
        idx = first_index(arr <= 0)
        if idx is not None:
            raise ValidationError(f"{format_index('pi', idx)} is {format_number(arr[idx])}; softmax needs "
                                  "every probability > 0", argument="pi", index=idx, value=float(arr[idx]))
        return np.log(arr)


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

    def __post_init__(self) -> None:
        phi = np.array(as_real_array(self.phi, "phi"))     # an owned copy
        if phi.ndim != 3 or 0 in phi.shape:
            raise ValidationError(f"phi has shape {phi.shape}; expected (S, A, k) with S, A, k >= 1",
                                  argument="phi", value=phi.shape)
        phi.flags.writeable = False
        object.__setattr__(self, "phi", phi.view())    # a view of a read-only base stays read-only

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle and copy support: rebuilt through the constructor, so ``phi`` is read-only again."""
        return (LogLinear, (self.phi,))

    @property
    def param_shape(self) -> tuple[int, ...]:
        return (int(self.phi.shape[2]),)

    def probabilities(self, theta: np.ndarray) -> np.ndarray:
        th = _check_theta(theta, self.param_shape)
        return _softmax(np.einsum("sak,...k->...sa", self.phi, th))

    def _contract(self, c: np.ndarray) -> np.ndarray:
        return np.einsum("...sa,sak->...k", c, self.phi)

    def prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        pi = self.probabilities(theta)
        return self._contract(pi * (w - np.sum(pi * w, axis=-1, keepdims=True)))

    def log_prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        pi = self.probabilities(theta)
        return self._contract(w - pi * np.sum(w, axis=-1, keepdims=True))


@dataclass(frozen=True)
class Direct(TableShaped):
    """θ is the table π itself, shape (S, A); ∂π(a|s)/∂θ[s',b] = 1[(s,a) = (s',b)].

    ``probabilities`` returns θ unchanged and does not project onto the simplex:
    derivatives are those of the closed forms in the entries of π, e.g.
    ∂J/∂π(a|s) = η(s) q(s, a) (Agarwal et al. 2021, Lemma 4.1 form).

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import Direct
    >>> Direct(1, 2).log_prob_vjp(np.array([[0.25, 0.75]]), np.array([[1.0, 3.0]])).tolist()
    [[4.0, 4.0]]
    """

    def probabilities(self, theta: np.ndarray) -> np.ndarray:
        th = _check_theta(theta, self.param_shape)
        return th.astype(np.result_type(th.dtype, np.float64))  # complex θ stays complex

    def prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        w = np.asarray(w)
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


def uniform_policy(n_states: int, n_actions: int) -> np.ndarray:
    """The table π(a|s) = 1/A, shape (S, A).

    Parameters
    ----------
    n_states, n_actions : int
        S and A.
    """
    n_states = check_integer(n_states, "n_states", min_value=1)
    n_actions = check_integer(n_actions, "n_actions", min_value=1)
    check_memory(8 * n_states * n_actions, f"a ({format_count(n_states)}, {format_count(n_actions)}) policy "
                 "table", "n_states")
    return np.full((n_states, n_actions), 1.0 / n_actions)


def _action_values(q: ArrayLike) -> np.ndarray:
    """q as a real, finite (..., S, A) array with at least one state and one action."""
    arr = as_real_array(q, "q")
    if arr.ndim < 2 or 0 in arr.shape:
        raise ValidationError(f"q has shape {arr.shape}; expected (S, A) with S, A >= 1", argument="q",
                              value=arr.shape)
    return arr


def greedy_policy(q: ArrayLike) -> np.ndarray:
    """Deterministic table choosing argmax_a q(s, a) (lowest index on ties), shape (S, A).

    Parameters
    ----------
    q : array_like, shape (S, A)
        Action values.
    """
    q = _action_values(q)
    pi = np.zeros_like(q)
    np.put_along_axis(pi, np.argmax(q, axis=-1)[..., None], 1.0, axis=-1)
    return pi


def epsilon_greedy_policy(q: ArrayLike, epsilon: float) -> np.ndarray:
    """π = (1 − ε)·greedy(q) + ε·uniform, shape (S, A).

    Parameters
    ----------
    q : array_like, shape (S, A)
        Action values; the greedy action of each state is its argmax (lowest index on ties).
    epsilon : float
        Weight 0 ≤ ε ≤ 1 of the uniform policy.
    """
    epsilon = check_real(epsilon, "epsilon", min_value=0.0, max_value=1.0)
    q = _action_values(q)
    return (1.0 - epsilon) * greedy_policy(q) + epsilon / q.shape[-1]
