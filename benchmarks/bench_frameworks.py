"""Benchmark: exact ∇J of a network policy, and per-episode gradients of a user's loss.

(a) Exact ∇J of a 2 × 64 tanh MLP policy (PyTorch, float64; input the (row, column) of the cell
    scaled to [0, 1], 4 logits; 4,612 parameters) on a 100 × 100 slippery gridworld (10⁴ states,
    sparse P, γ = 0.99), by ``mg.policy_gradient(mdp, TorchPolicy(...), θ)``, against its floor:
    the tabular exact ∇J at the network's logits (``mg.policy_gradient`` with ``TabularSoftmax``)
    plus one forward and one backward pass of the network over all states.  Goal: ratio ≤ 1.5.
(b) Per-episode gradients of a user's REINFORCE loss for 10⁴ episodes of the short corridor
    (Sutton & Barto Example 13.1, γ = 0.9; a 4 → 16 → 2 tanh MLP), by
    ``loss_estimator(loss).estimate`` (``torch.func.vmap`` of ``torch.func.grad``) against the loop
    over episodes (``method="loop"``: one ``torch.autograd.grad`` per episode).  Both sides build the
    same batch from the same sampled episodes.  Goal: ratio ≤ 1/5 (vmap at least 5× faster).

Timing: both sides alternate in one process (``_timing.alternating_runs``); min, median, max and
the ratio of medians are printed.  torch is required (the ``torch`` extra).

Run: ``python3 benchmarks/bench_frameworks.py [--repeats 5] [--loop-repeats 3]``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _timing import alternating_runs, machine_header, print_comparison

import mdpgrad as mg
from mdpgrad.examples import slippery_gridworld
from mdpgrad.torch import TorchPolicy, loss_estimator, mlp


def gradient_case() -> tuple:
    n = 100
    mdp = slippery_gridworld(n, n, gamma=0.99)
    rows, cols = np.divmod(np.arange(mdp.n_states), n)
    X = np.stack([rows, cols], axis=1) / (n - 1)
    net = mlp([2, 64, 64, mdp.n_actions], seed=0)
    pol = TorchPolicy(net, X)
    theta = pol.theta0
    table = mg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    x = torch.tensor(X)
    w = torch.tensor(np.random.default_rng(0).normal(size=(mdp.n_states, mdp.n_actions)))

    def ours() -> object:
        return mg.policy_gradient(mdp, pol, theta)

    def floor() -> object:
        with torch.no_grad():
            logits = pol.module(x).numpy()
        g = mg.policy_gradient(mdp, table, logits)             # tabular exact ∇J
        pol.module.zero_grad()
        (pol.module(x) * w).sum().backward()                    # one forward and backward pass
        return g

    return ours, floor, pol.param_shape[0]


def reinforce(net, batch):
    logp = torch.log_softmax(net(batch.obs[:, :-1]), -1).gather(-1, batch.actions[..., None])[..., 0]
    G, acc = [], torch.zeros_like(batch.rewards[:, 0])
    for t in reversed(range(batch.rewards.shape[1])):
        acc = batch.rewards[:, t] + batch.gamma * acc
        G.append(acc)
    disc = batch.gamma ** torch.arange(batch.rewards.shape[1], dtype=torch.float64)
    return -(disc * torch.stack(G[::-1], 1) * logp * batch.mask).sum()


def loss_case(n_episodes: int) -> tuple:
    mdp = mg.get_example("short-corridor").replace(gamma=0.9)
    pol = TorchPolicy(mlp([4, 16, 2], seed=0), n_states=mdp.n_states)
    tr = mg.sample(mdp, pol.probabilities(pol.theta0), n_episodes, rng=0)
    vm, lp = loss_estimator(reinforce, method="vmap"), loss_estimator(reinforce, method="loop")
    return (lambda: vm.estimate(tr, pol, pol.theta0)), (lambda: lp.estimate(tr, pol, pol.theta0)), tr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop-repeats", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=10_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    machine_header(f"; torch {torch.__version__}, 1 intra-op thread")

    ours, floor, d = gradient_case()
    ta, tb = alternating_runs(ours, floor, args.repeats)
    print_comparison(f"(a) exact grad J of a 2 x 64 MLP policy ({d} parameters), 10^4-state sparse grid",
                     ("TorchPolicy: mg.policy_gradient", ta),
                     [("tabular exact grad J + one forward/backward", tb)], method="alternating, one process",
                     goals={"tabular exact grad J + one forward/backward": 1.5})

    small_vm, small_loop, _ = loss_case(100)       # the two sides compute the same numbers
    assert np.abs(small_vm() - small_loop()).max() < 1e-12
    vm, loop, tr = loss_case(args.episodes)
    ta, tb = alternating_runs(vm, loop, args.loop_repeats)
    print_comparison(f"(b) per-episode gradients of a REINFORCE loss, {tr.n_episodes} episodes "
                     f"(padded to T = {tr.actions.shape[1]}, mean length {tr.lengths.mean():.1f})",
                     ("loss_estimator: torch.func.vmap(grad)", ta),
                     [("Python loop over episodes", tb)], method="alternating, one process",
                     goals={"Python loop over episodes": 0.2})


if __name__ == "__main__":
    main()
