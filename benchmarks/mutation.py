"""mutation: mutation testing of derivcheck's own checkers and of its grader.

Step harness. Every step of every derivation (``registry.derivations()``) whose checker proves
it is mutated one change at a time -- each side by ``derivations.mutants`` and the relation by
``relation_mutants`` -- and the step's own checker (``verify.check_step``, custom ``check``
callables included) runs on the mutated step. Independently of any checker, each mutant is
classified:

- a side mutant of an equality is **false** when the mutated side differs from the original side
  at some random admissible point (50 digits): the original is proved, so the mutant then fails
  there. It is **equivalent** when they agree at every one of ``POINTS`` points.
- a relation flip, or a side mutant of an inequality, is **false** when a violating point is
  found (random admissible points, then a few Nelder-Mead searches from the best of them); it is
  **true** when none is found. ``= -> <=`` is true: the equality implies it.
- **unknown** when the sides cannot be evaluated at enough admissible points.

Steps whose checker reads the sides through a concrete family (score matching's named
quantities: ``in_families``, ``integration_by_parts``, ``theta_free``, ``given``) are classified
through the same reading (the family's closed forms, the earlier facts), never as free symbols.

A false mutant that the checker proves is a soundness failure, listed in full. Audited steps
(claims quoted from a source, possibly false) are not mutated; steps the checker does not prove
are reported and skipped.

Grader harness. Every slot whose reference is a SymPy expression: each mutant of the reference
is graded through ``grading.core.decide`` (what ``derivcheck answer`` runs in its worker) and
classified against the reference the same way (after expanding the slot's named quantities). A
mutant graded ``correct`` that is not equivalent is a soundness failure. Slots about densities,
matrix symbols or sets (where another member of the set is also right) are graded but not
classified: their ``correct`` verdicts are listed for review.
"""
from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import os
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import sympy as sp
from sympy.core.function import AppliedUndef

from . import Table

SEED = 7919                 # not the checkers' seed: the classification is independent of them
POINTS = 24
SEARCH_POINTS = 40
SEARCHES = 2
SEARCH_EVALS = 80
REL_TOL = sp.Float("1e-20", 50)
CHECK_SECONDS = 12.0        # one mutant's check (the checkers' own symbolic limits sit inside it)
CLASSIFY_SECONDS = 20.0
PER_SIDE = 4                # mutants per side of a step (the operators in turn: each kind early)
PER_REFERENCE = 6           # mutants per slot reference
SURVIVORS = Path(__file__).resolve().parent / "mutation_survivors.yaml"


# --------------------------------------------------------------------------- readings
def _closure(fn) -> dict:
    cells = fn.__closure__ or ()
    return {name: cell.cell_contents for name, cell in zip(fn.__code__.co_freevars, cells)}


def _worked(e):
    """Carry out the operations a side writes unevaluated (Derivative, Subs, Expect), as the step's
    checker does; a side that cannot be carried out is read as written."""
    if isinstance(e, sp.Basic) and e.has(sp.Derivative, sp.Subs):
        try:
            return e.doit()
        except Exception:  # noqa: BLE001
            return e
    return e


