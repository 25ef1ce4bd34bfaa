"""The verdict of a proof, and the exact decision of an identity in the field of rational functions.

:class:`ProofResult` is the answer of every proof: ``"proved"`` (exact: holds for all values of the
symbols), ``"probable"`` (the identity test accepted it, with a stated error probability) or
``"counterexample"`` (certainly false: an exact point and the exact values of both sides there,
never a bare False).

:func:`decide` is the exact route: each difference lhs − rhs is expanded in the fraction field
ℚ(symbols, z), where a reduced quotient is zero exactly when its numerator is the zero polynomial.
The first non-zero difference gets a point inside the model's domain when one is given (the model
with these values passes validation); a point outside is reported only when no draw inside refutes
the identity, and ``domain`` then says so.  :func:`prove_equal` decides lhs = rhs for any two
expressions or matrices rational in symbols and exp-atoms.

Identity checked here: a counterexample of :func:`prove_equal` is recomputed by substituting its
point into the user's expressions; both sides must reproduce exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import sympy

from .._display import compact_repr
from .._errors import ValidationError
from ._algebra import (
    MAX_ATTEMPTS,
    RationalSpace,
    find_nonzero_point,
    printable,
    show,
    small_positive_sampler,
    space_for,
)
from ._domain import accept_for, describe
from ._model import MDP, exact_matrix, validate_symbolic_mdp

__all__ = ["ProofResult", "decide", "prove_equal"]


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
