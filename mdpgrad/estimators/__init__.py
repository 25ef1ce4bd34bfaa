"""Policy-gradient estimators, one estimate per episode, each with its exact expectation.

What it computes
----------------
An :class:`Estimator` bundles ``estimate(traj, policy, θ)`` (an array of shape
(n, *param_shape), one gradient estimate per sampled episode) with
``expectation(mdp, policy, θ, protocol=..., horizon=...)``, the exact
expectation of one episode's estimate under the same stopping protocol,
computed from the model.  Every estimate has the form Σₜ wₜ ∇log π(aₜ|sₜ), so
it is one batched ``policy.log_prob_vjp`` of the per-episode table
W[i, s, a] = Σₜ wₜ 1[sₜ = s, aₜ = a]; every expectation is one
``log_prob_vjp`` of a table Σₜ cₜ Pr(sₜ = s) π(a|s) E[wₜ | sₜ = s, aₜ = a].

Protocols (see :mod:`mdpgrad.sampling`)
---------------------------------------
* "terminal": returns Gₜ = Σ_{k≥t} γ^{k−t} r_k; the step weight is γᵗ.
* "horizon": the same, truncated at H; expectations are finite sums over t < H
  (finite-horizon recursions), so the bias of truncation is part of them.
* "geometric": returns are **undiscounted** sums and **no** γᵗ weight is used:
  Pr(t < T) = γᵗ already puts it in (and the continuation probability γ puts
  the discount into Gₜ).  Hence REINFORCE with and without γᵗ coincide there,
  and every expectation equals the discounted infinite-horizon one.

Identity checked by the tests: sampled means agree with the exact expectations
for every estimator; the exact expectation of REINFORCE (with γᵗ, whole-return,
any state baseline, GAE with the exact v or with λ = 1) is ∇J under
"terminal"/"geometric", while the γᵗ-less one equals
:func:`mdpgrad.gradients.expected_update_without_discount` ("visits").

References: Williams (1992); Sutton & Barto (2018), §13.3–13.4; Schulman et
al. (2016) for GAE(λ); Schulman et al. (2017) for the clipped surrogate; Shao
et al. (2024), §4.1 for group-normalised advantages; Nota & Thomas (2020) for
the missing γᵗ.
"""

from ._contract import TABLE_CHUNK, Estimator
from ._enumeration import MAX_ATOMS, MAX_COMBO_TABLE, MAX_COMBOS, MAX_ENUM_STEPS, MAX_PATH_TABLE, MAX_PATHS
from ._ppo import grpo_estimator, ppo_estimator
from ._reinforce import (
    baseline_estimator,
    gae_estimator,
    reinforce_estimator,
    reinforce_without_discount_estimator,
    value_baseline,
    whole_return_estimator,
)

__all__ = [
    "MAX_ATOMS",
    "MAX_COMBOS",
    "MAX_COMBO_TABLE",
    "MAX_ENUM_STEPS",
    "MAX_PATHS",
    "MAX_PATH_TABLE",
    "TABLE_CHUNK",
    "Estimator",
    "baseline_estimator",
    "gae_estimator",
    "grpo_estimator",
    "ppo_estimator",
    "reinforce_estimator",
    "reinforce_without_discount_estimator",
    "value_baseline",
    "whole_return_estimator",
]
