"""The argument contract of mdpgrad.td, mg.td_symmetry and mdpgrad.variance.

Bad input is refused with a ValidationError naming the argument: wrong object
types, nan/inf values and tolerances, ragged arrays, batches of policies where
one table is expected, and dense objects (S·A × S·A Jacobians, n × n chains,
k × k feature matrices, eigen-solver copies) whose size exceeds the memory
limit, refused before allocation with the estimate and the limit.  Decision
rules are tested on both sides of their boundary.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp

import mdpgrad as mg
from mdpgrad import ValidationError, td, variance
from mdpgrad.examples import two_state

MDP2 = two_state(0.9)
PI = mg.uniform_policy(2, 2)
Q = np.array([[1.0, 0.5], [0.2, -0.3]])
PHI = np.eye(4)[:, :3]
POLICY = mg.TabularSoftmax(2, 2)
THETA = np.array([[0.3, -0.2], [0.1, 0.4]])


@pytest.fixture
def memory_limit():
    """Set the memory limit for one test; restore it afterwards."""
    old = mg.set_memory_limit(None)
    yield mg.set_memory_limit
    mg.set_memory_limit(old)


def _raises(argument, fn, *args, **kwargs):
    with pytest.raises(ValidationError) as info:
        fn(*args, **kwargs)
    assert info.value.argument == argument, str(info.value)
    return info.value


# -- 5: nan values and nan/inf tolerances are refused, never flowing to the output ------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_values_are_refused(bad):
    Qb = Q.copy()
    Qb[1, 0] = bad
    err = _raises("Q", td.td_update, MDP2, PI, Qb)
    assert err.index == (1, 0)
    _raises("Q", td.q_learning_update, MDP2, Qb)
    _raises("Q", td.q_learning_jacobian, MDP2, Qb)
    _raises("Q", td.td_update, MDP2, PI, Qb.astype(complex))
    _raises("v", td.td_update_v, MDP2, PI, [1.0, bad])
    _raises("w", td.linear_td_update, MDP2, PI, PHI, [0.0, bad, 0.0])
    _raises("w", td.regression_update, MDP2, PI, PHI, [0.0, bad, 0.0])
    _raises("w", td.residual_gradient_update, MDP2, PI, PHI, [0.0, bad, 0.0])
    _raises("w0", td.iterate_expected_update, MDP2, PI, PHI, [bad, 0.0, 0.0], step_size=0.1, n_steps=2)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -1.0])
def test_nonfinite_tolerances_are_refused(bad):
    _raises("rtol", mg.td_symmetry, MDP2, PI, rtol=bad)
    _raises("rtol", td.reversibility_verdict, np.full((2, 2), 0.5), rtol=bad)
    _raises("atol", td.stability, -np.eye(2), atol=bad)
    _raises("tie_atol", td.q_learning_jacobian, MDP2, Q, tie_atol=bad)


def test_tolerance_boundary_zero_is_accepted():
    assert mg.td_symmetry(MDP2, PI, rtol=0.0).weights.shape == (4,)
    assert td.stability(-np.eye(2), atol=0.0).converges


def test_ragged_values_are_refused():
    _raises("Q", td.td_update, MDP2, PI, [[1.0], [1.0, 2.0]])
    _raises("Q", td.q_learning_update, MDP2, [[1.0], [1.0, 2.0]])
    _raises("v", td.td_update_v, MDP2, PI, [[1.0], [1.0, 2.0]])
    _raises("jacobian", td.stability, [[1.0], [1.0, 2.0]])


def test_iterates_that_overflow_are_refused_not_returned():
    """A divergent expected iteration raises before an inf or nan iterate is stored."""
    ws = td.iterate_expected_update(MDP2, PI, PHI, np.zeros(3), step_size=1e3, n_steps=3)
    assert np.isfinite(ws).all()
    err = _raises("step_size", td.iterate_expected_update, MDP2, PI, PHI, np.zeros(3), step_size=1e3,
                  n_steps=400)
    assert "overflow" in str(err)


@pytest.mark.parametrize("fn", [td.td_fixed_point, td.regression_solution, td.linear_td_jacobian,
                                td.regression_jacobian, td.residual_gradient_jacobian])
def test_features_whose_products_overflow_are_refused_quickly(fn):
    """Φ with an entry 1e300 makes ΦᵀDΦ overflow: refused at once, not handed to a least-squares solver."""
    phi = PHI.copy()
    phi[0, 0] = 1e300
    start = time.perf_counter()
    _raises("phi", fn, MDP2, PI, phi)
    assert time.perf_counter() - start < 5.0
    phi[0, 0] = 1e100           # squares to 1e200: representable, so accepted
    assert np.isfinite(fn(MDP2, PI, phi)).all()


# -- 8: dense objects above the memory limit are refused before allocation, with the estimate -------
def test_dense_td_jacobian_memory_boundary(memory_limit):
    need = 8 * 4 * 4                        # (S·A)² float64 for S = A = 2
    memory_limit(need)
    assert td.td_jacobian(MDP2, PI).shape == (4, 4)
    memory_limit(need - 1)
    err = _raises("mdp", td.td_jacobian, MDP2, PI)
    assert "128 bytes" in str(err) and "127 bytes" in str(err) and "4 x 4" in str(err)


def test_dense_jacobians_and_chains_above_the_limit(memory_limit):
    memory_limit(8 * 4 * 4 - 1)
    _raises("mdp", mg.td_symmetry, MDP2, PI)
    _raises("mdp", td.q_learning_jacobian, MDP2, Q)
    _raises("mdp", td.linear_td_jacobian, MDP2, PI, None)
    _raises("mdp", td.linear_td_update, MDP2, PI, PHI, np.zeros(3))       # the 4 x 4 pair chain
    memory_limit(8 * 2 * 2 - 1)
    _raises("mdp", td.td_jacobian_v, MDP2, PI)
    _raises("mdp", mg.td_symmetry, MDP2, PI, values="v")


def test_sparse_mdps_stay_sparse_under_a_small_limit(memory_limit):
    sparse = mg.MDP(sp.csr_array(MDP2.P.reshape(4, 2)), MDP2.r, MDP2.gamma)
    memory_limit(8 * 4 * 4 - 1)
    assert sp.issparse(td.td_jacobian(sparse, PI))


def test_feature_matrix_memory_boundary(memory_limit):
    k = 3
    memory_limit(max(8 * k * k, 8 * 4 * 4))
    assert td.linear_td_jacobian(MDP2, PI, PHI).shape == (3, 3)
    phi = np.ones((4, 20))
    memory_limit(8 * 20 * 20 - 1)
    err = _raises("phi", td.linear_td_jacobian, MDP2, PI, phi)
    assert "20 x 20" in str(err)


def test_stability_memory_boundary(memory_limit):
    memory_limit(8 * 3 * 3)
    assert td.stability(-np.eye(3)).converges
    memory_limit(8 * 3 * 3 - 1)
    _raises("jacobian", td.stability, -np.eye(3))
    _raises("jacobian", td.stability, sp.eye_array(3, format="csr"))


def test_iterates_memory_is_checked_before_allocation(memory_limit):
    err = _raises("n_steps", td.iterate_expected_update, MDP2, PI, PHI, np.zeros(3), step_size=0.1,
                  n_steps=2**60)
    assert "memory limit" in str(err)


def test_score_matrix_memory(memory_limit):
    memory_limit(8 * 4 * 4 - 1)            # the d × d covariance, d = 4
    _raises("policy", variance.advantage_draws_covariance, MDP2, POLICY, THETA)


# -- 11: nan in stability; wrong object types ---------------------------------------------------------
@pytest.mark.parametrize("J", [np.array([[np.nan, 0.0], [0.0, -1.0]]),
                               sp.csr_array(np.array([[np.nan, 0.0], [0.0, -1.0]]))])
def test_stability_refuses_nan(J):
    _raises("jacobian", td.stability, J)


def test_stability_refuses_overflowing_eigenvalues():
    _raises("jacobian", td.stability, np.full((2, 2), 1e308))
    assert np.isfinite(td.stability(np.full((2, 2), 1e300)).eigenvalues).all()


@pytest.mark.parametrize("bad", [None, "two_state", {"P": 1}, 3, np.eye(2)])
def test_wrong_object_types_for_the_mdp(bad):
    _raises("mdp", td.td_update, bad, PI, Q)
    _raises("mdp", td.td_jacobian, bad, PI)
    _raises("mdp", td.td_update_v, bad, PI, [0.0, 0.0])
    _raises("mdp", td.td_jacobian_v, bad, PI)
    _raises("mdp", td.q_learning_update, bad, Q)
    _raises("mdp", td.q_learning_jacobian, bad, Q)
    _raises("mdp", td.diagonal_weights, bad, PI, "occupancy")
    _raises("mdp", mg.td_symmetry, bad, PI)
    _raises("mdp", td.linear_td_update, bad, PI, PHI, np.zeros(3))
    _raises("mdp", td.td_fixed_point, bad, PI, PHI)
    _raises("mdp", td.regression_solution, bad, PI, PHI)
    _raises("mdp", td.iterate_expected_update, bad, PI, PHI, np.zeros(3), step_size=0.1, n_steps=1)
    _raises("mdp", variance.return_variance, bad, PI)
    _raises("mdp", variance.advantage_draws_covariance, bad, POLICY, THETA)


@pytest.mark.parametrize("bad", [None, "softmax", PI, 1.5])
def test_wrong_object_types_for_the_policy(bad):
    _raises("policy", variance.advantage_draws_covariance, MDP2, bad, THETA)
    _raises("policy", variance.sample_efficiency, MDP2, bad, THETA, lambda tr, p, th: None, n_episodes=4)


def test_policy_of_another_size_is_refused():
    _raises("policy", variance.advantage_draws_covariance, MDP2, mg.TabularSoftmax(3, 2), np.zeros((3, 2)))


@pytest.mark.parametrize("bad", ["abc", THETA + 1j, THETA[0], np.stack([THETA, THETA])])
def test_theta_of_the_variance_functions(bad):
    _raises("theta", variance.advantage_draws_covariance, MDP2, POLICY, bad)
    _raises("theta", variance.sample_efficiency, MDP2, POLICY, bad, lambda tr, p, th: None, n_episodes=4)


def test_evaluation_must_be_an_evaluation():
    _raises("evaluation", variance.advantage_draws_covariance, MDP2, POLICY, THETA, evaluation="cached")


def test_estimator_must_be_callable():
    _raises("estimator", variance.sample_efficiency, MDP2, POLICY, THETA, 42, n_episodes=4)


@pytest.mark.parametrize("bad", [True, 0, 1.5, -1, 2**63])
def test_reversibility_verdict_refuses_scalars(bad):
    _raises("P_chain", td.reversibility_verdict, bad)


def test_reversibility_verdict_refuses_bad_chains_and_weights():
    _raises("P_chain", td.reversibility_verdict, np.ones((2, 3)) / 3)
    _raises("P_chain", td.reversibility_verdict, np.array([[1.5, -0.5], [0.5, 0.5]]))
    _raises("P_chain", td.reversibility_verdict, sp.csr_array(np.array([[np.nan, 1.0], [0.5, 0.5]])))
    _raises("d", td.reversibility_verdict, np.full((2, 2), 0.5), [0.5, np.nan])
    _raises("d", td.reversibility_verdict, np.full((2, 2), 0.5), [1.5, -0.5])
    assert td.reversibility_verdict(np.full((2, 2), 0.5), [0.5, 0.5]).holds


@pytest.mark.parametrize("bad", [None, "abc", {}, 1.5, np.nan, [[1.0], [1.0, 2.0]], np.array(["a", "b"]),
                                 sp.csr_array(np.eye(2))])
def test_effective_sample_size_refuses_bad_estimates(bad):
    _raises("estimates", variance.effective_sample_size, bad, 1.0)


@pytest.mark.parametrize("bad", [None, "1", np.nan, np.inf, -1.0, 10**400, [1.0], 1j])
def test_effective_sample_size_refuses_bad_trace(bad):
    _raises("iid_trace", variance.effective_sample_size, np.array([[1.0], [3.0]]), bad)


def test_effective_sample_size_without_variation_is_refused_not_inf():
    _raises("estimates", variance.effective_sample_size, np.zeros((4, 3)), 1.0)
    assert variance.effective_sample_size(np.array([[0.0], [1e-150]]), 0.0) == 0.0
    _raises("estimates", variance.effective_sample_size, np.array([[1e300], [-1e300]]), 1.0)


# -- 12: a batch of policies where one table is expected -------------------------------------------
@pytest.mark.parametrize("call", [
    lambda pi: mg.td_symmetry(MDP2, pi),
    lambda pi: mg.td_symmetry(MDP2, pi, D="stationary", values="v"),
    lambda pi: td.td_update(MDP2, pi, Q),
    lambda pi: td.td_jacobian(MDP2, pi),
    lambda pi: td.td_update_v(MDP2, pi, [0.0, 0.0]),
    lambda pi: td.td_jacobian_v(MDP2, pi),
    lambda pi: td.diagonal_weights(MDP2, pi, "occupancy"),
    lambda pi: td.linear_td_jacobian(MDP2, pi, PHI),
    lambda pi: td.td_fixed_point(MDP2, pi, PHI),
    lambda pi: variance.return_variance(MDP2, pi),
])
def test_a_batch_of_policies_is_refused(call):
    batch = np.stack([PI, PI, PI])
    err = _raises("pi", call, batch)
    assert "(3, 2, 2)" in str(err)
    call(PI)                                       # one table of the same batch is fine


def test_td_symmetry_batch_message_says_to_loop():
    err = _raises("pi", mg.td_symmetry, MDP2, np.stack([PI, PI]))
    assert "batch" in str(err)
