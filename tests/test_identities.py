"""Identities around the policy gradient, each as an equality between two computations.

The occupancy mass Σ η = 1/(1 − γ) (Puterman 1994, §6.9); the naive swap, which gives exactly 0
(Williams 1992); baselines leave the expected update unchanged (Sutton & Barto 2018, §13.4); the
performance difference lemma (Kakade & Langford 2002, Lemma 6.1).
"""

from __future__ import annotations

import numpy as np
import pytest
from _models import KINDS, horizon, random_mdp, random_pi, random_policy
from hypothesis import given, settings
from hypothesis import strategies as st

from mdpgrad import MDP, TabularSoftmax, ValidationError, policy_gradient
from mdpgrad.gradients import (
    baseline_gradient,
    baseline_term,
    naive_swap_gradient,
    occupancy_mass,
    performance_difference,
)

#: Two exact computations of one quantity through one or two backward-stable
#: solves: rounding ≈ a few hundred ulps times the horizon 1/(1−γ) and the size
#: of the numbers (|b|, |q| up to ~10 here); 1e-11 per unit of horizon and of
#: scale leaves a margin of ~100 and is far below any real discrepancy.
EXACT_RTOL = 1e-11


def scale(*arrays) -> float:
    return max(1.0, *(float(np.max(np.abs(a))) for a in arrays))


@pytest.mark.parametrize("kind", list(KINDS))
def test_naive_swap_is_exactly_zero_while_gradient_is_not(kind):
    mdp = random_mdp(3, n_states=4, n_actions=3, **KINDS[kind])
    pol, th, _ = random_policy(3, mdp, "softmax")
    rng = np.random.default_rng(0)
    # any trajectories at all: the derivative of their returns, trajectory held fixed, is 0
    states = rng.integers(0, mdp.n_states, (6, 9))
    actions = rng.integers(0, mdp.n_actions, (6, 8))
    states[:2, 5:] = -1
    actions[:2, 4:] = -1
    g = naive_swap_gradient(mdp, pol, th, states, actions)
    assert g.shape == (6,) + th.shape
    assert np.all(g == 0.0)
    assert np.abs(policy_gradient(mdp, pol, th)).max() > 0


@settings(max_examples=20)
@given(seed=st.integers(0, 2**32 - 1), S=st.integers(1, 5), A=st.integers(1, 3),
       kind=st.sampled_from(list(KINDS)), which=st.sampled_from(["softmax", "loglinear", "direct"]))
def test_property_any_state_baseline_leaves_gradient_unchanged(seed, S, A, kind, which):
    mdp = random_mdp(seed, n_states=S, n_actions=A, **KINDS[kind])
    pol, th, _ = random_policy(seed, mdp, which)
    b = 10 * np.random.default_rng(seed).standard_normal(mdp.n_states)
    g = policy_gradient(mdp, pol, th)
    # The direct parameterisation's entries are free, so Σ_a π(a|s) = 1 holds only along directions
    # that keep each row's sum: compare the components in that tangent space (row-centred).
    tangent = (lambda x: x - x.mean(axis=1, keepdims=True)) if which == "direct" else (lambda x: x)
    zero = tangent(baseline_term(mdp, pol, th, b))
    tol = EXACT_RTOL * horizon(mdp) * scale(b, g)
    assert np.abs(zero).max() <= tol
    assert np.abs(tangent(baseline_gradient(mdp, pol, th, b) - g)).max() <= tol
    assert np.abs(tangent(baseline_gradient(mdp, pol, th, 3.5) - g)).max() <= tol   # constant baseline


@settings(max_examples=20)
@given(seed=st.integers(0, 2**32 - 1), S=st.integers(1, 5), A=st.integers(1, 3),
       kind=st.sampled_from(list(KINDS)), which=st.sampled_from(["softmax", "loglinear", "direct"]))
def test_property_performance_difference_lemma(seed, S, A, kind, which):
    mdp = random_mdp(seed, n_states=S, n_actions=A, **KINDS[kind])
    pol, th0, _ = random_policy(seed, mdp, which)
    rng = np.random.default_rng(seed + 7)
    if which == "direct":
        th = random_pi(rng, mdp.n_states, A)
    else:
        th = th0 + rng.standard_normal(th0.shape)
    pd = performance_difference(mdp, pol, th, th0)
    assert pd.lhs == pytest.approx(pd.J - pd.J0, abs=1e-15 * scale(pd.J, pd.J0))
    assert pd.gap <= EXACT_RTOL * horizon(mdp) * scale(pd.J, pd.J0)


def test_performance_difference_hand_example():
    # One state, γ = 0 (a bandit): J = Σ π r, adv₀ = r − Σ π₀ r, so Σ π adv₀ = J − J₀ by hand.
    mdp = MDP(np.ones((1, 2, 1)), [[1.0, 3.0]], gamma=0.0)
    pd = performance_difference(mdp, TabularSoftmax(1, 2), np.array([[0.0, np.log(3.0)]]), np.zeros((1, 2)))
    # π = (1/4, 3/4): J = 10/4; π₀ = (1/2, 1/2): J₀ = 2
    assert pd.J == pytest.approx(2.5, abs=1e-15) and pd.J0 == pytest.approx(2.0, abs=1e-15)
    assert pd.rhs == pytest.approx(0.5, abs=1e-15)


@pytest.mark.parametrize("kind", ["dense", "sparse", "gamma0", "near1"])
def test_occupancy_mass_without_termination(kind):
    mdp = random_mdp(5, n_states=4, n_actions=2, **KINDS[kind])
    pi = random_pi(1, 4, 2)
    occ = occupancy_mass(mdp, pi)
    assert occ.expected == pytest.approx(1.0 / (1.0 - mdp.gamma), rel=1e-15)
    # Σ η solves a system of condition ≤ (1+γ)/(1−γ): relative error ≈ that times ε
    assert occ.gap <= 1e-13 * horizon(mdp)


def test_occupancy_mass_with_termination_has_no_closed_form():
    mdp = random_mdp(5, n_states=4, n_actions=2, **KINDS["episodic"])
    occ = occupancy_mass(mdp, np.full((mdp.n_states, 2), 0.5))
    assert occ.expected is None and occ.gap is None
    assert 1.0 <= occ.total <= 5.0     # each step ends w.p. ≥ 0.2, so at most 5 expected steps


@pytest.mark.parametrize("call, argument", [
    (lambda m: baseline_gradient(m, TabularSoftmax(2, 2), np.zeros((2, 2)), np.zeros(3)), "b"),
    (lambda m: baseline_term(m, TabularSoftmax(2, 2), np.zeros((2, 2)), [0.0, np.nan]), "b"),
    (lambda m: baseline_term(m, TabularSoftmax(2, 2), np.zeros((2, 2)), "1.0"), "b"),
    (lambda m: naive_swap_gradient(m, TabularSoftmax(2, 2), np.zeros((2, 2)), [[0, 5]], [[0]]), "states"),
    (lambda m: naive_swap_gradient(m, TabularSoftmax(2, 2), np.zeros((2, 2)), [[0, 1]], [[2]]), "actions"),
    (lambda m: naive_swap_gradient(m, TabularSoftmax(2, 2), np.zeros((2, 2)), [0, 1], [0]), "actions"),
])
def test_bad_input_raises(call, argument):
    mdp = MDP(np.array([[[0.5, 0.5], [1.0, 0.0]], [[0.0, 1.0], [0.5, 0.5]]]), np.ones((2, 2)), gamma=0.9)
    with pytest.raises(ValidationError) as info:
        call(mdp)
    assert info.value.argument == argument
