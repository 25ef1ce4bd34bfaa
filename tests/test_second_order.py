"""Policy Hessian, Hessian-vector products, Fisher information, natural gradient.

Known values come from sympy: J(θ) of a 2-state, 2-action MDP with rational
P and r is built symbolically and differentiated twice, then evaluated to 30
digits.  Identities: symmetry, agreement with finite differences of the exact
gradient, H·u = hessian_vector_product, F·u = fisher_vector_product, the
softmax block form of F and the softmax natural gradient adv − mean adv.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from _models import KINDS, horizon, random_mdp, random_policy
from hypothesis import given, settings
from hypothesis import strategies as st

from mdpgrad import (
    MDP,
    Direct,
    LogLinear,
    TabularSoftmax,
    ValidationError,
    evaluate,
    fisher_information,
    natural_gradient,
    policy_gradient,
    policy_hessian,
)
from mdpgrad.gradients import fisher_vector_product, hessian_vector_product

#: The complex step has no cancellation: a Hessian entry is as accurate as a
#: gradient evaluated in complex arithmetic, a few hundred ulps times the
#: horizon 1/(1−γ) (the solves' condition number).  1e-12 per unit of horizon
#: is above that and far below the 1e-9 promised.
CS_RTOL = 1e-12

#: Central differences of the exact gradient with step ε^(1/3): error ≈ ε^(2/3)
#: ≈ 4e-11 times the scale of the third derivative, which grows with the
#: horizon; 1e-6 per unit of horizon bounds it with room, while a wrong
#: Hessian misses by order 1.
FD_RTOL = 1e-6


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(1.0, float(np.max(np.abs(b)))))


# --- exact values from sympy ---------------------------------------------------

P_Q = [[[sympy.Rational(1, 2), sympy.Rational(1, 2)], [sympy.Rational(1, 5), sympy.Rational(4, 5)]],
       [[sympy.Rational(3, 4), sympy.Rational(1, 4)], [sympy.Rational(0), sympy.Rational(1)]]]
R_Q = [[sympy.Rational(1), sympy.Rational(0)], [sympy.Rational(-1, 2), sympy.Rational(2)]]
GAMMA_Q = sympy.Rational(9, 10)
RHO_Q = [sympy.Rational(1, 3), sympy.Rational(2, 3)]


def _sympy_objective():
    """J as a sympy expression of the logit differences x_s = θ[s,1] − θ[s,0] (softmax depends on
    nothing else), with D the exact linear map θ ↦ x, so that ∇²_θ J = Dᵀ ∇²_x J D."""
    x = sympy.symbols("x0 x1")
    pi = [[1 / (1 + sympy.exp(x[s])), sympy.exp(x[s]) / (1 + sympy.exp(x[s]))] for s in range(2)]
    Ppi = sympy.Matrix(2, 2, lambda s, t: sum(pi[s][a] * P_Q[s][a][t] for a in range(2)))
    rpi = sympy.Matrix(2, 1, lambda s, _: sum(pi[s][a] * R_Q[s][a] for a in range(2)))
    v = (sympy.eye(2) - GAMMA_Q * Ppi).LUsolve(rpi)
    D = np.array([[-1.0, 1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 1.0]])
    return x, (sympy.Matrix([RHO_Q]) * v)[0, 0], D


def _float_mdp():
    f = lambda x: np.array(x, dtype=float)  # noqa: E731
    return MDP(f(P_Q), f(R_Q), float(GAMMA_Q), rho0=f(RHO_Q))


def test_hessian_matches_sympy():
    import mpmath
    x, J, D = _sympy_objective()
    point = np.array([[0.3, -0.7], [1.1, 0.2]])
    mpmath.mp.dps = 30
    args = [mpmath.mpf(float(point[s, 1] - point[s, 0])) for s in range(2)]
    Hx = np.array(sympy.lambdify(x, sympy.hessian(J, x), "mpmath")(*args).tolist(), dtype=float)
    gx = np.array([float(sympy.lambdify(x, sympy.diff(J, xs), "mpmath")(*args)) for xs in x])
    H = policy_hessian(_float_mdp(), TabularSoftmax(2, 2), point).reshape(4, 4)
    np.testing.assert_allclose(H, D.T @ Hx @ D, rtol=0, atol=CS_RTOL * 10 * np.abs(Hx).max())
    np.testing.assert_allclose(policy_gradient(_float_mdp(), TabularSoftmax(2, 2), point).ravel(), D.T @ gx,
                               rtol=0, atol=1e-14)


def test_hessian_at_zero_is_rational():
    x, J, D = _sympy_objective()
    Hx = sympy.hessian(J, x).subs(dict.fromkeys(x, 0)).applyfunc(sympy.nsimplify)
    assert all(e.is_Rational for e in Hx)
    H = policy_hessian(_float_mdp(), TabularSoftmax(2, 2), np.zeros((2, 2))).reshape(4, 4)
    np.testing.assert_allclose(H, D.T @ np.array(Hx.tolist(), dtype=float) @ D, rtol=0, atol=1e-14)


# --- identities on generated MDPs ------------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("which", ["softmax", "loglinear", "direct"])
def test_hessian_symmetric_and_matches_fd(kind, which):
    mdp = random_mdp(21, n_states=3, n_actions=2, **KINDS[kind])
    pol, th, _ = random_policy(21, mdp, which)
    n = th.size
    H = policy_hessian(mdp, pol, th).reshape(n, n)
    scale = max(1.0, float(np.abs(H).max()))
    # symmetry is a property of the exact Hessian, not imposed by the code
    assert np.abs(H - H.T).max() <= CS_RTOL * horizon(mdp) * scale
    # columns against central differences of the exact gradient
    h = np.finfo(float).eps ** (1 / 3) * np.maximum(1.0, np.abs(th.ravel()))
    cols = []
    for j in range(n):
        e = np.zeros(n)
        e[j] = h[j]
        e = e.reshape(th.shape)
        diff = policy_gradient(mdp, pol, th + e) - policy_gradient(mdp, pol, th - e)
        cols.append((diff / (2 * h[j])).ravel())
    assert rel(H, np.stack(cols, axis=1)) <= FD_RTOL * horizon(mdp)


@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), S=st.integers(1, 4), A=st.integers(1, 3),
       kind=st.sampled_from(list(KINDS)), which=st.sampled_from(["softmax", "loglinear", "direct"]))
def test_property_hvp_equals_hessian_times_u(seed, S, A, kind, which):
    mdp = random_mdp(seed, n_states=S, n_actions=A, **KINDS[kind])
    pol, th, _ = random_policy(seed, mdp, which)
    n = th.size
    H = policy_hessian(mdp, pol, th).reshape(n, n)
    assert np.abs(H - H.T).max() <= CS_RTOL * horizon(mdp) * max(1.0, float(np.abs(H).max()))
    u = np.random.default_rng(seed).standard_normal(th.shape)
    Hu = hessian_vector_product(mdp, pol, th, u)
    assert rel(Hu.ravel(), H @ u.ravel()) <= CS_RTOL * horizon(mdp) * max(1.0, float(np.abs(u).sum()))


def test_sparse_hessian_equals_dense():
    import scipy.sparse as sp
    dense = random_mdp(4, n_states=3, n_actions=2, **KINDS["dense"])
    sparse = dense.replace(P=sp.csr_array(dense.P_flat))
    th = np.random.default_rng(1).standard_normal((3, 2))
    a = policy_hessian(dense, TabularSoftmax(3, 2), th)
    b = policy_hessian(sparse, TabularSoftmax(3, 2), th)
    assert rel(a, b) <= CS_RTOL * horizon(dense)


# --- Fisher information and natural gradient ---------------------------------------

def test_softmax_fisher_block_form():
    # ∇log π(a|s) wrt θ[s, ·] is e_a − π(·|s), so F's (s, s) block is η(s)(diag π − ππᵀ), others 0.
    mdp = random_mdp(8, n_states=3, n_actions=3, **KINDS["dense"])
    th = np.random.default_rng(3).standard_normal((3, 3))
    pol = TabularSoftmax(3, 3)
    ev = evaluate(mdp, pol.probabilities(th))
    expected = np.zeros((3, 3, 3, 3))
    for s in range(3):
        p = ev.pi[s]
        expected[s, :, s, :] = ev.eta[s] * (np.diag(p) - np.outer(p, p))
    np.testing.assert_allclose(fisher_information(mdp, pol, th), expected, rtol=0, atol=1e-13)


@pytest.mark.parametrize("kind", ["dense", "sparse", "episodic", "near1"])
def test_softmax_natural_gradient_is_centred_advantage(kind):
    mdp = random_mdp(12, n_states=4, n_actions=3, **KINDS[kind])
    S, A = mdp.n_states, mdp.n_actions
    th = np.random.default_rng(5).standard_normal((S, A))
    pol = TabularSoftmax(S, A)
    ev = evaluate(mdp, pol.probabilities(th))
    expected = np.where(ev.eta[:, None] > 0, ev.advantage - ev.advantage.mean(axis=1, keepdims=True), 0.0)
    assert rel(natural_gradient(mdp, pol, th), expected) <= CS_RTOL * 100 * horizon(mdp)


@pytest.mark.parametrize("which", ["softmax", "loglinear", "direct"])
def test_fisher_vector_product_and_natural_gradient_solve(which):
    mdp = random_mdp(13, n_states=3, n_actions=3, **KINDS["dense"])
    pol, th, _ = random_policy(13, mdp, which)
    n = th.size
    F = fisher_information(mdp, pol, th).reshape(n, n)
    assert np.abs(F - F.T).max() <= 1e-13 * np.abs(F).max()
    assert np.linalg.eigvalsh(F).min() >= -1e-12 * np.abs(F).max()          # positive semi-definite
    u = np.random.default_rng(0).standard_normal(th.shape)
    assert rel(fisher_vector_product(mdp, pol, th, u).ravel(), F @ u.ravel()) <= 1e-12
    # ∇J = Σ η π adv ∇log π lies in the range of F, so F x = ∇J is solved exactly
    x = natural_gradient(mdp, pol, th).ravel()
    g = policy_gradient(mdp, pol, th).ravel()
    assert rel(F @ x, g) <= 1e-9


@pytest.mark.parametrize("call, argument", [
    (lambda m: policy_hessian(m, TabularSoftmax(2, 2), np.zeros((3, 2, 2))), "theta"),
    (lambda m: hessian_vector_product(m, TabularSoftmax(2, 2), np.zeros((2, 2)), np.zeros(3)), "u"),
    (lambda m: hessian_vector_product(m, TabularSoftmax(2, 2), np.zeros((2, 2)), np.full((2, 2), np.inf)),
     "u"),
    (lambda m: policy_hessian(m, TabularSoftmax(2, 2), np.full((2, 2), 1j)), "theta"),
    (lambda m: fisher_vector_product(m, TabularSoftmax(2, 2), np.zeros((2, 2)), np.zeros(4)), "u"),
    (lambda m: fisher_information(m, Direct(2, 2), np.array([[1.0, 0.0], [0.5, 0.5]])), "theta"),
    (lambda m: natural_gradient(m, TabularSoftmax(2, 2), np.zeros((2, 2)), rcond=0.0), "rcond"),
    (lambda m: policy_hessian(m, LogLinear(np.ones((2, 2, 1))), np.zeros(2)), "theta"),
])
def test_bad_input_raises(call, argument):
    with pytest.raises(ValidationError) as info:
        call(_float_mdp())
    assert info.value.argument == argument
