"""One link of a derivation, ``A rel B`` between two parsed members, decided under a slot's
assumptions by the same machinery that grades a single answer.

* ``A = B`` between scalars: ``decide``'s path with B in the reference's place -- named
  quantities expanded, the *slot's* integrated quantities (Delta, TV: sums over random finite
  supports; a reference written by a student names none), cheap symbolic forms, exact
  numerics at random admissible points, then the deeper symbolic attempt;
* ``A = B`` between matrices: random matrices of the slot's kinds (``matrices``), named
  matrices (Sigma) expanded;
* ``A <= B`` (``>=``, ``<``, ``>``) between scalars: ``prove.check_relation`` under the slot's
  conditions (a proof from the symbols' domains, else a counterexample point);
* any relation between densities, expectations and KL terms: ``structural.compare_relation``
  (for ``=`` the rewrite rules first, then random finite models). The models factorise as the
  slot's own references do -- p(x|z1) p(z1|z2) p(z2) for the HVAE -- never as the student's text
  suggests, since a student could otherwise assume the independence that makes a wrong step
  look right.

A link nothing here can decide is ``unchecked`` with the reason, never proved. Like
``core``, this runs on already-parsed members inside a sandboxed worker (``Grader.submit``).
"""
from __future__ import annotations

import dataclasses

import sympy as sp

from .. import prove, registry
from ..evidence import Evidence, Kind, Status
from ..latex.objects import Density, is_structured
from ..limits import CheckTimeout, time_limit
from . import core, matrices, structural
from .equivalence import compare

LINK_SECONDS = 12.0
RELATIONS = ("=", "<=", ">=", "<", ">")


def _slot(slot):
    """A slot id, a Slot, or None (a chain about densities only)."""
    return registry.get_slot(slot) if isinstance(slot, str) else slot


def reference_factors(slot) -> list:
    """The densities of the slot's own (trusted) structured references: they fix how the random
    finite models factorise. Empty for a slot that does not speak of densities."""
    slot = _slot(slot)
    if slot is None:
        return []
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
    return list(dict.fromkeys(out))


def _as_densities(expr, slot):
    if slot is None or not isinstance(expr, sp.Basic):
        return expr
    return core.to_densities(core.expand(core.to_symbols(expr, slot), slot.id), slot)


def _structured(slot, *exprs) -> bool:
    if any(isinstance(e, sp.Basic) and (is_structured(e) or e.atoms(Density)) for e in exprs):
        return True
    return slot is not None and core.uses_densities(slot)


def check_link(slot, lhs, rel: str, rhs, factors=None, seed: int = 0,
               symbolic_seconds: float = core.SYMBOLIC_SECONDS) -> Evidence:
    """Evidence for ``lhs rel rhs`` (members of a chain parsed in the slot's scope,
    ``core.scope_for``) under the slot's assumptions; ``rel`` is one of = <= >= < >.

    ``slot`` is a slot id, a ``Slot`` or None (a chain about densities only; ``factors``, trusted
    densities from the caller, then say how the models factorise -- by default the slot's own).
    Bounded by ``LINK_SECONDS``; a failure inside a checker is ``error``, never a crash."""
    slot = _slot(slot)
    if rel not in RELATIONS:
        return Evidence(Status.ERROR, Kind.NONE, f"the relation {rel!r} is not one of {' '.join(RELATIONS)}")
    factors = reference_factors(slot) if factors is None else list(factors)
    try:
        with time_limit(LINK_SECONDS):
            ev = _check(slot, lhs, rel, rhs, factors, seed, symbolic_seconds)
            if ev.status is Status.PROVED and ev.kind not in (Kind.SYMBOLIC, Kind.SYMBOLIC_FAMILY):
                blind = core.numeric_blind_spot(lhs) or core.numeric_blind_spot(rhs)
                if blind:          # as for an answer: numerics cannot vouch for what they cannot see
                    return Evidence(Status.UNCHECKED, Kind.NONE, f"the step holds numerically ({ev.detail}), but "
                                    f"{blind}; without a symbolic proof it is not accepted", seconds=ev.seconds)
            return ev
    except CheckTimeout:
        return Evidence(Status.UNCHECKED, Kind.NONE, f"the check of this step took longer than {LINK_SECONDS:g} s")
    except (MemoryError, RecursionError) as exc:
        return Evidence(Status.UNCHECKED, Kind.NONE, f"the step is too large to check ({type(exc).__name__})")
    except Exception as exc:   # a checker's bug must leave the step for a person, not crash the sheet
        return Evidence(Status.ERROR, Kind.NONE, f"internal error while checking this step "
                        f"({type(exc).__name__}: {str(exc)[:200]})")


def _check(slot, lhs, rel, rhs, factors, seed, symbolic_seconds) -> Evidence:
    for side in (lhs, rhs):
        if not isinstance(side, (sp.Basic, sp.MatrixBase)):
            return Evidence(Status.UNCHECKED, Kind.NONE, "a member of the chain is not an expression")
        if getattr(side, "is_Relational", False):
            return Evidence(Status.UNCHECKED, Kind.NONE, "a relation inside a member of the chain")
    if _structured(slot, lhs, rhs):
        a, b = _as_densities(lhs, slot), _as_densities(rhs, slot)
        if is_structured(a) or is_structured(b) or slot is None or \
                any(isinstance(e, sp.Basic) and e.atoms(Density) for e in (a, b)):
            return structural.compare_relation(a, rel, b, factors, seed)
    if slot is None:
        return Evidence(Status.UNCHECKED, Kind.NONE, "no slot: only steps about densities can be checked")
    if matrices.is_matrix(lhs) or matrices.is_matrix(rhs):
        if rel != "=":
            return Evidence(Status.UNCHECKED, Kind.NONE, f"{rel} between matrices is not an ordering the grader checks")
        as_reference = dataclasses.replace(slot, reference=rhs, latex="", kind="matrix", accepts=None)
        return matrices.compare(as_reference, lhs, seed)
    if rel == "=":
        integrated = core.integrated_part(slot)
        skip = set(integrated.integrands)
        return compare(core.expand(lhs, slot.id, skip), core.expand(rhs, slot.id, skip), slot.conditions,
                       integrated, seed, symbolic_seconds)
    return prove.check_relation(core.expand(lhs, slot.id), rel, core.expand(rhs, slot.id), slot.conditions,
                                seed=seed, symbolic_seconds=symbolic_seconds)
