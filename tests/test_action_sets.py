"""Action sets on the model: the mask is validated, stored read-only and survives copies."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

import mdpgrad as mg


def _three_state():
    P = np.zeros((3, 2, 3))
    P[0, 0, 1] = P[0, 1, 2] = P[1, 0, 2] = 1.0
    P[2, :, 2] = 1.0
    r = np.array([[1.0, 2.0], [3.0, 0.0], [0.0, 0.0]])
    mask = np.array([[True, True], [True, False], [True, True]])
    return P, r, mask


def test_mask_is_stored_read_only_and_survives_pickle_and_replace():
    P, r, mask = _three_state()
    mdp = mg.MDP(P, r, 0.9, terminal=np.array([False, False, True]), actions=mask)
    assert mdp.has_action_sets
    assert "n_unavailable=1" in repr(mdp)
    for copy in (mdp, pickle.loads(pickle.dumps(mdp)), mdp.replace(gamma=0.5)):
        np.testing.assert_array_equal(copy.actions, mask)
        assert not copy.actions.flags.writeable
    assert not mg.MDP(P[:, :1], r[:, :1], 0.9).has_action_sets


def test_zero_row_is_refused_for_an_available_action_and_accepted_for_an_unavailable_one():
    P, r, mask = _three_state()
    with pytest.raises(mg.ValidationError, match=r"P\[1, 1, :\] sums to 0") as info:
        mg.MDP(P, r, 0.9)
    assert info.value.index == (1, 1)
    mg.MDP(P, r, 0.9, actions=mask)
    P[1, 1, 0] = 0.5             # half a row is neither a distribution nor absent
    with pytest.raises(mg.ValidationError, match=r"P\[1, 1, :\] sums to 0.5"):
        mg.MDP(P, r, 0.9, actions=mask)


def test_malformed_masks_are_refused_naming_the_state():
    P, r, mask = _three_state()
    mask[1] = False
    with pytest.raises(mg.ValidationError, match="state 1 has no available action") as info:
        mg.MDP(P, r, 0.9, actions=mask)
    assert info.value.argument == "actions"
    with pytest.raises(mg.ValidationError, match="expected a bool array of shape"):
        mg.MDP(P, r, 0.9, actions=np.ones((3, 3), dtype=bool))
    with pytest.raises(mg.ValidationError, match="expected a bool array"):
        mg.MDP(P, r, 0.9, actions=np.ones((3, 2)))


def test_exact_rows_of_unavailable_actions_may_be_zero():
    from fractions import Fraction
    P, r, mask = _three_state()
    exact = np.array([[[Fraction(int(x)) for x in row] for row in state] for state in P], dtype=object)
    mg.MDP(exact, r, 0.9, actions=mask)
    with pytest.raises(mg.ValidationError, match=r"P\[1, 1, :\] sums to 0 exactly"):
        mg.MDP(exact, r, 0.9)


# ---------------------------------------------------------------------------
# a masked model against the same model with the unavailable actions deleted
# ---------------------------------------------------------------------------
#: Available actions of the 4 × 3 model below: two per state, a different pair in each
#: state, so the model without the others is a 4 × 2 model with actions renumbered per state.
AVAILABLE = ((0, 1), (0, 2), (1, 2), (0, 1))


def _masked_and_deleted(seed=0, sparse=False):
    """(masked 4×3 model, 4×2 model built by hand without the unavailable actions).

    The unavailable rows are traps: a distribution with a large reward, an all-zero row, another
    distribution; the terminal state 3's unavailable action has a zero row and a reward.
    """
    rng = np.random.default_rng(seed)
    S, A = 4, 3
    P = np.zeros((S, A, S))
    r = rng.standard_normal((S, A))
    for s in range(3):
        for a in AVAILABLE[s]:
            P[s, a, :] = rng.dirichlet(np.ones(S))
    P[3, :2, 3] = 1.0
    r[3, :2] = 0.0
    P[0, 2, :] = [0.0, 0.0, 1.0, 0.0]                   # trap: a valid row paying 100
    r[0, 2] = 100.0
    r[1, 1] = -50.0                                     # P[1, 1] stays all zero
    P[2, 0, :] = [1.0, 0.0, 0.0, 0.0]
    r[2, 0] = 30.0
    r[3, 2] = 7.0                                       # P[3, 2] all zero, the terminal pays nothing
    mask = np.zeros((S, A), dtype=bool)
    for s, acts in enumerate(AVAILABLE):
        mask[s, list(acts)] = True
    terminal = np.array([False, False, False, True])
    rho0 = np.array([0.5, 0.3, 0.2, 0.0])
    Pm = sp.csr_array(P.reshape(S * A, S)) if sparse else P
    masked = mg.MDP(Pm, r, 0.9, rho0=rho0, terminal=terminal, actions=mask)
    idx = np.array(AVAILABLE)
    small = mg.MDP(P[np.arange(S)[:, None], idx], r[np.arange(S)[:, None], idx], 0.9, rho0=rho0,
                   terminal=terminal)
    return masked, small, mask, idx


def _restrict(x, idx):
    """x[s, a] over the available actions, renumbered: shape (S, 2)."""
    return np.asarray(x)[np.arange(len(idx))[:, None], idx]


def _expand(x_small, idx, A=3):
    """A (S, 2) table of the small model back to (S, A), 0 on the unavailable actions."""
    out = np.zeros((len(idx), A))
    out[np.arange(len(idx))[:, None], idx] = x_small
    return out


#: The two models' numbers come from the same float operations on permuted rows; differences
#: are rounding of solves with condition number ≈ 1/(1 − γ) = 10: 1e-10 leaves ≈ 10⁵ ulps.
SAME = 1e-10
#: Probabilities (≤ 1) from the same operations on the same numbers: a few ulps of 1.
ULPS = 1e-15
#: Two algebraically equal forms of O(1) numbers (e.g. prob_vjp(w / π) against log_prob_vjp(w)): the
#: rounding of a few operations, ≈ 1e-16 each.
SAME_FORM = 1e-14
#: A float computation against exact rationals rounded once: the float side's error, cond·ε with
#: cond ≈ 1/(1 − γ) = 2 on the small exact models below (measured ≤ 6e-17).
EXACT = 1e-14
#: Central differences with step h ≈ 1e-6 on O(1) values: truncation h² plus rounding 1e-16/h ≈ 1e-10.
FD = 1e-8


@pytest.mark.parametrize("sparse", [False, True])
def test_evaluation_on_a_masked_model_equals_the_model_without_those_actions(sparse):
    masked, small, mask, idx = _masked_and_deleted(sparse=sparse)
    pi_small = np.random.default_rng(1).dirichlet(np.ones(2), size=4)
    ev, ev_small = mg.evaluate(masked, _expand(pi_small, idx)), mg.evaluate(small, pi_small)
    np.testing.assert_allclose(ev.v, ev_small.v, atol=SAME)
    np.testing.assert_allclose(ev.eta, ev_small.eta, atol=SAME)
    np.testing.assert_allclose(_restrict(ev.q, idx), ev_small.q, atol=SAME)
    assert abs(ev.J - ev_small.J) < SAME


@pytest.mark.parametrize("sparse", [False, True])
def test_softmax_gradient_and_hessian_on_a_masked_model_equal_the_deleted_model(sparse):
    masked, small, mask, idx = _masked_and_deleted(sparse=sparse)
    theta = np.random.default_rng(2).standard_normal((4, 3))       # logits of unavailable actions too
    pol, pol_small = mg.TabularSoftmax(4, 3, actions=mask), mg.TabularSoftmax(4, 2)
    pi = pol.probabilities(theta)
    assert (pi[~mask] == 0.0).all()
    np.testing.assert_allclose(_restrict(pi, idx), pol_small.probabilities(_restrict(theta, idx)), atol=ULPS)
    g = mg.policy_gradient(masked, pol, theta)
    g_small = mg.policy_gradient(small, pol_small, _restrict(theta, idx))
    assert (g[~mask] == 0.0).all()                                  # exactly: π(b|s) = 0 multiplies them
    np.testing.assert_allclose(_restrict(g, idx), g_small, atol=SAME)
    np.testing.assert_allclose(mg.gradients.softmax_gradient(masked, theta), g, atol=SAME)
    H = mg.policy_hessian(masked, pol, theta).reshape(12, 12)
    H_small = mg.policy_hessian(small, pol_small, _restrict(theta, idx)).reshape(8, 8)
    flat = (np.arange(4)[:, None] * 3 + idx).ravel()
    np.testing.assert_allclose(H[np.ix_(flat, flat)], H_small, atol=SAME)
    assert (H[~mask.ravel()] == 0.0).all() and (H[:, ~mask.ravel()] == 0.0).all()


def test_loglinear_and_direct_gradients_on_a_masked_model_equal_the_deleted_model():
    masked, small, mask, idx = _masked_and_deleted()
    rng = np.random.default_rng(3)
    phi = rng.standard_normal((4, 3, 2))
    theta = rng.standard_normal(2)
    g = mg.policy_gradient(masked, mg.LogLinear(phi, actions=mask), theta)
    g_small = mg.policy_gradient(small, mg.LogLinear(_restrict(phi, idx)), theta)
    np.testing.assert_allclose(g, g_small, atol=SAME)
    np.testing.assert_allclose(mg.gradients.loglinear_gradient(masked, phi, theta), g, atol=SAME)
    pi_small = rng.dirichlet(np.ones(2), size=4)
    gd = mg.policy_gradient(masked, mg.Direct(4, 3), _expand(pi_small, idx))
    assert (gd[~mask] == 0.0).all()
    np.testing.assert_allclose(_restrict(gd, idx), mg.policy_gradient(small, mg.Direct(4, 2), pi_small),
                               atol=SAME)
    np.testing.assert_allclose(mg.gradients.direct_gradient(masked, _expand(pi_small, idx)), gd, atol=SAME)


def test_fisher_information_on_a_masked_model_equals_the_deleted_model():
    masked, small, mask, idx = _masked_and_deleted()
    theta = np.random.default_rng(4).standard_normal((4, 3))
    F = mg.fisher_information(masked, mg.TabularSoftmax(4, 3, actions=mask), theta).reshape(12, 12)
    F_small = mg.fisher_information(small, mg.TabularSoftmax(4, 2), _restrict(theta, idx)).reshape(8, 8)
    flat = (np.arange(4)[:, None] * 3 + idx).ravel()
    np.testing.assert_allclose(F[np.ix_(flat, flat)], F_small, atol=SAME)
    assert (F[~mask.ravel()] == 0.0).all()


def test_td_jacobian_on_a_masked_model_equals_the_deleted_model():
    masked, small, mask, idx = _masked_and_deleted()
    pi_small = np.random.default_rng(5).dirichlet(np.ones(2), size=4)
    J = mg.td.td_jacobian(masked, _expand(pi_small, idx))
    J_small = mg.td.td_jacobian(small, pi_small)
    J = J.toarray() if hasattr(J, "toarray") else np.asarray(J)
    J_small = J_small.toarray() if hasattr(J_small, "toarray") else np.asarray(J_small)
    flat = (np.arange(4)[:, None] * 3 + idx).ravel()
    np.testing.assert_allclose(J[np.ix_(flat, flat)], J_small, atol=SAME)
    assert (J[~mask.ravel()] == 0.0).all()               # an unavailable pair has occupancy 0
    Jv = mg.td.td_jacobian_v(masked, _expand(pi_small, idx))
    np.testing.assert_allclose(np.asarray(getattr(Jv, "toarray", lambda: Jv)()),
                               np.asarray(getattr(mg.td.td_jacobian_v(small, pi_small), "toarray",
                                                  lambda: mg.td.td_jacobian_v(small, pi_small))()),
                               atol=SAME)


def test_estimator_moments_on_a_masked_model_equal_the_deleted_model():
    masked, small, mask, idx = _masked_and_deleted()
    theta = np.random.default_rng(6).standard_normal((4, 3))
    est = mg.estimators.reinforce_estimator()
    m = mg.estimators.estimator_moments(masked, mg.TabularSoftmax(4, 3, actions=mask), theta, est)
    m_small = mg.estimators.estimator_moments(small, mg.TabularSoftmax(4, 2), _restrict(theta, idx), est)
    flat = (np.arange(4)[:, None] * 3 + idx).ravel()
    np.testing.assert_allclose(_restrict(m.mean, idx), m_small.mean, atol=SAME)
    assert (m.mean[~mask] == 0.0).all()
    np.testing.assert_allclose(m.covariance[np.ix_(flat, flat)], m_small.covariance, atol=SAME)
    assert (m.covariance[~mask.ravel()] == 0.0).all()


# ---------------------------------------------------------------------------
# policies and tables on a masked model
# ---------------------------------------------------------------------------
def test_masked_softmax_gives_exact_zeros_whatever_the_logits_and_loglinear_too():
    mask = np.array([[True, False, True], [False, True, False]])
    theta = np.array([[0.0, 800.0, np.log(3.0)], [-5.0, 1e3, 900.0]])      # huge unavailable logits
    pi = mg.TabularSoftmax(2, 3, actions=mask).probabilities(theta)
    np.testing.assert_allclose(pi, [[0.25, 0.0, 0.75], [0.0, 1.0, 0.0]], rtol=ULPS)
    assert (pi[~mask] == 0.0).all()
    phi = np.zeros((2, 3, 1))
    phi[:, 1, 0] = 50.0
    pi_ll = mg.LogLinear(phi, actions=mask).probabilities(np.array([10.0]))
    np.testing.assert_array_equal(pi_ll, [[0.5, 0.0, 0.5], [0.0, 1.0, 0.0]])


def test_log_prob_vjp_of_a_masked_softmax_matches_finite_differences_of_log_pi_on_available_actions():
    mask = np.array([[True, False, True], [True, True, False]])
    pol = mg.TabularSoftmax(2, 3, actions=mask)
    rng = np.random.default_rng(0)
    theta, w = rng.standard_normal((2, 3)), rng.standard_normal((2, 3)) * mask

    def f(th):
        return float(np.sum(w[mask] * np.log(pol.probabilities(th)[mask])))
    h, fd = 1e-6, np.zeros((2, 3))
    for i in np.ndindex(2, 3):
        e = np.zeros((2, 3))
        e[i] = h
        fd[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    vjp = pol.log_prob_vjp(theta, w)
    np.testing.assert_allclose(vjp, fd, atol=FD)
    assert (vjp[~mask] == 0.0).all()
    np.testing.assert_allclose(pol.prob_vjp(theta, w / np.where(mask, pol.probabilities(theta), 1.0)), vjp,
                               atol=SAME_FORM)


def test_tables_with_mass_on_an_unavailable_action_are_refused_naming_state_action_and_value():
    masked, small, mask, idx = _masked_and_deleted()
    pi = np.full((4, 3), 1 / 3)
    for call in (lambda: mg.evaluate(masked, pi), lambda: mg.sample(masked, pi, 2, rng=0),
                 lambda: mg.td_symmetry(masked, pi), lambda: mg.policy_gradient(masked, mg.Direct(4, 3), pi),
                 lambda: mg.gradients.direct_gradient(masked, pi)):
        with pytest.raises(mg.ValidationError, match=r"\[0, 2\] is 0.333333.*action 2 is unavailable in "
                                                     r"state 0") as info:
            call()
        assert info.value.index[-2:] == (0, 2)
    tiny = _expand(np.full((4, 2), 0.5), idx)
    tiny[0, 2], tiny[0, 0] = 1e-300, 0.5 - 1e-300       # the smallest positive mass is refused too
    with pytest.raises(mg.ValidationError, match=r"pi\[0, 2\] is 1e-300"):
        mg.evaluate(masked, tiny)
    mg.evaluate(masked, _expand(np.full((4, 2), 0.5), idx))      # exact zeros pass


def test_a_policy_that_may_choose_an_unavailable_action_is_refused_where_it_meets_the_model():
    masked, small, mask, idx = _masked_and_deleted()
    theta = np.zeros((4, 3))
    with pytest.raises(mg.ValidationError, match=r"policy has no mask.*action 2 is unavailable in state 0"):
        mg.policy_gradient(masked, mg.TabularSoftmax(4, 3), theta)
    loose = mask.copy()
    loose[1, 1] = True
    with pytest.raises(mg.ValidationError, match=r"allows action 1 in state 1") as info:
        mg.objective(masked, mg.TabularSoftmax(4, 3, actions=loose), theta)
    assert info.value.index == (1, 1)
    strict = mask.copy()
    strict[0, 1] = False                                 # a stricter mask is a legal policy
    pol = mg.TabularSoftmax(4, 3, actions=strict)
    assert mg.policy_gradient(masked, pol, theta)[0, 1] == 0.0
    with pytest.raises(mg.ValidationError, match="state 1 has no available action"):
        mg.TabularSoftmax(2, 2, actions=np.array([[True, True], [False, False]]))


def test_masks_take_part_in_equality_and_hash_and_survive_pickle():
    mask = np.array([[True, False], [True, True]])
    assert mg.TabularSoftmax(2, 2, actions=mask) == mg.TabularSoftmax(2, 2, actions=mask.copy())
    assert mg.TabularSoftmax(2, 2, actions=mask) != mg.TabularSoftmax(2, 2)
    assert hash(mg.Direct(2, 2, actions=mask)) == hash(mg.Direct(2, 2, actions=mask))
    ll = pickle.loads(pickle.dumps(mg.LogLinear(np.ones((2, 2, 1)), actions=mask)))
    np.testing.assert_array_equal(ll.actions, mask)
    assert not mg.TabularSoftmax(2, 2, actions=mask).actions.flags.writeable
    for pol in (mg.TabularSoftmax(2, 2, actions=mask), mg.Direct(2, 2, actions=mask),
                mg.TabularSoftmax(2, 2)):
        back = pickle.loads(pickle.dumps(pol))
        assert back == pol and hash(back) == hash(pol)
        assert back.actions is None or not back.actions.flags.writeable


def test_uniform_and_epsilon_greedy_spread_over_available_actions_only():
    mask = np.array([[True, False, True], [False, True, False]])
    np.testing.assert_array_equal(mg.uniform_policy(2, 3, actions=mask), [[0.5, 0, 0.5], [0, 1, 0]])
    q = np.array([[0.0, 9.0, 1.0], [5.0, -1.0, 7.0]])      # the best q of each state is unavailable
    np.testing.assert_array_equal(mg.greedy_policy(q, actions=mask), [[0, 0, 1], [0, 1, 0]])
    np.testing.assert_allclose(mg.epsilon_greedy_policy(q, 0.2, actions=mask), [[0.1, 0, 0.9], [0, 1, 0]])
    np.testing.assert_allclose(mg.epsilon_greedy_policy(q, 0.3), [[0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])


#: The tie tolerance of the boundary test; the gap is placed a factor 2 either side of it.
TIE = 1e-9


def test_greedy_tie_rule_at_its_boundary():
    """Every action within atol of the max ties; the lowest index among them wins."""
    inside = np.array([[1.0, 1.0 + TIE / 2, 0.0]])
    outside = np.array([[1.0, 1.0 + 2 * TIE, 0.0]])
    np.testing.assert_array_equal(mg.greedy_policy(inside, atol=TIE), [[1, 0, 0]])
    np.testing.assert_array_equal(mg.greedy_policy(outside, atol=TIE), [[0, 1, 0]])
    np.testing.assert_array_equal(mg.greedy_policy(inside), [[0, 1, 0]])      # default: exact ties only
    np.testing.assert_array_equal(mg.greedy_policy(np.array([[2.0, 2.0]])), [[1, 0]])
    with pytest.raises(mg.ValidationError, match="atol"):
        mg.greedy_policy(inside, atol=-1.0)


def test_q_learning_maxes_over_available_actions_only():
    masked, small, mask, idx = _masked_and_deleted()
    Q_small = np.random.default_rng(7).standard_normal((4, 2))
    Q = _expand(Q_small, idx)
    Q[~mask] = 1e6                                        # unavailable actions would win any max
    u = mg.td.q_learning_update(masked, Q)
    np.testing.assert_allclose(_restrict(u, idx) if np.ndim(u) == 2 else _restrict(u.reshape(4, 3), idx),
                               np.reshape(mg.td.q_learning_update(small, Q_small), (4, 2)), atol=SAME)
    qj = mg.td.q_learning_jacobian(masked, Q)
    assert (qj.greedy[~mask] == 0).all()
    np.testing.assert_array_equal(_restrict(qj.greedy, idx), mg.td.q_learning_jacobian(small, Q_small).greedy)


def test_sampling_never_takes_an_unavailable_action_and_matches_the_policy_on_the_others():
    masked, small, mask, idx = _masked_and_deleted()
    pi = mg.uniform_policy(4, 3, actions=mask)
    tr = mg.sample(masked, pi, 4000, rng=np.random.default_rng(8))
    steps = np.arange(tr.actions.shape[1])[None, :] < tr.lengths[:, None]
    s, a = tr.states[:, :tr.actions.shape[1]][steps], tr.actions[steps]
    assert s.size > 4000
    assert mask[s, a].all()                                  # no step takes an unavailable action
    assert not (tr.rewards[steps] == 100.0).any()            # nor pays its trap reward
    for state in range(3):                                    # ½ per available action: 5 sigma of n
        n = int((s == state).sum())
        share = np.bincount(a[s == state], minlength=3) / n
        assert np.all(np.abs(share[mask[state]] - 0.5) < 5 * 0.5 / np.sqrt(n))


# ---------------------------------------------------------------------------
# the symbolic mirror
# ---------------------------------------------------------------------------
def test_rationalize_and_to_numeric_keep_the_mask_and_the_symbolic_softmax_is_masked():
    import sympy

    from mdpgrad import symbolic as sym
    P = np.zeros((2, 2, 2))
    P[0, 0] = [0.5, 0.5]
    P[1, :, 1] = 1.0                                    # state 1 terminal; P[0, 1] absent
    m = mg.MDP(P, [[1.0, 9.0], [0.0, 0.0]], 0.5, terminal=np.array([False, True]),
               actions=np.array([[True, False], [True, True]]))
    exact = sym.rationalize(m)
    np.testing.assert_array_equal(exact.actions, m.actions)
    assert exact.has_action_sets
    np.testing.assert_array_equal(exact.to_numeric().actions, m.actions)
    pol = sym.TabularSoftmax(2, 2, actions=m.actions)
    pi = pol.probabilities(pol.symbols())
    assert pi[0, 1] == 0 and sympy.simplify(pi[0, 0] - 1) == 0
    with pytest.raises(mg.ValidationError, match="allows action 1 in state 0"):
        sym.policy_gradient(exact, sym.TabularSoftmax(2, 2), sym.TabularSoftmax(2, 2).symbols())
    ev = sym.evaluate(exact, [[1, 0], [1, 0]])
    assert ev.v[0] == sympy.Rational(4, 3)               # v(0) = 1 + ½·½·v(0)
    with pytest.raises(mg.ValidationError, match=r"pi\[0, 1\] is 1/2, but action 1 is unavailable"):
        sym.evaluate(exact, [[sympy.Rational(1, 2), sympy.Rational(1, 2)], [1, 0]])


def test_symbolic_gradient_on_a_masked_model_matches_the_numeric_one():
    from mdpgrad import symbolic as sym
    P = np.zeros((3, 3, 3))
    P[0, 0] = [0.0, 0.5, 0.5]
    P[0, 2] = [0.5, 0.0, 0.5]
    P[1, 1] = [0.5, 0.0, 0.5]
    P[1, 2] = [0.0, 0.0, 1.0]
    P[2, :, 2] = 1.0
    mask = np.array([[True, False, True], [False, True, True], [True, True, True]])
    m = mg.MDP(P, [[1.0, 7.0, 0.0], [5.0, 2.0, -1.0], [0.0, 0.0, 0.0]], 0.5,
               terminal=np.array([False, False, True]), actions=mask)
    theta = np.array([[0.0, 3.0, 1.0], [2.0, -1.0, 0.0], [0.0, 0.0, 0.0]])
    g_num = mg.policy_gradient(m, mg.TabularSoftmax(3, 3, actions=mask), theta)
    pol = sym.TabularSoftmax(3, 3, actions=mask)
    th = pol.symbols()
    g_sym = sym.policy_gradient(sym.rationalize(m), pol, th)
    values = {th[s, a]: float(theta[s, a]) for s in range(3) for a in range(3)}
    g_at = np.array([[float(g_sym[s, a].subs(values)) for a in range(3)] for s in range(3)])
    np.testing.assert_allclose(g_at, g_num, atol=EXACT)
    assert (g_at[~mask] == 0).all()


# ---------------------------------------------------------------------------
# generated models with action sets
# ---------------------------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import mdpgrad.strategies as mst  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_policy_gradient_theorem_agrees_with_finite_differences_on_models_with_action_sets(data):
    mdp = data.draw(mst.mdps(max_states=4, max_actions=3, action_sets=st.just(True)))
    pol = mg.TabularSoftmax(mdp.n_states, mdp.n_actions, actions=mdp.actions)
    theta = data.draw(mst.thetas(pol))
    g = mg.policy_gradient(mdp, pol, theta)
    assert (g[~mdp.actions] == 0.0).all()
    check = mg.check_gradient(lambda th: mg.objective(mdp, pol, th), g, theta)
    assert check.holds, check
    pi = pol.probabilities(theta)
    assert (pi[~mdp.actions] == 0.0).all()
    table = data.draw(mst.policies(mdp.n_states, mdp.n_actions, actions=mdp.actions))
    assert (table[~mdp.actions] == 0.0).all()
    np.testing.assert_allclose(mg.gradients.direct_gradient(mdp, table),
                               mg.policy_gradient(mdp, mg.Direct(mdp.n_states, mdp.n_actions), table),
                               atol=SAME)


def test_the_strategy_draws_action_sets_with_all_zero_rows_and_never_by_default():
    from hypothesis import find
    masked = find(mst.mdps(action_sets=st.just(True), min_actions=2),
                  lambda m: m.has_action_sets and (m.P_dense()[~m.actions].sum() == 0))
    assert masked.has_action_sets
    assert not find(mst.mdps(), lambda m: True).has_action_sets


def test_an_exactly_zero_gradient_is_not_refused_when_every_visited_state_has_one_available_action():
    """State 0 (visited) has one available action and state 1 (two actions) is never visited at γ = 0:
    ∇J = 0 exactly, while the error bound of η (one number for all states) is ≈ 5e-19.  The floor the
    error is judged against uses the largest visit count, so the zero gradient is returned."""
    P = np.zeros((3, 2, 3))
    P[0, :, 1] = P[1, :, 2] = P[2, :, 2] = 1.0
    r = np.array([[0.0, 0.0], [0.0, 2.0 ** -10], [0.0, 0.0]])
    mask = np.array([[True, False], [True, True], [True, True]])
    mdp = mg.MDP(P, r, 0.0, rho0=[1.0, 0.0, 0.0], terminal=np.array([False, False, True]), actions=mask)
    g = mg.policy_gradient(mdp, mg.TabularSoftmax(3, 2, actions=mask), np.zeros((3, 2)))
    assert (g == 0.0).all()


def test_the_advantage_floor_reads_the_rewards_of_available_actions_only():
    from mdpgrad._evaluation import advantage_floor
    masked, small, mask, idx = _masked_and_deleted()
    assert advantage_floor(masked) == advantage_floor(small)          # the trap rewards 100, −50, 30 unread
    first = np.zeros((4, 3), dtype=bool)
    first[np.arange(4), idx[:, 0]] = True
    one_each = masked.replace(actions=first)
    assert advantage_floor(one_each) == np.inf                        # one action per state: adv ≡ 0


@pytest.mark.parametrize("gamma", [0.9, 0.9999])        # the direct route; the deflated one
def test_rewards_of_unavailable_actions_change_no_error_estimate(gamma):
    """An unavailable action's reward is never paid: a trap of 1e13 there leaves every error estimate
    (and the accuracy verdicts built on them) as it is."""
    rng = np.random.default_rng(9)
    P = rng.dirichlet(np.ones(3), size=(3, 2))
    P[1, 1] = 0.0
    r = rng.standard_normal((3, 2))
    mask = np.array([[True, True], [True, False], [True, True]])
    plain = mg.MDP(P, r, gamma, actions=mask)
    trapped = plain.replace(r=np.where(mask, r, 1e13))
    pol = mg.TabularSoftmax(3, 2, actions=mask)
    theta = rng.standard_normal((3, 2))
    ev, ev_t = mg.evaluate(plain, pol.probabilities(theta)), mg.evaluate(trapped, pol.probabilities(theta))
    assert ev.error.route == ev_t.error.route == ("direct" if gamma == 0.9 else "deflated")
    # the estimates are sums of the same terms (the trap enters none): equal up to their own rounding
    for name in ("v", "q", "advantage", "eta", "J"):
        assert getattr(ev_t.error, name) == pytest.approx(getattr(ev.error, name), rel=1e-12), name
    g, err = mg.policy_gradient(trapped, pol, theta, error=True)
    g0, err0 = mg.policy_gradient(plain, pol, theta, error=True)
    np.testing.assert_allclose(g, g0, atol=float(np.max(err0)))   # within the stated error
    np.testing.assert_allclose(err, err0, rtol=1e-12)


def test_the_strategies_refuse_bad_action_set_arguments():
    from hypothesis import find
    from hypothesis.errors import InvalidArgument
    with pytest.raises(InvalidArgument, match="action_sets drew 1"):
        find(mst.mdps(action_sets=st.just(1)), lambda m: True)
    with pytest.raises(InvalidArgument, match="action_sets"):
        mst.mdps(action_sets=True)
    with pytest.raises(InvalidArgument, match="available action in every state"):
        mst.policies(2, 2, actions=np.array([[True, False], [False, False]]))


def test_symbolic_estimator_moments_on_a_masked_model_match_the_numeric_ones():
    """Two derivations (first-step analysis in exact arithmetic; linear solves on the pair chain)."""
    from mdpgrad import symbolic as sym
    P = np.zeros((3, 3, 3))
    P[0, 0] = [0.0, 0.5, 0.5]
    P[0, 2] = [0.5, 0.0, 0.5]
    P[1, 1] = [0.5, 0.0, 0.5]
    P[1, 2] = [0.0, 0.0, 1.0]
    P[2, :, 2] = 1.0
    mask = np.array([[True, False, True], [False, True, True], [True, True, True]])
    m = mg.MDP(P, [[1.0, 7.0, 0.0], [5.0, 2.0, -1.0], [0.0, 0.0, 0.0]], 0.5,
               terminal=np.array([False, False, True]), actions=mask)
    num = mg.estimators.estimator_moments(m, mg.TabularSoftmax(3, 3, actions=mask), np.zeros((3, 3)),
                                          mg.estimators.reinforce_estimator())
    exact = sym.estimator_moments(sym.rationalize(m), sym.TabularSoftmax(3, 3, actions=mask), [[0] * 3] * 3)
    np.testing.assert_allclose(np.array(exact.mean.tolist(), dtype=float), num.mean, atol=EXACT)
    np.testing.assert_allclose(np.array(exact.covariance.tolist(), dtype=float), num.covariance, atol=EXACT)
    assert all(exact.covariance[i, j] == 0 for i in np.flatnonzero(~mask.ravel()) for j in range(9))


def test_symbolic_loglinear_and_direct_with_a_mask_give_unavailable_actions_zero():
    import sympy

    from mdpgrad import symbolic as sym
    mask = np.array([[True, False, True], [False, True, True]])
    phi = np.zeros((2, 3, 1), dtype=int)
    phi[:, 1, 0] = 1
    phi[:, 2, 0] = 2
    ll = sym.LogLinear(phi, actions=mask)
    th = ll.symbols()
    pi, rp = ll.probabilities(th), ll.rational(th)
    back = rp.pi.subs({z: sympy.exp(t) for z, t in rp.exp_of.items()})
    for s, a in np.ndindex(2, 3):
        assert sympy.simplify(pi[s, a] - back[s, a]) == 0
        assert (pi[s, a] == 0) == (not mask[s, a])
    assert sympy.simplify(pi[1, 1] - 1 / (1 + sympy.exp(th[0]))) == 0
    d = sym.Direct(2, 3, actions=mask)
    table = d.probabilities(d.symbols())
    assert [table[s, a] == 0 for s, a in np.ndindex(2, 3)] == list(~mask.ravel())
