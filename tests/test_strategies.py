"""Tests of mdpgrad.strategies, and the core identities over the MDPs they generate.

Tiers: shrinking (``hypothesis.find`` reaches the tiny deterministic MDPs the
module promises), validity by construction, bad arguments raising
InvalidArgument, and property tests of the Bellman equation and the occupancy
identities (v = Σ π q, J = ρ₀·v = Σ η π r, Σ η = 1/(1−γ), dense = sparse), plus a few
identities of other parts driven by the same strategies: exact rational
evaluation (integer weights) against floats, the policy gradient theorem
against its recursion form, and the γᵗ-less update against ∇J when γ = 1.
"""

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from mdpgrad import (
    MDP,
    Direct,
    LogLinear,
    TabularSoftmax,
    evaluate,
    expected_update_without_discount,
    greedy_policy,
    policy_gradient,
    uniform_policy,
)
from mdpgrad._linalg import ACCURACY_MIN_DIGITS
from mdpgrad.gradients import recursion_gradient
from mdpgrad.strategies import (
    INTEGER_WEIGHT_MAX,
    REWARD_GRID,
    as_fractions,
    max_continuing_gamma,
    mdps,
    policies,
    thetas,
)

#: Relative tolerance of identities between two float computations of one
#: quantity: LU solves of I − γP̃^π on ≤ 5 states have backward error ≈ cond·ε
#: with cond ≤ ~1e4 even for γ = 1 episodes (expected length ≤ 6⁴ steps), so
#: 1e-9 is far above rounding yet far below any real mistake.
RTOL = 1e-9

FIND_SETTINGS = settings(database=None, max_examples=2000)

episodic_mdps = mdps(episodic=st.just(True), gammas=st.floats(0.0, 1.0))
any_mdps = st.one_of(mdps(), episodic_mdps)


def _is_deterministic(mdp: MDP) -> bool:
    return bool(np.all(mdp.P_dense().max(axis=2) == 1.0))


def _scale(*arrays: np.ndarray) -> float:
    return max(1.0, *(float(np.max(np.abs(a))) for a in arrays))


@st.composite
def mdp_and_policy(draw, mdp_strategy=any_mdps):
    mdp = draw(mdp_strategy)
    pi = draw(policies(mdp.n_states, mdp.n_actions))
    return mdp, pi


# -- shrinking -----------------------------------------------------------------
def test_find_shrinks_continuing_to_one_state_self_loop():
    mdp = find(mdps(), lambda m: True, settings=FIND_SETTINGS)
    assert (mdp.n_states, mdp.n_actions) == (1, 1)
    assert mdp.P_dense().tolist() == [[[1.0]]]
    assert mdp.r.tolist() == [[0.0]] and mdp.gamma == 0.0 and not mdp.terminal.any()


def test_find_shrinks_episodic_to_two_state_chain():
    mdp = find(mdps(episodic=st.just(True)), lambda m: True, settings=FIND_SETTINGS)
    assert (mdp.n_states, mdp.n_actions) == (2, 1)
    assert mdp.P_dense().tolist() == [[[0.0, 1.0]], [[0.0, 1.0]]]
    assert mdp.terminal.tolist() == [False, True]
    assert mdp.rho0.tolist() == [1.0, 0.0]


def test_find_shrinks_larger_requests_to_deterministic_mdps():
    mdp = find(mdps(), lambda m: m.n_states >= 3 and m.n_actions >= 2, settings=FIND_SETTINGS)
    assert (mdp.n_states, mdp.n_actions) == (3, 2)
    assert _is_deterministic(mdp)
    ep = find(mdps(episodic=st.just(True)), lambda m: m.n_states >= 4 and m.is_sparse,
              settings=FIND_SETTINGS)
    assert ep.n_states == 4 and ep.n_actions == 1 and _is_deterministic(ep)
    # the simplest episodic chain moves one state forward: 0 → 1 → 2 → 3 (terminal)
    assert [int(np.argmax(ep.P_dense()[s, 0])) for s in range(4)] == [1, 2, 3, 3]


