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

from .errors import NonTerminatingPolicyError, ValidationError
from .evaluation import (
    Evaluation,
    evaluate,
    policy_matrix,
    state_chain,
    stationary_distribution,
    visit_counts,
)
from .gradients import expected_update_without_discount, objective, policy_gradient
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

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ATOL",
    "MDP",
    "Direct",
    "Evaluation",
    "LogLinear",
    "NonTerminatingPolicyError",
    "Policy",
    "TabularSoftmax",
    "ValidationError",
    "check_policy",
    "epsilon_greedy_policy",
    "evaluate",
    "expected_update_without_discount",
    "greedy_policy",
    "objective",
    "policy_gradient",
    "policy_matrix",
    "state_chain",
    "stationary_distribution",
    "uniform_policy",
    "visit_counts",
]
