"""Tests of mdpgrad.td (tabular fields): TD(0) fields, their Jacobians, and when they are gradients.

Tiers: hand-derived numbers (a 3-state cycle, birth-death chains, any 2-state
chain); identities (the Jacobian from differentiating the update equals the
closed form; u(q^π) = 0; Q-learning at a tie-free point = TD of the greedy
policy; dense = sparse); property tests over generated MDPs (a small generator
below) including a direct pairwise detailed-balance test; textbook MDPs
(Baird, gridworlds) that must come out "not a gradient" with a circulation
beyond its bound; bad inputs.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
from _models import random_mdp, random_pi
from hypothesis import given, settings
from hypothesis import strategies as st

from mdpgrad import (
    MDP,
    ValidationError,
    evaluate,
    greedy_policy,
    is_gradient_field,
    td_symmetry,
    uniform_policy,
)
from mdpgrad import strategies as mst
from mdpgrad._chains import pair_chain
from mdpgrad._report.base import build_context
from mdpgrad._report.td import td_section
from mdpgrad.examples import baird_counterexample, gridworld_example_3_5, gridworld_example_4_1
from mdpgrad.fields import circulation
from mdpgrad.fields._symmetry import SYMMETRY_RTOL
from mdpgrad.td import (
    diagonal_weights,
    q_learning_jacobian,
    q_learning_update,
    reversibility_verdict,
    td_jacobian,
    td_jacobian_v,
    td_update,
    td_update_v,
)

#: The fields are affine: a central difference with step 1 is exact up to
#: rounding of entries of size ≤ ~10 (rewards ~N(0,1), Q ~N(0,1)), ≈ 1e-14.
AFFINE_TOL = 1e-12
#: Values from one LU solve of I − γP^π with γ ≤ 0.99: error ≲ cond·ε ≈ 1e-13·|v|.
SOLVE_TOL = 1e-10


# -- generated cases (models from tests/_models.py) ------------------------------
@st.composite
def td_cases(draw, *, max_states: int = 4, max_actions: int = 3, irreducible: bool = False):
    """(mdp, pi, rng) from mdpgrad.strategies: dense or sparse, continuing or episodic, γ < 1.

    ``irreducible=True``: continuing, rows with random support (about 60 % of next
    states) mixed 9:1 with the uniform distribution, so P^π has a unique stationary law.
    """
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    gammas = st.sampled_from([0.0, 0.5, 0.9, 0.99])
    if not irreducible:
        mdp = draw(mst.mdps(max_states=max_states, max_actions=max_actions, gammas=gammas))
        return mdp, draw(mst.policies(mdp.n_states, mdp.n_actions)), rng
    S = draw(st.integers(1, max_states))
    A = draw(st.integers(1, max_actions))
    sparse = draw(st.booleans())
    mdp = random_mdp(rng, n_states=S, n_actions=A, gamma=draw(gammas), support=0.6, mix=0.1, sparse=sparse)
    return mdp, draw(mst.policies(S, A)), rng


@st.composite
def reversible_cases(draw, *, max_states: int = 4, max_actions: int = 3):
    """(mdp, pi): every action follows one reversible chain P = W / rowsum(W), W = Wᵀ."""
    S = draw(st.integers(1, max_states))
    A = draw(st.integers(1, max_actions))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    W = rng.random((S, S)) * (rng.random((S, S)) < 0.6)
    W = W + W.T + np.diag(rng.random(S))
    idx = np.arange(S - 1)
    W[idx, idx + 1] += 0.1  # a path keeps the chain irreducible
    W[idx + 1, idx] += 0.1
    Ps = W / W.sum(axis=1, keepdims=True)
    P = np.repeat(Ps[:, None, :], A, axis=1)
    gamma = draw(st.sampled_from([0.5, 0.9, 0.99]))
    return MDP(P, rng.standard_normal((S, A)), gamma), random_pi(rng, S, A)


def _jacobian_by_definition(update, x0: np.ndarray) -> np.ndarray:
    """Columns (u(x + e_k) − u(x − e_k)) / 2, exact for an affine u."""
    n = x0.size
    cols = []
    for k in range(n):
        e = np.zeros(n)
        e[k] = 1.0
        cols.append((update(x0 + e) - update(x0 - e)).ravel() / 2.0)
    return np.stack(cols, axis=1)


def _dense(M):
    return M.toarray() if sp.issparse(M) else np.asarray(M)


def _cycle_mdp(gamma: float = 0.9) -> MDP:
    P = np.zeros((3, 1, 3))
    P[0, 0, 1] = P[1, 0, 2] = P[2, 0, 0] = 1.0
    return MDP(P, [[1.0], [0.0], [0.0]], gamma)


def _birth_death(n: int, p_right: float, gamma: float = 0.9) -> MDP:
    """Walk on 0..n−1: right w.p. p, left w.p. 1 − p, blocked moves stay put."""
    P = np.zeros((n, 1, n))
    for s in range(n):
        P[s, 0, min(s + 1, n - 1)] += p_right
        P[s, 0, max(s - 1, 0)] += 1.0 - p_right
    r = np.zeros((n, 1))
    r[-1] = 1.0
    return MDP(P, r, gamma)


# -- hand numbers: the 3-state cycle is not reversible ------------------------
def test_three_state_cycle_is_not_a_gradient():
    mdp = _cycle_mdp(0.9)
    pi = np.ones((3, 1))
    J = td_jacobian(mdp, pi)
    # J = γP − I for the cycle 0 → 1 → 2 → 0
    np.testing.assert_array_equal(J, [[-1.0, 0.9, 0.0], [0.0, -1.0, 0.9], [0.9, 0.0, -1.0]])
    ts = td_symmetry(mdp, pi)
    assert not ts.holds
    assert ts.symmetry.witness == (0, 1) and ts.symmetry.witness_pairs == ((0, 0), (1, 0))
    assert ts.symmetry.max_asymmetry == pytest.approx(0.9, abs=1e-15)
    assert ts.flows == (1.0, 0.0)  # D_x M[x,y] = 1·1, D_y M[y,x] = 1·0
    # the stationary law is uniform, and weighting by it does not help
    w = td_symmetry(mdp, pi, D="stationary")
    np.testing.assert_allclose(w.weights, [1 / 3] * 3, atol=1e-15)
    assert not w.holds and w.symmetry.max_asymmetry == pytest.approx(0.3, abs=1e-15)
    assert not reversibility_verdict(mdp.P[:, 0, :]).holds


def test_three_state_cycle_circulation_beyond_bound():
    mdp = _cycle_mdp(0.9)
    pi = np.ones((3, 1))

    def field(Q):
        return td_update(mdp, pi, Q.reshape(3, 1)).ravel()

    fv = is_gradient_field(field, np.zeros(3))
    assert fv.jacobian.method == "complex-step"
    assert fv.certified_not_gradient and not fv.holds
    c = fv.circulation
    # Green: πρ²(J[1,0] − J[0,1]) = −0.9πρ²
    assert c.value == pytest.approx(-0.9 * math.pi * c.radius ** 2, rel=1e-12)
    assert abs(c.value) > c.bound


# -- reversible chains are gradients with their stationary weighting ----------
def test_symmetric_random_walk_with_stationary_weighting_is_a_gradient():
    mdp = _birth_death(6, 0.5)
    pi = np.ones((6, 1))
    np.testing.assert_allclose(diagonal_weights(mdp, pi, "stationary"), np.full(6, 1 / 6), atol=1e-14)
    for values in ("q", "v"):
        ts = td_symmetry(mdp, pi, D="stationary", values=values)
        assert ts.holds
    c = circulation(lambda v: td_update_v(mdp, pi, v, D="stationary"), np.zeros(6), (2, 3), radius=1.0)
    assert abs(c.value) <= c.bound


def test_biased_walk_needs_its_stationary_weighting():
    """A birth-death chain is reversible, but only w.r.t. d ∝ (p/(1−p))^k, not the identity."""
    p = 0.7
    mdp = _birth_death(5, p)
    pi = np.ones((5, 1))
    d = (p / (1 - p)) ** np.arange(5)
    d /= d.sum()
    np.testing.assert_allclose(diagonal_weights(mdp, pi, "stationary", values="v"), d, rtol=1e-12)
    assert not td_symmetry(mdp, pi, values="v").holds
    assert td_symmetry(mdp, pi, D="stationary", values="v").holds
    assert reversibility_verdict(mdp.P[:, 0, :]).holds
    # the identity-weighted witness is a neighbouring pair: J[k,k+1] = γp, J[k+1,k] = γ(1−p)
    v = td_symmetry(mdp, pi, values="v").symmetry
    assert abs(v.witness[0] - v.witness[1]) == 1
    assert v.max_asymmetry == pytest.approx(0.9 * (p - (1 - p)), abs=1e-15)


@given(st.floats(0.01, 1.0), st.floats(0.01, 1.0), st.floats(0.0, 0.99))
def test_any_two_state_chain_is_a_gradient_under_its_stationary_law(a, b, gamma):
    """d_0 P_01 = d_1 P_10 is stationarity itself for two states: d = (b, a)/(a + b)."""
    P = np.array([[[1 - a, a]], [[b, 1 - b]]])
    mdp = MDP(P, [[1.0], [-1.0]], gamma)
    pi = np.ones((2, 1))
    np.testing.assert_allclose(diagonal_weights(mdp, pi, "stationary", values="v"),
                               [b / (a + b), a / (a + b)], rtol=1e-12)
    assert td_symmetry(mdp, pi, D="stationary", values="v").holds
    J = td_jacobian_v(mdp, pi, D="stationary")
    assert J[0, 1] == pytest.approx(J[1, 0], rel=1e-12, abs=1e-300)


def test_gamma_zero_is_always_a_gradient():
    mdp = _cycle_mdp(0.0)
    ts = td_symmetry(mdp, np.ones((3, 1)))
    assert ts.holds and "gamma = 0" in ts.explanation


# -- textbook MDPs: not gradients, with witness and circulation --------------
def _assert_not_gradient_with_circulation(update, x0, ts):
    assert not ts.holds
    x, y = ts.symmetry.witness
    assert ts.flows[0] != pytest.approx(ts.flows[1])  # the broken detailed balance
    c = circulation(update, x0, (x, y), radius=1.0)
    jx, jy = ts.symmetry.witness_values
    assert not c.holds
    assert c.value == pytest.approx(math.pi * (jy - jx), rel=1e-10)


def test_baird_td_field_is_not_a_gradient():
    ex = baird_counterexample()
    mdp, b, target = ex.mdp, ex.behaviour, ex.target
    Db = diagonal_weights(mdp, b, "stationary", values="v")
    np.testing.assert_allclose(Db, np.full(7, 1 / 7), atol=1e-14)  # behaviour's next state is uniform
    ts = td_symmetry(mdp, target, D=Db, values="v")
    # every upper state moves to the lower state 6 under the target, never back
    assert 6 in ts.symmetry.witness
    _assert_not_gradient_with_circulation(lambda v: td_update_v(mdp, target, v, D=Db), np.zeros(7), ts)
    ts_q = td_symmetry(mdp, target)
    _assert_not_gradient_with_circulation(
        lambda q: td_update(mdp, target, q.reshape(7, 2)).ravel(), np.zeros(14), ts_q)


@pytest.mark.parametrize("make", [gridworld_example_3_5, gridworld_example_4_1])
@pytest.mark.parametrize("D", [None, "occupancy"])
def test_gridworlds_are_not_gradients(make, D):
    mdp = make()
    pi = uniform_policy(mdp.n_states, mdp.n_actions)
    ts = td_symmetry(mdp, pi, D=D)
    S, A = mdp.n_states, mdp.n_actions
    Dd = None if D is None else diagonal_weights(mdp, pi, D)
    _assert_not_gradient_with_circulation(
        lambda q: td_update(mdp, pi, q.reshape(S, A), D=Dd).ravel(), np.zeros(S * A), ts)
    assert ts.symmetry.witness_pairs is not None


# -- property tests over generated MDPs ---------------------------------------
@settings(max_examples=40)
@given(td_cases(), st.sampled_from(["none", "identity", "occupancy", "array"]))
def test_jacobian_from_definition_equals_closed_form(case, kind):
    mdp, pi, rng = case
    S, A = mdp.n_states, mdp.n_actions
    if kind == "array":
        Dq, Dv = rng.random(S * A), rng.random(S)
    elif kind == "none":
        Dq = Dv = None
    else:
        Dq = Dv = kind
    J = td_jacobian(mdp, pi, D=Dq)
    Jdef = _jacobian_by_definition(lambda q: td_update(mdp, pi, q.reshape(S, A), D=Dq),
                                   rng.standard_normal(S * A))
    np.testing.assert_allclose(_dense(J), Jdef, atol=AFFINE_TOL)
    Jv = td_jacobian_v(mdp, pi, D=Dv)
    Jvdef = _jacobian_by_definition(lambda v: td_update_v(mdp, pi, v, D=Dv), rng.standard_normal(S))
    np.testing.assert_allclose(_dense(Jv), Jvdef, atol=AFFINE_TOL)
    assert sp.issparse(J) == mdp.is_sparse and sp.issparse(Jv) == mdp.is_sparse


@settings(max_examples=40)
@given(td_cases())
def test_true_values_are_fixed_points(case):
    """u(q^π) = 0 and u(v^π) = 0, terminal states included (their values are 0)."""
    mdp, pi, _ = case
    ev = evaluate(mdp, pi)
    scale = max(1.0, float(np.abs(ev.q).max()))
    assert np.abs(td_update(mdp, pi, ev.q)).max() <= SOLVE_TOL * scale
    assert np.abs(td_update_v(mdp, pi, ev.v)).max() <= SOLVE_TOL * scale


def _direct_flow_gap(mdp: MDP, pi: np.ndarray, Dd: np.ndarray) -> tuple[float, float]:
    """max_{x≠y} γ|D_x M[x,y] − D_y M[y,x]| and max|J|, from P[s,a,s'] entry by entry."""
    S, A = mdp.n_states, mdp.n_actions
    P = mdp.P_dense()
    keep = ~mdp.terminal
    pairs = list(itertools.product(range(S), range(A)))

    def M(s, a, t, b):
        return P[s, a, t] * pi[t, b] if keep[s] and keep[t] else 0.0

    gap, scale = 0.0, 0.0
    for (s, a), (t, b) in itertools.product(pairs, pairs):
        x, y = s * A + a, t * A + b
        Jxy = Dd[x] * (mdp.gamma * M(s, a, t, b) - (x == y))
        scale = max(scale, abs(Jxy))
        if x != y:
            gap = max(gap, mdp.gamma * abs(Dd[x] * M(s, a, t, b) - Dd[y] * M(t, b, s, a)))
    return gap, scale


@settings(max_examples=40)
@given(st.one_of(td_cases().map(lambda c: (c[0], c[1], "occupancy")),
                 reversible_cases().map(lambda c: (c[0], c[1], "stationary"))))
def test_verdict_agrees_with_direct_detailed_balance(case):
    mdp, pi, kind = case
    Dd = diagonal_weights(mdp, pi, kind)
    gap, scale = _direct_flow_gap(mdp, pi, Dd)
    ts = td_symmetry(mdp, pi, D=Dd)
    assert ts.holds == (gap <= SYMMETRY_RTOL * scale)
    if kind == "stationary":  # constructed reversible: must be recognised as a gradient
        assert ts.holds
    assert ts.symmetry.max_asymmetry == pytest.approx(gap, rel=1e-9, abs=1e-15)


@settings(max_examples=25)
@given(td_cases())
def test_dense_and_sparse_agree(case):
    mdp, pi, _ = case
    S, A = mdp.n_states, mdp.n_actions
    other = MDP(mdp.P_dense() if mdp.is_sparse else sp.csr_array(mdp.P_flat), mdp.r, mdp.gamma,
                terminal=mdp.terminal)
    np.testing.assert_allclose(_dense(td_jacobian(mdp, pi)), _dense(td_jacobian(other, pi)), atol=1e-15)
    np.testing.assert_allclose(_dense(pair_chain(mdp, pi)), _dense(pair_chain(other, pi)), atol=1e-15)
    a, b = td_symmetry(mdp, pi), td_symmetry(other, pi)
    assert a.holds == b.holds
    assert a.symmetry.max_asymmetry == pytest.approx(b.symmetry.max_asymmetry, abs=1e-15)
    assert td_update(mdp, pi, np.ones((S, A))) == pytest.approx(td_update(other, pi, np.ones((S, A))))


@settings(max_examples=25)
@given(td_cases(irreducible=True))
def test_stationary_pair_weighting_is_stationary_for_the_pair_chain(case):
    """ξ(s,a) = d_π(s)π(a|s) satisfies ξᵀ PΠ = ξᵀ, and the state weighting d_πᵀ P^π = d_πᵀ."""
    mdp, pi, _ = case
    xi = diagonal_weights(mdp, pi, "stationary")
    np.testing.assert_allclose(_dense(pair_chain(mdp, pi)).T @ xi, xi, atol=SOLVE_TOL)
    d = diagonal_weights(mdp, pi, "stationary", values="v")
    np.testing.assert_allclose(xi.reshape(mdp.n_states, -1).sum(axis=1), d, atol=1e-15)
    np.testing.assert_allclose(evaluate(mdp, pi).P_pi.T @ d, d, atol=SOLVE_TOL)


# -- Q-learning ----------------------------------------------------------------
@settings(max_examples=30)
@given(td_cases())
def test_q_learning_jacobian_at_tie_free_point(case):
    mdp, _, rng = case
    S, A = mdp.n_states, mdp.n_actions
    Q = rng.standard_normal((S, A))  # ties have probability 0
    qj = q_learning_jacobian(mdp, Q)
    assert qj.differentiable
    np.testing.assert_allclose(_dense(qj.jacobian), _dense(td_jacobian(mdp, greedy_policy(Q))), atol=0)
    # a small symmetric step keeps every argmax, so the difference quotient is exact
    h = 1e-3 * min(1.0, float(np.min(np.abs(np.diff(np.sort(Q, axis=1), axis=1)), initial=1.0)))
    cols = []
    for k in range(S * A):
        e = np.zeros((S, A))
        e.flat[k] = h
        cols.append((q_learning_update(mdp, Q + e) - q_learning_update(mdp, Q - e)).ravel() / (2 * h))
    np.testing.assert_allclose(_dense(qj.jacobian), np.stack(cols, 1), atol=1e-8)


def test_q_learning_hand_numbers_and_ties():
    P = np.array([[[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=0.5)
    Q = np.array([[0.0, 2.0], [4.0, 4.0]])
    # u(0,0) = 0 + ½·max Q(1,·) − 0 = 2;  u(0,1) = 1 + ½·2 − 2 = 0;  u(1,·) = 2 − 4 = −2
    np.testing.assert_allclose(q_learning_update(mdp, Q), [[2.0, 0.0], [-2.0, -2.0]])
    qj = q_learning_jacobian(mdp, Q)
    assert qj.tied_states == (1,) and not qj.differentiable
    assert q_learning_jacobian(mdp, np.array([[0.0, 2.0], [4.0, 3.0]])).differentiable


# -- the report section --------------------------------------------------------
def _episodic_mdp() -> MDP:
    P = np.zeros((3, 2, 3))
    P[0, 0] = [0.5, 0.5, 0.0]
    P[0, 1] = [0.0, 0.2, 0.8]
    P[1, 0] = [0.6, 0.0, 0.4]
    P[1, 1] = [0.0, 0.1, 0.9]
    P[2, :, 2] = 1.0
    return MDP(P, [[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]], 0.8, rho0=[1.0, 0.0, 0.0],
               terminal=np.array([False, False, True]))


def test_td_section_on_episodic_example():
    sec = td_section(build_context("episodic", _episodic_mdp(), "random", seed=1))
    assert sec.ok and sec.key == "td"
    assert not sec.data["unweighted"]["is_gradient"]
    assert sec.data["circulation"]["agrees"] and sec.data["circulation"]["nonzero"]
    assert sec.data["reversible"] is None
    assert not sec.data["without_discount"]["is_gradient"]
    assert sec.data["without_discount"]["certified_not_gradient"]
    assert sec.data["policy_gradient"]["is_gradient"]


def test_td_section_on_reversible_example():
    P = np.array([[[0.6, 0.4], [0.6, 0.4]], [[0.4, 0.6], [0.4, 0.6]]])  # symmetric, action-independent
    mdp = MDP(P, [[1.0, 0.0], [0.0, 1.0]], 0.9)
    sec = td_section(build_context("reversible", mdp))
    assert sec.ok
    assert sec.data["reversible"] is True
    assert sec.data["unweighted"]["is_gradient"]
    assert not sec.data["circulation"]["nonzero"]


# -- bad input -----------------------------------------------------------------
@pytest.mark.parametrize("call, argument", [
    (lambda m, p: diagonal_weights(m, p, "uniform"), "kind"),
    (lambda m, p: diagonal_weights(m, p, np.ones(5)), "D"),
    (lambda m, p: diagonal_weights(m, p, -np.ones(6)), "D"),
    (lambda m, p: diagonal_weights(m, p, np.ones(6), values="x"), "values"),
    (lambda m, p: td_update(m, p, np.zeros((3, 3))), "Q"),
    (lambda m, p: td_update(m, np.ones((3, 2)), np.zeros((3, 2))), "pi"),
    (lambda m, p: td_update_v(m, p, np.zeros(2)), "v"),
    (lambda m, p: q_learning_update(m, np.zeros((3, 2)), D="occupancy"), "D"),
    (lambda m, p: td_symmetry(m, p, values="w"), "values"),
    (lambda m, p: diagonal_weights(m, p, np.array([1, 1, np.nan, 1, 1, 1])), "D"),
    (lambda m, p: td_update(m, p, np.full((3, 2), np.inf)), "Q"),
    (lambda m, p: td_update(m, np.stack([p, p]), np.zeros((3, 2))), "pi"),   # the fields take no batch
    (lambda m, p: td_jacobian(m, p, D="uniform"), "kind"),
    (lambda m, p: q_learning_jacobian(m, np.zeros((3, 2)), tie_atol=-1.0), "tie_atol"),
    (lambda m, p: reversibility_verdict(np.eye(2), d=[0.5, np.nan]), "d"),
])
def test_bad_input(call, argument):
    mdp = random_mdp(0, n_states=3, n_actions=2, gamma=0.9, support=0.6)
    with pytest.raises(ValidationError) as exc:
        call(mdp, uniform_policy(3, 2))
    assert exc.value.argument == argument
