"""Optimal control: what policy iteration costs beyond its evaluations, and mg.solve against pymdptoolbox.

Run:  python benchmarks/bench_control.py [--grid 1000] [--grid-iterations 3] [--small-grids 50 100]
                                         [--dense 2000] [--repeats 5]

1. Policy iteration (``mg.solve``) on the slippery n×n gridworld (γ = 0.99; 10⁶ states for n = 1000,
   Krylov evaluations) costs (iterations + 1) × one exact evaluation (``mg.evaluate`` of one policy) at
   most: each iteration is one evaluation plus one backup q = r + γPv, and the stop needs a last
   evaluation.  On small grids the whole run is timed and the ratio
   t(solve) / ((iterations + 1) · t(evaluate)) printed.  From the one-step greedy start ("up" everywhere:
   every step pays −1) the improvement spreads from the goal about one band of cells per iteration, so
   the 10⁶-state grid needs on the order of n iterations; there the first ``--grid-iterations``
   iterations are timed (the run is stopped by ``max_iter``) against as many evaluations.  "One
   evaluation" is the mean over the policies the run visits (replayed with ``mg.evaluate``; their
   factorisations and Krylov iterations differ from policy to policy), timed alternately with the run.
2. Dense S = 2000, A = 4, γ = 0.95 (a random model with 32 successors a row, fixed seed): ``mg.solve``
   by policy iteration against pymdptoolbox's PolicyIteration (exact evaluation, eval_type=0), and
   ``mg.solve`` by value iteration (certified ‖v − v*‖∞ ≤ 1e-6) against pymdptoolbox's
   ValueIteration (ε = 1e-6: its policy ε-optimal).  Both sides run alternately in this process
   (benchmarks/_timing.py, ``alternating_runs``); medians and ratios come from the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from _timing import alternating_runs, load_average, machine_header, print_comparison, summarise

import mdpgrad as mg
from mdpgrad.examples import slippery_gridworld
from mdpgrad.io import from_mdptoolbox


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def visited_policies(mdp: mg.MDP, limit: int) -> list[np.ndarray]:
    """The policies policy iteration evaluates, replayed with the public API (its improvement rule: switch
    a state to its greedy action only when the gain exceeds 2·err_q), to time their evaluations alone."""
    S, A = mdp.n_states, mdp.n_actions
    index = np.argmax(mdp.r, axis=1)
    seq: list[np.ndarray] = []
    eps = float(np.finfo(float).eps)
    while len(seq) < limit:
        pi = np.eye(A)[index]
        ev = mg.evaluate(mdp, pi, accuracy="ignore")
        seq.append(pi)
        q = np.where(mdp.terminal[:, None], 0.0, ev.q)
        rho = 5 * eps * (np.abs(mdp.r).max() + mdp.gamma * np.abs(ev.v).max())
        err_q = mdp.gamma * float(ev.error.v) + rho
        improve = q.max(axis=1) - q[np.arange(S), index] > 2 * err_q
        if not improve.any():
            break
        index = np.where(improve, q.argmax(axis=1), index)
    return seq


def _evaluate_all(mdp: mg.MDP, seq: list[np.ndarray]) -> None:
    for pi in seq:
        mg.evaluate(mdp, pi, accuracy="ignore")


def grid_full(n: int, repeats: int) -> None:
    mdp = slippery_gridworld(n, n, gamma=0.99)
    sol = mg.solve(mdp)                                              # warm-up, and the iteration count
    k = sol.iterations
    seq = visited_policies(mdp, k + 1)
    same = len(seq) == k                # the last policies may differ by ties (sol.policy: the tie rule)
    t_solve, t_evals = alternating_runs(lambda: mg.solve(mdp), lambda: _evaluate_all(mdp, seq), repeats,
                                        warmup=0)
    s, e = summarise(t_solve), summarise(t_evals)
    one = e.median / k                               # one evaluation: the mean over the policies visited
    ratio = s.median / ((k + 1) * one)
    print(f"| {n}x{n} | {n * n} | {k}{'' if same else ' (replay differs)'} | {s.median:.3f} | {one:.4f} | "
          f"{ratio:.2f} | {'met' if ratio <= 1.0 else 'MISSED'} | {sol.error_bound:.1e} |")


def grid_partial(n: int, iterations: int) -> None:
    mdp = slippery_gridworld(n, n, gamma=0.99)

    def some_iterations() -> None:
        try:
            mg.solve(mdp, max_iter=iterations)
        except mg.ValidationError as exc:             # stopped by max_iter: still improving
            if exc.argument != "max_iter":
                raise

    seq = visited_policies(mdp, iterations)
    t_pi, t_evals = alternating_runs(some_iterations, lambda: _evaluate_all(mdp, seq), 1, warmup=1)
    one = t_evals[0] / len(seq)
    ratio = t_pi[0] / (len(seq) * one)
    verdict = "met" if ratio <= 1.0 + 1 / iterations else "MISSED"
    print(f"| {n}x{n} | {n * n} | first {len(seq)} | {t_pi[0]:.2f} | {one:.3f} | {ratio:.2f} | {verdict} |")


def dense_model(S: int, A: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """pymdptoolbox's layout: P (A, S, S), R (S, A) standard normal.  Each row spreads 1024/1024 over 32
    random next states in multiples of 1/1024, so it sums to 1 exactly (pymdptoolbox checks row sums to
    10 ulps, which a float row of 2000 Dirichlet weights misses)."""
    rng = np.random.default_rng(seed)
    P = np.zeros((A, S, S))
    for a in range(A):
        for s in range(S):
            cols = rng.choice(S, size=32, replace=False)
            P[a, s, cols] = rng.multinomial(1024 - 32, np.ones(32) / 32) + 1
    return P / 1024.0, rng.normal(size=(S, A))


def dense(S: int, repeats: int) -> None:
    try:
        import mdptoolbox.mdp as toolbox
    except ImportError:
        toolbox = None
    gamma = 0.95
    P, R = dense_model(S, 4)
    mdp = from_mdptoolbox(P, R, gamma)
    ours_pi = mg.solve(mdp)
    if toolbox is None:
        print_comparison(f"dense S = {S}: policy iteration", ("mg.solve (policy iteration)", []),
                         [("pymdptoolbox PolicyIteration", None)], method="absent")
        return

    def peer_pi() -> object:
        p = toolbox.PolicyIteration(P, R, gamma, max_iter=10_000)
        p.run()
        return p

    def peer_vi() -> object:
        p = toolbox.ValueIteration(P, R, gamma, epsilon=1e-6, max_iter=100_000)
        p.run()
        return p

    check = peer_pi()
    print(f"\npolicy iteration: ours {ours_pi.iterations} evaluations, pymdptoolbox {check.iter}; "
          f"max |v_ours - V_peer| = {np.abs(ours_pi.v - np.array(check.V)).max():.1e}, same policy: "
          f"{ours_pi.policy.argmax(axis=1).tolist() == list(check.policy)}")
    a, b = alternating_runs(lambda: mg.solve(mdp), peer_pi, repeats)
    print_comparison(f"dense S = {S}, A = 4, gamma = {gamma}: policy iteration",
                     ("mg.solve(mdp) (policy iteration)", a), [("pymdptoolbox PolicyIteration", b)],
                     method=f"alternating in one process, {repeats} runs each after one warm-up")
    a, b = alternating_runs(lambda: mg.solve(mdp, "value_iteration", tol=1e-6), peer_vi, repeats)
    print_comparison(f"dense S = {S}, A = 4, gamma = {gamma}: value iteration",
                     ("mg.solve(mdp, 'value_iteration', tol=1e-6)", a),
                     [("pymdptoolbox ValueIteration(epsilon=1e-6)", b)],
                     method=f"alternating in one process, {repeats} runs each after one warm-up")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", type=int, default=1000)
    ap.add_argument("--grid-iterations", type=int, default=3)
    ap.add_argument("--small-grids", type=int, nargs="*", default=[50, 100])
    ap.add_argument("--dense", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    machine_header()
    print("\n1. policy iteration against (iterations + 1) x one exact evaluation (goal: ratio <= 1)\n")
    print("| grid | states | iterations | solve median (s) | evaluate median (s) | ratio | goal | "
          "error bound |")
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    for n in args.small_grids:
        grid_full(n, args.repeats)
    if args.grid:
        print("\n| grid | states | iterations timed | their time (s) | one evaluation (s) | "
              "time / (iterations x evaluation) | goal |")
        print("|---|---:|---:|---:|---:|---:|---|")
        grid_partial(args.grid, args.grid_iterations)
    if args.dense:
        print("\n2. dense, against pymdptoolbox")
        dense(args.dense, args.repeats)
    print(f"\nload average at end: {load_average()}")


if __name__ == "__main__":
    main()
