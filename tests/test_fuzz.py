"""Every public entry point refuses malformed input with a ValidationError, and nothing else.

For each public function a valid call on a two-state model is written down once (``CALLS``);
Hypothesis then replaces one argument at a time by something hostile: strings (including code),
None, dicts, booleans, complex, nan and inf entries, huge and negative integers, wrong shapes,
ragged nesting, and the valid array in every scipy.sparse format.  The only exception allowed
is :class:`mdpgrad.ValidationError` (its subclass NonTerminatingPolicyError included); a call
that succeeds must not return nan or inf (a silent wrong answer).  ``test_every_entry_point_is_fuzzed``
fails when a public callable has no entry in the table.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

import mdpgrad as mg
import mdpgrad.plot as mplot
from mdpgrad import ValidationError, fields, gradients, io, sampling, surrogates, td, variance
from mdpgrad import estimators as est
from mdpgrad import examples as ex

#: Examples per entry point: enough to try every kind of hostile value on most arguments.
EXAMPLES = 12

MDP2 = ex.two_state()
EPISODIC = ex.two_state_episodic(gamma=0.9)
POLICY = mg.TabularSoftmax(2, 2)
THETA = np.array([[0.3, -0.2], [0.1, 0.4]])
PI = mg.uniform_policy(2, 2)
Q = np.array([[1.0, 0.5], [0.2, -0.3]])
PHI = np.eye(4)[:, :3]
PHI3 = np.arange(12.0).reshape(2, 2, 3) / 12
BATCH = surrogates.freeze(MDP2, POLICY, THETA)
TRAJ = mg.sample(EPISODIC, PI, 4, rng=0)
GRID = ex.gridworld_example_4_1()
GRID_PI = mg.uniform_policy(16, 4)
GRID_V = mg.evaluate(GRID, GRID_PI).v
SAMPLES = np.random.default_rng(0).normal(size=(20, 2))
MOMENTS = est.estimator_moments(EPISODIC, POLICY, THETA, est.reinforce_estimator())


def _field(th: np.ndarray) -> np.ndarray:
    return mg.policy_gradient(MDP2, POLICY, th)


def _objective(th: np.ndarray) -> float:
    return mg.objective(MDP2, POLICY, th.reshape(2, 2))


def _field4(th: np.ndarray) -> np.ndarray:
    return mg.policy_gradient(MDP2, POLICY, th.reshape(2, 2)).ravel()


def _enter_and_leave(scope: Any) -> None:
    with scope:
        pass


class Call:
    """One valid call: ``fn(*args, **kwargs)``; every argument slot can be corrupted."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.fn, self.args, self.kwargs = fn, list(args), dict(kwargs)

    def slots(self) -> list[tuple[str | int, Any]]:
        return [(i, a) for i, a in enumerate(self.args)] + list(self.kwargs.items())

    def with_slot(self, slot: str | int, value: Any) -> Any:
        args, kwargs = list(self.args), dict(self.kwargs)
        if isinstance(slot, int):
            args[slot] = value
        else:
            kwargs[slot] = value
        return self.fn(*args, **kwargs)


