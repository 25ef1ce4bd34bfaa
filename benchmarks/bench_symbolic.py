"""Benchmark: proofs of the policy gradient theorem and its companions against their targets.

Cases (tabular softmax, every parameter of θ symbolic; ``method="auto"``):

1. the general S-state, 2-action MDP, S = 2, 3, 4, 5: every transition probability, reward,
   ρ₀ and γ a symbol (10, 21, 36, 55 symbols). S = 2 is proved exactly (≤ 16 symbols);
   S ≥ 3 goes to the Schwartz–Zippel identity test.      targets: 2x2 ≤ 3 s, 3x2 and 4x2 ≤ 10 s
2. the recursion form, the baseline identity and the performance difference at S = 3, 4.
3. a deliberately wrong formula (visits d = η/Σ η: the 1/(1−γ) factor dropped) at S = 3, 4:
   the exact counterexample's label, difference, and γ there.
4. rational 3- and 4-state, 2-action MDPs (no model symbols: exact route)
                                                          targets: 3x2 ≤ 3 s, 4x2 ≤ 30 s

With ``--baseline``, the plain route (J(θ) with exp(θ) from a sympy matrix inverse,
``sympy.diff``, ``sympy.simplify`` of each difference) is timed on the 2x2 and 3x2 rational
cases, in a subprocess with a timeout.

Usage::

    python3 benchmarks/bench_symbolic.py [--repeats 5] [--baseline] [--baseline-timeout 300]

Prints median, min and max wall time of each case (fresh random points each repeat), the
method used and the identity test's error bound, and the machine's load average.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import sympy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mdpgrad.symbolic import (
    MDP,
    ProofResult,
    TabularSoftmax,
    general_mdp,
    prove_baseline_identity,
    prove_performance_difference,
    prove_policy_gradient_theorem,
    prove_recursion_form,
)

TARGETS = {"2x2 fully symbolic": 3.0, "3x2 fully symbolic": 10.0, "4x2 fully symbolic": 10.0,
           "3x2 rational": 3.0, "4x2 rational": 30.0}


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
    return {"2x2 fully symbolic": general_mdp(2, 2), "3x2 fully symbolic": general_mdp(3, 2),
            "4x2 fully symbolic": general_mdp(4, 2), "5x2 fully symbolic": general_mdp(5, 2),
            "3x2 rational": rational_mdp(3, 2, 1), "4x2 rational": rational_mdp(4, 2, 2)}


def timed(fn: Callable[..., ProofResult], *args: Any, **kwargs: Any) -> tuple[float, ProofResult]:
    t = time.perf_counter()
    res = fn(*args, **kwargs)
    return time.perf_counter() - t, res


def method_text(res: ProofResult) -> str:
    if res.method == "exact":
        return f"exact, {res.status}"
    if res.status == "probable":
        err = res.error_probability or Fraction(0)
        return (f"identity test, {res.status}: deg <= {res.degree_bound}, {res.n_points} points, "
                f"Pr[false] <= 2^{math.log2(err):.1f}")
    return f"identity test, {res.status}"


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


def row(name: str, times: list[float], res: ProofResult, target: float | None, extra: str = "") -> None:
    med = statistics.median(times)
    flag = "" if target is None else ("ok" if med <= target else "OVER")
    tgt = "-" if target is None else f"{target:.0f}s"
    print(f"{name:42s} {med:9.3f} {min(times):8.3f} {max(times):8.3f} {tgt:>7s} {flag:>4s}  "
          f"{method_text(res)}{extra}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--baseline", action="store_true")
    ap.add_argument("--baseline-timeout", type=float, default=300.0)
    args = ap.parse_args()
    print(f"sympy {sympy.__version__}, python {sys.version.split()[0]}, {mp.cpu_count()} cores, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'case':42s} {'median(s)':>9s} {'min':>8s} {'max':>8s} {'target':>7s}        method")
    all_cases = cases()
    for name, mdp in all_cases.items():
        pol = TabularSoftmax(mdp.n_states, mdp.n_actions)
        runs = [timed(prove_policy_gradient_theorem, mdp, pol) for _ in range(args.repeats)]
        if not all(r.holds for _, r in runs):
            raise SystemExit(f"unexpected: {runs[0][1]}")
        extra = ""
        if args.baseline and name in ("2x2 fully symbolic", "3x2 rational"):
            b = baseline(name, args.baseline_timeout)
            med = statistics.median(t for t, _ in runs)
            extra = (f"; plain simplify > {args.baseline_timeout:.0f} s" if b is None else
                     f"; plain simplify {b:.2f} s ({b / med:.0f}x)")
        row(f"PG theorem {name}", [t for t, _ in runs], runs[0][1], TARGETS.get(name), extra)
    others = {"recursion form": prove_recursion_form, "baseline identity": prove_baseline_identity,
              "performance difference": prove_performance_difference}
    for n_states in (3, 4):
        mdp, pol = general_mdp(n_states, 2), TabularSoftmax(n_states, 2)
        for label, prove in others.items():
            runs = [timed(prove, mdp, pol) for _ in range(args.repeats)]
            if not all(r.holds for _, r in runs):
                raise SystemExit(f"unexpected: {runs[0][1]}")
            row(f"{label} {n_states}x2 fully symbolic", [t for t, _ in runs], runs[0][1], None)
    print("\nwrong formula: visits d = eta / sum(eta) (the 1/(1-gamma) factor dropped)")
    for n_states in (3, 4):
        mdp, pol = general_mdp(n_states, 2), TabularSoftmax(n_states, 2)
        runs = [timed(prove_policy_gradient_theorem, mdp, pol, visits="normalised", rng=random.Random(i))
                for i in range(args.repeats)]
        res = runs[0][1]
        if any(r.status != "counterexample" for _, r in runs):
            raise SystemExit(f"unexpected: {res}")
        row(f"wrong PG formula {n_states}x2", [t for t, _ in runs], res, None)
        pt = res.point or {}
        print(f"    {res.label}: lhs - rhs = {res.value} (lhs {res.lhs}, rhs {res.rhs})")
        gamma, theta00 = pt[sympy.Symbol("gamma")], pt[sympy.Symbol("theta00", real=True)]
        print(f"    at gamma = {gamma}, theta00 = {theta00}, ... ({len(pt)} exact values)")


if __name__ == "__main__":
    main()
