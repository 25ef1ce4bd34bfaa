"""No silent wrong answers at the edges: duplicate keys, non-regular files, aliasing through copy and
pickle, np.matrix and masked tables, batch-independent row sums, exact reprs, bounded discounts."""

import copy
import io
import json
import os
import pickle
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import mdpgrad as mg
from mdpgrad._policies import validate_policy
from mdpgrad.strategies import max_continuing_gamma, mdps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def two_state(sparse=False):
    m = mg.get_example("two-state")
    return m.replace(P=sp.csr_array(m.P_flat)) if sparse else m


# -- files -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["gamma", "r"])
def test_a_json_key_given_twice_is_refused_naming_it(tmp_path, key):
    path = tmp_path / "m.json"
    mg.save(two_state(), path)
    text = path.read_text()
    doc = json.loads(text)
    dup = text.rstrip().removesuffix("}") + f', "{key}": {json.dumps(doc[key])}}}'
    path.write_text(dup)
    with pytest.raises(mg.ValidationError, match=f"field '{key}' appears more than once") as info:
        mg.load(path)
    assert info.value.argument == key


def test_a_duplicate_key_inside_sparse_p_is_refused(tmp_path):
    path = tmp_path / "m.json"
    mg.save(two_state(sparse=True), path)
    text = path.read_text().replace('"data": [', '"data": [0.5], "data": [', 1)
    path.write_text(text)
    with pytest.raises(mg.ValidationError, match="field 'data' appears more than once"):
        mg.load(path)


