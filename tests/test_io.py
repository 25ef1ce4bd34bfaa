"""Tests of mdpgrad.io._files: exact file round trips, malformed files, and the converters.

The converters are checked against computations written here straight from the
source data: iterative policy evaluation over Gymnasium's P dict (terminated
transitions contribute no future value), sampled transitions of Gymnasium's own
``step``, and Cordwell's forest-management problem (pymdptoolbox's
``example.forest``) rebuilt by hand with values solved from hand-written
Bellman equations.
"""

import json
import os
import pickle
import struct
import tempfile
import zipfile

import gymnasium
import hypothesis.strategies as st
import numpy as np
import pytest
import scipy.sparse as sp
import sympy
from hypothesis import given, settings

from mdpgrad import MDP, ValidationError, evaluate, load, save, uniform_policy
from mdpgrad.examples import random_walk, slippery_gridworld, two_state
from mdpgrad.io import convert_gymnasium, from_gymnasium, from_mdptoolbox, mdp_from_dict, mdp_to_dict
from mdpgrad.strategies import mdps

#: Iterative evaluation is stopped when a sweep changes v by < ITER_STOP; then
#: |v_k − v| ≤ γ·ITER_STOP/(1 − γ) = 9·ITER_STOP at γ = 0.9 (Puterman 1994, Thm 6.3.1),
#: plus float rounding ≈ 1e-13 on values of size ≤ 100.
ITER_STOP = 1e-12
ITER_TOL = 9 * ITER_STOP + 1e-11
#: A direct solve on ≤ 10 states: errors ≈ 1e-15; 1e-12 leaves room.
EXACT_TOL = 1e-12
#: Sampled frequencies: 5 standard errors sqrt(p(1−p)/n); a false alarm has
#: probability < 1e-6 per cell, and the seed makes the run deterministic.
N_SIGMA = 5.0


# -- exact round trips ------------------------------------------------------------

def awkward_mdp(sparse: bool) -> MDP:
    """Floats whose decimal forms are long or extreme: 0.1, 1/3, 1e-300, the smallest subnormal."""
    P = np.array([[[1 / 3, 2 / 3], [0.1, 0.9]],
                  [[1e-300, 1.0], [0.0, 1.0]]])
    r = np.array([[0.1, 1 / 3], [1e-300, 5e-324]])
    P_in = sp.csr_array(P.reshape(4, 2)) if sparse else P
    return MDP(P_in, r, gamma=1 / 3, rho0=[1 / 3, 2 / 3])


def bits(x) -> bytes:
    return np.ascontiguousarray(np.asarray(x)).tobytes()


def assert_identical(a: MDP, b: MDP) -> None:
    assert a.is_sparse == b.is_sparse
    if a.is_sparse:
        assert bits(a.P.data) == bits(b.P.data)
        for part in ("indices", "indptr"):  # integers: equal values (the index dtype may differ)
            assert np.array_equal(getattr(a.P, part), getattr(b.P, part))
        assert a.P.shape == b.P.shape
    else:
        assert a.P.shape == b.P.shape and bits(a.P) == bits(b.P)
    assert a.r.shape == b.r.shape and bits(a.r) == bits(b.r)
    assert bits(a.rho0) == bits(b.rho0)
    assert a.terminal.tolist() == b.terminal.tolist()
    assert struct.pack("<d", a.gamma) == struct.pack("<d", b.gamma)


MODELS = {
    "dense": lambda: two_state(),
    "sparse": lambda: slippery_gridworld(3, 3),
    "terminal-rho0": lambda: random_walk(5),
    "awkward-dense": lambda: awkward_mdp(False),
    "awkward-sparse": lambda: awkward_mdp(True),
}


