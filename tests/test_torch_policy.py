"""mdpgrad.torch: PyTorch networks as exact policies, and the exact J inside autograd.

Reference computation (independent of the policy gradient theorem): autograd through a
differentiable dense solve, J(θ) = ρ₀ · (I − γP̃^π)⁻¹ r^π with π = softmax(f_θ(X)) built in torch.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _models import random_mdp  # noqa: E402

import mdpgrad as mg  # noqa: E402
from mdpgrad.gradients import fisher_vector_product, hessian_vector_product  # noqa: E402
from mdpgrad.torch import TorchPolicy, objective  # noqa: E402

#: Agreement of the theorem's gradient with autograd through the dense solve, relative to max(1, |g|).
#: Both are float64 computations of one derivative through solves of a system with condition number
#: ≤ (1 + γ)/(1 − γ) = 19 at γ = 0.9, each accurate to ≈ κ·S·ε ≈ 1e-14; 1e-10 leaves four digits for
#: the network's own rounding and would still catch any missing term (those are of order |g|).
AGREE_RTOL = 1e-10

#: Complex-step Hessians (mdpgrad) against autograd's second derivative of the dense solve: both exact
#: to rounding, but a Hessian sums d·S·A products; 1e-9 relative keeps a margin of 1e4 over ≈ 1e-13.
HESSIAN_RTOL = 1e-9


def mlp(sizes: list[int], activation: type = torch.nn.Tanh, seed: int = 0, bias: bool = True):
    torch.manual_seed(seed)
    layers: list = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(a, b, bias=bias))
        if i < len(sizes) - 2:
            layers.append(activation())
    return torch.nn.Sequential(*layers).double()


def dense_J(mdp, pol: TorchPolicy, theta):
    """J(θ) by a dense torch solve, differentiable in θ (a (d,) tensor)."""
    P = torch.tensor(mdp.P_dense())
    r = torch.tensor(mdp.r)
    keep = torch.tensor(~mdp.terminal, dtype=torch.float64)
    pi = torch.softmax(pol.logits(theta), -1)
    P_pi = torch.einsum("sa,sat->st", pi, P) * keep[:, None]
    r_pi = (pi * r).sum(-1) * keep
    v = torch.linalg.solve(torch.eye(mdp.n_states, dtype=torch.float64) - mdp.gamma * P_pi, r_pi)
    return torch.tensor(mdp.rho0) @ v


def autograd_gradient(mdp, pol, theta):
    t = torch.tensor(theta, requires_grad=True)
    (g,) = torch.autograd.grad(dense_J(mdp, pol, t), t)
    return g.numpy()


def rel_err(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(1.0, float(np.max(np.abs(b)))))


CASES = [  # (model seed, states, actions, episodic, gamma, hidden widths, activation)
    (0, 4, 3, True, 0.9, [8], torch.nn.Tanh),
    (1, 5, 2, False, 0.8, [6, 6], torch.nn.ReLU),
    (2, 3, 4, True, 1.0, [5], torch.nn.ELU),
    (3, 6, 3, False, 0.9, [], torch.nn.Tanh),
]


@pytest.mark.parametrize("case", CASES, ids=[f"seed{c[0]}" for c in CASES])
def test_policy_gradient_equals_autograd_through_a_dense_solve(case):
    seed, S, A, episodic, gamma, hidden, act = case
    mdp = random_mdp(seed, n_states=S, n_actions=A, episodic=episodic, gamma=gamma)
    pol = TorchPolicy(mlp([mdp.n_states, *hidden, A], act, seed), n_states=mdp.n_states)
    theta = pol.theta0 + np.random.default_rng(seed).normal(scale=0.5, size=pol.param_shape)
    g = mg.policy_gradient(mdp, pol, theta)
    assert rel_err(g, autograd_gradient(mdp, pol, theta)) <= AGREE_RTOL
    assert abs(mg.objective(mdp, pol, theta) - float(dense_J(mdp, pol, torch.tensor(theta)))) <= 1e-12


def test_state_features_and_per_pair_features():
    mdp = random_mdp(4, n_states=4, n_actions=3, episodic=True, gamma=0.9)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(mdp.n_states, 2))
    pol = TorchPolicy(mlp([2, 7, 3], seed=4), X)
    g = mg.policy_gradient(mdp, pol, pol.theta0)
    assert rel_err(g, autograd_gradient(mdp, pol, pol.theta0)) <= AGREE_RTOL
    phi = rng.normal(size=(mdp.n_states, 3, 4))
    pair = TorchPolicy(mlp([4, 5, 1], seed=5), phi)
    assert (pair.n_states, pair.n_actions) == (mdp.n_states, 3)
    assert rel_err(mg.policy_gradient(mdp, pair, pair.theta0),
                   autograd_gradient(mdp, pair, pair.theta0)) <= AGREE_RTOL


def test_a_one_hot_linear_network_is_the_tabular_softmax():
    """Known numbers: the two-state MDP of mdpgrad.policy_gradient's docstring, ∇J = ±(1/0.55)(1/2)(1/11)."""
    mdp = mg.MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    net = torch.nn.Linear(2, 2, bias=False).double()
    torch.nn.init.zeros_(net.weight)
    pol = TorchPolicy(net, n_states=2)
    g = pol.unflatten(mg.policy_gradient(mdp, pol, pol.theta0))["weight"].numpy()   # weight[a, s]
    exact = 1.0 / 0.55 * 0.5 / 11.0
    np.testing.assert_allclose(g, [[-exact, 0.0], [exact, 0.0]], rtol=1e-13, atol=1e-15)
    theta = np.random.default_rng(0).normal(size=(2, 2))
    tab = mg.policy_gradient(mdp, mg.TabularSoftmax(2, 2), theta)
    ours = mg.policy_gradient(mdp, pol, theta.T.ravel()).reshape(2, 2).T
    np.testing.assert_allclose(ours, tab, rtol=1e-13, atol=1e-15)


