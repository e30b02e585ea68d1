"""Typed symbols: a SymPy symbol plus its domain, its LaTeX and the names students use for it.

A symbol is declared once (``declare``) and looked up by the checkers (where to draw
points, how to prove under bounds), the LaTeX printer and the answer parser.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

oo = sp.oo


@dataclass(frozen=True)
class Domain:
    """An interval of the real line; ``lo < x < hi`` (open unless ``closed``)."""

    lo: sp.Expr = -oo
    hi: sp.Expr = oo
    integer: bool = False

    def contains(self, value) -> bool:
        return bool(self.lo < value < self.hi) if not self.integer else bool(self.lo <= value <= self.hi)


@dataclass(frozen=True)
class SymbolInfo:
    symbol: sp.Symbol
    latex: str
    domain: Domain
    aliases: tuple[str, ...] = field(default=())
    meaning: str = ""


_TABLE: dict[sp.Symbol, SymbolInfo] = {}
_READERS: list[set] = []         # sets that record every symbol ``info`` is asked about (proof cache)


def as_expr(value) -> sp.Basic:
    """``sympify`` for numbers and SymPy objects only: text is refused, because ``sympify``
    evaluates text as Python. Students' text goes through ``derivations.latex`` instead."""
    if isinstance(value, (str, bytes)):
        raise TypeError("text is not an expression here; read it with derivations.latex")
    return sp.sympify(value, strict=True)


def declare(name: str, latex: str | None = None, lo=-oo, hi=oo, *, aliases=(), meaning="",
            integer=False) -> sp.Symbol:
    """Make (or fetch) a real symbol with the assumptions its interval implies."""
    lo, hi = as_expr(lo), as_expr(hi)
    assumptions = {"real": True}
    if integer:
        assumptions["integer"] = True
    if lo.is_nonnegative and (lo.is_positive or not integer):
        assumptions["positive"] = True
    elif hi.is_nonpositive:
        assumptions["negative"] = True
    symbol = sp.Symbol(name, **assumptions)
    info = SymbolInfo(symbol, latex or name, Domain(lo, hi, integer), tuple(aliases), meaning)
    _TABLE[symbol] = info
    return symbol


def info(symbol: sp.Symbol) -> SymbolInfo:
    """The declaration of ``symbol``; undeclared symbols get a default (real line or positive)."""
    for reader in _READERS:
        reader.add(symbol)
    if symbol in _TABLE:
        return _TABLE[symbol]
    lo = sp.S.Zero if symbol.is_positive else -oo
    return SymbolInfo(symbol, sp.latex(symbol), Domain(lo, oo))


def latex_names(symbols) -> dict[sp.Symbol, str]:
    """``symbol_names`` for ``sympy.latex``: print each symbol in the field's notation."""
    return {s: info(s).latex for s in symbols if isinstance(s, sp.Symbol)}


def declared() -> tuple[SymbolInfo, ...]:
    return tuple(_TABLE.values())
