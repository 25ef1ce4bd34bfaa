"""mdpgrad: exact analysis of finite MDPs.

Values, occupancies, the exact policy gradient and the TD semi-gradient's
Jacobian, computed in closed form from the transition tensor P[s, a, s'].

Glossary (symbol, code name, shape)
-----------------------------------
====  ===========  ====================  =========================================
S, A  n_states,    ints                  numbers of states and actions
      n_actions
P     P            (S, A, S) or sparse   Pr(s' | s, a); sparse form (S·A, S),
                   (S·A, S)              row s·A + a
r     r            (S, A)                expected immediate reward
γ     gamma        float                 discount, 0 ≤ γ ≤ 1
ρ₀    rho0         (S,)                  start-state distribution
—     terminal     (S,) bool             absorbing zero-reward states
π     pi           (S, A)                row-stochastic policy table
θ     theta        any                   policy parameters
P^π   P_pi         (S, S)                state chain under π
r^π   r_pi         (S,)                  expected reward under π
v     v            (S,)                  state values
q     q            (S, A)                action values
adv   advantage    (S, A)                q − v
η     eta          (S,)                  Σ_t γᵗ Pr(s_t = s), expected discounted visits
d     d            (S,)                  η / Σ η
μ     mu           (S, A)                d(s) π(a|s)
J     J            float                 ρ₀ · v
====  ===========  ====================  =========================================

A state-action pair is indexed x = s·A + a throughout.
"""

from . import convert, examples, io
from .convert import from_gymnasium, from_mdptoolbox
from .errors import NonTerminatingPolicyError, ValidationError
from .estimators import (
    Estimator,
    baseline_estimator,
    gae_estimator,
    grpo_estimator,
    ppo_estimator,
    reinforce_estimator,
    reinforce_without_discount_estimator,
    value_baseline,
    whole_return_estimator,
)
from .evaluation import (
    Evaluation,
    bellman_matrix,
    evaluate,
    masked_chain,
    policy_matrix,
    state_chain,
    stationary_distribution,
    stuck_states,
    visit_counts,
)
from .examples import EXAMPLES, get_example
from .fields import (
    SYMMETRY_RTOL,
    Circulation,
    FieldJacobian,
    FieldVerdict,
    SymmetryVerdict,
    circulation,
    field_jacobian,
    is_gradient_field,
    symmetry_verdict,
)
from .gradients import (
    COMPLEX_STEP,
    FD_TOL,
    GradientCheck,
    check_gradient,
    direct_gradient,
    expected_update_without_discount,
    loglinear_gradient,
    objective,
    policy_gradient,
    recursion_gradient,
    softmax_gradient,
)
from .harness import EstimatorCheck, assert_unbiased, check_estimator
from .identities import (
    OccupancyMass,
    PerformanceDifference,
    baseline_gradient,
    baseline_term,
    naive_swap_gradient,
    occupancy_mass,
    performance_difference,
)
from .io import load, save
from .linear import (
    Stability,
    iterate_expected_update,
    linear_td_jacobian,
    linear_td_update,
    regression_jacobian,
    regression_solution,
    regression_update,
    residual_gradient_jacobian,
    residual_gradient_update,
    stability,
    td_fixed_point,
)
from .model import DEFAULT_ATOL, MDP
from .policies import (
    Direct,
    LogLinear,
    Policy,
    TabularSoftmax,
    check_policy,
    epsilon_greedy_policy,
    greedy_policy,
    uniform_policy,
)
from .sampling import PROTOCOLS, Trajectories, group_start_states, sample, truncation_bound
from .second_order import (
    NATURAL_RCOND,
    complex_step_jacobian,
    fisher_information,
    fisher_vector_product,
    hessian_vector_product,
    natural_gradient,
    policy_hessian,
)
from .surrogates import (
    FrozenBatch,
    ReuseTrace,
    freeze,
    importance_surrogate,
    importance_surrogate_gradient,
    live_surrogate,
    live_surrogate_gradient,
    ppo_clip_surrogate,
    ppo_clip_surrogate_gradient,
    reuse_frozen_batch,
    stop_gradient_surrogate,
    stop_gradient_surrogate_gradient,
)
from .td import (
    QLearningJacobian,
    TDSymmetry,
    pair_chain,
    q_learning_jacobian,
    q_learning_update,
    reversibility_verdict,
    td_jacobian,
    td_jacobian_v,
    td_symmetry,
    td_update,
    td_update_v,
    weighting,
)
from .variance import (
    ReturnVariance,
    SampleEfficiency,
    advantage_draws_covariance,
    effective_sample_size,
    return_variance,
    sample_efficiency,
)

