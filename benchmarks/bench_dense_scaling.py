"""How the cost of the exact dense policy gradient grows with the number of states.

Run:  python benchmarks/bench_dense_scaling.py [--sizes 500 1000 2000 3000 4000] [--repeats N] [--no-plot]

For random dense MDPs (A = 4, γ = 0.9, tabular softmax; the MDP of benchmarks/bench_gradient.py) at
each S, the full exact ∇J (``mg.policy_gradient``) and one float64 ``scipy.linalg.lu_factor`` of
I − γP^π are timed by the same method: every timed call in a fresh process after one warm-up call,
the two sides alternating (benchmarks/_timing.py).  The table gives min, median and max of each
side, the ratio of medians, and the exponent k of time ≈ c·S^k fitted by least squares to
(log S, log median).  An LU costs (2/3)S³ flops, so k tends to 3 for large S; below, memory traffic
and fixed costs flatten the curve.  Building P^π reads the S·A·S array P, which is O(S²) per
action.  A PNG plot goes to benchmarks/results/ when matplotlib is importable.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from _timing import child_env, fresh_process_runs, load_average, machine_header, summarise, times_of
from bench_gradient import dense_accuracy, dense_sides

HERE = os.path.dirname(os.path.abspath(__file__))


def fitted_exponent(sizes: list[int], seconds: list[float]) -> float:
    """Slope of the least-squares line through (log S, log t)."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 3000, 4000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--blas-threads", type=int, default=None, help="BLAS threads in every child (both sides)")
    args = ap.parse_args()
    machine_header()
    threads = "default" if args.blas_threads is None else str(args.blas_threads)
    env = child_env(args.blas_threads)
    print(f"\nDense scaling: exact grad J (ours) vs one float64 scipy.linalg.lu_factor of I - gamma P_pi; "
          f"A = 4, gamma = 0.9; each call in a fresh process after one warm-up call, sides alternating, "
          f"{args.repeats} runs each; BLAS threads {threads}; times in seconds, median (min-max)\n")
    print("| S | solver | exact grad J (ours) | lu_factor (float64) | ratio of medians | load (1 min) |")
    print("|---:|:---|---:|---:|---:|---:|")
    med_ours: list[float] = []
    med_lu: list[float] = []
    for S in args.sizes:
        acc = dense_accuracy(S)
        runs = fresh_process_runs(dense_sides(S, with_jax=False), args.repeats, env=env)
        o, u = summarise(times_of(runs["ours"])), summarise(times_of(runs["lu_factor"]))
        med_ours.append(o.median)
        med_lu.append(u.median)
        print(f"| {S} | {acc['solver']} | {o.median:.4f} ({o.min:.4f}-{o.max:.4f}) | "
              f"{u.median:.4f} ({u.min:.4f}-{u.max:.4f}) | {o.median / u.median:.2f} | "
              f"{os.getloadavg()[0]:.2f} |", flush=True)
    if len(args.sizes) >= 2:
        print(f"\nfitted exponent k (time ~ S^k, least squares on log-log over S = "
              f"{args.sizes[0]}..{args.sizes[-1]}): ours {fitted_exponent(args.sizes, med_ours):.2f}, "
              f"lu_factor {fitted_exponent(args.sizes, med_lu):.2f}")
    if not args.no_plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib not installed: no plot")
        else:
            out_dir = os.path.join(HERE, "results")
            os.makedirs(out_dir, exist_ok=True)
            fig, ax = plt.subplots(figsize=(5, 4))
            ax.loglog(args.sizes, med_ours, "o-", label="exact ∇J (mdpgrad)")
            ax.loglog(args.sizes, med_lu, "s--", label="one float64 lu_factor")
            ax.set_xticks(args.sizes, [str(n) for n in args.sizes], minor=False)
            ax.set_xticks([], minor=True)      # one label per measured size, none in between
            ax.set_xlabel("states S")
            ax.set_ylabel("median wall time (s)")
            ax.set_title("Dense MDP, A = 4, γ = 0.9")
            ax.legend()
            fig.tight_layout()
            path = os.path.join(out_dir, "dense_scaling.png")
            fig.savefig(path, dpi=120)
            print(f"plot: {os.path.relpath(path)}")
    print(f"load average (1, 5, 15 min) at end: {load_average()}")


if __name__ == "__main__":
    main()
