"""Is an answer equal to the reference under the slot's assumptions? Evidence, never a guess.

Order (cheapest decisive step first):
1. cheap canonical forms of the difference (expand; cancel over a common denominator):
   a zero is a symbolic proof;
2. exact numerics in random admissible worlds (``worlds``): one differing world refutes, with
   that world as the counterexample; agreement at >= 20 worlds is numeric evidence;
3. only then the expensive symbolic attempt (``prove``'s canonical forms, including the
   positive parametrisation that lets SymPy use bounds such as 0 < abar_t < 1), within a time
   budget: success upgrades the evidence to a proof, failure leaves it exact-numeric.
"""
from __future__ import annotations

import time

import sympy as sp

from ..symbols import as_expr

from .. import branches, identity, prove
from ..evidence import Evidence, Kind, Status
from ..limits import CheckTimeout, time_limit
from . import quadrature
from .worlds import Integrated, Unsupported, WorldSpace, differ, show, worlds

MIN_POINTS = 20
POINTS = 24
CHEAP_SECONDS = 1.0
NUMERIC_SECONDS = 6.0


def _same_integrals(a, b) -> bool:
    """Two integrals over the same variables whose integrands agree pointwise (sufficient)."""
    if not (isinstance(a, sp.Integral) and isinstance(b, sp.Integral)) or a.limits != b.limits:
        return False
    d = (a.function - b.function).replace(lambda e: isinstance(e, sp.Derivative), lambda e: e.doit())
    return _cheap_zero(d)


def _cheap_zero(diff) -> bool:
    if diff == 0:
        return True
    if diff.has(sp.Integral, sp.Sum, sp.Derivative, sp.Piecewise, sp.Min, sp.Max, sp.Abs, sp.sign):
        return False
    for form in (sp.expand, lambda e: sp.cancel(sp.together(e))):
        diff = form(diff)
        if diff == 0:
            return True
    return False


QUADRATURE_WORLDS = 6


def numeric_quadrature(answer, reference, conditions=(), seed: int = 0) -> Evidence:
    """Integrals of unknown smooth functions: random concrete functions and quadrature."""
    import random

    from sympy.core.function import AppliedUndef
    started = time.perf_counter()
    funcs = {f.func for e in (answer, reference) for f in as_expr(e).atoms(AppliedUndef)}
    ws = worlds((answer, reference), conditions, n=QUADRATURE_WORLDS, seed=seed)
    used = 0
    for i, w in enumerate(ws):
        functions = quadrature.random_functions(funcs, random.Random(seed * 31 + i))
        try:
            a = quadrature.value(answer, w.point, functions)
            r = quadrature.value(reference, w.point, functions)
        except (quadrature.Unsupported, TypeError, ValueError, OverflowError) as exc:
            return Evidence(Status.UNCHECKED, Kind.NONE, f"no quadrature model: {exc}",
                            seconds=time.perf_counter() - started)
        if not (abs(r) < float("inf")):
            continue
        if not abs(a - r) <= quadrature.REL_TOL * max(1.0, abs(r)):
            example = show(w)
            example.update({str(f): str(l(sp.Symbol("x"))) for f, l in functions.items()})
            example.update(answer=a, reference=r)
            return Evidence(Status.REFUTED, Kind.EXACT_NUMERIC,
                            "the answer and the reference differ for concrete smooth functions "
                            "(quadrature)", counterexample=example, seconds=time.perf_counter() - started)
        used += 1
    if used < QUADRATURE_WORLDS // 2:
        return Evidence(Status.UNCHECKED, Kind.NONE, "too few quadrature models could be evaluated",
                        seconds=time.perf_counter() - started)
    return Evidence(Status.PROVED, Kind.EXACT_NUMERIC,
                    f"equal in {used} models with random smooth functions (Gaussian-mixture densities, "
                    f"quadratic score models), integrals by quadrature to a relative {quadrature.REL_TOL:g}",
                    seconds=time.perf_counter() - started, extra={"points": used})


