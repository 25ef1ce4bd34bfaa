"""The exact mean and covariance of one stochastic gradient step, and its expected effect on J.

What it computes
----------------
One step of stochastic gradient ascent moves θ to θ' = θ + α ḡ, where ḡ is the
mean of the estimates ĝ₁ … ĝₙ of n independent episodes.  With μ = E[ĝ] and
Σ = Cov[ĝ] from :func:`mdpgrad.estimators.estimator_moments` (exact, no
sampling), the step itself has

    E[θ'] = θ + α μ,        Cov[θ'] = α² Σ / n.

What the step does to the objective is not linear in ḡ.  Expanding J around θ
to second order (Taylor), with g = ∇J(θ) and H = ∇²J(θ) (from
:func:`mdpgrad.policy_hessian`, flattened in C order like Σ),

    J(θ + αḡ) = J(θ) + α gᵀḡ + (α²/2) ḡᵀHḡ + O(α³‖ḡ‖³),

and taking the expectation term by term,

    E[gᵀḡ] = gᵀμ,
    E[ḡᵀHḡ] = tr(H E[ḡḡᵀ]) = tr(H (μμᵀ + Σ/n)) = μᵀHμ + tr(HΣ)/n,

because E[ḡḡᵀ] = Cov[ḡ] + E[ḡ]E[ḡ]ᵀ and the episodes are independent, so
Cov[ḡ] = Σ/n.  Hence the second-order expected improvement

    Δ₂(α) = α gᵀμ + (α²/2) c,        c = μᵀHμ + tr(HΣ)/n.

The noise enters only through tr(HΣ)/n: where J curves down along the
directions the estimate scatters in (tr(HΣ) < 0), noise costs improvement, and
it costs more the larger the step.  When gᵀμ > 0 and c < 0, Δ₂ is positive on
(0, α_c) and negative beyond, with α_c = −2gᵀμ / c: the *critical step size*
(Δ₂ is largest at α_c / 2).  The other cases:

* gᵀμ > 0 and c ≥ 0: Δ₂ > 0 for every α > 0, α_c = ∞;
* gᵀμ = 0 (a stationary point of J for an unbiased estimator): Δ₂ = (α²/2)c
  improves for every α when c > 0 (α_c = ∞) and never when c ≤ 0 (α_c = 0);
* gᵀμ < 0 (a biased estimator whose mean points downhill): no small step
  improves J in expectation, α_c = 0 (when c > 0 a step longer than −2gᵀμ/c
  would, by the quadratic, but that is a statement about large steps which
  the Taylor expansion does not support).

So α_c is the length of the first interval (0, α_c) on which Δ₂ > 0.  For an
unbiased estimator μ = g and gᵀμ = ‖∇J‖² ≥ 0 (Williams 1992; Sutton & Barto
2018, §13.3).

This is a statement about the second-order (Taylor) model of J, exact in μ, Σ,
g and H but not in J.  α_c is the root of that model, *not* the step beyond
which one noisy step loses J in expectation: the exact expected change
E[J(θ + αḡ)] − J(θ) is not a polynomial in α, and no bound on the difference is
claimed.  As α → 0 the difference is O(α³) when ĝ has a finite third moment and
J's third derivatives are bounded along the step; at α_c it can have either
sign and be as large as the change itself.  Enumerating every episode of the
two-state model under horizon 5 (n = 1, θ = [[1, 0], [0, 1]]): α_c = 1.159,
where the model says 0 and the exact expected change is +1.418 (J gains); the
exact critical step can also lie below α_c, so read α_c as the scale at which
the noise term matters, not as a safe step.  Where J is unbounded below the
expansion says nothing: on the short corridor (γ = 1, J(p) → −∞ as p → 0 or 1)
every α > 0 has E[J(θ + αḡ)] = −∞, because an episode of length m has
probability of order 2^{−m} and an estimate of order m², so some estimates move
p as close to 0 or 1 as one likes, while Δ₂(α) stays finite.

The tests measure the remainder on a small model: they sample 10⁵ episodes,
evaluate J(θ + αĝᵢ) exactly for each sampled estimate (an unbiased estimate of
the exact E[J(θ')]) and find the formula within the sampling error, with a
remainder that shrinks like α³ when α is halved; and they enumerate the 4⁵
episodes of the two-state model under horizon 5 to compare the exact expected
change with Δ₂ at α_c/100 (1e-3 relative, a remainder shrinking 8× when α is
halved) and at α_c (the numbers above).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .._display import compact_repr
from .._model import MDP
from .._policies import Policy
from .._validation import check_integer, check_real
from ..gradients._second_order import policy_hessian
from ..gradients._theorem import policy_gradient
from ..sampling._sampler import ProtocolOption
from ._contract import Estimator
from ._moments import estimator_moments

__all__ = ["SGDStep", "critical_step_size", "sgd_step"]


@dataclass(frozen=True, eq=False)
class SGDStep:
    """One SGD step θ' = θ + α ḡ (ḡ the mean of n episodes' estimates): its moments and its effect on J.

    Attributes
    ----------
    theta : ndarray, shape param_shape
        The starting point θ.
    step_size : float
        α.
    n_episodes : int
        n, the episodes averaged in ḡ.
    mean : ndarray, shape param_shape
        E[θ'] = θ + α μ.
    covariance : ndarray, shape (d, d)
        Cov[θ'] = α² Σ / n, parameters flattened in C order.
    estimate_mean : ndarray, shape param_shape
        μ = E[ĝ] of one episode.
    estimate_covariance : ndarray, shape (d, d)
        Σ = Cov[ĝ] of one episode.
    gradient : ndarray, shape param_shape
        ∇J(θ).
    hessian : ndarray, shape (d, d)
        ∇²J(θ), flattened in C order.
    first_order : float
        α ∇Jᵀμ.
    second_order : float
        (α²/2)(μᵀHμ + tr(HΣ)/n).
    expected_change : float
        first_order + second_order: E[J(θ')] − J(θ) to second order.
    curvature : float
        c = μᵀHμ + tr(HΣ)/n, the expected curvature of J along ḡ.
    critical_step_size : float
        The α beyond which the *second-order* expected change turns negative
        (see :func:`critical_step_size`); ∞ when it never does, 0 when no
        small step improves.  Not the exact critical step: the true expected
        change can already be negative there (module docstring).
    protocol : str
    horizon : int or None
    """

    theta: np.ndarray
    step_size: float
    n_episodes: int
    mean: np.ndarray
    covariance: np.ndarray
    estimate_mean: np.ndarray
    estimate_covariance: np.ndarray
    gradient: np.ndarray
    hessian: np.ndarray
    first_order: float
    second_order: float
    expected_change: float
    curvature: float
    critical_step_size: float
    protocol: str
    horizon: int | None

    __repr__ = compact_repr

    @property
    def slope(self) -> float:
        """∇Jᵀμ, the expected first-order gain per unit step size."""
        return float(np.dot(self.gradient.ravel(), self.estimate_mean.ravel()))

    def __str__(self) -> str:
        sign = "gain" if self.expected_change > 0 else "loss"
        return (f"SGDStep: alpha={self.step_size:g}, {self.n_episodes} episode(s) — expected change of J "
                f"{self.expected_change:.4g} to second order ({sign}), second-order critical step "
                f"{self.critical_step_size:.4g}")

    def change_at(self, step_size: float) -> float:
        """The second-order expected change α ∇Jᵀμ + (α²/2) c at another step size α ≥ 0 (same n)."""
        a = check_real(step_size, "step_size", min_value=0.0)
        return a * self.slope + 0.5 * a * a * self.curvature


def critical_step_size(slope: float, curvature: float) -> float:
    """The end of the first interval (0, α_c) on which α·slope + (α²/2)·curvature > 0.

    The root of the second-order model of the expected change, not of the
    change itself: at α_c the exact expected change can be of either sign and
    of the size of the change (module docstring), and on a model where J is
    unbounded below (the short corridor) every step loses J in expectation.

    Parameters
    ----------
    slope : float
        ∇Jᵀμ.
    curvature : float
        c = μᵀHμ + tr(HΣ)/n.

    Returns
    -------
    float
        −2·slope/curvature when slope > 0 > curvature; ∞ when slope > 0 and
        curvature ≥ 0, or slope = 0 and curvature > 0; 0 otherwise (no small
        step improves).

    Examples
    --------
    >>> from mdpgrad.estimators import critical_step_size
    >>> critical_step_size(1.0, -4.0), critical_step_size(1.0, 0.0), critical_step_size(-1.0, 3.0)
    (0.5, inf, 0.0)
    """
    s = check_real(slope, "slope")
    c = check_real(curvature, "curvature")
    if s > 0.0:
        return -2.0 * s / c if c < 0.0 else float("inf")
    if s == 0.0 and c > 0.0:
        return float("inf")
    return 0.0


def sgd_step(mdp: MDP, policy: Policy, theta: ArrayLike, estimator: Estimator, step_size: float, *,
             n_episodes: int = 1, protocol: ProtocolOption = "auto", horizon: int | None = None) -> SGDStep:
    """The exact mean and covariance of one SGD step θ + α ḡ, and E[J(θ')] − J(θ) to second order.

    ḡ is the mean of ``n_episodes`` independent episodes' estimates.  The
    moments of the step are exact; the change of J is its second-order
    (Taylor) expansion α ∇Jᵀμ + (α²/2)(μᵀHμ + tr(HΣ)/n), derived in the
    module docstring; it is accurate for small α when ĝ has a finite third
    moment, not a bound, and it can be far off at α_c or where J is
    unbounded below.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : array_like, shape policy.param_shape
    estimator : Estimator
        An estimator with a closed-form second moment (see
        :func:`mdpgrad.estimators.estimator_moments`).
    step_size : float
        α > 0.
    n_episodes : int, default 1
        Episodes averaged per step.
    protocol, horizon
        As for :func:`mdpgrad.sample`: how the episodes that feed ĝ stop.  J
        is always the model's objective :func:`mdpgrad.objective`, so a biased
        estimator (e.g. under a short horizon) shows as ∇Jᵀμ ≠ ‖∇J‖².

    Returns
    -------
    SGDStep

    Raises
    ------
    ValidationError
        Naming ``step_size`` (not a finite real > 0), ``n_episodes`` (not an
        integer ≥ 1), or whatever :func:`estimator_moments` and
        :func:`mdpgrad.policy_hessian` refuse (``mdp``, ``policy``, ``theta``,
        ``estimator``).

    Examples
    --------
    One decision between rewards 0 and 1 under π = (½, ½), REINFORCE: μ = ∇J =
    (−¼, ¼) and Σ has tr 1/8 in that block.

    >>> import numpy as np
    >>> from mdpgrad.estimators import reinforce_estimator, sgd_step
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])
    >>> step = sgd_step(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)), reinforce_estimator(), 0.5)
    >>> step.mean[0].tolist(), round(step.first_order, 12)
    ([-0.125, 0.125], 0.0625)
    """
    alpha = check_real(step_size, "step_size", min_value=0.0, min_open=True)
    n = check_integer(n_episodes, "n_episodes", min_value=1)
    mom = estimator_moments(mdp, policy, theta, estimator, protocol=protocol, horizon=horizon)
    th = np.asarray(theta, dtype=float).reshape(mom.mean.shape)
    d = mom.mean.size
    g = np.asarray(policy_gradient(mdp, policy, th), dtype=float).reshape(mom.mean.shape)
    H = np.asarray(policy_hessian(mdp, policy, th), dtype=float).reshape(d, d)
    H = 0.5 * (H + H.T)
    mu = mom.mean.ravel()
    Sigma = mom.covariance
    slope = float(g.ravel() @ mu)
    curvature = float(mu @ H @ mu + np.sum(H * Sigma) / n)     # tr(HΣ) = Σ_ij H_ij Σ_ji, both symmetric
    first = alpha * slope
    second = 0.5 * alpha * alpha * curvature
    return SGDStep(theta=th.copy(), step_size=alpha, n_episodes=n, mean=th + alpha * mom.mean,
                   covariance=alpha * alpha * Sigma / n, estimate_mean=mom.mean, estimate_covariance=Sigma,
                   gradient=g, hessian=H, first_order=first, second_order=second,
                   expected_change=first + second, curvature=curvature,
                   critical_step_size=critical_step_size(slope, curvature),
                   protocol=mom.protocol, horizon=mom.horizon)
