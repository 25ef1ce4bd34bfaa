"""Proofs, not samples: identities of policy-gradient theory decided exactly or with a stated error.

Each function builds both sides of an identity for a given symbolic MDP and policy as rational
functions of the model's symbols and z = exp θ, and decides whether their difference is zero.
The answer is a :class:`~mdpgrad.symbolic.ProofResult`, by one of two routes (``method``): the
expansion in the fraction field ℚ(symbols, z) ("proved"), or the Schwartz–Zippel identity test
("probable", tabular softmax policies, with a stated error probability); a non-zero difference, by
either route, is an exact counterexample.  The routes and the choice between them are described in
``_proof_routes``, the degree bound δ and the error probability in ``_proof_degrees``.

Identities (Sutton et al. 2000; Sutton & Barto 2018, §13.2; Kakade & Langford 2002, Lemma 6.1)::

    theorem           ∂J/∂θₖ = Σ_{s,a} η(s) π(a|s) adv(s,a) ∂log π(a|s)/∂θₖ
    recursion         ∇v(s) = Σ_a ∇π(a|s) q(s,a) + γ Σ_s' P^π(s,s') ∇v(s')
    baseline          Σ_a π(a|s) ∇log π(a|s) b(s) = 0 for every b
    performance diff  J(θ) − J(θ₀) = Σ_s η_θ(s) Σ_a π_θ(a|s) adv_θ₀(s,a)

where ∂J/∂θₖ on the left is the derivative of the closed form J(θ) (in ℚ(symbols, z), or by
forward-mode differentiation of the same exact linear solve in the identity test).

The identities are written once for both arithmetics (``_proof_contexts``): the exact route
expands them in ℚ(symbols, z), the identity test evaluates them at a point with first derivatives.

Identities checked by the tests: the theorem and its companions are proved exactly on the
general 2-state model and accepted by the identity test at 3 states with the stated error bound;
the degree bounds exceed the degrees of the exact 2-state expansion; wrong formulas get
counterexamples whose two sides an independent exact computation reproduces.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import sympy

from .._errors import ValidationError
from .._progress import Progress
from ._model import MDP, exact, validate_symbolic_mdp
from ._policies import Direct, RationalPolicy, validate_symbolic_policy
from ._proof_degrees import ERROR_BITS, softmax_degree
from ._proof_result import ProofResult
from ._proof_routes import MAX_PROOF_SYMBOLS, SAMPLE_BITS, Spec, prove

__all__ = [
    "prove_baseline_identity",
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
    spec = Spec(mdp, [(policy, th)], lambda ctx: _theorem_items(ctx, labels, visits, values),
                softmax_degree(mdp, policy, "theorem", visits=visits))
    return prove(spec, method=method, max_symbols=max_symbols, exact_budget=exact_budget,
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
    spec = Spec(mdp, [(policy, th)], lambda ctx: _recursion_items(ctx, labels),
                softmax_degree(mdp, policy, "recursion"))
    return prove(spec, method=method, max_symbols=max_symbols, exact_budget=exact_budget,
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
    spec = Spec(mdp, [(policy, th)], lambda ctx: _baseline_items(ctx, labels, b_exprs),
                softmax_degree(mdp, policy, "baseline", b_exprs, extra), extra)
    return prove(spec, method=method, max_symbols=max_symbols, exact_budget=exact_budget,
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
    spec = Spec(mdp, [(policy, th), (policy, th0)], _difference_items,
                softmax_degree(mdp, policy, "performance difference"))
    return prove(spec, method=method, max_symbols=max_symbols, exact_budget=exact_budget,
                 error_bits=error_bits, sample_bits=sample_bits, precheck=precheck, rng=rng,
                 progress=progress)
