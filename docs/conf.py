"""Sphinx configuration of mdpgrad's documentation site.

Build it from the repository root (the ``docs`` extra installs the tools)::

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html

The lessons (``notebooks/*.ipynb``, reached through the ``docs/lessons`` link) are rendered from
their committed outputs and never executed.  MathJax is served with the site from the
``django-static-mathjax`` package, so formulas render without a network.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mdpgrad  # noqa: E402

project = "mdpgrad"
author = "the mdpgrad authors"
copyright = "the mdpgrad authors"  # noqa: A001
version = release = mdpgrad.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
]

exclude_patterns = ["_build", "lessons/run.py", "**.ipynb_checkpoints", "api/generated/*.md"]
templates_path = ["_templates"]
root_doc = "index"
nitpicky = True

# --- API pages: autosummary stubs from the lists in docs/api/*.rst, numpydoc sections --------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"            # the numpydoc type lines carry the shapes; signatures stay short
# The framework adapters import torch / jax at import time; the reference is built without them.
autodoc_mock_imports = [name for name in ("torch", "jax", "jaxlib") if importlib.util.find_spec(name) is None]
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()   # tests/test_docs_docstrings.py validates instead

# --- lessons: committed outputs, never executed ----------------------------------------------------
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type"]

# --- maths: MathJax 3 shipped with the site --------------------------------------------------------
mathjax_path = "mathjax/tex-chtml.js"
mathjax3_config: dict[str, Any] = {"options": {"enableMenu": False}}


def _mathjax_root() -> Path:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax is missing: pip install 'mdpgrad[docs]' (django-static-mathjax)")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"


def _copy_mathjax(app: Any, exception: Exception | None) -> None:
    """Copy the parts of MathJax the pages load (the TeX input, the CHTML output and its fonts)."""
    if exception is not None or app.builder.format != "html":
        return
    source, target = _mathjax_root(), Path(app.outdir) / "_static" / "mathjax"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "tex-chtml.js", target / "tex-chtml.js")
    for part in ("input", "output", "ui", "a11y"):
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)


# --- cross-references to the libraries mdpgrad builds on -----------------------------------------
_INVENTORIES = {
    "python": "https://docs.python.org/3",
    "numpy": "https://numpy.org/doc/stable",
    "scipy": "https://docs.scipy.org/doc/scipy",
    "sympy": "https://docs.sympy.org/latest",
    "matplotlib": "https://matplotlib.org/stable",
    "hypothesis": "https://hypothesis.readthedocs.io/en/latest",
}


def _online() -> bool:
    """Whether the inventories can be fetched (``MDPGRAD_DOCS_OFFLINE=1`` forces offline)."""
    if os.environ.get("MDPGRAD_DOCS_OFFLINE") == "1":
        return False
    try:
        socket.getaddrinfo("docs.python.org", 443)
    except OSError:
        return False
    return True


# Offline (a sandbox, a plane) the mapping is dropped rather than failing the -W build: the pages
# then never depend on an external target (no explicit role names one), and links to the
# libraries are added only where the inventories are reachable.
intersphinx_mapping = {name: (url, None) for name, url in _INVENTORIES.items()} if _online() else {}
intersphinx_timeout = 10

# --- theme ---------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "mdpgrad"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"   # a page without one makes the browser ask for /favicon.ico
# light unless the reader picks another; without a default the theme logs an error on a first visit
html_context = {"default_mode": "light"}
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": [],
}


def setup(app: Any) -> None:
    app.connect("build-finished", _copy_mathjax)