CALLS: dict[str, Call] = {
    # top level
    "MDP": Call(mg.MDP, MDP2.P, MDP2.r, 0.9, rho0=[0.5, 0.5]),
    "TabularSoftmax": Call(mg.TabularSoftmax, 2, 2),
    "LogLinear": Call(mg.LogLinear, PHI3),
    "Direct": Call(mg.Direct, 2, 2),
    "evaluate": Call(mg.evaluate, MDP2, PI),
    "solve": Call(mg.solve, EPISODIC, "modified_policy_iteration", tol=1e-9, max_iter=1000, sweeps=3,
                  solver="lu", accuracy="refuse"),
    "visit_counts": Call(mg.visit_counts, EPISODIC, PI, discounted=False),
    "stationary_distribution": Call(mg.stationary_distribution, np.array([[0.9, 0.1], [0.3, 0.7]])),
    "objective": Call(mg.objective, MDP2, POLICY, THETA),
    "policy_gradient": Call(mg.policy_gradient, MDP2, POLICY, THETA),
    "policy_gradient_average": Call(mg.policy_gradient, MDP2, POLICY, THETA, criterion="average"),
    "objective_average": Call(mg.objective, MDP2, POLICY, THETA, criterion="average"),
    "average_reward": Call(mg.average_reward, MDP2, PI),
    "relative_value_iteration": Call(mg.relative_value_iteration, MDP2, tau=0.5, tol=1e-10, tie_tol=1e-9,
                                     reference=0),
    "check_gradient": Call(mg.check_gradient, lambda th: float(np.sum(th ** 2)), lambda th: 2 * th, THETA,
                           tol=1e-6),
    "policy_hessian": Call(mg.policy_hessian, MDP2, POLICY, THETA),
    "fisher_information": Call(mg.fisher_information, MDP2, POLICY, THETA),
    "natural_gradient": Call(mg.natural_gradient, MDP2, POLICY, THETA, rcond=1e-10),
    "expected_update_without_discount": Call(mg.expected_update_without_discount, EPISODIC, POLICY, THETA),
    "td_symmetry": Call(mg.td_symmetry, MDP2, PI, rtol=1e-9),
    "is_gradient_field": Call(mg.is_gradient_field, _field, THETA, rtol=1e-9),
    "sample": Call(mg.sample, EPISODIC, PI, 3, rng=0, horizon=None),
    "check_estimator": Call(mg.check_estimator, EPISODIC, POLICY, THETA, est.reinforce_estimator(),
                            n_episodes=20, alpha=0.01, rng=0),
    "assert_unbiased": Call(mg.assert_unbiased, EPISODIC, POLICY, THETA, est.reinforce_estimator(),
                            n_episodes=20, alpha=1e-9, rng=0),
    "uniform_policy": Call(mg.uniform_policy, 2, 2),
    "greedy_policy": Call(mg.greedy_policy, Q),
    "epsilon_greedy_policy": Call(mg.epsilon_greedy_policy, Q, 0.1),
    "get_example": Call(mg.get_example, "two-state"),
    "save": Call(lambda mdp, name: mg.save(mdp, name), MDP2, "/nonexistent-dir/m.txt"),
    "load": Call(mg.load, "/nonexistent-dir/m.zip"),
    "set_memory_limit": Call(lambda n: mg.set_memory_limit(mg.set_memory_limit(n)), 2**32),
    "memory_limit_scope": Call(lambda n: _enter_and_leave(mg.memory_limit_scope(n)), 2**32),
    # gradients
    "recursion_gradient": Call(gradients.recursion_gradient, MDP2, POLICY, THETA),
    "softmax_gradient": Call(gradients.softmax_gradient, MDP2, THETA),
    "loglinear_gradient": Call(gradients.loglinear_gradient, MDP2, PHI3, np.ones(3)),
    "direct_gradient": Call(gradients.direct_gradient, MDP2, PI),
    "hessian_vector_product": Call(gradients.hessian_vector_product, MDP2, POLICY, THETA, Q),
    "fisher_vector_product": Call(gradients.fisher_vector_product, MDP2, POLICY, THETA, Q),
    "naive_swap_gradient": Call(gradients.naive_swap_gradient, MDP2, POLICY, THETA, [[0, 0, 1]], [[1, 0]]),
    "baseline_term": Call(gradients.baseline_term, MDP2, POLICY, THETA, [1.0, 2.0]),
    "baseline_gradient": Call(gradients.baseline_gradient, MDP2, POLICY, THETA, [1.0, 2.0]),
    "performance_difference": Call(gradients.performance_difference, MDP2, POLICY, THETA, Q),
    "occupancy_mass": Call(gradients.occupancy_mass, MDP2, PI),
    # surrogates
    "freeze": Call(surrogates.freeze, MDP2, POLICY, THETA),
    "stop_gradient_surrogate": Call(surrogates.stop_gradient_surrogate, BATCH, POLICY, THETA),
    "stop_gradient_surrogate_gradient": Call(surrogates.stop_gradient_surrogate_gradient, BATCH, POLICY,
                                             THETA),
    "live_surrogate": Call(surrogates.live_surrogate, MDP2, POLICY, THETA),
    "live_surrogate_gradient": Call(surrogates.live_surrogate_gradient, MDP2, POLICY, THETA),
    "importance_surrogate": Call(surrogates.importance_surrogate, BATCH, POLICY, THETA),
    "importance_surrogate_gradient": Call(surrogates.importance_surrogate_gradient, BATCH, POLICY, THETA),
    "ppo_clip_surrogate": Call(surrogates.ppo_clip_surrogate, BATCH, POLICY, THETA, 0.2),
    "ppo_clip_surrogate_gradient": Call(surrogates.ppo_clip_surrogate_gradient, BATCH, POLICY, THETA, 0.2),
    "clip_active": Call(surrogates.clip_active, np.ones((2, 2)), Q, 0.2),
    "reuse_frozen_batch": Call(surrogates.reuse_frozen_batch, MDP2, POLICY, THETA, n_steps=2, step_size=0.5,
                               clip=0.2),
    # fields
    "field_jacobian": Call(fields.field_jacobian, _field, THETA),
    "symmetry_verdict": Call(fields.symmetry_verdict, np.array([[1.0, 2.0], [2.0, 1.0]]), rtol=1e-9,
                             atol=0.0),
    "circulation": Call(fields.circulation, _field, THETA, (0, 1), min_nodes=8, max_nodes=16),
    # td
    "diagonal_weights": Call(td.diagonal_weights, MDP2, PI, "stationary"),
    "td_update": Call(td.td_update, MDP2, PI, Q, D=[1.0, 1.0, 1.0, 1.0]),
    "td_jacobian": Call(td.td_jacobian, MDP2, PI, D=[1.0, 1.0, 1.0, 1.0]),
    "td_update_v": Call(td.td_update_v, MDP2, PI, [1.0, 2.0]),
    "td_jacobian_v": Call(td.td_jacobian_v, MDP2, PI),
    "differential_td_update": Call(td.differential_td_update, MDP2, PI, [0.5, -0.5], 0.2, phi=None,
                                   D="stationary", beta=0.5),
    "differential_td_jacobian": Call(td.differential_td_jacobian, MDP2, PI, phi=np.eye(2)[:, :1], beta=0.5),
    "differential_td_symmetry": Call(td.differential_td_symmetry, MDP2, PI, D="identity"),
    "q_learning_update": Call(td.q_learning_update, MDP2, Q),
    "q_learning_jacobian": Call(td.q_learning_jacobian, MDP2, Q, tie_atol=0.0),
    "reversibility_verdict": Call(td.reversibility_verdict, np.array([[0.5, 0.5], [0.5, 0.5]]), rtol=1e-9),
    "linear_td_update": Call(td.linear_td_update, MDP2, PI, PHI, np.ones(3), lam=0.5),
    "linear_td_jacobian": Call(td.linear_td_jacobian, MDP2, PI, PHI, lam=0.5),
    "td_fixed_point": Call(td.td_fixed_point, MDP2, PI, PHI),
    "regression_update": Call(td.regression_update, MDP2, PI, PHI, np.ones(3)),
    "regression_jacobian": Call(td.regression_jacobian, MDP2, PI, PHI),
    "regression_solution": Call(td.regression_solution, MDP2, PI, PHI),
    "residual_gradient_update": Call(td.residual_gradient_update, MDP2, PI, PHI, np.ones(3)),
    "residual_gradient_jacobian": Call(td.residual_gradient_jacobian, MDP2, PI, PHI),
    "stability": Call(td.stability, -np.eye(2), atol=1e-10),
    "iterate_expected_update": Call(td.iterate_expected_update, MDP2, PI, PHI, np.zeros(3), step_size=0.1,
                                    n_steps=3),
    # sampling
    "truncation_bound": Call(sampling.truncation_bound, MDP2, 10),
    "group_start_states": Call(sampling.group_start_states, MDP2, 2, 3, rng=0),
    "Trajectories": Call(sampling.Trajectories, TRAJ.states, TRAJ.actions, TRAJ.rewards, TRAJ.lengths,
                         "terminal", 0.9),
    # estimators
    "reinforce_estimator": Call(lambda: est.reinforce_estimator().estimate(TRAJ, POLICY, THETA)),
    "reinforce_without_discount_estimator": Call(
        lambda traj: est.reinforce_without_discount_estimator().estimate(traj, POLICY, THETA), TRAJ),
    "estimator_moments": Call(est.estimator_moments, EPISODIC, POLICY, THETA,
                              est.baseline_estimator([1.0, 0.0]), protocol="terminal", horizon=None),
    "baseline_variances": Call(est.baseline_variances, EPISODIC, POLICY, THETA, protocol="terminal",
                               horizon=None),
    "sgd_step": Call(est.sgd_step, EPISODIC, POLICY, THETA, est.reinforce_estimator(), 0.1, n_episodes=4,
                     protocol="terminal", horizon=None),
    "critical_step_size": Call(est.critical_step_size, 1.0, -2.0),
    "sample_size": Call(est.sample_size, MOMENTS, np.full((2, 2), 0.1), alpha=0.01, power=0.9),
    "whole_return_estimator": Call(lambda th: est.whole_return_estimator().estimate(TRAJ, POLICY, th), THETA),
    "baseline_estimator": Call(lambda b: est.baseline_estimator(b).estimate(TRAJ, POLICY, THETA), [0.5, 0.0]),
    "value_baseline": Call(est.value_baseline, EPISODIC, POLICY, THETA),
    "gae_estimator": Call(lambda v, lam: est.gae_estimator(v, lam).estimate(TRAJ, POLICY, THETA),
                          [0.5, 0.0], 0.9),
    "ppo_estimator": Call(lambda old, clip: est.ppo_estimator(old, clip).expectation(
        EPISODIC, POLICY, THETA, protocol="horizon", horizon=3), THETA + 0.1, 0.2),
    "grpo_estimator": Call(lambda g, eps: est.grpo_estimator(g, eps=eps).estimate(TRAJ, POLICY, THETA), 2,
                           1e-8),
    # variance
    "return_variance": Call(variance.return_variance, MDP2, PI),
    "advantage_draws_covariance": Call(variance.advantage_draws_covariance, MDP2, POLICY, THETA),
    "effective_sample_size": Call(variance.effective_sample_size, np.arange(12.0).reshape(4, 3), 1.0),
    "sample_efficiency": Call(variance.sample_efficiency, EPISODIC, POLICY, THETA, est.reinforce_estimator(),
                              n_episodes=8, rng=0),
    # examples
    "baird_counterexample": Call(ex.baird_counterexample, 0.99),
    "cliff_walking": Call(ex.cliff_walking, 1.0),
    "short_corridor": Call(ex.short_corridor),
    "garnet": Call(ex.garnet, 4, 2, 2, gamma=0.9, rng=0),
    "gridworld_example_3_5": Call(ex.gridworld_example_3_5, 0.9),
    "gridworld_example_4_1": Call(ex.gridworld_example_4_1),
    "gamblers_problem": Call(ex.gamblers_problem, 0.4, goal=8),
    "jacks_car_rental": Call(ex.jacks_car_rental, max_cars=3, max_move=1),
    "access_control_queuing": Call(ex.access_control_queuing, n_servers=2),
    "random_walk": Call(ex.random_walk, 5, left_reward=0.0, right_reward=1.0, gamma=1.0),
    "slippery_gridworld": Call(ex.slippery_gridworld, 3, 3, slip=0.2, gamma=0.9),
    "two_state": Call(ex.two_state, 0.9),
    "two_state_episodic": Call(ex.two_state_episodic, 1.0),
    "two_state_reversible": Call(ex.two_state_reversible, 0.9),
    "two_state_tables": Call(ex.two_state_tables),
    # io
    "mdp_to_dict": Call(io.mdp_to_dict, MDP2),
    "mdp_from_dict": Call(io.mdp_from_dict, io.mdp_to_dict(MDP2)),
    "from_gymnasium": Call(io.from_gymnasium, {0: {0: [(1.0, 1, 1.0, True)]}, 1: {0: [(1.0, 1, 0.0, True)]}},
                           gamma=0.9, rho0=[1.0, 0.0]),
    "convert_gymnasium": Call(io.convert_gymnasium, {0: {0: [(1.0, 0, 1.0, False)]}}, gamma=0.9,
                              rho0="uniform"),
    "from_mdptoolbox": Call(io.from_mdptoolbox, np.array([[[0.5, 0.5], [0.0, 1.0]]]), np.array([1.0, 0.0]),
                            0.9),
    # plot (without ax= each call draws on a new figure of its own)
    "grid_values": Call(mplot.grid_values, GRID, GRID_V, policy=GRID_PI, label="v", cmap="viridis",
                        fmt="{:.1f}", title="t"),
    "action_directions": Call(mplot.action_directions, GRID),
    "slice_contour": Call(mplot.slice_contour, _objective, np.zeros(4), np.eye(4)[0], np.eye(4)[1],
                          extent=(-1.0, 1.0, -1.0, 1.0), n=3, levels=4, label="J"),
    "slice_field": Call(mplot.slice_field, _field4, np.zeros(4), np.eye(4)[0], np.eye(4)[1],
                        extent=(-1.0, 1.0, -1.0, 1.0), n=3, kind="quiver", label="F"),
    "slice_loop": Call(mplot.slice_loop, _field4, np.zeros(4), np.eye(4)[0], np.eye(4)[1], radius=0.5,
                       at=(0.0, 0.0)),
    "landscape": Call(mplot.landscape, MDP2, POLICY, THETA, np.eye(4)[0].reshape(2, 2),
                      np.eye(4)[1].reshape(2, 2), n=3, kind="quiver"),
    "value_polytope": Call(mplot.value_polytope, MDP2, fill=True, label_vertices=True),
    "trajectory": Call(mplot.trajectory, np.array([[0.0, 1.0], [1.0, 2.0]]), label="path"),
    "matrix": Call(mplot.matrix, Q, antisymmetric=True, witness=(0, 1), labels=["a", "b"]),
    "eigenvalues": Call(mplot.eigenvalues, Q, step_size=0.1, label="λ"),
    "trace": Call(mplot.trace, [1.0, 2.0, 3.0], steps=[0, 1, 2], label="J", ylabel="J"),
    "figure_problems": Call(mplot.figure_problems, Figure(dpi=150), min_dpi=150.0, min_text_size=9.0),
    "style": Call(mplot.style),
    "estimator_histogram": Call(mplot.estimator_histogram, SAMPLES, [0.0, 0.0], [0.1, 0.1], coordinate=1,
                                bins=5),
    "estimator_scatter": Call(mplot.estimator_scatter, SAMPLES, [0.0, 0.0], [0.1, 0.1], coordinates=(0, 1),
                              max_points=10),
}

