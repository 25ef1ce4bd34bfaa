"""Tests for mdpgrad.estimators: sampled means = exact expectations; exact biases; hand numbers.

Sampled checks use fixed seeds (deterministic).  Each compares the mean of n
per-episode estimates with the exact expectation coordinate-wise within
``Z = 5`` standard errors: for a correct estimator one coordinate exceeds 5 SE
with probability ≈ 6e-7 (normal tail; n ≥ 10⁴ makes the CLT accurate for these
bounded-length episodes), so over the few hundred coordinates here a correct
implementation fails for only ~1e-4 of seeds; a wrong expectation (missing γᵗ,
off-by-one bootstrap, wrong clipping side) is off by many SE at these sizes,
and one test shows that the γᵗ-less estimator is rejected against ∇J.
"""

from __future__ import annotations

import numpy as np
import pytest
from _models import random_mdp
from hypothesis import given, settings
from hypothesis import strategies as st

from mdpgrad import (
    MDP,
    LogLinear,
    TabularSoftmax,
    ValidationError,
    evaluate,
    expected_update_without_discount,
    policy_gradient,
    sample,
    visit_counts,
)
from mdpgrad.estimators import (
    Estimator,
    baseline_estimator,
    gae_estimator,
    grpo_estimator,
    ppo_estimator,
    reinforce_estimator,
    reinforce_without_discount_estimator,
    value_baseline,
    whole_return_estimator,
)
from mdpgrad.sampling import group_start_states

#: Standard errors allowed between a sampled mean and its exact expectation (see module docstring).
Z = 5.0
#: Two exact computations on ≤ 6-state systems (LU solves, finite sums): they agree to ≈1e-14;
#: 1e-10 leaves room for conditioning while any modelling difference is ≥ 1e-3.
EXACT = 1e-10
#: Central differences with step 1e-5 on smooth J_H: error O(h²)·|J'''| + O(ε/h) ≈ 1e-10 .. 1e-9.
FD_TOL = 1e-7
N = 20_000


#: The random models: 3 non-terminal states, 2 actions; episodic ones end w.p. P_END every step.
N_STATES = 3
P_END = 0.35


def setting(kind: str, seed: int = 0, *, loglinear: bool = False):
    """(mdp, policy, theta, protocol, horizon) for a named test setting."""
    episodic = dict(n_states=N_STATES, episodic=True, p_end=P_END, gamma=0.9)
    if kind == "terminal":
        mdp, protocol, H = random_mdp(seed, **episodic), "terminal", None
    elif kind == "horizon-episodic":
        mdp, protocol, H = random_mdp(seed, **episodic), "horizon", 3
    elif kind == "horizon":
        mdp, protocol, H = random_mdp(seed, n_states=N_STATES), "horizon", 4
    else:
        mdp, protocol, H = random_mdp(seed, n_states=N_STATES), "geometric", None
    S, A = mdp.n_states, mdp.n_actions
    rng = np.random.default_rng(seed + 50)
    if loglinear:
        policy = LogLinear(rng.normal(size=(S, A, 3)))
        theta = rng.normal(size=3)
    else:
        policy = TabularSoftmax(S, A)
        theta = rng.normal(size=(S, A))
    return mdp, policy, theta, protocol, H


