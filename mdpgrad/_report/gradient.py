"""Report section for the exact policy gradient and its finite-difference check.

Shows J, ‖∇J‖, the largest disagreement between ∇J (policy gradient theorem)
and central finite differences of J, and the states whose logits have the
largest and smallest gradient norm.  The section fails (ok=False) when some
checked coordinate disagrees by more than its pass mark, the sum of the errors
in play there (Nocedal & Wright 2006, §8.1)::

    a_i = δ∇J_i                                 (the gradient's stated error, gradient_error)
        + |D_i(2h) − D_i(h)| / 3                (truncation h²|J‴|/6, from D(2h) − D(h) = h²J‴/2)
        + ε(|J(θ + h_i e_i)| + |J(θ − h_i e_i)|)/h_i  (rounding of the two values of J)
        + 2 δJ / h_i                            (the solve's error in each value of J)

with D_i(h) the central difference at the step h_i of :mod:`mdpgrad._derivatives`
and δJ the stated error of J (``evaluate(...).error.J``).  The rounding errors of
two solves at θ ± h_i e_i are not smooth in θ, so they do not cancel in the
difference: without the last term the mark is exceeded on valid models (a
10-state Garnet: gap 7.7e-11 against 6.2e-11).  At γ = 0.9 the mark is about
1e-8 for |J| ≈ 1, far below the size of any error in a gradient formula; near
γ = 1 it grows with |J| ≈ max|r|/(1 − γ), as the check's real power does.
"""

from __future__ import annotations

import numpy as np

from .._derivatives import central_differences
from ..gradients._theorem import gradient_error, objective, policy_gradient
from .base import CheckContext, Section

__all__ = ["FD_DENSE_COORDINATES", "FD_DENSE_ENTRIES", "FD_LARGE_COORDINATES", "FD_LARGE_STATES",
           "FD_MAX_COORDINATES", "gradient_section"]

#: Finite differences cost two solves per coordinate; models with more
#: parameters than this are checked on this many coordinates: half the
#: largest |∂J/∂θ|, half drawn at random (seed 0) from the rest.
FD_MAX_COORDINATES = 64

#: Models with more states than this get only FD_LARGE_COORDINATES coordinates
#: (each solve then takes seconds rather than milliseconds).
FD_LARGE_STATES = 10_000
FD_LARGE_COORDINATES = 8

#: Dense models whose P has more entries than this (S·A·S; Jack's car rental has 2.1e6) get
#: FD_DENSE_COORDINATES coordinates: each of the four solves per coordinate reduces all of P
#: (≈ 0.1 s there), so 64 coordinates would take half a minute.
FD_DENSE_ENTRIES = 1_000_000
FD_DENSE_COORDINATES = 16


def _coordinates(g: np.ndarray, n_states: int, dense_entries: int = 0,
                 available: np.ndarray | None = None) -> np.ndarray:
    """The flat indices of θ to check: the logits of available actions (the others are not parameters of
    π: J does not depend on them; default every action available), all of them or a budget of them."""
    candidates = np.arange(g.size) if available is None else np.flatnonzero(available.ravel())
    flat = np.abs(g.ravel()[candidates])
    n = flat.size
    budget = (FD_LARGE_COORDINATES if n_states > FD_LARGE_STATES
              else FD_DENSE_COORDINATES if dense_entries > FD_DENSE_ENTRIES else FD_MAX_COORDINATES)
    if n <= budget:
        return candidates
    top = candidates[np.argsort(flat)[::-1][: budget // 2]]
    rest = np.setdiff1d(candidates, top)
    rnd = np.random.default_rng(0).choice(rest, budget - top.size, replace=False)
    return np.sort(np.concatenate([top, rnd]))


def gradient_section(ctx: CheckContext) -> Section:
    """J, ‖∇J‖, the finite-difference check and the best and worst state's gradient."""
    m, pol, theta, ev = ctx.mdp, ctx.policy, ctx.theta, ctx.evaluation
    g = policy_gradient(m, pol, theta, evaluation=ev)
    idx = _coordinates(g, m.n_states, 0 if m.is_sparse else m.n_states ** 2 * m.n_actions, m.actions)
    base = theta.ravel().copy()

    def f_sub(x: np.ndarray) -> float:
        th = base.copy()
        th[idx] = x
        return float(objective(m, pol, th.reshape(theta.shape)))

    x = base[idx]
    fd = central_differences(f_sub, x)
    fd2 = central_differences(f_sub, x, steps=2.0 * fd.step)
    stated = np.asarray(gradient_error(m, pol, theta, ev)[0]).ravel()[idx]
    solve_error = 0.0 if ev.error is None else float(np.max(ev.error.J))
    marks = stated + np.abs(fd2.jacobian - fd.jacobian) / 3.0 + fd.rounding + 2.0 * solve_error / fd.step
    gaps = np.abs(g.ravel()[idx] - fd.jacobian)
    # each gap relative to its mark; a zero mark (J ≡ 0, as with zero rewards) allows only a zero gap
    ratio = np.where(marks > 0, gaps / np.where(marks > 0, marks, 1.0), np.where(gaps > 0, np.inf, 0.0))
    k = int(np.argmax(ratio)) if idx.size else 0
    max_error, tol = (float(gaps[k]), float(marks[k])) if idx.size else (0.0, 0.0)
    holds = bool(np.all(gaps <= marks))
    worst_flat = int(idx[k]) if idx.size else 0
    ws, wa = divmod(worst_flat, m.n_actions)
    norms = np.linalg.norm(g.reshape(m.n_states, -1), axis=1)
    live = np.flatnonzero(~m.terminal)
    s_best = int(live[np.argmax(norms[live])])
    s_worst = int(live[np.argmin(norms[live])])
    gnorm = float(np.linalg.norm(g))
    n_free = int(m.actions.sum())           # the logits of unavailable actions are not parameters of π
    checked = f"{idx.size} of {n_free}" if idx.size < n_free else f"all {n_free}"
    if n_free < g.size:
        checked += " available-action"
    rows = [
        ("J", f"{ev.J:.12g}"),
        ("|grad J|", f"{gnorm:.6g}  (policy gradient theorem, tabular softmax logits)"),
        ("finite differences", f"|grad - central difference| = {max_error:.1e} at theta[{ws}, {wa}], "
                               f"pass mark there {tol:.1e} (stated error of grad J + truncation, "
                               f"rounding and the solves' error in the difference; {checked} "
                               "coordinates, worst relative to its pass mark)"),
        ("largest state gradient", f"state {s_best}: |d J / d theta[{s_best}, :]| = {norms[s_best]:.6g}"),
        ("smallest state gradient", f"state {s_worst}: |d J / d theta[{s_worst}, :]| = {norms[s_worst]:.6g}"),
    ]
    data = dict(J=float(ev.J), grad_norm=gnorm, fd_max_error=max_error, fd_worst_index=[ws, wa],
                fd_tol=tol, fd_coordinates=int(idx.size), n_params=int(g.size),
                best_state=s_best, best_state_grad_norm=float(norms[s_best]),
                worst_state=s_worst, worst_state_grad_norm=float(norms[s_worst]))
    return Section("gradient", "Exact policy gradient", rows, data, ok=holds)
