"""Sampling many episodes at once from the exact dynamics of an MDP.

What it computes
----------------
:func:`sample` draws ``n`` episodes s₀, a₀, r₀, s₁, … with s₀ ∼ ρ₀ (or given
start states), aₜ ∼ π(·|sₜ), sₜ₊₁ ∼ P(·|sₜ, aₜ) and rₜ = r(sₜ, aₜ), under one
of three stopping protocols:

* ``"terminal"``: run until a terminal state is reached (needs every path of π
  to terminate);
* ``"horizon"``: stop after H actions (or earlier at a terminal state).  The
  truncated discounted return misses at most γᴴ·max|r|/(1 − γ) of J; that bound
  is reported as ``truncation_bound``;
* ``"geometric"``: after every step stop with probability 1 − γ (and at a
  terminal state).  Then Pr(t < T) = γᵗ, so the *undiscounted* sum of the
  rewards of an episode is an exactly unbiased estimate of v(s₀) even for a
  continuing task (discounting read as a geometric random horizon; Puterman
  1994, §5.3).

How it is fast
--------------
Action and next state are drawn together with one uniform per step from the
joint law π(a|s)·P(s'|s, a) over the non-zero entries of P, by inverse CDF
with a guide table (Chen & Asau 1974; Devroye 1986, ch. III): the bucket
``⌊u·B_s⌋`` of a per-state table points at the first candidate entry and at
most a few comparisons finish the search.  The tables are built from the
non-zero entries in row-major order, which for a sparse MDP are exactly the CSR
entries, so dense and sparse MDPs with the same numbers give *identical*
episodes for the same seed (nothing is densified).  Episodes are processed in
order of their length cap, so finished ones drop off the end of the active
set (a slice, not a copy); episodes reaching a terminal state are compacted
out.  The loop runs over time steps only, never over episodes.

Memory: episodes are padded to the longest one (16 bytes per episode and
step), so n episodes of expected length ℓ take about 16·n·ℓ·(1 + ln n) bytes
when lengths have geometric tails.  A request whose padded arrays are expected
to exceed the memory limit is refused before sampling (the length is known
in advance without terminal states; with them the expected length ℓ(s₀) is
solved for), and buffers that would outgrow the limit while episodes run are
refused too; nothing is truncated silently.

Identities checked by the tests: state-visit frequencies match the exact
discounted visits η (geometric) and the exact per-step marginals (horizon);
geometric lengths follow Geometric(1 − γ); dense and sparse sampling agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._chains import bellman_matrix, chain_and_reward, masked_chain, stuck_states, validate_termination
from .._display import compact_repr
from .._errors import NonTerminatingPolicyError, ValidationError
from .._linalg import factorize
from .._model import MDP, validate_mdp
from .._policies import validate_policy
from .._progress import Progress, check_progress, reporter
from .._validation import (
    as_real_array,
    check_choice,
    check_integer,
    check_memory,
    check_real,
    check_rng,
    first_index,
    format_index,
    memory_limit,
)

__all__ = ["BYTES_PER_STEP", "PROTOCOLS", "ProtocolOption", "StoppingProtocol", "Trajectories",
           "expected_lengths", "group_start_states", "padded_bytes", "resolve_protocol", "sample",
           "truncation_bound"]

#: How an episode stops: at a terminal state, after H actions, or at a geometric time.
StoppingProtocol = Literal["terminal", "horizon", "geometric"]
#: A stopping protocol, or "auto" (:func:`resolve_protocol` picks one from the MDP).
ProtocolOption = Literal["auto", "terminal", "horizon", "geometric"]

#: The stopping protocols understood by :func:`sample` (plus ``"auto"``).
PROTOCOLS: tuple[StoppingProtocol, ...] = ("terminal", "horizon", "geometric")

#: Default number of episodes simulated together; the working memory of one
#: chunk is a few arrays of this length plus its (T × chunk) entry record.
DEFAULT_CHUNK_SIZE = 1 << 16

#: Bytes of one padded time step of one episode: a state and an action (int32) and a reward (float64).
BYTES_PER_STEP = 16

#: Guide-table buckets per joint outcome of a state.  Two buckets per outcome
#: make the expected number of extra comparisons per draw at most ½.
BUCKETS_PER_OUTCOME = 2


@dataclass(frozen=True, eq=False)
class Trajectories:
    """A batch of ``n`` sampled episodes, padded to a common length T.

    Attributes
    ----------
    states : ndarray of int32, shape (n, T + 1)
        s₀ … s_L of each episode (L its length), then −1.
    actions : ndarray of int32, shape (n, T)
        a₀ … a_{L−1}, then −1.
    rewards : ndarray of float64, shape (n, T)
        r(sₜ, aₜ) for t < L, then 0.
    lengths : ndarray of int64, shape (n,)
        Number of actions L taken in each episode.
    protocol : {"terminal", "horizon", "geometric"}
    gamma : float
        The MDP's discount γ.
    horizon : int or None
        H under ``"horizon"``.
    truncation_bound : float
        γᴴ·max|r|/(1 − γ) under ``"horizon"`` (∞ when γ = 1), else 0.0.
    terminated : ndarray of bool, shape (n,), or None
        True when the episode ended in a terminal state (False when it was cut
        by the horizon or by the geometric stop).  None when unknown.

    The arrays are stored time-major (Fortran order), which is how they are
    written and how estimators read them; ``np.ascontiguousarray`` gives the
    row-major copy if needed.

    A hand-built batch is checked on construction: integer states and actions,
    real finite rewards, shapes (n, T + 1), (n, T), (n, T) and (n,), lengths in
    0..T, states ≥ 0 up to and including sₗ and −1 after, actions ≥ 0 before L
    and −1 after, rewards 0 after L, γ in [0, 1], a protocol of
    :data:`PROTOCOLS`, H (an integer ≥ 1, with every L ≤ H) exactly under
    ``"horizon"``.  Anything else is a :class:`~mdpgrad.ValidationError`.
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    lengths: np.ndarray
    protocol: StoppingProtocol
    gamma: float
    horizon: int | None = None
    truncation_bound: float = 0.0
    terminated: np.ndarray | None = None

    __repr__ = compact_repr

    def __post_init__(self) -> None:
        for name, value in _validated_fields(self).items():
            object.__setattr__(self, name, value)

    @classmethod
    def _trusted(cls, **fields: object) -> Trajectories:
        """Construct without the checks (the sampler's own output is valid by construction)."""
        obj = cls.__new__(cls)
        for name, value in fields.items():
            object.__setattr__(obj, name, value)
        return obj

    @property
    def mask(self) -> np.ndarray:
        """``mask[i, t]`` is True when step t belongs to episode i (t < L_i), shape (n, T)."""
        return np.arange(self.actions.shape[1]) < self.lengths[:, None]

    @property
    def n_episodes(self) -> int:
        """Number of episodes n."""
        return int(self.lengths.shape[0])

    @property
    def n_transitions(self) -> int:
        """Total number of actions taken, Σᵢ Lᵢ."""
        return int(self.lengths.sum())

    def __str__(self) -> str:
        n = self.n_episodes
        mean = self.n_transitions / n if n else 0.0
        how = f"horizon {self.horizon}" if self.protocol == "horizon" else self.protocol
        return (f"Trajectories: {n} episodes, {self.n_transitions} transitions (mean length {mean:.4g}), "
                f"protocol {how}, gamma {self.gamma!r}")


