"""The evidence behind an f-divergence analysis, and membership tests for answers.

Each function takes an ``FDivResult`` (duck-typed: loss, objective, alpha, f, dstar_t,
pointwise, match) and returns ``Evidence``. None of them trusts the mechanism that produced
the result: each re-derives its claim from the loss (objective) directly, region by region.
"""
from __future__ import annotations

import dataclasses
import time

import sympy as sp

from .symbols import as_expr

from .divergences import (DEFINITIONS, check_integrands, check_two_point, match_evidence, p_d, p_g,
                          t, t_regions)
from .evidence import Evidence, Kind, Status, error, unchecked
from .fdiv_pieces import (PiecewiseError, breakpoints, check_on_cells, combine, is_smooth, regions, resolve,
                          to_piecewise)
from .prove import check_relation

oo = sp.oo
SECONDS = 3.0


def _open_t_regions(res, *answers):
    """The open regions of t = p_d/p_g between the loss's ties and, for an answer's check, every
    point where the answer's formula or sign can change (sign(p_d - 1.001 p_g) switches at
    t = 1.001, inside the loss's region t > 1)."""
    ties = {r.region.lo for r in res.pointwise.regions if r.region.point}
    if not answers:
        return [r.region for r in res.pointwise.regions if not r.region.point]
    points = set(ties)
    for e in answers:
        try:
            points |= set(breakpoints(as_expr(e).subs(p_d, t * p_g).subs(p_g, 1), t, sp.Interval.open(0, oo)))
        except (PiecewiseError, NotImplementedError, TypeError, ValueError):
            pass        # the cell's check then splits at the switches itself (``identity``)
    return [r for r in regions(sorted(points, key=float), sp.S.Zero, oo) if not r.point]


def alpha_regions(res, *exprs, extra=()):
    """Regions of alpha split at the breakpoints of the objective (and of ``exprs``) and at ``extra``."""
    pts = {e for e in extra if e.is_finite}
    for e in (res.objective, *exprs):
        pts |= {p for p in breakpoints(e, res.alpha) if p.is_finite}
    return regions(sorted(pts, key=float))


def argmin_ends(argmin) -> set:
    """The end points of a minimiser set (its points, and the ends of its intervals)."""
    ends = set()
    for piece in (argmin.args if isinstance(argmin, sp.Union) else [argmin]):
        if isinstance(piece, sp.FiniteSet):
            ends |= set(piece.args)
        elif piece is not sp.S.EmptySet:
            ends |= {piece.inf, piece.sup}
    return ends


def stationarity(res) -> Evidence:
    """d/dalpha [l(alpha) t + l(-alpha)] = 0 at alpha*(t) (smooth losses)."""
    slope = sp.diff(res.objective, res.alpha).subs(res.alpha, res.dstar_t)
    return check_relation(slope, "=", 0, symbolic_seconds=SECONDS)


def convex_in_alpha(res) -> Evidence:
    """The objective is convex in alpha for every t > 0, so a stationary point is its minimum."""
    return check_relation(sp.diff(res.objective, res.alpha, 2), ">=", 0, symbolic_seconds=SECONDS)


def second_order(res) -> Evidence:
    """The second derivative in alpha is > 0 at alpha*(t): a strict local minimum."""
    curv = sp.diff(res.objective, res.alpha, 2).subs(res.alpha, res.dstar_t)
    return check_relation(curv, ">", 0, symbolic_seconds=SECONDS)


def optimality(res) -> Evidence:
    """Convexity in alpha (the stationary point is the global minimum), else the 2nd-order test."""
    convex = convex_in_alpha(res)
    if convex.ok:
        return dataclasses.replace(convex, detail="objective convex in alpha: " + convex.detail)
    return dataclasses.replace(second := second_order(res), detail="second-order condition at the "
                               "stationary point (convexity in alpha not shown): " + second.detail)


