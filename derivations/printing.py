"""LaTeX of expressions and claims in the field's notation (\\bar\\alpha_t, not abar_t)."""
from __future__ import annotations

import sympy as sp

from .symbols import as_expr

from . import symbols as symtab

_REL = {"=": "=", "<=": r"\le", ">=": r"\ge", "<": "<", ">": ">"}


def latex(expr) -> str:
    if isinstance(expr, str):
        return expr
    expr = as_expr(expr)
    names = symtab.latex_names(expr.free_symbols if hasattr(expr, "free_symbols") else ())
    return sp.latex(expr, symbol_names=names, ln_notation=False)


def claim_latex(step) -> str:
    if step.claim_latex:
        return step.claim_latex
    lhs, rhs = step.sides()
    return f"{latex(lhs)} {_REL[step.rel]} {latex(rhs)}"
