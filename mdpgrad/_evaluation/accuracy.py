"""Forward-error estimates of an evaluation, and the refusal of results with too few digits.

Every evaluation with a real table carries an :class:`ErrorEstimate`
(condition estimate × residual, propagated to q, the advantage, η and J), and
is refused (:class:`~mdpgrad.InaccurateResultError`) when it leaves fewer than
``ACCURACY_MIN_DIGITS`` significant digits, unless the
caller passes ``accuracy="warn"`` or ``"ignore"``.

Each error is ‖K⁻¹‖∞·(residual + rounding of the residual) for the matrix K
that was factorised (Higham 2002, §7.2 and §15.3; LAPACK's FERR, Anderson et
al. 1999, §4.4): ‖K⁻¹‖∞ from the Neumann bound, from M⁻¹1 for the M-matrix
M = I − γP̃^π, or Hager's estimate; the residuals in float64, or once more in
extended precision when the float64 rounding of the residual dominates.  Each
error is judged against the scale of its quantity (:func:`advantage_floor`
for the advantage).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .._chains import masked_start
from .._linalg import (
    ACCURACY_MIN_DIGITS,
    DOUBLE_DIGITS,
    Accuracy,
    Solver,
    blas_gemv,
    check_accuracy,
    digits_left,
    inverse_norm_inf,
    rounding_unit,
)
from .._model import MDP
from .results import ErrorEstimate, Evaluation

__all__ = ["ADVICE", "NEUMANN_MAX_HORIZON", "advantage_floor", "check_evaluation", "direct_error",
           "error_estimate", "inverse_norm_direct", "norm1", "pairs_max", "row_terms", "states_of",
           "transposed_product", "within_tolerance"]


#: The horizon up to which ‖M⁻¹‖∞ is taken from the Neumann bound 1/(1 − γ·max_s Σ_t P^π(s, t))
#: (exact for a continuing chain); beyond it, and for γ = 1, from the solve M⁻¹1 (exact for the
#: M-matrix M, which is tighter when episodes end long before 1/(1 − γ) steps).
NEUMANN_MAX_HORIZON = 1e4

ADVICE = ("centre the rewards (subtract a constant: advantages and gradients do not change), avoid "
          "γ so close to 1 or termination probabilities so close to 0, or use exact rationals "
          "(mdpgrad.symbolic)")


def states_of(x: np.ndarray) -> np.ndarray:
    """max over the last axis (per policy of a batch)."""
    return np.max(np.abs(x), axis=-1, initial=0.0)


def norm1(x: np.ndarray) -> np.ndarray:
    """‖x‖₁ over the last axis."""
    return np.sum(np.abs(x), axis=-1)


def pairs_max(x: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """max |x(s, a)| over the available pairs (q and the advantage of an unavailable action are never used,
    so their size sets no scale and their error is not estimated)."""
    return np.max(np.abs(np.where(actions, x, 0.0)), axis=(-2, -1), initial=0.0)


def transposed_product(P_pi: Any, x: np.ndarray) -> np.ndarray:
    """P^πᵀ x (per policy of a batch)."""
    if sp.issparse(P_pi):
        return np.asarray(P_pi.T @ x)
    if P_pi.ndim == 2:
        return blas_gemv(P_pi.T, x)
    return np.einsum("...st,...s->...t", P_pi, x, optimize=True)


def _result(batched: bool, x: np.ndarray) -> Any:
    return x if batched else float(x)


def row_terms(mdp: MDP, P_pi: Any) -> int:
    """The longest inner product in a row of P^π (S dense, the most successors sparse)."""
    if sp.issparse(P_pi):
        return int(np.max(np.diff(P_pi.indptr), initial=1))
    return mdp.n_states


def inverse_norm_direct(mdp: MDP, P_pi: Any, factors: Solver, discount: float, on_simplex: bool,
                         shape: tuple[int, ...], rows: np.ndarray | None = None) -> Any:
    """‖M⁻¹‖∞ for M = I − c·P̃^π: Neumann bound, M⁻¹1 (an M-matrix), or Hager's estimate.

    ``rows``: the row sums of P^π when already known (they bound those of P̃^π).
    """
    if on_simplex:
        if rows is None:
            rows = (np.asarray(P_pi.sum(axis=1)).ravel() if sp.issparse(P_pi)
                    else blas_gemv(P_pi, np.ones(mdp.n_states)) if P_pi.ndim == 2 else P_pi.sum(axis=-1))
        q = discount * states_of(rows)
        if np.all(q < 1.0) and np.all(1.0 / (1.0 - q) <= NEUMANN_MAX_HORIZON):
            return 1.0 / (1.0 - q)
        ones = factors.solve(np.where(mdp.terminal, 0.0, 1.0))       # M⁻¹ ≥ 0: ‖M⁻¹‖∞ = max M⁻¹1
        if np.all(np.isfinite(ones)) and np.all(ones >= 0):
            return np.max(ones, axis=-1, initial=1.0)
    return inverse_norm_inf(factors.solve, factors.solve_transposed, shape)


def direct_error(mdp: MDP, table: np.ndarray, P_pi: Any, r_pi: np.ndarray, v: np.ndarray, Pv: np.ndarray,
                  q: np.ndarray, adv: np.ndarray, eta: np.ndarray, factors: Solver, gamma: float,
                  on_simplex: bool, rows: np.ndarray | None) -> ErrorEstimate:
    """The :class:`ErrorEstimate` of the direct route (one more product, P^πᵀη, for η's residual).

    When it leaves fewer than ``ACCURACY_MIN_DIGITS`` digits on a dense model,
    the residuals are formed once more in extended precision (:func:`_extended_residuals`): the
    rounding of the residual computation, u·(1 + γ)·max|v| in float64, is what dominates the bound
    when v = M⁻¹r^π is large but accurate (P^π = I near γ = 1), and it drops by the ratio of the
    two rounding units.  The cheap float64 estimate serves every other case.
    """
    S = mdp.n_states
    norm = inverse_norm_direct(mdp, P_pi, factors, gamma, on_simplex, table.shape[:-2] + (S, S), rows)
    u = rounding_unit(row_terms(mdp, P_pi))
    res_v = r_pi - v + gamma * np.sum(table * Pv, axis=-1)
    start = masked_start(mdp)
    res_eta = np.where(mdp.terminal, 0.0, start - eta + gamma * transposed_product(P_pi, eta))
    estimate = _direct_bounds(mdp, norm, u, u, res_v, res_eta, r_pi, v, q, adv, eta, gamma, table.ndim > 2)
    if estimate.digits >= ACCURACY_MIN_DIGITS or mdp.is_sparse or not on_simplex:
        return estimate
    extended = _extended_residuals(mdp, table, v, eta)
    if extended is None:
        return estimate
    u_ext, res_v, res_eta = extended
    return _direct_bounds(mdp, norm, u, u_ext, res_v, res_eta, r_pi, v, q, adv, eta, gamma, table.ndim > 2)


def _extended_residuals(mdp: MDP, table: np.ndarray, v: np.ndarray,
                        eta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray] | None:
    """r^π − Mv and ρ̃₀ − Mᵀη formed in np.longdouble from P, π, r and ρ₀ (dense), with their rounding unit.

    As in :class:`ErrorEstimate`, the model is the one whose rows of P and π sum to exactly 1:
    they are renormalised in extended precision (π = 1/3 rounded to float64 sums to 1 − 2⁻⁵⁴,
    which, seen through ‖M⁻¹‖∞ ≈ 1/(1 − γ), would be read as an error of v and η).  Returns
    (u, res_v, res_eta), u the rounding unit of the extended computation (P^π = ΠP is formed
    in it too: A + S terms per entry), or None where np.longdouble is no wider than float64.
    """
    ext = np.longdouble
    eps_ext = float(np.finfo(ext).eps)
    if eps_ext >= float(np.finfo(float).eps):
        return None
    gamma = ext(mdp.gamma)
    pi = table.astype(ext)
    pi /= np.sum(pi, axis=-1, keepdims=True)
    P = mdp.P_dense().astype(ext)
    P /= np.sum(P, axis=-1, keepdims=True)
    P_pi = np.einsum("...sa,sat->...st", pi, P)
    r_pi = np.sum(pi * mdp.r.astype(ext), axis=-1)
    v_ext, eta_ext = v.astype(ext), eta.astype(ext)
    res_v = r_pi - v_ext + gamma * np.einsum("...st,...t->...s", P_pi, v_ext)
    res_eta = np.where(mdp.terminal, ext(0), masked_start(mdp).astype(ext) - eta_ext
                       + gamma * np.einsum("...st,...s->...t", P_pi, eta_ext))
    u = rounding_unit(mdp.n_states + mdp.n_actions, eps_ext)
    return u, res_v.astype(float), res_eta.astype(float)


def _direct_bounds(mdp: MDP, norm: Any, u: float, u_res: float, res_v: np.ndarray, res_eta: np.ndarray,
                   r_pi: np.ndarray, v: np.ndarray, q: np.ndarray, adv: np.ndarray, eta: np.ndarray,
                   gamma: float, batched: bool) -> ErrorEstimate:
    """‖M⁻¹‖∞·(residual + u_res·its size), propagated to q, the advantage and J with the float64 unit u."""
    eps = float(np.finfo(float).eps)
    start = masked_start(mdp)
    vmax, qmax = states_of(v), pairs_max(q, mdp.actions)
    eta1 = np.sum(np.abs(eta), axis=-1)
    err_v = norm * (states_of(res_v) + u_res * ((1.0 + gamma) * vmax + states_of(r_pi)))
    err_eta = norm * (np.sum(np.abs(res_eta), axis=-1) + u_res * ((1.0 + gamma) * eta1 + np.sum(start)))
    err_q = gamma * (err_v + u * vmax) + eps * qmax
    err_adv = err_q + err_v + eps * (qmax + vmax)          # the rounding of the difference q − v
    err_J = float(np.sum(mdp.rho0)) * err_v + u * (np.abs(v) @ mdp.rho0)
    return error_estimate(mdp, "direct", norm, err_v, err_q, err_adv, err_eta, err_J, v, q, adv, eta, batched)


def error_estimate(mdp: MDP, route: str, norm: Any, err_v: Any, err_q: Any, err_adv: Any, err_eta: Any,
              err_J: Any, v: np.ndarray, q: np.ndarray, adv: np.ndarray, eta: np.ndarray,
              batched: bool) -> ErrorEstimate:
    scales = _scales(mdp, v, q, adv, eta)
    errors = [np.asarray(x, dtype=float) for x in (err_v, err_q, err_adv, err_eta, err_J)]
    digits = min(min((digits_left(float(e), float(sc)) for e, sc in zip(err.ravel(), np.ravel(scale),
                                                                         strict=True)), default=DOUBLE_DIGITS)
                 for err, scale in zip(errors, scales, strict=True))
    e_v, e_q, e_adv, e_eta, e_J = (_result(batched, x) for x in errors)
    return ErrorEstimate(route, _result(batched, np.asarray(norm, dtype=float)), e_v, e_q, e_adv, e_eta, e_J,
                         digits)


def advantage_floor(mdp: MDP) -> float:
    """The least scale an advantage is judged against: the spread max r − min r of the rewards of the
    available actions of the non-terminal states.  Inf (advantages never refused) with one available
    action per state, where every advantage is 0, and with constant rewards, where every advantage is 0
    without terminal states (v is constant) and is otherwise set by the termination probabilities
    alone, which the checks of v, q, η and J cover."""
    live = ~mdp.terminal
    rewards = mdp.r[live][mdp.actions[live]]
    spread = float(np.ptp(rewards)) if rewards.size else 0.0
    if not (mdp.actions[live].sum(axis=1) > 1).any() or spread == 0.0:
        return float("inf")
    return spread


def _scales(mdp: MDP, v: np.ndarray, q: np.ndarray, adv: np.ndarray, eta: np.ndarray) -> list[np.ndarray]:
    """The scale each quantity's error is judged against (the docstring of :class:`ErrorEstimate`)."""
    spread = advantage_floor(mdp)
    return [states_of(v), pairs_max(q, mdp.actions), np.maximum(pairs_max(adv, mdp.actions), spread),
            np.sum(np.abs(eta), axis=-1), states_of(v)]


def within_tolerance(mdp: MDP, ev: Evaluation) -> bool:
    """Whether every quantity of ``ev`` keeps ``ACCURACY_MIN_DIGITS`` digits."""
    err = ev.error
    if err is None:
        return True
    scales = _scales(mdp, ev.v, ev.q, ev.advantage, ev.eta)
    errors = (err.v, err.q, err.advantage, err.eta, err.J)
    return all(bool(np.all(np.asarray(e) <= 10.0 ** -ACCURACY_MIN_DIGITS * np.asarray(sc)))
               for e, sc in zip(errors, scales, strict=True))


def check_evaluation(mdp: MDP, ev: Evaluation, policy: Accuracy) -> None:
    """Refuse or warn, per :func:`mdpgrad._linalg.check_accuracy`, quantity by quantity."""
    err = ev.error
    if err is None:
        return
    scales = _scales(mdp, ev.v, ev.q, ev.advantage, ev.eta)
    errors = (err.v, err.q, err.advantage, err.eta, err.J)
    for name, e, sc in zip(("v", "q", "the advantage", "eta", "J"), errors, scales, strict=True):
        check_accuracy(f"{name} ({err.route} route, ‖K⁻¹‖∞ ≈ {float(np.max(err.inverse_norm)):.3g})",
                       e, sc, policy, ADVICE)
