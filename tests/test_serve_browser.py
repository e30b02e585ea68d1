"""derivcheck serve in a real browser: Debian's Chromium driven by Playwright's Python API.

The server runs in a thread on a free port (uvicorn). Playwright's own browser download is not
used (it needs network): the system's Chromium is launched by path. Where no browser can be
provisioned every test here is skipped, and the run says so loudly (a warning in the summary
and the skip reason); CI (.ci/run) installs Chromium so they run there.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import warnings

import pytest

pytest.importorskip("starlette")
pytest.importorskip("latex2mathml")

from derivations import registry  # noqa: E402
from derivations.mathml import latex_to_mathml  # noqa: E402
from derivations.slot_view import describe  # noqa: E402

CHROMIUM = os.environ.get("DERIVCHECK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 120_000          # a generous bound on waiting for a verdict: never a timing assertion
WRONG = ("ddim.objective", r"\frac{\gamma_t}{2\sigma_t^2 \bar\alpha_t}")
RIGHT = ("gan.square.f", r"\frac{-4t}{1+t}")
CHAIN = ("gan.square.f", [r"f(t) = -\inf_\alpha \left[t(1-\alpha)^2 + (1+\alpha)^2\right]",
                          r"= -\frac{4t}{1+t} + 1", r"= -\frac{4t}{1+t}"])


def _no_browser(why: str):
    message = (f"BROWSER TESTS NOT RUN: {why}. Install Debian's Chromium "
               "(apt-get install -y --no-install-recommends chromium) and playwright (pip) to run them.")
    warnings.warn(message, pytest.PytestWarning, stacklevel=2)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("the playwright package is not installed")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _no_browser(f"no Chromium executable at {CHROMIUM}")
    manager = sync_playwright().start()
    try:
        try:
            b = manager.chromium.launch(executable_path=CHROMIUM, args=ARGS)   # a fresh temporary profile
        except Exception as exc:  # noqa: BLE001 - any launch failure means: no browser here
            manager.stop()
            _no_browser(f"Chromium at {CHROMIUM} did not start ({type(exc).__name__}: {str(exc)[:300]})")
        yield b
        b.close()
    finally:
        try:
            manager.stop()
        except Exception:  # noqa: BLE001
            pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """``derivcheck serve`` in its own process: its sandboxed workers are forked there, so none
    of them inherits the pipes of Playwright's driver (a forked holder would keep the driver
    from seeing its end, and stopping Playwright would hang)."""
    import subprocess
    import sys
    import urllib.request

    port = _free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "derivations.cli", "serve", "--port", str(port), "--jobs", "1",
                             "--rate", "6000"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):                    # up to 2 minutes on a loaded machine
            if proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(url + "/api/stats", timeout=2):
                    break
            except OSError:
                time.sleep(0.1)
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"derivcheck serve exited ({proc.returncode}): {log.read().decode()[-2000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context()
    p = context.new_page()
    p.set_default_timeout(WAIT_MS)
    p.dialogs = []
    p.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))
    yield p
    context.close()


def expect(locator):
    from playwright.sync_api import expect as playwright_expect   # the page's CSP forbids eval:
    return playwright_expect(locator)                             # no wait_for_function here


def _open(page, server, slot):
    page.goto(f"{server}/slot/{slot}")
    page.wait_for_selector("#answer-input")


def _check_answer(page, latex):
    page.fill("#answer-input", latex)
    page.click("#answer-check")
    page.wait_for_selector("#answer-result .verdict")
    return page.inner_text("#answer-result")


def test_wrong_answer_shows_wrong_and_the_mistake(page, server):
    _open(page, server, WRONG[0])
    text = _check_answer(page, WRONG[1])
    assert page.inner_text("#answer-result .verdict-word") == "wrong"
    assert page.inner_text("#answer-result .mistake") == "a factor is missing (dropped-factor)"
    assert "numerically" in page.inner_text("#answer-result .evidence")
    rows = page.locator("#answer-result table.counterexample tr")
    assert rows.count() >= 4                     # symbols' values and both sides
    assert "your answer" in text and "the right value" in text


def test_right_answer_shows_correct(page, server):
    _open(page, server, RIGHT[0])
    _check_answer(page, RIGHT[1])
    assert page.inner_text("#answer-result .verdict-word") == "correct"
    assert page.locator("#answer-result .read-as math").count() == 1


def test_chain_highlights_the_first_invalid_step(page, server):
    _open(page, server, CHAIN[0])
    page.fill("#chain-input", "\n".join(CHAIN[1]))
    page.click("#chain-check")
    page.wait_for_selector("#chain-result .verdict")
    assert page.inner_text("#chain-result .verdict-word") == "wrong"
    marked = page.locator("#chain-result li.first-invalid")
    assert marked.count() == 1
    assert marked.get_attribute("data-step") == "2"
    assert marked.get_attribute("aria-current") == "step"
    assert "first invalid step" in marked.inner_text()
    colour = marked.evaluate("e => getComputedStyle(e).backgroundColor")
    plain = page.locator("#chain-result li[data-step='1']").evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour != plain
    assert page.locator("#chain-result li[data-step='1'] math").count() == 1


def test_garbage_shows_the_message_and_the_next_check_works(page, server):
    _open(page, server, RIGHT[0])
    _check_answer(page, r"\frac{-4t}{1+")
    assert page.inner_text("#answer-result .verdict-word") == "not an answer"
    assert "bracket" in page.inner_text("#answer-message")
    page.fill("#answer-input", RIGHT[1])
    page.click("#answer-check")
    expect(page.locator("#answer-result .verdict-word")).to_have_text("correct", timeout=WAIT_MS)
    expect(page.locator("#answer-message")).to_have_text("", timeout=WAIT_MS)


def test_preview_renders_math(page, server):
    _open(page, server, RIGHT[0])
    page.type("#answer-input", r"\frac{-4t}{1+t}")
    page.wait_for_selector("#answer-preview .typed math mfrac")
    page.wait_for_selector("#answer-preview .read math")
    box = page.locator("#answer-preview .typed math").bounding_box()
    assert box and box["width"] > 0 and box["height"] > 0
    frac = page.locator("#answer-preview .typed math mfrac").bounding_box()
    assert frac and frac["height"] > 0
    page.fill("#answer-input", r"\frac{-4t}{1+")
    expect(page.locator("#answer-message")).to_contain_text("bracket", timeout=WAIT_MS)


PAYLOADS = [
    r"\text{<script>window.__pwned=1;alert(1)</script>}",
    r"\text{<img src=x onerror=\"window.__pwned=1;alert(2)\">}",
    r"\href{javascript:alert(3)}{x} + \text{</math><svg onload=alert(4)>}",
    "<iframe src=\"javascript:alert(5)\"></iframe>",
]


def test_injection_does_not_execute(page, server):
    _open(page, server, RIGHT[0])
    before = page.evaluate("document.querySelectorAll('script, img, svg, iframe').length")
    for latex in PAYLOADS:                       # the DOM is compared after every echo
        page.fill("#answer-input", "")
        page.type("#answer-input", latex)
        page.click("#answer-check")
        page.wait_for_selector("#answer-result .verdict")
        page.fill("#chain-input", latex + "\n= 0")
        page.click("#chain-check")
        page.wait_for_selector("#chain-result .verdict")
        page.wait_for_timeout(400)               # let a preview that might carry markup land
        assert page.evaluate("document.querySelectorAll('script, img, svg, iframe').length") == before, latex
        assert page.locator("[href^='javascript'], [src^='javascript']").count() == 0
        assert page.dialogs == []
        assert page.evaluate("window.__pwned") is None
    page.goto(f"{server}/slot/<script>alert(6)</script>")
    assert "No such result" in page.inner_text("h1")
    assert "<script>alert(6)</script>" in page.inner_text(".missing-slot")     # shown as text
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    assert page.dialogs == []


def test_reference_never_appears_in_self_check_mode(page, server):
    refs = {s.id: describe(s)["reference_latex"] for s in registry.slots().values()}
    refs = {k: v for k, v in refs.items() if v and len(v) >= 12}
    page.goto(server + "/")
    html = page.content()
    assert not [s for s, r in refs.items() if r in html or latex_to_mathml(r) in html]
    assert page.locator(".reference").count() == 0
    for slot, latex in (WRONG, ("vae.gauss_kl_1d", r"\log\frac{\sigma_z}{\sigma}")):
        _open(page, server, slot)
        _check_answer(page, latex)
        html = page.content()
        assert refs[slot] not in html and latex_to_mathml(refs[slot]) not in html
        assert page.locator(".reference").count() == 0


def test_keyboard_only(page, server):
    _open(page, server, RIGHT[0])
    assert page.get_by_label("Answer in LaTeX").get_attribute("id") == "answer-input"
    assert page.get_by_label("One step per line").get_attribute("id") == "chain-input"
    for _ in range(40):                          # Tab from the top of the page to the input
        if page.evaluate("document.activeElement.id") == "answer-input":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "answer-input"
    page.keyboard.type(RIGHT[1])
    page.keyboard.press("Enter")
    page.wait_for_selector("#answer-result .verdict")
    assert page.inner_text("#answer-result .verdict-word") == "correct"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "answer-check"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"                     # focus is visible
    for _ in range(10):
        if page.evaluate("document.activeElement.id") == "chain-input":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "chain-input"
    for i, line in enumerate(CHAIN[1]):
        page.keyboard.type(line)
        if i < len(CHAIN[1]) - 1:
            page.keyboard.press("Enter")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#chain-result li.first-invalid")
    assert page.locator("#chain-result li.first-invalid").get_attribute("data-step") == "2"
