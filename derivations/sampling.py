"""Random admissible points: values for every symbol (and every unknown function value)
inside the declared domains and side conditions, for exact-numeric checks and counterexamples.
"""
from __future__ import annotations

import random
from typing import Iterable

import sympy as sp

from .symbols import as_expr
from sympy.core.function import AppliedUndef

from . import symbols as symtab

PRECISION = 50  # decimal digits for evaluation


def unknowns(*exprs) -> list[sp.Basic]:
    """Free symbols and applied unknown functions (``eps_theta(x_t)``), sorted by name.

    An unknown function's value is drawn as a number of its own, so an identity must hold
    whatever the function is; applications of bound variables (inside integrals) are left alone.
    """
    found: set[sp.Basic] = set()
    for e in exprs:
        items = list(e) if isinstance(e, sp.MatrixBase) else [e]
        for item in map(sp.sympify, items):
            free = item.free_symbols
            found |= {s for s in free if isinstance(s, sp.Symbol)}
            found |= {f for f in item.atoms(AppliedUndef) if f.free_symbols <= free}
            # At one point, an unknown function's derivatives are free values too.
            found |= {d for d in item.atoms(sp.Derivative)
                      if d.expr.has(AppliedUndef) and d.free_symbols <= free}
    return sorted(found, key=sp.default_sort_key)


def _draw(atom: sp.Basic, rng: random.Random) -> sp.Rational:
    if isinstance(atom, (AppliedUndef, sp.Derivative)):
        return sp.Rational(rng.randint(-3000, 3000), 1000)
    dom = symtab.info(atom).domain
    lo, hi = dom.lo, dom.hi
    if dom.integer:
        lo_i = int(lo) if lo.is_finite else 1
        hi_i = int(hi) if hi.is_finite else lo_i + 5
        return sp.Integer(rng.randint(lo_i, hi_i))
    if lo.is_finite and hi.is_finite:
        u = rng.uniform(0.02, 0.98)
        value = lo + (hi - lo) * sp.Rational(round(u * 10**6), 10**6)
    elif lo.is_finite:  # (lo, oo): log-uniform scale above lo
        value = lo + sp.Rational(round(10 ** rng.uniform(-1.3, 1.3) * 10**6), 10**6)
    elif hi.is_finite:
        value = hi - sp.Rational(round(10 ** rng.uniform(-1.3, 1.3) * 10**6), 10**6)
    else:
        value = sp.Rational(rng.randint(-3000, 3000), 1000)
    # exact rationals stay as drawn: nsimplify would spend ~30 ms in PSLQ on each and can turn
    # e.g. 1941/1000 into a product of radicals
    return value if value.is_Rational else sp.nsimplify(value)


def _holds(condition, point) -> bool:
    """Does ``condition`` (a SymPy relational) hold at ``point``? Evaluated numerically, never
    by building a half-substituted relational (SymPy would try to decide its sign symbolically)."""
    if condition in (sp.true, True):
        return True
    diff = (condition.lhs - condition.rhs).xreplace(point).evalf(PRECISION)
    if not diff.is_number or not diff.is_real:
        return False
    return bool(type(condition)(diff, 0))


def points(atoms: Iterable[sp.Basic], conditions=(), n: int = 24, seed: int = 0,
           max_tries: int = 400) -> list[dict]:
    """Up to ``n`` points satisfying every condition, by rejection sampling."""
    atoms = list(atoms)
    atoms += [a for a in unknowns(*(c.lhs - c.rhs for c in conditions if c not in (True, sp.true)))
              if a not in atoms]
    rng = random.Random(seed)
    found: list[dict] = []
    for _ in range(n * max_tries):
        if len(found) == n:
            break
        point = {a: _draw(a, rng) for a in atoms}
        if all(_holds(c, point) for c in conditions):
            found.append(point)
    return found


def evaluate(expr, point) -> sp.Expr | None:
    """``expr`` at ``point`` to ``PRECISION`` digits; None where it is undefined or not a number."""
    try:
        value = as_expr(expr).xreplace(point)
        if value.has(sp.Integral, sp.Sum, sp.Derivative):
            value = value.doit()
    except (ZeroDivisionError, TypeError, ValueError, ArithmeticError):
        return None
    return number(value)


def number(expr) -> sp.Expr | None:
    """A fully substituted ``expr`` to ``PRECISION`` digits; None where undefined or not a number."""
    try:
        value = expr.evalf(PRECISION)
    except (ZeroDivisionError, TypeError, ValueError, ArithmeticError):
        return None
    if not value.is_number or value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        return None
    return value


def show(point: dict) -> dict:
    """A counterexample point in readable form (names -> short decimals)."""
    return {str(k): _short(v) for k, v in point.items()}


def _short(value) -> str | float:
    value = as_expr(value)
    if value.is_Integer:
        return int(value)
    if value.is_Rational:
        return float(value)
    if value.is_real:
        return float(sp.N(value, 17))
    return str(sp.N(value, 12))
