"""Report section for the variance of the return, computed two ways (Sobel 1982).

Sobel's second moment gives Var = M − v²; the law of total variance gives
Var = (I − γ²P̃^π)⁻¹ σ² with σ²(s) = E[(r + γ v(s') − v(s))² | s].  They agree
up to the rounding of M − v², which is of the size of ε·M; the section fails
(ok=False) beyond :data:`SECTION_RTOL`.
"""

from __future__ import annotations

import numpy as np

from ..variance import return_variance
from .base import CheckContext, Section

__all__ = ["SECTION_RTOL", "return_variance_section"]

#: The report flags a disagreement between Sobel's form and the law of total
#: variance above this relative error: both are one LU solve of a system with
#: condition ≤ 2/(1−γ²) (or the expected episode length), rounding ≈ 1e-13.
SECTION_RTOL = 1e-9


def return_variance_section(ctx: CheckContext) -> Section:
    """Var[G] from ρ₀, the spread of G by state, and Sobel's M − v² against the law of total variance."""
    mdp, ev = ctx.mdp, ctx.evaluation
    rv = return_variance(mdp, ev.pi)
    sobel = rv.second_moment - rv.v ** 2
    scale = max(1.0, float(np.max(np.abs(rv.second_moment))))
    err = float(np.max(np.abs(sobel - rv.variance)))
    sd0 = float(np.sqrt(max(rv.variance_rho0, 0.0)))
    sd = np.sqrt(np.clip(rv.variance, 0.0, None))
    rows = [
        ("Var[G], s0 ~ rho0", f"{rv.variance_rho0:.6g}  (mean J = {rv.J:.6g}, standard deviation sd = "
                              f"{sd0:.6g}; the spread of one return, not an error bar on J)"),
        ("sd of G by state", f"min {sd.min():.6g}, mean {sd.mean():.6g}, max {sd.max():.6g}"),
        ("two formulas agree", f"max |difference| {err:.1e} between Var = E[G^2] - v^2 (second moment "
                               "from its own Bellman equation, Sobel 1982) and the law of total variance "
                               f"(scale of E[G^2]: {scale:.3g})"),
    ]
    data = dict(variance_rho0=rv.variance_rho0, J=rv.J, variance=rv.variance, second_moment=rv.second_moment,
                law_of_total_variance_error=err)
    return Section("return_variance", "Return variance (Sobel 1982)", rows, data,
                   ok=err <= SECTION_RTOL * scale)
