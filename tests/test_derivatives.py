"""The derivative engine mdpgrad._derivatives: complex step and central differences.

Tiers: hand-derived Jacobians of polynomials, exp and sin (known numbers);
identities between two computations of one derivative (batched = looped bit
for bit, directional = Jacobian times u, complex step = central differences
within the central error); the central difference of Σ x³ is 3x² + h²
exactly; bad options raise.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdpgrad import ValidationError
from mdpgrad._derivatives import (
    BATCH_ENTRIES,
    CENTRAL_RELATIVE_STEP,
    approx_jacobian,
    batch_size,
    central_differences,
    central_directional,
    central_steps,
    complex_step_blocks,
    complex_step_directional,
)
from mdpgrad.fields import field_jacobian

#: The complex step has no cancellation: derivatives of these elementary
#: functions come out within an ulp or two of the hand-derived values.
CS_RTOL = 1e-15

#: Central differences at h = ε^(1/3): error ≈ ε^(2/3) ≈ 4e-11 times the
#: third-derivative scale (order 1–10 here); 1e-7 leaves room for that.
FD_TOL = 1e-7


def _field(x):
    """F(x) = (x₀² x₁, exp(x₁)); Jacobian [[2x₀x₁, x₀²], [0, exp(x₁)]]."""
    return np.array([x[0] ** 2 * x[1], np.exp(x[1])])


def _field_stack(X):
    return np.stack([X[:, 0] ** 2 * X[:, 1], np.exp(X[:, 1])], axis=1)


def test_complex_step_jacobian_known():
    jac = approx_jacobian(_field, np.array([3.0, 0.5]))
    np.testing.assert_allclose(jac, [[3.0, 9.0], [0.0, np.exp(0.5)]], rtol=CS_RTOL, atol=0)
    batched = approx_jacobian(_field_stack, np.array([3.0, 0.5]), batched=True, chunk=1)
    np.testing.assert_allclose(batched, jac, rtol=CS_RTOL, atol=0)


def test_field_jacobian_gives_the_same_complex_step_jacobian():
    fj = field_jacobian(_field, np.array([3.0, 0.5]), method="complex-step")
    assert fj.method == "complex-step"
    np.testing.assert_array_equal(fj.jacobian, approx_jacobian(_field, np.array([3.0, 0.5])))


def test_jacobian_shape_is_output_then_input():
    x = np.arange(6.0).reshape(2, 3)
    jac = approx_jacobian(lambda z: np.stack([z.sum(), (z ** 2).sum()]), x)
    assert jac.shape == (2, 2, 3)
    np.testing.assert_allclose(jac[0], np.ones((2, 3)), rtol=CS_RTOL)
    np.testing.assert_allclose(jac[1], 2 * x, rtol=CS_RTOL)


@settings(max_examples=25)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6), chunk=st.integers(1, 7))
def test_batched_equals_looped_bit_for_bit(seed, n, chunk):
    # elementwise operations only, so that each point's arithmetic does not depend on the batch
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((3, n))
    x = rng.standard_normal(n)

    def one(z):
        return np.sin(A * z) * np.exp(z[0])

    def stack(Z):
        return np.sin(A * Z[:, None, :]) * np.exp(Z[:, :1, None])

    loop = approx_jacobian(one, x)
    np.testing.assert_array_equal(approx_jacobian(stack, x, batched=True, chunk=chunk), loop)
    np.testing.assert_array_equal(approx_jacobian(stack, x, batched=True), loop)
    cd_loop = central_differences(one, x)
    cd_batch = central_differences(stack, x, batched=True, chunk=chunk)
    np.testing.assert_array_equal(cd_batch.jacobian, cd_loop.jacobian)
    np.testing.assert_array_equal(cd_batch.rounding, cd_loop.rounding)


def test_blocks_cover_every_coordinate_once():
    x = np.linspace(0.1, 1.0, 7)
    seen = []
    for j, D in complex_step_blocks(lambda Z: np.exp(Z), x, batched=True, chunk=3):
        assert D.shape == (j.size, 7)
        np.testing.assert_allclose(D, np.eye(7)[j] * np.exp(x), rtol=CS_RTOL, atol=0)
        seen.extend(j.tolist())
    assert seen == list(range(7))


@settings(max_examples=25)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 5))
def test_directional_derivative_is_jacobian_times_u(seed, n):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    x, u = rng.standard_normal(n), rng.standard_normal(n)

    def f(z):
        return np.tanh(A @ z) + z ** 3

    J = approx_jacobian(f, x)
    scale = max(1.0, float(np.abs(J).sum()) * float(np.abs(u).max()))
    assert np.abs(complex_step_directional(f, x, u) - J @ u).max() <= 10 * CS_RTOL * scale
    d, rounding = central_directional(f, x, u / np.linalg.norm(u))
    assert np.abs(d - J @ (u / np.linalg.norm(u))).max() <= FD_TOL * scale
    assert (rounding >= 0).all()


def test_central_step_rule():
    x = np.array([0.5, -3.0, 1e3])
    h = central_steps(x)
    # ε^(1/3)·max(1, |x|), moved by at most one ulp of x so that x + h is exact
    np.testing.assert_allclose(h, CENTRAL_RELATIVE_STEP * np.array([1.0, 3.0, 1e3]), rtol=1e-10)
    assert np.all((x + h) - x == h)


def test_central_difference_of_a_cubic_is_the_derivative_plus_h_squared():
    # ((x + h)³ − (x − h)³) / 2h = 3x² + h²: the truncation term f‴h²/6 with f‴ = 6
    x = np.array([0.5, -3.0])
    cd = central_differences(lambda z: float(np.sum(z ** 3)), x)
    np.testing.assert_allclose(cd.jacobian, 3 * x ** 2 + cd.step ** 2, rtol=1e-9)
    # the rounding bound ε(|f(x + h e_j)| + |f(x − h e_j)|)/h_j, by hand
    eps, total = np.finfo(float).eps, np.sum(x ** 3)
    plus, minus = total + (x + cd.step) ** 3 - x ** 3, total + (x - cd.step) ** 3 - x ** 3
    np.testing.assert_allclose(cd.rounding, eps * (np.abs(plus) + np.abs(minus)) / cd.step, rtol=1e-9)


def test_complex_step_and_central_agree():
    x = np.array([0.3, -1.2, 2.0])

    def f(z):
        return np.array([np.sin(z[0]) * z[1], np.exp(z[2] * z[0]), z[1] ** 3])

    cs = approx_jacobian(f, x)
    fd = approx_jacobian(f, x, method="central")
    assert np.abs(cs - fd).max() <= FD_TOL * max(1.0, float(np.abs(cs).max()))


def test_complex_step_of_a_constant_is_exactly_zero():
    jac = approx_jacobian(lambda z: np.full(3, 2.0) + 0 * z.sum(), np.ones(4))
    assert jac.shape == (3, 4) and np.all(jac == 0.0)


def test_no_coordinates():
    assert approx_jacobian(lambda z: np.ones(2) * np.sum(z), np.zeros(0)).shape == (2, 0)
    assert central_differences(lambda z: float(np.sum(z)), np.zeros(0)).jacobian.shape == (0,)


def test_batch_size_respects_the_cap():
    assert batch_size(BATCH_ENTRIES // 10) == 10
    assert batch_size(10 * BATCH_ENTRIES) == 1
    assert batch_size(7, max_entries=100) == 14


def test_bad_method_raises():
    with pytest.raises(ValidationError) as info:
        approx_jacobian(_field, np.zeros(2), method="forward")
    assert info.value.argument == "method"
