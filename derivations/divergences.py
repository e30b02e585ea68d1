"""Named f-divergences, and recognising a computed f as one of them up to normalisation.

Notation: p_d, p_g are the two densities at a point x (both > 0), t = p_d / p_g, and
I_f(P_d, P_g) = \\int f(p_d/p_g) p_g dx. Each entry gives the textbook generator f_N (with
f_N(1) = 0) and, written independently, the integrand n(p_d, p_g) whose integral is the named
divergence N; ``tests/test_fdiv.py`` proves p_g f_N(p_d/p_g) = n(p_d, p_g) for every entry.

Two generators give the same divergence up to a constant when f = a f_N + b + c (t - 1): the
term c (t - 1) integrates to c (\\int p_d - \\int p_g) = 0, and b to b. So
-1/2 I_f = -1/2 (a N + b); the constant b = f(1) is the "normalisation trap" of the seed.

Conventions: TV = 1/2 \\int |p_d - p_g| (in [0, 1]); Delta = \\int (p_d - p_g)^2/(p_d + p_g)
(triangular discrimination, in [0, 2]); JS = 1/2 KL(P_d||M) + 1/2 KL(P_g||M), M the mixture
(in [0, log 2]); H2 = 1/2 \\int (sqrt p_d - sqrt p_g)^2 (squared Hellinger with the 1/2, in
[0, 1]), and BC = \\int sqrt(p_d p_g) = 1 - H2 (Hellinger affinity / Bhattacharyya coefficient).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from .symbols import as_expr

from .evidence import Evidence
from .fdiv_pieces import (PiecewiseError, breakpoints, check_on_cells, combine, is_smooth, regions,
                          resolve)
from .prove import check_relation
from .symbols import declare

oo = sp.oo
t = declare("t", "t", 0, oo, meaning="density ratio p_d(x)/p_g(x)")
p_d = declare("p_d", "p_d", 0, oo, aliases=("p_{d}", "p_{data}", "p_{\\mathrm{data}}"),
              meaning="data density at x")
p_g = declare("p_g", "p_g", 0, oo, aliases=("p_{g}",), meaning="generator density at x")
q = declare("q", "q", 0, 1, meaning="P_d of the first point of a two-point space")
r = declare("r", "r", 0, 1, meaning="P_g of the first point of a two-point space")


@dataclass(frozen=True)
class Divergence:
    name: str
    title: str
    symbol: sp.Symbol
    generator: sp.Expr      # textbook f_N(t), f_N(1) = 0
    integrand: sp.Expr      # n(p_d, p_g), written from the definition (not from f_N)


def _named(name, latex, hi, title, generator, integrand) -> Divergence:
    return Divergence(name, title, declare(name, latex, 0, hi, meaning=title), generator, integrand)


TABLE = (
    _named("TV", r"\mathrm{TV}", 1, "total variation", sp.Abs(t - 1) / 2, sp.Abs(p_d - p_g) / 2),
    _named("Delta", r"\Delta", 2, "triangular discrimination", (t - 1) ** 2 / (t + 1),
           (p_d - p_g) ** 2 / (p_d + p_g)),
    _named("JS", r"\mathrm{JS}", sp.log(2), "Jensen-Shannon divergence",
           (t * sp.log(2 * t / (t + 1)) + sp.log(2 / (t + 1))) / 2,
           (p_d * sp.log(2 * p_d / (p_d + p_g)) + p_g * sp.log(2 * p_g / (p_d + p_g))) / 2),
    _named("H2", "H^2", 1, "squared Hellinger distance (1/2 convention)", (sp.sqrt(t) - 1) ** 2 / 2,
           (sp.sqrt(p_d) - sp.sqrt(p_g)) ** 2 / 2),
    _named("KL", r"\mathrm{KL}", oo, "Kullback-Leibler divergence KL(P_d||P_g)", t * sp.log(t),
           p_d * sp.log(p_d / p_g)),
    _named("KLrev", r"\mathrm{KL}_{\mathrm{rev}}", oo, "reverse KL divergence KL(P_g||P_d)",
           -sp.log(t), p_g * sp.log(p_g / p_d)),
    _named("chi2", r"\chi^2", oo, "Pearson chi-squared divergence", (t - 1) ** 2,
           (p_d - p_g) ** 2 / p_g),
)
BC = declare("BC", r"\mathrm{BC}", 0, 1, meaning="Hellinger affinity \\int sqrt(p_d p_g) = 1 - H2")
DEFINITIONS = {d.symbol: d.integrand for d in TABLE} | {BC: sp.sqrt(p_d * p_g)}
SCREEN_T = (sp.Rational(1, 3), sp.Rational(3, 2), sp.S(3), sp.Rational(7, 2), sp.S(9))


@dataclass(frozen=True)
class Match:
    """f(t) = a f_N(t) + b + c (t - 1), so -1/2 I_f = -1/2 (a N + b)."""

    divergence: Divergence
    a: sp.Expr
    b: sp.Expr
    c: sp.Expr

    @property
    def risk(self) -> sp.Expr:
        return sp.factor_terms(-(self.a * self.divergence.symbol + self.b) / 2)

    def normalisation(self) -> str:
        d = self.divergence
        return (f"f(t) = {self.a}*f_{d.name}(t) + ({self.b}) + ({self.c})*(t - 1), with the textbook "
                f"generator f_{d.name}(t) = {d.generator} (f_{d.name}(1) = 0): scale {self.a}, "
                f"constant shift f(1) = {self.b}, affine term c = {self.c} (integrates to 0)")

    def integrands(self, f) -> tuple[sp.Expr, sp.Expr]:
        """The two sides of the identity that makes the match: -1/2 p_g f(p_d/p_g) = ... ."""
        lhs = -p_g * as_expr(f).subs(t, p_d / p_g) / 2
        rhs = -(self.a * self.divergence.integrand + self.b * p_g + self.c * (p_d - p_g)) / 2
        return lhs, rhs


def _nice(x) -> sp.Expr:
    """An exact closed form for a coefficient: a small rational, or a rational times log 2;
    otherwise the exact expression as computed (the identity is proved afterwards anyway)."""
    value = sp.N(x, 40)
    for unit in (sp.S.One, sp.log(2)):
        ratio = Fraction(str(sp.N(value / sp.N(unit, 40), 35))).limit_denominator(1000)
        guess = sp.Rational(ratio.numerator, ratio.denominator) * unit
        if abs(sp.N(guess - value, 40)) < sp.Float(10) ** -30:
            return guess
    return sp.simplify(x)


def coefficients(f, div: Divergence, exact: bool = True) -> tuple[sp.Expr, sp.Expr, sp.Expr] | None:
    """(a, b, c) with f = a f_N + b + c (t - 1) at t = 1/2, 1, 2; None when none fits.

    Solved from the three points (f_N(1) = 0 gives b = f(1)); numerically unless ``exact``.
    """
    g = div.generator
    def at(e, v):
        value = as_expr(e).subs(t, v)
        return value if exact else sp.N(value, 40)
    half, two = sp.Rational(1, 2), sp.S(2)
    b = at(f, 1)
    denom = at(g, half) + at(g, two) / 2
    if abs(sp.N(denom, 30)) < sp.Float(10) ** -25:
        return None
    a = ((at(f, half) - b) + (at(f, two) - b) / 2) / denom
    c = at(f, two) - b - a * at(g, two)
    return (_nice(a), _nice(b), _nice(c)) if exact else (a, b, c)


def _agrees(f, rhs) -> bool:
    """A fast numeric screen at a few t (the proof comes after)."""
    for v in SCREEN_T:
        gap = sp.N(as_expr(f).subs(t, v) - as_expr(rhs).subs(t, v), 40)
        if not gap.is_number or abs(gap) > sp.Float(10) ** -25:
            return False
    return True


def identify(f) -> Match | None:
    """The first named divergence whose generator matches f up to a f_N + b + c (t - 1), a > 0.

    Screened numerically (40 digits at a few t), then the coefficients are put in closed form;
    the identity itself is proved by ``match_evidence``.
    """
    for div in TABLE:
        rough = coefficients(f, div, exact=False)
        if rough is None or not rough[0] > 0:
            continue
        a, b, c = rough
        if not _agrees(f, a * div.generator + b + c * (t - 1)):
            continue
        a, b, c = coefficients(f, div)
        if _agrees(f, a * div.generator + b + c * (t - 1)):
            return Match(div, a, b, c)
    return None


def t_regions(*exprs):
    """Regions of t > 0 split at the breakpoints of every expression (in t or in p_d, p_g)."""
    points = set()
    for e in exprs:
        e = as_expr(e).subs(p_d, t * p_g).subs(p_g, 1)
        points |= set(breakpoints(e, t, sp.Interval.open(0, oo)))
    return regions(sorted(points, key=float), sp.S.Zero, oo)


def check_integrands(lhs, rel, rhs) -> Evidence:
    """``lhs rel rhs`` for all p_d, p_g > 0 (both sides homogeneous of degree 1).

    Substitutes p_d = t p_g and proves the claim on every region of t between breakpoints.
    """
    return check_on_cells(lhs, rel, rhs, {t: t_regions(lhs, rhs)}, fixed={p_d: t * p_g})


def match_evidence(f, match: Match) -> Evidence:
    """Proof that the integrands agree as functions of (p_d, p_g) > 0."""
    lhs, rhs = match.integrands(f)
    return check_integrands(lhs, "=", rhs)


def on_two_points(expr, definitions=None) -> sp.Expr:
    """A statement about divergences evaluated on a two-point space: P_d = (q, 1 - q),
    P_g = (r, 1 - r). Each named symbol becomes its integrand summed over the two points.

    Two expressions of the form const + \\int p_g phi(p_d/p_g) agree for every pair of
    distributions only if they agree here for all q, r in (0, 1); a disagreement is a
    counterexample made of two honest distributions.
    """
    definitions = DEFINITIONS if definitions is None else definitions
    expr = as_expr(expr)
    values = {}
    for name, integrand in definitions.items():
        if expr.has(name):
            values[name] = (as_expr(integrand).subs({p_d: q, p_g: r}, simultaneous=True)
                            + as_expr(integrand).subs({p_d: 1 - q, p_g: 1 - r}, simultaneous=True))
    return expr.xreplace(values)


def _split_logs(expr) -> sp.Expr:
    """Logs of products and quotients split: every argument is positive on a two-point space
    (q, 1 - q, r, 1 - r in (0, 1)), which is what ``force`` asserts."""
    expr = as_expr(expr).replace(lambda e: isinstance(e, sp.log),
                                    lambda e: sp.log(sp.factor(sp.together(e.args[0]))))
    return sp.expand(sp.expand_log(expr, force=True))


def check_two_point(claim, reference, definitions=None) -> Evidence:
    """``claim = reference`` as statements about divergences, on every two-point space.

    When the only kink of the integrands is at p_d = p_g (TV), the square (q, r) is split into
    q < r, q = r and q > r, so that Abs/Min resolve and the proof can be symbolic.
    """
    lhs, rhs = (_split_logs(on_two_points(e, definitions)) for e in (claim, reference))
    if is_smooth(lhs) and is_smooth(rhs):
        return check_relation(lhs, "=", rhs, symbolic_seconds=2.0)
    kinks = set()
    for side in (lhs, rhs):
        for e in (side.subs(q, t * r), side.subs(q, 1 - t * (1 - r))):
            try:
                kinks |= set(breakpoints(e.subs(r, sp.Rational(1, 3)), t, sp.Interval.open(0, oo)))
            except PiecewiseError:
                kinks.add(None)
    if kinks - {sp.S.One}:
        return check_relation(lhs, "=", rhs, symbolic_seconds=0.5)
    u = sp.Symbol("u_q", positive=True)
    half = sp.Rational(1, 2)
    cells = (("q < r", r * u / (1 + u), {q: half / 2, r: half}), ("q = r", r, {q: half, r: half}),
             ("q > r", r + (1 - r) * u / (1 + u), {q: 3 * half / 2, r: half}))
    parts = []
    for name, value, sample in cells:
        try:
            a, b = (resolve(e, sample, {q: value}).subs(q, value) for e in (lhs, rhs))
        except PiecewiseError:  # a branch SymPy cannot decide on the whole cell: evaluate instead
            a, b = lhs.subs(q, value), rhs.subs(q, value)
        parts.append((name, check_relation(a, "=", b, symbolic_seconds=2.0)))
    return combine(parts)
