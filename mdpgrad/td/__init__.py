"""mdpgrad.td: the expected TD updates, their Jacobians, and when they are gradients.

``mg.td_symmetry(mdp, π)`` (top level) gives the verdict; this namespace holds
the fields and Jacobians themselves, tabular (action values q and state values
v, any diagonal weighting D), Q-learning, linear TD(λ) with its fixed point,
the Monte Carlo regression and residual-gradient losses, and the stability of
the expected iteration (eigenvalues; Baird's counterexample).
"""

from ._linear import (
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
from ._tabular import (
    QLearningJacobian,
    TDSymmetry,
    diagonal_weights,
    q_learning_jacobian,
    q_learning_update,
    reversibility_verdict,
    td_jacobian,
    td_jacobian_v,
    td_update,
    td_update_v,
)

__all__ = [
    "QLearningJacobian",
    "Stability",
    "TDSymmetry",
    "iterate_expected_update",
    "linear_td_jacobian",
    "linear_td_update",
    "q_learning_jacobian",
    "q_learning_update",
    "regression_jacobian",
    "regression_solution",
    "regression_update",
    "residual_gradient_jacobian",
    "residual_gradient_update",
    "reversibility_verdict",
    "stability",
    "td_fixed_point",
    "td_jacobian",
    "td_jacobian_v",
    "td_update",
    "td_update_v",
    "diagonal_weights",
]
