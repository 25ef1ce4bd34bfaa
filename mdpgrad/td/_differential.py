"""Differential TD(0) for the average-reward criterion: expected update, Jacobian, symmetry verdict.

Differential semi-gradient TD(0) (Sutton & Barto 2018, §10.3) learns state
values v = Φw and an average-reward estimate R̄ from the error
δ = r − R̄ + v(s') − v(s), with R̄ ← R̄ + βδ and w ← w + αδ∇v(s).  With the
states weighted by D (the on-policy choice is the stationary d_π) its
expected update, a field of x = (w, R̄) ∈ ℝᵏ⁺¹, is::

    δ̄(w, R̄) = r^π − R̄1 + (P^π − I)Φw                     (S,)
    u_w     = Φᵀ D δ̄,        u_R̄ = β 1ᵀ D δ̄

affine in x, with the (k + 1) × (k + 1) Jacobian::

    [ Φᵀ D (P^π − I) Φ     −Φᵀ D 1 ]
    [ β 1ᵀ D (P^π − I) Φ   −β 1ᵀ D 1 ]

Φ = I gives the tabular field (k = S).  No discount and no masking: terminal
states are absorbing states paying 0 (the continuing setting).  The field is a
gradient only if this Jacobian is symmetric; on-policy (D = diag d_π) the
bottom-left block vanishes (d_πᵀ(P^π − I) = 0) while the top-right one is
−Φᵀd_π ≠ 0, so the differential TD field is never a gradient there, whatever
the chain (:func:`differential_td_symmetry` names the witness).

Identities checked by the tests: the Jacobian equals finite differences of the
update (it is affine, so exactly the columns u(x + e_j) − u(x)); on-policy
with tabular features the fixed points are (h + c1, ρ) with h the bias and ρ
the gain of :func:`mdpgrad.average_reward`, a line along the null vector
(1, 0) of the Jacobian; dense = sparse.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._chains import Matrix, chain_and_reward
from .._errors import ValidationError
from .._linalg import Accuracy, validate_accuracy
from .._model import MDP, validate_mdp
from .._validation import as_real_array, check_real
from ..fields._symmetry import SYMMETRY_RTOL, SymmetryVerdict, symmetry_verdict
from ._common import Weighting, as_values, check_dense_square, policy_table, resolve_weights

__all__ = ["differential_td_jacobian", "differential_td_symmetry", "differential_td_update"]


def _parts(mdp: MDP, pi: ArrayLike, phi: ArrayLike | None, D: Weighting, beta: float,
           accuracy: Accuracy) -> tuple[Matrix, np.ndarray, Matrix, np.ndarray, float]:
    """(P^π, r^π, Φ, weights, β), validated; Φ the identity (sparse for a sparse MDP) when phi is None."""
    mdp = validate_mdp(mdp)
    S = mdp.n_states
    table = policy_table(mdp, pi)
    beta = check_real(beta, "beta", min_value=0.0)
    accuracy = validate_accuracy(accuracy)
    if phi is None:
        check_dense_square(mdp, S, "the identity features phi=None")
        Phi: Matrix = sp.eye_array(S, format="csr") if mdp.is_sparse else np.eye(S)
    else:
        Phi = as_real_array(phi, "phi")
        if Phi.ndim != 2 or Phi.shape[0] != S or Phi.shape[1] == 0:
            raise ValidationError(f"phi has shape {Phi.shape}; expected ({S}, k), one row per state",
                                  argument="phi", value=Phi.shape)
    w = resolve_weights(mdp, table, D, "v", accuracy)
    weights = np.ones(S) if w is None else w
    P_pi, r_pi = chain_and_reward(mdp, table)
    return P_pi, r_pi, Phi, weights, beta


def differential_td_update(mdp: MDP, pi: ArrayLike, w: ArrayLike, reward_rate: float, *,
                           phi: ArrayLike | None = None, D: Weighting = "stationary", beta: float = 1.0,
                           accuracy: Accuracy = "refuse") -> tuple[np.ndarray, float]:
    """Expected differential TD(0) update (u_w, u_R̄) at (w, R̄).

    u_w = Φᵀ D (r^π − R̄1 + (P^π − I)Φw),  u_R̄ = β 1ᵀ D (same)  (Sutton & Barto 2018, §10.3).

    Parameters
    ----------
    mdp : MDP
        The model, read as a continuing chain (terminal states absorb and pay 0).
    pi : array_like, shape (S, A)
        The policy table π(a|s).
    w : array_like, shape (k,)
        The value weights (k = S, the values themselves, when ``phi`` is None).
    reward_rate : float
        R̄, the current estimate of the average reward.
    phi : array_like, shape (S, k), optional
        State features; None for the tabular case Φ = I.
    D : {"stationary", "identity", "occupancy"} or array_like, shape (S,)
        Weighting of the states (:func:`~mdpgrad.td.diagonal_weights`); the
        default is the on-policy stationary d_π.
    beta : float
        β ≥ 0, the step size of R̄ relative to that of w.
    accuracy : {"refuse", "warn", "ignore"}
        Passed to the solve behind D.

    Returns
    -------
    u_w : ndarray, shape (k,)
        The expected update of the value weights, Φᵀ D δ̄.
    u_rate : float
        The expected update of R̄, β 1ᵀ D δ̄.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.td import differential_td_update
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])        # a 2-cycle paying 1 in state 0
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.9)
    >>> u, u_rate = differential_td_update(mdp, np.ones((2, 1)), [0.25, -0.25], 0.5)
    >>> u.tolist(), u_rate                                 # (h, ρ) is a fixed point
    ([0.0, 0.0], 0.0)
    """
    P_pi, r_pi, Phi, weights, beta = _parts(mdp, pi, phi, D, beta, accuracy)
    k = Phi.shape[1]
    x = as_values(w, (k,), "w")
    rate = check_real(reward_rate, "reward_rate")
    values = np.asarray(Phi @ x)
    delta = r_pi - rate + np.asarray(P_pi @ values) - values
    weighted = weights * delta
    return np.asarray(Phi.T @ weighted), float(beta * weighted.sum())


def differential_td_jacobian(mdp: MDP, pi: ArrayLike, *, phi: ArrayLike | None = None,
                             D: Weighting = "stationary", beta: float = 1.0,
                             accuracy: Accuracy = "refuse") -> Matrix:
    """Jacobian of :func:`differential_td_update` in x = (w, R̄), shape (k + 1, k + 1).

    [[Φᵀ D (P^π − I) Φ, −Φᵀ D 1], [β 1ᵀ D (P^π − I) Φ, −β 1ᵀ D 1]]; the last row and
    column are R̄'s (Sutton & Barto 2018, §10.3 and §9.4).

    Parameters
    ----------
    mdp : MDP
        The model, read as a continuing chain (terminal states absorb and pay 0).
    pi : array_like, shape (S, A)
        The policy table π(a|s).
    phi : array_like, shape (S, k), optional
        State features; None for the tabular case Φ = I.
    D : {"stationary", "identity", "occupancy"} or array_like, shape (S,)
        Weighting of the states (:func:`~mdpgrad.td.diagonal_weights`); the
        default is the on-policy stationary d_π.
    beta : float
        β ≥ 0, the step size of R̄ relative to that of w.
    accuracy : {"refuse", "warn", "ignore"}
        Passed to the solve behind D.

    Returns
    -------
    ndarray or csr_array, shape (k + 1, k + 1)
        Sparse for a sparse MDP with tabular features, dense otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.td import differential_td_jacobian
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.9)
    >>> differential_td_jacobian(mdp, np.ones((2, 1))).tolist()
    [[-0.5, 0.5, -0.5], [0.5, -0.5, -0.5], [0.0, 0.0, -1.0]]
    """
    P_pi, _, Phi, weights, beta = _parts(mdp, pi, phi, D, beta, accuracy)
    S = weights.size
    if sp.issparse(Phi):
        G = sp.diags_array(weights) @ (sp.csr_array(P_pi) - sp.eye_array(S, format="csr"))
        block: Any = Phi.T @ G @ Phi
        top = -(Phi.T @ weights)
        bottom = beta * np.asarray(sp.csr_array(G).sum(axis=0)).ravel() @ Phi
        corner = sp.csr_array([[-beta * weights.sum()]])
        out = sp.bmat([[block, sp.csr_array(top[:, None])], [sp.csr_array(bottom[None, :]), corner]],
                      format="csr")
        return sp.csr_array(out)
    P_dense = P_pi.toarray() if sp.issparse(P_pi) else P_pi
    G = weights[:, None] * (P_dense - np.eye(S))
    k = Phi.shape[1]
    J = np.empty((k + 1, k + 1))
    J[:k, :k] = Phi.T @ G @ Phi
    J[:k, k] = -(Phi.T @ weights)
    J[k, :k] = beta * (G.sum(axis=0) @ Phi)
    J[k, k] = -beta * weights.sum()
    return J


def differential_td_symmetry(mdp: MDP, pi: ArrayLike, *, phi: ArrayLike | None = None,
                             D: Weighting = "stationary", beta: float = 1.0, rtol: float = SYMMETRY_RTOL,
                             accuracy: Accuracy = "refuse") -> SymmetryVerdict:
    """Is the differential TD(0) field a gradient?  The symmetry verdict on its Jacobian.

    A C¹ field is a gradient only if its Jacobian is symmetric (module
    docstring); the witness is the pair of coordinates of x = (w, R̄) (the
    last index is R̄) with the largest ``|J[i, j] − J[j, i]|``.

    Parameters
    ----------
    mdp : MDP
        The model, read as a continuing chain (terminal states absorb and pay 0).
    pi : array_like, shape (S, A)
        The policy table π(a|s).
    phi : array_like, shape (S, k), optional
        State features; None for the tabular case Φ = I.
    D : {"stationary", "identity", "occupancy"} or array_like, shape (S,)
        Weighting of the states (:func:`~mdpgrad.td.diagonal_weights`); the
        default is the on-policy stationary d_π.
    beta : float
        β ≥ 0, the step size of R̄ relative to that of w.
    rtol : float
        Relative tolerance of the symmetry test, times ``max|J|`` (default ``SYMMETRY_RTOL``,
        as for :func:`mdpgrad.fields.symmetry_verdict`).
    accuracy : {"refuse", "warn", "ignore"}
        Passed to the solve behind D.

    Returns
    -------
    SymmetryVerdict
        As :func:`mdpgrad.fields.symmetry_verdict` gives it, tolerance ``rtol``
        times ``max|J|``.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.td import differential_td_symmetry
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.9)
    >>> verdict = differential_td_symmetry(mdp, np.ones((2, 1)))
    >>> verdict.holds, verdict.witness          # −d_π(0) against 0: the R̄ column
    (False, (0, 2))
    """
    J = differential_td_jacobian(mdp, pi, phi=phi, D=D, beta=beta, accuracy=accuracy)
    return symmetry_verdict(J, rtol=rtol)
