"""The report's Sobel self-check: a tolerance that scales with the condition number κ of I − γP̃^π.

Known numbers: κ∞ = (1 + γ)/(1 − γ) without terminal states, (1 + γ)·(longest expected episode)
with them.  The check passes on a valid model at γ = 1 − 1e-12 (where E[G²] ≈ 6.9e23 and the two
formulas differ by ≈ 1e19 of rounding) and still catches a variance off by just more than its
tolerance (the boundary: 1 % inside passes, 1 % outside fails).
"""

from __future__ import annotations

import dataclasses

import pytest

import mdpgrad as mg
from mdpgrad._report import build_context
from mdpgrad._report.variance import condition_number, return_variance_section, variance_agreement
from mdpgrad.examples import random_walk, two_state
from mdpgrad.variance import return_variance

NEAR_ONE = 0.999999999999


def test_condition_number_known_values():
    pi = mg.uniform_policy(2, 2)
    assert condition_number(two_state(0.9), pi) == pytest.approx(1.9 / 0.1, rel=1e-12)
    # the 5-state random walk, γ = 1: expected steps to absorption from the centre is 3·3 = 9
    # (k(n − k) from state k of n = 6 gaps), the longest of the five; ‖M‖∞ ≤ 1 + γ = 2
    walk = random_walk(5)
    assert condition_number(walk, mg.uniform_policy(walk.n_states, walk.n_actions)) == \
        pytest.approx(2 * 9.0, rel=1e-9)


def test_sobel_check_passes_on_a_valid_model_near_gamma_one():
    ctx = build_context("near-one", two_state(NEAR_ONE))
    sec = return_variance_section(ctx)
    assert sec.ok
    assert sec.data["law_of_total_variance_error"] > 1e15      # rounding, far above the old 1e-9 relative
    assert sec.data["law_of_total_variance_error"] <= sec.data["tolerance"]


@pytest.mark.parametrize("gamma", [0.9, NEAR_ONE])
@pytest.mark.parametrize("factor, holds", [(0.99, True), (1.01, False)])
def test_a_wrong_variance_just_beyond_the_tolerance_is_caught(gamma, factor, holds):
    mdp = two_state(gamma)
    pi = mg.uniform_policy(2, 2)
    rv = return_variance(mdp, pi)
    tol = variance_agreement(rv, condition_number(mdp, pi)).tolerance
    sobel = rv.second_moment - rv.v ** 2
    wrong = rv.variance.copy()
    wrong[0] = sobel[0] - factor * tol
    check = variance_agreement(dataclasses.replace(rv, variance=wrong), condition_number(mdp, pi))
    assert check.error == pytest.approx(factor * tol, rel=1e-3)
    assert check.holds == holds
    assert str(check).startswith("VarianceAgreement: " + ("agree" if holds else "DISAGREE"))


def test_the_cli_exits_zero_on_a_valid_model_near_gamma_one(tmp_path, capsys):
    from mdpgrad.cli import main

    path = tmp_path / "near_one.npz"
    mg.save(two_state(NEAR_ONE), path)
    code = main(["check", str(path)])
    out = capsys.readouterr().out
    assert code == 0, out.splitlines()[-1]
    assert "two formulas agree" in out