def test_find_reaches_a_stochastic_mdp_only_when_asked():
    mdp = find(mdps(), lambda m: not _is_deterministic(m), settings=FIND_SETTINGS)
    assert mdp.n_states == 2 and mdp.n_actions == 1


def test_find_shrinks_policies_and_thetas_to_simplest():
    assert find(policies(2, 2), lambda pi: True).tolist() == [[1.0, 0.0], [1.0, 0.0]]
    assert find(thetas(LogLinear(np.ones((2, 2, 3)))), lambda th: True).tolist() == [0.0, 0.0, 0.0]


# -- valid by construction -------------------------------------------------------
@given(mdps(integer_weights=True, max_states=4, episodic=st.booleans(), sparse=st.just(False)))
@settings(max_examples=30)
def test_integer_weights_give_exact_rational_mdps(mdp):
    S = mdp.n_states
    P = as_fractions(mdp.P_dense(), 1 + INTEGER_WEIGHT_MAX * S)
    rho0 = as_fractions(mdp.rho0, 1 + INTEGER_WEIGHT_MAX * S)
    assert all(sum(row, Fraction(0)) == 1 for row in P.reshape(-1, S))
    assert sum(rho0, Fraction(0)) == 1
    assert np.all(mdp.r == np.round(mdp.r))
    assert Fraction(mdp.gamma).limit_denominator(20) * 20 == round(mdp.gamma * 20)
    # the MDP checks exact input exactly: rebuilding from Fractions is accepted and equal
    exact = MDP(P, mdp.r, mdp.gamma, rho0=rho0, terminal=mdp.terminal)
    assert np.array_equal(exact.P_dense(), mdp.P_dense())


@given(episodic_mdps.flatmap(lambda m: st.tuples(st.just(m), policies(m.n_states, m.n_actions))))
@settings(max_examples=40)
def test_episodic_mdps_terminate_under_every_policy(pair):
    mdp, pi = pair
    # γ = 1 evaluation raises NonTerminatingPolicyError unless every state reaches the terminal state;
    # drawn policies include deterministic ones, the hardest case
    ev = evaluate(mdp.replace(gamma=1.0), pi)
    assert np.all(np.isfinite(ev.v)) and ev.eta[mdp.terminal].sum() == 0.0
    assert mdp.terminal.tolist() == [False] * (mdp.n_states - 1) + [True]
    assert mdp.rho0[-1] == 0.0
    # the documented mechanism: every action moves forward with probability ≥ p_min = 1/(1 + S)
    P, S = mdp.P_dense(), mdp.n_states
    forward = np.array([[P[s, a, s + 1:].sum() for a in range(mdp.n_actions)] for s in range(S - 1)])
    assert forward.min() >= 1 / (1 + S) - RTOL


@given(st.integers(1, 4), st.integers(1, 4), st.booleans(), st.booleans(), st.data())
@settings(max_examples=30)
def test_policies_are_row_stochastic(S, A, strictly_positive, integer_weights, data):
    pi = data.draw(policies(S, A, strictly_positive=strictly_positive, integer_weights=integer_weights))
    assert pi.shape == (S, A)
    assert np.all(pi >= 0) and np.allclose(pi.sum(axis=1), 1.0, rtol=0, atol=1e-15 * A)
    if strictly_positive:
        bound = 1 / (1 + INTEGER_WEIGHT_MAX * A) if integer_weights else 1 / (8 * (A + 1))
        assert pi.min() >= bound
    if integer_weights:
        exact = as_fractions(pi, 1 + INTEGER_WEIGHT_MAX * A)
        assert all(sum(row, Fraction(0)) == 1 for row in exact)


@given(st.data())
@settings(max_examples=20)
def test_thetas_have_the_policy_shape(data):
    phi = np.arange(12.0).reshape(2, 3, 2)
    for policy in (TabularSoftmax(2, 3), LogLinear(phi), Direct(2, 3)):
        theta = data.draw(thetas(policy, min_value=-1.0, max_value=2.0))
        assert theta.shape == policy.param_shape
        if isinstance(policy, Direct):
            assert np.all(theta > 0) and np.allclose(theta.sum(axis=1), 1.0)
        else:
            assert np.all((theta >= -1.0) & (theta <= 2.0))


