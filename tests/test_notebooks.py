"""The lessons in notebooks/: each runs clean from a fresh kernel, and the committed copy is tidy.

Running a notebook executes its own assertions (published numbers, identities),
so a change in the library that moves a number fails here, not only in a
picture.  The committed copies carry their outputs so they can be read without
running; these tests check that those outputs come from one clean top-to-bottom
run with no error and no warning printed.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
_spec = importlib.util.spec_from_file_location("notebooks_run", NOTEBOOKS / "run.py")
assert _spec is not None and _spec.loader is not None
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)

LESSONS = run.lessons()
#: Committed size per lesson: figures are PNGs of ~50-150 kB each, so 2 MB is
#: room for about a dozen and still small enough to review a diff.
MAX_BYTES = 2_000_000


def test_there_are_lessons():
    assert len(LESSONS) >= 8


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs_clean(path):
    nb, _ = run.execute(path)
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    assert errors == []


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
