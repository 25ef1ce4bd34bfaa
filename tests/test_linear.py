"""Tests of mdpgrad.td (linear approximation): TD(0)/TD(λ), regression and residual fields, stability.

Tiers: hand numbers (a 2-cycle with one feature, where TD's fixed point and
the regression solution differ by exact fractions); identities (TD(λ) matrix
by a solve = by the series of Tsitsiklis & Van Roy 1997; TD(1) = Monte Carlo
regression; Φ = I gives the tabular Jacobians and fixed point q^π; the updates
are minus the gradients of their losses); properties over generated MDPs
(regression and residual Jacobians symmetric; on-policy TD stable); Baird's
counterexample diverging off-policy and converging on-policy; bad inputs.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from _models import random_mdp, random_pi
from hypothesis import given, settings
from hypothesis import strategies as st

from mdpgrad import MDP, ValidationError, evaluate
from mdpgrad.examples import baird_counterexample
from mdpgrad.fields import symmetry_verdict
from mdpgrad.td import (
    diagonal_weights,
    iterate_expected_update,
    linear_td_jacobian,
    linear_td_update,
    regression_jacobian,
    regression_solution,
    regression_update,
    residual_gradient_jacobian,
    residual_gradient_update,
    stability,
    td_fixed_point,
    td_jacobian,
    td_jacobian_v,
)

#: Affine maps differenced with step 1: exact up to rounding of O(10) entries.
AFFINE_TOL = 1e-11
#: Solves of I − γλM and of the k × k normal equations with γ ≤ 0.99 and
#: well-conditioned random features: error ≲ cond·ε ≈ 1e-12 relative.
SOLVE_TOL = 1e-9


# -- generated cases (models from tests/_models.py) ------------------------------
@st.composite
def linear_cases(draw, *, irreducible: bool = False):
    """(mdp, pi, phi, D, rng): S ≤ 4, A ≤ 3, k ≤ S·A features of state-action pairs or states.

    Rows keep about 60 % of next states; ``irreducible=True`` mixes them 9:1 with the uniform
    distribution, so P^π has a unique stationary law.
    """
    S = draw(st.integers(1, 4))
    A = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    gamma = draw(st.sampled_from([0.5, 0.9, 0.99]))
    sparse = draw(st.booleans())
    mdp = random_mdp(rng, n_states=S, n_actions=A, gamma=gamma, support=0.6, mix=0.1 if irreducible else 0.0,
                     sparse=sparse)
    pi = random_pi(rng, S, A)
    on_states = draw(st.booleans())
    n = S if on_states else S * A
    k = draw(st.integers(1, n))
    phi = rng.standard_normal((n, k))
    D = rng.random(n) + 0.1
    return mdp, pi, phi, D, rng


def _two_cycle() -> MDP:
    return MDP(np.array([[[0.0, 1.0]], [[1.0, 0.0]]]), [[1.0], [0.0]], gamma=0.5)


def _by_definition(update, w0):
    cols = []
    for k in range(w0.size):
        e = np.zeros(w0.size)
        e[k] = 1.0
        cols.append((update(w0 + e) - update(w0 - e)) / 2.0)
    return np.stack(cols, axis=1)


# -- hand numbers ---------------------------------------------------------------
def test_td_fixed_point_differs_from_regression_solution():
    """2-cycle, r = (1, 0), γ = ½, one constant feature, D = (¾, ¼).

    TD:  Σ D r + (γ − 1) w Σ D = 0  ⇒  w = ¾ / ½ = 3/2.
    Regression: w = Σ D v^π = ¾·4/3 + ¼·2/3 = 7/6  (v^π = (4/3, 2/3)).
    """
    mdp, pi, phi, D = _two_cycle(), np.ones((2, 1)), np.ones((2, 1)), np.array([0.75, 0.25])
    assert td_fixed_point(mdp, pi, phi, D=D)[0] == pytest.approx(float(Fraction(3, 2)), abs=1e-15)
    assert regression_solution(mdp, pi, phi, D=D)[0] == pytest.approx(float(Fraction(7, 6)), abs=1e-15)
    # under the stationary law (½, ½) the two coincide: dᵀv = dᵀr / (1 − γ)
    assert td_fixed_point(mdp, pi, phi, D="stationary")[0] == pytest.approx(1.0, abs=1e-15)
    assert regression_solution(mdp, pi, phi, D="stationary")[0] == pytest.approx(1.0, abs=1e-15)


def test_stability_and_iteration_hand():
    s = stability(np.array([[-2.0, 0.0], [0.0, -0.5]]))
    assert s.converges and not s.diverges and s.max_real == -0.5
    s = stability(np.array([[0.0, 1.0], [-1.0, 0.0]]))  # a rotation: ±i
    assert not s.converges and not s.diverges and s.n_neutral == 2
    # 2-cycle, one feature: A = 2(γ − 1) = −1, b = 1; w ← w + ½(1 − w) halves the error
    ws = iterate_expected_update(_two_cycle(), np.ones((2, 1)), np.ones((2, 1)), [3.0], step_size=0.5,
                                 n_steps=3)
    np.testing.assert_allclose(ws[:, 0], [3.0, 2.0, 1.5, 1.25], atol=1e-15)


# -- identities -----------------------------------------------------------------
@settings(max_examples=30)
@given(linear_cases(), st.sampled_from([0.0, 0.3, 0.8, 1.0]))
def test_jacobian_from_definition_equals_closed_form(case, lam):
    mdp, pi, phi, D, rng = case
    w0 = rng.standard_normal(phi.shape[1])
    A = linear_td_jacobian(mdp, pi, phi, D=D, lam=lam)
    Adef = _by_definition(lambda w: linear_td_update(mdp, pi, phi, w, D=D, lam=lam), w0)
    np.testing.assert_allclose(A, Adef, atol=AFFINE_TOL * max(1.0, np.abs(A).max()))
    for upd, jac in ((regression_update, regression_jacobian),
                     (residual_gradient_update, residual_gradient_jacobian)):
        Jc = jac(mdp, pi, phi, D=D)
        np.testing.assert_allclose(Jc, _by_definition(lambda w, u=upd: u(mdp, pi, phi, w, D=D), w0),
                                   atol=AFFINE_TOL * max(1.0, np.abs(Jc).max()))


@settings(max_examples=30)
@given(linear_cases(), st.sampled_from([0.3, 0.7, 0.95]))
def test_td_lambda_matrix_equals_the_series(case, lam):
    """A = Φᵀ D (M^(λ) − I) Φ with M^(λ) = (1 − λ) Σ_m λ^m (γM)^{m+1} (Tsitsiklis & Van Roy 1997, §5)."""
    mdp, pi, phi, D, _ = case
    S, A = mdp.n_states, mdp.n_actions
    M = (evaluate(mdp, pi).P_pi if phi.shape[0] == S else
         (mdp.P_dense().reshape(S * A, S)[:, :, None] * pi[None]).reshape(S * A, S * A))
    M = M.toarray() if sp.issparse(M) else M
    g = mdp.gamma
    Ml, term = np.zeros_like(M), g * M
    for m in range(2000):  # (γλ)^m < 1e-17 well before this
        Ml += (1 - lam) * lam ** m * term
        term = g * M @ term
    series = phi.T @ (D[:, None] * ((Ml - np.eye(M.shape[0])) @ phi))
    np.testing.assert_allclose(linear_td_jacobian(mdp, pi, phi, D=D, lam=lam), series,
                               atol=SOLVE_TOL * max(1.0, np.abs(series).max()))


@settings(max_examples=30)
@given(linear_cases())
def test_td_one_is_monte_carlo_regression(case):
    """λ = 1: (I − γM)⁻¹(r + γMΦw − Φw) = q^π − Φw, for every weighting."""
    mdp, pi, phi, D, rng = case
    w = rng.standard_normal(phi.shape[1])
    a = linear_td_update(mdp, pi, phi, w, D=D, lam=1.0)
    b = regression_update(mdp, pi, phi, w, D=D)
    np.testing.assert_allclose(a, b, atol=SOLVE_TOL * max(1.0, np.abs(b).max()))


@settings(max_examples=30)
@given(linear_cases(), st.sampled_from([0.0, 0.5, 0.9]))
def test_identity_features_give_tabular_results(case, lam):
    mdp, pi, _, _, _ = case
    S, A = mdp.n_states, mdp.n_actions
    ev = evaluate(mdp, pi)
    J = td_jacobian(mdp, pi)
    np.testing.assert_allclose(linear_td_jacobian(mdp, pi, None), J.toarray() if sp.issparse(J) else J,
                               atol=1e-15)
    Jv = td_jacobian_v(mdp, pi)
    Jv = Jv.toarray() if sp.issparse(Jv) else Jv
    np.testing.assert_allclose(linear_td_jacobian(mdp, pi, np.eye(S)), Jv, atol=1e-15)
    scale = max(1.0, np.abs(ev.q).max())
    np.testing.assert_allclose(td_fixed_point(mdp, pi, None, lam=lam), ev.q.ravel(), atol=SOLVE_TOL * scale)
    np.testing.assert_allclose(td_fixed_point(mdp, pi, np.eye(S), lam=lam), ev.v, atol=SOLVE_TOL * scale)
    np.testing.assert_allclose(regression_solution(mdp, pi, np.eye(S * A).reshape(S, A, -1)), ev.q.ravel(),
                               atol=SOLVE_TOL * scale)


@settings(max_examples=30)
@given(linear_cases())
def test_regression_and_residual_fields_are_gradients(case):
    """Symmetric Jacobians, and each field is minus the gradient of its loss (by differencing the loss)."""
    mdp, pi, phi, D, rng = case
    assert symmetry_verdict(regression_jacobian(mdp, pi, phi, D=D)).holds
    assert symmetry_verdict(residual_gradient_jacobian(mdp, pi, phi, D=D)).holds
    S, A = mdp.n_states, mdp.n_actions
    ev = evaluate(mdp, pi)
    states = phi.shape[0] == S
    target = ev.v if states else ev.q.ravel()
    M = ev.P_pi if states else (mdp.P_dense().reshape(S * A, S)[:, :, None] * pi[None]).reshape(S * A, -1)
    M = M.toarray() if sp.issparse(M) else M
    r = ev.r_pi if states else mdp.r.ravel()

    def mc_loss(w):
        e = phi @ w - target
        return 0.5 * np.sum(D * e * e)

    def residual_loss(w):
        delta = r + mdp.gamma * M @ (phi @ w) - phi @ w
        return 0.5 * np.sum(D * delta * delta)

    w = rng.standard_normal(phi.shape[1])
    for loss, upd in ((mc_loss, regression_update), (residual_loss, residual_gradient_update)):
        # quadratic loss: the central difference with step 1 is exact up to rounding
        grad = np.array([(loss(w + e) - loss(w - e)) / 2.0 for e in np.eye(w.size)])
        np.testing.assert_allclose(-upd(mdp, pi, phi, w, D=D), grad,
                                   atol=SOLVE_TOL * max(1.0, np.abs(grad).max(), loss(w)))


@settings(max_examples=30)
@given(linear_cases(irreducible=True))
def test_on_policy_td_is_stable(case):
    """With D the stationary law of the chain being evaluated, A is negative definite on the
    range of Φ (Tsitsiklis & Van Roy 1997, Lemma 3): every eigenvalue has Re < 0."""
    mdp, pi, phi, _, _ = case
    # Gaussian features (k ≤ n) have full column rank, and the mixed chain and the
    # Dirichlet policy make every stationary weight positive: the lemma applies strictly.
    # Pair features are weighted by the pair chain's stationary law d_π(s)π(a|s).
    assert stability(linear_td_jacobian(mdp, pi, phi, D="stationary")).converges


# -- Baird's counterexample -------------------------------------------------------
def test_baird_diverges_off_policy():
    """Sutton & Barto 2018, Example 11.1 / Figure 11.2: behaviour weighting, target chain."""
    ex = baird_counterexample()
    Db = diagonal_weights(ex.mdp, ex.behaviour, "stationary", values="v")  # uniform 1/7
    A = linear_td_jacobian(ex.mdp, ex.target, ex.phi, D=Db)
    s = stability(A)
    assert s.diverges and s.max_real > 0
    assert not symmetry_verdict(A).holds
    w0 = np.array([1.0, 1, 1, 1, 1, 1, 10, 1])  # the book's initial weights
    ws = iterate_expected_update(ex.mdp, ex.target, ex.phi, w0, D=Db, step_size=0.01, n_steps=1000)
    norms = np.linalg.norm(ws, axis=1)
    assert norms[-1] > 10 * norms[0]
    assert np.all(np.diff(norms[200:]) > 0)  # growth along the unstable eigenvector


def test_baird_converges_on_policy():
    """The same features and weighting, evaluating the behaviour policy itself."""
    ex = baird_counterexample()
    A = linear_td_jacobian(ex.mdp, ex.behaviour, ex.phi, D="stationary")
    s = stability(A)
    # 8 weights, 7 states: Φ has a one-dimensional null space, where A is 0
    assert not s.diverges and s.n_neutral == 1
    assert np.all(s.eigenvalues.real[1:] < 0)
    w0 = np.array([1.0, 1, 1, 1, 1, 1, 10, 1])
    ws = iterate_expected_update(ex.mdp, ex.behaviour, ex.phi, w0, D="stationary", step_size=1.0,
                                 n_steps=3000)
    values = ws @ ex.phi.T  # Φw → v = 0 (zero rewards)
    assert np.abs(values[-1]).max() < 1e-8 * np.abs(values[0]).max()


# -- bad input --------------------------------------------------------------------
@pytest.mark.parametrize("call, argument", [
    (lambda m, p: linear_td_jacobian(m, p, np.ones((5, 2))), "phi"),
    (lambda m, p: linear_td_jacobian(m, p, np.full((2, 1), np.nan)), "phi"),
    (lambda m, p: linear_td_jacobian(m, p, np.ones((2, 1)), lam=1.5), "lam"),
    (lambda m, p: linear_td_update(m, p, np.ones((2, 1)), np.zeros(2)), "w"),
    (lambda m, p: iterate_expected_update(m, p, np.ones((2, 1)), [0.0], step_size=0.0, n_steps=3),
     "step_size"),
    (lambda m, p: stability(np.zeros((2, 3))), "jacobian"),
    (lambda m, p: stability(np.full((2, 2), np.nan)), "jacobian"),
    (lambda m, p: linear_td_jacobian(m, p, [["a"], ["b"]]), "phi"),
    (lambda m, p: linear_td_update(m, p, np.ones((2, 1)), [np.nan]), "w"),
    (lambda m, p: iterate_expected_update(m, p, np.ones((2, 1)), [0.0], step_size=0.1, n_steps=2.5),
     "n_steps"),
    (lambda m, p: iterate_expected_update(m, p, np.ones((2, 1)), [0.0], step_size=0.1, n_steps=-1),
     "n_steps"),
])
def test_bad_input(call, argument):
    with pytest.raises(ValidationError) as exc:
        call(_two_cycle(), np.ones((2, 1)))
    assert exc.value.argument == argument
