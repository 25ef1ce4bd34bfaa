"""Can a sample covariance see the tail?  The model says which outcomes a sample misses.

A test of a mean built from the sample alone cannot keep its level when rare
outcomes carry part of the mean: a sample that misses them cannot tell how
large they are (Bahadur & Savage 1956).  The harness knows the model, so it
can say in advance which outcomes a block of n episodes is expected to see
fewer than :data:`RARE_COUNT` times, and how much of the estimator's mean they
carry.  This module computes that part, the *hidden mean* H, and the harness
declines to reject (verdict "inconclusive") when H is not negligible against
the sampled standard error.

What it computes
----------------
Expected occurrences per episode under the sampling policy π_b and protocol:
n(s) visits of s (undiscounted visits before termination under "terminal",
η with continuation γ under "geometric", Σ_{t<H} Pr(s_t = s) under
"horizon"), so an action is expected n·n(s)·π_b(a|s) times in n episodes
and a transition n·n(s)·π_b(a|s)·P(s'|s, a) times.  Rare: fewer than
RARE_COUNT.

The reward decomposes exactly, for any function v, along an episode as

    r(s, a) = [v(s) − γ v(s')] + adv(s, a) + δ(s, a, s'),
    adv = q − v,   δ = r + γ v(s') − q(s, a),

the first bracket telescoping.  With v, q the target policy's values, adv is
the deviation an action choice makes to the return and δ the deviation of a
transition, both of mean zero.  The piece of the reward stream that rare
outcomes carry is f = 1{(s, a) rare}·adv + 1{(s, a, s') rare}·δ, with
expected reward r_f(s, a) = 1{(s, a) rare}·adv(s, a) + Σ_{s' rare} P(s'|s, a) δ(s, a, s').
REINFORCE is linear in the rewards, so its expectation with r_f in place of r
is exactly the part of its mean those outcomes carry: with q_f the action
values of the reward r_f, Σ_s η(s) Σ_a π(a|s) ∇log π(a|s) q_f(s, a) (the policy
gradient theorem, Sutton & Barto 2018, §13.2, applied to the reward r_f).  A
rare *state* carries its whole score term, adv in place of q_f there.  So

    H = Σ_s η(s) Σ_a π(a|s) ∇log π(a|s) · (adv(s, a) if s is rare else q_f(s, a)),

the part of E ĝ that a sample missing the rare outcomes does not contain, for
REINFORCE under "terminal" and "geometric" and, as an indication, for every
score-function estimator whose mean the returns carry (under "horizon" the
same stationary formula is used as an indication: its values are not the
horizon's time-dependent ones).

The harness measures H in the test's own metric, λ_H = n Hᵀ Ĉ⁺ H (Ĉ the sample
covariance of one unit): the noncentrality that missing the rare outcomes adds
to T².  Above :data:`MAX_HIDDEN_NONCENTRALITY` it does not reject.

Identities checked by the tests (tests/test_harness_tail.py): with every outcome
rare, H = ∇J (the decomposition loses nothing: q_f = adv when every action is
rare); with none rare, H = 0; with rare transitions only, H equals the exact
expectation of the library's REINFORCE on the model with reward r_f.

Reference: R. R. Bahadur and L. J. Savage, "The nonexistence of certain
statistical procedures in nonparametric problems", Ann. Math. Statist. 27(4),
1956.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._evaluation import Evaluation, evaluate, visit_counts
from .._model import MDP
from .._policies import Policy
from ..sampling._sampler import StoppingProtocol

__all__ = ["MAX_HIDDEN_NONCENTRALITY", "RARE_COUNT", "HiddenMean", "hidden_mean"]

#: An outcome expected fewer than this many times in the sample is rare: it is missed altogether with
#: probability e^−λ, and even when seen its count, Poisson(λ), is skewed by 1/√λ (0.18 at λ = 30), which
#: a test built on the sample's first two moments does not account for.
RARE_COUNT = 30.0

#: The noncentrality λ_H = n Hᵀ Ĉ⁺ H that missing the rare outcomes may add before the sample test's
#: level is no longer trusted: a shift of 0.25 standard errors (λ = 1/16) raises the rejection rate of a
#: one-dimensional level-0.01 test to 1.1 %, within the binomial error of any calibration run.
MAX_HIDDEN_NONCENTRALITY = 0.0625


@dataclass(frozen=True)
class HiddenMean:
    """The part of an estimator's mean carried by outcomes rare in a sample (see module docstring).

    Attributes
    ----------
    hidden : ndarray, param_shape
        H, REINFORCE's expectation carried by the rare outcomes.
    n_rare : int
        Number of rare actions, transitions and states that carry a nonzero part.
    largest : tuple of int
        The rare outcome that carries the largest part, (s,), (s, a) or (s, a, s').
    largest_count : float
        Its expected number of occurrences in the sample.
    smallest_count : float
        The least expected number of occurrences of a rare outcome that carries a part.
    episodes_needed : int
        Episodes at which every outcome that carries a part is expected RARE_COUNT times.
    """

    hidden: np.ndarray
    n_rare: int
    largest: tuple[int, ...]
    largest_count: float
    smallest_count: float
    episodes_needed: int


def expected_counts(mdp: MDP, pi_b: np.ndarray, protocol: StoppingProtocol,
                    horizon: int | None) -> np.ndarray:
    """Expected visits of each state per sampled episode, shape (S,), 0 on terminal states."""
    if protocol == "terminal":
        return visit_counts(mdp, pi_b, discounted=False, validate=False, accuracy="ignore")
    if protocol == "geometric":
        return visit_counts(mdp, pi_b, validate=False, accuracy="ignore")
    S, A = mdp.n_states, mdp.n_actions
    weights = sp.csr_array((pi_b.ravel(), (np.repeat(np.arange(S), A), np.arange(S * A))), shape=(S, S * A))
    P_pi = weights @ mdp.P_flat
    live = ~mdp.terminal
    mu = np.where(live, mdp.rho0, 0.0)
    counts = np.zeros(S)
    for _ in range(int(horizon or 0)):
        counts += mu
        mu = np.where(live, P_pi.T @ mu, 0.0)
    return counts


def hidden_mean(mdp: MDP, policy: Policy, theta: np.ndarray, ev: Evaluation, pi_b: np.ndarray,
                n_episodes: int, protocol: StoppingProtocol, horizon: int | None) -> HiddenMean:
    """H for a sample of ``n_episodes`` drawn with ``pi_b`` (see module docstring).

    ``ev`` is the evaluation of the target policy π = policy(θ) on ``mdp``.
    """
    S, A = mdp.n_states, mdp.n_actions
    on_policy = pi_b is ev.pi or np.array_equal(pi_b, ev.pi)
    if on_policy and (protocol == "geometric" or (protocol == "terminal" and mdp.gamma == 1.0)):
        per_state = ev.eta                  # the visits η of the evaluation are the sampled counts
    else:
        per_state = expected_counts(mdp, pi_b, protocol, horizon)
    live = ~mdp.terminal
    action_count = n_episodes * per_state[:, None] * pi_b                    # (S, A)
    P = sp.csr_array(mdp.P_flat)
    rows = np.repeat(np.arange(S * A), np.diff(P.indptr))
    s_of, a_of, nxt = rows // A, rows % A, P.indices
    trans_count = action_count.ravel()[rows] * P.data
    v, q = ev.v, ev.q
    delta = mdp.r.ravel()[rows] + mdp.gamma * v[nxt] - q.ravel()[rows]
    reachable = live[s_of] & (pi_b.ravel()[rows] > 0) & (ev.pi.ravel()[rows] > 0)
    rare_trans = reachable & (trans_count < RARE_COUNT)
    rare_action = live[:, None] & (pi_b > 0) & (ev.pi > 0) & (action_count < RARE_COUNT)
    rare_state = live & (n_episodes * per_state < RARE_COUNT) & (per_state > 0)

    part_trans = np.where(rare_trans, P.data * delta, 0.0)
    r_f = np.bincount(rows, weights=part_trans, minlength=S * A).reshape(S, A)
    r_f = r_f + np.where(rare_action, ev.advantage, 0.0)
    q_f = np.zeros((S, A))
    if np.any(r_f):       # q_f = r_f + γ P v_f, v_f = (I − γP̃^π)⁻¹ r_f^π with the evaluation's factorisation
        v_f = np.asarray(ev.solver.solve(np.sum(ev.pi * r_f, axis=1))) if ev.solver is not None else \
            evaluate(MDP(mdp.P, r_f, mdp.gamma, mdp.rho0, mdp.terminal, actions=mdp.actions), ev.pi,
                     validate=False, accuracy="ignore").v
        q_f = r_f + mdp.gamma * np.asarray(mdp.P_flat @ v_f).reshape(S, A)
    W = ev.eta[:, None] * ev.pi * np.where(rare_state[:, None], ev.advantage, q_f)
    hidden = policy.log_prob_vjp(theta, W) if np.any(W) else np.zeros(policy.param_shape)
    W = np.where(rare_state[:, None], W, 0.0)         # the states' own share, for the largest part below

    # the outcomes that carry a part, and the one with the largest share
    sizes: list[tuple[float, tuple[int, ...], float]] = [
        (abs(float(part_trans[k] * action_count.ravel()[rows[k]])), (int(s_of[k]), int(a_of[k]), int(nxt[k])),
         float(trans_count[k])) for k in np.flatnonzero(part_trans)]
    sizes += [(abs(float(ev.advantage[s, a] * action_count[s, a])), (int(s), int(a)),
               float(action_count[s, a]))
              for s, a in np.argwhere(rare_action & (ev.advantage != 0))]
    sizes += [(float(np.abs(W[s]).sum() * n_episodes), (int(s),), float(n_episodes * per_state[s]))
              for s in np.flatnonzero(rare_state & np.any(W != 0, axis=1))]
    if not sizes:
        return HiddenMean(hidden, 0, (), float("inf"), float("inf"), n_episodes)
    _, largest, count = max(sizes, key=lambda t: t[0])
    smallest = min(c for _, _, c in sizes)
    per_episode = smallest / n_episodes
    cap = np.iinfo(np.int64).max            # per_episode can be ~1e-308: the quotient overflows to inf
    ratio = RARE_COUNT / per_episode if per_episode > 0 else np.inf
    needed = int(np.ceil(ratio)) if ratio < cap else int(cap)
    return HiddenMean(hidden, len(sizes), largest, count, smallest, max(needed, n_episodes))
