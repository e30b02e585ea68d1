"""Where a non-analytic expression switches formula, and its formula on each side.

Agreement at random points is evidence of an identity only for analytic expressions: a
nonzero analytic difference is nonzero on an open dense set, so random points see it. Max,
Min, Abs, sign, Heaviside and Piecewise break this (a difference can live on a thin region
that no random point hits). But such an expression is analytic between its *switches*, the
functions whose sign picks a branch (a - b for Max(a, b)): for each sign pattern of the
switches it is one analytic *branch* expression. ``identity`` checks each branch.
"""
from __future__ import annotations

import itertools

import sympy as sp

from .symbols import as_expr

NONANALYTIC = (sp.Max, sp.Min, sp.Abs, sp.sign, sp.Heaviside, sp.Piecewise)
# Functions with infinitely many switches, or none SymPy can locate: never decided by numbers.
UNSPLITTABLE = (sp.floor, sp.ceiling, sp.frac, sp.Mod, sp.re, sp.im, sp.arg, sp.conjugate,
                sp.DiracDelta, sp.KroneckerDelta)
MAX_SWITCHES = 6


class Unsplittable(ValueError):
    """The expression's pieces cannot be told apart by sign patterns of analytic switches."""


def is_analytic(expr) -> bool:
    expr = as_expr(expr)
    return not expr.has(*NONANALYTIC, *UNSPLITTABLE)


def to_piecewise(expr) -> sp.Expr:
    """Max/Min/Abs/Heaviside/sign rewritten as (folded) Piecewise; analytic input unchanged."""
    expr = as_expr(expr)
    if not expr.has(*NONANALYTIC):
        return expr
    for kind in NONANALYTIC[:-1]:
        expr = expr.replace(lambda e, k=kind: isinstance(e, k), lambda e: e.rewrite(sp.Piecewise))
    return sp.piecewise_fold(expr)


def _canonical(d) -> tuple[sp.Expr, int]:
    """(g, c) with d = c g, c = +-1, and g the same for d and -d."""
    d = sp.expand(d)
    return (-d, -1) if d.could_extract_minus_sign() else (d, 1)


def _relationals(cond) -> list:
    if cond in (sp.true, sp.false):
        return []
    if isinstance(cond, sp.core.relational.Relational):
        return [cond]
    if isinstance(cond, (sp.And, sp.Or, sp.Not)):
        return [r for a in cond.args for r in _relationals(a)]
    raise Unsplittable(f"a condition derivcheck cannot split on: {cond}")


def switches(*exprs) -> list[sp.Expr]:
    """The analytic functions whose signs pick every branch of ``exprs`` (canonical sign)."""
    found: dict[sp.Expr, None] = {}
    for expr in exprs:
        expr = as_expr(expr)
        if expr.has(*UNSPLITTABLE):
            bad = next(iter(expr.atoms(*UNSPLITTABLE)))
            raise Unsplittable(f"{type(bad).__name__} has switches that cannot be enumerated")
        for pw in to_piecewise(expr).atoms(sp.Piecewise):
            for _, cond in pw.args:
                for rel in _relationals(cond):
                    if rel.rel_op in ("==", "!=") and not (rel.lhs - rel.rhs).free_symbols:
                        continue
                    g, _ = _canonical(rel.lhs - rel.rhs)
                    if g.is_number:
                        continue
                    if not is_analytic(g):
                        raise Unsplittable(f"a switch that is itself piecewise: {g}")
                    found.setdefault(g)
    out = list(found)
    if len(out) > MAX_SWITCHES:
        raise Unsplittable(f"{len(out)} switches (more than {MAX_SWITCHES}) to split on")
    return out


class _Open(Exception):
    """A condition on a switch the pattern leaves open (one resolved elsewhere, e.g. inside an
    integral on a finite support)."""


def _truth(rel, signs: dict) -> bool:
    d = rel.lhs - rel.rhs
    if not d.free_symbols:
        return bool(rel)
    g, c = _canonical(d)
    if g not in signs:
        raise _Open(g)
    s = c * signs[g]
    return {">": s > 0, ">=": s >= 0, "<": s < 0, "<=": s <= 0, "==": s == 0, "!=": s != 0}[rel.rel_op]


def _condition(cond, signs: dict) -> bool:
    if cond in (sp.true, sp.false):
        return bool(cond)
    if isinstance(cond, sp.core.relational.Relational):
        return _truth(cond, signs)
    if isinstance(cond, sp.And):
        return all(_condition(a, signs) for a in cond.args)
    if isinstance(cond, sp.Or):
        return any(_condition(a, signs) for a in cond.args)
    if isinstance(cond, sp.Not):
        return not _condition(cond.args[0], signs)
    raise Unsplittable(f"a condition derivcheck cannot split on: {cond}")


def branch(expr, signs: dict) -> sp.Expr | None:
    """``expr``'s analytic formula where each switch g has the sign ``signs[g]`` (+1, -1 or 0);
    None where no branch of some Piecewise applies (the expression is undefined there). A
    Piecewise whose conditions involve a switch not in ``signs`` is left as it is."""
    missing = []

    def pick(pw):
        for value, cond in pw.args:
            try:
                if _condition(cond, signs):
                    return value
            except _Open:
                return pw

        missing.append(pw)
        return sp.nan

    out = to_piecewise(expr).replace(lambda e: isinstance(e, sp.Piecewise), pick)
    return None if missing else out


def patterns(gs: list, integer_valued=()) -> list[dict]:
    """Every sign pattern of the switches: +-1 for each, and also 0 for a switch that takes
    integer values (d - 64 = 0 is a point of an integer domain, not a null set)."""
    choices = [(1, -1, 0) if g in integer_valued else (1, -1) for g in gs]
    return [dict(zip(gs, combo)) for combo in itertools.product(*choices)]


def region_of(values: dict) -> dict:
    """The sign pattern of a point, from its switch values."""
    return {g: (0 if v == 0 else (1 if v > 0 else -1)) for g, v in values.items()}
