"""Every result type has a compact ``repr`` (one line: class, verdict, scalars, array shapes) and the
verdict types a ``describe()`` that explains the verdict on a few lines.

The default dataclass repr printed every array in full: an Evaluation of a 60-state model ran to
thousands of characters.  ``repr`` here must stay short whatever the size of the model.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy

import mdpgrad as mg
from mdpgrad import symbolic as sym
from mdpgrad.estimators import estimator_moments, reinforce_estimator

#: A repr is one line of at most this many characters, for any model size (the longest, FieldVerdict's
#: and ProofResult's, hold about 300).
MAX_REPR = 400
#: States of the random model: large enough that printing one array in full would pass MAX_REPR.
S, A = 60, 3


def _model(seed: int = 0) -> mg.MDP:
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    return mg.MDP(P, rng.normal(size=(S, A)), gamma=0.9)


def _compact(text: str, cls: str) -> str:
    assert text.startswith(f"{cls}(") and text.endswith(")")
    assert "\n" not in text and len(text) <= MAX_REPR, text
    assert "array([" not in text and "Matrix([" not in text
    return text


def _verdict_first(text: str, cls: str, holds: bool) -> None:
    assert text.startswith(f"{cls}(holds={holds},")


def test_evaluation_repr_shows_shapes_not_numbers():
    ev = mg.evaluate(_model(), mg.uniform_policy(S, A))
    text = _compact(repr(ev), "Evaluation")
    assert f"v=<array ({S},)>" in text and f"q=<array ({S}, {A})>" in text
    assert f"J={float(ev.J):.4g}" in text


@pytest.mark.parametrize("scale, holds", [(3.0, True), (3.1, False)])
def test_gradient_check_repr_and_describe(scale, holds):
    chk = mg.check_gradient(lambda x: float(np.sum(x ** 3)), lambda x: scale * x ** 2, np.ones((S, A)))
    text = _compact(repr(chk), "GradientCheck")
    _verdict_first(text, "GradientCheck", holds)
    assert f"gradient=<array ({S}, {A})>" in text and f"tol={chk.tol:.4g}" in text
    lines = chk.describe().splitlines()
    assert lines[0].startswith("GradientCheck holds" if holds else "GradientCheck FAILS")
    assert f"tolerance: {chk.tol:.3g}" in chk.describe() and lines[-1].startswith("  next:")


def test_gradient_check_describe_at_its_tolerance():
    # the pass mark is max_error <= tol: a tolerance just above the error passes, just below fails
    f, g = (lambda x: float(np.sum(x ** 3))), (lambda x: 3.001 * x ** 2)
    err = mg.check_gradient(f, g, np.ones(3)).max_error
    inside, outside = mg.check_gradient(f, g, np.ones(3), tol=err * (1 + 1e-9)), \
        mg.check_gradient(f, g, np.ones(3), tol=err * (1 - 1e-9))
    assert inside.holds and not outside.holds
    assert "times below the tolerance" in inside.describe()
    assert re.search(r"the error is 1(\.0+)? times the tolerance", outside.describe())


@pytest.mark.parametrize("name, holds", [("two-state-reversible", True), ("two-state", False)])
def test_td_symmetry_repr_and_describe(name, holds):
    ts = mg.td_symmetry(mg.get_example(name), mg.uniform_policy(2, 2))
    text = _compact(repr(ts), "TDSymmetry")
    _verdict_first(text, "TDSymmetry", holds)
    assert f"symmetry=<SymmetryVerdict holds={holds}>" in text
    out = ts.describe()
    assert out.splitlines()[0].endswith("is the gradient of any function of the values" if holds else
                                         "is NOT the gradient of any function of the values")
    assert f"tolerance {ts.symmetry.tolerance:.3g}" in out and ts.explanation in out
    assert ("next:" in out) == (not holds)


def test_td_symmetry_repr_of_a_large_model():
    ts = mg.td_symmetry(_model(), mg.uniform_policy(S, A))
    assert f"weights=<array ({S * A},)>" in _compact(repr(ts), "TDSymmetry")


def test_field_verdict_repr():
    fv = mg.is_gradient_field(lambda t: np.array([-t[1], t[0]]), np.ones(2))
    text = _compact(repr(fv), "FieldVerdict")
    _verdict_first(text, "FieldVerdict", False)
    assert "status='not a gradient'" in text and "jacobian=<FieldJacobian>" in text


def test_estimator_moments_repr():
    mdp, pol = mg.get_example("short-corridor"), mg.TabularSoftmax(4, 2)
    mom = estimator_moments(mdp, pol, np.zeros((4, 2)), reinforce_estimator())
    text = _compact(repr(mom), "EstimatorMoments")
    assert "second_moment=<array (8, 8)>" in text and f"protocol={mom.protocol!r}" in text


@pytest.mark.parametrize("scale, holds", [(1.0, True), (1.5, False)])
def test_estimator_check_repr_and_describe(scale, holds):
    mdp, pol, theta = mg.get_example("short-corridor"), mg.TabularSoftmax(4, 2), np.zeros((4, 2))
    est = reinforce_estimator()
    exact = est.expectation(mdp, pol, theta, protocol="terminal")
    check = mg.check_estimator(mdp, pol, theta, est, n_episodes=2000, target=scale * exact, rng=0)
    assert check.holds == holds
    text = _compact(repr(check), "EstimatorCheck")
    _verdict_first(text, "EstimatorCheck", holds)
    assert "mean=<array (4, 2)>" in text and f"estimator={check.estimator!r}" in text
    out = check.describe()
    assert out.startswith(check.report()) and out.splitlines()[-1].startswith("  next:")


def test_proof_result_repr_and_describe():
    x = sympy.Symbol("x")
    false = sym.prove_equal(3 * x, x)
    text = _compact(repr(false), "ProofResult")
    _verdict_first(text, "ProofResult", False)
    assert "status='counterexample'" in text and "point={x: 1/3}" in text and "value=2/3" in text
    assert false.describe().splitlines()[:3] == [
        "ProofResult: FALSE — lhs = rhs", "  counterexample: entry (0, 0) at x = 1/3",
        "  lhs = 1, rhs = 1/3, lhs − rhs = 2/3"]
    proved = sym.prove_equal((x + 1) ** 2, x ** 2 + 2 * x + 1)
    _verdict_first(_compact(repr(proved), "ProofResult"), "ProofResult", True)
    assert "certain" in proved.describe() and "proved exactly" in proved.describe()


def test_probable_proof_describe_states_its_error_bound():
    res = sym.prove_policy_gradient_theorem(sym.general_mdp(2, 2), sym.TabularSoftmax(2, 2),
                                            method="identity test", rng=0)
    assert res.status == "probable"
    out = res.describe()
    assert "NOT a proof" in out and f"{float(res.error_probability):.3g}" in out
    assert f"at {res.n_points} random points" in out


def _other_results():
    """One instance of every other result type, on models large enough to fill a screen if printed."""
    from mdpgrad.estimators import baseline_variances, sgd_step
    from mdpgrad.fields import circulation, field_jacobian, symmetry_verdict

    corridor, soft = mg.get_example("short-corridor"), mg.TabularSoftmax(4, 2)
    zeros = np.zeros((4, 2))
    two, pol2 = mg.get_example("two-state"), mg.TabularSoftmax(2, 2)
    big = _model()
    P = np.array([[[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    return [
        mg.sample(corridor, mg.uniform_policy(4, 2), 1000, rng=0),
        field_jacobian(lambda t: -t, np.ones(S)),
        circulation(lambda t: np.array([-t[1], t[0]]), np.ones(2), (0, 1)),
        symmetry_verdict(np.eye(S)),
        mg.td.stability(-np.eye(S)),
        mg.td.q_learning_jacobian(mg.MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=0.5),
                                  np.array([[0.0, 2.0], [4.0, 1.0]])),
        mg.evaluate(big, mg.uniform_policy(S, A)).error,
        mg.variance.return_variance(big, mg.uniform_policy(S, A)),
        mg.variance.sample_efficiency(corridor, soft, zeros, reinforce_estimator(), n_episodes=200),
        mg.gradients.performance_difference(two, pol2, np.ones((2, 2)), np.zeros((2, 2))),
        mg.gradients.occupancy_mass(big, mg.uniform_policy(S, A)),
        mg.surrogates.freeze(two, pol2, np.zeros((2, 2))),
        mg.surrogates.reuse_frozen_batch(two, pol2, np.zeros((2, 2)), n_steps=3, step_size=1.0),
        baseline_variances(corridor, soft, zeros),
        sgd_step(corridor, soft, zeros, reinforce_estimator(), 0.1),
    ]


def test_every_other_result_type_has_a_compact_repr():
    for result in _other_results():
        cls = type(result).__name__
        text = _compact(repr(result), cls)
        for verdict in ("holds", "converges", "differentiable"):
            if hasattr(result, verdict):
                assert text.startswith(f"{cls}({verdict}={bool(getattr(result, verdict))},")
                break


def test_control_and_average_reward_results_are_compact():
    gambler = mg.get_example("gamblers-problem")
    _compact(repr(mg.solve(gambler)), "Solution")
    access = mg.get_example("access-control")
    opt = mg.relative_value_iteration(access)
    _compact(repr(opt), "AverageOptimum")
    ar = _compact(repr(mg.average_reward(access, opt.policy)), "AverageReward")
    assert "bias=<array (44,)>" in ar
