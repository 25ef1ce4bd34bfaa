"""The exact average-reward criterion: gain and bias in closed form, their limits from the discounted
values, and the proof of ∇ρ = Σ_s d_π(s) Σ_a ∇π(a|s) q̃(s, a) on the general 2-state model."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import mdpgrad as mg
from mdpgrad import MultichainPolicyError, ValidationError
from mdpgrad import symbolic as sy

#: Exact rationals against one LU solve of the same rationalised model (≈ 1e-15).
TOL = 1e-12


@pytest.fixture(scope="module")
def general():
    return sy.general_mdp(2, 2, rho0=False)


def test_theorem_is_proved_for_softmax(general):
    result = sy.prove_average_policy_gradient(general, sy.TabularSoftmax(2, 2))
    assert result.status == "proved" and result.n_identities == 4


def test_theorem_is_proved_for_log_linear():
    """Integer features on a model whose rewards are symbols and transitions one symbol per row."""
    p, q = sympy.symbols("p q")
    r = sympy.symbols("r0:4")
    mdp = sy.MDP([[[p, 1 - p], [1 - p, p]], [[q, 1 - q], [sympy.Rational(1, 3), sympy.Rational(2, 3)]]],
                 [[r[0], r[1]], [r[2], r[3]]], sympy.Rational(1, 2))
    pol = sy.LogLinear([[[1, 0], [0, 1]], [[1, 1], [0, 2]]])
    result = sy.prove_average_policy_gradient(mdp, pol, values="advantage")
    assert result.status == "proved" and result.n_identities == 2


def _fixed_transitions():
    """The general 2-state model with γ = ½ and its transitions fixed: only the rewards are symbols."""
    mdp = sy.general_mdp(2, 2, rho0=False, gamma=sympy.Rational(1, 2))
    p = sympy.symbols("p000 p010 p100 p110")
    return mdp.subs(dict(zip(p, [sympy.Rational(1, k) for k in (3, 4, 5, 2)], strict=True)))


def test_uniform_weights_get_a_counterexample_the_numeric_toolkit_reproduces():
    general = _fixed_transitions()
    result = sy.prove_average_policy_gradient(general, sy.TabularSoftmax(2, 2), weights="uniform")
    assert result.status == "counterexample" and result.in_domain
    point = result.point
    model = general.subs({k: v for k, v in point.items() if not str(k).startswith("theta")})
    numeric = mg.MDP(np.array(model.P, dtype=float).reshape(2, 2, 2),
                     np.array(model.r, dtype=float).reshape(2, 2), gamma=0.5)
    theta = np.array([[float(point[sympy.Symbol(f"theta{s}{a}", real=True)]) for a in range(2)]
                      for s in range(2)])
    g = mg.policy_gradient(numeric, mg.TabularSoftmax(2, 2), theta, criterion="average")
    s, a = int(result.label[-2]), int(result.label[-1])
    assert g[s, a] == pytest.approx(float(result.lhs), abs=TOL)
    assert g[s, a] != pytest.approx(float(result.rhs), abs=1e-6)


def test_discounted_q_is_not_the_differential_q():
    """γ = ½ and the transitions fixed, the rewards symbols: q_γ in place of q̃ is refuted."""
    result = sy.prove_average_policy_gradient(_fixed_transitions(), sy.TabularSoftmax(2, 2),
                                              values="discounted")
    assert result.status == "counterexample" and result.in_domain


def test_direct_is_refused(general):
    with pytest.raises(ValidationError, match="simplex") as info:
        sy.prove_average_policy_gradient(general, sy.Direct(2, 2))
    assert info.value.argument == "policy"


@pytest.mark.parametrize("kwargs, name", [(dict(weights="eta"), "weights"), (dict(values="v"), "values"),
                                          (dict(max_symbols=3), "mdp")])
def test_bad_arguments(general, kwargs, name):
    with pytest.raises(ValidationError, match=name):
        sy.prove_average_policy_gradient(general, sy.TabularSoftmax(2, 2), **kwargs)


def test_two_state_closed_form():
    """Swap probabilities a, b and rewards (1, 0): d = (b, a)/(a + b), ρ = b/(a + b),
    h = (a, −b)/(a + b)² (the Poisson equation solved by hand)."""
    a, b = sympy.symbols("a b", positive=True)
    mdp = sy.MDP([[[1 - a, a]], [[b, 1 - b]]], [[1], [0]], sympy.Rational(1, 2))
    ar = sy.average_reward(mdp, [[1], [1]])
    assert sympy.simplify(ar.gain - b / (a + b)) == 0
    assert sympy.simplify(ar.bias[0] - a / (a + b) ** 2) == 0
    assert sympy.simplify(ar.bias[1] + b / (a + b) ** 2) == 0
    assert sympy.simplify(ar.stationary[0] - b / (a + b)) == 0
    assert str(ar).startswith("AverageReward: exact gain")


def test_limits_of_the_exact_discounted_values():
    """(1 − γ)v_γ → ρ1 and v_γ − ρ/(1 − γ)1 → h, exactly as rational functions of γ (Puterman 1994,
    Corollary 8.2.4)."""
    a, b, g = sympy.symbols("a b gamma", positive=True)
    r0, r1 = sympy.symbols("r0 r1")
    mdp = sy.MDP([[[1 - a, a]], [[b, 1 - b]]], [[r0], [r1]], g)
    ar = sy.average_reward(mdp, [[1], [1]])
    v = sy.evaluate(mdp, [[1], [1]]).v
    for s in range(2):
        assert sympy.simplify(sympy.cancel((1 - g) * v[s]).subs(g, 1) - ar.gain) == 0
        assert sympy.simplify(sympy.cancel(v[s] - ar.gain / (1 - g)).subs(g, 1) - ar.bias[s]) == 0


@pytest.mark.parametrize("seed", range(3))
def test_exact_equals_numeric(seed):
    """A model of small integer weights (some zero), exact and in floats."""
    rng = np.random.default_rng(seed)
    W = rng.integers(0, 5, size=(3, 2, 3))
    W[..., 0] += 1                                    # every row reaches state 0: unichain
    R = rng.integers(-3, 4, size=(3, 2))
    V = rng.integers(1, 5, size=(3, 2))
    P_exact = [[[sympy.Rational(int(W[s, a, t]), int(W[s, a].sum())) for t in range(3)] for a in range(2)]
               for s in range(3)]
    pi_exact = [[sympy.Rational(int(V[s, a]), int(V[s].sum())) for a in range(2)] for s in range(3)]
    ex = sy.average_reward(sy.MDP(P_exact, R.tolist(), sympy.Rational(1, 2)), pi_exact)
    ar = mg.average_reward(mg.MDP(W / W.sum(axis=2, keepdims=True), R.astype(float), gamma=0.5),
                           V / V.sum(axis=1, keepdims=True))
    assert float(ex.gain) == pytest.approx(ar.gain, abs=TOL)
    assert np.array(ex.bias, dtype=float).ravel() == pytest.approx(ar.bias, abs=TOL)
    assert np.array(ex.q, dtype=float) == pytest.approx(ar.q, abs=TOL)
    assert np.array(ex.stationary, dtype=float).ravel() == pytest.approx(ar.stationary, abs=TOL)


def test_multichain_is_refused_naming_the_classes():
    mdp = sy.MDP([[[1, 0, 0]], [[sympy.Rational(1, 2), 0, sympy.Rational(1, 2)]], [[0, 0, 1]]],
                 [[1], [0], [2]], sympy.Rational(1, 2))
    with pytest.raises(MultichainPolicyError, match=r"\{0\}, \{2\}") as info:
        sy.average_reward(mdp, [[1], [1], [1]])
    assert info.value.value == ((0,), (2,))
