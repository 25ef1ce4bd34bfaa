"""Benchmark: sampled transitions per second of :func:`mdpgrad.sample`.

Setting: a 100-state, 4-action MDP, 10,000 episodes in parallel.
Three samplers run in the same process, interleaved (a, b, c, a, b, c, ...)
so that a change of machine load hits all of them alike:

1. ``mdpgrad.sampling._sampler.sample``;
2. a straightforward vectorised numpy sampler: precomputed cumulative sums of
   π and of P, compared with one uniform each for the action and the next
   state (``(u > cdf).sum()``), active episodes tracked by index, the same
   padded output arrays;
3. Gymnasium's FrozenLake ``env.step`` loop on a 10×10 map (one env, the
   action drawn from a policy table each step, ``reset`` at the end of an
   episode); reported as absent when Gymnasium is not importable.

Tables: (a) a dense random continuing MDP (100 × 4, Dirichlet rows), protocol
"horizon", H = 100; (b) the same 10×10 slippery FrozenLake map as an MDP
(holes and goal terminal, reward 1 at the goal, intended move and each
perpendicular one with probability 1/3 as in Gymnasium's ``frozen_lake.py``;
built here from the map, so it exists without Gymnasium), protocol
"terminal"; (c) a sparse 10,000-state MDP, sampler only (the dense baseline
cannot hold its P).  Reported: median transitions/s, ratios, and the peak
memory traced by ``tracemalloc`` during one call.

Run: ``python3 benchmarks/bench_sampler.py [--repeats 7] [--episodes 10000]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mdpgrad import MDP, sample

MOVES = {0: (0, -1), 1: (1, 0), 2: (0, 1), 3: (-1, 0)}  # left, down, right, up (Gymnasium's order)


def frozen_lake_map(size: int = 10, p_frozen: float = 0.85, seed: int = 7) -> list[str]:
    """A fixed size×size map: S top-left, G bottom-right, holes drawn with probability 1 − p_frozen."""
    rng = np.random.default_rng(seed)
    grid = np.where(rng.random((size, size)) < p_frozen, "F", "H")
    grid[0, 0], grid[-1, -1] = "S", "G"
    return ["".join(row) for row in grid]


def frozen_lake_mdp(desc: list[str], gamma: float = 0.99) -> MDP:
    """The slippery FrozenLake dynamics of ``desc`` as an MDP (terminal holes and goal)."""
    n_rows, n_cols = len(desc), len(desc[0])
    S, A = n_rows * n_cols, 4
    P = np.zeros((S, A, S))
    R = np.zeros((S, A, S))
    terminal = np.array([desc[s // n_cols][s % n_cols] in "HG" for s in range(S)])
    for s in range(S):
        row, col = divmod(s, n_cols)
        for a in range(A):
            if terminal[s]:
                P[s, a, s] = 1.0
                continue
            for b in ((a - 1) % 4, a, (a + 1) % 4):
                dr, dc = MOVES[b]
                r2 = min(max(row + dr, 0), n_rows - 1)
                c2 = min(max(col + dc, 0), n_cols - 1)
                s2 = r2 * n_cols + c2
                P[s, a, s2] += 1.0 / 3.0
                R[s, a, s2] = 1.0 if desc[r2][c2] == "G" else 0.0
    rho0 = np.zeros(S)
    rho0[0] = 1.0
    return MDP(P, R, gamma=gamma, rho0=rho0, terminal=terminal)


def numpy_baseline(mdp: MDP, pi: np.ndarray, n: int, rng: np.random.Generator,
                   horizon: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Straightforward vectorised sampler: cumulative sums compared with uniforms."""
    S, A = mdp.n_states, mdp.n_actions
    cum_pi = np.cumsum(pi, axis=1)
    cum_P = np.cumsum(mdp.P_flat, axis=1)
    s = rng.choice(S, size=n, p=mdp.rho0)
    active = np.flatnonzero(~mdp.terminal[s])
    lengths = np.zeros(n, dtype=np.int64)
    rec_s, rec_a, rec_r, rec_i = [], [], [], []
    t = 0
    while active.size and (horizon is None or t < horizon):
        cur = s[active]
        a = np.minimum((rng.random(active.size)[:, None] > cum_pi[cur]).sum(axis=1), A - 1)
        nxt = np.minimum((rng.random(active.size)[:, None] > cum_P[cur * A + a]).sum(axis=1), S - 1)
        rec_s.append(cur)
        rec_a.append(a)
        rec_r.append(mdp.r[cur, a])
        rec_i.append(active)
        s[active] = nxt
        lengths[active] += 1
        active = active[~mdp.terminal[nxt]]
        t += 1
    T = t
    states = np.full((n, T + 1), -1, dtype=np.int64)
    actions = np.full((n, T), -1, dtype=np.int64)
    rewards = np.zeros((n, T))
    for t, (i, st, ac, rw) in enumerate(zip(rec_i, rec_s, rec_a, rec_r, strict=True)):
        states[i, t], actions[i, t], rewards[i, t] = st, ac, rw
    states[np.arange(n), lengths] = s
    return states, actions, rewards, lengths


