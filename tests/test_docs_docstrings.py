"""Docstrings of the public API: numpydoc validation and self-contained examples.

The public callables are discovered from ``__all__`` of the top-level package and of every
namespace it lists in ``mdpgrad._NAMESPACES`` (plus ``mdpgrad.cli``, and the framework adapters
when their extras are installed), so a name added to a namespace is checked without editing
this file.

* numpydoc validation (``numpydoc.validate``) with the checks in ``CHECKS``;
* every docstring example runs with *empty* globals: it imports what it uses (no ``np``,
  ``MDP`` or ``sympy`` borrowed from the module it is written in) and names nothing private.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import importlib.util
import inspect
from collections.abc import Iterator
from typing import Any

import pytest

import mdpgrad
from tests._docs_site import require

# The numpydoc checks every public callable passes (numpydoc.validate.ERROR_MSGS lists them all):
# a docstring with a one-line summary ending in a period (GL08, SS01, SS03, SS04, SS06), well-formed
# sections in the standard order (GL02, GL03, GL05-GL07, GL10), Parameters that name only real
# arguments, in signature order (PR02, PR03, PR05, PR06, PR10; PR01 for functions, below), and
# Returns / Yields where the function returns or yields (RT02, YD01).  Left out on purpose: SA01
# (See Also), ES01 (an extended summary), EX01 (examples on every name), PR07-PR09 and RT03/RT04
# (prose style of each description), SS02 and SS05 (a summary may start with a symbol such as "η",
# a code name or a noun phrase: "The table π(a|s) = 1/A").
CHECKS = frozenset({
    "GL02", "GL03", "GL05", "GL06", "GL07", "GL08", "GL10",
    "SS01", "SS03", "SS04", "SS06",
    "PR02", "PR03", "PR05", "PR06", "PR10",
    "RT02", "YD01",
})
# Every parameter of a function documented (PR01).  Not for classes: the result types are frozen
# dataclasses whose fields are documented under Attributes, not as constructor parameters.
FUNCTION_CHECKS = CHECKS | {"PR01"}

FRAMEWORKS = {"torch": "torch", "jax": "jax"}


def namespaces() -> list[str]:
    names = ["mdpgrad", *sorted(f"mdpgrad.{n}" for n in mdpgrad._NAMESPACES), "mdpgrad.cli"]
    for sub, dist in FRAMEWORKS.items():
        if importlib.util.find_spec(dist) is not None:
            names.append(f"mdpgrad.{sub}")
    return names


def public_callables() -> Iterator[tuple[str, Any]]:
    """(qualified public name, object) for each function or class in an ``__all__``, once per object."""
    seen: set[int] = set()
    for ns in namespaces():
        module = importlib.import_module(ns)
        for name in module.__all__:
            obj = getattr(module, name)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and id(obj) not in seen:
                seen.add(id(obj))
                yield f"{ns}.{name}", obj


PUBLIC = list(public_callables())


def test_discovery_finds_the_public_api() -> None:
    names = {name for name, _ in PUBLIC}
    # one name from each layer: a miss here means the discovery, not a docstring, is broken
    for name in ("mdpgrad.policy_gradient", "mdpgrad.MDP", "mdpgrad.td.td_jacobian",
                 "mdpgrad.symbolic.prove_recursion_form", "mdpgrad.plot.grid_values", "mdpgrad.cli.main"):
        assert name in names
    assert len(PUBLIC) >= 190


@pytest.mark.parametrize("name", [name for name, _ in PUBLIC])
def test_numpydoc_validation(name: str) -> None:
    require("numpydoc")
    from numpydoc.validate import validate

    checks = CHECKS if inspect.isclass(dict(PUBLIC)[name]) else FUNCTION_CHECKS
    errors = [f"{code}: {message}" for code, message in validate(name)["errors"] if code in checks]
    assert not errors, f"{name}:\n  " + "\n  ".join(errors)


def _examples(obj: Any, name: str) -> list[doctest.DocTest]:
    return [t for t in doctest.DocTestFinder(recurse=False).find(obj, name, globs={}) if t.examples]


def _checker_and_flags() -> tuple[doctest.OutputChecker, int]:
    """The doctest checker and option flags of the test suite (pytest's NUMBER included)."""
    from _pytest.doctest import _get_checker, get_optionflags

    class _Config:  # get_optionflags reads only the ini value
        @staticmethod
        def getini(_: str) -> list[str]:
            return ["NORMALIZE_WHITESPACE", "NUMBER"]

    return _get_checker(), get_optionflags(_Config())  # type: ignore[arg-type]


@pytest.mark.parametrize("name", [name for name, obj in PUBLIC if obj.__doc__ and ">>>" in obj.__doc__])
def test_examples_run_with_their_own_imports(name: str) -> None:
    obj = dict(PUBLIC)[name]
    checker, flags = _checker_and_flags()
    for test in _examples(obj, name):
        test.globs = {}                       # nothing from the defining module
        runner = doctest.DocTestRunner(checker=checker, optionflags=flags)
        messages: list[str] = []
        runner.run(test, out=messages.append, clear_globs=True)
        assert runner.failures == 0, "".join(messages)


def _names_used(node: ast.AST) -> list[str]:
    """The names (dotted for imports) one AST node uses."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.ImportFrom):
        return [node.module or "", *(a.name for a in node.names)]
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    return []


def private_names(obj: Any, name: str) -> list[str]:
    """The private names (one leading underscore) the docstring examples of ``obj`` use."""
    private = []
    for test in _examples(obj, name):
        for example in test.examples:
            for node in ast.walk(ast.parse(example.source)):
                for word in _names_used(node):
                    # a private name starts with one underscore; "_" alone is the throwaway variable
                    if any(part.startswith("_") and not part.startswith("__") and part != "_"
                           for part in word.split(".")):
                        private.append(f"{word!r} in {example.source.strip()}")
    return private


@pytest.mark.parametrize("name", [name for name, obj in PUBLIC if obj.__doc__ and ">>>" in obj.__doc__])
def test_examples_name_nothing_private(name: str) -> None:
    private = private_names(dict(PUBLIC)[name], name)
    assert not private, "\n".join(private)


def test_the_private_name_check_catches_one() -> None:
    def leaky() -> None:
        """A function.

        >>> from mdpgrad._model import MDP
        >>> _ = MDP
        """

    assert private_names(leaky, "leaky") == ["'mdpgrad._model' in from mdpgrad._model import MDP"]


def test_the_checker_catches_a_borrowed_name() -> None:
    """The empty-globals run fails an example that relies on a module's own imports."""

    def borrowed() -> None:
        """A function.

        >>> np.zeros(1).tolist()
        [0.0]
        """

    checker, flags = _checker_and_flags()
    (test,) = _examples(borrowed, "borrowed")
    test.globs = {}
    runner = doctest.DocTestRunner(checker=checker, optionflags=flags)
    runner.run(test, out=lambda _: None)
    assert runner.failures == 1
