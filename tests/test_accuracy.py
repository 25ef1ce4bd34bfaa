"""Accuracy of the "exact" results: error estimates, refusal of noise, the stable routes.

References are computed independently at 80 digits with mpmath (shipped with sympy), on the model
the library answers for: rows of P and of π normalised to sum to exactly 1 (the float rows sum to 1
only to rounding, and near γ = 1 that rounding alone moves ∇J; see ``ErrorEstimate``).
"""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest
from _models import random_mdp, random_pi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mdpgrad as mg
from mdpgrad._evaluation import DEFLATE_RATIO
from mdpgrad._linalg import ACCURACY_MIN_DIGITS, check_accuracy, digits_left, inverse_norm_inf
from mdpgrad.gradients._theorem import gradient_error

DIGITS = 80


def _reference(P: np.ndarray, r: np.ndarray, gamma: float, rho0: np.ndarray, pi: np.ndarray,
               terminal: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """v, η, adv and the tabular-softmax ∇J = η π adv at 80 digits, rows of P and π normalised."""
    with mp.workdps(DIGITS):
        S, A, _ = P.shape
        term = np.zeros(S, bool) if terminal is None else terminal
        Pm = [[[mp.mpf(float(x)) for x in P[s, a]] for a in range(A)] for s in range(S)]
        for s in range(S):
            for a in range(A):
                z = mp.fsum(Pm[s][a])
                Pm[s][a] = [x / z for x in Pm[s][a]]
        pim = [[mp.mpf(float(x)) for x in pi[s]] for s in range(S)]
        pim = [[x / mp.fsum(row) for x in row] for row in pim]
        g = mp.mpf(gamma)
        M = mp.eye(S)
        rpi = mp.matrix(S, 1)
        for s in range(S):
            if term[s]:
                continue
            rpi[s] = mp.fsum(pim[s][a] * mp.mpf(float(r[s, a])) for a in range(A))
            for t in range(S):
                if not term[t]:
                    M[s, t] -= g * mp.fsum(pim[s][a] * Pm[s][a][t] for a in range(A))
        v = mp.lu_solve(M, rpi)
        rho = mp.matrix([0 if term[s] else mp.mpf(float(rho0[s])) for s in range(S)])
        eta = mp.lu_solve(M.T, rho)
        adv = np.zeros((S, A))
        grad = np.zeros((S, A))
        for s in range(S):
            if term[s]:
                continue
            for a in range(A):
                q = mp.mpf(float(r[s, a])) + g * mp.fsum(Pm[s][a][t] * v[t] for t in range(S) if not term[t])
                adv[s, a] = float(q - v[s])
                grad[s, a] = float(eta[s] * pim[s][a] * (q - v[s]))
        return {"v": np.array([float(x) for x in v]), "eta": np.array([float(x) for x in eta]),
                "adv": adv, "grad": grad}


def _offset_model() -> mg.MDP:
    rng = np.random.default_rng(1)
    P = rng.random((4, 2, 4))
    P /= P.sum(-1, keepdims=True)
    r = 1 + 1e-6 * rng.standard_normal((4, 2))
    return mg.MDP(P, r, gamma=1 - 1e-12)


def test_offset_rewards_near_gamma_one_give_the_reference_gradient():
    """r = 1 + 1e-6·N(0, 1), γ = 1 − 1e-12: once [2²⁴, 0, −2²⁴, …] (wrong sign in 6 of 8 entries)."""
    mdp = _offset_model()
    theta = np.zeros((4, 2))
    g, err = mg.policy_gradient(mdp, mg.TabularSoftmax(4, 2), theta, error=True)
    ref = _reference(mdp.P, mdp.r, mdp.gamma, mdp.rho0, np.full((4, 2), 0.5))["grad"]
    assert np.all(np.abs(g - ref) <= err)
    assert np.max(err) <= 1e-6 * np.max(np.abs(ref))             # and the stated error is small
    assert np.array_equal(np.sign(g), np.sign(ref))
    np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-9 * np.abs(g).max())   # a softmax gradient's rows
    # the same gradient with the offset removed (r − 1 is exact in floating point here)
    centred = mg.MDP(mdp.P, mdp.r - 1.0, gamma=mdp.gamma)
    g0, err0 = mg.policy_gradient(centred, mg.TabularSoftmax(4, 2), theta, error=True)
    assert np.all(np.abs(g - g0) <= err + err0)


