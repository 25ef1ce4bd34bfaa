"""Report section: the symbolic confirmation, for models small enough.

The float model is read back as exact fractions (:func:`mdpgrad.symbolic.rationalize`);
then, with θ a vector of symbols, the policy gradient theorem is *proved* for
every θ at once (∂J/∂θ by differentiating the closed form J(θ), minus
Σ η π adv ∇log π, cancels to zero in ℚ(exp θ)), and the footnote's witness is
printed as expressions: the TD Jacobian entry γ·P(s'|s,a)·π(a'|s') and its
mirror, with π left symbolic.  The section's own check is that the symbolic
witness, evaluated at the report's policy, matches the numeric TD Jacobian.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from .._errors import ValidationError
from ..symbolic._policies import TabularSoftmax
from ..symbolic._proof_theorems import prove_policy_gradient_theorem
from ..symbolic._rationalize import rationalize
from ..symbolic._td import symmetry_verdict, td_jacobian
from .base import CheckContext, Section, skipped_section

__all__ = ["symbolic_section"]

#: The symbolic witness evaluated at the report's float policy must match
#: γ·P·π computed in floats: three products of doubles, so ≈ 1e-16; 1e-12 is
#: generous and still catches a wrong entry.
WITNESS_RTOL = 1e-12


def _policy_symbols(actions: np.ndarray) -> sympy.ImmutableMatrix:
    """π(a|s) as independent symbols pi{s}{a} (the Jacobian is linear in π, rows need not be tied), 0 for
    the unavailable actions of ``actions`` (S, A)."""
    S, A = actions.shape
    return sympy.ImmutableMatrix(S, A, lambda s, a: sympy.Symbol(f"pi{s}{a}") if actions[s, a] else 0)


def symbolic_section(ctx: CheckContext) -> Section:
    """Theorem proved and footnote witness as expressions; skipped for models over ``ctx.symbolic_limit``."""
    m = ctx.mdp
    S, A = m.n_states, m.n_actions
    title = "Symbolic confirmation"
    if S * A > ctx.symbolic_limit:
        return skipped_section("symbolic", title, f"{S * A} state-action pairs > {ctx.symbolic_limit} (exact "
                               "symbolic algebra grows too fast beyond small models)")
    try:
        exact = rationalize(m)
    except ValidationError as exc:
        return skipped_section("symbolic", title, f"the model cannot be read as exact fractions: {exc}")
    pol = TabularSoftmax(S, A, actions=m.actions if m.has_action_sets else None)
    proof = prove_policy_gradient_theorem(exact, pol)
    rows = [("exact model", f"P, r, rho0 as fractions, gamma = {exact.gamma}"),
            ("policy gradient", (f"theorem PROVED for all theta ({proof.n_identities} parameters): "
                                 "dJ/dtheta of the closed form = sum eta pi adv grad log pi")
             if proof.holds else f"FAILED: {proof}")]
    data: dict[str, Any] = dict(theorem=proof.status, n_parameters=proof.n_identities, gamma=str(exact.gamma))
    ok = proof.holds

    pi_sym = _policy_symbols(m.actions)
    jac = td_jacobian(exact, pi_sym, validate=False)
    verdict = symmetry_verdict(jac, n_actions=A)
    if verdict.holds or verdict.witness_pairs is None or verdict.entry is None or verdict.mirror is None:
        rows.append(("TD Jacobian", "symmetric for every policy (detailed balance holds)"))
        data["td_symmetric"] = True
    else:
        (s, a), (t, b) = verdict.witness_pairs
        rows.append(("TD Jacobian", f"not symmetric for symbolic pi: {len(verdict.conditions)} "
                                    "detailed-balance equations fail in general"))
        rows.append((f"J[({s},{a}),({t},{b})]", f"{verdict.entry}   (= gamma P({t}|{s},{a}) pi({b}|{t}))"))
        rows.append((f"J[({t},{b}),({s},{a})]", f"{verdict.mirror}   (= gamma P({s}|{t},{b}) pi({a}|{s}))"))
        pi_num = ctx.evaluation.pi
        subs = {pi_sym[u, c]: sympy.Rational(repr(float(pi_num[u, c])))
                for u in range(S) for c in range(A) if m.actions[u, c]}
        e_val, m_val = float(verdict.entry.subs(subs)), float(verdict.mirror.subs(subs))
        P = m.P_dense()
        e_num = m.gamma * P[s, a, t] * pi_num[t, b]
        m_num = m.gamma * P[t, b, s] * pi_num[s, a]
        agree = bool(np.isclose(e_val, e_num, rtol=WITNESS_RTOL, atol=0.0)
                     and np.isclose(m_val, m_num, rtol=WITNESS_RTOL, atol=0.0))
        ok = ok and agree
        rows.append(("at this policy", f"{e_val:.6g} vs {m_val:.6g} (numeric {e_num:.6g} vs {m_num:.6g}"
                                       f"{'' if agree else ', DISAGREES'})"))
        data.update(td_symmetric=False, witness=[[s, a], [t, b]], entry=str(verdict.entry),
                    mirror=str(verdict.mirror), entry_latex=sympy.latex(verdict.entry),
                    mirror_latex=sympy.latex(verdict.mirror),
                    conditions=[str(c) for c in verdict.conditions], witness_agrees=agree)
    return Section("symbolic", title, rows, data, ok)
