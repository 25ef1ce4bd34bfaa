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


# ---------------------------------------------------------------------------
# TD Jacobians: the accuracy of the weighting D
# ---------------------------------------------------------------------------
#: A 3-state, 2-action model with dyadic entries: every row of P and π sums to exactly 1 in floats,
#: so the exact-rational reference answers for the very model the library computes with.
P3 = np.array([[[0.5, 0.25, 0.25], [0.125, 0.375, 0.5]],
               [[0.25, 0.5, 0.25], [0.75, 0.125, 0.125]],
               [[0.625, 0.125, 0.25], [0.0, 0.5, 0.5]]])
R3 = np.array([[1.0, 0.0], [0.5, -1.0], [0.0, 2.0]])
PI3 = np.array([[0.75, 0.25], [0.5, 0.5], [0.125, 0.875]])
RHO3 = np.array([0.5, 0.25, 0.25])


def _exact_td_jacobian(gamma: float, kind: str, values: str) -> np.ndarray:
    """D(γM − I) in exact rationals, M = PΠ (pairs) or P^π (states), D the named weighting."""
    S, A = PI3.shape
    g = sympy.Rational(Fraction(gamma))
    P = [[[sympy.Rational(Fraction(float(p))) for p in P3[s, a]] for a in range(A)] for s in range(S)]
    pi = [[sympy.Rational(Fraction(float(PI3[s, a]))) for a in range(A)] for s in range(S)]
    Ppi = sympy.Matrix(S, S, lambda s, t: sum(pi[s][a] * P[s][a][t] for a in range(A)))
    if kind == "occupancy":
        rho = sympy.Matrix([sympy.Rational(Fraction(float(x))) for x in RHO3])
        eta = (sympy.eye(S) - g * Ppi.T).LUsolve(rho)
    elif kind == "stationary":
        M = Ppi.T - sympy.eye(S)
        M[S - 1, :] = sympy.ones(1, S)
        rhs = sympy.zeros(S, 1)
        rhs[S - 1] = 1
        eta = M.LUsolve(rhs)
    else:
        eta = sympy.ones(S, 1)
    d = eta / sum(eta) if kind != "identity" else eta
    if values == "v":
        w, M = [d[s] for s in range(S)], Ppi
    else:
        w = [d[s] * pi[s][a] if kind != "identity" else 1 for s in range(S) for a in range(A)]
        M = sympy.Matrix(S * A, S * A, lambda x, y: P[x // A][x % A][y // A] * pi[y // A][y % A])
    n = M.shape[0]
    J = sympy.Matrix(n, n, lambda i, j: w[i] * (g * M[i, j] - (1 if i == j else 0)))
    return np.array(J.evalf(30).tolist(), dtype=float)


@pytest.mark.parametrize("gamma", [0.9, 1.0 - 1e-9])
@pytest.mark.parametrize("kind", ["occupancy", "stationary", "identity"])
@pytest.mark.parametrize("values", ["q", "v"])
def test_td_jacobian_error_covers_the_exact_rational_reference(gamma: float, kind: str, values: str) -> None:
    mdp = mg.MDP(P3, R3, gamma, rho0=RHO3)
    f = mg.td.td_jacobian if values == "q" else mg.td.td_jacobian_v
    J, err = f(mdp, PI3, D=kind, error=True)
    exact = _exact_td_jacobian(gamma, kind, values)
    assert np.all(np.abs(J - exact) <= err)
    assert np.array_equal(f(mdp, PI3, D=kind), J)                    # error=False: the same J
    if kind == "identity":
        # exact up to the roundings of P·π, γ·, −1: 4ε relative to γ|M| + 1 ≤ 2, and max|J| ≥ 1/2 here
        assert float(err.max()) <= 16 * EPS * float(np.abs(J).max())
    else:
        assert float(err.max()) > 0.0


@pytest.mark.parametrize("kind", ["occupancy", "stationary"])
def test_td_jacobian_error_of_a_sparse_mdp_is_sparse_and_covers_the_reference(kind: str) -> None:
    mdp = mg.MDP(sp.csr_array(P3.reshape(-1, 3)), R3, 0.9, rho0=RHO3)    # sparse: SuperLU for d_π
    J, err = mg.td.td_jacobian(mdp, PI3, D=kind, error=True)
    assert sp.issparse(J) and sp.issparse(err)
    assert np.all(np.abs(J.toarray() - _exact_td_jacobian(0.9, kind, "q")) <= err.toarray())


def test_td_jacobian_passes_accuracy_to_the_weighting_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    mdp = mg.MDP(P3, R3, 0.9, rho0=RHO3)
    monkeypatch.setattr(_chains, "_gth_error", lambda *args: 1.0)
    with pytest.raises(mg.InaccurateResultError):
        mg.td.td_jacobian_v(mdp, PI3, D="stationary")
    with pytest.warns(mg.InaccurateResultWarning):
        mg.td.td_jacobian_v(mdp, PI3, D="stationary", accuracy="warn")
    J, err = mg.td.td_jacobian_v(mdp, PI3, D="stationary", error=True, accuracy="ignore")
    # |δd(s)| ≤ 1 for every s, times |γP^π − I| whose diagonal entries are ≥ 1 − γ = 0.1
    assert np.all(np.diagonal(err) >= 0.1)
    with pytest.raises(mg.ValidationError, match="accuracy"):
        mg.td.td_jacobian(mdp, PI3, D="stationary", accuracy="sometimes")  # type: ignore[arg-type]
