"""The pointwise problem of a margin loss: inf over alpha of l(alpha) t + l(-alpha), t > 0.

One method for every loss, smooth or not:
1. Split the alpha line at the breakpoints of l(alpha) and l(-alpha) (none for a smooth loss).
2. On each open piece the objective is one smooth formula h(alpha, t). Its infimum over the
   piece is the least of its one-sided limits at the ends and its values at the stationary
   points inside: a continuous function on an open interval that dips below both end limits
   attains its minimum at a critical point, and ``solveset`` returns *all* critical points or
   the analysis stops. A piece where h does not depend on alpha is attained everywhere on it.
   Each breakpoint is a candidate of its own (where the 0-1 loss takes its value l(0)).
3. This leaves finitely many candidates c_i(t). Between consecutive values of t where two of
   them cross, their order cannot change (they are continuous), so comparing them at one
   sample t gives the minimum and the minimisers on the whole interval. At each crossing the
   problem is solved again with t fixed, so ties (p_d = p_g) get their own minimiser set.
Limits of -oo mean the loss is not a loss (the pointwise problem is unbounded below).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .symbols import as_expr
from sympy.calculus.util import continuous_domain

from .fdiv_pieces import Region, breakpoints, is_smooth, regions, resolve

oo = sp.oo
T_DOMAIN = sp.Interval.open(0, oo)
DIGITS = 50
PROBE_T = (sp.Rational(1, 4), sp.S.One, sp.S(4))
PROBE_ALPHA = (-3, -1, sp.Rational(-1, 2), 0, sp.Rational(1, 2), 1, 3)


class FDivError(ValueError):
    """The input cannot be turned into an f-divergence; the message says why."""


class InvalidLoss(FDivError):
    """Not a margin loss: undefined somewhere, or the pointwise problem is unbounded below."""


class UnboundedLoss(InvalidLoss):
    """inf over alpha of l(alpha) t + l(-alpha) is -oo for some t > 0."""


class AnalysisError(FDivError):
    """A step had no closed form (e.g. the stationarity condition could not be solved)."""


@dataclass(frozen=True)
class Candidate:
    """A possible value of the infimum: reached ``how``, attained on ``argmin`` (maybe empty)."""

    value: sp.Expr
    how: str
    argmin: sp.Set = sp.S.EmptySet
    valid: sp.Set = T_DOMAIN    # the t for which this candidate exists


@dataclass(frozen=True)
class Stationary:
    """A stationary point alpha*(t) of the objective ``h`` on ``piece`` (for t in ``valid``)."""

    piece: Region
    objective: sp.Expr
    root: sp.Expr
    valid: sp.Set


@dataclass(frozen=True)
class RegionMin:
    """On ``region`` of t: the infimum ``value`` and the set of alphas attaining it."""

    region: Region
    value: sp.Expr
    argmin: sp.Set
    how: tuple[str, ...]


@dataclass(frozen=True)
class Pointwise:
    loss: sp.Expr
    alpha: sp.Symbol
    t: sp.Symbol
    objective: sp.Expr
    pieces: tuple[tuple[Region, sp.Expr | None], ...]
    candidates: tuple[Candidate, ...]
    stationary: tuple[Stationary, ...]
    regions: tuple[RegionMin, ...]
    inf: sp.Expr


def _split_logs(expr) -> sp.Expr:
    """log(1 + 1/t) -> log(t + 1) - log(t): factor each log's argument, expand, collect logs."""
    expanded = expr
    for _ in range(2):
        expanded = sp.expand_log(expanded).replace(
            lambda e: isinstance(e, sp.log), lambda e: sp.log(sp.factor(e.args[0])))
    expanded = sp.expand(sp.expand_log(expanded))
    parts = sp.collect(expanded, sorted(expanded.atoms(sp.log), key=sp.default_sort_key),
                       evaluate=False)
    return sp.Add(*(sp.factor_terms(coeff) * term for term, coeff in parts.items()))


def _pull_scale(expr) -> sp.Expr:
    """Min(2, 2 t) -> 2 Min(1, t): a common positive rational factor moved out of Min/Max."""
    def pull(m):
        k = sp.gcd([sp.Rational(a.as_coeff_Mul()[0]) for a in m.args])
        return k * m.func(*(a / k for a in m.args)) if k.is_positive and k != 1 else m
    return expr.replace(lambda e: isinstance(e, (sp.Min, sp.Max)), pull)