__version__ = "0.1.0"


def __getattr__(name: str):  # PEP 562: imported on first use
    # mg.strategies needs hypothesis (a test extra); mg.symbolic needs sympy, slow to import
    if name in ("strategies", "symbolic"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "COMPLEX_STEP",
    "Circulation",
    "DEFAULT_ATOL",
    "Direct",
    "EXAMPLES",
    "Estimator",
    "EstimatorCheck",
    "Evaluation",
    "FD_TOL",
    "FieldJacobian",
    "FieldVerdict",
    "FrozenBatch",
    "GradientCheck",
    "LogLinear",
    "MDP",
    "NATURAL_RCOND",
    "NonTerminatingPolicyError",
    "OccupancyMass",
    "PROTOCOLS",
    "PerformanceDifference",
    "Policy",
    "QLearningJacobian",
    "ReturnVariance",
    "ReuseTrace",
    "SYMMETRY_RTOL",
    "SampleEfficiency",
    "Stability",
    "SymmetryVerdict",
    "TDSymmetry",
    "TabularSoftmax",
    "Trajectories",
    "ValidationError",
    "advantage_draws_covariance",
    "assert_unbiased",
    "baseline_estimator",
    "baseline_gradient",
    "baseline_term",
    "bellman_matrix",
    "check_estimator",
    "check_gradient",
    "check_policy",
    "circulation",
    "complex_step_jacobian",
    "convert",
    "direct_gradient",
    "effective_sample_size",
    "epsilon_greedy_policy",
    "evaluate",
    "examples",
    "expected_update_without_discount",
    "field_jacobian",
    "fisher_information",
    "fisher_vector_product",
    "freeze",
    "from_gymnasium",
    "from_mdptoolbox",
    "gae_estimator",
    "get_example",
    "greedy_policy",
    "group_start_states",
    "grpo_estimator",
    "hessian_vector_product",
    "importance_surrogate",
    "importance_surrogate_gradient",
    "io",
    "is_gradient_field",
    "iterate_expected_update",
    "linear_td_jacobian",
    "linear_td_update",
    "live_surrogate",
    "live_surrogate_gradient",
    "load",
    "loglinear_gradient",
    "masked_chain",
    "naive_swap_gradient",
    "natural_gradient",
    "objective",
    "occupancy_mass",
    "pair_chain",
    "performance_difference",
    "policy_gradient",
    "policy_hessian",
    "policy_matrix",
    "ppo_clip_surrogate",
    "ppo_clip_surrogate_gradient",
    "ppo_estimator",
    "q_learning_jacobian",
    "q_learning_update",
    "recursion_gradient",
    "regression_jacobian",
    "regression_solution",
    "regression_update",
    "reinforce_estimator",
    "reinforce_without_discount_estimator",
    "residual_gradient_jacobian",
    "residual_gradient_update",
    "return_variance",
    "reuse_frozen_batch",
    "reversibility_verdict",
    "sample",
    "sample_efficiency",
    "save",
    "softmax_gradient",
    "stability",
    "state_chain",
    "stationary_distribution",
    "stop_gradient_surrogate",
    "stop_gradient_surrogate_gradient",
    "stuck_states",
    "symbolic",
    "symmetry_verdict",
    "td_fixed_point",
    "td_jacobian",
    "td_jacobian_v",
    "td_symmetry",
    "td_update",
    "td_update_v",
    "truncation_bound",
    "uniform_policy",
    "value_baseline",
    "visit_counts",
    "weighting",
    "whole_return_estimator",
]