def readings(step) -> list[tuple[str, object, object]]:
    """(name, read lhs, read rhs): how the step's checker reads its sides. Plain steps read them
    as written; score matching's named quantities are read in each family's closed forms."""
    plain = ("", _worked, _worked)
    chk = step.check
    if chk is None or not getattr(chk, "__closure__", None):
        return [plain]
    q, cells = chk.__qualname__, _closure(chk)
    if q.startswith(("in_families.", "integration_by_parts.", "theta_free.")) and "families" in cells:
        from derivations.catalogue import sm

        def family_reader(fam, gradient=False):
            def read(e):
                e = sp.sympify(e, strict=True)
                if gradient and e.has(sp.Derivative):
                    # d(expr)/d theta: the gradient in the family's coefficients, wherever it sits
                    return sp.Matrix([sm._substitute(e.replace(
                        lambda n: isinstance(n, sp.Derivative),
                        lambda n, th=th: sp.diff(sm._substitute(n.expr, fam), th)), fam) for th in fam.theta])
                return sm._substitute(e, fam)
            return read
        grad = q.startswith("theta_free.")
        out = []
        for fam in cells["families"]:
            lhs_read = family_reader(fam, grad)
            rhs_read = (lambda e, n=len(fam.theta): sp.zeros(n, 1) if e == 0 else e) if grad else family_reader(fam)
            out.append((fam.name, lhs_read, rhs_read))
        return out
    if q.startswith("given.") and "facts" in cells:
        subs = {f.lhs: f.rhs for f in cells["facts"]}
        read = (lambda e: sp.sympify(e, strict=True).xreplace(subs))
        return [("given", read, read)]
    return [plain]


# --------------------------------------------------------------------------- evaluation
def _pairs(a, b):
    """Entry pairs of two sides (scalars, or explicit matrices of one shape); None if they do not pair."""
    ma = a if isinstance(a, sp.MatrixBase) else None
    mb = b if isinstance(b, sp.MatrixBase) else None
    if ma is not None and mb is not None:
        return list(zip(ma, mb)) if ma.shape == mb.shape else None
    if ma is not None and b == 0:
        return [(x, sp.S.Zero) for x in ma]
    if mb is not None and a == 0:
        return [(sp.S.Zero, x) for x in mb]
    if ma is not None or mb is not None:
        return None
    return [(sp.sympify(a, strict=True), sp.sympify(b, strict=True))]


def _atoms(pairs):
    from derivations import sampling
    return sampling.unknowns(*[x for p in pairs for x in p])


def _differ(x, y) -> bool:
    return bool(abs(x - y) > REL_TOL * max(abs(x), abs(y), sp.Float(1)))


def _violated(a, b, rel) -> bool:
    tol = REL_TOL * max(abs(a), abs(b), sp.Float(1))
    if rel == "=":
        return bool(abs(a - b) > tol)
    if not (a.is_real and b.is_real):
        return True
    gap = {"<=": a - b, "<": a - b, ">=": b - a, ">": b - a}[rel]
    return bool(gap > tol) if rel in ("<=", ">=") else bool(gap > -tol)


def _value(expr, point):
    """``expr`` at ``point`` (50 digits), evaluating unevaluated objects (Subs, Gaussian
    expectations) by ``doit`` where plain evaluation gives no number; None where undefined."""
    from derivations import sampling
    value = sampling.evaluate(expr, point)
    if value is None and isinstance(expr, sp.Basic):
        try:
            value = sampling.number(sp.sympify(expr, strict=True).xreplace(point).doit())
        except Exception:  # noqa: BLE001 - undefined here
            return None
    return value


def _point_text(point) -> dict:
    from derivations import sampling
    return {str(k): sampling._short(v) for k, v in point.items()}


def classify_equal(original, mutated, conditions=(), n: int = POINTS, seed: int = SEED) -> tuple[str, str]:
    """Is ``mutated`` equal to ``original`` at random admissible points? ("false" | "equivalent" |
    "unknown", reason). "false" means: differs somewhere, so an equality proved for ``original``
    is false for ``mutated``."""
    from derivations import sampling
    pairs = _pairs(original, mutated)
    if pairs is None:
        return "false", "the mutant's shape differs from the original's"
    pts = sampling.points(_atoms(pairs), conditions, n=n, seed=seed)
    used = 0
    for point in pts:
        values = [(_value(x, point), _value(y, point)) for x, y in pairs]
        if any(x is None for v in values for x in v):
            continue                      # undefined here (on one side or both): decides nothing
        used += 1
        for x, y in values:
            if _differ(x, y):
                return "false", f"differs at {_point_text(point)}: {sampling._short(x)} vs {sampling._short(y)}"
    if used >= 20:
        return "equivalent", f"equal at {used} random admissible points (50 digits, seed {seed})"
    return "unknown", f"only {used} admissible points could be evaluated"


