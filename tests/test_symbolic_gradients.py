"""Symbolic J(θ) and ∇J: the tabular closed forms, sympy's own derivative, and the numeric toolkit."""

import numpy as np
import sympy
from sympy import Rational as R

from mdpgrad import LogLinear as NumericLogLinear
from mdpgrad import TabularSoftmax as NumericSoftmax
from mdpgrad import expected_update_without_discount as numeric_update
from mdpgrad import objective as numeric_objective
from mdpgrad import policy_gradient as numeric_gradient
from mdpgrad.symbolic import (
    MDP,
    Direct,
    LogLinear,
    TabularSoftmax,
    evaluate,
    expected_update_without_discount,
    general_mdp,
    objective,
    policy_gradient,
    prove_equal,
)

#: The numeric gradient is one LU solve and a vjp: error ≈ cond·ε·|∇J| ≲ 1e-14 for
#: γ ≤ 0.9 on these 2–3 state models; the exact side is a rational number.
RTOL = 1e-12

#: a fixed rational 3-state, 2-action MDP (hand-written, rows sum to 1)
P3 = [[[R(1, 2), R(1, 4), R(1, 4)], [0, R(1, 3), R(2, 3)]],
      [[R(1, 5), R(4, 5), 0], [R(1, 2), 0, R(1, 2)]],
      [[R(1, 3), R(1, 3), R(1, 3)], [R(3, 4), 0, R(1, 4)]]]
R3 = [[1, 0], [-1, 2], [0, 3]]
MDP3 = MDP(P3, R3, R(4, 5), rho0=[R(1, 2), R(1, 4), R(1, 4)])
#: θ = log z at these z: exp θ is rational, so the symbolic side stays exact
Z3 = [[R(1), R(2)], [R(1, 3), R(3, 2)], [R(5, 4), R(1, 2)]]


def _at(expr_matrix, theta, zs):
    subs = {theta[i, j]: sympy.log(zs[i][j]) for i in range(theta.rows) for j in range(theta.cols)}
    return np.array(expr_matrix.subs(subs).applyfunc(sympy.nsimplify).tolist(), dtype=float)


def test_tabular_softmax_gradient_is_eta_pi_adv():
    # softmax closed form (Agarwal et al. 2021, Lemma C.1): ∂J/∂θ[s,a] = η(s) π(a|s) adv(s,a),
    # for every MDP of this size
    mdp, pol = general_mdp(2, 2), TabularSoftmax(2, 2)
    th = pol.symbols()
    ev = evaluate(mdp, pol.probabilities(th))
    closed = sympy.Matrix(2, 2, lambda s, a: ev.eta[s] * ev.pi[s, a] * ev.advantage[s, a])
    assert prove_equal(policy_gradient(mdp, pol, th), closed).holds


def test_direct_gradient_is_eta_q():
    # direct closed form (Agarwal et al. 2021, Lemma 4.1 form): ∂J/∂π(a|s) = η(s) q(s,a),
    # derivatives of the closed forms in the entries of π
    mdp, pol = general_mdp(2, 2), Direct(2, 2)
    th = pol.symbols()
    ev = evaluate(mdp, th, validate=False)
    closed = sympy.Matrix(2, 2, lambda s, a: ev.eta[s] * ev.q[s, a])
    assert prove_equal(policy_gradient(mdp, pol, th), closed).holds


def test_gradient_equals_sympys_derivative_of_the_objective():
    pol = TabularSoftmax(3, 2)
    th = pol.symbols()
    J = objective(MDP3, pol, th)
    dJ = sympy.Matrix(3, 2, lambda s, a: sympy.diff(J, th[s, a]))
    assert prove_equal(dJ, policy_gradient(MDP3, pol, th)).holds


def test_softmax_gradient_matches_numeric():
    pol = TabularSoftmax(3, 2)
    th = pol.symbols()
    exact = _at(policy_gradient(MDP3, pol, th), th, Z3)
    theta = np.log(np.array(Z3, dtype=float))
    num = numeric_gradient(MDP3.to_numeric(), NumericSoftmax(3, 2), theta)
    np.testing.assert_allclose(num, exact, rtol=RTOL, atol=RTOL * np.abs(exact).max())
    J_exact = float(objective(MDP3, pol, th).subs({th[i, j]: sympy.log(Z3[i][j])
                                                   for i in range(3) for j in range(2)}))
    J_num = numeric_objective(MDP3.to_numeric(), NumericSoftmax(3, 2), theta)
    assert abs(J_num - J_exact) <= RTOL * abs(J_exact)


def test_log_linear_gradient_matches_numeric():
    phi = np.zeros((3, 2, 2), dtype=int)
    phi[:, 1, 0] = 1
    phi[0, 0, 1] = 1
    phi[2, 1, 1] = -1
    pol = LogLinear(phi)
    th = pol.symbols()
    zs = [[R(3, 2)], [R(1, 2)]]
    exact = _at(policy_gradient(MDP3, pol, th), th, zs).ravel()
    num = numeric_gradient(MDP3.to_numeric(), NumericLogLinear(phi.astype(float)), np.log([1.5, 0.5]))
    np.testing.assert_allclose(num, exact, rtol=RTOL, atol=RTOL * np.abs(exact).max())


def test_update_without_discount_matches_numeric_episodic_and_continuing():
    episodic = MDP([[[0, R(1, 2), R(1, 2)], [R(1, 4), 0, R(3, 4)]],
                    [[R(1, 3), 0, R(2, 3)], [0, R(1, 2), R(1, 2)]],
                    [[0, 0, 1], [0, 0, 1]]], [[1, 0], [2, -1], [0, 0]], R(9, 10), rho0=[1, 0, 0],
                   terminal=[False, False, True])
    for mdp in (episodic, MDP3):
        pol = TabularSoftmax(3, 2)
        th = pol.symbols()
        exact = _at(expected_update_without_discount(mdp, pol, th), th, Z3)
        num = numeric_update(mdp.to_numeric(), NumericSoftmax(3, 2), np.log(np.array(Z3, dtype=float)))
        np.testing.assert_allclose(num, exact, rtol=RTOL, atol=RTOL * np.abs(exact).max())