def gym_stepper(desc: list[str], pi: np.ndarray, n_steps: int, seed: int = 0):
    """A function running ``n_steps`` of Gymnasium's FrozenLake loop (None if Gymnasium is absent).

    The loop is what a user writes: draw a ~ π(·|s) from the table, ``env.step``,
    ``env.reset`` when the episode ends.  It returns the number of transitions.
    """
    try:
        import gymnasium as gym
    except ImportError:
        return None
    env = gym.make("FrozenLake-v1", desc=desc, is_slippery=True)
    rng = np.random.default_rng(seed)
    cum_pi = np.cumsum(pi, axis=1)
    state = {"s": env.reset(seed=seed)[0]}

    def run() -> int:
        s = state["s"]
        for _ in range(n_steps):
            a = int(np.searchsorted(cum_pi[s], rng.random(), side="right"))
            s, _, terminated, truncated, _ = env.step(min(a, 3))
            if terminated or truncated:
                s, _ = env.reset()
        state["s"] = s
        return n_steps

    return run


def _time(fns, repeats: int) -> list[tuple[float, float]]:
    """(median transitions/s, median seconds) of each fn() -> transitions.

    The functions run interleaved (a, b, a, b, ...) so that a change in machine
    load affects all of them alike.
    """
    rates: list[list[float]] = [[] for _ in fns]
    secs: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            k = fn()
            dt = time.perf_counter() - t0
            rates[i].append(k / dt)
            secs[i].append(dt)
    return [(statistics.median(r), statistics.median(s)) for r, s in zip(rates, secs, strict=True)]


def _peak_mib(fn) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def _report(label: str, ours, base, gym, repeats: int) -> None:
    fns = [ours, base] + ([gym] if gym else [])
    for fn in fns:
        fn()
    timed = _time(fns, repeats)
    (r_ours, t_ours), (r_base, t_base) = timed[:2]
    m_ours, m_base = _peak_mib(ours), _peak_mib(base)
    print(label)
    print(f"  mdpgrad.sample        {r_ours / 1e6:8.3f} M transitions/s  ({t_ours * 1e3:7.1f} ms/call, "
          f"peak traced {m_ours:6.1f} MiB)")
    print(f"  numpy cumsum sampler  {r_base / 1e6:8.3f} M transitions/s  ({t_base * 1e3:7.1f} ms/call, "
          f"peak traced {m_base:6.1f} MiB)")
    if gym:
        print(f"  gymnasium step loop   {timed[2][0] / 1e6:8.3f} M transitions/s  "
              "(FrozenLake 10x10, one env)")
    else:
        print("  gymnasium step loop   absent (pip install gymnasium)")
    print(f"  ratio vs numpy cumsum sampler: {r_ours / r_base:7.1f}x  (target >= 3x)")
    if gym:
        print(f"  ratio vs gymnasium loop:       {r_ours / timed[2][0]:7.1f}x  (target >= 200x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--gym-steps", type=int, default=30_000)
    args = ap.parse_args()
    n = args.episodes
    rng = np.random.default_rng(1)
    desc = frozen_lake_map()
    lake = frozen_lake_mdp(desc)
    pi = np.random.default_rng(0).dirichlet(np.ones(4), size=lake.n_states)
    gym = gym_stepper(desc, pi, args.gym_steps)
    print(f"median of {args.repeats} interleaved repeats; peak memory = tracemalloc peak of one call\n")

    H = 100
    g = np.random.default_rng(2)
    dense = MDP(g.dirichlet(np.ones(100), size=(100, 4)), g.normal(size=(100, 4)), gamma=0.99)
    pi2 = g.dirichlet(np.ones(4), size=100)
    _report(f"Dense random MDP, 100 states x 4 actions, {n} episodes in parallel, protocol 'horizon', H={H}",
            lambda: sample(dense, pi2, n, rng=rng, protocol="horizon", horizon=H).n_transitions,
            lambda: int(numpy_baseline(dense, pi2, n, rng, horizon=H)[3].sum()), gym, args.repeats)

    lengths = sample(lake, pi, n, rng=rng).lengths
    print()
    _report(f"FrozenLake 10x10 as an MDP (slippery, {int(lake.terminal.sum())} terminal states), "
            f"{n} episodes, protocol 'terminal'\n"
            f"  (mean length {lengths.mean():.1f}, longest {lengths.max()}: "
            "outputs are padded to the longest episode)",
            lambda: sample(lake, pi, n, rng=rng).n_transitions,
            lambda: int(numpy_baseline(lake, pi, n, rng)[3].sum()), gym, args.repeats)

    # sparse path: no dense baseline is possible at this size (P would have 4·10⁸ entries)
    S, A, k = 10_000, 4, 5
    g = np.random.default_rng(3)
    rows = np.repeat(np.arange(S * A), k)
    cols = g.integers(0, S, size=S * A * k)
    P = sp.csr_array((g.dirichlet(np.ones(k), size=S * A).ravel(), (rows, cols)), shape=(S * A, S))
    big = MDP(P, g.normal(size=(S, A)), gamma=0.99)
    pi3 = g.dirichlet(np.ones(A), size=S)
    ((r_big, t_big),) = _time([lambda: sample(big, pi3, n, rng=rng, protocol="horizon",
                                              horizon=H).n_transitions], args.repeats)
    peak = _peak_mib(lambda: sample(big, pi3, n, rng=rng, protocol="horizon", horizon=H))
    print(f"\nSparse random MDP, {S} states x {A} actions, {k} next states per pair (CSR, never "
          f"densified), {n} episodes, H={H}")
    print(f"  mdpgrad.sample        {r_big / 1e6:8.3f} M transitions/s  ({t_big * 1e3:7.1f} ms/call, "
          f"peak traced {peak:6.1f} MiB)")


if __name__ == "__main__":
    main()
