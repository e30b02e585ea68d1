"""Exact-numeric evidence for an identity a = b: when numbers may decide, and how.

Random points can refute an identity, and they back one only where a counterexample could not
hide from them:
- analytic sides are compared at points across the whole domain (ordinary, wide and near-bound
  values, and points next to every side condition), then re-checked at ``HIGH_DIGITS`` digits
  at a few points, where a term such as (t - 1) e^{-1000 t} is no longer below the rounding;
- non-analytic sides (Max, Min, Abs, sign, Piecewise) are split at their switches
  (``branches``): points are added next to every switch on both sides, and each branch formula
  must either agree with the other side's, or its region must be shown empty (no admissible
  point found there and SymPy proves a switch's sign rules it out). Otherwise ``unchecked``.

The points come from a *space* (``derivations.sampling`` for derivation steps,
``grading.worlds`` for answers): ``points()``, ``value(expr, point, digits)``,
``toward(inside, outside, holds)`` and ``show(point)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from . import branches
from .evidence import Evidence, Kind, Status
from .limits import CheckTimeout, time_limit
from .symbols import as_expr

MIN_POINTS = 20
HIGH_DIGITS = 400
HIGH_POINTS = 4
PRECISION = 50
REL_TOL = sp.Float("1e-28", PRECISION)
HIGH_TOL = sp.Float("1e-370", HIGH_DIGITS)
NEAR_SWITCH_PAIRS = 3
SIGN_SECONDS = 0.5


def differ(a, b, tol=REL_TOL) -> bool:
    """Do two values differ beyond rounding (relative to the larger, or 1)?"""
    scale = max(abs(a), abs(b), sp.Float(1))
    return bool(abs(a - b) > tol * scale)


@dataclass
class Outcome:
    status: Status
    detail: str
    point: object = None          # the counterexample point, in the space's terms
    values: tuple = ()            # (a, b) there
    used: int = 0
    blind: bool = False           # agreement that the points could not have contradicted


SCALE = 10**6          # sampled magnitudes reach about 1e-9 .. 1e6 (``sampling``)
MAX_DEGREE = 16
SCREEN_NODES = 4000


def blind_spot(*exprs) -> str | None:
    """Why agreement at the sampled points says nothing about ``exprs``, or None: a constant that
    sets a scale beyond the sampled magnitudes (e^{-10^{12} t} differs from 0 only for t below
    1e-12), a rational with more digits than the evaluation resolves (1 + 10^{-40}), or a power
    of high degree, which can make a bump narrower than any sampled point resolves."""
    count = 0
    for e in exprs:
        if not isinstance(e, sp.Basic):
            continue
        for node in sp.preorder_traversal(e):
            count += 1
            if count > SCREEN_NODES:
                return "it is too large to screen for constants that numbers cannot see past"
            if isinstance(node, sp.Pow) and node.exp.is_Number and node.base.free_symbols \
                    and abs(node.exp) > MAX_DEGREE:
                return f"it raises an expression to the power {node.exp} (a feature that narrow can fall between the sampled points)"
            if node.is_Rational and node != 0:
                if abs(node.p) > 10**15 or node.q > 10**15:
                    return f"it holds the constant {node}, with more digits than numbers resolve"
                if not sp.Rational(1, SCALE) <= abs(node) <= SCALE:
                    return f"it holds the constant {node}, which sets a scale beyond the sampled magnitudes"
            elif node.is_Float and node != 0 and not 1e-6 <= abs(float(node)) <= 1e6:
                return f"it holds the constant {node}, which sets a scale beyond the sampled magnitudes"
    return None


def _compare_at(a, b, pts, space) -> tuple[Outcome | None, int, int]:
    """(a refutation or None, points where both have values, points where b has none)."""
    used = skipped = 0
    for pt in pts:
        vb = space.value(b, pt)
        if vb is None:
            skipped += 1
            continue
        va = space.value(a, pt)
        if va is None:
            continue
        if differ(va, vb) or (vb.is_real and not va.is_real):
            return Outcome(Status.REFUTED, "the two sides differ at an admissible point", pt, (va, vb)), used, skipped
        used += 1
    return None, used, skipped


def _high_precision(a, b, pts, space) -> Outcome | None:
    """Re-check a few points at ``HIGH_DIGITS`` digits (exact input only: a decimal constant typed
    as a float has no digits beyond its 15)."""
    if any(as_expr(e).atoms(sp.Float) for e in (a, b)):
        return None
    for pt in pts[:HIGH_POINTS]:
        vb = space.value(b, pt, HIGH_DIGITS)
        va = space.value(a, pt, HIGH_DIGITS) if vb is not None else None
        if va is not None and vb is not None and differ(va, vb, HIGH_TOL):
            return Outcome(Status.REFUTED, f"the two sides differ at an admissible point, by less than 50-digit "
                           f"arithmetic resolves ({HIGH_DIGITS} digits were used)", pt, (va, vb))
    return None


def _ordered_for_precision(pts, space) -> list:
    """Points with the most extreme values first (where a tiny term is least tiny)."""
    return sorted(pts, key=lambda pt: -getattr(space, "extremeness", lambda p: 0)(pt))


def analytic(a, b, space, compared: int = 0) -> Outcome:
    """``compared``: the caller has already compared a and b at ``space.points()`` (with that many
    points used); only the high-precision re-check is left."""
    pts = space.points()
    if compared:
        used, skipped = compared, 0
    else:
        bad, used, skipped = _compare_at(a, b, pts, space)
        if bad:
            return bad
    if used < MIN_POINTS:
        return Outcome(Status.UNCHECKED, f"only {used} admissible points could be evaluated "
                       f"({skipped} where the other side is undefined)", used=used)
    bad = _high_precision(a, b, _ordered_for_precision(pts, space), space)
    if bad:
        return bad
    return Outcome(Status.PROVED, f"equal at {used} admissible points across the domain (ordinary, wide and "
                   f"near-bound values) to {PRECISION} digits, and at {HIGH_POINTS} of them to {HIGH_DIGITS}",
                   used=used)


def _sign_rules_out(g, sign: int, prove_sign) -> bool:
    """Does SymPy prove that switch ``g`` never has ``sign`` on the domain?"""
    want = {1: "<=", -1: ">=", 0: None}[sign]
    if want is None or prove_sign is None:
        return False
    try:
        with time_limit(SIGN_SECONDS, cpu=True):
            return bool(prove_sign(g, want))
    except CheckTimeout:
        return False
    except (TypeError, ValueError, NotImplementedError, RecursionError, AttributeError):
        return False


EXTRA_POINTS = 160


def _search_region(a, b, gs, pattern, space) -> Outcome | None:
    """More points, all wide or near a bound, looking for one in the region of ``pattern``; a
    refutation if a and b differ at one (the branch formulas differ there)."""
    more = getattr(space, "more", None)
    if more is None:
        return None
    for pt in more(EXTRA_POINTS):
        vals = {g: space.value(g, pt) for g in gs}
        if not all(v is not None and v.is_real for v in vals.values()):
            continue
        if branches.region_of(vals) != pattern:
            continue
        bad, _, _ = _compare_at(a, b, [pt], space)
        if bad:
            bad.detail += f" (where {_describe(pattern)})"
            return bad
    return None


def _describe(pattern: dict) -> str:
    word = {1: "> 0", -1: "< 0", 0: "= 0"}
    return ", ".join(f"{g} {word[s]}" for g, s in pattern.items())


def piecewise(a, b, space, prove_sign=None) -> Outcome:
    """Non-analytic sides: split at the switches, check every branch (see the module docstring)."""
    try:
        gs = branches.switches(a, b)
    except branches.Unsplittable as exc:
        return Outcome(Status.UNCHECKED, f"numbers cannot decide it: {exc}")
    inner = getattr(space, "internal", lambda g: False)
    internal = [g for g in gs if inner(g)]
    gs = [g for g in gs if not inner(g)]
    pts = list(space.points())
    signs = {}
    for i, pt in enumerate(pts):
        vals = {g: space.value(g, pt) for g in gs}
        if all(v is not None and v.is_real for v in vals.values()):
            signs[i] = branches.region_of(vals)
    # points next to each switch, on both sides of it
    near = []
    for g in gs:
        pos = [i for i, s in signs.items() if s[g] > 0]
        neg = [i for i, s in signs.items() if s[g] < 0]
        for k in range(min(NEAR_SWITCH_PAIRS, len(pos), len(neg))):
            p, q = pts[pos[k]], pts[neg[k]]
            for inside, outside, s in ((p, q, 1), (q, p, -1)):
                def holds(x, g=g, s=s):
                    v = space.value(g, x)
                    return v is not None and v.is_real and (v > 0 if s > 0 else v < 0)
                found = space.toward(inside, outside, holds)
                if found is not None:
                    near.append(found)
    for pt in near:
        vals = {g: space.value(g, pt) for g in gs}
        if all(v is not None and v.is_real for v in vals.values()):
            signs[len(pts)] = branches.region_of(vals)
        pts.append(pt)
    bad, used, skipped = _compare_at(a, b, pts, space)
    if bad:
        bad.detail += f" (split at {len(gs)} switch{'es' * (len(gs) != 1)})"
        return bad
    if used < MIN_POINTS:
        return Outcome(Status.UNCHECKED, f"only {used} admissible points could be evaluated", used=used)
    inside = (f"; kinks inside integrals ({', '.join(map(str, internal))}) are resolved point by point on "
              "finite supports that include equal and nearly equal densities") if internal else ""
    if not gs:
        return Outcome(Status.PROVED, f"equal at {used} admissible points{inside}", used=used)
    integer_valued = [g for g in gs if g.is_integer]
    seen: dict = {}
    checked = 0
    for pattern in branches.patterns(gs, integer_valued):
        ba, bb = branches.branch(a, pattern), branches.branch(b, pattern)
        if ba is None or bb is None:
            continue
        key = (ba, bb)
        if key not in seen:
            if sp.expand(ba - bb) == 0:
                seen[key] = True
            else:
                diff, n_used, _ = _compare_at(ba, bb, pts, space)
                seen[key] = diff is None and n_used >= MIN_POINTS
                checked += 1
        if seen[key]:
            continue
        region = [i for i, s in signs.items() if s == pattern]
        if not region:
            found = _search_region(a, b, gs, pattern, space)
            if found is not None:
                return found
        if region:
            return Outcome(Status.UNCHECKED, f"the branch formulas differ where {_describe(pattern)}, yet the "
                           "admissible points found there agree: not decided", used=used)
        if any(_sign_rules_out(g, s, prove_sign) for g, s in pattern.items()):
            continue
        return Outcome(Status.UNCHECKED, f"the two sides have different formulas where {_describe(pattern)}; no "
                       "admissible point was found there, and no proof that there is none", used=used)
    return Outcome(Status.PROVED, f"split at {len(gs)} switch{'es' * (len(gs) != 1)} ({', '.join(map(str, gs))}): "
                   f"equal at {used} admissible points, {len(near)} of them next to a switch, and each branch "
                   f"formula agrees with the other side's or its region is empty{inside}", used=used)


def decide(a, b, space, prove_sign=None, compared: int = 0) -> Outcome:
    """Numeric evidence for a = b in ``space`` (``compared``: see ``analytic``). Agreement counts
    only where the points could have seen a difference (``blind_spot``)."""
    if branches.is_analytic(a) and branches.is_analytic(b):
        outcome = analytic(a, b, space, compared)
    else:
        outcome = piecewise(a, b, space, prove_sign)
    if outcome.status is Status.PROVED:
        why = blind_spot(a, b)
        if why:
            return Outcome(Status.UNCHECKED, f"equal at the sampled points, but {why}; numbers cannot back it",
                           used=outcome.used, blind=True)
    return outcome


def as_evidence(outcome: Outcome, space, labels=("lhs", "rhs")) -> Evidence:
    if outcome.status is Status.REFUTED:
        example = space.show(outcome.point)
        example.update({labels[0]: _short(outcome.values[0]), labels[1]: _short(outcome.values[1])})
        return Evidence(Status.REFUTED, Kind.EXACT_NUMERIC, outcome.detail, counterexample=example)
    if outcome.status is Status.PROVED:
        return Evidence(Status.PROVED, Kind.EXACT_NUMERIC, outcome.detail, extra={"points": outcome.used})
    return Evidence(Status.UNCHECKED, Kind.NONE, outcome.detail, extra={"blind": True} if outcome.blind else {})


def _short(v):
    from .sampling import _short as short
    return short(v)
