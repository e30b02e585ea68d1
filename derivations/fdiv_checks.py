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
from .evidence import Evidence, Kind, Status, unchecked
from .fdiv_pieces import (breakpoints, check_on_cells, combine, is_smooth, regions, resolve,
                          to_piecewise)
from .prove import check_relation

oo = sp.oo
SECONDS = 3.0


def _open_t_regions(res):
    return [r.region for r in res.pointwise.regions if not r.region.point]


def _alpha_regions(res, extra=()):
    pts = set(breakpoints(res.objective, res.alpha)) | {e for e in extra if e.is_finite}
    return regions(sorted(pts, key=float))


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
    grid = {res.alpha: _alpha_regions(res), t: _open_t_regions(res)}
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
        ends = set()
        for piece in (rm.argmin.args if isinstance(rm.argmin, sp.Union) else [rm.argmin]):
            if isinstance(piece, sp.FiniteSet):
                ends |= set(piece.args)
            elif piece is not sp.S.EmptySet:
                ends |= {piece.inf, piece.sup}
        for ar in _alpha_regions(res, ends):
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
        ev = fn(res)
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
    ev = check_on_cells(lhs, "=", rhs, {t: _open_t_regions(res)}, fixed={p_d: t * p_g},
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
