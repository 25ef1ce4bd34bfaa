"""The optional extras torch and jax: the core never imports them, and a missing one says how to install it.

Runs without either framework installed (the subprocess hides the real one when it is there).
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

import mdpgrad as mg


def _core_imports(package: str) -> list[str]:
    root = pathlib.Path(mg.__file__).parent
    found = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).parts
        if rel[0] in ("torch", "jax"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            found += [f"{path.name}:{node.lineno}" for n in names if n.split(".")[0] == package]
    return found


@pytest.mark.parametrize("package", ["torch", "jax"])
def test_the_core_never_imports_the_frameworks(package):
    assert _core_imports(package) == []


@pytest.mark.parametrize("package", ["torch", "jax"])
def test_a_missing_extra_is_an_import_error_naming_it(package):
    code = (f"import sys; sys.modules[{package!r}] = None\n"
            f"try:\n    import mdpgrad.{package}\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert f"pip install 'mdpgrad[{package}]'" in out.stdout
