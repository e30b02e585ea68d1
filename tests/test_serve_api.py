"""derivcheck serve's JSON API and pages through Starlette's TestClient (no browser, no sockets).

The pages are checked for escaping and for the reference never being shown in self-check mode;
the API for ``derivcheck answer --json``'s shape, chains, limits, the rate limit and a check that
runs out of time (``unchecked``, not a hung request)."""
from __future__ import annotations

import json
import threading
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
pytest.importorskip("latex2mathml")

from click.testing import CliRunner  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from derivations import registry  # noqa: E402
from derivations.mathml import latex_to_mathml  # noqa: E402
from derivations.serve import checker as checker_module  # noqa: E402
from derivations.serve.app import Settings, create_app  # noqa: E402
from derivations.serve.checker import Checker  # noqa: E402
from derivations.serve.prompts import slot_rows  # noqa: E402
from derivations.slot_view import describe  # noqa: E402

WRONG = ("ddim.objective", r"\frac{\gamma_t}{2\sigma_t^2 \bar\alpha_t}")
RIGHT = ("gan.square.f", r"\frac{-4t}{1+t}")
CHAIN = ("gan.square.f", [r"f(t) = -\inf_\alpha \left[t(1-\alpha)^2 + (1+\alpha)^2\right]",
                          r"= -\frac{4t}{1+t} + 1", r"= -\frac{4t}{1+t}"])


@pytest.fixture(scope="module")
def shared_checker():
    c = Checker(jobs=1)
    yield c
    c.close()


@pytest.fixture(scope="module")
def client(shared_checker):
    with TestClient(create_app(Settings(), checker=shared_checker)) as c:
        yield c


@pytest.fixture(scope="module")
def revealing(shared_checker):
    with TestClient(create_app(Settings(reveal_reference=True), checker=shared_checker)) as c:
        yield c


def _references():
    """Every slot's reference in LaTeX that is long enough not to occur by chance in a prompt."""
    out = {}
    for s in registry.slots().values():
        ref = describe(s)["reference_latex"]
        if ref and len(ref) >= 12:
            out[s.id] = ref
    return out


def test_answer_has_the_cli_json_shape(client):
    slot, latex = WRONG
    got = client.post("/api/answer", json={"slot": slot, "latex": latex})
    assert got.status_code == 200
    d = got.json()
    from derivations.cli import main
    cli = CliRunner().invoke(main, ["answer", slot, latex, "--json"])
    assert cli.exit_code == 0, cli.output
    expected = json.loads(cli.output)
    assert set(d) == set(expected)
    for key in expected:
        if key != "seconds":
            assert d[key] == expected[key], key
    assert d["verdict"] == "wrong" and d["mistake"] == "dropped-factor"
    assert "render" not in d


def test_render_adds_mathml_and_plain_words(client):
    d = client.post("/api/answer?render=1", json={"slot": WRONG[0], "latex": WRONG[1]}).json()
    r = d["render"]
    assert r["read_as"].startswith("<math") and "mfrac" in r["read_as"]
    assert "numerically" in r["evidence_words"] and r["mistake_words"] == "a factor is missing"
    assert {p["name"] for p in r["point"]} >= {r"\bar\alpha_t", r"\sigma_t"}
    assert [s["side"] for s in r["sides"]] == ["answer", "reference"]


def test_right_answer(client):
    d = client.post("/api/answer", json={"slot": RIGHT[0], "latex": RIGHT[1]}).json()
    assert d["verdict"] == "correct" and d["evidence"]["kind"] == "symbolic"


def test_chain_names_the_first_invalid_step(client):
    d = client.post("/api/chain?render=1", json={"slot": CHAIN[0], "steps": CHAIN[1]}).json()
    assert d["verdict"] == "wrong" and d["mistake"] == "invalid-step"
    assert d["chain"]["first_invalid_step"] == 2
    assert [l["status"] for l in d["render"]["links"]][:2] == ["proved", "refuted"]


def test_unreadable_answer_gives_the_readers_message(client):
    d = client.post("/api/answer", json={"slot": RIGHT[0], "latex": r"\frac{-4t}{1+"}).json()
    assert d["verdict"] == "invalid" and "bracket" in d["message"]
    p = client.post("/api/preview", json={"slot": RIGHT[0], "latex": r"\frac{-4t}{1+"}).json()
    assert p["mathml"].startswith("<math") and p["read_as"] is None and "bracket" in p["error"]
    ok = client.post("/api/preview", json={"slot": RIGHT[0], "latex": RIGHT[1]}).json()
    assert ok["error"] is None and "mfrac" in ok["read_as"]


