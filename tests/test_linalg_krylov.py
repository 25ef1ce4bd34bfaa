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
from mdpgrad import _linalg
from mdpgrad._chains import bellman_matrix, chain_and_reward
from mdpgrad._linalg import KrylovSolver, _SplitCSR, factorize
from mdpgrad.examples import slippery_gridworld


def _bellman(n: int, seed: int = 0) -> sp.csr_array:
    mdp = slippery_gridworld(n, n, gamma=0.99)
    pi = np.random.default_rng(seed).dirichlet(np.ones(4), size=mdp.n_states)
    return sp.csr_array(bellman_matrix(mdp, chain_and_reward(mdp, pi)[0]))


@pytest.fixture
def low_thread_threshold(monkeypatch):
    monkeypatch.setattr(_linalg, "KRYLOV_THREAD_MIN_NNZ", 10)


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
