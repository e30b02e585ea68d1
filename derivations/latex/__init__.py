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

import sympy as sp

from .errors import LatexError, LimitError, UnknownName
from .reader import Chain, DimensionError, Reader
from .scope import SlotScope, build, for_slot
from .syntax import parse_tree

__all__ = ["parse", "parse_expression", "parse_loss", "LatexError", "LimitError", "UnknownName",
           "DimensionError", "Chain", "build", "for_slot"]


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
