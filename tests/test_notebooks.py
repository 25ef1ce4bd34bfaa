"""The lessons in notebooks/: each runs clean from a fresh kernel, and the committed copy is tidy.

Running a notebook executes its own assertions (published numbers, identities),
so a change in the library that moves a number fails here, not only in a
picture.  The committed copies carry their outputs so they can be read without
running; these tests check that those outputs come from one clean top-to-bottom
run with no error and no warning printed, and that a fresh run prints the same
text: each lesson is executed once (the run is shared with the figure audit of
``tests/test_plot_style.py``), and its stdout and plain-text results are
compared with the committed ones, numbers to 6 significant digits.
"""

from __future__ import annotations

import copy
import json
import re

import nbformat
import pytest
from _lessons import EXTRAS, LESSONS, NOTEBOOKS, executed, run

#: Committed size per lesson: figures are PNGs of ~50-150 kB each, so 2 MB is
#: room for about a dozen and still small enough to review a diff.
MAX_BYTES = 2_000_000


def test_there_are_lessons():
    assert len(LESSONS) >= 8


@pytest.mark.slow
@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs_clean_and_prints_the_committed_text(path):
    if path.stem in EXTRAS:
        pytest.importorskip(EXTRAS[path.stem])
    committed = nbformat.read(path, as_version=4)
    nb, _ = executed(path)
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    assert errors == []
    diff = run.differences(committed, nb, path.name)
    assert diff == "", (f"a fresh run of {path.name} prints other text than the committed copy; if the "
                        f"change is intended, refresh it with `python notebooks/run.py --write "
                        f"{path.stem[:2]}`:\n{diff}")


def _stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _notebook(*outputs):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("prose"), nbformat.v4.new_code_cell("x", outputs=list(outputs))]
    return nb


def test_numbers_are_compared_to_six_significant_digits():
    # equal to 6 significant digits: the same text; a change in the 6th digit: a difference
    assert (run.normalise("p=0.7471234 and 2.7755575615628914e-16")
            == run.normalise("p=0.7471229 and 2.7755575e-16"))
    assert run.normalise("J = 18.46154") != run.normalise("J = 18.46164")
    assert run.normalise("J = -0.25") != run.normalise("J = 0.25")
    assert run.normalise("n = 20532 episodes") == "n = 20532 episodes"      # counts stay as printed
    assert run.normalise("3.59") == run.normalise("3.590") == "3.59"


def test_the_comparison_reads_text_not_figures_or_counts():
    figure = nbformat.v4.new_output("display_data",
                                    data={"image/png": "AAAA", "text/plain": "<Figure size 10x10>"})
    result = nbformat.v4.new_output("execute_result", data={"text/plain": "array([1.5, 2. ])"},
                                    execution_count=3)
    committed = _notebook(_stream("holds=True p-value=0.747\n"), figure, result)
    fresh = copy.deepcopy(committed)
    fresh.cells[1].outputs[1]["data"] = {"image/png": "BBBB", "text/plain": "<Figure size 20x20>"}
    fresh.cells[1].outputs[2]["execution_count"] = 7
    fresh.cells[1]["metadata"] = {"execution": {"took": 3}}
    assert run.differences(committed, fresh) == ""
    fresh.cells[1].outputs[2]["data"]["text/plain"] = "array([1.5, 2.5])"
    fresh.cells[1].outputs[0]["text"] = "holds=False p-value=8.96e-45\n"
    diff = run.differences(committed, fresh, "07")
    assert "-[cell 1] holds=True p-value=0.747" in diff and "+[cell 1] holds=False p-value=8.96e-45" in diff
    assert "-[cell 1] array([1.5, 2 ])" in diff and "+[cell 1] array([1.5, 2.5])" in diff
    assert "07 (committed)" in diff and "07 (fresh run)" in diff


def test_a_line_printed_in_two_stream_pieces_is_the_same_text():
    # the kernel may flush one print's output in two pieces (two stream outputs)
    whole = _notebook(_stream("column sums: [ 0.1429 -0.8471]\neigenvalues: [-0.23]\n"))
    split = _notebook(_stream("column sums:"), _stream(" [ 0.1429 -0.8471]\neigenvalues: [-0.23]\n"))
    assert run.differences(whole, split) == ""
    assert run.text_outputs(split) == ["[cell 1] column sums: [ 0.1429 -0.8471]",
                                       "[cell 1] eigenvalues: [-0.23]"]


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_committed_copy_is_one_clean_run(path):
    assert path.stat().st_size <= MAX_BYTES
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, "a lesson computes something"
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    for cell in code:
        for out in cell["outputs"]:
            assert out["output_type"] != "error"
            assert not (out["output_type"] == "stream" and out["name"] == "stderr"), "".join(out["text"])
    assert any("image/png" in out.get("data", {}) for c in code for out in c["outputs"]), "a lesson draws"
    text = "".join("".join(c["source"]) for c in nb["cells"])
    assert "assert" in text, "a lesson checks its numbers"


def test_the_readme_lists_every_lesson():
    readme = (NOTEBOOKS.parent / "README.md").read_text(encoding="utf-8")
    assert [p.stem for p in LESSONS if f"`{p.stem}`" not in readme] == []


#: A subscript written as plain text (α_c, P_π, ‖v‖_D) is drawn with a literal underscore; in a figure's
#: text it must be mathtext ($\alpha_c$).  Strings of labels, titles and texts in the lessons' code, with
#: their $...$ parts removed, may not contain one (matplotlib's "_nolegend_" is not text).
_FIGURE_TEXT = re.compile(r"(?:label|title|xlabel|ylabel|set_title|set_xlabel|set_ylabel|\.text)\b[^\n]*")
_STRING = re.compile(r"""r?f?r?(["'])(.*?)(?<!\\)\1""")


def _plain_subscripts(source):
    found = []
    for line in _FIGURE_TEXT.findall(source):
        for _, text in _STRING.findall(line):
            outside_math = re.sub(r"\$[^$]*\$|\{[^}]*\}", "", text).replace("_nolegend_", "")
            # a one-letter base (α_c, P_π, ²_D), not an identifier such as my_reinforce
            found += re.findall(r"(?<![A-Za-z])[^\W\d_]_[\w{]|²_\w", outside_math)
    return found


def test_plain_subscripts_are_found():
    assert _plain_subscripts('ax.set(ylabel="critical step size α_c")') == ["α_c"]
    assert _plain_subscripts('ax.set(ylabel=r"critical step size $\\alpha_c$", label="_nolegend_")') == []
    assert _plain_subscripts('ax.set_title("my_reinforce", label=f"{slope_J[0]}")') == []
    assert _plain_subscripts('ax.set(title="D(I − γP_π)", label="½‖Φw − v‖²_D")') == ["P_π", "²_D"]


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_figure_text_has_no_plain_subscripts(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert _plain_subscripts(code) == []
