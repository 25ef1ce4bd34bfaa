"""The package's shape: one documented path per public name, imports that flow one way.

Read from the source with ``ast`` (nothing is imported to build the graph), so an
import inside a function counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
import importlib
import pathlib

import mdpgrad

ROOT = pathlib.Path(mdpgrad.__file__).parent

#: The public namespaces: each documents its names in ``__all__``.
NAMESPACES = ["mdpgrad"] + [f"mdpgrad.{n}" for n in sorted(mdpgrad._NAMESPACES)]

#: Layers, lowest first.  A module may import from its own layer or a lower one, never from a higher
#: one: model → chains and evaluation → gradients, fields, TD → sampling, estimators → report and CLI.
LAYERS: list[tuple[str, ...]] = [
    ("mdpgrad._errors", "mdpgrad._validation", "mdpgrad._display", "mdpgrad._progress"),
    ("mdpgrad._linalg", "mdpgrad._derivatives"),
    ("mdpgrad._model", "mdpgrad._policies"),
    ("mdpgrad._chains", "mdpgrad._evaluation", "mdpgrad._average", "mdpgrad.control", "mdpgrad.examples",
     "mdpgrad.io", "mdpgrad.strategies", "mdpgrad.symbolic"),
    ("mdpgrad.gradients", "mdpgrad.fields", "mdpgrad.td", "mdpgrad.surrogates", "mdpgrad._average_control"),
    ("mdpgrad.sampling", "mdpgrad.estimators", "mdpgrad.variance", "mdpgrad._adapters"),
    ("mdpgrad._report", "mdpgrad.cli", "mdpgrad.__main__", "mdpgrad", "mdpgrad.plot", "mdpgrad.torch",
     "mdpgrad.jax"),
]


def _modules() -> dict[str, pathlib.Path]:
    return {_module_name_at(p, ROOT.parent): p for p in sorted(ROOT.rglob("*.py"))}


def _is_package(path: pathlib.Path) -> bool:
    return path.name == "__init__.py"


def _resolve(module: str, path: pathlib.Path, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".") if _is_package(path) else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _imports(modules: dict[str, pathlib.Path]) -> list[tuple[str, str, str, int]]:
    """(importer, imported module, imported name or "", line) for every import inside the package."""
    found = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                target = _resolve(name, path, node.level, node.module)
                if not target.startswith("mdpgrad"):
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in modules:  # from . import submodule
                        found.append((name, sub, "", node.lineno))
                    else:
                        found.append((name, target, alias.name, node.lineno))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("mdpgrad"):
                        found.append((name, alias.name, "", node.lineno))
    return found


def _layer(module: str) -> int:
    best, depth = -1, -1
    for i, members in enumerate(LAYERS):
        for m in members:
            if (module == m or module.startswith(m + ".")) and len(m) > depth:
                best, depth = i, len(m)
    return best


def test_every_module_has_a_layer():
    assert [m for m in _modules() if _layer(m) < 0] == []


def test_imports_flow_one_way():
    wrong = [f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)}) at line {line}"
             for a, b, _, line in _imports(_modules()) if _layer(b) > _layer(a)]
    assert wrong == []


def test_no_private_name_is_imported_from_another_module():
    crossing = [f"{a}:{line} imports {n} from {b}" for a, b, n, line in _imports(_modules())
                if n.startswith("_") and b != a]
    assert crossing == []


def _find_cycle(modules: dict[str, pathlib.Path]) -> list[str] | None:
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for a, b, _, _ in _imports(modules):
        # importing a.b.c runs the package a.b first
        parts = b.split(".")
        for k in range(2, len(parts) + 1):
            dep = ".".join(parts[:k])
            if dep in modules and dep != a and not a.startswith(dep + "."):
                edges[a].add(dep)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for d in sorted(edges[m]):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (cycle := visit(d)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(modules):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


def test_import_graph_has_no_cycle():
    cycle = _find_cycle(_modules())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_hidden_cycle(tmp_path):
    """The check above can fail: an import inside a function that closes a loop is reported."""
    pkg = tmp_path / "mdpgrad"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import x\n")
    (pkg / "b.py").write_text("def f():\n    from .a import y\n")
    (pkg / "c.py").write_text("from . import a\n")
    modules = {_module_name_at(p, tmp_path): p for p in pkg.rglob("*.py")}
    cycle = _find_cycle(modules)
    assert cycle is not None and set(cycle) == {"mdpgrad.a", "mdpgrad.b"} and cycle[0] == cycle[-1]
    (pkg / "b.py").write_text("x = 1\n")
    assert _find_cycle(modules) is None


def _module_name_at(path: pathlib.Path, root: pathlib.Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _public_names() -> dict[str, list[str]]:
    where: dict[str, list[str]] = {}
    for ns in NAMESPACES:
        for name in importlib.import_module(ns).__all__:
            where.setdefault(name, []).append(ns)
    return where


def test_each_public_name_has_one_documented_path():
    """The symbolic mirror repeats numeric names on purpose (same names, exact objects)."""
    twice = {n: ns for n, ns in _public_names().items()
             if len([x for x in ns if x != "mdpgrad.symbolic"]) > 1}
    assert twice == {}


def test_every_public_name_exists_and_is_documented():
    missing, undocumented = [], []
    for ns in NAMESPACES:
        mod = importlib.import_module(ns)
        for name in mod.__all__:
            obj = getattr(mod, name, None)
            if obj is None:
                missing.append(f"{ns}.{name}")
            elif (callable(obj) or isinstance(obj, type)) and not (obj.__doc__ or "").strip():
                undocumented.append(f"{ns}.{name}")
    assert missing == [] and undocumented == []


def test_the_top_level_is_small_and_imports_no_optional_library():
    assert 25 <= len(mdpgrad.__all__) <= 40
    assert not any(n in mdpgrad._NAMESPACES for n in mdpgrad.__all__)  # import * stays light
