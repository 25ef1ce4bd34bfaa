"""Every verdict the report prints is the public API's verdict, and true.

For every built-in example the report is built once and rendered as text and as JSON.  Each
printed verdict is compared with the public API called on the same input (``mg.td_symmetry``,
``mg.is_gradient_field`` on ``mg.policy_gradient`` and on ``mg.expected_update_without_discount``),
and with an independent fact: the Hessian of J, built column by column from complex-step
Hessian-vector products, is symmetric (so ∇J must be reported a gradient), and with γ = 1 on an
episodic model the update without γᵗ is ∇J itself.  The last line fails whenever a section does.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import mdpgrad as mg
from mdpgrad._report import build_context, build_report, render_json, render_text
from mdpgrad.cli import _load
from mdpgrad.examples import EXAMPLES
from mdpgrad.gradients import hessian_vector_product

#: Complex-step Hessian-vector products are exact to rounding of the solves (κ ≤ 1e3 here):
#: relative asymmetry of ∇²J beyond 1e-10 of max(1, max|∇J|) would be a real one.
HESSIAN_SYMMETRY_RTOL = 1e-10

#: The report's field checks run up to this many parameters (mdpgrad._report.td.FIELD_PARAM_LIMIT).
FIELD_PARAMS = 100


def _report(name: str) -> tuple[mg.MDP, str, dict]:
    label, mdp, extras = _load(name)
    sections = build_report(build_context(label, mdp, "uniform", 0, extras))     # the command line's defaults
    return mdp, render_text(sections), json.loads(render_json(sections))


def _row(text: str, label: str) -> str:
    """The value printed after ``label`` (on its line, or on the next when the label stands alone)."""
    lines = text.splitlines()
    for k, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(label):
            rest = stripped[len(label):].strip()
            return rest if rest else lines[k + 1].strip()
    raise AssertionError(f"no row {label!r} in the report")


def _hessian(mdp: mg.MDP, pol: mg.TabularSoftmax, theta: np.ndarray) -> np.ndarray:
    n = theta.size
    cols = [hessian_vector_product(mdp, pol, theta, np.eye(n)[k].reshape(theta.shape)).ravel()
            for k in range(n)]
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_printed_verdict_is_the_apis_and_true(name):
    mdp, text, report = _report(name)
    S, A = mdp.n_states, mdp.n_actions
    pol = mg.TabularSoftmax(S, A, actions=mdp.actions if mdp.has_action_sets else None)   # the report's
    theta = np.zeros(pol.param_shape)
    pi = pol.probabilities(theta)

    # the final line: FAILED and every failed section exactly when a section failed
    failed = [k for k, v in report.items() if k != "verdict" and not v["ok"]]
    last = text.splitlines()[-1]
    assert report["verdict"]["ok"] == (not failed)
    assert last.startswith("verdict: FAILED") == bool(failed)
    assert last == f"verdict: {report['verdict']['text']}"
    # every built-in model is valid and the library's formulas are right: each check must pass (a
    # failure here is a false verdict, e.g. a pass mark below the error of what it compares)
    assert failed == [], last

    td = report["td"]
    if td.get("skipped"):
        return
    # TD symmetry rows: the API's verdict, printed as such
    for key, label, D in (("unweighted", "unweighted (D = I)", None),
                          ("on_policy", "on-policy (D = mu)", "occupancy")):
        api = mg.td_symmetry(mdp, pi, D=D)
        assert td[key]["is_gradient"] == api.holds
        assert _row(text, label).startswith("gradient" if api.holds else "NOT a gradient")

    if theta.size > FIELD_PARAMS:
        assert td["without_discount"]["skipped"]
        return
    # ∇J: the API's verdict, printed as such, and true (the Hessian is symmetric)
    gv = mg.is_gradient_field(lambda t: mg.policy_gradient(mdp, pol, t), theta)
    assert td["policy_gradient"]["status"] == gv.status
    assert td["policy_gradient"]["circulation"] == gv.circulation.value
    assert _row(text, "grad J (contrast)").startswith(gv.verdict + ";")
    H = _hessian(mdp, pol, theta)
    scale = max(1.0, float(np.abs(mg.policy_gradient(mdp, pol, theta)).max()))
    assert np.abs(H - H.T).max() <= HESSIAN_SYMMETRY_RTOL * scale
    assert gv.holds and not gv.certified_not_gradient

    # the update without γᵗ: the API's verdict; with γ = 1 on an episodic model it is ∇J
    fv = mg.is_gradient_field(lambda t: mg.expected_update_without_discount(mdp, pol, t), theta)
    assert td["without_discount"]["status"] == fv.status
    kind = "episodic, undiscounted visits" if mdp.terminal.any() else "continuing, stationary weighting"
    assert _row(text, f"gamma^t-less ({kind})").startswith(fv.verdict + ";")
    if mdp.terminal.any() and mdp.gamma == 1.0:
        np.testing.assert_allclose(mg.expected_update_without_discount(mdp, pol, theta),
                                   mg.policy_gradient(mdp, pol, theta), rtol=1e-12, atol=1e-12)
        assert fv.holds


def test_two_state_reversible_grad_j_is_reported_a_gradient():
    """At θ = 0 the Hessian of J is ≈ 0; its rounding (3e-15) was once read as asymmetry 1.25."""
    mdp, text, report = _report("two-state-reversible")
    assert _row(text, "grad J (contrast)").startswith("gradient;")
    assert report["td"]["policy_gradient"]["status"] == "gradient"
    assert report["verdict"]["ok"]


def test_a_certificate_against_grad_j_fails_the_report(monkeypatch):
    """The rule: a failed check makes the final verdict say so, naming the section."""
    import mdpgrad._report.td as td_report

    # a report whose "∇J" is really the update without γᵗ, a certified non-gradient on two-state
    monkeypatch.setattr(td_report, "policy_gradient", mg.expected_update_without_discount)
    _, text, report = _report("two-state")
    assert _row(text, "grad J (contrast)").startswith("NOT a gradient;")
    assert not report["td"]["ok"] and report["verdict"]["failed"] == ["td"]
    assert text.splitlines()[-1] == "verdict: FAILED: TD semi-gradient"


def test_the_command_line_prints_the_same_report(capsys):
    """The checks above read build_report's sections; `mdpgrad check` (text, --json) prints exactly them."""
    from mdpgrad.cli import main

    _, text, report = _report("two-state-reversible")
    assert main(["check", "two-state-reversible"]) == 0
    assert capsys.readouterr().out == text
    assert main(["check", "two-state-reversible", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == report


# -- the finite-difference check of ∇J: a pass mark made of the errors in play ---------------------

#: 1 − γ of the check below: a horizon of 1e9, where the former pass mark 1e-6·Σ η = 1e3 passed anything.
LONG_HORIZON_GAP = 1e-9


@pytest.mark.parametrize("factor, passes", [(1.01, False), (0.99, True)])
def test_a_gradient_off_by_its_pass_mark_is_judged_at_the_boundary(monkeypatch, factor, passes):
    import mdpgrad._report.gradient as rg
    from mdpgrad.examples import two_state

    mdp = two_state().replace(gamma=1.0 - LONG_HORIZON_GAP)         # continuing: no terminal state
    assert not mdp.terminal.any()
    honest = rg.gradient_section(build_context("two-state", mdp))
    gap, mark = honest.data["fd_max_error"], honest.data["fd_tol"]
    assert honest.ok and gap <= 0.2 * mark                          # the exact ∇J is well inside
    # not vacuous: |∇J| is ≈ 1e8 here, and an error in a gradient formula moves entries by O(|∇J|)
    g_max = float(np.abs(mg.policy_gradient(mdp, mg.TabularSoftmax(2, 2), np.zeros((2, 2)))).max())
    assert mark < 1e-6 * g_max
    s, a = honest.data["fd_worst_index"]
    # shift the worst coordinate so that |g − g_fd| lands within 1 % + 2·gap/mark of factor·mark
    shift = factor * mark + (gap if factor > 1 else -gap)
    exact = mg.policy_gradient

    def shifted(*args, **kwargs):
        g = np.array(exact(*args, **kwargs))
        g[s, a] += shift
        return g

    monkeypatch.setattr(rg, "policy_gradient", shifted)
    sec = rg.gradient_section(build_context("two-state", mdp))
    assert sec.ok is passes
    assert (sec.data["fd_max_error"] <= sec.data["fd_tol"]) is passes
