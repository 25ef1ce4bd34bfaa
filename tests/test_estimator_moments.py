"""The exact second moment of per-episode gradient estimators, against an enumeration oracle.

``mg.estimators.estimator_moments`` computes E[ĝ] and E[ĝ ĝᵀ] of one episode's estimate from the model.
``tests/_episodes.py`` computes the same two numbers without the model's exact side: it lists every
episode with its probability and runs the estimator's own ``estimate`` on them.  The tests here

* check the oracle itself: its episodes and probabilities against hand counts and against the
  frequencies of :func:`mdpgrad.sample`; its mean against ``estimator.expectation``; its second
  moment against the sample second moment of 200,000 sampled episodes;
* compare the engine with the oracle on acyclic models (all three protocols) and on cyclic models
  (``"horizon"``), for every REINFORCE-family estimator and GAE, tabular softmax and log-linear
  policies;
* compare the engine's covariance with the sample covariance of 200,000 sampled episodes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import mdpgrad as mg
from mdpgrad.estimators import estimator_moments
from tests._episodes import enumerate_episodes, exact_moments
from tests._models import random_mdp

# Both sides of every exact comparison are finite sums (the oracle: at most a few thousand episodes
# of at most 5 steps; the engine: sums and linear solves of systems with at most 5 unknowns per
# entry and condition numbers of order 1/(1 − γ) ≤ 20).  Each accumulates rounding of about
# 1e-16 × (number of terms) × (scale of the terms), i.e. below 1e-13 of the largest entry here, so
# agreement to 1e-12 of the largest entry leaves an order of magnitude to spare and any algebraic
# slip (a missing γ, a wrong stop probability, one cross term) shows up at 1e-3 or more.
RTOL = 1e-12

# Under the sampled checks each entry must lie within Z standard errors.  With at most ~50 distinct
# entries per check, a correct implementation fails one with probability about 50 × 6e-7 ≈ 3e-5
# (normal tails; the rng is fixed anyway, so a run is reproducible).
Z = 5.0
N_SAMPLES = 200_000


# --------------------------------------------------------------------------- models

def dag_mdp(seed: int, n_states: int, n_actions: int, gamma: float, *, start_on_terminal: bool = False
            ) -> mg.MDP:
    """A layered acyclic MDP: state s moves only to states > s; the last state is a terminal sink.

    Each row keeps a random subset of the later states (at least one) with Dirichlet weights, so
    some transitions are structural zeros.  ρ₀ is a Dirichlet draw over the non-terminal states, or
    over all states (the terminal one included: episodes of length 0) with ``start_on_terminal``.
    """
    rng = np.random.default_rng(seed)
    S, A = n_states, n_actions
    P = np.zeros((S, A, S))
    for s in range(S - 1):
        for a in range(A):
            later = np.arange(s + 1, S)
            keep = later[rng.random(later.size) < 0.7]
            if keep.size == 0:
                keep = later[rng.integers(later.size)][None]
            P[s, a, keep] = rng.dirichlet(np.ones(keep.size))
    P[S - 1, :, S - 1] = 1.0
    r = rng.normal(size=(S, A))
    r[S - 1] = 0.0
    terminal = np.zeros(S, dtype=bool)
    terminal[S - 1] = True
    rho0 = rng.dirichlet(np.ones(S if start_on_terminal else S - 1))
    if not start_on_terminal:
        rho0 = np.append(rho0, 0.0)
    return mg.MDP(P, r, gamma=gamma, rho0=rho0, terminal=terminal)


MODELS: dict[str, mg.MDP] = {
    "dag3x2": dag_mdp(10, 3, 2, 0.9),
    "dag4x3-start-terminal": dag_mdp(11, 4, 3, 0.8, start_on_terminal=True),
    "dag5x2": dag_mdp(12, 5, 2, 0.95),
    "dag5x3-gamma1": dag_mdp(13, 5, 3, 1.0),
    "two-state": mg.get_example("two-state"),
    "two-state-episodic": mg.get_example("two-state-episodic"),   # cyclic: P[0, 1, 0] = 0.5
    "dense3x2": random_mdp(20, n_states=3, n_actions=2, gamma=0.9),
    "sparse3x3": random_mdp(21, n_states=3, n_actions=3, gamma=0.7, sparse=True, support=0.6),
    "episodic3x2": random_mdp(22, n_states=3, n_actions=2, gamma=0.85, episodic=True, p_end=0.3,
                              random_rho0=True),
}
ACYCLIC = ["dag3x2", "dag4x3-start-terminal", "dag5x2", "dag5x3-gamma1"]
CYCLIC = ["two-state", "two-state-episodic", "dense3x2", "sparse3x3", "episodic3x2"]
CYCLIC_HORIZON = {"two-state": 5, "two-state-episodic": 4, "dense3x2": 4, "sparse3x3": 3, "episodic3x2": 3}


def settings() -> list[tuple[str, str, int | None]]:
    """(model, protocol, horizon): acyclic models under all three protocols, cyclic ones under "horizon"."""
    out: list[tuple[str, str, int | None]] = []
    for name in ACYCLIC:
        out.append((name, "terminal", None))
        out.append((name, "horizon", 2))
        if MODELS[name].gamma < 1.0:
            out.append((name, "geometric", None))
    out += [(name, "horizon", CYCLIC_HORIZON[name]) for name in CYCLIC]
    return out


SETTINGS = settings()


def make_policy(kind: str, mdp: mg.MDP, seed: int) -> tuple[mg.Policy, np.ndarray]:
    """A tabular softmax or log-linear (3 random features) policy with a random θ."""
    rng = np.random.default_rng(seed)
    S, A = mdp.n_states, mdp.n_actions
    if kind == "softmax":
        return mg.TabularSoftmax(S, A), rng.normal(size=(S, A))
    return mg.LogLinear(rng.normal(size=(S, A, 3))), rng.normal(size=3)


@dataclass(frozen=True)
class EstimatorSpec:
    """How to build one estimator for a model and policy (some need v or random tables)."""

    name: str
    build: Callable[[mg.MDP, mg.Policy, np.ndarray, np.random.Generator], mg.estimators.Estimator]


E = mg.estimators
ESTIMATORS = [
    EstimatorSpec("reinforce", lambda m, pol, th, rng: E.reinforce_estimator()),
    EstimatorSpec("reinforce_without_discount",
                  lambda m, pol, th, rng: E.reinforce_without_discount_estimator()),
    EstimatorSpec("whole_return", lambda m, pol, th, rng: E.whole_return_estimator()),
    EstimatorSpec("baseline-random",
                  lambda m, pol, th, rng: E.baseline_estimator(rng.normal(size=m.n_states))),
    EstimatorSpec("baseline-v", lambda m, pol, th, rng: E.baseline_estimator(E.value_baseline(m, pol, th))),
    *[EstimatorSpec(f"gae-lam{lam:g}", lambda m, pol, th, rng, lam=lam:
                    E.gae_estimator(rng.normal(size=m.n_states), lam)) for lam in (0.0, 0.5, 1.0)],
]


def case(model: str, policy_kind: str, spec: EstimatorSpec
         ) -> tuple[mg.MDP, mg.Policy, np.ndarray, mg.estimators.Estimator]:
    """The model, a seeded policy and θ, and the estimator (its random tables seeded too)."""
    mdp = MODELS[model]
    seed = sum(map(ord, model + policy_kind + spec.name))
    policy, theta = make_policy(policy_kind, mdp, seed)
    return mdp, policy, theta, spec.build(mdp, policy, theta, np.random.default_rng(seed + 1))


def rel_error(x: np.ndarray, ref: np.ndarray, scale: np.ndarray | None = None) -> float:
    """max|x − ref| / max|scale| (scale defaults to ref): the error relative to the largest entry."""
    s = float(np.max(np.abs(ref if scale is None else scale)))
    return float(np.max(np.abs(np.asarray(x) - ref))) / max(s, 1e-300)


ALL_CASES = [pytest.param(model, protocol, horizon, kind, spec, id=f"{model}-{protocol}-{kind}-{spec.name}")
             for model, protocol, horizon in SETTINGS for kind in ("softmax", "loglinear")
             for spec in ESTIMATORS]


# --------------------------------------------------------------------------- the oracle itself

def test_acyclic_models_are_acyclic_and_cyclic_ones_are_refused() -> None:
    """"terminal" enumeration works on the DAG models and is refused where a state can recur."""
    pi = mg.uniform_policy(2, 2)
    with pytest.raises(ValueError, match="revisit"):
        enumerate_episodes(MODELS["two-state-episodic"], pi, protocol="terminal")
    with pytest.raises(ValueError, match="revisit"):
        enumerate_episodes(MODELS["two-state"], pi, protocol="geometric")
    for name in ACYCLIC:
        m = MODELS[name]
        traj, p = enumerate_episodes(m, mg.uniform_policy(m.n_states, m.n_actions), protocol="terminal")
        assert traj.terminated.all()
        assert p.min() > 0


def test_hand_counted_episodes() -> None:
    """A two-action chain whose episodes and probabilities are counted by hand.

    State 0: action 0 goes to 1, action 1 goes to 1 or to the terminal state 2 (½ each); state 1
    has one outcome per action, the terminal state.  π(·|0) = (0.25, 0.75), γ = 0.5.
    """
    P = np.zeros((3, 2, 3))
    P[0, 0, 1] = 1.0
    P[0, 1, 1] = P[0, 1, 2] = 0.5
    P[1, :, 2] = 1.0
    P[2, :, 2] = 1.0
    r = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]])
    mdp = mg.MDP(P, r, gamma=0.5, rho0=[1.0, 0.0, 0.0], terminal=[False, False, True])
    pi = np.array([[0.25, 0.75], [0.5, 0.5], [0.5, 0.5]])

    def listed(protocol: str, horizon: int | None = None) -> dict[tuple, tuple[float, float, bool]]:
        traj, p = enumerate_episodes(mdp, pi, protocol=protocol, horizon=horizon)
        out = {}
        for i in range(traj.n_episodes):
            L = traj.lengths[i]
            assert (traj.states[i, L + 1:] == -1).all() and (traj.actions[i, L:] == -1).all()
            key = (tuple(traj.states[i, :L + 1].tolist()), tuple(traj.actions[i, :L].tolist()))
            out[key] = (p[i], float(traj.rewards[i].sum()), bool(traj.terminated[i]))
        return out

    # "terminal": 0 -a0-> 1 -a-> 2 (¼·½ each a), 0 -a1-> 1 -a-> 2 (¾·½·½ each a), 0 -a1-> 2 (¾·½)
    assert listed("terminal") == {
        ((0, 1, 2), (0, 0)): (0.125, 4.0, True), ((0, 1, 2), (0, 1)): (0.125, 5.0, True),
        ((0, 1, 2), (1, 0)): (0.1875, 5.0, True), ((0, 1, 2), (1, 1)): (0.1875, 6.0, True),
        ((0, 2), (1,)): (0.375, 2.0, True)}
    # "horizon" H = 1: cut at s₁ = 1 (not terminated) or ended at 2
    assert listed("horizon", 1) == {((0, 1), (0,)): (0.25, 1.0, False), ((0, 1), (1,)): (0.375, 2.0, False),
                                    ((0, 2), (1,)): (0.375, 2.0, True)}
    # "geometric" γ = ½: after the first action to state 1, stop (½, s₁ = 1 recorded) or go on (½)
    assert listed("geometric") == {
        ((0, 1), (0,)): (0.125, 1.0, False), ((0, 1), (1,)): (0.1875, 2.0, False),
        ((0, 1, 2), (0, 0)): (0.0625, 4.0, True), ((0, 1, 2), (0, 1)): (0.0625, 5.0, True),
        ((0, 1, 2), (1, 0)): (0.09375, 5.0, True), ((0, 1, 2), (1, 1)): (0.09375, 6.0, True),
        ((0, 2), (1,)): (0.375, 2.0, True)}


@pytest.mark.parametrize(("model", "protocol", "horizon"), SETTINGS)
def test_probabilities_sum_to_one(model: str, protocol: str, horizon: int | None) -> None:
    """The enumerated episodes are a probability distribution (no branch lost or counted twice)."""
    mdp = MODELS[model]
    policy, theta = make_policy("softmax", mdp, 0)
    traj, p = enumerate_episodes(mdp, policy.probabilities(theta), protocol=protocol, horizon=horizon)
    assert p.min() > 0
    assert abs(p.sum() - 1.0) < 1e-13
    keys = {(tuple(traj.states[i]), tuple(traj.actions[i])) for i in range(traj.n_episodes)}
    assert len(keys) == traj.n_episodes


def _episode_keys(traj: mg.sampling.Trajectories) -> list[tuple]:
    """(s₀ … s_L, a₀ … a_{L−1}) of each episode, the padding dropped."""
    L = traj.lengths.tolist()
    return [(tuple(traj.states[i, :L[i] + 1].tolist()), tuple(traj.actions[i, :L[i]].tolist()))
            for i in range(traj.n_episodes)]


@pytest.mark.parametrize(("model", "protocol", "horizon"),
                         [("dag4x3-start-terminal", "terminal", None),
                          ("dag4x3-start-terminal", "geometric", None), ("dag5x2", "horizon", 2),
                          ("episodic3x2", "horizon", 3), ("sparse3x3", "horizon", 3)])
def test_enumeration_matches_the_sampler(model: str, protocol: str, horizon: int | None) -> None:
    """Every sampled episode is enumerated, with the same rewards and flags, at its enumerated frequency.

    The count of an episode of probability p among n draws is Binomial(n, p): within
    5·sqrt(n p (1 − p)) of n p, plus 5 for the rare episodes whose count is Poisson-like rather than
    normal (for a mean λ ≤ 1, Pr(X ≥ λ + 5·sqrt(λ) + 5) < 1e-4).
    """
    mdp = MODELS[model]
    policy, theta = make_policy("softmax", mdp, 1)
    pi = policy.probabilities(theta)
    traj, p = enumerate_episodes(mdp, pi, protocol=protocol, horizon=horizon)
    index = {k: i for i, k in enumerate(_episode_keys(traj))}
    n = 100_000
    sampled = mg.sample(mdp, pi, n, rng=np.random.default_rng(5), protocol=protocol, horizon=horizon)
    skeys = _episode_keys(sampled)
    rows = np.array([index[k] for k in skeys])          # KeyError: a sampled episode not enumerated
    L = sampled.lengths
    np.testing.assert_array_equal(L, traj.lengths[rows])
    np.testing.assert_array_equal(sampled.terminated, traj.terminated[rows])
    for i in np.unique(rows, return_index=True)[1]:
        np.testing.assert_array_equal(sampled.rewards[i, :L[i]], traj.rewards[rows[i], :L[i]])
    assert sampled.truncation_bound == traj.truncation_bound and sampled.gamma == traj.gamma
    counts = np.zeros(traj.n_episodes)
    for k, c in Counter(rows.tolist()).items():
        counts[k] = c
    bound = Z * np.sqrt(n * p * (1 - p)) + 5.0
    assert np.all(np.abs(counts - n * p) <= bound), np.max(np.abs(counts - n * p) / bound)


@pytest.mark.parametrize(("model", "protocol", "horizon", "kind", "spec"), ALL_CASES)
def test_oracle_mean_is_the_expectation(model: str, protocol: str, horizon: int | None, kind: str,
                                        spec: EstimatorSpec) -> None:
    """Σᵢ pᵢ ĝᵢ over the enumerated episodes equals ``estimator.expectation`` (two independent routes)."""
    mdp, policy, theta, est = case(model, kind, spec)
    mean, _ = exact_moments(mdp, policy, theta, est, protocol=protocol, horizon=horizon)
    expected = est.expectation(mdp, policy, theta, protocol, horizon)
    assert mean.shape == expected.shape == policy.param_shape
    assert rel_error(mean, expected) <= RTOL


def _sampled_moments(mdp: mg.MDP, policy: mg.Policy, theta: np.ndarray, est: mg.estimators.Estimator,
                     protocol: str, horizon: int | None, seed: int) -> np.ndarray:
    """N_SAMPLES sampled estimates, flattened: shape (N_SAMPLES, d)."""
    traj = mg.sample(mdp, policy.probabilities(theta), N_SAMPLES, rng=np.random.default_rng(seed),
                     protocol=protocol, horizon=horizon)
    g = est.estimate(traj, policy, theta)
    return g.reshape(N_SAMPLES, -1)


def _second_moment_with_errors(G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample E[ĝ ĝᵀ] and the standard error of each entry.

    The (j, k) entry is the mean of the i.i.d. products Xᵢ = ĝᵢⱼ ĝᵢₖ, so its standard error is
    sd(X)/√n, estimated from the samples (a fourth moment of ĝ).
    """
    n = G.shape[0]
    X = G[:, :, None] * G[:, None, :]
    return X.mean(axis=0), X.std(axis=0, ddof=1) / np.sqrt(n)


