"""The exact policy gradient against every other way of computing it.

Tiers: hand-derived numbers on tiny MDPs (exact Fractions); identities between
the theorem, the recursion form, the closed forms and finite differences on
generated MDPs (dense, sparse, episodic γ = 1, γ = 0, γ near 1) for all three
parameterisations; a batch equals its points one by one; bad input raises.

Models come from ``tests/_models.py`` (the ``KINDS`` presets).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from _models import KINDS, horizon, random_mdp, random_pi, random_policy
from hypothesis import given, settings
from hypothesis import strategies as st

from mdpgrad import (
    MDP,
    Direct,
    LogLinear,
    TabularSoftmax,
    ValidationError,
    check_gradient,
    expected_update_without_discount,
    get_example,
    objective,
    policy_gradient,
)
from mdpgrad.gradients import direct_gradient, loglinear_gradient, recursion_gradient, softmax_gradient
from mdpgrad.gradients._check import FD_TOL

#: Theorem vs recursion vs closed form: each route is a backward-stable solve
#: with I − γP̃^π (condition number ≤ (1+γ)/(1−γ)), so they agree to a few
#: hundred ulps times the horizon 1/(1−γ); 1e-11 per unit of horizon leaves
#: a factor ~100 above what is observed (≈1e-13) and is still far below any
#: real error (a missing term changes the gradient at order 1).
EXACT_RTOL = 1e-11

#: Finite differences: the central-difference error grows with the third
#: derivative of J, which picks up a factor of the horizon 1/(1−γ) with each
#: extra resolvent; FD_TOL (1e-6) per unit of horizon bounds what is seen
#: (≤ 3e-9 per unit) with room, and a wrong gradient misses by order 1.
FD_RTOL_PER_HORIZON = FD_TOL

def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


# --- known numbers -----------------------------------------------------------

def _chain_mdp() -> MDP:
    # state 0: action 0 pays 0 and stays, action 1 pays 1 and moves to the absorbing state 1
    P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    return MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=0.9, rho0=[1.0, 0.0])


def test_known_gradient_two_states():
    # Uniform π: v(0) = ½(0.9 v(0)) + ½·1 ⇒ v(0) = 10/11; η(0) = 1/(1 − 0.45) = 20/11;
    # q(0,·) = (9/11, 1), adv(0,·) = ∓1/11 ⇒ ∂J/∂θ[0,·] = η π adv = ∓10/121; state 1 has adv = 0.
    mdp, pol, th = _chain_mdp(), TabularSoftmax(2, 2), np.zeros((2, 2))
    expected = np.array([[-10 / 121, 10 / 121], [0.0, 0.0]])
    for g in (policy_gradient(mdp, pol, th), recursion_gradient(mdp, pol, th), softmax_gradient(mdp, th)):
        np.testing.assert_allclose(g, expected, rtol=0, atol=1e-15)
    assert objective(mdp, pol, th) == pytest.approx(float(Fraction(10, 11)), abs=1e-15)


def test_known_direct_gradient_two_states():
    # ∂J/∂π(a|0) = η(0) q(0,a) = (20/11)(9/11, 1) = (180/121, 20/11); state 1 has q = 0.
    mdp = _chain_mdp()
    expected = np.array([[180 / 121, 20 / 11], [0.0, 0.0]])
    pi = np.full((2, 2), 0.5)
    np.testing.assert_allclose(policy_gradient(mdp, Direct(2, 2), pi), expected, rtol=1e-15, atol=0)
    np.testing.assert_allclose(direct_gradient(mdp, pi), expected, rtol=1e-15, atol=0)


def test_known_episodic_gradient_gamma_one():
    # γ = 1, state 1 terminal.  Action 0 pays 1 and ends w.p. ½, action 1 pays 3 and ends.
    # Uniform π: v = ½(1 + ½v) + ½·3 ⇒ v = 8/3; q = (7/3, 3); adv = ∓1/3; η(0) = 1/(1 − ¼) = 4/3;
    # ∂J/∂θ[0,·] = (4/3)(1/2)(∓1/3) = ∓2/9.
    P = np.array([[[0.5, 0.5], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    mdp = MDP(P, [[1.0, 3.0], [0.0, 0.0]], gamma=1.0, rho0=[1.0, 0.0], terminal=np.array([False, True]))
    pol, th = TabularSoftmax(2, 2), np.zeros((2, 2))
    expected = np.array([[-2 / 9, 2 / 9], [0.0, 0.0]])
    for g in (policy_gradient(mdp, pol, th), recursion_gradient(mdp, pol, th), softmax_gradient(mdp, th)):
        np.testing.assert_allclose(g, expected, rtol=0, atol=1e-15)


# --- identities on generated MDPs --------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("which", ["softmax", "loglinear", "direct"])
def test_theorem_recursion_closed_form_fd_agree(kind, which):
    mdp = random_mdp(7, n_states=4, n_actions=3, **KINDS[kind])
    pol, th, closed = random_policy(7, mdp, which)
    g = policy_gradient(mdp, pol, th)
    H = horizon(mdp)
    assert rel_err(recursion_gradient(mdp, pol, th), g) <= EXACT_RTOL * H
    assert rel_err(closed(th), g) <= EXACT_RTOL * H
    chk = check_gradient(lambda t: objective(mdp, pol, t), g, th, tol=FD_RTOL_PER_HORIZON * H)
    assert chk.holds, (chk.max_error, chk.worst_index)


@settings(max_examples=25)
@given(seed=st.integers(0, 2**32 - 1), S=st.integers(1, 5), A=st.integers(1, 3),
       kind=st.sampled_from(list(KINDS)), which=st.sampled_from(["softmax", "loglinear", "direct"]))
def test_property_gradient_routes_agree(seed, S, A, kind, which):
    mdp = random_mdp(seed, n_states=S, n_actions=A, **KINDS[kind])
    pol, th, closed = random_policy(seed, mdp, which)
    g = policy_gradient(mdp, pol, th)
    H = horizon(mdp)
    assert rel_err(recursion_gradient(mdp, pol, th), g) <= EXACT_RTOL * H
    assert rel_err(closed(th), g) <= EXACT_RTOL * H
    chk = check_gradient(lambda t: objective(mdp, pol, t), g, th, tol=FD_RTOL_PER_HORIZON * H)
    assert chk.holds, (chk.max_error, chk.worst_index)


def test_dense_equals_sparse():
    dense = random_mdp(3, n_states=5, n_actions=2, **KINDS["dense"])
    sparse = dense.replace(P=sp.csr_array(dense.P_flat))
    pol = TabularSoftmax(5, 2)
    th = np.random.default_rng(0).standard_normal((5, 2))
    assert rel_err(policy_gradient(sparse, pol, th), policy_gradient(dense, pol, th)) <= EXACT_RTOL * 10


def test_gamma_zero_gradient_is_myopic():
    # γ = 0: J = Σ ρ₀ π r, so ∂J/∂θ[s,a] = ρ₀(s) π(a|s) (r(s,a) − Σ_b π(b|s) r(s,b)), by hand.
    mdp = random_mdp(11, n_states=3, n_actions=3, **KINDS["gamma0"])
    th = np.random.default_rng(2).standard_normal((3, 3))
    pi = TabularSoftmax(3, 3).probabilities(th)
    expected = mdp.rho0[:, None] * pi * (mdp.r - np.sum(pi * mdp.r, axis=1, keepdims=True))
    np.testing.assert_allclose(policy_gradient(mdp, TabularSoftmax(3, 3), th), expected, rtol=1e-13,
                               atol=1e-15)


@pytest.mark.parametrize("which", ["softmax", "loglinear", "direct"])
def test_batch_equals_points(which):
    mdp = random_mdp(5, n_states=4, n_actions=2, **KINDS["dense"])
    pol, th, closed = random_policy(5, mdp, which)
    rng = np.random.default_rng(9)
    batch = th + 0.1 * rng.standard_normal((3, 2) + th.shape)
    G = policy_gradient(mdp, pol, batch)
    Jb = objective(mdp, pol, batch)
    assert G.shape == batch.shape and Jb.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            np.testing.assert_allclose(G[i, j], policy_gradient(mdp, pol, batch[i, j]), rtol=1e-12,
                                       atol=1e-14)
            assert Jb[i, j] == pytest.approx(objective(mdp, pol, batch[i, j]), rel=1e-12)
    np.testing.assert_allclose(closed(batch), G, rtol=1e-11, atol=1e-13)


# --- the checker itself ------------------------------------------------------

def test_check_gradient_step_rule_and_error():
    th = np.array([0.5, -3.0])
    chk = check_gradient(lambda x: float(np.sum(x ** 3)), lambda x: 3 * x ** 2, th)
    eps13 = np.finfo(float).eps ** (1 / 3)
    # the step is rounded so that θ ± h is representable: a change of at most one ulp of θ
    # (≈1e-16·max(1, |θ|)), i.e. ≤ 2e-11 relative to h ≈ 6e-6·max(1, |θ|)
    np.testing.assert_allclose(chk.step, [eps13, 3 * eps13], rtol=1e-10)
    # central differences of a cubic: g_fd = 3x² + h², so the mixed error is h²/max(1, 3x²)
    np.testing.assert_allclose(chk.fd_gradient, 3 * th ** 2 + chk.step ** 2, rtol=1e-6)
    assert chk.holds


def test_check_gradient_catches_a_wrong_gradient():
    mdp = random_mdp(1, n_states=3, n_actions=2, **KINDS["dense"])
    pol = TabularSoftmax(3, 2)
    th = np.zeros((3, 2))
    wrong = mdp.rho0[:, None] * softmax_gradient(mdp, th) / np.where(mdp.rho0 > 0, mdp.rho0, 1)[:, None]
    wrong = wrong * 1.01 + 0.01
    chk = check_gradient(lambda t: objective(mdp, pol, t), wrong, th)
    assert not chk.holds and chk.max_error > 1e-3


def test_check_gradient_batched_equals_loop():
    mdp = random_mdp(4, n_states=3, n_actions=2, **KINDS["dense"])
    pol = TabularSoftmax(3, 2)
    th = np.random.default_rng(0).standard_normal((3, 2))
    g = policy_gradient(mdp, pol, th)
    a = check_gradient(lambda t: objective(mdp, pol, t), g, th)
    b = check_gradient(lambda t: objective(mdp, pol, t), g, th, batched=True)
    # the batch is solved by a different LAPACK path, so J differs by a few ulps (≈1e-15·|J|);
    # a difference quotient divides that by 2h ≈ 1.2e-5, hence 1e-9 absolute
    np.testing.assert_allclose(a.fd_gradient, b.fd_gradient, rtol=0, atol=1e-9)


@pytest.mark.parametrize("call, argument", [
    (lambda: check_gradient(lambda x: 0.0, np.zeros(3), np.zeros(2)), "grad"),
    (lambda: check_gradient(lambda x: 0.0, np.zeros(2), np.zeros(2), tol=0.0), "tol"),
    (lambda: check_gradient(lambda x: 0.0, np.zeros(2), np.zeros(2), tol=np.nan), "tol"),
    (lambda: recursion_gradient(_chain_mdp(), TabularSoftmax(2, 2), np.full((2, 2), np.nan)), "theta"),
    (lambda: recursion_gradient(_chain_mdp(), TabularSoftmax(2, 2), np.zeros((3, 2, 2))), "theta"),
    (lambda: policy_gradient(_chain_mdp(), TabularSoftmax(2, 2), np.zeros((2, 3))), "theta"),
])
def test_bad_input_raises(call, argument):
    with pytest.raises(ValidationError) as info:
        call()
    assert info.value.argument == argument


# --- the `mdpgrad check` section -------------------------------------------------

def test_gradient_section_known_numbers():
    from mdpgrad._report.base import build_context
    from mdpgrad._report.gradient import gradient_section

    sec = gradient_section(build_context("chain", _chain_mdp()))
    assert sec.ok and sec.key == "gradient"
    assert sec.data["J"] == pytest.approx(10 / 11, abs=1e-15)
    # ∇J = (∓10/121, 0, 0): ‖∇J‖ = √2·10/121; state 0 is the only state with a gradient
    assert sec.data["grad_norm"] == pytest.approx(np.sqrt(2) * 10 / 121, rel=1e-13)
    assert sec.data["best_state"] == 0 and sec.data["worst_state"] == 1
    assert sec.data["fd_max_error"] <= sec.data["fd_tol"]


def test_gradient_section_fails_on_a_wrong_gradient(monkeypatch):
    import mdpgrad._report.gradient as rg
    from mdpgrad._report.base import build_context

    monkeypatch.setattr(rg, "policy_gradient", lambda *a, **k: 1.1 * policy_gradient(*a, **k) + 0.01)
    sec = rg.gradient_section(build_context("chain", _chain_mdp()))
    assert not sec.ok and sec.data["fd_max_error"] > sec.data["fd_tol"]


def test_gradient_section_samples_coordinates_on_large_models():
    from mdpgrad._report.base import build_context
    from mdpgrad._report.gradient import FD_MAX_COORDINATES, gradient_section

    mdp = random_mdp(2, n_states=40, n_actions=3, **KINDS["sparse"])
    sec = gradient_section(build_context("big", mdp, "random", seed=0))
    assert sec.ok and sec.data["fd_coordinates"] == FD_MAX_COORDINATES and sec.data["n_params"] == 120


# --- solver choices (mdpgrad._linalg) ------------------------------------------------

#: Two solvers on one system of condition ≤ (1+γ)/(1−γ) = 19 (γ = 0.9): each
#: leaves an error ≈ κ·ε ≈ 4e-15, the Krylov one its stopping residual times κ
#: (1e-12·19); 1e-10 is above both and far below any wrong answer.
SOLVER_RTOL = 1e-10


@pytest.mark.parametrize("kind", ["dense", "episodic", "near1"])
def test_refined_lu_equals_float64_lu(kind):
    from mdpgrad import evaluate
    from mdpgrad._linalg import RefinedLU

    mdp = random_mdp(3, n_states=60, n_actions=3, **KINDS[kind])
    pi = random_pi(0, mdp.n_states, 3)
    a = evaluate(mdp, pi, solver="lu")
    b = evaluate(mdp, pi, solver="refined")
    assert isinstance(b.solver, RefinedLU) and all(k > 0 for k in b.solver.history)
    for x, y in ((a.v, b.v), (a.eta, b.eta)):
        assert rel_err(y, x) <= EXACT_RTOL * horizon(mdp)
    # later solves through the same factors (as the recursion form does) agree too
    G = np.random.default_rng(1).standard_normal((mdp.n_states, 4))
    assert rel_err(b.solver.solve(G), a.solver.solve(G)) <= EXACT_RTOL * horizon(mdp)


def test_refined_lu_falls_back_when_float32_cannot_resolve_the_system():
    # Two states that swap with probability 1 − 1e-9 (γ = 1, ending otherwise): M = I − P̃ has
    # off-diagonal entries −(1 − 1e-9), which round to −1 in float32, so the single-precision
    # factor is exactly singular and every solve must use the float64 LU.
    from mdpgrad._linalg import DenseLU, RefinedLU

    M = np.array([[1.0, -(1 - 1e-9)], [-(1 - 1e-9), 1.0]])
    b = np.array([1.0, 2.0])
    solver = RefinedLU(M.copy())
    np.testing.assert_allclose(solver.solve(b), DenseLU(M).solve(b), rtol=1e-14)
    assert solver.history == [-1]


@pytest.mark.parametrize("kind", ["sparse", "episodic-sparse"])
def test_krylov_equals_sparse_lu(kind):
    from mdpgrad import evaluate
    from mdpgrad._linalg import KrylovSolver

    mdp = random_mdp(8, n_states=200, n_actions=3, **KINDS[kind])
    mdp = mdp.replace(rho0=np.eye(mdp.n_states)[0])           # a point source, as in the gridworld
    pi = random_pi(1, mdp.n_states, 3)
    a = evaluate(mdp, pi, solver="splu")
    b = evaluate(mdp, pi, solver="krylov")
    assert isinstance(b.solver, KrylovSolver)
    assert all(res <= 1e-11 for _, res in b.solver.history)
    assert rel_err(b.v, a.v) <= SOLVER_RTOL and rel_err(b.eta, a.eta) <= SOLVER_RTOL


def test_krylov_falls_back_to_sparse_lu_when_it_does_not_converge():
    from mdpgrad._linalg import KrylovSolver, SparseLU

    mdp = random_mdp(9, n_states=50, n_actions=2, **KINDS["sparse"])
    pi = np.full((50, 2), 0.5)
    from mdpgrad._chains import bellman_matrix, chain_and_reward

    M = bellman_matrix(mdp, chain_and_reward(mdp, pi)[0])
    b = np.random.default_rng(0).standard_normal(50)
    ks = KrylovSolver(M, maxiter=1)
    np.testing.assert_allclose(ks.solve(b), SparseLU(M).solve(b), rtol=1e-12, atol=1e-14)
    assert ks.history[-1][1] > 10 * ks.rtol       # the one step was not enough


def test_large_batch_goes_through_lapack_and_equals_points():
    mdp = random_mdp(6, n_states=12, n_actions=2, **KINDS["dense"])   # 12 states > BATCH_ELIMINATION_MAX
    pol = TabularSoftmax(12, 2)
    batch = np.random.default_rng(4).standard_normal((3, 12, 2))
    G = policy_gradient(mdp, pol, batch)
    for i in range(3):
        assert rel_err(G[i], policy_gradient(mdp, pol, batch[i])) <= EXACT_RTOL * 10


@pytest.mark.parametrize("kind, solver", [("dense", "nope"), ("dense", "splu"), ("sparse", "lu"),
                                          ("sparse", "refined"), ("dense", "krylov")])
def test_bad_solver_raises(kind, solver):
    from mdpgrad import evaluate

    mdp = random_mdp(1, n_states=3, n_actions=2, **KINDS[kind])
    with pytest.raises(ValidationError) as info:
        evaluate(mdp, np.full((3, 2), 0.5), solver=solver)
    assert info.value.argument == "solver"


def test_hundred_by_hundred_grid_of_parameters_in_one_call():
    # a log-linear policy with 2 parameters on a 2-state MDP, θ on a 100 × 100 grid: one call
    mdp = random_mdp(12, n_states=2, n_actions=2, **KINDS["dense"])
    phi = np.random.default_rng(0).standard_normal((2, 2, 2))
    pol = LogLinear(phi)
    x = np.linspace(-3, 3, 100)
    grid = np.stack(np.meshgrid(x, x, indexing="ij"), axis=-1)          # (100, 100, 2)
    G = policy_gradient(mdp, pol, grid)
    J = objective(mdp, pol, grid)
    assert G.shape == (100, 100, 2) and J.shape == (100, 100)
    for i, j in [(0, 0), (17, 83), (99, 42)]:
        assert rel_err(G[i, j], policy_gradient(mdp, pol, grid[i, j])) <= EXACT_RTOL * 10
        assert J[i, j] == pytest.approx(objective(mdp, pol, grid[i, j]), rel=1e-12)
    assert rel_err(loglinear_gradient(mdp, phi, grid), G) <= EXACT_RTOL * 10


@pytest.mark.parametrize("sparse", [False, True])
def test_deterministic_policy_that_never_terminates_is_rejected(sparse):
    # γ = 1; state 0: action 0 stays forever, action 1 ends.  π = "always stay" never terminates,
    # and a zero-probability action must not count as a way out.
    from mdpgrad import NonTerminatingPolicyError

    P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    P = sp.csr_array(P.reshape(4, 2)) if sparse else P
    mdp = MDP(P, [[1.0, 0.0], [0.0, 0.0]], gamma=1.0, rho0=[1.0, 0.0], terminal=np.array([False, True]))
    with pytest.raises(NonTerminatingPolicyError):
        policy_gradient(mdp, Direct(2, 2), np.array([[1.0, 0.0], [1.0, 0.0]]))
    # with any probability of leaving, the gradient exists: ∂J/∂π(a|0) = η(0) q(0, a), η(0) = 2, by hand
    g = policy_gradient(mdp, Direct(2, 2), np.array([[0.5, 0.5], [1.0, 0.0]]))
    # v(0) = ½(1 + v(0)) ⇒ v(0) = 1; q(0, ·) = (1 + 1, 0) = (2, 0)
    np.testing.assert_allclose(g, [[4.0, 0.0], [0.0, 0.0]], rtol=0, atol=1e-14)


# -- the update without γᵗ over batches and off the simplex -----------------------------------

#: batched and single solves differ by the rounding of two LU paths on 2×2 systems (≈ 1e-16 · κ)
BATCH_RTOL = 1e-12


@pytest.mark.parametrize("name", ["two-state", "two-state-episodic"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_update_without_discount_of_a_batch_is_the_loop_of_single_calls(name, n):
    """Continuing models crashed for batches (one stationary distribution was asked of them all)."""
    mdp, policy = get_example(name), TabularSoftmax(2, 2)
    theta = np.random.default_rng(n).normal(size=(n, 2, 2))
    batch = expected_update_without_discount(mdp, policy, theta)
    loop = np.stack([expected_update_without_discount(mdp, policy, th) for th in theta])
    assert batch.shape == theta.shape
    assert np.allclose(batch, loop, rtol=BATCH_RTOL, atol=BATCH_RTOL)


def test_update_without_discount_accepts_direct_parameters_off_the_simplex():
    """Direct θ off the simplex is evaluated as a closed form, like policy_gradient does."""
    mdp = get_example("two-state-episodic")
    theta = np.array([[0.6, 0.5], [0.5, 0.5]])
    u = expected_update_without_discount(mdp, Direct(2, 2), theta)
    assert np.isfinite(u).all() and u.shape == (2, 2)


def test_coordinate_budget_drops_at_the_dense_size_boundary():
    from mdpgrad._report.gradient import (
        FD_DENSE_COORDINATES,
        FD_DENSE_ENTRIES,
        FD_MAX_COORDINATES,
        _coordinates,
    )

    g = np.arange(1.0, 201.0)
    assert _coordinates(g, 100, FD_DENSE_ENTRIES).size == FD_MAX_COORDINATES
    assert _coordinates(g, 100, FD_DENSE_ENTRIES + 1).size == FD_DENSE_COORDINATES
