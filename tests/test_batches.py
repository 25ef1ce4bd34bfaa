"""A batch of policies gives what the loop of single calls gives, for every batched entry point.

Each batched function solves one Bellman system M = I − γP̃^π per policy of
the stack; the property below compares the stack with the policies evaluated
one at a time, on generated MDPs and on parameters inside and outside the
simplex (``Direct`` tables whose rows leave [0, 1] or do not sum to 1), where
M need not be diagonally dominant and elimination must pivot (Higham 2002,
§9.1–9.5).  The tolerance is rounding amplified by κ₁(M), computed here with
numpy.linalg.cond, independently of the solvers under test.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mdpgrad as mg
from mdpgrad import ValidationError
from mdpgrad._chains import bellman_matrix, chain_and_reward
from mdpgrad.strategies import mdps

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BATCH = 3


@st.composite
def mdp_policy_thetas(draw):
    """A dense MDP, a parameterisation and a stack of BATCH parameter points (some off the simplex)."""
    mdp = draw(mdps(min_states=1, max_states=5, max_actions=3, sparse=st.just(False)))
    S, A = mdp.n_states, mdp.n_actions
    entries = st.floats(-1.5, 2.5, allow_nan=False, width=32)
    if draw(st.booleans()):
        policy = mg.Direct(S, A)
        kind = draw(st.sampled_from(["off", "zero pivot", "on"]))
        if kind != "on":              # off the simplex: any real table
            thetas = np.array(draw(st.lists(entries, min_size=BATCH * S * A, max_size=BATCH * S * A)))
            thetas = thetas.reshape(BATCH, S, A)
            s0 = 0
            w = mdp.gamma * mdp.P[s0, 0, s0]
            if kind == "zero pivot" and w > 0.05 and not mdp.terminal[s0]:
                # θ[:, 0, 0] makes M[0, 0] = 1 − γ Σ_a θ₀ₐ P(0|0, a) vanish (to rounding): the
                # leading pivot is ~0, so elimination must take a pivot from another row
                rest = mdp.gamma * (thetas[:, s0, 1:] * mdp.P[s0, 1:, s0]).sum(axis=-1)
                thetas[:, s0, 0] = (1.0 - rest) / w
        else:                         # on the simplex, rows normalised
            raw = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=BATCH * S * A,
                                         max_size=BATCH * S * A))).reshape(BATCH, S, A)
            thetas = raw / raw.sum(axis=-1, keepdims=True)
    else:
        policy = mg.TabularSoftmax(S, A)
        thetas = np.array(draw(st.lists(entries, min_size=BATCH * S * A, max_size=BATCH * S * A)))
    return mdp, policy, np.asarray(thetas, dtype=float).reshape(BATCH, S, A)


def _tolerance(mdp, pis, discount=None) -> float:
    """Rounding times the largest κ₁(I − cP̃^π) over the stack, c = γ by default (κ > 1e12: no digits)."""
    M = bellman_matrix(mdp, chain_and_reward(mdp, pis)[0], discount)
    with np.errstate(all="ignore"):
        cond = float(np.max(np.linalg.cond(M, p=1)))
    return 1e-13 * cond if np.isfinite(cond) else np.inf


def _single_or_error(f, *args):
    try:
        return f(*args)
    except ValidationError as exc:
        return exc


def _assert_batch_is_loop(batched, singles, tol):
    if any(isinstance(s, ValidationError) for s in singles):
        assert isinstance(batched, ValidationError), (batched, singles)
        return
    assert not isinstance(batched, ValidationError), (batched, singles)
    for k, single in enumerate(singles):
        b = np.asarray(batched[k])
        scale = max(1.0, float(np.max(np.abs(single), initial=0.0)))
        np.testing.assert_allclose(b, single, rtol=0, atol=tol * scale)


@SETTINGS
@given(case=mdp_policy_thetas())
def test_batch_equals_loop_for_every_batched_entry_point(case):
    mdp, policy, thetas = case
    pis = policy.probabilities(thetas)
    tol = _tolerance(mdp, pis)
    if tol > 1e-1:
        return     # κ > 1e12: both sides carry no digits (or are refused, as the other tests check)

    def ev(pi):
        e = mg.evaluate(mdp, pi, validate=False)
        return np.concatenate([np.ravel(e.v), np.ravel(e.eta), np.ravel(e.q), np.ravel(e.J)])

    def ev_batch(p):
        e = mg.evaluate(mdp, p, validate=False)
        return np.concatenate([e.v, e.eta, e.q.reshape(BATCH, -1), e.J[:, None]], axis=1)

    cases = [
        (ev_batch, ev, pis),
        (lambda p: mg.visit_counts(mdp, p, validate=False), lambda p: mg.visit_counts(mdp, p, validate=False),
         pis),
        (lambda t: mg.objective(mdp, policy, t), lambda t: mg.objective(mdp, policy, t), thetas),
        (lambda t: mg.policy_gradient(mdp, policy, t), lambda t: mg.policy_gradient(mdp, policy, t), thetas),
    ]
    # the update without γᵗ also solves with the undiscounted I − P̃^π: its rounding scales with both κ
    tol_undiscounted = max(tol, _tolerance(mdp, pis, 1.0))
    if tol_undiscounted <= 1e-1:
        cases.append((lambda t: mg.expected_update_without_discount(mdp, policy, t),
                      lambda t: mg.expected_update_without_discount(mdp, policy, t), thetas))
    for k, (batched_fn, single_fn, args) in enumerate(cases):
        batched = _single_or_error(batched_fn, args)
        singles = [_single_or_error(single_fn, a) for a in args]
        _assert_batch_is_loop(batched, singles, tol if k < 4 else tol_undiscounted)


def test_policy_hessian_refuses_a_batch():
    mdp = mg.MDP(np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.7, 0.3], [0.05, 0.95]]]),
                 [[1.0, 0.0], [0.5, 2.0]], 0.9, rho0=[0.5, 0.5])
    policy = mg.TabularSoftmax(2, 2)
    with pytest.raises(ValidationError):
        mg.policy_hessian(mdp, policy, np.zeros((2, 2, 2)))


# -- the corridor whose first row leaves the simplex by 1e-15 (cond(M) = 31) ------------------

def _corridor():
    P = np.zeros((3, 2, 3))
    P[0, 0, 0] = P[0, 1, 1] = P[1, 0, 0] = P[1, 1, 2] = 1.0
    P[2, :, 2] = 1.0
    return mg.MDP(P, [[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]], 0.9, rho0=[0.5, 0.5, 0.0])


@pytest.mark.parametrize("eps", [1e-15, 0.0])
def test_off_simplex_batch_pivots(eps):
    """M[0, 0] = 1 − 0.9·θ₀₀ is ~1e-15 or 0: elimination without pivoting gave J = 16.68 or nan."""
    mdp, policy = _corridor(), mg.Direct(3, 2)
    theta = np.array([[1 / 0.9 - eps, 1 - 1 / 0.9 + eps], [0.5, 0.5], [0.5, 0.5]])
    # by hand, at ε = 0: v₁ = 1 + 0.45 v₀ and v₀ = 10/9 + v₀ − 0.1 v₁, so v₀ = (91/90)/(9/200) and
    # J = (v₀ + v₁)/2 = 1360/81; the ε = 1e-15 shift moves J by about 1e-13
    single = mg.objective(mdp, policy, theta)
    batch = mg.objective(mdp, policy, np.stack([theta, theta]))
    np.testing.assert_allclose(single, 1360 / 81, rtol=1e-10)
    np.testing.assert_allclose(batch, [1360 / 81, 1360 / 81], rtol=1e-10)
    np.testing.assert_allclose(batch, [single, single], rtol=1e-12)
    ev = mg.evaluate(mdp, np.stack([policy.probabilities(theta)] * 2), validate=False)
    assert np.isfinite(ev.v).all() and np.isfinite(ev.eta).all()
    np.testing.assert_allclose(mg.policy_gradient(mdp, policy, np.stack([theta, theta]))[1],
                               mg.policy_gradient(mdp, policy, theta), rtol=1e-10, atol=1e-10)
