"""Report section for the exact policy gradient and its finite-difference check.

Shows J, ‖∇J‖, the largest disagreement between ∇J (policy gradient theorem)
and central finite differences of J, and the states whose logits have the
largest and smallest gradient norm.  The section fails (ok=False) when the
finite-difference check does.
"""

from __future__ import annotations

import numpy as np

from ..gradients._check import FD_TOL, check_gradient
from ..gradients._theorem import objective, policy_gradient
from .base import CheckContext, Section

__all__ = ["FD_LARGE_COORDINATES", "FD_LARGE_STATES", "FD_MAX_COORDINATES", "gradient_section"]

#: Finite differences cost two solves per coordinate; models with more
#: parameters than this are checked on this many coordinates: half the
#: largest |∂J/∂θ|, half drawn at random (seed 0) from the rest.
FD_MAX_COORDINATES = 64

#: Models with more states than this get only FD_LARGE_COORDINATES coordinates
#: (each solve then takes seconds rather than milliseconds).
FD_LARGE_STATES = 10_000
FD_LARGE_COORDINATES = 8


def _coordinates(g: np.ndarray, n_states: int) -> np.ndarray:
    flat = np.abs(g.ravel())
    n = flat.size
    budget = FD_MAX_COORDINATES if n_states <= FD_LARGE_STATES else FD_LARGE_COORDINATES
    if n <= budget:
        return np.arange(n)
    top = np.argsort(flat)[::-1][: budget // 2]
    rest = np.setdiff1d(np.arange(n), top)
    rnd = np.random.default_rng(0).choice(rest, budget - top.size, replace=False)
    return np.sort(np.concatenate([top, rnd]))


def gradient_section(ctx: CheckContext) -> Section:
    """J, ‖∇J‖, the finite-difference check and the best and worst state's gradient."""
    m, pol, theta, ev = ctx.mdp, ctx.policy, ctx.theta, ctx.evaluation
    g = policy_gradient(m, pol, theta, evaluation=ev)
    idx = _coordinates(g, m.n_states)
    base = theta.ravel().copy()

    def f_sub(x: np.ndarray) -> float:
        th = base.copy()
        th[idx] = x
        return float(objective(m, pol, th.reshape(theta.shape)))

    # the FD error grows with the third derivative of J, i.e. with the horizon (≈ Σ η)
    tol = FD_TOL * max(1.0, float(ev.eta.sum()))
    chk = check_gradient(f_sub, g.ravel()[idx], base[idx], tol=tol)
    worst_flat = int(idx[chk.worst_index[0]]) if idx.size else 0
    ws, wa = divmod(worst_flat, m.n_actions)
    norms = np.linalg.norm(g.reshape(m.n_states, -1), axis=1)
    live = np.flatnonzero(~m.terminal)
    s_best = int(live[np.argmax(norms[live])])
    s_worst = int(live[np.argmin(norms[live])])
    gnorm = float(np.linalg.norm(g))
    checked = f"{idx.size} of {g.size}" if idx.size < g.size else f"all {g.size}"
    rows = [
        ("J", f"{ev.J:.12g}"),
        ("|grad J|", f"{gnorm:.6g}  (policy gradient theorem, tabular softmax logits)"),
        ("finite differences", f"largest error {chk.max_error:.1e} at theta[{ws}, {wa}], measured as "
                               "|grad - central difference| / max(1, |central difference|) "
                               f"({checked} coordinates; pass mark {tol:.0e})"),
        ("largest state gradient", f"state {s_best}: |d J / d theta[{s_best}, :]| = {norms[s_best]:.6g}"),
        ("smallest state gradient", f"state {s_worst}: |d J / d theta[{s_worst}, :]| = {norms[s_worst]:.6g}"),
    ]
    data = dict(J=float(ev.J), grad_norm=gnorm, fd_max_error=chk.max_error, fd_worst_index=[ws, wa],
                fd_tol=tol, fd_coordinates=int(idx.size), n_params=int(g.size),
                best_state=s_best, best_state_grad_norm=float(norms[s_best]),
                worst_state=s_worst, worst_state_grad_norm=float(norms[s_worst]))
    return Section("gradient", "Exact policy gradient", rows, data, ok=chk.holds)
