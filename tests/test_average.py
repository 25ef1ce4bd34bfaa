"""The average-reward criterion: gain, bias, differential q, stationary distribution, unichain check.

Known numbers on hand-solved chains; identities between independent computations (the Poisson
equation, the limits of the discounted values, the Laurent series of Puterman 1994, Theorem 8.2.3,
the deviation matrix); random models; the multichain refusal and bad inputs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _models import random_mdp, random_pi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mdpgrad as mg
from mdpgrad import MDP, MultichainPolicyError, ValidationError, average_reward

#: The quantities are computed by one LU solve on chains of a few states: rounding leaves ≈ 1e-15;
#: 1e-12 leaves room for the condition of the small random chains (κ ≲ 1e2) and fails any wrong formula.
TOL = 1e-12


def _two_state() -> MDP:
    """P = [[0.9, 0.1], [0.3, 0.7]], r = (1, 0), one action."""
    return MDP(np.array([[[0.9, 0.1]], [[0.3, 0.7]]]), [[1.0], [0.0]], gamma=0.5)


def test_two_state_chain_by_hand():
    """d = (¾, ¼), ρ = ¾; Poisson: 0.1(h0 − h1) = ¼ and ¾h0 + ¼h1 = 0 give h = (5/8, −15/8)."""
    ar = average_reward(_two_state(), np.ones((2, 1)))
    assert ar.stationary == pytest.approx([0.75, 0.25], abs=TOL)
    assert ar.gain == pytest.approx(0.75, abs=TOL)
    assert ar.bias == pytest.approx([0.625, -1.875], abs=TOL)
    assert ar.q[:, 0] == pytest.approx(ar.bias, abs=TOL)
    assert ar.advantage == pytest.approx(np.zeros((2, 1)), abs=TOL)
    assert str(ar).startswith("AverageReward: gain = 0.75")
    assert ar.error.digits > 12


def test_periodic_chain_is_accepted():
    """The 2-cycle is periodic (P^t does not converge) but unichain: ρ = ½, h = (¼, −¼)."""
    mdp = MDP(np.array([[[0.0, 1.0]], [[1.0, 0.0]]]), [[1.0], [0.0]], gamma=0.9)
    ar = average_reward(mdp, np.ones((2, 1)))
    assert ar.gain == pytest.approx(0.5, abs=TOL) and ar.bias == pytest.approx([0.25, -0.25], abs=TOL)


def test_differential_q_by_hand():
    """Two actions in a 2-cycle-or-stay model: q̃(s, a) = r(s, a) − ρ + Σ P h, computed by hand."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[1, 0, 1] = 1.0       # action 0 stays
    P[0, 1, 1] = P[1, 1, 0] = 1.0       # action 1 moves
    r = np.array([[2.0, 0.0], [0.0, 1.0]])
    pi = np.array([[0.5, 0.5], [0.0, 1.0]])
    ar = average_reward(MDP(P, r, gamma=0.5), pi)
    # chain: 0 → 0 or 1 (½ each), 1 → 0; d = (2/3, 1/3); r^π = (1, 1) → ρ = 1, h = 0
    assert ar.gain == pytest.approx(1.0, abs=TOL)
    assert ar.bias == pytest.approx([0.0, 0.0], abs=TOL)
    assert ar.q == pytest.approx(r - 1.0, abs=TOL)


def _random_case(seed: int, sparse: bool = False):
    mdp = random_mdp(seed, n_states=5, n_actions=3, support=0.6, sparse=sparse)
    return mdp, random_pi(seed, 5, 3)