@pytest.mark.parametrize("suffix", [".npz", ".json"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip_is_bit_exact(tmp_path, suffix, name):
    mdp = MODELS[name]()
    path = tmp_path / f"model{suffix}"
    save(mdp, path)
    assert_identical(mdp, load(path))
    assert_identical(mdp, load(str(path)))


@settings(max_examples=40)
@given(mdp=mdps(max_states=4, rewards=st.floats(allow_nan=False, allow_infinity=False)),
       suffix=st.sampled_from([".npz", ".json"]))
def test_round_trip_is_bit_exact_on_generated_mdps(mdp, suffix):
    # any finite reward (subnormal, huge, negative zero) and any generated P, γ, ρ₀ come back identical
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m" + suffix)
        save(mdp, path)
        assert_identical(mdp, load(path))


def test_json_writes_shortest_round_trip_floats(tmp_path):
    path = tmp_path / "m.json"
    save(awkward_mdp(False), path)
    doc = json.loads(path.read_text())
    assert doc["r"] == [[0.1, 1 / 3], [1e-300, 5e-324]]
    assert "0.1," in path.read_text() and "5e-324" in path.read_text()
    assert doc["format"] == "mdpgrad.mdp" and doc["version"] == 1


def test_wrong_suffix(tmp_path):
    with pytest.raises(ValidationError) as info:
        save(two_state(), tmp_path / "m.txt")
    assert info.value.argument == "path"
    (tmp_path / "m.csv").write_text("1,2")
    with pytest.raises(ValidationError) as info:
        load(tmp_path / "m.csv")
    assert info.value.argument == "path"


# -- malformed JSON ------------------------------------------------------------------

def _valid_json(sparse: bool = False) -> dict:
    return mdp_to_dict(slippery_gridworld(1, 2) if sparse else two_state())


def _set(path, value):
    def edit(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return doc
    return edit


def _drop(key):
    def edit(doc):
        del doc[key]
        return doc
    return edit


JSON_CASES = [
    ("format tag", _set(["format"], "numpy.pickle"), "format"),
    ("no format", _drop("format"), "format"),
    ("version 3", _set(["version"], 3), "version"),
    ("version as string", _set(["version"], "1"), "version"),
    ("version as bool", _set(["version"], True), "version"),
    ("layout", _set(["layout"], "banded"), "layout"),
    ("missing r", _drop("r"), "r"),
    ("missing terminal", _drop("terminal"), "terminal"),
    ("unknown key", _set(["__import__"], "os"), "__import__"),
    ("n_states string", _set(["n_states"], "2"), "n_states"),
    ("n_actions zero", _set(["n_actions"], 0), "n_actions"),
    ("gamma string", _set(["gamma"], "0.9"), "gamma"),
    ("gamma null", _set(["gamma"], None), "gamma"),
    ("gamma out of range", _set(["gamma"], 1.5), "gamma"),
    ("r ragged", _set(["r"], [[1.0, 0.0], [0.0]]), "r"),
    ("r string entry", _set(["r", 1, 0], "2"), "r"),
    ("r bool entry", _set(["r", 1, 0], True), "r"),
    ("r NaN", _set(["r", 0, 0], float("nan")), "r"),
    ("r wrong shape", _set(["r"], [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]), "r"),
    ("P wrong shape", _set(["P", 0, 0], [0.5, 0.25, 0.25]), "P"),
    ("P object entry", _set(["P", 0, 0, 0], {"x": 1}), "P"),
    ("P negative", _set(["P", 0, 0], [1.5, -0.5]), "P"),
    ("P row sum", _set(["P", 0, 0], [0.5, 0.25]), "P"),
    ("rho0 length", _set(["rho0"], [1.0]), "rho0"),
    ("rho0 sum", _set(["rho0"], [0.5, 0.25]), "rho0"),
    ("terminal ints", _set(["terminal"], [0, 0]), "terminal"),
    ("terminal not absorbing", _set(["terminal"], [True, False]), "terminal"),
]

SPARSE_JSON_CASES = [
    ("indices out of range", _set(["P", "indices", 0], 7), "P.indices"),
    ("indices float", _set(["P", "indices", 0], 0.0), "P.indices"),
    ("indptr short", _set(["P", "indptr"], [0, 2]), "P.indptr"),
    ("indptr decreasing", _set(["P", "indptr", 1], 99), "P.indptr"),
    ("data string", _set(["P", "data", 0], "0.8"), "P.data"),
    ("P missing key", _set(["P"], {"data": [], "indices": []}), "P"),
    ("P list", _set(["P"], [1.0]), "P"),
]


@pytest.mark.parametrize("label,edit,field", JSON_CASES + SPARSE_JSON_CASES,
                         ids=[c[0] for c in JSON_CASES + SPARSE_JSON_CASES])
def test_malformed_json_names_the_field(tmp_path, label, edit, field):
    doc = edit(_valid_json(sparse=(label, edit, field) in SPARSE_JSON_CASES))
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValidationError) as info:
        load(path)
    assert info.value.argument == field
    assert field in str(info.value)


@pytest.mark.parametrize("text", ["[1, 2, 3]", "not json", '{"format": ', "\"mdpgrad.mdp\"", "[" * 100000])
def test_non_document_json(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValidationError) as info:
        load(path)
    assert info.value.argument in ("path", "format")


def test_json_dict_reader_rejects_non_mapping():
    with pytest.raises(ValidationError) as info:
        mdp_from_dict([("format", "mdpgrad.mdp")])
    assert info.value.argument == "format"


# -- malformed .npz ------------------------------------------------------------------

def _valid_npz(sparse: bool = False) -> dict:
    mdp = slippery_gridworld(1, 2) if sparse else two_state()
    arrays = dict(format=np.array("mdpgrad.mdp"), version=np.array(1), gamma=np.array(mdp.gamma),
                  r=mdp.r, rho0=mdp.rho0, terminal=mdp.terminal)
    if sparse:
        arrays.update(layout=np.array("sparse"), P_data=mdp.P.data, P_indices=mdp.P.indices,
                      P_indptr=mdp.P.indptr)
    else:
        arrays.update(layout=np.array("dense"), P=mdp.P)
    return arrays


NPZ_CASES = [
    ("format tag", {"format": np.array("other")}, "format"),
    ("format numeric", {"format": np.array(3.0)}, "format"),
    ("no format", {"format": None}, "format"),
    ("version", {"version": np.array(7)}, "version"),
    ("version float", {"version": np.array(1.0)}, "version"),
    ("layout", {"layout": np.array("coo")}, "layout"),
    ("missing P", {"P": None}, "P"),
    ("unknown key", {"payload": np.zeros(3)}, "payload"),
    ("r 1-d", {"r": np.zeros(2)}, "r"),
    ("r complex", {"r": np.zeros((2, 2), dtype=complex)}, "r"),
    ("r strings", {"r": np.array([["a", "b"], ["c", "d"]])}, "r"),
    ("gamma vector", {"gamma": np.array([0.9, 0.9])}, "gamma"),
    ("rho0 shape", {"rho0": np.ones(3) / 3}, "rho0"),
    ("terminal float", {"terminal": np.zeros(2)}, "terminal"),
    ("P shape", {"P": np.ones((2, 2, 3)) / 3}, "P"),
    ("P NaN", {"P": np.full((2, 2, 2), np.nan)}, "P"),
    ("P object", {"P": np.array([[[0.5, 0.5]] * 2] * 2, dtype=object)}, "P"),
]

SPARSE_NPZ_CASES = [
    ("indices range", {"P_indices": lambda a: np.where(np.arange(a.size) == 1, 9, a)}, "P_indices"),
    ("indices negative", {"P_indices": lambda a: -a - 1}, "P_indices"),
    ("indptr end", {"P_indptr": lambda a: a + 1}, "P_indptr"),
    ("indptr length", {"P_indptr": np.array([0, 1])}, "P_indptr"),
    ("data 2-d", {"P_data": np.ones((2, 2))}, "P_data"),
    ("indices object", {"P_indices": np.array([0, 1], dtype=object)}, "P_indices"),
]


@pytest.mark.parametrize("label,change,field", NPZ_CASES + SPARSE_NPZ_CASES,
                         ids=[c[0] for c in NPZ_CASES + SPARSE_NPZ_CASES])
def test_malformed_npz_names_the_field(tmp_path, label, change, field):
    arrays = _valid_npz(sparse=(label, change, field) in SPARSE_NPZ_CASES)
    for key, value in change.items():
        if value is None:
            del arrays[key]
        elif callable(value):
            arrays[key] = value(arrays[key])
        else:
            arrays[key] = value
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)  # allow_pickle defaults to True on write: object arrays get pickled
    with pytest.raises(ValidationError) as info:
        load(path)
    assert info.value.argument == field
    assert field in str(info.value)


class _Exploit:
    """Unpickling this would create a marker file: the loader must never get that far."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_object_array_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "executed"
    arrays = _valid_npz()
    arrays["r"] = np.array([_Exploit(str(marker))], dtype=object)
    path = tmp_path / "hostile.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValidationError) as info:
        load(path)
    assert info.value.argument == "r"
    assert not marker.exists()
    # a bare pickle renamed to .npz is refused as a file
    raw = tmp_path / "pickle.npz"
    raw.write_bytes(pickle.dumps(_Exploit(str(marker))))
    with pytest.raises(ValidationError) as info:
        load(raw)
    assert info.value.argument == "path" and not marker.exists()


def test_not_an_npz_archive(tmp_path):
    single = tmp_path / "single.npz"
    with open(single, "wb") as fh:
        np.save(fh, np.zeros(3))
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 truncated")
    for path in (single, broken):
        with pytest.raises(ValidationError) as info:
            load(path)
        assert info.value.argument == "path"


def test_npz_stores_plain_arrays_only(tmp_path):
    path = tmp_path / "m.npz"
    save(slippery_gridworld(2, 2), path)
    with zipfile.ZipFile(path) as z:
        names = sorted(os.path.splitext(n)[0] for n in z.namelist())
    assert names == sorted(["format", "version", "layout", "gamma", "r", "rho0", "terminal",
                            "P_data", "P_indices", "P_indptr", "grid_shape"])
    with np.load(path, allow_pickle=False) as f:
        assert all(f[k].dtype != object for k in f.files)


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_grid_shape_round_trips_and_is_optional(tmp_path, suffix):
    grid = slippery_gridworld(2, 3)
    save(grid, tmp_path / f"g{suffix}")
    assert load(tmp_path / f"g{suffix}").grid_shape == (2, 3)
    plain = grid.replace(grid_shape=None)
    save(plain, tmp_path / f"p{suffix}")
    assert load(tmp_path / f"p{suffix}").grid_shape is None


def test_a_wrong_grid_shape_in_a_file_is_refused(tmp_path):
    doc = mdp_to_dict(slippery_gridworld(2, 3))
    doc["grid_shape"] = [3, 3]
    with pytest.raises(ValidationError, match=r"grid_shape is \(3, 3\), 9 cells") as info:
        mdp_from_dict(doc)
    assert info.value.argument == "grid_shape"
    doc["grid_shape"] = ["2", 3]
    with pytest.raises(ValidationError) as info:
        mdp_from_dict(doc)
    assert info.value.argument == "grid_shape"


# -- Gymnasium ----------------------------------------------------------------------

def make_env(*ids, **kwargs):
    """The first id this Gymnasium version provides (Taxi-v3 became Taxi-v4 in 1.x, CliffWalking v0 -> v1)."""
    for env_id in ids:
        try:
            return gymnasium.make(env_id, **kwargs).unwrapped
        except gymnasium.error.Error:
            continue
    raise LookupError(f"none of {ids} is registered in gymnasium {gymnasium.__version__}")


ENVS = {  # newest id first: Gymnasium 1.x removed Taxi-v3 (same deterministic dynamics as v4)
    "frozenlake-slippery": (("FrozenLake-v1",), {"is_slippery": True}),
    "frozenlake-deterministic": (("FrozenLake-v1",), {"is_slippery": False}),
    "cliffwalking": (("CliffWalking-v1", "CliffWalking-v0"), {}),
    "taxi": (("Taxi-v4", "Taxi-v3"), {}),
}


def test_grid_environments_keep_their_layout():
    assert from_gymnasium(make_env("FrozenLake-v1"), gamma=0.99).grid_shape == (4, 4)
    assert from_gymnasium(make_env("FrozenLake-v1", map_name="8x8"), gamma=0.99).grid_shape == (8, 8)
    assert from_gymnasium(make_env(*ENVS["cliffwalking"][0]), gamma=1.0).grid_shape == (4, 12)
    assert from_gymnasium(make_env(*ENVS["taxi"][0]), gamma=0.99).grid_shape is None
    assert from_gymnasium(make_env("FrozenLake-v1").P, gamma=0.99, rho0="uniform").grid_shape is None


def iterative_evaluation(P_dict, gamma):
    """Uniform π: v(s) ← Σ_a (1/A) Σ_(p, s', r, done) p·(r + γ·(0 if done else v(s'))), iterated."""
    S, A = len(P_dict), len(P_dict[0])
    table = [[list(P_dict[s][a]) for a in range(A)] for s in range(S)]
    v = [0.0] * S
    while True:
        new = [sum(p * (rw + (0.0 if done else gamma * v[s2]))
                   for a in range(A) for (p, s2, rw, done) in table[s][a]) / A for s in range(S)]
        change = max(abs(x - y) for x, y in zip(new, v, strict=True))
        v = new
        if change < ITER_STOP:
            return np.array(v)


@pytest.mark.parametrize("name", sorted(ENVS))
def test_gymnasium_values_match_iterative_evaluation_of_the_dict(name):
    ids, kwargs = ENVS[name]
    env = make_env(*ids, **kwargs)
    gamma = 0.9
    conv = convert_gymnasium(env.P, gamma=gamma, rho0=env.initial_state_distrib)
    mdp = conv.mdp
    S = len(env.P)
    ev = evaluate(mdp, uniform_policy(mdp.n_states, mdp.n_actions))
    v_ref = iterative_evaluation(env.P, gamma)
    live = ~mdp.terminal[:S]  # the dict's own rows of terminal states are never used in an episode
    assert np.abs(ev.v[:S][live] - v_ref[live]).max() <= ITER_TOL
    assert abs(ev.J - float(env.initial_state_distrib @ np.where(live, v_ref, 0.0))) <= ITER_TOL
    # the rule applied, checked against what the dict says
    entered = {True: set(), False: set()}
    for s in env.P:
        for a in env.P[s]:
            for (_, s2, _, done) in env.P[s][a]:
                entered[bool(done)].add(int(s2))
    assert set(conv.terminal_states) == entered[True] - entered[False]
    assert set(conv.redirected_states) == entered[True] & entered[False]
    assert mdp.n_states == S + (1 if conv.redirected_states else 0)


def test_gymnasium_rules_on_the_known_maps():
    # FrozenLake's 4x4 map SFFF/FHFH/FFFH/HFFG: holes 5, 7, 11, 12 and goal 15 end episodes.
    lake = convert_gymnasium(make_env("FrozenLake-v1"), gamma=1.0)
    assert lake.terminal_states == (5, 7, 11, 12, 15) and lake.extra_terminal is None
    assert lake.mdp.r[14, 2] > 0 and lake.mdp.r[15].tolist() == [0, 0, 0, 0]
    # Taxi: the four "delivered" states are also reached by moves after delivery, so the
    # successful drop-off (+20, terminated) is redirected to an appended terminal state 500.
    taxi = convert_gymnasium(make_env("Taxi-v4", "Taxi-v3"), gamma=0.99)
    assert len(taxi.redirected_states) == 4 and taxi.extra_terminal == 500
    assert taxi.mdp.terminal.nonzero()[0].tolist() == [500]
    assert "redirected" in taxi.rules


def test_gymnasium_transitions_match_env_step_frequencies():
    env = make_env("FrozenLake-v1", is_slippery=True)
    env.reset(seed=0)
    mdp = from_gymnasium(env.P, gamma=0.9, rho0="uniform")
    n = 3000
    for s, a in [(0, 1), (6, 2), (14, 2)]:
        counts = np.zeros(mdp.n_states)
        total_reward = 0.0
        for _ in range(n):
            env.s = s
            s2, reward, *_ = env.step(a)
            counts[s2] += 1
            total_reward += reward
        p = mdp.P[s, a]
        bound = N_SIGMA * np.sqrt(p * (1 - p) / n) + 1e-12
        assert (np.abs(counts / n - p) <= bound).all()
        sd_r = np.sqrt(max(mdp.r[s, a] * (1 - mdp.r[s, a]), 0.0) / n)  # rewards are 0/1 here
        assert abs(total_reward / n - mdp.r[s, a]) <= N_SIGMA * sd_r + 1e-12


def test_gymnasium_duplicates_summed_and_mixed_rule_by_hand():
    # state 0: action 0 repeats next state 1 (1/4 + 1/4) and ends in state 1 w.p. 1/2 with reward 2;
    # state 1 is thus entered both ways -> the terminated transition goes to the new state 2.
    P = {0: {0: [(0.25, 1, 1.0, False), (0.25, 1, 1.0, False), (0.5, 1, 2.0, True)]},
         1: {0: [(1.0, 0, 0.0, False)]}}
    conv = convert_gymnasium(P, gamma=1.0, rho0=[1.0, 0.0])
    mdp = conv.mdp
    assert mdp.P[0, 0].tolist() == [0.0, 0.5, 0.5] and mdp.r[0, 0] == 1.5
    assert conv.redirected_states == (1,) and conv.extra_terminal == 2
    assert mdp.rho0.tolist() == [1.0, 0.0, 0.0]
    # v(0) = 1.5 + ½ v(1), v(1) = v(0)  =>  v(0) = 3
    assert abs(evaluate(mdp, np.ones((3, 1))).v[0] - 3.0) <= EXACT_TOL
    assert from_gymnasium(P, gamma=1.0, rho0=[1.0, 0.0], sparse=True).is_sparse


GYM_BAD = [
    ("not a dict", [1, 2], (None,)),
    ("states not 0..S-1", {1: {0: [(1.0, 1, 0.0, False)]}}, (None,)),
    ("action not an int", {0: {0: [(1.0, 0, 0.0, False)]},
                           1: {0: [(1.0, 0, 0.0, False)], "up": [(1.0, 0, 0.0, False)]}}, (1,)),
    ("row sum", {0: {0: [(0.5, 0, 0.0, False)]}}, (0, 0)),
    ("negative prob", {0: {0: [(1.5, 0, 0.0, False), (-0.5, 0, 0.0, False)]}}, (0, 0)),
    ("next out of range", {0: {0: [(1.0, 3, 0.0, False)]}}, (0, 0, 0)),
    ("terminated not bool", {0: {0: [(1.0, 0, 0.0, "no")]}}, (0, 0, 0)),
    ("three-tuple", {0: {0: [(1.0, 0, 0.0)]}}, (0, 0, 0)),
    ("string reward", {0: {0: [(1.0, 0, "1", False)]}}, (0, 0, 0)),
    ("empty list", {0: {0: []}}, (0, 0)),
    ("terminal row still checked", {0: {0: [(1.0, 1, 1.0, True)]}, 1: {0: [(0.9, 1, 0.0, True)]}}, (1, 0)),
]


@pytest.mark.parametrize("label,P,index", GYM_BAD, ids=[c[0] for c in GYM_BAD])
def test_gymnasium_bad_dicts_raise(label, P, index):
    with pytest.raises(ValidationError) as info:
        from_gymnasium(P, gamma=0.9, rho0="uniform")
    assert info.value.argument == "P" and "P" in str(info.value)
    if index != (None,):
        assert info.value.index == index


def test_an_environment_brings_its_start_distribution():
    """FrozenLake starts in state 0: J is the start state's value, not the uniform average."""
    env = gymnasium.make("FrozenLake-v1")
    conv = convert_gymnasium(env, gamma=0.99)
    assert conv.rho0_source == "environment"
    assert conv.mdp.rho0.tolist() == env.unwrapped.initial_state_distrib.tolist()
    ev = evaluate(conv.mdp, uniform_policy(16, 4))
    assert ev.J == pytest.approx(ev.v[0], abs=EXACT_TOL)
    uniform = evaluate(convert_gymnasium(env, gamma=0.99, rho0="uniform").mdp, uniform_policy(16, 4))
    assert abs(uniform.J - ev.J) > 0.05                    # 0.0765 against 0.0058: not a detail


