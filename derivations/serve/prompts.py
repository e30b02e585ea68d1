"""What the page shows about a slot: its prompt in words, never its reference (unless revealed).

A registry statement often *is* the result (``mean of p(y): A mu + b``, ``KL(..) = log(..) ..``).
The prompt is the statement cut before its first top-level ``:``, ``;`` or relation (``=``,
``>=``, ``<=``, ``~``, ``->``) whose left part is not a condition (``when sigma_t = 0``, ``for q
= N(..)`` are kept), plus a ``for ...`` clause of the cut part (``f(t) ... for the square loss``).
"""
from __future__ import annotations

import re

from .. import registry

_CUT = re.compile(r":\s|;\s|\s(?:=|>=|<=|~|->|=:)\s")
_FOR = re.compile(r"\bfor (?:the|q|a|an) ")
_CONDITION_WORDS = re.compile(r"\b(?:when|for|with|if|where)\s+\S+\s*$")


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
    return depth == 0


def prompt(statement: str) -> str:
    for m in _CUT.finditer(statement):
        head, tail = statement[:m.start()], statement[m.end():]
        if not head.strip() or not _balanced(head) or _CONDITION_WORDS.search(head):
            continue
        extra = ""
        f = _FOR.search(tail)
        if f and not _FOR.search(head):
            extra = " \u2026 " + tail[f.start():]
        return head.rstrip(" ,") + extra
    return statement


def slot_rows(reveal: bool, slots=None) -> list[dict]:
    """Every slot as the page and ``GET /api/slots`` show it."""
    from ..slot_view import describe
    rows = []
    for s in (slots if slots is not None else registry.slots().values()):
        d = describe(s)
        row = {"id": s.id, "question": s.question, "kind": s.kind,
               "prompt": s.statement if reveal else prompt(s.statement),
               "symbols": [{"name": x["name"], "latex": x["latex"], "domain": x["domain"]} for x in d["symbols"]],
               "conditions": d["conditions"]}
        if reveal:
            row["statement"] = s.statement
            row["reference_latex"] = d["reference_latex"]
        rows.append(row)
    return rows
