"""Reading students' LaTeX safely: a grammar of our own (lark, LALR) plus a domain layer.

=============  ================================================================
unicode        homoglyphs, zero-width and control characters, foreign digits
lexer          size/nesting bounds, macro normalisation, delimiter roles
grammar.lark   the grammar; syntax runs it (all-or-nothing, never a prefix)
names          canonical keys of names; the Scope a slot's names live in
scope          a slot's scope from the registry (symbols, aliases, definitions)
reader         parse tree -> SymPy through the scope (calls vs products, ...)
objects        Density p(x|z), Expectation E_q[...], KL(q||p) as SymPy objects
=============  ================================================================

No text is ever passed to eval, exec, sympify or parse_expr: the only constructors called
are SymPy's own classes, on values the reader built.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from .errors import LatexError, LimitError, UnknownName, clip
from .reader import Chain, DimensionError, Reader
from .scope import SlotScope, build, for_slot
from .syntax import parse_tokens, parse_tree

__all__ = ["parse", "parse_answer", "parse_expression", "parse_loss", "LatexError", "LimitError", "UnknownName",
           "DimensionError", "Chain", "Answer", "Condition", "build", "for_slot"]


def parse(latex: str, scope: SlotScope | None = None, *, symbols=(), functions=(),
          definitions=None, continuation: bool = False) -> Chain:
    """``latex`` as a chain of SymPy members (``a = b \\le c``), names read through ``scope``
    (or a scope built from ``symbols``/``functions``/``definitions``).

    ``continuation=True``: a step of a derivation that starts with its relation (``= C``,
    ``\\le D``, ``&= C``) continues the previous step; it reads as ``Chain([None, C], ["="])``
    (the first member, the previous step's last, is the caller's). Text that starts with an
    expression reads as usual."""
    if scope is None:
        scope = build(symbols, functions, definitions)
    return Reader(scope).chain(parse_tree(latex, continuation))


@dataclass
class Condition:
    """A condition written after the answer (``, t > 0``, ``\\text{for } t > 0``) or a remark.

    ``chain`` is the condition read as a chain (``t > 0``, ``0 < t < 1``) to be checked against
    the slot's domain; None for what can be read but not checked (``\\epsilon \\sim N(0, I)``,
    ``x \\in X``, words such as ``(\\text{by Jensen})``), with ``note`` saying which."""

    text: str
    chain: Chain | None = None
    note: str = ""


@dataclass
class Answer:
    """One reading of a whole answer: its statements (chains; the first is the answer's formula,
    the others came after a comma, ``;``, ``\\quad`` or a new line), each statement's text as
    read, and its conditions and remarks."""

    statements: list
    texts: list = field(default_factory=list)
    conditions: list = field(default_factory=list)


def _part_error(exc: LatexError, text: str) -> LatexError:
    """``exc`` raised while reading one part of an answer, with that part quoted."""
    cls = LimitError if isinstance(exc, LimitError) else DimensionError if isinstance(exc, DimensionError) \
        else LatexError
    return cls(f"in the part {clip(text, 60)!r}: {exc}")


def _top_types(toks) -> set:
    from .lexer import CLOSERS, OPENERS
    level, out = 0, set()
    for t in toks:
        if t.type in OPENERS or t.type in ("ABS_OPEN", "NORM_OPEN"):
            level += 1
        elif t.type in CLOSERS or t.type in ("ABS_CLOSE", "NORM_CLOSE"):
            level -= 1
        elif level == 0:
            out.add(t.value if t.type == "REL" else t.type)
    return out


def _condition(reader: Reader, toks, text: str) -> Condition:
    kinds = _top_types(toks)
    if "SIM" in kinds:
        return Condition(text, None, "a distribution")
    if "IN" in kinds:
        return Condition(text, None, "a set membership")
    if not kinds & {"=", "<=", ">=", "<", ">"}:
        return Condition(text, None, "words")
    try:
        return Condition(text, reader.chain(parse_tokens(toks)))
    except LatexError as exc:
        raise _part_error(exc, text) from None


def parse_answer(latex: str, scope: SlotScope, continuation: bool = False) -> Answer:
    """All of ``latex``: every statement and every condition or remark after it (``parse`` reads the
    first formula and sets conditions aside; this keeps them). A later part that is a formula with
    an equality is a statement; one with only inequalities, ``\\sim`` or ``\\in`` is a condition.
    An unreadable part raises ``LatexError`` quoting it; nothing is dropped unread."""
    from .lexer import LIMIT_ARROWS, show_tokens, tail_tokens, tokenize_parts
    segments, tails = tokenize_parts(latex)
    reader = Reader(scope)
    out = Answer([], [], [])
    for k, seg in enumerate(segments):
        text = show_tokens(seg)
        kinds = _top_types(seg)
        if k and "=" not in kinds:
            out.conditions.append(_condition(reader, seg, text))
            continue
        start = "continuation" if continuation and k == 0 and seg[0].type == "REL" else "start"
        try:
            out.statements.append(reader.chain(parse_tokens(seg, start)))
        except LatexError as exc:
            if k == 0:
                raise
            raise _part_error(exc, text) from None
        out.texts.append(text)
    for tail in tails:
        if tail.kind == "limit" or tail.kind == "condition" and tail.tokens is None and \
                any(k == "cmd" and v in LIMIT_ARROWS for k, v in tail.raw):
            # "\sigma \to 0": a limit remark, named in the message, never checked or dropped
            out.conditions.append(Condition(tail.text, None, "a limit remark"))
            continue
        if tail.kind != "condition":
            out.conditions.append(Condition(tail.text, None, "words"))
            continue
        try:
            formulas = tail_tokens(tail)
        except LatexError as exc:
            raise _part_error(exc, tail.text) from None
        if not formulas:
            out.conditions.append(Condition(tail.text, None, "words"))
        for toks in formulas:
            out.conditions.append(_condition(reader, toks, f"\\text{{{tail.word}}} {show_tokens(toks)}"))
    return out


def parse_expression(latex: str, scope: SlotScope | None = None, **kw):
    """One expression: the last member of ``f(t) = ...`` (the left side may name it)."""
    chain = parse(latex, scope, **kw)
    if any(r != "=" for r in chain.relations):
        raise LatexError("an inequality where one expression was expected")
    return chain.members[-1]


_SIGMOID = sp.Function("sigma")


def parse_loss(latex: str, alpha: sp.Symbol | None = None):
    """A margin loss l(alpha) such as ``\\log(1 + e^{-\\alpha})`` as a SymPy expression in alpha.

    ``l(\\alpha) = ...`` is accepted; indicators ``\\mathbb{1}[\\alpha \\le 0]`` become Piecewise;
    ``\\sigma(\\cdot)`` is the logistic function (a loss has no other sigma), as are
    ``\\operatorname{sigmoid}`` and ``\\operatorname{softplus}`` their usual functions.
    """
    alpha = alpha if alpha is not None else sp.Symbol("alpha", real=True)
    x = sp.Dummy("x")
    loss = parse_expression(latex, build(symbols=(alpha,), functions=(_SIGMOID,)))
    return loss.replace(_SIGMOID, sp.Lambda(x, 1 / (1 + sp.exp(-x)))) if loss.has(_SIGMOID) else loss
