"""Small seeded MDPs shared by the sampling and estimator tests."""

import numpy as np
import scipy.sparse as sp

from mdpgrad import MDP


def random_mdp(seed: int, S: int = 4, A: int = 2, gamma: float = 0.8, *, episodic: bool = False,
               sparse: bool = False, p_end: float = 0.3, prune: float = 0.0) -> MDP:
    """Dirichlet rows; entries below ``prune`` become structural zeros (rows renormalised).

    Episodic models append one terminal state reached with probability p_end at every step.
    """
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    if prune > 0:
        P[P < prune] = 0.0
        P /= P.sum(axis=2, keepdims=True)
    r = rng.normal(size=(S, A))
    terminal = None
    if episodic:
        P = np.concatenate([(1 - p_end) * P, np.full((S, A, 1), p_end)], axis=2)
        P = np.concatenate([P, np.zeros((1, A, S + 1))], axis=0)
        P[S, :, S] = 1.0
        r = np.concatenate([r, np.zeros((1, A))])
        terminal = np.array([False] * S + [True])
    if sparse:
        P = sp.csr_array(P.reshape(-1, P.shape[2]))
    return MDP(P, r, gamma=gamma, terminal=terminal)