def sampled_mean(est: Estimator, mdp: MDP, policy, theta, protocol: str, H, n: int = N, seed: int = 1):
    """Mean and standard error of the estimates (groups averaged into one unit)."""
    behaviour = theta if est.behaviour_theta is None else est.behaviour_theta
    pi = policy.probabilities(behaviour)
    starts = None
    if est.group_size > 1:
        starts = group_start_states(mdp, n // est.group_size, est.group_size, rng=seed + 7)
    tr = sample(mdp, pi, n, rng=seed, protocol=protocol, horizon=H, start_states=starts)
    g = est.estimate(tr, policy, theta)
    assert g.shape == (n, *np.shape(theta))
    g = g.reshape(-1, est.group_size, *np.shape(theta)).mean(axis=1)
    return g.mean(axis=0), g.std(axis=0, ddof=1) / np.sqrt(g.shape[0])


def assert_matches(est: Estimator, kind: str, seed: int = 0, *, loglinear: bool = False, n: int = N):
    mdp, policy, theta, protocol, H = setting(kind, seed, loglinear=loglinear)
    exact = est.expectation(mdp, policy, theta, protocol=protocol, horizon=H)
    mean, se = sampled_mean(est, mdp, policy, theta, protocol, H, n=n)
    assert exact.shape == np.shape(theta)
    assert (np.abs(mean - exact) <= Z * se + EXACT).all(), (mean, exact, se)
    return mean, se, exact


KINDS = ["terminal", "horizon-episodic", "horizon", "geometric"]

ESTIMATORS = {
    "reinforce": lambda mdp, pol, th: reinforce_estimator(),
    "without_discount": lambda mdp, pol, th: reinforce_without_discount_estimator(),
    "whole_return": lambda mdp, pol, th: whole_return_estimator(),
    "baseline_const": lambda mdp, pol, th: baseline_estimator(1.5),
    "baseline_table": lambda mdp, pol, th: baseline_estimator(np.linspace(-1, 2, mdp.n_states)),
    "baseline_v": lambda mdp, pol, th: baseline_estimator(value_baseline(mdp, pol, th)),
    "gae_0.7": lambda mdp, pol, th: gae_estimator(np.linspace(1, -1, mdp.n_states), 0.7),
    "gae_0": lambda mdp, pol, th: gae_estimator(np.linspace(1, -1, mdp.n_states), 0.0),
    "gae_v": lambda mdp, pol, th: gae_estimator(value_baseline(mdp, pol, th), 0.4),
    "ppo_table": lambda mdp, pol, th: ppo_estimator(
        th - 0.4, 0.2, advantages=evaluate(mdp, pol.probabilities(th - 0.4)).advantage),
}


# ----------------------------------------------------------------- sampled mean = exact expectation

@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("kind", KINDS)
def test_sampled_mean_matches_exact_expectation(name: str, kind: str) -> None:
    mdp, policy, theta, _, _ = setting(kind)
    assert_matches(ESTIMATORS[name](mdp, policy, theta), kind)


@pytest.mark.parametrize("name", ["reinforce", "without_discount", "gae_0.7", "ppo_table"])
@pytest.mark.parametrize("kind", ["terminal", "horizon"])
def test_sampled_mean_matches_with_log_linear_policy(name: str, kind: str) -> None:
    mdp, policy, theta, _, _ = setting(kind, loglinear=True)
    assert_matches(ESTIMATORS[name](mdp, policy, theta), kind, loglinear=True)


@pytest.mark.parametrize("kind", ["horizon-episodic", "horizon"])
def test_ppo_with_sampled_advantages_matches_return_law_expectation(kind: str) -> None:
    mdp, policy, theta, _, H = setting(kind)
    # θ_old chosen so that ratios fall on both sides of the clip range
    theta_old = theta + np.random.default_rng(3).normal(scale=0.6, size=theta.shape)
    pi_old, pi_new = policy.probabilities(theta_old), policy.probabilities(theta)
    ratio = pi_new / pi_old
    assert (ratio > 1.2).any() and (ratio < 0.8).any()
    assert_matches(ppo_estimator(theta_old, 0.2, values=np.linspace(-0.5, 0.5, mdp.n_states)), kind)


def bernoulli_bandit(p_goal: float = 0.0) -> MDP:
    """One decision then the end: action 1 pays 1, action 0 pays 0; γ = 1."""
    P = np.zeros((2, 2, 2))
    P[0, :, 1] = P[1, :, 1] = 1.0
    return MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=np.array([False, True]))


