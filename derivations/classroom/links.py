"""One link of a student's chain, ``A rel B``, decided under a slot's assumptions.

This is a thin adapter over the single-answer machinery (``derivations.grading``) until it
offers a public ``check_link``; nothing here decides anything by itself:

* ``A = B`` between scalars: ``decide``'s path for a single answer with B in the reference's
  place -- named quantities expanded, the slot's integrated quantities (Delta, TV) summed over
  random finite supports, cheap symbolic forms, then exact numerics at random admissible
  points, then the deeper symbolic attempt; between matrices, random matrices of the right
  kind (``grading.matrices``);
* ``A <= B`` (and ``>=``, ``<``, ``>``) between scalars: ``prove.check_relation`` under the
  slot's conditions (a proof from the symbols' domains, else a counterexample point);
* relations between densities, expectations and KL terms: for ``=`` first the rewrite rules
  (``grading.rewrite``: a symbolic proof when they take both sides to one form), else both
  sides evaluated in random finite models (``grading.structural``); the models and the rules
  factorise as the slot's reference does
  (p(x|z1) p(z1|z2) p(z2) for the HVAE), never as the student's text suggests, because a
  student could otherwise assume the independence that makes a wrong step look right.

A link the machinery cannot decide comes back ``unchecked`` with the reason, never proved.
"""
from __future__ import annotations

import dataclasses
import itertools
import random
import time

import mpmath
import sympy as sp

from ..evidence import Evidence, Kind, Status
from ..latex.objects import Density, is_structured
from ..limits import CheckTimeout, time_limit
from .. import prove

MODELS = 12
LINK_SECONDS = 12.0


def _core():
    from ..grading import core
    return core


def _structural():
    from ..grading import structural
    return structural


def reference_factors(slot) -> list:
    """The densities of the slot's own (trusted) structured references: they fix how the
    random models factorise."""
    if slot is None:
        return []
    core = _core()
    try:
        if not core.uses_densities(slot):
            return []
        refs = core.structured_references(slot)
    except Exception:           # a slot without a usable structured reference
        return []
    out = []
    for r in refs:
        if isinstance(r, sp.Basic):
            out.extend(r.atoms(Density))
    return out


def _as_densities(expr, slot):
    if slot is None:
        return expr
    core = _core()
    return core.to_densities(core.expand(core.to_symbols(expr, slot), slot.id), slot)


def _rewrites_equal(lhs, rhs, factors) -> bool:
    """Do the single-answer grader's rewrite rules take both sides to one canonical form, the
    model's factorisation being the slot's (never the student's)?"""
    try:
        from ..grading import rewrite
    except ImportError:
        return False
    try:
        return rewrite.equal(lhs, rhs, [sp.Mul(*factors)] if factors else [])
    except Exception:        # the rules are an optimisation; the models decide otherwise
        return False


def _violated(a, b, rel, tol) -> bool:
    scale = tol * max(1, abs(a), abs(b))
    if rel == "=":
        return abs(a - b) > scale
    gap = {"<=": a - b, "<": a - b, ">=": b - a, ">": b - a}[rel]
    return gap > scale if rel in ("<=", ">=") else gap > -scale


def relation_in_models(lhs, rel, rhs, factors, seed: int = 0, models: int = MODELS) -> Evidence:
    """``lhs rel rhs`` evaluated in ``models`` random finite models whose joint distributions
    factorise as ``factors`` (unrestricted joints when they do not form a Bayesian network)."""
    st = _structural()
    started = time.perf_counter()
    if rel == "=" and _rewrites_equal(lhs, rhs, factors):
        return Evidence(Status.PROVED, Kind.SYMBOLIC, "equal by the rewrite rules (KL definition, log of a "
                        "product, the model's chain rule, linearity of E, marginalisation)",
                        seconds=time.perf_counter() - started)
    sides = [e for e in (lhs, rhs) if isinstance(e, sp.Basic)]
    all_dens = list(factors) + [d for e in sides for d in e.atoms(Density)]
    rng = random.Random(seed)
    try:
        with mpmath.workdps(st.DIGITS):
            for i in range(models):
                k = 2 + i % 2
                model = st.make_model(list(factors), all_dens, rng, k)
                free = sorted(st.free_variables(lhs) | st.free_variables(rhs), key=lambda s: s.name)
                for values in itertools.product(*(model.support[v] for v in free)):
                    assign = dict(zip(free, values))
                    a, b = st.evaluate(lhs, model, assign), st.evaluate(rhs, model, assign)
                    if _violated(a, b, rel, st.TOL):
                        example = {"model": i, "support size": k,
                                   **{str(v): val for v, val in assign.items()},
                                   "lhs": float(a), "rhs": float(b)}
                        return Evidence(Status.REFUTED, Kind.EXACT_NUMERIC,
                                        f"the relation {rel} fails in a random finite model (random "
                                        "densities on a finite support)", counterexample=example,
                                        seconds=time.perf_counter() - started)
    except st.Unsupported as exc:
        return Evidence(Status.UNCHECKED, Kind.NONE, f"not decidable on finite models: {exc}",
                        seconds=time.perf_counter() - started)
    except (ZeroDivisionError, ValueError, TypeError) as exc:
        return Evidence(Status.UNCHECKED, Kind.NONE, f"evaluation on finite models failed "
                        f"({type(exc).__name__})", seconds=time.perf_counter() - started)
    how = "factorised as the slot's model" if factors else "with unrestricted joint distributions"
    return Evidence(Status.PROVED, Kind.EXACT_NUMERIC,
                    f"holds in {models} random finite models ({how}; every value of the free "
                    f"variables, {st.DIGITS} digits)", seconds=time.perf_counter() - started,
                    extra={"points": models})


