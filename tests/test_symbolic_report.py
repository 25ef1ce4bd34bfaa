"""The symbolic report section and classroom (LaTeX) output."""

import sympy

from mdpgrad import get_example
from mdpgrad._report.base import build_context, render_json, render_text
from mdpgrad._report.symbolic import symbolic_section
from mdpgrad.symbolic import evaluate, general_mdp, symmetry_verdict, td_jacobian


def test_section_on_the_default_example_proves_and_shows_the_witness():
    ctx = build_context("two-state", get_example("two-state"))
    sec = symbolic_section(ctx)
    assert sec is not None and sec.ok
    assert sec.data["theorem"] == "proved" and sec.data["n_parameters"] == 4
    assert sec.data["gamma"] == "9/10"
    # the witness as expressions in the symbolic policy: γ·P(s'|s,a)·π(a'|s') and its mirror
    assert "pi" in sec.data["entry"] and sec.data["td_symmetric"] is False
    assert sec.data["witness_agrees"]
    text = render_text([sec])
    assert "PROVED" in text and sec.data["entry"] in text
    assert '"theorem": "proved"' in render_json([sec])


def test_section_with_a_random_policy_still_agrees_numerically():
    ctx = build_context("two-state", get_example("two-state"), "random", 7)
    sec = symbolic_section(ctx)
    assert sec is not None and sec.ok and sec.data["witness_agrees"]


def test_section_is_skipped_for_large_models_and_says_why():
    ctx = build_context("gridworld", get_example("gridworld"))
    assert ctx.mdp.n_states * ctx.mdp.n_actions > ctx.symbolic_limit
    sec = symbolic_section(ctx)
    assert sec.ok and sec.data["skipped"] is True
    assert sec.rows[0][0] == "skipped" and f"> {ctx.symbolic_limit}" in sec.rows[0][1]


def test_latex_of_results():
    mdp = general_mdp(2, 1)
    ev = evaluate(mdp, [[1], [1]])
    assert r"\gamma" in ev.latex("J") and ev.latex("v") == sympy.latex(ev.v)
    ver = symmetry_verdict(td_jacobian(mdp, [[1], [1]]))
    assert r"\gamma" in ver.latex()
