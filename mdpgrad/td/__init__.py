"""mdpgrad.td: the expected TD updates, their Jacobians, and when they are gradients.

The verdict itself, ``mg.td_symmetry(mdp, π)``, lives at the top level; this
namespace holds what it is made of and its relatives:

* tabular fields and their Jacobians D (γM − I): action values
  (:func:`td_update`, :func:`td_jacobian`), state values (:func:`td_update_v`,
  :func:`td_jacobian_v`), Q-learning (:func:`q_learning_update`,
  :func:`q_learning_jacobian` → :class:`QLearningJacobian`, with its ties);
* the weighting D: :func:`~mdpgrad.td.diagonal_weights` ("identity", "occupancy",
  "stationary" or an array); detailed balance of a chain weighted by D,
  :func:`reversibility_verdict`, which decides the verdict
  (:class:`TDSymmetry`, what ``mg.td_symmetry`` returns);
* linear function approximation Q = Φw: TD(λ) (:func:`linear_td_update`,
  :func:`linear_td_jacobian`, :func:`td_fixed_point`), the Monte Carlo
  regression loss (:func:`regression_update`, :func:`regression_jacobian`,
  :func:`regression_solution`) and the residual-gradient loss
  (:func:`residual_gradient_update`, :func:`residual_gradient_jacobian`);
* the average-reward (differential) TD(0) field of (w, R̄), δ = r − R̄ + v(s') − v(s):
  :func:`differential_td_update`, :func:`differential_td_jacobian`,
  :func:`differential_td_symmetry` (never a gradient on-policy);
* stability of the expected iteration w ← w + α u(w): :func:`stability`
  (eigenvalues → :class:`Stability`; Baird's counterexample diverges) and
  :func:`iterate_expected_update`.

References: Sutton & Barto 2018, §6.4, §9.4, §11.2–11.5 and §12.2;
Tsitsiklis & Van Roy 1997; Ollivier 2018.
"""

from ._common import diagonal_weights
from ._differential import differential_td_jacobian, differential_td_symmetry, differential_td_update
from ._linear import (
    iterate_expected_update,
    linear_td_jacobian,
    linear_td_update,
    regression_jacobian,
    regression_solution,
    regression_update,
    residual_gradient_jacobian,
    residual_gradient_update,
    td_fixed_point,
)
from ._stability import Stability, stability
from ._tabular import (
    QLearningJacobian,
    TDSymmetry,
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
    "diagonal_weights",
    "differential_td_jacobian",
    "differential_td_symmetry",
    "differential_td_update",
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
]
