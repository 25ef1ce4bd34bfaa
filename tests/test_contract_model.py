"""Model-side entry points keep the input contract: sizes, paths, tables and converters.

Each case raised TypeError, ValueError, AxisError or OverflowError (or allocated without limit)
before; each must now be a ValidationError naming the argument.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import mdpgrad as mg
from mdpgrad import ValidationError, io
from mdpgrad import examples as ex


@pytest.mark.parametrize("call, argument", [
    (lambda: mg.uniform_policy(10**40, 2), "n_states"),
    (lambda: mg.uniform_policy(2, 2**63), "n_states"),
    (lambda: ex.garnet(10**40, 2, 1), "n_states"),
    (lambda: ex.random_walk(2**63), "n_states"),
    (lambda: ex.slippery_gridworld(10**20, 10**20), "n_rows"),
])
def test_sizes_beyond_memory_are_refused_with_the_estimate(call, argument):
    with pytest.raises(ValidationError) as err:
        call()
    assert err.value.argument == argument and "memory limit" in str(err.value)


def test_the_memory_limit_at_its_boundary():
    """A (1000, 1000) table is 8,000,000 bytes: allowed at exactly that limit, refused one byte below."""
    old = mg.set_memory_limit(8_000_000)
    try:
        assert mg.uniform_policy(1000, 1000).shape == (1000, 1000)
        mg.set_memory_limit(7_999_999)
        with pytest.raises(ValidationError):
            mg.uniform_policy(1000, 1000)
    finally:
        mg.set_memory_limit(old)


@pytest.mark.parametrize("bad", [None, {}, True, [], 3])
def test_paths_must_be_paths(bad, tmp_path):
    with pytest.raises(ValidationError) as err:
        mg.load(bad)
    assert err.value.argument == "path"
    with pytest.raises(ValidationError) as err:
        mg.save(ex.two_state(), bad)
    assert err.value.argument == "path"


@pytest.mark.parametrize("q", [True, 1.5, [], np.zeros((2, 0)), np.zeros(3), [[1.0, float("nan")]], "ab"])
def test_greedy_tables_need_finite_action_values(q):
    with pytest.raises(ValidationError) as err:
        mg.greedy_policy(q)
    assert err.value.argument == "q"
    with pytest.raises(ValidationError):
        mg.epsilon_greedy_policy(q, 0.1)


@pytest.mark.parametrize("bad", [None, "two-state", {}, np.eye(2)])
def test_mdp_to_dict_needs_an_mdp(bad):
    with pytest.raises(ValidationError) as err:
        io.mdp_to_dict(bad)
    assert err.value.argument == "mdp"


def test_a_sparse_matrix_is_not_a_gymnasium_dict():
    dok = sp.dok_array(np.eye(2))      # a dict subclass: was 'truth value of an array is ambiguous'
    with pytest.raises(ValidationError) as err:
        io.from_gymnasium(dok, gamma=0.9, rho0="uniform")
    assert err.value.argument == "P"


def test_a_ragged_reward_is_refused_by_the_toolbox_converter():
    with pytest.raises(ValidationError) as err:
        io.from_mdptoolbox(np.array([[[0.5, 0.5], [0.0, 1.0]]]), [[1.0], [1.0, 2.0]], 0.9)
    assert err.value.argument == "R"


@pytest.mark.parametrize("call, argument", [
    (lambda: ex.garnet(3, 2, 1, rng=-1), "rng"),
    (lambda: ex.random_walk(3, left_reward="1"), "left_reward"),
    (lambda: ex.slippery_gridworld(2, 2, slip=None), "slip"),
])
def test_example_parameters_are_checked(call, argument):
    with pytest.raises(ValidationError) as err:
        call()
    assert err.value.argument == argument


def test_garnet_takes_a_generator_or_a_seed():
    a = ex.garnet(5, 2, 2, rng=3)
    b = ex.garnet(5, 2, 2, rng=np.random.default_rng(3))
    assert np.array_equal(a.P, b.P)
