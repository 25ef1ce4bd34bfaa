"""mdpgrad.fields: is a vector field a gradient?

``mg.is_gradient_field(F, θ)`` (top level) answers for any callable F with a
``FieldVerdict``.  This namespace holds its parts and their results:

* ``field_jacobian`` → ``FieldJacobian``: the Jacobian of F at θ, by complex
  step where F carries complex input analytically, else central differences,
  with an error estimate;
* ``symmetry_verdict`` → ``SymmetryVerdict``: is a square matrix (dense or
  sparse) symmetric, and the witness pair of largest |J[x, y] − J[y, x]|;
* ``circulation`` → ``Circulation``: the line integral of F around a small
  circle, with its quadrature error bound (non-zero proves "not a gradient");
* ``FieldVerdict``: the result of ``mg.is_gradient_field``.
"""

from ._checker import FieldVerdict
from ._circulation import Circulation, circulation
from ._jacobian import FieldJacobian, field_jacobian
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
