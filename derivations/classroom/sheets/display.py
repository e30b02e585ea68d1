r"""Display maths (``align``, ``\[ \]``, ``\\`` rows) split into one step per row, so a chain
written as one aligned block is checked link by link; text is only moved, never parsed."""
from __future__ import annotations

import re

from .braces import _group, _Unclosed


ALIGN_ENVS = {"align", "align*", "aligned", "alignat", "alignat*", "alignedat", "eqnarray", "eqnarray*",
              "gather", "gather*", "gathered", "multline", "multline*", "split", "equation", "equation*",
              "displaymath", "math", "flalign", "flalign*"}
_DROPPED = ("nonumber", "notag", "displaystyle", "noindent")
_ARGUED = ("label", "tag", "tag*", "eqref", "ref", "intertext", "shortintertext", "hspace", "vspace")
_LEADING_REL = re.compile(r"^(?:&|\s)*(?:=|<|>|\\le(?:q|qslant)?(?![A-Za-z])|\\ge(?:q|qslant)?(?![A-Za-z])|"
                          r"\\leqslant|\\geqslant)")
_ANNOTATION = re.compile(r"\s*(?:\\q?quad|\\hspace\*?\{[^{}]*\})(?:\\q?quad|\\hspace\*?\{[^{}]*\}|\\[,;:!]|~|\s)*"
                         r"\\(?:text|textrm|mbox|textit|emph)\{[^{}]*\}\s*[.,]?\s*$"
                         r"|\s*\\(?:text|textrm|mbox)\{\s*\([^{}]*\)\s*\}\s*[.,]?\s*$"
                         r"|(?:\\q?quad|\\[,;:!]|~|\s)+\(\s*\\(?:text|textrm|mbox|textit)\{[^{}]*\}\s*\)\s*[.,]?\s*$")


def display_rows(text: str) -> list[str] | None:
    r"""A step or answer written as display maths, split into its rows: ``\begin{align}``
    (``align*``, ``aligned``, ``eqnarray``, ``equation``, ...), ``\[ \]``, ``\( \)`` dropped,
    rows split at ``\\`` outside braces and other environments (``cases``, ``pmatrix`` keep
    theirs), ``\nonumber``, ``\label{..}``, ``\tag{..}`` dropped, and a trailing annotation after
    ``\quad`` (``\quad\text{by Jensen}``) removed. ``&`` is left to the parser (it ignores it).
    None when the text has none of this (it is then used as it is). Only text is moved here;
    nothing is parsed."""
    if "\\" not in text:
        return None
    rows, cur = [], []
    depth, other, changed = 0, [], False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c != "\\":
            cur.append(c)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        if nxt == "\\" and depth == 0 and not other:
            rows.append("".join(cur))
            cur, changed = [], True
            i += 2
            while i < n and text[i] in " *":
                i += 1
            if i < n and text[i] == "[":
                close = text.find("]", i)
                i = close + 1 if close != -1 else i
            continue
        if nxt in "[]()" and nxt and depth == 0 and not other:
            cur.append(" ")
            changed = True
            i += 2
            continue
        m = re.match(r"\\([A-Za-z]+\*?)", text[i:i + 40])
        if not m:
            cur.append(text[i:i + 2])
            i += 2
            continue
        word = m.group(1)
        end = i + len(m.group(0))
        if word in ("begin", "end"):
            env = re.match(r"\s*\{\s*([A-Za-z]+\*?)\s*\}", text[end:end + 40])
            if env:
                name = env.group(1)
                stop = end + len(env.group(0))
                if name in ALIGN_ENVS and not other and depth == 0:
                    changed = True
                    if word == "begin" and name.startswith("alignat"):
                        arg = re.match(r"\s*\{[^{}]*\}", text[stop:stop + 20])
                        stop += len(arg.group(0)) if arg else 0
                    cur.append(" ")
                    i = stop
                    continue
                if word == "begin":
                    other.append(name)
                elif other and other[-1] == name:
                    other.pop()
        elif word.rstrip("*") in _DROPPED or word in _DROPPED:
            changed = True
            cur.append(" ")
            i = end
            continue
        elif word in _ARGUED and depth == 0 and not other:
            try:
                _, stop = _group(text, end)
            except _Unclosed:
                stop = end
            changed = True
            cur.append(" ")
            i = stop
            continue
        cur.append(m.group(0))
        i = end
    rows.append("".join(cur))
    stripped = []
    for row in rows:
        row2 = _ANNOTATION.sub("", row).strip()
        changed = changed or row2 != row.strip()
        if row2.strip("& \t\n"):
            stripped.append(row2)
    if not changed:
        return None
    return stripped


def answer_text(text: str) -> str:
    """An answer with display markup as one formula: rows that continue (``&= ...``) are joined;
    rows that do not are left as written, for the parser to report."""
    rows = display_rows(text)
    if rows is None:
        return text
    if len(rows) <= 1:
        return rows[0] if rows else ""
    if all(_LEADING_REL.match(r) for r in rows[1:]):
        return " ".join(rows)
    return text


_PROSE_ONLY = re.compile(r"^\s*(?:\\(?:text|textrm|textit|emph|mbox|intertext|shortintertext)\s*\{[^{}]*\}"
                         r"\s*[.,:;]?\s*)+$")


def chain_steps(steps) -> list[str]:
    """Chain steps with display markup split into one step per row; blank steps and steps that
    are only a remark (``\text{by Jensen}``) are dropped: they claim nothing."""
    out = []
    for step in steps:
        rows = display_rows(step)
        for row in [step] if rows is None else (rows or [step]):
            if row.strip() and not _PROSE_ONLY.match(row):
                out.append(row)
    return out