def _covariance_with_errors(G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample covariance of ĝ and the standard error of each entry.

    Ĉⱼₖ = mean of Zᵢ = (ĝᵢⱼ − ḡⱼ)(ĝᵢₖ − ḡₖ).  Up to O(1/n) from using ḡ for the true mean μ, Ĉⱼₖ is
    the mean of the i.i.d. (ĝᵢⱼ − μⱼ)(ĝᵢₖ − μₖ), so Var Ĉⱼₖ ≈ (μ₂₂ − Cⱼₖ²)/n with the fourth central
    moment μ₂₂ = E[(ĝⱼ − μⱼ)²(ĝₖ − μₖ)²]; sd(Z)/√n estimates its square root.
    """
    n = G.shape[0]
    D = G - G.mean(axis=0)
    Zp = D[:, :, None] * D[:, None, :]
    return Zp.mean(axis=0) * n / (n - 1), Zp.std(axis=0, ddof=1) / np.sqrt(n)


# Which sampled checks: one small model per protocol, estimators of different structure.
SAMPLED = [pytest.param(model, protocol, horizon, spec, id=f"{model}-{protocol}-{spec.name}")
           for model, protocol, horizon in [("dag4x3-start-terminal", "terminal", None),
                                            ("dag3x2", "geometric", None), ("two-state", "horizon", 5)]
           for spec in (ESTIMATORS[0], ESTIMATORS[2], ESTIMATORS[6])]


def _within(sample: np.ndarray, se: np.ndarray, exact: np.ndarray) -> tuple[bool, float]:
    """|sample − exact| ≤ Z·se + 1e-12·max|exact| entrywise (the absolute term: entries that are 0 on
    every episode, e.g. the scores of a state never visited, have se = 0 and agree to rounding)."""
    excess = np.abs(sample - exact) - (Z * se + 1e-12 * np.max(np.abs(exact)))
    return bool(np.all(excess <= 0)), float(np.max(np.abs(sample - exact) / np.maximum(se, 1e-300)))


@pytest.mark.parametrize(("model", "protocol", "horizon", "spec"), SAMPLED)
def test_oracle_second_moment_against_samples(model: str, protocol: str, horizon: int | None,
                                              spec: EstimatorSpec) -> None:
    """The oracle's E[ĝ ĝᵀ] against the mean of ĝ ĝᵀ over 200,000 sampled episodes, within 5 s.e."""
    mdp, policy, theta, est = case(model, "softmax", spec)
    _, second = exact_moments(mdp, policy, theta, est, protocol=protocol, horizon=horizon)
    sample, se = _second_moment_with_errors(_sampled_moments(mdp, policy, theta, est, protocol, horizon, 7))
    ok, worst = _within(sample, se, second)
    assert ok, f"largest deviation {worst:.2f} standard errors"


# --------------------------------------------------------------------------- the engine against the oracle

@pytest.mark.parametrize(("model", "protocol", "horizon", "kind", "spec"), ALL_CASES)
def test_engine_matches_oracle(model: str, protocol: str, horizon: int | None, kind: str,
                               spec: EstimatorSpec) -> None:
    """mean, second_moment and covariance of ``estimator_moments`` equal the enumeration's, to 1e-12.

    The covariance is compared relative to the largest entry of the second moment: it is computed as a
    difference of second moment and mean meanᵀ, so that is the scale of its rounding.
    """
    mdp, policy, theta, est = case(model, kind, spec)
    mean, second = exact_moments(mdp, policy, theta, est, protocol=protocol, horizon=horizon)
    d = int(np.prod(policy.param_shape))
    got = estimator_moments(mdp, policy, theta, est, protocol=protocol, horizon=horizon)
    assert np.shape(got.mean) == policy.param_shape
    assert np.shape(got.second_moment) == np.shape(got.covariance) == (d, d)
    m = mean.reshape(-1)
    errors = {"mean": rel_error(got.mean, mean),
              "second_moment": rel_error(got.second_moment, second),
              "covariance": rel_error(got.covariance, second - np.outer(m, m), scale=second)}
    assert max(errors.values()) <= RTOL, errors


@pytest.mark.parametrize(("model", "protocol", "horizon", "spec"), SAMPLED)
def test_engine_covariance_against_samples(model: str, protocol: str, horizon: int | None,
                                           spec: EstimatorSpec) -> None:
    """The engine's covariance against the sample covariance of 200,000 episodes, within 5 s.e. per entry."""
    mdp, policy, theta, est = case(model, "loglinear", spec)
    got = estimator_moments(mdp, policy, theta, est, protocol=protocol, horizon=horizon)
    sample, se = _covariance_with_errors(_sampled_moments(mdp, policy, theta, est, protocol, horizon, 8))
    ok, worst = _within(sample, se, np.asarray(got.covariance))
    assert ok, f"largest deviation {worst:.2f} standard errors"


@pytest.mark.parametrize(("model", "protocol", "horizon"), SETTINGS)
def test_engine_covariance_is_symmetric_and_positive_semidefinite(model: str, protocol: str,
                                                                  horizon: int | None) -> None:
    """A covariance is symmetric with eigenvalues ≥ 0 (to the rounding of its largest entry)."""
    mdp, policy, theta, est = case(model, "loglinear", ESTIMATORS[7])
    got = estimator_moments(mdp, policy, theta, est, protocol=protocol, horizon=horizon)
    C = np.asarray(got.covariance)
    scale = float(np.max(np.abs(np.asarray(got.second_moment))))
    assert np.max(np.abs(C - C.T)) <= RTOL * scale
    assert np.linalg.eigvalsh((C + C.T) / 2).min() >= -RTOL * scale


def test_engine_auto_protocol_is_terminal_on_an_episodic_model() -> None:
    """protocol="auto" is "terminal" when the model has terminal states (as in the sampler)."""
    mdp, policy, theta, est = case("dag5x2", "softmax", ESTIMATORS[0])
    mean, second = exact_moments(mdp, policy, theta, est, protocol="terminal")
    got = estimator_moments(mdp, policy, theta, est)
    assert rel_error(got.mean, mean) <= RTOL
    assert rel_error(got.second_moment, second) <= RTOL