def _transform(atom):
    """u (a free real) -> a value of ``atom`` inside its domain; None for integers."""
    from derivations import symbols as symtab
    if isinstance(atom, (AppliedUndef, sp.Derivative)):
        return lambda u: u, lambda v: v
    dom = symtab.info(atom).domain
    if dom.integer:
        return None
    lo, hi = dom.lo, dom.hi
    if lo.is_finite and hi.is_finite:
        flo, fhi = float(lo), float(hi)
        return (lambda u: flo + (fhi - flo) / (1 + pow(2.718281828459045, -u)),
                lambda v: -__import__("math").log((fhi - flo) / (float(v) - flo) - 1))
    if lo.is_finite:
        flo = float(lo)
        return lambda u: flo + pow(2.718281828459045, u), lambda v: __import__("math").log(float(v) - flo)
    if hi.is_finite:
        fhi = float(hi)
        return lambda u: fhi - pow(2.718281828459045, u), lambda v: __import__("math").log(fhi - float(v))
    return lambda u: u, lambda v: float(v)


def _gap_value(pairs, rel, point) -> float | None:
    """The largest violation margin of ``rel`` over the pairs at ``point`` (> 0: violated)."""
    from derivations import sampling
    worst = None
    for lhs, rhs in pairs:
        a, b = _value(lhs, point), _value(rhs, point)
        if a is None or b is None:
            return None
        if not (a.is_real and b.is_real):
            return 1.0 if rel != "=" else float(abs(a - b))
        scale = float(max(abs(a), abs(b), 1))
        g = {"<=": a - b, "<": a - b, ">=": b - a, ">": b - a, "=": abs(a - b)}[rel]
        g = float(g) / scale
        worst = g if worst is None else max(worst, g)
    return worst


def find_violation(pairs, rel, conditions=(), seed: int = SEED) -> tuple[str, str]:
    """Search for a point where ``lhs rel rhs`` fails: random admissible points, then Nelder-Mead
    from the best of them. ("false" | "true" | "unknown", reason)."""
    from derivations import sampling
    atoms = _atoms(pairs)
    pts = sampling.points(atoms, conditions, n=SEARCH_POINTS, seed=seed)
    scored, used = [], 0
    for point in pts:
        ok = True
        for lhs, rhs in pairs:
            a, b = _value(lhs, point), _value(rhs, point)
            if a is None or b is None:
                ok = False
                break
            if _violated(a, b, rel):
                return "false", f"violated at {_point_text(point)}: lhs {sampling._short(a)}, rhs {sampling._short(b)}"
        if ok:
            used += 1
            g = _gap_value(pairs, rel, point)
            if g is not None:
                scored.append((-g, len(scored), point))
    if used < 10:
        return "unknown", f"only {used} admissible points could be evaluated"
    if rel == "=":
        return "true", f"holds at {used} random admissible points"
    searched = _search(pairs, rel, conditions, atoms, [p for _, _, p in sorted(scored)[:SEARCHES]])
    if searched is not None:
        return "false", searched
    return "true", (f"no violation at {used} random admissible points nor in {SEARCHES} Nelder-Mead "
                    f"searches ({SEARCH_EVALS} evaluations each)")


