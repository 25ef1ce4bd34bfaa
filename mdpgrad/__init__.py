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
ρ     gain         float                 average reward d_π · r^π (unichain π)
h     bias         (S,)                  differential values, d_π · h = 0
q̃     q            (S, A)                differential action values r − ρ + P h
====  ===========  ====================  =========================================

A state-action pair is indexed x = s·A + a throughout.
"""

from ._average import AverageReward, average_reward
from ._average_control import relative_value_iteration
from ._chains import stationary_distribution
from ._errors import MultichainPolicyError, NonTerminatingPolicyError, ValidationError
from ._evaluation import ErrorEstimate, Evaluation, evaluate, visit_counts
from ._linalg import InaccurateResultError, InaccurateResultWarning
from ._model import MDP
from ._policies import (
    Direct,
    LogLinear,
    Policy,
    TabularSoftmax,
    epsilon_greedy_policy,
    greedy_policy,
    uniform_policy,
)
from ._validation import memory_limit_scope, set_memory_limit
from .control._solve import solve
from .estimators._harness import assert_unbiased, check_estimator
from .examples._catalogue import get_example
from .fields._checker import is_gradient_field
from .gradients._check import check_gradient
from .gradients._second_order import fisher_information, natural_gradient, policy_hessian
from .gradients._theorem import expected_update_without_discount, objective, policy_gradient
from .io._files import load, save
from .sampling._sampler import sample
from .td._tabular import td_symmetry

__version__ = "0.1.0"

#: Namespaces loaded on first use: ``mg.symbolic`` imports sympy, ``mg.strategies`` needs hypothesis
#: (a test extra), the others keep ``import mdpgrad`` light.
_NAMESPACES = frozenset({"control", "estimators", "examples", "fields", "gradients", "io", "plot",
                         "sampling", "strategies", "surrogates", "symbolic", "td", "variance"})


def __getattr__(name: str) -> object:  # PEP 562
    if name in _NAMESPACES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AverageReward",
    "Direct",
    "ErrorEstimate",
    "Evaluation",
    "InaccurateResultError",
    "InaccurateResultWarning",
    "LogLinear",
    "MDP",
    "MultichainPolicyError",
    "NonTerminatingPolicyError",
    "Policy",
    "TabularSoftmax",
    "ValidationError",
    "assert_unbiased",
    "average_reward",
    "check_estimator",
    "check_gradient",
    "epsilon_greedy_policy",
    "evaluate",
    "expected_update_without_discount",
    "fisher_information",
    "get_example",
    "greedy_policy",
    "is_gradient_field",
    "load",
    "memory_limit_scope",
    "natural_gradient",
    "objective",
    "policy_gradient",
    "policy_hessian",
    "relative_value_iteration",
    "sample",
    "save",
    "set_memory_limit",
    "solve",
    "stationary_distribution",
    "td_symmetry",
    "uniform_policy",
    "visit_counts",
]
