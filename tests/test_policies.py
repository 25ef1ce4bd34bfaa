"""Policy parameterisations: probabilities and vector-Jacobian products.

The vjps are checked against central differences of Σ w·π and Σ w·log π with
the mixed error max|g − g_fd| / max(1, |g_fd|).  With step h = ε^(1/3) ≈ 6e-6
the central-difference error is h²/6·|f'''| + ε/h ≈ 1e-10 for Σ w·π (|f'''| = O(1)),
so FD_TOL = 1e-8.  For Σ w·log π the third derivative reaches 2|w|/π³; with every
π ≥ 1/8 and |w| ≲ 3 that is ≲ 3e3, giving ≈ 2e-8, hence FD_TOL_LOG = 1e-7.
"""

import numpy as np
import pytest
from _models import random_pi

from mdpgrad import (
    Direct,
    LogLinear,
    TabularSoftmax,
    ValidationError,
    epsilon_greedy_policy,
    greedy_policy,
    uniform_policy,
)

FD_TOL = 1e-8
FD_TOL_LOG = 1e-7
H = np.finfo(float).eps ** (1 / 3)


def central_vjp(f, theta):
    g = np.zeros_like(theta)
    for i in np.ndindex(theta.shape):
        e = np.zeros_like(theta)
        e[i] = H
        g[i] = (f(theta + e) - f(theta - e)) / (2 * H)
    return g


def assert_mixed_close(g, fd, tol):
    err = np.max(np.abs(g - fd) / np.maximum(1.0, np.abs(fd)))
    assert err <= tol, f"mixed error {err:.2e} > {tol:.0e}"


def policies_and_thetas(rng):
    S, A, k = 3, 4, 5
    phi = rng.standard_normal((S, A, k))
    yield TabularSoftmax(S, A), rng.standard_normal((S, A))
    yield LogLinear(phi), rng.standard_normal(k)
    yield Direct(S, A), 0.5 / A + 0.5 * random_pi(rng, S, A)   # every π ≥ 1/8


@pytest.mark.parametrize("seed", range(3))
def test_vjps_match_central_differences(seed):
    rng = np.random.default_rng(seed)
    for pol, theta in policies_and_thetas(rng):
        w = rng.standard_normal((pol.n_states, pol.n_actions))
        pi = pol.probabilities(theta)
        np.testing.assert_allclose(pi.sum(axis=-1), 1.0, rtol=1e-14)
        fd = central_vjp(lambda t: np.sum(w * pol.probabilities(t)), theta)
        assert_mixed_close(pol.prob_vjp(theta, w), fd, FD_TOL)
        fd_log = central_vjp(lambda t: np.sum(w * np.log(pol.probabilities(t))), theta)
        assert_mixed_close(pol.log_prob_vjp(theta, w), fd_log, FD_TOL_LOG)
        # identity: Σ w ∇log π = Σ (w/π) ∇π
        np.testing.assert_allclose(pol.log_prob_vjp(theta, w), pol.prob_vjp(theta, w / pi),
                                   rtol=1e-12, atol=1e-12)


def test_score_has_zero_mean_under_pi():
    # Σ_a π(a|s) ∇log π(a|s) = 0 for simplex-intrinsic parameterisations
    # (the baseline identity; Sutton & Barto 2018, §13.4)
    rng = np.random.default_rng(5)
    for pol, theta in list(policies_and_thetas(rng))[:2]:
        b = rng.standard_normal((pol.n_states, 1))
        w = pol.probabilities(theta) * b      # w[s,a] = π(a|s) b(s)
        np.testing.assert_allclose(pol.log_prob_vjp(theta, w), 0.0, atol=1e-13)


def test_log_linear_with_one_hot_features_is_tabular_softmax():
    rng = np.random.default_rng(1)
    S, A = 3, 2
    phi = np.eye(S * A).reshape(S, A, S * A)
    theta = rng.standard_normal((S, A))
    ll, ts = LogLinear(phi), TabularSoftmax(S, A)
    np.testing.assert_allclose(ll.probabilities(theta.ravel()), ts.probabilities(theta), rtol=1e-14)
    w = rng.standard_normal((S, A))
    np.testing.assert_allclose(ll.prob_vjp(theta.ravel(), w), ts.prob_vjp(theta, w).ravel(), atol=1e-15)


def test_batched_theta():
    rng = np.random.default_rng(2)
    pol = TabularSoftmax(2, 3)
    thetas = rng.standard_normal((4, 5, 2, 3))
    w = rng.standard_normal((4, 5, 2, 3))
    batch = pol.prob_vjp(thetas, w)
    assert batch.shape == thetas.shape
    np.testing.assert_allclose(batch[2, 3], pol.prob_vjp(thetas[2, 3], w[2, 3]), rtol=1e-14)


def test_softmax_is_shift_invariant_and_stable():
    pol = TabularSoftmax(1, 3)
    big = np.array([[1000.0, 1001.0, 999.0]])
    e = np.exp([0.0, 1.0, -1.0])
    np.testing.assert_allclose(pol.probabilities(big), [e / e.sum()], rtol=1e-14)


