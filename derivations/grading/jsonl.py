"""Many answers, one process: ``derivcheck answer --jsonl FILE|-``.

Each input line is one JSON object ``{"slot": ..., "latex": ...}`` (optionally ``"conventions"``:
``["alpha=ddim"]`` or ``{"alpha": "ddim"}``). Each line gets one output line, in input order, written
and flushed as soon as it is graded: the result in ``derivcheck answer --json``'s shape
(``AnswerResult.as_dict``) with ``"line"`` (1-based) added, or ``{"line": n, "error": ...}`` for a line
that is not such an object or names an unknown slot; the lines after it are graded as usual.
Blank lines are skipped. The grader is the class runner's (``sandbox.Grader``: sandboxed workers,
the same time and memory limits, the cache keyed by slot and normalised answer).
"""
from __future__ import annotations

import json
from typing import Callable, Iterable

from .. import registry
from .result import AnswerResult
from .sandbox import TIMEOUT, Grader, _task, budget

MAX_LINE_CHARS = 1 << 21         # a longer line is refused unread (the grader's own limits are lower)


def _item(text: str):
    """(slot, latex, conventions) of one line, or raise ValueError with the reason."""
    from ..latex.scope import parse_conventions
    if len(text) > MAX_LINE_CHARS:
        raise ValueError(f"the line is longer than {MAX_LINE_CHARS} characters")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(data, dict):
        raise ValueError('not a JSON object; expected {"slot": ..., "latex": ...}')
    missing = [k for k in ("slot", "latex") if k not in data]
    if missing:
        raise ValueError(f"missing {' and '.join(repr(k) for k in missing)}")
    slot, latex = data["slot"], data["latex"]
    if not isinstance(slot, str) or not isinstance(latex, str):
        raise ValueError('"slot" and "latex" must be strings')
    try:
        registry.get_slot(slot)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    conventions = parse_conventions(data.get("conventions") or ())   # ValueError names the known ones
    return slot, latex, conventions


def grade_lines(lines: Iterable[str], write: Callable[[str], None], *, timeout: float = TIMEOUT,
                conventions: tuple = (), grader: Grader | None = None) -> dict:
    """Grade every line of ``lines`` and ``write`` one JSON line for each (``write`` flushes).
    ``conventions`` (``parse_conventions``) apply to every line, with a line's own added.
    Returns counts: {"lines": n, "errors": e, verdict: count, ...}."""
    counts: dict = {"lines": 0, "errors": 0}
    own = grader is None
    try:
        for number, raw in enumerate(lines, start=1):
            text = raw.strip()
            if not text:
                continue
            counts["lines"] += 1
            try:
                slot, latex, extra = _item(text)
            except ValueError as exc:
                counts["errors"] += 1
                write(json.dumps({"line": number, "error": str(exc)}))
                continue
            if grader is None:       # made at the first good line: its question is prepared before forking
                grader = Grader(jobs=1, timeout=timeout, warm=(slot,))
            chosen = tuple(sorted(set(conventions) | set(extra)))
            result = _grade(grader, slot, latex, chosen)
            counts[result.verdict] = counts.get(result.verdict, 0) + 1
            write(json.dumps({**result.as_dict(), "line": number}, default=str))
    finally:
        if own and grader is not None:
            grader.close()
    return counts


def _grade(grader: Grader, slot: str, latex: str, conventions: tuple) -> AnswerResult:
    if not conventions:
        return grader.grade(slot, latex)
    future = grader.submit(_task, slot, latex, grader.seed, grader.symbolic_seconds, grader.diagnose,
                           budget(grader.timeout), conventions)
    started = __import__("time").perf_counter()
    result, _ = grader._collect(future, slot, started)
    return result
