"""mdpgrad.jax.strategies: generated MLP policies over generated MDPs.

Property: for every drawn MDP × network, mg.policy_gradient equals jax.grad through a dense solve.
"""

from __future__ import annotations

import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.errors import InvalidArgument  # noqa: E402
from test_jax_policy import AGREE_RTOL, dense_J, rel_err  # noqa: E402

import mdpgrad as mg  # noqa: E402
from mdpgrad.jax.strategies import mlp_policies  # noqa: E402
from mdpgrad.strategies import mdps  # noqa: E402

#: Property examples.  JAX compiles each operation once per shape, so the sizes are fixed here (the
#: models, activations and weights vary); tests/test_torch_strategies.py varies the sizes too.
EXAMPLES = 5


@settings(max_examples=EXAMPLES)
@given(st.data(), mdps(min_states=3, max_states=3, min_actions=2, max_actions=2,
                       gammas=st.sampled_from([0.5, 0.9])))
def test_policy_gradient_of_drawn_networks_equals_jax_grad(data, mdp):
    pol = data.draw(mlp_policies(3, 2, min_depth=1, max_depth=1, min_width=4, max_width=4))
    ref = jax.grad(lambda th: dense_J(mdp, pol, th))(pol.theta0)
    assert rel_err(mg.policy_gradient(mdp, pol, pol.theta0), ref) <= AGREE_RTOL


def test_bad_bounds_raise_invalid_argument():
    with pytest.raises(InvalidArgument):
        mlp_policies(2, 2, min_width=0).example()
    with pytest.raises(InvalidArgument):
        mlp_policies(2, 0)
