"""Exact second moments of one episode's gradient estimate, by first-step analysis on the states.

What it computes
----------------
For the REINFORCE family (Williams 1992; Sutton & Barto 2018, §13.3–13.4) the
mean E[ĝ], the second moment E[ĝĝᵀ] and the covariance of one episode's
estimate, as exact sympy matrices of the model's numbers and symbols:

* ``"reinforce"``: ĝ = Σₜ dᵗ ψₜ Gₜ, ψₜ = ∇log π(aₜ|sₜ), Gₜ = Σ_{k≥t} d^{k−t} rₖ;
* ``"without_discount"``: ĝ = Σₜ ψₜ Gₜ (the γᵗ dropped, Nota & Thomas 2020);
* ``"baseline"``: ĝ = Σₜ dᵗ ψₜ (Gₜ − b(sₜ)) for a fixed table b;
* ``"whole_return"``: ĝ = G₀ Σₜ ψₜ.

d is γ under the "terminal" and "horizon" protocols and 1 under "geometric",
whose stop (probability 1 − γ after each step) carries the discount.

Derivation (an independent route from the pair-chain resolvents of
:mod:`mdpgrad.estimators._moments`)
-----------------------------------------------------------------------------
Write the estimate of the episode that starts in s as a function of a few
*tail variables*, each an affine function of the same variables of the episode
that starts one step later (primed, zero once the episode has stopped).  For
the to-go kinds, with β = b(s), ρ = r(s, a) and ψ = ψ(s, a):

    Y = ρ + dY',   G = ψ(ρ − β + dY') + wG'           (ĝ = G, w = d or 1);

for the whole return, with Z = Σₜ wᵗψₜ, B = Σₜ wᵗ b(sₜ)ψₜ (w = 1):

    Y = ρ + dY',   Z = ψ + wZ',   B = βψ + wB'         (ĝ = ZY − B).

Every component is a scalar variable X = c(s, a) + Σⱼ C(s, a) Xⱼ'.  For a
monomial M = X₁⋯Xₘ (m ≤ 4), expanding the product over the choices of one term
per factor and conditioning on the first step (s, a, s') gives (first-step
analysis; Kemeny & Snell 1960, §3.2; Sobel 1982 for M = Y²)

    E[M | s] = Σₐ π(a|s) [ Σ_choices coef(s, a) · Σ_{s'} q(s'|s, a) E[M_choice | s'] ]

with q(s'|s, a) = c·P(s'|s, a)·1[s' not terminal] (c = γ under "geometric", else
1) and E[empty monomial] = 1 taken without q (the first step is certain).  The
choice that reproduces M itself gives the linear system (I − Λ_M) m_M = rhs over
the S states, solved exactly in sympy's field of rational functions; every
other choice is a monomial of lower degree or lower in the order Y < G, so the
recursion terminates.  Under "horizon" the same equations are iterated H times
from m = 0 (the tail after the last allowed step is empty), with no solve.
Finally E[ĝ ĝᵀ] = Σ_s ρ₀(s) E[ĝ ĝᵀ | s] over the non-terminal s.

The tests check this against :func:`mdpgrad.estimators.estimator_moments` on
the float copy of a two-state model, against the sum over every episode of an
acyclic model of p·ĝĝᵀ, and against the one-decision bandit Var ĝ = 1/16.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import sympy
from sympy import ImmutableMatrix
from sympy.polys.matrices import DomainMatrix
from sympy.polys.matrices.exceptions import DMNonInvertibleMatrixError

from .._errors import NonTerminatingPolicyError, ValidationError
from .._validation import check_choice, check_integer
from ._algebra import RationalSpace, as_expression, dataclass_repr
from ._evaluation import model_exprs
from ._model import MDP, check_symbolic_size, exact_matrix, validate_symbolic_mdp
from ._policies import check_policy_actions, validate_symbolic_policy

__all__ = ["EstimatorMoments", "estimator_moments"]

KINDS = ("reinforce", "without_discount", "baseline", "whole_return")
PROTOCOLS = ("auto", "terminal", "geometric", "horizon")


@dataclass(frozen=True)
class EstimatorMoments:
    """The exact first and second moments of one episode's estimate ĝ, as sympy matrices.

    Attributes
    ----------
    mean : ImmutableMatrix, shape param_shape
        E[ĝ].
    second_moment : ImmutableMatrix, shape (d, d)
        E[ĝ ĝᵀ], d = number of parameters, θ flattened in row-major order.
    covariance : ImmutableMatrix, shape (d, d)
        E[ĝ ĝᵀ] − E[ĝ] E[ĝ]ᵀ.
    kind : str
    protocol : {"terminal", "geometric", "horizon"}
    horizon : int or None
    """

    mean: ImmutableMatrix
    second_moment: ImmutableMatrix
    covariance: ImmutableMatrix
    kind: str
    protocol: str
    horizon: int | None

    __repr__ = dataclass_repr

    def __str__(self) -> str:
        """One line: what the moments are of."""
        d = self.second_moment.shape[0]
        h = f", horizon {self.horizon}" if self.horizon is not None else ""
        return (f"EstimatorMoments: exact E[ĝ] and Cov[ĝ] of one episode's {self.kind!r} estimate "
                f"({d} parameters, protocol {self.protocol!r}{h})")

    @property
    def total_variance(self) -> sympy.Expr:
        """tr Cov[ĝ]."""
        return sympy.cancel(self.covariance.trace())


# -- the policy at θ: π and the scores as field elements ----------------------------------------

def _policy_at(policy: Any, theta: ImmutableMatrix, model_syms: set
               ) -> tuple[list, dict, ImmutableMatrix, list]:
    """π and ψ = ∇log π at θ as expressions in the generators still needed, and their back-map.

    Returns the extra generators, the back-substitution {generator: expression of θ}, π as an (S, A)
    matrix of expressions and ψ as nested lists [s][a][k] of expressions.
    """
    rows, cols = theta.shape
    clash = set().union(*[e.free_symbols for e in theta]) & model_syms
    if clash:
        raise ValidationError(f"the symbols {sorted(map(str, clash))} appear both in the model and in theta",
                              argument="theta", value=sorted(map(str, clash)))
    dummies = ImmutableMatrix(rows, cols, [sympy.Dummy(f"t{i}", real=True) for i in range(rows * cols)])
    rp = policy.rational(dummies)
    if set(rp.variables) & model_syms:
        raise ValidationError(f"the model uses the names {sorted(map(str, set(rp.variables) & model_syms))} "
                              "reserved for exp(theta)", argument="mdp")
    point: dict = {}
    back: dict = {}
    gens: list = []
    for v, value in zip(rp.variables, list(theta), strict=True):
        target = sympy.exp(value) if v in rp.exp_of else value
        if isinstance(target, sympy.Rational):
            point[v] = target
        else:
            gens.append(v)
            back[v] = target
    S, A = rp.pi.shape
    pi = ImmutableMatrix(S, A, lambda s, a: sympy.cancel(rp.pi[s, a].subs(point)))
    for s in range(S):
        for a in range(A):
            p = pi[s, a]
            if p.is_number and p.is_negative:
                raise ValidationError(f"pi[{s}, {a}] is {p} at this theta; expected a probability",
                                      argument="theta", index=(s, a), value=p)
    psi = []
    for s in range(S):
        row = []
        for a in range(A):
            p = rp.pi[s, a]
            if pi[s, a] == 0:          # never taken: its score never enters an episode
                row.append([sympy.Integer(0)] * len(rp.variables))
                continue
            grads = []
            for v in rp.variables:
                dp = sympy.diff(p, v) * (v if v in rp.exp_of else 1)
                grads.append(sympy.cancel((dp / p).subs(point)))
            row.append(grads)
        psi.append(row)
    return gens, back, pi, psi


# -- the first-step recursion ---------------------------------------------------------------------

class _Moments:
    """E[M | s] for monomials M of tail variables, memoised, in the field ``K``."""

    def __init__(self, K: Any, S: int, A: int, pi: list, q: list, keep: list, terms: Any,
                 horizon: int | None) -> None:
        self.K, self.S, self.A = K, S, A
        self.pi, self.q, self.keep = pi, q, keep
        self.terms = terms                 # terms(var, s, a) -> (const, [(coef, var'), ...])
        self.horizon = horizon
        self.memo: dict = {}
        self.inverses: dict = {}

    def _expand(self, M: tuple, s: int, a: int) -> tuple[Any, dict]:
        """(certain part, {tail monomial: coefficient}) of M from the step (s, a)."""
        K = self.K
        options = []
        for var in M:
            const, lin = self.terms(var, s, a)
            options.append([(const, None)] + list(lin))
        certain = K.zero
        tails: dict = {}
        for choice in itertools.product(*options):
            coef = K.one
            tail = []
            for c, v in choice:
                coef = coef * c
                if v is not None:
                    tail.append(v)
            if coef == 0:
                continue
            if not tail:
                certain += coef
            else:
                key = tuple(sorted(tail))
                tails[key] = tails.get(key, K.zero) + coef
        return certain, tails

    def _qsum(self, f: list, s: int, a: int) -> Any:
        return sum((self.q[s][a][t] * f[t] for t in range(self.S)), self.K.zero)

    def get(self, M: tuple, h: int | None = None) -> list:
        """[E[M | s] for each s] (h steps left under "horizon")."""
        key = (M, h)
        if key in self.memo:
            return self.memo[key]
        K, S, A = self.K, self.S, self.A
        if h == 0:
            out = [K.zero] * S
            self.memo[key] = out
            return out
        if h is not None:
            out = []
            for s in range(S):
                total = K.zero
                if self.keep[s]:
                    for a in range(A):
                        certain, tails = self._expand(M, s, a)
                        inner = certain + sum((c * self._qsum(self.get(T, h - 1), s, a)
                                               for T, c in tails.items()), K.zero)
                        total += self.pi[s][a] * inner
                out.append(total)
            self.memo[key] = out
            return out
        rhs = []
        lam = [[K.zero] * S for _ in range(S)]
        for s in range(S):
            total = K.zero
            if self.keep[s]:
                for a in range(A):
                    certain, tails = self._expand(M, s, a)
                    inner = certain
                    for T, c in tails.items():
                        if T == M:
                            for t in range(S):
                                lam[s][t] += self.pi[s][a] * c * self.q[s][a][t]
                        else:
                            inner += c * self._qsum(self.get(T), s, a)
                    total += self.pi[s][a] * inner
            rhs.append(total)
        out = self._solve(lam, rhs)
        self.memo[key] = out
        return out

    def _solve(self, lam: list, rhs: list) -> list:
        K, S = self.K, self.S
        key = tuple(tuple(row) for row in lam)
        if key not in self.inverses:
            dom = K.to_domain()
            rows = [[(K.one if s == t else K.zero) - lam[s][t] for t in range(S)] for s in range(S)]
            M = DomainMatrix(rows, (S, S), dom)
            try:
                self.inverses[key] = M.inv()
            except (DMNonInvertibleMatrixError, ZeroDivisionError):
                raise NonTerminatingPolicyError(
                    "the first-step system is singular: with γ = 1 the policy does not reach a terminal "
                    "state from every state, so the episode's moments do not exist", argument="theta"
                ) from None
        dom = K.to_domain()
        x = self.inverses[key] * DomainMatrix([[v] for v in rhs], (S, 1), dom)
        return [x[i, 0].element for i in range(S)]


def estimator_moments(mdp: MDP, policy: Any, theta: Any, kind: str = "reinforce", *, baseline: Any = None,
                      protocol: str = "auto", horizon: int | None = None) -> EstimatorMoments:
    """The exact mean, second moment and covariance of one episode's estimate ĝ.

    The symbolic mirror of :func:`mdpgrad.estimators.estimator_moments`, by an
    independent derivation (first-step analysis on the states, see the module
    notes).

    Parameters
    ----------
    mdp : mdpgrad.symbolic.MDP
    policy : TabularSoftmax, LogLinear or Direct (symbolic)
    theta : table, shape policy.param_shape
        Exact numbers or symbols (``policy.symbols()`` gives ĝ's moments as
        functions of θ); entries whose exp (softmax, log-linear) or value (direct)
        is rational keep the result rational.
    kind : {"reinforce", "without_discount", "baseline", "whole_return"}
    baseline : table, shape (S,), optional
        b(s) for ``kind="baseline"`` (required there, refused otherwise).
    protocol : {"auto", "terminal", "geometric", "horizon"}
        As for :func:`mdpgrad.sample`; "auto" is "terminal" when the model has
        terminal states, else "geometric".
    horizon : int, optional
        H for ``protocol="horizon"``.

    Returns
    -------
    EstimatorMoments

    Raises
    ------
    ValidationError
        For a numeric model, floats, strings, unknown kinds and protocols, a
        missing or superfluous baseline, and tables above the symbolic size limit.

    Examples
    --------
    One decision between rewards 0 and 1 under π = (½, ½): ĝ[0] = (−½, ½)
    with probability ½ and 0 otherwise, so Var ĝ[0, 0] = ½·¼ − (¼)² = 1/16.

    >>> from mdpgrad.symbolic import estimator_moments, MDP, TabularSoftmax
    >>> mdp = MDP([[[0, 1], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], 1, rho0=[1, 0],
    ...           terminal=[False, True])
    >>> mom = estimator_moments(mdp, TabularSoftmax(2, 2), [[0, 0], [0, 0]])
    >>> mom.mean.tolist()[0], mom.covariance[0, 0], mom.covariance[0, 1]
    ([-1/4, 1/4], 1/16, -1/16)
    """
    mdp = validate_symbolic_mdp(mdp)
    policy = validate_symbolic_policy(policy)
    kind = check_choice(kind, "kind", KINDS)
    protocol = check_choice(protocol, "protocol", PROTOCOLS)
    S, A = mdp.n_states, mdp.n_actions
    if (policy.n_states, policy.n_actions) != (S, A):
        raise ValidationError(f"policy has {policy.n_states} states and {policy.n_actions} actions; the mdp "
                              f"has {S} and {A}", argument="policy",
                              value=(policy.n_states, policy.n_actions))
    check_policy_actions(policy, mdp.actions)
    theta_m = exact_matrix(theta, "theta", policy.param_shape)
    resolved = ("terminal" if any(mdp.terminal) else "geometric") if protocol == "auto" else protocol
    H: int | None = None
    if resolved == "horizon":
        H = check_integer(horizon, "horizon", min_value=1)
    elif horizon is not None:
        raise ValidationError(f"horizon is {horizon!r} but protocol is {resolved!r}; horizon is only used by "
                              "protocol 'horizon'", argument="horizon", value=horizon)
    if resolved == "terminal" and not any(mdp.terminal):
        raise ValidationError("protocol 'terminal' needs terminal states; use 'horizon' or 'geometric'",
                              argument="protocol", value=resolved)
    if kind == "baseline":
        if baseline is None:
            raise ValidationError("kind 'baseline' needs a baseline table b of shape (S,)",
                                  argument="baseline")
        b = list(exact_matrix(baseline, "baseline", (S, 1)))
    elif baseline is not None:
        raise ValidationError(f"a baseline is only used by kind 'baseline', not {kind!r}",
                              argument="baseline", value=kind)
    else:
        b = [sympy.Integer(0)] * S
    d_params = len(list(theta_m))
    check_symbolic_size(S * d_params * d_params * (H or 1), "the exact second moment's tables", "mdp")

    model_syms = set().union(*[as_expression(e).free_symbols for e in model_exprs(mdp)])
    model_syms |= set().union(*[e.free_symbols for e in b])
    extra, back, pi_e, psi_e = _policy_at(policy, theta_m, model_syms)
    gens = sorted(model_syms, key=sympy.default_sort_key) + extra
    space = RationalSpace(gens)
    K = space.field
    pi = [[space(pi_e[s, a]) for a in range(A)] for s in range(S)]
    psi = [[[space(x) for x in psi_e[s][a]] for a in range(A)] for s in range(S)]
    rho = [[space(mdp.r[s, a]) for a in range(A)] for s in range(S)]
    beta = [space(x) for x in b]
    gamma = space(mdp.gamma)
    keep = [not t for t in mdp.terminal]
    c = gamma if resolved == "geometric" else K.one
    d = K.one if resolved == "geometric" else gamma
    q = [[[c * space(mdp.P[s, a, t]) if keep[t] else K.zero for t in range(S)] for a in range(A)]
         for s in range(S)]
    w = d if kind in ("reinforce", "baseline") else K.one

    def terms(var: tuple, s: int, a: int) -> tuple[Any, list]:
        name = var[0]
        if name == "Y":
            return rho[s][a], [(d, ("Y",))]
        k = var[1]
        if name == "G":
            return psi[s][a][k] * (rho[s][a] - beta[s]), [(d * psi[s][a][k], ("Y",)), (w, var)]
        if name == "Z":
            return psi[s][a][k], [(w, var)]
        return beta[s] * psi[s][a][k], [(w, var)]     # "B"

    eng = _Moments(K, S, A, pi, q, keep, terms, H)
    rho0 = [space(mdp.rho0[s]) if keep[s] else K.zero for s in range(S)]

    def expect(M: tuple) -> Any:
        return sum((r0 * m for r0, m in zip(rho0, eng.get(tuple(sorted(M)), H), strict=True)), K.zero)

    n = d_params
    if kind == "whole_return":
        mean = [expect((("Z", i), ("Y",))) - expect((("B", i),)) for i in range(n)]

        def second(i: int, j: int) -> Any:
            return (expect((("Z", i), ("Z", j), ("Y",), ("Y",))) - expect((("Z", i), ("Y",), ("B", j)))
                    - expect((("B", i), ("Z", j), ("Y",))) + expect((("B", i), ("B", j))))
    else:
        mean = [expect((("G", i),)) for i in range(n)]

        def second(i: int, j: int) -> Any:
            return expect((("G", i), ("G", j)))

    sm = [[second(i, j) if j >= i else None for j in range(n)] for i in range(n)]

    def out(x: Any) -> sympy.Expr:
        e = space.to_expr(x, back=False)
        return e.xreplace(back) if back else e

    second_m = ImmutableMatrix(n, n, lambda i, j: out(sm[min(i, j)][max(i, j)]))
    cov = ImmutableMatrix(n, n, lambda i, j: out(sm[min(i, j)][max(i, j)] - mean[i] * mean[j]))
    rows, cols = policy.param_shape
    return EstimatorMoments(mean=ImmutableMatrix(rows, cols, [out(x) for x in mean]), second_moment=second_m,
                            covariance=cov, kind=kind, protocol=resolved, horizon=H)
