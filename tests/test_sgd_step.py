"""One SGD step θ + αḡ: exact moments and the second-order expected change of J, against sampling.

The model is the short corridor of Sutton & Barto (2018), Example 13.1 (γ = 1, state-blind
log-linear policy, one parameter, π(right) = p = σ(θ)).  Its episodes have geometric length tails,
so the estimates have all moments but heavy tails (kurtosis 50–120): sample sizes are 10⁵ episodes.

Statistical tests use fixed seeds and a normal approximation; each comparison rejects at
|z| > 4.5, two-sided probability 6.8e-6 under the approximation.  With at most 15 such
comparisons in this file the probability of a false failure (for some seed) is below 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

import mdpgrad as mg
from mdpgrad.estimators import (
    SGDStep,
    baseline_estimator,
    critical_step_size,
    estimator_moments,
    reinforce_estimator,
    sgd_step,
    value_baseline,
)

Z = 4.5          # two-sided false-failure probability 6.8e-6 per comparison (normal approximation)
N = 100_000      # episodes per sample


def corridor() -> tuple[mg.MDP, mg.LogLinear]:
    phi = np.zeros((4, 2, 1))
    phi[:, 1, 0] = 1.0
    return mg.examples.short_corridor(), mg.LogLinear(phi)


def theta_of(p: float) -> np.ndarray:
    return np.array([np.log(p / (1.0 - p))])


def j_of_p(p: float) -> float:
    """Sutton & Barto (2018), Example 13.1: J(p) = 2(2 − p) / (p(p − 1))."""
    return 2.0 * (2.0 - p) / (p * (p - 1.0))


# -- the variance of REINFORCE on the corridor, exact vs 10⁵ sampled episodes -----------------------

@pytest.mark.parametrize("p", [0.2, 2.0 - np.sqrt(2.0), 0.8])
def test_corridor_variance_matches_sampling(p: float) -> None:
    mdp, pol = corridor()
    th = theta_of(p)
    J = j_of_p(p)
    assert mg.objective(mdp, pol, th) == pytest.approx(J, rel=1e-12)    # closed form, rounding only
    estimators = {"none": reinforce_estimator(), "v": baseline_estimator(value_baseline(mdp, pol, th)),
                  "constant J": baseline_estimator(J)}
    traj = mg.sample(mdp, pol.probabilities(th), N, rng=int(1000 * p))
    variances = {}
    for name, est in estimators.items():
        exact = estimator_moments(mdp, pol, th, est).covariance[0, 0]
        g = est.estimate(traj, pol, th)[:, 0]
        s2 = g.var(ddof=1)
        # Var[s²] = (μ₄ − σ⁴)/n + O(1/n²); μ₄ from the sample (plug-in), then a normal approximation.
        m4 = np.mean((g - g.mean()) ** 4)
        se = np.sqrt((m4 - s2 ** 2) / N)
        assert abs(s2 - exact) < Z * se, (name, p, s2, exact, se)
        variances[name] = exact
    # A baseline lowers the variance here by more than half (exact numbers, no tolerance needed).
    assert variances["v"] < 0.5 * variances["none"]
    assert variances["constant J"] < 0.5 * variances["none"]


def test_corridor_variance_test_can_fail() -> None:
    """The same test rejects a variance 10 % off: the sampled variance resolves about 1.5 %."""
    mdp, pol = corridor()
    th = theta_of(0.8)
    exact = estimator_moments(mdp, pol, th, reinforce_estimator()).covariance[0, 0]
    g = reinforce_estimator().estimate(mg.sample(mdp, pol.probabilities(th), N, rng=800), pol, th)[:, 0]
    s2 = g.var(ddof=1)
    se = np.sqrt((np.mean((g - g.mean()) ** 4) - s2 ** 2) / N)
    assert abs(s2 - exact) < Z * se
    assert abs(s2 - 1.1 * exact) > Z * se


# -- one step: moments, the quadratic's expectation, and the Taylor remainder ------------------------

def sampled_step(alpha: float, seed: int = 7) -> tuple[SGDStep, np.ndarray, float, np.ndarray]:
    mdp, pol = corridor()
    th = theta_of(0.8)
    est = reinforce_estimator()
    step = sgd_step(mdp, pol, th, est, alpha)
    g = est.estimate(mg.sample(mdp, pol.probabilities(th), N, rng=seed), pol, th)
    return step, g, float(mg.objective(mdp, pol, th)), th


def test_step_moments_match_sampled_steps() -> None:
    mdp, pol = corridor()
    th = theta_of(0.8)
    alpha, n = 0.01, 4
    step = sgd_step(mdp, pol, th, reinforce_estimator(), alpha, n_episodes=n)
    mom = estimator_moments(mdp, pol, th, reinforce_estimator())
    # Definitions: exact arithmetic on the moments, equal to rounding.
    np.testing.assert_allclose(step.mean, th + alpha * mom.mean, rtol=1e-14)
    np.testing.assert_allclose(step.covariance, alpha ** 2 * mom.covariance / n, rtol=1e-14)
    g = reinforce_estimator().estimate(mg.sample(mdp, pol.probabilities(th), N, rng=11), pol, th)
    steps = th + alpha * g.reshape(N // n, n, 1).mean(axis=1)              # 25,000 steps of n episodes
    m = steps.shape[0]
    d = steps[:, 0] - step.mean[0]
    assert abs(d.mean()) < Z * np.sqrt(step.covariance[0, 0] / m)
    s2 = steps[:, 0].var(ddof=1)
    se = np.sqrt((np.mean((steps[:, 0] - steps[:, 0].mean()) ** 4) - s2 ** 2) / m)
    assert abs(s2 - step.covariance[0, 0]) < Z * se


def test_expected_quadratic_matches_samples_and_needs_the_noise_term() -> None:
    """E[α gᵀĝ + (α²/2) ĝᵀHĝ] = α gᵀμ + (α²/2)(μᵀHμ + tr HΣ).

    The sample mean agrees; the formula without tr HΣ is rejected by the same test.
    """
    alpha = 0.002
    step, g, _, _ = sampled_step(alpha)
    q = alpha * g @ step.gradient + 0.5 * alpha ** 2 * np.einsum("ni,ij,nj->n", g, step.hessian, g)
    se = q.std(ddof=1) / np.sqrt(N)
    assert abs(q.mean() - step.expected_change) < Z * se
    mu = step.estimate_mean.ravel()
    without_noise = step.first_order + 0.5 * alpha ** 2 * float(mu @ step.hessian @ mu)
    assert abs(q.mean() - without_noise) > Z * se


@pytest.mark.slow
def test_second_order_change_matches_exact_expected_objective() -> None:
    """Mean of J(θ + αĝᵢ) over 10⁵ sampled estimates (each J exact) vs the second-order formula.

    The per-sample remainder Dᵢ = J(θ + αĝᵢ) − J(θ) − α gᵀĝᵢ − (α²/2) ĝᵢᵀHĝᵢ is measured at α and
    α/2 on the same episodes: a remainder of order α³ shrinks about 8-fold (observed 6–7.5 at these
    α, the α⁴ terms still present); a wrong second-order term would leave an α² part (ratio 4).
    The exact E[J(θ')] − J(θ) must agree with the formula within Z standard errors plus the
    measured remainder (itself within Z of its standard error), and the remainder must be under
    10 % of the second-order term (it is 6 % at α = 0.002), so that the formula is informative.
    """
    mdp, pol = corridor()
    remainders = []
    for alpha in (0.002, 0.001):
        step, g, J0, th = sampled_step(alpha)
        dJ = np.asarray(mg.objective(mdp, pol, th + alpha * g)) - J0
        q = alpha * g @ step.gradient + 0.5 * alpha ** 2 * np.einsum("ni,ij,nj->n", g, step.hessian, g)
        D = dJ - q
        se_dj = dJ.std(ddof=1) / np.sqrt(N)
        se_d = D.std(ddof=1) / np.sqrt(N)
        assert abs(dJ.mean() - step.expected_change) < Z * se_dj + abs(D.mean()) + Z * se_d
        assert abs(D.mean()) < 0.1 * abs(step.second_order)
        remainders.append(D.mean())
    ratio = remainders[0] / remainders[1]
    assert 5.0 < ratio < 12.0, ratio


# -- the critical step size --------------------------------------------------------------------------

def test_critical_step_size_is_where_the_quadratic_vanishes() -> None:
    mdp, pol = corridor()
    th = theta_of(0.8)
    step = sgd_step(mdp, pol, th, reinforce_estimator(), 0.001)
    a_c = step.critical_step_size
    # On the corridor at p = 0.8 REINFORCE is unbiased: slope = ‖∇J‖² = 49 (dJ/dθ = −7 there).
    assert step.slope == pytest.approx(49.0, rel=1e-10)                  # rounding of the solves
    assert 0.0 < a_c < np.inf
    assert step.change_at(a_c) == pytest.approx(0.0, abs=1e-12)         # −2s/c·s + 2s²/c = 0 in rounding
    assert step.change_at(a_c * (1 - 1e-6)) > 0.0 > step.change_at(a_c * (1 + 1e-6))
    # More episodes per step shrink the noise term, so the critical step grows.
    assert sgd_step(mdp, pol, th, reinforce_estimator(), 0.001, n_episodes=10).critical_step_size > a_c


def test_curvature_definition() -> None:
    mdp, pol = corridor()
    th = theta_of(0.3)
    mom = estimator_moments(mdp, pol, th, reinforce_estimator())
    H = np.asarray(mg.policy_hessian(mdp, pol, th)).reshape(1, 1)
    for n in (1, 3):
        step = sgd_step(mdp, pol, th, reinforce_estimator(), 0.01, n_episodes=n)
        c = mom.mean[0] ** 2 * H[0, 0] + H[0, 0] * mom.covariance[0, 0] / n
        assert step.curvature == pytest.approx(c, rel=1e-12)            # same products, reordered
        assert step.second_order == pytest.approx(0.5 * 0.01 ** 2 * c, rel=1e-12)
        assert step.expected_change == step.first_order + step.second_order


@pytest.mark.parametrize(("slope", "curv", "expected"), [
    (1.0, -4.0, 0.5),
    (1.0, -1e-300, 2e300),
    (1.0, 0.0, np.inf),
    (1.0, 1e-300, np.inf),
    (1e-300, 0.0, np.inf),
    (0.0, 1e-300, np.inf),
    (0.0, 0.0, 0.0),
    (0.0, -1.0, 0.0),
    (-1e-300, 5.0, 0.0),
    (-1.0, -1.0, 0.0),
])
def test_critical_step_size_cases(slope: float, curv: float, expected: float) -> None:
    assert critical_step_size(slope, curv) == pytest.approx(expected, rel=1e-15)     # one division's rounding


# -- validation --------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [0.0, -1e-300, -1.0, np.nan, np.inf, True, "0.1", 1j])
def test_bad_step_size(bad: object) -> None:
    mdp, pol = corridor()
    with pytest.raises(mg.ValidationError) as err:
        sgd_step(mdp, pol, theta_of(0.5), reinforce_estimator(), bad)  # type: ignore[arg-type]
    assert err.value.argument == "step_size"


def test_smallest_step_size_accepted() -> None:
    mdp, pol = corridor()
    step = sgd_step(mdp, pol, theta_of(0.8), reinforce_estimator(), 5e-324)
    assert step.critical_step_size > 0.0


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_n_episodes(bad: object) -> None:
    mdp, pol = corridor()
    with pytest.raises(mg.ValidationError) as err:
        sgd_step(mdp, pol, theta_of(0.5), reinforce_estimator(), 0.1, n_episodes=bad)  # type: ignore[arg-type]
    assert err.value.argument == "n_episodes"
    assert sgd_step(mdp, pol, theta_of(0.5), reinforce_estimator(), 0.1, n_episodes=1).n_episodes == 1


def test_bad_estimator_theta_and_change_at() -> None:
    mdp, pol = corridor()
    with pytest.raises(mg.ValidationError) as err:
        sgd_step(mdp, pol, theta_of(0.5), "reinforce", 0.1)  # type: ignore[arg-type]
    assert err.value.argument == "estimator"
    with pytest.raises(mg.ValidationError) as err:
        sgd_step(mdp, pol, np.zeros(2), reinforce_estimator(), 0.1)
    assert err.value.argument == "theta"
    step = sgd_step(mdp, pol, theta_of(0.5), reinforce_estimator(), 0.1)
    assert step.change_at(0.0) == 0.0
    with pytest.raises(mg.ValidationError) as err:
        step.change_at(-1e-300)
    assert err.value.argument == "step_size"
    with pytest.raises(mg.ValidationError) as err:
        critical_step_size(float("nan"), 1.0)
    assert err.value.argument == "slope"


# -- the exact expected change, by enumerating every episode under a horizon -----------------------------

def _exact_change(theta: np.ndarray, alpha: float, H: int = 5) -> float:
    """E[J(θ + αĝ)] − J(θ) for one REINFORCE episode under horizon H: every episode with its probability."""
    mdp, pol = mg.get_example("two-state"), mg.TabularSoftmax(2, 2)
    pi = pol.probabilities(theta)
    J0 = mg.objective(mdp, pol, theta)
    total = 0.0
    stack = [(s0, 0, float(mdp.rho0[s0]), (), ()) for s0 in range(2) if mdp.rho0[s0] > 0]
    while stack:
        s, t, p, ss, aa = stack.pop()
        if t == H:
            r = np.array([mdp.r[x, a] for x, a in zip(ss, aa, strict=True)])
            W = np.zeros((2, 2))
            for k in range(H):                              # γᵏ Gₖ, Gₖ the truncated return from k
                W[ss[k], aa[k]] += mdp.gamma ** k * np.sum(mdp.gamma ** np.arange(H - k) * r[k:])
            g = pol.log_prob_vjp(theta, W)
            total += p * (mg.objective(mdp, pol, theta + alpha * g) - J0)
            continue
        for a in range(2):
            for s2 in range(2):
                q = pi[s, a] * mdp.P[s, a, s2]
                if q > 0:
                    stack.append((s2, t + 1, p * q, ss + (s,), aa + (a,)))
    return total


def test_critical_step_size_is_the_root_of_the_model_not_of_the_exact_change() -> None:
    mdp, pol = mg.get_example("two-state"), mg.TabularSoftmax(2, 2)
    theta = np.array([[1.0, 0.0], [0.0, 1.0]])
    step = sgd_step(mdp, pol, theta, reinforce_estimator(), 0.1, protocol="horizon", horizon=5)
    a_c = step.critical_step_size
    assert abs(a_c - 1.159009) <= 1e-5
    # small steps: the second-order model is the exact change up to O(α³): relative 1.1e-3 at α_c/100
    # (measured 1.06e-3), and halving α divides the remainder by ≈ 2³ = 8 (measured band 6–10)
    small = a_c / 100
    rem = _exact_change(theta, small) - step.change_at(small)
    rem_half = _exact_change(theta, small / 2) - step.change_at(small / 2)
    assert abs(rem) <= 2e-3 * abs(step.change_at(small))
    assert 6.0 <= rem / rem_half <= 10.0
    # at α_c the model says 0 and the exact expected change is +1.418: α_c is not the exact critical step
    assert abs(step.change_at(a_c)) <= 1e-12
    assert abs(_exact_change(theta, a_c) - 1.41846) <= 1e-4
