"""The built site in a real browser: headless Chromium (Debian's package) driven by Selenium.

The site is served on 127.0.0.1 by a local HTTP server that records every request.  On the front
page, an API page with a displayed formula, a lesson with figures and the search page it asserts
that MathJax typeset the maths (no ``$``, ``\\(`` or would-be ``|x|`` substitution left in the text,
no docutils error markup), that every image loaded, that no request failed and the console shows
no error, and that search finds ``policy_gradient``.  Screenshots go to ``docs/_build/screenshots``.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._docs_site import DOCS, Build, build_site, require

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = DOCS / "_build" / "screenshots"
WAIT_S = 60          # page load, MathJax and search on a loaded 2-core machine take a few seconds

PAGES = {
    "index": "index.html",
    "api_policy_gradient": "api/generated/mdpgrad.policy_gradient.html",
    "lesson_03": "lessons/03_value_polytope.html",
}

# Text outside code that means maths or markup was not rendered.  "|x|" counts only where docutils
# would have read a substitution reference: a bar after a space or an opening bracket, a non-space
# right inside each bar, and a space or punctuation after the closing one ("max|g|" is plain text).
UNRENDERED = re.compile(r"\$|\\\(|\\\)|\\\[|\\\]|(?:^|[\s(\[])\|[^\s|][^|\n]*[^\s|]\|(?=$|[\s).,;:])", re.M)

# innerText of the page's main content without code, preformatted text and typeset maths
VISIBLE_TEXT_JS = """
const root = (document.querySelector('main') || document.body).cloneNode(true);
root.querySelectorAll('pre, code, mjx-container, script, style, .highlight').forEach(e => e.remove());
return root.innerText;
"""


class _Server(http.server.ThreadingHTTPServer):
    failures: list[str]


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        if isinstance(code, int) or str(code).isdigit():
            if int(code) >= 400:
                self.server.failures.append(f"{int(code)} {self.path}")  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Build:
    built = build_site(tmp_path_factory)
    assert built.returncode == 0, built.log[-5000:]
    return built


@pytest.fixture(scope="module")
def server(site: Build) -> Iterator[_Server]:
    handler = functools.partial(_Handler, directory=str(site.html))
    httpd = _Server(("127.0.0.1", 0), handler)
    httpd.failures = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require("selenium")
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        require("a chromium binary at /usr/bin/chromium")   # skip locally, fail under CI
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="mdpgrad-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,1600"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _open(driver: Any, server: _Server, path: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"http://127.0.0.1:{server.server_address[1]}/{path}")
    WebDriverWait(driver, WAIT_S).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def _typeset(driver: Any) -> int:
    """Wait for MathJax to finish; the number of formulas it rendered."""
    driver.set_script_timeout(WAIT_S)
    driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const wait = () => (window.MathJax && MathJax.startup && MathJax.startup.promise)
            ? MathJax.startup.promise.then(() => done(true)) : setTimeout(wait, 50);
        wait();""")
    return int(driver.execute_script("return document.querySelectorAll('mjx-container').length"))


def _images(driver: Any) -> list[tuple[str, int]]:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT_S).until(
        lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)"))
    return [(src, int(w)) for src, w in driver.execute_script(
        "return Array.from(document.images).map(i => [i.currentSrc || i.src, i.naturalWidth])")]


def _console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _screenshot(driver: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path))
    assert path.stat().st_size > 0
    return path


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_renders(browser: Any, server: _Server, name: str) -> None:
    server.failures.clear()
    browser.get_log("browser")                      # drop what earlier pages logged
    _open(browser, server, PAGES[name])
    formulas = _typeset(browser)
    images = _images(browser)
    _screenshot(browser, name)

    assert formulas > 0, f"{name}: MathJax rendered no formula"
    text = browser.execute_script(VISIBLE_TEXT_JS)
    leftovers = sorted({m.group(0).strip() for m in UNRENDERED.finditer(text)})
    assert not leftovers, f"{name}: unrendered maths or markup in the text: {leftovers}"
    markup = browser.execute_script(
        "return document.querySelectorAll('.problematic, .system-message, mjx-merror').length")
    assert markup == 0, f"{name}: docutils or MathJax error markup on the page"
    assert all(width > 0 for _, width in images), f"{name}: images not loaded: {images}"
    if name.startswith("lesson"):
        figures = [src for src, _ in images if "_images/" in src]
        assert len(figures) >= 2, f"{name}: expected the lesson's figures, found {figures}"
        browser.execute_script(
            "document.querySelector('img[src*=\"_images/\"]').scrollIntoView({block: 'center'})")
        _screenshot(browser, f"{name}_figure")
    assert not server.failures, f"{name}: failed requests {server.failures}"
    assert not _console_errors(browser), f"{name}: console errors {_console_errors(browser)}"


def test_search_finds_policy_gradient(browser: Any, server: _Server) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    server.failures.clear()
    browser.get_log("browser")
    _open(browser, server, "search.html?q=policy_gradient")
    WebDriverWait(browser, WAIT_S).until(
        lambda d: d.execute_script("return document.querySelectorAll('#search-results li').length") > 0)
    results = browser.execute_script(
        "return Array.from(document.querySelectorAll('#search-results li a')).map(a => a.textContent)")
    _screenshot(browser, "search")
    assert any("policy_gradient" in r for r in results), results
    assert not server.failures, f"failed requests {server.failures}"
    assert not _console_errors(browser), _console_errors(browser)


def test_the_text_check_catches_unrendered_maths() -> None:
    for raw in ("the value $v$ here", r"a formula \(x\) left", "error |g − g_fd| / max(1, |g_fd|)."):
        assert UNRENDERED.search(raw), raw
    for fine in ("max|g| and π(a | s)", "P(s' | s, a) with ‖x‖∞"):
        assert not UNRENDERED.search(fine), fine