def global_minimum(res) -> Evidence:
    """objective(alpha, t) >= objective(alpha*(t), t) for every alpha and every t off the ties."""
    best = res.objective.subs(res.alpha, res.dstar_t)
    grid = {res.alpha: alpha_regions(res), t: _open_t_regions(res)}
    return check_on_cells(res.objective, ">=", best, grid, symbolic_seconds=SECONDS)


def minimiser_set(res) -> Evidence:
    """On every region of t: alpha in the stated set attains the infimum, alpha outside does not.

    Checked only where the sets do not depend on t (the non-smooth losses); elsewhere the
    minimiser is unique by ``convex_in_alpha``/``second_order``.
    """
    parts = []
    for rm in res.pointwise.regions:
        if rm.argmin.has(t):
            continue
        for ar in alpha_regions(res, extra=argmin_ends(rm.argmin)):
            inside = rm.argmin.contains(ar.sample()) is sp.true
            rel = "=" if inside else ">"
            ev = check_on_cells(res.objective, rel, rm.value, {res.alpha: [ar], t: [rm.region]},
                                symbolic_seconds=SECONDS)
            parts.append((f"t in {rm.region}, alpha in {ar} ({'inside' if inside else 'outside'})", ev))
    if not parts:
        return unchecked("the minimiser depends on t: uniqueness comes from convexity in alpha")
    return combine(parts)


def f_value(res) -> Evidence:
    """f(t) = -objective(alpha*(t), t) on every open region of t."""
    best = -res.objective.subs(res.alpha, res.dstar_t)
    return check_on_cells(res.f, "=", best, {t: _open_t_regions(res)}, symbolic_seconds=SECONDS)


def _kinks(f) -> list[tuple[str, Evidence]]:
    """At each breakpoint: f continuous, and the slope does not drop (left <= right)."""
    parts = []
    regs = regions(breakpoints(f, t, sp.Interval.open(0, oo)), sp.S.Zero, oo)
    for left, point, right in zip(regs[::2], regs[1::2], regs[2::2]):
        r = point.lo
        fl, fr = resolve(f, {t: left.sample()}), resolve(f, {t: right.sample()})
        parts.append((f"f continuous at t = {r}",
                      combine([("left", check_relation(fl.subs(t, r), "=", f.subs(t, r))),
                               ("right", check_relation(fr.subs(t, r), "=", f.subs(t, r)))])))
        parts.append((f"slope does not drop at t = {r}",
                      check_relation(sp.diff(fr, t).subs(t, r), ">=", sp.diff(fl, t).subs(t, r))))
    return parts


def convexity(f) -> Evidence:
    """f'' >= 0 between breakpoints, f continuous with non-decreasing slope across them."""
    grid = {t: [r for r in t_regions(f) if not r.point]}
    second = check_on_cells(sp.diff(to_piecewise(f), t, 2), ">=", 0, grid, symbolic_seconds=SECONDS)
    return combine([("f'' >= 0", second)] + _kinks(f))


def monotonicity(f) -> Evidence:
    """f' <= 0 between breakpoints and f continuous across them: f is non-increasing."""
    grid = {t: [r for r in t_regions(f) if not r.point]}
    slope = check_on_cells(sp.diff(to_piecewise(f), t), "<=", 0, grid, symbolic_seconds=SECONDS)
    return combine([("f' <= 0", slope)] + [p for p in _kinks(f) if p[0].startswith("f continuous")])


def symmetry(f) -> Evidence:
    """f(t) = t f(1/t): swapping P_d and P_g (and alpha -> -alpha) leaves the problem unchanged."""
    mirror = t * as_expr(f).subs(t, 1 / t)
    return check_on_cells(f, "=", mirror, {t: t_regions(f, mirror)}, symbolic_seconds=SECONDS)


def divergence(res) -> Evidence:
    """-1/2 p_g f(p_d/p_g) = -1/2 (a n_N + b p_g + c (p_d - p_g)) for all p_d, p_g > 0."""
    if res.match is None:
        return unchecked("f is not one of the named divergences")
    return match_evidence(res.f, res.match)


