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

from . import convert, examples, io, symbolic
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
    evaluate,
    policy_matrix,
    state_chain,
    stationary_distribution,
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
from .gradients import expected_update_without_discount, objective, policy_gradient
from .harness import EstimatorCheck, assert_unbiased, check_estimator
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


def __getattr__(name: str):  # PEP 562: mg.strategies needs hypothesis, a test extra
    if name == "strategies":
        import importlib

        return importlib.import_module(".strategies", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Circulation",
    "DEFAULT_ATOL",
    "Direct",
    "EXAMPLES",
    "Estimator",
    "EstimatorCheck",
    "Evaluation",
    "FieldJacobian",
    "FieldVerdict",
    "LogLinear",
    "MDP",
    "NonTerminatingPolicyError",
    "PROTOCOLS",
    "Policy",
    "QLearningJacobian",
    "ReturnVariance",
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
    "check_estimator",
    "check_policy",
    "circulation",
    "convert",
    "effective_sample_size",
    "epsilon_greedy_policy",
    "evaluate",
    "examples",
    "expected_update_without_discount",
    "field_jacobian",
    "from_gymnasium",
    "from_mdptoolbox",
    "gae_estimator",
    "get_example",
    "greedy_policy",
    "group_start_states",
    "grpo_estimator",
    "io",
    "is_gradient_field",
    "iterate_expected_update",
    "linear_td_jacobian",
    "linear_td_update",
    "load",
    "objective",
    "pair_chain",
    "policy_gradient",
    "policy_matrix",
    "ppo_estimator",
    "q_learning_jacobian",
    "q_learning_update",
    "regression_jacobian",
    "regression_solution",
    "regression_update",
    "reinforce_estimator",
    "reinforce_without_discount_estimator",
    "residual_gradient_jacobian",
    "residual_gradient_update",
    "return_variance",
    "reversibility_verdict",
    "sample",
    "sample_efficiency",
    "save",
    "stability",
    "state_chain",
    "stationary_distribution",
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
