"""Turn a relation into evidence: a symbolic proof if SymPy finds one, else high-precision
evaluation at random admissible points, which either refutes it with a counterexample or
backs it as exact-numeric evidence (never called a proof).

Cheap canonical forms are tried before expensive ones; bounded symbols are also tried in a
positive parametrisation (x in (lo, hi) as lo + (hi - lo) u/(1 + u), u > 0), which lets
SymPy use the bounds (e.g. sqrt((1 - abar)^2) = 1 - abar).
"""
from __future__ import annotations

import time

import sympy as sp

from .symbols import as_expr

from . import sampling
from . import symbols as symtab
from .evidence import Evidence, Kind, Status
from .limits import CheckTimeout, time_limit
from .step import as_matrix

SYMBOLIC_SECONDS = 8.0
NUMERIC_POINTS = 24
REL_TOL = sp.Float("1e-30", sampling.PRECISION)



def _violates(a, b, rel) -> bool:
    """Does the point break ``a rel b``? Equalities to a relative 1e-30; strict ones by a margin."""
    tol = REL_TOL * max(abs(a), abs(b), sp.Float(1))
    if rel == "=":
        return bool(abs(a - b) > tol)
    if not (a.is_real and b.is_real):
        return True
    gap = {"<=": a - b, "<": a - b, ">=": b - a, ">": b - a}[rel]
    return bool(gap > tol) if rel in ("<=", ">=") else bool(gap > -tol)


def _factor_radicands(expr):
    """Factor the base of every fractional power, so that sqrt((1 - a)**2 b) can become
    (1 - a) sqrt(b) once the bounds make 1 - a positive."""
    expr = expr.replace(lambda e: e.is_Pow and e.exp.is_Rational and not e.exp.is_integer,
                        lambda e: sp.factor(e.base) ** e.exp)
    return sp.powdenest(expr, force=False)


# Cheap canonical forms first; each is applied to the original expression, not cumulatively.
CANONICAL_FORMS = (
    sp.expand,
    lambda e: sp.cancel(sp.together(e)),
    lambda e: sp.cancel(_factor_radicands(sp.together(e))),
    sp.simplify,
    lambda e: sp.simplify(_factor_radicands(sp.together(e))),
)


def positive_parametrisation(expr) -> tuple[sp.Expr, dict]:
    """Replace each bounded symbol by a map of a fresh positive symbol onto its interval."""
    mapping = {}
    for s in as_expr(expr).free_symbols:
        dom = symtab.info(s).domain
        if dom.integer or not isinstance(s, sp.Symbol):
            continue
        u = sp.Symbol(f"u_{s.name}", positive=True)
        if dom.lo.is_finite and dom.hi.is_finite:
            mapping[s] = dom.lo + (dom.hi - dom.lo) * u / (1 + u)
        elif dom.lo.is_finite and dom.lo != 0:
            mapping[s] = dom.lo + u
        elif dom.hi.is_finite:
            mapping[s] = dom.hi - u
    return as_expr(expr).xreplace(mapping), mapping


def _symbolic_zero(diff) -> bool:
    """Is ``diff`` zero in some canonical form, as given or in the positive parametrisation?"""
    if diff == 0:
        return True
    reparam, mapping = positive_parametrisation(diff)
    forms = (diff, reparam) if mapping else (diff,)
    return any(simplify(form) == 0 for simplify in CANONICAL_FORMS for form in forms)


def _symbolic_sign(d, rel) -> bool:
    """Prove ``d rel 0`` (d = lhs - rhs) from the symbols' assumptions."""
    want = {"<=": "is_nonpositive", "<": "is_negative", ">=": "is_nonnegative", ">": "is_positive"}[rel]
    for form in (d, sp.factor(d), sp.simplify(d)):
        if getattr(form, want) is True:
            return True
    reparam, mapping = positive_parametrisation(d)
    if mapping:
        for form in (sp.factor(sp.together(reparam)), sp.simplify(reparam)):
            if getattr(form, want) is True:
                return True
    return False


