"""Balanced ``{...}`` groups in LaTeX: a group that is never closed is an exception the caller
turns into a problem for one answer, and nesting is capped so hostile input stays cheap."""
from __future__ import annotations


MAX_BRACE_DEPTH = 200


class _Unclosed(Exception):
    """A ``{...}`` group that is not closed before ``stop`` (or has no ``{``)."""

    def __init__(self, opened: int | None, why: str = ""):
        self.opened = opened            # index of the "{" (None: no group there at all)
        self.why = why                  # set when the group is refused rather than unclosed


def _line(text: str, i: int) -> int:
    return text.count("\n", 0, i) + 1


def _group(text: str, i: int, stop: int | None = None) -> tuple[str, int]:
    """The balanced ``{...}`` group starting at or after ``i`` (whitespace skipped), closed
    before ``stop``; ``_Unclosed`` otherwise."""
    stop = len(text) if stop is None else stop
    while i < stop and text[i] in " \t\r\n":
        i += 1
    if i >= stop or text[i] != "{":
        raise _Unclosed(None)
    depth, j = 0, i
    while j < stop:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == "{":
            depth += 1
            if depth > MAX_BRACE_DEPTH:
                raise _Unclosed(i, f"braces are nested more than {MAX_BRACE_DEPTH} deep (line {_line(text, j)})")
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j], j + 1
        j += 1
    raise _Unclosed(i)