def test_slots_hide_references_unless_revealed(client, revealing):
    hidden = client.get("/api/slots").json()
    shown = revealing.get("/api/slots").json()
    assert len(hidden) == len(shown) == len(registry.slots())
    assert all("reference_latex" not in row and "statement" not in row for row in hidden)
    refs = _references()
    assert {row["id"]: row["reference_latex"] for row in shown if row["id"] in refs} == refs
    text = json.dumps(hidden)
    assert not [slot for slot, ref in refs.items() if ref in text]


@pytest.mark.parametrize("path", ["/", "/slot/ddim.objective", "/slot/vae.gauss_kl_1d", "/slot/lemma.posterior_mean"])
def test_pages_never_show_the_reference(client, revealing, path):
    refs = _references()
    page = client.get(path).text
    leaked = [s for s, ref in refs.items() if ref in page or latex_to_mathml(ref) in page]
    assert not leaked
    if path != "/":
        slot = path.rsplit("/", 1)[1]
        assert latex_to_mathml(refs[slot]) in revealing.get(path).text     # the check can fail


def test_prompts_do_not_state_the_result():
    rows = {r["id"]: r["prompt"] for r in slot_rows(False)}
    assert rows["lemma.marginal_mean"] == "mean of p(y)"
    assert rows["vae.gauss_kl_1d"] == "KL(N(mu, sigma^2) || N(mu_z, sigma_z^2))"
    assert rows["ddim.deterministic"] == "x_{t-1} when sigma_t = 0"
    assert rows["gan.square.f"].endswith("for the square loss (1 - alpha)^2")


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "javascript:alert(1)", "\"><img src=x onerror=alert(1)>"])
def test_hostile_slot_names_are_escaped(client, name):
    page = client.get("/slot/" + name)
    assert page.status_code == 404
    assert "<script>alert" not in page.text and "<img" not in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    r = client.post("/api/answer", json={"slot": name, "latex": "x"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")


def test_hostile_answers_come_back_as_data(client):
    latex = r"\text{<script>alert(1)</script>} + \href{javascript:alert(1)}{x}"
    d = client.post("/api/answer?render=1", json={"slot": RIGHT[0], "latex": latex}).json()
    assert d["verdict"] in ("invalid", "wrong", "unchecked")
    p = client.post("/api/preview", json={"slot": RIGHT[0], "latex": latex}).json()
    assert "<script" not in p["mathml"] and "javascript" not in p["mathml"]
    assert "&lt;script&gt;" in p["mathml"]


def test_bad_requests(client):
    assert client.post("/api/answer", content=b"{not json").status_code == 400
    assert client.post("/api/answer", json=["x"]).status_code == 400
    assert client.post("/api/answer", json={"slot": RIGHT[0], "latex": 3}).status_code == 400
    assert client.post("/api/answer", json={"slot": RIGHT[0], "latex": "x" * 5000}).status_code == 413
    assert client.post("/api/answer", content=b"x" * (65 * 1024)).status_code == 413
    assert client.post("/api/chain", json={"slot": RIGHT[0], "steps": "x"}).status_code == 400
    assert client.post("/api/chain", json={"slot": RIGHT[0], "steps": ["x"] * 41}).status_code == 413
    assert client.get("/api/answer").status_code == 405


def test_rate_limit(shared_checker):
    with TestClient(create_app(Settings(rate=1, burst=2), checker=shared_checker)) as c:
        codes = [c.post("/api/answer", json={"slot": RIGHT[0], "latex": RIGHT[1]}).status_code for _ in range(4)]
    assert codes[:2] == [200, 200] and codes[2:] == [429, 429]


def _sleepy(*args, **kwargs):
    time.sleep(60)


def test_a_check_that_runs_out_of_time_is_unchecked(monkeypatch):
    monkeypatch.setattr(checker_module, "run", _sleepy)
    slow = Checker(jobs=1, timeout=1.0)
    try:
        with TestClient(create_app(Settings(), checker=slow)) as c:
            d = c.post("/api/chain", json={"slot": CHAIN[0], "steps": CHAIN[1][:1]}).json()
    finally:
        slow.close()
    assert d["verdict"] == "unchecked" and "did not finish" in d["message"]


def test_a_full_queue_answers_busy(shared_checker):
    busy = Checker.__new__(Checker)           # the queue logic alone, on the shared workers
    busy.__dict__.update(shared_checker.__dict__)
    busy._running = threading.BoundedSemaphore(1)
    busy._count = threading.Lock()
    busy.waiting, busy.queue, busy.wait = 0, 0, 0.2
    busy.grader = shared_checker.grader
    busy._running.acquire()                   # every worker place taken
    try:
        d = busy.answer("gan.square.f", r"\frac{-4t}{1+t} + 0")
        assert d["verdict"] == "unchecked" and "busy" in d["message"]
        busy.waiting = 1                      # and the queue full: refused at once
        with pytest.raises(checker_module.Busy):
            busy.chain("gan.square.f", ["f(t) = 0"])
    finally:
        busy._running.release()
