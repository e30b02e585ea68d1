"""The Starlette application: the index, a slot's page and the JSON API.

Everything a student sends is hostile: it is read only in sandboxed workers (``checker``),
echoed only escaped (Jinja autoescape; the page's script sets ``textContent``; the only markup
built from it is MathML rebuilt from an allow-list, ``derivations.mathml``), bounded in size
(``max_body`` bytes per request, ``MAX_LATEX`` characters per answer or step, ``MAX_STEPS``
steps) and in rate (a token bucket per client address). A Content-Security-Policy allows only
the page's own script and style, so even markup that slipped through could not run.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import registry
from ..grading.sandbox import TIMEOUT
from ..mathml import latex_to_mathml
from .checker import Busy, Checker
from .prompts import prompt, slot_rows

MAX_LATEX = 4000
MAX_STEPS = 40
MAX_BODY = 64 * 1024
EVIDENCE_WORDS = {
    "symbolic": "proved symbolically (SymPy reduces the difference to zero)",
    "symbolic-family": "proved symbolically, in a stated concrete family",
    "exact-numeric": "checked numerically at many random admissible points (evidence, not a proof)",
    "monte-carlo": "a Monte Carlo estimate within its standard error",
    "definition": "a definition (nothing to check)",
    "none": "no evidence: nothing could decide it",
}
MISTAKE_WORDS = {
    "sign": "a term's sign is flipped", "dropped-factor": "a factor is missing",
    "dropped-term": "a term is missing", "dropped-square": "a square is missing",
    "dropped-sqrt": "a square root is missing", "dropped-constant": "a constant is missing",
    "dropped-inverse": "an inverse is missing", "dropped-transpose": "a transpose is missing",
    "misplaced-inverse": "an inverse is in the wrong place", "misplaced-transpose": "a transpose is in the wrong place",
    "doubled-constant": "a constant is doubled", "halved-constant": "a constant is halved",
    "missing-half": "a factor 1/2 is missing", "constant-factor": "off by a constant factor",
    "constant-offset": "off by an added constant", "inverted-ratio": "a ratio is upside down",
    "index-swap": "t and t-1 (or two indices) are swapped", "swapped-order": "two symbols are swapped",
    "swapped-symbols": "two symbols are swapped", "wrong-symbol": "one symbol stands for another",
    "swapped-kl": "the KL's arguments are swapped", "sibling-slot": "this is the answer to a related result",
    "invalid-step": "a step does not follow from the one before", "false-step": "a step does not hold",
    "reversed-inequality": "the inequality points the wrong way", "dimension": "the shapes do not match",
}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
log = logging.getLogger("derivcheck.serve")


@dataclass
class Settings:
    reveal_reference: bool = False
    jobs: int = 2
    timeout: float = TIMEOUT
    queue: int = 32
    rate: float = 60.0            # checks per minute per client (token bucket) ...
    burst: int = 20               # ... with this many at once
    max_body: int = MAX_BODY
    log_file: str | None = None
    questions: list | None = None  # slot ids from --questions (None: every registry slot)


class RateLimit:
    """A token bucket per client address (at most ``clients`` remembered)."""

    def __init__(self, per_minute: float, burst: int, clients: int = 10000):
        self.rate, self.burst, self.clients = per_minute / 60.0, burst, clients
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allow(self, who: str) -> bool:
        now = time.monotonic()
        with self.lock:
            tokens, then = self.buckets.pop(who, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            ok = tokens >= 1.0
            self.buckets[who] = (tokens - 1.0 if ok else tokens, now)
            while len(self.buckets) > self.clients:          # forget the oldest client
                self.buckets.pop(next(iter(self.buckets)))
            return ok


class LimitBody:
    """ASGI middleware: a request body over ``limit`` bytes gets 413 before it is read whole."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = True
                if too_big:
                    return await _too_large(self.limit)(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(self.limit)(scope, receive, send)


class _TooLarge(Exception):
    pass


def _too_large(limit: int) -> Response:
    return JSONResponse({"error": f"the request is larger than {limit} bytes"}, status_code=413)


class Headers:
    """ASGI middleware: security headers on every response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
                            (b"cache-control", b"no-store")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("derivations.serve", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["mathml"] = lambda latex, display="inline": Markup(latex_to_mathml(latex, display))
    return env


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def render_answer(d: dict) -> dict:
    """MathML and plain words for the page (the API adds this only when asked: ``?render=1``)."""
    counter = d.get("counterexample") or {}
    values = {k: v for k, v in counter.items() if k not in ("answer", "reference", "lhs", "rhs")}
    sides = [(k, counter[k]) for k in ("answer", "reference", "lhs", "rhs") if k in counter]
    out = {"evidence_words": EVIDENCE_WORDS.get(d.get("evidence", {}).get("kind", "none"), ""),
           "mistake_words": MISTAKE_WORDS.get(d.get("mistake") or "", ""),
           "read_as": latex_to_mathml(d["parsed_latex"]) if d.get("parsed_latex") else None,
           "point": [{"name": str(k), "name_mathml": latex_to_mathml(str(k)), "value": str(v)} for k, v in values.items()],
           "sides": [{"side": k, "value": str(v)} for k, v in sides]}
    chain = d.get("chain")
    if chain:
        out["links"] = [{"step": l["step"], "claim": latex_to_mathml(l["claim"]), "status": l["status"],
                         "words": EVIDENCE_WORDS.get(l["kind"], l["kind"]), "detail": l["detail"]}
                        for l in chain.get("links", [])]
    return out


def create_app(settings: Settings | None = None, checker: Checker | None = None) -> Starlette:
    settings = settings or Settings()
    registry.load()
    env = _environment()
    own_checker = checker is None
    checker = checker or Checker(jobs=settings.jobs, timeout=settings.timeout, queue=settings.queue)
    checks = RateLimit(settings.rate, settings.burst)
    previews = RateLimit(max(settings.rate * 10, 600.0), max(settings.burst * 5, 100))
    if settings.log_file:
        handler = logging.FileHandler(settings.log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    offered = set(settings.questions) if settings.questions is not None else None

    def known(slot_id) -> bool:
        if not isinstance(slot_id, str) or len(slot_id) > 200:
            return False
        return slot_id in registry.slots() and (offered is None or slot_id in offered)

    cached_rows: list = []

    def rows():
        """The slots as shown (computed once: the registry does not change while serving)."""
        if not cached_rows:
            chosen = [s for s in registry.slots().values() if offered is None or s.id in offered]
            cached_rows.extend(slot_rows(settings.reveal_reference, chosen))
        return cached_rows

    def page(name: str, status: int = 200, **context) -> HTMLResponse:
        html = env.get_template(name).render(reveal=settings.reveal_reference, **context)
        return HTMLResponse(html, status_code=status)

    async def index(request: Request):
        groups: dict[str, list] = {}
        for row in rows():
            groups.setdefault(row["question"], []).append(row)
        return page("index.html", groups=groups)

    async def slot_page(request: Request):
        slot_id = request.path_params["slot_id"]
        if not known(slot_id):
            return page("missing.html", status=404, slot_id=slot_id[:200])
        row = next(r for r in rows() if r["id"] == slot_id)
        return page("slot.html", slot=row)

    async def api_slots(request: Request):
        return JSONResponse(rows())

    async def body(request: Request):
        try:
            data = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return None, _error("the body is not JSON", 400)
        if not isinstance(data, dict):
            return None, _error("the body must be a JSON object", 400)
        if not known(data.get("slot")):
            slot = data.get("slot")
            hint = ""
            if isinstance(slot, str) and offered is None:
                try:
                    registry.get_slot(slot[:200])
                except KeyError as exc:
                    hint = str(exc.args[0])
            return None, _error(hint or "unknown slot", 404)
        return data, None

    def limited(request: Request, bucket: RateLimit) -> Response | None:
        if not bucket.allow(_client(request)):
            return JSONResponse({"error": "too many checks from this address; wait a few seconds"},
                                status_code=429, headers={"retry-after": "5"})
        return None

    async def admitted(request: Request, bucket: RateLimit):
        """(the request's JSON, None), or (None, the refusal): over the rate limit, or a bad body."""
        refused = limited(request, bucket)
        if refused:
            return None, refused
        return await body(request)

    def wants_render(request: Request) -> bool:
        return request.query_params.get("render") in ("1", "true")

    async def api_answer(request: Request):
        data, refused = await admitted(request, checks)
        if refused:
            return refused
        latex = data.get("latex")
        if not isinstance(latex, str):
            return _error("latex must be a string", 400)
        if len(latex) > MAX_LATEX:
            return _error(f"the answer is longer than {MAX_LATEX} characters", 413)
        return await checked(request, "answer", checker.answer, data["slot"], latex)

    async def api_chain(request: Request):
        data, refused = await admitted(request, checks)
        if refused:
            return refused
        steps = data.get("steps")
        if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
            return _error("steps must be a list of strings", 400)
        steps = [s for s in steps if s.strip()]
        if not steps:
            return _error("the derivation has no steps", 400)
        if len(steps) > MAX_STEPS or any(len(s) > MAX_LATEX for s in steps):
            return _error(f"at most {MAX_STEPS} steps of at most {MAX_LATEX} characters each", 413)
        return await checked(request, "chain", checker.chain, data["slot"], steps)

    async def checked(request: Request, what: str, check, slot, text):
        """Run one check off the event loop; a full queue is 503, never a hung request."""
        try:
            result = await run_in_threadpool(check, slot, text)
        except Busy as exc:
            return JSONResponse({"error": f"the server is busy: {exc}"}, status_code=503, headers={"retry-after": "5"})
        log.info("%s %s %s %.3fs", what, slot, result["verdict"], result.get("seconds", 0))
        if wants_render(request):
            result = {**result, "render": await run_in_threadpool(render_answer, result)}
        return JSONResponse(result)

    async def api_preview(request: Request):
        data, refused = await admitted(request, previews)
        if refused:
            return refused
        if "steps" in data:             # a derivation's lines: rendered only (read when checked)
            steps = data["steps"]
            if (not isinstance(steps, list) or len(steps) > MAX_STEPS
                    or not all(isinstance(s, str) and len(s) <= MAX_LATEX for s in steps)):
                return _error(f"steps must be at most {MAX_STEPS} strings of at most {MAX_LATEX} characters", 400)
            rendered = await run_in_threadpool(lambda: [latex_to_mathml(s) for s in steps])
            return JSONResponse({"steps": rendered})
        latex = data.get("latex")
        if not isinstance(latex, str) or len(latex) > MAX_LATEX:
            return _error(f"latex must be a string of at most {MAX_LATEX} characters", 400)
        # latex2mathml reads the text (a tokeniser, never eval; bounded above): off the event loop
        typed = await run_in_threadpool(latex_to_mathml, latex, "block") if latex.strip() else ""
        out = {"mathml": typed, "read_as": None, "error": None}
        if latex.strip() and data.get("read", True):
            got = await run_in_threadpool(checker.read_as, data["slot"], latex)
            out["error"] = got.get("error")
            if got.get("read_as"):
                out["read_as"] = latex_to_mathml(got["read_as"], "block")
        return JSONResponse(out)

    async def api_stats(request: Request):
        return JSONResponse(checker.stats())

    static = StaticFiles(directory=str(Path(str(resources.files("derivations.serve"))) / "static"))
    routes = [Route("/", index), Route("/slot/{slot_id:path}", slot_page),
              Route("/api/slots", api_slots), Route("/api/answer", api_answer, methods=["POST"]),
              Route("/api/chain", api_chain, methods=["POST"]), Route("/api/preview", api_preview, methods=["POST"]),
              Route("/api/stats", api_stats), Mount("/static", static, name="static")]

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        yield
        if own_checker:
            checker.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.checker = checker
    app.state.settings = settings
    app.add_middleware(LimitBody, limit=settings.max_body)
    app.add_middleware(Headers)
    return app


__all__ = ["create_app", "Settings", "render_answer", "prompt", "EVIDENCE_WORDS"]
