"""Random admissible worlds in which an answer and its reference are both evaluated.

A world gives every free symbol a value inside its domain and the slot's conditions
(``derivations.sampling``), every unknown-function value (eps_theta(x_t), a derivative
d/dx s_theta(x), an indexed sigma_j) a random value of its own, and every integral over
densities a meaning on a random finite support: with densities P, Q on K points,
\\int g(p_d(x), p_g(x)) dx is sum_k g(P_k, Q_k), so \\int p_d = \\int p_g = 1 holds exactly and
a named divergence is the sum of its integrand. Sums with a symbolic upper limit are
expanded at the drawn (small) value of the limit.

Policy at bad points: where the *reference* is undefined or not finite the point is skipped;
where the reference is defined and the answer is not (a log of a negative number, a division
by zero, a complex value where the reference is real) the answer is wrong there.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import lru_cache

import sympy as sp

from ..symbols import as_expr
from sympy.core.function import AppliedUndef

from .. import sampling
from .. import symbols as symtab

PRECISION = sampling.PRECISION
REL_TOL = sp.Float("1e-28", PRECISION)


class Unsupported(ValueError):
    """An expression no world can give a value (e.g. an integral of unknown smooth functions)."""


@dataclass
class Integrated:
    """Named quantities that stand for integrals over x of their integrands in ``density`` symbols."""

    integrands: dict = field(default_factory=dict)   # symbol -> integrand in density values
    density: tuple = ()                               # p_d, p_g (symbols or function classes)

    def __bool__(self):
        return bool(self.density)


def _probabilities(k: int, rng: random.Random) -> list[sp.Rational]:
    w = [rng.randint(1, 40) for _ in range(k)]
    total = sum(w)
    return [sp.Rational(x, total) for x in w]


def _columns(names, k: int, index: int, rng: random.Random) -> dict:
    """Random densities on k points, one column per name. Besides generic ones, some worlds hold
    equal densities (p_d = p_g: divergences at 0), densities equal but for a perturbation of
    1e-4 or 1e-9 (divergences just above 0), and ones whose masses are nearly disjoint (values
    down to 1e-12: divergences near their maximum), where an answer wrong only at extreme
    divergence values shows."""
    first = _probabilities(k, rng)
    kind = index % 6
    if kind == 3:                     # equal
        return {name: list(first) for name in names}
    if kind == 4:                     # a small perturbation of the first density
        eps = sp.Rational(1, 10**rng.choice((4, 9)))
        out = {}
        for j, name in enumerate(names):
            if j == 0:
                out[name] = first
                continue
            w = [p * (1 + eps * rng.choice((-1, 1))) for p in first]
            total = sum(w)
            out[name] = [x / total for x in w]
        return out
    if kind == 5:                     # nearly disjoint supports
        tiny = sp.Rational(1, 10**12)
        out = {}
        for j, name in enumerate(names):
            w = [1 if (i + j) % 2 == 0 else tiny for i in range(k)]
            total = sum(w)
            out[name] = [x / total for x in w]
        return out
    return {name: first if j == 0 else _probabilities(k, rng) for j, name in enumerate(names)}


def _is_density(atom, integrated: Integrated) -> bool:
    if atom in integrated.density:
        return True
    return isinstance(atom, AppliedUndef) and atom.func in integrated.density


def _integrate_on_support(expr, integrated: Integrated, support: list[dict]):
    """Integrals and named integrals over densities -> sums over the finite support."""
    if not integrated:
        if expr.has(sp.Integral):
            raise Unsupported("an integral of unknown functions")
        return expr

    def point_sum(integrand):
        dens = {a for a in integrand.atoms(sp.Symbol, AppliedUndef) if _is_density(a, integrated)}
        return sp.Add(*(integrand.xreplace({a: vals[_density_name(a)] for a in dens}) for vals in support))

    def replace_integral(e):
        if e.limits and any(len(lim) == 3 and not (lim[1] == -sp.oo and lim[2] == sp.oo) for lim in e.limits):
            raise Unsupported("an integral over a bounded range")
        body = e.function
        bound = {lim[0] for lim in e.limits}
        body = body.xreplace({a: a.func for a in body.atoms(AppliedUndef)
                              if _is_density(a, integrated) and set(a.args) <= bound and len(a.args) == 1})
        if body.free_symbols & bound:
            raise Unsupported("an integrand that depends on x other than through the densities")
        return point_sum(body)

    expr = expr.replace(lambda e: isinstance(e, sp.Integral), replace_integral)
    named = {s: point_sum(n) for s, n in integrated.integrands.items() if s in expr.free_symbols}
    return expr.xreplace(named)


MAX_TERMS = 64


def _unroll(expr):
    """Sums and products with concrete limits written out term by term (no symbolic summation)."""
    def one(op):
        body = op.function
        for var, lo, hi in reversed(op.limits):
            if not (lo.is_Integer and hi.is_Integer):
                raise Unsupported("a sum whose range is not a number at this point")
            if hi - lo + 1 > MAX_TERMS:
                raise Unsupported(f"a sum of more than {MAX_TERMS} terms")
            terms = [body.xreplace({var: sp.Integer(k)}) for k in range(int(lo), int(hi) + 1)]
            body = (sp.Add if isinstance(op, sp.Sum) else sp.Mul)(*terms)
        return body
    while expr.has(sp.Sum, sp.Product):
        expr = expr.replace(lambda e: isinstance(e, (sp.Sum, sp.Product)) and not
                            any(isinstance(a, (sp.Sum, sp.Product)) for a in e.function.atoms(sp.Sum, sp.Product)),
                            one)
    return expr


def _density_name(atom) -> str:
    return atom.func.__name__ if isinstance(atom, AppliedUndef) else atom.name


VALUE_CACHE_SIZE = 8000
_VALUES: dict = {}      # (expr, digits, the world's whole state, integrated) -> (value, atoms, rng state)
_STATES: dict = {}      # one copy of each generator state the keys and values refer to


@dataclass
class World:
    """One draw: symbol values, and the random values of everything unknown."""

    point: dict
    support: list = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    atoms: dict = field(default_factory=dict)
    regime: str = "ordinary"

    def _random(self, atom) -> sp.Rational:
        """A value of its own for an unknown (eps_theta(x_t), sigma[j], a derivative), drawn from
        the atom's own domain (sigma[j] with sigma positive is positive; p(x) is positive)."""
        if atom not in self.atoms:
            name = str(atom.base.label) if isinstance(atom, sp.Indexed) else \
                getattr(getattr(atom, "func", None), "__name__", "") or str(atom)
            dom = sampling.domain_of(atom) if not isinstance(atom, sp.Derivative) else None
            if dom is not None and dom.lo == -sp.oo and not dom.integer and (
                    name[:1] in ("p", "q") or name.startswith("sigma")):
                dom = symtab.Domain(sp.S.Zero, sp.oo)      # densities and scales named as such
            self.atoms[atom] = sampling._draw_value(dom or symtab.Domain(), self.rng, self.regime)
        return self.atoms[atom]

    def value(self, expr, integrated: Integrated, digits: int = PRECISION):
        """``expr`` in this world to ``digits`` digits; None where undefined.

        A value depends on the expression and on the world's whole state: its point and support,
        the unknowns' values drawn so far and its generator's state (an unknown met for the first
        time is drawn now). Every answer to a slot is checked in the same worlds, so the
        reference's value is asked again and again from the same state: it is kept with the state
        it leaves (``_VALUES``) and a repeat restores that state instead of recomputing."""
        expr = as_expr(expr)
        key = self._key(expr, integrated, digits)
        if key is not None and key in _VALUES:
            value, atoms, state = _VALUES[key]
            self.atoms.clear()
            self.atoms.update(atoms)
            self.rng.setstate(state)
            return value
        value = self._value(expr, integrated, digits)
        if key is not None:
            if len(_VALUES) >= VALUE_CACHE_SIZE:
                _VALUES.clear()
                _STATES.clear()
            state = self.rng.getstate()
            _VALUES[key] = (value, dict(self.atoms), _STATES.setdefault(state, state))
        return value

    def _key(self, expr, integrated: Integrated, digits: int):
        try:
            state = self.rng.getstate()
            key = (expr, digits, frozenset(self.point.items()),
                   tuple(frozenset(pt.items()) for pt in self.support), self.regime,
                   _STATES.setdefault(state, state), tuple(self.atoms.items()),
                   frozenset(integrated.integrands.items()), tuple(integrated.density))
            hash(key)
            return key
        except TypeError:                  # something unhashable in the state: not kept
            return None

    def _value(self, expr, integrated: Integrated, digits: int):
        derivs = {d: self._random(d) for d in expr.atoms(sp.Derivative)}
        expr = expr.xreplace(derivs)
        expr = _integrate_on_support(expr, integrated, self.support)
        if _too_large_at(expr, self.point):
            return None                    # d^{d^d} at d = 6: exact arithmetic would not finish in time
        expr = expr.xreplace(self.point)
        if expr.has(sp.Sum, sp.Product):
            expr = _unroll(expr)
        unknown = {a: self._random(a) for a in expr.atoms(AppliedUndef, sp.Indexed)}
        expr = expr.xreplace(unknown)
        if _overflows(expr):
            return None                    # e^{e^{e^t}}: too large for any check; never a verdict
        return sampling.number(expr, digits)