#: Entries that are not callables of their own (results, protocols, errors) need no call.
NOT_CALLED = {"AverageReward", "MultichainPolicyError", "InconclusiveTestWarning", "MIN_DPI", "MIN_TEXT_SIZE",
              "STYLE",
              "Evaluation", "Policy", "ValidationError", "NonTerminatingPolicyError", "GradientCheck",
              "ErrorEstimate", "InaccurateResultError", "InaccurateResultWarning",
              "OccupancyMass", "PerformanceDifference", "FrozenBatch", "ReuseTrace", "Circulation",
              "FieldJacobian", "FieldVerdict", "SymmetryVerdict", "QLearningJacobian", "Stability",
              "TDSymmetry", "Estimator", "EstimatorCheck", "EstimatorMoments", "BaselineVariances", "SGDStep",
              "ReturnVariance", "SampleEfficiency", "BairdCounterexample", "GymnasiumConversion", "EXAMPLES",
              "PROTOCOLS", "Solution", "DEFAULT_SWEEPS", "DEFAULT_TOL", "LP_TIE_TOL",
              "ContourPicture", "EigenvaluePicture", "FieldPicture", "GridPicture", "LandscapePicture",
              "LoopPicture", "MatrixPicture", "PolytopePicture", "SamplePicture", "TracePicture"}

