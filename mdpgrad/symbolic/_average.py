"""The average-reward criterion, exactly: gain, bias, differential q, and the continuing-case theorem.

For a unichain policy (Puterman 1994, §8.2; Sutton & Barto 2018, §10.3), in the field of
rational functions of the model's symbols and z = exp θ::

    d_πᵀ (I − P^π) = 0, Σ d_π = 1        stationary distribution
    ρ = d_π · r^π                         gain
    h = (I − P^π + 1d_πᵀ)⁻¹ (r^π − ρ1)    bias: h = r^π − ρ1 + P^π h with d_π·h = 0
    q̃ = r − ρ + P h                       differential action values

and :func:`prove_average_policy_gradient` decides the continuing-case policy gradient theorem
(Sutton & Barto 2018, §13.6) ::

    ∂ρ/∂θₖ = Σ_s d_π(s) Σ_a ∂π(a|s)/∂θₖ q̃(s, a)      for every k

where the left side is the derivative of the closed form ρ(θ) = d_π(θ)·r^π(θ), exactly (the
difference of the two sides reduced to zero in ℚ(symbols, z)), or refutes a wrong variant
(state weights other than d_π, or q̃ replaced by the discounted q) with an exact point inside the
model's domain.

Identities checked by the tests: the theorem is proved on the general 2-state, 2-action model
for softmax and log-linear policies; wrong weights get a counterexample that the numeric toolkit
reproduces; the gain and bias equal the numeric ones on rationalised models, and equal the
limits (1 − γ)v_γ → ρ1 and v_γ − ρ/(1 − γ)1 → h of the exact discounted values as γ → 1.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy
from sympy import ImmutableMatrix
from sympy.polys.matrices import DomainMatrix
from sympy.polys.matrices.exceptions import DMNonInvertibleMatrixError

from .._chains import describe_classes, recurrent_classes
from .._errors import MultichainPolicyError, ValidationError
from ._algebra import dataclass_repr, show, space_for
from ._domain import accept_for
from ._evaluation import (
    FractionModel,
    chain,
    evaluate_fractions,
    lift,
    model_exprs,
    stationary_fractions,
    validate_table,
)
from ._gradients import lift_policies
from ._model import MDP, validate_symbolic_mdp
from ._policies import Direct, validate_symbolic_policy
from ._proof_result import ProofResult, decide
from ._proof_routes import MAX_PROOF_SYMBOLS

__all__ = ["AverageReward", "average_reward", "prove_average_policy_gradient"]

#: The state weights :func:`prove_average_policy_gradient` accepts: the theorem's, and wrong ones.
AVERAGE_WEIGHTS = {
    "stationary": "d_π(s)",
    "uniform": "1/S (the stationary distribution replaced by the uniform one)",
}


@dataclass(frozen=True)
class AverageReward:
    """Exact average-reward quantities of one unichain policy on a symbolic MDP.

    Attributes
    ----------
    pi, q, advantage : ImmutableMatrix, shape (S, A)
        π, q̃ = r − ρ + P h and q̃ − h.
    P_pi : ImmutableMatrix, shape (S, S)
    r_pi, bias, stationary : ImmutableMatrix, shape (S, 1)
        r^π, h (with d_π·h = 0) and d_π.
    gain : sympy.Expr
        ρ = d_π · r^π.
    """

    pi: ImmutableMatrix
    P_pi: ImmutableMatrix
    r_pi: ImmutableMatrix
    gain: sympy.Expr
    bias: ImmutableMatrix
    q: ImmutableMatrix
    advantage: ImmutableMatrix
    stationary: ImmutableMatrix

    __repr__ = dataclass_repr

    def __str__(self) -> str:
        S, A = self.q.shape
        gain = show(self.gain)
        if len(gain) > 80:
            gain = f"an expression in {len(self.gain.free_symbols)} symbols (print .gain)"
        return (f"AverageReward: exact gain, bias, q̃ and d_π of a policy on {S} states, {A} actions; "
                f"gain = {gain}")


def _multichain(F: FractionModel, P_pi: list) -> MultichainPolicyError:
    """The refusal of a chain with no unique stationary law; the classes named when P^π is numeric."""
    exprs = [[F.space.to_expr(x) for x in row] for row in P_pi]
    names = ""
    value: Any = None
    if all(e.is_number for row in exprs for e in row):
        classes = recurrent_classes(np.array([[e != 0 for e in row] for row in exprs], dtype=float))
        names = f": its recurrent classes are {describe_classes(classes)}"
        value = tuple(tuple(int(s) for s in c) for c in classes)
    return MultichainPolicyError(f"pi is multichain (P^pi has more than one recurrent class{names}), so the "
                                 "gain depends on the start state and the bias is not unique (Puterman "
                                 "1994, §8.3)", argument="pi", value=value)


def average_fractions(F: FractionModel, pi: list | None = None) -> dict:
    """P^π, r^π, d_π, ρ, h, q̃ and q̃ − h as field elements (nested lists)."""
    P_pi, r_pi = chain(F, pi)
    S, A = F.S, F.A
    K = F.space.field
    try:
        d = stationary_fractions(F, P_pi)
    except ValidationError:
        raise _multichain(F, P_pi) from None
    gain = sum((d[s] * r_pi[s] for s in range(S)), K.zero)
    rows = [[(K.one if s == t else K.zero) - P_pi[s][t] + d[t] for t in range(S)] for s in range(S)]
    dom = K.to_domain()
    try:
        inv = DomainMatrix(rows, (S, S), dom).inv()
    except (DMNonInvertibleMatrixError, ZeroDivisionError):    # pragma: no cover - unichain: invertible
        raise _multichain(F, P_pi) from None
    rhs = DomainMatrix([[r_pi[s] - gain] for s in range(S)], (S, 1), dom)
    col = inv * rhs
    h = [col[s, 0].element for s in range(S)]
    q = [[F.r[s][a] - gain + sum((F.P[s][a][t] * h[t] for t in range(S)), K.zero) for a in range(A)]
         for s in range(S)]
    adv = [[q[s][a] - h[s] for a in range(A)] for s in range(S)]
    return dict(P_pi=P_pi, r_pi=r_pi, d=d, gain=gain, h=h, q=q, advantage=adv)


def average_reward(mdp: MDP, pi: Any, *, validate: bool = True) -> AverageReward:
    """Exact gain ρ, bias h (d_π·h = 0), differential q̃ and d_π of a unichain policy table.

    The mirror of :func:`mdpgrad.average_reward` on a symbolic MDP (γ and ρ₀ are
    not used).  Puterman 1994, §8.2; Sutton & Barto 2018, §10.3.

    Parameters
    ----------
    mdp : MDP
        A :class:`mdpgrad.symbolic.MDP`.
    pi : Matrix or nested sequence, shape (S, A)
    validate : bool

    Returns
    -------
    AverageReward

    Raises
    ------
    MultichainPolicyError
        If P^π has more than one recurrent class (named when P^π is numeric).

    Examples
    --------
    Two states that swap with probabilities a and b, paying 1 in state 0.

    >>> import sympy
    >>> from mdpgrad.symbolic import MDP, average_reward
    >>> a, b = sympy.symbols("a b", positive=True)
    >>> mdp = MDP([[[1 - a, a]], [[b, 1 - b]]], [[1], [0]], sympy.Rational(1, 2))
    >>> ar = average_reward(mdp, [[1], [1]])
    >>> sympy.factor(ar.gain), [sympy.factor(x) for x in ar.bias]
    (b/(a + b), [a/(a + b)**2, -b/(a + b)**2])
    """
    S, A = validate_symbolic_mdp(mdp).n_states, mdp.n_actions
    table = validate_table(pi, S, A, validate)
    space, _ = space_for(model_exprs(mdp) + list(table))
    F = lift(space, mdp, table)
    out = average_fractions(F)

    def col(xs: list) -> ImmutableMatrix:
        return ImmutableMatrix(len(xs), 1, [space.to_expr(x) for x in xs])

    def tab(xs: list) -> ImmutableMatrix:
        return ImmutableMatrix(len(xs), len(xs[0]), [space.to_expr(x) for row in xs for x in row])

    return AverageReward(pi=tab(F.pi), P_pi=tab(out["P_pi"]), r_pi=col(out["r_pi"]),
                         gain=space.to_expr(out["gain"]), bias=col(out["h"]), q=tab(out["q"]),
                         advantage=tab(out["advantage"]), stationary=col(out["d"]))


def prove_average_policy_gradient(mdp: MDP, policy: Any, theta: Any = None, *, weights: str = "stationary",
                                  values: str = "q", max_symbols: int | None = MAX_PROOF_SYMBOLS,
                                  rng: int | random.Random = 0) -> ProofResult:
    """Prove ∂ρ/∂θₖ = Σ_s w(s) Σ_a ∂π(a|s)/∂θₖ x(s, a) for every k, exactly.

    The left side is the derivative of the closed form ρ(θ) = d_π(θ)·r^π(θ) of a
    unichain policy; with w = d_π and x = q̃ this is the average-reward policy
    gradient theorem (Sutton & Barto 2018, §13.6; Sutton et al. 2000, Theorem 1).

    Parameters
    ----------
    mdp : MDP
        Symbolic; γ and ρ₀ are not used.
    policy : TabularSoftmax or LogLinear (symbolic)
        :class:`Direct` is refused: its free entries leave the simplex, where the
        gain does not exist.
    theta : Matrix of symbols, optional
        Default ``policy.symbols()``.
    weights : {"stationary", "uniform"}
        w = d_π (the theorem) or a deliberately wrong 1/S.
    values : {"q", "advantage", "discounted"}
        x = q̃, q̃ − h (equivalent: Σ_a ∂π(a|s) = 0 for softmax and log-linear
        policies), or the wrong discounted q of the model's γ.
    max_symbols : int or None
        Refuse models with more symbols (the exact expansion grows exponentially;
        the general 2-state, 2-action model has 10).
    rng : int or random.Random
        Seed of the counterexample search.

    Returns
    -------
    ProofResult
        "proved" or "counterexample" (an exact point in the model's domain).

    Examples
    --------
    A two-state model with one free transition probability p (the general 2-state, 2-action model,
    ``general_mdp(2, 2, rho0=False)``, is proved the same way in about ten seconds):

    >>> import sympy
    >>> from mdpgrad.symbolic import MDP, TabularSoftmax, prove_average_policy_gradient
    >>> p = sympy.Symbol("p", positive=True)
    >>> half = sympy.Rational(1, 2)
    >>> mdp = MDP([[[half, half], [1 - p, p]], [[1, 0], [0, 1]]], [[1, 0], [0, 2]], half)
    >>> print(prove_average_policy_gradient(mdp, TabularSoftmax(2, 2)))  # doctest: +NORMALIZE_WHITESPACE
    ProofResult: proved exactly — ∇ρ = Σ_s d_π(s) Σ_a ∇π(a|s) q̃(s,a) (4 identities, for all values of
    the symbols)
    """
    validate_symbolic_mdp(mdp)
    if weights not in AVERAGE_WEIGHTS:
        raise ValidationError(f"weights is {weights!r}; expected one of {sorted(AVERAGE_WEIGHTS)}",
                              argument="weights", value=weights)
    if values not in ("q", "advantage", "discounted"):
        raise ValidationError(f"values is {values!r}; expected 'q', 'advantage' or 'discounted'",
                              argument="values", value=values)
    syms = mdp.free_symbols
    if max_symbols is not None and len(syms) > max_symbols:
        raise ValidationError(f"the model has {len(syms)} symbols, above max_symbols={max_symbols}: the "
                              "exact proof expands rational functions whose size grows exponentially with "
                              "the number of symbols; substitute values for some (mdp.subs)", argument="mdp",
                              value=len(syms))
    if isinstance(validate_symbolic_policy(policy), Direct):
        raise ValidationError("policy is Direct, whose free entries leave the simplex, where P^pi is not "
                              "stochastic and the gain does not exist; the theorem holds along the simplex "
                              "only (mdpgrad.policy_gradient(..., criterion='average') checks it there): use "
                              "TabularSoftmax or LogLinear", argument="policy", value="Direct")
    th = policy.symbols() if theta is None else theta
    pm = lift_policies(mdp, [(policy, th)])
    K = pm.space.field
    pi = pm.pis[0]
    out = average_fractions(pm.F, pi)
    S, A = pm.F.S, pm.F.A
    w = out["d"] if weights == "stationary" else [K.one / S] * S
    if values == "discounted":
        x = evaluate_fractions(pm.F, pi)["q"]
    else:
        x = out["q"] if values == "q" else out["advantage"]
    dpi = {(s, a): pm.grad(pi[s][a]) for s in range(S) for a in range(A)}
    lhs = pm.grad(out["gain"])
    labels = [f"∂/∂{t}" for t in pm.policies[0].params]
    items = []
    for k, label in enumerate(labels):
        rhs = K.zero
        for s in range(S):
            rhs += w[s] * sum((dpi[s, a][k] * x[s][a] for a in range(A)), K.zero)
        items.append((label, lhs[k], rhs))
    wname = {"stationary": "d_π(s)", "uniform": "(1/S)"}[weights]
    xname = {"q": "q̃(s,a)", "advantage": "(q̃(s,a) − h(s))", "discounted": "q_γ(s,a)"}[values]
    return decide(pm.space, items, f"∇ρ = Σ_s {wname} Σ_a ∇π(a|s) {xname}", accept=accept_for(mdp), rng=rng)
