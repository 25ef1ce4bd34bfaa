"""The input contract of the gradient, field and surrogate functions.

Bad input is refused with ValidationError at the boundary (nothing repaired, no nan flowing
to the output, no tolerance switching a check off); Jacobians, Hessians and Fisher matrices
whose memory would exceed the limit are refused before anything is allocated; the batch
surrogates take the FrozenBatch of ``freeze``; functions of one point refuse batches, and the
functions that take batches give what the loop of single calls gives.
"""

from __future__ import annotations

import numpy as np
import pytest

import mdpgrad as mg
from mdpgrad import ValidationError, fields, gradients, surrogates
from mdpgrad import examples as ex
from mdpgrad._derivatives import approx_jacobian
from tests._models import random_mdp

MDP2 = ex.two_state()
EPISODIC = ex.two_state_episodic(gamma=0.9)
POLICY = mg.TabularSoftmax(2, 2)
THETA = np.array([[0.3, -0.2], [0.1, 0.4]])
PHI3 = np.arange(12.0).reshape(2, 2, 3) / 12


@pytest.fixture
def memory_limit():
    """Restore the memory limit after a test that lowers it."""
    old = mg.set_memory_limit(None)
    mg.set_memory_limit(old)
    yield
    mg.set_memory_limit(old)


# -- quiet repairs -----------------------------------------------------------------------------------

def test_loglinear_gradient_refuses_a_theta_of_the_wrong_length():
    assert gradients.loglinear_gradient(MDP2, PHI3, np.ones(3)).shape == (3,)
    for bad in (np.ones(1), np.ones(2), np.ones(4), np.ones((3, 1))):
        with pytest.raises(ValidationError, match="theta has shape"):
            gradients.loglinear_gradient(MDP2, PHI3, bad)


def test_loglinear_gradient_refuses_features_of_another_model():
    with pytest.raises(ValidationError, match="phi has shape"):
        gradients.loglinear_gradient(MDP2, np.ones((3, 2, 3)), np.ones(3))


@pytest.mark.parametrize("tol", [float("inf"), float("nan"), 0.0, -1e-12])
def test_check_gradient_tolerance_cannot_switch_the_check_off(tol):
    with pytest.raises(ValidationError, match="tol"):
        mg.check_gradient(lambda x: float(np.sum(x ** 2)), lambda x: 2 * x, np.ones(2), tol=tol)


def test_check_gradient_tolerance_just_inside_is_accepted():
    chk = mg.check_gradient(lambda x: float(np.sum(x ** 2)), lambda x: 2 * x, np.ones(2), tol=1e-300)
    assert chk.tol == 1e-300


def test_check_gradient_refuses_a_non_finite_function_rather_than_reporting_nan():
    with pytest.raises(ValidationError, match="f is not finite"):
        mg.check_gradient(lambda x: float(np.sum(x ** 2)) if x[0] < 1 else float("nan"),
                          lambda x: 2 * x, np.ones(2))


@pytest.mark.parametrize("rtol", [float("inf"), float("nan"), -1.0])
def test_is_gradient_field_rtol_cannot_switch_the_check_off(rtol):
    def rotation(t):
        return np.array([-t[1], t[0]])
    with pytest.raises(ValidationError, match="rtol"):
        mg.is_gradient_field(rotation, np.zeros(2), rtol=rtol)
    assert mg.is_gradient_field(rotation, np.zeros(2), rtol=1e300).certified_not_gradient   # just inside


def test_field_checks_refuse_a_field_returning_nan():
    def F(t):
        return np.array([np.nan, t[0]])
    for fn in (lambda: fields.field_jacobian(F, np.zeros(2)),
               lambda: fields.circulation(F, np.zeros(2), (0, 1)),
               lambda: mg.is_gradient_field(F, np.zeros(2))):
        with pytest.raises(ValidationError, match="finite"):
            fn()


def test_field_checks_do_not_drop_an_imaginary_part():
    with pytest.raises(ValidationError, match="complex"):
        fields.field_jacobian(lambda t: t + 1j, np.zeros(2), method="central")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_theta_is_refused_not_propagated(bad):
    th = THETA.copy()
    th[0, 1] = bad
    batch = surrogates.freeze(MDP2, POLICY, THETA)
    for fn in (lambda: mg.objective(MDP2, POLICY, th), lambda: mg.policy_gradient(MDP2, POLICY, th),
               lambda: gradients.softmax_gradient(MDP2, th), lambda: gradients.direct_gradient(MDP2, th),
               lambda: surrogates.stop_gradient_surrogate(batch, POLICY, th),
               lambda: surrogates.live_surrogate(MDP2, POLICY, th),
               lambda: mg.expected_update_without_discount(EPISODIC, POLICY, th)):
        with pytest.raises(ValidationError, match=r"(theta|pi)\[0, 1\]"):
            fn()


