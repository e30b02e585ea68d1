"""LaTeX of what the grader understood: the field's notation, not SymPy's internal names."""
from __future__ import annotations

import sympy as sp

from .. import symbols as symtab


def latex(expr) -> str:
    if expr is None:
        return ""
    try:
        names = {}
        for s in getattr(expr, "free_symbols", ()):
            if isinstance(s, sp.Symbol):
                info = symtab.info(s)
                names[s] = info.latex if info.latex != sp.latex(s) or s.name.startswith("\\") is False \
                    else s.name
                if s.name.startswith("\\"):
                    names[s] = s.name
        return sp.latex(expr, symbol_names=names, ln_notation=False)
    except Exception:  # printing must never turn a verdict into a crash
        return str(expr)
