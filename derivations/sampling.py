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


REGIMES = ("ordinary", "wide", "edge")


def _decimal(x: float) -> sp.Rational:
    """A float as the exact decimal of its 7 significant digits (small numerators and
    denominators: exact arithmetic stays fast)."""
    return sp.Rational(f"{x:.6e}")


def _offset(rng: random.Random, regime: str) -> sp.Rational:
    """A positive distance from a bound: about 0.05-20 ordinarily, 10^-9-10^6 when wide,
    10^-9-10^-2 (close to the bound) at an edge."""
    exponent = {"ordinary": (-1.3, 1.3), "wide": (-9.0, 6.0), "edge": (-9.0, -2.0)}[regime]
    return _decimal(10 ** rng.uniform(*exponent))


def _draw_value(dom, rng: random.Random, regime: str = "ordinary") -> sp.Rational:
    """A value strictly inside ``dom`` (integers: inside the closed range). Ordinary values fill
    a moderate box; wide ones span 15 orders of magnitude; edge ones sit next to a bound (or next
    to 0 on the real line), where differences that vanish inside the box show."""
    lo, hi = dom.lo, dom.hi
    if dom.integer:
        lo_i = int(lo) if lo.is_finite else (int(hi) - 5 if hi.is_finite else -5)
        hi_i = int(hi) if hi.is_finite else None
        if regime == "ordinary" or hi_i is not None and hi_i - lo_i <= 8:
            return sp.Integer(rng.randint(lo_i, hi_i if hi_i is not None and hi_i < lo_i + 5 else lo_i + 5))
        if regime == "edge":
            return sp.Integer(lo_i if hi_i is None or rng.random() < 0.5 else hi_i)
        top = 6 if hi_i is None else max(1.0, float(sp.log(hi_i - lo_i + 1, 10)))
        value = lo_i + int(10 ** rng.uniform(0, top))
        return sp.Integer(value if hi_i is None else min(value, hi_i))
    if lo.is_finite and hi.is_finite:
        if regime == "ordinary":
            return lo + (hi - lo) * sp.Rational(round(rng.uniform(0.02, 0.98) * 10**6), 10**6)
        near = _decimal(10 ** rng.uniform(-9.0, -1.0))   # a fraction of the interval's width
        return lo + (hi - lo) * near if rng.random() < 0.5 else hi - (hi - lo) * near
    if lo.is_finite:
        return lo + _offset(rng, regime)
    if hi.is_finite:
        return hi - _offset(rng, regime)
    if regime == "ordinary":
        return sp.Rational(rng.randint(-3000, 3000), 1000)
    return _offset(rng, regime) * rng.choice((-1, 1))


def domain_of(atom: sp.Basic):
    """The interval an atom's values come from: its declaration, or its SymPy assumptions for an
    undeclared symbol, an indexed symbol (sigma[j] with sigma positive) or an unknown function
    value (p(x) positive)."""
    if isinstance(atom, sp.Symbol):
        return symtab.info(atom).domain
    integer = bool(atom.is_integer)
    if atom.is_positive:
        return symtab.Domain(sp.S.Zero, sp.oo, integer)
    if atom.is_negative:
        return symtab.Domain(-sp.oo, sp.S.Zero, integer)
    return symtab.Domain(-sp.oo, sp.oo, integer)


def _draw(atom: sp.Basic, rng: random.Random, regime: str = "ordinary") -> sp.Rational:
    if isinstance(atom, sp.Derivative):
        return _draw_value(symtab.Domain(), rng, regime)
    return _draw_value(domain_of(atom), rng, regime)


def regime_of(index: int, n: int, rng: random.Random) -> callable:
    """Which regime each symbol of the ``index``-th of ``n`` points draws from: the first half of
    the points are ordinary (a moderate box), the rest mix ordinary, wide and edge values
    symbol by symbol, so that every symbol is seen at large, tiny and near-bound values."""
    if index < (n + 1) // 2:
        return lambda: "ordinary"
    return lambda: rng.choice(REGIMES)