def test_non_finite_direction_is_refused():
    u = np.ones((2, 2))
    u[1, 0] = np.nan
    for fn in (gradients.hessian_vector_product, gradients.fisher_vector_product):
        with pytest.raises(ValidationError, match=r"u\[1, 0\]"):
            fn(MDP2, POLICY, THETA, u)


def test_large_finite_logits_give_the_softmax_limit():
    # θ = 1e300 in one entry: π is deterministic in that state; nothing is nan
    th = THETA.copy()
    th[0, 1] = 1e300
    for g in (gradients.softmax_gradient(MDP2, th), mg.policy_gradient(MDP2, POLICY, th)):
        assert np.isfinite(g).all()


def test_objective_refuses_complex_theta():
    with pytest.raises(ValidationError, match="complex"):
        mg.objective(MDP2, POLICY, THETA + 1e-20j)


def test_hessian_is_still_exact_through_the_complex_step():
    # ∓90/1331 on the standard two-state example (exact, derived by hand in test_second_order)
    mdp = mg.MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    H = mg.policy_hessian(mdp, POLICY, np.zeros((2, 2))).reshape(4, 4)
    np.testing.assert_allclose(H[:2, :2] * 1331, [[-90.0, 90.0], [90.0, -90.0]], rtol=1e-12)


# -- memory ------------------------------------------------------------------------------------------

def test_field_jacobian_of_a_huge_theta_is_refused_before_f_is_called():
    calls = []

    def F(t):
        calls.append(1)
        return t
    with pytest.raises(ValidationError, match="memory limit"):
        fields.field_jacobian(F, np.zeros(10**5))
    with pytest.raises(ValidationError, match="memory limit"):
        mg.is_gradient_field(F, np.zeros(10**5))
    assert calls == []


def test_approx_jacobian_refuses_after_one_evaluation(memory_limit):
    n = 100
    calls = []

    def f(x):
        calls.append(1)
        return x * x
    # complex step, one coordinate per call: columns and their stack, 2 · 8 · n · n bytes
    mg.set_memory_limit(2 * 8 * n * n)
    assert approx_jacobian(f, np.ones(n)).shape == (n, n)
    mg.set_memory_limit(2 * 8 * n * n - 1)
    calls.clear()
    with pytest.raises(ValidationError, match="memory limit"):
        approx_jacobian(f, np.ones(n))
    assert len(calls) == 1


def test_approx_jacobian_with_a_huge_input_is_refused():
    with pytest.raises(ValidationError, match="memory limit"):
        approx_jacobian(lambda x: x, np.zeros(10**5))


def test_second_order_matrices_of_many_parameters_are_refused_up_front():
    k = 40_000                  # an n × n matrix of 40 000 parameters is 12.8 GB
    phi = np.zeros((2, 2, k))
    phi[:, 1, :] = 1e-3
    pol = mg.LogLinear(phi)
    th = np.zeros(k)
    for fn in (mg.policy_hessian, mg.fisher_information, mg.natural_gradient):
        with pytest.raises(ValidationError, match="memory limit"):
            fn(MDP2, pol, th)


def test_reuse_frozen_batch_has_a_step_limit():
    with pytest.raises(ValidationError, match="n_steps"):
        surrogates.reuse_frozen_batch(MDP2, POLICY, THETA, n_steps=10**9, step_size=0.1)
    with pytest.raises(ValidationError, match="n_steps"):
        surrogates.reuse_frozen_batch(MDP2, POLICY, THETA, n_steps=surrogates.MAX_REUSE_STEPS + 1,
                                      step_size=0.1)


def test_reuse_frozen_batch_memory_is_estimated_before_the_first_step(memory_limit):
    # the trace: 8 (k + 1)(3n + 2) bytes with n = 4 parameters
    k = 50_000
    mg.set_memory_limit(8 * (k + 1) * (3 * 4 + 2) - 1)
    with pytest.raises(ValidationError, match="memory limit"):
        surrogates.reuse_frozen_batch(MDP2, POLICY, THETA, n_steps=k, step_size=0.1)


def test_reuse_frozen_batch_refuses_a_step_that_overflows():
    with pytest.raises(ValidationError, match="step_size"):
        surrogates.reuse_frozen_batch(MDP2, POLICY, THETA, n_steps=2, step_size=1e308)


# -- frozen batches ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [surrogates.stop_gradient_surrogate,
                                surrogates.stop_gradient_surrogate_gradient,
                                surrogates.importance_surrogate, surrogates.importance_surrogate_gradient,
                                surrogates.ppo_clip_surrogate, surrogates.ppo_clip_surrogate_gradient])
def test_batch_surrogates_take_a_frozen_batch(fn):
    with pytest.raises(ValidationError, match=r"freeze\(mdp, policy, theta0\) first"):
        fn(MDP2, POLICY, THETA)
    batch = surrogates.freeze(MDP2, POLICY, THETA)
    assert np.isfinite(fn(batch, POLICY, THETA)).all()


