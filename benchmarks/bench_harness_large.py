"""Benchmark: the sample-covariance test of the estimator harness with many parameters.

Setting: a Garnet MDP (Archibald et al. 1995) with S states, A = 2 actions and branching 3, γ = 0.9,
a tabular softmax (d = 2S parameters) at θ ~ N(0, 1), and n episodes of REINFORCE passed to
:func:`mdpgrad.check_estimator` as a plain function with ``covariance="sample"`` (the path a
hand-written estimator takes on a model too large for the exact covariance).  Defaults: S = 2501,
n = 2000, so d = 5002 > n.

The two linear-algebra steps whose cost grows fastest with d are timed against the computation
they replace, on the same data, alternating in one process (``_timing.alternating_runs``):

* the span of the score vectors: one SVD per block of the score matrix's sparsity pattern (a
  tabular policy has one block per state) against one SVD of the whole (S·A) × d matrix;
* the eigenpairs of the sample covariance: the thin SVD of the n × d centred units (rank ≤ n − 1)
  against ``eigh`` of the d × d covariance.

Both sides give the same subspace and the same kept eigenpairs (tests/test_harness.py checks
this).  The whole ``check_estimator`` call is then timed on its own, with its verdict.

Run: ``python3 benchmarks/bench_harness_large.py [--states 2501] [--episodes 2000] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import alternating_runs, load_average, machine_header, print_comparison

import mdpgrad as mg
from mdpgrad.estimators import reinforce_estimator
from mdpgrad.estimators._harness import _score_span
from mdpgrad.estimators._sample_test import _eigenpairs
from mdpgrad.variance import score_matrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=2501)
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    S, n = args.states, args.episodes
    machine_header()
    mdp = mg.examples.garnet(S, 2, 3, gamma=0.9, rng=0)
    pol = mg.TabularSoftmax(S, 2)
    theta = np.random.default_rng(0).standard_normal((S, 2))
    est = reinforce_estimator()
    traj = mg.sample(mdp, pol.probabilities(theta), n, rng=1)
    units = est.estimate(traj, pol, theta).reshape(n, -1)
    d = units.shape[1]
    print(f"S = {S}, A = 2, d = {d} parameters, n = {n} episodes")

    mask = np.ones((S, 2), dtype=bool) & ~mdp.terminal[:, None]
    G = score_matrix(pol, theta, mask)

    def one_svd() -> np.ndarray:
        _, sv, Vt = np.linalg.svd(G, full_matrices=False)
        return Vt[sv > 1e-10 * sv.max()]

    blocks, whole = alternating_runs(lambda: _score_span(pol, theta, mask), one_svd, args.repeats)
    print_comparison("span of the score vectors", ("by blocks of the sparsity pattern", blocks),
                     [("one SVD of the score matrix", whole)], method="alternating, one process")

    centred = units - units.mean(axis=0)
    C = np.cov(units, rowvar=False, ddof=1)
    thin, full = alternating_runs(lambda: _eigenpairs(centred, C), lambda: np.linalg.eigh(C), args.repeats)
    print_comparison("eigenpairs of the sample covariance", ("thin SVD of the centred units", thin),
                     [("eigh of the d × d covariance", full)], method="alternating, one process")

    t0 = time.perf_counter()
    check = mg.check_estimator(mdp, pol, theta, lambda tr, p, th: est.estimate(tr, p, th), n_episodes=n,
                               target="gradient", rng=1, covariance="sample")
    print(f"\ncheck_estimator, whole call (once): {time.perf_counter() - t0:.1f} s; verdict {check.status} "
          f"({check.test} test)")
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
