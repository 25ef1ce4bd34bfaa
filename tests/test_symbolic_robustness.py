"""Symbol clashes, contradictory assumptions, support-changing rationalisation, huge exact numbers,
and the one-line verdicts of the symbolic results."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy

import mdpgrad as mg
from mdpgrad import ValidationError
from mdpgrad import symbolic as sym
from mdpgrad._validation import format_number

HALF = sympy.Rational(1, 2)
#: 5,000 digits: above Python's default int-to-str limit of 4,300 (sys.set_int_max_str_digits).
HUGE = sympy.Rational(10**4999 + 1, 3)


# -- default value symbols must not merge with the model's ---------------------------------------

def test_td_update_refuses_a_model_symbol_named_like_its_q_symbols():
    Q00 = sympy.Symbol("Q00")
    mdp = sym.MDP([[[1]]], [[Q00]], HALF)
    with pytest.raises(ValidationError, match="Q00") as err:
        sym.td_update(mdp, [[1]])
    assert err.value.argument == "Q" and err.value.value == "Q00"
    q = sympy.Symbol("q")  # explicit values keep the reward term
    assert sympy.expand(sym.td_update(mdp, [[1]], Q=[[q]])[0, 0] - (Q00 + HALF * q - q)) == 0


def test_td_update_v_refuses_a_model_symbol_named_like_its_v_symbols():
    V0 = sympy.Symbol("V0", real=True)  # same name, other assumptions: still the same printed symbol
    mdp = sym.MDP([[[1]]], [[V0]], HALF)
    with pytest.raises(ValidationError, match="V0") as err:
        sym.td_update_v(mdp, [[1]])
    assert err.value.argument == "v"
    V1 = sympy.Symbol("V1")  # a name the default symbols do not use (one state: only V0)
    assert sym.td_update_v(sym.MDP([[[1]]], [[V1]], HALF), [[1]])[0, 0].has(V1)


def test_an_internal_exp_symbol_clash_is_located_in_the_model():
    z = sympy.Symbol("z_theta00", positive=True)
    mdp = sym.MDP([[[1]]], [[z]], HALF)
    pol = sym.TabularSoftmax(1, 1)
    with pytest.raises(ValidationError, match="model uses the symbol z_theta00") as err:
        sym.objective(mdp, pol, pol.symbols())
    assert "in theta" not in str(err.value) and err.value.argument == "mdp"
    t = sympy.Symbol("theta00", real=True)  # a real θ symbol in the model: both places named
    with pytest.raises(ValidationError, match="both in the model and in theta"):
        sym.objective(sym.MDP([[[1]]], [[t]], HALF), pol, pol.symbols())


# -- γ's assumptions ---------------------------------------------------------------------------

@pytest.mark.parametrize("gamma", [sympy.Symbol("gamma", negative=True),
                                   sympy.Symbol("gamma", positive=False),
                                   sympy.Symbol("gamma", nonpositive=True),
                                   sympy.Symbol("gamma", nonnegative=False),
                                   sympy.Symbol("c", positive=True) + 1])
def test_gamma_with_assumptions_outside_the_unit_interval_is_refused(gamma):
    with pytest.raises(ValidationError, match="by its assumptions") as err:
        sym.MDP([[[1]]], [[1]], gamma)
    assert err.value.argument == "gamma"


@pytest.mark.parametrize("gamma", [sympy.Symbol("gamma"), sympy.Symbol("gamma", nonnegative=True),
                                   sympy.Symbol("gamma", positive=True), sympy.Symbol("gamma", real=True)])
def test_gamma_whose_assumptions_allow_the_unit_interval_is_accepted(gamma):
    assert sym.MDP([[[1]]], [[1]], gamma).gamma == gamma


# -- rationalize keeps the support ---------------------------------------------------------------

def test_rationalize_refuses_to_turn_a_tiny_nonzero_number_into_zero():
    P = np.array([[[0.5, 0.5]], [[0.0, 1.0]]])
    with pytest.raises(ValidationError, match="not zero") as err:
        sym.rationalize(mg.MDP(P, np.array([[1e-300], [0.0]]), 0.9))
    assert err.value.argument == "r" and err.value.index == (0, 0) and err.value.value == 1e-300
    exact = sym.rationalize(mg.MDP(P, np.array([[1e-6], [0.0]]), 0.9))  # a short fraction: kept
    assert exact.r[0, 0] == sympy.Rational(1, 10**6) and exact.r[1, 0] == 0
    fine = sym.rationalize(mg.MDP(P, np.array([[1e-300], [0.0]]), 0.9), max_denominator=10**301)
    assert fine.r[0, 0] != 0 and fine.r[1, 0] == 0


# -- exact numbers of more digits than str() prints ---------------------------------------------

def test_format_number_writes_a_5000_digit_number_with_its_digit_count():
    assert format_number(10**4999 + 1) == "1.000000000000e+4999 (5000 digits)"
    assert format_number(Fraction(-(10**4999) - 1, 3)) == "-1.000000000000e+4999 (5000 digits)/3"
    assert format_number(Fraction(1, 3)) == "1/3"


def test_the_symbolic_api_handles_a_5000_digit_numerator():
    mdp = sym.MDP([[[1]]], [[HUGE]], HALF)
    assert "symbolic MDP" in repr(mdp)
    ev = sym.evaluate(mdp, [[1]])
    assert ev.v[0] == 2 * HUGE and "5000 digits" in str(ev) and "5000 digits" in repr(ev)
    with pytest.raises(ValidationError, match="5000 digits") as err:
        sym.MDP([[[1]]], [[1]], HUGE)
    assert err.value.argument == "gamma"
    x = sympy.Symbol("x")
    res = sym.prove_equal(HUGE * x, x)
    assert not res.holds and "5000 digits" in str(res) and "5000 digits" in repr(res)
    assert "4999 digits" in res.latex()  # the difference HUGE − 1/3 = (10^4999 − 2)/3 ... over 9
    assert "5000 digits" in repr(ev) and "5000 digits" in repr(sym.prove_equal(HUGE, 0))
    with pytest.raises(ValidationError, match="5000 digits"):
        sym.td_update(mdp, [[1]], D=[-HUGE])


# -- one-line verdicts -------------------------------------------------------------------------

def test_proof_result_text_starts_with_its_class_and_verdict():
    mdp, pol = sym.general_mdp(2, 2), sym.TabularSoftmax(2, 2)
    results = [sym.prove_policy_gradient_theorem(mdp, pol),
               sym.prove_policy_gradient_theorem(mdp, pol, visits="normalised"),
               sym.prove_policy_gradient_theorem(sym.general_mdp(3, 2), sym.TabularSoftmax(3, 2), rng=5)]
    assert [r.status for r in results] == ["proved", "counterexample", "probable"]
    for r in results:
        text = str(r)
        assert text.startswith("ProofResult: ") and len(text.splitlines()) <= 2
        verdict = text.splitlines()[0].split(" — ")[0]
        assert ("FALSE" in verdict) == (not r.holds)
        assert ("proved exactly" in verdict) == (r.status == "proved")
        assert ("probably holds" in verdict) == (r.status == "probable")
    assert "inside the model's domain" in str(results[1])


def test_symmetry_verdict_text_starts_with_its_class_and_verdict():
    a, b = sympy.symbols("a b")
    yes = sym.symmetry_verdict(sympy.Matrix([[0, a], [a, 0]]))
    no = sym.symmetry_verdict(sympy.Matrix([[0, a], [b, 0]]))
    assert str(yes).startswith("SymmetryVerdict: symmetric") and yes.holds
    assert str(no).startswith("SymmetryVerdict: NOT symmetric") and not no.holds
    assert all(len(str(v).splitlines()) <= 2 for v in (yes, no))


def test_evaluation_and_moments_text_starts_with_their_class():
    mdp = sym.MDP([[[HALF, HALF]], [[0, 1]]], [[1], [0]], 1, rho0=[1, 0], terminal=[False, True])
    assert str(sym.evaluate(mdp, [[1], [1]])) == ("Evaluation: exact v, q, adv, η, d, μ of a policy on "
                                                  "2 states, 1 actions; J = 2")
    mom = sym.estimator_moments(mdp, sym.TabularSoftmax(2, 1), sympy.zeros(2, 1))
    assert str(mom).startswith("EstimatorMoments: ") and len(str(mom).splitlines()) == 1


def test_the_report_skips_the_exact_section_instead_of_changing_the_support():
    from mdpgrad._report.base import build_context
    from mdpgrad._report.symbolic import symbolic_section

    P = np.array([[[0.5, 0.5], [0.2, 0.8]], [[0.3, 0.7], [1.0, 1e-300]]])  # a valid float model
    section = symbolic_section(build_context("tiny", mg.MDP(P, np.eye(2), 0.9)))
    assert section.ok and section.data["skipped"] and "P[1, 1, 1] = 1e-300" in section.data["reason"]