def _search(pairs, rel, conditions, atoms, starts) -> str | None:
    import math

    import numpy as np
    from scipy.optimize import minimize

    from derivations import sampling
    maps = {a: _transform(a) for a in atoms}
    moving = [a for a in atoms if maps[a] is not None]
    if not moving:
        return None
    for start in starts:
        fixed = {a: v for a, v in start.items() if maps.get(a) is None}
        try:
            u0 = np.array([maps[a][1](start[a]) for a in moving], dtype=float)
        except (ValueError, ZeroDivisionError, OverflowError):
            continue

        def point_of(u):
            pt = dict(fixed)
            for a, ui in zip(moving, u):
                v = maps[a][0](float(np.clip(ui, -40, 40)))
                pt[a] = sp.Rational(sp.Float(v, 17))
            return pt

        def objective(u):
            pt = point_of(u)
            if not all(sampling._holds(c, pt) for c in conditions):
                return 1e6
            g = _gap_value(pairs, rel, pt)
            return 1e6 if g is None or math.isnan(g) else -g
        try:
            res = minimize(objective, u0, method="Nelder-Mead",
                           options={"maxfev": SEARCH_EVALS, "xatol": 1e-6, "fatol": 1e-12})
        except Exception:        # noqa: BLE001 - a failed search decides nothing
            continue
        if res.fun < 0:
            pt = point_of(res.x)
            for lhs, rhs in pairs:
                a, b = _value(lhs, pt), _value(rhs, pt)
                if a is not None and b is not None and _violated(a, b, rel):
                    return f"violated at {_point_text(pt)} (found by search): lhs {sampling._short(a)}, " \
                           f"rhs {sampling._short(b)}"
    return None


# --------------------------------------------------------------------------- one step
def _classify_step_mutant(step, sides, new_sides, rel, new_rel, which) -> tuple[str, str]:
    """Classify a mutant of a proved step (``which``: "lhs", "rhs" or "rel")."""
    if which == "rel" and rel == "=" and new_rel in ("<=", ">="):
        return "true", "implied by the proved equality"
    results = []
    for name, read_l, read_r in readings(step):
        try:
            if which != "rel" and rel == "=":
                i = 0 if which == "lhs" else 1
                read = read_l if i == 0 else read_r
                verdict = classify_equal(read(sides[i]), read(new_sides[i]), step.assume)
            else:
                pairs = _pairs(read_l(new_sides[0]), read_r(new_sides[1]))
                if pairs is None:
                    verdict = ("false", "the sides' shapes differ")
                else:
                    verdict = find_violation(pairs, new_rel, step.assume)
        except Exception as exc:  # noqa: BLE001 - a reading that fails decides nothing
            verdict = ("unknown", f"could not be read ({type(exc).__name__}: {str(exc)[:80]})")
        tag = f" (family {name})" if name and name != "given" else ""
        if verdict[0] == "false":
            return "false", verdict[1] + tag
        results.append((verdict[0], verdict[1] + tag))
    if all(v == results[0][0] for v, _ in results):
        return results[0][0], "; ".join(r for _, r in results)
    return "unknown", "; ".join(r for _, r in results)


def _classify_bounded(*args) -> tuple[str, str]:
    from derivations.limits import CheckTimeout, time_limit
    try:
        with time_limit(CLASSIFY_SECONDS):
            return _classify_step_mutant(*args)
    except CheckTimeout:
        return "unknown", f"classification did not finish within {CLASSIFY_SECONDS:g} s"


def _short_text(e, n: int = 160) -> str:
    s = sp.sstr(e)
    return s if len(s) <= n else s[:n - 3] + "..."


