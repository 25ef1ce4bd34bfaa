"""Tests of mdpgrad.fields: symmetry verdicts, field Jacobians, circulation, the gradient checker.

Tiers: hand-derived numbers on 2 × 2 / 3 × 3 matrices and linear fields;
identities (Green's theorem for linear fields, complex step = hand Jacobian,
dense = sparse); on a small MDP, the update without γᵗ is not a gradient
while ∇J is (Nota & Thomas 2020); a table of bad inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from mdpgrad import (
    MDP,
    TabularSoftmax,
    ValidationError,
    expected_update_without_discount,
    is_gradient_field,
    policy_gradient,
)
from mdpgrad.fields import circulation, field_jacobian, symmetry_verdict

#: Complex-step Jacobians of polynomial fields are exact to a few ulps of the entries.
CS_TOL = 1e-13
#: Central differences at h = ε^(1/3) are accurate to ≈ ε^(2/3) ≈ 4e-11 times the
#: third-derivative scale (order 1 in these fields); 1e-7 leaves room for that.
FD_TOL = 1e-7
#: Trapezoid sums of a few dozen terms of size ≤ 1 carry ≈ 1e-15 of rounding.
QUAD_TOL = 1e-12


# -- symmetry_verdict ---------------------------------------------------------
def test_symmetry_verdict_hand_numbers():
    M = np.array([[1.0, 2.0, 0.0],
                  [2.0, 1.0, 0.5],
                  [3.0, 0.0, 1.0]])
    v = symmetry_verdict(M, n_actions=1)
    # |M − Mᵀ| off the diagonal: (0,1) 0, (0,2) 3, (1,2) 0.5
    assert not v.holds
    assert v.witness == (0, 2)
    assert v.witness_values == (0.0, 3.0)
    assert v.max_asymmetry == 3.0
    assert v.scale == 3.0 and v.relative_asymmetry == 1.0
    # ‖(M − Mᵀ)/2‖_F = ½·sqrt(2·(3² + 0.5²))
    assert math.isclose(v.antisymmetric_norm, 0.5 * math.sqrt(2 * (9 + 0.25)), rel_tol=1e-15)


def test_symmetry_verdict_decodes_state_action_pairs():
    M = np.zeros((6, 6))
    M[1, 4] = 1.0  # x = 1 = (0, 1), y = 4 = (2, 0) with A = 2
    v = symmetry_verdict(M, n_actions=2)
    assert v.witness == (1, 4)
    assert v.witness_pairs == ((0, 1), (2, 0))


def test_symmetric_matrix_is_symmetric_within_rounding():
    rng = np.random.default_rng(0)
    B = rng.standard_normal((5, 5))
    M = B @ B.T  # symmetric up to rounding of the product
    v = symmetry_verdict(M)
    assert v.holds
    assert v.max_asymmetry <= v.tolerance


def test_tolerance_scales_with_norm():
    M = np.array([[1e6, 1e-4], [0.0, 1e6]])  # asymmetry 1e-4 is 1e-10 of max|M|
    assert symmetry_verdict(M).holds
    assert not symmetry_verdict(np.array([[1.0, 1e-4], [0.0, 1.0]])).holds


@given(st.integers(2, 6), st.integers(0, 10_000))
def test_sparse_and_dense_verdicts_agree(n, seed):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n)) * (rng.random((n, n)) < 0.5)
    vd, vs = symmetry_verdict(M), symmetry_verdict(sp.csr_array(M))
    assert vd.holds == vs.holds
    assert vd.max_asymmetry == vs.max_asymmetry
    assert math.isclose(vd.antisymmetric_norm, vs.antisymmetric_norm, rel_tol=1e-12, abs_tol=1e-300)
    if vd.max_asymmetry > 0:
        i, j = vs.witness
        assert abs(M[i, j] - M[j, i]) == vd.max_asymmetry


@pytest.mark.parametrize("M, kwargs, argument", [
    (np.zeros((2, 3)), {}, "M"),
    (np.zeros(3), {}, "M"),
    (np.array([[0.0, np.nan], [0.0, 0.0]]), {}, "M"),
    (np.array([[0.0, 1j], [0.0, 0.0]]), {}, "M"),
    (np.zeros((4, 4)), {"n_actions": 3}, "n_actions"),
    (np.zeros((2, 2)), {"rtol": -1.0}, "rtol"),
    (np.zeros((2, 2)), {"atol": np.nan}, "atol"),
    (sp.csr_array(np.array([[0.0, np.inf], [0.0, 0.0]])), {}, "M"),
])
def test_symmetry_verdict_bad_input(M, kwargs, argument):
    with pytest.raises(ValidationError) as exc:
        symmetry_verdict(M, **kwargs)
    assert exc.value.argument == argument


# -- field_jacobian -----------------------------------------------------------
def test_complex_step_on_analytic_field():
    def F(t):
        return np.array([t[0] ** 2 * t[1], np.sin(t[0]) + t[1] ** 3])
    t = np.array([0.7, -1.3])
    fj = field_jacobian(F, t)
    hand = np.array([[2 * t[0] * t[1], t[0] ** 2], [np.cos(t[0]), 3 * t[1] ** 2]])
    assert fj.method == "complex-step"
    np.testing.assert_allclose(fj.jacobian, hand, rtol=0, atol=CS_TOL)


def test_falls_back_to_central_when_complex_breaks_the_derivative():
    # abs() of a complex number is real: the complex step would give ∂/∂t0 = 0, not −t1
    def F(t):
        return np.array([np.abs(t[0]) * t[1], t[0]])
    fj = field_jacobian(F, np.array([-1.0, 2.0]))
    assert fj.method == "central"
    np.testing.assert_allclose(fj.jacobian, [[-2.0, 1.0], [1.0, 0.0]], atol=FD_TOL)


def test_falls_back_when_imaginary_part_is_discarded():
    def F(t):
        t = np.asarray(t, dtype=float)  # drops the imaginary part (ComplexWarning)
        return np.array([t[0] * t[1], t[0] ** 2])
    fj = field_jacobian(F, np.array([1.0, 3.0]))
    assert fj.method == "central"
    np.testing.assert_allclose(fj.jacobian, [[3.0, 1.0], [2.0, 0.0]], atol=FD_TOL)
    assert (fj.error <= FD_TOL).all()  # the estimate is small where the truth is smooth


def test_central_error_estimate_covers_the_true_error():
    def F(t):
        t = np.asarray(t, dtype=float)
        return np.array([np.exp(3 * t[0]) * t[1], np.cos(5 * t[1])])
    t = np.array([0.4, 0.9])
    fj = field_jacobian(F, t, method="central")
    hand = np.array([[3 * np.exp(3 * t[0]) * t[1], np.exp(3 * t[0])], [0.0, -5 * np.sin(5 * t[1])]])
    assert (np.abs(fj.jacobian - hand) <= fj.error).all()


def test_complex_step_requested_but_unavailable_raises():
    with pytest.raises(ValidationError):
        field_jacobian(lambda t: np.abs(t), np.array([-1.0, 1.0]), method="complex-step")


def test_field_must_be_square():
    with pytest.raises(ValidationError) as exc:
        field_jacobian(lambda t: np.array([t[0]]), np.zeros(2))
    assert exc.value.argument == "F"


# -- circulation --------------------------------------------------------------
@given(st.integers(0, 10_000), st.floats(0.01, 3.0))
def test_circulation_of_linear_field_is_green(seed, radius):
    rng = np.random.default_rng(seed)
    J = rng.standard_normal((3, 3))
    b = rng.standard_normal(3)
    c = circulation(lambda t: J @ t + b, rng.standard_normal(3), (2, 0), radius=radius)
    green = math.pi * radius ** 2 * (J[0, 2] - J[2, 0])  # plane (i, j) = (2, 0): J[j,i] − J[i,j]
    assert abs(c.value - green) <= c.bound + QUAD_TOL


def test_circulation_of_a_gradient_vanishes_within_bound():
    def grad(t):  # ∇ of f = cos(t0)·t1² + exp(t1 t2)
        return np.array([-np.sin(t[0]) * t[1] ** 2,
                         2 * np.cos(t[0]) * t[1] + t[2] * np.exp(t[1] * t[2]),
                         t[1] * np.exp(t[1] * t[2])])
    c = circulation(grad, np.array([0.3, -0.8, 0.5]), (0, 1), radius=0.5)
    assert abs(c.value) <= c.bound
    assert c.bound < 1e-9  # and the bound is a real statement, not a blanket


@pytest.mark.parametrize("call, argument", [
    (lambda: circulation(lambda t: t, np.zeros(2), (1, 1)), "plane"),
    (lambda: circulation(lambda t: t, np.zeros(2), (0, 1), radius=-1.0), "radius"),
    (lambda: circulation(lambda t: t, np.zeros(2), (0, 1), f_error=np.inf), "f_error"),
    (lambda: field_jacobian(lambda t: t, np.zeros(2), method="forward"), "method"),
    (lambda: field_jacobian(lambda t: t, [0.0, np.nan]), "theta"),
])
def test_circulation_and_jacobian_bad_input(call, argument):
    with pytest.raises(ValidationError) as exc:
        call()
    assert exc.value.argument == argument


# -- is_gradient_field --------------------------------------------------------
def test_rotation_is_certified_not_gradient():
    fv = is_gradient_field(lambda t: np.array([-t[1], t[0], 0 * t[2]]), np.ones(3))
    assert not fv.holds and fv.certified_not_gradient
    assert fv.symmetry.witness == (0, 1)
    # curl 2 over a disc of radius ρ: 2πρ²
    assert math.isclose(fv.circulation.value, 2 * math.pi * fv.circulation.radius ** 2, rel_tol=1e-12)


def test_gradient_of_quadratic_is_gradient():
    A = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 1.0]])
    fv = is_gradient_field(lambda t: A @ t + 1.0, np.array([0.1, 0.2, 0.3]))
    assert fv.holds and not fv.certified_not_gradient


def _episodic_mdp(gamma: float) -> MDP:
    """Two decision states and a terminal state; action 1 moves on, action 0 loops back."""
    P = np.zeros((3, 2, 3))
    P[0, 0] = [0.5, 0.5, 0.0]
    P[0, 1] = [0.0, 0.2, 0.8]
    P[1, 0] = [0.6, 0.0, 0.4]
    P[1, 1] = [0.0, 0.1, 0.9]
    P[2, :, 2] = 1.0
    r = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    return MDP(P, r, gamma, rho0=[1.0, 0.0, 0.0], terminal=np.array([False, False, True]))


def test_update_without_discount_is_not_a_gradient_but_policy_gradient_is():
    """Nota & Thomas 2020: dropping γᵗ leaves a field with curl; ∇J has none."""
    mdp = _episodic_mdp(0.8)
    pol = TabularSoftmax(3, 2)
    theta = np.array([[0.3, -0.2], [0.1, 0.4], [0.0, 0.0]])
    bad = is_gradient_field(lambda th: expected_update_without_discount(mdp, pol, th), theta)
    good = is_gradient_field(lambda th: policy_gradient(mdp, pol, th), theta)
    assert not bad.holds and bad.certified_not_gradient
    assert abs(bad.circulation.value) > bad.circulation.bound
    assert good.holds
    assert abs(good.circulation.value) <= good.circulation.bound


def test_with_gamma_one_the_two_updates_coincide_and_both_are_gradients():
    mdp = _episodic_mdp(1.0)
    pol = TabularSoftmax(3, 2)
    theta = np.array([[0.3, -0.2], [0.1, 0.4], [0.0, 0.0]])
    np.testing.assert_allclose(expected_update_without_discount(mdp, pol, theta),
                               policy_gradient(mdp, pol, theta), atol=1e-12)
    assert is_gradient_field(lambda th: expected_update_without_discount(mdp, pol, th), theta).holds


def test_continuing_update_without_discount_is_not_a_gradient():
    P = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.7, 0.3], [0.05, 0.95]]])
    mdp = MDP(P, [[1.0, 0.0], [0.0, 2.0]], gamma=0.9)
    pol = TabularSoftmax(2, 2)
    theta = np.array([[0.2, -0.1], [0.3, 0.0]])
    fv = is_gradient_field(lambda th: expected_update_without_discount(mdp, pol, th), theta)
    assert fv.certified_not_gradient
    assert is_gradient_field(lambda th: policy_gradient(mdp, pol, th), theta).holds


def test_one_parameter_field_is_a_gradient():
    fv = is_gradient_field(lambda t: np.sin(t), np.array([0.3]))
    assert fv.holds and fv.circulation is None


# -- values near the largest float64 ------------------------------------------
@pytest.mark.parametrize("sparse", [False, True])
def test_symmetry_norms_of_huge_finite_matrices_are_finite(sparse):
    M = np.array([[1e308, 0.5e308], [-1e308, 1e308]])
    v = symmetry_verdict(sp.csr_array(M) if sparse else M)
    assert not v.holds and v.max_asymmetry == 1.5e308
    # ‖(M − Mᵀ)/2‖_F = √2 · 0.75e308
    assert math.isclose(v.antisymmetric_norm, math.sqrt(2.0) * 0.75e308, rel_tol=1e-15)
    big = np.full((50, 50), 1e307)
    big[0, 1] = -1e307
    w = symmetry_verdict(sp.csr_array(big) if sparse else big)
    assert math.isclose(w.antisymmetric_norm, math.sqrt(2.0) * 1e307, rel_tol=1e-15)


def test_an_asymmetry_beyond_the_largest_float_is_refused_by_index():
    with pytest.raises(ValidationError) as exc:
        symmetry_verdict(np.array([[1e308, -1e308], [1e308, 1e308]]))
    assert exc.value.argument == "M" and exc.value.index == (0, 1)


_HUGE_FIELDS = {
    "gradient": lambda t: 1e308 * np.tanh(t),
    "rotation": lambda t: 0.5e308 * np.array([-t[1], t[0]]),
    "overflowing rotation": lambda t: 1e308 * np.array([-t[1], t[0]]),
    "near -max": lambda t: -1.7e308 + 1e300 * np.array([-t[1], t[0]]),
}


@pytest.mark.parametrize("name", sorted(_HUGE_FIELDS))
@pytest.mark.parametrize("method", ["auto", "central"])
@pytest.mark.parametrize("at", [0.0, 1.0])
def test_fields_near_the_largest_float_are_refused_or_decided_finitely(name, method, at):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            fv = is_gradient_field(_HUGE_FIELDS[name], np.full(2, at), method=method)
        except ValidationError as exc:
            assert exc.argument == "F"
            return
    numbers = [fv.symmetry.max_asymmetry, fv.symmetry.antisymmetric_norm, fv.symmetry.tolerance,
               fv.circulation.value, fv.circulation.bound, fv.stokes_estimate]
    assert all(math.isfinite(x) for x in numbers)
    assert fv.status == ("gradient" if name == "gradient" else "not a gradient")