def test_vjps_agree_with_each_other_and_batch_like_a_loop():
    pol = TorchPolicy(mlp([3, 4, 2], seed=1), n_states=3)
    rng = np.random.default_rng(1)
    W = rng.normal(size=(5, 3, 2))
    pi = pol.probabilities(pol.theta0)
    batched = pol.log_prob_vjp(pol.theta0, W)
    assert batched.shape == (5, pol.param_shape[0])
    loop = np.stack([pol.log_prob_vjp(pol.theta0, w) for w in W])
    np.testing.assert_allclose(batched, loop, rtol=0, atol=1e-14)
    np.testing.assert_allclose(batched, pol.prob_vjp(pol.theta0, W / pi), rtol=0, atol=1e-13)
    thetas = pol.theta0 + rng.normal(size=(2, 1) + pol.param_shape)         # (2, 1, d) with W (5, 3, 2)
    both = pol.prob_vjp(thetas, W)
    assert both.shape == (2, 5, pol.param_shape[0])
    np.testing.assert_allclose(both[1, 3], pol.prob_vjp(thetas[1, 0], W[3]), rtol=0, atol=1e-14)
    assert pol.probabilities(thetas).shape == (2, 1, 3, 2)


def test_second_order_quantities_equal_autograd():
    mdp = random_mdp(5, n_states=3, n_actions=2, episodic=True, gamma=0.9)
    pol = TorchPolicy(mlp([mdp.n_states, 3, 2], seed=5), n_states=mdp.n_states)
    th = pol.theta0
    t = torch.tensor(th)
    H_ref = torch.autograd.functional.hessian(lambda x: dense_J(mdp, pol, x), t).numpy()
    H = mg.policy_hessian(mdp, pol, th)
    assert rel_err(H, H_ref) <= HESSIAN_RTOL
    u = np.random.default_rng(5).normal(size=th.shape)
    assert rel_err(hessian_vector_product(mdp, pol, th, u), H_ref @ u) <= HESSIAN_RTOL
    # Fisher: Σ_s η(s) Σ_a π ∇log π ∇log πᵀ from the autograd Jacobian of log π
    ev = mg.evaluate(mdp, pol.probabilities(th))
    Jlog = torch.autograd.functional.jacobian(lambda x: torch.log_softmax(pol.logits(x), -1), t).numpy()
    F_ref = np.einsum("s,sa,sai,saj->ij", ev.eta, ev.pi, Jlog, Jlog)
    assert rel_err(mg.fisher_information(mdp, pol, th), F_ref) <= AGREE_RTOL
    assert rel_err(fisher_vector_product(mdp, pol, th, u), F_ref @ u) <= AGREE_RTOL


def test_the_gradient_of_a_network_is_a_gradient_field():
    mdp = random_mdp(6, n_states=3, n_actions=2, gamma=0.8)
    pol = TorchPolicy(mlp([3, 3, 2], seed=6), n_states=3)
    verdict = mg.is_gradient_field(lambda th: mg.policy_gradient(mdp, pol, th), pol.theta0)
    assert verdict.holds