# -- bad arguments ---------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: mdps(min_states=0),
    lambda: mdps(min_states=3, max_states=2),
    lambda: mdps(max_actions=0),
    lambda: mdps(min_states=1.5),
    lambda: mdps(gammas=0.9),
    lambda: mdps(sparse=True),
    lambda: mdps(episodic=False),
    lambda: mdps(rewards=1.0),
    lambda: mdps(integer_weights="yes"),
    lambda: policies(0, 2),
    lambda: policies(2, 2, strictly_positive=1),
    lambda: thetas(TabularSoftmax(2, 2), min_value=1.0, max_value=0.0),
    lambda: thetas(TabularSoftmax(2, 2), max_value=float("inf")),
    lambda: thetas(object()),
])
def test_bad_arguments_raise_invalid_argument(make):
    with pytest.raises(InvalidArgument):
        make()


@pytest.mark.parametrize("strategy", [
    mdps(max_states=1, episodic=st.just(True)),
    mdps(gammas=st.just(1.0), episodic=st.just(False)),
    mdps(gammas=st.just(1.5)),
])
def test_impossible_draws_raise_invalid_argument(strategy):
    with pytest.raises(InvalidArgument):
        find(strategy, lambda m: True, settings=settings(database=None, max_examples=5))


# -- the core identities over generated MDPs ---------------------------------------
@given(mdp_and_policy())
def test_bellman_equation_and_v_is_pi_weighted_q(pair):
    mdp, pi = pair
    ev = evaluate(mdp, pi)
    scale = _scale(ev.v, ev.q)
    assert ev.bellman_residual(mdp) <= RTOL * scale
    assert np.max(np.abs(ev.v - np.sum(pi * ev.q, axis=1))) <= RTOL * scale


@given(mdp_and_policy())
def test_objective_two_ways(pair):
    mdp, pi = pair
    ev = evaluate(mdp, pi)
    J_occupancy = float(np.sum(ev.eta[:, None] * pi * mdp.r))
    assert abs(ev.J - float(mdp.rho0 @ ev.v)) <= RTOL * _scale(ev.v)
    assert abs(ev.J - J_occupancy) <= RTOL * _scale(ev.v, ev.eta)


@given(mdp_and_policy(mdps(episodic=st.just(False))))
def test_discounted_visits_sum_to_effective_horizon(pair):
    mdp, pi = pair
    eta = evaluate(mdp, pi).eta
    assert abs(eta.sum() - 1.0 / (1.0 - mdp.gamma)) <= RTOL / (1.0 - mdp.gamma)


@given(mdp_and_policy(st.one_of(mdps(sparse=st.just(False)),
                                mdps(sparse=st.just(False), episodic=st.just(True),
                                     gammas=st.floats(0.0, 1.0)))))
def test_dense_equals_sparse(pair):
    mdp, pi = pair
    twin = mdp.replace(P=sp.csr_array(mdp.P_flat))
    assert twin.is_sparse and not mdp.is_sparse
    dense, sparse = evaluate(mdp, pi), evaluate(twin, pi)
    scale = _scale(dense.v, dense.q, dense.eta)
    for name in ("v", "q", "eta", "mu"):
        assert np.max(np.abs(getattr(dense, name) - getattr(sparse, name))) <= RTOL * scale, name
    assert abs(dense.J - sparse.J) <= RTOL * scale


# -- identities of other parts, driven by the strategies ------------------------------------
def _rationals(x, max_denominator):
    import sympy

    return [[sympy.Rational(f.numerator, f.denominator) for f in row]
            for row in as_fractions(x, max_denominator).reshape(-1, np.shape(x)[-1])]


