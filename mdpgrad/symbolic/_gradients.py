"""The objective J(θ) and its gradient as exact expressions of the symbols θ.

Policy gradient theorem (Sutton et al. 2000; Sutton & Barto 2018, §13.2)::

    ∇J = Σ_s η(s) Σ_a ∇π(a|s) q(s, a) = Σ_{s,a} η(s) π(a|s) adv(s, a) ∇log π(a|s)

evaluated in the field of rational functions of z = exp θ (∂/∂θₖ = zₖ ∂/∂zₖ)
and returned with exp θ substituted back.  The γᵗ-less update most code
computes (Nota & Thomas 2020, §3) weights states by undiscounted visits η̃ or by
the stationary distribution d_π instead of η.

Identity checked by the tests: ``policy_gradient`` equals the sympy derivative
of ``objective`` (see :mod:`mdpgrad.symbolic.proofs` for the general proof).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy
from sympy import ImmutableMatrix

from .._errors import ValidationError
from ._algebra import RationalSpace, as_expression
from ._evaluation import FractionModel, evaluate_fractions, lift, model_exprs, stationary_fractions
from ._model import MDP, validate_symbolic_mdp
from ._policies import check_policy_actions, validate_symbolic_policy

__all__ = ["expected_update_without_discount", "objective", "policy_gradient", "update_jacobian"]


@dataclass(frozen=True)
class PolicyModel:
    """A model and one or more parameterised policies lifted to one space."""

    F: FractionModel
    policies: tuple  # RationalPolicy per (policy, theta) pair
    pis: tuple  # nested lists of field elements per policy

    @property
    def space(self) -> RationalSpace:
        return self.F.space

    def grad(self, f: Any, which: int = 0) -> list:
        """[∂f/∂θₖ for each parameter θₖ of policy ``which``]."""
        rp = self.policies[which]
        return [self.space.diff(f, z) for z in rp.variables]

    def shaped(self, values: Sequence, which: int = 0) -> ImmutableMatrix:
        """Field elements, one per parameter, as a matrix in θ's shape (exp θ back in)."""
        rows, cols = self.policies[which].shape
        return ImmutableMatrix(rows, cols, [self.space.to_expr(x) for x in values])


def lift_policies(mdp: MDP, pairs: Sequence[tuple[Any, Any]], *,
                  extra_symbols: Sequence[sympy.Symbol] = ()) -> PolicyModel:
    """Lift ``mdp`` and each (policy, θ) pair to one field ℚ(model symbols, z, extras).

    Random points for counterexamples give model symbols values in (0, 1/(S+1)),
    so that rows like (p, 1 − p) and (p, q, 1 − p − q) stay valid probabilities.
    """
    validate_symbolic_mdp(mdp)
    for pol, _ in pairs:
        check_policy_actions(validate_symbolic_policy(pol), mdp.actions)
    rps = [validate_symbolic_policy(pol).rational(theta) for pol, theta in pairs]
    for rp in rps:
        if rp.pi.shape != (mdp.n_states, mdp.n_actions):
            raise ValidationError(f"the policy has shape {rp.pi.shape}; the MDP has "
                                  f"{(mdp.n_states, mdp.n_actions)}", argument="policy", value=rp.pi.shape)
    model_syms = sorted(set().union(*[as_expression(e).free_symbols for e in model_exprs(mdp)]),
                        key=sympy.default_sort_key)
    variables = [z for rp in rps for z in rp.variables]
    # θ's own symbols (behind z = exp θ) must not be model symbols either: a θ entry named like a
    # transition probability would make ∂/∂θ differentiate the model too.
    exp_names = {z: th for rp in rps for z, th in rp.exp_of.items()}
    theta_syms = {v for v in variables if v not in exp_names}.union(
        *[as_expression(th).free_symbols for th in exp_names.values()])
    clash = set(model_syms) & theta_syms
    if clash:
        raise ValidationError(f"the symbols {sorted(map(str, clash))} appear both in the model and in theta",
                              argument="theta", value=sorted(map(str, clash)))
    reserved = sorted((z for z in exp_names if z in set(model_syms)), key=sympy.default_sort_key)
    if reserved:  # an internal z = exp θ symbol: it appears in the model, not in theta
        z = reserved[0]
        raise ValidationError(f"the model uses the symbol {z}, the name the policy reserves for "
                              f"exp({exp_names[z]}); rename the model's symbol", argument="mdp", value=str(z))
    exp_of = {z: th for rp in rps for z, th in rp.exp_of.items()}
    S = mdp.n_states

    def sampler(rng: random.Random, attempt: int) -> dict:
        width = 5 + 3 * attempt
        return {g: Fraction(rng.randint(1, width), (S + 1) * (width + 1)) for g in model_syms}

    gens = list(model_syms) + variables + [s for s in extra_symbols if s not in model_syms]
    space = RationalSpace(gens, exp_of, sampler=sampler)
    F = lift(space, mdp, rps[0].pi)
    pis = tuple([[space(rp.pi[s, a]) for a in range(mdp.n_actions)] for s in range(S)] for rp in rps)
    return PolicyModel(F, tuple(rps), pis)


