"""Expected tabular TD(0) update fields, their exact Jacobians, and when they are gradients.

Fields (Sutton & Barto 2018, §6.1, §6.4, §6.5)::

    action values:   u(Q) = D (r + γ P Π Q − Q)        Jacobian  D (γ P Π − I)
    state values:    u(v) = D (r^π + γ P^π v − v)       Jacobian  D (γ P^π − I)
    Q-learning:      u(Q) = D (r + γ P max_a Q − Q)     Jacobian  D (γ P Π_greedy(Q) − I)

with D a diagonal weighting (:func:`~mdpgrad.td.diagonal_weights`).  Episodes
stop at terminal states, so the target bootstraps zero from them: P is used as
P̃, with the rows and columns of terminal states zeroed (and u(Q)(t, a) =
−D Q(t, a) there, which pulls the unused values to 0).  Without terminal
states this is exactly the formula above.

A C¹ field is a gradient only if its Jacobian is symmetric.  The off-diagonal
entries are γ D_x (PΠ)[x, y], so u is a gradient iff γ = 0 or D P Π satisfies
detailed balance, D_x (PΠ)[x, y] = D_y (PΠ)[y, x] for all x ≠ y (Ollivier 2018:
TD is a gradient for reversible chains weighted by their stationary law;
Sutton & Barto 2018, §11.5: the semi-gradient is not the gradient of any
objective in general).  :func:`td_symmetry` reports that verdict with the pair
that breaks it.

Identities checked by the tests: the Jacobians equal the columns of u(Q + e_x)
− u(Q) (the fields are affine); the verdict equals a direct pairwise
detailed-balance test; the Q-learning Jacobian at a tie-free point equals the
TD Jacobian of the greedy policy; dense and sparse MDPs agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._chains import Matrix, masked_chain, pair_chain, stationary_distribution
from .._display import compact_repr
from .._errors import ValidationError
from .._linalg import Accuracy, validate_accuracy
from .._model import MDP, validate_mdp
from .._policies import greedy_policy
from .._validation import (
    as_real_array,
    check_choice,
    check_memory,
    check_nonnegative,
    check_tolerance,
)
from ..fields._symmetry import SYMMETRY_RTOL, SymmetryVerdict, symmetry_verdict
from ._common import (
    ValueKind,
    Weighting,
    as_values,
    bellman_jacobian,
    bellman_jacobian_error,
    check_dense_square,
    check_sparse_entries,
    policy_table,
    resolve_weights,
    resolve_weights_and_error,
    value_chain,
)

__all__ = [
    "QLearningJacobian",
    "TDSymmetry",
    "q_learning_jacobian",
    "q_learning_update",
    "reversibility_verdict",
    "td_jacobian",
    "td_jacobian_v",
    "td_symmetry",
    "td_update",
    "td_update_v",
]

# ---------------------------------------------------------------------------
# update fields and Jacobians
# ---------------------------------------------------------------------------
def _pair_update(mdp: MDP, Q: np.ndarray, bootstrap: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """D (r + γ P̃ b − Q), shape (S, A), for the bootstrap value b(s') of each next state, shape (S,).

    P̃ is P in its (S·A, S) form with terminal states masked: b is never read
    at a terminal state, and the (S·A)² pair chain is never formed.
    """
    S, A = mdp.n_states, mdp.n_actions
    u = mdp.r + mdp.gamma * (masked_chain(mdp, mdp.P_flat) @ bootstrap).reshape(S, A) - Q
    return u if weights is None else weights.reshape(S, A) * u


def td_update(mdp: MDP, pi: ArrayLike, Q: ArrayLike, *, D: Weighting = None) -> np.ndarray:
    """Expected TD(0) update for action values, u(Q) = D (r + γ P Π Q − Q).

    Parameters
    ----------
    mdp : MDP
    pi : array_like, shape (S, A)
        The policy whose values are learned (Expected-SARSA target Σ_a' π Q).
    Q : array_like, shape (S, A)
        Real or complex (complex input passes through, for complex-step tests).
    D : None, str or array_like, optional
        Weighting (see :func:`~mdpgrad.td.diagonal_weights`); None is the identity.

    Returns
    -------
    ndarray, shape (S, A)

    Notes
    -----
    Sutton & Barto 2018, §6.4 and §6.6; terminal next states bootstrap zero.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.td import td_update
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])       # a 2-cycle, one action
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.5)
    >>> td_update(mdp, np.ones((2, 1)), np.zeros((2, 1))).tolist()
    [[1.0], [0.0]]
    """
    mdp = validate_mdp(mdp)
    table = policy_table(mdp, pi)
    Q = as_values(Q, (mdp.n_states, mdp.n_actions), "Q")
    # P̃ Π Q = P̃ b with b(s') = Σ_a' π(a'|s') Q(s', a')
    return _pair_update(mdp, Q, np.sum(table * Q, axis=1), resolve_weights(mdp, table, D, "q"))


def td_jacobian(mdp: MDP, pi: ArrayLike, *, D: Weighting = None, error: bool = False,
                accuracy: Accuracy = "refuse") -> Matrix:
    """Jacobian of :func:`td_update`, ∂u/∂Q = D (γ P Π − I), shape (S·A, S·A).

    Rows and columns are state-action pairs x = s·A + a; P is P̃ (terminal
    states masked).  Sutton & Barto 2018, §9.4 (eq. 9.11, with Φ = I).

    Parameters
    ----------
    mdp : MDP
    pi : array_like, shape (S, A)
    D : None, str or array_like, optional
        Weighting (see :func:`~mdpgrad.td.diagonal_weights`); None is the identity.
    error : bool
        Also return an entrywise bound on the error of the Jacobian.
    accuracy : {"refuse", "warn", "ignore"}
        Passed to the solve behind D="occupancy" (:func:`~mdpgrad.evaluate`)
        or D="stationary" (:func:`~mdpgrad.stationary_distribution`).

    Returns
    -------
    J : ndarray or csr_array, shape (S·A, S·A)
        Dense for dense MDPs, sparse for sparse ones (never densified).
    err : ndarray or csr_array, shape (S·A, S·A)
        Only with ``error=True``: ``|J − exact| ≤ err`` entry by entry, up to the
        factor-3 slack of the condition estimate behind D.  The accuracy is
        that of D: err = ``|δD|·|γPΠ − I| + 4ε·|D|(γ|PΠ| + I)`` (the rest is a
        product of P and π entries, one rounding each), with ``|δD|`` from the
        error estimate of η (``Evaluation.error``; d = η/‖η‖₁ carries twice
        its relative error) or of d_π; 0 for the identity and for given
        weights, which leaves the rounding alone.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.td import td_jacobian
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.5)
    >>> td_jacobian(mdp, np.ones((2, 1))).tolist()
    [[-1.0, 0.5], [0.5, -1.0]]
    """
    mdp = validate_mdp(mdp)
    table = policy_table(mdp, pi)
    weights, weight_error = resolve_weights_and_error(mdp, table, D, "q", validate_accuracy(accuracy))
    check_dense_square(mdp, mdp.n_states * mdp.n_actions, "the TD Jacobian over state-action pairs")
    M = pair_chain(mdp, table)
    J = bellman_jacobian(M, mdp.gamma, weights)
    return (J, bellman_jacobian_error(M, mdp.gamma, weights, weight_error)) if error else J


def td_update_v(mdp: MDP, pi: ArrayLike, v: ArrayLike, *, D: Weighting = None) -> np.ndarray:
    """Expected TD(0) update for state values, u(v) = D (r^π + γ P^π v − v).

    Parameters
    ----------
    mdp : MDP
    pi : array_like, shape (S, A)
    v : array_like, shape (S,)
        Real or complex.
    D : None, str or array_like, optional
        Weighting over states (see :func:`~mdpgrad.td.diagonal_weights` with ``values="v"``).

    Returns
    -------
    ndarray, shape (S,)

    Notes
    -----
    Sutton & Barto 2018, §6.1 (TD(0) prediction).

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.td import td_update_v
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.5)
    >>> td_update_v(mdp, np.ones((2, 1)), np.array([2.0, 0.0])).tolist()   # 1 + ½·0 − 2, 0 + ½·2 − 0
    [-1.0, 1.0]
    """
    mdp = validate_mdp(mdp)
    table = policy_table(mdp, pi)
    v = as_values(v, (mdp.n_states,), "v")
    weights = resolve_weights(mdp, table, D, "v")
    M, r_pi = value_chain(mdp, table, "v")
    u = r_pi + mdp.gamma * (M @ v) - v
    return u if weights is None else weights * u


def td_jacobian_v(mdp: MDP, pi: ArrayLike, *, D: Weighting = None, error: bool = False,
                  accuracy: Accuracy = "refuse") -> Matrix:
    """Jacobian of :func:`td_update_v`, D (γ P^π − I), with P^π masked at terminal states.

    Parameters
    ----------
    mdp : MDP
    pi : array_like, shape (S, A)
    D : None, str or array_like, optional
        Weighting over states (see :func:`~mdpgrad.td.diagonal_weights` with ``values="v"``).
    error : bool
        Also return an entrywise bound on the error of the Jacobian.
    accuracy : {"refuse", "warn", "ignore"}
        Passed to the solve behind a named weighting, as in :func:`td_jacobian`.

    Returns
    -------
    J : ndarray or csr_array, shape (S, S)
        Sparse for sparse MDPs.
    err : ndarray or csr_array, shape (S, S)
        Only with ``error=True``: the entrywise bound of :func:`td_jacobian`,
        ``|δD|·|γP^π − I| + 4ε·|D|(γ|P^π| + I)``.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.td import td_jacobian_v
    >>> P = np.array([[[0.9, 0.1]], [[0.3, 0.7]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=1.0 / 3.0)
    >>> td_jacobian_v(mdp, np.ones((2, 1)), D="stationary").round(12).tolist()
    [[-0.525, 0.025], [0.025, -0.191666666667]]
    """
    mdp = validate_mdp(mdp)
    table = policy_table(mdp, pi)
    weights, weight_error = resolve_weights_and_error(mdp, table, D, "v", validate_accuracy(accuracy))
    check_dense_square(mdp, mdp.n_states, "the TD Jacobian over states")
    M = value_chain(mdp, table, "v")[0]
    J = bellman_jacobian(M, mdp.gamma, weights)
    return (J, bellman_jacobian_error(M, mdp.gamma, weights, weight_error)) if error else J


# ---------------------------------------------------------------------------
# Q-learning
# ---------------------------------------------------------------------------
def q_learning_update(mdp: MDP, Q: ArrayLike, *, D: ArrayLike | None = None) -> np.ndarray:
    """Expected Q-learning update, u(Q) = D (r + γ P max_a' Q(·, a') − Q), the max over available a'.

    Watkins 1989; Sutton & Barto 2018, §6.5.  Terminal next states bootstrap zero.

    Parameters
    ----------
    mdp : MDP
    Q : array_like, shape (S, A)
        Real (max is not analytic, so complex steps do not apply).
    D : array_like, shape (S, A) or (S·A,), optional
        Weights over pairs, e.g. ``diagonal_weights(mdp, b, "occupancy")`` for
        a behaviour policy b; None is the identity.

    Returns
    -------
    ndarray, shape (S, A)

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.td import q_learning_update
    >>> P = np.array([[[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=0.5)
    >>> q_learning_update(mdp, np.array([[0.0, 2.0], [4.0, 0.0]])).tolist()
    [[2.0, 0.0], [-2.0, 2.0]]
    """
    mdp = validate_mdp(mdp)
    Q = as_values(Q, (mdp.n_states, mdp.n_actions), "Q")
    if np.iscomplexobj(Q):
        raise ValidationError("Q is complex; max_a Q is not analytic, pass a real Q", argument="Q")
    best = np.where(mdp.actions, Q, -np.inf).max(axis=1)          # over the available actions
    return _pair_update(mdp, Q, best, resolve_weights(mdp, None, D, "q"))


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

    jacobian: Matrix
    greedy: np.ndarray
    tied_states: tuple[int, ...]

    __repr__ = compact_repr

    @property
    def differentiable(self) -> bool:
        """No reachable ties: the field is differentiable at Q."""
        return not self.tied_states

    def __str__(self) -> str:
        n = self.jacobian.shape[0]
        if self.differentiable:
            return f"QLearningJacobian: differentiable — {n} x {n}, no reachable ties"
        return (f"QLearningJacobian: NOT differentiable — {n} x {n}, ties at states {self.tied_states} "
                "(one element of the Clarke Jacobian)")


def q_learning_jacobian(mdp: MDP, Q: ArrayLike, *, D: ArrayLike | None = None,
                        tie_atol: float = 0.0) -> QLearningJacobian:
    """Jacobian of :func:`q_learning_update` at Q, ties reported.

    Parameters
    ----------
    mdp : MDP
    Q : array_like, shape (S, A)
        Real.
    D : array_like, shape (S, A) or (S·A,), optional
        Weights over pairs; None is the identity.
    tie_atol : float, optional
        Actions within ``tie_atol`` of the maximum count as tied.

    Returns
    -------
    QLearningJacobian
        D (γ P̃ Π_g − I) for the greedy table Π_g, shape (S·A, S·A).

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.td import q_learning_jacobian
    >>> P = np.array([[[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=0.5)
    >>> qj = q_learning_jacobian(mdp, np.array([[0.0, 2.0], [4.0, 4.0]]))
    >>> qj.tied_states, qj.greedy[1].tolist()
    ((1,), [1.0, 0.0])
    """
    mdp = validate_mdp(mdp)
    S, A = mdp.n_states, mdp.n_actions
    Q = as_values(Q, (S, A), "Q")
    if np.iscomplexobj(Q):
        raise ValidationError("Q is complex; max_a Q is not analytic, pass a real Q", argument="Q")
    tie_atol = check_tolerance(tie_atol, "tie_atol")
    g = greedy_policy(Q, actions=mdp.actions)
    weights = resolve_weights(mdp, None, D, "q")
    check_dense_square(mdp, S * A, "the Q-learning Jacobian over state-action pairs")
    near = mdp.actions & (Q >= np.where(mdp.actions, Q, -np.inf).max(axis=1, keepdims=True) - tie_atol)
    reach = np.asarray(abs(mdp.P_flat).sum(axis=0)).ravel() > 0
    tied = tuple(int(s) for s in np.flatnonzero((near.sum(axis=1) > 1) & reach & ~mdp.terminal))
    return QLearningJacobian(bellman_jacobian(pair_chain(mdp, g), mdp.gamma, weights), g, tied)


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

    __repr__ = compact_repr

    @property
    def holds(self) -> bool:
        """The Jacobian is symmetric (the affine field is then a gradient)."""
        return self.symmetry.holds

    def __str__(self) -> str:
        v = self.symmetry
        word = "gradient" if v.holds else "NOT a gradient"
        if v.witness is None:
            return f"TDSymmetry: {word} — a single value"
        where = v.witness_pairs if v.witness_pairs is not None else v.witness
        flows = "" if self.flows is None else \
            f"; flows D_x M[x,y] = {self.flows[0]:.3g}, D_y M[y,x] = {self.flows[1]:.3g}"
        return (f"TDSymmetry: {word} — max |J - J^T| {v.max_asymmetry:.3g} "
                f"{'<=' if v.holds else '>'} tolerance {v.tolerance:.2g} at {where[0]} vs {where[1]}{flows}")

    def describe(self) -> str:
        """The verdict explained: the symmetry compared, its tolerance and margin, detailed balance."""
        v = self.symmetry
        lines = [f"TDSymmetry: the expected TD update is {'' if v.holds else 'NOT '}the gradient of any "
                 "function of the values",
                 f"  compared: the Jacobian J = D(γM − I) with its transpose; {v.describe()}"]
        if v.witness is not None and v.tolerance > 0:
            ratio = v.max_asymmetry / v.tolerance
            lines.append(f"  margin: the asymmetry is {ratio:.3g} times the tolerance")
        if self.flows is not None:
            lines.append(f"  detailed balance: D_x M[x,y] = {self.flows[0]:.6g} vs D_y M[y,x] = "
                         f"{self.flows[1]:.6g} at the witness pair")
        lines.append(f"  {self.explanation}")
        if not v.holds:
            lines.append("  next: the expected update is then no loss's gradient, so TD need not decrease "
                         "any objective; the witness pair above is where the flows differ")
        return "\n".join(lines)


def td_symmetry(mdp: MDP, pi: ArrayLike, *, D: Weighting = None, values: ValueKind = "q",
                rtol: float = SYMMETRY_RTOL) -> TDSymmetry:
    """Symmetry verdict of the TD Jacobian, explained by detailed balance of D P Π.

    Parameters
    ----------
    mdp : MDP
    pi : array_like, shape (S, A)
        One policy table.  A batch of tables (..., S, A) is refused with a
        ValidationError: call once per policy.
    D : None, str or array_like, optional
        Weighting (:func:`~mdpgrad.td.diagonal_weights`); None is the identity.
    values : {"q", "v"}
        Action-value field (pairs x = s·A + a) or state-value field.
    rtol : float, optional
        Passed to :func:`~mdpgrad.fields.symmetry_verdict`; finite and ≥ 0.

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

    >>> import numpy as np
    >>> from mdpgrad import MDP, td_symmetry
    >>> P = np.array([[[0.9, 0.1]], [[0.3, 0.7]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.9)
    >>> td_symmetry(mdp, np.ones((2, 1)), D="stationary", values="v").holds
    True
    """
    mdp = validate_mdp(mdp)
    A = mdp.n_actions
    table = policy_table(mdp, pi)
    values = check_choice(values, "values", get_args(ValueKind))
    rtol = check_tolerance(rtol, "rtol")
    weights = resolve_weights(mdp, table, D, values)
    check_dense_square(mdp, mdp.n_states * A if values == "q" else mdp.n_states,
                       "the TD Jacobian whose symmetry is tested")
    M = value_chain(mdp, table, values)[0]
    w = np.ones(M.shape[0]) if weights is None else weights
    J = bellman_jacobian(M, mdp.gamma, weights)
    ver = symmetry_verdict(J, rtol=rtol, n_actions=A if values == "q" else 1)
    if ver.witness is None:
        return TDSymmetry(ver, w, None, "a single value: every 1-D field is a gradient")
    x, y = ver.witness
    flows = (w[x] * float(M[x, y]), w[y] * float(M[y, x]))
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
                f"so J[x,y] = {float(J[x, y]):.6g} != J[y,x] = {float(J[y, x]):.6g}")
    return TDSymmetry(ver, w, flows, text)


def reversibility_verdict(P_chain: ArrayLike | Matrix, d: ArrayLike | None = None, *,
                          rtol: float = SYMMETRY_RTOL) -> SymmetryVerdict:
    """Detailed balance of a Markov chain: whether diag(d) P is symmetric.

    Parameters
    ----------
    P_chain : array_like or sparse, shape (n, n)
        Row-stochastic: finite, non-negative entries.
    d : array_like, shape (n,), optional
        The weighting, finite and ≥ 0; default the stationary distribution
        (which must be unique).
    rtol : float, optional

    Returns
    -------
    SymmetryVerdict
        ``holds`` is True iff d_x P[x, y] = d_y P[y, x] for all x, y
        (Kelly 1979, §1.2: the chain is reversible with respect to d).

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad.td import reversibility_verdict
    >>> reversibility_verdict(np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])).holds
    False
    """
    rtol = check_tolerance(rtol, "rtol")
    chain: Matrix = sp.csr_array(P_chain) if sp.issparse(P_chain) else as_real_array(P_chain, "P_chain")
    if chain.ndim != 2 or chain.shape[0] != chain.shape[1]:
        raise ValidationError(f"P_chain has shape {chain.shape}; expected a square matrix (n, n)",
                              argument="P_chain", value=chain.shape)
    n = chain.shape[0]
    if sp.issparse(chain):
        check_sparse_entries(chain, "P_chain", nonnegative=True)
    else:
        check_nonnegative(chain, "P_chain", "a probability")
        check_memory(8.0 * n * n, f"the weighted chain diag(d) P, a dense {n} x {n} float64 matrix,",
                     "P_chain")
    weights = stationary_distribution(chain) if d is None else as_real_array(d, "d")
    if weights.shape != (n,):
        raise ValidationError(f"d has shape {weights.shape}; expected ({n},)", argument="d",
                              value=weights.shape)
    check_nonnegative(weights, "d", "a weight")
    if sp.issparse(chain):
        return symmetry_verdict(sp.diags_array(weights) @ sp.csr_array(chain), rtol=rtol)
    return symmetry_verdict(weights[:, None] * chain, rtol=rtol)
