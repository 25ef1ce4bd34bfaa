"""mdpgrad.gradients: routes to the exact policy gradient, and the identities around it.

The gradient and its neighbours live at the top level: ``mg.objective``,
``mg.policy_gradient``, ``mg.check_gradient``, ``mg.expected_update_without_discount``,
``mg.policy_hessian``, ``mg.fisher_information`` and ``mg.natural_gradient``.
This namespace holds

* closed forms of ∇J: ``softmax_gradient`` (η π adv), ``loglinear_gradient``
  (η π adv (φ − E_π φ)), ``direct_gradient`` (η q);
* the recursion form ∇v = (I − γP̃^π)⁻¹ Σₐ ∇π(a|·) q(·, a): ``recursion_gradient``;
* matrix-free second order: ``hessian_vector_product`` (∇²J u),
  ``fisher_vector_product`` (F u);
* ``GradientCheck``, the result of ``mg.check_gradient`` (central differences);
* identities: ``naive_swap_gradient`` (exactly 0), ``baseline_term`` (0 for
  every state baseline) and ``baseline_gradient`` (= ∇J), ``performance_difference``
  (both sides, a ``PerformanceDifference``) and ``occupancy_mass`` (Σ η against
  1/(1 − γ), an ``OccupancyMass``).
"""

from ._check import GradientCheck
from ._identities import (
    OccupancyMass,
    PerformanceDifference,
    baseline_gradient,
    baseline_term,
    naive_swap_gradient,
    occupancy_mass,
    performance_difference,
)
from ._second_order import fisher_vector_product, hessian_vector_product
from ._theorem import direct_gradient, loglinear_gradient, recursion_gradient, softmax_gradient

__all__ = [
    "GradientCheck",
    "OccupancyMass",
    "PerformanceDifference",
    "baseline_gradient",
    "baseline_term",
    "direct_gradient",
    "fisher_vector_product",
    "hessian_vector_product",
    "loglinear_gradient",
    "naive_swap_gradient",
    "occupancy_mass",
    "performance_difference",
    "recursion_gradient",
    "softmax_gradient",
]