def risk_two_point(res) -> Evidence:
    """The named best risk equals -1/2 I_f on every two-point space (independent of the match)."""
    if res.match is None:
        return unchecked("no named divergence to compare")
    i_f = sp.Symbol("I_f", positive=True)
    defs = {**DEFINITIONS, i_f: p_g * res.f.subs(t, p_d / p_g)}
    return check_two_point(res.match.risk, -i_f / 2, defs)


def _sign_on(e, region, side) -> str:
    """'right' when side*e > 0 for every t in ``region``, 'wrong' when side*e < 0, 'neither' for
    e = 0, else 'undecided' (never counted as calibrated)."""
    e = as_expr(e)
    if e.is_infinite:
        return "right" if side * e > 0 else "wrong"
    if not e.has(t):
        v = sp.N(e, 30)
        return "neither" if v == 0 or not v.is_real else ("right" if side * v > 0 else "wrong")
    for rel, verdict in ((">", "right"), ("<", "wrong")):
        if check_on_cells(side * e, rel, 0, {t: [region]}, symbolic_seconds=SECONDS).ok:
            return verdict
    return "undecided"


def _set_sign(s: sp.Set, region, side) -> list[str]:
    """The sign verdicts of every member of a minimiser set (intervals by their ends)."""
    if s is sp.S.EmptySet:
        return []
    if isinstance(s, sp.Union):
        return [v for part in s.args for v in _set_sign(part, region, side)]
    if isinstance(s, sp.FiniteSet):
        return [_sign_on(e, region, side) for e in s.args]
    if isinstance(s, sp.Interval) and not s.has(t):
        lo, hi = s.inf, s.sup
        if (lo > 0 or (lo == 0 and s.left_open)):
            return ["right" if side > 0 else "wrong"]
        if (hi < 0 or (hi == 0 and s.right_open)):
            return ["wrong" if side > 0 else "right"]
        return ["neither"]  # 0 or both signs inside
    return ["undecided"]


CALIBRATION = {"calibrated": "every optimal D (or minimising sequence) has the sign of p_d - p_g "
                             "wherever p_d != p_g: the loss is classification-calibrated",
               "reversed": "every optimal D has the sign of p_g - p_d: the loss rewards the wrong "
                           "sign (labels swapped; l(-alpha) is calibrated)",
               "not calibrated": "the sign of an optimal D need not follow p_d - p_g: the loss is "
                                 "not classification-calibrated"}


def calibration(res) -> tuple[str, Evidence]:
    """Classification calibration, read off the pointwise minimisers: for t > 1 (p_d > p_g)
    every minimiser, and every alpha end where the infimum is only approached, must be > 0;
    for t < 1, < 0. Returns ('calibrated' | 'reversed' | 'not calibrated', evidence).

    Each sign is proved on the region of t (a t-dependent minimiser alpha*(t) by
    ``check_on_cells``); a minimiser 0, one of either sign, or an undecided sign makes the
    verdict 'not calibrated' for that region, and the evidence says where."""
    verdicts = []
    for rm in res.pointwise.regions:
        if rm.region.point:
            continue
        for side, (lo, hi) in ((-1, (sp.S.Zero, sp.S.One)), (1, (sp.S.One, oo))):
            lo, hi = sp.Max(lo, rm.region.lo), sp.Min(hi, rm.region.hi)
            if not lo < hi:
                continue
            sub = regions([], lo, hi)[0]
            signs = _set_sign(rm.argmin, sub, side) + [_sign_on(e, sub, side) for e in rm.ends]
            where = "p_d < p_g" if side < 0 else "p_d > p_g"
            where += "" if (lo, hi) in ((0, 1), (1, oo)) else f" (p_d/p_g in {sub})"
            verdicts.append((where, set(signs) or {"neither"}, set_text_of(rm)))
    kinds = set().union(*(v for _, v, _ in verdicts))
    if kinds == {"right"} or kinds == {"wrong"}:
        verdict = "calibrated" if kinds == {"right"} else "reversed"
    elif "neither" in kinds or {"right", "wrong"} <= kinds:
        verdict = "not calibrated"
        where, _, what = next((w, v, x) for w, v, x in verdicts if "neither" in v or "wrong" in v)
        detail = f"{CALIBRATION[verdict]}: where {where} the optimal D are {what}"
        return verdict, Evidence(Status.PROVED, Kind.SYMBOLIC, detail)
    else:
        where = next((w for w, v, _ in verdicts if "undecided" in v), "every region (no region was decided)")
        return "undecided", unchecked(f"the sign of the optimal D could not be decided where {where}")
    return verdict, Evidence(Status.PROVED, Kind.SYMBOLIC,
                             CALIBRATION[verdict] + " (signs proved region by region)")