def cancel_radicals(expr) -> sp.Expr:
    """(t - 2 sqrt(t) + 1)/(t - 1) -> (sqrt(t) - 1)/(sqrt(t) + 1): write each positive symbol
    that appears under a root as s^m (m the lcm of the root orders), cancel, write back."""
    expr = as_expr(expr)
    for x in sorted(expr.free_symbols, key=str):
        if not x.is_positive:
            continue
        orders = [p.exp.q for p in expr.atoms(sp.Pow) if p.base == x and p.exp.is_Rational]
        m = sp.ilcm(1, 1, *orders)
        if m > 1:
            s = sp.Dummy("s", positive=True)
            expr = sp.factor(sp.cancel(sp.together(expr.subs(x, s ** m)))).subs(s, x ** sp.Rational(1, m))
    return expr


def tidy(expr) -> sp.Expr:
    """A short form: logs of products and powers split (t > 0), then the fewest operations."""
    expr = as_expr(expr)
    if expr.is_number or (expr.is_rational_function() and not expr.has(sp.Min, sp.Max)):
        return sp.factor(sp.cancel(expr)) if not expr.is_number else sp.simplify(expr)
    simple = sp.simplify(expr)
    forms = [expr, simple]
    if simple.has(sp.Pow) and not simple.has(sp.log, sp.exp, sp.Min, sp.Max):
        forms.append(cancel_radicals(simple))
    if simple.has(sp.Min, sp.Max):
        forms.insert(0, _pull_scale(simple))
    if simple.has(sp.log):
        forms.append(_split_logs(simple))
    if not simple.has(sp.log, sp.exp):
        forms.append(sp.factor(sp.cancel(simple)))

    def plain(arg):
        return arg.is_Symbol or arg.is_Number or (arg.is_Add and arg.is_polynomial())

    def score(e):
        compound = sum(1 for g in e.atoms(sp.log) if not plain(g.args[0]))
        return compound, sp.count_ops(e), len(str(e))
    return min(forms, key=score)


def check_defined(loss, alpha) -> None:
    """A loss depends on alpha only and is a real number at every alpha (probed at a few)."""
    extra = as_expr(loss).free_symbols - {alpha}
    if extra:
        names = ", ".join(sorted(map(str, extra)))
        raise InvalidLoss(f"the loss may depend on {alpha} only; it also contains {names}")
    if is_smooth(loss):
        try:
            domain = continuous_domain(loss, alpha, sp.S.Reals)
        except (NotImplementedError, ValueError, TypeError):
            domain = sp.S.Reals  # undecided: the probes below and the limits still apply
        if domain != sp.S.Reals:
            raise InvalidLoss(f"l({alpha}) must be defined and continuous for every real {alpha}; "
                              f"it is only on {domain}")
    for a in PROBE_ALPHA:
        value = sp.N(as_expr(loss).subs(alpha, a), 20)
        if not value.is_number or value.has(sp.nan, sp.zoo, oo, -oo) or not value.is_real:
            raise InvalidLoss(f"l({alpha}) must be a real number for every real {alpha}; "
                              f"at {alpha} = {a} it is {value}")


def _limit(h, alpha, end, direction, t):
    """The one-sided limit of h at ``end``, or None when it is +oo; raises when -oo.

    A branch is one elementary formula (no Piecewise/Max/Heaviside left), continuous wherever it
    is finite and real; so at a finite end where it is, substitution is the limit, and ``limit``
    is needed only at the infinite ends and at singular points.
    """
    value = h.subs(alpha, end) if end.is_finite else sp.nan
    if value.has(sp.nan, sp.zoo, oo, -oo) or value.is_real is not True:
        value = sp.limit(h, alpha, end, direction)
    if value == oo:
        return None
    bad = (oo, -oo, sp.zoo, sp.nan, sp.AccumBounds, sp.Limit)
    if not value.has(*bad):
        return value
    probes = PROBE_T if t is not None and value.has(t) else ()
    for s in probes:
        if sp.limit(h.subs(t, s), alpha, end, direction) == -oo:
            value = -oo
            break
    if value == -oo:
        at = f" at t = {s}" if probes else ""
        raise UnboundedLoss(
            f"the pointwise problem is unbounded below{at}: l({alpha}) t + l(-{alpha}) -> -oo "
            f"as {alpha} -> {end}; a loss must make inf_{alpha} [l({alpha}) t + l(-{alpha})] "
            f"finite for every t > 0")
    raise AnalysisError(f"cannot decide the limit of {h} as {alpha} -> {end}: {value}")


