"""The contract at the sampling and estimator boundary: memory refusals, hand-built batches, names."""

from __future__ import annotations

import numpy as np
import pytest

import mdpgrad as mg
from mdpgrad import ValidationError
from mdpgrad import estimators as est
from mdpgrad import examples as ex
from mdpgrad.sampling import Trajectories


@pytest.fixture
def memory_limit():
    """Set the memory limit for one test, restoring the old one afterwards."""
    old = mg.set_memory_limit(None)
    yield mg.set_memory_limit
    mg.set_memory_limit(old)


def _padded(n: int, steps: int) -> int:
    """Bytes of n padded episodes of ``steps`` actions: (steps + 1) int32 states, steps int32 actions
    and steps float64 rewards each."""
    return n * ((steps + 1) * 4 + steps * 4 + steps * 8)


def _chain(k: int) -> mg.MDP:
    """States 0 → 1 → … → k deterministically, k terminal: every episode from 0 takes exactly k actions."""
    P = np.zeros((k + 1, 1, k + 1))
    P[np.arange(k), 0, np.arange(1, k + 1)] = 1.0
    P[k, 0, k] = 1.0
    rho0 = np.eye(k + 1)[0]
    return mg.MDP(P, (np.arange(k + 1) < k)[:, None] * 1.0, 1.0, rho0=rho0, terminal=np.arange(k + 1) == k)


def _slow_exit(p_end: float) -> mg.MDP:
    """State 0 ends (moves to the terminal state 1) with probability p_end per step: mean length 1/p_end."""
    P = np.array([[[1.0 - p_end, p_end]], [[0.0, 1.0]]])
    return mg.MDP(P, [[1.0], [0.0]], 1.0, rho0=[1.0, 0.0], terminal=[False, True])


# -- item: sampling memory -----------------------------------------------------------------------------

def test_horizon_request_is_refused_exactly_above_the_padded_size(memory_limit):
    mdp, pi = ex.two_state(), mg.uniform_policy(2, 2)
    memory_limit(_padded(10, 100))
    tr = mg.sample(mdp, pi, 10, rng=0, protocol="horizon", horizon=100)
    assert tr.actions.shape == (10, 100)
    memory_limit(_padded(10, 100) - 1)
    with pytest.raises(ValidationError, match="memory limit") as info:
        mg.sample(mdp, pi, 10, rng=0, protocol="horizon", horizon=100)
    assert info.value.argument == "n_episodes"


def test_geometric_request_is_refused_at_the_longest_stop(memory_limit):
    mdp, pi = ex.two_state(gamma=0.99), mg.uniform_policy(2, 2)
    T = mg.sample(mdp, pi, 3, rng=5, protocol="geometric").actions.shape[1]
    memory_limit(_padded(3, T))
    assert mg.sample(mdp, pi, 3, rng=5, protocol="geometric").actions.shape[1] == T
    memory_limit(_padded(3, T) - 1)
    with pytest.raises(ValidationError, match="memory limit"):
        mg.sample(mdp, pi, 3, rng=5, protocol="geometric")


def test_near_undiscounted_geometric_request_is_refused_before_sampling():
    # γ = 0.99999: 1000 episodes padded to the longest (≈ 7·10⁵ steps) need ≈ 10 GB, above 4 GiB
    with pytest.raises(ValidationError, match="memory limit"):
        mg.sample(ex.two_state(gamma=0.99999), mg.uniform_policy(2, 2), 1000, rng=0)


def test_terminal_request_is_refused_with_its_expected_length():
    # ends with probability 1e-9 per step: the expected length 1e9 needs 16 GB for one episode
    with pytest.raises(ValidationError, match=r"expected length up to 1e\+09") as info:
        mg.sample(_slow_exit(1e-9), np.ones((2, 1)), 1, rng=0, protocol="terminal")
    assert "memory limit" in str(info.value)


def test_terminal_request_boundary_on_the_expected_length(memory_limit):
    mdp = _chain(5)
    memory_limit(_padded(1, 5))
    assert mg.sample(mdp, np.ones((6, 1)), 1, rng=0).lengths.tolist() == [5]
    memory_limit(_padded(1, 5) - 1)
    with pytest.raises(ValidationError, match="expected length up to 5 steps"):
        mg.sample(mdp, np.ones((6, 1)), 1, rng=0)


def test_episodes_outgrowing_the_limit_while_running_are_refused(memory_limit):
    # the expected length 100 fits; an episode that runs for thousands of steps does not
    mdp = _slow_exit(1e-2)
    memory_limit(_padded(1, 400))
    with pytest.raises(ValidationError, match="still running"):
        for seed in range(200):          # some episode of mean length 100 exceeds 400 steps
            mg.sample(mdp, np.ones((2, 1)), 1, rng=seed)


