"""The optimal average reward: relative value iteration with its certificate, against the dual linear
program of Puterman 1994, §9.3 (HiGHS), enumeration of the deterministic policies, hand-solved
models and pymdptoolbox's RelativeValueIteration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.optimize as so
from _models import random_mdp

import mdpgrad as mg
from mdpgrad import MDP, MultichainPolicyError, ValidationError, relative_value_iteration

#: The certified result is an exact policy evaluation (LU, ≈ 1e-15); HiGHS meets its primal and dual
#: feasibility tolerances of 1e-7 by default, and its objective on these O(1) problems is within
#: about 1e-9 of the optimum: 1e-8 separates agreement from any wrong policy (gains differ by ≳ 1e-3).
LP_TOL = 1e-8

#: Two exact evaluations of one policy (LU on a few states).
TOL = 1e-12


def lp_gain(mdp: MDP) -> float:
    """max Σ r x s.t. Σ_a x(j, a) − Σ_{s,a} P(j|s, a) x(s, a) = 0, Σ x = 1, x ≥ 0 (Puterman 1994, §9.3)."""
    S, A = mdp.n_states, mdp.n_actions
    P = np.asarray(mdp.P_flat.toarray() if mdp.is_sparse else mdp.P_flat)       # (S·A, S)
    own = np.repeat(np.eye(S), A, axis=0)                                       # x(s, a) → state s
    A_eq = np.vstack([(own - P).T, np.ones((1, S * A))])
    b_eq = np.concatenate([np.zeros(S), [1.0]])
    bounds = [(0, None) if ok else (0, 0) for ok in mdp.actions.ravel()]
    res = so.linprog(-mdp.r.ravel(), A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
    assert res.status == 0
    return -float(res.fun)


def best_by_enumeration(mdp: MDP) -> tuple[float, tuple[int, ...]]:
    """The largest gain over the A^S deterministic policies, and the choice that attains it."""
    S, A = mdp.n_states, mdp.n_actions
    best, arg = -np.inf, ()
    for choice in itertools.product(range(A), repeat=S):
        gain = mg.average_reward(mdp, np.eye(A)[list(choice)]).gain
        if gain > best:
            best, arg = gain, choice
    return best, arg


def test_two_state_example_by_hand():
    """pymdptoolbox's docstring model: policy (1, 0) has d = (4/9, 5/9), ρ = 10·4/9 − 5/9 = 35/9;
    the other three policies give 30/11, 35/13 and 5/2."""
    P = np.array([[[0.5, 0.5], [0.0, 1.0]], [[0.8, 0.2], [0.1, 0.9]]])
    opt = relative_value_iteration(MDP(P, [[5, 10], [-1, 2]], gamma=0.9))
    assert opt.gain == pytest.approx(35 / 9, abs=TOL)
    assert np.argmax(opt.policy, axis=1).tolist() == [1, 0]
    assert opt.optimal_actions.tolist() == [[False, True], [True, False]]
    assert opt.gap < TOL
    assert str(opt).startswith("AverageOptimum: optimal gain = 3.88889")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("sparse", [False, True])
def test_agrees_with_the_linear_program_and_enumeration(seed, sparse):
    mdp = random_mdp(seed, n_states=4, n_actions=3, support=0.5, mix=0.05, sparse=sparse)
    opt = relative_value_iteration(mdp)
    assert opt.gain == pytest.approx(lp_gain(mdp), abs=LP_TOL)
    best, choice = best_by_enumeration(mdp)
    assert opt.gain == pytest.approx(best, abs=TOL)
    assert np.all(opt.optimal_actions[np.arange(4), list(choice)])      # every state is recurrent here
    assert 0.0 <= opt.gap < 1e-12
    # the optimality equation ρ* + h = max_a (r + P h)
    backup = mdp.r + np.asarray(mdp.P_flat @ opt.bias).reshape(4, 3)
    assert opt.gain + opt.bias == pytest.approx(backup.max(axis=1), abs=1e-11)
    assert np.all(opt.optimal_actions[np.arange(4), np.argmax(opt.policy, axis=1)])


@pytest.mark.parametrize("seed", range(3))
def test_larger_models_against_the_linear_program(seed):
    mdp = random_mdp(seed, n_states=30, n_actions=4, support=0.2, mix=0.01)
    assert relative_value_iteration(mdp).gain == pytest.approx(lp_gain(mdp), abs=LP_TOL)


def _tie_model(delta: float) -> MDP:
    """State 0: two self-loops paying 1 and 1 − δ; state 1 pays 0 and returns to 0.  ρ* = 1, h(0) = 0,
    q̃(0, ·) = (0, −δ), the spread of the rewards is 1."""
    P = np.zeros((2, 2, 2))
    P[0, :, 0] = 1.0
    P[1, :, 0] = 1.0
    return MDP(P, [[1.0, 1.0 - delta], [0.0, 0.0]], gamma=0.9)


def test_tied_actions_at_the_tolerance_boundary():
    delta = 1e-6
    inside = relative_value_iteration(_tie_model(delta), tie_tol=1.01 * delta)
    outside = relative_value_iteration(_tie_model(delta), tie_tol=0.99 * delta)
    assert inside.optimal_actions[0].tolist() == [True, True]
    assert outside.optimal_actions[0].tolist() == [True, False]
    assert inside.gain == pytest.approx(1.0, abs=TOL)
    exact = relative_value_iteration(_tie_model(0.0))
    assert exact.optimal_actions.tolist() == [[True, True], [True, True]]


def test_unavailable_actions_do_not_compete():
    """Action 1 of state 0 would pay 10, but is not available there."""
    P = np.zeros((2, 2, 2))
    P[:, :, 0] = 0.5
    P[:, :, 1] = 0.5
    r = np.array([[1.0, 10.0], [0.0, 2.0]])
    actions = np.array([[True, False], [True, True]])
    opt = relative_value_iteration(MDP(P, r, gamma=0.9, actions=actions))
    assert opt.gain == pytest.approx(1.5, abs=TOL)            # ½·1 + ½·2
    assert opt.optimal_actions.tolist() == [[True, False], [False, True]]
    assert opt.q[0, 1] == -np.inf


def test_periodic_model_needs_the_aperiodicity_transform():
    """A deterministic 2-cycle paying (1, 0): without the transform (τ = 1) the increments alternate
    and the bounds never close; with τ = ½ they do, at ρ* = ½."""
    P = np.zeros((2, 1, 2))
    P[0, 0, 1] = P[1, 0, 0] = 1.0
    mdp = MDP(P, [[1.0], [0.0]], gamma=0.9)
    with pytest.raises(ValidationError, match="max_iter") as info:
        relative_value_iteration(mdp, tau=1.0, max_iter=200)
    assert info.value.argument == "max_iter"
    assert relative_value_iteration(mdp).gain == pytest.approx(0.5, abs=TOL)


def test_multichain_models_are_refused():
    P = np.zeros((3, 2, 3))
    P[0, :, 0] = P[2, :, 2] = 1.0
    P[1, 0, 0] = P[1, 1, 2] = 1.0
    with pytest.raises(ValidationError, match="max_iter"):       # two classes with different gains
        relative_value_iteration(MDP(P, [[1, 1], [0, 0], [0, 0]], gamma=0.9), max_iter=500)
    with pytest.raises(MultichainPolicyError, match=r"not unichain.*\{0\}, \{2\}"):    # equal gains
        relative_value_iteration(MDP(P, np.zeros((3, 2)), gamma=0.9))


@pytest.mark.parametrize("kwargs, name", [
    (dict(tau=0.0), "tau"), (dict(tau=1.5), "tau"), (dict(tau=float("nan")), "tau"),
    (dict(tol=-1.0), "tol"), (dict(tie_tol=float("inf")), "tie_tol"),
    (dict(max_iter=0), "max_iter"), (dict(reference=2), "reference"), (dict(reference=True), "reference"),
])
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValidationError, match=name) as info:
        relative_value_iteration(_tie_model(0.1), **kwargs)
    assert info.value.argument == name


def test_pymdptoolbox_forest():
    """pymdptoolbox's forest (S = 3, r1 = 4, r2 = 2, p = 0.1): always waiting gives d(2) = 0.81 and
    ρ* = 0.81·4 = 3.24, the value its RelativeValueIteration reports, with the same policy."""
    mdptoolbox = pytest.importorskip("mdptoolbox.mdp")
    import mdptoolbox.example as ex

    for S in (3, 10):
        P, R = ex.forest(S=S)
        rvi = mdptoolbox.RelativeValueIteration(P, R, epsilon=1e-8)
        rvi.run()
        opt = relative_value_iteration(mg.io.from_mdptoolbox(P, R, gamma=0.9))
        assert opt.gain == pytest.approx(rvi.average_reward, abs=1e-6)
        assert np.argmax(opt.policy, axis=1).tolist() == list(rvi.policy)
        assert opt.gain == pytest.approx(lp_gain(mg.io.from_mdptoolbox(P, R, gamma=0.9)), abs=LP_TOL)
        if S == 3:
            assert opt.gain == pytest.approx(3.24, abs=TOL)