def _holds(condition, point) -> bool:
    value = condition.xreplace(point)
    if value in (sp.true, sp.false):
        return bool(value)
    if isinstance(value, sp.Rel):
        diff = (value.lhs - value.rhs).evalf(30)
        return bool(diff.is_real) and bool(type(value)(diff, 0))
    return False


@lru_cache(maxsize=512)
def _points(symbols: tuple, conditions: tuple, n: int, seed: int, small: tuple = (), cap: int = 64) -> list[dict]:
    """``n`` points in the symbols' domains satisfying ``conditions`` (``sampling.points``: the
    whole domain, wide and near-bound values, and points next to each condition's boundary).
    Symbols in ``small`` (the upper limits of sums) take ``sampling.sum_size``'s sizes in turn (1 to
    ``cap`` terms). Cached: every answer to a slot is checked at the same points."""
    return sampling.points(symbols, conditions, n=n, seed=seed, small=small, small_cap=cap)


FLOAT_LIMIT = sp.Float("1e300")


def _too_large_at(expr, point) -> bool:
    """A 15-digit probe of ``expr`` at ``point`` (unknown function values as 1.5) before the exact
    substitution: SymPy evaluates integer powers exactly as it substitutes, so a value with
    millions of digits would be built first and noticed only after."""
    if not point or not expr.has(sp.Pow, sp.exp) or expr.has(sp.Sum, sp.Product, sp.Integral):
        return False
    try:
        probe = expr.xreplace({a: sp.Float(1.5) for a in expr.atoms(AppliedUndef, sp.Indexed, sp.Derivative)})
        probe = probe.xreplace({s: sp.Float(v, 15) for s, v in point.items()})
        if probe.is_Number:
            return bool(abs(probe) > FLOAT_LIMIT)
        return _overflows(probe)
    except (TypeError, ValueError, ArithmeticError, RecursionError):
        return False