def test_large_offset_at_gamma_near_one_is_accurate():
    """r = 1e8 + N(0, 1) at γ = 0.999999: ∇J was 2.8 % off."""
    rng = np.random.default_rng(3)
    P = rng.random((4, 2, 4))
    P /= P.sum(-1, keepdims=True)
    r = 1e8 + rng.standard_normal((4, 2))
    mdp = mg.MDP(P, r, gamma=0.999999)
    theta = rng.standard_normal((4, 2))
    pol = mg.TabularSoftmax(4, 2)
    g, err = mg.policy_gradient(mdp, pol, theta, error=True)
    ref = _reference(P, r, mdp.gamma, mdp.rho0, pol.probabilities(theta))["grad"]
    assert np.all(np.abs(g - ref) <= err)
    assert np.max(np.abs(g - ref)) <= 1e-6 * np.max(np.abs(ref))


def _barely_terminating() -> mg.MDP:
    """γ = 1, termination probability 1e-15 per step: ∇J came out 31 % off with a sign flip."""
    rng = np.random.default_rng(4)
    P = np.zeros((5, 2, 5))
    P[:4, :, :4] = rng.random((4, 2, 4))
    P[:4] /= P[:4].sum(-1, keepdims=True)
    P[:4, :, :4] *= 1 - 1e-15
    P[:4, :, 4] = 1e-15
    P[4, :, 4] = 1.0
    r = rng.standard_normal((5, 2))
    r[4] = 0.0
    return mg.MDP(P, r, gamma=1.0, terminal=np.array([False] * 4 + [True]))


def test_noise_is_refused_and_the_message_says_what_to_do():
    mdp = _barely_terminating()
    with pytest.raises(mg.InaccurateResultError) as info:
        mg.policy_gradient(mdp, mg.TabularSoftmax(5, 2), np.zeros((5, 2)))
    msg = str(info.value)
    assert "significant digits" in msg and "centre the rewards" in msg and "exact rationals" in msg
    assert isinstance(info.value, mg.ValidationError)
    with pytest.raises(mg.InaccurateResultError):
        mg.evaluate(mdp, np.full((5, 2), 0.5))


