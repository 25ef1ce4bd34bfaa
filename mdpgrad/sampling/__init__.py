"""mdpgrad.sampling: episodes drawn from the exact dynamics, many at once.

``mg.sample(mdp, π, n_episodes, rng=...)`` (top level) returns
:class:`Trajectories`. Continuing tasks are sampled under one of the
``PROTOCOLS``: "terminal" (episodes end in a terminal state), "horizon" (cut
at H; ``truncation_bound`` gives γᴴ · max|r| / (1 − γ)) or "geometric" (stop
with probability 1 − γ each step; undiscounted sums are then unbiased).
``group_start_states`` lays out start states for group-normalised estimators.
"""

from ._sampler import PROTOCOLS, Trajectories, group_start_states, truncation_bound

__all__ = [
    "PROTOCOLS",
    "Trajectories",
    "group_start_states",
    "truncation_bound",
]