def admissible(point: dict, conditions=()) -> bool:
    """Is every value inside its atom's domain and every condition true at ``point``?"""
    for atom, value in point.items():
        if isinstance(atom, sp.Derivative):
            continue
        dom = domain_of(atom)
        if not dom.contains(value):
            return False
        if dom.integer and not as_expr(value).is_integer:
            return False
    return all(_holds(c, point) for c in conditions)


def _holds(condition, point) -> bool:
    """Does ``condition`` (a SymPy relational) hold at ``point``? Evaluated numerically, never
    by building a half-substituted relational (SymPy would try to decide its sign symbolically)."""
    if condition in (sp.true, True):
        return True
    diff = (condition.lhs - condition.rhs).xreplace(point).evalf(PRECISION)
    if not diff.is_number or not diff.is_real:
        return False
    return bool(type(condition)(diff, 0))


BISECTIONS = 48


def toward(inside: dict, outside: dict, holds, steps: int = BISECTIONS, moving=None) -> dict | None:
    """The point of the segment from ``inside`` (where ``holds``) to ``outside`` (where it does
    not) that is last to hold, to about 2^-steps of the segment: a point next to the boundary.
    Only the ``moving`` coordinates move (default: every non-integer one that differs). None when
    no such point is found."""
    if not holds(inside) or holds(outside):
        return None
    lo, hi = sp.Integer(0), sp.Integer(1)
    if moving is None:
        moving = [a for a in inside if a in outside and inside[a] != outside[a]
                  and not domain_of(a).integer]
    if not moving:
        return None

    def at(lam):
        point = dict(inside)
        for a in moving:
            point[a] = inside[a] + lam * (outside[a] - inside[a])
        return point

    for _ in range(steps):
        mid = (lo + hi) / 2
        if holds(at(mid)):
            lo = mid
        else:
            hi = mid
    point = at(lo)
    return point if holds(point) else None


def near_conditions(atoms, conditions, base: list[dict], rng: random.Random, per_condition: int = 2) -> list[dict]:
    """Admissible points next to each side condition's boundary (sigma_t^2 -> 1 - abar_{t-1}):
    from an admissible point, one symbol of the condition is moved toward a value that breaks
    it, by bisection, until the condition only just holds."""
    out: list[dict] = []
    conditions = [c for c in conditions if c not in (True, sp.true) and getattr(c, "is_Relational", False)]
    if not base:
        return out
    for c in conditions:
        made = 0
        for attempt in range(12 * per_condition):
            if made >= per_condition:
                break
            p = base[(attempt + made) % len(base)]
            movable = [a for a in sorted(c.free_symbols, key=sp.default_sort_key)
                       if a in p and not domain_of(a).integer]
            if not movable:
                break
            a = rng.choice(movable)
            q = dict(p)
            q[a] = _draw(a, rng, rng.choice(REGIMES))
            if _holds(c, q):
                continue
            others = [o for o in conditions if o is not c]
            point = toward(p, q, lambda x: _holds(c, x) and all(_holds(o, x) for o in others))
            if point is not None and admissible(point, conditions):
                out.append(point)
                made += 1
    return out


SUM_SIZES = (1, 2, 3, 4, 5, 7, 12, 23)


def sum_size(index: int, atom, cap: int = 64) -> sp.Integer:
    """The ``index``-th size at which a sum's upper limit is drawn: small ones, where a sum is
    easy to get right by hand, and up to ``cap`` terms (an answer wrong only from the fifth term
    on, or with an added (n-1)(n-2)(n-3)(n-4), shows), inside the limit's own domain."""
    dom = domain_of(atom)
    sizes = [k for k in SUM_SIZES if k <= cap] or [1]
    k = sizes[index % len(sizes)]
    lo = int(dom.lo) if dom.lo.is_finite else 1
    hi = int(dom.hi) if dom.hi.is_finite else None
    k = max(k, lo)
    return sp.Integer(min(k, hi) if hi is not None else k)


def nested_sums(*exprs) -> bool:
    """Does a sum or product sit inside another (its terms then multiply: fewer sizes)?"""
    for e in exprs:
        for op in as_expr(e).atoms(sp.Sum, sp.Product):
            if op.function.has(sp.Sum, sp.Product):
                return True
    return False


