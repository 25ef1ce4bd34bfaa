"""Report sections for the model itself and the exact evaluation of the policy."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import CheckContext, Section

__all__ = ["evaluation_section", "model_section"]

#: A solved Bellman system is accurate to about cond(I − γP^π)·ε ≤ 2/(1−γ)·1e-16;
#: residuals are flagged above this (generous for γ up to 0.9999).
RESIDUAL_TOL = 1e-9


def _action_sets(avail: np.ndarray) -> str:
    """The action-sets row: how many pairs are unavailable and how many actions each state keeps."""
    if avail.all():
        return "none (every action in every state)"
    lo, hi = int(avail.sum(axis=1).min()), int(avail.sum(axis=1).max())
    return (f"{int((~avail).sum())} of {avail.size} state-action pairs unavailable; "
            f"{lo if lo == hi else f'{lo} to {hi}'} actions per state")


def model_section(ctx: CheckContext) -> Section:
    m = ctx.mdp
    nnz = int(np.count_nonzero(m.P)) if not m.is_sparse else int(sp.csr_array(m.P).nnz)
    avail = m.actions
    n_unavailable = int((~avail).sum())
    rows = [
        ("example", ctx.name),
        ("states x actions", f"{m.n_states} x {m.n_actions}"),
        ("action sets", _action_sets(m.actions)),
        ("storage", f"{'sparse' if m.is_sparse else 'dense'}, {nnz} non-zero transitions"),
        ("gamma", f"{m.gamma:.15g}"),
        ("terminal states", f"{int(m.terminal.sum())}"),
        ("rewards", f"min {m.r[avail].min():.6g}, max {m.r[avail].max():.6g}"
                    + (" (available actions)" if m.has_action_sets else "")),
        ("policy", f"{ctx.policy_name} (tabular softmax"
                   + (" over the available actions" if m.has_action_sets else "")
                   + (f", seed {ctx.seed})" if ctx.policy_name == "random" else ", theta = 0)")),
    ]
    data = dict(example=ctx.name, n_states=m.n_states, n_actions=m.n_actions, sparse=m.is_sparse,
                nnz=nnz, gamma=m.gamma, n_terminal=int(m.terminal.sum()), policy=ctx.policy_name,
                seed=ctx.seed, action_sets=m.has_action_sets, n_unavailable=n_unavailable)
    return Section("model", "Model", rows, data)


def evaluation_section(ctx: CheckContext) -> Section:
    m, ev = ctx.mdp, ctx.evaluation
    resid = ev.bellman_residual(m)
    v_from_q = float(np.max(np.abs(np.sum(ev.pi * ev.q, axis=-1) - ev.v)))
    J_occ = float(np.sum(ev.eta[:, None] * ev.pi * m.r))
    eta_sum = float(ev.eta.sum())
    rows = [
        ("J = rho0 . v", f"{ev.J:.12g}"),
        ("J = sum eta pi r", f"{J_occ:.12g}  (|difference| {abs(J_occ - ev.J):.1e})"),
        ("v", f"min {ev.v.min():.6g}, mean {ev.v.mean():.6g}, max {ev.v.max():.6g}"),
        ("Bellman residual", f"{resid:.1e}  (max |v - r_pi - gamma P_pi v|)"),
        ("v = sum_a pi q", f"max error {v_from_q:.1e}"),
    ]
    data = dict(J=ev.J, J_occupancy=J_occ, v_min=float(ev.v.min()), v_max=float(ev.v.max()),
                v_mean=float(ev.v.mean()), bellman_residual=resid, v_from_q_error=v_from_q,
                eta_sum=eta_sum)
    ok = resid <= RESIDUAL_TOL * max(1.0, float(np.abs(ev.v).max()))
    if not m.terminal.any() and m.gamma < 1:
        expected = 1.0 / (1.0 - m.gamma)
        rows.append(("sum eta", f"{eta_sum:.12g}  (1/(1-gamma) = {expected:.12g})"))
        data["eta_sum_expected"] = expected
        ok = ok and abs(eta_sum - expected) <= RESIDUAL_TOL * expected
    else:
        rows.append(("sum eta", f"{eta_sum:.12g}  (expected discounted episode length)"))
    return Section("evaluation", "Exact evaluation", rows, data, ok)
