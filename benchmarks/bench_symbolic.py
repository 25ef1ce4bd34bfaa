"""Benchmark: exact proofs of the policy gradient theorem against their targets.

Cases (tabular softmax, every parameter of θ symbolic):

1. the general 2-state, 2-action MDP: every transition probability, reward, ρ₀
   and γ a symbol                                           target ≤ 3 s
2. a rational 3-state, 2-action MDP                         target ≤ 3 s
3. a rational 4-state, 2-action MDP                         target ≤ 30 s

``prove_policy_gradient_theorem`` works in the fraction field ℚ(symbols, z),
z = exp θ.  The baseline, measured in the same run on cases 1 and 2, is the
plain route: J(θ) with exp(θ) from a sympy matrix inverse, ``sympy.diff``, the
theorem's expression, and ``sympy.simplify`` of each difference.

Usage::

    python3 benchmarks/bench_symbolic.py [--repeats 5] [--no-baseline] [--baseline-timeout 300]

Prints the median wall time of each case, the baseline's time and the ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import sympy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mdpgrad.symbolic import MDP, TabularSoftmax, general_mdp, prove_policy_gradient_theorem

TARGETS = {"2x2 fully symbolic": 3.0, "3x2 rational": 3.0, "4x2 rational": 30.0}


def rational_mdp(n_states: int, n_actions: int, seed: int) -> MDP:
    """A dense rational MDP: integer weights 1..4 normalised per row, integer rewards, γ = 9/10."""
    rng = random.Random(seed)
    P = [[[None] * n_states for _ in range(n_actions)] for _ in range(n_states)]
    for s in range(n_states):
        for a in range(n_actions):
            w = [rng.randint(1, 4) for _ in range(n_states)]
            P[s][a] = [sympy.Rational(x, sum(w)) for x in w]
    r = [[rng.randint(-3, 3) for _ in range(n_actions)] for _ in range(n_states)]
    return MDP(P, r, Fraction(9, 10))


def cases() -> dict[str, MDP]:
    return {"2x2 fully symbolic": general_mdp(2, 2), "3x2 rational": rational_mdp(3, 2, 1),
            "4x2 rational": rational_mdp(4, 2, 2)}


def ours(mdp: MDP) -> float:
    t = time.perf_counter()
    res = prove_policy_gradient_theorem(mdp, TabularSoftmax(mdp.n_states, mdp.n_actions))
    elapsed = time.perf_counter() - t
    if not res.holds:
        raise SystemExit(f"unexpected: {res}")
    return elapsed


def plain_sympy(mdp: MDP) -> float:
    """The plain route: closed form with exp(θ), sympy.diff, sympy.simplify of each difference."""
    t = time.perf_counter()
    S, A = mdp.n_states, mdp.n_actions
    pol = TabularSoftmax(S, A)
    theta = pol.symbols()
    pi = pol.probabilities(theta)
    P_pi = sympy.Matrix(S, S, lambda s, u: sum(pi[s, a] * mdp.P[s, a, u] for a in range(A)))
    r_pi = sympy.Matrix(S, 1, lambda s, _: sum(pi[s, a] * mdp.r[s, a] for a in range(A)))
    Minv = (sympy.eye(S) - mdp.gamma * P_pi).inv()
    v = Minv * r_pi
    eta = (mdp.rho0.T * Minv).T
    J = (mdp.rho0.T * v)[0, 0]
    q = sympy.Matrix(S, A, lambda s, a: mdp.r[s, a]
                     + mdp.gamma * sum(mdp.P[s, a, u] * v[u] for u in range(S)))
    for th in theta:
        rhs = sum(eta[s] * pi[s, a] * (q[s, a] - v[s]) * sympy.diff(sympy.log(pi[s, a]), th)
                  for s in range(S) for a in range(A))
        if sympy.simplify(sympy.diff(J, th) - rhs) != 0:
            raise SystemExit("plain sympy could not simplify the difference to 0")
    return time.perf_counter() - t


def _worker(name: str, q: mp.Queue) -> None:
    q.put(plain_sympy(cases()[name]))


def baseline(name: str, timeout: float) -> float | None:
    q: mp.Queue = mp.Queue()
    p = mp.Process(target=_worker, args=(name, q))
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.terminate()
        p.join()
        return None
    return q.get() if not q.empty() else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--baseline-timeout", type=float, default=300.0)
    args = ap.parse_args()
    print(f"sympy {sympy.__version__}, python {sys.version.split()[0]}, {mp.cpu_count()} cores")
    print(f"{'case':22s} {'median (s)':>11s} {'min':>7s} {'max':>7s} {'target':>7s}  "
          f"{'plain simplify (s)':>18s} {'ratio':>7s}")
    for name, mdp in cases().items():
        times = [ours(mdp) for _ in range(args.repeats)]
        med = statistics.median(times)
        base_txt, ratio_txt = "-", "-"
        if not args.no_baseline and name != "4x2 rational":
            b = baseline(name, args.baseline_timeout)
            base_txt = f"> {args.baseline_timeout:.0f}" if b is None else f"{b:.2f}"
            ratio_txt = (f"> {args.baseline_timeout / med:.0f}x" if b is None else f"{b / med:.0f}x")
        flag = "ok" if med <= TARGETS[name] else "OVER"
        print(f"{name:22s} {med:11.3f} {min(times):7.3f} {max(times):7.3f} {TARGETS[name]:6.0f}s  "
              f"{base_txt:>18s} {ratio_txt:>7s}  {flag}")


if __name__ == "__main__":
    main()
