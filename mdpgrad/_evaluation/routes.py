"""The two routes to v, q, the advantage, η and J of a policy table, with their error estimates.

Two routes to the same numbers:

* direct: one factorisation of M = I − γP̃^π, the fast path used for ordinary γ;
* deflated, for a continuing chain (no terminal state) with π on the simplex
  when 1/(1 − γ) or the reward offset is large (:data:`DEFLATE_RATIO`).  M is
  then nearly singular along 1 (M1 = (1 − γ)1) and v = M⁻¹r^π is a huge
  constant plus the part that matters, so q − v cancels almost every digit.
  With u = 1/S uniform, B = M + γ1uᵀ = I − γ(P^π − 1uᵀ) keeps the eigenvalues
  1 − γλ of M for λ ≠ 1 and maps 1 to 1 (Brauer 1952), so it stays well
  conditioned as γ → 1 when P^π is unichain (Kemeny & Snell 1960, §4.3, the
  fundamental matrix; Puterman 1994, §8.2).  Sherman–Morrison gives
  M⁻¹ = B⁻¹ + γ/(1 − γ)·1uᵀB⁻¹, hence, with y = B⁻¹r^π, g = uᵀy, zᵀ = ρ₀ᵀB⁻¹ and
  wᵀ = uᵀB⁻¹::

      v = y + γg/(1 − γ)·1,   adv = r + γPy − y − γg,   q = adv + v
      ηᵀ = zᵀ + γ/(1 − γ)·wᵀ,  J = ρ₀·y + γg/(1 − γ)

  (P(s, a, ·)1 = 1 cancels the large term of q − v analytically).  The
  rewards are first centred on c = (max r + min r)/2, which rounds each
  r − c to ε|r − c|/2, and c/(1 − γ) is added back to v, q and J, so the
  advantage is accurate to the spread of the rewards, not their offset.  A chain that is not unichain
  leaves B ill conditioned too, and the error estimate says so.

Each route returns an :class:`~mdpgrad._evaluation.results.Evaluation` with its
:class:`~mdpgrad._evaluation.results.ErrorEstimate` (``mdpgrad._evaluation.accuracy``);
``mdpgrad._evaluation.entry`` chooses the route.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .._chains import Matrix, bellman_matrix, masked_chain, masked_start
from .._errors import NonTerminatingPolicyError, ValidationError
from .._linalg import (
    KRYLOV_MIN_STATES,
    REFINED_MIN_STATES,
    DeflatedSolver,
    KrylovSolver,
    RefinedLU,
    Solver,
    SolverMethod,
    blas_gemm_columns,
    blas_gemv,
    factorize,
    inverse_norm_inf,
    rounding_unit,
    sparse_matvec,
)
from .._model import MDP
from .._progress import Progress
from .._validation import format_index
from .accuracy import direct_error, error_estimate, norm1, pairs_max, states_of, transposed_product
from .results import Evaluation

__all__ = ["evaluate_deflated", "evaluate_direct", "explained", "factorize_chain", "finite_result", "visits"]


@contextmanager
def explained(discount: float) -> Iterator[None]:
    """Turn the solver's refusal of a singular M = I − c·P̃^π into an error about π (and γ)."""
    try:
        yield
    except ValidationError as exc:
        if exc.argument != "M":
            raise
        if discount == 1.0:
            raise NonTerminatingPolicyError(
                f"gamma=1 (or undiscounted counts) needs a policy that terminates, but {exc}: under pi "
                "some non-terminal state reaches a terminal state with probability 0 or below rounding",
                argument="pi", index=exc.index, value=exc.value) from None
        raise ValidationError(
            f"{exc}; with c < 1 this happens only for pi off the simplex (validate=False), where γP̃^π "
            "can have an eigenvalue 1", argument="pi", index=exc.index, value=exc.value) from None