def run_step(args) -> dict:
    """Worker: the original step's evidence and every mutant's evidence and class."""
    derivation_id, index, per_side, seconds = args
    from derivations import registry
    from derivations.mutants import mutants, relation_mutants
    from derivations.verify import check_step
    step = registry.derivations()[derivation_id].steps[index]
    started = time.perf_counter()
    out = {"derivation": derivation_id, "index": index, "rel": step.rel, "audit": step.audit,
           "custom_check": getattr(step.check, "__qualname__", None) if step.check else None,
           "mutants": []}
    if step.audit:
        out["skipped"] = "audited claim (quoted from a source; may be false)"
        return out
    if getattr(step, "definition", False):
        out["skipped"] = "definition (stated, not checked)"
        return out
    original = check_step(step, seconds)
    out["original"] = {"status": original.status.value, "kind": original.kind.value, "detail": original.detail[:200]}
    if original.status.value != "proved":
        out["skipped"] = f"the original step is {original.status.value}"
        return out
    try:
        sides = step.sides()
    except Exception as exc:  # noqa: BLE001
        out["skipped"] = f"sides could not be built: {exc}"
        return out
    todo = []
    for i, which in ((0, "lhs"), (1, "rhs")):
        for m in mutants(sides[i], limit=per_side):
            new_sides = (m.expr, sides[1]) if i == 0 else (sides[0], m.expr)
            todo.append((which, m.op, m.description, new_sides, step.rel))
    for new_rel, text in relation_mutants(step.rel):
        todo.append(("rel", "relation", text, sides, new_rel))
    for which, op, text, new_sides, new_rel in todo:
        mutated = dataclasses.replace(step, lhs=new_sides[0], rhs=new_sides[1], rel=new_rel)
        ev = check_step(mutated, seconds)
        cls, why = _classify_bounded(step, sides, new_sides, step.rel, new_rel, which)
        out["mutants"].append({"which": which, "op": op, "description": text,
                               "mutant": _short_text(new_sides[0 if which == "lhs" else 1]) if which != "rel"
                               else f"lhs {new_rel} rhs",
                               "status": ev.status.value, "kind": ev.kind.value, "detail": ev.detail[:240],
                               "class": cls, "why": why[:300]})
    out["seconds"] = time.perf_counter() - started
    return out


# --------------------------------------------------------------------------- one slot
def slot_classifiable(slot) -> str | None:
    """Why the slot's mutants cannot be classified numerically, or None when they can."""
    from derivations.grading.core import uses_densities
    from derivations.latex.objects import is_structured
    ref = slot.reference
    if not isinstance(ref, sp.Basic) or ref.is_Relational:
        return "no scalar reference"
    if slot.kind == "set":
        return "set-valued slot (another member of the set is also right)"
    if isinstance(ref, (sp.MatrixExpr, sp.MatrixBase)):
        return "matrix-symbol reference"
    if uses_densities(slot) or is_structured(ref):
        return "reference about densities / expectations"
    if slot.accepts is not None:
        return None
    return None


def _classify_answer(slot, mutant) -> tuple[str, str]:
    from derivations.grading.core import expand, integrated_part
    why = slot_classifiable(slot)
    if why:
        return "unknown", why
    cls, reason = classify_equal(slot.reference, mutant, slot.conditions)
    if cls != "false":
        return cls, reason
    skip = set(integrated_part(slot).integrands)
    try:
        c2, r2 = classify_equal(expand(slot.reference, slot.id, skip), expand(mutant, slot.id, skip), slot.conditions)
    except Exception:  # noqa: BLE001
        return cls, reason
    if c2 != "false":
        return c2, r2 + " (after expanding the slot's named quantities)"
    return "false", reason


def run_slot(args) -> dict:
    slot_id, per_ref, seconds = args
    from derivations import registry
    from derivations.evidence import Status
    from derivations.grading.core import decide
    from derivations.limits import CheckTimeout, time_limit
    from derivations.mutants import mutants
    slot = registry.slots()[slot_id]
    started = time.perf_counter()
    out = {"slot": slot_id, "question": slot.question, "kind": slot.kind, "mutants": []}
    try:
        ms = mutants(slot.reference, limit=per_ref)
    except Exception as exc:  # noqa: BLE001
        out["skipped"] = f"reference could not be mutated: {exc}"
        return out
    for m in ms:
        t0 = time.perf_counter()
        try:
            with time_limit(seconds):
                ev = decide(slot, m.expr, 0)
            status, kind, detail = ev.status.value, ev.kind.value, ev.detail
        except CheckTimeout:
            status, kind, detail = "unchecked", "none", f"did not finish within {seconds:g} s"
        except Exception as exc:  # noqa: BLE001 - the grader's worker would report it the same way
            status, kind, detail = "error", "none", f"{type(exc).__name__}: {str(exc)[:120]}"
        try:
            cls, why = _classify_bounded_answer(slot, m.expr)
        except Exception as exc:  # noqa: BLE001
            cls, why = "unknown", f"{type(exc).__name__}"
        verdict = {"proved": "correct", "refuted": "wrong"}.get(status, "unchecked")
        out["mutants"].append({"op": m.op, "description": m.description, "mutant": _short_text(m.expr),
                               "status": status, "verdict": verdict, "kind": kind, "detail": detail[:240],
                               "class": cls, "why": why[:300], "seconds": round(time.perf_counter() - t0, 2)})
    out["seconds"] = time.perf_counter() - started
    return out