def test_a_bare_dict_without_rho0_is_refused_not_defaulted():
    env = gymnasium.make("FrozenLake-v1")
    with pytest.raises(ValidationError) as info:
        from_gymnasium(env.unwrapped.P, gamma=0.99)
    assert info.value.argument == "rho0" and "initial_state_distrib" in str(info.value)
    with pytest.raises(ValidationError):
        from_gymnasium(env.unwrapped.P, gamma=0.99, rho0="uniformly")
    with pytest.raises(ValidationError):
        from_gymnasium(object(), gamma=0.99)


def test_gymnasium_bad_rho0():
    P = {0: {0: [(1.0, 0, 1.0, False)]}}
    with pytest.raises(ValidationError) as info:
        from_gymnasium(P, gamma=0.9, rho0=[0.5, 0.5])
    assert info.value.argument == "rho0"


# -- pymdptoolbox ----------------------------------------------------------------------

def forest(S=3, r1=4.0, r2=2.0, p=0.1):
    """Cordwell's forest management (pymdptoolbox example.forest), written out by hand.

    Action 0 (wait): fire w.p. p sends the forest to age 0, else it ages by one (capped at S−1).
    Action 1 (cut): back to age 0.  Rewards: waiting in the oldest state pays r1; cutting pays 0
    at age 0, r2 at the oldest age and 1 in between.
    """
    P = np.zeros((2, S, S))
    for s in range(S):
        P[0, s, 0] += p
        P[0, s, min(s + 1, S - 1)] += 1 - p
        P[1, s, 0] = 1.0
    R = np.zeros((S, 2))
    R[S - 1, 0] = r1
    R[1:S - 1, 1] = 1.0
    R[S - 1, 1] = r2
    return P, R


