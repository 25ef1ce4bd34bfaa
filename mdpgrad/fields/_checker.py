"""Is a vector field a gradient?  Jacobian symmetry and circulation, combined into one verdict.

A continuously differentiable field F : ℝⁿ → ℝⁿ is the gradient of some function only if
its Jacobian is symmetric, ∂F_i/∂θ_j = ∂F_j/∂θ_i (Schwarz), and then its line integral
around every closed loop vanishes (Green's theorem; Apostol 1969, §10.14–10.16).
:func:`is_gradient_field` combines the Jacobian of :mod:`mdpgrad.fields._jacobian`, its
symmetry verdict (:mod:`mdpgrad.fields._symmetry`) and the circulation of
:mod:`mdpgrad.fields._circulation` around the witness loop.

Every error bound uses the error of F itself: σ, the absolute error of one evaluation,
given by the caller (``field_error=``) or estimated from F by the noise-estimation method
of Moré & Wild (2011; :mod:`mdpgrad.fields._noise`).  "Not a gradient" is certified only
when the Jacobian asymmetry exceeds its error floor AND the circulation exceeds its bound;
"consistent with a gradient" needs a symmetric Jacobian and a circulation within its
bound; anything else is "undecided" (with the reason: the field's error is too large to
resolve its asymmetry, or the two tests disagree).

Identities checked by the tests: a rotation is certified, the gradient of a quadratic is
not; ∇J is a gradient and the update without γᵗ is not (Nota & Thomas 2020), also at γ
close to 1 where ∇J's own error is large; the two certificate conditions at their
boundaries, with an explicit ``field_error``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from .._display import compact_repr
from .._errors import ValidationError
from .._validation import as_real_array, check_callable, check_real, check_tolerance, format_number
from ._circulation import (
    CIRCULATION_NOISE_RTOL,
    RADIUS_RTOL,
    Circulation,
    check_plane,
    circulation,
    error_argument,
    loop_circulation,
)
from ._jacobian import (
    COMPLEX_AGREEMENT_RTOL,
    COMPLEX_NOISE_FACTOR,
    Field,
    FieldJacobian,
    FieldMethod,
    field_jacobian,
    real_caller,
)
from ._symmetry import SYMMETRY_RTOL, SymmetryVerdict, symmetry_verdict

__all__ = [
    "CIRCULATION_NOISE_RTOL",
    "COMPLEX_AGREEMENT_RTOL",
    "COMPLEX_NOISE_FACTOR",
    "RADIUS_RTOL",
    "RESOLUTION_RTOL",
    "Circulation",
    "FieldJacobian",
    "FieldMethod",
    "FieldStatus",
    "FieldVerdict",
    "SymmetryVerdict",
    "circulation",
    "field_jacobian",
    "is_gradient_field",
]

#: A "gradient" verdict needs a Jacobian that resolves asymmetries this small
#: against the field's own derivative scale max(max|J|, max|F|/max(1, max|θ|)):
#: "gradient" then means "no asymmetry above 1e-6 of that scale", which central
#: differences (error ≈ ε^(2/3) ≈ 4e-11 of the scale) meet with room for a
#: thousandfold noisier F.  When F's error lets the floor exceed it, "symmetric
#: within the floor" would say more than the numbers show: the answer is
#: "undecided".  (The update without γᵗ at γ = 1 − 1e-5 has true asymmetries of
#: 1e-6 of its scale, and central differences then resolve only 1e-5.)
RESOLUTION_RTOL = 1e-6

#: The three answers of :func:`is_gradient_field`.
FieldStatus = Literal["gradient", "not a gradient", "undecided"]


@dataclass(frozen=True)
class FieldVerdict:
    """Is F a gradient near θ?  Jacobian symmetry and circulation, with witnesses.

    Attributes
    ----------
    holds : bool
        Symmetric Jacobian (within its error, which resolves asymmetries of
        ``RESOLUTION_RTOL`` of the field's derivative scale) and a
        circulation within its bound.
    certified_not_gradient : bool
        The Jacobian asymmetry exceeds its error floor AND the circulation
        around the witness loop exceeds its error bound: a proof, up to the
        stated bounds (which include F's own error), that F is not a gradient.
    symmetry : SymmetryVerdict
        Of the Jacobian, with atol = twice its largest estimated error.
    jacobian : FieldJacobian
    circulation : Circulation or None
        None when θ has a single coordinate (every 1-D field is a gradient).
    plane_index : tuple or None
        The witness plane's coordinates as indices into θ's shape.
    stokes_estimate : float or None
        πρ²(J[j, i] − J[i, j]), the circulation the Jacobian predicts.
    status : {"gradient", "not a gradient", "undecided"}
        "gradient" iff ``holds``, "not a gradient" iff ``certified_not_gradient``.
    reason : str
        Why undecided ("" otherwise): "field error too large" when F's error
        hides its asymmetry in the loop, else "Jacobian and circulation disagree".
    field_error : float
        The absolute error of one evaluation of F the bounds used (largest component).
    """

    holds: bool
    certified_not_gradient: bool
    symmetry: SymmetryVerdict
    jacobian: FieldJacobian
    circulation: Circulation | None
    plane_index: tuple[tuple[int, ...], tuple[int, ...]] | None
    stokes_estimate: float | None
    status: FieldStatus = "gradient"
    reason: str = ""
    field_error: float = 0.0

    __repr__ = compact_repr

    @property
    def verdict(self) -> str:
        """The answer in words: "gradient", "NOT a gradient" or "undecided: <reason>"."""
        if self.status == "undecided":
            return f"undecided: {self.reason}"
        return "gradient" if self.holds else "NOT a gradient"

    def __str__(self) -> str:
        c, sym = self.circulation, self.symmetry
        if c is None:
            return "FieldVerdict: gradient — one coordinate only"
        return (f"FieldVerdict: {self.verdict} — Jacobian asymmetry {sym.max_asymmetry:.3g} vs tolerance "
                f"{sym.tolerance:.2g} ({self.jacobian.method}); circulation {c.value:.3g} vs bound "
                f"{c.bound:.2g}")

    def describe(self) -> str:
        """One paragraph for people."""
        c, where, stokes = self.circulation, self.plane_index, self.stokes_estimate
        if c is None or where is None or stokes is None:
            return "a gradient: one coordinate only"
        loop = (f"circulation {c.value:.3g} around a circle of radius {c.radius:.3g} in the plane "
                f"{where[0]}, {where[1]} (bound {c.bound:.2g}; Jacobian predicts {stokes:.3g})")
        if self.holds:
            return f"consistent with a gradient: symmetric Jacobian ({self.jacobian.method}); {loop}"
        head = ("NOT a gradient (certified by Jacobian asymmetry and circulation)"
                if self.certified_not_gradient else
                f"undecided ({self.reason}, field error {self.field_error:.2g})")
        return f"{head}: {self.symmetry.describe()}; {loop}"


def is_gradient_field(F: Field, theta: ArrayLike, *, method: FieldMethod = "auto",
                      plane: tuple[int, int] | None = None, radius: float | None = None,
                      f_error: float | None = None, rtol: float = SYMMETRY_RTOL,
                      field_error: float | None = None) -> FieldVerdict:
    """Decide whether the field F is a gradient near θ.

    Steps: (1) the error σ of one evaluation of F (``field_error``, or
    estimated from F: Moré & Wild 2011); (2) the Jacobian J by
    :func:`~mdpgrad.fields.field_jacobian`, with error estimates that include σ; (3) its
    symmetry, tolerating rtol·max|J| plus twice the largest estimated entry
    error (the floor); (4) the circulation around a circle in the plane of the
    witness pair (or ``plane``), bounded by quadrature error plus σ times twice
    the loop length.  Answers:

    * "gradient" (``holds``): symmetric Jacobian and circulation within its
      bound (a local statement at θ), with a floor below
      ``RESOLUTION_RTOL`` of the field's derivative scale;
    * "not a gradient" (``certified_not_gradient``): asymmetry beyond the floor
      AND circulation beyond its bound (Green's theorem);
    * "undecided": anything else, with the reason.

    Parameters
    ----------
    F : callable
        θ ↦ F(θ), same shape as θ.
    theta : array_like
    method : {"auto", "complex-step", "central"}
    plane : tuple of int, optional
        Flat indices of the loop plane; default the Jacobian's witness pair.
    radius : float, optional
        Passed to :func:`~mdpgrad.fields.circulation`.
    f_error : float, optional
        Absolute error of one evaluation of F (also named ``field_error``):
        for a caller who knows it; default estimated from F.
    rtol : float, optional
        Passed to :func:`~mdpgrad.fields.symmetry_verdict`.
    field_error : float, optional
        The same argument as ``f_error`` under its other name (give at most one).

    Returns
    -------
    FieldVerdict

    Examples
    --------
    A rotation is not a gradient; the gradient of ½θᵀAθ is:

    >>> import numpy as np
    >>> from mdpgrad import is_gradient_field
    >>> rot = is_gradient_field(lambda t: np.array([-t[1], t[0]]), np.zeros(2))
    >>> rot.holds, rot.certified_not_gradient, rot.symmetry.witness
    (False, True, (0, 1))
    >>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> print(is_gradient_field(lambda t: A @ t, np.ones(2)).verdict)
    gradient

    A rotation evaluated with an error of 0.1 cannot be told from a gradient
    on a loop of radius 0.01:

    >>> is_gradient_field(lambda t: np.array([-t[1], t[0]]), np.zeros(2), field_error=0.1).verdict
    'undecided: field error too large'
    """
    F = check_callable(F, "F")
    x = as_real_array(theta, "theta")
    rtol = check_tolerance(rtol, "rtol")
    if plane is not None:
        plane = check_plane(plane, x.size)
    if radius is not None:
        radius = check_real(radius, "radius", min_value=0.0, min_open=True)
    given = error_argument(f_error, field_error)
    fj = field_jacobian(F, x, method=method, field_error=given)
    n = x.size
    floor = 2.0 * float(fj.error.max()) if n else 0.0
    if not math.isfinite(floor):
        raise ValidationError(f"the error floor of F's Jacobian overflows float64 (max error "
                              f"{format_number(float(fj.error.max()))}); expected a field whose derivatives "
                              "stay finite (rescale F)", argument="F", value=float(fj.error.max()))
    try:
        sym = symmetry_verdict(fj.jacobian, rtol=rtol, atol=floor)
    except ValidationError as exc:
        raise ValidationError(f"the Jacobian of F: {exc}", argument="F", index=exc.index,
                              value=exc.value) from None
    sigma = float(fj.field_error.max()) if n else 0.0
    pair = sym.witness if plane is None else (int(plane[0]), int(plane[1]))
    if n < 2 or pair is None:
        return FieldVerdict(True, False, sym, fj, None, None, None, "gradient", "", sigma)
    i, j = pair
    rho = RADIUS_RTOL * max(1.0, float(np.abs(x).max())) if radius is None else radius
    call = real_caller(F, x.shape, n)
    estimate = float(max(fj.field_error[i], fj.field_error[j]))
    circ = loop_circulation(call, x.ravel(), i, j, rho, given, estimate, 8, 1024)
    with np.errstate(over="ignore", invalid="ignore"):
        stokes = float(np.pi * np.float64(circ.radius) ** 2 * (fj.jacobian[j, i] - fj.jacobian[i, j]))
    if not math.isfinite(stokes):
        raise ValidationError(f"Green's-theorem estimate pi rho^2 (J[j, i] - J[i, j]) overflowed at radius "
                              f"{format_number(circ.radius)}; expected a smaller radius or theta",
                              argument="radius", value=circ.radius)
    idx = (tuple(int(k) for k in np.unravel_index(i, x.shape)),
           tuple(int(k) for k in np.unravel_index(j, x.shape)))
    asymmetric = sym.max_asymmetry > floor
    natural = max(sym.scale, fj.field_scale / max(1.0, float(np.abs(x).max())))
    resolved = natural == 0.0 or floor <= RESOLUTION_RTOL * natural
    holds = sym.holds and circ.holds and resolved
    certified = asymmetric and not circ.holds
    status: FieldStatus = "gradient" if holds else "not a gradient" if certified else "undecided"
    reason = ""
    if status == "undecided":
        # the loop cannot resolve what the Jacobian predicts, or the Jacobian's floor hides what the loop sees
        hidden = not resolved or (circ.noise >= abs(stokes) if circ.holds
                                  else math.pi * circ.radius ** 2 * floor >= circ.bound)
        reason = "field error too large" if hidden else "Jacobian and circulation disagree"
    return FieldVerdict(holds=holds, certified_not_gradient=certified, symmetry=sym, jacobian=fj,
                        circulation=circ, plane_index=idx, stokes_estimate=float(stokes), status=status,
                        reason=reason, field_error=sigma)
