"""Expected tabular TD(0) update fields, their exact Jacobians, and when they are gradients.

Fields (Sutton & Barto 2018, §6.1, §6.4, §6.5; the footnote of the seed essay)::

    action values:   u(Q) = D (r + γ P Π Q − Q)        Jacobian  D (γ P Π − I)
    state values:    u(v) = D (r^π + γ P^π v − v)       Jacobian  D (γ P^π − I)
    Q-learning:      u(Q) = D (r + γ P max_a Q − Q)     Jacobian  D (γ P Π_greedy(Q) − I)

with D a diagonal weighting (:func:`diagonal_weights`).  Episodes stop at terminal
states, so the target bootstraps zero from them: P is used with the columns of
terminal states zeroed (and u(Q)(t, a) = −D Q(t, a) there, which pulls the
unused values to 0).  Without terminal states this is exactly the formula above.

A C¹ field is a gradient only if its Jacobian is symmetric.  The off-diagonal
entries are γ D_x (PΠ)[x, y], so u is a gradient iff γ = 0 or D P Π satisfies
detailed balance, D_x (PΠ)[x, y] = D_y (PΠ)[y, x] for all x ≠ y (Ollivier 2018:
TD is a gradient for reversible chains weighted by their stationary law).
:func:`td_symmetry` reports that verdict with the pair that breaks it.

Identities checked by the tests: the Jacobians equal the columns of u(Q + e_x)
− u(Q) (the fields are affine); the verdict equals a direct pairwise
detailed-balance test; the Q-learning Jacobian at a tie-free point equals the
TD Jacobian of the greedy policy; dense and sparse MDPs agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._chains import chain_and_reward, masked_chain, policy_matrix, stationary_distribution
from .._errors import ValidationError
from .._evaluation import evaluate
from .._model import MDP
from .._policies import greedy_policy, validate_policy
from ..fields._symmetry import SYMMETRY_RTOL, SymmetryVerdict, symmetry_verdict

__all__ = [
    "QLearningJacobian",
    "TDSymmetry",
    "pair_chain",
    "q_learning_jacobian",
    "q_learning_update",
    "reversibility_verdict",
    "td_jacobian",
    "td_jacobian_v",
    "td_symmetry",
    "td_update",
    "td_update_v",
    "diagonal_weights",
]

_KINDS = ("identity", "occupancy", "stationary")


# ---------------------------------------------------------------------------
# weightings and chains
# ---------------------------------------------------------------------------
def diagonal_weights(mdp: MDP, pi: Any, kind: Any, *, values: str = "q") -> np.ndarray:
    """The diagonal of the weighting D, over state-action pairs or states.

    Parameters
    ----------
    mdp : MDP
    pi : ndarray, shape (S, A)
    kind : {"identity", "occupancy", "stationary"} or array_like
        "identity": D = I (the footnote's unweighted field).
        "occupancy": the on-policy discounted occupancy, μ(s, a) = d(s) π(a|s)
        (d for state values).
        "stationary": d_π(s) π(a|s) with d_π the stationary distribution of P^π
        (d_π for state values); episodic chains put it on terminal states.
        Raises ValidationError when P^π has no unique stationary law.
        An array: the weights themselves, shape (S, A) or (S·A,) for
        ``values="q"``, (S,) for ``values="v"``; finite and ≥ 0.
    values : {"q", "v"}
        Weight state-action pairs (x = s·A + a) or states.

    Returns
    -------
    ndarray, shape (S·A,) or (S,)

    Examples
    --------
    >>> P = np.array([[[0.9, 0.1]], [[0.3, 0.7]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.9)
    >>> diagonal_weights(mdp, np.ones((2, 1)), "stationary").round(12).tolist()   # d_π = (3/4, 1/4)
    [0.75, 0.25]
    """
    S, A = mdp.n_states, mdp.n_actions
    if values not in ("q", "v"):
        raise ValidationError(f"values is {values!r}; expected 'q' or 'v'", argument="values", value=values)
    if isinstance(kind, str):
        if kind not in _KINDS:
            raise ValidationError(f"kind is {kind!r}; expected one of {_KINDS} or an array",
                                  argument="kind", value=kind)
        pi = validate_policy(pi, S, A)
        if kind == "identity":
            return np.ones(S * A if values == "q" else S)
        if kind == "occupancy":
            ev = evaluate(mdp, pi)
            # a linear solve leaves ≈ −1e-21 where the occupancy is exactly 0
            return np.clip(ev.mu.ravel() if values == "q" else ev.d, 0.0, None)
        d = stationary_distribution(chain_and_reward(mdp, pi)[0])
        return (d[:, None] * pi).ravel() if values == "q" else d
    arr = np.asarray(kind, dtype=float)
    shapes = [(S, A), (S * A,)] if values == "q" else [(S,)]
    if arr.shape not in shapes:
        raise ValidationError(f"weighting has shape {arr.shape}; expected one of {shapes}",
                              argument="D", value=arr.shape)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValidationError(f"D{list(idx)} is {arr[idx]!r}; expected a finite weight >= 0",
                              argument="D", index=idx, value=float(arr[idx]))
    return arr.ravel().copy()


def _resolve(mdp: MDP, pi: np.ndarray | None, D: Any, values: str) -> np.ndarray | None:
    if D is None:
        return None
    if isinstance(D, str) and pi is None:
        raise ValidationError(f"D={D!r} needs a policy; pass the weights as an array",
                              argument="D", value=D)
    return diagonal_weights(mdp, pi, D, values=values)


def _keep(mdp: MDP) -> np.ndarray:
    return (~mdp.terminal).astype(float)


def _masked_P(mdp: MDP) -> Any:
    """P in (S·A, S) form with terminal next states and terminal rows zeroed (P̃)."""
    A = mdp.n_actions
    keep = _keep(mdp)
    if not mdp.terminal.any():
        return mdp.P_flat
    if mdp.is_sparse:
        return sp.csr_array(sp.diags_array(np.repeat(keep, A)) @ mdp.P @ sp.diags_array(keep))
    return np.repeat(keep, A)[:, None] * mdp.P_flat * keep[None, :]


def pair_chain(mdp: MDP, pi: Any) -> Any:
    """The state-action chain P̃ Π, shape (S·A, S·A): (P̃Π)[s·A+a, s'·A+a'] = P̃(s'|s,a) π(a'|s').

    Dense for dense MDPs, ``csr_array`` for sparse ones (nnz = nnz(P)·A).
    P̃ has terminal rows and columns zeroed (episodes stop there).
    """
    S, A = mdp.n_states, mdp.n_actions
    pi = validate_policy(pi, S, A)
    Pm = _masked_P(mdp)
    if mdp.is_sparse:
        return sp.csr_array(Pm @ policy_matrix(pi))
    return (Pm[:, :, None] * pi[None, :, :]).reshape(S * A, S * A)


def _state_chain_masked(mdp: MDP, pi: np.ndarray) -> Any:
    return masked_chain(mdp, chain_and_reward(mdp, pi)[0])


def _jac(M: Any, gamma: float, Dd: np.ndarray | None) -> Any:
    n = M.shape[0]
    if sp.issparse(M):
        J = gamma * M - sp.eye_array(n, format="csr")
        return sp.csr_array(J if Dd is None else sp.diags_array(Dd) @ J)
    J = gamma * M - np.eye(n)
    return J if Dd is None else Dd[:, None] * J


def _as_values(x: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    arr = np.asarray(x)
    if not np.iscomplexobj(arr):
        arr = arr.astype(float)
    if arr.shape != shape:
        raise ValidationError(f"{name} has shape {arr.shape}; expected {shape}", argument=name,
                              value=arr.shape)
    return arr


# ---------------------------------------------------------------------------
# update fields and Jacobians
# ---------------------------------------------------------------------------
def td_update(mdp: MDP, pi: Any, Q: Any, *, D: Any = None) -> np.ndarray:
    """Expected TD(0) update for action values, u(Q) = D (r + γ P Π Q − Q).

    Parameters
    ----------
    mdp : MDP
    pi : ndarray, shape (S, A)
        The policy whose values are learned (Expected-SARSA target Σ_a' π Q).
    Q : ndarray, shape (S, A)
        Real or complex (complex input passes through, for complex-step tests).
    D : None, str or array_like, optional
        Weighting (see :func:`diagonal_weights`); None is the identity.

    Returns
    -------
    ndarray, shape (S, A)

    Notes
    -----
    Sutton & Barto 2018, §6.4 and §6.6; terminal next states bootstrap zero.

    Examples
    --------
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])       # a 2-cycle, one action
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.5)
    >>> td_update(mdp, np.ones((2, 1)), np.zeros((2, 1))).tolist()
    [[1.0], [0.0]]
    """
    S, A = mdp.n_states, mdp.n_actions
    pi = validate_policy(pi, S, A)
    Q = _as_values(Q, (S, A), "Q")
    Dd = _resolve(mdp, pi, D, "q")
    vQ = np.sum(pi * Q, axis=1) * _keep(mdp)
    target = mdp.r + mdp.gamma * (mdp.P_flat @ vQ).reshape(S, A) * _keep(mdp)[:, None]
    u = target - Q
    return u if Dd is None else Dd.reshape(S, A) * u


def td_jacobian(mdp: MDP, pi: Any, *, D: Any = None) -> Any:
    """Jacobian of :func:`td_update`, ∂u/∂Q = D (γ P Π − I), shape (S·A, S·A).

    Rows and columns are state-action pairs x = s·A + a.  Dense for dense
    MDPs, ``csr_array`` for sparse ones (never densified).

    Examples
    --------
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.5)
    >>> td_jacobian(mdp, np.ones((2, 1))).tolist()
    [[-1.0, 0.5], [0.5, -1.0]]
    """
    pi = validate_policy(pi, mdp.n_states, mdp.n_actions)
    return _jac(pair_chain(mdp, pi), mdp.gamma, _resolve(mdp, pi, D, "q"))


def td_update_v(mdp: MDP, pi: Any, v: Any, *, D: Any = None) -> np.ndarray:
    """Expected TD(0) update for state values, u(v) = D (r^π + γ P^π v − v).

    Parameters
    ----------
    mdp : MDP
    pi : ndarray, shape (S, A)
    v : ndarray, shape (S,)
    D : None, str or array_like, optional
        Weighting over states (see :func:`diagonal_weights` with ``values="v"``).

    Returns
    -------
    ndarray, shape (S,)

    Notes
    -----
    Sutton & Barto 2018, §6.1 (TD(0) prediction).

    Examples
    --------
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.5)
    >>> td_update_v(mdp, np.ones((2, 1)), np.array([2.0, 0.0])).tolist()   # 1 + ½·0 − 2, 0 + ½·2 − 0
    [-1.0, 1.0]
    """
    S, A = mdp.n_states, mdp.n_actions
    pi = validate_policy(pi, S, A)
    v = _as_values(v, (S,), "v")
    Dd = _resolve(mdp, pi, D, "v")
    P_pi, r_pi = chain_and_reward(mdp, pi)
    keep = _keep(mdp)
    u = r_pi + mdp.gamma * keep * (P_pi @ (keep * v)) - v
    return u if Dd is None else Dd * u


def td_jacobian_v(mdp: MDP, pi: Any, *, D: Any = None) -> Any:
    """Jacobian of :func:`td_update_v`, D (γ P^π − I), shape (S, S); sparse for sparse MDPs.

    Examples
    --------
    >>> P = np.array([[[0.9, 0.1]], [[0.3, 0.7]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=1.0 / 3.0)
    >>> td_jacobian_v(mdp, np.ones((2, 1)), D="stationary").round(12).tolist()
    [[-0.525, 0.025], [0.025, -0.191666666667]]
    """
    pi = validate_policy(pi, mdp.n_states, mdp.n_actions)
    return _jac(_state_chain_masked(mdp, pi), mdp.gamma, _resolve(mdp, pi, D, "v"))


# ---------------------------------------------------------------------------
# Q-learning
# ---------------------------------------------------------------------------
def q_learning_update(mdp: MDP, Q: Any, *, D: Any = None) -> np.ndarray:
    """Expected Q-learning update, u(Q) = D (r + γ P max_a' Q(·, a') − Q), shape (S, A).

    D is None (identity) or an array of weights (e.g. ``diagonal_weights(mdp, b,
    "occupancy")`` for a behaviour policy b).  Watkins 1989; Sutton & Barto
    2018, §6.5.

    Examples
    --------
    >>> P = np.array([[[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=0.5)
    >>> q_learning_update(mdp, np.array([[0.0, 2.0], [4.0, 0.0]])).tolist()
    [[2.0, 0.0], [-2.0, 2.0]]
    """
    S, A = mdp.n_states, mdp.n_actions
    Q = _as_values(Q, (S, A), "Q")
    if np.iscomplexobj(Q):
        raise ValidationError("Q is complex; max_a Q is not analytic, pass a real Q", argument="Q")
    Dd = _resolve(mdp, None, D, "q")
    keep = _keep(mdp)
    target = mdp.r + mdp.gamma * (mdp.P_flat @ (Q.max(axis=1) * keep)).reshape(S, A) * keep[:, None]
    u = target - Q
    return u if Dd is None else Dd.reshape(S, A) * u


@dataclass(frozen=True, eq=False)
class QLearningJacobian:
    """The Jacobian of the Q-learning field at one point, with its ties.

    Attributes
    ----------
    jacobian : ndarray or sparse, shape (S·A, S·A)
        D (γ P̃ Π_g − I) for the greedy table Π_g (lowest index on ties).
    greedy : ndarray, shape (S, A)
        The greedy table used.
    tied_states : tuple of int
        Non-terminal states whose maximum is attained by several actions
        (within ``tie_atol``) and which some pair can move to: max is not
        differentiable there, and ``jacobian`` is one element of the
        generalised (Clarke) Jacobian.
    """

    jacobian: Any
    greedy: np.ndarray
    tied_states: tuple[int, ...]

    @property
    def differentiable(self) -> bool:
        """No reachable ties: the field is differentiable at Q."""
        return not self.tied_states


def q_learning_jacobian(mdp: MDP, Q: Any, *, D: Any = None, tie_atol: float = 0.0) -> QLearningJacobian:
    """Jacobian of :func:`q_learning_update` at Q, ties reported.

    Examples
    --------
    >>> P = np.array([[[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=0.5)
    >>> qj = q_learning_jacobian(mdp, np.array([[0.0, 2.0], [4.0, 4.0]]))
    >>> qj.tied_states, qj.greedy[1].tolist()
    ((1,), [1.0, 0.0])
    """
    S, A = mdp.n_states, mdp.n_actions
    Q = _as_values(Q, (S, A), "Q")
    g = greedy_policy(Q)
    Dd = _resolve(mdp, None, D, "q")
    near = Q >= Q.max(axis=1, keepdims=True) - tie_atol
    reach = np.asarray(abs(mdp.P_flat).sum(axis=0)).ravel() > 0
    tied = tuple(int(s) for s in np.flatnonzero((near.sum(axis=1) > 1) & reach & ~mdp.terminal))
    return QLearningJacobian(_jac(pair_chain(mdp, g), mdp.gamma, Dd), g, tied)


# ---------------------------------------------------------------------------
# symmetry verdicts with the detailed-balance explanation
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class TDSymmetry:
    """Is the TD field a gradient?  The Jacobian's symmetry read as detailed balance.

    Attributes
    ----------
    symmetry : SymmetryVerdict
        Of the Jacobian D (γ M − I), M = P̃Π (pairs) or P̃^π (states).
    weights : ndarray
        The diagonal of D.
    flows : tuple of float or None
        (D_x M[x, y], D_y M[y, x]) at the witness pair: detailed balance asks
        them to be equal.
    explanation : str
    """

    symmetry: SymmetryVerdict
    weights: np.ndarray
    flows: tuple[float, float] | None
    explanation: str

    @property
    def holds(self) -> bool:
        """The Jacobian is symmetric (the affine field is then a gradient)."""
        return self.symmetry.holds


def _entry(M: Any, i: int, j: int) -> float:
    return float(M[i, j])


def td_symmetry(mdp: MDP, pi: Any, *, D: Any = None, values: str = "q",
                rtol: float = SYMMETRY_RTOL) -> TDSymmetry:
    """Symmetry verdict of the TD Jacobian, explained by detailed balance of D P Π.

    Parameters
    ----------
    mdp : MDP
    pi : ndarray, shape (S, A)
    D : None, str or array_like, optional
        Weighting (:func:`diagonal_weights`); None is the identity.
    values : {"q", "v"}
        Action-value field (pairs x = s·A + a) or state-value field.
    rtol : float, optional
        Passed to :func:`~mdpgrad.fields.symmetry_verdict`.

    Returns
    -------
    TDSymmetry

    Notes
    -----
    J[x, y] = γ D_x M[x, y] for x ≠ y, so J is symmetric iff γ = 0 or
    D_x M[x, y] = D_y M[y, x] for all pairs: detailed balance (Ollivier 2018).

    Examples
    --------
    The state-value field of any 2-state chain weighted by its stationary law
    is a gradient (d_0 P_01 = d_1 P_10 is stationarity itself):

    >>> P = np.array([[[0.9, 0.1]], [[0.3, 0.7]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.9)
    >>> td_symmetry(mdp, np.ones((2, 1)), D="stationary", values="v").holds
    True
    """
    S, A = mdp.n_states, mdp.n_actions
    pi = validate_policy(pi, S, A)
    if values not in ("q", "v"):
        raise ValidationError(f"values is {values!r}; expected 'q' or 'v'", argument="values", value=values)
    M = pair_chain(mdp, pi) if values == "q" else _state_chain_masked(mdp, pi)
    n = M.shape[0]
    Dd = _resolve(mdp, pi, D, values)
    w = np.ones(n) if Dd is None else Dd
    J = _jac(M, mdp.gamma, Dd)
    ver = symmetry_verdict(J, rtol=rtol, n_actions=A if values == "q" else 1)
    if ver.witness is None:
        return TDSymmetry(ver, w, None, "a single value: every 1-D field is a gradient")
    x, y = ver.witness
    flows = (w[x] * _entry(M, x, y), w[y] * _entry(M, y, x))
    name = "D P Pi" if values == "q" else "D P^pi"
    label = (lambda k: f"(s={k // A}, a={k % A})") if values == "q" else (lambda k: f"s={k}")
    if ver.holds:
        why = ("gamma = 0: the Jacobian -D is diagonal" if mdp.gamma == 0 else
               f"{name} satisfies detailed balance D_x M[x,y] = D_y M[y,x] for every pair "
               f"(largest mismatch at {label(x)}, {label(y)}: {flows[0]:.3g} vs {flows[1]:.3g})")
        text = f"the TD field is a gradient: {why}"
    else:
        text = (f"the TD field is NOT a gradient: detailed balance of {name} fails at x = {label(x)}, "
                f"y = {label(y)}: D_x M[x,y] = {flows[0]:.6g} but D_y M[y,x] = {flows[1]:.6g}, "
                f"so J[x,y] = {ver.witness_values[0]:.6g} != J[y,x] = {ver.witness_values[1]:.6g}")
    return TDSymmetry(ver, w, flows, text)


def reversibility_verdict(P_chain: Any, d: Any = None, *, rtol: float = SYMMETRY_RTOL) -> SymmetryVerdict:
    """Detailed balance of a Markov chain: is diag(d) P symmetric?

    Parameters
    ----------
    P_chain : ndarray or sparse, shape (n, n)
        Row-stochastic.
    d : array_like, shape (n,), optional
        The weighting; default the stationary distribution (which must be unique).
    rtol : float, optional

    Returns
    -------
    SymmetryVerdict
        ``symmetric`` is True iff d_x P[x, y] = d_y P[y, x] for all x, y
        (Kelly 1979, §1.2: the chain is reversible with respect to d).

    Examples
    --------
    >>> reversibility_verdict(np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])).holds
    False
    """
    dd = stationary_distribution(P_chain) if d is None else np.asarray(d, dtype=float)
    if dd.shape != (P_chain.shape[0],):
        raise ValidationError(f"d has shape {dd.shape}; expected ({P_chain.shape[0]},)", argument="d",
                              value=dd.shape)
    if sp.issparse(P_chain):
        return symmetry_verdict(sp.diags_array(dd) @ sp.csr_array(P_chain), rtol=rtol)
    return symmetry_verdict(dd[:, None] * np.asarray(P_chain, dtype=float), rtol=rtol)