def _overflows(expr) -> bool:
    """Does a float64 evaluation overflow? (then a 50-digit one could take unbounded time)"""
    import numpy as np

    from .quadrature import Unsupported as NoFloat, interpret
    try:
        with np.errstate(all="ignore"):
            value = complex(interpret(expr, {}))
    except (NoFloat, TypeError, ValueError, OverflowError, ZeroDivisionError):
        return False
    return value != value or abs(value) == float("inf")


def worlds(exprs, conditions=(), n: int = 24, seed: int = 0, integrated: Integrated | None = None):
    """Up to ``n`` admissible worlds for the free symbols of ``exprs``."""
    integrated = integrated or Integrated()
    free: set = set()
    for e in exprs:
        free |= as_expr(e).free_symbols
    free -= set(integrated.density)
    free -= set(integrated.integrands)
    labels, outside = set(), set()
    for e in exprs:      # the label of sigma[j] is no number of its own (unless used bare too)
        e = as_expr(e)
        idx = e.atoms(sp.Indexed)
        labels |= {b.label for b in e.atoms(sp.IndexedBase)}
        outside |= e.xreplace({i: sp.Integer(0) for i in idx}).free_symbols if idx else e.free_symbols
    free -= labels - outside
    symbols = sorted((s for s in free if isinstance(s, sp.Symbol)), key=sp.default_sort_key)
    conditions = tuple(c for c in conditions if isinstance(c, sp.Basic) and c.is_Relational
                       and c.free_symbols <= set(symbols))
    limits = set()
    for e in exprs:
        for op in as_expr(e).atoms(sp.Sum, sp.Product):
            for lim in op.limits:
                limits |= set(lim[1].free_symbols) | set(lim[2].free_symbols)
    cap = 12 if sampling.nested_sums(*exprs) else 64
    pts = _points(tuple(symbols), conditions, n, seed, tuple(sorted(limits, key=sp.default_sort_key)), cap)
    names = sorted({_density_name(d) if isinstance(d, AppliedUndef) else
                    (d.__name__ if isinstance(d, sp.FunctionClass) else d.name)
                    for d in integrated.density})
    out = []
    for i, point in enumerate(pts):
        rng = random.Random(seed * 7919 + i)
        support = []
        if names:
            k = 2 + i % 3
            columns = _columns(names, k, i, rng)
            support = [{name: columns[name][j] for name in names} for j in range(k)]
        out.append(World(point, support, rng, regime="ordinary" if i < (n + 1) // 2 else rng.choice(sampling.REGIMES)))
    return out


def differ(a, r) -> bool:
    """Do two values differ beyond rounding at ``PRECISION`` digits?"""
    tol = REL_TOL * max(abs(a), abs(r), sp.Float(1))
    return bool(abs(a - r) > tol)


def show(world: World) -> dict:
    """The world's symbol values, keyed by LaTeX names, for a counterexample."""
    out = {}
    for s, v in world.point.items():
        out[symtab.info(s).latex if isinstance(s, sp.Symbol) else str(s)] = sampling._short(v)
    for a, v in world.atoms.items():
        if len(out) < 16:
            out[str(a)] = sampling._short(v)
    if world.support:
        out["support"] = [{k: sampling._short(v) for k, v in pt.items()} for pt in world.support]
    return out


class WorldSpace:
    """Worlds as ``identity``'s space: an answer and its reference compared world by world."""

    def __init__(self, worlds_: list, integrated: Integrated | None = None, conditions=(), exprs=(), seed: int = 0):
        self.worlds = worlds_
        self.exprs, self.seed = exprs, seed
        self.integrated = integrated or Integrated()
        self.conditions = tuple(c for c in conditions if isinstance(c, sp.Basic) and c.is_Relational)

    def points(self) -> list:
        return self.worlds

    def internal(self, switch) -> bool:
        """A switch in the densities' values (|p_d - p_g| inside an integral): each world resolves
        it at every point of its finite support, so it splits no world."""
        names = {(d.__name__ if isinstance(d, sp.FunctionClass) else getattr(d, "name", str(d)))
                 for d in self.integrated.density}
        atoms = {a.func.__name__ if isinstance(a, AppliedUndef) else a.name
                 for a in switch.atoms(sp.Symbol, AppliedUndef)}
        return bool(atoms & names)

    def more(self, n: int) -> list:
        """``n`` further worlds, every symbol wide or near a bound."""
        if not self.exprs:
            return []
        if getattr(self, "_more", None) is None or len(self._more) < n:      # drawn once per space
            out = worlds(self.exprs, self.conditions, n=2 * n, seed=self.seed + 7777, integrated=self.integrated)
            self._more = out[len(out) // 2:] + out[:len(out) // 2]
        return self._more[:n]

    def value(self, expr, world, digits: int = PRECISION):
        return world.value(expr, self.integrated, digits)

    def toward(self, inside: World, outside: World, holds):
        """Bisection between two worlds: symbol values, and density columns where both worlds
        have supports of the same size."""
        same_support = len(inside.support) == len(outside.support)
        keys = [("point", s) for s in inside.point if s in outside.point and not sampling.domain_of(s).integer]
        if same_support:
            keys += [("support", (j, name)) for j, pt in enumerate(inside.support) for name in pt]

        def flat(w):
            return {k: (w.point[k[1]] if k[0] == "point" else w.support[k[1][0]][k[1][1]]) for k in keys}

        def build(values):
            point = dict(inside.point)
            support = [dict(pt) for pt in inside.support]
            for k, v in values.items():
                if k[0] == "point":
                    point[k[1]] = v
                else:
                    support[k[1][0]][k[1][1]] = v
            return World(point, support, inside.rng, dict(inside.atoms), inside.regime)

        def ok(values):
            w = build(values)
            return all(_holds(c, w.point) for c in self.conditions) and holds(w)

        values = sampling.toward(flat(inside), flat(outside), ok, moving=keys)
        return build(values) if values is not None else None

    def show(self, world) -> dict:
        return show(world)

    @staticmethod
    def extremeness(world) -> float:
        return sampling.PointSpace.extremeness(world.point)