def theorem_gradient(pm: PolicyModel, ev: dict, weights: list, values: list, which: int = 0) -> list:
    """[Σ_s w(s) Σ_a ∂π(a|s)/∂θₖ · value(s, a)] for each k."""
    K = pm.space.field
    pi = pm.pis[which]
    S, A = pm.F.S, pm.F.A
    grads = [pm.grad(pi[s][a], which) for s in range(S) for a in range(A)]
    n = len(pm.policies[which].variables)
    out = []
    for k in range(n):
        total = K.zero
        for s in range(S):
            inner = sum((grads[s * A + a][k] * values[s][a] for a in range(A)), K.zero)
            total += weights[s] * inner
        out.append(total)
    return out


def objective(mdp: MDP, policy: Any, theta: Any) -> sympy.Expr:
    """J(θ) = ρ₀ · v^{π_θ} as an expression of θ.

    Parameters
    ----------
    mdp : MDP
        A symbolic model.
    policy : TabularSoftmax, LogLinear or Direct (symbolic)
    theta : Matrix of symbols or expressions
        The parameters, shape ``policy.param_shape``.

    Examples
    --------
    >>> import sympy
    >>> from mdpgrad.symbolic import MDP, objective, TabularSoftmax
    >>> g = sympy.Symbol("gamma")
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], g, rho0=[1, 0])
    >>> pol = TabularSoftmax(2, 2)
    >>> J = objective(mdp, pol, pol.symbols())
    >>> sympy.simplify(J.subs({s: 0 for s in pol.symbols()}).subs(g, sympy.Rational(9, 10)))
    10/11
    """
    pm = lift_policies(mdp, [(policy, theta)])
    return pm.space.to_expr(evaluate_fractions(pm.F)["J"])


def policy_gradient(mdp: MDP, policy: Any, theta: Any) -> ImmutableMatrix:
    """∇_θ J by the policy gradient theorem, Σ_s η(s) Σ_a ∇π(a|s) q(s, a), in θ's shape.

    Parameters
    ----------
    mdp : MDP
        A symbolic model.
    policy : TabularSoftmax, LogLinear or Direct (symbolic)
    theta : Matrix of symbols or expressions
        The parameters, shape ``policy.param_shape``.

    Examples
    --------
    >>> import sympy
    >>> from mdpgrad.symbolic import MDP, policy_gradient, TabularSoftmax
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], sympy.Rational(9, 10),
    ...           rho0=[1, 0])
    >>> pol = TabularSoftmax(2, 2)
    >>> g = policy_gradient(mdp, pol, pol.symbols())
    >>> g.subs({s: 0 for s in pol.symbols()}).applyfunc(sympy.simplify)  # η(0)·π·adv = (20/11)(1/2)(∓1/11)
    Matrix([
    [-10/121, 10/121],
    [      0,      0]])
    """
    pm = lift_policies(mdp, [(policy, theta)])
    ev = evaluate_fractions(pm.F)
    return pm.shaped(theorem_gradient(pm, ev, ev["eta"], ev["q"]))


def undiscounted_weights(pm: PolicyModel, ev: dict, visits: str) -> list:
    """η̃ (``"undiscounted"``, episodic) or d_π (``"stationary"``) as field elements."""
    if visits == "auto":
        visits = "undiscounted" if any(pm.F.terminal) else "stationary"
    if visits == "undiscounted":
        return evaluate_fractions(pm.F, gamma=pm.space.field.one)["eta"]
    if visits == "stationary":
        return stationary_fractions(pm.F, ev["P_pi"])
    raise ValidationError(f"visits is {visits!r}; expected 'auto', 'undiscounted' or 'stationary'",
                          argument="visits", value=visits)


