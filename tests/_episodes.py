"""An exact oracle for the moments of per-episode gradient estimators: enumerate every episode.

:func:`enumerate_episodes` lists every episode s₀, a₀, s₁, a₁, …, s_L that :func:`mdpgrad.sample` can
produce under a policy table and a stopping protocol, with its exact probability, as one
:class:`mdpgrad.sampling.Trajectories` batch laid out exactly as the sampler lays out its own output.
:func:`exact_moments` then runs the estimator's *sampled* code path (``estimator.estimate``) on that
batch and weighs the per-episode estimates ĝᵢ by their probabilities pᵢ:

    E[ĝ] = Σᵢ pᵢ ĝᵢ,        E[ĝ ĝᵀ] = Σᵢ pᵢ ĝᵢ ĝᵢᵀ.

Nothing here uses the library's exact side (no value solves, no visit counts, no expectation), so
the result is an independent check of it.

How the sampler stops an episode (``mdpgrad/sampling/_sampler.py``, ``sample`` and ``_run_chunk``),
mirrored here:

* s₀ ∼ ρ₀; a start on a terminal state is an episode of length 0 (states ``[s₀]``, terminated).
* aₜ and sₜ₊₁ are drawn together from π(a|sₜ)·P(s'|sₜ, a) over its non-zero entries; terminal
  states take no action.
* The episode ends as soon as sₜ₊₁ is terminal, whatever the protocol; s_L is that terminal state.
* ``"horizon"``: otherwise it ends after H actions, s_H recorded (``terminated`` False).
* ``"geometric"``: a cap C ∼ Geometric(1 − γ) on {1, 2, …} is drawn before the episode, and it ends
  after C actions, s_C recorded.  Hence no stop before the first action, and after each action that
  does not reach a terminal state the episode continues with probability γ and stops with 1 − γ
  (Pr(C > k | C ≥ k) = γ).  With γ = 1 it never stops early (the same as ``"terminal"``).
* ``terminated`` is ``mdp.terminal[s_L]``; rewards are r(sₜ, aₜ); padding is −1 for states and
  actions and 0 for rewards; arrays are time-major (Fortran order), as the sampler returns them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import mdpgrad as mg
from mdpgrad.sampling import Trajectories, truncation_bound

__all__ = ["enumerate_episodes", "exact_moments"]


def _dense_P(mdp: mg.MDP) -> np.ndarray:
    """P as a dense array of shape (S, A, S), whatever the storage."""
    S, A = mdp.n_states, mdp.n_actions
    flat = mdp.P_flat
    flat = flat.toarray() if sp.issparse(flat) else np.asarray(flat, dtype=float)
    return flat.reshape(S, A, S)


def enumerate_episodes(mdp: mg.MDP, pi: np.ndarray, *, protocol: str, horizon: int | None = None,
                       max_episodes: int = 200_000) -> tuple[Trajectories, np.ndarray]:
    """Every episode the sampler can produce, with its exact probability.

    Parameters
    ----------
    mdp : MDP
    pi : ndarray, shape (S, A)
        The policy table π(a|s).
    protocol : {"terminal", "horizon", "geometric"}
        How episodes stop (see the module docstring).
    horizon : int, optional
        H, required under ``"horizon"`` and refused otherwise.
    max_episodes : int
        Largest number of episodes (finished or still running) enumerated.

    Returns
    -------
    traj : Trajectories
        The n episodes, built as :func:`mdpgrad.sample` builds its batches.
    probabilities : ndarray of float64, shape (n,)
        Exact probability of each episode; zero-probability branches are pruned, so all are > 0
        and they sum to 1 up to rounding.

    Raises
    ------
    ValueError
        An unknown protocol, a horizon given to the wrong protocol, more than ``max_episodes``
        episodes, or (under ``"terminal"`` and ``"geometric"``) a policy that can revisit a
        non-terminal state, so that the set of episodes is infinite.
    """
    if protocol not in ("terminal", "horizon", "geometric"):
        raise ValueError(f"unknown protocol {protocol!r}")
    if (protocol == "horizon") != (horizon is not None):
        raise ValueError("horizon is required under 'horizon' and only there")
    if protocol == "horizon" and (int(horizon) != horizon or horizon < 1):
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    if protocol == "terminal" and not mdp.terminal.any():
        raise ValueError("protocol 'terminal' needs terminal states")
    S, A = mdp.n_states, mdp.n_actions
    P = _dense_P(mdp)
    pi = np.asarray(pi, dtype=float)
    terminal = np.asarray(mdp.terminal, dtype=bool)
    gamma = float(mdp.gamma)
    # A path longer than the number of non-terminal states repeats one of them: a reachable cycle.
    longest = int(horizon) if protocol == "horizon" else int((~terminal).sum())

    done: list[tuple[list[int], list[int], float]] = []
    running: list[tuple[list[int], list[int], float]] = []
    for s0 in range(S):
        p0 = float(mdp.rho0[s0])
        if p0 == 0.0:
            continue
        (done if terminal[s0] else running).append(([s0], [], p0))
    while running:
        grown: list[tuple[list[int], list[int], float]] = []
        for states, actions, p in running:
            s = states[-1]
            k = len(actions) + 1                       # actions taken once this one is
            for a in range(A):
                for s_next in range(S):
                    w = p * pi[s, a] * P[s, a, s_next]
                    if w == 0.0:
                        continue
                    ep_s, ep_a = [*states, s_next], [*actions, a]
                    if terminal[s_next]:
                        done.append((ep_s, ep_a, w))
                    elif protocol == "horizon":
                        (done if k == horizon else grown).append((ep_s, ep_a, w))
                    elif protocol == "geometric":
                        if gamma < 1.0:
                            done.append((ep_s, ep_a, w * (1.0 - gamma)))
                        if gamma > 0.0:
                            grown.append((ep_s, ep_a, w * gamma))
                    else:
                        grown.append((ep_s, ep_a, w))
                    if len(done) + len(grown) > max_episodes:
                        raise ValueError(f"more than max_episodes={max_episodes} episodes")
        if grown and len(grown[0][1]) >= longest and protocol != "horizon":
            raise ValueError(f"an episode can run longer than {longest} steps under {protocol!r}: the "
                             "policy can revisit a non-terminal state, so the episodes are infinitely many")
        running = grown

    n = len(done)
    lengths = np.array([len(a) for _, a, _ in done], dtype=np.int64)
    T = int(lengths.max(initial=0))
    states = np.full((T + 1, n), -1, dtype=np.int32)
    actions = np.full((T, n), -1, dtype=np.int32)
    rewards = np.zeros((T, n))
    for i, (ep_s, ep_a, _) in enumerate(done):
        L = len(ep_a)
        states[:L + 1, i] = ep_s
        actions[:L, i] = ep_a
        rewards[:L, i] = mdp.r[ep_s[:L], ep_a]
    probabilities = np.array([p for _, _, p in done], dtype=float)
    H = int(horizon) if protocol == "horizon" else None
    traj = Trajectories(
        states=states.T, actions=actions.T, rewards=rewards.T, lengths=lengths, protocol=protocol,
        gamma=gamma, horizon=H, truncation_bound=0.0 if H is None else truncation_bound(mdp, H),
        terminated=terminal[states[lengths, np.arange(n)]])
    return traj, probabilities


def exact_moments(mdp: mg.MDP, policy: mg.Policy, theta: np.ndarray, estimator: mg.estimators.Estimator, *,
                  protocol: str, horizon: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """E[ĝ] and E[ĝ ĝᵀ] of one episode's estimate, by enumerating every episode.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : ndarray, shape policy.param_shape
    estimator : Estimator
        Its ``estimate`` is run on the enumerated batch (the sampled-side code path).
    protocol : {"terminal", "horizon", "geometric"}
    horizon : int, optional

    Returns
    -------
    mean : ndarray, shape policy.param_shape
        Σᵢ pᵢ ĝᵢ.
    second_moment : ndarray, shape (d, d)
        Σᵢ pᵢ ĝᵢ ĝᵢᵀ with ĝᵢ flattened in C order, d = prod(param_shape).
    """
    theta = np.asarray(theta, dtype=float)
    traj, p = enumerate_episodes(mdp, policy.probabilities(theta), protocol=protocol, horizon=horizon)
    g = np.asarray(estimator.estimate(traj, policy, theta), dtype=float)
    G = g.reshape(g.shape[0], -1)
    mean = (p @ G).reshape(theta.shape)
    second = (G * p[:, None]).T @ G
    return mean, second
