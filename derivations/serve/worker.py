"""What runs inside a sandboxed worker for the page: reading a preview (never in the server).

These functions parse a student's text, so they only ever run in a worker of the server's
``Grader`` (memory cap, no file writes, wall-clock limit), like every check.
"""
from __future__ import annotations

_SHOW_REL = {"=": "=", "<=": r"\le", ">=": r"\ge", "<": "<", ">": ">", "~": r"\approx", "!=": r"\ne"}


def _show_chain(chain) -> str:
    from ..grading.show import latex as show
    parts = []
    for i, member in enumerate(chain.members):
        if member is None:
            continue
        if parts and i:
            rel = chain.relations[i - 1]
            parts.append(_SHOW_REL.get(rel, rel))
        parts.append(show(member))
    return " ".join(parts)


def read_as(slot_id: str, latex: str) -> dict:
    """How derivcheck reads ``latex`` as an answer to the slot: ``{"read_as": LaTeX}`` (statements
    joined by ``;``) or ``{"error": the reader's message}``. Nothing is checked here."""
    from .. import registry
    from ..grading.core import scope_for
    from ..latex import LatexError, parse_answer
    slot = registry.get_slot(slot_id)
    try:
        answer = parse_answer(latex, scope_for(slot), continuation=True)
    except LatexError as exc:
        return {"read_as": None, "error": str(exc)}
    except (RecursionError, MemoryError):
        return {"read_as": None, "error": "the answer is nested too deeply to read"}
    shown = "; ".join(_show_chain(c) for c in answer.statements)
    return {"read_as": shown, "error": None}
