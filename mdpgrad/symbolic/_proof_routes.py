"""The two routes of a proof, exact expansion and identity test, and the choice between them.

A proof is decided by one of two routes (``method``):

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
  ``error_probability`` = (δ/(|T| − δ))^t ≤ 2^-100 (``error_bits``), δ the degree bound derived
  in ``_proof_degrees``.

A non-zero difference, by either route, is a certainty: the result is ``"counterexample"`` with
an exact point (θ as the log of a rational) and the exact values of both sides there, never a
bare False.  The point lies inside the model's domain (``in_domain``: the model with these values
passes validation, so rows of P and ρ₀ are probability vectors, 0 ≤ γ < 1 or γ = 1 with terminal
states, θ real); a point outside is reported only when no draw inside refutes the identity, and
``domain`` then says that the identity may hold on the whole domain.

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
non-zero polynomial in k of the same total degree, so the bounds of ``_proof_degrees`` hold
unchanged.  Points where a denominator vanishes are redrawn.  Without a certified box (a model
whose domain has empty interior, or non-polynomial entries) the symbols are k itself and the
result says the points were not restricted to the domain: the verdict is then about N ≡ 0, which
on a domain with non-empty interior is the same statement (a polynomial vanishing on a non-empty
open set is zero).

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
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import sympy

from .._errors import ValidationError
from .._progress import Progress, check_progress, reporter
from .._validation import check_integer, check_real
from ._domain import INSIDE, accept_for, certify_box, constrained_symbols, describe, in_domain
from ._gradients import lift_policies
from ._model import MDP
from ._policies import check_policy_actions, validate_symbolic_policy
from ._proof_contexts import ExactCtx, Jet, JetCtx, Undefined
from ._proof_degrees import error_probability, points_needed
from ._proof_result import ProofResult, decide
from ._timelimit import TimeLimitExceeded, run_within

__all__ = ["MAX_PROOF_SYMBOLS", "SAMPLE_BITS", "Spec", "prove"]

#: Above this many model symbols, ``method="auto"`` leaves the exact expansion for the identity
#: test (see ``max_symbols``): the fully symbolic 2-state, 2-action model has 10 symbols and proves
#: exactly in 0.3 s; the 3-state one has 21 and its expansion in the fraction field ran past
#: 15 minutes.
MAX_PROOF_SYMBOLS = 16
#: Each coordinate of an identity-test point is drawn uniformly from {1, ..., 2^SAMPLE_BITS}.
SAMPLE_BITS = 64
#: Redraws allowed when a denominator vanishes at a drawn point (probability ≤ δ/2^64 each).
MAX_REDRAWS = 50
#: Attempts at moving a refuted identity's witness into the model's domain (probabilities in
#: [0, 1], rows summing to 1, 0 < γ < 1, θ real).
DOMAIN_ATTEMPTS = 200
METHODS = ("auto", "exact", "identity test")


# -- the two routes and the choice between them --------------------------------------------------


def _rng(source: int | random.Random | None, *, fresh: bool) -> random.Random:
    if isinstance(source, random.Random):
        return source
    if source is None:
        return random.SystemRandom() if fresh else random.Random(0)
    return random.Random(check_integer(source, "rng", min_value=0))


@dataclass(frozen=True)
class Spec:
    """One identity: how to build it, its degree bound (None: identity test not available)."""

    mdp: MDP
    pairs: list
    build: Callable[[Any], tuple[list, str]]
    degree: int | None
    extra: tuple = ()


def _exact_route(spec: Spec, mdp: MDP, rng: random.Random, progress: Progress = None) -> ProofResult:
    with reporter(progress, 3, f"exact proof ({len(mdp.free_symbols)} model symbols)") as rep:
        pm = lift_policies(mdp, spec.pairs, extra_symbols=list(spec.extra))
        rep.update(1, "model and policy in the fraction field")
        items, statement = spec.build(ExactCtx(pm))
        rep.update(2, f"{len(items)} identities expanded")
        return decide(pm.space, items, statement, accept=accept_for(mdp), rng=rng)


def _jet_items(spec: Spec, rps: list, point: dict) -> tuple[list, str]:
    return spec.build(JetCtx(spec.mdp, rps, point))


def _report(rps: list, point: Mapping[sympy.Symbol, Fraction]) -> dict:
    exp_of = {z: th for rp in rps for z, th in rp.exp_of.items()}
    out = {}
    for g, v in point.items():
        val = sympy.Rational(v.numerator, v.denominator)
        out[exp_of[g] if g in exp_of else g] = sympy.log(val) if g in exp_of else val
    return out


def _first_difference(items: list) -> tuple[str, Fraction, Fraction] | None:
    for label, lhs, rhs in items:
        lv, rv = Jet._of(lhs).v, Jet._of(rhs).v
        if lv != rv:
            return label, lv, rv
    return None


def _identity_test(spec: Spec, degree: int, rng: random.Random, error_bits: int,
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
            except Undefined:
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


def _counterexample(spec: Spec, rps: list, gens: list, point: dict, found: tuple, statement: str,
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
        except Undefined:
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


def prove(spec: Spec, *, method: str, max_symbols: int | None, exact_budget: float | None,
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
