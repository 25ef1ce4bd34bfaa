"""A user's PyTorch loss as an estimator: the correct REINFORCE passes, the classic bugs are caught.

Each bug's loss is tested twice: rejected against ∇J (caught), and — where its exact expectation has a
closed form from mdpgrad's public API — not rejected against that expectation (the exact bias is
ĝ's expectation − ∇J).  Every check samples with a fixed seed, so each verdict is deterministic.

Model: 3 states + a terminal one, 2 actions, γ = 0.9, one start state (so that batches of episodes
are i.i.d. also when the harness groups them); network: one-hot → 4 tanh → 2 logits.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _models import random_mdp  # noqa: E402

import mdpgrad as mg  # noqa: E402
from mdpgrad.estimators import (  # noqa: E402
    ppo_estimator,
    reinforce_estimator,
    reinforce_without_discount_estimator,
)
from mdpgrad.torch import TorchPolicy, loss_estimator  # noqa: E402

#: Episodes per check: the estimates live in the S·(A − 1) = 3-dimensional span of the scores, and
#: Hotelling's T² needs ≥ 10·k units there; 3000 gives the biased losses below a power near 1.
N = 3000
#: Per-episode gradients of the loss equal the library's estimator to rounding of a sum of ≤ 40 terms.
SAME_ATOL = 1e-12


@pytest.fixture(scope="module")
def setup():
    base = random_mdp(3, n_states=3, n_actions=2, episodic=True, gamma=0.9, p_end=0.25)
    rho0 = np.zeros(base.n_states)
    rho0[0] = 1.0
    mdp = mg.MDP(base.P, base.r, base.gamma, rho0=rho0, terminal=base.terminal)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(mdp.n_states, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    pol = TorchPolicy(net, n_states=mdp.n_states)
    return mdp, pol, pol.theta0


# ----------------------------------------------------------------------------- the user's code
def log_probs(net, batch):
    """log π(aₜ|sₜ), shape (m, T)."""
    logp = torch.log_softmax(net(batch.obs[:, :-1]), -1)
    return logp.gather(-1, batch.actions[..., None])[..., 0]


def returns_to_go(batch):
    """Gₜ = rₜ + γ Gₜ₊₁, accumulated backwards (rewards are 0 after the end)."""
    G, acc = [], torch.zeros_like(batch.rewards[:, 0])
    for t in range(batch.rewards.shape[1] - 1, -1, -1):
        acc = batch.rewards[:, t] + batch.gamma * acc
        G.append(acc)
    return torch.stack(G[::-1], dim=1)


def discounts(batch):
    return batch.gamma ** torch.arange(batch.rewards.shape[1], dtype=torch.float64)


def reinforce(net, batch):
    return -(discounts(batch) * returns_to_go(batch) * log_probs(net, batch) * batch.mask).sum()


def no_discount(net, batch):
    return -(returns_to_go(batch) * log_probs(net, batch) * batch.mask).sum()


def forward_returns(net, batch):
    G, acc = [], torch.zeros_like(batch.rewards[:, 0])
    for t in range(batch.rewards.shape[1]):          # the wrong direction: Gₜ = Σ_{k≤t} γ^{t−k} r_k
        acc = batch.rewards[:, t] + batch.gamma * acc
        G.append(acc)
    return -(discounts(batch) * torch.stack(G, 1) * log_probs(net, batch) * batch.mask).sum()


def sign(net, batch):
    return (discounts(batch) * returns_to_go(batch) * log_probs(net, batch) * batch.mask).sum()


def mean_over_steps(net, batch):
    x = discounts(batch) * returns_to_go(batch) * log_probs(net, batch) * batch.mask
    return -x.sum() / batch.mask.sum()


def batch_normalised(net, batch):
    G = returns_to_go(batch)
    n = batch.mask.sum()
    mu = (G * batch.mask).sum() / n
    sd = torch.sqrt((((G - mu) * batch.mask) ** 2).sum() / (n - 1))
    adv = (G - mu) / (sd + 1e-8)
    return -(discounts(batch) * adv * log_probs(net, batch) * batch.mask).sum() / batch.mask.shape[0]


def whole_return(net, batch):
    G0 = returns_to_go(batch)[:, :1]
    return -(G0 * log_probs(net, batch) * batch.mask).sum()


# ----------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("method", ["vmap", "loop"])
def test_the_reinforce_loss_gives_the_library_estimates_episode_by_episode(setup, method):
    mdp, pol, th = setup
    tr = mg.sample(mdp, pol.probabilities(th), 40, rng=1)
    ours = loss_estimator(reinforce, method=method).estimate(tr, pol, th)
    np.testing.assert_allclose(ours, reinforce_estimator().estimate(tr, pol, th), rtol=0, atol=SAME_ATOL)


def test_a_loss_that_cannot_be_vmapped_falls_back_to_the_loop(setup):
    mdp, pol, th = setup

    def with_item(net, batch):                       # .item() cannot run under vmap
        scale = 1.0 if batch.mask.sum().item() > 0 else 0.0
        return scale * reinforce(net, batch)

    tr = mg.sample(mdp, pol.probabilities(th), 10, rng=2)
    np.testing.assert_allclose(loss_estimator(with_item).estimate(tr, pol, th),
                               reinforce_estimator().estimate(tr, pol, th), rtol=0, atol=SAME_ATOL)
    with pytest.raises(Exception):                   # noqa: B017 - torch's own error under vmap
        loss_estimator(with_item, method="vmap").estimate(tr, pol, th)


def test_the_correct_losses_are_unbiased(setup):
    mdp, pol, th = setup
    assert mg.assert_unbiased(mdp, pol, th, loss_estimator(reinforce), n_episodes=N, rng=10).holds
    assert mg.assert_unbiased(mdp, pol, th, loss_estimator(whole_return), n_episodes=N, rng=11).holds


def _caught_and_explained(mdp, pol, th, loss, exact, seed, n_caught=N, **options):
    est = loss_estimator(loss, **options)
    caught = mg.check_estimator(mdp, pol, th, est, n_episodes=n_caught, target="gradient", rng=seed)
    assert not caught.holds, caught.report()
    if exact is not None:
        explained = mg.check_estimator(mdp, pol, th, est, n_episodes=N, target=exact, rng=seed + 1)
        assert explained.holds, explained.report()


def test_a_dropped_discount_estimates_the_update_without_discount(setup):
    mdp, pol, th = setup
    exact = reinforce_without_discount_estimator().expectation(mdp, pol, th)
    np.testing.assert_allclose(exact, mg.expected_update_without_discount(mdp, pol, th), atol=1e-12)
    _caught_and_explained(mdp, pol, th, no_discount, exact, 20)


def test_forward_returns_estimate_the_immediate_reward_gradient(setup):
    """Rewards before t are independent of the score at t: only E[γᵗ rₜ ∇log π] = Σ η ∇π r survives."""
    mdp, pol, th = setup
    eta = mg.evaluate(mdp, pol.probabilities(th)).eta
    # its bias is small next to its spread here (max |z| ≈ 1.6 at 3000 episodes under the paired
    # test's covariance bound): catching it takes more episodes
    _caught_and_explained(mdp, pol, th, forward_returns, pol.prob_vjp(th, eta[:, None] * mdp.r), 30,
                          n_caught=6 * N)


def test_a_flipped_sign_estimates_minus_the_gradient(setup):
    mdp, pol, th = setup
    _caught_and_explained(mdp, pol, th, sign, -mg.policy_gradient(mdp, pol, th), 40)


def test_an_action_value_baseline_cancels_the_gradient(setup):
    """b(s, a) = q(s, a): E[γᵗ q(sₜ, aₜ) ∇log π] = Σ η ∇π q = ∇J, so the expectation is 0."""
    mdp, pol, th = setup
    q = torch.tensor(mg.evaluate(mdp, pol.probabilities(th)).q)

    def action_baseline(net, batch):
        b = q[batch.states[:, :-1], batch.actions]
        return -(discounts(batch) * (returns_to_go(batch) - b) * log_probs(net, batch) * batch.mask).sum()

    _caught_and_explained(mdp, pol, th, action_baseline, np.zeros(pol.param_shape), 50)


def test_mean_over_steps_and_batch_normalisation_are_caught(setup):
    mdp, pol, th = setup
    _caught_and_explained(mdp, pol, th, mean_over_steps, None, 60)
    _caught_and_explained(mdp, pol, th, batch_normalised, None, 70, batch_size=8)


def test_ppo_ratio_against_the_current_policy_and_attached_old_log_probs(setup):
    """Correct PPO (ratio to the behaviour policy, clipped) has the exact expectation of ppo_estimator;
    a ratio to the current policy's detached log-probabilities drops the importance weight
    (expectation Σ η_old π_old Â ∇log π_θ); old log-probabilities left attached give exactly 0."""
    mdp, pol, th = setup
    th_old = th + np.random.default_rng(3).normal(scale=0.3, size=th.shape)
    ev_old = mg.evaluate(mdp, pol.probabilities(th_old))
    adv = torch.tensor(ev_old.advantage)
    eps = 0.2

    def surrogate(net, batch, old_logp):
        logp = log_probs(net, batch)
        ratio = torch.exp(logp - old_logp)
        a = adv[batch.states[:, :-1], batch.actions]
        s = torch.minimum(ratio * a, torch.clamp(ratio, 1 - eps, 1 + eps) * a)
        return -(discounts(batch) * s * batch.mask).sum()

    def ppo(net, batch):
        return surrogate(net, batch, batch.behaviour_log_prob)

    def ppo_current(net, batch):
        return surrogate(net, batch, log_probs(net, batch).detach())

    def ppo_attached(net, batch):
        return surrogate(net, batch, log_probs(net, batch))

    right = ppo_estimator(th_old, eps, advantages=ev_old.advantage).expectation(mdp, pol, th)
    est = loss_estimator(ppo, behaviour_theta=th_old)
    assert mg.check_estimator(mdp, pol, th, est, n_episodes=N, target=right, rng=80).holds
    wrong = pol.log_prob_vjp(th, ev_old.eta[:, None] * ev_old.pi * ev_old.advantage)
    est = loss_estimator(ppo_current, behaviour_theta=th_old)
    assert not mg.check_estimator(mdp, pol, th, est, n_episodes=N, target=right, rng=81).holds
    assert mg.check_estimator(mdp, pol, th, est, n_episodes=N, target=wrong, rng=82).holds
    # attached: ratio ≡ 1 with zero derivative, so every estimate is exactly 0 (not merely in mean)
    est = loss_estimator(ppo_attached, behaviour_theta=th_old)
    tr = mg.sample(mdp, pol.probabilities(th_old), 200, rng=84)
    assert np.abs(est.estimate(tr, pol, th)).max() == 0.0 < np.abs(right).max()


def test_an_entropy_bonus_is_the_gradient_of_an_objective_with_frozen_visits(setup):
    """E[ĝ] = ∇J + β ∇_θ Σ_s η̃(s) H(π_θ(·|s)) with η̃ the undiscounted visits held fixed."""
    mdp, pol, th = setup
    beta = 0.5

    def entropy_bonus(net, batch):
        logp_all = torch.log_softmax(net(batch.obs[:, :-1]), -1)
        entropy = -(logp_all.exp() * logp_all).sum(-1)
        return reinforce(net, batch) - beta * (entropy * batch.mask).sum()

    visits = torch.tensor(mg.visit_counts(mdp, pol.probabilities(th), discounted=False))
    t = torch.tensor(th, requires_grad=True)
    logp = torch.log_softmax(pol.logits(t), -1)
    (dH,) = torch.autograd.grad((visits * -(logp.exp() * logp).sum(-1)).sum(), t)
    exact = mg.policy_gradient(mdp, pol, th) + beta * dH.numpy()
    _caught_and_explained(mdp, pol, th, entropy_bonus, exact, 90)


@pytest.mark.parametrize("make, match", [
    (lambda: loss_estimator("loss"), "loss_fn is"),
    (lambda: loss_estimator(reinforce, batch_size=0), "batch_size"),
    (lambda: loss_estimator(reinforce, method="jit"), "method"),
])
def test_bad_arguments_are_refused(make, match):
    with pytest.raises(mg.ValidationError, match=match):
        make()


def test_a_non_scalar_loss_and_a_foreign_policy_are_refused(setup):
    mdp, pol, th = setup
    tr = mg.sample(mdp, pol.probabilities(th), 4, rng=5)
    with pytest.raises(mg.ValidationError, match="scalar"):
        loss_estimator(lambda net, b: log_probs(net, b), method="loop").estimate(tr, pol, th)
    with pytest.raises(mg.ValidationError, match="TorchPolicy"):
        loss_estimator(reinforce).estimate(tr, mg.TabularSoftmax(4, 2), np.zeros((4, 2)))
