"""The lessons, each executed once per test session and shared by the tests that read a run.

``tests/test_notebooks.py`` compares a fresh run's text with the committed copy and
``tests/test_plot_style.py`` audits every figure the run shows; both read the same execution, made
with the figure audit installed in the kernel (it draws nothing and prints nothing, so the text is
the lesson's own).  A lesson takes 5-30 s, so one run instead of two saves about 100 s per suite.
"""

from __future__ import annotations

import functools
import importlib.util
import pathlib
from typing import Any

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
_spec = importlib.util.spec_from_file_location("notebooks_run", NOTEBOOKS / "run.py")
assert _spec is not None and _spec.loader is not None
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)

LESSONS = run.lessons()
#: Lessons that need an optional extra; without it installed they are not run (the README's test
#: command passes without the extras, and CI installs them before it).
EXTRAS = {"10_testing_your_pytorch_reinforce": "torch"}


@functools.cache
def executed(path: pathlib.Path) -> tuple[Any, tuple[dict, ...]]:
    """One fresh-kernel run of the lesson: (the executed notebook, one audit record per figure).

    The notebook is returned as executed; callers must not modify it.
    """
    figures: list[dict] = []
    nb, _ = run.execute(path, figures=figures)
    return nb, tuple(figures)
