"""Piecewise functions of one variable: where the formula changes, the open intervals in
between, and proofs carried out interval by interval.

Why: Max, Min, Abs, Heaviside and sign (the 0-1 and hinge losses, the generator of total
variation) defeat SymPy's simplifier, yet between consecutive breakpoints each of them is one
smooth formula. So a claim about such a function is proved on every open interval, with the
interval written as the image of a fresh positive symbol u (its bounds become sign
assumptions), and at every breakpoint exactly, by substitution. Several variables give a grid
of cells (one interval or point per variable).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy as sp

from .symbols import as_expr

from .evidence import Evidence, Kind, Status
from .branches import NONANALYTIC, to_piecewise
from .prove import check_relation, positive_parametrisation

oo = sp.oo
NONSMOOTH = NONANALYTIC
DIGITS = 50


class PiecewiseError(ValueError):
    """The pieces of a function could not be located in closed form."""


def is_smooth(expr) -> bool:
    return not as_expr(expr).has(*NONSMOOTH)


def _key(x) -> float:
    return float(sp.N(x, DIGITS))


def breakpoints(expr, var, domain=sp.S.Reals) -> list[sp.Expr]:
    """Sorted points of ``domain`` where a Piecewise condition of ``expr`` changes in ``var``."""
    found: set = set()
    for pw in to_piecewise(expr).atoms(sp.Piecewise):
        for _, cond in pw.args:
            for rel in as_expr(cond).atoms(sp.core.relational.Relational):
                if var not in rel.free_symbols:
                    continue
                roots = sp.solveset(rel.lhs - rel.rhs, var, domain)
                if not isinstance(roots, sp.FiniteSet):
                    raise PiecewiseError(f"cannot locate where {rel} changes: {roots}")
                found |= set(roots)
    return sorted(found, key=_key)


@dataclass(frozen=True)
class Region:
    """The open interval (lo, hi), or the single point lo when ``point``."""

    lo: sp.Expr
    hi: sp.Expr
    point: bool = False

    def sample(self) -> sp.Expr:
        """An exact point inside (any point does: no breakpoint lies inside)."""
        lo, hi = self.lo, self.hi
        if self.point:
            return lo
        if lo.is_finite and hi.is_finite:
            return (lo + hi) / 2
        if lo.is_finite:
            return lo + 1
        return hi - 1 if hi.is_finite else sp.S.Zero

    def param(self, u: sp.Symbol, var: sp.Symbol) -> sp.Expr:
        """A map of u > 0 onto the region (``var`` itself for the whole real line)."""
        lo, hi = self.lo, self.hi
        if self.point:
            return lo
        if lo.is_finite and hi.is_finite:
            return lo + (hi - lo) * u / (1 + u)
        if lo.is_finite:
            return lo + u
        return hi - u if hi.is_finite else var

    def as_set(self) -> sp.Set:
        return sp.FiniteSet(self.lo) if self.point else sp.Interval.open(self.lo, self.hi)

    def condition(self, var) -> sp.Basic:
        return sp.Eq(var, self.lo) if self.point else self.as_set().as_relational(var)

    def __str__(self) -> str:
        return f"{{{self.lo}}}" if self.point else f"({self.lo}, {self.hi})"


def regions(points, lo=-oo, hi=oo) -> list[Region]:
    """The open intervals between consecutive ``points`` of (lo, hi), and the points."""
    pts = [as_expr(p) for p in points if _key(lo) < _key(p) < _key(hi)] if points else []
    out, left = [], as_expr(lo)
    for p in pts:
        out += [Region(left, p), Region(p, p, True)]
        left = p
    out.append(Region(left, as_expr(hi)))
    return out


def _sign_known(diff, rel) -> bool | None:
    """The truth of ``diff rel 0`` for every value of the (positive) symbols, when SymPy sees it."""
    want = {">": "is_positive", ">=": "is_nonnegative", "<": "is_negative", "<=": "is_nonpositive"}
    against = {">": "is_nonpositive", ">=": "is_negative", "<": "is_nonnegative", "<=": "is_positive"}
    if rel in ("==", "!="):
        zero = next((f.is_zero for f in (diff, sp.factor(diff)) if f.is_zero is not None), None)
        return None if zero is None else zero == (rel == "==")
    bounded, _ = positive_parametrisation(diff)  # e.g. r in (0, 1) as w/(1 + w): 1 - r > 0 is seen
    for form in (diff, sp.factor(sp.expand(diff)), sp.factor(sp.together(bounded))):
        if getattr(form, want[rel]):
            return True
        if getattr(form, against[rel]):
            return False
    return None


def holds_everywhere(cond, param: dict) -> bool | None:
    """Is ``cond`` true (True), false (False) on the whole cell ``param`` maps onto, or unknown?"""
    c = as_expr(cond).subs(param)
    if c in (sp.true, sp.false):
        return bool(c)
    if isinstance(c, sp.core.relational.Relational):
        return _sign_known(c.lhs - c.rhs, c.rel_op)
    if isinstance(c, (sp.And, sp.Or)):
        parts = [holds_everywhere(a, {}) for a in c.args]
        decisive = isinstance(c, sp.Or)  # Or: one True decides; And: one False decides
        if decisive in parts:
            return decisive
        return None if None in parts else not decisive
    if isinstance(c, sp.Not):
        inner = holds_everywhere(c.args[0], {})
        return None if inner is None else not inner
    return None


def resolve(expr, point: dict, param: dict | None = None) -> sp.Expr:
    """``expr`` with each Piecewise replaced by its branch at ``point``.

    With ``param`` (the cell's parametrisation), the choice is also proved to hold on the whole
    cell: the chosen condition true and every earlier one false everywhere in it. Otherwise
    (``PiecewiseError``) the cell straddles a breakpoint of ``expr`` and must not be resolved.
    """
    def branch(pw):
        for value, cond in pw.args:
            truth = as_expr(cond).subs(point)
            if truth not in (sp.true, sp.false):
                truth = as_expr(truth.simplify())
            if truth not in (sp.true, sp.false):
                raise PiecewiseError(f"condition {cond} is undecided at {point}")
            if param is not None and holds_everywhere(cond, param) is not bool(truth):
                raise PiecewiseError(f"condition {cond} changes inside the cell")
            if truth is sp.true:
                return value
        raise PiecewiseError(f"no branch of {pw} holds at {point}")
    return to_piecewise(expr).replace(lambda e: isinstance(e, sp.Piecewise), branch)


def cells(grid: dict) -> list[dict]:
    """All combinations of one region per variable: ``{var: [Region, ...]}`` -> [{var: Region}]."""
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[v] for v in names))]


def root_degree(exprs, var) -> int:
    """The least n such that every power of ``var`` in ``exprs`` is a whole power of var^(1/n)."""
    n = 1
    for e in exprs:
        for p in as_expr(e).atoms(sp.Pow):
            if p.base == var and p.exp.is_Rational:
                n = sp.ilcm(n, p.exp.q)
    return int(n)


def _param(region: "Region", u, var, n: int):
    """``region.param``, through var = w^n for a variable under n-th roots (t^(1/3): on t > 1,
    t = (1 + u)^3, so t^(1/3) - 1 = u, which SymPy signs). The map is onto the same region."""
    if n == 1 or region.point or not (region.lo.is_nonnegative and (region.hi is oo or region.hi.is_positive)):
        return region.param(u, var)
    root = Region(region.lo ** sp.Rational(1, n), region.hi if region.hi is oo else region.hi ** sp.Rational(1, n))
    return root.param(u, var) ** n


def _fresh(var) -> sp.Symbol:
    return sp.Symbol(f"u_{var.name}", positive=True)


def check_on_cells(lhs, rel, rhs, grid: dict, fixed: dict | None = None,
                   symbolic_seconds: float = 3.0) -> Evidence:
    """Evidence for ``lhs rel rhs`` on every cell of ``grid`` (``{var: [Region]}``).

    ``fixed`` substitutions are applied first (e.g. p_d = t p_g). On an open cell the active
    branches are chosen at the cell's sample point and the variables are parametrised by fresh
    positive symbols; a counterexample is reported in the original variables.
    """
    lhs, rhs = as_expr(lhs), as_expr(rhs)
    if fixed:
        lhs, rhs = lhs.subs(fixed), rhs.subs(fixed)
    worst, details = Kind.SYMBOLIC, []
    for cell in cells(grid):
        sample = {v: r.sample() for v, r in cell.items()}
        fresh = {v: _fresh(v) for v in cell}
        param = {v: _param(r, fresh[v], v, root_degree((lhs, rhs), v)) for v, r in cell.items()}
        try:
            a, b = resolve(lhs, sample, param), resolve(rhs, sample, param)
        except PiecewiseError:  # branches not fixed by the cell: leave them to evaluation
            a, b = lhs, rhs
        a, b = a.subs(param), b.subs(param)
        ev = check_relation(a, rel, b, symbolic_seconds=symbolic_seconds)
        where = ", ".join(f"{v} in {r}" for v, r in cell.items())
        if ev.status is Status.REFUTED:
            example = dict(ev.counterexample or {})
            values = {u: sp.Float(example[str(u)], 17) for u in fresh.values() if str(u) in example}
            for v, p in param.items():
                if p.free_symbols <= set(values):
                    example[str(v)] = float(p.subs(values))
            named = {s.name: s for s in lhs.free_symbols | rhs.free_symbols | set(cell)}
            known = {named[k]: sp.Float(val, 17) for k, val in example.items()
                     if k in named and isinstance(val, (int, float))}
            for v, e in (fixed or {}).items():  # e.g. p_d = t p_g: report p_d as well
                value = as_expr(e).subs(known)
                if value.is_number:
                    example[str(v)] = float(value)
            return Evidence(Status.REFUTED, ev.kind, f"fails where {where}: {ev.detail}",
                            counterexample=example)
        if ev.status is not Status.PROVED:
            return Evidence(ev.status, ev.kind, f"where {where}: {ev.detail}")
        if ev.kind is not Kind.SYMBOLIC:
            worst = ev.kind
        details.append(where)
    n = len(details)
    how = "symbolically" if worst is Kind.SYMBOLIC else "at random high-precision points"
    return Evidence(Status.PROVED, worst,
                    f"holds {how} on each of {n} cell{'s' * (n != 1)}: " + "; ".join(details),
                    extra={"cells": n})


def combine(parts: list[tuple[str, Evidence]]) -> Evidence:
    """One verdict from named pieces of evidence: the first failure, else the weakest proof."""
    for name, ev in parts:
        if ev.status is not Status.PROVED:
            return Evidence(ev.status, ev.kind, f"{name}: {ev.detail}", ev.counterexample)
    kind = Kind.SYMBOLIC
    for _, ev in parts:
        if ev.kind is not Kind.SYMBOLIC:
            kind = ev.kind
    return Evidence(Status.PROVED, kind, "; ".join(f"{name}: {ev.detail}" for name, ev in parts))
