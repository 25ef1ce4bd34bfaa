"""Exact arithmetic of rational functions: the engine under every symbolic result.

Every symbolic quantity of a finite MDP (v, q, η, J, ∇J, a TD Jacobian) is a
rational function of the model's symbols once each exp(θₖ) is written as a
positive symbol zₖ = exp(θₖ).  Such functions live in the fraction field
ℚ(x₁, …, xₙ), where sympy keeps every element as a reduced quotient of sparse
polynomials: an element is zero exactly when its numerator is the zero
polynomial, so deciding an identity needs no ``simplify``.

A non-zero difference is witnessed by a random exact rational point
(Schwartz–Zippel lemma: a non-zero polynomial of degree d vanishes at a random
point of Tⁿ with probability at most d/|T|; Schwartz 1980, Zippel 1979), so a
failed identity is always reported with a point and the exact value there.

Identity checked by the tests: a quantity converted to the field and back to
an expression is unchanged (``cancel(expr − back) = 0``).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy
from sympy.polys.fields import FracElement, FracField

from .._errors import ValidationError
from .._validation import check_integer, format_number

__all__ = ["Counterexample", "RationalSpace", "dataclass_repr", "find_nonzero_point", "printable", "show",
           "space_for"]

#: Attempts at drawing a point where a non-zero function and all denominators
#: are non-zero.  Each draw fails with probability ≤ degree/|T| (Schwartz–Zippel)
#: and |T| grows with the attempt number, so 200 attempts are never exhausted
#: for the polynomial degrees met here (≤ a few dozen).
MAX_ATTEMPTS = 200


def as_expression(x: Any) -> sympy.Expr:
    """An exact sympy expression from a sympy object, an int or a Fraction.

    Internal values are already exact; anything else (a string above all) is refused rather
    than handed to ``sympify``, which would evaluate it as Python.
    """
    if isinstance(x, sympy.Basic):
        return x
    if isinstance(x, Fraction):
        return sympy.Rational(x.numerator, x.denominator)
    if isinstance(x, int) and not isinstance(x, bool):
        return sympy.Integer(x)
    raise ValidationError(f"{x!r} of type {type(x).__name__} is not an exact expression", argument="expr",
                          value=type(x).__name__)


def _prints(n: int) -> bool:
    try:
        str(n)
    except ValueError:  # more digits than sys.get_int_max_str_digits() allows
        return False
    return True


def printable(x: Any) -> Any:
    """``x`` with every exact number too long for ``str`` (over 4300 digits by default) replaced by a
    symbol named like ``1.000000000000e+5000 (5001 digits)``, so that str and sympy.latex work."""
    if isinstance(x, dict):
        return {printable(k): printable(v) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(printable(v) for v in x)
    if isinstance(x, (int, Fraction)) and not isinstance(x, bool):
        x = as_expression(x)
    if not isinstance(x, sympy.Basic):
        return x
    big = {q: sympy.Symbol(format_number(Fraction(int(q.p), int(q.q))))
           for q in x.atoms(sympy.Rational) if not (_prints(int(q.p)) and _prints(int(q.q)))}
    return x.xreplace(big) if big else x


def dataclass_repr(obj: Any) -> str:
    """The dataclass repr, with numbers too long for ``str`` written as by :func:`show`."""
    inner = ", ".join(f"{f.name}={printable(getattr(obj, f.name))!r}" for f in dataclasses.fields(obj))
    return f"{type(obj).__name__}({inner})"


def show(x: Any) -> str:
    """``str(x)`` for messages and reports, never failing on a number of thousands of digits."""
    try:
        return str(x)
    except ValueError:
        return str(printable(x))


@dataclass(frozen=True)
class Counterexample:
    """A point where a rational function is non-zero, and its exact value there."""

    point: dict  # user symbol -> exact value (Rational, or log of a Rational for θ)
    value: sympy.Expr
    raw: dict  # generator -> Fraction
    #: True: ``accept`` took the point (inside the model's domain); False: no accepted point refuted
    #: and the point lies outside; None: nothing to accept against.
    in_domain: bool | None = None
    #: Accepted points where f was defined and zero before the result (all draws when in_domain is False).
    domain_zeros: int = 0


class RationalSpace:
    """The field ℚ(gens) with exp-atoms mapped to positive generators.

    Parameters
    ----------
    gens : sequence of sympy.Symbol
        Generators of the field, in a fixed order.
    exp_of : mapping Symbol -> Expr, optional
        For a generator z standing for exp(θ), ``exp_of[z] = θ``; the values
        of a counterexample are then reported as θ = log z.
    """

    def __init__(self, gens: Sequence[sympy.Symbol], exp_of: Mapping[sympy.Symbol, sympy.Expr] | None = None,
                 *, sampler: Callable[[random.Random, int], dict] | None = None) -> None:
        self.gens = tuple(gens)
        self.exp_of = dict(exp_of or {})
        self.field = FracField(self.gens, sympy.QQ) if self.gens else FracField((sympy.Dummy("unit"),),
                                                                                   sympy.QQ)
        self._index = {g: i for i, g in enumerate(self.gens)}
        self._sampler = sampler

    # -- conversion ---------------------------------------------------------
    def __call__(self, expr: Any) -> FracElement:
        """Convert an expression (rational in the generators) to a field element."""
        if isinstance(expr, FracElement):
            return expr
        e = as_expression(expr)
        if self.exp_of:
            e = e.subs({sympy.exp(th): z for z, th in self.exp_of.items()})
        try:
            return self.field.from_expr(e)
        except ValueError:
            raise ValidationError(
                f"{show(e)} is not a rational function of the symbols {list(self.gens)} "
                "(write exp(θ) as a symbol, and use sympy.Rational for numbers)",
                argument="expr", value=e) from None

    def to_expr(self, f: FracElement, *, back: bool = True) -> sympy.Expr:
        """Back to a sympy expression; with ``back`` each z becomes exp(θ)."""
        e = f.as_expr()
        if back and self.exp_of:
            e = e.xreplace({z: sympy.exp(th) for z, th in self.exp_of.items()})
        return e

    def gen(self, symbol: sympy.Symbol) -> FracElement:
        return self.field.gens[self._index[symbol]]

    def diff(self, f: FracElement, symbol: sympy.Symbol) -> FracElement:
        """∂f/∂symbol; for z = exp(θ) this is ∂f/∂θ = z ∂f/∂z (chain rule)."""
        g = self.gen(symbol)
        d = f.diff(g)
        return g * d if symbol in self.exp_of else d

    # -- points -------------------------------------------------------------
    def _draw(self, rng: random.Random, attempt: int) -> dict:
        base = dict(self._sampler(rng, attempt)) if self._sampler else {}
        width = 7 + 4 * attempt
        for g in self.gens:
            if g in base:
                continue
            if g in self.exp_of:
                k = rng.randint(1, width)
                base[g] = Fraction(k, 2) if rng.random() < 0.5 else Fraction(2, k)
            else:
                base[g] = Fraction(rng.randint(-width, width), rng.randint(1, width))
        return base

    def evaluate(self, f: FracElement, point: Mapping[sympy.Symbol, Fraction]) -> Fraction | None:
        """f at a point (generator values as Fractions); None where the denominator vanishes."""
        if self.gens:
            vals = [(r, sympy.QQ(point[g].numerator, point[g].denominator))
                    for r, g in zip(self.field.ring.gens, self.gens, strict=True)]
        else:  # constants live in a field over one placeholder generator
            vals = [(self.field.ring.gens[0], sympy.QQ(0))]
        den = f.denom.evaluate(vals)
        if den == 0:
            return None
        num = f.numer.evaluate(vals)
        q = sympy.QQ(num) / sympy.QQ(den)
        return Fraction(int(q.numerator), int(q.denominator))

    def evaluate_defined(self, f: FracElement, point: Mapping[sympy.Symbol, Fraction]) -> Fraction:
        """f at a point where its denominator is known not to vanish (a counterexample's point)."""
        value = self.evaluate(f, point)
        if value is None:
            raise ZeroDivisionError("the rational function is undefined at this point")
        return value

    def report_point(self, point: Mapping[sympy.Symbol, Fraction]) -> dict:
        """The point in the user's symbols: θ = log z for exp-generators."""
        out = {}
        for g in self.gens:
            val = sympy.Rational(point[g].numerator, point[g].denominator)
            if g in self.exp_of:
                out[self.exp_of[g]] = sympy.log(val)
            else:
                out[g] = val
        return out


def find_nonzero_point(space: RationalSpace, f: FracElement, *, guards: Iterable[FracElement] = (),
                       accept: Callable[[dict], bool] | None = None,
                       rng: int | random.Random = 0, fallback: bool = False) -> Counterexample:
    """A random exact point where f ≠ 0 and no guard denominator vanishes.

    ``accept(point)`` may veto a point (e.g. one where the model is not a valid
    MDP); the point maps generators to Fractions.  With ``fallback``, when no accepted
    point among ``MAX_ATTEMPTS`` draws has f ≠ 0, an unrestricted point is returned with
    ``in_domain=False`` and the number of accepted points where f was zero.

    Raises
    ------
    ValidationError
        If f is the zero element (there is no such point).
    """
    if f == 0:
        raise ValidationError("the function is identically zero; it has no counterexample point",
                              argument="f", value=0)
    guards = list(guards)
    rng = rng if isinstance(rng, random.Random) else random.Random(check_integer(rng, "rng", min_value=0))
    zeros = 0
    for restricted in ((True, False) if accept is not None and fallback else (accept is not None,)):
        for attempt in range(MAX_ATTEMPTS):
            point = space._draw(rng, attempt)
            if any(space.evaluate(g, point) is None for g in guards):
                continue
            if restricted and accept is not None and not accept(point):
                continue
            val = space.evaluate(f, point)
            if val is None or val == 0:
                zeros += int(restricted and val == 0)
                continue
            return Counterexample(space.report_point(point), sympy.Rational(val.numerator, val.denominator),
                                  point, None if accept is None else restricted, zeros)
    raise RuntimeError("no counterexample point found; increase MAX_ATTEMPTS")  # pragma: no cover


def space_for(exprs: Iterable[Any], *, extra: Sequence[sympy.Symbol] = (),
              exp_of: Mapping[sympy.Symbol, sympy.Expr] | None = None,
              sampler: Callable[[random.Random, int], dict] | None = None) -> tuple[RationalSpace, list]:
    """A space whose generators cover every free symbol and exp-atom of ``exprs``.

    An atom exp(Σ cᵢ xᵢ) with integer cᵢ and symbols xᵢ becomes the monomial
    Π zᵢ^cᵢ with zᵢ = exp xᵢ a positive generator, so exp(x) and exp(−x) stay
    related; any other exp(...) atom gets a generator of its own.  Returns the
    space and the expressions rewritten in the generators.
    """
    exp_of = dict(exp_of or {})
    z_of = {th: z for z, th in exp_of.items()}
    exprs = [as_expression(e) for e in exprs]
    atoms = set()
    for e in exprs:
        atoms |= e.atoms(sympy.exp)
    repl = {}
    for atom in sorted(atoms, key=sympy.default_sort_key):
        arg = sympy.expand(atom.args[0])
        terms = arg.as_coefficients_dict()
        linear = all(isinstance(k, sympy.Symbol) and v.is_integer for k, v in terms.items())
        if linear:
            mono = sympy.Integer(1)
            for x, c in terms.items():
                if x not in z_of:
                    z = sympy.Symbol(f"z_{x.name}", positive=True)
                    z_of[x] = z
                    exp_of[z] = x
                mono *= z_of[x] ** int(c)
            repl[atom] = mono
        else:
            z = sympy.Dummy(f"exp_{len(exp_of)}", positive=True)
            exp_of[z] = arg
            repl[atom] = z
    rewritten = [e.xreplace(repl) if repl else e for e in exprs]
    syms = set(extra)
    for e in rewritten:
        syms |= e.free_symbols
    syms |= set(exp_of)
    gens = sorted(syms, key=lambda g: (g in exp_of, sympy.default_sort_key(g)))
    return RationalSpace(gens, exp_of, sampler=sampler), rewritten


def small_positive_sampler(gens: Sequence[sympy.Symbol], n: int) -> Callable[[random.Random, int], dict]:
    """Draw each non-exp generator in (0, 1/(n+1)): rows like (p, q, 1 − p − q) of up to n
    entries stay probabilities."""

    def draw(rng: random.Random, attempt: int) -> dict:
        width = 5 + 3 * attempt
        return {g: Fraction(rng.randint(1, width), (n + 1) * (width + 1)) for g in gens}

    return draw