@pytest.mark.parametrize("seed", range(8))
def test_poisson_equation_and_normalisation(seed):
    mdp, pi = _random_case(seed)
    try:
        ar = average_reward(mdp, pi)
    except MultichainPolicyError:
        pytest.fail("a policy with full support on these models is unichain")
    P_pi, r_pi = ar.P_pi, ar.r_pi
    assert ar.stationary @ P_pi == pytest.approx(ar.stationary, abs=TOL)
    assert ar.gain == pytest.approx(float(ar.stationary @ r_pi), abs=TOL)
    assert ar.bias == pytest.approx(r_pi - ar.gain + P_pi @ ar.bias, abs=TOL)
    assert abs(ar.stationary @ ar.bias) < TOL
    assert np.sum(pi * ar.q, axis=1) == pytest.approx(ar.bias, abs=TOL)
    assert ar.error.gain < 1e-11 and ar.error.bias < 1e-10          # GTH bound 8·S³ε ≈ 2e-13 on d


@pytest.mark.parametrize("seed", range(4))
def test_dense_equals_sparse(seed):
    mdp, pi = _random_case(seed)
    mdp_s, _ = _random_case(seed, sparse=True)
    a, b = average_reward(mdp, pi), average_reward(mdp_s, pi)
    assert a.gain == pytest.approx(b.gain, abs=TOL)
    assert a.bias == pytest.approx(b.bias, abs=TOL) and a.q == pytest.approx(b.q, abs=TOL)


@pytest.mark.parametrize("seed", range(4))
def test_bias_is_the_deviation_matrix_times_r(seed):
    """h = H r^π with H = (I − P + 1dᵀ)⁻¹ − 1dᵀ (Puterman 1994, §8.2.1), formed by an explicit inverse."""
    mdp, pi = _random_case(seed)
    ar = average_reward(mdp, pi)
    S = mdp.n_states
    Pstar = np.outer(np.ones(S), ar.stationary)
    H = np.linalg.inv(np.eye(S) - ar.P_pi + Pstar) - Pstar
    assert ar.bias == pytest.approx(H @ ar.r_pi, abs=TOL)
    assert float(np.max(np.abs(ar.bias - H @ ar.r_pi))) <= ar.error.bias      # the estimate bounds the error


@pytest.mark.parametrize("seed", range(4))
def test_discounted_limits_with_rate_one(seed):
    """(1 − γ)J_γ → ρ and v_γ − ρ/(1 − γ) → h, the error O(1 − γ): the log-log slope over
    γ = 1 − 10⁻ᵏ is 1 (Puterman 1994, Corollary 8.2.4)."""
    mdp, pi = _random_case(seed)
    ar = average_reward(mdp, pi)
    ks = np.arange(1, 6)
    gaps_h, gaps_J = [], []
    for k in ks:
        gamma = 1.0 - 10.0 ** -k
        ev = mg.evaluate(mdp.replace(gamma=gamma), pi)
        gaps_J.append(abs((1 - gamma) * float(ev.J) - ar.gain))
        gaps_h.append(float(np.max(np.abs(ev.v - ar.gain / (1 - gamma) - ar.bias))))
    slope_h = np.polyfit(-ks, np.log10(gaps_h), 1)[0]
    slope_J = np.polyfit(-ks, np.log10(gaps_J), 1)[0]
    assert slope_h == pytest.approx(1.0, abs=0.05)
    assert slope_J == pytest.approx(1.0, abs=0.05)
    assert gaps_h[-1] < 1e-3 and gaps_J[-1] < 1e-4


@pytest.mark.parametrize("seed", range(3))
def test_laurent_series(seed):
    """v_γ = (1 + i)[ρ/i·1 + Σ_{n≥0} (−i)ⁿ Hⁿ⁺¹ r^π], i = (1 − γ)/γ (Puterman 1994, Theorem 8.2.3),
    summed to convergence at γ = 0.99 with H the deviation matrix; y₀ = H r^π is the bias."""
    mdp, pi = _random_case(seed)
    ar = average_reward(mdp, pi)
    S = mdp.n_states
    Pstar = np.outer(np.ones(S), ar.stationary)
    H = np.linalg.inv(np.eye(S) - ar.P_pi + Pstar) - Pstar
    gamma = 0.99
    i = (1 - gamma) / gamma
    series, term = np.zeros(S), H @ ar.r_pi
    for n in range(60):                          # ‖iH‖ < 0.1 on these chains: 60 terms reach rounding
        series += (-i) ** n * term
        term = H @ term
    laurent = (1 + i) * (ar.gain / i + series)
    v = mg.evaluate(mdp.replace(gamma=gamma), pi).v
    assert v == pytest.approx(laurent, rel=1e-11, abs=1e-11)
    # the first-order coefficient: (v − ρ/(1−γ) − (1+i)h)/i → −H²r^π as γ → 1
    gamma = 1 - 1e-4
    i = (1 - gamma) / gamma
    v = mg.evaluate(mdp.replace(gamma=gamma), pi).v
    first = (v - ar.gain / (1 - gamma) - (1 + i) * ar.bias) / i
    assert first == pytest.approx(-H @ H @ ar.r_pi, abs=1e-3)


