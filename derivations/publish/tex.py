"""LaTeX pieces of the published document: plain text made safe, claims split into lines that
fit the page, evidence tags, counterexamples.

Every expression is printed by ``derivations.printing.latex`` (SymPy's printer with each
declared symbol's LaTeX, so \\bar\\alpha_t rather than abar_t). A side longer than one line
is split between the terms of its top-level sum; each line is then typeset by the
``\\dcline`` macro of the preamble, which measures it and scales it down only if it is still
wider than the line, so no claim can overflow the page.
"""
from __future__ import annotations

import re

import sympy as sp
from pylatexenc.latexencode import RULE_DICT, UnicodeToLatexConversionRule, UnicodeToLatexEncoder

from .. import symbols as symtab
from ..printing import latex
from . import tags

# Packages that texlive-latex-base alone provides, with booktabs and xcolor used where they are
# installed (texlive-latex-recommended) and plain rules and colours otherwise.
PACKAGES = r"""\usepackage{graphicx,longtable,array,tabularx}
\IfFileExists{booktabs.sty}{\usepackage{booktabs}}{%
  \newcommand\toprule{\hline}\newcommand\midrule{\hline}\newcommand\bottomrule{\hline}}
\IfFileExists{xcolor.sty}{\usepackage{xcolor}}{\usepackage{color}}
"""

LINE_CHARS = 150          # LaTeX source characters per display line before a sum is split
_REL = {"=": "=", "<=": r"\le", ">=": r"\ge", "<": "<", ">": ">"}

# Plain text is encoded by pylatexenc (its table of LaTeX for Unicode characters). What it emits
# needs only the LaTeX kernel (textcomp's \text... symbols are in the kernel since 2020), with
# three exceptions kept here (FALLBACK), each checked by tests/test_publish_tex.py's compile:
# "|" (pylatexenc keeps it, and in the OT1 font encoding of plain pdflatex it prints an em dash);
# the superscript T (no LaTeX for it in pylatexenc); and an unknown character, which becomes a
# plain "?" (pdflatex stops at a Unicode character it has no definition for). Control characters
# become spaces.
FALLBACK = {"|": r"\textbar{}", "\u1d40": r"\ensuremath{^\top}"}


def _unknown(ch: str) -> str:
    return "?"


_ENCODER = UnicodeToLatexEncoder(
    conversion_rules=[UnicodeToLatexConversionRule(RULE_DICT, {ord(k): v for k, v in FALLBACK.items()}),
                      "defaults"],
    non_ascii_only=False, replacement_latex_protection="braces", unknown_char_policy=_unknown,
    unknown_char_warning=False)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def text(value) -> str:
    """Plain text (reasons, statements, messages, students' answers) made safe for LaTeX's text
    mode by pylatexenc: every special character escaped, Unicode as LaTeX commands."""
    return _ENCODER.unicode_to_latex(_CONTROL.sub(" ", str(value)))


def breakable(value) -> str:
    """Escaped text with line breaks allowed after operators, braces and backslashes, for
    LaTeX-heavy strings (answers, grader messages) that have few spaces."""
    out = []
    for ch in str(value):
        out.append(text(ch))
        if ch in "+-=,;)}]_/\\ ":
            out.append(r"\allowbreak{}")
    return "".join(out)


def verbatim(value) -> str:
    """Untrusted text (a student's answer) shown as typed: escaped, in typewriter type, and
    breakable (``breakable``) so that a long answer cannot overflow."""
    return r"{\ttfamily " + breakable(value) + "}"


def code(value) -> str:
    """A slot or derivation id in typewriter type, breakable after its dots and underscores
    (ids are ASCII; escaped all the same)."""
    pieces = re.split(r"(?<=[._])", str(value))
    return r"\texttt{" + r"\allowbreak{}".join(text(p) for p in pieces) + "}"


# ---------------------------------------------------------------------------- expressions
def side_lines(expr, budget: int = LINE_CHARS) -> list[str]:
    """LaTeX of one side as lines: a long sum is cut between its terms, in the printer's order."""
    whole = latex(expr)
    if len(whole) <= budget or not isinstance(expr, sp.Add):
        return [whole]
    lines, current = [], ""
    for term in expr.as_ordered_terms():
        piece = latex(term)
        if current:
            piece = (" - " + piece[1:].lstrip()) if piece.startswith("-") else " + " + piece
        if current and len(current) + len(piece) > budget:
            lines.append(current)
            current = "{}" + piece
        else:
            current += piece
    lines.append(current)
    return lines


