"""A user's JAX loss as an estimator, and a published one: rlax.policy_gradient_loss, unmodified.

rlax's loss is mean_t(−log π(aₜ|sₜ)·advₜ·wₜ) over the T steps it is given.  With advₜ the discounted
return to go and wₜ the mask it has no γᵗ, and the mean divides by the padded length T: on a model
without terminal states under protocol "horizon" every episode has T = H steps, so its gradient step
estimates exactly (1/H)·E[Σₜ Gₜ ∇log π], the γᵗ-less update (Nota & Thomas 2020) scaled by 1/H; with
wₜ = γᵗ it estimates (1/H)·∇J_H, the gradient of the truncated objective.
"""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
from _models import random_mdp  # noqa: E402

import mdpgrad as mg  # noqa: E402
from mdpgrad.estimators import reinforce_estimator, reinforce_without_discount_estimator  # noqa: E402
from mdpgrad.jax import JaxPolicy, loss_estimator, mlp  # noqa: E402

#: Episodes per harness check (the estimates span S·(A − 1) ≤ 4 dimensions; T² needs ≥ 10 per dimension).
N = 3000
#: Per-episode gradients equal the library's estimator to rounding of a sum of ≤ 40 terms.
SAME_ATOL = 1e-12
H = 5


def returns_to_go(batch):
    def step(acc, r):
        acc = r + batch.gamma * acc
        return acc, acc
    _, G = jax.lax.scan(step, jnp.zeros(batch.rewards.shape[0]), batch.rewards.T[::-1])
    return G[::-1].T


@pytest.fixture(scope="module")
def episodic():
    mdp = random_mdp(3, n_states=3, n_actions=2, episodic=True, gamma=0.9, p_end=0.25)
    apply_fn, params = mlp([mdp.n_states, 4, 2], seed=0)
    pol = JaxPolicy(apply_fn, params, n_states=mdp.n_states)

    def log_probs(p, batch):
        logp = jax.nn.log_softmax(apply_fn(p, batch.obs[:, :-1]))
        return jnp.take_along_axis(logp, batch.actions[..., None], -1)[..., 0]

    def reinforce(p, batch):
        disc = batch.gamma ** jnp.arange(batch.rewards.shape[1])
        return -(disc * returns_to_go(batch) * log_probs(p, batch) * batch.mask).sum()

    def no_discount(p, batch):
        return -(returns_to_go(batch) * log_probs(p, batch) * batch.mask).sum()

    return mdp, pol, reinforce, no_discount


@pytest.mark.parametrize("method", ["vmap", "loop"])
def test_the_reinforce_loss_gives_the_library_estimates(episodic, method):
    mdp, pol, reinforce, _ = episodic
    th = pol.theta0
    tr = mg.sample(mdp, pol.probabilities(th), 12, rng=1)
    np.testing.assert_allclose(loss_estimator(reinforce, method=method).estimate(tr, pol, th),
                               reinforce_estimator().estimate(tr, pol, th), rtol=0, atol=SAME_ATOL)


def test_unbiased_and_a_dropped_discount_caught_with_its_exact_bias(episodic):
    mdp, pol, reinforce, no_discount = episodic
    th = pol.theta0
    assert mg.assert_unbiased(mdp, pol, th, loss_estimator(reinforce), n_episodes=N, rng=2).holds
    est = loss_estimator(no_discount)
    assert not mg.check_estimator(mdp, pol, th, est, n_episodes=N, target="gradient", rng=3).holds
    exact = reinforce_without_discount_estimator().expectation(mdp, pol, th)
    assert mg.check_estimator(mdp, pol, th, est, n_episodes=N, target=exact, rng=4).holds


def test_rlax_policy_gradient_loss_estimates_the_update_without_discount_over_H():
    rlax = pytest.importorskip("rlax")
    mdp = random_mdp(5, n_states=3, n_actions=2, gamma=0.8)        # no terminal state: T = H always
    apply_fn, params = mlp([mdp.n_states, 4, 2], seed=1)
    pol = JaxPolicy(apply_fn, params, n_states=mdp.n_states)
    th = pol.theta0

    def rlax_loss(p, batch, discounted=False):
        logits = apply_fn(p, batch.obs[0, :-1])                    # (T, A): one episode per unit
        w = batch.mask[0] * (batch.gamma ** jnp.arange(logits.shape[0]) if discounted else 1.0)
        return rlax.policy_gradient_loss(logits, batch.actions[0], returns_to_go(batch)[0], w)

    opts = dict(n_episodes=N // 3, protocol="horizon", horizon=H)      # the targets differ by factors of H
    no_disc = reinforce_without_discount_estimator().expectation(mdp, pol, th, protocol="horizon", horizon=H)
    est = loss_estimator(rlax_loss)
    assert mg.check_estimator(mdp, pol, th, est, target=no_disc / H, rng=5, **opts).holds
    assert not mg.check_estimator(mdp, pol, th, est, target="gradient", rng=6, **opts).holds
    truncated = reinforce_estimator().expectation(mdp, pol, th, protocol="horizon", horizon=H)
    est = loss_estimator(lambda p, b: rlax_loss(p, b, discounted=True), name="rlax with gamma^t")
    assert mg.check_estimator(mdp, pol, th, est, target=truncated / H, rng=7, **opts).holds
    # the two targets are close here: telling them apart takes more episodes (the paired test bounds
    # the covariance conservatively, by (1 + s)² times the reference's)
    assert not mg.check_estimator(mdp, pol, th, est, target=no_disc / H, rng=8,
                                  **{**opts, "n_episodes": 4 * N}).holds


def test_a_non_scalar_loss_and_a_foreign_policy_are_refused(episodic):
    mdp, pol, _, _ = episodic
    tr = mg.sample(mdp, pol.probabilities(pol.theta0), 4, rng=5)
    with pytest.raises(mg.ValidationError, match="scalar"):
        loss_estimator(lambda p, b: b.rewards, method="loop").estimate(tr, pol, pol.theta0)
    with pytest.raises(mg.ValidationError, match="JaxPolicy"):
        loss_estimator(lambda p, b: 0.0).estimate(tr, mg.TabularSoftmax(4, 2), np.zeros((4, 2)))
