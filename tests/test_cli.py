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
