"""Proofs: the theorem and its companions proved exactly; wrong formulas get checked counterexamples."""

import numpy as np
import pytest
import sympy
from sympy import Rational as R

from mdpgrad import TabularSoftmax as NumericSoftmax
from mdpgrad import ValidationError
from mdpgrad import evaluate as numeric_evaluate
from mdpgrad import policy_gradient as numeric_gradient
from mdpgrad import stationary_distribution as numeric_stationary
from mdpgrad.symbolic import (
    MDP,
    Direct,
    LogLinear,
    TabularSoftmax,
    general_mdp,
    prove_baseline_identity,
    prove_equal,
    prove_performance_difference,
    prove_policy_gradient_theorem,
    prove_recursion_form,
)

#: The counterexample's two sides are exact rationals; the numeric toolkit recomputes
#: them by one LU solve at the same point (γ ≤ 1/3 there, cond ≤ 2): error ≈ 1e-15.
RTOL = 1e-12

GENERAL = general_mdp(2, 2)
SOFTMAX = TabularSoftmax(2, 2)
EPISODIC = MDP([[[0, R(1, 2), R(1, 2)], [R(1, 4), 0, R(3, 4)]],
                [[R(1, 3), 0, R(2, 3)], [0, R(1, 2), R(1, 2)]],
                [[0, 0, 1], [0, 0, 1]]], [[1, 0], [2, -1], [0, 0]], R(9, 10), rho0=[1, 0, 0],
               terminal=[False, False, True])


def test_theorem_proved_on_the_fully_symbolic_two_state_mdp():
    res = prove_policy_gradient_theorem(GENERAL, SOFTMAX)
    assert res.holds and res.status == "proved" and bool(res)
    assert res.n_identities == 4 and res.point is None
    assert "proved" in str(res) and "proved" in res.latex()


def test_theorem_with_q_instead_of_advantage_also_holds():
    assert prove_policy_gradient_theorem(GENERAL, SOFTMAX, values="q").holds


def test_theorem_for_log_linear_and_direct_policies():
    phi = np.zeros((2, 2, 2), dtype=int)
    phi[0, 1, 0] = 1
    phi[1, 1, 0] = 2
    phi[1, 0, 1] = -1
    assert prove_policy_gradient_theorem(GENERAL, LogLinear(phi)).holds
    # direct parameters are free entries of π, off the simplex: ∂J/∂π(a|s) = η q holds, but the
    # advantage form needs Σ_a ∇π(a|s) = 0, which only holds on the simplex
    assert prove_policy_gradient_theorem(GENERAL, Direct(2, 2), values="q").holds
    off_simplex = prove_policy_gradient_theorem(GENERAL, Direct(2, 2))
    assert off_simplex.status == "counterexample" and off_simplex.value != 0
    assert prove_policy_gradient_theorem(EPISODIC, TabularSoftmax(3, 2)).holds


def test_recursion_baseline_and_performance_difference_proved():
    assert prove_recursion_form(GENERAL, SOFTMAX).holds
    assert prove_recursion_form(EPISODIC, TabularSoftmax(3, 2)).holds
    assert prove_baseline_identity(GENERAL, SOFTMAX).holds
    assert prove_baseline_identity(GENERAL, SOFTMAX, baseline=[sympy.Symbol("c") ** 2, 7]).holds
    assert prove_performance_difference(GENERAL, SOFTMAX).holds


def _numeric_at(res):
    """The model, θ and numeric evaluation at a counterexample point."""
    point = res.point
    theta_syms = SOFTMAX.symbols()
    mdp = GENERAL.subs({k: v for k, v in point.items() if k not in set(theta_syms)}).to_numeric()
    theta = np.array([[float(point[theta_syms[s, a]]) for a in range(2)] for s in range(2)])
    pol = NumericSoftmax(2, 2)
    ev = numeric_evaluate(mdp, pol.probabilities(theta))
    return mdp, pol, theta, ev


@pytest.mark.parametrize("visits", ["normalised", "stationary"])
def test_wrong_formulas_get_a_counterexample_confirmed_numerically(visits):
    res = prove_policy_gradient_theorem(GENERAL, SOFTMAX, visits=visits)
    assert res.status == "counterexample" and not res
    assert res.value != 0 and res.value == res.lhs - res.rhs
    assert str(res.value) in str(res) and "log" in str(res)  # θ reported as log of a rational
    mdp, pol, theta, ev = _numeric_at(res)
    s_, a_ = (int(c) for c in res.label[-2:])  # label "∂/∂theta{s}{a}"
    grad = numeric_gradient(mdp, pol, theta)
    assert grad[s_, a_] == pytest.approx(float(res.lhs), rel=RTOL)
    # the wrong right-hand side, recomputed in floats: w(s) π(a|s) adv(s,a) for softmax
    if visits == "normalised":
        w = ev.eta / ev.eta.sum()
    else:
        w = numeric_stationary(ev.P_pi) * ev.eta.sum()
    assert w[s_] * ev.pi[s_, a_] * ev.advantage[s_, a_] == pytest.approx(float(res.rhs), rel=RTOL)


def test_gamma_dropped_in_an_episodic_mdp_is_caught():
    res = prove_policy_gradient_theorem(EPISODIC, TabularSoftmax(3, 2), visits="undiscounted")
    assert res.status == "counterexample" and res.value != 0
    with pytest.raises(ValidationError) as err:
        prove_policy_gradient_theorem(GENERAL, SOFTMAX, visits="undiscounted")
    assert err.value.argument == "visits"


def test_counterexample_points_are_valid_models():
    res = prove_policy_gradient_theorem(GENERAL, SOFTMAX, visits="normalised")
    values = {k: v for k, v in res.point.items() if k in GENERAL.free_symbols}
    assert set(values) == GENERAL.free_symbols
    GENERAL.subs(values)  # validates: probabilities in [0, 1], rows sum to 1
    assert 0 < values[sympy.Symbol("gamma")] < 1


def test_prove_equal_on_matrices_and_latex():
    x = sympy.Symbol("x")
    bad = prove_equal(sympy.Matrix([[x, 1]]), sympy.Matrix([[x, 2]]))
    assert bad.label == "entry (0, 1)" and bad.value == -1
    assert r"\text{" in bad.latex()
    with pytest.raises(ValidationError):
        prove_equal(sympy.Matrix([[x]]), sympy.Matrix([[x, 1]]))
    constant = prove_equal(R(1, 2), R(1, 3))  # no symbols at all
    assert constant.value == R(1, 6) and constant.point == {}
    assert prove_equal(R(1, 2), R(2, 4)).holds