def test_mdptoolbox_forest_always_cut():
    # v(s) = R[s, cut] + γ v(0) and v(0) = 0 + γ v(0) = 0, so v = (0, 1, r2).
    P, R = forest()
    ev = evaluate(from_mdptoolbox(P, R, 0.9), np.tile([0.0, 1.0], (3, 1)))
    assert np.abs(ev.v - [0.0, 1.0, 2.0]).max() <= EXACT_TOL


def test_mdptoolbox_forest_always_wait_against_hand_equations():
    g, p, r1 = sympy.Rational(9, 10), sympy.Rational(1, 10), 4
    v0, v1, v2 = sympy.symbols("v0 v1 v2")
    sol = sympy.solve([
        sympy.Eq(v0, g * (p * v0 + (1 - p) * v1)),
        sympy.Eq(v1, g * (p * v0 + (1 - p) * v2)),
        sympy.Eq(v2, r1 + g * (p * v0 + (1 - p) * v2)),
    ], [v0, v1, v2])
    expected = np.array([float(sol[v]) for v in (v0, v1, v2)])
    P, R = forest()
    ev = evaluate(from_mdptoolbox(P, R, 0.9), np.tile([1.0, 0.0], (3, 1)))
    assert np.abs(ev.v - expected).max() <= EXACT_TOL


