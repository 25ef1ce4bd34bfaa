"""Build the documentation site once per test run, for tests/test_docs_*.py.

The tools come with the ``docs`` extra.  Where they are missing the docs tests are skipped,
except under CI (``CI`` set), where ``.ci/run`` installs them and a missing tool is a failure.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# the modules the build imports: sphinx and its extensions, and MathJax (django-static-mathjax)
TOOLS = ("sphinx", "numpydoc", "pydata_sphinx_theme", "myst_nb", "mathjax")
BUILD_TIMEOUT_S = 900   # a cold build takes about a minute on a loaded 2-core machine


def require(*modules: str) -> None:
    """Skip (locally) or fail (under CI) when one of ``modules`` is not importable."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    message = f"the documentation tools are not installed ({', '.join(missing)}): pip install '.[docs]'"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI installs them in .ci/run)")
    pytest.skip(message)


@dataclass(frozen=True)
class Build:
    returncode: int
    log: str
    html: Path


@functools.lru_cache(maxsize=1)
def _build(out: str) -> Build:
    html = Path(out)
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-E", "-b", "html",
               str(DOCS), str(html), "-d", str(html.parent / "doctrees")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    return Build(done.returncode, done.stdout + done.stderr, html)


def build_site(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The site built with ``-W --keep-going -n`` (nitpicky) into a temporary folder, once."""
    require(*TOOLS)
    return _build(str(tmp_path_factory.getbasetemp() / "docs-site" / "html"))
