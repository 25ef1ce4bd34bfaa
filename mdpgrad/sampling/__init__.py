"""mdpgrad.sampling: episodes drawn from the exact dynamics, many at once.

:func:`mdpgrad.sample` (a top-level name) draws n episodes
s₀ ∼ ρ₀, aₜ ∼ π(· | sₜ), sₜ₊₁ ∼ P(· | sₜ, aₜ), rₜ = r(sₜ, aₜ) with a
``numpy.random.Generator`` (or an int seed, passed as ``rng``) and returns them
as :class:`Trajectories`.  An episode stops under one of the ``PROTOCOLS``:

* "terminal": at a terminal state (every path of π must reach one);
* "horizon": after H actions, or earlier at a terminal state; the truncated
  return misses at most :func:`truncation_bound` = γᴴ · max|r| / (1 − γ) of J;
* "geometric": with probability 1 − γ after every step, so Pr(t < T) = γᵗ and
  undiscounted sums of rewards are exactly unbiased for v (Puterman 1994, §5.3).

"auto" picks "terminal" when the MDP has terminal states, else "geometric".

Episodes are stored padded to the longest one; a request whose padded arrays
would exceed the memory limit (:func:`mdpgrad.set_memory_limit`) is refused
before sampling, with the estimate.

What lives here
---------------
* :class:`Trajectories`: states, actions, rewards and lengths of n episodes,
  padded to a common length, with the protocol they were sampled under.
* ``PROTOCOLS``: the three protocol names.
* :func:`~mdpgrad.sampling.group_start_states`: start states for groups of episodes sharing one
  start (group-normalised estimators, :func:`mdpgrad.estimators.grpo_estimator`).
* :func:`truncation_bound`: γᴴ · max|r| / (1 − γ).
"""

from ._protocols import PROTOCOLS, truncation_bound
from ._sampler import group_start_states
from ._trajectories import Trajectories

__all__ = [
    "PROTOCOLS",
    "Trajectories",
    "group_start_states",
    "truncation_bound",
]
