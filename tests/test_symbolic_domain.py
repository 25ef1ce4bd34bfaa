"""Counterexamples inside the model's domain, checked by an independent exact evaluation.

Σ η = 1/(1 − γ) without terminal states (Sutton & Barto 2018, §13.2: η sums the discounted
visit probabilities), so ``Σ η = 1`` is false at every valid model with γ > 0: a counterexample
must exist inside the domain, and there it must be a probability model.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy

from mdpgrad import ValidationError
from mdpgrad import symbolic as sym
from mdpgrad.symbolic._domain import certify_box, constrained_symbols, in_domain

GAMMA = sympy.Symbol("gamma")


def _assert_valid_model_point(mdp, point):
    """0 ≤ γ < 1, rows of P and ρ₀ probability vectors: by substitution, not by the library's check."""
    vals = {k: v for k, v in point.items() if k in mdp.free_symbols}
    assert set(vals) == mdp.free_symbols
    g = mdp.gamma.xreplace(vals)
    assert g.is_Rational and 0 <= g < 1
    S, A = mdp.n_states, mdp.n_actions
    for s in range(S):
        for a in range(A):
            row = [mdp.P[s, a, t].xreplace(vals) for t in range(S)]
            assert all(x.is_Rational and 0 <= x <= 1 for x in row) and sum(row) == 1
    rho = [mdp.rho0[s].xreplace(vals) for s in range(S)]
    assert all(x.is_Rational and 0 <= x <= 1 for x in rho) and sum(rho) == 1


def _eta_sum_at(mdp, pol, point):
    """Σ η at a point, by an exact linear solve written here (π = z/Σz with z = exp θ)."""
    vals = {k: v for k, v in point.items() if k in mdp.free_symbols}
    theta = pol.symbols()
    z = theta.applyfunc(lambda t: sympy.exp(point[t]))
    assert all(x.is_Rational and x > 0 for x in z)
    S, A = mdp.n_states, mdp.n_actions
    pi = [[z[s, a] / sum(z[s, b] for b in range(A)) for a in range(A)] for s in range(S)]
    P_pi = sympy.Matrix(S, S, lambda s, t: sum(pi[s][a] * mdp.P[s, a, t].xreplace(vals) for a in range(A)))
    g = mdp.gamma.xreplace(vals)
    rho = sympy.Matrix([mdp.rho0[s].xreplace(vals) for s in range(S)])
    eta = (sympy.eye(S) - g * P_pi).T.LUsolve(rho)
    return sum(eta), g


@pytest.fixture(scope="module")
def two_by_two():
    mdp, pol = sym.general_mdp(2, 2), sym.TabularSoftmax(2, 2)
    ev = sym.evaluate(mdp, pol.probabilities(pol.symbols()))
    return mdp, pol, sum(ev.eta)


def test_sum_of_eta_is_not_one_at_a_point_inside_the_domain(two_by_two):
    mdp, pol, total = two_by_two
    res = sym.prove_equal(total, 1, mdp=mdp)
    assert not res.holds and res.status == "counterexample"
    assert res.in_domain is True and res.domain == "inside the model's domain"
    assert "inside the model's domain" in str(res)
    _assert_valid_model_point(mdp, res.point)
    eta_sum, g = _eta_sum_at(mdp, pol, res.point)
    assert eta_sum == res.lhs == 1 / (1 - g) and res.rhs == 1 and eta_sum != 1


def test_without_a_model_the_point_is_positive_and_says_it_is_unchecked(two_by_two):
    mdp, pol, total = two_by_two
    res = sym.prove_equal(total, 1)
    assert not res.holds and res.in_domain is None and "no model given" in res.domain
    assert all(0 < v < 1 for k, v in res.point.items() if k in mdp.free_symbols)
    assert _eta_sum_at(mdp, pol, res.point)[0] == res.lhs


def test_the_true_identity_is_proved_on_the_model(two_by_two):
    mdp, _, total = two_by_two
    assert sym.prove_equal(total, 1 / (1 - GAMMA), mdp=mdp).status == "proved"


def test_a_domain_with_empty_interior_falls_back_outside_and_says_so():
    p = sympy.Symbol("p")
    mdp = sym.MDP([[[p, -p, 1]], [[0, 1, 0]], [[0, 0, 1]]], [[1], [0], [0]], sympy.Rational(1, 2))
    res = sym.prove_equal(p, 0, mdp=mdp)  # p = 0 on the whole domain (p and −p both probabilities)
    assert not res.holds and res.in_domain is False
    assert res.domain.startswith("outside the model's domain") and "whole domain" in res.domain
    assert not in_domain(mdp, {p: res.point[p]}) and in_domain(mdp, {p: sympy.Integer(0)})
    assert certify_box(mdp) is None


