"""The two arithmetics of the proofs: the fraction field ℚ(symbols, z), and exact values with derivatives.

Every identity is written once (``_proof_theorems``) against a context that supplies ``zero``,
``one``, the sizes ``S`` and ``A``, ``terminal``, ``gamma``, the policies ``pis`` and the
operations ``evaluate`` (v, q, adv, η, J and P^π), ``grad`` (∂/∂θₖ = zₖ ∂/∂zₖ), ``lift`` and
``weights``:

* :class:`ExactCtx`, the exact route: the model and the policies lifted into ℚ(symbols, z), where
  the difference of the two sides is expanded and decided;
* :class:`JetCtx`, the identity test: the same quantities as exact rationals at one point, each
  carried with its first derivatives in θ of the first policy (forward mode, :class:`Jet`), the
  linear systems solved by Gauss–Jordan elimination on jets.  A denominator that vanishes at the
  point raises :class:`Undefined`, and the identity test draws another point.

Identities checked by the tests: on the general 2-state model the identity test, evaluated in
:class:`JetCtx`, accepts the identities that the expansion in :class:`ExactCtx` proves, and the
difference it finds for a wrong formula equals, at its point, the reduced rational function of
:class:`ExactCtx`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import sympy

from ._algebra import as_expression
from ._evaluation import evaluate_fractions
from ._gradients import PolicyModel, undiscounted_weights
from ._model import MDP
from ._policies import RationalPolicy

__all__ = ["ExactCtx", "Jet", "JetCtx", "Undefined"]


# -- the identity test: exact evaluation with first derivatives at a point ------------------------


class Undefined(ArithmeticError):
    """A denominator vanishes at the drawn point."""


class Jet:
    """A rational number with its exact first derivatives in z₁, …, zₙ (``d`` None: not tracked)."""

    __slots__ = ("d", "v")

    def __init__(self, v: Fraction, d: tuple | None) -> None:
        self.v = v
        self.d = d

    @staticmethod
    def _of(x: Any) -> Jet:
        return x if isinstance(x, Jet) else Jet(Fraction(x), ())  # () : a constant, zero derivative

    def _combine(self, other: Jet, fa: Fraction, fb: Fraction) -> tuple | None:
        """fa·self' + fb·other'."""
        a, b = self.d, other.d
        if a is None or b is None:
            return None
        if not a:
            return tuple(fb * y for y in b)
        if not b:
            return tuple(fa * x for x in a)
        return tuple(fa * x + fb * y for x, y in zip(a, b, strict=True))

    def __add__(self, other: Any) -> Jet:
        o = self._of(other)
        return Jet(self.v + o.v, self._combine(o, Fraction(1), Fraction(1)))

    __radd__ = __add__

    def __neg__(self) -> Jet:
        return Jet(-self.v, None if self.d is None else tuple(-x for x in self.d))

    def __sub__(self, other: Any) -> Jet:
        return self + (-self._of(other))

    def __rsub__(self, other: Any) -> Jet:
        return self._of(other) - self

    def __mul__(self, other: Any) -> Jet:
        o = self._of(other)
        # (ab)' = b a' + a b'
        return Jet(self.v * o.v, self._combine(o, o.v, self.v))

    __rmul__ = __mul__

    def inverse(self) -> Jet:
        if self.v == 0:
            raise Undefined
        inv = 1 / self.v
        return Jet(inv, None if self.d is None else tuple(-x * inv * inv for x in self.d))

    def __truediv__(self, other: Any) -> Jet:
        return self * self._of(other).inverse()

    def __rtruediv__(self, other: Any) -> Jet:
        return self._of(other) * self.inverse()


def _solve_jets(M: list, b: list) -> list:
    """x with M x = b by Gauss–Jordan elimination on jets (a pivot must be non-zero at the point)."""
    n = len(M)
    rows = [list(M[i]) + [b[i]] for i in range(n)]
    for c in range(n):
        piv = next((i for i in range(c, n) if rows[i][c].v != 0), None)
        if piv is None:
            raise Undefined
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
        raise Undefined  # e.g. a denominator of the model's entries vanished
    return Fraction(int(e.p), int(e.q))


class ExactCtx:
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


class JetCtx:
    """The same quantities as exact rationals, with derivatives in θ of the first policy, at a point.

    ``point`` maps every model symbol, extra symbol and z = exp θ of every policy to a Fraction.
    """

    def __init__(self, mdp: MDP, rps: Sequence[RationalPolicy], point: Mapping[sympy.Symbol, Fraction],
                 ) -> None:
        S, A = mdp.n_states, mdp.n_actions
        self.S, self.A, self.terminal = S, A, mdp.terminal
        self.n = n = len(rps[0].variables)
        zero_d = (Fraction(0),) * n
        self.zero, self.one = Jet(Fraction(0), zero_d), Jet(Fraction(1), zero_d)
        self._sub = {g: sympy.Rational(v.numerator, v.denominator) for g, v in point.items()}
        self._z = [point[z] for z in rps[0].variables]
        self.P = [[[self.lift(mdp.P[s, a, t]) for t in range(S)] for a in range(A)] for s in range(S)]
        self.r = [[self.lift(mdp.r[s, a]) for a in range(A)] for s in range(S)]
        self.gamma = self.lift(mdp.gamma)
        self.rho0 = [self.lift(mdp.rho0[s]) for s in range(S)]
        pis = []
        for which, rp in enumerate(rps):
            zs = [Jet(point[z], tuple(Fraction(int(i == k)) for i in range(n)) if which == 0 else zero_d)
                  for k, z in enumerate(rp.variables)]
            pis.append([[zs[s * A + a] / sum(zs[s * A:(s + 1) * A], self.zero) for a in range(A)]
                        for s in range(S)])
        self.pis = tuple(pis)

    def lift(self, e: Any) -> Jet:
        return Jet(_fraction(as_expression(e).xreplace(self._sub)), (Fraction(0),) * self.n)

    def grad(self, f: Jet) -> list:
        if f.d is None:  # pragma: no cover - the builders differentiate once
            raise RuntimeError("second derivatives are not tracked")
        return [Jet(self._z[k] * f.d[k], None) for k in range(self.n)]  # ∂/∂θ = z ∂/∂z

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
        raise Undefined