def _classify_bounded_answer(slot, mutant):
    from derivations.limits import CheckTimeout, time_limit
    try:
        with time_limit(CLASSIFY_SECONDS):
            return _classify_answer(slot, mutant)
    except CheckTimeout:
        return "unknown", f"classification did not finish within {CLASSIFY_SECONDS:g} s"


# --------------------------------------------------------------------------- driver
def _pool_map(fn, work, jobs, progress=None):
    """``fn`` over ``work`` in ``jobs`` forked workers (the registry is loaded before the fork)."""
    out = []
    if jobs <= 1 or "fork" not in mp.get_all_start_methods():
        results = map(fn, work)
    else:
        pool = mp.get_context("fork").Pool(jobs, maxtasksperchild=8)
        results = pool.imap_unordered(fn, work)
    for k, r in enumerate(results, 1):
        out.append(r)
        if progress:
            progress(k, len(work), r)
    if jobs > 1 and "fork" in mp.get_all_start_methods():
        pool.close()
        pool.join()
    return out


def _progress(k, n, r):
    import sys
    what = r.get("slot") or f"{r.get('derivation')}[{r.get('index')}]"
    print(f"  mutation {k}/{n} {what} {r.get('seconds', 0):.1f} s", file=sys.stderr, flush=True)


def step_work(selectors=(), per_side=PER_SIDE, seconds=CHECK_SECONDS):
    from derivations import registry
    return [(d.id, i, per_side, seconds) for d in registry.select(selectors) for i in range(len(d.steps))]


def slot_work(selectors=(), per_ref=PER_REFERENCE, seconds=CHECK_SECONDS):
    from derivations import registry
    return [(sid, per_ref, seconds) for sid, s in registry.slots().items()
            if registry.matches(sid, selectors) and isinstance(s.reference, sp.Basic)
            and not s.reference.is_Relational]


def collect(selectors=(), jobs: int = 2, per_side=PER_SIDE, per_ref=PER_REFERENCE, seconds=CHECK_SECONDS,
            steps=True, slots=True, progress=_progress) -> dict:
    from derivations import registry
    registry.load()
    started = time.perf_counter()
    out = {"steps": [], "slots": []}
    if steps:
        work = sorted(step_work(selectors, per_side, seconds), key=lambda w: (w[0], w[1]))
        out["steps"] = sorted(_pool_map(run_step, work, jobs, progress), key=lambda r: (r["derivation"], r["index"]))
    out["steps_seconds"] = time.perf_counter() - started
    t1 = time.perf_counter()
    if slots:
        work = slot_work(selectors, per_ref, seconds)
        out["slots"] = sorted(_pool_map(run_slot, work, jobs, progress), key=lambda r: r["slot"])
    out["slots_seconds"] = time.perf_counter() - t1
    out["seconds"] = time.perf_counter() - started
    out["summary"] = summarise(out)
    return out


