"""Report section: is the TD semi-gradient a gradient here, and is the γᵗ-less update?

For the report's policy π it gives the symmetry verdict of the TD(0) Jacobian
D(γPΠ − I) for the unweighted field (D = I) and the on-policy weighted one
(D = μ), the witness pair explained by detailed balance, the circulation of the
unweighted field around the witness loop (checked against the Jacobian by
Green's theorem: this is the section's consistency check), whether the state
chain P^π is reversible, and the verdict of :func:`is_gradient_field` on the
update Σₜ Gₜ ∇log π without γᵗ (and on ∇J for contrast) when θ is small.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._chains import chain_and_reward, stationary_distribution
from .._errors import ValidationError
from ..fields._checker import FieldVerdict, is_gradient_field
from ..fields._circulation import circulation
from ..fields._symmetry import SymmetryVerdict
from ..gradients._theorem import expected_update_without_discount, policy_gradient
from ..td._linear import linear_td_jacobian
from ..td._stability import stability
from ..td._tabular import reversibility_verdict, td_symmetry, td_update
from .base import CheckContext, Section

__all__ = ["td_section"]

#: Dense MDPs with more state-action pairs than this skip the (S·A)² Jacobian.
DENSE_PAIR_LIMIT = 4000

#: The field checks of the γᵗ-less update and of ∇J difference θ coordinate by
#: coordinate (≈ 4 evaluations each); above this many parameters they are skipped.
FIELD_PARAM_LIMIT = 100

#: Circulation and Green's-theorem prediction must agree to the quadrature bound
#: plus this relative slack (the field is affine, so both are exact to rounding).
GREEN_RTOL = 1e-8


def _fmt_pairs(ver: SymmetryVerdict) -> str:
    if ver.witness_pairs is None:
        return "-"
    (s, a), (t, b) = ver.witness_pairs
    return f"(s={s}, a={a}) and (s={t}, a={b})"


def _field_rows(label: str, fv: FieldVerdict) -> tuple[tuple[str, str], dict[str, Any]]:
    """The row and data of one verdict of :func:`is_gradient_field`, printed as the verdict says."""
    c = fv.circulation
    if c is None or fv.plane_index is None:
        return (label, "gradient (one parameter)"), dict(is_gradient=True, status=fv.status)
    text = (f"{fv.verdict}; max Jacobian asymmetry {fv.symmetry.max_asymmetry:.3g} (tolerance "
            f"{fv.symmetry.tolerance:.2g}) at theta{fv.plane_index[0]} vs theta{fv.plane_index[1]}; "
            f"circulation {c.value:.3g} (bound {c.bound:.2g}, field error {fv.field_error:.2g})")
    data = dict(is_gradient=fv.holds, certified_not_gradient=fv.certified_not_gradient, status=fv.status,
                verdict=fv.verdict, max_asymmetry=fv.symmetry.max_asymmetry,
                relative_asymmetry=fv.symmetry.relative_asymmetry, tolerance=fv.symmetry.tolerance,
                witness=[list(fv.plane_index[0]), list(fv.plane_index[1])], circulation=c.value,
                circulation_bound=c.bound, field_error=fv.field_error, jacobian_method=fv.jacobian.method)
    return (label, text), data


def _off_policy_rows(example: Any) -> tuple[tuple[str, str], dict[str, Any]]:
    """Off-policy linear TD(0) on Baird's counterexample: the expected update's Jacobian and its eigenvalues.

    The expected update of semi-gradient TD(0) for the target policy with states weighted by the
    behaviour policy's stationary distribution is w ↦ A w + b, A = Φᵀ D (γ P_π − I) Φ (Sutton & Barto
    2018, §9.4 and §11.2); an eigenvalue of A with positive real part makes w grow along it for
    every step size (Baird 1995).
    """
    mdp = example.mdp
    P_b = chain_and_reward(mdp, np.asarray(example.behaviour))[0]
    d = stationary_distribution(P_b)
    A = linear_td_jacobian(mdp, example.target, example.phi, D=d)
    st = stability(A)
    lead = st.eigenvalues[0]
    text = (f"{'DIVERGES' if st.diverges else 'does not diverge'}: expected update of semi-gradient "
            "TD(0) for the target policy, states weighted by the behaviour policy, has an eigenvalue "
            f"{lead.real:.4g}{lead.imag:+.4g}i with real part {'> 0' if st.diverges else '<= 0'}, so the "
            "weights grow for every step size (Baird 1995)" if st.diverges else
            f"no eigenvalue with positive real part (largest real part {st.max_real:.4g})")
    data = dict(diverges=st.diverges, max_real=st.max_real,
                eigenvalues_real=st.eigenvalues.real, eigenvalues_imag=st.eigenvalues.imag)
    return ("off-policy linear TD(0)", text), data


def td_section(ctx: CheckContext) -> Section:
    """The TD verdicts for ``ctx``'s policy (see the module docstring)."""
    m, ev = ctx.mdp, ctx.evaluation
    pi = ev.pi
    S, A = m.n_states, m.n_actions
    n = S * A
    rows: list[tuple[str, str]] = []
    data: dict[str, Any] = {}
    ok = True
    if not m.is_sparse and n > DENSE_PAIR_LIMIT:
        rows.append(("skipped", f"{n} state-action pairs > {DENSE_PAIR_LIMIT} for a dense MDP "
                                f"(the Jacobian would have {n * n} entries)"))
        return Section("td", "TD semi-gradient", rows, dict(skipped=True), True)

    plain = td_symmetry(m, pi)
    # μ comes from a linear solve: entries that are 0 exactly may carry −1e-21 of rounding
    weighted = td_symmetry(m, pi, D=np.clip(ev.mu, 0.0, None))
    for label, key, ts in (("unweighted (D = I)", "unweighted", plain),
                           ("on-policy (D = mu)", "on_policy", weighted)):
        v = ts.symmetry
        word = "gradient (symmetric Jacobian)" if v.holds else "NOT a gradient"
        rows.append((label, f"{word}: max |J - J^T| = {v.max_asymmetry:.3g} "
                            f"(relative {v.relative_asymmetry:.3g}) at {_fmt_pairs(v)}"))
        data[key] = dict(is_gradient=v.holds, max_asymmetry=v.max_asymmetry,
                         relative_asymmetry=v.relative_asymmetry, antisymmetric_norm=v.antisymmetric_norm,
                         witness=list(v.witness) if v.witness else None,
                         witness_pairs=[list(p) for p in v.witness_pairs] if v.witness_pairs else None,
                         flows=list(ts.flows) if ts.flows else None, explanation=ts.explanation)
    rows.append(("why", plain.explanation))

    # the definition: circulation of the unweighted field around the witness loop
    if plain.symmetry.witness is not None and plain.symmetry.witness_values is not None:
        x, y = plain.symmetry.witness

        def field(Q: np.ndarray) -> np.ndarray:
            return td_update(m, pi, Q.reshape(S, A)).ravel()

        # the field is affine: a unit circle gives π(J[y,x] − J[x,y]) at any centre
        c = circulation(field, ev.q.ravel(), (x, y), radius=1.0)
        jx, jy = plain.symmetry.witness_values
        green = math.pi * c.radius ** 2 * (jy - jx)
        agree = abs(c.value - green) <= c.bound + GREEN_RTOL * abs(green)
        ok = ok and agree
        rows.append(("circulation", f"{c.value:.6g} around a circle of radius {c.radius:.3g} in the plane "
                                    "of the two q-values whose Jacobian entries are most asymmetric (a "
                                    "gradient field has circulation 0 around every loop; quadrature "
                                    f"bound {c.bound:.2g}; Green's theorem from the Jacobian: {green:.6g}"
                                    f"{'' if agree else ', DISAGREES'})"))
        data["circulation"] = dict(value=c.value, bound=c.bound, radius=c.radius, green=green,
                                   agrees=agree, nonzero=not c.holds)

    # reversibility of the state chain
    if m.terminal.any():
        rows.append(("state chain P_pi reversible", "not applicable: episodic (absorbing) chain"))
        data["reversible"] = None
    else:
        try:
            rv = reversibility_verdict(ev.P_pi)
            consequence = ("so the state-value TD field weighted by d IS a gradient (Ollivier 2018)"
                           if rv.holds else
                           "so the state-value TD field weighted by d is not a gradient")
            rows.append(("state chain P_pi reversible",
                         f"{'yes' if rv.holds else 'no'}: max |d_x P[x,y] - d_y P[y,x]| = "
                         f"{rv.max_asymmetry:.3g}, {consequence}"))
            data["reversible"] = rv.holds
        except ValidationError:
            rows.append(("state chain P_pi reversible",
                         "undefined: P^pi has no unique stationary distribution"))
            data["reversible"] = None

    baird = ctx.extras.get("baird")
    if baird is not None:
        row, d = _off_policy_rows(baird)
        rows.append(row)
        data["off_policy_td"] = d

    # the update without γᵗ, and ∇J for contrast
    k = int(np.prod(ctx.theta.shape))
    if k > FIELD_PARAM_LIMIT:
        rows.append(("gamma^t-less update", f"skipped: {k} parameters > {FIELD_PARAM_LIMIT}"))
        data["without_discount"] = dict(skipped=True)
        return Section("td", "TD semi-gradient", rows, data, ok)
    kind = "episodic, undiscounted visits" if m.terminal.any() else "continuing, stationary weighting"
    undecided: list[str] = []
    try:
        fv = is_gradient_field(lambda th: expected_update_without_discount(m, ctx.policy, th), ctx.theta)
        row, d = _field_rows(f"gamma^t-less ({kind})", fv)
        rows.append(row)
        if m.terminal.any() and m.gamma == 1.0:
            # the update is ∇J itself: a certificate of "not a gradient" would be a false one
            rows.append(("", "gamma = 1: dropping gamma^t changes nothing, the update is grad J"))
            ok = ok and not fv.certified_not_gradient
        if fv.status == "undecided":
            undecided.append("gamma^t-less update")
        data["without_discount"] = d | dict(weighting=kind)
    except ValidationError as exc:
        rows.append((f"gamma^t-less ({kind})", f"undefined: {exc}"))
        data["without_discount"] = dict(error=str(exc))
    # ∇J is a gradient: a certificate of the contrary is a failed check
    gv = is_gradient_field(lambda th: policy_gradient(m, ctx.policy, th), ctx.theta)
    row, d = _field_rows("grad J (contrast)", gv)
    rows.append(row)
    ok = ok and not gv.certified_not_gradient
    if gv.status == "undecided":
        undecided.append("grad J")
    data["policy_gradient"] = d
    return Section("td", "TD semi-gradient", rows, data, ok, tuple(undecided))
