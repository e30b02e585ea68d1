"""Built-in slots written in the question format (``derivcheck slots --yaml IDS``): one schema for
built-in and authored slots. Loading the output back (under another question id, since the
built-in ids are taken) gives slots that grade like the built-in ones (tests/test_questions.py).

Only what the format holds is exported: scalar expression slots in declared real symbols and
unknown functions, matrix slots of n x n matrices and n x 1 vectors, their side conditions and
named quantities. Slots with densities, set answers, sums or integrals are refused with the reason.
"""
from __future__ import annotations

import sympy as sp
import yaml

from .. import symbols as symtab
from ..printing import latex

_REL = {"<": "<", "<=": r"\le", ">": ">", ">=": r"\ge"}


def why_not(slot) -> str | None:
    """Why ``slot`` cannot be written as a question file, or None when it can."""
    from .build import MATRIX_SIZE
    ref = slot.reference
    matrix = slot.kind == "matrix" and isinstance(ref, sp.MatrixExpr)
    if not (matrix or slot.kind == "expression" and isinstance(ref, sp.Expr) and not isinstance(ref, sp.MatrixExpr)):
        return f"its kind is {slot.kind} (scalar and matrix expression slots are exported)"
    if slot.accepts is not None:
        return "it has a set-valued test"
    if matrix and not all(isinstance(m, sp.MatrixSymbol) and m.shape in ((MATRIX_SIZE, MATRIX_SIZE), (MATRIX_SIZE, 1))
                          for m in slot.symbols):
        return "its symbols are not all n x n matrices and n x 1 vectors"
    own = set(slot.functions)
    for value in [ref, *slot.definitions.values(), *_conditions(slot)]:
        if not isinstance(value, sp.Basic) or value.has(sp.Integral, sp.Sum, sp.Product, sp.Derivative) or \
                any(f.func not in own for f in value.atoms(sp.core.function.AppliedUndef)) or value.atoms(sp.Indexed):
            return "its reference, conditions or definitions use integrals, sums or functions it does not declare"
        if not matrix and value.atoms(sp.MatrixSymbol):
            return "it mixes matrices with scalars"
    for key in slot.definitions:
        if not isinstance(key, (str, sp.Symbol)):
            return "a named quantity is not a plain name"
    from ..grading.core import integrated_part, uses_densities
    if uses_densities(slot) or integrated_part(slot).integrands:
        return "it speaks of densities"
    return None


def _conditions(slot) -> list:
    """The slot's conditions that the grader reads (relations; a condition in words is not used)."""
    return [c for c in slot.conditions if isinstance(c, sp.Basic)]


def _domain(info) -> str:
    d = info.domain
    if d.integer:
        return f"integer >= {d.lo}" if d.hi == sp.oo else f"integer in [{d.lo}, {d.hi}]"
    if (d.lo, d.hi) == (-sp.oo, sp.oo):
        return "real"
    if (d.lo, d.hi) == (0, sp.oo):
        return "positive"
    if (d.lo, d.hi) == (-sp.oo, 0):
        return "negative"
    end = (lambda v: r"\infty" if v == sp.oo else r"-\infty" if v == -sp.oo else latex(v))
    return f"({end(d.lo)}, {end(d.hi)})"


def _key(key) -> str:
    if isinstance(key, sp.Symbol):
        return symtab.info(key).latex
    from ..latex.names import key_of_latex
    from ..latex.scope import identifier_latex
    return key if key_of_latex(key) is not None else identifier_latex(key)


def _condition(c) -> str:
    op = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}[c.rel_op]
    return f"{latex(c.lhs)} {_REL[op]} {latex(c.rhs)}"


def question_data(slots, qid: str, title: str = "") -> dict:
    """The question-file data of ``slots`` (all exportable) as one question ``qid``."""
    out_slots, symbols = {}, {}
    for s in slots:
        reason = why_not(s)
        if reason:
            raise ValueError(f"{s.id} cannot be written as a question file: {reason}")
        used = list(s.symbols) + sorted(s.reference.free_symbols, key=str)
        for c in _conditions(s):
            used += sorted(c.free_symbols, key=str)
        defined = {k for k in s.definitions if isinstance(k, sp.Symbol)}
        for v in s.definitions.values():
            used += sorted(v.free_symbols, key=str)
        for sym in dict.fromkeys(used):
            if isinstance(sym, sp.MatrixSymbol) and sym not in symbols:
                from ..grading.matrices import kind_of
                kind = kind_of(sym, s)
                symbols[sym] = {"latex": sp.latex(sym), "name": sym.name,
                                "domain": "vector" if kind == "vector" else f"matrix {kind}"}
            elif isinstance(sym, sp.Symbol) and sym not in defined and sym not in symbols:
                info = symtab.info(sym)
                entry = {"latex": info.latex, "name": sym.name, "domain": _domain(info)}
                if info.aliases:
                    entry["aliases"] = list(info.aliases)
                if info.meaning:
                    entry["meaning"] = info.meaning
                symbols[sym] = entry
        slot = {"title": s.statement, "reference": latex(s.reference)}
        if s.functions:
            slot["functions"] = [sp.latex(sp.Symbol(f.__name__)) for f in s.functions]
        if _conditions(s):
            slot["conditions"] = [_condition(c) for c in _conditions(s)]
        if s.definitions:
            slot["definitions"] = {_key(k): latex(v) for k, v in s.definitions.items()}
        out_slots[s.id.split(".", 1)[1].replace(".", "_")] = slot
    return {"id": qid, "title": title or qid, "symbols": list(symbols.values()), "slots": out_slots}


def to_yaml(slots, qid: str, title: str = "") -> str:
    return yaml.safe_dump(question_data(slots, qid, title), sort_keys=False, allow_unicode=True, width=1000)
