"""Symbolic MDP: exact validation (a table of bad inputs), conversions, the general MDP."""

from fractions import Fraction

import numpy as np
import pytest
import sympy
from sympy import Rational as R

from mdpgrad import MDP as NumericMDP
from mdpgrad import ValidationError
from mdpgrad.examples import two_state, two_state_tables
from mdpgrad.symbolic import MDP, Direct, LogLinear, TabularSoftmax, general_mdp, rationalize

p, q, g = sympy.symbols("p q gamma")
GOOD_P = [[[p, 1 - p], [R(1, 4), R(3, 4)]], [[R(1, 2), R(1, 2)], [0, 1]]]
GOOD_R = [[1, 0], [0, 2]]


def test_accepts_symbols_and_fractions():
    m = MDP(GOOD_P, GOOD_R, g, rho0=[Fraction(1, 3), Fraction(2, 3)])
    assert (m.n_states, m.n_actions) == (2, 2)
    assert m.rho0[1] == R(2, 3) and isinstance(m.rho0[1], sympy.Rational)
    assert m.free_symbols == {p, g}
    assert isinstance(m.P, sympy.ImmutableDenseNDimArray) and isinstance(m.r, sympy.ImmutableMatrix)


BAD = [
    # (description, kwargs, argument, index, text in message)
    ("float in P", dict(P=[[[0.5, 0.5]], [[0, 1]]]), "P", (0, 0, 0), "Rational"),
    ("sympy Float in P", dict(P=[[[sympy.Float(0.5), R(1, 2)]], [[0, 1]]]), "P", (0, 0, 0), "float"),
    ("float reward", dict(r=[[0.1], [0]]), "r", (0, 0), "Rational"),
    ("float gamma", dict(gamma=0.9), "gamma", None, "Rational"),
    ("row sums to 5/4", dict(P=[[[R(3, 4), R(1, 2)]], [[0, 1]]]), "P", (0, 0), "5/4"),
    ("symbolic row not 1", dict(P=[[[p, 1 - q]], [[0, 1]]]), "P", (0, 0), "expected exactly 1"),
    ("negative probability", dict(P=[[[R(-1, 2), R(3, 2)]], [[0, 1]]]), "P", (0, 0, 0), "[0, 1]"),
    ("wrong shape", dict(P=[[[1, 0, 0]], [[0, 1, 0]]]), "P", None, "shape"),
    ("gamma above 1", dict(gamma=R(3, 2)), "gamma", None, "[0, 1]"),
    ("gamma 1 continuing", dict(gamma=1), "gamma", None, "terminal"),
    ("rho0 sums to 3/4", dict(rho0=[R(1, 2), R(1, 4)]), "rho0", None, "3/4"),
    ("terminal not absorbing", dict(terminal=[True, False]), "terminal", (0, 0), "absorbing"),
    ("string entry", dict(r=[["1"], [0]]), "r", (0, 0), "expected a number"),
]


@pytest.mark.parametrize("desc,kw,argument,index,text", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_naming_argument_and_index(desc, kw, argument, index, text):
    base = dict(P=[[[p, 1 - p]], [[0, 1]]], r=[[1], [0]], gamma=g, rho0=None, terminal=None)
    base.update(kw)
    with pytest.raises(ValidationError) as err:
        MDP(**base)
    assert err.value.argument == argument
    assert err.value.index == index
    assert text in str(err.value)


def test_terminal_state_must_pay_zero():
    with pytest.raises(ValidationError) as err:
        MDP([[[R(1, 2), R(1, 2)]], [[0, 1]]], [[1], [3]], g, terminal=[False, True])
    assert err.value.argument == "terminal" and err.value.index == (1, 0)


def test_reward_table_sas_is_reduced_with_P():
    # r(s,a) = Σ_s' P(s'|s,a) r(s,a,s') = p·2 + (1−p)·4 = 4 − 2p (hand-derived)
    m = MDP([[[p, 1 - p]], [[0, 1]]], [[[2, 4]], [[0, 0]]], g)
    assert sympy.expand(m.r[0, 0] - (4 - 2 * p)) == 0


def test_general_mdp_rows_are_distributions():
    m = general_mdp(3, 2)
    for s in range(3):
        for a in range(2):
            assert sympy.expand(sum(m.P[s, a, t] for t in range(3))) == 1
    assert sympy.expand(sum(m.rho0)) == 1
    # 3·2·2 transition symbols, 6 rewards, 2 of ρ₀, γ
    assert len(m.free_symbols) == 12 + 6 + 2 + 1


def test_general_mdp_with_terminal_state():
    m = general_mdp(3, 2, terminal=[False, False, True], gamma=1)
    assert m.terminal == (False, False, True)
    assert m.P[2, 1, 2] == 1 and m.r[2, 0] == 0 and m.rho0[2] == 0


def test_rationalize_recovers_the_published_fractions():
    exact = rationalize(two_state())
    t = two_state_tables()
    for s in range(2):
        for a in range(2):
            expected = [R(x.numerator, x.denominator) for x in t["P"][s][a]]
            assert [exact.P[s, a, u] for u in range(2)] == expected
    assert exact.gamma == R(9, 10)
    assert list(exact.rho0) == [R(1, 2), R(1, 2)]


def test_rationalize_refuses_numbers_without_a_short_fraction():
    P = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    with pytest.raises(ValidationError) as err:
        rationalize(NumericMDP(P, [[np.pi], [0.0]], gamma=0.5))
    assert err.value.argument == "r" and err.value.index == (0, 0)


def test_subs_and_to_numeric_round_trip():
    m = MDP(GOOD_P, GOOD_R, g)
    num = m.subs({p: R(1, 3), g: R(1, 2)}).to_numeric()
    assert num.P[0, 0, 0] == pytest.approx(1 / 3, rel=1e-15)
    assert num.gamma == 0.5
    with pytest.raises(ValidationError):
        m.to_numeric()  # free symbols left
    with pytest.raises(ValidationError) as err:
        m.subs({p: R(3, 2)})  # P[0,0,1] = −1/2
    assert err.value.argument == "P"


def test_policies_probabilities_and_rational_form_agree():
    pol = TabularSoftmax(2, 3)
    th = pol.symbols()
    rp = pol.rational(th)
    back = rp.pi.xreplace({z: sympy.exp(t) for z, t in rp.exp_of.items()})
    assert all(sympy.simplify(x - y) == 0 for x, y in zip(back, pol.probabilities(th), strict=True))
    phi = np.zeros((2, 2, 2), dtype=int)
    phi[0, 1, 0] = 1
    phi[1, 0, 1] = -1
    ll = LogLinear(phi)
    rp = ll.rational(ll.symbols())
    back = rp.pi.xreplace({z: sympy.exp(t) for z, t in rp.exp_of.items()})
    assert all(sympy.simplify(x - y) == 0 for x, y in zip(back, ll.probabilities(ll.symbols()), strict=True))
    assert Direct(2, 2).probabilities(Direct(2, 2).symbols()) == Direct(2, 2).symbols()


def test_policies_reject_bad_theta_and_features():
    pol = TabularSoftmax(2, 2)
    with pytest.raises(ValidationError) as err:
        pol.rational(sympy.Matrix([[p, p], [q, g]]))
    assert err.value.argument == "theta"
    with pytest.raises(ValidationError) as err:
        pol.probabilities(sympy.Matrix([[p, q]]))
    assert err.value.argument == "theta"
    with pytest.raises(ValidationError) as err:
        LogLinear(np.full((1, 2, 1), R(1, 2), dtype=object))
    assert err.value.argument == "phi"
