"""Linear function approximation: expected TD(0)/TD(λ), regression and residual-gradient fields.

Values are Φw with features Φ of shape (n, k), n = S (state values, chain
M = P̃^π) or n = S·A (action values, chain M = P̃Π, rows x = s·A + a); D is a
diagonal weighting over the n rows (see :func:`mdpgrad.td.diagonal_weights`).

    TD(λ) (expected forward view; Sutton & Barto 2018, §9.4 and §12.2;
    Tsitsiklis & Van Roy 1997, §5):
        u(w) = Φᵀ D (I − γλM)⁻¹ (r + γMΦw − Φw) = A w + b,
        A    = Φᵀ D (I − γλM)⁻¹ (γM − I) Φ = Φᵀ D (M^(λ) − I) Φ,
        M^(λ) = (1 − λ) Σ_m λ^m (γM)^{m+1};      λ = 0 is semi-gradient TD(0).
    Monte Carlo regression:  −∇ ½‖Φw − q‖²_D = Φᵀ D (q − Φw),       Jacobian −ΦᵀDΦ.
    Residual gradient:       −∇ ½‖δ(w)‖²_D, δ = r + (γM − I)Φw,      Jacobian −BᵀDB, B = (γM − I)Φ.

The last two are gradients (symmetric Jacobians); TD's is not in general.  The
TD fixed point solves A w + b = 0 and differs from the regression solution
argmin ‖Φw − q‖_D.  Expected TD converges for small steps iff every
eigenvalue of A has negative real part (off the null space of Φ; decided by
:func:`mdpgrad.td.stability`); Baird's counterexample (Sutton & Barto 2018,
Example 11.1) has one with positive real part under its behaviour weighting.

With ``phi=None`` the features are the identity (the tabular case).

Identities checked by the tests: A from the solve equals A from the series
M^(λ); λ = 0 with Φ = I gives :func:`mdpgrad.td.td_jacobian`; the fixed point
with Φ = I is q^π (or v^π); the regression solution with Φ = I is q^π.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import ArrayLike

from .._chains import Matrix
from .._errors import ValidationError
from .._evaluation import evaluate
from .._model import MDP, validate_mdp
from .._validation import (
    as_real_array,
    check_choice,
    check_integer,
    check_memory,
    check_real,
    format_number,
)
from ._common import (
    ValueKind,
    Weighting,
    as_values,
    check_dense_square,
    policy_table,
    resolve_weights,
    value_chain,
)

__all__ = [
    "FIXED_POINT_RTOL",
    "iterate_expected_update",
    "linear_td_jacobian",
    "linear_td_update",
    "regression_jacobian",
    "regression_solution",
    "regression_update",
    "residual_gradient_jacobian",
    "residual_gradient_update",
    "td_fixed_point",
]

#: A fixed point must solve A w + b = 0 to this, relative to ‖A‖‖w‖ + ‖b‖
#: (least-squares residuals of a consistent system are ≈ cond·ε).
FIXED_POINT_RTOL = 1e-8


@dataclass(frozen=True, eq=False)
class _Problem:
    """One linear prediction problem: Φ, its chain M, reward r and weights D over the n rows."""

    pi: np.ndarray      # (S, A) validated policy
    Phi: Matrix         # (n, k) ndarray, or sparse identity
    M: Matrix           # (n, n) chain P̃Π or P̃^π, dense or sparse
    r: np.ndarray       # (n,) rewards
    D: np.ndarray       # (n,) weights
    gamma: float
    lam: float          # λ of TD(λ), in [0, 1]
    values: ValueKind
    identity: bool = False   # phi=None: Φ = I over the n rows


def _problem(mdp: MDP, pi: ArrayLike, phi: ArrayLike | None, D: Weighting, lam: float = 0.0,
             kind: ValueKind | None = None) -> _Problem:
    """Validate the public arguments of every linear field (once) and build its problem.

    Refuses, before allocating, the dense objects whose size the request fixes:
    the n × n chain (and identity features) of a dense MDP and the k × k matrix ΦᵀDΦ.
    """
    mdp = validate_mdp(mdp)
    S, A = mdp.n_states, mdp.n_actions
    table = policy_table(mdp, pi)
    lam = check_real(lam, "lam", min_value=0.0, max_value=1.0)
    if kind is not None:
        kind = check_choice(kind, "values", get_args(ValueKind))
    values: ValueKind
    if phi is None:
        values = "q" if kind is None else kind
        n = S * A if values == "q" else S
        check_dense_square(mdp, n, "the identity features phi=None")
        Phi: Matrix = sp.eye_array(n, format="csr") if mdp.is_sparse else np.eye(n)
    else:
        Phi = as_real_array(phi, "phi")
        if Phi.ndim == 3 and Phi.shape[:2] == (S, A):
            Phi = Phi.reshape(S * A, -1)
        if Phi.ndim != 2 or Phi.shape[0] not in (S, S * A) or Phi.shape[1] == 0:
            raise ValidationError(f"phi has shape {np.shape(phi)}; expected ({S}, k), ({S * A}, k) "
                                  f"or ({S}, {A}, k)", argument="phi", value=np.shape(phi))
        # with one action the pair chain and the state chain coincide
        values = "q" if Phi.shape[0] == S * A and A > 1 else "v"
        if kind is not None and kind != values and A > 1:
            raise ValidationError(f"values is {kind!r} but phi has {Phi.shape[0]} rows, one per "
                                  f"{'state-action pair' if values == 'q' else 'state'}; expected "
                                  f"values={values!r} or phi with {S * A if kind == 'q' else S} rows",
                                  argument="values", value=kind)
        k = Phi.shape[1]
        check_memory(8.0 * k * k, f"the feature matrix Phi^T D Phi, a dense {k} x {k} float64 matrix,", "phi")
    weights = resolve_weights(mdp, table, D, values)
    n_rows = S * A if values == "q" else S
    check_dense_square(mdp, n_rows, "the chain of the linear field")
    M, r = value_chain(mdp, table, values)
    return _Problem(table, Phi, M, r, np.ones(M.shape[0]) if weights is None else weights, mdp.gamma, lam,
                    values, phi is None)


def _solve_lambda(p: _Problem, X: np.ndarray) -> np.ndarray:
    """(I − γλM)⁻¹ X for X of shape (n,) or (n, k)."""
    if p.lam == 0.0:
        return X
    n = p.M.shape[0]
    if sp.issparse(p.M):
        lu = spla.splu(sp.csc_matrix(sp.eye_array(n) - p.gamma * p.lam * p.M))
        out = lu.solve(np.asarray(X, dtype=float))
        if not np.isfinite(out).all():
            raise ValidationError("I - gamma*lam*M is singular (gamma*lam = 1 without termination)",
                                  argument="lam", value=p.lam)
        return out
    try:
        return sla.solve(np.eye(n) - p.gamma * p.lam * p.M, X)
    except (sla.LinAlgError, ValueError):
        raise ValidationError("I - gamma*lam*M is singular (gamma*lam = 1 without termination)",
                              argument="lam", value=p.lam) from None


def _finite_result(x: np.ndarray, what: str, argument: str = "phi") -> np.ndarray:
    """``x`` when finite; an overflow of float64 (features or weights near 1e308) is refused, not returned."""
    if not np.isfinite(x).all():
        raise ValidationError(f"{what} overflows float64 (non-finite entries): the features, weights or "
                              "rewards are too large in magnitude", argument=argument, value=what)
    return x


def _dense(X: Matrix) -> np.ndarray:
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def _B(p: _Problem) -> Matrix:
    """(γM − I)Φ, shape (n, k)."""
    return p.gamma * (p.M @ p.Phi) - p.Phi


def _weighted_T(p: _Problem, X: Matrix) -> Matrix:
    """Φᵀ D X."""
    DX = (sp.diags_array(p.D) @ X) if sp.issparse(X) else p.D.reshape((-1,) + (1,) * (np.ndim(X) - 1)) * X
    return p.Phi.T @ DX


def _td_system(p: _Problem) -> tuple[np.ndarray, np.ndarray]:
    """A = Φᵀ D (I − γλM)⁻¹ (γM − I) Φ, shape (k, k), and b = Φᵀ D (I − γλM)⁻¹ r, shape (k,)."""
    with np.errstate(over="ignore", invalid="ignore"):
        A = _dense(_weighted_T(p, _solve_lambda(p, _dense(_B(p)))))
        b = np.asarray(_weighted_T(p, _solve_lambda(p, p.r))).ravel()
    return _finite_result(A, "the TD matrix A = Phi^T D (I - gamma lam M)^-1 (gamma M - I) Phi"), \
        _finite_result(b, "the TD vector b = Phi^T D (I - gamma lam M)^-1 r")


def _weights_of(p: _Problem, w: ArrayLike, name: str = "w") -> np.ndarray:
    """w, one weight per feature; a mismatch names the weights, their count and what phi asks for."""
    k = p.Phi.shape[1]
    shape = np.shape(w)
    if shape != (k,) and len(shape) == 1:
        S, A = p.pi.shape
        if not p.identity:
            meaning = "one per column of phi"
        elif p.values == "q":
            meaning = (f"one action value per state-action pair ({S} x {A}, phi=None with values='q'); "
                       f"pass values='v' for the {S} state values")
        else:
            meaning = "one state value per state (phi=None with values='v'); pass values='q' for q"
        raise ValidationError(f"{name} has {shape[0]} entries; expected {k}, {meaning}", argument=name,
                              value=shape)
    return as_values(w, (k,), name)


def linear_td_update(mdp: MDP, pi: ArrayLike, phi: ArrayLike | None, w: ArrayLike, *, D: Weighting = None,
                     lam: float = 0.0, values: ValueKind | None = None) -> np.ndarray:
    """Expected linear TD(λ) update u(w) = Φᵀ D (I − γλM)⁻¹ (r + γMΦw − Φw), shape (k,).

    Parameters
    ----------
    mdp : MDP
    pi : array_like, shape (S, A)
        Target policy (the chain M); off-policy learning puts the behaviour in D.
    phi : array_like, shape (S, k), (S·A, k) or (S, A, k), or None
        Features of states, or of state-action pairs; None for the identity.
    w : array_like, shape (k,)
        Real or complex.
    D : None, str or array_like, optional
        Weighting over the rows of Φ.
    lam : float, optional
        λ ∈ [0, 1].
    values : {"q", "v"}, optional
        What Φw approximates: action values (rows x = s·A + a) or state values
        (rows s).  With ``phi=None`` it picks the identity features: "q" (the
        default: S·A weights, one per state-action pair) or "v" (S weights);
        with ``phi`` given it is read from phi's rows and, when passed, must
        agree with them.

    Returns
    -------
    ndarray, shape (k,)

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.td import linear_td_update
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.5)
    >>> linear_td_update(mdp, np.ones((2, 1)), np.ones((2, 1)), np.zeros(1)).tolist()  # Σ r
    [1.0]
    """
    p = _problem(mdp, pi, phi, D, lam, values)
    w = _weights_of(p, w)
    with np.errstate(over="ignore", invalid="ignore"):
        Phiw = p.Phi @ w
        delta = p.r + p.gamma * (p.M @ Phiw) - Phiw
    _finite_result(delta, "the TD error r + gamma M Phi w - Phi w", "w")
    if np.iscomplexobj(delta) and p.lam != 0.0:
        delta = _solve_lambda(p, delta.real) + 1j * _solve_lambda(p, delta.imag)
    else:
        delta = _solve_lambda(p, delta)
    with np.errstate(over="ignore", invalid="ignore"):
        return _finite_result(np.asarray(_weighted_T(p, delta)).ravel(), "the TD(lambda) update", "w")


def linear_td_jacobian(mdp: MDP, pi: ArrayLike, phi: ArrayLike | None, *, D: Weighting = None,
                       lam: float = 0.0, values: ValueKind | None = None) -> np.ndarray:
    """A = Φᵀ D (I − γλM)⁻¹ (γM − I) Φ, the Jacobian of :func:`linear_td_update`, shape (k, k).

    Sutton & Barto 2018, §9.4 (eq. 9.11 for λ = 0) and §12.2.

    Parameters
    ----------
    mdp, pi, phi, D, lam, values
        As in :func:`linear_td_update`.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.td import linear_td_jacobian
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.5)
    >>> linear_td_jacobian(mdp, np.ones((2, 1)), np.ones((2, 1))).tolist()    # 2·(γ − 1)
    [[-1.0]]
    """
    return _td_system(_problem(mdp, pi, phi, D, lam, values))[0]


def _consistent_solve(A: np.ndarray, rhs: np.ndarray, what: str) -> np.ndarray:
    w, *_ = np.linalg.lstsq(A, rhs, rcond=None)
    resid = float(np.abs(A @ w - rhs).max()) if rhs.size else 0.0
    scale = float(np.abs(A).max() * np.abs(w).max() + np.abs(rhs).max()) if rhs.size else 0.0
    if resid > FIXED_POINT_RTOL * max(scale, 1e-300):
        raise ValidationError(f"the {what} does not exist: A w = b has no solution (residual {resid:.3g})",
                              argument="phi", value=resid)
    return w


def td_fixed_point(mdp: MDP, pi: ArrayLike, phi: ArrayLike | None, *, D: Weighting = None,
                   lam: float = 0.0, values: ValueKind | None = None) -> np.ndarray:
    """The TD(λ) fixed point: w with A w + b = 0 (minimum-norm when A is singular), shape (k,).

    Tsitsiklis & Van Roy 1997, Theorem 1: on-policy it is the fixed point of
    the projected operator ΠT^(λ).  With Φ = I it is q^π (v^π).

    Parameters
    ----------
    mdp, pi, phi, D, lam, values
        As in :func:`linear_td_update`; on-policy means D = "occupancy" or
        "stationary" of the same π.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.td import td_fixed_point
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.5)
    >>> td_fixed_point(mdp, np.ones((2, 1)), np.eye(2)).round(12).tolist()   # v^π = (4/3, 2/3)
    [1.333333333333, 0.666666666667]
    """
    A, b = _td_system(_problem(mdp, pi, phi, D, lam, values))
    return _consistent_solve(A, -b, "TD fixed point")


def _target_values(mdp: MDP, p: _Problem) -> np.ndarray:
    """q^π (flattened) or v^π: the regression target."""
    ev = evaluate(mdp, p.pi, validate=False)
    return ev.q.ravel() if p.values == "q" else ev.v


def regression_update(mdp: MDP, pi: ArrayLike, phi: ArrayLike | None, w: ArrayLike, *,
                      D: Weighting = None, values: ValueKind | None = None) -> np.ndarray:
    """Monte Carlo regression field Φᵀ D (q^π − Φw) = −∇ ½‖Φw − q^π‖²_D, shape (k,).

    The expected gradient-MC update of Sutton & Barto 2018, §9.3 (v^π for state features).

    Parameters
    ----------
    mdp, pi, phi, w, D, values
        As in :func:`linear_td_update`.
    """
    p = _problem(mdp, pi, phi, D, 0.0, values)
    w = _weights_of(p, w)
    with np.errstate(over="ignore", invalid="ignore"):
        u = np.asarray(_weighted_T(p, _target_values(mdp, p) - p.Phi @ w)).ravel()
    return _finite_result(u, "the regression update Phi^T D (q - Phi w)", "w")


def regression_jacobian(mdp: MDP, pi: ArrayLike, phi: ArrayLike | None, *, D: Weighting = None,
                        values: ValueKind | None = None) -> np.ndarray:
    """−Φᵀ D Φ, the symmetric Jacobian of :func:`regression_update` (Sutton & Barto 2018, §9.3).

    Parameters
    ----------
    mdp, pi, phi, D, values
        As in :func:`linear_td_update`.
    """
    p = _problem(mdp, pi, phi, D, 0.0, values)
    with np.errstate(over="ignore", invalid="ignore"):
        return _finite_result(-_dense(_weighted_T(p, p.Phi)), "the regression Jacobian -Phi^T D Phi")


def regression_solution(mdp: MDP, pi: ArrayLike, phi: ArrayLike | None, *, D: Weighting = None,
                        values: ValueKind | None = None) -> np.ndarray:
    """argmin_w ‖Φw − q^π‖_D (minimum-norm), shape (k,): solves ΦᵀDΦ w = ΦᵀD q^π.

    The fixed point of gradient Monte Carlo (Sutton & Barto 2018, §9.3, §9.4).

    Parameters
    ----------
    mdp, pi, phi, D, values
        As in :func:`linear_td_update`.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.td import regression_solution
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.5)
    >>> regression_solution(mdp, np.ones((2, 1)), np.ones((2, 1))).round(12).tolist()  # mean of v^π
    [1.0]
    """
    p = _problem(mdp, pi, phi, D, 0.0, values)
    with np.errstate(over="ignore", invalid="ignore"):
        A = _finite_result(-_dense(_weighted_T(p, p.Phi)), "the normal matrix Phi^T D Phi")
        b = _finite_result(np.asarray(_weighted_T(p, _target_values(mdp, p))).ravel(),
                           "the normal vector Phi^T D q")
    return _consistent_solve(A, -b, "regression solution")


def residual_gradient_update(mdp: MDP, pi: ArrayLike, phi: ArrayLike | None, w: ArrayLike, *,
                             D: Weighting = None, values: ValueKind | None = None) -> np.ndarray:
    """−∇ ½‖r + γMΦw − Φw‖²_D = −Bᵀ D δ(w), B = (γM − I)Φ, shape (k,).

    Baird 1995; Sutton & Barto 2018, §11.5 (the expected residual-gradient update).

    Parameters
    ----------
    mdp, pi, phi, w, D, values
        As in :func:`linear_td_update`; δ(w) = r + (γM − I)Φw is the expected
        TD error of every row.
    """
    p = _problem(mdp, pi, phi, D, 0.0, values)
    w = _weights_of(p, w)
    with np.errstate(over="ignore", invalid="ignore"):
        B = _B(p)
        delta = p.r + B @ w
        u = -np.asarray(B.T @ (p.D * delta)).ravel()
    return _finite_result(u, "the residual-gradient update", "w")


def residual_gradient_jacobian(mdp: MDP, pi: ArrayLike, phi: ArrayLike | None, *,
                               D: Weighting = None, values: ValueKind | None = None) -> np.ndarray:
    """−Bᵀ D B, B = (γM − I)Φ: the symmetric Jacobian of :func:`residual_gradient_update`.

    Baird 1995; Sutton & Barto 2018, §11.5.

    Parameters
    ----------
    mdp, pi, phi, D, values
        As in :func:`linear_td_update`.
    """
    p = _problem(mdp, pi, phi, D, 0.0, values)
    with np.errstate(over="ignore", invalid="ignore"):
        B = _B(p)
        DB = (sp.diags_array(p.D) @ B) if sp.issparse(B) else p.D[:, None] * B
        J = -_dense(B.T @ DB)
    return _finite_result(J, "the residual-gradient Jacobian -B^T D B")


def iterate_expected_update(mdp: MDP, pi: ArrayLike, phi: ArrayLike | None, w0: ArrayLike, *,
                            step_size: float, n_steps: int, D: Weighting = None,
                            lam: float = 0.0, values: ValueKind | None = None) -> np.ndarray:
    """Iterates of expected linear TD(λ), w_{t+1} = w_t + α (A w_t + b), shape (n_steps + 1, k).

    The expected ("semi-gradient DP") version of Sutton & Barto 2018, Figure 11.2.

    Parameters
    ----------
    mdp, pi, phi
        As in :func:`linear_td_update`.
    w0 : array_like, shape (k,)
        The first iterate.
    step_size : float
        α > 0.
    n_steps : int
        ≥ 0.
    D, lam, values
        As in :func:`linear_td_update`.

    Returns
    -------
    ndarray, shape (n_steps + 1, k)
        w_0, …, w_{n_steps}.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.td import iterate_expected_update
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.5)
    >>> ws = iterate_expected_update(mdp, np.ones((2, 1)), np.ones((2, 1)), [0.0], step_size=0.5, n_steps=60)
    >>> round(float(ws[-1, 0]), 9)                    # fixed point Σr / (2(1 − γ)) = 1
    1.0
    """
    step_size = check_real(step_size, "step_size", min_value=0.0, min_open=True)
    n_steps = check_integer(n_steps, "n_steps", min_value=0)
    p = _problem(mdp, pi, phi, D, lam, values)
    A, b = _td_system(p)
    w = _weights_of(p, w0, "w0")
    check_memory(float(min((n_steps + 1) * w.size * w.itemsize, 2**1000)),
                 f"the {n_steps + 1} iterates of {w.size} weights", "n_steps")
    out = np.empty((n_steps + 1, w.size), dtype=w.dtype)
    out[0] = w
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(n_steps):
            w = w + step_size * (A @ w + b)
            if not np.isfinite(w).all():
                raise ValidationError(f"the iterates overflow float64 at step {t + 1} of {n_steps} (the "
                                      f"iteration diverges at step_size={format_number(step_size)})",
                                      argument="step_size", value=step_size)
            out[t + 1] = w
    return out