def test_exact_moments_of_the_library_estimators_with_a_network():
    mdp = random_mdp(7, n_states=3, n_actions=2, episodic=True, gamma=0.9)
    pol = TorchPolicy(mlp([mdp.n_states, 3, 2], seed=7), n_states=mdp.n_states)
    mom = mg.estimators.estimator_moments(mdp, pol, pol.theta0, mg.estimators.reinforce_estimator())
    assert rel_err(mom.mean, autograd_gradient(mdp, pol, pol.theta0)) <= AGREE_RTOL
    assert np.all(np.linalg.eigvalsh(mom.covariance) >= -1e-12)


def test_a_float32_module_is_evaluated_as_an_exact_float64_copy():
    net = mlp([3, 4, 2], seed=8).float()
    before = [p.detach().clone() for p in net.parameters()]
    pol = TorchPolicy(net, n_states=3)
    flat32 = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    assert pol.theta0.dtype == np.float64
    np.testing.assert_array_equal(pol.theta0, flat32.double().numpy())      # float32 → float64 is exact
    assert all(p.dtype == torch.float32 for p in net.parameters())            # the user's module untouched
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    with torch.no_grad():
        pi32 = torch.softmax(net(torch.eye(3)), -1).double().numpy()
    np.testing.assert_allclose(pol.probabilities(pol.theta0), pi32, atol=1e-6)   # float32 rounding only


def test_exact_objective_backward_equals_autograd_and_refuses_float32():
    mdp = random_mdp(9, n_states=4, n_actions=2, episodic=True, gamma=0.95)
    net = mlp([mdp.n_states, 6, 2], torch.nn.Softplus, seed=9)
    J = objective(mdp, net)
    J.backward()
    g = torch.cat([p.grad.reshape(-1) for p in net.parameters()]).numpy()
    pol = TorchPolicy(net, n_states=mdp.n_states)
    assert rel_err(g, autograd_gradient(mdp, pol, pol.theta0)) <= AGREE_RTOL
    assert abs(J.item() - mg.objective(mdp, pol, pol.theta0)) <= 1e-13
    # the backward is a numpy solve: not differentiable twice, and saying so
    with pytest.raises(RuntimeError, match="differentiable once"):
        (gg,) = torch.autograd.grad(objective(mdp, net), next(net.parameters()), create_graph=True)
        gg.sum().backward()
    with pytest.raises(mg.ValidationError, match="float64 network"):
        objective(mdp, net.float())


@pytest.mark.parametrize("make, match", [
    (lambda: TorchPolicy("net", n_states=2), "torch.nn.Module"),
    (lambda: TorchPolicy(torch.nn.Linear(2, 2)), "n_states"),
    (lambda: TorchPolicy(torch.nn.Linear(2, 2), np.zeros(3)), "features has shape"),
    (lambda: TorchPolicy(torch.nn.Linear(3, 2), n_states=2), "shape|size|mat"),
    (lambda: TorchPolicy(torch.nn.Linear(2, 3), np.zeros((2, 2, 2))), "expected logits"),
])
def test_bad_construction_is_refused(make, match):
    with pytest.raises((mg.ValidationError, RuntimeError), match=match):
        make()


def test_bad_theta_and_a_complex_step_too_large_are_refused():
    pol = TorchPolicy(torch.nn.Linear(2, 2), n_states=2)
    with pytest.raises(mg.ValidationError, match="theta has shape"):
        pol.probabilities(np.zeros(5))
    step = np.zeros(6, dtype=complex)
    step[0] = 1e-8j                                            # at MAX_COMPLEX_STEP: accepted
    pol.probabilities(pol.theta0 + step)
    step[0] = 2e-8j
    with pytest.raises(mg.ValidationError, match="complex step"):
        pol.probabilities(pol.theta0 + step)


def test_a_tensor_that_requires_grad_in_the_numpy_api_names_the_adapter():
    mdp = random_mdp(0, n_states=2, n_actions=2, gamma=0.9)
    theta = torch.zeros((2, 2), dtype=torch.float64, requires_grad=True)
    with pytest.raises(mg.ValidationError, match=r"theta is a torch tensor that requires grad.*torch"):
        mg.objective(mdp, mg.TabularSoftmax(2, 2), theta)
    with pytest.raises(mg.ValidationError, match="pi is a torch tensor"):
        mg.evaluate(mdp, torch.full((2, 2), 0.5, requires_grad=True))
    plain = mg.objective(mdp, mg.TabularSoftmax(2, 2), theta.detach())           # a plain tensor is fine
    assert plain == mg.objective(mdp, mg.TabularSoftmax(2, 2), np.zeros((2, 2)))
