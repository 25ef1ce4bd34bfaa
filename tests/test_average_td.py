"""Differential TD(0) (Sutton & Barto 2018, §10.3): the expected update of (w, R̄), its Jacobian
against finite differences, its fixed points against the bias and gain of average_reward, and the
symmetry verdict."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _models import random_mdp, random_pi

import mdpgrad as mg
from mdpgrad import MDP, ValidationError
from mdpgrad.td import differential_td_jacobian, differential_td_symmetry, differential_td_update

#: The field is affine: differences of two updates are exact up to the rounding of a few products of
#: O(1) numbers (≈ 1e-15); 1e-12 fails any wrong entry.
TOL = 1e-12


def _case(seed: int, sparse: bool = False) -> tuple[MDP, np.ndarray]:
    return random_mdp(seed, n_states=5, n_actions=2, support=0.6, sparse=sparse), random_pi(seed, 5, 2)


def _columns(mdp, pi, k, **kw):
    """The Jacobian as columns u(x + e_j) − u(x) at a random x (exact for an affine field)."""
    x = np.random.default_rng(1).standard_normal(k + 1)

    def u(y):
        uw, ur = differential_td_update(mdp, pi, y[:k], float(y[k]), **kw)
        return np.append(uw, ur)

    return np.column_stack([u(x + e) - u(x) for e in np.eye(k + 1)])


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("D", ["stationary", "identity", "array"])
@pytest.mark.parametrize("beta", [1.0, 0.1])
def test_tabular_jacobian_against_differences(seed, D, beta):
    mdp, pi = _case(seed)
    weights = np.random.default_rng(seed).random(5) if D == "array" else D
    J = differential_td_jacobian(mdp, pi, D=weights, beta=beta)
    assert J.shape == (6, 6)
    assert J == pytest.approx(_columns(mdp, pi, 5, D=weights, beta=beta), abs=TOL)


@pytest.mark.parametrize("seed", range(3))
def test_linear_jacobian_against_differences(seed):
    mdp, pi = _case(seed)
    phi = np.random.default_rng(seed).standard_normal((5, 3))
    J = differential_td_jacobian(mdp, pi, phi=phi, beta=0.5)
    assert J.shape == (4, 4)
    assert J == pytest.approx(_columns(mdp, pi, 3, phi=phi, beta=0.5), abs=TOL)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("D", ["stationary", "identity"])
def test_fixed_points_are_bias_plus_constant_and_the_gain(seed, D):
    mdp, pi = _case(seed)
    ar = mg.average_reward(mdp, pi)
    for c in (0.0, 3.7, -12.0):
        uw, ur = differential_td_update(mdp, pi, ar.bias + c, ar.gain, D=D)
        assert uw == pytest.approx(np.zeros(5), abs=TOL) and abs(ur) < TOL
    J = differential_td_jacobian(mdp, pi, D=D)
    assert J @ np.append(np.ones(5), 0.0) == pytest.approx(np.zeros(6), abs=TOL)   # the null direction
    # off the line the update is not zero: a wrong rate is pulled back towards ρ
    _, ur = differential_td_update(mdp, pi, ar.bias, ar.gain + 0.1, D=D)
    assert ur < 0


def test_value_block_is_the_undiscounted_state_value_jacobian():
    """The w-block of the tabular Jacobian is D(P^π − I): td_jacobian_v's D(γP^π − I) with γ → 1,
    recovered exactly from γ = ½ as (J_γ + D)/γ − D (a continuing model cannot take γ = 1)."""
    mdp, pi = _case(0)
    J = differential_td_jacobian(mdp, pi, D="stationary")
    Jv = mg.td.td_jacobian_v(mdp.replace(gamma=0.5), pi, D="stationary")
    D = np.diag(mg.td.diagonal_weights(mdp, pi, "stationary", values="v"))
    assert J[:5, :5] == pytest.approx((Jv + D) / 0.5 - D, abs=TOL)


@pytest.mark.parametrize("seed", range(3))
def test_dense_equals_sparse(seed):
    mdp, pi = _case(seed)
    mdp_s, _ = _case(seed, sparse=True)
    J, Js = differential_td_jacobian(mdp, pi), differential_td_jacobian(mdp_s, pi)
    assert sp.issparse(Js) and J == pytest.approx(Js.toarray(), abs=TOL)
    v = np.arange(5.0)
    a, b = differential_td_update(mdp, pi, v, 0.3), differential_td_update(mdp_s, pi, v, 0.3)
    assert a[0] == pytest.approx(b[0], abs=TOL) and a[1] == pytest.approx(b[1], abs=TOL)


@pytest.mark.parametrize("seed", range(4))
def test_never_a_gradient_on_policy(seed):
    """On-policy the R̄ row has no w-part (d_πᵀ(P^π − I) = 0) but the R̄ column is −d_π: the witness
    pairs a state with R̄ (index S)."""
    mdp, pi = _case(seed)
    verdict = differential_td_symmetry(mdp, pi)
    assert not verdict.holds and verdict.witness is not None and verdict.witness[1] == 5
    d = mg.average_reward(mdp, pi).stationary
    assert verdict.max_asymmetry == pytest.approx(d.max(), abs=TOL)


def test_symmetric_case_is_reported_symmetric():
    """A symmetric 2-cycle, D = I and a feature orthogonal to 1: J = diag(−4, −2β), symmetric."""
    P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    mdp = MDP(P, [[1.0], [0.0]], gamma=0.9)
    phi = np.array([[1.0], [-1.0]])
    J = differential_td_jacobian(mdp, np.ones((2, 1)), phi=phi, D="identity")
    assert J.tolist() == [[-4.0, 0.0], [0.0, -2.0]]
    assert differential_td_symmetry(mdp, np.ones((2, 1)), phi=phi, D="identity").holds


def test_multichain_policy_has_no_stationary_weighting():
    P = np.zeros((3, 1, 3))
    P[0, 0, 0] = P[2, 0, 2] = 1.0
    P[1, 0, [0, 2]] = 0.5
    mdp = MDP(P, np.zeros((3, 1)), gamma=0.9)
    with pytest.raises(mg.MultichainPolicyError):
        differential_td_jacobian(mdp, np.ones((3, 1)))
    assert differential_td_jacobian(mdp, np.ones((3, 1)), D="identity").shape == (4, 4)


@pytest.mark.parametrize("kwargs, name", [
    (dict(w=np.zeros(4)), "w"), (dict(w=np.full(5, np.nan)), "w"),
    (dict(reward_rate=float("nan")), "reward_rate"), (dict(reward_rate="0.5"), "reward_rate"),
    (dict(beta=-1.0), "beta"), (dict(phi=np.zeros((4, 2))), "phi"), (dict(D=np.ones(4)), "D"),
])
def test_bad_inputs(kwargs, name):
    mdp, pi = _case(0)
    args = dict(w=np.zeros(5), reward_rate=0.0) | kwargs
    with pytest.raises(ValidationError, match=name) as info:
        differential_td_update(mdp, pi, **args)
    assert info.value.argument == name