def test_batch_surrogates_refuse_a_policy_of_another_size():
    batch = surrogates.freeze(MDP2, POLICY, THETA)
    with pytest.raises(ValidationError, match="policy"):
        surrogates.stop_gradient_surrogate(batch, mg.TabularSoftmax(3, 2), np.zeros((3, 2)))


def test_clip_active_refuses_mismatched_or_non_finite_input():
    with pytest.raises(ValidationError, match="adv"):
        surrogates.clip_active(np.ones((2, 2)), np.ones(2), 0.2)
    with pytest.raises(ValidationError, match="ratio"):
        surrogates.clip_active(np.array([np.nan, 1.0]), np.ones(2), 0.2)
    with pytest.raises(ValidationError, match="clip"):
        surrogates.clip_active(np.ones(2), np.ones(2), 0.0)


# -- batches -----------------------------------------------------------------------------------------

ONE_POINT = [
    lambda th: gradients.recursion_gradient(MDP2, POLICY, th),
    lambda th: mg.policy_hessian(MDP2, POLICY, th),
    lambda th: mg.fisher_information(MDP2, POLICY, th),
    lambda th: mg.natural_gradient(MDP2, POLICY, th),
    lambda th: gradients.hessian_vector_product(MDP2, POLICY, th, np.ones((2, 2))),
    lambda th: gradients.fisher_vector_product(MDP2, POLICY, th, np.ones((2, 2))),
    lambda th: gradients.naive_swap_gradient(MDP2, POLICY, th, [[0, 0, 1]], [[1, 0]]),
    lambda th: gradients.baseline_term(MDP2, POLICY, th, [1.0, 2.0]),
    lambda th: gradients.baseline_gradient(MDP2, POLICY, th, [1.0, 2.0]),
    lambda th: gradients.performance_difference(MDP2, POLICY, th, THETA),
    lambda th: gradients.performance_difference(MDP2, POLICY, THETA, th),
    lambda th: surrogates.freeze(MDP2, POLICY, th),
    lambda th: surrogates.stop_gradient_surrogate(surrogates.freeze(MDP2, POLICY, THETA), POLICY, th),
    lambda th: surrogates.importance_surrogate_gradient(surrogates.freeze(MDP2, POLICY, THETA), POLICY, th),
    lambda th: surrogates.ppo_clip_surrogate(surrogates.freeze(MDP2, POLICY, THETA), POLICY, th),
    lambda th: surrogates.live_surrogate_gradient(MDP2, POLICY, th),
]


@pytest.mark.parametrize("k", range(len(ONE_POINT)))
def test_functions_of_one_point_refuse_a_batch(k):
    ONE_POINT[k](THETA)
    with pytest.raises(ValidationError, match="one point"):
        ONE_POINT[k](np.stack([THETA, THETA]))


def test_occupancy_mass_refuses_a_batch_of_tables():
    with pytest.raises(ValidationError, match="pi has shape"):
        gradients.occupancy_mass(MDP2, np.full((3, 2, 2), 0.5))


@pytest.mark.parametrize("sparse", [False, True])
def test_batched_objective_and_gradients_equal_the_loop(sparse):
    mdp = random_mdp(3, n_states=4, n_actions=2, gamma=0.8, episodic=True, sparse=sparse)
    S = mdp.n_states
    pol = mg.TabularSoftmax(S, 2)
    batch = np.random.default_rng(0).standard_normal((2, 3, S, 2))
    for fn in (mg.objective, mg.policy_gradient, mg.expected_update_without_discount):
        out = np.asarray(fn(mdp, pol, batch))
        loop = np.array([[fn(mdp, pol, batch[i, j]) for j in range(3)] for i in range(2)])
        np.testing.assert_allclose(out, loop, rtol=1e-12, atol=1e-14)
    for fn2 in (gradients.softmax_gradient, gradients.direct_gradient):
        out = fn2(mdp, batch if fn2 is gradients.softmax_gradient else np.full((2, 3, S, 2), 0.5))
        one = fn2(mdp, batch[1, 2] if fn2 is gradients.softmax_gradient else np.full((S, 2), 0.5))
        np.testing.assert_allclose(out[1, 2], one, rtol=1e-12, atol=1e-14)


def test_policy_gradient_refuses_an_evaluation_of_another_table():
    ev = mg.evaluate(MDP2, mg.uniform_policy(2, 2))
    with pytest.raises(ValidationError, match="evaluation"):
        mg.policy_gradient(MDP2, POLICY, np.stack([THETA, THETA]), evaluation=ev)
    with pytest.raises(ValidationError, match="evaluation"):
        mg.policy_gradient(MDP2, POLICY, THETA, evaluation="ev")
