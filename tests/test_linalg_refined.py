"""The refined dense solver's a-priori conditioning rule (mdpgrad._linalg.RefinedLU.from_chain).

With P̃ ≥ 0 and q = γ·max row sum of P̃ < 1, the Neumann series bounds κ₁(M) ≤ S·(1+q)/(1−q)
for M = I − γP̃ (Higham 2002, §6.2).  When that bound is at most 2²³ the float32 condition
estimate (LAPACK sgecon) is skipped; otherwise, or when P̃ ≥ 0 is not asserted, it runs.  Checked:
the rule on both sides of its boundary, and that the solves equal float64 LU solves either way.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

from mdpgrad import MDP, evaluate
from mdpgrad._linalg import DenseLU, RefinedLU

#: κ(M) ≤ (1+γ)/(1−γ) = 19 at γ = 0.9 and 399 at γ = 0.995 (∞-norm); a backward-stable float64
#: solve, which the refinement matches, errs by about κ·ε ≤ 1e-13 relative.  1e-11 is far above that
#: and far below any wrong answer.
RTOL = 1e-11


@pytest.fixture
def sgecon_calls(monkeypatch):
    calls = []
    real = sla.lapack.sgecon

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sla.lapack, "sgecon", counting)
    return calls


def random_chain(S: int, seed: int = 0) -> np.ndarray:
    P = np.random.default_rng(seed).random((S, S))
    return P / P.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("gamma", [0.9, 0.995])
def test_nonnegative_chain_skips_the_estimate_and_solves_exactly(sgecon_calls, gamma):
    S = 50
    P = random_chain(S)
    b = np.random.default_rng(1).standard_normal(S)
    solver = RefinedLU.from_chain(P, gamma, nonnegative=True)
    exact = DenseLU(np.eye(S) - gamma * P)
    np.testing.assert_allclose(solver.solve(b), exact.solve(b), rtol=RTOL)
    np.testing.assert_allclose(solver.solve_transposed(b), exact.solve_transposed(b), rtol=RTOL)
    assert sgecon_calls == []
    assert all(k > 0 for k in solver.history)      # refined, no float64 fallback


def test_without_the_assertion_the_estimate_runs(sgecon_calls):
    P = random_chain(50)
    RefinedLU.from_chain(P, 0.9)
    assert sgecon_calls == [1]


@pytest.mark.parametrize("side, expected_calls", [(-1, 0), (+1, 1)])
def test_rule_at_its_boundary(sgecon_calls, side, expected_calls):
    # S = 2 and row sums exactly 1: q = γ, and S(1+q)/(1−q) = 2²³ at q* = (2²² − 1)/(2²² + 1).
    # A margin of 1e-9 in γ is far above the 4·S·ε slack on q and far below 1 − q* ≈ 4.8e-7.
    q_star = (2.0**22 - 1) / (2.0**22 + 1)
    gamma = q_star + side * 1e-9
    P = np.full((2, 2), 0.5)
    solver = RefinedLU.from_chain(P, gamma, nonnegative=True)
    assert len(sgecon_calls) == expected_calls
    b = np.array([1.0, -2.0])
    # κ∞(M) ≈ 2/(1−γ) ≈ 4e6 here: the float64 reference itself errs by ≈ κ·ε ≈ 1e-9 relative
    np.testing.assert_allclose(solver.solve(b), DenseLU(np.eye(2) - gamma * P).solve(b), rtol=1e-8)


def test_evaluate_asserts_nonnegativity_only_for_a_nonnegative_policy(sgecon_calls):
    S, A = 40, 2
    rng = np.random.default_rng(3)
    P = rng.random((S, A, S))
    P /= P.sum(axis=-1, keepdims=True)
    mdp = MDP(P, rng.standard_normal((S, A)), 0.9)
    on_simplex = np.full((S, A), 0.5)
    ev = evaluate(mdp, on_simplex, solver="refined")
    assert sgecon_calls == []
    off_simplex = on_simplex.copy()
    off_simplex[0] = [1.5, -0.5]                    # rows still sum to 1, one entry negative
    ev_off = evaluate(mdp, off_simplex, validate=False, solver="refined")
    assert sgecon_calls == [1]
    for e, pi in ((ev, on_simplex), (ev_off, off_simplex)):
        ref = evaluate(mdp, pi, validate=False, solver="lu")
        np.testing.assert_allclose(e.v, ref.v, rtol=RTOL)
        np.testing.assert_allclose(e.eta, ref.eta, rtol=RTOL)


@pytest.mark.parametrize("layout", ["C", "F", "strided", "complex"])
def test_blas_gemv_is_the_matrix_vector_product(layout):
    from mdpgrad._linalg import blas_gemv

    rng = np.random.default_rng(4)
    A = rng.standard_normal((30, 20))
    x = rng.standard_normal(20)
    if layout == "F":
        A = np.asfortranarray(A)
    elif layout == "strided":
        A = rng.standard_normal((30, 40))[:, ::2]
    elif layout == "complex":
        x = x + 1j * rng.standard_normal(20)
    exact = np.array([sum(a * b for a, b in zip(row, x, strict=True)) for row in A.tolist()])
    # any summation order errs by at most n·ε·Σ|a_ij x_j| (Higham 2002, §3.1), the loop and the BLAS each
    bound = 2 * 20 * np.finfo(float).eps * (np.abs(A) @ np.abs(x))
    assert np.all(np.abs(blas_gemv(A, x) - exact) <= bound)