def claim_lines(step) -> list[tuple[int, str]]:
    """(indent level, math) lines of a step's claim: one line when it is short, else the left
    side, then the relation and the right side, each cut where its sum allows."""
    if step.claim_latex:
        return [(0, step.claim_latex)]
    lhs, rhs = step.sides()
    rel = _REL[step.rel]
    left, right = side_lines(lhs), side_lines(rhs)
    if len(left) == len(right) == 1 and len(left[0]) + len(right[0]) <= LINE_CHARS:
        return [(0, f"{left[0]} {rel} {right[0]}")]
    lines = [(0, left[0])] + [(1, s) for s in left[1:]]
    lines.append((1, f"{rel} {right[0]}"))
    lines += [(2, s) for s in right[1:]]
    return lines


def display(lines: list[tuple[int, str]]) -> str:
    """The ``\\dcline`` calls that typeset ``lines`` (see the preamble)."""
    return "\n".join(rf"\dcline{{{level * 2}em}}{{{math}}}" for level, math in lines)


def condition(expr) -> str:
    if isinstance(expr, str):
        return text(expr)
    if isinstance(expr, sp.Rel) and expr.rel_op in ("<", "<=", ">", ">="):
        return latex(expr.lhs) + " " + {"<": "<", "<=": r"\le", ">": ">", ">=": r"\ge"}[expr.rel_op] + " " + \
            latex(expr.rhs)
    return latex(expr)


# ---------------------------------------------------------------------------- evidence
def tag(label: str, tone: str) -> str:
    return rf"\dctag{{{tone}}}{{{text(label)}}}"


def step_tag(step, evidence) -> str:
    label, tone = tags.step_label(step, evidence)
    out = tag(label, tone)
    if step.audit:
        out += " " + tag(f"claim quoted from the {step.audit}", "audit")
    return out


_NAMES: dict[str, str] = {}


def _declared() -> dict[str, str]:
    if not _NAMES:
        _NAMES.update({info.symbol.name: info.latex for info in symtab.declared()})
    return _NAMES


def _is_name(name: str) -> bool:
    """A symbol's name (as counterexamples store them): a word, optionally _subscript."""
    base, _, sub = name.partition("_")
    return bool(re.fullmatch(r"[A-Za-z]+", base)) and (not sub or bool(re.fullmatch(r"[A-Za-z0-9]+", sub)))


def symbol_latex(name: str) -> str:
    """The declared LaTeX of a symbol known by its name (as counterexamples store them); a name
    that is not a symbol's is typeset as breakable code (``breakable_code``)."""
    if name in _declared():
        return _NAMES[name]
    if not _is_name(name):
        return breakable_code(name)
    base, _, sub = name.partition("_")
    word = lambda w: w if len(w) == 1 else r"\mathrm{" + w + "}"  # noqa: E731
    return word(base) + (f"_{{{word(sub)}}}" if sub else "")


def number(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return f"{value:.6g}".replace("e", r"\mathrm{e}")
    try:
        return f"{float(value):.6g}".replace("e", r"\mathrm{e}")
    except (TypeError, ValueError):
        return r"\text{" + text(value) + "}"


def breakable_code(name: str) -> str:
    """A name that is not a symbol (an unknown function applied to an expression, as the
    counterexample stores it) in typewriter type, breakable after its operators so it fits.
    Text mode: line breaks are possible only outside math (a ``\\text{}`` box never breaks)."""
    out = []
    for ch in name:
        out.append(text(ch))
        if ch in "(*+-/,":
            out.append(r"\allowbreak{}")
    return r"{\ttfamily " + "".join(out) + "}"


def counterexample(point: dict) -> str:
    """A counterexample point as text-mode LaTeX: the symbols' values, then both sides' values
    there, each value in math of its own so a long point breaks between values."""
    values = [(f"${symbol_latex(k)} = {number(v)}$" if k in _declared() or _is_name(k)
               else f"{breakable_code(k)} ${{}} = {number(v)}$")
              for k, v in point.items() if k not in ("lhs", "rhs") and not isinstance(v, dict)]
    sides = [f"{name} ${number(point[key])}$" for key, name in (("lhs", "left side"),
                                                              ("rhs", "right side")) if key in point]
    parts = []
    if values:
        parts.append("at " + ", ".join(values))
    if sides:
        parts.append(": " + ", ".join(sides))
    return "".join(parts)
