"""mdpgrad.fields: is a vector field a gradient?

``mg.is_gradient_field(F, θ)`` (top level) answers for any callable F. This
namespace holds its parts and result types: the Jacobian of a field
(``field_jacobian``, complex step where F allows it, central differences
otherwise), the symmetry verdict of a square matrix with the witness pair of
largest |J[x, y] − J[y, x]| (``symmetry_verdict``), and the circulation around a
small loop with its quadrature error bound (``circulation``).
"""

from ._checker import Circulation, FieldJacobian, FieldVerdict, circulation, field_jacobian
from ._symmetry import SymmetryVerdict, symmetry_verdict

__all__ = [
    "Circulation",
    "FieldJacobian",
    "FieldVerdict",
    "SymmetryVerdict",
    "circulation",
    "field_jacobian",
    "symmetry_verdict",
]
