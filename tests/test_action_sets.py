"""Action sets on the model: the mask is validated, stored read-only and survives copies."""

import pickle

import numpy as np
import pytest

import mdpgrad as mg


def _three_state():
    P = np.zeros((3, 2, 3))
    P[0, 0, 1] = P[0, 1, 2] = P[1, 0, 2] = 1.0
    P[2, :, 2] = 1.0
    r = np.array([[1.0, 2.0], [3.0, 0.0], [0.0, 0.0]])
    mask = np.array([[True, True], [True, False], [True, True]])
    return P, r, mask


def test_mask_is_stored_read_only_and_survives_pickle_and_replace():
    P, r, mask = _three_state()
    mdp = mg.MDP(P, r, 0.9, terminal=np.array([False, False, True]), actions=mask)
    assert mdp.has_action_sets
    assert "n_unavailable=1" in repr(mdp)
    for copy in (mdp, pickle.loads(pickle.dumps(mdp)), mdp.replace(gamma=0.5)):
        np.testing.assert_array_equal(copy.actions, mask)
        assert not copy.actions.flags.writeable
    assert not mg.MDP(P[:, :1], r[:, :1], 0.9).has_action_sets


def test_zero_row_is_refused_for_an_available_action_and_accepted_for_an_unavailable_one():
    P, r, mask = _three_state()
    with pytest.raises(mg.ValidationError, match=r"P\[1, 1, :\] sums to 0") as info:
        mg.MDP(P, r, 0.9)
    assert info.value.index == (1, 1)
    mg.MDP(P, r, 0.9, actions=mask)
    P[1, 1, 0] = 0.5             # half a row is neither a distribution nor absent
    with pytest.raises(mg.ValidationError, match=r"P\[1, 1, :\] sums to 0.5"):
        mg.MDP(P, r, 0.9, actions=mask)


def test_malformed_masks_are_refused_naming_the_state():
    P, r, mask = _three_state()
    mask[1] = False
    with pytest.raises(mg.ValidationError, match="state 1 has no available action") as info:
        mg.MDP(P, r, 0.9, actions=mask)
    assert info.value.argument == "actions"
    with pytest.raises(mg.ValidationError, match="expected a bool array of shape"):
        mg.MDP(P, r, 0.9, actions=np.ones((3, 3), dtype=bool))
    with pytest.raises(mg.ValidationError, match="expected a bool array"):
        mg.MDP(P, r, 0.9, actions=np.ones((3, 2)))


def test_exact_rows_of_unavailable_actions_may_be_zero():
    from fractions import Fraction
    P, r, mask = _three_state()
    exact = np.array([[[Fraction(int(x)) for x in row] for row in state] for state in P], dtype=object)
    mg.MDP(exact, r, 0.9, actions=mask)
    with pytest.raises(mg.ValidationError, match=r"P\[1, 1, :\] sums to 0 exactly"):
        mg.MDP(exact, r, 0.9)
