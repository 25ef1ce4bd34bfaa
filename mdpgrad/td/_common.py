"""What the TD fields share: the weighting D, the chain and reward of each kind of value, D(γM − I).

Two kinds of values, one chain each (built in :mod:`mdpgrad._chains`)::

    values="q":  rows x = s·A + a,  M = P̃Π  (S·A, S·A),  reward r(s, a)
    values="v":  rows s,            M = P̃^π (S, S),      reward r^π(s)

P̃ has terminal rows and columns zeroed: the target bootstraps zero from a
terminal state (Sutton & Barto 2018, §3.4).  Terminal states pay no reward,
so the rewards need no mask.  The Jacobian of every expected TD(0) field is
D (γM − I) (Sutton & Barto 2018, §9.4, eq. 9.11 for its linear form).
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._chains import Matrix, chain_and_reward, masked_chain, pair_chain, stationary_distribution
from .._errors import ValidationError
from .._evaluation import evaluate
from .._linalg import Accuracy, rounding_unit, validate_accuracy
from .._model import MDP, validate_mdp
from .._policies import validate_policy
from .._validation import (
    as_real_array,
    check_choice,
    check_finite,
    check_memory,
    check_nonnegative,
    format_number,
)

__all__ = ["ValueKind", "Weighting", "WeightingKind", "as_values", "bellman_jacobian",
           "bellman_jacobian_error", "check_dense_square", "check_sparse_entries", "diagonal_weights",
           "policy_table", "resolve_weights", "resolve_weights_and_error", "value_chain", "weights_and_error"]

#: Action values Q(s, a) (rows x = s·A + a) or state values v(s).
ValueKind = Literal["q", "v"]

#: The named weightings of :func:`~mdpgrad.td.diagonal_weights`.
WeightingKind = Literal["identity", "occupancy", "stationary"]

#: A field's ``D=`` argument: None (the identity), a named weighting, or the weights themselves.
Weighting = WeightingKind | ArrayLike | None


def diagonal_weights(mdp: MDP, pi: ArrayLike, kind: WeightingKind | ArrayLike, *,
                     values: ValueKind = "q", accuracy: Accuracy = "refuse") -> np.ndarray:
    """The diagonal of the weighting D, over state-action pairs or states.

    Parameters
    ----------
    mdp : MDP
    pi : array_like, shape (S, A)
    kind : {"identity", "occupancy", "stationary"} or array_like
        "identity": D = I (the unweighted field); on a model with action sets
        and ``values="q"``, I on the available pairs and 0 on the others (an
        unavailable pair has no value to update).
        "occupancy": the on-policy discounted occupancy, μ(s, a) = d(s) π(a|s)
        (d for state values).
        "stationary": d_π(s) π(a|s) with d_π the stationary distribution of P^π
        (d_π for state values); episodic chains put it on terminal states.
        Raises ValidationError when P^π has no unique stationary law.
        An array: the weights themselves, shape (S, A) or (S·A,) for
        ``values="q"``, (S,) for ``values="v"``; finite and ≥ 0 (and 0 on the
        unavailable pairs of a model with action sets).
    values : {"q", "v"}
        Weight state-action pairs (x = s·A + a) or states.
    accuracy : {"refuse", "warn", "ignore"}
        Passed to the solve behind "occupancy" (:func:`~mdpgrad.evaluate`) or
        "stationary" (:func:`~mdpgrad.stationary_distribution`).

    Returns
    -------
    ndarray, shape (S·A,) or (S,)

    Notes
    -----
    The on-policy weightings make expected TD(0) a contraction in the
    D-norm (Tsitsiklis & Van Roy 1997, Lemma 1; Sutton & Barto 2018, §9.2).

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.td import diagonal_weights
    >>> P = np.array([[[0.9, 0.1]], [[0.3, 0.7]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.9)
    >>> diagonal_weights(mdp, np.ones((2, 1)), "stationary").round(12).tolist()   # d_π = (3/4, 1/4)
    [0.75, 0.25]
    """
    return weights_and_error(mdp, pi, kind, values=values, accuracy=accuracy)[0]


def weights_and_error(mdp: MDP, pi: ArrayLike, kind: WeightingKind | ArrayLike, *, values: ValueKind = "q",
                      accuracy: Accuracy = "refuse") -> tuple[np.ndarray, np.ndarray]:
    """:func:`diagonal_weights` and an entrywise bound on the error of each weight, shape like them.

    "identity" and given arrays are exact (bound 0).  "occupancy" and "stationary" inherit the error
    of the solve behind them: d = η/‖η‖₁ has ‖δd‖₁ ≤ 2‖δη‖₁/‖η‖₁ (first order) plus the rounding
    of the normalisation, with ‖δη‖₁ from ``Evaluation.error.eta``; the stationary d its own
    estimate (:func:`~mdpgrad.stationary_distribution`).  Each |δd(s)| ≤ ‖δd‖₁, and the weight
    d(s)π(a|s) of a pair has |δ| ≤ π(a|s)‖δd‖₁ + ε·d(s)π(a|s) (the rounding of the product).
    """
    mdp = validate_mdp(mdp)
    S, A = mdp.n_states, mdp.n_actions
    values = check_choice(values, "values", get_args(ValueKind))
    accuracy = validate_accuracy(accuracy)
    if isinstance(kind, str):
        kind = check_choice(kind, "kind", get_args(WeightingKind))
        table = policy_table(mdp, pi)
        n = S * A if values == "q" else S
        if kind == "identity":
            return _identity_weights(mdp, values), np.zeros(n)
        if kind == "occupancy":
            ev = evaluate(mdp, table, accuracy=accuracy)
            # evaluate always attaches its estimate; without one nothing is claimed (an infinite bound)
            err_eta = float(ev.error.eta) if ev.error is not None else np.inf
            err_d = 2.0 * err_eta / float(ev.eta.sum()) + rounding_unit(S)
            # a linear solve leaves ≈ −1e-21 where the occupancy is exactly 0
            w = np.clip(ev.mu.ravel() if values == "q" else ev.d, 0.0, None)
        else:
            d, err_d = stationary_distribution(chain_and_reward(mdp, table)[0], error=True, accuracy=accuracy)
            w = (d[:, None] * table).ravel() if values == "q" else d
        if values == "v":
            return w, np.full(S, err_d)
        return w, table.ravel() * err_d + float(np.finfo(float).eps) * w
    w = _weight_array(mdp, kind, values)
    return w, np.zeros_like(w)


def _weight_array(mdp: MDP, D: ArrayLike, values: ValueKind) -> np.ndarray:
    """Weights given as an array: finite, ≥ 0, of a shape that fits ``values``; flattened."""
    S, A = mdp.n_states, mdp.n_actions
    weights = as_real_array(D, "D")
    shapes = [(S, A), (S * A,)] if values == "q" else [(S,)]
    if weights.shape not in shapes:
        raise ValidationError(f"D has shape {weights.shape}; expected one of {shapes}",
                              argument="D", value=weights.shape)
    check_nonnegative(weights, "D", "a weight")
    if values == "q" and mdp.has_action_sets:
        bad = np.flatnonzero((weights.ravel() != 0) & ~mdp.actions.ravel())
        if bad.size:
            s, a = divmod(int(bad[0]), A)
            w = float(weights.ravel()[bad[0]])
            raise ValidationError(f"D weighs the pair (state {s}, action {a}) by {format_number(w)}, but "
                                  f"action {a} is unavailable in state {s} (mdp.actions[{s}, {a}] is False); "
                                  "expected 0", argument="D", index=(s, a), value=w)
    return weights.ravel()


def _identity_weights(mdp: MDP, values: ValueKind) -> np.ndarray:
    """D = I: ones, except 0 on the unavailable pairs of a model with action sets (``values="q"``)."""
    if values == "q":
        return mdp.actions.ravel().astype(float)
    return np.ones(mdp.n_states)


def resolve_weights(mdp: MDP, pi: np.ndarray | None, D: Weighting, values: ValueKind,
                    accuracy: Accuracy = "refuse") -> np.ndarray | None:
    """The diagonal of D for a field's ``D=`` argument; None (the identity) stays None.

    ``pi`` is None for fields without a policy (Q-learning): D must then be an array.
    """
    return resolve_weights_and_error(mdp, pi, D, values, accuracy)[0]


def resolve_weights_and_error(mdp: MDP, pi: np.ndarray | None, D: Weighting, values: ValueKind,
                              accuracy: Accuracy = "refuse") -> tuple[np.ndarray | None, np.ndarray | None]:
    """:func:`resolve_weights` and the entrywise error bound of :func:`weights_and_error` (None for None)."""
    if D is None:
        if values == "q" and mdp.has_action_sets:
            return _identity_weights(mdp, values), np.zeros(mdp.n_states * mdp.n_actions)
        return None, None
    if pi is not None:
        return weights_and_error(mdp, pi, D, values=values, accuracy=accuracy)
    if isinstance(D, str):
        raise ValidationError(f"D={D!r} needs a policy; pass the weights as an array", argument="D", value=D)
    w = _weight_array(mdp, D, values)
    return w, np.zeros_like(w)


def bellman_jacobian_error(M: Matrix, gamma: float, weights: np.ndarray | None,
                           weight_error: np.ndarray | None) -> Matrix:
    """An entrywise bound on the error of :func:`bellman_jacobian`: |δD|·|γM − I| + rounding.

    M's entries are products of P and π entries (one rounding each), then γM, −I and the row
    scaling by D add one rounding each: at most 4ε relative to |D|(γ|M| + I) (Higham 2002, §3.1).
    The error of the weights, ``weight_error`` (:func:`weights_and_error`), multiplies |γM − I|.

    Returns
    -------
    ndarray or csr_array, shape (n, n)
        Dense or sparse like M.
    """
    n = M.shape[0]
    w = np.ones(n) if weights is None else np.abs(weights)
    dw = np.zeros(n) if weight_error is None else weight_error
    unit = rounding_unit(2)
    if sp.issparse(M):
        absM = abs(sp.csr_array(M)) * gamma
        eye = sp.eye_array(n, format="csr")
        exact = abs(gamma * sp.csr_array(M) - eye)
        return sp.csr_array(sp.diags_array(dw) @ exact + sp.diags_array(unit * w) @ (absM + eye))
    absM = np.abs(M) * gamma
    absM[np.diag_indices(n)] += 1.0
    return dw[:, None] * np.abs(gamma * M - np.eye(n)) + (unit * w)[:, None] * absM


def value_chain(mdp: MDP, pi: np.ndarray, values: ValueKind) -> tuple[Matrix, np.ndarray]:
    """The chain M and the reward of one kind of value, see the module docstring.

    Parameters
    ----------
    mdp : MDP
    pi : ndarray, shape (S, A)
        A validated policy table.
    values : {"q", "v"}

    Returns
    -------
    M : ndarray or csr_array, shape (n, n)
        P̃Π (n = S·A) or P̃^π (n = S); sparse for sparse MDPs.
    reward : ndarray, shape (n,)
        r flattened, or r^π.
    """
    if values == "q":
        return pair_chain(mdp, pi), mdp.r.ravel()
    P_pi, r_pi = chain_and_reward(mdp, pi)
    return masked_chain(mdp, P_pi), r_pi


def bellman_jacobian(M: Matrix, gamma: float, weights: np.ndarray | None) -> Matrix:
    """D (γM − I), the Jacobian of an expected TD(0) field; D = I when ``weights`` is None.

    Parameters
    ----------
    M : ndarray or sparse, shape (n, n)
    gamma : float
    weights : ndarray, shape (n,), or None

    Returns
    -------
    ndarray or csr_array, shape (n, n)
        Dense or sparse like M.
    """
    n = M.shape[0]
    if sp.issparse(M):
        J = gamma * M - sp.eye_array(n, format="csr")
        return sp.csr_array(J if weights is None else sp.diags_array(weights) @ J)
    J = gamma * M - np.eye(n)
    return J if weights is None else weights[:, None] * J


def policy_table(mdp: MDP, pi: ArrayLike) -> np.ndarray:
    """One validated policy table, shape (S, A).

    The TD fields and verdicts take no batch: a stack of tables (..., S, A) is
    refused, whatever its contents, before any entry is read.
    """
    shape = np.shape(pi) if isinstance(pi, np.ndarray) else None
    if shape is not None and len(shape) > 2 and shape[-2:] == (mdp.n_states, mdp.n_actions):
        raise _batch_error(shape, mdp)
    table = validate_policy(pi, mdp.n_states, mdp.n_actions, actions=mdp.actions)
    if table.ndim != 2:
        raise _batch_error(table.shape, mdp)
    return table


def _batch_error(shape: tuple[int, ...], mdp: MDP) -> ValidationError:
    return ValidationError(f"pi has shape {shape}, a batch of policies; expected one table "
                           f"({mdp.n_states}, {mdp.n_actions}) (call once per policy)",
                           argument="pi", value=shape)


def check_dense_square(mdp: MDP, n: int, what: str) -> None:
    """Refuse, before allocating, a dense n × n float64 matrix of a dense MDP (sparse ones stay sparse)."""
    if not mdp.is_sparse:
        check_memory(8.0 * n * n, f"{what}, a dense {n} x {n} float64 matrix,", "mdp")


def check_sparse_entries(M: Matrix, name: str, nonnegative: bool = False) -> None:
    """Stored entries of a sparse matrix finite (and ≥ 0 if asked); else name the first bad (row, column)."""
    coo = sp.coo_array(M)
    bad = ~np.isfinite(coo.data)
    if nonnegative:
        bad |= coo.data < 0
    if bad.any():
        order = np.lexsort((coo.col[bad], coo.row[bad]))[0]
        i, j = int(coo.row[bad][order]), int(coo.col[bad][order])
        value = coo.data[bad][order].item()
        expected = "a finite number >= 0" if nonnegative else "a finite number"
        raise ValidationError(f"{name}[{i}, {j}] is {format_number(value)}; expected {expected}",
                              argument=name, index=(i, j), value=value)


def as_values(x: ArrayLike, shape: tuple[int, ...] | None, name: str) -> np.ndarray:
    """A finite array of the given shape (any when None), float64 or complex (complex steps pass through)."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "c":
        arr = x
    elif isinstance(x, (complex, np.complexfloating)):
        arr = np.asarray(x)
    else:
        arr = as_real_array(x, name, finite=False)
    if np.iscomplexobj(arr):
        check_finite(arr, name)
    else:
        arr = as_real_array(arr, name)
    if shape is not None and arr.shape != shape:
        raise ValidationError(f"{name} has shape {arr.shape}; expected {shape}", argument=name,
                              value=arr.shape)
    return arr
