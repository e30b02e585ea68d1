"""Looking for a counterexample to an inequality: the only verdict numbers may give it.

Random admissible points across the whole domain (``sampling.PointSpace``, 48 of them), then
a few Nelder-Mead descents of the signed gap from the worst points found, in coordinates that
keep every symbol inside its domain. A candidate found in floating point is re-checked in
exact arithmetic at 50 digits before it is reported. What the search does not refute stays
unchecked, with the worst point it found.
"""
from __future__ import annotations

import cmath
import math
from dataclasses import dataclass

import sympy as sp

from . import sampling
from .limits import CheckTimeout, time_limit
from .symbols import as_expr

SEARCH_POINTS = 48
SEARCH_SECONDS = 4.0
STARTS = 4
EVALUATIONS = 250
REL_TOL = sp.Float("1e-30", sampling.PRECISION)


@dataclass
class Found:
    counterexample: dict | None = None
    worst: dict | None = None
    tried: int = 0
    how: str = ""


def _gap(a, b, rel):
    """How far ``a rel b`` is from failing: >= 0 where it holds (> 0 for strict relations)."""
    return a - b if rel in (">=", ">") else b - a


def _fails(gap, a, b, rel) -> bool:
    tol = REL_TOL * max(abs(a), abs(b), sp.Float(1))
    if not (a.is_real and b.is_real):
        return True
    return bool(gap < -tol) if rel in (">=", "<=") else bool(gap < tol)


def _example(point, a, b) -> dict:
    example = sampling.show(point)
    example.update(lhs=sampling._short(a), rhs=sampling._short(b))
    return example


class _Coordinates:
    """Unconstrained coordinates z for a point's continuous atoms: x = lo + (hi - lo) sigmoid(z),
    lo + e^z, hi - e^z or z, so that every z gives a value inside the domain."""

    def __init__(self, atoms):
        self.atoms = [a for a in atoms if not sampling.domain_of(a).integer]

    def to_z(self, point) -> list[float]:
        out = []
        for a in self.atoms:
            dom, x = sampling.domain_of(a), float(point[a])
            lo, hi = dom.lo, dom.hi
            if lo.is_finite and hi.is_finite:
                u = min(max((x - float(lo)) / float(hi - lo), 1e-15), 1 - 1e-15)
                out.append(math.log(u / (1 - u)))
            elif lo.is_finite:
                out.append(math.log(max(x - float(lo), 1e-300)))
            elif hi.is_finite:
                out.append(math.log(max(float(hi) - x, 1e-300)))
            else:
                out.append(x)
        return out

    def to_point(self, z, base: dict) -> dict:
        point = dict(base)
        for a, zi in zip(self.atoms, z):
            dom = sampling.domain_of(a)
            lo, hi = dom.lo, dom.hi
            zi = max(min(float(zi), 700.0), -700.0)
            if lo.is_finite and hi.is_finite:
                x = float(lo) + float(hi - lo) / (1 + math.exp(-zi))
            elif lo.is_finite:
                x = float(lo) + math.exp(zi)
            elif hi.is_finite:
                x = float(hi) - math.exp(zi)
            else:
                x = zi
            point[a] = sp.Rational(f"{x:.15e}")
        return point


_UNARY = {sp.exp: cmath.exp, sp.log: cmath.log, sp.sin: cmath.sin, sp.cos: cmath.cos, sp.tan: cmath.tan,
          sp.sinh: cmath.sinh, sp.cosh: cmath.cosh, sp.tanh: cmath.tanh, sp.atan: cmath.atan,
          sp.Abs: abs, sp.sign: lambda z: (z.real > 0) - (z.real < 0)}


