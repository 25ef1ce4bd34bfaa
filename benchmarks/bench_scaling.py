"""How the exact policy gradient on sparse models scales with the number of states.

Run:  python benchmarks/bench_scaling.py [--sizes 1e4 1e5 ...] [--gammas 0.99 0.999] [--repeats N]
                                         [--limit-gb 12]

For each γ and each size S (a square slippery gridworld, mdpgrad.examples.slippery_gridworld, side
round(√S), A = 4, tabular softmax at θ = a fixed standard normal draw) a fresh child process builds
the model, then times the exact ∇J (mdpgrad.evaluate followed by mdpgrad.policy_gradient, i.e. the
Bellman solve for v, the adjoint solve for η and the policy gradient theorem).  Every run is its own
process, so that its peak resident memory (resource.getrusage ru_maxrss of the child, the whole
process including the model) can be read and no run inherits another's caches; sizes up to 10⁶ are
repeated (median, min, max), larger ones run once.  The child also reports the Krylov iterations of
the two solves and the relative residuals ‖M v − r̃^π‖/‖r̃^π‖ and ‖Mᵀη − ρ̃₀‖/‖ρ̃₀‖ of
M = I − γP̃^π, recomputed from scratch.

The exponent of time against S is the least-squares slope of log t on log S over the sizes run.

Every child sets the memory limit to --limit-gb (mdpgrad.set_memory_limit); after the table one child
asks for a size above it and prints the refusal (a ValidationError with the estimate), and another
asks for 10⁷ states under the default limit.  A markdown table goes to stdout, and a log-log plot to
benchmarks/results/scaling.png when matplotlib is installed.
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

SIZES = (10**4, 10**5, 10**6, 4 * 10**6, 10**7)
GAMMAS = (0.99, 0.999)


def child(n: int, gamma: float, limit_gb: float | None) -> dict:
    """Runs in a fresh process: build the n×n slippery grid, time the exact ∇J once."""
    import scipy.sparse as sp

    import mdpgrad as mg
    from mdpgrad._chains import bellman_matrix

    if limit_gb:
        mg.set_memory_limit(int(limit_gb * 2**30))
    out: dict = {"n": n, "gamma": gamma}
    try:
        t0 = time.perf_counter()
        mdp = mg.examples.slippery_gridworld(n, n, gamma=gamma)
        out["build_s"] = time.perf_counter() - t0
        S, A = mdp.n_states, mdp.n_actions
        pol = mg.TabularSoftmax(S, A)
        theta = np.random.default_rng(3).standard_normal((S, A))
        t0 = time.perf_counter()
        ev = mg.evaluate(mdp, pol.probabilities(theta))
        g = mg.policy_gradient(mdp, pol, theta, evaluation=ev)
        out["time_s"] = time.perf_counter() - t0
    except mg.ValidationError as err:
        out["refused"] = f"ValidationError(argument={err.argument!r}): {err}"
        out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        return out
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    M = sp.csr_array(bellman_matrix(mdp, ev.P_pi))
    keep = ~mdp.terminal
    b, c = np.where(keep, ev.r_pi, 0.0), np.where(keep, mdp.rho0, 0.0)
    out.update(n_states=S, nnz_P=int(mdp.P.nnz), solver=type(ev.solver).__name__,
               iterations=[h[0] for h in getattr(ev.solver, "history", [])],
               residual_v=float(np.linalg.norm(M @ ev.v - b) / np.linalg.norm(b)),
               residual_eta=float(np.linalg.norm(M.T @ ev.eta - c) / np.linalg.norm(c)),
               J=float(ev.J), grad_norm=float(np.linalg.norm(g)))
    return out


def run_child(n: int, gamma: float, limit_gb: float | None, timeout: float) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", str(n), "--gammas", repr(gamma)]
    cmd += ["--limit-gb", repr(limit_gb or 0.0)]   # 0: keep the default limit
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        return {"n": n, "gamma": gamma, "failed": f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fit_exponent(S: list[int], t: list[float]) -> float:
    """Least-squares slope of log t against log S."""
    return float(np.polyfit(np.log(S), np.log(t), 1)[0])


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:                         # the BLAS numpy was built against
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')} (numpy build; threadpoolctl not installed)"
    return "; ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads)"
                     for i in threadpool_info())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=float, nargs="+", default=SIZES)
    ap.add_argument("--gammas", type=float, nargs="+", default=GAMMAS)
    ap.add_argument("--repeats", type=int, default=3, help="runs per size up to 10^6 (default 3)")
    ap.add_argument("--limit-gb", type=float, default=12.0)
    ap.add_argument("--timeout", type=float, default=1200.0, help="seconds per child (default 1200)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.gammas[0], args.limit_gb)))
        return
    import scipy

    import mdpgrad as mg

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; python "
          f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}; "
          f"BLAS: {blas_info()}")
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"memory limit in every child: {args.limit_gb:g} GiB (mdpgrad.set_memory_limit); default "
          f"{mg._validation.DEFAULT_MEMORY_LIMIT / 2**30:g} GiB\n")
    rows: list[dict] = []
    for gamma in args.gammas:
        for S in args.sizes:
            n = int(round(np.sqrt(S)))
            reps = args.repeats if n * n <= 10**6 else 1
            runs = [run_child(n, gamma, args.limit_gb, args.timeout) for _ in range(reps)]
            ok = [r for r in runs if "time_s" in r]
            if not ok:
                rows.append(runs[0])
                why = runs[0].get("refused") or runs[0].get("failed")
                print(f"  gamma {gamma}, {n}x{n}: {why}", flush=True)
                continue
            res = dict(ok[0])
            times = [r["time_s"] for r in ok]
            res.update(times=times, time_s=float(np.median(times)),
                       peak_rss_gb=max(r["peak_rss_gb"] for r in ok),
                       build_s=float(np.median([r["build_s"] for r in ok])),
                       load=os.getloadavg()[0])
            rows.append(res)
            print(f"  gamma {gamma}, {n}x{n}: {res['time_s']:.2f} s (runs "
                  f"{', '.join(f'{t:.2f}' for t in times)}), iterations {res['iterations']}, "
                  f"{res['peak_rss_gb']:.2f} GB, load {res['load']:.2f}", flush=True)

    print("\n| γ | states | nnz(P) | ∇J time (s) median [min, max] (runs) | build (s) "
          "| Krylov iterations v, η | peak RSS (GB) | rel. residual v | rel. residual η | load (1 min) |")
    print("|---|---:|---:|---|---:|---|---:|---:|---:|---:|")
    for r in rows:
        if "time_s" not in r:
            why = r.get("refused") or r.get("failed")
            print(f"| {r['gamma']} | {r['n'] ** 2:,} | | {why} | | | | | | |")
            continue
        t = r["times"]
        print(f"| {r['gamma']} | {r['n_states']:,} | {r['nnz_P']:,} | {r['time_s']:.2f} [{min(t):.2f}, "
              f"{max(t):.2f}] ({len(t)}) | {r['build_s']:.1f} | {', '.join(map(str, r['iterations']))} "
              f"| {r['peak_rss_gb']:.2f} | {r['residual_v']:.1e} | {r['residual_eta']:.1e} "
              f"| {r['load']:.2f} |")
    print()
    fits = {}
    for gamma in args.gammas:
        ok = [r for r in rows if r["gamma"] == gamma and "time_s" in r]
        if len(ok) >= 2:
            fits[gamma] = fit_exponent([r["n_states"] for r in ok], [r["time_s"] for r in ok])
            print(f"γ = {gamma}: time ∝ S^{fits[gamma]:.2f} (least squares on log-log, "
                  f"{ok[0]['n_states']:,} … {ok[-1]['n_states']:,} states)")
    worst = max((max(r["residual_v"], r["residual_eta"]) for r in rows if "time_s" in r),
                default=float("nan"))
    print(f"largest relative residual: {worst:.1e} (goal <= 1e-10)")
    for r in rows:
        if r.get("n_states", 0) >= 9_990_000 and "time_s" in r:
            print(f"goal at 10^7 (γ = {r['gamma']}): {r['time_s']:.1f} s (< 60 s: "
                  f"{'met' if r['time_s'] < 60 else 'MISSED'}), {r['peak_rss_gb']:.2f} GB (< 12 GB: "
                  f"{'met' if r['peak_rss_gb'] < 12 else 'MISSED'})")

    print("\nrefusals (each a fresh child process):")
    for n, limit, what in ((10_000, args.limit_gb, f"10^8 states, limit {args.limit_gb:g} GiB"),
                           (3162, None, "10^7 states, default limit")):
        r = run_child(n, 0.99, limit, args.timeout)
        print(f"  {what}: {r.get('refused') or r.get('failed') or 'NOT refused'}; "
              f"child peak RSS {r.get('peak_rss_gb', float('nan')):.2f} GB")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\nmatplotlib not installed: no plot")
    else:
        fig, ax = plt.subplots(figsize=(6, 4))
        for gamma in args.gammas:
            ok = [r for r in rows if r["gamma"] == gamma and "time_s" in r]
            if ok:
                ax.loglog([r["n_states"] for r in ok], [r["time_s"] for r in ok], "o-",
                          label=f"γ = {gamma}" + (f" (slope {fits[gamma]:.2f})" if gamma in fits else ""))
        ax.set_xlabel("states S (slippery gridworld, A = 4)")
        ax.set_ylabel("exact ∇J, seconds (median)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
        path = os.path.join(HERE, "results", "scaling.png")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        print(f"\nplot: {path}")
    print("\nload average (1, 5, 15 min) at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