def _branching(coupling: float) -> MDP:
    """State 1 moves to 0 or 2 (½ each); 0 is absorbing; 2 returns to 0 with probability ``coupling``."""
    P = np.array([[[1.0, 0.0, 0.0]], [[0.5, 0.0, 0.5]], [[coupling, 0.0, 1.0 - coupling]]])
    return MDP(P, [[1.0], [0.0], [2.0]], gamma=0.9)


def test_multichain_is_refused_naming_the_classes():
    with pytest.raises(MultichainPolicyError, match=r"2 recurrent classes \(\{0\}, \{2\}\)") as info:
        average_reward(_branching(0.0), np.ones((3, 1)))
    assert isinstance(info.value, ValidationError) and info.value.argument == "pi"
    assert info.value.value == ((0,), (2,))


def test_unichain_just_inside_the_combinatorial_boundary():
    """The check reads edges exactly: a coupling of 1e-3 makes one class ({0}); ρ = r(0) = 1."""
    ar = average_reward(_branching(1e-3), np.ones((3, 1)))
    assert ar.recurrent.tolist() == [0] and ar.gain == pytest.approx(1.0, abs=TOL)
    assert ar.stationary == pytest.approx([1.0, 0.0, 0.0], abs=TOL)


def test_stationary_distribution_names_the_classes():
    with pytest.raises(MultichainPolicyError, match=r"\{0\}, \{1\}"):
        mg.stationary_distribution(np.eye(2))


def _weakly_coupled(eps: float) -> MDP:
    """Two states that swap with probability eps: h = ±(r0 − r1)/(4 eps), ‖B⁻¹‖∞ ≈ 1/eps."""
    P = np.array([[[1 - eps, eps]], [[eps, 1 - eps]]])
    return MDP(P, [[1.0], [0.0]], gamma=0.5)