@given(mdps(integer_weights=True, max_states=3, sparse=st.just(False), episodic=st.booleans()), st.data())
@settings(max_examples=10)
def test_integer_weight_mdps_evaluate_exactly_as_floats_do(mdp, data):
    import sympy

    from mdpgrad import symbolic as sy

    S, A = mdp.n_states, mdp.n_actions
    pi = data.draw(policies(S, A, integer_weights=True))
    P = np.array(_rationals(mdp.P_dense().reshape(S * A, S), 1 + INTEGER_WEIGHT_MAX * S),
                 dtype=object).reshape(S, A, S).tolist()
    exact = sy.MDP(P, [[sympy.Integer(int(x)) for x in row] for row in mdp.r],
                   sympy.Rational(round(mdp.gamma * 20), 20),
                   rho0=_rationals(mdp.rho0, 1 + INTEGER_WEIGHT_MAX * S)[0],
                   terminal=[bool(t) for t in mdp.terminal])
    ev_exact = sy.evaluate(exact, _rationals(pi, 1 + INTEGER_WEIGHT_MAX * A))
    ev = evaluate(mdp, pi)
    assert ev_exact.J.is_Rational
    assert abs(float(ev_exact.J) - ev.J) <= RTOL * _scale(ev.v)


@given(mdps(), st.data())
@settings(max_examples=30)
def test_policy_gradient_theorem_equals_recursion_form(mdp, data):
    policy = TabularSoftmax(mdp.n_states, mdp.n_actions)
    theta = data.draw(thetas(policy))
    g = policy_gradient(mdp, policy, theta)
    assert np.max(np.abs(g - recursion_gradient(mdp, policy, theta))) <= RTOL * _scale(g, evaluate(
        mdp, policy.probabilities(theta)).v)


@given(mdps(episodic=st.just(True), gammas=st.just(1.0)), st.data())
@settings(max_examples=30)
def test_update_without_discount_is_the_gradient_when_gamma_is_one(mdp, data):
    # γᵗ = 1 for every t, so dropping it changes nothing
    # (with γ = 1 the undiscounted visits η̃ are η; Nota & Thomas 2020)
    policy = TabularSoftmax(mdp.n_states, mdp.n_actions)
    theta = data.draw(thetas(policy))
    g = policy_gradient(mdp, policy, theta)
    scale = _scale(g, evaluate(mdp, policy.probabilities(theta)).v)
    assert np.max(np.abs(expected_update_without_discount(mdp, policy, theta) - g)) <= RTOL * scale


# -- the cap on γ: every generated continuing model evaluates at the default accuracy -------------

@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_models_at_the_gamma_cap_evaluate_and_differentiate_without_refusal(data):
    S = data.draw(st.integers(1, 5))
    gamma = max_continuing_gamma(S)
    mdp = data.draw(mdps(min_states=S, max_states=S, episodic=st.just(False), gammas=st.just(gamma)))
    A = mdp.n_actions
    pi = data.draw(st.one_of(st.just(uniform_policy(S, A)),
                             st.just(greedy_policy(np.eye(S, A))),
                             policies(S, A)))
    ev = evaluate(mdp, pi)                            # refuses below six digits
    assert ev.error is not None and ev.error.digits >= ACCURACY_MIN_DIGITS
    assert np.isfinite(policy_gradient(mdp, Direct(S, A), pi, evaluation=ev)).all()
    theta = data.draw(thetas(TabularSoftmax(S, A)))
    assert np.isfinite(policy_gradient(mdp, TabularSoftmax(S, A), theta)).all()


def test_the_gamma_cap_follows_from_the_accuracy_rule():
    # 1 − γ = √(16·u·REWARD_RATIO·10⁶), u = (S + 2)ε: for S = 2, √(16·4ε·1024·10⁶) ≈ 3.82e-3
    assert 1.0 - max_continuing_gamma(2) == pytest.approx(np.sqrt(16 * 4 * 2.0**-52 * 1024 * 1e6), rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(mdp=mdps())
def test_default_rewards_lie_on_the_grid(mdp):
    k = mdp.r * REWARD_GRID
    assert np.array_equal(k, np.round(k)) and np.abs(mdp.r).max() <= 1.0
