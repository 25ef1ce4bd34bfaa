"""mdpgrad.estimators: sampled policy-gradient estimators, each with its exact expectation.

The contract
------------
An :class:`Estimator` bundles two pure functions and two facts:

* ``estimate(traj, policy, theta)`` receives a batch of n sampled episodes
  (:class:`mdpgrad.sampling.Trajectories`), the :class:`mdpgrad.Policy` and
  θ, and returns one gradient estimate per episode, an array of shape
  ``(n, *policy.param_shape)``;
* ``expectation(mdp, policy, theta, protocol="auto", horizon=None)`` returns
  the exact expectation of one episode's estimate under the same stopping
  protocol, shape policy.param_shape, computed from the model;
* ``behaviour_theta``: when set, episodes are sampled from π at these
  parameters instead of θ (PPO's θ_old);
* ``group_size``: episodes come in consecutive groups of this size sharing a
  start state (:func:`mdpgrad.sampling.group_start_states`);
* ``second_moment``: for the estimators with a closed form, the exact first
  and second moments of the episode's weight table, from which
  :func:`estimator_moments` gives Cov[ĝ], the signal-to-noise ratio and the
  standard error of a mean of n episodes without sampling.

Every estimate has the form Σₜ wₜ ∇log π(aₜ|sₜ), so it is one batched
``policy.log_prob_vjp`` of the per-episode table W[i, s, a] = Σₜ wₜ 1[sₜ = s, aₜ = a];
every expectation is one ``log_prob_vjp`` of a table
Σₜ cₜ Pr(sₜ = s) π(a|s) E[wₜ | sₜ = s, aₜ = a].  :func:`mdpgrad.check_estimator`
and :func:`mdpgrad.assert_unbiased` test a sampled mean against the exact
expectation (is the code right?) or against ∇J (is the estimator unbiased?)
and answer with an :class:`EstimatorCheck`.

What lives here
---------------
* :class:`Estimator`: the contract above;
  :class:`EstimatorCheck`: the verdict of :func:`mdpgrad.check_estimator`.
* :func:`reinforce_estimator`: Σₜ γᵗ Gₜ ∇log π (Williams 1992; Sutton & Barto
  2018, §13.3); :func:`reinforce_without_discount_estimator`: Σₜ Gₜ ∇log π, the
  γᵗ dropped (Nota & Thomas 2020); :func:`whole_return_estimator`:
  G₀ Σₜ ∇log π (Williams 1992).
* :func:`baseline_estimator`: Σₜ γᵗ (Gₜ − b(sₜ)) ∇log π for a state baseline b
  (Sutton & Barto 2018, §13.4); :func:`value_baseline`: the exact v^π as b.
* :func:`gae_estimator`: GAE(λ) with a given value table (Schulman et al. 2016).
* :func:`estimator_moments` and :class:`EstimatorMoments`: the exact mean and
  covariance of one episode's estimate (REINFORCE with or without γᵗ,
  whole-return, state baselines, GAE(λ), PPO-clip with an advantage table),
  by linear solves on the state-action chain; :func:`baseline_variances`: the
  exact tr Cov with no baseline, with v, and with the variance-optimal
  constant and state baselines; :func:`sgd_step`: the exact mean and covariance
  of one step θ + α·(mean of n estimates) and the expected change of J to
  second order, with :func:`critical_step_size`, the step beyond which that
  change turns negative; :func:`~mdpgrad.estimators.sample_size`: the number of episodes at which
  the harness detects a given bias with a given power.
* :func:`ppo_estimator`: the gradient of the clipped surrogate at θ ≠ θ_old
  (Schulman et al. 2017); :func:`grpo_estimator`: group-normalised returns
  (Shao et al. 2024, §4.1).

Protocols (see :mod:`mdpgrad.sampling`)
---------------------------------------
* "terminal": returns Gₜ = Σ_{k≥t} γ^{k−t} r_k; the step weight is γᵗ.
* "horizon": the same, truncated at H; expectations are finite sums over t < H
  (finite-horizon recursions), so the bias of truncation is part of them.
* "geometric": returns are **undiscounted** sums and **no** γᵗ weight is used:
  Pr(t < T) = γᵗ already puts it in (and the continuation probability γ puts
  the discount into Gₜ).  Hence REINFORCE with and without γᵗ coincide there,
  and every expectation equals the discounted infinite-horizon one.

Exact expectations of the clipped and group-normalised estimators enumerate
return laws or whole episodes, up to the limits ``MAX_ATOMS``, ``MAX_PATHS``,
``MAX_COMBOS`` … of ``mdpgrad.estimators._enumeration``.

Identities checked by the tests: sampled means agree with the exact expectations
for every estimator; the exact expectation of REINFORCE (with γᵗ, whole-return,
any state baseline, GAE with the exact v or with λ = 1) is ∇J under
"terminal"/"geometric", while the γᵗ-less one equals
:func:`mdpgrad.expected_update_without_discount` ("undiscounted" visits).
"""

from ._check_result import EstimatorCheck, InconclusiveTestWarning
from ._chi2_test import sample_size
from ._contract import Estimator
from ._moments import BaselineVariances, EstimatorMoments, baseline_variances, estimator_moments
from ._ppo import grpo_estimator, ppo_estimator
from ._reinforce import (
    baseline_estimator,
    gae_estimator,
    reinforce_estimator,
    reinforce_without_discount_estimator,
    value_baseline,
    whole_return_estimator,
)
from ._step import SGDStep, critical_step_size, sgd_step

__all__ = [
    "BaselineVariances",
    "Estimator",
    "EstimatorCheck",
    "EstimatorMoments",
    "InconclusiveTestWarning",
    "SGDStep",
    "baseline_estimator",
    "baseline_variances",
    "critical_step_size",
    "estimator_moments",
    "gae_estimator",
    "grpo_estimator",
    "ppo_estimator",
    "reinforce_estimator",
    "reinforce_without_discount_estimator",
    "sample_size",
    "sgd_step",
    "value_baseline",
    "whole_return_estimator",
]