def numeric(answer, reference, conditions=(), integrated: Integrated | None = None, seed: int = 0,
            n: int = POINTS) -> Evidence:
    """Compare in ``n`` random worlds: refuted with a counterexample, or exact-numeric support."""
    started = time.perf_counter()
    if not integrated and (quadrature.applies(as_expr(answer)) or quadrature.applies(as_expr(reference))):
        return numeric_quadrature(answer, reference, conditions, seed)
    try:
        ws = worlds((answer, reference), conditions, n=n, seed=seed, integrated=integrated)
        used = skipped = failed = 0
        for w in ws:
            r = w.value(reference, integrated or Integrated())
            if r is None:
                skipped += 1
                continue
            a = w.value(answer, integrated or Integrated())
            if a is None:                  # no value (overflow, a pole hit exactly): no evidence here
                failed += 1
                continue
            if differ(a, r) or (r.is_real and not a.is_real):
                example = show(w)
                example.update(answer=_short(a), reference=_short(r))
                why = ("the answer is not real at an admissible point where the reference is"
                       if r.is_real and not a.is_real else
                       "the answer and the reference differ at an admissible point")
                return Evidence(Status.REFUTED, Kind.EXACT_NUMERIC, why, counterexample=example,
                                seconds=time.perf_counter() - started)
            used += 1
    except Unsupported as exc:
        return Evidence(Status.UNCHECKED, Kind.NONE, f"no numeric model for {exc}",
                        seconds=time.perf_counter() - started)
    if MIN_POINTS > used > 0 and n == POINTS:
        # some worlds gave no value (a product of 64 densities underflows a float probe): twice as many
        return numeric(answer, reference, conditions, integrated, seed, 2 * n)
    if used == 0 and failed and not skipped:
        return Evidence(Status.UNCHECKED, Kind.NONE,
                        f"the answer has no finite value at any of the {failed} admissible points tried "
                        "(its values are too large to evaluate there, or it is undefined)",
                        seconds=time.perf_counter() - started)
    if used < MIN_POINTS:
        return Evidence(Status.UNCHECKED, Kind.NONE,
                        f"only {used} admissible points could be evaluated ({skipped} where the reference "
                        f"is undefined, {failed} where the answer has no finite value)",
                        seconds=time.perf_counter() - started)
    where = " (densities on random finite supports)" if integrated else ""
    outcome = identity.decide(answer, reference, WorldSpace(ws, integrated, conditions, (answer, reference), seed),
                              prove_sign=prove._symbolic_sign, compared=used)
    if outcome.status is Status.REFUTED:
        ev = identity.as_evidence(outcome, WorldSpace(ws, integrated), ("answer", "reference"))
        return Evidence(ev.status, ev.kind, ev.detail.replace("the two sides", "the answer and the reference"),
                        ev.counterexample, seconds=time.perf_counter() - started)
    if outcome.status is not Status.PROVED:
        return Evidence(Status.UNCHECKED, Kind.NONE, outcome.detail, seconds=time.perf_counter() - started,
                        extra={"blind": True} if outcome.blind else {})
    if not (branches.is_analytic(answer) and branches.is_analytic(reference)):
        return Evidence(Status.PROVED, Kind.EXACT_NUMERIC, outcome.detail + where,
                        seconds=time.perf_counter() - started, extra={"points": outcome.used})
    return Evidence(Status.PROVED, Kind.EXACT_NUMERIC,
                    f"equal at {used} admissible points across the domain to {prove.sampling.PRECISION} digits "
                    f"(and at {identity.HIGH_POINTS} of them to {identity.HIGH_DIGITS}){where}"
                    + (f"; {skipped} points where the reference is undefined skipped" if skipped else ""),
                    seconds=time.perf_counter() - started, extra={"points": used})


def _short(v):
    from ..sampling import _short as short
    return short(v)


