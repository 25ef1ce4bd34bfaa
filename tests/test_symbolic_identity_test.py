"""The probabilistic identity test: degree bounds hold, acceptance carries its error bound, and
refutations come with exact counterexamples checked by an independent exact computation."""

from fractions import Fraction

import pytest
import sympy
from sympy import Rational as R

from mdpgrad import ValidationError
from mdpgrad import symbolic as sym
from mdpgrad.symbolic import _proof_contexts as contexts
from mdpgrad.symbolic import _proof_degrees as degrees
from mdpgrad.symbolic import _proof_theorems as theorems
from mdpgrad.symbolic._gradients import lift_policies

GENERAL2 = sym.general_mdp(2, 2)
SOFT2 = sym.TabularSoftmax(2, 2)


def _total_degree(poly):
    return max((sum(m) for m in poly.itermonoms()), default=0)


def _degrees(mdp, pairs, build, extra=()):
    """Largest total degree of the reduced numerators and denominators of both sides and of the
    difference, over every scalar identity, from the exact expansion in the fraction field."""
    pm = lift_policies(mdp, pairs, extra_symbols=list(extra))
    K = pm.space.field
    items, _ = build(contexts.ExactCtx(pm))
    worst = 0
    for _, lhs, rhs in items:
        for f in (K(lhs), K(rhs), K(lhs) - K(rhs)):
            worst = max(worst, _total_degree(f.numer), _total_degree(f.denom))
    return worst


# -- the degree bound ------------------------------------------------------------------------------


def test_degree_bounds_are_hand_formulas():
    # m = 2e + 1 with e = 1 (general_mdp has entries of degree 1): written out here, not computed
    assert degrees.proof_degree_bound("theorem", 2) == 3 * 3 + 5 == 14
    assert degrees.proof_degree_bound("theorem", 4) == 3 * 7 + 5 == 26
    assert degrees.proof_degree_bound("theorem", 3, visits="normalised") == 3 * 7 + 8 == 29
    assert degrees.proof_degree_bound("recursion", 3) == 3 * 5 + 6 == 21
    assert degrees.proof_degree_bound("performance difference", 3) == 3 * 5 + 2 + 3 + 1 == 21
    assert degrees.proof_degree_bound("theorem", 2, 2) == 5 * 3 + 7 == 22
    with pytest.raises(ValidationError):
        degrees.proof_degree_bound("theorem", 2, visits="stationary")
    with pytest.raises(ValidationError):
        degrees.proof_degree_bound("hessian", 2)


def test_entry_degree_reads_the_model():
    p, q = sympy.symbols("p q")
    assert degrees.entry_degree([p, 1 - p, R(1, 2)], [p]) == 1
    assert degrees.entry_degree([p * q, p ** 2 * q], [p, q]) == 3
    assert degrees.entry_degree([R(1, 3)], []) == 1  # at least 1
    assert degrees.entry_degree([1 / (1 + p)], [p]) is None  # not a polynomial: no bound


@pytest.mark.slow
def test_the_degree_bound_is_an_upper_bound_on_the_general_two_state_model():
    th = SOFT2.symbols()
    labels = theorems._labels(SOFT2.rational(th))
    b = list(sympy.symbols("b0 b1"))
    cases = [
        ("theorem", "discounted", [(SOFT2, th)],
         lambda c: theorems._theorem_items(c, labels, "discounted", "q"), ()),
        ("theorem", "normalised", [(SOFT2, th)],
         lambda c: theorems._theorem_items(c, labels, "normalised", "advantage"), ()),
        ("recursion", "discounted", [(SOFT2, th)], lambda c: theorems._recursion_items(c, labels), ()),
        ("baseline", "discounted", [(SOFT2, th)], lambda c: theorems._baseline_items(c, labels, b), b),
        ("performance difference", "discounted", [(SOFT2, th), (SOFT2, SOFT2.symbols("vartheta"))],
         theorems._difference_items, ()),
    ]
    for identity, visits, pairs, build, extra in cases:
        actual = _degrees(GENERAL2, pairs, build, extra)
        bound = degrees.proof_degree_bound(identity, 2, visits=visits)
        assert 0 < actual <= bound, (identity, visits, actual, bound)


# -- the error probability at its boundary ---------------------------------------------------------