def _t_set(cond, t) -> sp.Set:
    """The t > 0 satisfying ``cond`` (a relational in t)."""
    if cond in (sp.true, sp.false):
        return T_DOMAIN if cond is sp.true else sp.S.EmptySet
    if t is None or not cond.has(t):
        return T_DOMAIN if bool(sp.N(cond.lhs - cond.rhs, DIGITS) > 0) == isinstance(
            cond, (sp.StrictGreaterThan, sp.GreaterThan)) else sp.S.EmptySet
    found = sp.solveset(cond, t, T_DOMAIN)
    if isinstance(found, sp.ConditionSet):
        raise AnalysisError(f"cannot solve {cond} for t")
    return found


def _real_roots(found) -> sp.FiniteSet | None:
    """All real solutions as a finite set, or None when solveset did not give them in closed form.

    solveset may answer Intersection({r1, r2}, Reals) when it cannot tell whether roots with a
    parameter are real; after simplification a root SymPy proves real for every t > 0 is kept,
    one it proves non-real is dropped, and any undecided root means no closed form.
    """
    if isinstance(found, (sp.FiniteSet, type(sp.S.EmptySet))):
        return found
    if not isinstance(found, sp.Intersection):
        return None
    finite = [a for a in found.args if isinstance(a, sp.FiniteSet)]
    if len(finite) != 1 or not all(a == sp.S.Reals or isinstance(a, sp.Interval) or a is finite[0]
                                   for a in found.args):
        return None
    kept = []
    for root in finite[0]:
        root = cancel_radicals(sp.simplify(root))
        num, den = sp.fraction(sp.together(root))
        real = root.is_real if root.is_real is not None else (num.is_real and den.is_real) or None
        if real is None:
            return None
        if real:  # real wherever defined; its poles in t are removed in _piece_candidates
            kept.append(root)
    return sp.FiniteSet(*kept)  # membership of the piece is decided per root (``_t_set``)


def _poles(expr, t) -> sp.Set:
    """The t > 0 where ``expr`` is undefined (zeros of its denominator)."""
    if t is None or not as_expr(expr).has(t):
        return sp.S.EmptySet
    found = sp.solveset(sp.fraction(sp.together(expr))[1], t, T_DOMAIN)
    if not isinstance(found, (sp.FiniteSet, type(sp.S.EmptySet))):
        raise AnalysisError(f"cannot find where {expr} is undefined")
    return found


def _piece_candidates(h, piece: Region, alpha, t):
    """Candidates of one open piece, its stationary points, and t where it turns flat."""
    h = as_expr(h)
    slope = sp.simplify(sp.diff(h, alpha))
    interval = piece.as_set()
    if slope == 0:
        return [Candidate(tidy(h), f"{alpha} in {interval}", interval)], [], set()
    found = []
    for end, direction in ((piece.lo, "+"), (piece.hi, "-")):
        value = _limit(h, alpha, end, direction, t)
        if value is not None:
            found.append(Candidate(tidy(value), f"{alpha} -> {end}{'' if end.is_infinite else direction}"))
    flat = _flat_at(slope, piece, alpha, t)
    if not slope.has(alpha):  # affine in alpha: no stationary point (flat where the slope is 0)
        return found, [], flat
    roots = _real_roots(sp.solveset(slope, alpha, sp.S.Reals))
    if roots is None:
        roots = _real_roots(sp.solveset(slope, alpha, interval))
    if roots is None:
        raise AnalysisError(f"the stationarity condition {slope} = 0 has no closed-form solution "
                            f"on {interval} (solveset gave {roots})")
    stationary = []
    for root in roots:
        valid = T_DOMAIN - _poles(root, t)
        if piece.lo.is_finite:
            valid = valid & _t_set(sp.StrictGreaterThan(root, piece.lo), t)
        if piece.hi.is_finite:
            valid = valid & _t_set(sp.StrictLessThan(root, piece.hi), t)
        if valid is sp.S.EmptySet:
            continue
        found.append(Candidate(tidy(h.subs(alpha, root)), f"{alpha} = {root}", sp.FiniteSet(root), valid))
        stationary.append(Stationary(piece, h, root, valid))
    return found, stationary, flat


