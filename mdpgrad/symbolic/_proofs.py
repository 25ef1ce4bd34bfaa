"""Proofs, not samples: identities of policy-gradient theory decided exactly.

Each function builds both sides of an identity for a given symbolic MDP and
policy as rational functions of the model's symbols and z = exp θ, subtracts
them and decides whether the difference is the zero element of ℚ(symbols)
(a reduced quotient is zero exactly when its numerator is the zero polynomial).
The answer is a :class:`ProofResult`: ``"proved"`` for every value of the
symbols, or ``"counterexample"`` with an exact point and the non-zero value of
the difference there, never a bare False.

Identities (Sutton et al. 2000; Sutton & Barto 2018, §13.2; Kakade & Langford
2002, Lemma 6.1)::

    theorem           ∂J/∂θₖ = Σ_{s,a} η(s) π(a|s) adv(s,a) ∂log π(a|s)/∂θₖ
    recursion         ∇v(s) = Σ_a ∇π(a|s) q(s,a) + γ Σ_s' P^π(s,s') ∇v(s')
    baseline          Σ_a π(a|s) ∇log π(a|s) b(s) = 0 for every b
    performance diff  J(θ) − J(θ₀) = Σ_s η_θ(s) Σ_a π_θ(a|s) adv_θ₀(s,a)

where ∂J/∂θₖ on the left is sympy's derivative of the closed form J(θ).

Cheap first check (``precheck=True``, the default): when the model has symbols,
the identity is first decided with those symbols replaced by a random exact
point of (0, 1/(S+1)) and only θ symbolic.  A non-zero difference there is
already a counterexample to the general statement (Schwartz–Zippel: a non-zero
rational function rarely vanishes at a random point), found in a fraction of
the time; a zero there proves nothing, and the full proof follows.

Identity checked by the tests: the theorem is proved on the general 2-state,
2-action MDP, and the same statement with γᵗ dropped or 1/(1−γ) misplaced gets a
counterexample whose value agrees with the numeric toolkit at that point.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import sympy

from .._errors import ValidationError
from .._validation import check_integer
from ._algebra import RationalSpace, find_nonzero_point, space_for
from ._evaluation import evaluate_fractions
from ._gradients import PolicyModel, lift_policies, undiscounted_weights
from ._model import MDP, exact, exact_matrix, validate_symbolic_mdp
from ._policies import Direct, validate_symbolic_policy

__all__ = [
    "ProofResult",
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
    """The outcome of an exact proof attempt.

    Attributes
    ----------
    statement : str
        The identity, in Unicode.
    status : str
        ``"proved"`` (holds for all values of the symbols) or ``"counterexample"``.
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
    """

    statement: str
    status: str
    n_identities: int
    label: str | None = None
    point: dict | None = field(default=None)
    value: sympy.Expr | None = None
    lhs: sympy.Expr | None = None
    rhs: sympy.Expr | None = None

    @property
    def holds(self) -> bool:
        """The identity holds for all values of the symbols."""
        return self.status == "proved"

    def __bool__(self) -> bool:
        return self.holds

    def __str__(self) -> str:
        if self.holds:
            return f"proved: {self.statement} ({self.n_identities} identities, for all values of the symbols)"
        pt = ", ".join(f"{k} = {v}" for k, v in (self.point or {}).items()) or "every point (no symbols)"
        return (f"counterexample to {self.statement}: {self.label} differs by {self.value} "
                f"(lhs {self.lhs}, rhs {self.rhs}) at {pt}")

    def latex(self) -> str:
        """LaTeX of the verdict: the point and the non-zero difference, or 'proved'."""
        if self.holds:
            return r"\text{proved: " + self.statement + "}"
        pt = ", ".join(f"{sympy.latex(k)} = {sympy.latex(v)}" for k, v in (self.point or {}).items())
        return rf"\text{{{self.label}}}:\ \mathrm{{lhs}} - \mathrm{{rhs}} = {sympy.latex(self.value)}" \
               rf"\ \text{{at}}\ {pt}"


def decide(space: RationalSpace, items: Sequence[tuple[str, Any, Any]], statement: str, *,
           accept: Callable[[dict], bool] | None = None, rng: int | random.Random = 0) -> ProofResult:
    """Decide every (label, lhs, rhs) of field elements; the first non-zero difference gets a point."""
    for label, lhs, rhs in items:
        diff = lhs - rhs
        if diff != 0:
            cex = find_nonzero_point(space, diff, guards=[lhs, rhs], accept=accept, rng=rng)
            lv, rv = space.evaluate_defined(lhs, cex.raw), space.evaluate_defined(rhs, cex.raw)
            return ProofResult(statement, "counterexample", len(items), label, cex.point, cex.value,
                               sympy.Rational(lv.numerator, lv.denominator),
                               sympy.Rational(rv.numerator, rv.denominator))
    return ProofResult(statement, "proved", len(items))


def _accept_for(pm: PolicyModel, mdp: MDP) -> Callable[[dict], bool]:
    syms = mdp.free_symbols

    def accept(point: dict) -> bool:
        vals = {g: sympy.Rational(v.numerator, v.denominator) for g, v in point.items() if g in syms}
        try:
            mdp.subs(vals)
        except ValidationError:
            return False
        return True

    return accept


#: The exact proofs refuse models with more symbols than this (see ``max_symbols``): the fully
#: symbolic 2-state, 2-action model has 10 and proves in 0.3 s; the 3-state one has 21 and the
#: expansion in the fraction field ran past 15 minutes.
MAX_PROOF_SYMBOLS = 16


def _prechecked(fn: Callable[..., ProofResult]) -> Callable[..., ProofResult]:
    """Decide first on a random exact specialisation of the model's symbols (see module notes).

    A counterexample found there is returned at once, whatever the size of the model; otherwise
    the exact proof runs when the model has at most ``max_symbols`` symbols.
    """

    @functools.wraps(fn)
    def wrapper(mdp: MDP, *args: Any, precheck: bool = True, max_symbols: int | None = MAX_PROOF_SYMBOLS,
                **kwargs: Any) -> ProofResult:
        syms = sorted(validate_symbolic_mdp(mdp).free_symbols, key=sympy.default_sort_key)
        if args:
            validate_symbolic_policy(args[0])
        elif "policy" in kwargs:
            validate_symbolic_policy(kwargs["policy"])
        if max_symbols is not None:
            max_symbols = check_integer(max_symbols, "max_symbols", min_value=0)
        if precheck and syms:
            source = kwargs.get("rng", 0)
            rng = source if isinstance(source, random.Random) else random.Random(
                check_integer(source, "rng", min_value=0))
            scale = (mdp.n_states + 1) * 10  # small denominators keep the reported point readable
            for _ in range(20):
                vals = {g: sympy.Rational(rng.randint(1, 9), scale) for g in syms}
                try:
                    special = mdp.subs(vals)
                except ValidationError:
                    continue
                quick = fn(special, *args, **kwargs)
                if not quick.holds:
                    return replace(quick, point={**vals, **(quick.point or {})})
                break
        if max_symbols is not None and len(syms) > max_symbols:
            raise ValidationError(
                f"the model has {len(syms)} symbols, above max_symbols={max_symbols}: the exact proof "
                "expands rational functions whose size grows exponentially with the number of symbols "
                "(a fully symbolic 2x2 model, 10 symbols, takes 0.3 s; 3x2, 21 symbols, did not finish "
                "in 15 minutes). It held at a random exact point. Substitute values for some symbols "
                "(mdp.subs), or pass max_symbols=None to try anyway", argument="mdp", value=len(syms))
        return fn(mdp, *args, **kwargs)

    return wrapper


def _default_theta(policy: Any, theta: Any, name: str | None = None) -> Any:
    if theta is not None:
        return theta
    if name is None:
        return policy.symbols()
    return policy.symbols("varpi" if isinstance(policy, Direct) else name)


def _labels(pm: PolicyModel, which: int = 0) -> list[str]:
    return [f"∂/∂{t}" for t in pm.policies[which].params]


@_prechecked
def prove_policy_gradient_theorem(mdp: MDP, policy: Any, theta: Any = None, *,
                                  visits: str = "discounted", values: str = "advantage",
                                  rng: int | random.Random = 0) -> ProofResult:
    """Prove ∂J/∂θₖ = Σ_{s,a} w(s) π(a|s) adv(s,a) ∂log π(a|s)/∂θₖ for every k, exactly.

    The left side is sympy's derivative of the closed form J(θ) = ρ₀ᵀ(I − γP^π)⁻¹r^π;
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
    rng : int or random.Random
        Source of the random exact points of the counterexample search (an int seeds one).

    Returns
    -------
    ProofResult

    Examples
    --------
    >>> from mdpgrad.symbolic import general_mdp
    >>> from mdpgrad.symbolic import TabularSoftmax
    >>> mdp, pol = general_mdp(2, 2), TabularSoftmax(2, 2)
    >>> prove_policy_gradient_theorem(mdp, pol).status
    'proved'
    >>> prove_policy_gradient_theorem(mdp, pol, visits="normalised").status
    'counterexample'
    """
    if visits not in VISITS:
        raise ValidationError(f"visits is {visits!r}; expected one of {sorted(VISITS)}",
                              argument="visits", value=visits)
    if values not in ("advantage", "q"):
        raise ValidationError(f"values is {values!r}; expected 'advantage' or 'q'", argument="values",
                              value=values)
    pm = lift_policies(mdp, [(policy, _default_theta(policy, theta))])
    ev = evaluate_fractions(pm.F)
    K = pm.space.field
    eta = ev["eta"]
    if visits == "discounted":
        w = eta
    elif visits == "normalised":
        total = sum(eta, K.zero)
        w = [e / total for e in eta]
    elif visits == "undiscounted":
        if not any(pm.F.terminal):
            raise ValidationError("visits='undiscounted' needs an episodic MDP (terminal states)",
                                  argument="visits", value=visits)
        w = undiscounted_weights(pm, ev, "undiscounted")
    else:
        total = sum(eta, K.zero)
        w = [total * d for d in undiscounted_weights(pm, ev, "stationary")]
    pi = pm.pis[0]
    val = ev["advantage"] if values == "advantage" else ev["q"]
    S, A = pm.F.S, pm.F.A
    # π · adv · ∇log π with ∇log π = ∇π / π, kept in that form
    glog = {(s, a): [g / pi[s][a] for g in pm.grad(pi[s][a])] for s in range(S) for a in range(A)}
    lhs = pm.grad(ev["J"])
    items = []
    for k, label in enumerate(_labels(pm)):
        rhs = K.zero
        for s in range(S):
            rhs += w[s] * sum((pi[s][a] * val[s][a] * glog[s, a][k] for a in range(A)), K.zero)
        items.append((label, lhs[k], rhs))
    name = {"advantage": "adv", "q": "q"}[values]
    wname = {"discounted": "η(s)", "normalised": "d(s)", "undiscounted": "η̃(s)",
             "stationary": "d_π(s)/(1−γ)"}[visits]
    statement = f"∇J = Σ_s,a {wname} π(a|s) {name}(s,a) ∇log π(a|s)"
    return decide(pm.space, items, statement, accept=_accept_for(pm, mdp), rng=rng)


@_prechecked
def prove_recursion_form(mdp: MDP, policy: Any, theta: Any = None, *,
                         rng: int | random.Random = 0) -> ProofResult:
    """Prove the recursion ∇v = Σ_a ∇π q + γ P^π ∇v and ∇J = ρ₀ᵀ(I − γP^π)⁻¹ Σ_a ∇π q.

    ∇v is sympy's derivative of the closed form v(θ); the second identity's
    right side is ηᵀ g with g(s) = Σ_a ∇π(a|s) q(s, a) (Sutton & Barto 2018, §13.2).

    >>> from mdpgrad.symbolic import general_mdp
    >>> from mdpgrad.symbolic import TabularSoftmax
    >>> prove_recursion_form(general_mdp(2, 2), TabularSoftmax(2, 2)).status
    'proved'
    """
    pm = lift_policies(mdp, [(policy, _default_theta(policy, theta))])
    ev = evaluate_fractions(pm.F)
    K = pm.space.field
    S, A = pm.F.S, pm.F.A
    pi, q, P_pi, gamma = pm.pis[0], ev["q"], ev["P_pi"], pm.F.gamma
    dv = [pm.grad(ev["v"][s]) for s in range(S)]
    dJ = pm.grad(ev["J"])
    g = [[sum((pm.grad(pi[s][a])[k] * q[s][a] for a in range(A)), K.zero) for k in range(len(dJ))]
         for s in range(S)]
    items = []
    labels = _labels(pm)
    for k, label in enumerate(labels):
        for s in range(S):
            if pm.F.terminal[s]:
                continue
            rhs = g[s][k] + gamma * sum((P_pi[s][t] * dv[t][k] for t in range(S) if not pm.F.terminal[t]),
                                        K.zero)
            items.append((f"{label} v({s})", dv[s][k], rhs))
        items.append((f"{label} J", dJ[k], sum((ev["eta"][s] * g[s][k] for s in range(S)), K.zero)))
    statement = "∇v = Σ_a ∇π q + γ P^π ∇v and ∇J = ρ₀ᵀ(I − γP^π)⁻¹ Σ_a ∇π q"
    return decide(pm.space, items, statement, accept=_accept_for(pm, mdp), rng=rng)


@_prechecked
def prove_baseline_identity(mdp: MDP, policy: Any, theta: Any = None, baseline: Any = None, *,
                            rng: int | random.Random = 0) -> ProofResult:
    """Prove Σ_a π ∇log π b(s) = 0 and ∇J = Σ η π (q − b) ∇log π for a symbolic baseline b.

    Parameters
    ----------
    baseline : sequence of expressions, shape (S,), optional
        Default: one symbol ``b{s}`` per state (so the identity holds for every b).

    >>> from mdpgrad.symbolic import general_mdp
    >>> from mdpgrad.symbolic import TabularSoftmax
    >>> prove_baseline_identity(general_mdp(2, 2), TabularSoftmax(2, 2)).status
    'proved'
    """
    S, A = mdp.n_states, mdp.n_actions
    if baseline is None:
        b_exprs = [sympy.Symbol(f"b{s}") for s in range(S)]
    else:
        b_exprs = [exact(x, "baseline", (i,)) for i, x in enumerate(baseline)]
        if len(b_exprs) != S:
            raise ValidationError(f"baseline has length {len(b_exprs)}; expected {S}", argument="baseline",
                                  value=len(b_exprs))
    extra = sorted(set().union(*[e.free_symbols for e in b_exprs]), key=sympy.default_sort_key)
    pm = lift_policies(mdp, [(policy, _default_theta(policy, theta))], extra_symbols=extra)
    ev = evaluate_fractions(pm.F)
    K = pm.space.field
    b = [pm.space(e) for e in b_exprs]
    pi, q, eta = pm.pis[0], ev["q"], ev["eta"]
    glog = {(s, a): [g / pi[s][a] for g in pm.grad(pi[s][a])] for s in range(S) for a in range(A)}
    dJ = pm.grad(ev["J"])
    items = []
    for k, label in enumerate(_labels(pm)):
        for s in range(S):
            items.append((f"{label} state {s}", sum((pi[s][a] * glog[s, a][k] * b[s] for a in range(A)),
                                                    K.zero), K.zero))
        rhs = sum((eta[s] * pi[s][a] * (q[s][a] - b[s]) * glog[s, a][k] for s in range(S) for a in range(A)),
                  K.zero)
        items.append((f"{label} J", dJ[k], rhs))
    statement = "Σ_a π ∇log π b(s) = 0 and ∇J = Σ η π (q − b) ∇log π"
    return decide(pm.space, items, statement, accept=_accept_for(pm, mdp), rng=rng)


@_prechecked
def prove_performance_difference(mdp: MDP, policy: Any, theta: Any = None, theta0: Any = None, *,
                                 rng: int | random.Random = 0) -> ProofResult:
    """Prove J(θ) − J(θ₀) = Σ_s η_θ(s) Σ_a π_θ(a|s) adv_θ₀(s,a) for symbolic θ and θ₀.

    Kakade & Langford (2002), Lemma 6.1, in its unnormalised form (visits η, not d).
    θ₀ defaults to ``policy.symbols("vartheta")``.

    >>> from mdpgrad.symbolic import general_mdp
    >>> from mdpgrad.symbolic import TabularSoftmax
    >>> prove_performance_difference(general_mdp(2, 2), TabularSoftmax(2, 2)).status
    'proved'
    """
    th = _default_theta(policy, theta)
    th0 = _default_theta(policy, theta0, "vartheta")
    pm = lift_policies(mdp, [(policy, th), (policy, th0)])
    ev = evaluate_fractions(pm.F, pm.pis[0])
    ev0 = evaluate_fractions(pm.F, pm.pis[1])
    K = pm.space.field
    S, A = pm.F.S, pm.F.A
    rhs = sum((ev["eta"][s] * pm.pis[0][s][a] * ev0["advantage"][s][a] for s in range(S) for a in range(A)),
              K.zero)
    statement = "J(θ) − J(θ₀) = Σ_s η_θ(s) Σ_a π_θ(a|s) adv_θ₀(s,a)"
    return decide(pm.space, [("J(θ) − J(θ₀)", ev["J"] - ev0["J"], rhs)], statement,
                  accept=_accept_for(pm, mdp), rng=rng)


def prove_equal(lhs: Any, rhs: Any, *, statement: str = "lhs = rhs",
                rng: int | random.Random = 0) -> ProofResult:
    """Decide lhs = rhs for expressions or matrices that are rational in symbols and exp-atoms.

    >>> x = sympy.Symbol("x")
    >>> prove_equal((x**2 - 1) / (x - 1), x + 1).status
    'proved'
    >>> prove_equal(sympy.exp(x) / (1 + sympy.exp(x)), 1 / (1 + sympy.exp(-x))).status
    'proved'
    >>> r = prove_equal(sympy.exp(x) / (1 + sympy.exp(x)), 1 / (1 + sympy.exp(x)))
    >>> r.status, r.value != 0
    ('counterexample', True)
    """
    L = exact_matrix(lhs if isinstance(lhs, (sympy.MatrixBase, list, tuple, np.ndarray)) else [[lhs]], "lhs")
    R = exact_matrix(rhs if isinstance(rhs, (sympy.MatrixBase, list, tuple, np.ndarray)) else [[rhs]], "rhs")
    if L.shape != R.shape:
        raise ValidationError(f"lhs has shape {L.shape} and rhs {R.shape}", argument="rhs", value=R.shape)
    space, exprs = space_for(list(L) + list(R))
    n = len(L)
    items = [(f"entry {divmod(i, L.shape[1])}", space(exprs[i]), space(exprs[n + i])) for i in range(n)]
    return decide(space, items, statement, rng=rng)
