"""Mutation operators on SymPy expressions, for mutation-testing the checkers.

``mutants(expr)`` yields ``Mutant(op, description, expr)`` deterministically: one small change
per mutant -- a numeric constant changed (k -> k + 1, k -> 2k, a fraction -> 1), an exponent
changed (e -> e + 1, e -> -e), the sign of one term flipped, two symbols of the same domain
swapped, one factor dropped, one term dropped. ``relation_mutants(rel)`` gives the relation
flips of a step (<= <-> >=, = -> <=, = -> <, <= -> =).

Changes are positional (one node of the tree, found by its path of argument indices), never a
global ``xreplace`` of a value, so ``x + 2 y^2`` yields ``x + 3 y^2`` and ``x + 2 y^3`` separately.
The operators are taken in turn (round robin) up to ``limit``, so a bounded budget still
exercises every kind of change. A mutant structurally equal to the original or to an earlier
mutant is dropped. (The grader's ``grading.mutations`` names students' mistakes; these operators
are the classic mutation-testing ones and are applied to steps as well as references.)
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest

import sympy as sp
from sympy.core.function import AppliedUndef

from . import symbols as symtab

MAX_PER_EXPR = 12          # default bound on mutants of one expression
MAX_NODES = 200            # nodes of one expression visited

OPERATORS = ("constant", "exponent", "sign", "swap", "drop-factor", "drop-term")


@dataclass(frozen=True)
class Mutant:
    op: str
    description: str
    expr: object


# --------------------------------------------------------------------------- tree walking
def _children(node) -> list[tuple[int, sp.Basic]]:
    """The argument positions a mutation may descend into: not bound variables and limits
    (Derivative/Integral/Sum tuples), not the arguments of unknown functions."""
    if not isinstance(node, sp.Basic) or isinstance(node, (AppliedUndef, sp.Tuple, sp.Symbol)):
        return []
    if isinstance(node, (sp.Derivative, sp.Integral, sp.Sum, sp.Product, sp.Inverse)):
        return [(0, node.args[0])]            # not the variables, limits, or Inverse's fixed -1
    if isinstance(node, sp.MatrixBase):
        return []
    return list(enumerate(node.args))


def _walk(expr, limit: int = MAX_NODES):
    """(path, node, parent) in preorder, at most ``limit`` nodes."""
    stack = [((), expr, None)]
    seen = 0
    while stack and seen < limit:
        path, node, parent = stack.pop()
        seen += 1
        yield path, node, parent
        kids = _children(node)
        for i, child in reversed(kids):
            stack.append((path + (i,), child, node))


def replace_at(expr, path: tuple, new):
    """``expr`` with the node at ``path`` replaced by ``new`` (the tree rebuilt above it)."""
    if not path:
        return new
    args = list(expr.args)
    args[path[0]] = replace_at(args[path[0]], path[1:], new)
    return expr.func(*args)


def _text(node) -> str:
    s = sp.sstr(node)
    return s if len(s) <= 40 else s[:37] + "..."


# --------------------------------------------------------------------------- operators
def _is_exponent(path, parent) -> bool:
    return isinstance(parent, sp.Pow) and path and path[-1] == 1


def _constant(expr):
    for path, node, parent in _walk(expr):
        if not isinstance(node, sp.Number) or not node.is_finite or _is_exponent(path, parent):
            continue
        if node == -1 and isinstance(parent, sp.Mul):
            continue                     # a term's sign: the sign operator's business
        k = node
        yield f"the constant {_text(k)} -> {_text(k + 1)}", path, k + 1
        if k != 0:
            yield f"the constant {_text(k)} -> {_text(2 * k)}", path, 2 * k
        if k.is_Rational and not k.is_Integer:
            yield f"the constant {_text(k)} -> 1", path, sp.S.One


def _exponent(expr):
    for path, node, _ in _walk(expr):
        if isinstance(node, sp.Pow) and node.exp.is_Number:
            e = node.exp
            yield f"the exponent of {_text(node)}: {_text(e)} -> {_text(e + 1)}", path, \
                sp.Pow(node.base, e + 1)
            yield f"the exponent of {_text(node)}: {_text(e)} -> {_text(-e)}", path, sp.Pow(node.base, -e)
        elif isinstance(node, sp.exp):
            yield f"the exponential {_text(node)} -> its reciprocal", path, sp.exp(-node.args[0])


def _terms(expr):
    for path, node, _ in _walk(expr):
        if isinstance(node, sp.Add):
            yield path, node


def _sign(expr):
    if isinstance(expr, sp.Basic) and not isinstance(expr, (sp.Add,)) and expr != 0:
        yield "the overall sign flipped", (), -expr
    for path, node in _terms(expr):
        for i, term in enumerate(node.args):
            args = list(node.args)
            args[i] = -term
            yield f"the sign of the term {_text(term)} flipped", path, sp.Add(*args)


def _drop_term(expr):
    for path, node in _terms(expr):
        for i, term in enumerate(node.args):
            rest = node.args[:i] + node.args[i + 1:]
            yield f"the term {_text(term)} dropped", path, sp.Add(*rest)


def _drop_factor(expr):
    for path, node, _ in _walk(expr):
        if isinstance(node, sp.Mul):
            for i, f in enumerate(node.args):
                if f == -1:
                    continue
                rest = node.args[:i] + node.args[i + 1:]
                yield f"the factor {_text(f)} dropped", path, sp.Mul(*rest)


def same_domain(a, b) -> bool:
    """Could ``a`` stand where ``b`` does? Both declared with the same interval (and integrality)."""
    da, db = symtab.info(a).domain, symtab.info(b).domain
    return (da.lo, da.hi, da.integer) == (db.lo, db.hi, db.integer) and \
        a.assumptions0 == b.assumptions0


def _swap(expr):
    free = sorted((s for s in getattr(expr, "free_symbols", ()) if isinstance(s, sp.Symbol)),
                  key=sp.default_sort_key)
    for i, a in enumerate(free):
        for b in free[i + 1:]:
            if same_domain(a, b):
                yield f"{a} and {b} swapped", (), expr.xreplace({a: b, b: a})


_OPS = {"constant": _constant, "exponent": _exponent, "sign": _sign, "swap": _swap,
        "drop-factor": _drop_factor, "drop-term": _drop_term}


def _scalar_mutants(expr, ops, limit):
    gens = [(op, _OPS[op](expr)) for op in ops]
    out, seen = [], {expr}
    # round robin: the k-th mutant of every operator before the (k+1)-th of any
    for batch in zip_longest(*[_safe(op, g) for op, g in gens]):
        for item in batch:
            if item is None:
                continue
            op, text, path, node = item
            try:
                new = replace_at(expr, path, node)
            except (TypeError, ValueError, AttributeError, NotImplementedError, ZeroDivisionError):
                continue                 # a node that refuses the new arguments
            if new in seen or new is sp.nan or sp.sstr(new) == sp.sstr(expr):
                continue                 # unchanged in effect (a node that ignores the new argument)
            seen.add(new)
            out.append(Mutant(op, text, new))
            if len(out) >= limit:
                return out
    return out


def _safe(op, gen):
    """The operator's (op, text, path, node); an operator that fails part-way stops there."""
    try:
        for text, path, node in gen:
            yield op, text, path, node
    except (TypeError, ValueError, AttributeError, NotImplementedError, ZeroDivisionError):
        return


