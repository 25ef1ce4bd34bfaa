"""Surrogate losses, exactly: stop-gradient vs live surrogate, reuse of one batch, CPI/PPO.

At θ₀ every frozen surrogate has gradient ∓∇J (policy gradient theorem); the live surrogate does
not; once θ leaves θ₀ the frozen direction drifts from ∇J (Kakade & Langford 2002; Schulman et al.
2015, 2017).
"""

from __future__ import annotations

import numpy as np
import pytest
from _models import KINDS, horizon, random_mdp, random_policy

from mdpgrad import MDP, TabularSoftmax, ValidationError, check_gradient, objective, policy_gradient
from mdpgrad.surrogates import (
    freeze,
    importance_surrogate,
    importance_surrogate_gradient,
    live_surrogate,
    live_surrogate_gradient,
    ppo_clip_surrogate,
    ppo_clip_surrogate_gradient,
    reuse_frozen_batch,
    stop_gradient_surrogate,
    stop_gradient_surrogate_gradient,
)

#: Two exact routes to ∇J (vector-Jacobian products of π or log π with frozen
#: weights vs the theorem's η q weights): rounding of a few hundred ulps times
#: the horizon; 1e-11 per unit of horizon leaves a margin of ~100.
EXACT_RTOL = 1e-11

#: Central differences (step ε^(1/3)): error ≈ ε^(2/3) times third-derivative
#: scale, which grows with the horizon; 1e-6 per unit bounds it with room.
FD_RTOL = 1e-6

#: "Different" means different by far more than any rounding: at least 1e-3 of ‖∇J‖.
DIFFERENT = 1e-3


def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("which", ["softmax", "loglinear", "direct"])
def test_frozen_surrogates_have_the_true_gradient_at_theta0(kind, which):
    mdp = random_mdp(31, n_states=4, n_actions=3, **KINDS[kind])
    pol, th0, _ = random_policy(31, mdp, which)
    # Direct: the entries are free and the surrogates use adv where ∇J has q; the two differ by
    # η(s)v(s) in every entry of row s, i.e. they agree in the directions that keep rows summing to 1.
    tangent = (lambda x: x - x.mean(axis=1, keepdims=True)) if which == "direct" else (lambda x: x)
    g = tangent(policy_gradient(mdp, pol, th0))
    fb = freeze(mdp, pol, th0)
    tol = EXACT_RTOL * horizon(mdp)
    assert rel(tangent(-stop_gradient_surrogate_gradient(fb, pol, th0)), g) <= tol
    assert rel(tangent(importance_surrogate_gradient(fb, pol, th0)), g) <= tol
    assert rel(tangent(ppo_clip_surrogate_gradient(fb, pol, th0, 0.2)), g) <= tol
    # values at θ₀: L_IS = J, and L_clip = Σ η π adv = 0 because Σ_a π adv = 0
    assert importance_surrogate(fb, pol, th0) == pytest.approx(fb.J, abs=tol * max(1, abs(fb.J)))
    assert abs(ppo_clip_surrogate(fb, pol, th0, 0.2)) <= tol * max(1.0, float(np.abs(fb.weights).sum()))


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("which", ["softmax", "loglinear", "direct"])
def test_live_surrogate_gradient_is_exact_and_differs(kind, which):
    mdp = random_mdp(41, n_states=4, n_actions=3, **KINDS[kind])
    pol, th0, _ = random_policy(41, mdp, which)
    g = policy_gradient(mdp, pol, th0)
    live = live_surrogate_gradient(mdp, pol, th0)
    chk = check_gradient(lambda t: live_surrogate(mdp, pol, t), live, th0, tol=FD_RTOL * horizon(mdp))
    assert chk.holds, chk.max_error
    assert np.abs(live - (-g)).max() >= DIFFERENT * np.abs(g).max()


@pytest.mark.parametrize("which", ["softmax", "loglinear", "direct"])
def test_surrogate_gradients_match_finite_differences_off_theta0(which):
    mdp = random_mdp(51, n_states=4, n_actions=3, **KINDS["dense"])
    pol, th0, _ = random_policy(51, mdp, which)
    fb = freeze(mdp, pol, th0)
    rng = np.random.default_rng(3)
    # multiplicative for Direct so that every π stays positive (log π is taken)
    noise = 0.05 * rng.standard_normal(th0.shape)
    th = th0 * np.exp(noise) if which == "direct" else th0 + noise
    for f, grad in [(stop_gradient_surrogate, stop_gradient_surrogate_gradient),
                    (importance_surrogate, importance_surrogate_gradient)]:
        chk = check_gradient(lambda t, f=f: f(fb, pol, t), grad(fb, pol, th), th, tol=FD_RTOL * horizon(mdp))
        assert chk.holds, (f.__name__, chk.max_error)
    # PPO: away from the kinks ρ = 1 ± ε the clipped objective is smooth
    rho = pol.probabilities(th) / fb.pi
    assert np.abs(np.abs(rho - 1) - 0.02).min() > 1e-4
    chk = check_gradient(lambda t: ppo_clip_surrogate(fb, pol, t, 0.02),
                         ppo_clip_surrogate_gradient(fb, pol, th, 0.02), th, tol=FD_RTOL * horizon(mdp))
    assert chk.holds, chk.max_error


