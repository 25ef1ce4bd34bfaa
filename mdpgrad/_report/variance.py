"""Report section for the variance of the return, computed two ways (Sobel 1982).

Sobel's second moment gives Var = M − v²; the law of total variance gives
Var = (I − γ²P̃^π)⁻¹ σ² with σ²(s) = E[(r + γ v(s') − v(s))² | s].  Both come
from linear solves with M = I − γ P̃^π (or I − γ²P̃^π, better conditioned), so
they agree up to rounding of size κ·ε·max E[G²], κ the condition number of M;
the section fails (ok=False) beyond :data:`VARIANCE_ROUNDING_FACTOR` times that
(:func:`variance_agreement`).

κ∞(M) = ‖M‖∞·‖M⁻¹‖∞ is known without an estimator: M⁻¹ = Σ_t (γP̃^π)ᵗ ≥ 0, so
‖M⁻¹‖∞ = max_s (M⁻¹1)(s), the longest expected discounted episode length:
1/(1 − γ) without terminal states, one more solve with reward 1 with them; and
‖M‖∞ ≤ 1 + γ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._evaluation import evaluate
from .._model import MDP
from ..variance import ReturnVariance, return_variance
from .base import CheckContext, Section

__all__ = ["SECTION_RTOL", "VARIANCE_ROUNDING_FACTOR", "VarianceAgreement", "condition_number",
           "return_variance_section", "variance_agreement"]

#: The least relative tolerance of the comparison, against max E[G²]: the
#: agreement of two well-conditioned solves (κ ≈ 1) is never asked to beat this.
SECTION_RTOL = 1e-12

#: The two variances differ by the rounding of three solves with M (second
#: moment, values, law of total variance; each ≤ κ·ε relative) and of the
#: subtraction M − v² (ε·max E[G²]): 4κε·max E[G²] bounds their sum.  Measured:
#: 0.075κε on two-state at γ = 0.9, 0.04κε at γ = 1 − 1e-12.
VARIANCE_ROUNDING_FACTOR = 4.0

_EPS = float(np.finfo(float).eps)


@dataclass(frozen=True)
class VarianceAgreement:
    """Sobel's Var = E[G²] − v² against the law of total variance, with the tolerance used.

    Attributes
    ----------
    error : float
        max_s |(E[G²] − v²)(s) − Var_total(s)|.
    tolerance : float
        max(:data:`SECTION_RTOL`, :data:`VARIANCE_ROUNDING_FACTOR`·κ·ε)·max(1, max E[G²]).
    kappa : float
        κ∞(I − γP̃^π), see :func:`condition_number`.
    scale : float
        max(1, max E[G²]).
    holds : bool
        ``error <= tolerance``.
    """

    error: float
    tolerance: float
    kappa: float
    scale: float
    holds: bool

    def __str__(self) -> str:
        word = "agree" if self.holds else "DISAGREE"
        return (f"VarianceAgreement: {word} — max |difference| {self.error:.2g} "
                f"{'<=' if self.holds else '>'} {self.tolerance:.2g} (kappa {self.kappa:.3g})")


def condition_number(mdp: MDP, pi: np.ndarray) -> float:
    """κ∞(I − γP̃^π) = ‖M‖∞‖M⁻¹‖∞, with ‖M‖∞ bounded by 1 + γ (see the module docstring).

    Parameters
    ----------
    mdp : MDP
    pi : ndarray, shape (S, A)
        A validated policy table.

    Returns
    -------
    float
    """
    if not mdp.terminal.any():
        return (1.0 + mdp.gamma) / (1.0 - mdp.gamma)
    ones = np.repeat((~mdp.terminal).astype(float)[:, None], mdp.n_actions, axis=1)
    lengths = evaluate(mdp.replace(r=ones), pi, validate=False).v
    return (1.0 + mdp.gamma) * max(1.0, float(np.max(lengths)))


def variance_agreement(rv: ReturnVariance, kappa: float) -> VarianceAgreement:
    """Compare Sobel's E[G²] − v² with the law of total variance (see :class:`VarianceAgreement`).

    Parameters
    ----------
    rv : ReturnVariance
        From :func:`mdpgrad.return_variance`.
    kappa : float
        κ∞(I − γP̃^π), from :func:`condition_number`.
    """
    sobel = rv.second_moment - rv.v ** 2
    scale = max(1.0, float(np.max(np.abs(rv.second_moment))))
    err = float(np.max(np.abs(sobel - rv.variance)))
    tol = max(SECTION_RTOL, VARIANCE_ROUNDING_FACTOR * kappa * _EPS) * scale
    return VarianceAgreement(error=err, tolerance=tol, kappa=float(kappa), scale=scale, holds=err <= tol)


def return_variance_section(ctx: CheckContext) -> Section:
    """Var[G] from ρ₀, the spread of G by state, and Sobel's M − v² against the law of total variance."""
    mdp, ev = ctx.mdp, ctx.evaluation
    rv = return_variance(mdp, ev.pi)
    agree = variance_agreement(rv, condition_number(mdp, ev.pi))
    sd0 = float(np.sqrt(max(rv.variance_rho0, 0.0)))
    sd = np.sqrt(np.clip(rv.variance, 0.0, None))
    rows = [
        ("Var[G], s0 ~ rho0", f"{rv.variance_rho0:.6g}  (mean J = {rv.J:.6g}, standard deviation sd = "
                              f"{sd0:.6g}; the spread of one return, not an error bar on J)"),
        ("sd of G by state", f"min {sd.min():.6g}, mean {sd.mean():.6g}, max {sd.max():.6g}"),
        ("two formulas agree" if agree.holds else "two formulas DISAGREE",
         f"max |difference| {agree.error:.1e} between Var = E[G^2] - v^2 (second moment from its own "
         "Bellman equation, Sobel 1982) and the law of total variance (scale of E[G^2]: "
         f"{agree.scale:.3g}; tolerance {agree.tolerance:.1e} for condition number {agree.kappa:.3g})"),
    ]
    data = dict(variance_rho0=rv.variance_rho0, J=rv.J, variance=rv.variance, second_moment=rv.second_moment,
                law_of_total_variance_error=agree.error, tolerance=agree.tolerance,
                condition_number=agree.kappa)
    return Section("return_variance", "Return variance (Sobel 1982)", rows, data, ok=agree.holds)