def test_mdptoolbox_reward_layouts_and_sparse_input_agree():
    P, R = forest(S=4)
    base = from_mdptoolbox(P, R, 0.95)
    R_sas = np.repeat(R.T[:, :, None], 4, axis=2)          # (A, S, S): same reward whatever s'
    assert np.abs(from_mdptoolbox(P, R_sas, 0.95).r - base.r).max() <= EXACT_TOL
    state_only = from_mdptoolbox(P, R[:, 1], 0.95)         # (S,): reward of the state
    assert np.array_equal(state_only.r, np.repeat(R[:, 1:], 2, axis=1))
    sparse = from_mdptoolbox([sp.csr_array(P[0]), sp.csr_array(P[1])], R, 0.95)
    assert sparse.is_sparse and np.array_equal(sparse.P_dense(), base.P)
    sparse_R = from_mdptoolbox([sp.csr_array(P[0]), sp.csr_array(P[1])],
                               [sp.csr_array(R_sas[0]), sp.csr_array(R_sas[1])], 0.95)
    assert np.abs(sparse_R.r - base.r).max() <= EXACT_TOL
    assert np.array_equal(base.P[:, 1, 0], np.ones(4))      # P[a][s, s'] became P[s, a, s']


@pytest.mark.parametrize("P,R,argument", [
    (np.ones((2, 3, 3)) / 3, np.zeros((3, 3, 3)), "R"),
    (np.ones((2, 3, 3)) / 3, np.zeros(4), "R"),
    (np.ones((2, 3, 2)) / 2, np.zeros(3), "P"),
    ([], np.zeros(3), "P"),
    (sp.csr_array(np.eye(3)), np.zeros(3), "P"),
    (np.full((2, 3, 3), 0.5), np.zeros(3), "P"),
    ("P", np.zeros(3), "P"),
])
def test_mdptoolbox_bad_input(P, R, argument):
    with pytest.raises(ValidationError) as info:
        from_mdptoolbox(P, R, 0.9)
    assert info.value.argument == argument


