"""mg.solve against pymdptoolbox (Chadès et al. 2014): value iteration, policy iteration, finite horizon and
the linear program on its forest and random examples, to 1e-9.

pymdptoolbox is in the test extra; it is only skipped where it is not installed.  Its LP (``mdp._LP``,
marked private and needing cvxopt) reshapes the rewards in state-major order but builds the constraints in
action-major order, so it is right only when the two orders agree: one action, or S = A with
R(s, a) = R(a, s).  Its LP is compared on such models; the others go through its policy iteration.
"""

from __future__ import annotations

import numpy as np
import pytest

import mdpgrad as mg
from mdpgrad.io import from_mdptoolbox

toolbox = pytest.importorskip("mdptoolbox.mdp", reason="pymdptoolbox is not installed")
toolbox_examples = pytest.importorskip("mdptoolbox.example", reason="pymdptoolbox is not installed")

#: Agreement asked of two solvers of the same v*: both are exact to about 1e-13 here (policy
#: iteration with dense solves; value iteration run to ε = 1e-12), so 1e-9 leaves room for their
#: different rounding while catching any wrong action (the value gaps of these models exceed 1e-3).
AGREE = 1e-9


def _models() -> list[tuple[str, tuple[np.ndarray, np.ndarray], float]]:
    saved = np.random.get_state()      # noqa: NPY002 - pymdptoolbox draws from numpy's global state
    np.random.seed(0)                  # noqa: NPY002
    rand_dense = toolbox_examples.rand(8, 3)
    np.random.seed(1)                  # noqa: NPY002
    rand_masked = toolbox_examples.rand(12, 4, mask=np.random.default_rng(1).random((12, 12)) < 0.4)
    np.random.set_state(saved)         # noqa: NPY002 - left as it was for the other tests
    return [("forest", toolbox_examples.forest(), 0.9),
            ("forest-large", toolbox_examples.forest(S=30, r1=6, r2=3, p=0.05), 0.96),
            ("rand", rand_dense, 0.9),
            ("rand-masked", rand_masked, 0.8)]


MODELS = _models()


@pytest.mark.parametrize("name, PR, gamma", MODELS, ids=[m[0] for m in MODELS])
@pytest.mark.parametrize("method", ["policy_iteration", "value_iteration", "modified_policy_iteration",
                                    "linear_program"])
def test_policy_iteration_of_pymdptoolbox(name, PR, gamma, method):
    P, R = PR
    peer = toolbox.PolicyIteration(P, R, gamma, max_iter=10_000)
    peer.run()
    sol = mg.solve(from_mdptoolbox(P, R, gamma), method)
    assert np.abs(sol.v - np.array(peer.V)).max() <= AGREE
    assert sol.policy.argmax(axis=1).tolist() == list(peer.policy)
    assert not sol.undecided.any()                      # no ties: the peer's argmax is the only optimum


@pytest.mark.parametrize("name, PR, gamma", MODELS, ids=[m[0] for m in MODELS])
def test_value_iteration_of_pymdptoolbox(name, PR, gamma):
    """The peer stops when span(V_n − V_{n−1}) < ε(1 − γ)/γ, which makes its *policy* ε-optimal but leaves
    V off v* by a near-constant (Puterman 1994, Theorem 6.6.3): its V agrees with v* up to a constant, and
    the span-bound midpoint of one more backup by the peer's own operator agrees with v* itself."""
    P, R = PR
    peer = toolbox.ValueIteration(P, R, gamma, epsilon=1e-12, max_iter=100_000)
    peer.run()
    sol = mg.solve(from_mdptoolbox(P, R, gamma), "value_iteration", tol=1e-10)
    assert sol.policy.argmax(axis=1).tolist() == list(peer.policy)
    V = np.array(peer.V)
    assert np.ptp(V - sol.v) <= AGREE
    _, TV = peer._bellmanOperator(V)
    e = TV - V
    w = TV + gamma / (1 - gamma) * (e.max() + e.min()) / 2
    assert np.abs(w - sol.v).max() <= AGREE


@pytest.mark.parametrize("name, PR, gamma", MODELS, ids=[m[0] for m in MODELS])
@pytest.mark.parametrize("H", [1, 4, 25])
def test_finite_horizon_of_pymdptoolbox(name, PR, gamma, H):
    P, R = PR
    peer = toolbox.FiniteHorizon(P, R, gamma, H)
    peer.run()
    sol = mg.solve(from_mdptoolbox(P, R, gamma), horizon=H)
    assert np.abs(sol.v.T - peer.V).max() <= AGREE          # the peer's V is (S, H + 1), column t = time t
    assert np.array_equal(sol.policy.argmax(axis=-1).T, peer.policy)


def _symmetric_square(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """S = A = 5, random P, R(s, a) = R(a, s): the models on which pymdptoolbox's LP is right."""
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(5), size=(5, 5))          # (A, S, S)
    R = rng.normal(size=(5, 5))
    return P, R + R.T


@pytest.mark.parametrize("seed", range(3))
def test_linear_program_of_pymdptoolbox(seed):
    pytest.importorskip("cvxopt", reason="pymdptoolbox's LP needs cvxopt")
    P, R = _symmetric_square(seed)
    peer = toolbox._LP(P, R, 0.9)
    peer.run()
    mdp = from_mdptoolbox(P, R, 0.9)
    for method in ("linear_program", "policy_iteration"):
        sol = mg.solve(mdp, method)
        # cvxopt's interior point stops at a relative gap of 1e-7; one Bellman backup (which the peer
        # applies) shrinks the error by γ only, so its V is good to about 1e-7 (Andersen et al., cvxopt)
        assert np.abs(sol.v - np.array(peer.V)).max() <= 1e-6
        assert sol.policy.argmax(axis=1).tolist() == list(peer.policy)