def _flat_at(slope, piece: Region, alpha, t) -> set:
    """The t > 0 at which the objective is constant in alpha on the piece (slope identically 0).

    Such t are where a generic solve of the stationarity condition misses a whole interval of
    minimisers (hinge at t = 1); they become crossing points, solved again with t fixed.
    """
    if t is None or not slope.has(t):
        return set()
    trial = sp.solveset(slope.subs(alpha, piece.sample()), t, T_DOMAIN)
    if not isinstance(trial, sp.FiniteSet):
        return set()
    return {r for r in trial if sp.simplify(slope.subs(t, r)) == 0}


def candidates(objective, pieces, alpha, t):
    """Every candidate of the objective (t symbolic, or None when t has a value)."""
    found, stationary, t_points = [], [], set()
    for piece, h in pieces:
        if piece.point:
            found.append(Candidate(tidy(objective.subs(alpha, piece.lo)), f"{alpha} = {piece.lo}",
                                   sp.FiniteSet(piece.lo)))
            continue
        c, s, p = _piece_candidates(h, piece, alpha, t)
        found += c
        stationary += s
        t_points |= p
    return found, stationary, t_points


def crossings(cands, t) -> set:
    """t > 0 where two candidates are equal (without being the same function), or appear."""
    points = set()
    for c in cands:
        points |= {b for b in c.valid.boundary if b.is_finite and b > 0}
    values = list({c.value: c for c in cands})
    for i, a in enumerate(values):
        for b in values[i + 1:]:
            diff = sp.simplify(a - b)
            if diff == 0 or not diff.has(t):
                continue
            roots = sp.solveset(diff, t, T_DOMAIN)
            if not isinstance(roots, (sp.FiniteSet, type(sp.S.EmptySet))):
                raise AnalysisError(f"cannot find where {a} and {b} cross (solveset gave {roots})")
            points |= set(roots)
    return points


def _numeric(x):
    return sp.N(x, DIGITS)


def minimum(cands, region: Region, t) -> RegionMin:
    """The least candidate on ``region``: compared at its sample point (order is constant)."""
    s = region.sample()
    live = [c for c in cands if c.valid.contains(s) is sp.true]
    values = [_numeric(c.value.subs(t, s)) for c in live]
    least = min(values)
    tol = sp.Float(10) ** (10 - DIGITS) * max(1, abs(least))
    tied = [c for c, v in zip(live, values) if abs(v - least) <= tol]
    value = min((c.value for c in tied), key=lambda e: (sp.count_ops(e), len(str(e))))
    argmin = sp.Union(*(c.argmin for c in tied)) if tied else sp.S.EmptySet
    return RegionMin(region, value, argmin, tuple(c.how for c in tied))


def solve(loss, alpha, t) -> Pointwise:
    """The infimum of l(alpha) t + l(-alpha) over real alpha, region by region in t > 0."""
    loss = as_expr(loss)
    check_defined(loss, alpha)
    objective = loss * t + loss.subs(alpha, -alpha)
    pieces = tuple((r, None if r.point else resolve(objective, {alpha: r.sample()}))
                   for r in regions(breakpoints(objective, alpha)))
    cands, stationary, t_points = candidates(objective, pieces, alpha, t)
    t_points |= crossings(cands, t)
    found = []
    for region in regions(sorted(t_points, key=lambda x: float(x)), sp.S.Zero, oo):
        if region.point:  # solve again with t fixed: ties and flat pieces show up here
            fixed = tuple((r, None if h is None else h.subs(t, region.lo)) for r, h in pieces)
            local, _, _ = candidates(objective.subs(t, region.lo), fixed, alpha, None)
            found.append(minimum(local, region, t))
        else:
            found.append(minimum(cands, region, t))
    return Pointwise(loss, alpha, t, objective, pieces, tuple(cands), tuple(stationary),
                     tuple(found), _assemble(found, t))


def _assemble(found: list[RegionMin], t) -> sp.Expr:
    """inf(t) = Min of the candidates that are least on some open region.

    Every candidate is >= the region's least one, so the Min of those least somewhere equals the
    least one on every open region; at the crossings the infimum (concave in t, as an infimum
    of affine functions, hence continuous) must agree, which is checked.
    """
    active: list[sp.Expr] = []
    for r in found:
        if not r.region.point and not any(sp.simplify(r.value - a) == 0 for a in active):
            active.append(r.value)
    inf = active[0] if len(active) == 1 else sp.Min(*active)
    for r in found:
        if r.region.point:
            gap = _numeric(inf.subs(t, r.region.lo) - r.value)
            if abs(gap) > sp.Float(10) ** (10 - DIGITS):
                raise AnalysisError(f"the infimum jumps at t = {r.region.lo}: {r.value} vs {inf}")
    return inf
