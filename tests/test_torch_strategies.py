"""mdpgrad.torch.strategies: generated MLP policies over generated MDPs.

Property: for every drawn MDP × network, mg.policy_gradient equals autograd through a dense solve,
and a user's REINFORCE loss gives the library's per-episode estimates.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.errors import InvalidArgument  # noqa: E402
from test_torch_losses import reinforce  # noqa: E402
from test_torch_policy import AGREE_RTOL, autograd_gradient, rel_err  # noqa: E402

import mdpgrad as mg  # noqa: E402
from mdpgrad.estimators import reinforce_estimator  # noqa: E402
from mdpgrad.strategies import mdps  # noqa: E402
from mdpgrad.torch import loss_estimator  # noqa: E402
from mdpgrad.torch.strategies import mlp_policies  # noqa: E402

#: Property examples per test: each builds a network and solves a model (~50 ms).
EXAMPLES = 15


@settings(max_examples=EXAMPLES)
@given(st.data(), mdps(min_states=2, max_states=4, max_actions=3, gammas=st.sampled_from([0.5, 0.9])))
def test_policy_gradient_of_drawn_networks_equals_autograd(data, mdp):
    pol = data.draw(mlp_policies(mdp.n_states, mdp.n_actions, max_depth=2, max_width=5))
    assert pol.n_actions == mdp.n_actions
    g = mg.policy_gradient(mdp, pol, pol.theta0)
    assert rel_err(g, autograd_gradient(mdp, pol, pol.theta0)) <= AGREE_RTOL


@settings(max_examples=EXAMPLES)
@given(st.data(), mdps(min_states=2, max_states=4, max_actions=3, episodic=st.just(True),
                       gammas=st.sampled_from([0.8, 1.0])))
def test_a_users_loss_over_models_and_networks(data, mdp):
    pol = data.draw(mlp_policies(mdp.n_states, mdp.n_actions, max_depth=1, max_width=4))
    tr = mg.sample(mdp, pol.probabilities(pol.theta0), 5, rng=0)
    np.testing.assert_allclose(loss_estimator(reinforce).estimate(tr, pol, pol.theta0),
                               reinforce_estimator().estimate(tr, pol, pol.theta0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kwargs", [
    dict(min_depth=-1), dict(min_depth=3, max_depth=2), dict(min_width=0), dict(max_width=2.5),
    dict(activations="tanh"),
])
def test_bad_bounds_raise_invalid_argument(kwargs):
    with pytest.raises(InvalidArgument):
        mlp_policies(2, 2, **kwargs).example()


def test_bad_sizes_raise_invalid_argument():
    with pytest.raises(InvalidArgument):
        mlp_policies(0, 2)
    with pytest.raises(InvalidArgument):
        mlp_policies(2, 2, features=np.zeros((3, 2)))