def _numeric(pairs, rel, conditions, seed) -> tuple[Status, dict | None, int, int]:
    """Evaluate each (lhs, rhs) pair at random admissible points.

    Returns (status, counterexample, points used, points skipped as undefined).
    """
    atoms = sampling.unknowns(*[x for pair in pairs for x in pair])
    pts = sampling.points(atoms, conditions, n=NUMERIC_POINTS, seed=seed)
    used = skipped = 0
    for point in pts:
        point_ok = True
        for lhs, rhs in pairs:
            a, b = sampling.evaluate(lhs, point), sampling.evaluate(rhs, point)
            if a is None or b is None:
                point_ok = False
                break
            bad = _violates(a, b, rel)
            if bad:
                example = sampling.show(point)
                example.update(lhs=sampling._short(a), rhs=sampling._short(b))
                return Status.REFUTED, example, used + 1, skipped
        if point_ok:
            used += 1
        else:
            skipped += 1
    return Status.PROVED, None, used, skipped


def check_relation(lhs, rel, rhs, conditions=(), family: str = "", seed: int = 0,
                   symbolic_seconds: float = SYMBOLIC_SECONDS) -> Evidence:
    """Evidence for ``lhs rel rhs`` under the symbols' domains and ``conditions``."""
    started = time.perf_counter()
    ml, mr = as_matrix(lhs), as_matrix(rhs)
    if (ml is None) != (mr is None) and not (ml is not None and mr is None and rhs == 0):
        return Evidence(Status.REFUTED, Kind.SYMBOLIC, "a matrix compared with a scalar",
                        seconds=time.perf_counter() - started)
    if ml is not None:
        mr = mr if mr is not None else sp.zeros(*ml.shape)
        if ml.shape != mr.shape:
            return Evidence(Status.REFUTED, Kind.SYMBOLIC,
                            f"shapes differ: {ml.shape} vs {mr.shape}", seconds=time.perf_counter() - started)
        pairs = list(zip(ml, mr))
    else:
        pairs = [(as_expr(lhs), as_expr(rhs))]

    proof_kind = Kind.SYMBOLIC_FAMILY if family else Kind.SYMBOLIC
    where = f" in the family {family}" if family else ""
    note = ""
    try:
        with time_limit(symbolic_seconds):
            if rel == "=":
                proved = all(_symbolic_zero(a - b) for a, b in pairs)
            else:
                proved = all(_symbolic_sign(a - b, rel) for a, b in pairs)
        if proved:
            what = "difference simplifies to 0" if rel == "=" else f"lhs - rhs is {_WORD[rel]} under the assumptions"
            return Evidence(Status.PROVED, proof_kind, what + where, seconds=time.perf_counter() - started)
    except CheckTimeout:
        note = f"symbolic attempt stopped after {symbolic_seconds:g} s; "
    except (TypeError, ValueError, NotImplementedError, RecursionError) as exc:
        note = f"symbolic attempt failed ({type(exc).__name__}); "

    status, example, used, skipped = _numeric(pairs, rel, conditions, seed)
    seconds = time.perf_counter() - started
    if status is Status.REFUTED:
        return Evidence(Status.REFUTED, Kind.EXACT_NUMERIC,
                        f"{note}the relation fails at an admissible point{where}",
                        counterexample=example, seconds=seconds)
    if used < 20:
        return Evidence(Status.UNCHECKED, Kind.NONE,
                        f"{note}not proved symbolically and only {used} admissible points could be "
                        f"evaluated ({skipped} undefined)", seconds=seconds)
    return Evidence(Status.PROVED, Kind.EXACT_NUMERIC,
                    f"{note}holds at {used} random admissible points to {sampling.PRECISION} digits{where}"
                    + (f" ({skipped} undefined points skipped)" if skipped else ""),
                    seconds=seconds, extra={"points": used})


_WORD = {"<=": "<= 0", "<": "< 0", ">=": ">= 0", ">": "> 0"}
