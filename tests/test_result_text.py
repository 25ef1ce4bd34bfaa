"""Every result type prints as one or two short lines: its class name, then its verdict.

The verdict word must be the one ``.holds`` (or ``.converges``, ``.differentiable``) gives, for a
case that holds and one that does not.
"""

from __future__ import annotations

import numpy as np
import pytest

import mdpgrad as mg
from mdpgrad.fields import circulation, field_jacobian, symmetry_verdict

#: One or two short lines: at most this many characters.
MAX_CHARS = 240


def _rotation(t):
    return np.array([-t[1], t[0]])


def _short(text: str, cls: str) -> str:
    assert text.startswith(f"{cls}: ")
    assert len(text) <= MAX_CHARS and text.count("\n") <= 1
    return text[len(cls) + 2:]


@pytest.mark.parametrize("grad, holds", [(lambda x: 3 * x ** 2, True), (lambda x: 3.1 * x ** 2, False)])
def test_gradient_check(grad, holds):
    chk = mg.check_gradient(lambda x: float(np.sum(x ** 3)), grad, np.ones((2, 2)))
    assert chk.holds == holds
    rest = _short(str(chk), "GradientCheck")
    assert rest.startswith("holds —" if holds else "FAILS —")
    assert "theta[" in rest and "4 coordinates" in rest


@pytest.mark.parametrize("M, holds", [(np.eye(2), True), (np.array([[1.0, 2.0], [0.0, 1.0]]), False)])
def test_symmetry_verdict(M, holds):
    v = symmetry_verdict(M)
    assert v.holds == holds
    assert _short(str(v), "SymmetryVerdict").startswith("symmetric —" if holds else "NOT symmetric —")


@pytest.mark.parametrize("F, word", [(lambda t: 2 * t, "gradient —"), (_rotation, "NOT a gradient —")])
def test_field_verdict(F, word):
    fv = mg.is_gradient_field(F, np.ones(2))
    assert fv.holds == (word == "gradient —")
    assert _short(str(fv), "FieldVerdict").startswith(word)


def test_field_verdict_undecided():
    fv = mg.is_gradient_field(_rotation, np.ones(2), field_error=0.1)
    assert not fv.holds and not fv.certified_not_gradient
    assert _short(str(fv), "FieldVerdict").startswith("undecided: field error too large —")


@pytest.mark.parametrize("F, holds", [(lambda t: 2 * t, True), (_rotation, False)])
def test_circulation(F, holds):
    c = circulation(F, np.ones(2), (0, 1))
    assert c.holds == holds
    assert _short(str(c), "Circulation").startswith("zero within its bound —" if holds
                                                    else "non-zero beyond its bound —")


def test_field_jacobian():
    text = str(field_jacobian(_rotation, np.ones(2)))
    assert _short(text, "FieldJacobian").startswith("2 x 2 by complex-step")


@pytest.mark.parametrize("name, holds", [("two-state-reversible", True), ("two-state", False)])
def test_td_symmetry(name, holds):
    ts = mg.td_symmetry(mg.get_example(name), mg.uniform_policy(2, 2))
    assert ts.holds == holds
    assert _short(str(ts), "TDSymmetry").startswith("gradient —" if holds else "NOT a gradient —")


@pytest.mark.parametrize("A, word", [(np.array([[-1.0, 2.0], [0.0, 0.5]]), "diverges —"),
                                     (np.array([[-1.0, 0.0], [0.0, -0.5]]), "converges —"),
                                     (np.array([[0.0, 1.0], [-1.0, 0.0]]),
                                      "does not converge —")])
def test_stability(A, word):
    st = mg.td.stability(A)
    assert st.converges == (word == "converges —") and st.diverges == (word == "diverges —")
    assert _short(str(st), "Stability").startswith(word)


@pytest.mark.parametrize("Q, differentiable", [(np.array([[0.0, 2.0], [4.0, 1.0]]), True),
                                               (np.array([[0.0, 2.0], [4.0, 4.0]]), False)])
def test_q_learning_jacobian(Q, differentiable):
    P = np.array([[[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    mdp = mg.MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=0.5)
    qj = mg.td.q_learning_jacobian(mdp, Q)
    assert qj.differentiable == differentiable
    assert _short(str(qj), "QLearningJacobian").startswith("differentiable —" if differentiable
                                                          else "NOT differentiable —")


def test_evaluation_and_its_error_estimate():
    ev = mg.evaluate(mg.get_example("two-state"), mg.uniform_policy(2, 2))
    rest = _short(str(ev), "Evaluation")
    assert f"J = {float(ev.J):.6g}" in rest and "2 states x 2 actions" in rest
    assert f"{ev.error.digits:.1f} significant digits" in rest
    rest = _short(str(ev.error), "ErrorEstimate")
    assert rest.startswith(f"{ev.error.digits:.1f} significant digits left")


def test_identity_results_print_both_sides():
    mdp, pol = mg.get_example("two-state"), mg.TabularSoftmax(2, 2)
    pd = mg.gradients.performance_difference(mdp, pol, np.ones((2, 2)), np.zeros((2, 2)))
    rest = _short(str(pd), "PerformanceDifference")
    assert f"{pd.lhs:.10g}" in rest and f"{pd.rhs:.10g}" in rest
    om = mg.gradients.occupancy_mass(mdp, mg.uniform_policy(2, 2))
    assert f"1/(1 − γ) = {1 / (1 - mdp.gamma):.10g}" in _short(str(om), "OccupancyMass")


def test_surrogate_and_sampling_results():
    mdp, pol = mg.get_example("two-state"), mg.TabularSoftmax(2, 2)
    trace = mg.surrogates.reuse_frozen_batch(mdp, pol, np.zeros((2, 2)), n_steps=3, step_size=1.0)
    rest = _short(str(trace), "ReuseTrace")
    assert rest.startswith("3 stop_gradient step(s)") and f"{trace.cosine[-1]:.3g}" in rest
    batch = mg.surrogates.freeze(mdp, pol, np.zeros((2, 2)))
    assert f"J(θ₀) = {batch.J:.10g}" in _short(str(batch), "FrozenBatch")
    traj = mg.sample(mg.get_example("short-corridor"), mg.uniform_policy(4, 2), 50, rng=0)
    rest = _short(str(traj), "Trajectories")
    assert rest.startswith(f"50 episodes, {traj.n_transitions} transitions")