def grpo_mdp() -> MDP:
    """Two non-terminal states, rewards in {0, 1}, so returns take few values (few atoms)."""
    P = np.zeros((3, 2, 3))
    P[0, 0] = [0.5, 0.3, 0.2]
    P[0, 1] = [0.1, 0.6, 0.3]
    P[1, 0] = [0.4, 0.2, 0.4]
    P[1, 1] = [0.0, 0.5, 0.5]
    P[2, :, 2] = 1.0
    r = [[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]
    return MDP(P, r, gamma=0.5, rho0=[0.6, 0.4, 0.0], terminal=np.array([False, False, True]))


@pytest.mark.parametrize("group_size", [2, 3])
def test_grpo_sampled_mean_matches_enumerated_expectation(group_size: int) -> None:
    mdp = grpo_mdp()
    policy = TabularSoftmax(3, 2)
    theta = np.array([[0.3, -0.2], [0.5, 0.1], [0.0, 0.0]])
    est = grpo_estimator(group_size)
    exact = est.expectation(mdp, policy, theta, protocol="horizon", horizon=3)
    mean, se = sampled_mean(est, mdp, policy, theta, "horizon", 3, n=group_size * 8_000)
    assert (np.abs(mean - exact) <= Z * se + EXACT).all()
    # group normalisation is biased for ∇J_H (exact against exact: far above rounding)
    J_H_grad = reinforce_estimator().expectation(mdp, policy, theta, protocol="horizon", horizon=3)
    assert np.abs(exact - J_H_grad).max() > 1e-3


def test_grpo_on_a_terminating_dag_under_terminal() -> None:
    mdp = bernoulli_bandit()
    policy = TabularSoftmax(2, 2)
    theta = np.array([[0.0, 0.8], [0.0, 0.0]])
    est = grpo_estimator(4)
    exact = est.expectation(mdp, policy, theta, protocol="terminal")
    mean, se = sampled_mean(est, mdp, policy, theta, "terminal", None, n=4 * 6_000)
    assert (np.abs(mean - exact) <= Z * se + EXACT).all()


def test_the_missing_discount_is_caught_against_grad_J() -> None:
    # the γᵗ-less estimator matches its own expectation but not ∇J: the test can fail
    mean, se, exact = assert_matches(reinforce_without_discount_estimator(), "terminal")
    mdp, policy, theta, _, _ = setting("terminal")
    grad = policy_gradient(mdp, policy, theta)
    assert (np.abs(mean - grad) > Z * se).any()
    assert (np.abs(exact - grad) > Z * se).any()          # the exact bias is above the detection threshold


# ----------------------------------------------------------------- exact identities and exact biases

@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), episodic=st.booleans(), sparse=st.booleans(), loglinear=st.booleans())
def test_unbiased_family_has_expectation_grad_J(seed, episodic, sparse, loglinear) -> None:
    mdp = random_mdp(seed, n_states=N_STATES, episodic=episodic, sparse=sparse, gamma=0.85, p_end=P_END)
    S, A = mdp.n_states, mdp.n_actions
    rng = np.random.default_rng(seed)
    policy = LogLinear(rng.normal(size=(S, A, 2))) if loglinear else TabularSoftmax(S, A)
    theta = rng.normal(size=policy.param_shape)
    protocol = "terminal" if episodic else "geometric"
    grad = policy_gradient(mdp, policy, theta)
    v = value_baseline(mdp, policy, theta)
    V = rng.normal(size=S)
    unbiased = [reinforce_estimator(), whole_return_estimator(), baseline_estimator(V),
                baseline_estimator(v), gae_estimator(V, 1.0), gae_estimator(v, 0.3),
                ppo_estimator(theta, 0.2, advantages=evaluate(mdp, policy.probabilities(theta)).advantage),
                ppo_estimator(theta, 0.2)]
    for est in unbiased:
        e = est.expectation(mdp, policy, theta, protocol=protocol)
        assert np.abs(e - grad).max() <= EXACT * max(1.0, np.abs(grad).max()), est.name
    if protocol == "geometric":   # nothing left to drop: the γᵗ-less update coincides
        e = reinforce_without_discount_estimator().expectation(mdp, policy, theta, protocol=protocol)
        assert np.abs(e - grad).max() <= EXACT


@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), sparse=st.booleans())
def test_missing_discount_bias_is_exactly_the_visit_difference(seed, sparse) -> None:
    # E[Σₜ Gₜ ∇log π] − ∇J = Σ_s (η̃ − η)(s) Σ_a π adv ∇log π   (Nota & Thomas 2020)
    mdp = random_mdp(seed, n_states=N_STATES, episodic=True, sparse=sparse, gamma=0.7, p_end=P_END)
    policy = TabularSoftmax(mdp.n_states, mdp.n_actions)
    theta = np.random.default_rng(seed).normal(size=policy.param_shape)
    pi = policy.probabilities(theta)
    ev = evaluate(mdp, pi)
    eta_tilde = visit_counts(mdp, pi, discounted=False)
    bias = policy.log_prob_vjp(theta, (eta_tilde - ev.eta)[:, None] * pi * ev.advantage)
    est = reinforce_without_discount_estimator()
    e = est.expectation(mdp, policy, theta, protocol="terminal")
    assert np.abs(e - policy_gradient(mdp, policy, theta) - bias).max() <= EXACT
    # the finite-horizon recursion converges to the same linear-solve answer: Pr(T > H) ≤ 0.65ᴴ
    e_H = est.expectation(mdp, policy, theta, protocol="horizon", horizon=120)
    visits = expected_update_without_discount(mdp, policy, theta, visits="undiscounted")
    assert np.abs(e_H - visits).max() <= EXACT


