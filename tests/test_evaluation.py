"""Exact evaluation: hand-derived numbers, Bellman identities, layouts and batches.

Tolerances: the solves are backward stable, so errors are ≈ cond(I − γP^π)·ε
with cond ≤ 2/(1 − γ); for γ ≤ 0.99 that is ≤ 200·2.2e-16 ≈ 4e-14 relative.
TOL = 1e-11 leaves two orders of headroom and still catches any formula error.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from _models import random_mdp, random_pi

from mdpgrad import (
    MDP,
    NonTerminatingPolicyError,
    ValidationError,
    evaluate,
    stationary_distribution,
    uniform_policy,
    visit_counts,
)

TOL = 1e-11


def test_hand_derived_two_state_chain():
    # state 0 pays 1 and stays w.p. 1/2, else moves to the absorbing 0-reward state 1.
    # v0 = 1 + γ/2·v0 ⇒ v0 = 1/(1 − γ/2) = 4/3 at γ = 1/2; η0 = 4/3, η1 = γ/2·η0/(1 − γ) = 2/3.
    P = np.array([[[0.5, 0.5]], [[0.0, 1.0]]])
    ev = evaluate(MDP(P, [[1.0], [0.0]], 0.5, rho0=[1.0, 0.0]), np.ones((2, 1)))
    np.testing.assert_allclose(ev.v, [4 / 3, 0.0], rtol=TOL, atol=0)
    np.testing.assert_allclose(ev.eta, [4 / 3, 2 / 3], rtol=TOL, atol=0)
    np.testing.assert_allclose(ev.d, [2 / 3, 1 / 3], rtol=TOL, atol=0)
    assert ev.J == pytest.approx(4 / 3, rel=TOL)


def test_geometric_series_of_a_self_loop():
    # one state, reward 1 forever: v = 1/(1 − γ)  (Sutton & Barto 2018, eq. 3.10)
    for gamma in [0.0, 0.5, 0.99]:
        ev = evaluate(MDP(np.ones((1, 1, 1)), [[1.0]], gamma), np.ones((1, 1)))
        assert ev.v[0] == pytest.approx(1 / (1 - gamma), rel=TOL)
        assert ev.eta[0] == pytest.approx(1 / (1 - gamma), rel=TOL)


def test_episodic_undiscounted_chain_counts_steps():
    # a corridor 0 → 1 → 2 → terminal 3, reward −1 a step, γ = 1: v = (−3, −2, −1, 0)
    P = np.zeros((4, 1, 4))
    for s in range(3):
        P[s, 0, s + 1] = 1.0
    P[3, 0, 3] = 1.0
    r = np.array([[-1.0], [-1.0], [-1.0], [0.0]])
    ev = evaluate(MDP(P, r, 1.0, rho0=[1, 0, 0, 0], terminal=np.array([0, 0, 0, 1], bool)), np.ones((4, 1)))
    np.testing.assert_array_equal(ev.v, [-3, -2, -1, 0])
    np.testing.assert_array_equal(ev.eta, [1, 1, 1, 0])


@pytest.mark.parametrize("terminal", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_bellman_identities(seed, terminal):
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng, n_actions=3, gamma=0.9, episodic=terminal, random_rho0=not terminal)
    pi = random_pi(rng, mdp.n_states, 3)
    ev = evaluate(mdp, pi)
    scale = max(1.0, np.abs(ev.v).max())
    assert ev.bellman_residual(mdp) <= TOL * scale
    np.testing.assert_allclose(np.sum(pi * ev.q, axis=1), ev.v, rtol=0, atol=TOL * scale)
    np.testing.assert_allclose(ev.q, mdp.r + mdp.gamma * np.einsum("sat,t->sa", mdp.P, ev.v),
                               rtol=0, atol=TOL * scale)
    np.testing.assert_allclose(np.sum(pi * ev.advantage, axis=1), 0.0, atol=TOL * scale)
    assert ev.J == pytest.approx(mdp.rho0 @ ev.v, rel=TOL)
    assert ev.J == pytest.approx(np.sum(ev.eta[:, None] * pi * mdp.r), rel=TOL, abs=TOL)
    np.testing.assert_allclose(ev.mu.sum(), 1.0, rtol=TOL)
    if not terminal:
        assert ev.eta.sum() == pytest.approx(1 / (1 - mdp.gamma), rel=TOL)
    else:
        assert ev.eta[-1] == 0.0 and ev.v[-1] == 0.0


def test_eta_is_the_series_of_discounted_state_distributions():
    # η = Σ_t γᵗ ρ₀ᵀ(P^π)ᵗ, summed directly to convergence (γ = 0.5: 80 terms reach 1e-24)
    rng = np.random.default_rng(7)
    mdp = random_mdp(rng, n_actions=3, gamma=0.5, random_rho0=True)
    pi = random_pi(rng, 4, 3)
    ev = evaluate(mdp, pi)
    dist, series = mdp.rho0.copy(), np.zeros(4)
    for t in range(80):
        series += 0.5**t * dist
        dist = dist @ ev.P_pi
    np.testing.assert_allclose(ev.eta, series, rtol=TOL)


@pytest.mark.parametrize("terminal", [False, True])
def test_dense_equals_sparse(terminal):
    rng = np.random.default_rng(3)
    dense = random_mdp(rng, n_states=6, gamma=0.9, episodic=terminal, random_rho0=not terminal)
    sparse = MDP(sp.csr_array(dense.P_flat), dense.r, dense.gamma, dense.rho0, dense.terminal)
    pi = random_pi(rng, dense.n_states, 2)
    a, b = evaluate(dense, pi), evaluate(sparse, pi)
    assert sp.issparse(b.P_pi)
    for name in ["v", "q", "advantage", "eta", "d", "mu"]:
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=TOL, atol=TOL)
    assert b.J == pytest.approx(a.J, rel=TOL)


def test_batch_equals_loop():
    rng = np.random.default_rng(11)
    mdp = random_mdp(rng, n_actions=3, gamma=0.9, random_rho0=True)
    pis = random_pi(rng, 4, 3, batch=(3, 5))
    ev = evaluate(mdp, pis)
    assert ev.v.shape == (3, 5, 4) and ev.J.shape == (3, 5)
    for i in range(3):
        for j in range(5):
            one = evaluate(mdp, pis[i, j])
            np.testing.assert_allclose(ev.v[i, j], one.v, rtol=TOL)
            np.testing.assert_allclose(ev.eta[i, j], one.eta, rtol=TOL)
            np.testing.assert_allclose(ev.q[i, j], one.q, rtol=TOL, atol=TOL)
            assert ev.J[i, j] == pytest.approx(one.J, rel=TOL)


def test_gamma_one_non_terminating_policy_is_reported():
    # state 0: action 0 stays (reward 1), action 1 moves to the terminal state 1
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    mdp = MDP(P, [[1.0, 0.0], [0.0, 0.0]], 1.0, terminal=np.array([False, True]))
    assert evaluate(mdp, uniform_policy(2, 2)).v[0] == pytest.approx(1.0, rel=TOL)  # v0 = ½(1 + v0)
    with pytest.raises(NonTerminatingPolicyError, match="never terminates from state 0"):
        evaluate(mdp, np.array([[1.0, 0.0], [1.0, 0.0]]))
    with pytest.raises(NonTerminatingPolicyError):   # one bad member of a batch is enough
        evaluate(mdp, np.array([[[0.5, 0.5], [1, 0]], [[1.0, 0.0], [1, 0]]]))


BAD_POLICIES = [
    ("wrong shape", np.ones((2, 3)) / 3, r"pi has shape \(2, 3\)"),
    ("row sum", np.array([[0.5, 0.4], [0.5, 0.5]]), r"pi\[0, :\] sums to 0.9"),
    ("negative", np.array([[1.5, -0.5], [0.5, 0.5]]), r"pi\[0, 1\] is -0.5"),
    ("nan", np.array([[np.nan, 0.5], [0.5, 0.5]]), r"pi\[0, 0\] is nan"),
]


@pytest.mark.parametrize("pi, fragment", [b[1:] for b in BAD_POLICIES], ids=[b[0] for b in BAD_POLICIES])
def test_bad_policy_tables(pi, fragment):
    mdp = random_mdp(0, n_states=2, gamma=0.9, random_rho0=True)
    with pytest.raises(ValidationError, match=fragment) as info:
        evaluate(mdp, pi)
    assert info.value.argument == "pi"


def test_stationary_distribution_of_a_two_state_chain():
    # d = (q, p)/(p + q) for P = [[1 − p, p], [q, 1 − q]]
    p, q = 0.3, 0.1
    P = np.array([[1 - p, p], [q, 1 - q]])
    np.testing.assert_allclose(stationary_distribution(P), [q / (p + q), p / (p + q)], rtol=TOL)
    np.testing.assert_allclose(stationary_distribution(sp.csr_array(P)), [0.25, 0.75], rtol=TOL)
    with pytest.raises(ValidationError, match="no unique stationary"):
        stationary_distribution(np.eye(2))


def test_undiscounted_visit_counts():
    # corridor with a self-loop of probability ½ at state 0: expected visits to 0 is 2
    P = np.zeros((3, 1, 3))
    P[0, 0, :2] = 0.5
    P[1, 0, 2] = P[2, 0, 2] = 1.0
    mdp = MDP(P, np.zeros((3, 1)), 0.9, rho0=[1, 0, 0], terminal=np.array([0, 0, 1], bool))
    np.testing.assert_allclose(visit_counts(mdp, np.ones((3, 1)), discounted=False), [2, 1, 0], rtol=TOL)
    np.testing.assert_allclose(visit_counts(mdp, np.ones((3, 1))), [1 / 0.55, 0.9 * 0.5 / 0.55, 0], rtol=TOL)


def _old_undiscounted_counts(mdp, pi):
    """The definition: η of the same MDP with γ = 1."""
    return evaluate(mdp.replace(gamma=1.0), pi).eta


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_visit_counts_equal_the_eta_of_an_evaluation(seed, sparse):
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng, gamma=0.9, episodic=True, sparse=sparse)
    pi = random_pi(rng, mdp.n_states, 2)
    np.testing.assert_allclose(visit_counts(mdp, pi), evaluate(mdp, pi).eta, rtol=TOL, atol=TOL)
    eta_tilde = visit_counts(mdp, pi, discounted=False)
    np.testing.assert_allclose(eta_tilde, _old_undiscounted_counts(mdp, pi), rtol=TOL, atol=TOL)
    assert eta_tilde[-1] == 0.0
    # η̃ᵀ(I − P̃^π) = ρ̃₀ᵀ, read off the chain directly
    P_pi = evaluate(mdp, pi).P_pi
    P_pi = P_pi.toarray() if sp.issparse(P_pi) else P_pi
    keep = ~mdp.terminal
    np.testing.assert_allclose(eta_tilde[keep] - eta_tilde[keep] @ P_pi[np.ix_(keep, keep)], mdp.rho0[keep],
                               rtol=0, atol=TOL * eta_tilde.sum())


def test_visit_counts_of_a_batch_equal_the_loop():
    rng = np.random.default_rng(12)
    mdp = random_mdp(rng, n_actions=3, gamma=0.9, episodic=True)
    pis = random_pi(rng, mdp.n_states, 3, batch=(2, 3))
    for discounted in (True, False):
        batch = visit_counts(mdp, pis, discounted=discounted)
        assert batch.shape == (2, 3, mdp.n_states)
        for i in range(2):
            for j in range(3):
                np.testing.assert_allclose(batch[i, j], visit_counts(mdp, pis[i, j], discounted=discounted),
                                           rtol=TOL)


def test_undiscounted_visit_counts_need_termination():
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    mdp = MDP(P, [[1.0, 0.0], [0.0, 0.0]], 0.9, terminal=np.array([False, True]))
    stays = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert visit_counts(mdp, stays)[0] == pytest.approx(10.0, rel=TOL)       # discounted: 1/(1 − γ)
    with pytest.raises(NonTerminatingPolicyError, match="never terminates from state 0"):
        visit_counts(mdp, stays, discounted=False)
    with pytest.raises(NonTerminatingPolicyError):                          # continuing MDP
        visit_counts(random_mdp(0, n_states=2, gamma=0.9), np.full((2, 2), 0.5), discounted=False)
    with pytest.raises(ValidationError, match=r"pi\[0, :\] sums to 0.9"):
        visit_counts(mdp, np.array([[0.5, 0.4], [0.5, 0.5]]), discounted=False)


@pytest.mark.parametrize("storage, solver, S", [
    ("dense", "auto", 4), ("dense", "lu", 4), ("dense", "refined", 4), ("dense", "auto", 1000),
    ("sparse", "auto", 4), ("sparse", "splu", 4), ("sparse", "krylov", 4),
])
def test_every_single_policy_evaluation_keeps_its_factorisation(storage, solver, S):
    """Evaluation.solver factorises I − γP̃^π: solving r^π again gives v, ρ̃₀ transposed gives η."""
    rng = np.random.default_rng(S)
    mdp = random_mdp(rng, n_states=S - 1, gamma=0.9, episodic=True, sparse=storage == "sparse")   # S in all
    pi = random_pi(rng, mdp.n_states, 2)
    ev = evaluate(mdp, pi, solver=solver)
    assert ev.solver is not None
    np.testing.assert_allclose(ev.solver.solve(ev.r_pi), ev.v, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(ev.solver.solve_transposed(np.where(mdp.terminal, 0.0, mdp.rho0)), ev.eta,
                               rtol=1e-9, atol=TOL)


def test_complex_and_batched_evaluations():
    rng = np.random.default_rng(8)
    mdp = random_mdp(rng, n_actions=3, gamma=0.9, episodic=True)
    pi = random_pi(rng, mdp.n_states, 3)
    step = np.zeros_like(pi, dtype=complex)
    step[0, 1] = 1e-30j
    ev = evaluate(mdp, pi + step, validate=False)
    assert ev.solver is not None and np.iscomplexobj(ev.v)
    np.testing.assert_allclose(ev.solver.solve(ev.r_pi), ev.v, rtol=TOL)
    assert evaluate(mdp, random_pi(rng, mdp.n_states, 3, batch=(2,))).solver is None


# -- singular and numerically singular systems; the model argument ----------------------------
import warnings as _warnings  # noqa: E402

from mdpgrad._linalg import SINGULAR_RCOND, DenseLU, SparseLU, StackedLU  # noqa: E402


def _rounding_termination(sparse: bool):
    """γ = 1; state 0 stays with probability 1.0 and ends with 1e-20 (lost to rounding in I − P̃^π)."""
    P = np.array([[[1.0, 1e-20]], [[0.0, 1.0]]])
    if sparse:
        P = sp.csr_array(P.reshape(2, 2))
    return MDP(P, [[1.0], [0.0]], gamma=1.0, rho0=[1.0, 0.0], terminal=[False, True])


@pytest.mark.parametrize("sparse, solver", [(False, "lu"), (False, "refined"), (True, "splu"),
                                            (True, "krylov")])
def test_termination_below_rounding_is_refused(sparse, solver):
    mdp = _rounding_termination(sparse)
    with _warnings.catch_warnings():
        _warnings.simplefilter("error")
        with pytest.raises(NonTerminatingPolicyError, match="singular"):
            evaluate(mdp, np.ones((2, 1)), solver=solver)
        if not sparse:
            with pytest.raises(NonTerminatingPolicyError, match="batch index 0"):
                evaluate(mdp, np.ones((2, 2, 1)))
        with pytest.raises(NonTerminatingPolicyError):
            visit_counts(mdp, np.ones((2, 1)), discounted=False)


@pytest.mark.parametrize("h, refused", [(2.0**-40, False), (2.0**-53, True)])
def test_numerically_singular_boundary(h, refused):
    """M = [[1, 1], [1, 1 + h]]: κ₁ ≈ 4/h, so rcond ≈ 2.3e-13 (solved) or 2.8e-17 (< ε, refused)."""
    M = np.array([[1.0, 1.0], [1.0, 1.0 + h]])
    assert (1 / np.linalg.cond(M, 1) < SINGULAR_RCOND) == refused
    makers = [lambda: DenseLU(M.copy()), lambda: SparseLU(sp.csc_array(M)), lambda: StackedLU(M[None].copy())]
    for make in makers:
        if refused:
            with pytest.raises(ValidationError, match="singular") as info:
                make()
            assert info.value.argument == "M"
        else:
            x = make().solve(np.array([2.0, 2.0 + h]))
            np.testing.assert_allclose(np.ravel(x), [1.0, 1.0], rtol=1e-3)


@pytest.mark.parametrize("bad", ["two-state", None, {"P": 1}])
def test_evaluate_refuses_a_model_that_is_not_an_mdp(bad):
    for f in (evaluate, visit_counts):
        with pytest.raises(ValidationError, match="expected an mdpgrad.MDP") as info:
            f(bad, np.ones((2, 1)))
        assert info.value.argument == "mdp"


def test_off_simplex_table_must_be_finite_and_flags_are_booleans():
    mdp = MDP(np.array([[[0.5, 0.5]], [[0.0, 1.0]]]), [[1.0], [0.0]], gamma=0.5, rho0=[1.0, 0.0])
    with pytest.raises(ValidationError, match=r"pi\[0, 0\] is nan"):
        evaluate(mdp, np.array([[np.nan], [1.0]]), validate=False)
    with pytest.raises(ValidationError, match="validate"):
        evaluate(mdp, np.ones((2, 1)), validate="no")
    with pytest.raises(ValidationError, match="discounted"):
        visit_counts(mdp, np.ones((2, 1)), discounted=0)


def test_batch_memory_is_checked_before_allocating():
    from mdpgrad import set_memory_limit
    mdp = MDP(np.array([[[0.5, 0.5]], [[0.0, 1.0]]]), [[1.0], [0.0]], gamma=0.5, rho0=[1.0, 0.0])
    old = set_memory_limit(10 * 2 * 2 * 8)
    try:
        evaluate(mdp, np.ones((10, 2, 1)))                 # 10 policies × 2×2 doubles: at the limit
        with pytest.raises(ValidationError, match="memory limit") as info:
            evaluate(mdp, np.ones((11, 2, 1)))
        assert info.value.argument == "pi"
    finally:
        set_memory_limit(old)