def points(atoms: Iterable[sp.Basic], conditions=(), n: int = 24, seed: int = 0,
           max_tries: int = 400, small=(), small_cap: int = 64) -> list[dict]:
    """Up to ``n`` points satisfying every condition (rejection sampling over the whole domain:
    ordinary, wide and near-bound values), then points next to each condition's boundary.
    Atoms in ``small`` (the upper limits of sums) take the sizes of ``sum_size`` in turn (up to
    ``small_cap`` terms). Every point is admissible."""
    atoms = list(atoms)
    atoms += [a for a in unknowns(*(c.lhs - c.rhs for c in conditions if c not in (True, sp.true)))
              if a not in atoms]
    rng = random.Random(seed)
    found: list[dict] = []
    for _ in range(n * max_tries):
        if len(found) == n:
            break
        pick = regime_of(len(found), n, rng)
        point = {a: sum_size(len(found), a, small_cap) if a in small else _draw(a, rng, pick()) for a in atoms}
        if all(_holds(c, point) for c in conditions):
            found.append(point)
    found += near_conditions(atoms, conditions, found, rng)
    for point in found:
        assert admissible(point, conditions), f"a point outside the domain was drawn: {point}"
    return found


HUGE_EXPONENT = 10**4


def _huge_power(expr) -> bool:
    return any(p.exp.is_Number and abs(p.exp) > HUGE_EXPONENT for p in expr.atoms(sp.Pow))


def evaluate(expr, point, digits: int = PRECISION) -> sp.Expr | None:
    """``expr`` at ``point`` to ``digits`` digits; None where it is undefined or not a number."""
    try:
        expr = as_expr(expr)
        if _huge_power(expr):       # u^(10^12): exact rationals would be built digit by digit first
            point = {k: sp.Float(v, digits + 20) for k, v in point.items()}
        value = expr.xreplace(point)
        if value.has(sp.Integral, sp.Sum, sp.Derivative):
            value = value.doit()
    except (ZeroDivisionError, TypeError, ValueError, ArithmeticError):
        return None
    return number(value, digits)


def number(expr, digits: int = PRECISION) -> sp.Expr | None:
    """A fully substituted ``expr`` to ``digits`` digits; None where undefined or not a number."""
    try:
        value = expr.evalf(digits)
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


class PointSpace:
    """Points for a derivation step's relation (``identity``'s space): admissible values of its
    free symbols and unknown-function values, drawn once."""

    def __init__(self, exprs, conditions=(), n: int = 24, seed: int = 0):
        atoms = unknowns(*exprs)
        small = set()
        for e in exprs:
            for op in as_expr(e).atoms(sp.Sum, sp.Product):
                for lim in op.limits:
                    small |= set(lim[1].free_symbols) | set(lim[2].free_symbols)
        self.conditions = tuple(conditions)
        self._atoms, self._small, self._seed = atoms, small, seed
        self._cap = 12 if nested_sums(*exprs) else 64
        self._points = points(atoms, self.conditions, n=n, seed=seed, small=small, small_cap=self._cap)

    def more(self, n: int) -> list[dict]:
        """``n`` further points, every symbol wide or near a bound (for a region no ordinary point hits);
        drawn once per space, whichever region asks first."""
        if getattr(self, "_more", None) is None or len(self._more) < n:
            self._more = self._draw_more(n)
        return self._more[:n]

    def _draw_more(self, n: int) -> list[dict]:
        rng = random.Random(self._seed + 7777)
        out = []
        for _ in range(n * 20):
            if len(out) == n:
                break
            point = {a: sum_size(len(out), a, self._cap) if a in self._small else _draw(a, rng, rng.choice(REGIMES[1:]))
                     for a in self._atoms}
            if all(_holds(c, point) for c in self.conditions):
                out.append(point)
        return out

    def points(self) -> list[dict]:
        return self._points

    def value(self, expr, point, digits: int = PRECISION):
        return evaluate(expr, point, digits)

    def toward(self, inside, outside, holds):
        found = toward(inside, outside, lambda x: holds(x) and all(_holds(c, x) for c in self.conditions))
        return found if found is not None and admissible(found, self.conditions) else None

    def show(self, point) -> dict:
        return show(point)

    @staticmethod
    def extremeness(point) -> float:
        return max((abs(float(sp.log(abs(v), 10))) for v in point.values() if v != 0), default=0.0)
