"""Built-in slots written in the question format (``derivcheck slots --yaml IDS``): one schema for
built-in and authored slots. Loading the output back (under another question id, since the
built-in ids are taken) gives slots that grade like the built-in ones (tests/test_questions.py).

Only what the format holds is exported: scalar expression slots in declared real symbols, their
side conditions and named quantities. Slots with densities, unknown functions, matrices, set
answers or integrals are refused with the reason.
"""
from __future__ import annotations

import sympy as sp
import yaml

from .. import symbols as symtab
from ..printing import latex

_REL = {"<": "<", "<=": r"\le", ">": ">", ">=": r"\ge"}


def why_not(slot) -> str | None:
    """Why ``slot`` cannot be written as a question file, or None when it can."""
    ref = slot.reference
    if slot.kind != "expression" or not isinstance(ref, sp.Expr) or isinstance(ref, sp.MatrixExpr):
        return f"its kind is {slot.kind} (only scalar expression slots are exported)"
    if slot.functions or slot.accepts is not None or slot.matrix_kinds:
        return "it uses unknown functions, a set-valued test or matrices"
    for value in [ref, *slot.definitions.values(), *slot.conditions]:
        if not isinstance(value, sp.Basic) or value.atoms(sp.core.function.AppliedUndef) or \
                value.has(sp.Integral, sp.Sum, sp.Product, sp.Derivative) or \
                any(isinstance(a, (sp.MatrixSymbol, sp.Indexed)) for a in value.atoms(sp.MatrixSymbol, sp.Indexed)):
            return "its reference, conditions or definitions use functions, integrals, sums or matrices"
    for key in slot.definitions:
        if not isinstance(key, (str, sp.Symbol)):
            return "a named quantity is not a plain name"
    from ..grading.core import integrated_part, uses_densities
    if uses_densities(slot) or integrated_part(slot).integrands:
        return "it speaks of densities"
    return None


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
        for c in s.conditions:
            used += sorted(c.free_symbols, key=str)
        defined = {k for k in s.definitions if isinstance(k, sp.Symbol)}
        for v in s.definitions.values():
            used += sorted(v.free_symbols, key=str)
        for sym in dict.fromkeys(used):
            if isinstance(sym, sp.Symbol) and sym not in defined and sym not in symbols:
                info = symtab.info(sym)
                entry = {"latex": info.latex, "name": sym.name, "domain": _domain(info)}
                if info.aliases:
                    entry["aliases"] = list(info.aliases)
                if info.meaning:
                    entry["meaning"] = info.meaning
                symbols[sym] = entry
        slot = {"title": s.statement, "reference": latex(s.reference)}
        if s.conditions:
            slot["conditions"] = [_condition(c) for c in s.conditions]
        if s.definitions:
            slot["definitions"] = {_key(k): latex(v) for k, v in s.definitions.items()}
        out_slots[s.id.split(".", 1)[1].replace(".", "_")] = slot
    return {"id": qid, "title": title or qid, "symbols": list(symbols.values()), "slots": out_slots}


def to_yaml(slots, qid: str, title: str = "") -> str:
    return yaml.safe_dump(question_data(slots, qid, title), sort_keys=False, allow_unicode=True, width=1000)
