"""∇ρ = Σ_s d_π(s) Σ_a ∇π(a|s) q̃(s, a) (Sutton & Barto 2018, §13.6), against three other routes:
central finite differences of ρ(θ); the limit (1 − γ)∇J_γ → ∇ρ with its O(1 − γ) rate; and the
derivative of the stationary distribution, ∂dᵀ = dᵀ ∂P^π Z with Z = (I − P^π + 1dᵀ)⁻¹
(Schweitzer 1968; Kemeny & Snell 1960, §4.3), formed by an explicit inverse.
"""

from __future__ import annotations

import numpy as np
import pytest
from _models import random_mdp, random_pi

import mdpgrad as mg
from mdpgrad import MDP, Direct, LogLinear, MultichainPolicyError, TabularSoftmax, ValidationError

#: Central differences with step h = ε^(1/3) ≈ 6e-6 leave an error ≈ ε^(2/3) ≈ 4e-11 times the scale
#: of the third derivative (scipy's rule); 1e-7 leaves a margin of about three orders for these models.
FD_TOL = 1e-7
FD_STEP = float(np.finfo(float).eps) ** (1 / 3)

#: Two closed forms of one number, each from one or two LU solves on a 5-state chain: ≈ 1e-15 apart.
TOL = 1e-11


def _case(seed: int, sparse: bool = False) -> MDP:
    return random_mdp(seed, n_states=5, n_actions=3, support=0.6, concentration=0.5, sparse=sparse)


def _policy(seed: int, kind: str) -> tuple[object, np.ndarray]:
    rng = np.random.default_rng(seed + 100)
    if kind == "softmax":
        return TabularSoftmax(5, 3), rng.standard_normal((5, 3))
    if kind == "loglinear":
        return LogLinear(rng.standard_normal((5, 3, 4))), rng.standard_normal(4)
    return Direct(5, 3), random_pi(rng, 5, 3)


def _fd(mdp, policy, theta, direction):
    rho = lambda th: mg.objective(mdp, policy, th, criterion="average")   # noqa: E731
    return (rho(theta + FD_STEP * direction) - rho(theta - FD_STEP * direction)) / (2 * FD_STEP)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", ["softmax", "loglinear", "direct"])
def test_against_finite_differences(seed, kind):
    mdp = _case(seed)
    policy, theta = _policy(seed, kind)
    g = mg.policy_gradient(mdp, policy, theta, criterion="average")
    rng = np.random.default_rng(seed)
    for _ in range(3):
        u = rng.standard_normal(theta.shape)
        if kind == "direct":
            u -= u.mean(axis=1, keepdims=True)         # stay on the simplex: rows of π keep summing to 1
        assert np.sum(g * u) == pytest.approx(_fd(mdp, policy, theta, u), abs=FD_TOL)


def _schweitzer_direct(mdp: MDP, pi: np.ndarray) -> np.ndarray:
    """∂ρ/∂π(a|s) along the simplex: ∂ρ = ∂dᵀ r^π + dᵀ ∂r^π with ∂dᵀ = d(s) P(s, a, ·) Z."""
    P = np.asarray(mdp.P)
    P_pi = np.einsum("sa,sat->st", pi, P)
    r_pi = np.sum(pi * mdp.r, axis=1)
    S = mdp.n_states
    w, V = np.linalg.eig(P_pi.T)
    d = np.real(V[:, np.argmin(np.abs(w - 1))])
    d /= d.sum()
    Z = np.linalg.inv(np.eye(S) - P_pi + np.outer(np.ones(S), d))
    g = d[:, None] * (np.einsum("sat,t->sa", P, Z @ r_pi) + mdp.r)
    return g - g.mean(axis=1, keepdims=True)            # the tangent part: rows of ∂π sum to 0


@pytest.mark.parametrize("seed", range(5))
def test_direct_against_the_derivative_of_the_stationary_distribution(seed):
    mdp = _case(seed)
    pi = random_pi(seed, 5, 3)
    g = mg.policy_gradient(mdp, Direct(5, 3), pi, criterion="average")
    assert g - g.mean(axis=1, keepdims=True) == pytest.approx(_schweitzer_direct(mdp, pi), abs=TOL)


