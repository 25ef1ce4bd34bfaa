"""mdpgrad.fields: is a vector field a gradient?

``mg.is_gradient_field(F, θ)`` (top level) answers for any callable F with a
``FieldVerdict``.  This namespace holds its parts and their results:

* ``field_jacobian`` → ``FieldJacobian``: the Jacobian of F at θ, by complex
  step where F carries complex input analytically, else central differences,
  with an error estimate;
* ``symmetry_verdict`` → ``SymmetryVerdict``: is a square matrix (dense or
  sparse) symmetric, and the witness pair of largest ``|J[x, y] − J[y, x]|``;
* ``circulation`` → ``Circulation``: the line integral of F around a small
  circle, with its error bound (quadrature plus F's own error; non-zero beyond
  it proves "not a gradient");
* ``FieldVerdict``: the result of ``mg.is_gradient_field``: "gradient", "not a
  gradient" (asymmetry beyond its floor and circulation beyond its bound) or
  "undecided" with the reason.

Every bound includes the error σ of one evaluation of F: ``field_error=``
when the caller knows it, else estimated from F itself (Moré & Wild 2011).
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