def set_text_of(rm) -> str:
    from .fdiv import set_text  # the words for a set live with the report
    text = set_text(rm.argmin.subs(t, p_d / p_g))
    if rm.argmin is sp.S.EmptySet and rm.ends:
        text = "none; the infimum is approached as " + " and ".join(f"D -> {e}" for e in rm.ends)
    return text


def affine(res) -> Evidence | None:
    """Proof that f is affine, f(t) = f(1) + (f(2) - f(1)) (t - 1), when it looks so at a few t
    (then I_f = f(1) for every pair: the best risk measures no divergence); None otherwise."""
    f = res.f
    f1, slope = f.subs(t, 1), f.subs(t, 2) - f.subs(t, 1)
    line = f1 + slope * (t - 1)
    for v in (sp.Rational(1, 3), sp.Rational(3, 2), sp.S(5)):
        gap = sp.N(f.subs(t, v) - line.subs(t, v), 30)
        if not gap.is_number or abs(gap) > sp.Float(10) ** -20:
            return None
    ev = check_on_cells(f, "=", line, {t: t_regions(f)}, symbolic_seconds=SECONDS)
    return ev if ev.ok else None


def all_evidence(res) -> dict[str, Evidence]:
    """Every check that applies to ``res``, each timed."""
    plan = []
    if res.dstar_t is not None:
        if is_smooth(res.loss) and res.unique:
            plan.append(("stationarity", stationarity))
            plan.append(("optimality", optimality))
        plan += [("global_minimum", global_minimum), ("f_value", f_value)]
    if not all(len(rm.argmin.args) == 1 and isinstance(rm.argmin, sp.FiniteSet)
               for rm in res.pointwise.regions):
        plan.append(("minimiser_set", minimiser_set))
    plan += [("convex", lambda r: convexity(r.f)), ("monotone", lambda r: monotonicity(r.f)),
             ("symmetry", lambda r: symmetry(r.f))]
    if res.match is not None:
        plan += [("divergence", divergence), ("risk", risk_two_point)]
    out = {}
    for name, fn in plan:
        started = time.perf_counter()
        try:
            ev = fn(res)
        except (RecursionError, NotImplementedError, TypeError, ValueError, AttributeError) as exc:
            ev = error(f"{name}: the check crashed inside SymPy ({type(exc).__name__}: {str(exc)[:200]})")
        out[name] = dataclasses.replace(ev, seconds=time.perf_counter() - started)
    return out


# --- answers -----------------------------------------------------------------------------

def _canonical(answer) -> sp.Expr:
    """The answer with its symbols replaced by ours of the same name (a parser may build
    ``p_d`` without our assumptions, which would make it a different symbol)."""
    answer = as_expr(answer)
    ours = {s.name: s for s in (p_d, p_g, t, *DEFINITIONS)}
    return answer.xreplace({s: ours[s.name] for s in answer.free_symbols
                            if s.name in ours and s is not ours[s.name]})


def _as_densities(answer) -> sp.Expr:
    answer = _canonical(answer)
    return answer.subs(t, p_d / p_g) if answer.has(t) else answer


def _tie_text(ratio) -> str:
    return "p_d = p_g" if ratio == 1 else f"p_d = {ratio}*p_g"