def finite_result(x: np.ndarray, what: str, source: tuple[str, float] | None = None) -> np.ndarray:
    """``x`` when every entry is finite; else refuse, naming the entry and the argument to blame.

    ``source`` = (name, largest magnitude) of the right-hand side, given when
    π is on the simplex: then M is well conditioned (γ < 1) or checked (γ = 1),
    so an overflow comes from the size of the right-hand side (a reward of
    1e308 overflows v whatever the policy), and the error names it.  Off the
    simplex M may be nearly singular, which is the policy's doing.
    """
    if not np.all(np.isfinite(x)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        if source is not None:
            raise ValidationError(f"{format_index(what, idx)} is {x[idx]!r}: the solution overflows because "
                                  f"{source[0]} is too large (max |{source[0]}| = {source[1]:.3g}); rescale "
                                  f"{source[0]}", argument=source[0], index=idx, value=x[idx].item())
        raise ValidationError(f"{format_index(what, idx)} is {x[idx]!r}: the solution overflows (pi off the "
                              "simplex gives a nearly singular system)", argument="pi", index=idx,
                              value=x[idx].item())
    return x


def factorize_chain(mdp: MDP, P_pi: Matrix, discount: float, method: SolverMethod = "auto",
               table: np.ndarray | None = None, progress: Progress = None) -> Solver:
    """One factorisation of I − c·P̃^π (c = ``discount``) for a single policy or a stack.

    ``table`` (the policy) lets the dense refined solver know P̃^π ≥ 0 (P ≥ 0 is an MDP invariant).
    """
    if P_pi.ndim == 2 and not mdp.is_sparse and not np.iscomplexobj(P_pi) and (
            method == "refined" or (method == "auto" and mdp.n_states >= REFINED_MIN_STATES)):
        # the float32 factor straight from P̃^π: the float64 matrix M is never formed
        nonnegative = table is not None and not np.iscomplexobj(table) and bool(np.all(table >= 0))
        return RefinedLU.from_chain(masked_chain(mdp, P_pi), discount, nonnegative=nonnegative)
    if mdp.is_sparse and not np.iscomplexobj(P_pi.data) and (
            method == "krylov" or (method == "auto" and mdp.n_states >= KRYLOV_MIN_STATES)):
        # G = c·P̃^π straight from the chain: the Krylov solver multiplies with G and Gᵀ only
        nonnegative = table is not None and not np.iscomplexobj(table) and bool(np.all(table >= 0))
        return KrylovSolver.from_chain(masked_chain(mdp, P_pi), discount, nonnegative=nonnegative,
                                       progress=progress)
    return factorize(bellman_matrix(mdp, P_pi, discount), overwrite=True, method=method)


def visits(mdp: MDP, solver: Solver) -> np.ndarray:
    """η = M⁻ᵀ ρ̃₀, exactly 0 on terminal states (an iterative solve leaves rounding there)."""
    return np.where(mdp.terminal, 0.0, solver.solve_transposed(masked_start(mdp)))


def _total(x: np.ndarray) -> np.ndarray:
    """Σ over the last axis, kept as an axis of length 1."""
    return np.sum(x, axis=-1, keepdims=True)


def _action_products(mdp: MDP, x: np.ndarray) -> np.ndarray:
    """(P x)(s, a) = Σ_t P(s, a, t) x(t), shape (..., S, A)."""
    if x.ndim > 1:
        return np.einsum("sat,...t->...sa", mdp.P, x, optimize=True)
    S, A = mdp.n_states, mdp.n_actions
    return (sparse_matvec(mdp.P_flat, x) if mdp.is_sparse else blas_gemv(mdp.P_flat, x)).reshape(S, A)


def evaluate_direct(mdp: MDP, table: np.ndarray, P_pi: Any, r_pi: np.ndarray, method: SolverMethod,
                     on_simplex: bool, progress: Progress = None) -> Evaluation:
    """v = M⁻¹r^π, η = M⁻ᵀρ̃₀ from one factorisation of M = I − γP̃^π, with error estimates."""
    gamma = mdp.gamma
    batched = table.ndim > 2
    with explained(gamma):
        factors = factorize_chain(mdp, P_pi, gamma, method, table, progress)
    source = ("r", float(np.max(np.abs(mdp.r), initial=0.0))) if on_simplex else None
    v = finite_result(factors.solve(r_pi), "v", source)
    eta = finite_result(visits(mdp, factors), "eta", source)
    rows = None
    if not batched and not mdp.is_sparse and on_simplex and v.dtype == np.float64:
        # P v and the row sums of P in one pass over P (the sums bound ‖P̃^π‖∞ for the error estimate)
        both = blas_gemm_columns(mdp.P_flat, np.column_stack([v, np.ones(mdp.n_states)]))
        Pv = both[:, 0].reshape(mdp.n_states, mdp.n_actions)
        rows = np.sum(table * both[:, 1].reshape(mdp.n_states, mdp.n_actions), axis=-1)
    else:
        Pv = _action_products(mdp, v)
    q = mdp.r + gamma * Pv
    adv = q - v[..., None]
    d = eta / eta.sum(axis=-1, keepdims=True)
    J = v @ mdp.rho0
    if not batched:
        J = complex(J) if np.iscomplexobj(J) else float(J)
    error = None
    if not np.iscomplexobj(table) and not np.iscomplexobj(v):
        error = direct_error(mdp, table, P_pi, r_pi, v, Pv, q, adv, eta, factors, gamma, on_simplex, rows)
    return Evaluation(pi=table, P_pi=P_pi, r_pi=r_pi, v=v, q=q, advantage=adv, eta=eta, d=d,
                      mu=d[..., None] * table, J=J, solver=None if batched else factors, error=error)


def evaluate_deflated(mdp: MDP, table: np.ndarray, P_pi: np.ndarray, r_pi: np.ndarray,
                       method: SolverMethod) -> Evaluation:
    """The deflated route for a continuing dense chain (module docstring), with error estimates."""
    gamma, S = mdp.gamma, mdp.n_states
    batched = table.ndim > 2
    k = gamma / (1.0 - gamma)
    B = bellman_matrix(mdp, P_pi, gamma)
    B += gamma / S                                      # B = I − γP^π + γ1uᵀ, u uniform
    with explained(gamma):
        factors = factorize(B, overwrite=not batched and method != "refined" and S < REFINED_MIN_STATES,
                            method="lu" if method == "auto" and S < REFINED_MIN_STATES else method)
    u = np.full(S, 1.0 / S)
    source = ("r", float(np.max(np.abs(mdp.r), initial=0.0)))
    # centre the rewards on c: r − c rounds with an error below ε|r − c|/2 (one rounding of the exact
    # difference), so y, Py and g are of the size of the spread, not of the offset; c/(1 − γ) is added
    # back to v, q and J, and the advantage does not change (P^π1 = 1)
    paid = mdp.r[mdp.actions]                          # the rewards of available actions
    c = 0.5 * (float(np.max(paid)) + float(np.min(paid))) if paid.size else 0.0
    rc = mdp.r - c
    r_pi_c = np.sum(table * rc, axis=-1)
    shift = c / (1.0 - gamma)
    y = finite_result(factors.solve(r_pi_c), "v", source)
    z = factors.solve_transposed(mdp.rho0)
    w = factors.solve_transposed(u)
    Py = _action_products(mdp, y)
    g = y @ u
    gc = g[..., None] if batched else g
    with np.errstate(over="ignore"):
        v = finite_result(y + (k * gc + shift), "v", source)
    adv = rc + gamma * Py - y[..., None] - gamma * np.asarray(gc)[..., None]
    q = rc + gamma * (Py + k * np.asarray(gc)[..., None]) + shift
    eta = finite_result(z + k * w, "eta", source)
    d = eta / eta.sum(axis=-1, keepdims=True)
    J = y @ mdp.rho0 + (k * g + shift)
    if np.iscomplexobj(table):                          # a complex step: no error estimate
        return Evaluation(pi=table, P_pi=P_pi, r_pi=r_pi, v=v, q=q, advantage=adv, eta=eta, d=d,
                          mu=d[..., None] * table, J=J if batched else complex(J),
                          solver=None if batched else DeflatedSolver(factors, u, gamma))
    # residuals of the three solves with B, and the error estimates
    Ppi_y = np.sum(table * Py, axis=-1)
    res_y = r_pi_c - (y - gamma * Ppi_y + gamma * gc)
    res_z = mdp.rho0 - (z - gamma * transposed_product(P_pi, z) + gamma * _total(z) * u)
    res_w = u - (w - gamma * transposed_product(P_pi, w) + gamma * _total(w) * u)
    norm = inverse_norm_inf(factors.solve, factors.solve_transposed, table.shape[:-2] + (S, S))
    eps = float(np.finfo(float).eps)
    un = rounding_unit(S)
    ymax = states_of(y)
    err_y = norm * (states_of(res_y) + un * ((1.0 + 2.0 * gamma) * ymax + states_of(r_pi_c)))
    err_z = norm * (norm1(res_z) + un * ((1.0 + 2.0 * gamma) * norm1(z) + 1.0))
    err_w = norm * (norm1(res_w) + un * ((1.0 + 2.0 * gamma) * norm1(w) + 1.0))
    err_v = (1.0 + k) * err_y + eps * states_of(v)
    err_q = gamma * (err_v + un * ymax) + eps * pairs_max(q, mdp.actions)
    err_adv = (1.0 + 2.0 * gamma) * err_y + un * (float(np.max(np.abs(paid - c), initial=0.0))
                                                 + gamma * pairs_max(Py, mdp.actions) + ymax
                                                 + gamma * np.abs(g))
    err_eta = err_z + k * err_w + eps * np.sum(np.abs(eta), axis=-1)
    err_J = (1.0 + k) * err_y + un * (np.abs(v) @ mdp.rho0)
    if not batched:
        J = float(J)
    error = error_estimate(mdp, "deflated", norm, err_v, err_q, err_adv, err_eta, err_J, v, q, adv, eta,
                           batched)
    return Evaluation(pi=table, P_pi=P_pi, r_pi=r_pi, v=v, q=q, advantage=adv, eta=eta, d=d,
                      mu=d[..., None] * table, J=J,
                      solver=None if batched else DeflatedSolver(factors, u, gamma), error=error)
