"""Benchmark: the exact covariance of REINFORCE against sampling it to the same precision.

Setting: a dense random continuing MDP, Garnet (Archibald et al. 1995) with
S = 100 states, A = 4 actions and branching 100 (every next state possible),
γ = 0.9, ρ₀ uniform, no terminal states; a tabular softmax (400 parameters) at
θ ~ N(0, 1).  Episodes follow the "geometric" protocol (the episode stops after
each step with probability 1 − γ, expected length 1/(1 − γ) = 10 actions), the
protocol ``"auto"`` resolves to for a continuing discounted model; the estimate
is :func:`mdpgrad.estimators.reinforce_estimator` (d = 400).

Exact: :func:`mdpgrad.estimators.estimator_moments`, the full 400 × 400
covariance, median of the repeats.

Sampling to the same precision.  The covariance has 80,200 distinct entries;
the precision asked of the sample is stated on two scalars, so that the cost
of sampling is a *lower bound* for the whole matrix:

(a) tr Cov, the most favourable one for sampling (it averages all coordinates):
    tr Ĉ ≈ mean qᵢ with qᵢ = ‖xᵢ − x̄‖², so its standard error is sd(q)/√N, and
    N_trace = (sd(q) / (p · tr Cov))² episodes give a relative standard error p;
(b) every diagonal entry Cov_jj to relative standard error p:
    N_diag = max_j (sd((x_ij − x̄_j)²) / (p · Cov_jj))².

sd(q) and sd((x_ij − x̄_j)²) (fourth moments, which the exact second moment
does not give) are measured on a pilot sample; tr Cov and Cov_jj are exact.

Sampling time = drawing the episodes (:func:`mdpgrad.sample`), running the
estimator, and accumulating Σx and XᵀX (what the sample covariance needs), in
batches.  A batch of B episodes and one of B/4 are timed (median of the
repeats, interleaved with the exact computation so that machine load hits both
alike); the cost per episode of the two is printed to show it is linear, and
the time for N episodes is N × (cost per episode of the larger batch).  The
ratio printed is (sampling time for N) / (exact time), both measured in this run.

Run: ``python3 benchmarks/bench_moments.py [--repeats 5] [--batch 20000] [--pilot 100000]
[--precision 0.01]``.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mdpgrad as mg
from mdpgrad.estimators import estimator_moments, reinforce_estimator


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl absent"
    return "; ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads)"
                     for i in threadpool_info())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=20000, help="episodes per timed sampling batch")
    ap.add_argument("--pilot", type=int, default=100000, help="episodes measuring the fourth moments")
    ap.add_argument("--precision", type=float, default=0.01, help="relative standard error asked, p")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    S, A, gamma = 100, 4, 0.9
    mdp = mg.examples.garnet(S, A, S, gamma=gamma, rng=args.seed)
    pol = mg.TabularSoftmax(S, A)
    theta = np.random.default_rng(args.seed + 1).standard_normal(pol.param_shape)
    pi = pol.probabilities(theta)
    est = reinforce_estimator()
    d = S * A
    protocol = "geometric"

    print(f"Garnet MDP, {S} states x {A} actions, branching {S} (dense P), gamma {gamma}, protocol "
          f"{protocol}; tabular softmax, {d} parameters, theta ~ N(0, 1); REINFORCE")
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"BLAS: {blas_info()}; numpy {np.__version__}\n")

    def exact() -> mg.estimators.EstimatorMoments:
        return estimator_moments(mdp, pol, theta, est, protocol=protocol)

    def sample_and_accumulate(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        traj = mg.sample(mdp, pi, n, rng=rng, protocol=protocol)
        x = est.estimate(traj, pol, theta).reshape(n, d)
        return x.sum(axis=0), x.T @ x

    mom = exact()                                    # warm-up (imports, first factorisation)
    C = mom.covariance
    tr = mom.total_variance
    diag = np.diag(C)

    # pilot: fourth moments of the per-episode estimate, measured in batches (deviations from the
    # exact mean, so that mean qᵢ is an unbiased estimate of tr Cov without a second pass)
    rng = np.random.default_rng(args.seed + 2)
    qs = []
    s2 = np.zeros(d)
    s4 = np.zeros(d)
    for start in range(0, args.pilot, args.batch):
        n = min(args.batch, args.pilot - start)
        traj = mg.sample(mdp, pi, n, rng=rng, protocol=protocol)
        dev2 = (est.estimate(traj, pol, theta).reshape(n, d) - mom.mean.ravel()) ** 2
        qs.append(dev2.sum(axis=1))
        s2 += dev2.sum(axis=0)
        s4 += (dev2 ** 2).sum(axis=0)
    q = np.concatenate(qs)
    n0 = q.size
    z_trace = (q.mean() - tr) / (q.std(ddof=1) / math.sqrt(n0))
    p = args.precision
    N_trace = math.ceil((q.std(ddof=1) / (p * tr)) ** 2)
    # the fourth moment is itself heavy-tailed: N_trace from each half of the pilot shows its spread
    halves = [math.ceil((h.std(ddof=1) / (p * tr)) ** 2) for h in (q[: n0 // 2], q[n0 // 2:])]
    sd_diag = np.sqrt(np.clip(s4 / n0 - (s2 / n0) ** 2, 0.0, None) * n0 / (n0 - 1))
    varying = diag > 1e-12 * diag.max()
    ratio = sd_diag[varying] / diag[varying]
    N_diag = math.ceil(float(np.max(ratio / p) ** 2))
    worst = int(np.flatnonzero(varying)[np.argmax(ratio)])

    # timing, interleaved: exact, batch B, batch B/4, exact, ...
    small = max(2, args.batch // 4)
    t_exact, t_big, t_small = [], [], []
    trng = np.random.default_rng(args.seed + 3)
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        exact()
        t_exact.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sample_and_accumulate(args.batch, trng)
        t_big.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sample_and_accumulate(small, trng)
        t_small.append(time.perf_counter() - t0)
    te = statistics.median(t_exact)
    per_big = statistics.median(t_big) / args.batch
    per_small = statistics.median(t_small) / small

    print(f"exact covariance (estimator_moments, {d} x {d})   {te * 1e3:9.1f} ms  (median of {args.repeats})")
    print(f"sampling + estimate + sums of x and x x^T, per episode: {per_big * 1e6:7.2f} us at batch "
          f"{args.batch}, {per_small * 1e6:7.2f} us at batch {small} (linear in the episodes: the time for "
          "N is N x the first)")
    print(f"pilot of {n0} episodes: sampled tr Cov {q.mean():.5g} vs exact {tr:.5g} "
          f"(z = {z_trace:+.2f}); sd(|x - E x|^2) / tr Cov = {q.std(ddof=1) / tr:.3g}; N_trace from each "
          f"half of the pilot: {halves[0]:,} and {halves[1]:,}\n")

    for label, N in [(f"(a) tr Cov to {p:.0%} relative SE", N_trace),
                     (f"(b) every Cov_jj to {p:.0%} relative SE (worst j = {worst}, state {worst // A}, "
                      f"action {worst % A}, pi = {pi.ravel()[worst]:.3g})", N_diag)]:
        ts = N * per_big
        print(label)
        print(f"  episodes needed N = {N:,}; sampling time {ts:10.3g} s (scaled from batch {args.batch}); "
              f"exact {te:.3g} s")
        print(f"  ratio sampling / exact: {ts / te:,.1f}x")
    print("\nload average (1, 5, 15 min) at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