NAMESPACES = ["mdpgrad", "mdpgrad.control", "mdpgrad.gradients", "mdpgrad.surrogates", "mdpgrad.fields",
              "mdpgrad.td", "mdpgrad.sampling", "mdpgrad.estimators", "mdpgrad.variance", "mdpgrad.examples",
              "mdpgrad.io", "mdpgrad.plot"]


def test_every_entry_point_is_fuzzed():
    public = {n for ns in NAMESPACES for n in importlib.import_module(ns).__all__}
    assert sorted(public - set(CALLS) - NOT_CALLED) == []


def test_every_valid_call_succeeds():
    """The table itself is right: each call, uncorrupted, returns without error (load/save aside)."""
    failures = []
    for name, call in CALLS.items():
        if name in ("load", "save"):
            continue
        try:
            call.fn(*call.args, **call.kwargs)
        except Exception as exc:  # noqa: BLE001 - report every failure at once
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    assert failures == []


def _sparse_forms(value: Any) -> list[Any]:
    arr = np.asarray(value) if not sp.issparse(value) else value.toarray()
    if arr.ndim != 2 or arr.dtype.kind not in "biuf":
        arr = np.eye(2)
    return [sp.csr_array(arr), sp.csc_array(arr), sp.coo_array(arr), sp.lil_array(arr), sp.dok_array(arr),
            sp.bsr_array(arr), sp.dia_array(arr), sp.csr_matrix(arr)]


