"""The documentation site: a clean nitpicky build, internal links, and what it must contain.

The site is built once (tests/_docs_site.py) with ``-W --keep-going -n``: any docutils error, any
unresolved cross-reference and any warning fails the build.
"""

from __future__ import annotations

import ast
import html.parser
import importlib
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

import mdpgrad
from tests._docs_site import DOCS, ROOT, Build, build_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Build:
    return build_site(tmp_path_factory)


def test_build_is_clean(site: Build) -> None:
    assert site.returncode == 0, site.log[-20000:]
    assert "WARNING" not in site.log and "ERROR" not in site.log, site.log[-20000:]


class _Links(html.parser.HTMLParser):
    """The local targets (href/src) and the ids of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if a.get("name") and tag == "a":
            self.ids.add(a["name"] or "")
        for key in ("href", "src"):
            value = a.get(key)
            if value and tag in ("a", "img", "link", "script", "iframe", "source"):
                self.targets.append(value)


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def broken_links(html_root: Path) -> list[str]:
    """Every local link of every page whose file, or whose #anchor in that file, does not exist."""
    # the site's pages; _static/ holds the theme's own template fragments, not pages
    pages = {p.resolve(): _parse(p) for p in html_root.rglob("*.html")
             if p.relative_to(html_root).parts[0] not in ("_static", "_sources")}
    broken = []
    for page, links in pages.items():
        for target in links.targets:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or target.startswith(("mailto:", "javascript:", "data:")):
                continue
            path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if path.is_dir():
                path = path / "index.html"
            if not path.is_file():
                broken.append(f"{page.relative_to(html_root)}: {target} (no such file)")
                continue
            if parts.fragment and path.suffix == ".html":
                ids = pages[path].ids if path in pages else _parse(path).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(html_root)}: {target} (no such anchor)")
    return broken


def test_internal_links_resolve(site: Build) -> None:
    assert site.returncode == 0, site.log[-5000:]
    broken = broken_links(site.html)
    assert not broken, "\n".join(broken[:50])


def test_the_link_check_finds_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('<a href="b.html#there">b</a><a href="c.html">c</a><p id="x"></p>')
    (tmp_path / "b.html").write_text('<p id="here"></p><a href="a.html#x">a</a>')
    assert broken_links(tmp_path) == ["a.html: b.html#there (no such anchor)",
                                      "a.html: c.html (no such file)"]


def test_pages_of_the_site(site: Build) -> None:
    assert site.returncode == 0, site.log[-5000:]
    for page in ("index", "getting_started", "teachers", "testing_your_estimator", "lessons", "api/index",
                 *(f"guide/{g}" for g in ("model", "gradients", "td", "symbolic", "estimators", "plots",
                                          "files", "cli"))):
        assert (site.html / f"{page}.html").is_file(), page


def test_every_lesson_is_rendered_with_its_figures(site: Build) -> None:
    assert site.returncode == 0, site.log[-5000:]
    lessons = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert len(lessons) >= 10
    for name in lessons:
        page = site.html / "lessons" / f"{name}.html"
        assert page.is_file(), name
        images = [t for t in _parse(page).targets if t.endswith((".png", ".svg", ".jpg"))
                  and "_images" in t]
        assert images, f"{name}: no figure rendered"


def _autosummary_names(rst: Path) -> dict[str, set[str]]:
    """{module: names} listed under the autosummary directives of one API page."""
    listed: dict[str, set[str]] = {}
    module = ""
    in_list = False
    for line in rst.read_text().splitlines():
        if line.startswith(".. currentmodule::"):
            module = line.split("::")[1].strip()
        elif line.startswith(".. autosummary::"):
            in_list = True
        elif in_list and line.startswith("   ") and not line.strip().startswith(":"):
            listed.setdefault(module, set()).add(line.strip())
        elif in_list and line and not line.startswith(" "):
            in_list = False
    return listed


def _public_names(module: str) -> set[str]:
    try:
        return set(importlib.import_module(module).__all__)
    except ImportError:     # a framework adapter without its extra: read __all__ from the source
        path = ROOT / (module.replace(".", "/") + ("/__init__.py" if module.count(".") == 1 else ".py"))
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__":
                return set(ast.literal_eval(node.value))
        raise


def test_api_reference_lists_every_public_name() -> None:
    """Each namespace's ``__all__`` equals the names on its API page: a new name needs a line there."""
    listed: dict[str, set[str]] = {}
    for rst in (DOCS / "api").glob("*.rst"):
        for module, names in _autosummary_names(rst).items():
            listed.setdefault(module, set()).update(names)
    modules = ["mdpgrad", *(f"mdpgrad.{n}" for n in sorted(mdpgrad._NAMESPACES)), "mdpgrad.cli",
               "mdpgrad.torch", "mdpgrad.jax", "mdpgrad.torch.strategies", "mdpgrad.jax.strategies"]
    problems = []
    for module in modules:
        public, shown = _public_names(module), listed.get(module, set())
        if public - shown:
            problems.append(f"{module}: not on its API page: {sorted(public - shown)}")
        if shown - public:
            problems.append(f"{module}: on its API page but not in __all__: {sorted(shown - public)}")
    assert not problems, "\n".join(problems)


def test_every_namespace_has_an_api_page() -> None:
    toctree = (DOCS / "api" / "index.rst").read_text()
    for name in sorted(mdpgrad._NAMESPACES) + ["cli", "torch", "jax"]:
        assert (DOCS / "api" / f"{name}.rst").is_file(), name
        assert re.search(rf"^   {name}$", toctree, re.M), name


def test_readme_links_to_the_site_with_relative_paths() -> None:
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    local = [link for link in links if not urlsplit(link).scheme]
    assert any(link.startswith("docs/") for link in local)
    for link in local:
        assert (ROOT / unquote(urlsplit(link).path)).exists(), link
    for page in ("docs/getting_started.md", "docs/lessons.md", "docs/testing_your_estimator.md",
                 "docs/teachers.md", "docs/api/index.rst"):
        assert page in local, page


@pytest.mark.parametrize("page", sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")
                                        if "_build" not in p.parts and "lessons" not in p.parts))
def test_page_examples_run(page: str) -> None:
    """The ``>>>`` examples of each page run as written, from a fresh namespace, page by page."""
    import doctest

    from _pytest.doctest import _get_checker

    text = (DOCS / page).read_text()
    test = doctest.DocTestParser().get_doctest(text, {"__name__": "__main__"}, page, str(DOCS / page), 0)
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    runner = doctest.DocTestRunner(checker=_get_checker(), optionflags=flags)
    messages: list[str] = []
    runner.run(test, out=messages.append)
    assert runner.failures == 0, "".join(messages)
