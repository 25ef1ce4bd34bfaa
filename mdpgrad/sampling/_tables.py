"""The joint outcome tables the sampler draws from, one uniform per step.

Action and next state are drawn together from the joint law
π(a|s)·P(s'|s, a) over the non-zero entries of P, by inverse CDF with a guide
table (Chen & Asau 1974; Devroye 1986, ch. III): the bucket ``⌊u·B_s⌋`` of a
per-state table points at the first candidate entry and at most a few
comparisons finish the search.  The tables are built from the non-zero entries
in row-major order, which for a sparse MDP are exactly the CSR entries, so
dense and sparse MDPs with the same numbers give *identical* episodes for the
same seed (nothing is densified).  Their edges also show whether every
non-terminal state reaches a terminal state under π.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._chains import stuck_states
from .._errors import NonTerminatingPolicyError
from .._model import MDP

__all__ = ["BUCKETS_PER_OUTCOME", "Tables", "build_tables", "check_reaches_terminal"]


#: Guide-table buckets per joint outcome of a state.  Two buckets per outcome
#: make the expected number of extra comparisons per draw at most ½.
BUCKETS_PER_OUTCOME = 2


@dataclass(frozen=True, eq=False)
class Tables:
    """Joint outcome tables: entry j is (src[j], act[j], nxt[j]) with probability π·P."""

    src: np.ndarray      # (K,) int32, state of entry j
    act: np.ndarray      # (K,) int32
    nxt: np.ndarray      # (K,) int32
    rew: np.ndarray      # (K,) float64, r(src, act)
    ends: np.ndarray     # (K,) bool, nxt is terminal
    cdf: np.ndarray      # (K,) float64, cumulative probability within the state's segment
    buckets: np.ndarray  # (S,) float64, B_s
    gbase: np.ndarray    # (S,) int64, offset of state s's guide table
    guide: np.ndarray    # (Σ (B_s+1),) int64, first candidate entry per bucket


def build_tables(mdp: MDP, pi: np.ndarray) -> Tables:
    S, A = mdp.n_states, mdp.n_actions
    csr = sp.csr_array(mdp.P_flat)      # a dense P's non-zero entries in row-major order
    row = np.repeat(np.arange(S * A), np.diff(csr.indptr))
    col = csr.indices.astype(np.int64)
    p = csr.data
    src = row // A
    act = row % A
    w = pi[src, act] * p
    keep = (w > 0) & ~mdp.terminal[src]
    src, act, col, w = src[keep], act[keep], col[keep], w[keep]
    counts = np.bincount(src, minlength=S)
    start = np.concatenate(([0], np.cumsum(counts)))
    # cumulative sums within each state's segment, normalised to end at exactly 1: row by row
    # in a padded (S, K_max) table when that is small, else one running sum minus the
    # segment offsets (then accurate to about S·2⁻⁵³)
    k_max = int(counts.max(initial=0))
    offset = np.arange(w.size) - start[:-1][src]
    if S * k_max <= 2 * w.size + S:
        table = np.zeros((S, k_max))
        table[src, offset] = w
        local = np.cumsum(table, axis=1)[src, offset]
    else:
        cs = np.cumsum(w)
        local = cs - np.concatenate(([0.0], cs))[start[:-1]][src]
    total = local[np.maximum(start[1:] - 1, 0)]
    cdf = local / np.where(counts > 0, total, 1.0)[src]
    cdf[start[1:][counts > 0] - 1] = 1.0
    # guide tables: guide[m] = first entry whose boundary c satisfies fl(c·B) ≥ m, so every
    # earlier entry lies below any u with fl(u·B) ≥ m (monotone rounding)
    B = BUCKETS_PER_OUTCOME * counts
    gbase = np.concatenate(([0], np.cumsum(B + 1)))
    key = np.minimum(np.floor(cdf * B[src]).astype(np.int64), B[src])
    hist = np.bincount(gbase[:-1][src] + key, minlength=int(gbase[-1]))
    below = np.cumsum(hist) - hist  # exclusive cumsum: entries with key < m (plus earlier states)
    guide = below  # entries of earlier states all sit in earlier buckets, so this is global
    return Tables(
        src=src.astype(np.int32),
        act=act.astype(np.int32),
        nxt=col.astype(np.int32),
        rew=mdp.r[src, act],
        ends=mdp.terminal[col],
        cdf=cdf,
        buckets=B.astype(np.float64),
        gbase=gbase[:-1],
        guide=guide,
    )


def check_reaches_terminal(mdp: MDP, tab: Tables, protocol: str) -> None:
    """Every non-terminal state reaches a terminal state under π (the edges of the sampling tables)."""
    stuck = stuck_states(mdp.terminal, tab.src, tab.nxt)
    if stuck.size:
        s = int(stuck[0])
        raise NonTerminatingPolicyError(
            f"protocol {protocol!r} needs every episode to end, but from state {s} the policy never reaches "
            f"a terminal state ({stuck.size} such state(s)); use 'horizon' or 'geometric'",
            argument="pi", index=(s,), value=stuck.size)
