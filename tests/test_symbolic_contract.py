"""The symbolic layer keeps the input contract: no string becomes code, no name is shared, no clash.

Regression cases from a hostile-input trial, each failing on the code before the fix.
"""

import pathlib

import pytest
import sympy

from mdpgrad import ValidationError
from mdpgrad import symbolic as sym

PAYLOAD = "__import__('pathlib').Path({path!r}).touch()*0+1/2"


def _bandit(p):
    return sym.MDP([[[p, 1 - p], [0, 1]], [[0, 1], [0, 1]]], [[1, 0], [0, 0]], sympy.Rational(9, 10), [1, 0],
                   [False, True])


@pytest.mark.parametrize("call", [
    lambda m, s: sym.evaluate(m, [[s, sympy.Rational(1, 2)], [1, 0]]),
    lambda m, s: sym.policy_gradient(m, sym.Direct(2, 2), [[s, sympy.Rational(1, 2)], [1, 0]]),
    lambda m, s: sym.stationary_distribution([[s, sympy.Rational(1, 2)], [0, 1]]),
    lambda m, s: sym.td_update(m, [[1, 0], [1, 0]], [[s, 0], [0, 0]]),
    lambda m, s: sym.td_update(m, [[1, 0], [1, 0]], D=[s, 1, 1, 1]),
    lambda m, s: sym.symmetry_verdict([[0, s], [1, 0]]),
    lambda m, s: sym.prove_equal([s], [1]),
    lambda m, s: sym.MDP([[[s, 1 - sympy.Rational(1, 2)]]], [[0]], 0),
])
def test_a_string_is_refused_and_never_run(call, tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(ValidationError):
        call(_bandit(sympy.Rational(1, 3)), PAYLOAD.format(path=str(marker)))
    assert not marker.exists()


@pytest.mark.parametrize("value", [sympy.I, 1 + sympy.I, sympy.sqrt(-1), sympy.oo, -sympy.oo, sympy.zoo,
                                   sympy.nan])
@pytest.mark.parametrize("where", ["P", "r", "gamma", "rho0"])
def test_non_real_values_are_refused(value, where):
    P = [[[sympy.Rational(1, 2), sympy.Rational(1, 2)]], [[0, 1]]]
    r = [[1], [0]]
    gamma, rho0 = sympy.Rational(1, 2), [1, 0]
    if where == "P":
        P[0][0][0] = value
    elif where == "r":
        r[0][0] = value
    elif where == "gamma":
        gamma = value
    else:
        rho0 = [value, 0]
    with pytest.raises(ValidationError) as err:
        sym.MDP(P, r, gamma, rho0)
    assert err.value.argument == where


def test_a_theta_symbol_shared_with_the_model_is_refused():
    p, x, y, z = sympy.symbols("p x y z")
    mdp = _bandit(p)
    with pytest.raises(ValidationError) as err:
        sym.prove_policy_gradient_theorem(mdp, sym.TabularSoftmax(2, 2), sympy.Matrix([[p, x], [y, z]]))
    assert err.value.argument == "theta" and "p" in str(err.value)
    with pytest.raises(ValidationError):
        sym.policy_gradient(mdp, sym.TabularSoftmax(2, 2), sympy.Matrix([[p, x], [y, z]]))


def test_with_distinct_symbols_the_gradient_is_the_derivative_of_J():
    """The case the clash hid: ∂J/∂θ₀₀ equals d/dθ₀₀ of the returned J at p = 1/3."""
    p, w, x, y, z = sympy.symbols("p w x y z")
    mdp, pol, th = _bandit(p), sym.TabularSoftmax(2, 2), sympy.Matrix([[w, x], [y, z]])
    J = sym.objective(mdp, pol, th)
    g = sym.policy_gradient(mdp, pol, th)
    point = {p: sympy.Rational(1, 3), w: 0, x: 0, y: 0, z: 0}
    assert sympy.simplify((g[0, 0] - sympy.diff(J, w)).subs(point)) == 0
    assert sym.prove_policy_gradient_theorem(mdp, pol, th).holds


@pytest.mark.parametrize("S, A", [(12, 2), (12, 11), (11, 3)])
def test_symbol_names_are_unique_for_every_size(S, A):
    mdp = sym.general_mdp(S, A, rho0=False)
    names = [str(e) for e in mdp.P if isinstance(e, sympy.Symbol)] + [str(e) for e in mdp.r]
    assert len(names) == len(set(names))


def test_the_cases_that_collided_have_distinct_names():
    m = sym.general_mdp(12, 2, rho0=False)
    assert m.P[1, 0, 10] != m.P[10, 1, 0]
    m = sym.general_mdp(12, 11, rho0=False)
    assert m.r[1, 10] != m.r[11, 0]
    theta = sym.TabularSoftmax(12, 12).symbols()
    assert len(set(theta)) == 144
    assert sym.TabularSoftmax(12, 12).rational(theta).pi.shape == (12, 12)


def test_small_models_keep_compact_names():
    assert str(sym.general_mdp(2, 2).P[1, 0, 0]) == "p100"
    assert str(sym.TabularSoftmax(2, 3).symbols()[1, 2]) == "theta12"


def test_no_module_of_the_symbolic_layer_parses_raw_input():
    """sympy.Matrix, ImmutableMatrix, sympify and parse_expr would parse strings: none is called."""
    root = pathlib.Path(sym.__file__).parent
    offenders = []
    for path in root.glob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if ">>>" in code:
                continue
            if "sympy.Matrix(" in code or "sympy.ImmutableMatrix(" in code or "sympify(" in code \
                    or "parse_expr(" in code:
                offenders.append(f"{path.name}:{n}")
    assert offenders == []


@pytest.mark.parametrize("make", [lambda: sym.general_mdp(0, 2), lambda: sym.general_mdp(2, 2.5),
                                  lambda: sym.TabularSoftmax(0, 2), lambda: sym.Direct(2, -1)])
def test_sizes_are_positive_integers(make):
    with pytest.raises(ValidationError):
        make()


# -- size limits: refused at once, with the size -----------------------------------------------

def test_a_fully_symbolic_three_state_exact_proof_is_refused_not_run_for_minutes():
    with pytest.raises(ValidationError) as err:
        sym.prove_policy_gradient_theorem(sym.general_mdp(3, 2), sym.TabularSoftmax(3, 2), method="exact")
    assert err.value.argument == "mdp" and err.value.value == 21 and "max_symbols" in str(err.value)
    # without a degree bound (direct parameters) "auto" has no identity test to fall back on
    with pytest.raises(ValidationError) as err:
        sym.prove_policy_gradient_theorem(sym.general_mdp(3, 2), sym.Direct(3, 2), values="q")
    assert err.value.argument == "mdp" and err.value.value == 21


def test_above_the_symbol_limit_auto_switches_to_the_identity_test():
    res = sym.prove_policy_gradient_theorem(sym.general_mdp(3, 2), sym.TabularSoftmax(3, 2))
    assert res.status == "probable" and res.method == "identity test" and not res.certain


def test_a_wrong_identity_still_gets_its_counterexample_at_any_size():
    res = sym.prove_policy_gradient_theorem(sym.general_mdp(3, 2), sym.TabularSoftmax(3, 2),
                                            visits="normalised")
    assert not res.holds and res.point


def test_the_symbol_limit_at_its_boundary():
    """The general 2x2 model has exactly 10 symbols: max_symbols=10 proves exactly; 9 refuses the
    exact route and sends "auto" to the identity test."""
    mdp, pol = sym.general_mdp(2, 2), sym.TabularSoftmax(2, 2)
    assert len(mdp.free_symbols) == 10
    res = sym.prove_policy_gradient_theorem(mdp, pol, max_symbols=10)
    assert res.status == "proved" and res.method == "exact"
    with pytest.raises(ValidationError):
        sym.prove_policy_gradient_theorem(mdp, pol, max_symbols=9, method="exact")
    assert sym.prove_policy_gradient_theorem(mdp, pol, max_symbols=9).method == "identity test"


def test_rationalize_refuses_large_models_at_once():
    from mdpgrad.examples import slippery_gridworld
    from mdpgrad.symbolic._model import MAX_SYMBOLIC_ENTRIES

    big = slippery_gridworld(45, 45, gamma=0.9)              # sparse: 24,286 non-zero probabilities
    with pytest.raises(ValidationError) as err:
        sym.rationalize(big)
    assert err.value.value > MAX_SYMBOLIC_ENTRIES
    dense = slippery_gridworld(12, 12, gamma=0.9)
    dense = dense.replace(P=dense.P_dense())                  # dense: 144·4·144 = 82,944 entries
    with pytest.raises(ValidationError) as err:
        sym.rationalize(dense)
    assert err.value.value == 144 * 4 * 144


# -- every symbolic entry point, one argument at a time -------------------------------------------

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

HALF = sympy.Rational(1, 2)
SMDP = sym.MDP([[[HALF, HALF], [0, 1]], [[0, 1], [0, 1]]], [[1, 0], [0, 0]], sympy.Rational(9, 10), [1, 0],
               [False, True])
SPI = [[HALF, HALF], [1, 0]]
SPOL = sym.TabularSoftmax(2, 2)

SYMBOLIC_CALLS = {
    "MDP": (sym.MDP, [SMDP.P, SMDP.r, SMDP.gamma, list(SMDP.rho0)]),
    "evaluate": (sym.evaluate, [SMDP, SPI]),
    "visit_counts": (sym.visit_counts, [SMDP, SPI]),
    "stationary_distribution": (sym.stationary_distribution, [[[HALF, HALF], [0, 1]]]),
    "objective": (sym.objective, [SMDP, SPOL, SPOL.symbols()]),
    "policy_gradient": (sym.policy_gradient, [SMDP, SPOL, SPOL.symbols()]),
    "expected_update_without_discount": (sym.expected_update_without_discount, [SMDP, SPOL, SPOL.symbols()]),
    "td_update": (sym.td_update, [SMDP, SPI, [[1, 0], [0, 0]]]),
    "td_jacobian": (sym.td_jacobian, [SMDP, SPI]),
    "td_update_v": (sym.td_update_v, [SMDP, SPI, [1, 0]]),
    "td_jacobian_v": (sym.td_jacobian_v, [SMDP, SPI]),
    "symmetry_verdict": (sym.symmetry_verdict, [[[0, 1], [1, 0]]]),
    "detailed_balance_conditions": (sym.detailed_balance_conditions, [SMDP, SPI]),
    "general_mdp": (sym.general_mdp, [2, 2]),
    "q_symbols": (sym.q_symbols, [2, 2]),
    "solve": (sym.solve, [SMDP]),
    "rationalize": (sym.rationalize, [mg_two_state := __import__("mdpgrad").get_example("two-state")]),
    "prove_equal": (sym.prove_equal, [HALF, HALF]),
    "prove_policy_gradient_theorem": (sym.prove_policy_gradient_theorem, [SMDP, SPOL]),
    "average_reward": (sym.average_reward, [SMDP, SPI]),
    "prove_average_policy_gradient": (sym.prove_average_policy_gradient, [SMDP, SPOL]),
    "TabularSoftmax": (sym.TabularSoftmax, [2, 2]),
    "Direct": (sym.Direct, [2, 2]),
    "estimator_moments": (lambda m, pol, th, kind, b: sym.estimator_moments(m, pol, th, kind, baseline=b),
                          [SMDP, SPOL, [[0, 0], [0, 0]], "baseline", [HALF, 0]]),
}
HOSTILE = [None, "", "x+1", "__import__('os').getcwd()", {}, True, 1.5, float("nan"), 10**400, -1, 1j,
           sympy.I, sympy.oo, sympy.nan, [[1.0], [1.0, 2.0]], np.array([np.nan]), sp.csr_array(np.eye(2))]


@pytest.mark.parametrize("name", sorted(SYMBOLIC_CALLS))
def test_symbolic_entry_points_refuse_hostile_arguments_with_validation_errors(name):
    fn, args = SYMBOLIC_CALLS[name]
    fn(*args)                                        # the valid call works
    wrong = []
    for k in range(len(args)):
        for value in HOSTILE:
            bad = list(args)
            bad[k] = value
            try:
                fn(*bad)
            except ValidationError:
                continue
            except Exception as exc:  # noqa: BLE001 - collect every escape
                wrong.append(f"arg {k} = {value!r}: {type(exc).__name__}: {str(exc)[:60]}")
    assert wrong == []


def test_every_symbolic_entry_point_is_in_the_table():
    import inspect

    callables = {n for n in sym.__all__ if callable(getattr(sym, n))}
    results = {"Evaluation", "EstimatorMoments", "ProofResult", "RationalPolicy", "SymmetryVerdict",
               "LogLinear", "AverageReward", "Solution",
               "prove_baseline_identity", "prove_performance_difference", "prove_recursion_form",
               "update_jacobian"}
    assert sorted(callables - set(SYMBOLIC_CALLS) - results) == []
    assert all(inspect.isclass(getattr(sym, n)) or n.startswith(("prove_", "update_")) for n in results)