# -- hostile files: refused before allocating, never a traceback of another type -----------------

def _npz_with_header(path, shape, dtype="<f8", payload=b""):
    """A saved two-state model whose member 'r.npy' claims ``shape`` but holds only ``payload``."""
    import io as _io

    good = path.with_name("good.npz")
    save(two_state(), good)
    header = _io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": dtype, "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, header.getvalue() + payload if name == "r.npy" else src.read(name))


def test_a_header_claiming_gigabytes_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.npz"
    _npz_with_header(path, (20_000, 20_000))        # 3.2 GB claimed, a few hundred bytes on disk
    assert path.stat().st_size < 2000
    with pytest.raises(ValidationError) as err:
        load(path)
    assert err.value.argument == "r" and "claims shape (20000, 20000)" in str(err.value)


def test_an_honest_npz_above_the_memory_limit_is_refused(tmp_path):
    from mdpgrad._validation import set_memory_limit

    path = tmp_path / "m.npz"
    save(two_state(), path)
    old = set_memory_limit(2 * 2 * 2 * 8 - 1)          # P holds 8 float64, 64 bytes
    try:
        with pytest.raises(ValidationError) as err:
            load(path)
    finally:
        set_memory_limit(old)
    assert "memory limit" in str(err.value) and err.value.argument == "P"
    assert load(path).n_states == 2