def test_huge_episode_counts_are_refused_without_overflow():
    with pytest.raises(ValidationError, match="memory limit"):
        mg.sample(ex.two_state(), mg.uniform_policy(2, 2), 10**400, rng=0)
    with pytest.raises(ValidationError, match="memory limit"):
        mg.sampling.group_start_states(ex.two_state(), 2**62, 4, rng=0)


# -- item: hand-built Trajectories -----------------------------------------------------------------------

def _valid() -> dict:
    return dict(states=np.array([[0, 1, -1], [1, 0, 1]]), actions=np.array([[1, -1], [0, 1]]),
                rewards=np.array([[2.0, 0.0], [1.0, 1.0]]), lengths=np.array([1, 2]), protocol="terminal",
                gamma=0.9)


def test_a_valid_hand_built_batch_is_accepted_at_the_ends_of_gamma():
    for gamma in (0.0, 1.0):
        tr = Trajectories(**(_valid() | dict(gamma=gamma)))
        assert tr.n_transitions == 3 and tr.gamma == gamma


@pytest.mark.parametrize("change, argument", [
    (dict(states=np.array([[0, 1, -1], [1, -2, 1]])), "states"),         # state −2 inside an episode
    (dict(states=np.array([[0, 1, 0], [1, 0, 1]])), "states"),           # no −1 after the final state
    (dict(states=np.array([[0, -1, -1], [1, 0, 1]])), "states"),         # −1 before the final state
    (dict(actions=np.array([[1, 0], [0, 1]])), "actions"),               # an action after the end
    (dict(actions=np.array([[-1, -1], [0, 1]])), "actions"),             # padding inside the episode
    (dict(rewards=np.array([[2.0, 5.0], [1.0, 1.0]])), "rewards"),       # a reward after the end
    (dict(rewards=np.array([[np.nan, 0.0], [1.0, 1.0]])), "rewards"),
    (dict(lengths=np.array([-1, 2])), "lengths"),
    (dict(lengths=np.array([1, 3])), "lengths"),                         # longer than T
    (dict(states=np.array([[0.0, 1.0, -1.0], [1.0, 0.0, 1.0]])), "states"),   # floats
    (dict(states=np.array([[0, 1], [1, 0]])), "states"),                 # shape (n, T)
    (dict(gamma=2.0), "gamma"),
    (dict(gamma=1.0 + 1e-12), "gamma"),
    (dict(gamma=-1e-300), "gamma"),
    (dict(protocol="bogus"), "protocol"),
    (dict(protocol="horizon"), "horizon"),                               # horizon missing
    (dict(protocol="horizon", horizon=1), "lengths"),                    # an episode longer than H
    (dict(horizon=5), "horizon"),                                        # H without "horizon"
    (dict(truncation_bound=float("nan")), "truncation_bound"),
    (dict(terminated=np.array([1, 0])), "terminated"),
])
def test_malformed_hand_built_batches_are_refused(change, argument):
    with pytest.raises(ValidationError) as info:
        Trajectories(**(_valid() | change))
    assert info.value.argument == argument


def test_state_minus_two_names_the_entry():
    with pytest.raises(ValidationError, match=r"states\[1, 1\] is -2"):
        Trajectories(**(_valid() | dict(states=np.array([[0, 1, -1], [1, -2, 1]]))))


def test_horizon_batch_at_its_limit_is_accepted():
    tr = Trajectories(**(_valid() | dict(protocol="horizon", horizon=2)))
    assert tr.horizon == 2


# -- item: PPO names theta_old ----------------------------------------------------------------------------

def test_ppo_refuses_nan_theta_old_by_name():
    with pytest.raises(ValidationError, match=r"theta_old\[0, 0\] is nan") as info:
        est.ppo_estimator(np.full((2, 2), np.nan), 0.2)
    assert info.value.argument == "theta_old"


def test_ppo_names_theta_old_when_its_shape_does_not_fit_the_policy():
    e = est.ppo_estimator(np.zeros(3), 0.2)
    with pytest.raises(ValidationError, match="theta_old has shape") as info:
        e.expectation(ex.two_state_episodic(gamma=0.9), mg.TabularSoftmax(2, 2), np.zeros((2, 2)),
                      protocol="horizon", horizon=3)
    assert info.value.argument == "theta_old"


def test_estimators_refuse_nan_theta():
    tr = mg.sample(ex.two_state_episodic(gamma=0.9), mg.uniform_policy(2, 2), 4, rng=0)
    theta = np.array([[np.nan, 0.0], [0.0, 0.0]])
    for e in (est.reinforce_estimator(), est.whole_return_estimator(), est.gae_estimator([0.0, 0.0], 0.5)):
        with pytest.raises(ValidationError, match=r"theta\[0, 0\] is nan"):
            e.estimate(tr, mg.TabularSoftmax(2, 2), theta)
