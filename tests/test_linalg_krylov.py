"""The Krylov solver's threaded sparse products and its memory estimate.

KrylovSolver splits each product with G = γP̃^π (and Gᵀ) into row blocks of about equal numbers of
entries, one per thread; each thread writes only its rows with scipy's own CSR kernel, so the product
must equal the unsplit ``G @ x`` bit for bit, and the blocks must tile the rows.  Before allocating G,
Gᵀ and its work vectors the solver states their size, 2·(nnz + S)·(8 + 4) + 16·8·S bytes for float64
entries and int32 indices, and refuses above mdpgrad.set_memory_limit; the tests place the limit at
the estimate and one byte below it.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.sparse as sp

import mdpgrad as mg
from mdpgrad._chains import bellman_matrix, chain_and_reward
from mdpgrad._linalg import KrylovSolver, _sparse, factorize
from mdpgrad._linalg._sparse import _SplitCSR
from mdpgrad.examples import slippery_gridworld


def _bellman(n: int, seed: int = 0) -> sp.csr_array:
    mdp = slippery_gridworld(n, n, gamma=0.99)
    pi = np.random.default_rng(seed).dirichlet(np.ones(4), size=mdp.n_states)
    return sp.csr_array(bellman_matrix(mdp, chain_and_reward(mdp, pi)[0]))


@pytest.fixture
def low_thread_threshold(monkeypatch):
    monkeypatch.setattr(_sparse, "KRYLOV_THREAD_MIN_NNZ", 10)


def test_split_product_equals_the_unsplit_product_bitwise(low_thread_threshold):
    M = _bellman(30)
    G = sp.csr_array(sp.eye_array(M.shape[0], format="csr") - M)
    G.sort_indices()
    split = _SplitCSR(G)
    # one block per thread, min(4, cores) threads; a one-core machine does not split
    cores = os.cpu_count() or 1
    assert len(split.blocks) == (min(4, cores) if cores >= 2 else 0)
    if split.blocks:
        # the blocks tile the rows 0 .. S in order
        assert split.blocks[0][0] == 0 and split.blocks[-1][1] == G.shape[0]
        assert all(a[1] == b[0] for a, b in zip(split.blocks[:-1], split.blocks[1:], strict=True))
    x = np.random.default_rng(1).standard_normal(G.shape[1])
    out = np.full(G.shape[0], np.nan)            # stale content must be overwritten
    np.testing.assert_array_equal(split.matvec(x, out), G @ x)


def test_threaded_krylov_solves_to_the_promised_residual(low_thread_threshold):
    M = _bellman(40, seed=2)
    solver = factorize(M, method="krylov")
    assert isinstance(solver, KrylovSolver)
    b = np.random.default_rng(3).standard_normal(M.shape[0])
    for x, A in ((solver.solve(b), M), (solver.solve_transposed(b), M.T)):
        # KRYLOV_RTOL = 1e-11 is the stopping rule, the final check accepts 10× that
        assert np.linalg.norm(A @ x - b) <= 1e-10 * np.linalg.norm(b)


def test_krylov_refuses_above_the_memory_limit_and_accepts_at_it():
    M = _bellman(20)
    S = M.shape[0]
    estimate = 2 * (M.nnz + S) * (8 + 4) + 16 * 8 * S
    old = mg.set_memory_limit(estimate - 1)
    try:
        with pytest.raises(mg.ValidationError, match="Krylov solver") as info:
            KrylovSolver(M)
        assert info.value.argument == "M"
        mg.set_memory_limit(estimate)
        KrylovSolver(M)
    finally:
        mg.set_memory_limit(old)


def _chain(n: int, seed: int = 0) -> tuple[mg.MDP, sp.csr_array]:
    mdp = slippery_gridworld(n, n, gamma=0.99)
    pi = np.random.default_rng(seed).dirichlet(np.ones(4), size=mdp.n_states)
    return mdp, sp.csr_array(chain_and_reward(mdp, pi)[0])


@pytest.mark.parametrize("block", [7, 1000, _sparse.KRYLOV_BLOCK])
def test_fused_passes_in_threads_and_ragged_blocks_solve_exactly(low_thread_threshold, monkeypatch, block):
    # The vector passes run in blocks within each thread's part; with 7 entries per block nearly every
    # part ends in a short block.  The answer must be the direct solution (spsolve): forward error at
    # most cond(M) ≤ (1 + γ)/(1 − γ) = 199 times the 1e-10 residual promised, so 2e-8.
    monkeypatch.setattr(_sparse, "KRYLOV_BLOCK", block)
    mdp, P = _chain(31, seed=4)
    solver = KrylovSolver.from_chain(P, 0.99, nonnegative=True)
    M = sp.csc_array(sp.eye_array(P.shape[0]) - 0.99 * P)
    b = np.random.default_rng(5).standard_normal(P.shape[0])
    for x, A in ((solver.solve(b), M), (solver.solve_transposed(b), M.T)):
        exact = sp.linalg.spsolve(sp.csc_array(A), b)
        assert np.linalg.norm(A @ x - b) <= 1e-10 * np.linalg.norm(b)
        assert np.max(np.abs(x - exact)) <= 2e-8 * np.max(np.abs(exact))
    assert all(it > 1 for it, _ in solver.history)


def test_from_chain_equals_the_solver_built_from_M_and_never_forms_M():
    _, P = _chain(25, seed=6)
    gamma = 0.95
    from_M = KrylovSolver(sp.csr_array(sp.eye_array(P.shape[0]) - gamma * P))
    from_P = KrylovSolver.from_chain(P, gamma, nonnegative=True)
    b = np.random.default_rng(7).standard_normal(P.shape[0])
    # the same G = γP up to the rounding of 1 − (1 − γp) against γp: 1e-12 is 10× the 1e-11 stopping rule
    np.testing.assert_allclose(from_P.solve(b), from_M.solve(b), rtol=0, atol=1e-12 * np.abs(b).sum())
    np.testing.assert_allclose(from_P.solve_transposed(b), from_M.solve_transposed(b), rtol=0,
                               atol=1e-12 * np.abs(b).sum())
    assert from_P._M_stored is None                # residuals come from G; M was never needed
    P_before = P.copy()
    from_P.solve(b)
    assert (P != P_before).nnz == 0                # the chain passed in is left as it was


def test_from_chain_falls_back_to_lu_and_then_forms_M():
    _, P = _chain(20, seed=8)
    solver = KrylovSolver.from_chain(P, 0.999, nonnegative=True, maxiter=1)
    b = np.random.default_rng(9).standard_normal(P.shape[0])    # (ones would be solved in one step)
    x = solver.solve(b)
    M = sp.eye_array(P.shape[0]) - 0.999 * P
    assert solver._M_stored is not None and solver._fallback is not None
    assert np.linalg.norm(M @ x - b) <= 1e-12 * np.linalg.norm(b) * 2000   # LU: κ(M) ≤ 1999 times eps-level


def test_from_chain_bounds_the_condition_only_for_a_nonnegative_chain(monkeypatch):
    # nonnegative=True with γ < 1: ‖γP̃‖∞ < 1 bounds κ(M) and no estimate is made; otherwise it is
    calls = []
    monkeypatch.setattr(_sparse, "refuse_if_ill_conditioned", lambda *a: calls.append(a))
    _, P = _chain(8)
    KrylovSolver.from_chain(P, 0.9, nonnegative=True)
    assert calls == []
    KrylovSolver.from_chain(P, 1.0, nonnegative=True)      # q = 1: no bound
    assert len(calls) == 1


def test_from_chain_refuses_a_chain_that_never_terminates():
    # γ = 1 and a closed chain: M = I − P is singular, refused naming M
    _, P = _chain(6)
    with pytest.raises(mg.ValidationError) as info:
        KrylovSolver.from_chain(P, 1.0, nonnegative=True)
    assert info.value.argument == "M"


def test_work_in_parts_tiles_the_range(low_thread_threshold):
    seen: list[tuple[int, int]] = []

    def f(lo: int, hi: int) -> np.ndarray:
        seen.append((lo, hi))
        return np.array([float(hi - lo), float(np.arange(lo, hi).sum())])

    for n in (11, 12, 1001):
        seen.clear()
        total = _sparse._in_parts(f, n)
        np.testing.assert_array_equal(total, [n, n * (n - 1) / 2])
        cores = os.cpu_count() or 1
        assert len(seen) == (min(4, cores) if cores >= 2 else 1)
        spans = sorted(seen)
        assert spans[0][0] == 0 and spans[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(spans[:-1], spans[1:], strict=True))