def expected_update_without_discount(mdp: MDP, policy: Any, theta: Any, *,
                                     visits: str = "auto") -> ImmutableMatrix:
    """E[Σ_t G_t ∇log π(a_t|s_t)], the update without γᵗ, as expressions of θ.

    ``Σ_s η̃(s) Σ_a ∇π(a|s) q(s, a)`` with η̃ the undiscounted visits
    ("undiscounted", episodic), or with the stationary d_π ("stationary", per step);
    "auto" picks "undiscounted" when the MDP has terminal states (Nota & Thomas 2020).

    Parameters
    ----------
    mdp : MDP
        A symbolic model.
    policy : TabularSoftmax, LogLinear or Direct (symbolic)
    theta : Matrix of symbols or expressions
        The parameters, shape ``policy.param_shape``.
    visits : str, optional
        As in :func:`mdpgrad.expected_update_without_discount`.

    Examples
    --------
    One decision state, then a terminal state; with one state the γᵗ are all 1
    at the only decision, so the update equals the gradient there.

    >>> import sympy
    >>> from mdpgrad.symbolic import expected_update_without_discount, MDP, policy_gradient, TabularSoftmax
    >>> mdp = MDP([[[0, 1], [0, 1]], [[0, 1], [0, 1]]], [[1, 0], [0, 0]], sympy.Rational(1, 2),
    ...           rho0=[1, 0], terminal=[False, True])
    >>> pol = TabularSoftmax(2, 2)
    >>> u = expected_update_without_discount(mdp, pol, pol.symbols())
    >>> sympy.simplify(u[0, 0] - policy_gradient(mdp, pol, pol.symbols())[0, 0])
    0
    """
    pm = lift_policies(mdp, [(policy, theta)])
    ev = evaluate_fractions(pm.F)
    return pm.shaped(theorem_gradient(pm, ev, undiscounted_weights(pm, ev, visits), ev["q"]))


def update_jacobian(mdp: MDP, policy: Any, theta: Any, *, update: str = "without_discount",
                    visits: str = "auto") -> ImmutableMatrix:
    """Jacobian ∂uₖ/∂θₗ of an expected update u(θ), shape (n_params, n_params), θ flattened.

    ``update="without_discount"`` differentiates :func:`expected_update_without_discount`
    (not symmetric in general, so then not the gradient of any function, Nota &
    Thomas 2020; on an episodic model with γ = 1 it is ∇J itself, and its Jacobian
    the Hessian of J); ``update="gradient"`` differentiates ∇J (the Hessian of J,
    symmetric).
    Derivatives are taken in the field of rational functions of z = exp θ.

    Parameters
    ----------
    mdp : MDP
        A symbolic model.
    policy : TabularSoftmax, LogLinear or Direct (symbolic)
    theta : Matrix of symbols or expressions
        The parameters, shape ``policy.param_shape``.
    update : {"without_discount", "gradient"}, optional
        The expected update differentiated.
    visits : str, optional
        As in :func:`expected_update_without_discount`.

    Examples
    --------
    >>> import sympy
    >>> from mdpgrad.symbolic import MDP, TabularSoftmax, update_jacobian
    >>> mdp = MDP([[[0, 1], [0, 1]], [[0, 1], [0, 1]]], [[1, 0], [0, 0]], sympy.Rational(1, 2),
    ...           rho0=[1, 0], terminal=[False, True])
    >>> H = update_jacobian(mdp, TabularSoftmax(2, 2), TabularSoftmax(2, 2).symbols(), update="gradient")
    >>> H.shape, sympy.simplify(H[0, 1] - H[1, 0])
    ((4, 4), 0)
    """
    pm = lift_policies(mdp, [(policy, theta)])
    ev = evaluate_fractions(pm.F)
    if update == "without_discount":
        u = theorem_gradient(pm, ev, undiscounted_weights(pm, ev, visits), ev["q"])
    elif update == "gradient":
        u = theorem_gradient(pm, ev, ev["eta"], ev["q"])
    else:
        raise ValidationError(f"update is {update!r}; expected 'without_discount' or 'gradient'",
                              argument="update", value=update)
    rows = [pm.grad(uk) for uk in u]
    n = len(u)
    return ImmutableMatrix(n, n, [pm.space.to_expr(x) for row in rows for x in row])