def _integer_table(x: object, name: str) -> np.ndarray:
    if isinstance(x, (str, bytes)) or x is None:
        raise ValidationError(f"{name} is {x!r}; expected an integer array", argument=name, value=x)
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{name} cannot be read as an integer array ({exc})", argument=name) from None
    if arr.dtype.kind not in "iu":
        raise ValidationError(f"{name} has dtype {arr.dtype}; expected integers", argument=name,
                              value=str(arr.dtype))
    return arr


def _first_bad(bad: np.ndarray, arr: np.ndarray, name: str, expected: str) -> None:
    idx = first_index(bad)
    if idx is not None:
        raise ValidationError(f"{format_index(name, idx)} is {arr[idx].item()!r}; expected {expected}",
                              argument=name, index=idx, value=arr[idx].item())


def _validated_fields(tr: Trajectories) -> dict[str, object]:
    """The fields of a hand-built :class:`Trajectories`, checked (see the class docstring)."""
    lengths = _integer_table(tr.lengths, "lengths")
    if lengths.ndim != 1:
        raise ValidationError(f"lengths has shape {lengths.shape}; expected (n,)", argument="lengths",
                              value=lengths.shape)
    n = lengths.shape[0]
    actions = _integer_table(tr.actions, "actions")
    if actions.ndim != 2 or actions.shape[0] != n:
        raise ValidationError(f"actions has shape {actions.shape}; expected ({n}, T)", argument="actions",
                              value=actions.shape)
    T = actions.shape[1]
    states = _integer_table(tr.states, "states")
    if states.shape != (n, T + 1):
        raise ValidationError(f"states has shape {states.shape}; expected ({n}, {T + 1})", argument="states",
                              value=states.shape)
    rewards = as_real_array(tr.rewards, "rewards", shape=(n, T))
    _first_bad((lengths < 0) | (lengths > T), lengths, "lengths", f"a length in 0..{T}")
    live = np.arange(T) < lengths[:, None]
    _first_bad(np.where(live, actions < 0, actions != -1), actions, "actions",
               "an action >= 0 before the episode's length and -1 after it")
    _first_bad(np.where(np.arange(T + 1) <= lengths[:, None], states < 0, states != -1), states, "states",
               "a state >= 0 up to the episode's length and -1 after it")
    _first_bad(~live & (rewards != 0.0), rewards, "rewards", "0 after the episode's length")
    protocol = check_choice(tr.protocol, "protocol", PROTOCOLS)
    gamma = check_real(tr.gamma, "gamma", min_value=0.0, max_value=1.0)
    horizon = tr.horizon
    if protocol == "horizon":
        horizon = check_integer(horizon, "horizon", min_value=1)
        _first_bad(lengths > horizon, lengths, "lengths", f"a length <= horizon {horizon}")
    elif horizon is not None:
        raise ValidationError(f"horizon is {horizon!r} but protocol is {protocol!r}; expected None",
                              argument="horizon", value=horizon)
    bound = tr.truncation_bound
    if not (isinstance(bound, (int, float, np.floating, np.integer)) and not isinstance(bound, bool)
            and float(bound) >= 0.0):  # nan fails the comparison; ∞ is the bound when γ = 1
        raise ValidationError(f"truncation_bound is {bound!r}; expected a number >= 0",
                              argument="truncation_bound", value=bound)
    terminated = tr.terminated
    if terminated is not None:
        terminated = np.asarray(terminated)
        if terminated.dtype != bool or terminated.shape != (n,):
            raise ValidationError(f"terminated has shape {terminated.shape} and dtype {terminated.dtype}; "
                                  f"expected None or booleans of shape ({n},)", argument="terminated",
                                  value=(terminated.shape, str(terminated.dtype)))
    return dict(states=states, actions=actions, rewards=rewards, lengths=lengths, protocol=protocol,
                gamma=gamma, horizon=horizon, truncation_bound=float(bound), terminated=terminated)


