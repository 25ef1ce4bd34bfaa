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
joint outcome tables of ``_tables`` (inverse CDF with a guide table), so dense
and sparse MDPs with the same numbers give identical episodes for the same
seed.  Episodes are processed in order of their length cap, so finished ones
drop off the end of the active set (a slice, not a copy); episodes reaching a
terminal state are compacted out.  The loop runs over time steps only, never
over episodes.  The padded arrays are budgeted against the memory limit
before and while sampling (``_memory``).

Identities checked by the tests: state-visit frequencies match the exact
discounted visits η (geometric) and the exact per-step marginals (horizon);
geometric lengths follow Geometric(1 − γ); dense and sparse sampling agree.

``__all__`` also names what the rest of the package imports from here though
it is defined next door: the protocol types, :func:`resolve_protocol` and
:func:`truncation_bound` (``_protocols``), :class:`Trajectories`
(``_trajectories``), :func:`expected_lengths`, :func:`padded_bytes` and
``BYTES_PER_STEP`` (``_memory``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from .._errors import ValidationError
from .._model import MDP, validate_mdp
from .._policies import validate_policy
from .._progress import Progress, check_progress, reporter
from .._validation import check_integer, check_memory, check_rng, first_index, format_index
from ._memory import BYTES_PER_STEP, Buffers, check_sample_memory, expected_lengths, padded_bytes
from ._protocols import PROTOCOLS, ProtocolOption, StoppingProtocol, resolve_protocol, truncation_bound
from ._tables import Tables, build_tables, check_reaches_terminal
from ._trajectories import Trajectories

__all__ = ["BYTES_PER_STEP", "PROTOCOLS", "ProtocolOption", "StoppingProtocol", "Trajectories",
           "expected_lengths", "group_start_states", "padded_bytes", "resolve_protocol", "sample",
           "truncation_bound"]


#: Default number of episodes simulated together; the working memory of one
#: chunk is a few arrays of this length plus its (T × chunk) entry record.
DEFAULT_CHUNK_SIZE = 1 << 16


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


def _run_chunk(tab: Tables, starts: np.ndarray, caps: np.ndarray, rng: np.random.Generator,
               terminal: np.ndarray, max_steps: int | None, out: Buffers,
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
    tab = build_tables(mdp, pi)
    if resolved == "terminal" or (resolved == "geometric" and mdp.gamma == 1.0):
        check_reaches_terminal(mdp, tab, resolved)
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
    check_sample_memory(mdp, pi, resolved, caps, starts, never)
    # rows for the time steps: exact when no episode can stop early, else grown
    finite = caps[caps < never]
    rows = int(finite.max()) if finite.size == n else 256
    if mdp.terminal.any():
        rows = min(rows, 256)
    pieces = []
    with reporter(progress, n, f"sampling {n} episodes") as rep:
        for c0 in range(0, n, size):
            c1 = min(n, c0 + size)
            out = Buffers(rows, c1 - c0)

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
