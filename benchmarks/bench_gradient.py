"""Benchmarks of the exact policy gradient against baselines timed the same way.

Run:  python benchmarks/bench_gradient.py [--only dense|batch|sparse] [--repeats N] [--grid N] [--states S]

1. dense   S = 2000, A = 4, γ = 0.9, tabular softmax: the full exact ∇J (``mg.policy_gradient``:
           evaluation, visits and the theorem) against one float64 ``scipy.linalg.lu_factor`` of the
           S×S matrix I − γP^π (goal: ratio of medians ≤ 1.0), and against
           ``jax.jit(jax.grad(J))`` with J written with ``jnp.linalg.solve`` in float64, compile time
           excluded (when JAX is importable).
2. batch   10,000 parameter points on a 2-state, 2-action MDP in one call, against one
           ``numpy.linalg.solve`` of the 10,000 stacked 2×2 systems for v alone (the work of the
           values, without visits or gradient), and against ``jax.jit(jax.vmap(jax.grad(J)))``.
3. sparse  the slippery 1000×1000 gridworld (10⁶ states, 4 actions, γ = 0.99), tabular softmax:
           v, η and ∇J with relative residuals ≤ 1e-10, against one plain
           scipy.sparse.linalg.splu of the same I − γP̃^π (target: ratio of medians ≤ 0.25), peak
           memory < 4 GB.  Each run of each side is a fresh child process (so that its peak resident
           memory can be read and neither inherits the other's caches), the two sides alternating;
           both children use one BLAS thread (ours splits its sparse products across the cores,
           SuperLU is sequential).  Min, median and max of each side and the load are printed.

Dense and batch: every timed call runs in a fresh process (benchmarks/_timing.py) that imports,
builds the same data from fixed seeds, makes one untimed warm-up call and times one call; the sides
alternate (A B, B A, …).  Timed in one loop in one process, a baseline's time depends on what ran
before it (the LU of the same matrix measured 0.060 s alone and 0.11 s right after other calls),
which is what this avoids.  JAX is optional and, when present, always runs in processes of its own.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _timing import (
    child_env,
    child_main,
    fresh_process_runs,
    load_average,
    machine_header,
    print_comparison,
    times_of,
)

from mdpgrad import MDP, TabularSoftmax, evaluate, policy_gradient
from mdpgrad._chains import bellman_matrix, chain_and_reward

HAVE_JAX = importlib.util.find_spec("jax") is not None   # imported only in its own child processes
HERE = os.path.abspath(__file__)


def row(label: str, value: str) -> None:
    print(f"  {label:<46} {value}")


# --- 1. dense ---------------------------------------------------------------------

def dense_mdp(S: int = 2000, A: int = 4, gamma: float = 0.9, seed: int = 0) -> MDP:
    """A random dense MDP: P(·|s, a) uniform random weights normalised, standard normal rewards."""
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S))
    P /= P.sum(axis=-1, keepdims=True)
    return MDP(P, rng.standard_normal((S, A)), gamma)


def dense_theta(S: int, A: int = 4) -> np.ndarray:
    return np.random.default_rng(1).standard_normal((S, A))


def _jax_dense_grad(mdp: MDP) -> Callable:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    S = mdp.n_states
    P, r, rho0, gamma = (jnp.asarray(mdp.P), jnp.asarray(mdp.r), jnp.asarray(mdp.rho0), mdp.gamma)

    def J(th):
        p = jax.nn.softmax(th, axis=-1)
        v = jnp.linalg.solve(jnp.eye(S) - gamma * jnp.einsum("sa,sat->st", p, P), jnp.sum(p * r, -1))
        return rho0 @ v

    return jax.jit(jax.grad(J))


def dense_setup(which: str, S: int) -> Callable[[], object]:
    """The call to time for one side of the dense comparison, data built from fixed seeds."""
    mdp = dense_mdp(S)
    pol = TabularSoftmax(S, mdp.n_actions)
    theta = dense_theta(S, mdp.n_actions)
    if which == "ours":
        return lambda: policy_gradient(mdp, pol, theta)
    if which == "ours-lu":
        pi = pol.probabilities(theta)
        return lambda: policy_gradient(mdp, pol, theta,
                                       evaluation=evaluate(mdp, pi, validate=False, solver="lu"))
    if which == "lu_factor":
        M = bellman_matrix(mdp, chain_and_reward(mdp, pol.probabilities(theta))[0])
        return lambda: sla.lu_factor(M)
    if which == "jax":
        import jax.numpy as jnp

        grad, thj = _jax_dense_grad(mdp), jnp.asarray(theta)
        return lambda: grad(thj).block_until_ready()
    raise ValueError(which)


def dense_accuracy(S: int) -> dict:
    """Solver used, refinement steps and max |∇J − ∇J with a float64 LU| (not timed)."""
    mdp = dense_mdp(S)
    pol = TabularSoftmax(S, mdp.n_actions)
    theta = dense_theta(S, mdp.n_actions)
    pi = pol.probabilities(theta)
    ev = evaluate(mdp, pi)
    g = policy_gradient(mdp, pol, theta, evaluation=ev)
    g64 = policy_gradient(mdp, pol, theta, evaluation=evaluate(mdp, pi, validate=False, solver="lu"))
    return {"solver": type(ev.solver).__name__, "refinement_steps": getattr(ev.solver, "history", None),
            "max_abs_diff_vs_float64_lu": float(np.abs(g - g64).max()),
            "max_abs_grad": float(np.abs(g64).max())}


def dense_sides(S: int, *, with_jax: bool = HAVE_JAX, extra: tuple[str, ...] = ()) -> dict[str, list[str]]:
    sides = {"ours": [HERE, "--dense-child", "ours", "--states", str(S)],
             "lu_factor": [HERE, "--dense-child", "lu_factor", "--states", str(S)]}
    for which in extra:
        sides[which] = [HERE, "--dense-child", which, "--states", str(S)]
    if with_jax:
        sides["jax"] = [HERE, "--dense-child", "jax", "--states", str(S)]
    return sides


def bench_dense(repeats: int, S: int = 2000, blas_threads: int | None = None) -> None:
    acc = dense_accuracy(S)
    runs = fresh_process_runs(dense_sides(S, extra=("ours-lu",)), repeats, env=child_env(blas_threads))
    t = {k: times_of(v) for k, v in runs.items()}
    print_comparison(f"1. dense S={S}, A=4, gamma 0.9, tabular softmax: exact grad J vs one float64 LU",
                     (f"exact grad J (ours, {acc['solver']})", t["ours"]),
                     [("scipy.linalg.lu_factor(I - gamma P_pi)", t["lu_factor"]),
                      ("jax.jit(jax.grad(J)), compile excluded", t.get("jax"))],
                     method=f"each call in a fresh process after one warm-up call, sides alternating, "
                            f"{repeats} runs each; {_threads(blas_threads)}",
                     goals={"scipy.linalg.lu_factor(I - gamma P_pi)": 1.0})
    print_comparison("   the same gradient with the float64 LU solver (solver='lu')",
                     ("exact grad J (ours, float64 LU)", t["ours-lu"]),
                     [("scipy.linalg.lu_factor(I - gamma P_pi)", t["lu_factor"])],
                     method="same runs as above")
    row("refinement steps per solve (v, eta)", str(acc["refinement_steps"]))
    row("max |grad - grad(float64 LU)| / max |grad|",
        f"{acc['max_abs_diff_vs_float64_lu'] / acc['max_abs_grad']:.1e}")


# --- 2. batch -------------------------------------------------------------------------

def batch_problem(n_points: int = 10_000) -> tuple[MDP, TabularSoftmax, np.ndarray]:
    P = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.7, 0.3], [0.05, 0.95]]])
    r = np.array([[1.0, 0.0], [0.5, 2.0]])
    mdp = MDP(P, r, 0.9, rho0=[0.5, 0.5])
    return mdp, TabularSoftmax(2, 2), np.random.default_rng(2).standard_normal((n_points, 2, 2))


def batch_setup(which: str, n_points: int) -> Callable[[], object]:
    mdp, pol, thetas = batch_problem(n_points)
    if which == "ours":
        return lambda: policy_gradient(mdp, pol, thetas)
    if which == "solve":
        P_pi, r_pi = chain_and_reward(mdp, pol.probabilities(thetas))
        M = np.eye(2) - mdp.gamma * P_pi
        return lambda: np.linalg.solve(M, r_pi[..., None])
    if which == "jax":
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        Pj, rj, rhoj = jnp.asarray(mdp.P), jnp.asarray(mdp.r), jnp.asarray(mdp.rho0)

        def J(th):
            p = jax.nn.softmax(th, axis=-1)
            v = jnp.linalg.solve(jnp.eye(2) - 0.9 * jnp.einsum("sa,sat->st", p, Pj), jnp.sum(p * rj, -1))
            return rhoj @ v

        grad, thj = jax.jit(jax.vmap(jax.grad(J))), jnp.asarray(thetas)
        return lambda: grad(thj).block_until_ready()
    raise ValueError(which)


def _threads(blas_threads: int | None) -> str:
    return "BLAS threads: default" if blas_threads is None else f"BLAS threads: {blas_threads} (both sides)"


def bench_batch(repeats: int, n_points: int = 10_000, blas_threads: int | None = None) -> None:
    sides = {k: [HERE, "--batch-child", k, "--points", str(n_points)] for k in ("ours", "solve")}
    if HAVE_JAX:
        sides["jax"] = [HERE, "--batch-child", "jax", "--points", str(n_points)]
    t = {k: times_of(v) for k, v in fresh_process_runs(sides, repeats, env=child_env(blas_threads)).items()}
    print_comparison(f"2. batch: {n_points} parameter points, 2 states x 2 actions, one call",
                     ("exact grad J, batched (ours)", t["ours"]),
                     [("numpy.linalg.solve, v only (stacked 2x2)", t["solve"]),
                      ("jax.jit(jax.vmap(jax.grad(J))), compile excl.", t.get("jax"))],
                     method=f"each call in a fresh process after one warm-up call, sides alternating, "
                            f"{repeats} runs each; {_threads(blas_threads)}", scale=1e3, unit="ms", digits=2)


def jax_compile_seconds(kind: str, size: int) -> float:
    """Time of the first (compiling) call of the JAX baseline, in a child process."""
    flag = "--dense-child" if kind == "dense" else "--batch-child"
    size_flag = "--states" if kind == "dense" else "--points"
    rec = fresh_process_runs({"jax": [HERE, flag, "jax-compile", size_flag, str(size)]}, 1)["jax"][0]
    return float(rec["seconds"])


# --- 3. sparse ------------------------------------------------------------------------

def gridworld(n: int) -> MDP:
    """The slippery n×n gridworld of mdpgrad.examples._catalogue (γ = 0.99)."""
    from mdpgrad.examples import slippery_gridworld

    return slippery_gridworld(n, n, gamma=0.99)


def sparse_child(which: str, n: int, repeats: int) -> dict:
    """Runs in a child process: time one side of the sparse benchmark, report peak memory."""
    mdp = gridworld(n)
    S, A = mdp.n_states, mdp.n_actions
    pol = TabularSoftmax(S, A)
    theta = np.random.default_rng(3).standard_normal((S, A))
    out: dict = {"n_states": S, "nnz_P": int(mdp.P.nnz)}
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    if which == "ours":
        for _ in range(repeats):
            t0 = time.perf_counter()
            ev = evaluate(mdp, pol.probabilities(theta))
            g = policy_gradient(mdp, pol, theta, evaluation=ev)
            times.append(time.perf_counter() - t0)
        M = sp.csr_array(bellman_matrix(mdp, ev.P_pi))
        keep = ~mdp.terminal
        b, c = np.where(keep, ev.r_pi, 0.0), np.where(keep, mdp.rho0, 0.0)
        out["solver"] = type(ev.solver).__name__
        out["krylov_history"] = getattr(ev.solver, "history", None)
        out["residual_v"] = float(np.linalg.norm(M @ ev.v - b) / np.linalg.norm(b))
        out["residual_eta"] = float(np.linalg.norm(M.T @ ev.eta - c) / np.linalg.norm(c))
        out["grad_norm"] = float(np.linalg.norm(g))
        out["J"] = float(ev.J)
    else:
        M = sp.csc_matrix(bellman_matrix(mdp, chain_and_reward(mdp, pol.probabilities(theta))[0]))
        for _ in range(repeats):
            t0 = time.perf_counter()
            lu = spla.splu(M)
            times.append(time.perf_counter() - t0)
            out["factor_nnz"] = int(lu.L.nnz + lu.U.nnz)
            del lu
    out["median_s"] = float(np.median(times))
    out["times_s"] = times
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    out["rss_before_gb"] = base_rss / 2**20
    return out


def bench_sparse(repeats: int, n: int) -> dict:
    """Alternate one timed run of each side per round, each in a fresh child process."""
    # Both sides are sequential algorithms; one BLAS thread keeps OpenBLAS's level-1 kernels
    # (dot, axpy on 8 MB vectors) from spin-waiting for a second core that others may be using.
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    runs: dict[str, list[dict]] = {"ours": [], "splu": []}
    loads: list[float] = []
    for _ in range(repeats):
        for which in ("ours", "splu"):
            loads.append(os.getloadavg()[0])
            proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", which, "--grid",
                                   str(n), "--repeats", "1"], capture_output=True, text=True, check=True,
                                  env=env)
            runs[which].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    results: dict = {"load_1min": loads}
    for which, rs in runs.items():
        res = dict(rs[0])
        res["peak_rss_each_gb"] = [r["peak_rss_gb"] for r in rs]
        res["times_s"] = [t for r in rs for t in r["times_s"]]
        res["median_s"] = float(np.median(res["times_s"]))
        res["peak_rss_gb"] = max(r["peak_rss_gb"] for r in rs)
        results[which] = res
    return results


# --- main -------------------------------------------------------------------------------

def _child(setup: Callable[[str, int], Callable[[], object]], which: str, size: int) -> None:
    if which == "jax-compile":                         # time the first, compiling call
        call = setup("jax", size)
        t0 = time.perf_counter()
        call()
        print(json.dumps({"seconds": time.perf_counter() - t0}))
        return
    child_main(lambda: setup(which, size))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["dense", "batch", "sparse"], action="append")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--grid", type=int, default=1000, help="side of the slippery gridworld (default 1000)")
    ap.add_argument("--states", type=int, default=2000, help="states of the dense MDP (default 2000)")
    ap.add_argument("--points", type=int, default=10_000, help="parameter points of the batch")
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="dense and batch: BLAS threads in every child, both sides (default: BLAS default)")
    ap.add_argument("--child", choices=["ours", "splu"], help=argparse.SUPPRESS)
    ap.add_argument("--dense-child", help=argparse.SUPPRESS)
    ap.add_argument("--batch-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(sparse_child(args.child, args.grid, args.repeats or 3)))
        return
    if args.dense_child:
        _child(dense_setup, args.dense_child, args.states)
        return
    if args.batch_child:
        _child(batch_setup, args.batch_child, args.points)
        return
    todo = args.only or ["dense", "batch", "sparse"]
    jax_note = "installed (own processes)" if HAVE_JAX else "not installed (baseline absent)"
    machine_header(f", jax {jax_note}")
    if "dense" in todo:
        bench_dense(args.repeats or 11, args.states, args.blas_threads)
        if HAVE_JAX:
            row("jax compile time (first call, own process)",
                f"{jax_compile_seconds('dense', args.states):.2f} s")
    if "batch" in todo:
        bench_batch(args.repeats or 21, args.points, args.blas_threads)
        if HAVE_JAX:
            row("jax compile time (first call, own process)",
                f"{jax_compile_seconds('batch', args.points) * 1e3:.0f} ms")
    if "sparse" in todo:
        s = bench_sparse(args.repeats or 3, args.grid)
        o, u = s["ours"], s["splu"]
        print(f"\n3. slippery {args.grid}x{args.grid} gridworld: {o['n_states']} states, 4 actions, "
              "gamma 0.99, "
              f"tabular softmax (medians of {len(o['times_s'])})")
        ot, ut = o["times_s"], u["times_s"]
        row("v, eta and grad J (ours)", f"median {o['median_s']:.2f} s  [min {min(ot):.2f}, "
            f"max {max(ot):.2f}]"
            f"   solver {o['solver']}")
        row("  Krylov (iterations, rel. residual) per solve", f"{o['krylov_history']}")
        row("  relative residuals v / eta (<= 1e-10)", f"{o['residual_v']:.1e} / {o['residual_eta']:.1e}")
        row("  peak memory (ours, whole process)", f"{o['peak_rss_gb']:.2f} GB")
        row("scipy.sparse.linalg.splu(I - gamma P_pi)",
            f"median {u['median_s']:.2f} s  [min {min(ut):.2f}, max {max(ut):.2f}]   factor nnz "
            f"{u['factor_nnz']:,}")
        row("  peak memory (splu, whole process)", f"{u['peak_rss_gb']:.2f} GB")
        row("ratio of medians ours / splu  (target <= 0.25)", f"{o['median_s'] / u['median_s']:.2f}")
        row("  ratio range (min ours/max splu .. max/min)",
            f"{min(ot) / max(ut):.2f} .. {max(ot) / min(ut):.2f}")
        row("  1-min load before each child (ours, splu, ...)",
            ", ".join(f"{x:.2f}" for x in s["load_1min"]))
    print(f"\nload average (1, 5, 15 min) at end: {load_average()}")


if __name__ == "__main__":
    main()