def accepts_dstar(res, answer) -> Evidence:
    """Is D(p_d, p_g) = ``answer`` an optimal discriminator (off the ties p_d = r p_g)?

    D is optimal iff l(D) p_d + l(-D) p_g = p_g inf(p_d/p_g) pointwise; checked on every open
    region of t = p_d/p_g (with p_d = t p_g). At the ties a failure is a remark, not a refusal:
    a tie set has positive measure only where the densities are proportional.
    """
    D = _as_densities(answer)
    stray = D.free_symbols - {p_d, p_g}
    if stray:
        return Evidence(Status.REFUTED, Kind.SYMBOLIC,
                        f"an optimal D depends on p_d, p_g only; the answer has {sorted(map(str, stray))}")
    loss = res.loss
    lhs = loss.subs(res.alpha, D) * p_d + loss.subs(res.alpha, -D) * p_g
    rhs = p_g * res.pointwise.inf.subs(t, p_d / p_g)
    ev = check_on_cells(lhs, "=", rhs, {t: _open_t_regions(res, lhs)}, fixed={p_d: t * p_g},
                        symbolic_seconds=SECONDS)
    if ev.status is Status.REFUTED and ev.counterexample:
        return _explain(res, D, ev)
    ties = [r.region for r in res.pointwise.regions if r.region.point]
    if ev.ok and ties:
        at_ties = check_on_cells(lhs, "=", rhs, {t: ties}, fixed={p_d: t * p_g}, symbolic_seconds=SECONDS)
        note = ("also optimal at the ties" if at_ties.ok else
                f"not optimal where {' or '.join(_tie_text(r.lo) for r in ties)} (a null set unless the "
                f"densities are proportional on a set of positive measure): {at_ties.detail}")
        ev = Evidence(ev.status, ev.kind, f"{ev.detail}; {note}", extra={**ev.extra, "ties_ok": at_ties.ok})
    return ev


def _explain(res, D, ev) -> Evidence:
    """A refutation in terms of D: at the point, the answer's D and an optimal D (lhs, rhs),
    and the pointwise risks p_g/2 (l(D) t + l(-D)) they incur."""
    cx = dict(ev.counterexample)
    point = {p_d: sp.Float(cx["p_d"], 17), p_g: sp.Float(cx["p_g"], 17)}
    best = res.dstar if res.dstar is not None else sp.nan
    cx["integrand_answer"], cx["integrand_best"] = cx.pop("lhs") / 2, cx.pop("rhs") / 2
    cx["lhs"], cx["rhs"] = (float(sp.N(e.subs(point), 17)) for e in (D, best))
    where = " (an optimal D: " + str(best) + ")" if res.dstar is not None else ""
    detail = (f"not an optimal discriminator: at p_d = {cx['p_d']:.6g}, p_g = {cx['p_g']:.6g} the answer "
              f"D = {cx['lhs']:.6g} costs {cx['integrand_answer']:.6g} > {cx['integrand_best']:.6g}{where}; "
              + ev.detail)
    return dataclasses.replace(ev, detail=detail, counterexample=cx)


def accepts_f(res, answer) -> Evidence:
    """Is ``answer`` (in t) equal to f on t > 0 (whatever its form: Min, Max, Piecewise, Abs)?"""
    answer = _canonical(answer)
    return check_on_cells(answer, "=", res.f, {t: t_regions(answer, res.f)}, symbolic_seconds=SECONDS)


def accepts_risk(res, answer) -> Evidence:
    """Does ``answer`` (constants and named divergences TV, Delta, JS, H2, BC, KL, ...) equal the
    best risk for every pair of distributions? Compared on every two-point space."""
    i_f = sp.Symbol("I_f", positive=True)
    defs = {**DEFINITIONS, i_f: p_g * res.f.subs(t, p_d / p_g)}
    return check_two_point(_canonical(answer), -i_f / 2, defs)


__all__ = ["accepts_dstar", "accepts_f", "accepts_risk", "all_evidence", "check_integrands"]
