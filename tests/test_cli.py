"""The command line, run as a user would: exit codes, report contents, JSON, errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from mdpgrad.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_default_example_prints_report(capsys):
    code, out, err = run(capsys, "check")
    assert code == 0, out + err
    for heading in ["Model", "Exact evaluation"]:
        assert heading in out
    assert "two-state" in out and "Bellman residual" in out
    assert err == ""


def test_check_json_agrees_with_independent_evaluation(capsys):
    import mdpgrad as mg
    from mdpgrad import get_example

    code, out, _ = run(capsys, "check", "two-state", "--json")
    assert code == 0
    report = json.loads(out)
    mdp = get_example("two-state")
    ev = mg.evaluate(mdp, mg.uniform_policy(mdp.n_states, mdp.n_actions))
    assert report["evaluation"]["J"] == pytest.approx(ev.J, rel=1e-12)
    assert report["model"]["n_states"] == mdp.n_states
    assert all(section["ok"] for section in report.values())


def test_random_policy_depends_on_seed(capsys):
    outs = [json.loads(run(capsys, "check", "--policy", "random", "--seed", str(s), "--json")[1])
            for s in (1, 1, 2)]
    assert outs[0]["evaluation"]["J"] == outs[1]["evaluation"]["J"]
    assert outs[0]["evaluation"]["J"] != outs[2]["evaluation"]["J"]


def test_examples_lists_every_registered_example(capsys):
    from mdpgrad.examples import EXAMPLES

    code, out, _ = run(capsys, "examples")
    assert code == 0
    listed = {line.split()[0] for line in out.splitlines()}
    assert listed == set(EXAMPLES)


@pytest.mark.parametrize("name", ["gridworld", "gridworld-episodic", "random-walk-5", "baird"])
def test_check_runs_on_other_examples(capsys, name):
    code, out, err = run(capsys, "check", name)
    assert code == 0, out + err


def test_unknown_target_is_a_clean_error(capsys):
    code, out, err = run(capsys, "check", "no-such-thing")
    assert code == 2
    assert err.startswith("mdpgrad: error:") and "no-such-thing" in err and "Traceback" not in err


def test_malformed_model_file_exits_2_with_validation_message(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "not-mdpgrad"}))
    code, _, err = run(capsys, "check", str(bad))
    assert code == 2 and "mdpgrad: error:" in err and "Traceback" not in err


def test_saved_file_round_trips_through_check(tmp_path, capsys):
    from mdpgrad import get_example, save

    path = tmp_path / "m.npz"
    save(get_example("random-walk-5"), path)
    code_file, out_file, _ = run(capsys, "check", str(path), "--json")
    code_ex, out_ex, _ = run(capsys, "check", "random-walk-5", "--json")
    assert code_file == code_ex == 0
    assert json.loads(out_file)["evaluation"]["J"] == json.loads(out_ex)["evaluation"]["J"]


def test_module_entry_point_runs_in_a_subprocess():
    proc = subprocess.run([sys.executable, "-m", "mdpgrad", "check", "two-state"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Exact evaluation" in proc.stdout


def test_json_output_is_strict_json(capsys):
    # NaN/inf must never leak into the machine-readable output
    _, out, _ = run(capsys, "check", "gridworld-episodic", "--json")
    json.loads(out, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert np.isfinite(json.loads(out)["evaluation"]["J"])


# -- unusable input: exit 2, one line, no traceback; --json errors are JSON on stdout ----------------------

def _model_files(tmp_path):
    """The malformed inputs of the command line, by name (path strings)."""
    import io as _io
    import zipfile

    import mdpgrad as mg

    mdp = mg.examples.two_state()
    mg.save(mdp, tmp_path / "ok.json")
    mg.save(mdp, tmp_path / "ok.npz")
    text = (tmp_path / "ok.json").read_text()
    doc = json.loads(text)
    files = {}
    g400 = tmp_path / "gamma400.json"
    g400.write_text(json.dumps(doc | {"gamma": 10**399}))
    files["gamma as a 400-digit integer"] = g400
    big = tmp_path / "digits.json"
    big.write_text(text.replace('"gamma": 0.9', '"gamma": ' + "1" * 4301))
    files["integer of 4301 digits"] = big
    src = np.load(tmp_path / "ok.npz")
    np.savez_compressed(tmp_path / "compressed.npz", **{k: src[k] for k in src.files})
    raw = bytearray((tmp_path / "compressed.npz").read_bytes())
    for i in range(60, 120):
        raw[i] ^= 0x55
    (tmp_path / "corrupt.npz").write_bytes(bytes(raw))
    files["corrupted deflate data"] = tmp_path / "corrupt.npz"
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as z:
        for k in src.files:
            buf = _io.BytesIO()
            if k == "P":
                np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                                           "shape": (100000, 2, 100000)})
                buf.write(b"\0" * 64)
            else:
                np.lib.format.write_array(buf, src[k])
            z.writestr(k + ".npy", buf.getvalue())
    files["header claiming a huge array"] = tmp_path / "huge.npz"
    files["missing file"] = tmp_path / "missing.npz"
    (tmp_path / "adir").mkdir()
    files["directory"] = tmp_path / "adir"
    return {k: str(v) for k, v in files.items()}


CASES = ["gamma as a 400-digit integer", "integer of 4301 digits", "corrupted deflate data",
         "header claiming a huge array", "missing file", "directory"]


@pytest.mark.parametrize("case", CASES)
def test_unusable_files_exit_2_with_one_line(tmp_path, capsys, case):
    path = _model_files(tmp_path)[case]
    code, out, err = run(capsys, "check", path)
    assert code == 2 and out == ""
    assert err.startswith("mdpgrad: error:") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("case", CASES)
def test_unusable_files_with_json_give_a_json_error(tmp_path, capsys, case):
    path = _model_files(tmp_path)[case]
    code, out, err = run(capsys, "check", path, "--json")
    assert code == 2 and err == ""
    error = json.loads(out)["error"]
    assert error["message"] and error["type"]


def test_negative_seed_exits_2(capsys):
    code, out, err = run(capsys, "check", "--seed", "-1")
    assert code == 2 and out == "" and "seed is -1" in err and err.count("\n") == 1
    code, out, err = run(capsys, "check", "--seed", "-1", "--json")
    assert code == 2 and json.loads(out)["error"]["argument"] == "seed"


def test_seed_zero_is_accepted(capsys):
    assert run(capsys, "check", "--seed", "0")[0] == 0


def test_unparseable_arguments_with_json_give_a_json_error(capsys):
    code, out, err = run(capsys, "check", "--seed", "x", "--json")
    assert code == 2 and err == ""
    assert json.loads(out)["error"]["type"] == "usage"


@pytest.mark.slow
def test_one_state_model_with_gamma_just_below_one_runs(tmp_path, capsys):
    import mdpgrad as mg

    path = tmp_path / "s1.npz"
    mg.save(mg.MDP(np.ones((1, 1, 1)), [[1.0]], 1 - 1e-15), path)
    code, out, err = run(capsys, "check", str(path))
    assert code in (0, 1) and "Traceback" not in err and out.rstrip().splitlines()[-1].startswith("verdict:")


# -- the report reads plainly ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["two-state", "gridworld", "baird", "two-state-episodic"])
def test_report_lines_are_wrapped_and_end_with_a_verdict(capsys, name):
    code, out, _ = run(capsys, "check", name)
    lines = out.splitlines()
    assert max(map(len, lines)) <= 100
    assert lines[-1] == ("verdict: all checks pass" if code == 0 else lines[-1])
    assert lines[-1].startswith("verdict: ")


def test_verdict_names_the_failed_section():
    from mdpgrad._report import Section, render_json, render_text

    sections = [Section("a", "Alpha", [("x", "1")], {}, True), Section("b", "Beta", [("y", "2")], {}, False)]
    assert render_text(sections).splitlines()[-1] == "verdict: FAILED: Beta"
    assert json.loads(render_json(sections))["verdict"] == {"ok": False, "failed": ["b"], "undecided": [],
                                                            "text": "FAILED: Beta"}


def test_verdict_names_undecided_checks_after_the_failures():
    from mdpgrad._report import Section, render_json, render_text

    sections = [Section("a", "Alpha", [("x", "1")], {}, True, ("grad J",)),
                Section("b", "Beta", [("y", "2")], {}, False)]
    assert render_text(sections).splitlines()[-1] == "verdict: FAILED: Beta; undecided: grad J"
    report = json.loads(render_json(sections))["verdict"]
    assert report["undecided"] == ["a: grad J"] and not report["ok"]
    passing = [Section("a", "Alpha", [("x", "1")], {}, True, ("grad J",))]
    assert render_text(passing).splitlines()[-1] == "verdict: all checks pass; undecided: grad J"


def test_variance_row_says_sd_not_an_interval(capsys):
    _, out, _ = run(capsys, "check")
    row = next(line for line in out.splitlines() if "Var[G]" in line)
    assert "+/-" not in row and "standard deviation sd =" in row
    assert "mixed error" not in out and "witness plane" not in out and "Sobel M - v^2" not in out


@pytest.mark.slow
def test_skipped_sections_say_which_and_why(capsys):
    code, out, _ = run(capsys, "check", "gridworld")
    block = out.split("Symbolic confirmation")[1].split("\n\n")[0]
    assert "skipped" in block and "state-action pairs > 8" in block
    report = json.loads(run(capsys, "check", "gridworld", "--json")[1])
    assert report["symbolic"]["skipped"] is True and report["symbolic"]["reason"]


def test_baird_report_shows_off_policy_divergence(capsys):
    import mdpgrad as mg

    b = mg.examples.baird_counterexample()
    P_b = np.einsum("sa,sat->st", b.behaviour, b.mdp.P)
    d = mg.stationary_distribution(P_b)
    # the expected TD(0) update Φᵀ D (γ P_π − I) Φ, P_π the target policy's chain (Sutton & Barto 2018, §11.2)
    P_pi = np.einsum("sa,sat->st", b.target, b.mdp.P)
    A = b.phi.T @ np.diag(d) @ (b.mdp.gamma * P_pi - np.eye(7)) @ b.phi
    lead = max(np.linalg.eigvals(A).real)
    assert lead > 0
    _, out, _ = run(capsys, "check", "baird")
    assert "off-policy linear TD(0)" in out and "DIVERGES" in out
    report = json.loads(run(capsys, "check", "baird", "--json")[1])
    assert report["td"]["off_policy_td"]["diverges"] is True
    assert report["td"]["off_policy_td"]["max_real"] == pytest.approx(lead, rel=1e-9)


def test_zero_effective_sample_size_is_explained():
    import mdpgrad as mg
    from mdpgrad._report import build_context
    from mdpgrad._report.estimators import estimator_section

    # actions change nothing: the advantage is 0 everywhere, while returns vary with the states visited
    P = np.array([[[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]])
    mdp = mg.MDP(P, [[1.0, 1.0], [0.0, 0.0]], 0.5)
    sec = estimator_section(build_context("flat", mdp))
    assert sec.data["effective_sample_size"] == 0.0
    row = dict(sec.rows)["effective sample size"]
    assert row.startswith("0: the exact advantage is 0")


@pytest.mark.slow
def test_near_undiscounted_check_stays_under_500_mb(tmp_path):
    import mdpgrad as mg

    path = tmp_path / "g.npz"
    mg.save(mg.examples.two_state(gamma=0.99999), path)
    code = ("import resource, subprocess, sys; p = subprocess.run([sys.executable, '-m', 'mdpgrad', 'check', "
            f"{str(path)!r}], capture_output=True, text=True); "
            "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
            "sys.stderr.write(p.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    rc, peak_kb = map(int, proc.stdout.split())
    assert rc == 0, proc.stderr
    assert peak_kb < 500 * 1024