def test_a_header_longer_than_its_data_is_refused(tmp_path):
    path = tmp_path / "short.npz"
    _npz_with_header(path, (3, 2), payload=b"\0" * 8)
    with pytest.raises(ValidationError):
        load(path)


def test_corrupted_deflate_data_is_a_validation_error(tmp_path):
    path = tmp_path / "m.npz"
    save(two_state(), path)
    raw = bytearray(path.read_bytes())
    start = raw.index(b"r.npy") + 40                   # inside the compressed stream of member r
    raw[start:start + 40] = bytes(40)
    path.write_bytes(bytes(raw))
    with pytest.raises(ValidationError):
        load(path)


def test_a_json_link_to_an_endless_device_is_refused(tmp_path):
    link = tmp_path / "zero.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(ValidationError) as err:
        load(link)
    assert "not a regular file" in str(err.value)


def test_a_json_file_above_the_memory_limit_is_refused(tmp_path):
    from mdpgrad._validation import set_memory_limit

    path = tmp_path / "m.json"
    save(two_state(), path)
    old = set_memory_limit(path.stat().st_size - 1)
    try:
        with pytest.raises(ValidationError) as err:
            load(path)
    finally:
        set_memory_limit(old)
    assert "memory limit" in str(err.value)
    assert load(path).n_states == 2                     # one byte more and it loads


@pytest.mark.parametrize("gamma", ["1" + "0" * 400, "9" * 4301])
def test_json_integers_too_large_for_a_float_are_validation_errors(tmp_path, gamma):
    doc = json.dumps(mdp_to_dict(two_state()))
    path = tmp_path / "m.json"
    path.write_text(doc.replace('"gamma": 0.9', f'"gamma": {gamma}'))
    with pytest.raises(ValidationError):
        load(path)


def test_file_errors_say_what_an_mdpgrad_file_is(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"format": "something else", "version": 1, "layout": "dense"}')
    with pytest.raises(ValidationError) as err:
        load(path)
    assert "mdpgrad.save" in str(err.value)


@pytest.mark.parametrize("entry", [(10**400, 0, 0.0, False), (1.0, 0, 10**400, False)])
def test_gymnasium_numbers_too_large_for_a_float_are_validation_errors(entry):
    with pytest.raises(ValidationError) as info:
        from_gymnasium({0: {0: [entry]}}, gamma=0.9, rho0="uniform")
    assert info.value.argument == "P" and info.value.index == (0, 0, 0)