def test_accuracy_warn_and_ignore_return_the_result():
    mdp = _barely_terminating()
    pol, theta = mg.TabularSoftmax(5, 2), np.zeros((5, 2))
    with pytest.warns(mg.InaccurateResultWarning, match="significant digits"):
        g_warn = mg.policy_gradient(mdp, pol, theta, accuracy="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g_ignore, err = mg.policy_gradient(mdp, pol, theta, accuracy="ignore", error=True)
        ev = mg.evaluate(mdp, np.full((5, 2), 0.5), accuracy="ignore")
    np.testing.assert_array_equal(g_warn, g_ignore)
    assert ev.error is not None and ev.error.digits < ACCURACY_MIN_DIGITS
    assert np.max(err) > 1e-6 * np.max(np.abs(g_ignore))         # the stated error says it is noise
    with pytest.raises(mg.ValidationError, match="accuracy"):
        mg.evaluate(mdp, np.full((5, 2), 0.5), accuracy="loud")


@pytest.mark.parametrize("factor, refused", [(1 - 1e-9, False), (1 + 1e-9, True)])
def test_refusal_tolerance_boundary(factor, refused):
    """Refused exactly when the error exceeds 10⁻⁶ of the scale (six significant digits)."""
    scale = 3.0
    error = 10.0 ** -ACCURACY_MIN_DIGITS * scale * factor
    if refused:
        with pytest.raises(mg.InaccurateResultError, match="6.0 significant digits|5.9 significant"):
            check_accuracy("x", error, scale, "refuse", "do something")
    else:
        check_accuracy("x", error, scale, "refuse", "do something")
    assert digits_left(error, scale) == pytest.approx(ACCURACY_MIN_DIGITS - np.log10(factor))


def test_zero_gradient_with_one_action_is_not_refused():
    mdp = random_mdp(0, n_states=3, n_actions=1, gamma=0.9)
    g, err = mg.policy_gradient(mdp, mg.TabularSoftmax(3, 1), np.zeros((3, 1)), error=True)
    assert np.all(g == 0.0) and np.all(err == 0.0)


def test_ordinary_models_keep_nearly_all_digits():
    mdp = random_mdp(1, n_states=6, n_actions=3, gamma=0.9)
    ev = mg.evaluate(mdp, random_pi(2, 6, 3))
    assert ev.error is not None and ev.error.route == "direct" and ev.error.digits >= 12


def test_the_route_switches_at_the_deflation_ratio():
    rng = np.random.default_rng(5)
    P = rng.random((3, 2, 3))
    P /= P.sum(-1, keepdims=True)
    r = 5.0 + rng.standard_normal((3, 2))             # spread < max|r|: the horizon stays below DEFLATE_RATIO
    spread, size = r.max() - r.min(), np.abs(r).max()
    pi = np.full((3, 2), 0.5)
    # horizon · max|r| against DEFLATE_RATIO · spread, with horizon < DEFLATE_RATIO on both sides
    for k, route in ((0.999, "direct"), (1.001, "deflated")):
        gamma_h = DEFLATE_RATIO * spread / size * k       # the horizon at which the two sides are equal
        gamma = 1.0 - 1.0 / gamma_h
        ev = mg.evaluate(mg.MDP(P, r, gamma=gamma), pi)
        assert ev.error.route == route
    ev = mg.evaluate(mg.MDP(P, r, gamma=1.0 - 1.0 / DEFLATE_RATIO * 1.001), pi)
    assert ev.error.route == "deflated"


@pytest.mark.parametrize("gamma", [0.9, 1 - 1e-9])
def test_both_routes_solve_the_bellman_matrix(gamma):
    """ev.solver solves with M = I − γP^π on either route (the deflated one by Sherman–Morrison)."""
    mdp = random_mdp(6, n_states=5, n_actions=2, gamma=gamma)
    ev = mg.evaluate(mdp, random_pi(7, 5, 2))
    M = np.eye(5) - gamma * ev.P_pi
    b = np.random.default_rng(8).standard_normal((5, 2))
    for x, lhs in ((ev.solver.solve(b), M), (ev.solver.solve_transposed(b), M.T)):
        np.testing.assert_allclose(lhs @ x, b, atol=1e-12 * np.abs(x).max() / (1 - gamma) + 1e-12)
    np.testing.assert_allclose(ev.solver.solve(b[:, 0]), ev.solver.solve(b)[:, 0], rtol=1e-13)


def test_a_batch_on_the_deflated_route_is_the_loop():
    mdp = _offset_model()
    pis = random_pi(9, 4, 2, batch=(3,))
    batch = mg.evaluate(mdp, pis)
    assert batch.error.route == "deflated"
    for i in range(3):
        one = mg.evaluate(mdp, pis[i])
        np.testing.assert_allclose(batch.advantage[i], one.advantage, rtol=1e-9, atol=1e-9 * 1e-6)
        np.testing.assert_allclose(batch.eta[i], one.eta, rtol=1e-12)
        assert batch.error.advantage[i] == pytest.approx(one.error.advantage, rel=1e-6)


def test_overflowing_rewards_are_blamed_on_r():
    mdp = random_mdp(10, n_states=3, n_actions=2, gamma=0.9)
    big = mg.MDP(mdp.P, np.full((3, 2), 1e308), gamma=0.9)
    with pytest.raises(mg.ValidationError, match="max \\|r\\|") as info:
        mg.evaluate(big, random_pi(11, 3, 2))
    assert info.value.argument == "r" and "simplex" not in str(info.value)


@pytest.mark.parametrize("S", [4, 1000])
def test_evaluation_arrays_are_read_only_and_its_own(S):
    """Writing into ev.P_pi once changed later ev.solver.solve() results (S ≥ 1000: the refined solver
    kept P^π itself); ev.pi was the caller's array."""
    mdp = random_mdp(12, n_states=S, n_actions=2, gamma=0.9)
    pi = random_pi(13, S, 2)
    ev = mg.evaluate(mdp, pi, validate=False)
    assert not np.shares_memory(ev.pi, pi)
    pi[:] = 0.5                                    # the caller's later writes do not reach ev
    assert not np.all(ev.pi == 0.5)
    b = np.arange(float(S))
    before = ev.solver.solve(b)
    for name in ("pi", "P_pi", "r_pi", "v", "q", "advantage", "eta", "d", "mu"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(ev, name)[...] = 0.0
    np.testing.assert_array_equal(ev.solver.solve(b), before)


def test_weakly_coupled_blocks_match_gth():
    """Two doubly stochastic 3-state blocks coupled with ε = 1e-16: d is uniform (detailed balance between
    the blocks, d(0)·ε = d(3)·ε, and each block's doubly stochastic law is uniform)."""
    eps = 1e-16
    B = np.array([[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.3, 0.2, 0.5]])
    P = np.zeros((6, 6))
    P[:3, :3] = B
    P[3:, 3:] = B.T
    P[0, 3] = P[3, 0] = eps
    d = mg.stationary_distribution(P)
    np.testing.assert_allclose(d, np.full(6, 1 / 6), rtol=1e-14)


def test_stationary_distribution_is_zero_on_transient_states():
    P = np.array([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8], [0.0, 0.6, 0.4]])
    d = mg.stationary_distribution(P)
    assert d[0] == 0.0
    np.testing.assert_allclose(d[1:], [0.6 / 1.4, 0.8 / 1.4], rtol=1e-14)


@pytest.mark.parametrize("S", [3, 7, 12])
def test_hager_estimate_is_a_tight_lower_bound(S):
    rng = np.random.default_rng(S)
    M = rng.standard_normal((4, S, S)) + S * np.eye(S)
    est = inverse_norm_inf(lambda b: np.linalg.solve(M, b[..., None])[..., 0],
                           lambda b: np.linalg.solve(np.swapaxes(M, -1, -2), b[..., None])[..., 0], M.shape)
    exact = np.abs(np.linalg.inv(M)).sum(axis=-1).max(axis=-1)
    assert np.all(est <= exact * (1 + 1e-12)) and np.all(est >= exact / 3)


def _near_singular_case() -> tuple[mg.MDP, np.ndarray]:
    """A 6-state chain and a table c·1 off the simplex with γP^π's spectral radius 1 − 3e-15: the
    reciprocal condition number of M is about 1.7e-16, just below SINGULAR_RCOND (found by a search;
    an exact κ₁ of the stack accepted it in a batch while LAPACK's estimate refused it alone)."""
    rng = np.random.default_rng(1)
    for _ in range(21):
        S = int(rng.choice([6, 12]))
        P = rng.random((S, 1, S)) ** 8
        P /= P.sum(-1, keepdims=True)
        r = rng.standard_normal((S, 1))
        lam = np.max(np.abs(np.linalg.eigvals(0.5 * P[:, 0, :])))
        c = 1 / lam * (1 + 10 ** rng.uniform(-16.5, -13) * rng.choice([-1, 1]))
    return mg.MDP(P, r, gamma=0.5), np.full((S, 1), c)


def test_a_batch_refuses_what_is_refused_alone_at_the_threshold():
    mdp, pi = _near_singular_case()
    with pytest.raises(mg.ValidationError, match="numerically singular") as alone:
        mg.evaluate(mdp, pi, validate=False, accuracy="ignore")
    with pytest.raises(mg.ValidationError, match="numerically singular") as batch:
        mg.evaluate(mdp, np.stack([np.ones_like(pi), pi]), validate=False, accuracy="ignore")
    assert batch.value.index == (1,) and alone.value.argument == batch.value.argument == "pi"


def test_a_batch_decides_singularity_matrix_by_matrix():
    """Near the SINGULAR_RCOND threshold a policy is refused in a batch exactly when it is refused alone."""
    P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])
    mdp = mg.MDP(P, [[1.0, 0.0], [0.0, 1.0]], gamma=0.5)
    good = np.array([[0.5, 0.5], [0.5, 0.5]])
    for t in np.linspace(1.999999999999990, 2.000000000000010, 21):
        pi = np.array([[t, 0.0], [0.0, 1.0]])              # γ P^π(0, 0) = t/2: M singular at t = 2
        try:
            mg.evaluate(mdp, pi, validate=False, accuracy="ignore")
            alone = True
        except mg.ValidationError:
            alone = False
        try:
            mg.evaluate(mdp, np.stack([good, pi]), validate=False, accuracy="ignore")
            batched = True
        except mg.ValidationError:
            batched = False
        assert alone == batched, t


