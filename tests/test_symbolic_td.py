"""The footnote symbolically: TD Jacobian by differentiation, its asymmetric pair, detailed balance."""

import numpy as np
import pytest
import sympy
from sympy import Rational as R

from mdpgrad import TabularSoftmax as NumericSoftmax
from mdpgrad import expected_update_without_discount as numeric_update
from mdpgrad.examples import two_state
from mdpgrad.symbolic import (
    MDP,
    TabularSoftmax,
    detailed_balance_conditions,
    general_mdp,
    prove_equal,
    q_symbols,
    rationalize,
    symmetry_verdict,
    td_jacobian,
    td_jacobian_v,
    td_update,
    td_update_v,
    update_jacobian,
)
from mdpgrad.td import td_jacobian as numeric_td_jacobian
from mdpgrad.td import td_jacobian_v as numeric_td_jacobian_v
from mdpgrad.td import td_update as numeric_td_update

#: The numeric Jacobian entries are products of two or three doubles: ≤ 3 ulps.
EXACT_RTOL = 1e-15
#: Central differences with h = 1e-5 on a smooth field: truncation ≈ h²·|f'''| ≈ 1e-10,
#: rounding ≈ ε/h ≈ 1e-11; 1e-7 relative is safe and still tests every digit that matters.
FD_RTOL = 1e-7

w0, w1 = sympy.symbols("w0 w1")
PI = sympy.Matrix([[w0, 1 - w0], [w1, 1 - w1]])
GENERAL = general_mdp(2, 2)