def _rewrite_npz(src, dst, extra):
    """Copy the members of ``src`` to ``dst`` and append ``extra`` {member name: array}."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename not in extra or info.filename.endswith("!"):
                zout.writestr(info.filename, zin.read(info.filename))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)          # zipfile: "Duplicate name"
            for name, arr in extra.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, arr)
                zout.writestr(name, buf.getvalue())


def test_an_npz_member_stored_twice_is_refused_naming_it(tmp_path):
    src, dst = tmp_path / "m.npz", tmp_path / "dup.npz"
    mg.save(two_state(), src)
    with zipfile.ZipFile(src) as z:
        names = z.namelist()
    assert "r.npy" in names
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in names:
            zout.writestr(name, zin.read(name))
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.array([[5.0, 0.0], [0.0, 2.0]]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            zout.writestr("r.npy", buf.getvalue())               # a second, different 'r'
    with pytest.raises(mg.ValidationError, match="field 'r' is stored more than once") as info:
        mg.load(dst)
    assert info.value.argument == "r"


def test_npz_member_shapes_are_checked_before_any_data_is_decompressed(tmp_path):
    src, dst = tmp_path / "m.npz", tmp_path / "big.npz"
    mg.save(two_state(), src)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            if name != "P.npy":
                zout.writestr(name, zin.read(name))
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.zeros((200, 2, 200)))   # 640 kB: honest, but not (2, 2, 2)
        zout.writestr("P.npy", buf.getvalue())
    # under a 100 kB limit the member cannot be read; the shape alone must refuse it
    with mg.memory_limit_scope(100_000):
        with pytest.raises(mg.ValidationError, match=r"field 'P' has shape \(200, 2, 200\); expected "
                                                     r"\(2, 2, 2\)"):
            mg.load(dst)


def test_save_to_a_fifo_is_refused_instead_of_blocking(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    code = ("import mdpgrad as mg, sys\n"
            "try:\n"
            f"    mg.save(mg.get_example('two-state'), {str(fifo)!r})\n"
            "except mg.ValidationError as exc:\n"
            "    print(exc)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20,
                       env={**os.environ, "PYTHONPATH": ROOT})
    assert p.returncode == 0, p.stderr
    assert "is not a regular file" in p.stdout


def test_save_to_a_directory_path_is_refused(tmp_path):
    d = tmp_path / "d.npz"
    d.mkdir()
    with pytest.raises(mg.ValidationError, match="not a regular file"):
        mg.save(two_state(), d)


# -- aliasing: copies and pickles stay immutable ---------------------------------------------------

COPIES = {"deepcopy": copy.deepcopy, "copy": copy.copy, "pickle": lambda x: pickle.loads(pickle.dumps(x))}


@pytest.mark.parametrize("how", list(COPIES))
@pytest.mark.parametrize("sparse", [False, True])
def test_copies_and_pickles_of_an_mdp_are_read_only(how, sparse):
    m = two_state(sparse)
    c = COPIES[how](m)
    arrays = [c.r, c.rho0, c.terminal] + ([c.P.data, c.P.indices, c.P.indptr] if sparse else [c.P])
    for a in arrays:
        assert not a.flags.writeable
        with pytest.raises(ValueError):
            a[(0,) * a.ndim] = 7
    pi = mg.uniform_policy(2, 2)
    assert np.array_equal(mg.evaluate(c, pi).v, mg.evaluate(m, pi).v)
    assert repr(c) == repr(m) and c.grid_shape == m.grid_shape and c.is_sparse == sparse


@pytest.mark.parametrize("how", list(COPIES))
def test_copies_and_pickles_of_loglinear_features_are_read_only(how):
    pol = mg.LogLinear(np.arange(8.0).reshape(2, 2, 2))
    c = COPIES[how](pol)
    assert not c.phi.flags.writeable
    with pytest.raises(ValueError):
        c.phi[0, 0, 0] = 1.0
    assert np.array_equal(c.phi, pol.phi)


def test_resizing_the_sparse_p_handed_out_leaves_the_model_unchanged():
    m = two_state(sparse=True)
    v = mg.evaluate(m, mg.uniform_policy(2, 2)).v
    P = m.P
    P.resize((2, 2))
    P.data = np.zeros(P.nnz)
    assert m.P.shape == (4, 2) and m.P_dense().sum() == 4.0
    assert np.array_equal(mg.evaluate(m, mg.uniform_policy(2, 2)).v, v)


def test_pickling_an_evaluation_round_trips():
    ev = mg.evaluate(two_state(), mg.uniform_policy(2, 2))
    back = pickle.loads(pickle.dumps(ev))
    assert np.array_equal(back.v, ev.v) and back.J == ev.J


# -- np.matrix and masked arrays -------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_a_matrix_policy_is_converted_to_a_plain_array():
    m = two_state()
    pi = np.array([[0.25, 0.75], [0.5, 0.5]])
    out = validate_policy(np.matrix(pi), 2, 2)
    assert type(out) is np.ndarray and np.array_equal(out, pi)
    Q = np.array([[1.0, 2.0], [3.0, 4.0]])
    expected = mg.td.td_update(m, pi, Q)
    got = mg.td.td_update(m, np.matrix(pi), np.matrix(Q))
    assert type(got) is np.ndarray and got.shape == (2, 2)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("call", [
    lambda pi: mg.evaluate(two_state(), pi),
    lambda pi: mg.td.td_update(two_state(), pi, np.zeros((2, 2))),
    lambda pi: validate_policy(pi, 2, 2),
])
def test_a_masked_policy_is_refused_not_unmasked(call):
    pi = np.ma.masked_array([[0.5, 0.5], [0.9, 0.1]], mask=[[False, False], [False, True]])
    with pytest.raises(mg.ValidationError, match="masked array"):
        call(pi)


def test_masked_theta_is_refused():
    theta = np.ma.masked_array([[0.0, 1.0]], mask=[[False, True]])
    for call in (lambda: mg.TabularSoftmax(1, 2).probabilities(theta),
                 lambda: mg.policy_gradient(two_state(), mg.TabularSoftmax(2, 2),
                                            np.ma.masked_array(np.zeros((2, 2)), mask=np.eye(2)))):
        with pytest.raises(mg.ValidationError, match="masked"):
            call()


# -- row sums decided per row, independent of the batch -------------------------------------------

def _verdict(pi, atol):
    try:
        validate_policy(pi, pi.shape[-2], pi.shape[-1], atol=atol)
        return True
    except mg.ValidationError:
        return False


@pytest.mark.parametrize("A", [3, 17, 40, 300])
def test_a_policy_at_the_threshold_gets_the_same_verdict_alone_and_in_any_batch(A):
    rng = np.random.default_rng(A)
    for _ in range(20):
        row = rng.random((1, A))
        row /= row.sum()
        # thresholds at the row's sum as each summation order computes it
        for total in (np.sum(row), np.cumsum(row)[-1], float(np.add.reduce(row[0, ::-1]))):
            atol = abs(float(total) - 1.0)
            alone = _verdict(row, atol)
            stacked = np.stack([row] * 5)                          # contiguous batch
            strided = np.moveaxis(np.stack([row] * 5, axis=-1), -1, 0)  # same values, strided rows
            transposed = np.ascontiguousarray(np.broadcast_to(row.T, (A, 1)).T)[None]
            for batch in (stacked, strided, transposed):
                assert _verdict(batch, atol) == alone, (A, atol)
        # and just inside / just outside the threshold of the one order used
        s = float(np.cumsum(row)[-1])
        gap = abs(s - 1.0)
        assert _verdict(np.moveaxis(np.stack([row] * 3, axis=-1), -1, 0), gap)
        if gap > 0:
            assert not _verdict(np.moveaxis(np.stack([row] * 3, axis=-1), -1, 0),
                                np.nextafter(gap, 0.0))


# -- messages ---------------------------------------------------------------------------------------

def test_repr_shows_gamma_exactly():
    m = mg.MDP(np.array([[[1.0]]]), [[1.0]], 1 - 1e-12)
    assert "gamma=0.999999999999," in repr(m)
    assert float(repr(m).split("gamma=")[1].split(",")[0]) == m.gamma


def test_a_symlink_loop_is_not_reported_as_a_missing_file(tmp_path, capsys):
    from mdpgrad.cli import main

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.symlink_to(b)
    b.symlink_to(a)
    code = main(["check", str(a)])
    err = capsys.readouterr().err
    assert code == 2 and "symbolic links" in err and "no such file" not in err.lower()


def test_option_abbreviations_are_refused(capsys):
    from mdpgrad.cli import main

    code = main(["check", "two-state", "--js"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "unrecognized arguments: --js" in err


# -- the CLI never prints a traceback -------------------------------------------------------------

@pytest.mark.parametrize("as_json", [False, True])
def test_huge_rewards_exit_2_with_one_line(tmp_path, capsys, as_json):
    from mdpgrad.cli import main

    m = two_state()
    path = tmp_path / "big.json"
    mg.save(m.replace(r=m.r * 1e156), path)
    code = main(["check", str(path)] + (["--json"] if as_json else []))
    out, err = capsys.readouterr()
    assert code in (0, 1, 2)
    if code == 2:                    # cannot be computed: one line, JSON on stdout with --json
        text = out if as_json else err
        assert len(text.strip().splitlines()) == 1
        if as_json:
            assert "error" in json.loads(out)
        else:
            assert text.startswith("mdpgrad: error:")
    elif as_json:                    # a report (numerics fixed at the root): still JSON
        json.loads(out)


def test_an_unexpected_exception_is_one_line_and_exit_2(monkeypatch, capsys):
    from mdpgrad import cli

    def boom(args):
        raise RuntimeError("something unforeseen")

    monkeypatch.setattr(cli, "_cmd_examples", boom)
    code = cli.main(["examples"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.strip() == "mdpgrad: error: internal error (RuntimeError: something unforeseen)"


def _run_cli_shell(shell_tail):
    return subprocess.run(["sh", "-c", f'"$0" -m mdpgrad {shell_tail}', sys.executable], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": ROOT})


def test_a_closed_stdout_exits_quietly_with_a_nonzero_code():
    p = _run_cli_shell("examples >&-")
    assert p.returncode == 2 and p.stderr == ""


def test_a_reader_that_goes_away_exits_quietly():
    p = subprocess.Popen([sys.executable, "-m", "mdpgrad", "examples"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": ROOT})
    p.stdout.close()
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and b"Traceback" not in err and err == b""


def test_a_closed_stderr_does_not_turn_an_error_into_a_traceback():
    p = _run_cli_shell("check no-such-example 2>&-")
    assert p.returncode == 2 and "Traceback" not in p.stdout


# -- strategies: only discounts the library accepts ------------------------------------------------

@pytest.mark.parametrize("S", [1, 2, 5])
def test_continuing_gamma_above_the_bound_is_an_invalid_argument(S):
    over = float(np.nextafter(max_continuing_gamma(S), 1.0))
    strategy = mdps(min_states=S, max_states=S, episodic=st.just(False), gammas=st.just(over))
    with pytest.raises(InvalidArgument, match="max_continuing_gamma"):
        find(strategy, lambda m: True)
    with pytest.raises(InvalidArgument):
        find(mdps(episodic=st.just(False), gammas=st.just(1 - 2**-53)), lambda m: True)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_continuing_models_at_the_largest_gamma_are_evaluated(data):
    S = data.draw(st.integers(1, 5))
    gamma = max_continuing_gamma(S)
    mdp = data.draw(mdps(min_states=S, max_states=S, episodic=st.just(False), gammas=st.just(gamma)))
    pi = data.draw(st.sampled_from([mg.uniform_policy(S, mdp.n_actions),
                                    mg.greedy_policy(np.eye(S, mdp.n_actions))]))
    ev = mg.evaluate(mdp, pi)
    assert np.isfinite(ev.v).all()


@pytest.mark.parametrize("cls", [mg.ValidationError, mg.NonTerminatingPolicyError])
def test_validation_errors_pickle_with_their_fields(cls):
    err = cls("pi[1, :] sums to 0.9", argument="pi", index=(1,), value=0.9)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls and str(back) == str(err)
    assert (back.argument, back.index, back.value) == ("pi", (1,), 0.9)


@pytest.mark.parametrize("field", ["P", "r", "rho0", "terminal"])
def test_masked_model_arrays_are_refused(field):
    m = two_state()
    value = {"P": m.P, "r": m.r, "rho0": m.rho0, "terminal": m.terminal}[field]
    masked = np.ma.masked_array(value, mask=np.zeros(value.shape, dtype=bool))
    with pytest.raises(mg.ValidationError, match="masked array") as info:
        m.replace(**{field: masked})
    assert info.value.argument == field


def test_npz_members_that_fit_alone_but_not_together_are_refused(tmp_path):
    S, A = 40, 2
    P = np.zeros((S, A, S))
    P[:, :, 0] = 1.0
    path = tmp_path / "m.npz"
    mg.save(mg.MDP(P, np.zeros((S, A)), 0.5), path)
    p_bytes = 8 * S * A * S                           # the largest member; the others add 1 kB or so
    with mg.memory_limit_scope(p_bytes + 100):
        with pytest.raises(mg.ValidationError, match="together"):
            mg.load(path)
    with mg.memory_limit_scope(2 * p_bytes):
        assert mg.load(path).n_states == S


@pytest.mark.parametrize("how", [None, *COPIES])
@pytest.mark.parametrize("sparse", [False, True])
def test_model_arrays_cannot_be_made_writable_again(how, sparse):
    m = two_state(sparse)
    c = m if how is None else COPIES[how](m)
    arrays = [c.r, c.rho0, c.terminal] + ([c.P.data, c.P.indices, c.P.indptr] if sparse else [c.P])
    for a in arrays:
        with pytest.raises(ValueError):
            a.flags.writeable = True
    pol = mg.LogLinear(np.ones((2, 2, 1)))
    phi = (pol if how is None else COPIES[how](pol)).phi
    with pytest.raises(ValueError):
        phi.flags.writeable = True