def _float(expr, env: dict) -> complex:
    """``expr`` in complex floating point, by walking the tree (no code is generated or run)."""
    if expr in env:
        return env[expr]
    if expr.is_Number or expr.is_NumberSymbol:
        return complex(expr)
    args = [_float(a, env) for a in expr.args]
    if isinstance(expr, sp.Add):
        return sum(args)
    if isinstance(expr, sp.Mul):
        out = 1
        for a in args:
            out *= a
        return out
    if isinstance(expr, sp.Pow):
        base, exp = args
        return base ** (exp.real if exp.imag == 0 else exp)
    if isinstance(expr, (sp.Max, sp.Min)):
        reals = [a.real for a in args]
        return complex(max(reals) if isinstance(expr, sp.Max) else min(reals))
    for kind, fn in _UNARY.items():
        if isinstance(expr, kind):
            return complex(fn(args[0]))
    raise ValueError(f"{type(expr).__name__} has no float evaluation here")


def _float_gap(pairs, rel, atoms):
    """A float function of the atoms' values giving the smallest gap over ``pairs``, or None."""
    gaps = [_gap(as_expr(a), as_expr(b), rel) for a, b in pairs]

    def gap(values):
        env = dict(zip(atoms, (complex(v) for v in values)))
        out = math.inf
        for g in gaps:
            try:
                v = _float(g, env)
            except (ValueError, TypeError, ZeroDivisionError, OverflowError, RecursionError):
                return math.inf
            if v.real != v.real:
                return math.inf
            if abs(v.imag) > 1e-12 * max(1.0, abs(v.real)):
                return -math.inf          # not real where both sides should be: worth an exact look
            out = min(out, v.real)
        return out
    try:
        gap([1.0] * len(atoms))
    except Exception:
        return None
    return gap


def violation(pairs, rel, conditions=(), seed: int = 0, seconds: float = SEARCH_SECONDS) -> Found:
    """A point where ``a rel b`` fails for some pair, checked exactly; else the worst point seen."""
    found = Found()
    worst_gap = None
    try:
        with time_limit(seconds, cpu=True):     # CPU time: as far on a loaded machine as on an idle one
            space = sampling.PointSpace([x for pair in pairs for x in pair], conditions, n=SEARCH_POINTS, seed=seed)
            scored = []
            for point in space.points():
                found.tried += 1
                low = None
                for a_expr, b_expr in pairs:
                    a, b = space.value(a_expr, point), space.value(b_expr, point)
                    if a is None or b is None:
                        low = None
                        break
                    g = _gap(a, b, rel)
                    if _fails(g, a, b, rel):
                        found.counterexample, found.how = _example(point, a, b), "random admissible point"
                        return found
                    low = g if low is None else min(low, g)
                if low is not None:
                    scored.append((low, point))
                    if worst_gap is None or low < worst_gap:
                        worst_gap, found.worst = low, sampling.show(point)
            _descend(pairs, rel, conditions, space, scored, found)
    except CheckTimeout:
        pass
    return found


def _descend(pairs, rel, conditions, space, scored, found: Found) -> None:
    """Nelder-Mead on the smallest gap, from the worst points; exact re-check of each end point."""
    if not scored:
        return
    from scipy.optimize import minimize

    atoms = list(scored[0][1])
    coords = _Coordinates(atoms)
    gap = _float_gap(pairs, rel, atoms)
    if gap is None or not coords.atoms:
        return
    scored.sort(key=lambda item: item[0])
    for _, start in scored[:STARTS]:
        def objective(z, start=start):
            point = coords.to_point(z, start)
            if not all(sampling._holds(c, point) for c in conditions):
                return 1e300
            return gap([float(point[a]) for a in atoms])
        result = minimize(objective, coords.to_z(start), method="Nelder-Mead",
                          options={"maxfev": EVALUATIONS, "xatol": 1e-10, "fatol": 1e-14})
        found.tried += int(result.nfev)
        point = coords.to_point(result.x, start)
        if not sampling.admissible(point, conditions):
            continue
        for a_expr, b_expr in pairs:
            a, b = space.value(a_expr, point), space.value(b_expr, point)
            if a is not None and b is not None and _fails(_gap(a, b, rel), a, b, rel):
                found.counterexample, found.how = _example(point, a, b), "found by descent on the gap"
                return
