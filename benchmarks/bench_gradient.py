"""Benchmarks of the exact policy gradient, with baselines timed in the same run.

Run:  python benchmarks/bench_gradient.py [--only dense|batch|sparse] [--repeats N] [--grid N]

1. dense   S = 2000, A = 4, tabular softmax: the full exact ∇J (evaluate + theorem) against one
           scipy.linalg.lu_factor of the S×S matrix I − γP^π (target ratio ≤ 1.3), and against
           jax.jit(jax.grad(J)) with J written with jnp.linalg.solve in float64, compile time
           excluded (target ≤ 0.8).
2. batch   10,000 parameter points on a 2-state, 2-action MDP in one call, against
           jax.jit(jax.vmap(jax.grad(J))) (target ≤ 1.0), and against JAX's compile time.
3. sparse  the slippery 1000×1000 gridworld (10⁶ states, 4 actions, γ = 0.99), tabular softmax:
           v, η and ∇J with relative residuals ≤ 1e-10, against one plain
           scipy.sparse.linalg.splu of the same I − γP̃^π (target: ratio of medians ≤ 0.25), peak
           memory < 4 GB.  Each run of each side is a fresh child process (so that its peak resident
           memory can be read and neither inherits the other's caches), the two sides alternating;
           both children use one BLAS thread (ours splits its sparse products across the cores,
           SuperLU is sequential).  Min, median and max of each side and the load are printed.

Every timing is the median over --repeats runs; the runs of a benchmark and of its baselines are
interleaved so that load from other processes affects them alike.  JAX is optional: when it is not
importable its rows say so and its ratios are not computed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np
import scipy
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mdpgrad import MDP, TabularSoftmax, evaluate, policy_gradient
from mdpgrad._chains import bellman_matrix, chain_and_reward

try:  # optional baseline
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    HAVE_JAX = True
except ImportError:  # pragma: no cover - depends on the machine
    HAVE_JAX = False


def interleaved(fns: dict, repeats: int) -> dict:
    """Median wall time of each callable, the calls interleaved round-robin."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def row(label: str, value: str) -> None:
    print(f"  {label:<44} {value}")


# --- 1. dense ---------------------------------------------------------------------

def dense_mdp(S: int = 2000, A: int = 4, gamma: float = 0.9, seed: int = 0) -> MDP:
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S))
    P /= P.sum(axis=-1, keepdims=True)
    return MDP(P, rng.standard_normal((S, A)), gamma)


def bench_dense(repeats: int) -> dict:
    mdp = dense_mdp()
    S, A = mdp.n_states, mdp.n_actions
    pol = TabularSoftmax(S, A)
    theta = np.random.default_rng(1).standard_normal((S, A))
    pi = pol.probabilities(theta)
    M = bellman_matrix(mdp, chain_and_reward(mdp, pi)[0])
    fns = {"ours": lambda: policy_gradient(mdp, pol, theta),
           "ours_float64_lu": lambda: policy_gradient(
               mdp, pol, theta, evaluation=evaluate(mdp, pi, validate=False, solver="lu")),
           "lu_factor": lambda: sla.lu_factor(M)}
    g = policy_gradient(mdp, pol, theta)
    g64 = policy_gradient(mdp, pol, theta, evaluation=evaluate(mdp, pi, validate=False, solver="lu"))
    solver = evaluate(mdp, pi).solver
    out = {"solver": type(solver).__name__, "refinement_steps": getattr(solver, "history", None),
           "max_abs_diff_vs_float64_lu": float(np.abs(g - g64).max())}
    if HAVE_JAX:
        P, r, rho0, gamma = (jnp.asarray(mdp.P), jnp.asarray(mdp.r), jnp.asarray(mdp.rho0), mdp.gamma)

        def J(th):
            p = jax.nn.softmax(th, axis=-1)
            v = jnp.linalg.solve(jnp.eye(S) - gamma * jnp.einsum("sa,sat->st", p, P), jnp.sum(p * r, -1))
            return rho0 @ v

        grad = jax.jit(jax.grad(J))
        thj = jnp.asarray(theta)
        t0 = time.perf_counter()
        gj = np.asarray(grad(thj).block_until_ready())
        out["jax_compile_s"] = time.perf_counter() - t0
        out["max_abs_diff_vs_jax"] = float(np.abs(gj - g).max())
        fns["jax"] = lambda: grad(thj).block_until_ready()
    out.update(interleaved(fns, repeats))
    return out


# --- 2. batch -------------------------------------------------------------------------