def _tally(rows) -> dict:
    c = Counter()
    for r in rows:
        c["mutants"] += 1
        c[f"class:{r['class']}"] += 1
        false = r["class"] == "false"
        c["false"] += false
        c["killed"] += r["status"] == "refuted"
        c["false_killed"] += false and r["status"] == "refuted"
        c["unchecked"] += r["status"] in ("unchecked", "error")
        c["false_proved"] += false and r["status"] == "proved"
        c["survivors"] += r["status"] != "refuted" and r["class"] in ("equivalent", "true")
    return dict(c)


def false_proved(result: dict) -> list[dict]:
    rows = []
    for s in result["steps"]:
        for m in s["mutants"]:
            if m["class"] == "false" and m["status"] == "proved":
                rows.append({"where": f"{s['derivation']}[{s['index']}]", "checker": s.get("custom_check") or "check_relation",
                             "original_kind": s["original"]["kind"], **m})
    for s in result["slots"]:
        for m in s["mutants"]:
            if m["class"] == "false" and m["status"] == "proved":
                rows.append({"where": f"answer {s['slot']}", "checker": "grading.core.decide",
                             "original_kind": "-", **m})
    return rows


def summarise(result: dict) -> dict:
    by_question, by_derivation, by_kind = defaultdict(list), defaultdict(list), defaultdict(list)
    skipped = Counter()
    for s in result["steps"]:
        if "skipped" in s:
            skipped[s["skipped"].split(" (")[0]] += 1
            continue
        by_derivation[s["derivation"]] += s["mutants"]
        by_question[s["derivation"].split(".")[0]] += s["mutants"]
        by_kind[s["original"]["kind"]] += s["mutants"]
    slots_q, slots_unclassified = defaultdict(list), []
    for s in result["slots"]:
        slots_q[s["question"]] += s["mutants"]
        slots_unclassified += [{"slot": s["slot"], **m} for m in s["mutants"]
                               if m["class"] == "unknown" and m["verdict"] == "correct"]
    all_steps = [m for s in result["steps"] for m in s["mutants"]]
    all_slots = [m for s in result["slots"] for m in s["mutants"]]
    fp = false_proved(result)
    return {"steps": _tally(all_steps), "slots": _tally(all_slots),
            "by_question": {k: _tally(v) for k, v in sorted(by_question.items())},
            "by_derivation": {k: _tally(v) for k, v in sorted(by_derivation.items())},
            "by_kind": {k: _tally(v) for k, v in sorted(by_kind.items())},
            "slots_by_question": {k: _tally(v) for k, v in sorted(slots_q.items())},
            "steps_skipped": dict(skipped),
            "false_proved": [{k: r[k] for k in ("where", "checker", "original_kind", "which", "op", "description",
                                                  "mutant", "kind", "detail", "why")} for r in fp],
            "unclassified_correct": [{k: r[k] for k in ("slot", "op", "description", "mutant", "why")}
                                     for r in slots_unclassified],
            "seconds": round(result["seconds"], 1), "steps_seconds": round(result["steps_seconds"], 1),
            "slots_seconds": round(result["slots_seconds"], 1)}


def survivors(result: dict) -> list[dict]:
    """Mutants not killed that are equivalent or still true, with why."""
    out = []
    for s in result["steps"]:
        for m in s["mutants"]:
            if m["status"] != "refuted" and m["class"] in ("equivalent", "true"):
                out.append({"where": f"{s['derivation']}[{s['index']}]", "which": m["which"], "op": m["op"],
                            "description": m["description"], "mutant": m["mutant"], "status": m["status"],
                            "class": m["class"], "why": m["why"]})
    for s in result["slots"]:
        for m in s["mutants"]:
            if m["status"] != "refuted" and m["class"] in ("equivalent", "true"):
                out.append({"where": f"answer {s['slot']}", "which": "answer", "op": m["op"],
                            "description": m["description"], "mutant": m["mutant"], "status": m["status"],
                            "class": m["class"], "why": m["why"]})
    return out


