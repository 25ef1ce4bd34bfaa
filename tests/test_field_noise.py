"""Field verdicts bounded by the field's own error (Moré & Wild 2011 noise estimates).

Tiers: known noise levels (uniform noise of known standard deviation, a constant field); the
boundaries of the two certificate conditions with an explicit ``field_error`` (the loop's noise
against πρ²·curl, the Jacobian floor against the asymmetry); ∇J of random models at γ close to 1,
which is a gradient and was once certified not to be one; a gradient evaluated with noise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import mdpgrad as mg
from mdpgrad.fields import circulation, field_jacobian
from mdpgrad.fields._circulation import RADIUS_RTOL
from mdpgrad.fields._jacobian import COMPLEX_NOISE_FACTOR
from mdpgrad.fields._noise import field_noise
from mdpgrad.gradients._theorem import gradient_at

#: The noise estimate is a statistic of eight differences: within a factor 2 of the truth
#: (Moré & Wild 2011, §5, report agreement within a factor of a few).
NOISE_FACTOR = 2.0


def _rotation(t):
    return np.array([-t[1], t[0]])


def test_noise_of_uniform_noise_is_its_standard_deviation():
    rng = np.random.default_rng(3)
    amplitude = 1e-9          # uniform on [−a, a]: σ = a/√3

    def F(x):
        return np.array([np.sin(x[0]) + x[1] ** 2, np.cos(x[1])]) + amplitude * rng.uniform(-1, 1, 2)

    sigma = field_noise(F, np.array([0.3, -0.7]))
    truth = amplitude / math.sqrt(3.0)
    assert np.all(sigma >= truth / NOISE_FACTOR) and np.all(sigma <= truth * NOISE_FACTOR)


def test_noise_of_a_constant_field_is_zero():
    assert field_noise(lambda x: np.array([1.5, -2.0]), np.zeros(2)).tolist() == [0.0, 0.0]


def test_jacobian_reports_the_field_error_it_used():
    fj = field_jacobian(_rotation, np.ones(2), field_error=1e-3)
    assert fj.field_error.tolist() == [1e-3, 1e-3]
    # complex step at θ = (1, 1): floor 4σ/max(1, max|θ|) + 4ε·max|J| = 4σ + 4ε
    assert fj.method == "complex-step"
    assert np.allclose(fj.error, COMPLEX_NOISE_FACTOR * 1e-3 + 4 * np.finfo(float).eps, rtol=1e-15)


@pytest.mark.parametrize("factor, certified", [(0.99, True), (1.01, False)])
def test_loop_noise_boundary(factor, certified):
    """Curl 2 on a disc of radius ρ: circulation 2πρ²; the noise part of the bound is 4πρσ."""
    theta = np.ones(2)
    rho = RADIUS_RTOL * 1.0
    sigma_star = 2 * math.pi * rho ** 2 / (4 * math.pi * rho)      # = ρ/2
    fv = mg.is_gradient_field(_rotation, theta, field_error=factor * sigma_star)
    assert fv.certified_not_gradient == certified
    assert not fv.holds
    assert fv.status == ("not a gradient" if certified else "undecided")
    if not certified:
        assert fv.verdict == "undecided: field error too large"


@pytest.mark.parametrize("factor, certified", [(0.99, True), (1.01, False)])
def test_jacobian_floor_boundary(factor, certified):
    """With a large loop the circulation is decisive; the floor 2·4σ must stay below the asymmetry 2."""
    theta = np.ones(2)
    sigma_star = 2.0 / (2 * COMPLEX_NOISE_FACTOR)
    fv = mg.is_gradient_field(_rotation, theta, field_error=factor * sigma_star, radius=10.0)
    assert not fv.circulation.holds                    # 628 against a noise bound ≈ 4π·10·0.25
    assert fv.certified_not_gradient == certified
    assert fv.status == ("not a gradient" if certified else "undecided")


def test_field_error_has_one_name_at_a_time():
    with pytest.raises(mg.ValidationError) as exc:
        mg.is_gradient_field(_rotation, np.ones(2), f_error=1e-3, field_error=1e-3)
    assert exc.value.argument == "field_error"
    with pytest.raises(mg.ValidationError, match="field_error"):
        mg.is_gradient_field(_rotation, np.ones(2), field_error=-1.0)


def _random_model(seed: int, gamma: float) -> mg.MDP:
    rng = np.random.default_rng(seed)
    P = rng.random((4, 2, 4))
    P /= P.sum(axis=-1, keepdims=True)
    return mg.MDP(P, rng.standard_normal((4, 2)), gamma)


@pytest.mark.parametrize("seed", range(1, 9))
@pytest.mark.parametrize("gamma", [0.999999, 1 - 1e-7])
def test_grad_j_near_gamma_one_is_never_certified_not_a_gradient(seed, gamma):
    """Once: circulation −9.4e-8 against a bound 3.3e-8 that assumed F accurate to 1e-13."""
    mdp, pol = _random_model(seed, gamma), mg.TabularSoftmax(4, 2)
    fv = mg.is_gradient_field(lambda t: mg.policy_gradient(mdp, pol, t), np.zeros((4, 2)))
    assert not fv.certified_not_gradient
    assert fv.status != "not a gradient"
    # ∇J now comes from the deflated route, accurate to its stated error: the checker decides
    # "gradient", and the noise it measures in F stays below the error ∇J states for itself
    assert fv.status == "gradient"
    _, stated = mg.policy_gradient(mdp, pol, np.zeros((4, 2)), error=True)
    assert fv.field_error <= float(np.abs(stated).max())


def test_update_without_discount_near_gamma_one_is_still_certified_where_its_curl_is_resolvable():
    mdp, pol = _random_model(1, 0.99), mg.TabularSoftmax(4, 2)
    theta = np.zeros((4, 2))
    fv = mg.is_gradient_field(lambda t: mg.expected_update_without_discount(mdp, pol, t), theta)
    assert fv.certified_not_gradient and fv.status == "not a gradient"


def test_grad_j_by_complex_step_at_a_flat_point_is_a_gradient():
    """two-state-reversible at θ = 0: ∇²J ≈ 0, its rounding 3e-15 once read as relative asymmetry 1.25."""
    mdp, pol = mg.get_example("two-state-reversible"), mg.TabularSoftmax(2, 2)
    fv = mg.is_gradient_field(lambda t: gradient_at(mdp, pol, t), np.zeros((2, 2)))
    assert fv.jacobian.method == "complex-step"
    assert fv.holds and fv.status == "gradient"
    # the floor comes from F's error (σ ≈ 3e-15), not from max|J| ≈ 2e-15
    assert fv.symmetry.tolerance >= 2 * COMPLEX_NOISE_FACTOR * fv.field_error


@pytest.mark.parametrize("seed", range(5))
def test_a_noisy_gradient_is_never_certified_not_a_gradient(seed):
    rng = np.random.default_rng(seed)

    def F(t):          # ∇ of ½|t|² + t₀t₁, evaluated with noise 1e-9
        return np.array([t[0] + t[1], t[1] + t[0], t[2]]) + 1e-9 * rng.standard_normal(3)

    fv = mg.is_gradient_field(F, np.array([0.2, -0.1, 0.4]))
    assert not fv.certified_not_gradient
    c = circulation(F, np.array([0.2, -0.1, 0.4]), (0, 1))
    assert c.holds and c.f_error > 1e-10


@pytest.mark.parametrize("factor, status", [(0.99, "gradient"), (1.01, "undecided")])
def test_resolution_boundary_of_a_gradient_verdict(factor, status):
    """F = 2θ at θ = (1, 1): floor 2·4σ against RESOLUTION_RTOL times the derivative scale 2."""
    from mdpgrad.fields._checker import RESOLUTION_RTOL

    sigma_star = RESOLUTION_RTOL * 2.0 / (2 * COMPLEX_NOISE_FACTOR)
    fv = mg.is_gradient_field(lambda t: 2.0 * t, np.ones(2), field_error=factor * sigma_star)
    assert fv.circulation.holds and fv.symmetry.holds
    assert fv.status == status and fv.holds == (status == "gradient")
    assert not fv.certified_not_gradient
    if status == "undecided":
        assert fv.verdict == "undecided: field error too large"