def truncation_bound(mdp: MDP, horizon: int) -> float:
    """γᴴ · max|r| / (1 − γ): the most a horizon-H truncation can change J (max over available actions).

    Parameters
    ----------
    mdp : MDP
    horizon : int
        H, the number of actions after which an episode is cut.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.sampling import truncation_bound
    >>> P = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    >>> truncation_bound(MDP(P, [[1.0], [0.5]], gamma=0.5), 3)
    0.25
    """
    mdp = validate_mdp(mdp)
    horizon = check_integer(horizon, "horizon", min_value=1)
    rmax = float(np.max(np.abs(mdp.r[mdp.actions])))
    if rmax == 0.0:
        return 0.0
    if mdp.gamma == 1.0:
        return math.inf
    return mdp.gamma ** float(min(horizon, 2**62)) * rmax / (1.0 - mdp.gamma)


def resolve_protocol(mdp: MDP, protocol: ProtocolOption, horizon: int | None) -> StoppingProtocol:
    """Validate ``protocol`` and ``horizon``; "auto" becomes "terminal" or "geometric".

    "auto" is "terminal" when the MDP has terminal states, else "geometric".

    Raises
    ------
    ValidationError
        An unknown protocol; "horizon" without an integer H ≥ 1, or H given to
        another protocol; "terminal" on an MDP without terminal states.
    """
    check_choice(protocol, "protocol", ("auto", *PROTOCOLS))
    resolved: StoppingProtocol
    if protocol == "auto":
        resolved = "terminal" if mdp.terminal.any() else "geometric"
    else:
        resolved = protocol
    if resolved == "horizon":
        check_integer(horizon, "horizon", min_value=1)
    elif horizon is not None:
        raise ValidationError(f"horizon is {horizon!r} but protocol is {resolved!r}; "
                              "horizon is only used by protocol 'horizon'", argument="horizon", value=horizon)
    if resolved == "terminal" and not mdp.terminal.any():
        raise ValidationError("protocol 'terminal' needs terminal states; use 'horizon' or 'geometric'",
                              argument="protocol", value=resolved)
    return resolved


