"""The model's domain: the values of a symbolic MDP's symbols that make it a valid MDP.

A point (exact rationals for the model's symbols) is *inside the model's domain* when the model
with those values passes :class:`~mdpgrad.symbolic.MDP`'s own validation: every row of P and ρ₀ a
probability vector (entries in [0, 1] summing to 1), 0 ≤ γ < 1, or γ = 1 with terminal states;
softmax terms z = exp θ are positive by construction.  Counterexamples to identities are drawn
inside it, so that a student can plug them into a real MDP.

Points inside it from a large set (the identity test)
-----------------------------------------------------
The Schwartz–Zippel test needs each coordinate drawn from a large finite set T.  A box
(0, h)ⁿ inside the domain keeps that possible: the symbols of P, ρ₀ and γ are drawn as
x = h·k/(N + 1), k uniform on {1, …, N}, N = 2^b, and every other symbol (rewards, baselines) as
k itself.  The substitution x ↦ k is affine and invertible, so a polynomial N(x) ≢ 0 of total
degree δ becomes Ñ(k) ≢ 0 of the same total degree δ: the bound Pr[Ñ(k) = 0] ≤ δ/N of
Schwartz (1980, Lemma 1) holds unchanged, and every test point is a valid model.

:func:`certify_box` finds h by interval arithmetic on the entries (polynomials in the symbols):
for x ∈ [0, h]ⁿ a monomial c·x^α lies between 0 and c·h^|α|, so each entry lies in
[c₀ + Σ_{c<0} c h^|α|, c₀ + Σ_{c>0} c h^|α|]; the box is accepted when these enclosures lie in
[0, 1] (P, ρ₀) and γ's in [0, 1).  For ``general_mdp(S, A)`` (rows p, …, 1 − Σ p) h = min(1/2, 2^-⌈log₂(S−1)⌉)
suffices.  A model whose domain has empty interior (a row (p, −p, 1) forces p = 0) gets no box.

Identity checked by the tests: every point drawn from a certified box passes the model's
validation (:func:`in_domain`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import sympy

from ._model import MDP

__all__ = ["INSIDE", "accept_for", "certify_box", "constrained_symbols", "describe", "in_domain"]

#: Halvings of h tried by :func:`certify_box` (h = 1/2, 1/4, …, 2^-16).
BOX_HALVINGS = 16

INSIDE = "inside the model's domain"


def in_domain(mdp: MDP, point: Mapping[sympy.Symbol, Any]) -> bool:
    """Whether the model with the point's values (Fractions or Rationals) is a valid MDP.

    The conditions :class:`~mdpgrad.symbolic.MDP` validates, on the numbers: entries of P and ρ₀ in
    [0, 1], each row of P and ρ₀ summing to 1, ρ₀ not all on terminal states, 0 ≤ γ ≤ 1 and
    γ = 1 only with terminal states.  A point missing a model symbol is not inside.
    """
    syms = mdp.free_symbols
    vals = {g: sympy.Rational(v.numerator, v.denominator) if isinstance(v, Fraction) else v
            for g, v in point.items() if g in syms}
    if set(vals) != syms:
        return False
    S, A = mdp.n_states, mdp.n_actions

    def number(e: sympy.Expr) -> Fraction | None:
        x = e.xreplace(vals) if e.free_symbols else e
        return Fraction(int(x.p), int(x.q)) if x.is_Rational else None

    def distribution(entries: list) -> bool:
        xs = [x for x in map(number, entries) if x is not None and 0 <= x <= 1]
        return len(xs) == len(entries) and sum(xs, Fraction(0)) == 1

    if not all(distribution([mdp.P[s, a, t] for t in range(S)]) for s in range(S) for a in range(A)):
        return False
    if not distribution(list(mdp.rho0)):
        return False
    if any(mdp.terminal) and all(number(mdp.rho0[s]) == 0 for s in range(S) if not mdp.terminal[s]):
        return False
    g = number(mdp.gamma)
    return g is not None and 0 <= g <= 1 and (g < 1 or any(mdp.terminal))


def accept_for(mdp: MDP) -> Callable[[dict], bool]:
    """:func:`in_domain` for one model, as the ``accept`` veto of a point search."""
    return lambda point: in_domain(mdp, point)


def constrained_symbols(mdp: MDP) -> set:
    """The symbols of P, ρ₀ and γ (the entries the domain constrains)."""
    return set(mdp.P.free_symbols) | set(mdp.rho0.free_symbols) | set(mdp.gamma.free_symbols)


def _terms(e: sympy.Expr) -> list[tuple[int, Fraction]] | None:
    """(total degree, coefficient) of each monomial of e in its own symbols; None if not a polynomial."""
    syms = sorted(e.free_symbols, key=sympy.default_sort_key)
    if not syms:
        return [(0, Fraction(int(e.p), int(e.q)))] if e.is_Rational else None
    if not e.is_polynomial(*syms):
        return None
    out = []
    for exps, c in sympy.Poly(e, *syms).terms():
        if not c.is_Rational:
            return None
        out.append((sum(exps), Fraction(int(c.p), int(c.q))))
    return out


def _enclosure(terms: list[tuple[int, Fraction]], h: Fraction) -> tuple[Fraction, Fraction]:
    """[lo, hi] ⊇ {e(x) : x ∈ [0, h]ⁿ}: a monomial c·x^α lies between 0 and c·h^|α|."""
    lo = hi = Fraction(0)
    for deg, c in terms:
        v = c * h ** deg
        if deg == 0:
            lo, hi = lo + v, hi + v
        elif v > 0:
            hi += v
        else:
            lo += v
    return lo, hi


def certify_box(mdp: MDP) -> Fraction | None:
    """The largest h = 2^-j (j ≤ 16) such that every point of (0, h)ⁿ in the symbols of P, ρ₀, γ
    (other symbols free) is inside the domain, proved by interval bounds; None if there is none.

    >>> from mdpgrad.symbolic import general_mdp
    >>> certify_box(general_mdp(2, 2)), certify_box(general_mdp(4, 2))
    (Fraction(1, 2), Fraction(1, 4))
    """
    if not constrained_symbols(mdp):
        return None
    S, A = mdp.n_states, mdp.n_actions
    entries = {mdp.P[s, a, t] for s in range(S) for a in range(A) for t in range(S)} | set(mdp.rho0)
    probs = [_terms(e) for e in entries]
    g = _terms(mdp.gamma)
    if g is None or any(t is None for t in probs):
        return None
    h = Fraction(1, 2)
    for _ in range(BOX_HALVINGS):
        lo, hi = _enclosure(g, h)
        if lo >= 0 and hi < 1 and all(0 <= r[0] and r[1] <= 1
                                      for r in (_enclosure(t, h) for t in probs if t is not None)):
            return h
        h /= 2
    return None


def describe(in_domain: bool | None, domain_zeros: int, n_attempts: int) -> str:
    """Where a counterexample point lies, in words, for the result's ``domain``.

    ``domain_zeros``: draws inside the domain where the two sides agreed, of ``n_attempts``.
    """
    if in_domain:
        return INSIDE
    if in_domain is None:
        return "at a point of the symbols (no model given: pass mdp= to draw inside its domain)"
    if domain_zeros == 0:
        return (f"outside the model's domain: none of {n_attempts} draws fell inside it (its interior "
                "may be empty, e.g. a row (p, −p, 1) forces p = 0); the two sides differ as rational "
                "functions, and may still agree on the whole domain")
    return (f"outside the model's domain: the two sides differ as rational functions but agreed at all "
            f"{domain_zeros} draws inside it; the identity may hold on the whole domain")