@pytest.mark.parametrize("S, h", [(2, Fraction(1, 2)), (3, Fraction(1, 2)), (4, Fraction(1, 4)),
                                  (5, Fraction(1, 4)), (6, Fraction(1, 8))])
def test_the_certified_box_is_inside_the_domain_and_twice_it_is_not(S, h):
    mdp = sym.general_mdp(S, 2)
    assert certify_box(mdp) == h
    syms = constrained_symbols(mdp)
    N = 2 ** 64
    corner = {g: (h * N / (N + 1) if g in syms else Fraction(N)) for g in mdp.free_symbols}
    assert in_domain(mdp, corner)  # the largest grid point of the box
    if S > 2:  # a row 1 − Σ p of S − 1 symbols leaves [0, 1] at the corner of the doubled box
        doubled = {g: (2 * h * N / (N + 1) if g in syms else Fraction(1)) for g in mdp.free_symbols}
        assert not in_domain(mdp, doubled)


def test_identity_test_points_and_counterexample_are_inside_the_domain():
    mdp, pol = sym.general_mdp(3, 2), sym.TabularSoftmax(3, 2)
    ok = sym.prove_policy_gradient_theorem(mdp, pol, rng=3)
    assert ok.status == "probable" and ok.domain.startswith("inside the model's domain")
    wrong = sym.prove_policy_gradient_theorem(mdp, pol, visits="normalised", rng=3)
    assert wrong.method == "identity test" and not wrong.holds and wrong.in_domain is True
    _assert_valid_model_point(mdp, wrong.point)
    # independent: ∂J/∂θ of the closed form on the specialised model, by sympy differentiation
    special = mdp.subs({k: v for k, v in wrong.point.items() if k in mdp.free_symbols})
    theta = pol.symbols()
    J = sym.objective(special, pol, theta)
    k = next(i for i, t in enumerate(theta) if wrong.label == f"∂/∂{t}")
    lhs = sympy.nsimplify(sympy.diff(J, theta[k]).subs({t: wrong.point[t] for t in theta}))
    assert lhs == wrong.lhs != wrong.rhs


def test_a_model_without_a_box_says_its_test_points_are_unrestricted():
    p, q = sympy.symbols("p q")
    mdp = sym.MDP([[[p, -p, 1], [q, 1 - q, 0]], [[0, 1, 0], [0, 0, 1]], [[0, 0, 1], [1, 0, 0]]],
                  [[1, 0], [0, 1], [1, 1]], sympy.Rational(1, 2))
    assert certify_box(mdp) is None
    res = sym.prove_policy_gradient_theorem(mdp, sym.TabularSoftmax(3, 2), method="identity test", rng=1)
    assert res.holds and "not restricted to the model's domain" in res.domain


def test_in_domain_refuses_a_missing_symbol_and_gamma_one_without_terminal_states():
    mdp = sym.general_mdp(2, 1)
    point = {g: Fraction(1, 4) for g in mdp.free_symbols}
    assert in_domain(mdp, point)
    assert not in_domain(mdp, {**point, GAMMA: Fraction(1)})  # γ = 1 needs terminal states
    assert not in_domain(mdp, {k: v for k, v in point.items() if k != GAMMA})
    with pytest.raises(ValidationError):
        sym.prove_equal(GAMMA, 1, mdp="not a model")


def test_every_identity_test_point_is_a_valid_model(monkeypatch):
    import mdpgrad.symbolic._proof_routes as routes

    seen = []
    original = routes._jet_items

    def spy(spec, rps, point):
        seen.append(point)
        return original(spec, rps, point)

    monkeypatch.setattr(routes, "_jet_items", spy)
    mdp = sym.general_mdp(3, 2)
    res = sym.prove_recursion_form(mdp, sym.TabularSoftmax(3, 2), rng=11)
    assert res.status == "probable" and len(seen) == res.n_points == 2
    for point in seen:
        assert in_domain(mdp, point)
        exact = {k: sympy.Rational(v.numerator, v.denominator) for k, v in point.items()}
        _assert_valid_model_point(mdp, exact)
        assert all(v.denominator > 2**64 for k, v in point.items() if k in constrained_symbols(mdp))