def truncated_objective(mdp: MDP, policy, theta, H: int) -> float:
    """J_H(θ) = Σ_{t<H} γᵗ ρ₀ᵀ (P̃^π)ᵗ r^π, by matrix powers."""
    ev = evaluate(mdp, policy.probabilities(theta), validate=False)
    keep = (~mdp.terminal).astype(float)
    P = keep[:, None] * ev.P_pi * keep[None, :]
    p, J = mdp.rho0 * keep, 0.0
    for t in range(H):
        J += mdp.gamma ** t * p @ (keep * ev.r_pi)
        p = p @ P
    return J


@pytest.mark.parametrize("kind", ["horizon", "horizon-episodic"])
def test_reinforce_under_horizon_is_the_gradient_of_the_truncated_objective(kind: str) -> None:
    mdp, policy, theta, _, H = setting(kind)
    e = reinforce_estimator().expectation(mdp, policy, theta, protocol="horizon", horizon=H)
    h = 1e-5
    fd = np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):
        d = np.zeros_like(theta)
        d[idx] = h
        fd[idx] = (truncated_objective(mdp, policy, theta + d, H)
                   - truncated_objective(mdp, policy, theta - d, H)) / (2 * h)
    assert np.abs(e - fd).max() <= FD_TOL
    # its bias against ∇J is the truncation: J − J_H is at most the reported bound
    grad = policy_gradient(mdp, policy, theta)
    assert np.abs(e - grad).max() > 1e-3


def clipped_surrogate(mdp: MDP, policy, theta, theta_old, adv_old, clip: float) -> float:
    """L(θ) = Σ_s η_old(s) Σ_a π_old(a|s) min(ρA, clip(ρ, 1 − ε, 1 + ε)A), the population PPO objective."""
    pi_old = policy.probabilities(theta_old)
    eta_old = evaluate(mdp, pi_old).eta
    rho = policy.probabilities(theta) / pi_old
    per = np.minimum(rho * adv_old, np.clip(rho, 1 - clip, 1 + clip) * adv_old)
    return float(eta_old @ np.sum(pi_old * per, axis=1))


@pytest.mark.parametrize("clip", [0.2, 1e6])
def test_ppo_expectation_is_the_gradient_of_the_population_clipped_surrogate(clip: float) -> None:
    # independent check by central differences (θ is away from the kinks ρ = 1 ± ε);
    # clip = 1e6 never binds: the CPI surrogate Σ η_old π_θ adv_old (Kakade & Langford 2002)
    mdp, policy, theta, _, _ = setting("terminal")
    theta_old = theta + np.random.default_rng(4).normal(scale=0.5, size=theta.shape)
    adv_old = evaluate(mdp, policy.probabilities(theta_old)).advantage
    e = ppo_estimator(theta_old, clip, advantages=adv_old).expectation(mdp, policy, theta)
    h = 1e-5
    fd = np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):
        d = np.zeros_like(theta)
        d[idx] = h
        fd[idx] = (clipped_surrogate(mdp, policy, theta + d, theta_old, adv_old, clip)
                   - clipped_surrogate(mdp, policy, theta - d, theta_old, adv_old, clip)) / (2 * h)
    assert np.abs(e - fd).max() <= FD_TOL
    if clip == 0.2:   # the clip binds somewhere, so this differs from the unclipped gradient
        e_free = ppo_estimator(theta_old, 1e6, advantages=adv_old).expectation(mdp, policy, theta)
        assert np.abs(e - e_free).max() > 1e-3


def test_gae_with_zero_lambda_has_the_td_advantage_bias() -> None:
    # λ = 0: Â = δ̄ = r + γPV − V, so E − ∇J = Σ η π γ P(V − v) ∇log π (hand identity)
    mdp, policy, theta, _, _ = setting("terminal")
    V = np.array([0.3, -0.7, 1.1, 0.0])
    pi = policy.probabilities(theta)
    ev = evaluate(mdp, pi)
    PdV = (mdp.P_flat @ (V - ev.v)).reshape(4, 2)
    bias = policy.log_prob_vjp(theta, ev.eta[:, None] * pi * mdp.gamma * PdV)
    e = gae_estimator(V, 0.0).expectation(mdp, policy, theta, protocol="terminal")
    assert np.abs(e - policy_gradient(mdp, policy, theta) - bias).max() <= EXACT
    assert np.abs(bias).max() > 1e-2


