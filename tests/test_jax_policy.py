"""mdpgrad.jax: JAX networks as exact policies, and the exact J under jax.grad / jax.jit.

Reference computation: ``jax.grad`` through a differentiable dense solve, J(θ) = ρ₀ · (I − γP̃^π)⁻¹ r^π
with π = softmax(apply_fn(unflatten(θ), X)) in jax.numpy.
"""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
from _models import random_mdp  # noqa: E402
from jax.flatten_util import ravel_pytree  # noqa: E402

import mdpgrad as mg  # noqa: E402
from mdpgrad.gradients import hessian_vector_product  # noqa: E402
from mdpgrad.jax import JaxPolicy, mlp, objective  # noqa: E402

#: As in tests/test_torch_policy.py: two float64 routes to one derivative through solves with
#: condition number ≤ (1 + γ)/(1 − γ) = 19 (γ = 0.9) agree to ≈ 1e-14; 1e-10 leaves four digits.
AGREE_RTOL = 1e-10
#: Hessians sum d·S·A products of both routes; 1e-9 keeps a margin of 1e4 over their rounding.
HESSIAN_RTOL = 1e-9


def dense_J(mdp, pol: JaxPolicy, theta):
    P = jnp.asarray(mdp.P_dense())
    keep = jnp.asarray(~mdp.terminal, dtype=jnp.float64)
    pi = jax.nn.softmax(pol.logits(theta), -1)
    P_pi = jnp.einsum("sa,sat->st", pi, P) * keep[:, None]
    r_pi = (pi * jnp.asarray(mdp.r)).sum(-1) * keep
    return jnp.asarray(mdp.rho0) @ jnp.linalg.solve(jnp.eye(mdp.n_states) - mdp.gamma * P_pi, r_pi)


def rel_err(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(1.0, float(np.max(np.abs(b)))))


CASES = [  # (model seed, states, actions, episodic, gamma, layer sizes between input and A, activation)
    (0, 4, 3, True, 0.9, [8], "tanh"),
    (2, 3, 4, True, 1.0, [5, 5], "relu"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"seed{c[0]}" for c in CASES])
def test_policy_gradient_and_objective_equal_jax_grad_through_a_dense_solve(case):
    seed, S, A, episodic, gamma, hidden, act = case
    mdp = random_mdp(seed, n_states=S, n_actions=A, episodic=episodic, gamma=gamma)
    apply_fn, params = mlp([mdp.n_states, *hidden, A], activation=act, seed=seed)
    pol = JaxPolicy(apply_fn, params, n_states=mdp.n_states)
    ref = np.asarray(jax.grad(lambda th: dense_J(mdp, pol, th))(pol.theta0))
    assert rel_err(mg.policy_gradient(mdp, pol, pol.theta0), ref) <= AGREE_RTOL
    g = jax.jit(jax.grad(lambda p: objective(mdp, apply_fn, p)))(params)
    assert rel_err(ravel_pytree(g)[0], ref) <= AGREE_RTOL
    assert abs(float(objective(mdp, apply_fn, params)) - float(dense_J(mdp, pol, pol.theta0))) <= 1e-12


def test_objective_vmaps_over_params_and_is_differentiable_once():
    mdp = random_mdp(4, n_states=3, n_actions=2, episodic=True, gamma=0.9)
    apply_fn, params = mlp([mdp.n_states, 4, 2], seed=4)
    pol = JaxPolicy(apply_fn, params, n_states=mdp.n_states)
    thetas = pol.theta0 + np.random.default_rng(4).normal(size=(3, pol.param_shape[0]))
    Js = jax.vmap(lambda th: objective(mdp, apply_fn, pol.unflatten(th)))(jnp.asarray(thetas))
    np.testing.assert_allclose(np.asarray(Js), mg.objective(mdp, pol, thetas), rtol=0, atol=1e-13)
    with pytest.raises(Exception, match="JVP"):      # the backward is a host solve: no second derivative
        jax.hessian(lambda p: objective(mdp, apply_fn, p))(params)


def test_per_pair_features_and_vjp_identities():
    mdp = random_mdp(5, n_states=4, n_actions=3, episodic=True, gamma=0.9)
    phi = np.random.default_rng(5).normal(size=(mdp.n_states, 3, 4))
    apply_fn, params = mlp([4, 5, 1], seed=5)
    pol = JaxPolicy(apply_fn, params, phi)
    ref = np.asarray(jax.grad(lambda th: dense_J(mdp, pol, th))(pol.theta0))
    assert rel_err(mg.policy_gradient(mdp, pol, pol.theta0), ref) <= AGREE_RTOL
    W = np.random.default_rng(6).normal(size=(4, mdp.n_states, 3))
    pi = pol.probabilities(pol.theta0)
    np.testing.assert_allclose(pol.log_prob_vjp(pol.theta0, W), pol.prob_vjp(pol.theta0, W / pi),
                               rtol=0, atol=1e-13)
    thetas = pol.theta0 + np.random.default_rng(7).normal(size=(2, 1, pol.param_shape[0]))
    both = pol.log_prob_vjp(thetas, W)
    assert both.shape == (2, 4, pol.param_shape[0])
    np.testing.assert_allclose(both[1, 2], pol.log_prob_vjp(thetas[1, 0], W[2]), rtol=0, atol=1e-14)


