"""mdpgrad.gradients: the exact policy gradient's independent routes and relatives.

The gradient itself, ``objective``, ``check_gradient``, the Hessian, the
Fisher matrix and the natural gradient are at the top level (``mg.policy_gradient``
…); this namespace holds the routes that check them and the identities around
them:

* closed forms: ``softmax_gradient``, ``loglinear_gradient``, ``direct_gradient``;
* the recursion form ∇v = (I − γP̃^π)⁻¹ Σₐ ∇π(a|·) q(·, a): ``recursion_gradient``;
* matrix-free second order: ``hessian_vector_product``, ``fisher_vector_product``;
* identities: the naive swap (exactly 0), baselines, the performance difference
  lemma and the occupancy mass Σ η.
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