@pytest.mark.parametrize("kind", ["horizon", "horizon-episodic"])
def test_gae_lambda_one_zero_values_is_reinforce_under_horizon(kind: str) -> None:
    # V = 0, λ = 1: Âₜ is the truncated return Gₜ, bootstrapped with V(s_H) = 0
    mdp, policy, theta, _, H = setting(kind)
    a = gae_estimator(0.0, 1.0).expectation(mdp, policy, theta, protocol="horizon", horizon=H)
    b = reinforce_estimator().expectation(mdp, policy, theta, protocol="horizon", horizon=H)
    assert np.abs(a - b).max() <= EXACT


def test_dense_and_sparse_expectations_agree() -> None:
    dense = random_mdp(11, n_states=N_STATES, episodic=True, p_end=P_END)
    sparse = random_mdp(11, n_states=N_STATES, episodic=True, p_end=P_END, sparse=True)
    policy = TabularSoftmax(4, 2)
    theta = np.random.default_rng(0).normal(size=(4, 2))
    V = np.linspace(0, 1, 4)
    for est in (reinforce_without_discount_estimator(), gae_estimator(V, 0.6), baseline_estimator(V)):
        for protocol, H in (("terminal", None), ("horizon", 3)):
            a = est.expectation(dense, policy, theta, protocol=protocol, horizon=H)
            b = est.expectation(sparse, policy, theta, protocol=protocol, horizon=H)
            assert np.abs(a - b).max() <= EXACT
    for est in (ppo_estimator(theta + 0.7, 0.2, values=0.1), grpo_estimator(2)):   # enumerations
        a = est.expectation(dense, policy, theta, protocol="horizon", horizon=2)
        b = est.expectation(sparse, policy, theta, protocol="horizon", horizon=2)
        assert np.abs(a - b).max() <= EXACT


# ----------------------------------------------------------------- hand-derived numbers on a bandit

def test_reinforce_on_the_bandit_by_hand() -> None:
    # J = π(1), ∂J/∂θ[0, a] = π(a)(r(a) − J): at θ = 0, (−¼, ¼)
    est = reinforce_estimator()
    e = est.expectation(bernoulli_bandit(), TabularSoftmax(2, 2), np.zeros((2, 2)))
    assert np.abs(e - [[-0.25, 0.25], [0.0, 0.0]]).max() <= EXACT


def test_ppo_clipping_by_hand() -> None:
    policy = TabularSoftmax(2, 2)
    adv_old = np.array([[-0.5, 0.5], [0.0, 0.0]])        # r − J at π_old = (½, ½)
    est = ppo_estimator(np.zeros((2, 2)), 0.2, advantages=adv_old)
    # π_θ(1) = 0.8: ρ = (0.4, 1.6), both outside [0.8, 1.2] on the side where the clip binds
    theta = np.array([[0.0, np.log(4.0)], [0.0, 0.0]])
    assert np.abs(est.expectation(bernoulli_bandit(), policy, theta)).max() <= EXACT
    # π_θ(1) = 0.55: ρ = (0.9, 1.1) inside; Σ_a π_θ(a) adv(a) ∇log π_θ(a) = (−0.2475, 0.2475)
    theta = np.array([[0.0, np.log(0.55 / 0.45)], [0.0, 0.0]])
    e = est.expectation(bernoulli_bandit(), policy, theta)
    assert np.abs(e - [[-0.2475, 0.2475], [0.0, 0.0]]).max() <= EXACT
    # sampled advantages Â = G (b = 0) are ≥ 0: only the ρ > 1.2 side can clip.  π_θ(1) = 0.8:
    # action 1 (G = 1) clipped, action 0 (G = 0) contributes 0, so the expectation is 0
    theta = np.array([[0.0, np.log(4.0)], [0.0, 0.0]])
    e = ppo_estimator(np.zeros((2, 2)), 0.2).expectation(bernoulli_bandit(), policy, theta,
                                                         protocol="horizon", horizon=1)
    assert np.abs(e).max() <= EXACT


