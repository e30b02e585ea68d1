"""The jinja2 environment of the LaTeX documents (derivcheck.tex, the class report's report.tex).

Templates live in ``templates/`` (package data) and use LaTeX-friendly delimiters:
``\\VAR{expression}``, ``\\BLOCK{statement}``, ``\\#{comment}``. jinja2's autoescape is for HTML,
so it is off here; its place is taken by ``finalize``, which escapes every value as LaTeX text
(``tex.text``, i.e. pylatexenc) unless the value is ``Latex``: source that derivcheck itself
wrote (the printer's math, tags, the filters below). A value a template forgets to filter is
therefore escaped, never interpreted.
"""
from __future__ import annotations

import re
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from . import tags, tex


class Latex(str):
    """LaTeX source written by derivcheck (not text to escape)."""


def finalize(value):
    if isinstance(value, Latex):
        return value
    if value is None:
        return ""
    return tex.text(value)


def _label(value) -> Latex:
    return Latex(re.sub(r"[^A-Za-z0-9:.-]", "-", str(value)))


def _z(row: dict) -> str:
    return f"{row['z']:+.2f}" if row["kind"] == "monte-carlo" else str(row["kind"])


def _outcome(row: dict) -> Latex:
    return Latex(r"\textcolor{dcsymbolic}{pass}" if row["passed"] else r"\textcolor{dcrefuted}{\textbf{FAIL}}")


FILTERS = {
    "latex": Latex,                                   # a macro's output (already LaTeX)
    "text": lambda v: Latex(tex.text(v)),
    "code": lambda v: Latex(tex.code(v)),
    "codes": lambda vs: Latex(", ".join(tex.code(v) for v in vs)),
    "verbatim": lambda v: Latex(tex.verbatim(v)),
    "breakable": lambda v: Latex(tex.breakable(v)),
    "tag": lambda label, tone: Latex(tex.tag(str(label), tone)),
    "counterexample": lambda point: Latex(tex.counterexample(point)),
    "label": _label,
    "z": _z,
    "outcome": _outcome,
    "comparison": tags.comparison,                    # plain words: escaped by finalize
}


@cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("derivations.publish", "templates"), autoescape=False,
                      block_start_string=r"\BLOCK{", block_end_string="}",
                      variable_start_string=r"\VAR{", variable_end_string="}",
                      comment_start_string=r"\#{", comment_end_string="}",
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                      undefined=StrictUndefined, finalize=finalize)
    env.filters.update(FILTERS)
    return env