def test_points_needed_at_the_boundary():
    bound = Fraction(1, 2 ** 100)
    # δ/(|T| − δ) = 2^-50 exactly: two points reach 2^-100 exactly (≤ accepts), one does not
    assert degrees.points_needed(1, 2 ** 50 + 1) == 2
    assert Fraction(1, 2 ** 50) ** 2 == bound
    # one element fewer: (1/(2^50 − 1))² > 2^-100, a third point is needed
    assert degrees.points_needed(1, 2 ** 50) == 3
    assert Fraction(1, 2 ** 50 - 1) ** 2 > bound >= Fraction(1, 2 ** 50 - 1) ** 3
    # the default set of the identity test, δ = 20 (3x2 theorem): one point is not enough, two are
    d, size = 20, 2 ** 64
    t = degrees.points_needed(d, size)
    assert t == 2
    assert Fraction(d, size - d) ** (t - 1) > bound >= Fraction(d, size - d) ** t
    assert degrees.error_probability(d, size, t) == Fraction(d, size - d) ** t
    with pytest.raises(ValidationError) as err:
        degrees.points_needed(20, 40)  # |T| ≤ 2δ: a point accepts a false identity w.p. ≥ 1/2
    assert err.value.argument == "sample_bits"


# -- correct identities are accepted, with the stated bound ----------------------------------------


@pytest.mark.parametrize("prove, identity", [
    (sym.prove_policy_gradient_theorem, "theorem"),
    (sym.prove_recursion_form, "recursion"),
    (sym.prove_baseline_identity, "baseline"),
    (sym.prove_performance_difference, "performance difference"),
])
def test_three_state_identities_are_accepted_with_their_error_probability(prove, identity):
    mdp = sym.general_mdp(3, 2)
    assert len(mdp.free_symbols) == 21  # every P entry, r, ρ₀ and γ a symbol
    res = prove(mdp, sym.TabularSoftmax(3, 2), rng=7)
    delta = {"theorem": 20, "recursion": 21, "baseline": 20, "performance difference": 21}[identity]
    assert res.status == "probable" and res.method == "identity test" and res.holds and not res.certain
    assert res.degree_bound == delta and res.n_points == 2
    assert res.error_probability == Fraction(delta, 2 ** 64 - delta) ** 2 <= Fraction(1, 2 ** 100)
    assert "probabilistic" in str(res) and "NOT a proof" in str(res)


def test_fewer_sample_bits_take_more_points():
    res = sym.prove_policy_gradient_theorem(sym.general_mdp(3, 2), sym.TabularSoftmax(3, 2),
                                            sample_bits=20, rng=1)
    size, d = 2 ** 20, 20
    t = res.n_points
    assert Fraction(d, size - d) ** (t - 1) > Fraction(1, 2 ** 100) >= Fraction(d, size - d) ** t
    assert res.error_probability == Fraction(d, size - d) ** t


def test_identity_test_agrees_with_the_exact_proofs_on_two_states():
    for prove in (sym.prove_policy_gradient_theorem, sym.prove_recursion_form, sym.prove_baseline_identity,
                  sym.prove_performance_difference):
        exact = prove(GENERAL2, SOFT2, method="exact")
        tested = prove(GENERAL2, SOFT2, method="identity test", rng=3)
        assert exact.status == "proved" and exact.method == "exact"
        assert tested.status == "probable"


# -- wrong identities: exact counterexamples, checked independently --------------------------------