def test_accuracy_refuses_warns_or_ignores_a_nearly_multichain_chain():
    """The estimate of h is ≈ κ·ε·|h| with κ = ‖B⁻¹‖∞ ≈ 1/eps: eps = 1e-13 leaves a relative 1e-2
    (refused), eps = 1e-6 about 1e-8 (kept)."""
    good = average_reward(_weakly_coupled(1e-6), np.ones((2, 1)))
    assert good.bias == pytest.approx([0.25e6, -0.25e6], rel=1e-8)
    with pytest.raises(mg.InaccurateResultError, match="bias"):
        average_reward(_weakly_coupled(1e-13), np.ones((2, 1)))
    with pytest.warns(mg.InaccurateResultWarning):
        average_reward(_weakly_coupled(1e-13), np.ones((2, 1)), accuracy="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ar = average_reward(_weakly_coupled(1e-13), np.ones((2, 1)), accuracy="ignore")
    assert ar.gain == pytest.approx(0.5, abs=1e-12) and ar.error.digits < 6


def test_terminal_state_is_an_absorbing_class_with_gain_zero():
    mdp = random_mdp(3, n_states=3, n_actions=2, episodic=True, p_end=0.2)
    ar = average_reward(mdp, random_pi(3, 4, 2))
    assert ar.gain == pytest.approx(0.0, abs=TOL) and ar.recurrent.tolist() == [3]


def test_arrays_are_read_only():
    ar = average_reward(_two_state(), np.ones((2, 1)))
    with pytest.raises(ValueError):
        ar.bias[0] = 1.0


@pytest.mark.parametrize("pi, match", [
    (np.ones((3, 1)), "shape"),
    (np.ones((2, 2, 1)), "one table"),
    (np.array([[0.5], [1.0]]), "sums to"),
    (np.array([[np.nan], [1.0]]), "pi"),
    ("uniform", "pi"),
])
def test_bad_policies(pi, match):
    with pytest.raises(ValidationError, match=match):
        average_reward(_two_state(), pi)


def test_bad_accuracy_and_model():
    with pytest.raises(ValidationError, match="accuracy"):
        average_reward(_two_state(), np.ones((2, 1)), accuracy="sometimes")
    with pytest.raises(ValidationError, match="mdp"):
        average_reward(None, np.ones((2, 1)))  # type: ignore[arg-type]


def test_sparse_chain_stays_sparse():
    mdp = random_mdp(1, n_states=6, n_actions=2, sparse=True, support=0.5, mix=0.1)
    ar = average_reward(mdp, random_pi(1, 6, 2))
    assert sp.issparse(ar.P_pi)
    assert ar.bias == pytest.approx(ar.r_pi - ar.gain + ar.P_pi @ ar.bias, abs=TOL)


def test_results_print_one_or_two_short_lines():
    """As every result type: the class name first, at most two lines of at most 240 characters."""
    ar = average_reward(_two_state(), np.ones((2, 1)))
    opt = mg.relative_value_iteration(random_mdp(0, n_states=3, n_actions=2, mix=0.1))
    for obj, cls in ((ar, "AverageReward"), (ar.error, "AverageRewardError"), (opt, "AverageOptimum")):
        text = str(obj)
        assert text.startswith(f"{cls}: ") and len(text) <= 240 and text.count("\n") <= 1


#: A refusal as nearly multichain must come with a transition of P^π below this.  The generated
#: models' transitions are ratios of small integers and S ≤ 4, so only a policy's extreme
#: probabilities (2⁻²⁴, 1e-180, ... from the strategy) couple a chain weakly enough that fewer than
#: six digits survive; at 1e-6 the bias and ‖B⁻¹‖ are at most ~1e6·(S − 1), leaving about 10 digits.
WEAK_COUPLING = 1e-6


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_property_unichain_or_refused(data):
    """Over generated models and policies: either P^π has one recurrent class and the Poisson
    equation, d·h = 0 and Σ_a π q̃ = h hold, or average_reward refuses naming exactly the classes
    of :func:`recurrent_classes`."""
    from mdpgrad._chains import chain_and_reward, recurrent_classes

    mdp = data.draw(mg.strategies.mdps(max_states=4, episodic=st.booleans(), integer_weights=True))
    pi = data.draw(mg.strategies.policies(mdp.n_states, mdp.n_actions))
    classes = recurrent_classes(chain_and_reward(mdp, pi)[0])
    if len(classes) > 1:
        with pytest.raises(MultichainPolicyError) as info:
            average_reward(mdp, pi)
        assert info.value.value == tuple(tuple(int(s) for s in c) for c in classes)
        return
    P_pi = chain_and_reward(mdp, pi)[0]
    P_pi = P_pi.toarray() if sp.issparse(P_pi) else np.asarray(P_pi)
    try:
        ar = average_reward(mdp, pi)
    except mg.InaccurateResultError:
        # refused only when some transition of P^π is below WEAK_COUPLING: a nearly multichain chain
        assert P_pi[P_pi > 0].min() < WEAK_COUPLING
        return
    # each identity within the stated errors plus the rounding of evaluating it (S terms of size ≤ m)
    S, eps, err = mdp.n_states, np.finfo(float).eps, ar.error
    m = max(np.abs(ar.r_pi).max(), abs(ar.gain), np.abs(ar.bias).max(), np.abs(ar.q).max())
    rounding = 4 * S * eps * m
    poisson = ar.r_pi - ar.gain + P_pi @ ar.bias - ar.bias
    assert np.abs(poisson).max() <= err.gain + 2 * err.bias + rounding
    assert abs(ar.stationary @ ar.bias) <= err.stationary * np.abs(ar.bias).max() + err.bias + rounding
    assert np.abs(np.sum(pi * ar.q, axis=1) - ar.bias).max() <= err.q + err.bias + rounding


def test_accuracy_rule_is_the_stated_threshold():
    """Refused exactly when an estimated relative error exceeds 10⁻⁶ (ACCURACY_MIN_DIGITS = 6):
    the estimate of h is ≈ κ·ε·|h| with κ ≈ 1/eps, so couplings from 1e-6 to 1e-9 put it on both
    sides of the line (between 1e-7 and 1e-8)."""
    from mdpgrad._linalg import ACCURACY_MIN_DIGITS

    sides = set()
    for eps in (1e-6, 1e-7, 1e-8, 1e-9):
        ar = average_reward(_weakly_coupled(eps), np.ones((2, 1)), accuracy="ignore")
        scale = max(float(np.max(np.abs(ar.bias))), 1.0)           # the spread of r is 1
        worst = max(ar.error.bias, ar.error.q + ar.error.bias) / scale
        refused = worst > 10.0 ** -ACCURACY_MIN_DIGITS
        sides.add(refused)
        if refused:
            with pytest.raises(mg.InaccurateResultError):
                average_reward(_weakly_coupled(eps), np.ones((2, 1)))
        else:
            average_reward(_weakly_coupled(eps), np.ones((2, 1)))
    assert sides == {True, False}


def test_a_constant_reward_has_zero_bias_and_is_never_refused():
    from mdpgrad._chains import chain_and_reward

    # r ≡ 1: r^π = 1 up to the rounding of Σ_a π r, so h = 0 and q̃ = 0 exactly; the computed h is
    # rounding noise (~1e-16), which a relative test against max|h| would call 0 digits
    P = np.array([[[2 / 3, 1 / 3, 0.0]] * 3, [[1 / 3, 2 / 3, 0.0]] * 3, [[0.0, 0.5, 0.5]] * 3])
    mdp = MDP(P, np.ones((3, 3)), gamma=0.0)
    pi = np.array([[0.7, 0.2, 0.1], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    assert np.ptp(chain_and_reward(mdp, pi)[1]) > 0       # 0.7 + 0.2 + 0.1 rounds to 1 − ε/2
    ar = average_reward(mdp, pi)
    assert abs(ar.gain - 1.0) <= ar.error.gain
    assert np.abs(ar.bias).max() <= ar.error.bias
    assert np.abs(ar.advantage).max() <= ar.error.q + ar.error.bias


@pytest.mark.parametrize("k, refused", [(8, False), (9, True)])
def test_a_reward_spread_counts_as_constant_up_to_twice_its_rounding(k, refused):
    # deterministic π: r^π = r exactly, with spread kε on r_max = 1 + kε.  The threshold is
    # 2·rounding_unit(A)·r_max = 8ε(1 + kε): k = 8 is below it (h = 0 up to rounding, judged against an
    # infinite scale), k = 9 above (h ≈ 1.5·9ε is judged relative to itself and has no digits left)
    eps = np.finfo(float).eps
    P = np.array([[[2 / 3, 1 / 3], [2 / 3, 1 / 3]], [[1 / 3, 2 / 3], [1 / 3, 2 / 3]]])
    mdp = MDP(P, np.array([[1.0, 0.0], [1.0 + k * eps, 0.0]]), gamma=0.0)
    pi = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert mdp.r[1, 0] - mdp.r[0, 0] == k * eps
    if refused:
        with pytest.raises(mg.InaccurateResultError, match="the bias"):
            average_reward(mdp, pi)
    else:
        ar = average_reward(mdp, pi)
        assert np.abs(ar.bias).max() <= ar.error.bias