@pytest.mark.parametrize("seed", range(5))
def test_softmax_closed_form(seed):
    """∂ρ/∂θ[s, a] = d(s) π(a|s) (q̃(s, a) − h(s)), and the chain rule through the softmax of the
    stationary-distribution route."""
    mdp = _case(seed)
    policy, theta = _policy(seed, "softmax")
    pi = policy.probabilities(theta)
    ar = mg.average_reward(mdp, pi)
    g = mg.policy_gradient(mdp, policy, theta, criterion="average")
    assert g == pytest.approx(ar.stationary[:, None] * pi * (ar.q - ar.bias[:, None]), abs=TOL)
    dpi = _schweitzer_direct(mdp, pi)
    chain = pi * (dpi - np.sum(pi * dpi, axis=1, keepdims=True))
    assert g == pytest.approx(chain, abs=TOL)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind", ["softmax", "loglinear"])
def test_limit_of_the_discounted_gradient(seed, kind):
    """(1 − γ)∇J_γ → ∇ρ, the gap O(1 − γ): log-log slope 1 over γ = 1 − 10⁻ᵏ, k = 1..4."""
    mdp = _case(seed)
    policy, theta = _policy(seed, kind)
    g = mg.policy_gradient(mdp, policy, theta, criterion="average")
    ks = np.arange(1, 5)
    gaps = []
    for k in ks:
        gamma = 1.0 - 10.0 ** -k
        gJ = mg.policy_gradient(mdp.replace(gamma=gamma), policy, theta)
        gaps.append(float(np.max(np.abs((1 - gamma) * gJ - g))))
    slope = np.polyfit(-ks, np.log10(gaps), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.1)
    assert gaps[-1] < 1e-3


def test_objective_is_the_gain():
    mdp = _case(0)
    policy, theta = _policy(0, "softmax")
    rho = mg.objective(mdp, policy, theta, criterion="average")
    assert rho == pytest.approx(mg.average_reward(mdp, policy.probabilities(theta)).gain, abs=0)


def test_batch_is_the_loop_and_dense_equals_sparse():
    mdp, mdp_s = _case(1), _case(1, sparse=True)
    policy = TabularSoftmax(5, 3)
    thetas = np.random.default_rng(0).standard_normal((2, 3, 5, 3))
    batch = mg.policy_gradient(mdp, policy, thetas, criterion="average")
    assert batch.shape == thetas.shape
    for i in range(2):
        for j in range(3):
            one = mg.policy_gradient(mdp_s, policy, thetas[i, j], criterion="average")
            assert batch[i, j] == pytest.approx(one, abs=TOL)
    rho = mg.objective(mdp, policy, thetas, criterion="average")
    assert rho.shape == (2, 3)
    g, err = mg.policy_gradient(mdp, policy, thetas, criterion="average", error=True)
    g1, err1 = mg.policy_gradient(mdp, policy, thetas[1, 2], criterion="average", error=True)
    assert g.shape == err.shape == thetas.shape
    assert g[1, 2] == pytest.approx(g1, abs=0) and err[1, 2] == pytest.approx(err1, abs=0)


@pytest.mark.parametrize("kind", ["softmax", "direct"])
def test_error_estimate_bounds_the_error(kind):
    mdp = _case(2)
    policy, theta = _policy(2, kind)
    g, err = mg.policy_gradient(mdp, policy, theta, criterion="average", error=True)
    assert err.shape == g.shape and np.all(err > 0) and np.all(err < 1e-10)
    if kind == "direct":
        exact = _schweitzer_direct(mdp, theta)
        assert np.all(np.abs(g - g.mean(axis=1, keepdims=True) - exact) <= 2 * err.max() + TOL)


def test_multichain_policy_is_refused():
    """Two absorbing states under every action: every π is multichain."""
    P = np.zeros((3, 2, 3))
    P[0, :, 0] = P[2, :, 2] = 1.0
    P[1, 0, 0] = P[1, 1, 2] = 1.0
    mdp = MDP(P, np.zeros((3, 2)), gamma=0.9)
    with pytest.raises(MultichainPolicyError, match=r"\{0\}, \{2\}"):
        mg.policy_gradient(mdp, TabularSoftmax(3, 2), np.zeros((3, 2)), criterion="average")


def test_bad_criterion_and_evaluation():
    mdp = _case(0)
    policy, theta = _policy(0, "softmax")
    with pytest.raises(ValidationError, match="criterion"):
        mg.policy_gradient(mdp, policy, theta, criterion="averaged")
    with pytest.raises(ValidationError, match="criterion"):
        mg.objective(mdp, policy, theta, criterion=None)
    ev = mg.evaluate(mdp, policy.probabilities(theta))
    with pytest.raises(ValidationError, match="evaluation"):
        mg.policy_gradient(mdp, policy, theta, evaluation=ev, criterion="average")
    with pytest.raises(ValidationError, match="theta"):
        mg.policy_gradient(mdp, policy, np.full((5, 3), np.nan), criterion="average")