def _structured(slot, *exprs) -> bool:
    if any(isinstance(e, sp.Basic) and (is_structured(e) or e.atoms(Density)) for e in exprs):
        return True
    return slot is not None and _core().uses_densities(slot)


def check_link(slot, lhs, rel: str, rhs, factors=None, seed: int = 0,
               symbolic_seconds: float = 2.0) -> Evidence:
    """Evidence for ``lhs rel rhs`` (members of a parsed chain) under ``slot``'s assumptions.

    ``slot`` may be None for a chain about densities only (then ``factors``, trusted text
    from the caller, says how the models factorise)."""
    factors = reference_factors(slot) if factors is None else list(factors)
    try:
        with time_limit(LINK_SECONDS):
            return _check(slot, lhs, rel, rhs, factors, seed, symbolic_seconds)
    except CheckTimeout:
        return Evidence(Status.UNCHECKED, Kind.NONE, f"the check of this step took longer than {LINK_SECONDS:g} s")
    except (MemoryError, RecursionError) as exc:
        return Evidence(Status.UNCHECKED, Kind.NONE, f"the step is too large to check ({type(exc).__name__})")
    except Exception as exc:   # a checker's bug must leave the step for a person, not crash the sheet
        return Evidence(Status.ERROR, Kind.NONE, f"internal error while checking this step "
                        f"({type(exc).__name__}: {str(exc)[:200]})")


def _check(slot, lhs, rel, rhs, factors, seed, symbolic_seconds) -> Evidence:
    from ..grading import matrices
    for side in (lhs, rhs):
        if isinstance(side, sp.Basic) and getattr(side, "is_Relational", False):
            return Evidence(Status.UNCHECKED, Kind.NONE, "a relation inside a member of the chain")
    if _structured(slot, lhs, rhs):
        a, b = _as_densities(lhs, slot), _as_densities(rhs, slot)
        if is_structured(a) or is_structured(b) or slot is None or \
                any(isinstance(e, sp.Basic) and e.atoms(Density) for e in (a, b)):
            return relation_in_models(a, rel, b, factors, seed)
    if slot is None:
        return Evidence(Status.UNCHECKED, Kind.NONE, "no slot: only steps about densities can be checked")
    core = _core()
    if rel == "=" and (matrices.is_matrix(lhs) or matrices.is_matrix(rhs)):
        as_reference = dataclasses.replace(slot, reference=rhs, latex="", kind="matrix", accepts=None)
        return matrices.compare(as_reference, lhs, seed)
    if rel == "=":
        # decide()'s scalar path, with the slot's own integrated quantities (Delta, TV: sums
        # over random finite supports), which a reference written by the student cannot give
        from ..grading.equivalence import compare
        integrated = core.integrated_part(slot)
        skip = set(integrated.integrands)
        return compare(core.expand(lhs, slot.id, skip), core.expand(rhs, slot.id, skip), slot.conditions,
                       integrated, seed, symbolic_seconds)
    if matrices.is_matrix(lhs) or matrices.is_matrix(rhs):
        return Evidence(Status.UNCHECKED, Kind.NONE, f"{rel} between matrices is not an ordering the grader checks")
    return prove.check_relation(core.expand(lhs, slot.id), rel, core.expand(rhs, slot.id), slot.conditions,
                                seed=seed, symbolic_seconds=symbolic_seconds)
