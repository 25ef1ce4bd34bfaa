"""A published PyTorch loss, unmodified: TorchRL's ReinforceLoss through mdpgrad.torch.loss_estimator.

TorchRL's ``ReinforceLoss`` (functional=False, default reduction "mean") returns
``loss_actor = mean over the samples of −log π(a|s)·advantage``.  Fed one episode's H steps with the
advantage set to the discounted return to go Gₜ (no γᵗ), its gradient step is (1/H) Σₜ Gₜ ∇log π: on a
model without terminal states under protocol "horizon" (every episode exactly H steps) it estimates
exactly (1/H)·E[Σₜ Gₜ ∇log π], the γᵗ-less update (Nota & Thomas 2020) scaled by 1/H, which
mdpgrad computes exactly (``reinforce_without_discount_estimator().expectation``).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchrl")

from _models import random_mdp  # noqa: E402
from tensordict import TensorDict  # noqa: E402
from tensordict.nn import TensorDictModule  # noqa: E402
from torchrl.modules import ProbabilisticActor  # noqa: E402
from torchrl.objectives import ReinforceLoss  # noqa: E402

import mdpgrad as mg  # noqa: E402
from mdpgrad.estimators import reinforce_without_discount_estimator  # noqa: E402
from mdpgrad.torch import TorchPolicy, loss_estimator, mlp  # noqa: E402

H = 5
#: Episodes per check: the estimates span S·(A − 1) = 3 dimensions (T² needs ≥ 10 units per dimension);
#: the loss runs in the loop fallback (TensorDict construction is not vmapped), so a small n that still
#: separates the exact target from its H-fold multiple and from ∇J.
N = 600


def test_torchrl_reinforce_loss_estimates_the_update_without_discount_over_H():
    mdp = random_mdp(5, n_states=3, n_actions=2, gamma=0.8)       # no terminal state: H steps each
    pol = TorchPolicy(mlp([mdp.n_states, 4, 2], seed=1), n_states=mdp.n_states)
    th = pol.theta0
    critic = TensorDictModule(torch.nn.Linear(mdp.n_states, 1).double(), in_keys=["observation"],
                              out_keys=["state_value"])

    def torchrl_loss(net, batch):
        actor = ProbabilisticActor(TensorDictModule(net, in_keys=["observation"], out_keys=["logits"]),
                                   in_keys=["logits"], distribution_class=torch.distributions.Categorical,
                                   return_log_prob=True)
        G, acc = [], torch.zeros_like(batch.rewards[0, 0])
        for t in reversed(range(batch.rewards.shape[1])):
            acc = batch.rewards[0, t] + batch.gamma * acc
            G.append(acc)
        G = torch.stack(G[::-1])[:, None]
        td = TensorDict({"observation": batch.obs[0, :-1], "action": batch.actions[0], "advantage": G,
                         "value_target": G}, batch_size=[batch.actions.shape[1]])
        return ReinforceLoss(actor, critic, functional=False)(td)["loss_actor"]

    est = loss_estimator(torchrl_loss)
    opts = dict(n_episodes=N, protocol="horizon", horizon=H)
    exact = reinforce_without_discount_estimator().expectation(mdp, pol, th, protocol="horizon", horizon=H)
    assert mg.check_estimator(mdp, pol, th, est, target=exact / H, rng=1, **opts).holds
    assert not mg.check_estimator(mdp, pol, th, est, target="gradient", rng=2, **opts).holds
    assert not mg.check_estimator(mdp, pol, th, est, target=exact, rng=3, **opts).holds