def test_theta_from_inverts_softmax():
    pi = np.array([[0.2, 0.8], [0.5, 0.5]])
    pol = TabularSoftmax(2, 2)
    np.testing.assert_allclose(pol.probabilities(pol.theta_from(pi)), pi, rtol=1e-14)
    with pytest.raises(ValidationError, match="softmax needs every probability > 0"):
        pol.theta_from(np.array([[1.0, 0.0], [0.5, 0.5]]))


def test_direct_log_vjp_refuses_zero_probability_with_weight():
    with pytest.raises(ValidationError, match="log pi is undefined"):
        Direct(1, 2).log_prob_vjp(np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]]))
    out = Direct(1, 2).log_prob_vjp(np.array([[0.0, 1.0]]), np.array([[0.0, 2.0]]))
    np.testing.assert_array_equal(out, [[0.0, 2.0]])


def test_theta_shape_is_checked():
    with pytest.raises(ValidationError, match=r"theta has shape \(3,\)"):
        TabularSoftmax(2, 2).probabilities(np.zeros(3))
    with pytest.raises(ValidationError, match="phi has shape"):
        LogLinear(np.zeros((2, 2)))


def test_table_helpers():
    np.testing.assert_array_equal(uniform_policy(2, 4), np.full((2, 4), 0.25))
    q = np.array([[1.0, 3.0, 3.0], [0.0, -1.0, -2.0]])
    np.testing.assert_array_equal(greedy_policy(q), [[0, 1, 0], [1, 0, 0]])  # ties: lowest index
    np.testing.assert_allclose(epsilon_greedy_policy(q, 0.3), [[0.1, 0.8, 0.1], [0.8, 0.1, 0.1]])
    with pytest.raises(ValidationError, match="epsilon is 1.5"):
        epsilon_greedy_policy(q, 1.5)


@pytest.mark.parametrize("make", [lambda: TabularSoftmax(0, 2), lambda: TabularSoftmax(2, 1.5),
                                  lambda: Direct(-1, 2), lambda: uniform_policy(2, 0),
                                  lambda: uniform_policy(True, 2)])
def test_sizes_are_positive_integers(make):
    with pytest.raises(ValidationError):
        make()


@pytest.mark.parametrize("n_actions", [1, 2, 4, 16, 17, 40])
def test_softmax_reductions_over_the_action_axis(n_actions):
    # Up to SHORT_AXIS actions the reductions combine columns one by one; above, numpy reduces.
    # Either way: the maximum is exact, the sum agrees with numpy's to a few ulps of its size
    # (n_actions·eps relative bounds any two summation orders of non-negative terms).
    from mdpgrad._policies import SHORT_AXIS, _softmax, reduce_actions

    rng = np.random.default_rng(n_actions)
    x = rng.standard_normal((3, 5, n_actions)) * 10
    np.testing.assert_array_equal(reduce_actions(np.maximum, x), x.max(axis=-1))
    e = np.exp(x)
    np.testing.assert_allclose(reduce_actions(np.add, e), e.sum(axis=-1), rtol=n_actions * 2.3e-16)
    pi = _softmax(x)
    np.testing.assert_allclose(pi.sum(axis=-1), 1.0, rtol=0, atol=n_actions * 2.3e-16)
    reference = np.exp(x - x.max(axis=-1, keepdims=True))
    reference /= reference.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(pi, reference, rtol=4 * n_actions * 2.3e-16, atol=0)
    assert (n_actions <= SHORT_AXIS) == (n_actions in (1, 2, 4, 16))


def test_softmax_of_integer_and_single_precision_logits_is_float64():
    pol = TabularSoftmax(2, 3)
    for theta in (np.array([[0, 1, 2], [3, 3, 3]]), np.array([[0, 1, 2], [3, 3, 3]], dtype=np.float32)):
        pi = pol.probabilities(theta)
        assert pi.dtype == np.float64
        np.testing.assert_allclose(pi[1], 1 / 3, rtol=1e-15)
        # e⁰ : e¹ : e² normalised
        np.testing.assert_allclose(pi[0], np.exp([0, 1, 2]) / np.exp([0, 1, 2]).sum(), rtol=1e-15)


def test_softmax_of_complex_logits_keeps_the_complex_step():
    # the complex step Im f(θ + ih)/h = f'(θ) needs the softmax to carry the imaginary part
    pol, h = TabularSoftmax(1, 3), 1e-30
    theta = np.array([[0.3, -1.0, 2.0]])
    w = np.array([[1.0, -2.0, 0.5]])
    for b in range(3):
        step = np.zeros((1, 3), complex)
        step[0, b] = 1j * h
        directional = np.imag(np.sum(w * pol.probabilities(theta + step))) / h
        assert abs(directional - pol.prob_vjp(theta, w)[0, b]) <= 1e-15