def bench_batch(repeats: int, n_points: int = 10_000) -> dict:
    P = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.7, 0.3], [0.05, 0.95]]])
    r = np.array([[1.0, 0.0], [0.5, 2.0]])
    mdp = MDP(P, r, 0.9, rho0=[0.5, 0.5])
    pol = TabularSoftmax(2, 2)
    thetas = np.random.default_rng(2).standard_normal((n_points, 2, 2))
    fns = {"ours": lambda: policy_gradient(mdp, pol, thetas)}
    out: dict = {"n_points": n_points}
    if HAVE_JAX:
        Pj, rj, rhoj = jnp.asarray(P), jnp.asarray(r), jnp.asarray(mdp.rho0)

        def J(th):
            p = jax.nn.softmax(th, axis=-1)
            v = jnp.linalg.solve(jnp.eye(2) - 0.9 * jnp.einsum("sa,sat->st", p, Pj), jnp.sum(p * rj, -1))
            return rhoj @ v

        grad = jax.jit(jax.vmap(jax.grad(J)))
        thj = jnp.asarray(thetas)
        t0 = time.perf_counter()
        gj = np.asarray(grad(thj).block_until_ready())
        out["jax_compile_s"] = time.perf_counter() - t0
        out["max_abs_diff_vs_jax"] = float(np.abs(gj - policy_gradient(mdp, pol, thetas)).max())
        fns["jax"] = lambda: grad(thj).block_until_ready()
    out.update(interleaved(fns, repeats))
    return out


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

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["dense", "batch", "sparse"], action="append")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--grid", type=int, default=1000, help="side of the slippery gridworld (default 1000)")
    ap.add_argument("--child", choices=["ours", "splu"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(sparse_child(args.child, args.grid, args.repeats or 3)))
        return
    todo = args.only or ["dense", "batch", "sparse"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
          f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"jax {jax.__version__ if HAVE_JAX else 'not installed (baseline absent)'}")
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}  (other processes share the cores; "
          "ratios are measured in the same run, interleaved)".format(*os.getloadavg()))
    if "dense" in todo:
        d = bench_dense(args.repeats or 11)
        print("\n1. dense S=2000, A=4, tabular softmax (medians)")
        row("exact grad J (ours, auto solver)", f"{d['ours']:.4f} s   solver {d['solver']}, "
            f"refinement steps {d['refinement_steps']}")
        row("exact grad J (ours, float64 LU)", f"{d['ours_float64_lu']:.4f} s")
        row("scipy.linalg.lu_factor(S x S)", f"{d['lu_factor']:.4f} s")
        row("ratio ours / lu_factor  (target <= 1.3)", f"{d['ours'] / d['lu_factor']:.2f}")
        row("ratio ours(float64 LU) / lu_factor", f"{d['ours_float64_lu'] / d['lu_factor']:.2f}")
        row("max |ours - ours(float64 LU)|", f"{d['max_abs_diff_vs_float64_lu']:.1e}")
        if HAVE_JAX:
            row("jax.jit(jax.grad(J)), compile excluded",
                f"{d['jax']:.4f} s  (compile {d['jax_compile_s']:.2f} s)")
            row("ratio ours / jax  (target <= 0.8)", f"{d['ours'] / d['jax']:.2f}")
            row("ratio ours(float64 LU) / jax", f"{d['ours_float64_lu'] / d['jax']:.2f}")
            row("max |ours - jax|", f"{d['max_abs_diff_vs_jax']:.1e}")
        else:
            row("jax", "not installed: baseline absent")
    if "batch" in todo:
        b = bench_batch(args.repeats or 21)
        print(f"\n2. {b['n_points']} parameter points, 2 states x 2 actions, one call (medians)")
        row("exact grad J, batched (ours)", f"{b['ours'] * 1e3:.2f} ms")
        if HAVE_JAX:
            row("jax.jit(jax.vmap(jax.grad(J))), compile excl.", f"{b['jax'] * 1e3:.2f} ms")
            row("jax compile time", f"{b['jax_compile_s'] * 1e3:.0f} ms")
            row("ratio ours / jax  (target <= 1.0)", f"{b['ours'] / b['jax']:.2f}")
            row("ratio ours / jax compile", f"{b['ours'] / b['jax_compile_s']:.3f}")
            row("max |ours - jax|", f"{b['max_abs_diff_vs_jax']:.1e}")
        else:
            row("jax", "not installed: baseline absent")
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
    print("\nload average (1, 5, 15 min) at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