def _poisoned(value: Any, bad: float | complex) -> Any:
    """The valid array with its first entry replaced by ``bad`` (nan, inf, a complex number)."""
    try:
        arr = np.array(value, dtype=complex if isinstance(bad, complex) else float)
    except (TypeError, ValueError):
        return np.array([bad])
    if arr.size == 0:
        return np.array([bad])
    arr.flat[0] = bad
    return arr


def hostile_values(valid: Any) -> st.SearchStrategy[Any]:
    plain = st.sampled_from([
        None, "", "abc", "__import__('os').getcwd()", {}, {"a": 1}, True, [], [[1.0], [1.0, 2.0]], object(),
        10**400, -10**400, 2**63, -1, 0, 1.5, float("nan"), float("inf"), -float("inf"), 1j, b"x",
        np.zeros((7, 7, 7)), np.array([]), np.array(["a", "b"]), np.array([1, 2], dtype=object),
    ])
    derived = st.sampled_from([_poisoned(valid, float("nan")), _poisoned(valid, float("inf")),
                               _poisoned(valid, 1 + 1j), _poisoned(valid, 10.0**300)] + _sparse_forms(valid))
    return st.one_of(plain, derived)


def _finite(result: Any) -> bool:
    if isinstance(result, mplot.TracePicture):      # NaN in a trace is a documented gap, drawn as one
        return True
    if isinstance(result, np.ndarray) and result.dtype.kind in "fc":
        return bool(np.isfinite(result).all())
    if isinstance(result, (float, complex)):
        return bool(np.isfinite(result))
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return all(_finite(getattr(result, f.name)) for f in dataclasses.fields(result)
                   if f.name not in ("rho0", "truncation_bound", "statistic", "p_value", "bound",
                                     "effective_sample_size", "kurtosis_ratio", "max_abs_standardized_bias",
                                     "sampled_standard_error", "standardized_bias", "untested_difference"))
    return True


@pytest.mark.parametrize("name", sorted(CALLS))
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True, phases=[Phase.generate])
@given(data=st.data())
def test_hostile_arguments_raise_only_validation_errors(name, data):
    call = CALLS[name]
    slots = call.slots()
    if not slots:
        return
    slot, valid = data.draw(st.sampled_from(slots), label="argument")
    value = data.draw(hostile_values(valid), label="value")
    try:
        result = call.with_slot(slot, value)
    except ValidationError:
        return
    assert _finite(result), f"{name} returned a non-finite result for {slot}={value!r}"


def test_public_callables_take_the_arguments_the_table_uses():
    """The table calls functions by their documented keyword names (a renamed argument fails here)."""
    for name, call in CALLS.items():
        fn = call.fn
        if getattr(fn, "__name__", "") == "<lambda>" or inspect.isclass(fn):
            continue
        params = inspect.signature(fn).parameters
        assert set(call.kwargs) <= set(params), name
