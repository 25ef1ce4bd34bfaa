"""Degree bounds and the error probability of the Schwartz–Zippel identity test.

The identity test (``_proof_routes``) evaluates both sides of each scalar identity at t random
points and accepts when they agree at all of them.  Its error bound needs δ, a bound on the total
degree of the cleared numerator N and denominator D of lhs − rhs = N/D, as polynomials in the free
symbols and z = exp θ; this module derives δ and turns it into the number of points and the
probability of accepting a false identity.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import sympy

from .._errors import ValidationError
from .._validation import check_integer
from ._algebra import as_expression
from ._model import MDP
from ._policies import TabularSoftmax

__all__ = ["ERROR_BITS", "entry_degree", "error_probability", "points_needed", "proof_degree_bound",
           "softmax_degree"]

#: The identity test accepts with false-acceptance probability at most 2^-ERROR_BITS.
ERROR_BITS = 100


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


def softmax_degree(mdp: MDP, policy: Any, identity: str, extra_exprs: Sequence[Any] = (),
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