def test_stop_gradient_direction_is_constant_for_tabular_softmax():
    # ∇L₀(θ)[s,b] = −(w[s,b] − π_θ(b|s) Σ_a w[s,a]) with w = η₀ π₀ adv₀, and Σ_a π₀ adv₀ = 0,
    # so ∇L₀(θ) = −w for every θ: the frozen surrogate keeps pushing the same way (by hand).
    mdp = random_mdp(61, n_states=4, n_actions=3, **KINDS["dense"])
    pol = TabularSoftmax(4, 3)
    th0 = np.random.default_rng(0).standard_normal((4, 3))
    fb = freeze(mdp, pol, th0)
    for th in (th0, th0 + 3.0, np.random.default_rng(1).standard_normal((4, 3)) * 5):
        np.testing.assert_allclose(stop_gradient_surrogate_gradient(fb, pol, th), -fb.weights, rtol=0,
                                   atol=1e-15 * 10)


@pytest.mark.parametrize("surrogate", ["stop_gradient", "importance", "ppo"])
def test_reused_batch_cosine_falls_below_one(surrogate):
    mdp = random_mdp(71, n_states=5, n_actions=3, **KINDS["dense"])
    pol = TabularSoftmax(5, 3)
    th0 = np.random.default_rng(2).standard_normal((5, 3))
    tr = reuse_frozen_batch(mdp, pol, th0, n_steps=30, step_size=2.0, surrogate=surrogate, clip=0.2)
    assert tr.thetas.shape == (31, 5, 3) and tr.J.shape == (31,) and tr.cosine.shape == (31,)
    assert tr.cosine[0] == pytest.approx(1.0, abs=1e-12)        # at θ₀ the surrogate is exact
    assert np.nanmin(tr.cosine[1:]) < 1 - DIFFERENT              # then it drifts away from ∇J
    for i in (0, 10, 30):                                         # J along the way is the exact J
        assert tr.J[i] == pytest.approx(objective(mdp, pol, tr.thetas[i]), rel=1e-12)
        np.testing.assert_allclose(tr.true_gradients[i], policy_gradient(mdp, pol, tr.thetas[i]), rtol=1e-12)
    assert tr.J[1] > tr.J[0]                                      # the first step is an ascent step


def test_ppo_gradient_vanishes_once_clipped_bandit():
    # One state, γ = 0, r = (0, 2), π₀ uniform: adv₀ = (−1, 1), η₀ = 1.  With θ = (0, x) and
    # e^x/(1+e^x) > 0.6 (ρ(1) > 1.2) and 1/(1+e^x) < 0.4 (ρ(0) < 0.8) every term is clipped.
    mdp = MDP(np.ones((1, 2, 1)), [[0.0, 2.0]], gamma=0.0)
    pol = TabularSoftmax(1, 2)
    fb = freeze(mdp, pol, np.zeros((1, 2)))
    assert np.all(ppo_clip_surrogate_gradient(fb, pol, np.array([[0.0, 0.5]]), 0.2) == 0.0)
    # inside the clip range it equals the importance-weighted gradient Σ η₀ adv₀ ∇π
    th = np.array([[0.0, 0.1]])
    np.testing.assert_allclose(ppo_clip_surrogate_gradient(fb, pol, th, 0.2),
                               importance_surrogate_gradient(fb, pol, th), rtol=0, atol=1e-16)
    # L_IS(θ) = J₀ + Σ π_θ adv₀ = 1 + (p − (1 − p)) with p = π_θ(1): by hand at θ = (0, 0.1)
    p = 1 / (1 + np.exp(-0.1))
    assert importance_surrogate(fb, pol, th) == pytest.approx(1 + 2 * p - 1, abs=1e-15)


@pytest.mark.parametrize("call, argument", [
    (lambda m, p: reuse_frozen_batch(m, p, np.zeros((2, 2)), n_steps=1, step_size=1.0, surrogate="x"),
     "surrogate"),
    (lambda m, p: reuse_frozen_batch(m, p, np.zeros((2, 2)), n_steps=-1, step_size=1.0), "n_steps"),
    (lambda m, p: reuse_frozen_batch(m, p, np.zeros((2, 2)), n_steps=1.5, step_size=1.0), "n_steps"),
    (lambda m, p: reuse_frozen_batch(m, p, np.zeros((2, 2)), n_steps=1, step_size=np.nan), "step_size"),
    (lambda m, p: reuse_frozen_batch(m, p, np.zeros((2, 2)), n_steps=1, step_size=0.0), "step_size"),
    (lambda m, p: ppo_clip_surrogate(freeze(m, p, np.zeros((2, 2))), p, np.zeros((2, 2)), 1.5), "clip"),
    (lambda m, p: freeze(m, p, np.zeros(4)), "theta0"),
    (lambda m, p: live_surrogate_gradient(m, p, np.zeros((1, 2, 2))), "theta"),
])
def test_bad_input_raises(call, argument):
    mdp = MDP(np.array([[[0.5, 0.5], [1.0, 0.0]], [[0.0, 1.0], [0.5, 0.5]]]), np.ones((2, 2)), gamma=0.9)
    with pytest.raises(ValidationError) as info:
        call(mdp, TabularSoftmax(2, 2))
    assert info.value.argument == argument