GAMMAS = [0.9, 1 - 1e-6, 1 - 1e-9, 1 - 1e-12]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), S=st.integers(1, 4), A=st.integers(1, 3),
       gamma=st.sampled_from(GAMMAS),
       offset=st.sampled_from([0.0, 1.0, -1e4, 1e8]), noise=st.sampled_from([1.0, 1e-6]),
       sparse_rows=st.booleans(), absorbing=st.booleans())
def test_every_returned_gradient_is_within_its_stated_error(seed, S, A, gamma, offset, noise, sparse_rows,
                                                            absorbing):
    """Against 80 digits: ∇J is within its stated error of the reference, or refused."""
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S))
    if sparse_rows:                                  # structural zeros: possibly several recurrent classes
        P *= rng.random((S, A, S)) < 0.5
        P[np.arange(S)[:, None], np.arange(A)[None, :], rng.integers(0, S, (S, A))] += 1.0
    if absorbing:                                    # states 0 and S − 1 absorbing: two recurrent classes
        P[0] = P[-1] = 0.0
        P[0, :, 0] = P[-1, :, -1] = 1.0
    P /= P.sum(-1, keepdims=True)
    r = offset + noise * rng.standard_normal((S, A))
    mdp = mg.MDP(P, r, gamma=gamma)
    pol = mg.TabularSoftmax(S, A)
    theta = rng.standard_normal((S, A))
    try:
        g, err = mg.policy_gradient(mdp, pol, theta, error=True)
    except mg.InaccurateResultError:
        return
    ref = _reference(P, r, gamma, mdp.rho0, pol.probabilities(theta))["grad"]
    # the reference's own error is about 10⁻⁸⁰·κ(M)·max|v|·max η ≤ 10⁻⁸⁰·H³·max|r|, H = 1/(1 − γ)
    slack = 1e-60 * (1.0 / (1.0 - gamma)) ** 3 * (1.0 + np.abs(r).max())
    assert np.all(np.abs(g - ref) <= err + slack), (np.abs(g - ref), err)


