"""The package as distributed: one version, written once; the MIT licence shipped in the wheel.

The wheel is built by pip from a copy of the sources in an isolated build environment, as
``pip install .`` builds it (so it also checks that ``setuptools>=77`` can be had and reads the
SPDX licence string).
"""

from __future__ import annotations

import ast
import contextlib
import io
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

import mdpgrad
from mdpgrad.cli import main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest itself needs tomli before 3.11
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _literal_versions(path: pathlib.Path) -> list[str]:
    """The string literals assigned to ``__version__`` in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__version__"
                                                for t in node.targets):
            found.append(ast.literal_eval(node.value))
    return found


def test_the_version_is_written_once_in_the_package():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "mdpgrad.__version__"}
    writers = {str(p.relative_to(ROOT)): v for p in sorted((ROOT / "mdpgrad").rglob("*.py"))
               if (v := _literal_versions(p))}
    assert writers == {"mdpgrad/__init__.py": [mdpgrad.__version__]}
    assert re.fullmatch(r"\d+\.\d+\.\d+", mdpgrad.__version__)


def test_citation_repeats_the_package_version():
    cff = (ROOT / "CITATION.cff").read_text()
    assert re.findall(r"^version: (\S+)$", cff, flags=re.M) == [mdpgrad.__version__]


def test_changelog_has_a_section_for_the_version():
    assert f"## [{mdpgrad.__version__}]" in (ROOT / "CHANGELOG.md").read_text()


def test_cli_prints_the_version():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["--version"])
    assert status == 0
    assert out.getvalue() == f"mdpgrad {mdpgrad.__version__}\n"


def test_build_requires_the_setuptools_that_reads_spdx_licences():
    # setuptools 70 rejects `license = "MIT"` (PEP 639 strings are read from 77 on).
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["build-system"]["requires"] == ["setuptools>=77"]


def test_slow_marker_is_registered():
    markers = PYPROJECT["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith("slow:") for m in markers)
    assert "--strict-markers" in PYPROJECT["tool"]["pytest"]["ini_options"]["addopts"]


@pytest.mark.slow
def test_the_wheel_carries_the_licence_and_the_version(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "dist",
                                                             "__pycache__", ".*_cache", "notebooks"))
    out = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
                   check=True, capture_output=True)
    (wheel,) = out.glob("mdpgrad-*.whl")
    assert wheel.name.startswith(f"mdpgrad-{mdpgrad.__version__}-")
    with zipfile.ZipFile(wheel) as zf:
        info = f"mdpgrad-{mdpgrad.__version__}.dist-info"
        metadata = zf.read(f"{info}/METADATA").decode()
        licence = zf.read(f"{info}/licenses/LICENSE").decode()
    assert f"\nVersion: {mdpgrad.__version__}\n" in metadata
    assert "\nLicense-Expression: MIT\n" in metadata and "\nLicense-File: LICENSE\n" in metadata
    assert licence == (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License")
