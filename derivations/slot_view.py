"""A slot as plain data (for `derivcheck slots --json`, reports and the grader's messages)."""
from __future__ import annotations

import sympy as sp

from . import symbols as symtab
from .printing import latex
from .registry import Slot


def _domain(symbol) -> str:
    if isinstance(symbol, sp.MatrixSymbol):
        return f"matrix {symbol.shape[0]} x {symbol.shape[1]}"
    dom = symtab.info(symbol).domain
    if dom.integer:
        return f"integers in [{dom.lo}, {dom.hi}]"
    return f"({latex(dom.lo)}, {latex(dom.hi)})"


def describe(s: Slot) -> dict:
    def one(symbol):
        info = symtab.info(symbol) if isinstance(symbol, sp.Symbol) else None
        return {"name": str(symbol), "latex": info.latex if info else latex(symbol), "domain": _domain(symbol),
                "aliases": list(info.aliases) if info else []}

    return {
        "id": s.id, "question": s.question, "kind": s.kind, "statement": s.statement,
        "reference": None if s.reference is None else str(s.reference),
        "reference_latex": s.latex or ("" if s.reference is None else latex(s.reference)),
        "symbols": [one(x) for x in s.symbols],
        "conditions": [c if isinstance(c, str) else latex(c) for c in s.conditions],
        "functions": [str(f) for f in s.functions],
        "definitions": {str(k): latex(v) for k, v in s.definitions.items()},
        "set_valued": s.accepts is not None,
    }