def _check_theorem_counterexample(mdp, pol, res):
    """Recompute both sides at the point with the exact evaluation (no jets, no identity test):
    lhs = d/dt J along θₖ = t, differentiated by sympy; rhs = d(s) π(a|s) adv(s,a) ∂log π(a|s)/∂θₖ."""
    S, A = mdp.n_states, mdp.n_actions
    theta = pol.symbols()
    values = {k: v for k, v in res.point.items() if k in mdp.free_symbols}
    assert set(values) == mdp.free_symbols
    model = mdp.subs(values)  # validates: the point is a genuine MDP
    assert 0 < values[sympy.Symbol("gamma")] < 1
    z = [[sympy.exp(res.point[theta[s, a]]) for a in range(A)] for s in range(S)]
    assert all(x.is_Rational and x > 0 for row in z for x in row)
    k = next(i for i, t in enumerate(theta) if res.label == f"∂/∂{t}")
    sk, ak = divmod(k, A)
    t = sympy.Symbol("t", real=True)
    w = [[sympy.exp(t) if (s, a) == (sk, ak) else z[s][a] for a in range(A)] for s in range(S)]
    J = sym.evaluate(model, [[w[s][a] / sum(w[s]) for a in range(A)] for s in range(S)], validate=False).J
    lhs = sympy.cancel(sympy.diff(J, t).subs(t, sympy.log(z[sk][ak])))
    pi = [[z[s][a] / sum(z[s]) for a in range(A)] for s in range(S)]
    ev = sym.evaluate(model, pi)
    d = ev.eta[sk] / sum(ev.eta)  # the wrong, normalised weights
    rhs = sum(d * pi[sk][a] * ev.advantage[sk, a] * ((1 if a == ak else 0) - pi[sk][ak]) for a in range(A))
    assert lhs.is_Rational and lhs == res.lhs
    assert sympy.nsimplify(rhs) == res.rhs
    assert lhs - rhs == res.value != 0


@pytest.mark.parametrize("n_states", [3, 4])
def test_a_wrong_formula_gets_an_exact_counterexample(n_states):
    mdp, pol = sym.general_mdp(n_states, 2), sym.TabularSoftmax(n_states, 2)
    res = sym.prove_policy_gradient_theorem(mdp, pol, visits="normalised", rng=5)
    assert res.status == "counterexample" and not res and res.certain and res.error_probability == 0
    _check_theorem_counterexample(mdp, pol, res)


def test_identity_test_counterexample_matches_the_fraction_field_on_two_states():
    res = sym.prove_policy_gradient_theorem(GENERAL2, SOFT2, visits="normalised", method="identity test",
                                            rng=11)
    assert res.method == "identity test" and res.status == "counterexample"
    _check_theorem_counterexample(GENERAL2, SOFT2, res)
    # the same difference, as a reduced rational function, evaluated at the point
    th = SOFT2.symbols()
    pm = lift_policies(GENERAL2, [(SOFT2, th)])
    items, _ = theorems._theorem_items(contexts.ExactCtx(pm), theorems._labels(SOFT2.rational(th)),
                                       "normalised", "advantage")
    label, lhs, rhs = next(i for i in items if i[0] == res.label)
    raw = {}
    for g in pm.space.gens:
        v = sympy.exp(res.point[pm.space.exp_of[g]]) if g in pm.space.exp_of else res.point[g]
        raw[g] = Fraction(int(v.p), int(v.q))
    assert pm.space.evaluate(lhs - rhs, raw) == Fraction(int(res.value.p), int(res.value.q))


# -- routes and limits -----------------------------------------------------------------------------


def test_exact_budget_switches_auto_to_the_identity_test():
    # the exact 2x2 proof takes ≈ 0.3 s; a 1 ms budget cannot hold it
    res = sym.prove_policy_gradient_theorem(GENERAL2, SOFT2, exact_budget=0.001, precheck=False)
    assert res.method == "identity test" and res.status == "probable"
    with pytest.raises(ValidationError) as err:
        sym.prove_policy_gradient_theorem(GENERAL2, SOFT2, exact_budget=0.001, method="exact", precheck=False)
    assert err.value.argument == "exact_budget"
    assert sym.prove_policy_gradient_theorem(GENERAL2, SOFT2, exact_budget=600).method == "exact"


def test_bad_route_arguments_are_refused():
    with pytest.raises(ValidationError) as err:
        sym.prove_policy_gradient_theorem(GENERAL2, SOFT2, method="monte carlo")
    assert err.value.argument == "method"
    with pytest.raises(ValidationError) as err:  # no degree bound for direct parameters
        sym.prove_policy_gradient_theorem(GENERAL2, sym.Direct(2, 2), values="q", method="identity test")
    assert err.value.argument == "method"
    with pytest.raises(ValidationError) as err:  # 2^4 = 16 ≤ 2δ = 28
        sym.prove_policy_gradient_theorem(GENERAL2, SOFT2, method="identity test", sample_bits=4)
    assert err.value.argument == "sample_bits"
    with pytest.raises(ValidationError) as err:
        sym.prove_policy_gradient_theorem(GENERAL2, SOFT2, exact_budget=-1.0)
    assert err.value.argument == "exact_budget"