def symbolic(answer, reference, seconds: float) -> bool:
    """A proof that answer - reference is 0, within ``seconds`` (False if none was found)."""
    diff = as_expr(answer) - as_expr(reference)
    try:
        with time_limit(min(seconds, CHEAP_SECONDS)):
            if _cheap_zero(diff):
                return True
        if seconds > CHEAP_SECONDS and not diff.has(sp.Integral, sp.Sum):
            with time_limit(seconds):
                return prove._symbolic_zero(diff)
    except CheckTimeout:
        return False
    except (TypeError, ValueError, NotImplementedError, RecursionError, AttributeError):
        return False
    return False


def _provably_nonzero(diff) -> bool:
    """SymPy's assumptions prove ``diff != 0`` everywhere (e.g. a stray 10^{-40} or e^{-1000 t}):
    numerics at 50 digits cannot see such terms, the assumption system can."""
    try:
        with time_limit(CHEAP_SECONDS):
            return diff.has(sp.Integral, sp.Sum) is False and sp.cancel(sp.together(diff)).is_zero is False
    except (CheckTimeout, TypeError, ValueError, NotImplementedError, RecursionError, AttributeError):
        return False


def compare(answer, reference, conditions=(), integrated: Integrated | None = None, seed: int = 0,
            symbolic_seconds: float = 2.0) -> Evidence:
    """Evidence that ``answer`` equals ``reference`` (see the module docstring for the order)."""
    started = time.perf_counter()
    try:
        with time_limit(CHEAP_SECONDS):
            if not integrated and _same_integrals(as_expr(answer), as_expr(reference)):
                return Evidence(Status.PROVED, Kind.SYMBOLIC, "the integrands agree pointwise (same variables)",
                                seconds=time.perf_counter() - started)
            cheap = not integrated and _cheap_zero(as_expr(answer) - as_expr(reference))
    except (CheckTimeout, TypeError, ValueError, NotImplementedError, RecursionError):
        cheap = False
    if cheap:
        return Evidence(Status.PROVED, Kind.SYMBOLIC, "the difference expands to 0",
                        seconds=time.perf_counter() - started)
    try:
        with time_limit(NUMERIC_SECONDS):
            ev = numeric(answer, reference, conditions, integrated, seed)
    except CheckTimeout:
        return Evidence(Status.UNCHECKED, Kind.NONE,
                        f"evaluating the answer at random points took longer than {NUMERIC_SECONDS:g} s "
                        "(its values are too large or too intricate to evaluate)", seconds=time.perf_counter() - started)
    blind = ev.status is Status.UNCHECKED and ev.extra.get("blind")
    if (ev.status is not Status.PROVED and not blind) or integrated:
        return ev
    if blind:       # numbers could not have seen a difference: only a proof decides
        if symbolic(answer, reference, symbolic_seconds):
            return Evidence(Status.PROVED, Kind.SYMBOLIC, "the difference simplifies to 0 under the symbols' domains",
                            seconds=time.perf_counter() - started)
        if _provably_nonzero(as_expr(answer) - as_expr(reference)):
            return Evidence(Status.REFUTED, Kind.SYMBOLIC, "the difference is provably nonzero under the symbols' "
                            "domains, though too small to see at the sampled points",
                            seconds=time.perf_counter() - started)
        return ev
    if symbolic(answer, reference, symbolic_seconds):
        return Evidence(Status.PROVED, Kind.SYMBOLIC,
                        "the difference simplifies to 0 under the symbols' domains "
                        f"(and {ev.extra.get('points', 0)} random points agree)",
                        seconds=time.perf_counter() - started)
    if _provably_nonzero(as_expr(answer) - as_expr(reference)):
        return Evidence(Status.REFUTED, Kind.SYMBOLIC,
                        "the difference is provably nonzero under the symbols' domains, though too small to "
                        f"see at the {ev.extra.get('points', 0)} sampled points",
                        seconds=time.perf_counter() - started)
    why = ("no symbolic proof is attempted for integrals of unknown functions"
           if as_expr(answer - reference).has(sp.Integral) else f"no symbolic proof within {symbolic_seconds:g} s")
    return Evidence(ev.status, ev.kind, ev.detail + f"; {why}",
                    seconds=time.perf_counter() - started, extra=ev.extra)
