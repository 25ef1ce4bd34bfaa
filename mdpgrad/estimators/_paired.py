"""A covariance bound for a hand-written estimator, from a library estimator run on the same episodes.

What it computes
----------------
A hand-written estimator ĝ has no closed-form second moment, and its sample
covariance is useless on heavy tails: most samples miss the rare, large
returns, so the sampled standard error is far too small and a correct
estimator is rejected (43 % of seeds at α = 0.01 on a model where a 10⁻³
transition pays 1000).  But every policy-gradient estimator of this toolkit's
family carries those rare returns the same way as a library reference ĝ_ref
whose exact covariance Σ_ref is known (:func:`estimator_moments`).  Run both
on the same episodes and write ĝ = ĝ_ref + D.  For any c > 0 the matrix
inequality

    Cov(ĝ_ref + D) ≼ (1 + c) Σ_ref + (1 + 1/c) Cov D

holds (expand Cov(u + v) and use ±(Cov(u, v) + Cov(v, u)) ≼ c Cov u + Cov v / c).
If Cov D ≼ s² Σ_ref, the choice c = s gives

    Cov ĝ ≼ (1 + s)² Σ_ref,

with s² = λ_max(Σ_ref^{+½} Ĉ_D Σ_ref^{+½}) read from the sampled differences D
(Ĉ_D their sample covariance).  When the user's code is the reference up to
rounding, s ≈ 0 and the test is the exact-covariance χ² test; when it differs
by a light-tailed term (a baseline, a different weighting of the same rare
return), s is estimated well because D does not carry the rare event.  The
harness then runs its χ² test with the covariance (1 + s)² Σ_ref (conservative
by the inequality).  The reference is the library estimator closest to the
user's on the sample (smallest sampled tr Cov D, so that the O(n³) exact
moments are computed for one reference only) among REINFORCE with and without
γᵗ, whole-return REINFORCE and REINFORCE with the exact value baseline (the
next one when D leaves the range of its Σ_ref).  None is usable when D varies
outside the range of every Σ_ref (the user's estimate moves where the
references never do), when the
exact moments are refused (pair chains above MAX_PAIRS), or when the episodes
are sampled off-policy.

Identity checked by the tests: for the library's own REINFORCE wrapped as a
plain function, s = 0 up to rounding and the test equals the exact χ² test; the
false-alarm rate of a correct hand-written REINFORCE on a heavy-tailed model is
within the binomial bounds of α (tests/test_harness_paired.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import ValidationError
from .._model import MDP
from .._policies import Policy
from ..sampling._sampler import StoppingProtocol, Trajectories
from ._contract import Estimator
from ._moments import estimator_moments
from ._reinforce import (
    baseline_estimator,
    reinforce_estimator,
    reinforce_without_discount_estimator,
    value_baseline,
    whole_return_estimator,
)

__all__ = ["PairedBound", "paired_bound"]

#: Eigenvalues of Σ_ref below this fraction of the largest are structural zeros (as the harness's NULL_RTOL).
RANGE_RTOL = 1e-10

#: D may vary outside the range of Σ_ref by rounding only: its sampled variance there must stay below
#: this fraction of Σ_ref's largest eigenvalue (rounding of a difference of two estimates ≈ 1e-16·scale²).
OUTSIDE_RTOL = 1e-12


@dataclass(frozen=True)
class PairedBound:
    """The reference used and the bound Cov ĝ ≼ (1 + s)² Σ_ref.

    Attributes
    ----------
    reference : str
        Name of the library estimator paired with the user's.
    s : float
        √λ_max(Σ_ref^{+½} Ĉ_D Σ_ref^{+½}), the relative size of the sampled differences.
    covariance : ndarray, shape (d, d)
        (1 + s)² Σ_ref.
    """

    reference: str
    s: float
    covariance: np.ndarray


def _references(mdp: MDP, policy: Policy, theta: np.ndarray) -> list[Estimator]:
    refs = [reinforce_estimator(), reinforce_without_discount_estimator(), whole_return_estimator()]
    try:
        refs.append(baseline_estimator(value_baseline(mdp, policy, theta)))
    except ValidationError:          # no exact value table for this model (e.g. a non-terminating policy)
        pass
    return refs


def _relative_spread(cov_ref: np.ndarray, diffs: np.ndarray) -> float:
    """s = √λ_max(Σ^{+½} Ĉ_D Σ^{+½}); ∞ when D varies outside the range of Σ (beyond rounding)."""
    w, V = np.linalg.eigh(cov_ref)
    top = float(max(w.max(initial=0.0), 0.0))
    if top == 0.0:
        return float("inf")
    keep = w > RANGE_RTOL * top
    centred = diffs - diffs.mean(axis=0)
    n = diffs.shape[0]
    outside = centred @ V[:, ~keep]
    if outside.size and float(np.max(np.sum(outside ** 2, axis=0) / (n - 1))) > OUTSIDE_RTOL * top:
        return float("inf")
    Y = centred @ V[:, keep] / np.sqrt(w[keep])
    C = Y.T @ Y / (n - 1)
    return float(np.sqrt(max(float(np.linalg.eigvalsh(C)[-1]), 0.0)))


def paired_bound(mdp: MDP, policy: Policy, theta: np.ndarray, traj: Trajectories, estimates: np.ndarray, *,
                 protocol: StoppingProtocol, horizon: int | None) -> PairedBound | None:
    """The best library reference for ``estimates`` (n, d) on ``traj``, or None when none is usable.

    Parameters
    ----------
    mdp, policy, theta
        The model and the policy that sampled ``traj`` (on-policy).
    traj : Trajectories
        The sampled episodes.
    estimates : ndarray, shape (n, d)
        The user's estimates, one row per episode.
    protocol, horizon
        How the episodes stop.

    Returns
    -------
    PairedBound or None
    """
    # rank the references by the sampled total variance of D (cheap), and compute the exact moments
    # (O(n³) on the pair chain) only for the closest one that works
    ranked: list[tuple[float, int, Estimator, np.ndarray]] = []
    for ref in _references(mdp, policy, theta):
        ref_est = np.asarray(ref.estimate(traj, policy, theta), dtype=float).reshape(estimates.shape)
        with np.errstate(over="ignore", invalid="ignore"):
            diffs = estimates - ref_est
            spread = float(np.sum(np.var(diffs, axis=0, ddof=1)))
        if np.isfinite(spread):
            ranked.append((spread, len(ranked), ref, diffs))
    for _, _, ref, diffs in sorted(ranked, key=lambda item: (item[0], item[1])):
        try:
            mom = estimator_moments(mdp, policy, theta, ref, protocol=protocol, horizon=horizon)
        except ValidationError:
            return None                  # the same refusal (size, conditioning, overflow) for every reference
        with np.errstate(over="ignore", invalid="ignore"):
            s = _relative_spread(mom.covariance, diffs)
        if np.isfinite(s):
            return PairedBound(reference=ref.name, s=s, covariance=(1.0 + s) ** 2 * mom.covariance)
    return None