def mutants(expr, limit: int = MAX_PER_EXPR, ops=OPERATORS) -> list[Mutant]:
    """Up to ``limit`` single-change mutants of ``expr`` (a SymPy expression or explicit matrix),
    in a deterministic order. Matrices are mutated entry by entry (the entries taken in turn)."""
    if isinstance(expr, sp.MatrixBase):
        per_entry = []
        for k, entry in enumerate(expr):
            row, col = divmod(k, expr.shape[1])
            subs = _scalar_mutants(sp.sympify(entry), ops, limit)
            per_entry.append([(row, col, m) for m in subs])
        out = []
        for batch in zip_longest(*per_entry):
            for item in batch:
                if item is None:
                    continue
                row, col, m = item
                new = sp.Matrix(expr)
                new[row, col] = m.expr
                out.append(Mutant(m.op, f"entry ({row}, {col}): {m.description}", new))
                if len(out) >= limit:
                    return out
        return out
    if not isinstance(expr, sp.Basic):
        expr = sp.sympify(expr, strict=True)
    return _scalar_mutants(expr, ops, limit)


# --------------------------------------------------------------------------- relations
RELATION_MUTANTS = {
    "=": (("<=", "= weakened to <="), ("<", "= made strict: <")),
    "<=": ((">=", "<= flipped to >="), ("=", "<= strengthened to =")),
    ">=": (("<=", ">= flipped to <="), ("=", ">= strengthened to =")),
    "<": ((">", "< flipped to >"), ("=", "< replaced by =")),
    ">": (("<", "> flipped to <"), ("=", "> replaced by =")),
}


def relation_mutants(rel: str) -> list[tuple[str, str]]:
    """(new relation, description) pairs for a step's relation."""
    return [(new, text) for new, text in RELATION_MUTANTS[rel]]