def test_jacobian_by_differentiation_equals_the_formula():
    D = sympy.symbols("d0:4")
    jac = td_jacobian(GENERAL, PI, D=D)
    P_flat = GENERAL.P_flat
    Pi = sympy.Matrix(2, 4, lambda s, x: PI[s, x % 2] if x // 2 == s else 0)
    formula = sympy.diag(*D) * (GENERAL.gamma * P_flat * Pi - sympy.eye(4))
    assert prove_equal(jac, formula).holds
    jv = td_jacobian_v(GENERAL, PI)
    P_pi = Pi * P_flat
    assert prove_equal(jv, GENERAL.gamma * P_pi - sympy.eye(2)).holds
    # u is affine in Q: u(Q) = r + J_I·Q with J_I the unweighted Jacobian
    u = td_update(GENERAL, PI)
    J_I = td_jacobian(GENERAL, PI)
    assert prove_equal(u.reshape(4, 1), GENERAL.r.reshape(4, 1) + J_I * q_symbols(2, 2).reshape(4, 1)).holds


def test_matches_numeric_td_on_the_two_state_example():
    num_mdp = two_state()
    exact = rationalize(num_mdp)
    uniform = sympy.Matrix([[R(1, 2), R(1, 2)], [R(1, 2), R(1, 2)]])
    jac = np.array(td_jacobian(exact, uniform).tolist(), dtype=float)
    np.testing.assert_allclose(numeric_td_jacobian(num_mdp, np.full((2, 2), 0.5)), jac, rtol=EXACT_RTOL,
                               atol=EXACT_RTOL)
    # the example's docstring: (PΠ)[(0,0),(1,0)] = 1/4·1/2 = 1/8 and (PΠ)[(1,0),(0,0)] = 1/2·1/2 = 1/4
    J = td_jacobian(exact, uniform)
    assert (J[0, 2], J[2, 0]) == (R(9, 10) * R(1, 8), R(9, 10) * R(1, 4))
    jv = np.array(td_jacobian_v(exact, uniform).tolist(), dtype=float)
    np.testing.assert_allclose(numeric_td_jacobian_v(num_mdp, np.full((2, 2), 0.5)), jv, rtol=EXACT_RTOL,
                               atol=EXACT_RTOL)


def test_terminal_states_bootstrap_zero_like_the_numeric_update():
    mdp = MDP([[[R(1, 2), R(1, 2)], [0, 1]], [[0, 1], [0, 1]]], [[1, 2], [0, 0]], R(1, 2), rho0=[1, 0],
              terminal=[False, True])
    pi = sympy.Matrix([[R(1, 3), R(2, 3)], [1, 0]])
    Q = sympy.Matrix([[1, 2], [3, 4]])
    exact = np.array(td_update(mdp, pi, Q).tolist(), dtype=float)
    num = numeric_td_update(mdp.to_numeric(), np.array(pi.tolist(), dtype=float), np.array([[1., 2], [3, 4]]))
    np.testing.assert_allclose(num, exact, rtol=EXACT_RTOL)
    # hand-derived: u(0,0) = 1 + ½·½·(⅓·1 + ⅔·2) − 1 = 5/12 (state 1 bootstraps 0)
    assert td_update(mdp, pi, Q)[0, 0] == R(5, 12)
    assert td_update_v(mdp, pi, [0, 5])[1] == -5  # terminal: r = 0, no bootstrap


def test_general_two_state_jacobian_is_not_symmetric():
    jac = td_jacobian(GENERAL, PI)
    ver = symmetry_verdict(jac, n_actions=2)
    assert not ver.holds
    (s, a), (t, b) = ver.witness_pairs
    i, j = ver.witness
    assert (i, j) == (2 * s + a, 2 * t + b)
    # the asymmetric pair as explicit expressions γ·P(s'|s,a)·π(a'|s') and its mirror
    assert sympy.expand(ver.entry - GENERAL.gamma * GENERAL.P[s, a, t] * PI[t, b]) == 0
    assert sympy.expand(ver.mirror - GENERAL.gamma * GENERAL.P[t, b, s] * PI[s, a]) == 0
    assert len(ver.conditions) == 6 and all(isinstance(c, sympy.Eq) for c in ver.conditions)
    # the difference at the reported point is the verdict's max asymmetry
    at = {k: v for k, v in ver.point.items()}
    assert abs((ver.entry - ver.mirror).subs(at)) == ver.max_asymmetry != 0
    assert "M_{" in ver.latex()


def test_symmetric_once_detailed_balance_is_imposed():
    conds = detailed_balance_conditions(GENERAL, PI)
    assert len(conds) == 6
    unknowns = [sympy.Symbol(n) for n in ("p000", "p010", "p100")] + [w0, w1]
    solutions = sympy.solve(conds, unknowns, dict=True)
    assert solutions
    sol = solutions[0]
    mdp = GENERAL.subs(sol)
    pi = PI.subs(sol)
    assert symmetry_verdict(td_jacobian(mdp, pi)).holds
    assert detailed_balance_conditions(mdp, pi) == ()


def test_symmetry_verdict_on_hand_matrices():
    a, b = sympy.symbols("a b")
    v = symmetry_verdict(sympy.Matrix([[0, a, 1], [b, 0, 2], [1, 3, 0]]))
    assert not v.holds and set(map(str, v.conditions)) == {"Eq(a, b)", "Eq(2, 3)"}
    assert symmetry_verdict(sympy.Matrix([[1, a * b], [b * a, 2]])).holds


def test_update_without_discount_has_a_non_symmetric_jacobian():
    mdp = MDP([[[0, R(1, 2), R(1, 2)], [R(1, 4), 0, R(3, 4)]],
               [[R(1, 3), 0, R(2, 3)], [0, R(1, 2), R(1, 2)]],
               [[0, 0, 1], [0, 0, 1]]], [[1, 0], [2, -1], [0, 0]], R(1, 2), rho0=[1, 0, 0],
              terminal=[False, False, True])
    pol = TabularSoftmax(3, 2)
    th = pol.symbols()
    assert symmetry_verdict(update_jacobian(mdp, pol, th, update="gradient")).holds  # a Hessian
    jac = update_jacobian(mdp, pol, th)
    ver = symmetry_verdict(jac)
    assert not ver.holds
    # confirm the witness entries by central differences of the numeric update at the point
    theta = np.array([[float(ver.point.get(th[s, a], 0)) for a in range(2)] for s in range(3)])
    i, j = ver.witness
    h = 1e-5
    num_mdp, npol = mdp.to_numeric(), NumericSoftmax(3, 2)

    def column(k):
        e = np.zeros(6)
        e[k] = h
        return ((numeric_update(num_mdp, npol, theta + e.reshape(3, 2))
                 - numeric_update(num_mdp, npol, theta - e.reshape(3, 2))) / (2 * h)).ravel()

    fd_ij, fd_ji = column(j)[i], column(i)[j]
    subs = {th[s, a]: ver.point[th[s, a]] for s in range(3) for a in range(2) if th[s, a] in ver.point}
    assert float(ver.entry.subs(subs)) == pytest.approx(fd_ij, rel=FD_RTOL, abs=FD_RTOL)
    assert float(ver.mirror.subs(subs)) == pytest.approx(fd_ji, rel=FD_RTOL, abs=FD_RTOL)
    assert abs(fd_ij - fd_ji) > 1e-3