def write_survivors(result: dict, path: Path = SURVIVORS) -> None:
    import yaml
    rows = survivors(result)
    head = ("# Mutants that survived `python -m benchmarks mutation` (not refuted by the checker) because\n"
            "# they are equivalent to the original, or still true: each entry says why. Regenerated by\n"
            "# each full run; a false mutant is never listed here (those are in RESULTS.md).\n")
    path.write_text(head + yaml.safe_dump({"survivors": rows}, sort_keys=False, width=110, allow_unicode=True))


def _rate(t: dict) -> str:
    return f"{t.get('false_killed', 0) / t['false']:.1%}" if t.get("false") else "-"


def tables(summary: dict) -> list[dict]:
    cols = ["mutants", "false", "equivalent/true", "unknown", "killed (refuted)", "false killed", "kill rate of false",
            "unchecked/error", "FALSE PROVED"]

    def row(name, t):
        return [name, t.get("mutants", 0), t.get("false", 0), t.get("class:equivalent", 0) + t.get("class:true", 0),
                t.get("class:unknown", 0), t.get("killed", 0), t.get("false_killed", 0), _rate(t),
                t.get("unchecked", 0), t.get("false_proved", 0)]
    out = []
    t = Table("Step mutants, per question", ["question", *cols])
    for q, tally in summary["by_question"].items():
        t.add(*row(q, tally))
    t.add(*row("all", summary["steps"]))
    t.notes.append(f"steps skipped: {summary['steps_skipped'] or 'none'}")
    t.notes.append(f"steps harness {summary['steps_seconds']:.0f} s, grader harness {summary['slots_seconds']:.0f} s "
                   f"(wall, 2 worker processes)")
    out.append(t.as_dict())
    t = Table("Step mutants, per evidence kind of the original step", ["evidence kind", *cols])
    for k, tally in summary["by_kind"].items():
        t.add(*row(k, tally))
    out.append(t.as_dict())
    t = Table("Step mutants, per derivation", ["derivation", *cols])
    for k, tally in summary["by_derivation"].items():
        t.add(*row(k, tally))
    out.append(t.as_dict())
    t = Table("Grader: mutants of each slot's reference graded as answers, per question", ["question", *cols])
    for q, tally in summary["slots_by_question"].items():
        t.add(*row(q, tally))
    t.add(*row("all", summary["slots"]))
    t.notes.append("killed = graded wrong; FALSE PROVED = a non-equivalent mutant graded correct")
    out.append(t.as_dict())
    t = Table("False mutants proved (soundness failures)", ["where", "checker", "mutated", "change", "mutant",
                                                             "proved as", "why it is false"])
    for r in summary["false_proved"]:
        t.add(r["where"], r["checker"], r["which"], r["description"], r["mutant"][:80], r["kind"], r["why"][:120])
    if not summary["false_proved"]:
        t.notes.append("none")
    out.append(t.as_dict())
    if summary["unclassified_correct"]:
        t = Table("Graded correct but not classified (densities, matrix symbols, sets): for review",
                  ["slot", "change", "mutant", "why not classified"])
        for r in summary["unclassified_correct"]:
            t.add(r["slot"], r["description"], r["mutant"][:80], r["why"])
        out.append(t.as_dict())
    return out


def run(quick: bool = False, checks=None, jobs: int = 2, json_path: str | None = None, **_) -> dict:
    selectors = tuple(checks or ())
    if quick and not selectors:
        selectors = ("ddim", "gan.square")
    result = collect(selectors, jobs=jobs)
    summary = result["summary"]
    json_path = json_path or os.environ.get("DERIVCHECK_MUTATION_JSON")   # every mutant, for analysis
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=1, default=str))
    if not quick and not selectors:
        write_survivors(result)
    return {"tables": tables(summary), "seconds": result["seconds"], "summary": summary}


if __name__ == "__main__":
    import sys
    res = collect(tuple(sys.argv[1:]), jobs=2)
    print(json.dumps(res["summary"], indent=1, default=str))