def test_hessian_vector_product_equals_jax_forward_over_reverse():
    mdp = random_mdp(8, n_states=3, n_actions=2, episodic=True, gamma=0.9)
    apply_fn, params = mlp([mdp.n_states, 3, 2], seed=8)
    pol = JaxPolicy(apply_fn, params, n_states=mdp.n_states)
    u = np.random.default_rng(8).normal(size=pol.param_shape)
    hvp_ref = jax.jvp(jax.grad(lambda th: dense_J(mdp, pol, th)), (pol.theta0,), (u,))[1]
    assert rel_err(hessian_vector_product(mdp, pol, pol.theta0, u), hvp_ref) <= HESSIAN_RTOL


def test_the_same_seed_is_the_same_network_in_torch_and_jax():
    pytest.importorskip("torch")
    from mdpgrad.torch import TorchPolicy
    from mdpgrad.torch import mlp as torch_mlp

    mdp = random_mdp(9, n_states=4, n_actions=2, episodic=True, gamma=0.9)
    apply_fn, params = mlp([mdp.n_states, 5, 2], activation="softplus", seed=9)
    jp = JaxPolicy(apply_fn, params, n_states=mdp.n_states)
    tp = TorchPolicy(torch_mlp([mdp.n_states, 5, 2], activation="softplus", seed=9), n_states=mdp.n_states)
    np.testing.assert_allclose(jp.probabilities(jp.theta0), tp.probabilities(tp.theta0), rtol=0, atol=1e-15)
    gj = jp.unflatten(mg.policy_gradient(mdp, jp, jp.theta0))
    gt = tp.unflatten(mg.policy_gradient(mdp, tp, tp.theta0))       # torch stores W as (out, in)
    np.testing.assert_allclose(np.asarray(gj[0]["w"]), gt["0.weight"].numpy().T, rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.asarray(gj[1]["b"]), gt["2.bias"].numpy(), rtol=0, atol=1e-14)


def test_float32_params_are_copied_exactly_to_float64():
    apply_fn, params = mlp([3, 4, 2], seed=10)
    p32 = jax.tree_util.tree_map(lambda x: x.astype(jnp.float32), params)
    pol = JaxPolicy(apply_fn, p32, n_states=3)
    np.testing.assert_array_equal(pol.theta0, np.asarray(ravel_pytree(p32)[0]).astype(np.float64))
    assert ravel_pytree(p32)[0].dtype == jnp.float32          # the user's params untouched


def test_32_bit_jax_is_refused_with_the_fix():
    apply_fn, params = mlp([2, 2], seed=0)
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(mg.ValidationError, match="jax_enable_x64"):
            JaxPolicy(apply_fn, params, n_states=2)
    finally:
        jax.config.update("jax_enable_x64", True)


@pytest.mark.parametrize("make, match", [
    (lambda f, p: JaxPolicy("f", p, n_states=3), "apply_fn is"),
    (lambda f, p: JaxPolicy(f, p), "n_states"),
    (lambda f, p: JaxPolicy(f, p, n_states=3, n_actions=3), "expected logits"),
    (lambda f, p: JaxPolicy(f, p, np.zeros((3, 2, 3))), "expected logits"),
])
def test_bad_construction_is_refused(make, match):
    apply_fn, params = mlp([3, 2], seed=0)
    with pytest.raises(mg.ValidationError, match=match):
        make(apply_fn, params)


def test_a_jax_tracer_in_the_numpy_api_names_the_adapter():
    mdp = random_mdp(0, n_states=2, n_actions=2, gamma=0.9)
    with pytest.raises(mg.ValidationError, match=r"theta is a JAX tracer.*mdpgrad\.jax"):
        jax.grad(lambda th: mg.objective(mdp, mg.TabularSoftmax(2, 2), th))(jnp.zeros((2, 2)))
    plain = mg.objective(mdp, mg.TabularSoftmax(2, 2), jnp.zeros((2, 2)))           # a plain array is fine
    assert plain == mg.objective(mdp, mg.TabularSoftmax(2, 2), np.zeros((2, 2)))