def test_gradient_error_matches_policy_gradient_error():
    mdp = random_mdp(14, n_states=4, n_actions=3, gamma=0.95)
    pol = mg.TabularSoftmax(4, 3)
    theta = np.random.default_rng(15).standard_normal((4, 3))
    g, err = mg.policy_gradient(mdp, pol, theta, error=True)
    ev = mg.evaluate(mdp, pol.probabilities(theta))
    err2, scale = gradient_error(mdp, pol, theta, ev)
    np.testing.assert_array_equal(err, err2)
    assert scale >= np.max(np.abs(g))


def test_visit_counts_near_gamma_one_match_the_reference_or_are_refused():
    mdp = _offset_model()
    pi = np.full((4, 2), 0.5)
    eta = mg.visit_counts(mdp, pi)
    ref = _reference(mdp.P, mdp.r, mdp.gamma, mdp.rho0, pi)["eta"]
    np.testing.assert_allclose(eta, ref, rtol=1e-12)
    with pytest.raises(mg.InaccurateResultError, match="eta"):
        mg.visit_counts(_barely_terminating(), np.full((5, 2), 0.5), discounted=False)


def _hessian_reference(mdp: mg.MDP, theta: np.ndarray, h: float = 1e-30) -> np.ndarray:
    """∇²J of tabular softmax by central differences of the 80-digit gradient (h = 1e-30: O(h²) = 1e-60)."""
    S, A = theta.shape
    H = np.zeros((S * A, S * A))
    with mp.workdps(DIGITS):
        def grad(th):
            z = [[mp.e ** th[s][a] for a in range(A)] for s in range(S)]
            pi = [[x / mp.fsum(row) for x in row] for row in z]
            return _reference_mp(mdp, pi)
        base = [[mp.mpf(float(x)) for x in row] for row in theta]
        for j in range(S * A):
            plus = [row[:] for row in base]
            minus = [row[:] for row in base]
            plus[j // A][j % A] += mp.mpf(h)
            minus[j // A][j % A] -= mp.mpf(h)
            gp, gm = grad(plus), grad(minus)
            H[:, j] = [float((gp[i] - gm[i]) / (2 * mp.mpf(h))) for i in range(S * A)]
    return H


def _reference_mp(mdp: mg.MDP, pi: list) -> list:
    """The tabular-softmax gradient η π adv as a flat list of mpf, π given in mpf, rows of P normalised."""
    S, A = mdp.n_states, mdp.n_actions
    Pm = [[[mp.mpf(float(x)) for x in mdp.P[s, a]] for a in range(A)] for s in range(S)]
    Pm = [[[x / mp.fsum(row) for x in row] for row in Ps] for Ps in Pm]
    g = mp.mpf(mdp.gamma)
    M = mp.eye(S)
    rpi = mp.matrix(S, 1)
    for s in range(S):
        rpi[s] = mp.fsum(pi[s][a] * mp.mpf(float(mdp.r[s, a])) for a in range(A))
        for t in range(S):
            M[s, t] -= g * mp.fsum(pi[s][a] * Pm[s][a][t] for a in range(A))
    v = mp.lu_solve(M, rpi)
    eta = mp.lu_solve(M.T, mp.matrix([mp.mpf(float(x)) for x in mdp.rho0]))
    out = []
    for s in range(S):
        for a in range(A):
            q = mp.mpf(float(mdp.r[s, a])) + g * mp.fsum(Pm[s][a][t] * v[t] for t in range(S))
            out.append(eta[s] * pi[s][a] * (q - v[s]))
    return out


def test_hessian_near_gamma_one_with_offset_rewards_is_within_its_error():
    """The complex-step Hessian takes the deflated route too; its stated error covers the reference."""
    rng = np.random.default_rng(21)
    P = rng.random((3, 2, 3))
    P /= P.sum(-1, keepdims=True)
    mdp = mg.MDP(P, 1 + 1e-3 * rng.standard_normal((3, 2)), gamma=1 - 1e-9)
    theta = rng.standard_normal((3, 2))
    H, err = mg.policy_hessian(mdp, mg.TabularSoftmax(3, 2), theta, error=True)
    ref = _hessian_reference(mdp, theta)
    assert np.max(np.abs(H.reshape(6, 6) - ref)) <= max(err, 1e-12 * np.abs(ref).max())
    assert err <= 1e-6 * np.abs(ref).max()


def test_hessian_of_noise_is_refused():
    mdp = _barely_terminating()
    with pytest.raises(mg.InaccurateResultError, match="Hessian|eta|v |advantage"):
        mg.policy_hessian(mdp, mg.TabularSoftmax(5, 2), np.zeros((5, 2)))


@pytest.mark.parametrize("accuracy", ["refuse", "warn", "ignore"])
def test_every_entry_point_takes_the_same_accuracy_keyword(accuracy):
    """objective, evaluate, visit_counts, policy_gradient and policy_hessian: refuse raises, warn warns,
    ignore is silent, all on the same noise."""
    mdp = _barely_terminating()
    pol, theta, pi = mg.TabularSoftmax(5, 2), np.zeros((5, 2)), np.full((5, 2), 0.5)
    calls = [lambda: mg.objective(mdp, pol, theta, accuracy=accuracy),
             lambda: mg.evaluate(mdp, pi, accuracy=accuracy),
             lambda: mg.visit_counts(mdp, pi, accuracy=accuracy),
             lambda: mg.policy_gradient(mdp, pol, theta, accuracy=accuracy),
             lambda: mg.policy_hessian(mdp, pol, theta, accuracy=accuracy)]
    for call in calls:
        if accuracy == "refuse":
            with pytest.raises(mg.InaccurateResultError):
                call()
        elif accuracy == "warn":
            with pytest.warns(mg.InaccurateResultWarning):
                call()
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                call()


def test_a_batch_names_the_point_that_is_refused():
    mdp = _offset_model()
    thetas = np.zeros((3, 4, 2))
    g, err = mg.policy_gradient(mdp, mg.TabularSoftmax(4, 2), thetas, error=True)
    one = mg.policy_gradient(mdp, mg.TabularSoftmax(4, 2), thetas[0])
    np.testing.assert_allclose(g[1], one, rtol=1e-9)
    assert err.shape == thetas.shape
    bad = _barely_terminating()
    thetas = np.zeros((2, 5, 2))
    with pytest.raises(mg.InaccurateResultError, match="batch index") as info:
        mg.policy_gradient(bad, mg.TabularSoftmax(5, 2), thetas)
    assert info.value.index in ((0,), (1,))


def test_sparse_models_carry_error_estimates_too():
    mdp = random_mdp(30, n_states=6, n_actions=2, gamma=0.95, sparse=True)
    pol = mg.TabularSoftmax(6, 2)
    theta = np.random.default_rng(31).standard_normal((2, 6, 2))
    g, err = mg.policy_gradient(mdp, pol, theta, error=True)
    dense = mg.policy_gradient(random_mdp(30, n_states=6, n_actions=2, gamma=0.95), pol, theta)
    assert np.all(np.abs(g - dense) <= err + 1e-15)
    assert mg.evaluate(mdp, pol.probabilities(theta[0])).error.digits >= 12


# -- the direct route's second estimate: residuals in extended precision ---------------------------

#: 1 − γ of the two-state identity chain below: 2¹⁰·ε·S(S + 1) for S = 2, where κ(M)·ε ≈ 1e-4, so the
#: float64 rounding of the residual, (S + 2)ε·(1 + γ)·max|v| through ‖M⁻¹‖∞ = 1/(1 − γ), is ≈ 1e-3·|v|.
IDENTITY_GAP = 2.0**10 * 2.0**-52 * 6


def _identity_chain(rewards: list[float]) -> mg.MDP:
    A = len(rewards)
    P = np.zeros((2, A, 2))
    P[0, :, 0] = P[1, :, 1] = 1.0
    return mg.MDP(P, [rewards, rewards], 1.0 - IDENTITY_GAP, rho0=[0.5, 0.5])


def test_an_exact_large_value_is_not_refused_for_the_rounding_of_its_residual():
    mdp = _identity_chain([1.0])                       # P^π = I, v = 1/(1 − γ) exactly
    if np.finfo(np.longdouble).eps >= np.finfo(float).eps:
        # np.longdouble is float64 here: no wider residual, and the float64 bound (≈ 1e-3·|v|) refuses
        with pytest.raises(mg.InaccurateResultError):
            mg.evaluate(mdp, np.ones((2, 1)))
        return
    ev = mg.evaluate(mdp, np.ones((2, 1)))
    exact = 1.0 / IDENTITY_GAP
    assert ev.error.route == "direct" and ev.error.digits >= ACCURACY_MIN_DIGITS
    assert np.allclose(ev.v, exact, rtol=1e-14, atol=0) and abs(ev.J - exact) <= 1e-14 * exact
    assert abs(ev.eta.sum() - exact) <= ev.error.eta    # the bound holds (Σ η = 1/(1 − γ))
    assert ev.error.v <= 1e-6 * exact                   # the float64 estimate alone says ≈ 1e-3·|v|


def test_the_advantage_of_a_large_offset_on_the_direct_route_stays_refused():
    # q − v in float64 loses ε·|v|/(spread) ≈ 2e-16·7e11/0.5 of the advantage: no wider residual saves it
    mdp = _identity_chain([1.0, 0.5])
    with pytest.raises(mg.InaccurateResultError, match="advantage"):
        mg.evaluate(mdp, np.full((2, 2), 0.5))
