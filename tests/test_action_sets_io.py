"""Action sets in files and converters: the mask round-trips, old files still load, Gymnasium dicts
listing different actions per state become models with action sets."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

import mdpgrad as mg
from mdpgrad import load, save
from mdpgrad.io import from_gymnasium, mdp_from_dict, mdp_to_dict


def _masked(sparse=False):
    P = np.zeros((3, 2, 3))
    P[0, 0, 1] = P[0, 1, 2] = P[1, 0, 2] = 1.0
    P[2, :, 2] = 1.0
    r = np.array([[1.0, 2.0], [3.0, 0.0], [0.0, 0.0]])
    mask = np.array([[True, True], [True, False], [True, True]])
    mdp = mg.MDP(P, r, 0.9, terminal=np.array([False, False, True]), actions=mask)
    return mdp.replace(P=sp.csr_array(P.reshape(6, 3))) if sparse else mdp


@pytest.mark.parametrize("suffix", [".json", ".npz"])
@pytest.mark.parametrize("sparse", [False, True])
def test_save_and_load_round_trip_the_mask_as_version_2(tmp_path, suffix, sparse):
    mdp = _masked(sparse)
    path = tmp_path / f"m{suffix}"
    save(mdp, path)
    back = load(path)
    np.testing.assert_array_equal(back.actions, mdp.actions)
    assert back.is_sparse == sparse
    if suffix == ".json":
        assert json.loads(path.read_text())["version"] == 2
    else:
        assert int(np.load(path)["version"]) == 2 and "actions" in np.load(path).files


def test_models_without_action_sets_are_still_written_as_version_1_and_version_1_files_load(tmp_path):
    mdp = mg.get_example("two-state")
    doc = mdp_to_dict(mdp)
    assert doc["version"] == 1 and "actions" not in doc
    assert not mdp_from_dict(doc).has_action_sets
    path = tmp_path / "old.npz"
    save(mdp, path)
    assert int(np.load(path)["version"]) == 1
    assert not load(path).has_action_sets


def test_a_mask_in_a_version_1_file_is_refused_not_dropped():
    doc = mdp_to_dict(_masked())
    doc["version"] = 1
    with pytest.raises(mg.ValidationError, match=r"unknown field 'actions' \(version 1\)"):
        mdp_from_dict(doc)


def test_a_malformed_mask_in_a_file_is_refused_naming_the_field():
    doc = mdp_to_dict(_masked())
    doc["actions"] = [[True, True], [False, False], [True, True]]
    with pytest.raises(mg.ValidationError, match="state 1 has no available action"):
        mdp_from_dict(doc)
    doc["actions"] = [[1, 1], [1, 0], [1, 1]]
    with pytest.raises(mg.ValidationError) as info:
        mdp_from_dict(doc)
    assert info.value.argument == "actions"


def test_gymnasium_dict_listing_some_actions_per_state_gives_action_sets():
    P = {0: {0: [(1.0, 1, 1.0, False)], 2: [(1.0, 2, 5.0, True)]},
         1: {1: [(0.5, 0, 0.0, False), (0.5, 2, 2.0, True)]},
         2: {0: [(1.0, 2, 0.0, True)], 1: [(1.0, 2, 0.0, True)], 2: [(1.0, 2, 0.0, True)]}}
    mdp = from_gymnasium(P, gamma=0.9, rho0=[1.0, 0.0, 0.0])
    np.testing.assert_array_equal(mdp.actions,
                                  [[True, False, True], [False, True, False], [True, True, True]])
    assert mdp.terminal.tolist() == [False, False, True]
    # by hand, the uniform policy over the available actions: v(1) = 0.5·2 + 0.5·0.9·v(0) and
    # v(0) = ½(1 + 0.9 v(1)) + ½·5, so v(0) = 3.45 / (1 − 0.45²)
    pi = mg.uniform_policy(3, 3, actions=mdp.actions)
    v = mg.evaluate(mdp, pi).v
    v0 = (0.5 + 0.45 * 1.0 + 2.5) / (1 - 0.45 * 0.45)
    np.testing.assert_allclose(v[:2], [v0, 0.45 * v0 + 1.0], rtol=1e-12)


def test_the_report_on_a_model_with_action_sets_shows_them_and_passes(tmp_path, capsys):
    """``mdpgrad check FILE``: the default policy is uniform over the available actions and the
    finite-difference check runs over their logits only (the others are not parameters of π)."""
    from mdpgrad.cli import main
    path = tmp_path / "masked.json"
    save(_masked(), path)
    assert main(["check", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"]["ok"], report["verdict"]
    assert report["model"]["action_sets"] and report["model"]["n_unavailable"] == 1
    assert report["gradient"]["fd_coordinates"] == 5                    # 6 logits, 1 unavailable
    assert report["symbolic"]["theorem"] == "proved"                    # on the exact masked model
    assert main(["check", str(path)]) == 0
    text = capsys.readouterr().out
    assert "action sets       1 of 6 state-action pairs unavailable; 1 to 2 actions per state" in text
    assert "uniform (tabular softmax over the available actions, theta = 0)" in text
    # J of the uniform policy over available actions, by hand: v(1) = 3, v(0) = ½(1 + 0.9·3) + ½·2
    assert abs(report["evaluation"]["J"] - 0.5 * (0.5 * (1 + 2.7) + 1.0 + 3.0)) < 1e-12