@dataclass(frozen=True, eq=False)
class _Tables:
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


def _build_tables(mdp: MDP, pi: np.ndarray) -> _Tables:
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
    return _Tables(
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


def _check_reaches_terminal(mdp: MDP, tab: _Tables, protocol: str) -> None:
    """Every non-terminal state reaches a terminal state under π (the edges of the sampling tables)."""
    stuck = stuck_states(mdp.terminal, tab.src, tab.nxt)
    if stuck.size:
        s = int(stuck[0])
        raise NonTerminatingPolicyError(
            f"protocol {protocol!r} needs every episode to end, but from state {s} the policy never reaches "
            f"a terminal state ({stuck.size} such state(s)); use 'horizon' or 'geometric'",
            argument="pi", index=(s,), value=stuck.size)


def _check_starts(mdp: MDP, start_states: ArrayLike, n: int) -> np.ndarray:
    S = mdp.n_states
    arr = np.asarray(start_states)
    if arr.ndim == 0:
        arr = np.full(n, arr)
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
        raise ValidationError(f"start_states has shape {arr.shape} and dtype {arr.dtype}; "
                              f"expected an integer or an integer array of shape ({n},)",
                              argument="start_states", value=(arr.shape, str(arr.dtype)))
    idx = first_index((arr < 0) | (arr >= S))
    if idx is not None:
        raise ValidationError(f"{format_index('start_states', idx)} is {int(arr[idx])}; "
                              f"expected a state in 0..{S - 1}", argument="start_states", index=idx,
                              value=int(arr[idx]))
    return arr.astype(np.int32)


def padded_bytes(n_episodes: int, n_steps: float) -> float:
    """Bytes of the padded arrays of ``n_episodes`` episodes of up to ``n_steps`` actions."""
    return float(min(n_episodes, 2**62)) * (BYTES_PER_STEP * float(min(n_steps, 2**62)) + 4)


def expected_lengths(mdp: MDP, pi: np.ndarray, discount: float) -> np.ndarray:
    """ℓ(s) = E[number of actions from s], ℓ = (I − c P̃^π)⁻¹ 1 off terminal states, shape (S,).

    c = 1 for episodes that run until a terminal state, c = γ when they also stop with probability
    1 − γ after every step (Puterman 1994, §5.3; Kemeny & Snell 1960, §3.2, fundamental matrix).
    With c = 1 every policy path must reach a terminal state (else :class:`NonTerminatingPolicyError`).
    """
    chain = chain_and_reward(mdp, pi)[0]
    if discount == 1.0:
        validate_termination(mdp, chain)
    P_pi = masked_chain(mdp, chain)
    keep = (~mdp.terminal).astype(float)
    return np.asarray(factorize(bellman_matrix(mdp, P_pi, discount)).solve(keep), dtype=float)


def _check_sample_memory(mdp: MDP, pi: np.ndarray, resolved: StoppingProtocol, caps: np.ndarray,
                         starts: np.ndarray, never: int) -> None:
    """Refuse, before sampling, a request whose padded arrays are expected to exceed the memory limit.

    Without terminal states the padded length is known in advance (H, or the longest geometric
    stop).  With terminal states it is at least the expected length of the longest-lasting start,
    max ℓ(s₀) (``expected_lengths``), which is computed only when the cap-based bound is too big.
    """
    n = starts.size
    finite = caps[caps < never]
    bound = float(finite.max()) if finite.size == n else math.inf
    if padded_bytes(n, bound) <= memory_limit():
        return
    if not mdp.terminal.any():
        check_memory(padded_bytes(n, bound), f"sampling {n} episode(s) of {bound:.0f} steps (padded to the "
                     "longest)", "n_episodes")
    if resolved == "horizon":
        return  # truncated: the buffers grow only as far as the episodes run (checked while growing)
    ell = expected_lengths(mdp, pi, mdp.gamma if resolved == "geometric" else 1.0)
    longest = float(np.max(ell[starts]))
    expected = min(bound, longest)
    check_memory(padded_bytes(n, expected), f"sampling {n} episode(s) of expected length up to {longest:.4g} "
                 "steps (padded to the longest)", "n_episodes")


class _Buffers:
    """Time-major output arrays of one chunk (rows = time steps), grown when an episode runs long.

    Rows are allocated uninitialised and each row is filled with padding just
    before it is written: sequential first touches of memory are much cheaper
    than the scattered writes of the few episodes still running.
    """

    def __init__(self, rows: int, n: int) -> None:
        self.n = n
        rows = max(1, min(rows, int((memory_limit() / n - 4) // BYTES_PER_STEP)))
        self.states = np.empty((rows + 1, n), dtype=np.int32)
        self.actions = np.empty((rows, n), dtype=np.int32)
        self.rewards = np.empty((rows, n))

    def row(self, t: int, full: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row t, filled with padding unless ``full`` (every entry is about to be written)."""
        rows = self.actions.shape[0]
        if t >= rows:
            fit = int((memory_limit() / self.n - 4) // BYTES_PER_STEP)   # rows within the memory limit
            new = max(t + 1, min(4 * rows, fit))
            check_memory(padded_bytes(self.n, new), f"sampling: {self.n} episode(s) still running after "
                         f"{t} steps (padded arrays)", "n_episodes")
            for name in ("states", "actions", "rewards"):
                old = getattr(self, name)
                grown = np.empty((new + (name == "states"), self.n), dtype=old.dtype)
                grown[:t] = old[:t]
                setattr(self, name, grown)
        st, ac, rw = self.states[t], self.actions[t], self.rewards[t]
        if not full:
            st.fill(-1)
            ac.fill(-1)
            rw.fill(0.0)
        return st, ac, rw

    def finish(self, lengths: np.ndarray, finals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Trim to T = max length, write the final states; (states, actions, rewards), time-major."""
        T = int(lengths.max(initial=0))
        states, actions, rewards = self.states[:T + 1], self.actions[:T], self.rewards[:T]
        states[T] = -1
        states[lengths, np.arange(self.n)] = finals
        return states, actions, rewards


def _run_chunk(tab: _Tables, starts: np.ndarray, caps: np.ndarray, rng: np.random.Generator,
               terminal: np.ndarray, max_steps: int | None, out: _Buffers,
               finished: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Simulate one chunk of episodes, writing their steps into ``out``.

    Returns the lengths and the final states of the chunk's episodes; ``finished(k)`` is told after
    each time step how many of them have ended.
    """
    n = starts.size
    order = np.argsort(-caps, kind="stable")
    neg_cap = -caps[order]
    pos = order.astype(np.intp)
    s = starts[order]
    lengths = caps.copy()
    finals = starts.copy()
    alive = ~terminal[s]
    if not alive.all():  # zero-length episodes: started on a terminal state
        lengths[pos[~alive]] = 0
        pos, s, neg_cap = pos[alive], s[alive], neg_cap[alive]
    has_terminal = bool(terminal.any())
    t = 0
    while pos.size:
        n_t = int(np.searchsorted(neg_cap, -t, side="left"))  # caps sorted: active ones have cap > t
        if n_t < pos.size:  # the episodes at the end reached their cap: s is their final state
            finals[pos[n_t:]] = s[n_t:]
            pos, s, neg_cap = pos[:n_t], s[:n_t], neg_cap[:n_t]
            if not n_t:
                break
        if max_steps is not None and t >= max_steps:
            raise ValidationError(
                f"{pos.size} episode(s) still running after max_steps={max_steps} steps; "
                "raise max_steps or use protocol 'horizon'", argument="max_steps", value=max_steps)
        u = rng.random(pos.size)
        j = tab.guide[tab.gbase[s] + (u * tab.buckets[s]).astype(np.intp)]
        late = np.flatnonzero(tab.cdf[j] <= u)
        while late.size:
            j[late] += 1
            late = late[tab.cdf[j[late]] <= u[late]]
        st, ac, rw = out.row(t, pos.size == n)
        st[pos] = s
        ac[pos] = tab.act[j]
        rw[pos] = tab.rew[j]
        s = tab.nxt[j]
        t += 1
        if finished is not None:
            finished(n - pos.size)
        if has_terminal:
            e = tab.ends[j]
            if e.any():
                done = pos[e]
                lengths[done] = t
                finals[done] = s[e]
                keep = ~e
                pos, s, neg_cap = pos[keep], s[keep], neg_cap[keep]
    return lengths, finals


def sample(mdp: MDP, pi: ArrayLike, n_episodes: int, *, rng: np.random.Generator | int,
           protocol: ProtocolOption = "auto", horizon: int | None = None,
           start_states: ArrayLike | None = None, max_steps: int | None = None,
           chunk_size: int | None = None, progress: Progress = None) -> Trajectories:
    """Sample ``n_episodes`` episodes of the MDP under the policy table π.

    Parameters
    ----------
    mdp : MDP
        Dense or sparse; a sparse P is read through its CSR entries only.
    pi : ndarray, shape (S, A)
        Row-stochastic policy table.
    n_episodes : int
    rng : numpy.random.Generator or int
        Source of randomness (an int is used as the seed of ``default_rng``).
        Same generator state, arguments and ``chunk_size`` give the same episodes.
    protocol : {"auto", "terminal", "horizon", "geometric"}
        See the module docstring.  "auto" is "terminal" when the MDP has
        terminal states, else "geometric".
    horizon : int, optional
        H for ``"horizon"`` (required there, rejected elsewhere).
    start_states : int or ndarray of int, shape (n_episodes,), optional
        Fixed start states instead of s₀ ∼ ρ₀ (e.g. groups sharing a start, see
        :func:`~mdpgrad.sampling.group_start_states`).
    max_steps : int, optional
        Safety cap for ``"terminal"``/``"geometric"``: an episode still running
        after this many steps raises :class:`ValidationError` (never truncated
        silently).
    chunk_size : int, optional
        Episodes simulated together (default 65,536); bounds the working memory.
    progress : None, bool or callable
        Progress in finished episodes: True for a bar (tqdm) or log messages, a callable
        (done, total, message), or None (default: DEBUG messages on the ``"mdpgrad"`` logger).

    Returns
    -------
    Trajectories

    Raises
    ------
    ValidationError
        Bad arguments; protocol "terminal" under a policy that may never reach
        a terminal state (:class:`NonTerminatingPolicyError`); a request whose
        padded arrays (16 bytes per episode and step, padded to the longest
        episode) are expected to exceed the memory limit (:func:`mdpgrad.set_memory_limit`), refused
        before sampling with the estimate (with terminal states the estimate
        is n · max ℓ(s₀), ℓ the expected episode length from
        ``expected_lengths``), or episodes that outgrow it while running.

    Examples
    --------
    State 0 pays 1 and moves to the terminal state 1.

    >>> import numpy as np
    >>> from mdpgrad import MDP, sample
    >>> P = np.array([[[0.0, 1.0]], [[0.0, 1.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.9, rho0=[1.0, 0.0], terminal=[False, True])
    >>> tr = sample(mdp, np.ones((2, 1)), 2, rng=np.random.default_rng(0))
    >>> tr.states.tolist(), tr.rewards.tolist(), tr.lengths.tolist()
    ([[0, 1], [0, 1]], [[1.0], [1.0]], [1, 1])
    """
    mdp = validate_mdp(mdp)
    S, A = mdp.n_states, mdp.n_actions
    pi = validate_policy(pi, S, A, actions=mdp.actions)
    if pi.ndim != 2:
        raise ValidationError(f"pi has shape {pi.shape}; sample takes one table of shape ({S}, {A})",
                              argument="pi", value=pi.shape)
    n = check_integer(n_episodes, "n_episodes", min_value=1)
    check_memory(2 * padded_bytes(n, 1), f"sampling {n} episodes", "n_episodes")
    gen = check_rng(rng)
    resolved = resolve_protocol(mdp, protocol, horizon)
    if max_steps is not None:
        max_steps = check_integer(max_steps, "max_steps", min_value=1)
    size = DEFAULT_CHUNK_SIZE if chunk_size is None else check_integer(chunk_size, "chunk_size", min_value=1)
    progress = check_progress(progress)
    tab = _build_tables(mdp, pi)
    if resolved == "terminal" or (resolved == "geometric" and mdp.gamma == 1.0):
        _check_reaches_terminal(mdp, tab, resolved)
    if start_states is None:
        starts = gen.choice(S, size=n, p=mdp.rho0).astype(np.int32)
    else:
        starts = _check_starts(mdp, start_states, n)
    never = np.iinfo(np.int64).max
    H = int(horizon) if resolved == "horizon" and horizon is not None else None
    if H is not None:
        caps = np.full(n, H, dtype=np.int64)
    elif resolved == "geometric" and mdp.gamma < 1.0:
        caps = gen.geometric(1.0 - mdp.gamma, size=n).astype(np.int64)
    else:
        caps = np.full(n, never, dtype=np.int64)
    _check_sample_memory(mdp, pi, resolved, caps, starts, never)
    # rows for the time steps: exact when no episode can stop early, else grown
    finite = caps[caps < never]
    rows = int(finite.max()) if finite.size == n else 256
    if mdp.terminal.any():
        rows = min(rows, 256)
    pieces = []
    with reporter(progress, n, f"sampling {n} episodes") as rep:
        for c0 in range(0, n, size):
            c1 = min(n, c0 + size)
            out = _Buffers(rows, c1 - c0)

            def finished(k: int, c0: int = c0) -> None:
                rep.update(c0 + k, "episodes finished")

            lengths_c, finals_c = _run_chunk(tab, starts[c0:c1], caps[c0:c1], gen, mdp.terminal, max_steps,
                                             out, finished)
            pieces.append((lengths_c, *out.finish(lengths_c, finals_c)))
    lengths = np.concatenate([p[0] for p in pieces])
    if len(pieces) == 1:
        states, actions, rewards = pieces[0][1:]
    else:   # one copy into the common padded layout, freeing each chunk once copied
        T = int(lengths.max(initial=0))
        check_memory(padded_bytes(n, T), f"sampling: {n} episodes padded to {T} steps", "n_episodes")
        states = np.empty((T + 1, n), dtype=np.int32)
        actions = np.empty((T, n), dtype=np.int32)
        rewards = np.empty((T, n))
        for c0 in range(0, n, size):
            _, st, ac, rw = pieces.pop(0)
            c1, T_c = c0 + st.shape[1], ac.shape[0]
            states[:T_c + 1, c0:c1] = st
            states[T_c + 1:, c0:c1] = -1
            actions[:T_c, c0:c1] = ac
            actions[T_c:, c0:c1] = -1
            rewards[:T_c, c0:c1] = rw
            rewards[T_c:, c0:c1] = 0.0
            del st, ac, rw
    return Trajectories._trusted(
        states=states.T, actions=actions.T, rewards=rewards.T, lengths=lengths, protocol=resolved,
        gamma=mdp.gamma, horizon=H, truncation_bound=0.0 if H is None else truncation_bound(mdp, H),
        terminated=mdp.terminal[states[lengths, np.arange(n)]])


def group_start_states(mdp: MDP, n_groups: int, group_size: int, *,
                       rng: np.random.Generator | int) -> np.ndarray:
    """Start states for groups of episodes sharing one start: s ∼ ρ₀ per group, repeated.

    Returns an int array of shape (n_groups · group_size,) to pass as
    ``sample(..., start_states=...)``; consecutive blocks of ``group_size``
    share a state (the GRPO setting, Shao et al. 2024, §4.1).

    Parameters
    ----------
    mdp : MDP
    n_groups, group_size : int
        The number of groups and the episodes in each.
    rng : int or numpy.random.Generator
        The source of randomness (an integer seed ≥ 0).

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.sampling import group_start_states
    >>> P = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    >>> group_start_states(MDP(P, [[0.0], [0.0]], 0.5, rho0=[0, 1]), 2, 3, rng=0).tolist()
    [1, 1, 1, 1, 1, 1]
    """
    mdp = validate_mdp(mdp)
    n_groups = check_integer(n_groups, "n_groups", min_value=1)
    group_size = check_integer(group_size, "group_size", min_value=1)
    check_memory(8.0 * min(n_groups * group_size, 2**62), f"{n_groups} x {group_size} start states",
                 "n_groups")
    return np.repeat(check_rng(rng).choice(mdp.n_states, size=n_groups, p=mdp.rho0), group_size)
