"""Proofs, not samples: identities of policy-gradient theory decided exactly or with a stated error.

Each function builds both sides of an identity for a given symbolic MDP and policy as rational
functions of the model's symbols and z = exp θ, and decides whether their difference is zero.
The answer is a :class:`ProofResult`, by one of two routes (``method``):

* **exact** (``"proved"``): the difference is expanded in the fraction field ℚ(symbols, z), where
  a reduced quotient is zero exactly when its numerator is the zero polynomial.  Its cost grows
  exponentially with the number of symbols, so ``method="auto"`` uses it only up to
  ``max_symbols`` model symbols (default 16) and, if given, ``exact_budget`` seconds.
* **identity test** (``"probable"``, tabular softmax policies): the polynomial identity test of
  Schwartz (1980), Zippel (1979) and DeMillo & Lipton (1978).  Both sides are evaluated exactly,
  in rationals, with their first derivatives in θ carried along (forward mode), at t independent
  points drawn uniformly from Tⁿ, T = {1, …, 2^b} (``sample_bits`` b = 64), the symbols of P, ρ₀
  and γ mapped into a box inside the model's domain (below).  The identity is
  accepted when every scalar identity holds at every point; the result says "probable" and gives
  ``error_probability`` = (δ/(|T| − δ))^t ≤ 2^-100 (``error_bits``), δ the degree bound below.

A non-zero difference, by either route, is a certainty: the result is ``"counterexample"`` with
an exact point (θ as the log of a rational) and the exact values of both sides there, never a
bare False.  The point lies inside the model's domain (``in_domain``: the model with these values
passes validation, so rows of P and ρ₀ are probability vectors, 0 ≤ γ < 1 or γ = 1 with terminal
states, θ real); a point outside is reported only when no draw inside refutes the identity, and
``domain`` then says that the identity may hold on the whole domain.

Identities (Sutton et al. 2000; Sutton & Barto 2018, §13.2; Kakade & Langford 2002, Lemma 6.1)::

    theorem           ∂J/∂θₖ = Σ_{s,a} η(s) π(a|s) adv(s,a) ∂log π(a|s)/∂θₖ
    recursion         ∇v(s) = Σ_a ∇π(a|s) q(s,a) + γ Σ_s' P^π(s,s') ∇v(s')
    baseline          Σ_a π(a|s) ∇log π(a|s) b(s) = 0 for every b
    performance diff  J(θ) − J(θ₀) = Σ_s η_θ(s) Σ_a π_θ(a|s) adv_θ₀(s,a)

where ∂J/∂θₖ on the left is the derivative of the closed form J(θ) (in ℚ(symbols, z), or by
forward-mode differentiation of the same exact linear solve in the identity test).

Points inside the model's domain
--------------------------------
The simplex constraints are eliminated by the parametrisation: the last entry of each row of
P (and of ρ₀) is 1 minus the others, so the remaining symbols are free.  Each scalar identity is
then lhs − rhs = N/D with N, D polynomials in the free symbols and z.  The test points are drawn
inside the domain: :func:`~mdpgrad.symbolic._domain.certify_box` proves by interval bounds that
every point of a box (0, h)ⁿ in the symbols of P, ρ₀ and γ is a valid model (h = 1/2 for
``general_mdp(2 or 3, A)``, 1/4 for 4 or 5 states), and those symbols are drawn as
x = h·k/(2^b + 1) with k uniform on T; z and the other symbols (rewards, baselines) are k itself,
so z > 0.  The substitution x ↦ k is affine and invertible: N(x) ≢ 0 of total degree δ becomes a
non-zero polynomial in k of the same total degree, so the bounds below hold unchanged.  Points
where a denominator vanishes are redrawn.  Without a certified box (a model whose domain has
empty interior, or non-polynomial entries) the symbols are k itself and the result says the
points were not restricted to the domain: the verdict is then about N ≡ 0, which on a domain with
non-empty interior is the same statement (a polynomial vanishing on a non-empty open set is zero).

The degree bound δ (tabular softmax, model entries polynomials of total degree ≤ e ≥ 1)
---------------------------------------------------------------------------------------
With z = exp θ, π(a|s) = z_sa / Z_s, Z_s = Σ_b z_sb (degree 1).  Clear the row denominators:
M̃ = diag(Z)(I − γP^π) has entries Z_s[s = t] − γ Σ_a z_sa P(t|s,a) of degree ≤ m := 2e + 1,
and r̃_s = Σ_a z_sa r(s,a) has degree ≤ e + 1.  By Cramer's rule, with Δ = det M̃ (deg ≤ mS)::

    v_s  = V_s / Δ,    V_s: column s of M̃ replaced by r̃          deg ≤ m(S−1) + e + 1
    η_s  = E_s / Δ,    E_s = Σ_t ρ₀(t) adj(M̃)_ts Z_s               deg ≤ m(S−1) + e + 1
    J    = Σ_s ρ₀(s) V_s / Δ                                         deg ≤ m(S−1) + 2e + 1
    q_sa = (r(s,a) Δ + γ Σ_t P(t|s,a) V_t) / Δ, adv = q − v          deg ≤ mS + e

∂/∂θₖ = zₖ ∂/∂zₖ maps N/Δ to zₖ(N'Δ − NΔ')/Δ², degree ≤ deg N + mS over Δ²; and
π(a|s) ∂log π(a|s)/∂θₖ = ∂π(a|s)/∂θₖ = zₖ(Z_s[k = sa] − z_sa)/Z_s², zero unless k is in row s.
Over the common denominator of each scalar identity:

* theorem (w = η, adv or q) and baseline (b of degree ≤ e): D = Δ² Z_s², and N is
  zₖ-derivative of J times Z_s² (deg m(S−1) + 2e + 1 + mS + 2) minus Σ_a E_s (adv) (Z_s[·] − z)
  z (deg m(S−1) + e + 1 + mS + e + 2); both give **δ = m(2S − 1) + 2e + 3**;
* theorem with w = d = η / Σ_t η_t (the 1/(1−γ) dropped): D = Δ² Z_s² Σ_t E_t, and
  **δ = m(3S − 2) + 4e + 4**;
* recursion: D = Δ² Z_s², N from γ P^π ∇v (deg e + 1 + e + m(2S−1) + e + 1, times Z_s):
  **δ = m(2S − 1) + 3e + 3**;
* performance difference: D = Δ Δ₀ Π_s Z_s, **δ = m(2S − 1) + 2e + S + 1**.

δ bounds the degrees of both N and D (terminal states, numeric entries and cancellation only
lower them).  For ``general_mdp(S, 2)`` (e = 1) the theorem has δ = 6S + 2: 14, 20, 26 at
S = 2, 3, 4.  The tests compare δ with the degrees of the exact 2-state expansion.

Error probability.  For N ≢ 0 of degree ≤ δ, Pr[N(x) = 0] ≤ δ/|T| for x uniform on Tⁿ
(Schwartz 1980, Lemma 1); conditioned on D(x) ≠ 0 (probability ≥ 1 − δ/|T|) this is at most
δ/(|T| − δ), and t independent points all accept with probability ≤ (δ/(|T| − δ))^t.  With
|T| = 2^64 and δ ≤ 2^10, t = 2 points give ≤ 2^-108.  The bound is over the random draw:
``rng=None`` (the default) draws from the operating system; a fixed seed makes the run
reproducible, and the bound then speaks of a seed chosen at random.

Sizes, times and routes (``prove_policy_gradient_theorem``, ``general_mdp(S, 2)`` with every
entry a symbol, tabular softmax, ``method="auto"``; median of 5 on 2 shared cores, load ≈ 3,
``benchmarks/bench_symbolic.py``)::

    model   symbols  route                       time          verdict / error bound
    2 × 2     10     exact                       0.6–0.8 s     proved
    3 × 2     21     identity test, δ = 20, t=2  0.08–0.09 s   probable, Pr[false] ≤ 2^-119
    4 × 2     36     identity test, δ = 26, t=2  0.16–0.22 s   probable, Pr[false] ≤ 2^-118
    5 × 2     55     identity test, δ = 32, t=2  0.4–0.7 s     probable, Pr[false] ≤ 2^-118
    6 × 2     78     identity test, δ = 38, t=2  2.1 s (1 run) probable
    8 × 2    136     identity test, δ = 50, t=2  5.5 s (1 run) probable
    3 × 2     21     exact (max_symbols=None)    > 120 s: ``exact_budget=120`` switched to the test

The recursion form, the baseline identity and the performance difference take 0.05–0.3 s at
3 × 2 and 4 × 2; the wrong formula (visits d) is refuted with an exact in-domain
counterexample in 0.12 s (3 × 2) and 0.27 s (4 × 2).  Drawing the test points inside the
model's domain (rational coordinates h·k/(2^64 + 1) instead of integers k) made the identity
test 20–40 % slower (4 × 2 theorem 0.30 → 0.36 s, 5 × 2 0.64 → 0.85 s, baseline identity 4 × 2
0.35 → 0.50 s; medians of 3 at load ≈ 5, same machine, before and after).

Cheap first check of the exact route (``precheck=True``): the identity is first decided with
the model's symbols replaced by a random exact point and only θ symbolic; a non-zero difference
there is already a counterexample to the general statement.

Identities checked by the tests: the theorem and its companions are proved exactly on the
general 2-state model and accepted by the identity test at 3 states with the stated error bound;
the degree bounds exceed the degrees of the exact 2-state expansion; wrong formulas get
counterexamples whose two sides an independent exact computation reproduces.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np
import sympy

from .._display import compact_repr
from .._errors import ValidationError
from .._progress import Progress, check_progress, reporter
from .._validation import check_integer, check_real
from ._algebra import (
    MAX_ATTEMPTS,
    RationalSpace,
    as_expression,
    find_nonzero_point,
    printable,
    show,
    small_positive_sampler,
    space_for,
)
from ._domain import INSIDE, accept_for, certify_box, constrained_symbols, describe, in_domain
from ._evaluation import evaluate_fractions
from ._gradients import PolicyModel, lift_policies, undiscounted_weights
from ._model import MDP, exact, exact_matrix, validate_symbolic_mdp
from ._policies import Direct, RationalPolicy, TabularSoftmax, check_policy_actions, validate_symbolic_policy
from ._timelimit import TimeLimitExceeded, run_within

__all__ = [
    "ProofResult",
    "error_probability",
    "points_needed",
    "proof_degree_bound",
    "prove_baseline_identity",
    "prove_equal",
    "prove_performance_difference",
    "prove_policy_gradient_theorem",
    "prove_recursion_form",
]

#: State weights (visits) accepted by :func:`prove_policy_gradient_theorem`.
VISITS = {
    "discounted": "η(s), the discounted visits (the theorem)",
    "normalised": "d(s) = η(s)/Σ η, the 1/(1−γ) factor dropped",
    "undiscounted": "η̃(s), undiscounted visits: γᵗ dropped (episodic)",
    "stationary": "d_π(s)·Σ η, the stationary distribution: γᵗ dropped (continuing)",
}


@dataclass(frozen=True)
class ProofResult:
    """The outcome of a proof attempt.

    Attributes
    ----------
    statement : str
        The identity, in Unicode.
    status : str
        ``"proved"`` (exact: holds for all values of the symbols), ``"probable"`` (the
        identity test accepted it: it is false with probability at most ``error_probability``
        over the random points drawn) or ``"counterexample"`` (certainly false).
    n_identities : int
        Number of scalar identities decided (one per parameter and component).
    label : str or None
        Which scalar identity fails (e.g. ``"∂/∂theta01"``).
    point : dict or None
        Exact values of every symbol where it fails (θ as log of a rational).
    value : sympy.Rational or None
        lhs − rhs at the point (non-zero).
    lhs, rhs : sympy.Rational or None
        The two sides at the point.
    method : str
        ``"exact"`` (expansion in the fraction field) or ``"identity test"`` (Schwartz–Zippel).
    error_probability : fractions.Fraction or None
        Identity test: the bound (δ/(2^b − δ))^t on accepting a false identity; 0 for a
        counterexample (exact either way); None for the exact route.
    degree_bound : int or None
        δ, the total-degree bound used by the identity test.
    n_points : int or None
        t, the number of random points evaluated by an accepting identity test.
    in_domain : bool or None
        Counterexample: True when the point is inside the model's domain (the model with these
        values passes validation: rows of P and ρ₀ probability vectors, 0 ≤ γ < 1 or γ = 1 with
        terminal states, θ real), False when it lies outside (see ``domain``), None when no model
        was given (:func:`prove_equal` without ``mdp``).
    domain : str
        Where the point, or the identity test's points, lie, in words.
    """

    statement: str
    status: str
    n_identities: int
    label: str | None = None
    point: dict | None = field(default=None)
    value: sympy.Expr | None = None
    lhs: sympy.Expr | None = None
    rhs: sympy.Expr | None = None
    method: str = "exact"
    error_probability: Fraction | None = None
    degree_bound: int | None = None
    n_points: int | None = None
    in_domain: bool | None = None
    domain: str = ""

    def __repr__(self) -> str:
        return compact_repr(self, text=show)

    @property
    def holds(self) -> bool:
        """Not refuted: proved exactly, or accepted by the identity test (see ``certain``)."""
        return self.status in ("proved", "probable")

    @property
    def certain(self) -> bool:
        """The verdict is exact: "proved" or "counterexample" (not "probable")."""
        return self.status != "probable"

    def __bool__(self) -> bool:
        return self.holds

    def __str__(self) -> str:
        """One line for a verdict that holds, two for a counterexample; the verdict comes first."""
        n = f"{self.n_identities} identit{'y' if self.n_identities == 1 else 'ies'}"
        if self.status == "proved":
            return f"ProofResult: proved exactly — {self.statement} ({n}, for all values of the symbols)"
        if self.status == "probable":
            import math

            bits = -math.log2(self.error_probability) if self.error_probability else math.inf
            return (f"ProofResult: probably holds (probabilistic identity test, NOT a proof) — "
                    f"{self.statement} ({n}; {self.n_points} random points {self.domain or 'drawn'}, "
                    f"total degree ≤ {self.degree_bound}; false with probability ≤ 2^-{bits:.1f})")
        pt = ", ".join(f"{show(k)} = {show(v)}" for k, v in (self.point or {}).items()) or "every point"
        where = self.domain or "at a point of the symbols"
        return (f"ProofResult: FALSE — counterexample {where} at {pt}\n"
                f"  {self.label}: lhs = {show(self.lhs)}, rhs = {show(self.rhs)}, "
                f"lhs − rhs = {show(self.value)} (statement: {self.statement})")

    def describe(self) -> str:
        """The verdict explained: what was decided, how, how sure, and what to do next."""
        n = f"{self.n_identities} scalar identit{'y' if self.n_identities == 1 else 'ies'}"
        if self.status == "proved":
            return "\n".join([f"ProofResult: proved exactly — {self.statement}",
                              f"  decided: {n}, each expanded in the field of rational functions of the "
                              "symbols: the difference of the two sides is the zero function",
                              "  sure: certain (exact arithmetic, no sampling, no tolerance)"])
        if self.status == "probable":
            return "\n".join([f"ProofResult: probably holds — {self.statement}",
                              f"  decided: {n} by the Schwartz–Zippel identity test: both sides agreed "
                              f"exactly at {self.n_points} random points {self.domain or 'drawn'}",
                              f"  sure: a false identity of total degree ≤ {self.degree_bound} passes with "
                              f"probability ≤ {float(self.error_probability or 0):.3g}; NOT a proof",
                              "  next: for a proof, method='exact' on a model with fewer symbols "
                              "(substitute some with mdp.subs)"])
        pt = ", ".join(f"{show(k)} = {show(v)}" for k, v in (self.point or {}).items()) or "every point"
        inside = {True: "the point lies inside the model's domain: false for a valid model",
                  False: "the point lies OUTSIDE the model's domain: false as algebra; no valid model "
                         "refuted it",
                  None: "no model was given, so the domain was not checked"}[self.in_domain]
        return "\n".join([f"ProofResult: FALSE — {self.statement}",
                          f"  counterexample: {self.label} at {pt}",
                          f"  lhs = {show(self.lhs)}, rhs = {show(self.rhs)}, lhs − rhs = {show(self.value)}",
                          f"  sure: certain (exact rational arithmetic); {inside}",
                          "  next: substitute the point into both sides to see which term differs"])

    def latex(self) -> str:
        """LaTeX of the verdict: the point and the non-zero difference, or 'proved' / 'probable'."""
        if self.status == "proved":
            return r"\text{proved: " + self.statement + "}"
        if self.status == "probable":
            err = self.error_probability or Fraction(0)
            return (r"\text{probably holds: " + self.statement + r"}\ (\Pr[\text{false}] \le "
                    + sympy.latex(printable(sympy.Rational(err.numerator, err.denominator))) + ")")
        pt = ", ".join(f"{sympy.latex(printable(k))} = {sympy.latex(printable(v))}"
                       for k, v in (self.point or {}).items())
        value = sympy.latex(printable(self.value))
        return rf"\text{{{self.label}}}:\ \mathrm{{lhs}} - \mathrm{{rhs}} = {value}\ \text{{at}}\ {pt}"


def decide(space: RationalSpace, items: Sequence[tuple[str, Any, Any]], statement: str, *,
           accept: Callable[[dict], bool] | None = None, rng: int | random.Random = 0) -> ProofResult:
    """Decide every (label, lhs, rhs) of field elements; the first non-zero difference gets a point.

    With ``accept`` (the model's domain) the point is drawn where ``accept`` holds; only when no
    such draw refutes the identity is a point outside returned, and the result says so.
    """
    for label, lhs, rhs in items:
        diff = lhs - rhs
        if diff != 0:
            cex = find_nonzero_point(space, diff, guards=[lhs, rhs], accept=accept, rng=rng, fallback=True)
            lv, rv = space.evaluate_defined(lhs, cex.raw), space.evaluate_defined(rhs, cex.raw)
            return ProofResult(statement, "counterexample", len(items), label, cex.point, cex.value,
                               sympy.Rational(lv.numerator, lv.denominator),
                               sympy.Rational(rv.numerator, rv.denominator),
                               in_domain=cex.in_domain,
                               domain=describe(cex.in_domain, cex.domain_zeros, MAX_ATTEMPTS))
    return ProofResult(statement, "proved", len(items))


#: Above this many model symbols, ``method="auto"`` leaves the exact expansion for the identity
#: test (see ``max_symbols``): the fully symbolic 2-state, 2-action model has 10 symbols and proves
#: exactly in 0.3 s; the 3-state one has 21 and its expansion in the fraction field ran past
#: 15 minutes.
MAX_PROOF_SYMBOLS = 16
#: The identity test accepts with false-acceptance probability at most 2^-ERROR_BITS.
ERROR_BITS = 100
#: Each coordinate of an identity-test point is drawn uniformly from {1, ..., 2^SAMPLE_BITS}.
SAMPLE_BITS = 64
#: Redraws allowed when a denominator vanishes at a drawn point (probability ≤ δ/2^64 each).
MAX_REDRAWS = 50
#: Attempts at moving a refuted identity's witness into the model's domain (probabilities in
#: [0, 1], rows summing to 1, 0 < γ < 1, θ real).
DOMAIN_ATTEMPTS = 200
METHODS = ("auto", "exact", "identity test")


# -- the identity test: exact evaluation with first derivatives at a point ------------------------


class _Undefined(ArithmeticError):
    """A denominator vanishes at the drawn point."""


class _Jet:
    """A rational number with its exact first derivatives in z₁, …, zₙ (``d`` None: not tracked)."""

    __slots__ = ("d", "v")

    def __init__(self, v: Fraction, d: tuple | None) -> None:
        self.v = v
        self.d = d

    @staticmethod
    def _of(x: Any) -> _Jet:
        return x if isinstance(x, _Jet) else _Jet(Fraction(x), ())  # () : a constant, zero derivative

    def _combine(self, other: _Jet, fa: Fraction, fb: Fraction) -> tuple | None:
        """fa·self' + fb·other'."""
        a, b = self.d, other.d
        if a is None or b is None:
            return None
        if not a:
            return tuple(fb * y for y in b)
        if not b:
            return tuple(fa * x for x in a)
        return tuple(fa * x + fb * y for x, y in zip(a, b, strict=True))

    def __add__(self, other: Any) -> _Jet:
        o = self._of(other)
        return _Jet(self.v + o.v, self._combine(o, Fraction(1), Fraction(1)))

    __radd__ = __add__

    def __neg__(self) -> _Jet:
        return _Jet(-self.v, None if self.d is None else tuple(-x for x in self.d))

    def __sub__(self, other: Any) -> _Jet:
        return self + (-self._of(other))

    def __rsub__(self, other: Any) -> _Jet:
        return self._of(other) - self

    def __mul__(self, other: Any) -> _Jet:
        o = self._of(other)
        # (ab)' = b a' + a b'
        return _Jet(self.v * o.v, self._combine(o, o.v, self.v))

    __rmul__ = __mul__

    def inverse(self) -> _Jet:
        if self.v == 0:
            raise _Undefined
        inv = 1 / self.v
        return _Jet(inv, None if self.d is None else tuple(-x * inv * inv for x in self.d))

    def __truediv__(self, other: Any) -> _Jet:
        return self * self._of(other).inverse()

    def __rtruediv__(self, other: Any) -> _Jet:
        return self._of(other) * self.inverse()


def _solve_jets(M: list, b: list) -> list:
    """x with M x = b by Gauss–Jordan elimination on jets (a pivot must be non-zero at the point)."""
    n = len(M)
    rows = [list(M[i]) + [b[i]] for i in range(n)]
    for c in range(n):
        piv = next((i for i in range(c, n) if rows[i][c].v != 0), None)
        if piv is None:
            raise _Undefined
        rows[c], rows[piv] = rows[piv], rows[c]
        inv = rows[c][c].inverse()
        rows[c] = [x * inv for x in rows[c]]
        for i in range(n):
            if i != c:
                f = rows[i][c]
                rows[i] = [x - f * y for x, y in zip(rows[i], rows[c], strict=True)]
    return [rows[i][n] for i in range(n)]


def _fraction(e: sympy.Expr) -> Fraction:
    if not e.is_Rational:
        raise _Undefined  # e.g. a denominator of the model's entries vanished
    return Fraction(int(e.p), int(e.q))


class _ExactCtx:
    """The field ℚ(symbols, z): the arithmetic of the exact proofs."""

    def __init__(self, pm: PolicyModel) -> None:
        self.pm = pm
        K = pm.space.field
        self.zero, self.one = K.zero, K.one
        self.S, self.A, self.terminal, self.gamma = pm.F.S, pm.F.A, pm.F.terminal, pm.F.gamma
        self.pis = pm.pis
        self.n = len(pm.policies[0].variables)

    def evaluate(self, which: int = 0) -> dict:
        return evaluate_fractions(self.pm.F, self.pm.pis[which])

    def grad(self, f: Any) -> list:
        return self.pm.grad(f)

    def lift(self, e: sympy.Expr) -> Any:
        return self.pm.space(e)

    def weights(self, ev: dict, kind: str) -> list:
        return undiscounted_weights(self.pm, ev, kind)


class _JetCtx:
    """The same quantities as exact rationals, with derivatives in θ of the first policy, at a point.

    ``point`` maps every model symbol, extra symbol and z = exp θ of every policy to a Fraction.
    """

    def __init__(self, mdp: MDP, rps: Sequence[RationalPolicy], point: Mapping[sympy.Symbol, Fraction],
                 ) -> None:
        S, A = mdp.n_states, mdp.n_actions
        self.S, self.A, self.terminal = S, A, mdp.terminal
        self.n = n = len(rps[0].variables)
        zero_d = (Fraction(0),) * n
        self.zero, self.one = _Jet(Fraction(0), zero_d), _Jet(Fraction(1), zero_d)
        self._sub = {g: sympy.Rational(v.numerator, v.denominator) for g, v in point.items()}
        self._z = [point[z] for z in rps[0].variables]
        self.P = [[[self.lift(mdp.P[s, a, t]) for t in range(S)] for a in range(A)] for s in range(S)]
        self.r = [[self.lift(mdp.r[s, a]) for a in range(A)] for s in range(S)]
        self.gamma = self.lift(mdp.gamma)
        self.rho0 = [self.lift(mdp.rho0[s]) for s in range(S)]
        pis = []
        for which, rp in enumerate(rps):
            zs = [_Jet(point[z], tuple(Fraction(int(i == k)) for i in range(n)) if which == 0 else zero_d)
                  for k, z in enumerate(rp.variables)]
            pis.append([[zs[s * A + a] / sum(zs[s * A:(s + 1) * A], self.zero) for a in range(A)]
                        for s in range(S)])
        self.pis = tuple(pis)

    def lift(self, e: Any) -> _Jet:
        return _Jet(_fraction(as_expression(e).xreplace(self._sub)), (Fraction(0),) * self.n)

    def grad(self, f: _Jet) -> list:
        if f.d is None:  # pragma: no cover - the builders differentiate once
            raise RuntimeError("second derivatives are not tracked")
        return [_Jet(self._z[k] * f.d[k], None) for k in range(self.n)]  # ∂/∂θ = z ∂/∂z

    def evaluate(self, which: int = 0) -> dict:
        """v, q, adv, η, J and P^π at the point: the formulas of ``evaluate_fractions``."""
        S, A, zero = self.S, self.A, self.zero
        pi, P, g = self.pis[which], self.P, self.gamma
        keep = [not t for t in self.terminal]
        P_pi = [[sum((pi[s][a] * P[s][a][t] for a in range(A)), zero) for t in range(S)] for s in range(S)]
        r_pi = [sum((pi[s][a] * self.r[s][a] for a in range(A)), zero) for s in range(S)]
        M = [[(self.one if s == t else zero) - (g * P_pi[s][t] if keep[s] and keep[t] else zero)
              for t in range(S)] for s in range(S)]
        v = _solve_jets(M, [x if keep[s] else zero for s, x in enumerate(r_pi)])
        Mt = [[M[t][s] for t in range(S)] for s in range(S)]
        eta = _solve_jets(Mt, [x if keep[s] else zero for s, x in enumerate(self.rho0)])
        v = [x if keep[s] else zero for s, x in enumerate(v)]
        eta = [x if keep[s] else zero for s, x in enumerate(eta)]
        q = [[zero if self.terminal[s] else
              self.r[s][a] + g * sum((P[s][a][t] * v[t] for t in range(S)), zero)
              for a in range(A)] for s in range(S)]
        adv = [[q[s][a] - v[s] for a in range(A)] for s in range(S)]
        J = sum((self.rho0[s] * v[s] for s in range(S)), zero)
        return dict(P_pi=P_pi, r_pi=r_pi, v=v, q=q, advantage=adv, eta=eta, J=J, pi=pi)

    def weights(self, ev: dict, kind: str) -> list:  # pragma: no cover - routed to the exact proof
        raise _Undefined


# -- the identities, written once for both arithmetics --------------------------------------------


def _labels(rp: RationalPolicy) -> list[str]:
    return [f"∂/∂{t}" for t in rp.params]


def _score(ctx: Any, pi: list, S: int, A: int) -> dict[tuple[int, int], list]:
    """∇log π(a|s) = ∇π(a|s) / π(a|s) for every pair whose π is not identically 0."""
    return {(s, a): [g / pi[s][a] for g in ctx.grad(pi[s][a])] for s in range(S) for a in range(A)
            if pi[s][a] != ctx.zero}


def _theorem_items(ctx: Any, labels: list[str], visits: str, values: str) -> tuple[list, str]:
    ev = ctx.evaluate()
    eta, zero = ev["eta"], ctx.zero
    if visits == "discounted":
        w = eta
    elif visits == "normalised":
        total = sum(eta, zero)
        w = [e / total for e in eta]
    elif visits == "undiscounted":
        w = ctx.weights(ev, "undiscounted")
    else:
        total = sum(eta, zero)
        w = [total * d for d in ctx.weights(ev, "stationary")]
    pi = ctx.pis[0]
    val = ev["advantage"] if values == "advantage" else ev["q"]
    S, A = ctx.S, ctx.A
    # π · adv · ∇log π with ∇log π = ∇π / π, kept in that form; over the actions with π ≠ 0 (an
    # unavailable action has π = 0 identically and no log π: its term is 0)
    glog = _score(ctx, pi, S, A)
    lhs = ctx.grad(ev["J"])
    items = []
    for k, label in enumerate(labels):
        rhs = zero
        for s in range(S):
            rhs += w[s] * sum((pi[s][a] * val[s][a] * glog[s, a][k] for a in range(A) if (s, a) in glog),
                              zero)
        items.append((label, lhs[k], rhs))
    name = {"advantage": "adv", "q": "q"}[values]
    wname = {"discounted": "η(s)", "normalised": "d(s)", "undiscounted": "η̃(s)",
             "stationary": "d_π(s)/(1−γ)"}[visits]
    return items, f"∇J = Σ_s,a {wname} π(a|s) {name}(s,a) ∇log π(a|s)"


def _recursion_items(ctx: Any, labels: list[str]) -> tuple[list, str]:
    ev = ctx.evaluate()
    S, A, zero = ctx.S, ctx.A, ctx.zero
    pi, q, P_pi, gamma = ctx.pis[0], ev["q"], ev["P_pi"], ctx.gamma
    dv = [ctx.grad(ev["v"][s]) for s in range(S)]
    dJ = ctx.grad(ev["J"])
    dpi = [[ctx.grad(pi[s][a]) for a in range(A)] for s in range(S)]
    g = [[sum((dpi[s][a][k] * q[s][a] for a in range(A)), zero) for k in range(len(dJ))] for s in range(S)]
    items = []
    for k, label in enumerate(labels):
        for s in range(S):
            if ctx.terminal[s]:
                continue
            rhs = g[s][k] + gamma * sum((P_pi[s][t] * dv[t][k] for t in range(S) if not ctx.terminal[t]),
                                        zero)
            items.append((f"{label} v({s})", dv[s][k], rhs))
        items.append((f"{label} J", dJ[k], sum((ev["eta"][s] * g[s][k] for s in range(S)), zero)))
    return items, "∇v = Σ_a ∇π q + γ P^π ∇v and ∇J = ρ₀ᵀ(I − γP^π)⁻¹ Σ_a ∇π q"


def _baseline_items(ctx: Any, labels: list[str], b_exprs: list) -> tuple[list, str]:
    ev = ctx.evaluate()
    S, A, zero = ctx.S, ctx.A, ctx.zero
    b = [ctx.lift(e) for e in b_exprs]
    pi, q, eta = ctx.pis[0], ev["q"], ev["eta"]
    glog = _score(ctx, pi, S, A)
    dJ = ctx.grad(ev["J"])
    items = []
    for k, label in enumerate(labels):
        for s in range(S):
            lhs = sum((pi[s][a] * glog[s, a][k] * b[s] for a in range(A) if (s, a) in glog), zero)
            items.append((f"{label} state {s}", lhs, zero))
        rhs = sum((eta[s] * pi[s][a] * (q[s][a] - b[s]) * glog[s, a][k] for s in range(S) for a in range(A)
                   if (s, a) in glog), zero)
        items.append((f"{label} J", dJ[k], rhs))
    return items, "Σ_a π ∇log π b(s) = 0 and ∇J = Σ η π (q − b) ∇log π"


def _difference_items(ctx: Any) -> tuple[list, str]:
    ev, ev0 = ctx.evaluate(0), ctx.evaluate(1)
    S, A = ctx.S, ctx.A
    rhs = sum((ev["eta"][s] * ctx.pis[0][s][a] * ev0["advantage"][s][a] for s in range(S) for a in range(A)),
              ctx.zero)
    return [("J(θ) − J(θ₀)", ev["J"] - ev0["J"], rhs)], "J(θ) − J(θ₀) = Σ_s η_θ(s) Σ_a π_θ(a|s) adv_θ₀(s,a)"


# -- degree bounds and the error probability ------------------------------------------------------


def entry_degree(exprs: Sequence[Any], symbols: Sequence[sympy.Symbol]) -> int | None:
    """Largest total degree of the entries as polynomials in ``symbols`` (at least 1); None if one
    of them is not a polynomial (the degree bound below then does not apply)."""
    e = 1
    syms = list(symbols)
    for x in exprs:
        x = as_expression(x)
        if not x.free_symbols:
            continue
        if not x.is_polynomial(*syms):
            return None
        e = max(e, int(sympy.Poly(x, *syms).total_degree()))
    return e


def proof_degree_bound(identity: str, n_states: int, entry_degree: int = 1, *,
                       visits: str = "discounted") -> int:
    """δ: an upper bound on the total degree of the cleared numerator N and denominator D of every
    scalar identity, for a tabular softmax policy (derivation in the module notes).

    With m = 2e + 1 and S states::

        theorem (visits η, adv or q), baseline   m(2S − 1) + 2e + 3
        theorem, visits d = η/Σ η                m(3S − 2) + 4e + 4
        recursion                                m(2S − 1) + 3e + 3
        performance difference                   m(2S − 1) + 2e + S + 1

    >>> proof_degree_bound("theorem", 2)
    14
    """
    S = check_integer(n_states, "n_states", min_value=1)
    e = check_integer(entry_degree, "entry_degree", min_value=1)
    m = 2 * e + 1
    if identity == "theorem" and visits == "normalised":
        return m * (3 * S - 2) + 4 * e + 4
    if identity in ("theorem", "baseline"):
        if visits != "discounted":
            raise ValidationError(f"no degree bound for visits={visits!r}", argument="visits", value=visits)
        return m * (2 * S - 1) + 2 * e + 3
    if identity == "recursion":
        return m * (2 * S - 1) + 3 * e + 3
    if identity == "performance difference":
        return m * (2 * S - 1) + 2 * e + S + 1
    raise ValidationError(f"identity is {identity!r}; expected 'theorem', 'baseline', 'recursion' or "
                          "'performance difference'", argument="identity", value=identity)


def error_probability(degree: int, set_size: int, n_points: int) -> Fraction:
    """(δ / (|T| − δ))^t: the chance that t independent points accept a false identity.

    One point drawn uniformly from Tⁿ is a root of a non-zero N of degree ≤ δ with probability
    ≤ δ/|T| (Schwartz 1980, Lemma 1; Zippel 1979; DeMillo & Lipton 1978); conditioning on
    D ≠ 0 there (points where a denominator vanishes are redrawn, probability ≤ δ/|T|) gives
    ≤ (δ/|T|) / (1 − δ/|T|) = δ/(|T| − δ).
    """
    if set_size <= degree:
        return Fraction(1)
    return Fraction(degree, set_size - degree) ** n_points


def points_needed(degree: int, set_size: int, error_bits: int = ERROR_BITS) -> int:
    """The least t with (δ/(|T| − δ))^t ≤ 2^-error_bits (exact rational comparison)."""
    degree = check_integer(degree, "degree", min_value=0)
    if set_size <= 2 * degree:
        raise ValidationError(f"the sample set has {set_size} elements, at most 2δ = {2 * degree}: "
                              "each point would accept a false identity with probability ≥ 1/2",
                              argument="sample_bits", value=set_size)
    bound = Fraction(1, 2 ** error_bits)
    t = 1
    while error_probability(degree, set_size, t) > bound:
        t += 1
    return t


# -- the two routes and the choice between them --------------------------------------------------


def _rng(source: int | random.Random | None, *, fresh: bool) -> random.Random:
    if isinstance(source, random.Random):
        return source
    if source is None:
        return random.SystemRandom() if fresh else random.Random(0)
    return random.Random(check_integer(source, "rng", min_value=0))


@dataclass(frozen=True)
class _Spec:
    """One identity: how to build it, its degree bound (None: identity test not available)."""

    mdp: MDP
    pairs: list
    build: Callable[[Any], tuple[list, str]]
    degree: int | None
    extra: tuple = ()


def _exact_route(spec: _Spec, mdp: MDP, rng: random.Random, progress: Progress = None) -> ProofResult:
    with reporter(progress, 3, f"exact proof ({len(mdp.free_symbols)} model symbols)") as rep:
        pm = lift_policies(mdp, spec.pairs, extra_symbols=list(spec.extra))
        rep.update(1, "model and policy in the fraction field")
        items, statement = spec.build(_ExactCtx(pm))
        rep.update(2, f"{len(items)} identities expanded")
        return decide(pm.space, items, statement, accept=accept_for(mdp), rng=rng)


def _jet_items(spec: _Spec, rps: list, point: dict) -> tuple[list, str]:
    return spec.build(_JetCtx(spec.mdp, rps, point))


def _report(rps: list, point: Mapping[sympy.Symbol, Fraction]) -> dict:
    exp_of = {z: th for rp in rps for z, th in rp.exp_of.items()}
    out = {}
    for g, v in point.items():
        val = sympy.Rational(v.numerator, v.denominator)
        out[exp_of[g] if g in exp_of else g] = sympy.log(val) if g in exp_of else val
    return out


def _first_difference(items: list) -> tuple[str, Fraction, Fraction] | None:
    for label, lhs, rhs in items:
        lv, rv = _Jet._of(lhs).v, _Jet._of(rhs).v
        if lv != rv:
            return label, lv, rv
    return None


def _identity_test(spec: _Spec, degree: int, rng: random.Random, error_bits: int,
                   sample_bits: int, progress: Progress = None) -> ProofResult:
    """Schwartz–Zippel: t uniform points of {1, …, 2^sample_bits}^n, evaluated exactly (deg ≤ ``degree``).

    When :func:`certify_box` finds a box (0, h)ⁿ inside the model's domain, the symbols of P, ρ₀
    and γ are drawn as h·k/(2^b + 1) (an affine image of the same grid: same degree, same bound)
    and every point is a valid model."""
    mdp = spec.mdp
    for pol, _ in spec.pairs:
        check_policy_actions(validate_symbolic_policy(pol), mdp.actions)
    rps = [validate_symbolic_policy(pol).rational(th) for pol, th in spec.pairs]
    model_syms = sorted(mdp.free_symbols, key=sympy.default_sort_key)
    zs = [z for rp in rps for z in rp.variables]
    gens = model_syms + [x for x in spec.extra if x not in mdp.free_symbols] + zs
    size = 2 ** check_integer(sample_bits, "sample_bits", min_value=1)
    t = points_needed(degree, size, check_integer(error_bits, "error_bits", min_value=1))
    h = certify_box(mdp)
    boxed = constrained_symbols(mdp) if h is not None else set()
    scale = {g: (h if g in boxed else None) for g in gens}
    where = (f"{INSIDE} (symbols of P, ρ₀, γ in (0, {h}))" if h is not None else
             "not restricted to the model's domain (no box inside it certified)")
    statement = ""
    rep = reporter(progress, t, f"identity test ({t} points)")
    for done in range(t):
        rep.update(done, "points agreed")
        for _ in range(MAX_REDRAWS):
            point = {}
            for g in gens:
                k, hg = Fraction(rng.randint(1, size)), scale[g]
                point[g] = k if hg is None else hg * k / (size + 1)
            try:
                items, statement = _jet_items(spec, rps, point)
            except _Undefined:
                continue
            break
        else:  # pragma: no cover - each redraw happens with probability ≤ δ/2^sample_bits
            raise RuntimeError("a denominator vanished at every drawn point")
        found = _first_difference(items)
        if found is not None:
            rep.finish(f"a difference at point {done + 1}")
            return _counterexample(spec, rps, gens, point, found, statement, len(items), rng)
    rep.finish()
    return ProofResult(statement, "probable", len(items), method="identity test",
                       error_probability=error_probability(degree, size, t), degree_bound=degree,
                       n_points=t, domain=where)


def _counterexample(spec: _Spec, rps: list, gens: list, point: dict, found: tuple, statement: str,
                    n_items: int, rng: random.Random) -> ProofResult:
    """The witness, replaced by a random domain point of small denominators when one also refutes."""
    mdp, S = spec.mdp, spec.mdp.n_states
    accept = accept_for(mdp)
    model_syms = mdp.free_symbols
    exp_vars = {z for rp in rps for z in rp.variables}
    domain_zeros = 0
    for attempt in range(DOMAIN_ATTEMPTS):
        width = 5 + 3 * attempt
        cand = {}
        for g in gens:
            if g in model_syms:
                cand[g] = Fraction(rng.randint(1, width), (S + 1) * (width + 1))
            elif g in exp_vars:
                k = rng.randint(1, width)
                cand[g] = Fraction(k, 2) if rng.random() < 0.5 else Fraction(2, k)
            else:
                cand[g] = Fraction(rng.randint(-width, width), rng.randint(1, width))
        if not accept(cand):
            continue
        try:
            items, _ = _jet_items(spec, rps, cand)
        except _Undefined:
            continue
        hit = _first_difference(items)
        if hit is not None:
            point, found = cand, hit
            break
        domain_zeros += 1
    label, lv, rv = found
    R = sympy.Rational
    inside = in_domain(mdp, point)
    where = describe(inside, domain_zeros, DOMAIN_ATTEMPTS)
    return ProofResult(statement, "counterexample", n_items, label, _report(rps, point),
                       R(lv.numerator, lv.denominator) - R(rv.numerator, rv.denominator),
                       R(lv.numerator, lv.denominator), R(rv.numerator, rv.denominator),
                       method="identity test", error_probability=Fraction(0), degree_bound=spec.degree,
                       in_domain=inside, domain=where)


def _prove(spec: _Spec, *, method: str, max_symbols: int | None, exact_budget: float | None,
           error_bits: int, sample_bits: int, precheck: bool,
           rng: int | random.Random | None, progress: Progress = None) -> ProofResult:
    mdp = spec.mdp
    progress = check_progress(progress)
    if method not in METHODS:
        raise ValidationError(f"method is {method!r}; expected one of {list(METHODS)}", argument="method",
                              value=method)
    if max_symbols is not None:
        max_symbols = check_integer(max_symbols, "max_symbols", min_value=0)
    if exact_budget is not None:
        exact_budget = check_real(exact_budget, "exact_budget", min_value=0, min_open=True)
    syms = sorted(mdp.free_symbols, key=sympy.default_sort_key)
    if method == "identity test" or (method == "auto" and max_symbols is not None and len(syms) > max_symbols
                                     and spec.degree is not None):
        if spec.degree is None:
            raise ValidationError("the identity test needs a tabular softmax policy, a model whose entries "
                                  "are polynomials in its symbols, and visits 'discounted' or 'normalised'",
                                  argument="method", value=method)
        return _identity_test(spec, spec.degree, _rng(rng, fresh=True), error_bits, sample_bits, progress)
    exact_rng = _rng(rng, fresh=False)
    if precheck and syms:
        scale = (mdp.n_states + 1) * 10  # small denominators keep the reported point readable
        for _ in range(20):
            vals = {g: sympy.Rational(exact_rng.randint(1, 9), scale) for g in syms}
            try:
                special = mdp.subs(vals)
            except ValidationError:
                continue
            quick = _exact_route(spec, special, exact_rng)
            if not quick.holds:
                return replace(quick, point={**vals, **(quick.point or {})})
            break
    if max_symbols is not None and len(syms) > max_symbols:
        raise ValidationError(
            f"the model has {len(syms)} symbols, above max_symbols={max_symbols}: the exact proof "
            "expands rational functions whose size grows exponentially with the number of symbols "
            "(a fully symbolic 2x2 model, 10 symbols, takes 0.3 s; 3x2, 21 symbols, did not finish "
            "in 15 minutes). It held at a random exact point. Substitute values for some symbols "
            "(mdp.subs), use method='identity test' (tabular softmax), or pass max_symbols=None to "
            "try anyway", argument="mdp", value=len(syms))
    try:
        return run_within(exact_budget, lambda: _exact_route(spec, mdp, exact_rng, progress))
    except TimeLimitExceeded:
        if method == "exact" or spec.degree is None:
            raise ValidationError(f"the exact proof ran past exact_budget={exact_budget} s",
                                  argument="exact_budget", value=exact_budget) from None
        return _identity_test(spec, spec.degree, _rng(rng, fresh=True), error_bits, sample_bits, progress)


def _softmax_degree(mdp: MDP, policy: Any, identity: str, extra_exprs: Sequence[Any] = (),
                    extra_syms: Sequence[sympy.Symbol] = (), visits: str = "discounted") -> int | None:
    if not isinstance(policy, TabularSoftmax) or visits not in ("discounted", "normalised"):
        return None
    syms = sorted(mdp.free_symbols | set(extra_syms), key=sympy.default_sort_key)
    S, A = mdp.n_states, mdp.n_actions
    entries = [mdp.P[s, a, t] for s in range(S) for a in range(A) for t in range(S)]
    entries += [mdp.r[s, a] for s in range(S) for a in range(A)] + list(mdp.rho0) + [mdp.gamma]
    e = entry_degree(entries + list(extra_exprs), syms)
    if e is None:
        return None
    return proof_degree_bound(identity, mdp.n_states, e, visits=visits)


_ROUTE_DOC = """
    method : {"auto", "exact", "identity test"}
        "exact": expansion in ℚ(symbols, z) (refused above ``max_symbols`` model symbols);
        "identity test": the probabilistic Schwartz–Zippel test (tabular softmax, polynomial
        entries); "auto" (default): exact up to ``max_symbols`` symbols and within
        ``exact_budget`` seconds, the identity test beyond.
    max_symbols : int or None
        Size limit of the exact route (default ``MAX_PROOF_SYMBOLS`` = 16).
    exact_budget : float or None
        Time limit of the exact route in seconds, enforced in any thread and on any OS (see
        ``_timelimit``); past it "auto" switches to the identity test. Default None: no time limit.
    error_bits : int
        The identity test accepts a false identity with probability ≤ 2^-error_bits (default 100).
    sample_bits : int
        Coordinates of test points are k uniform on {1, …, 2^sample_bits} (default 64), the symbols
        of P, ρ₀ and γ mapped to h·k/(2^sample_bits + 1) inside the model's domain.
    precheck : bool
        Exact route only: decide first on a random exact specialisation of the model's symbols.
    rng : int, random.Random or None
        Source of random points. None (default): seed 0 for the exact route's counterexample
        search, fresh system randomness for the identity test (its error bound is over that draw).
    progress : None, bool or callable
        Progress of the exact route (3 stages) or of the identity test (one step per point): True
        for a bar (tqdm) or log messages, a callable (done, total, message), or None (default:
        DEBUG messages on the ``"mdpgrad"`` logger).
"""


def _doc(fn: Callable) -> Callable:
    fn.__doc__ = (fn.__doc__ or "").replace("    {route}\n", _ROUTE_DOC.lstrip("\n"))
    return fn


def _check_theta(policy: Any, theta: Any, name: str | None = None) -> Any:
    validate_symbolic_policy(policy)
    if theta is not None:
        return theta
    if name is None:
        return policy.symbols()
    return policy.symbols("varpi" if isinstance(policy, Direct) else name)


@_doc
def prove_policy_gradient_theorem(mdp: MDP, policy: Any, theta: Any = None, *,
                                  visits: str = "discounted", values: str = "advantage",
                                  method: str = "auto", max_symbols: int | None = MAX_PROOF_SYMBOLS,
                                  exact_budget: float | None = None, error_bits: int = ERROR_BITS,
                                  sample_bits: int = SAMPLE_BITS, precheck: bool = True,
                                  rng: int | random.Random | None = None,
                                  progress: Progress = None) -> ProofResult:
    """Prove ∂J/∂θₖ = Σ_{s,a} w(s) π(a|s) adv(s,a) ∂log π(a|s)/∂θₖ for every k.

    The left side is the derivative of the closed form J(θ) = ρ₀ᵀ(I − γP^π)⁻¹r^π;
    the right side the theorem's expression, with ∂log π = ∂π/π.

    Parameters
    ----------
    mdp : MDP
    policy : TabularSoftmax, LogLinear or Direct (symbolic)
    theta : Matrix of symbols, optional
        Default ``policy.symbols()``.
    visits : {"discounted", "normalised", "undiscounted", "stationary"}
        w = η (the theorem), or a deliberately wrong choice of state weights (see ``VISITS``).
    values : {"advantage", "q"}
        adv or q in the sum (both are correct when Σ_a π ∇log π = 0; for
        :class:`Direct` parameters, free entries of π off the simplex, only the q
        form holds and the advantage form gets a counterexample).
    {route}

    Returns
    -------
    ProofResult
        status "proved" (exact), "probable" (identity test, with ``error_probability``) or
        "counterexample" (an exact point, either route).

    Examples
    --------
    >>> import sympy
    >>> from mdpgrad.symbolic import general_mdp, prove_policy_gradient_theorem, TabularSoftmax
    >>> mdp, pol = general_mdp(2, 2), TabularSoftmax(2, 2)
    >>> prove_policy_gradient_theorem(mdp, pol).status
    'proved'
    >>> prove_policy_gradient_theorem(mdp, pol, visits="normalised").status
    'counterexample'
    >>> big = prove_policy_gradient_theorem(general_mdp(3, 2), TabularSoftmax(3, 2))
    >>> big.status, big.method, big.error_probability < sympy.Rational(1, 2**100)
    ('probable', 'identity test', True)
    """
    validate_symbolic_mdp(mdp)
    if visits not in VISITS:
        raise ValidationError(f"visits is {visits!r}; expected one of {sorted(VISITS)}",
                              argument="visits", value=visits)
    if values not in ("advantage", "q"):
        raise ValidationError(f"values is {values!r}; expected 'advantage' or 'q'", argument="values",
                              value=values)
    if visits == "undiscounted" and not any(mdp.terminal):
        raise ValidationError("visits='undiscounted' needs an episodic MDP (terminal states)",
                              argument="visits", value=visits)
    th = _check_theta(policy, theta)
    labels = _labels(policy.rational(th))
    spec = _Spec(mdp, [(policy, th)], lambda ctx: _theorem_items(ctx, labels, visits, values),
                 _softmax_degree(mdp, policy, "theorem", visits=visits))
    return _prove(spec, method=method, max_symbols=max_symbols, exact_budget=exact_budget,
                  error_bits=error_bits, sample_bits=sample_bits, precheck=precheck, rng=rng,
                  progress=progress)


@_doc
def prove_recursion_form(mdp: MDP, policy: Any, theta: Any = None, *, method: str = "auto",
                         max_symbols: int | None = MAX_PROOF_SYMBOLS, exact_budget: float | None = None,
                         error_bits: int = ERROR_BITS, sample_bits: int = SAMPLE_BITS, precheck: bool = True,
                         rng: int | random.Random | None = None,
                         progress: Progress = None) -> ProofResult:
    """Prove the recursion ∇v = Σ_a ∇π q + γ P^π ∇v and ∇J = ρ₀ᵀ(I − γP^π)⁻¹ Σ_a ∇π q.

    ∇v is the derivative of the closed form v(θ); the second identity's right side is ηᵀ g
    with g(s) = Σ_a ∇π(a|s) q(s, a) (Sutton & Barto 2018, §13.2).

    Parameters
    ----------
    mdp : MDP
    policy : TabularSoftmax, LogLinear or Direct (symbolic)
    theta : Matrix of symbols, optional
        Default ``policy.symbols()``.
    {route}

    Returns
    -------
    ProofResult
        status "proved" (exact), "probable" (identity test, with ``error_probability``) or
        "counterexample" (an exact point, either route).

    Examples
    --------
    >>> from mdpgrad.symbolic import general_mdp, prove_recursion_form, TabularSoftmax
    >>> prove_recursion_form(general_mdp(2, 2), TabularSoftmax(2, 2)).status
    'proved'
    """
    validate_symbolic_mdp(mdp)
    th = _check_theta(policy, theta)
    labels = _labels(policy.rational(th))
    spec = _Spec(mdp, [(policy, th)], lambda ctx: _recursion_items(ctx, labels),
                 _softmax_degree(mdp, policy, "recursion"))
    return _prove(spec, method=method, max_symbols=max_symbols, exact_budget=exact_budget,
                  error_bits=error_bits, sample_bits=sample_bits, precheck=precheck, rng=rng,
                  progress=progress)


@_doc
def prove_baseline_identity(mdp: MDP, policy: Any, theta: Any = None, baseline: Any = None, *,
                            method: str = "auto", max_symbols: int | None = MAX_PROOF_SYMBOLS,
                            exact_budget: float | None = None, error_bits: int = ERROR_BITS,
                            sample_bits: int = SAMPLE_BITS, precheck: bool = True,
                            rng: int | random.Random | None = None,
                            progress: Progress = None) -> ProofResult:
    """Prove Σ_a π ∇log π b(s) = 0 and ∇J = Σ η π (q − b) ∇log π for a symbolic baseline b.

    Parameters
    ----------
    mdp : MDP
    policy : TabularSoftmax, LogLinear or Direct (symbolic)
    theta : Matrix of symbols, optional
        Default ``policy.symbols()``.
    baseline : sequence of expressions, shape (S,), optional
        Default: one symbol ``b{s}`` per state (so the identity holds for every b).
    {route}

    Returns
    -------
    ProofResult
        status "proved" (exact), "probable" (identity test, with ``error_probability``) or
        "counterexample" (an exact point, either route).

    Examples
    --------
    >>> from mdpgrad.symbolic import general_mdp, prove_baseline_identity, TabularSoftmax
    >>> prove_baseline_identity(general_mdp(2, 2), TabularSoftmax(2, 2)).status
    'proved'
    """
    S = validate_symbolic_mdp(mdp).n_states
    if baseline is None:
        b_exprs = [sympy.Symbol(f"b{s}") for s in range(S)]
    else:
        b_exprs = [exact(x, "baseline", (i,)) for i, x in enumerate(baseline)]
        if len(b_exprs) != S:
            raise ValidationError(f"baseline has length {len(b_exprs)}; expected {S}", argument="baseline",
                                  value=len(b_exprs))
    extra = tuple(sorted(set().union(*[e.free_symbols for e in b_exprs]), key=sympy.default_sort_key))
    th = _check_theta(policy, theta)
    labels = _labels(policy.rational(th))
    spec = _Spec(mdp, [(policy, th)], lambda ctx: _baseline_items(ctx, labels, b_exprs),
                 _softmax_degree(mdp, policy, "baseline", b_exprs, extra), extra)
    return _prove(spec, method=method, max_symbols=max_symbols, exact_budget=exact_budget,
                  error_bits=error_bits, sample_bits=sample_bits, precheck=precheck, rng=rng,
                  progress=progress)


@_doc
def prove_performance_difference(mdp: MDP, policy: Any, theta: Any = None, theta0: Any = None, *,
                                 method: str = "auto", max_symbols: int | None = MAX_PROOF_SYMBOLS,
                                 exact_budget: float | None = None, error_bits: int = ERROR_BITS,
                                 sample_bits: int = SAMPLE_BITS, precheck: bool = True,
                                 rng: int | random.Random | None = None,
                                 progress: Progress = None) -> ProofResult:
    """Prove J(θ) − J(θ₀) = Σ_s η_θ(s) Σ_a π_θ(a|s) adv_θ₀(s,a) for symbolic θ and θ₀.

    Kakade & Langford (2002), Lemma 6.1, in its unnormalised form (visits η, not d).
    θ₀ defaults to ``policy.symbols("vartheta")``.

    Parameters
    ----------
    mdp : MDP
    policy : TabularSoftmax, LogLinear or Direct (symbolic)
    theta : Matrix of symbols, optional
        Default ``policy.symbols()``.
    theta0 : Matrix of symbols, optional
        Default ``policy.symbols("vartheta")``.
    {route}

    Returns
    -------
    ProofResult
        status "proved" (exact), "probable" (identity test, with ``error_probability``) or
        "counterexample" (an exact point, either route).

    Examples
    --------
    >>> from mdpgrad.symbolic import general_mdp, prove_performance_difference, TabularSoftmax
    >>> prove_performance_difference(general_mdp(2, 2), TabularSoftmax(2, 2)).status
    'proved'
    """
    validate_symbolic_mdp(mdp)
    th = _check_theta(policy, theta)
    th0 = _check_theta(policy, theta0, "vartheta")
    spec = _Spec(mdp, [(policy, th), (policy, th0)], _difference_items,
                 _softmax_degree(mdp, policy, "performance difference"))
    return _prove(spec, method=method, max_symbols=max_symbols, exact_budget=exact_budget,
                  error_bits=error_bits, sample_bits=sample_bits, precheck=precheck, rng=rng,
                  progress=progress)


def prove_equal(lhs: Any, rhs: Any, *, mdp: MDP | None = None, statement: str = "lhs = rhs",
                rng: int | random.Random = 0) -> ProofResult:
    """Decide lhs = rhs for expressions or matrices that are rational in symbols and exp-atoms.

    The difference is reduced exactly in the field of rational functions ("proved": equal for all
    values of the symbols).  A non-zero difference gets a counterexample point, checked by
    substituting it into ``lhs`` and ``rhs`` (exact rationals).  With ``mdp`` the point is drawn
    inside that model's domain (``in_domain`` True: rows of P and ρ₀ probability vectors,
    0 ≤ γ < 1 or γ = 1 with terminal states, exp-atoms positive); a point outside is returned only
    when no draw inside refutes the identity, and ``domain`` says so.  Without ``mdp`` the symbols
    are drawn in (0, 1/(n + 1)), n the number of symbols, and ``in_domain`` is None.

    Parameters
    ----------
    lhs, rhs : expression or matrix
    mdp : MDP, optional
        The model whose domain counterexamples are drawn from.
    statement : str
    rng : int or random.Random

    Examples
    --------
    >>> import sympy
    >>> from mdpgrad.symbolic import prove_equal
    >>> x = sympy.Symbol("x")
    >>> prove_equal((x**2 - 1) / (x - 1), x + 1).status
    'proved'
    >>> prove_equal(sympy.exp(x) / (1 + sympy.exp(x)), 1 / (1 + sympy.exp(-x))).status
    'proved'
    >>> r = prove_equal(sympy.exp(x) / (1 + sympy.exp(x)), 1 / (1 + sympy.exp(x)))
    >>> r.status, r.value != 0
    ('counterexample', True)

    Σ η = 1/(1 − γ), not 1: the counterexample is a valid model.

    >>> from mdpgrad.symbolic import TabularSoftmax, evaluate, general_mdp
    >>> m, pol = general_mdp(2, 2), TabularSoftmax(2, 2)
    >>> wrong = prove_equal(sum(evaluate(m, pol.probabilities(pol.symbols())).eta), 1, mdp=m)
    >>> wrong.in_domain, wrong.lhs == 1 / (1 - wrong.point[sympy.Symbol("gamma")])
    (True, True)
    """
    L = exact_matrix(lhs if isinstance(lhs, (sympy.MatrixBase, list, tuple, np.ndarray)) else [[lhs]], "lhs")
    R = exact_matrix(rhs if isinstance(rhs, (sympy.MatrixBase, list, tuple, np.ndarray)) else [[rhs]], "rhs")
    if L.shape != R.shape:
        raise ValidationError(f"lhs has shape {L.shape} and rhs {R.shape}", argument="rhs", value=R.shape)
    exprs_in = list(L) + list(R)
    if mdp is not None:
        validate_symbolic_mdp(mdp)
        model = sorted(mdp.free_symbols, key=sympy.default_sort_key)
        space, exprs = space_for(exprs_in, extra=model, sampler=small_positive_sampler(model, mdp.n_states))
    else:
        plain = set().union(*[e.free_symbols for e in exprs_in])
        ordered = sorted(plain, key=sympy.default_sort_key)
        space, exprs = space_for(exprs_in, sampler=small_positive_sampler(ordered, len(plain)))
    n = len(L)
    items = [(f"entry {divmod(i, L.shape[1])}", space(exprs[i]), space(exprs[n + i])) for i in range(n)]
    result = decide(space, items, statement, accept=None if mdp is None else accept_for(mdp), rng=rng)
    if not result.holds:
        _check_by_substitution(L, R, result)
    return result


def _check_by_substitution(L: sympy.MatrixBase, R: sympy.MatrixBase, result: ProofResult) -> None:
    """Recompute a counterexample's two sides by substitution into the user's expressions."""
    i = next(k for k in range(len(L)) if f"entry {divmod(k, L.shape[1])}" == result.label)
    vals = dict(result.point or {})
    lv, rv = sympy.nsimplify(L[i].subs(vals)), sympy.nsimplify(R[i].subs(vals))
    if not (lv.is_Rational and rv.is_Rational and lv == result.lhs and rv == result.rhs and lv != rv):
        raise RuntimeError(f"the counterexample does not reproduce by substitution: lhs {show(lv)}, "
                           f"rhs {show(rv)}")  # pragma: no cover - a defect of the field arithmetic