@pytest.mark.parametrize("p", [0.5, 0.8])
def test_grpo_pairs_on_the_bandit_by_hand(p: float) -> None:
    # G = 2: Â = ±1/(1 + 2ε) when the two returns differ, else 0, so
    # E[Â ∇log π] = p(1 − p)(e₁ − e₀)/(1 + 2ε), which is ∇J/(1 + 2ε)
    eps = 1e-8
    theta = np.array([[0.0, np.log(p / (1 - p))], [0.0, 0.0]])
    e = grpo_estimator(2, eps=eps).expectation(bernoulli_bandit(), TabularSoftmax(2, 2), theta,
                                               protocol="terminal")
    q = p * (1 - p) / (1 + 2 * eps)
    assert np.abs(e - [[-q, q], [0.0, 0.0]]).max() <= EXACT


# ----------------------------------------------------------------- limits and bad input

def test_ppo_sampled_advantages_refuse_terminal_when_the_clip_binds() -> None:
    mdp, policy, theta, _, _ = setting("terminal")
    est = ppo_estimator(theta + 1.0 * np.eye(4, 2), 0.1)
    with pytest.raises(ValidationError) as info:
        est.expectation(mdp, policy, theta, protocol="terminal")
    assert info.value.argument == "protocol"


def test_grpo_enumeration_limits() -> None:
    mdp, policy, theta, _, _ = setting("geometric")
    with pytest.raises(ValidationError) as info:
        grpo_estimator(2).expectation(mdp, policy, theta, protocol="geometric")
    assert info.value.argument == "protocol"
    mdp, policy, theta, _, _ = setting("terminal")        # cycles: episodes of any length
    with pytest.raises(ValidationError):
        grpo_estimator(2).expectation(mdp, policy, theta, protocol="terminal")


def test_grpo_rejects_groups_without_a_shared_start() -> None:
    mdp, policy, theta, _, _ = setting("horizon")
    tr = sample(mdp, policy.probabilities(theta), 6, rng=0, protocol="horizon", horizon=2,
                start_states=np.array([0, 0, 1, 1, 2, 2]))
    with pytest.raises(ValidationError) as info:
        grpo_estimator(3).estimate(tr, policy, theta)
    assert info.value.index == (0,)
    with pytest.raises(ValidationError):
        grpo_estimator(4).estimate(tr, policy, theta)


@pytest.mark.parametrize("make, argument", [
    (lambda: gae_estimator(np.zeros(3), 1.5), "lam"),
    (lambda: gae_estimator(np.zeros(3), "0.5"), "lam"),
    (lambda: grpo_estimator(1), "group_size"),
    (lambda: grpo_estimator(2.0), "group_size"),
    (lambda: grpo_estimator(2, eps=-1e-8), "eps"),
    (lambda: ppo_estimator(np.zeros((3, 2)), -0.1), "clip"),
    (lambda: ppo_estimator(np.zeros((3, 2)), float("nan")), "clip"),
    (lambda: ppo_estimator([[0.0, "1"]], 0.2), "theta_old"),
])
def test_bad_factory_arguments(make, argument: str) -> None:
    with pytest.raises(ValidationError) as info:
        make()
    assert info.value.argument == argument


def test_bad_tables_raise_when_used() -> None:
    mdp, policy, theta, protocol, H = setting("horizon")
    with pytest.raises(ValidationError) as info:
        baseline_estimator(np.zeros(7)).expectation(mdp, policy, theta, protocol=protocol, horizon=H)
    assert info.value.argument == "b"
    with pytest.raises(ValidationError) as info:
        gae_estimator([0.0, np.nan, 0.0], 0.5).expectation(mdp, policy, theta, protocol=protocol, horizon=H)
    assert info.value.argument == "values" and info.value.index == (1,)
    with pytest.raises(ValidationError) as info:
        reinforce_estimator().expectation(mdp, policy, theta, protocol="horizon")
    assert info.value.argument == "horizon"
    table = np.zeros((mdp.n_states, mdp.n_actions))
    table[2, 1] = np.inf
    for bad, index in ((table, (2, 1)), (table[:2], None)):
        with pytest.raises(ValidationError) as info:
            ppo_estimator(theta, 0.2, advantages=bad).expectation(mdp, policy, theta, protocol=protocol,
                                                                  horizon=H)
        assert info.value.argument == "advantages" and info.value.index == index
