"""Error estimates of the stationary distribution and of the TD Jacobians, against exact references.

The stationary distribution: GTH (dense chains up to ``STATIONARY_GTH_MAX_STATES`` states) is accurate
entry by entry whatever the coupling (O'Cinneide 1993); the LU route of larger chains is not, and its
estimate ‖A⁻¹‖₁(‖ρ‖₁ + rounding) must say so.  References: exact rationals (``fractions``) for small
chains, GTH (the private helper, a different algorithm from LU) for large ones.
"""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
import sympy

import mdpgrad as mg
from mdpgrad import _chains
from mdpgrad._chains import STATIONARY_GTH_MAX_STATES, _gth
from mdpgrad._linalg import ACCURACY_MIN_DIGITS

EPS = float(np.finfo(float).eps)

#: The coupling of the nearly uncoupled chains: below ε, so that 1 − coupling rounds to 1 or its
#: neighbour and a normwise-stable solver loses every digit of the split between the blocks.
COUPLING = 1e-16


def _exact_stationary(P: np.ndarray) -> np.ndarray:
    """d with dᵀP = dᵀ, Σd = 1, in exact rationals for the chain with the float off-diagonal entries
    of P and diagonal 1 − (their sum), as GTH reads it (it never reads the diagonal)."""
    S = P.shape[0]
    Q = [[sympy.Rational(Fraction(float(P[i, j]))) if i != j else sympy.Integer(0) for j in range(S)]
         for i in range(S)]
    for i in range(S):
        Q[i][i] = 1 - sum(Q[i])
    M = sympy.Matrix(Q).T - sympy.eye(S)
    M[S - 1, :] = sympy.ones(1, S)
    rhs = sympy.zeros(S, 1)
    rhs[S - 1] = 1
    sol = M.LUsolve(rhs)
    return np.array([float(x) for x in sol])


def _weak_blocks(blocks: list[np.ndarray], coupling: float) -> np.ndarray:
    """Block-diagonal chain of row-stochastic blocks; block k's first state moves to block k+1's first
    state (cyclically) with probability (k + 1)·coupling, taken from its own self-loop."""
    S = sum(b.shape[0] for b in blocks)
    P = np.zeros((S, S))
    starts = np.cumsum([0] + [b.shape[0] for b in blocks])
    for k, b in enumerate(blocks):
        lo, hi = starts[k], starts[k + 1]
        P[lo:hi, lo:hi] = b
        nxt = starts[(k + 1) % len(blocks)]
        P[lo, nxt] += (k + 1) * coupling
        P[lo, lo] -= (k + 1) * coupling
    return P


def _random_block(rng: np.random.Generator, n: int) -> np.ndarray:
    B = rng.random((n, n)) + np.eye(n)         # a self-loop at every state: the diagonal absorbs the coupling
    return B / B.sum(axis=1, keepdims=True)


def test_gth_keeps_every_digit_of_two_blocks_coupled_below_epsilon() -> None:
    rng = np.random.default_rng(3)
    P = _weak_blocks([_random_block(rng, 3), _random_block(rng, 3)], COUPLING)
    exact = _exact_stationary(P)
    d, err = mg.stationary_distribution(P, error=True)
    assert np.abs(d - exact).sum() <= err
    assert np.all(np.abs(d - exact) <= 16 * 6 * EPS * exact)    # entrywise relative error ≈ nε
    assert err <= 10.0 ** -ACCURACY_MIN_DIGITS
    assert np.array_equal(mg.stationary_distribution(P), d)


def _large_weak_chain() -> np.ndarray:
    rng = np.random.default_rng(4)
    n = STATIONARY_GTH_MAX_STATES // 2 + 3         # two blocks: above the GTH limit, LU route
    return _weak_blocks([_random_block(rng, n), _random_block(rng, n)], COUPLING)


@pytest.mark.parametrize("sparse", [False, True])
def test_lu_route_on_a_nearly_uncoupled_chain_is_refused_and_its_stated_error_covers_the_true_one(
        sparse: bool) -> None:
    P = _large_weak_chain()
    chain = sp.csr_array(P) if sparse else P
    ref = _gth(P)
    with pytest.raises(mg.InaccurateResultError, match="stationary distribution") as info:
        mg.stationary_distribution(chain)
    assert info.value.argument == "P_pi"
    d, err = mg.stationary_distribution(chain, error=True, accuracy="ignore")
    true = float(np.abs(d - ref).sum())
    assert true > 1e-3                             # LU did lose the split between the blocks
    assert err >= true
    with pytest.warns(mg.InaccurateResultWarning):
        mg.stationary_distribution(chain, accuracy="warn")


@pytest.mark.parametrize("sparse", [False, True])
def test_lu_route_on_a_well_conditioned_chain_states_an_error_above_the_true_one(sparse: bool) -> None:
    rng = np.random.default_rng(5)
    P = rng.random((600, 600))
    P /= P.sum(axis=1, keepdims=True)
    ref = _gth(P)
    d, err = mg.stationary_distribution(sp.csr_array(P) if sparse else P, error=True)
    true = float(np.abs(d - ref).sum())
    assert true <= err <= 10.0 ** -ACCURACY_MIN_DIGITS
    assert np.array_equal(mg.stationary_distribution(sp.csr_array(P) if sparse else P), d)


@pytest.mark.parametrize("route, helper", [("lu", "_solve_error"), ("gth", "_gth_error")])
def test_refusal_boundary(monkeypatch: pytest.MonkeyPatch, route: str, helper: str) -> None:
    rng = np.random.default_rng(6)
    S = STATIONARY_GTH_MAX_STATES + 1 if route == "lu" else 4
    P = rng.random((S, S))
    P /= P.sum(axis=1, keepdims=True)
    limit = 10.0 ** -ACCURACY_MIN_DIGITS           # relative to ‖d‖₁ = 1
    monkeypatch.setattr(_chains, helper, lambda *args: limit)
    d, err = mg.stationary_distribution(P, error=True)
    assert err == limit
    monkeypatch.setattr(_chains, helper, lambda *args: float(np.nextafter(limit, 1.0)))
    with pytest.raises(mg.InaccurateResultError):
        mg.stationary_distribution(P)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(mg.stationary_distribution(P, accuracy="ignore"), d)


def test_accuracy_keyword_is_validated() -> None:
    with pytest.raises(mg.ValidationError, match="accuracy"):
        mg.stationary_distribution(np.eye(1), accuracy="loose")  # type: ignore[call-overload]
