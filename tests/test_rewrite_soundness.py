"""The rewrite rules are a symbolic proof only if they are sound: whenever they take an answer
and a reference to the same canonical form, the random finite models must agree too.

Checked on every labelled answer to a density slot (students' forms, right and wrong) and on
every mechanical mutation of the slots' references.
"""
from __future__ import annotations

import itertools
import random

import mpmath
import pytest

from derivations import registry
from derivations.grading import labelled, rewrite, structural
from derivations.grading.core import expand, scope_for, structured_references, to_densities, to_symbols, \
    uses_densities
from derivations.grading.mutations import _density_mutations, _mutations_of
from derivations.latex import LatexError, parse


def _agree_in_models(a, b, refs, models: int = 6) -> bool:
    structure = [d for r in refs for d in structural._densities(r)]
    every = structure + structural._densities(a) + structural._densities(b)
    rng = random.Random(0)
    with mpmath.workdps(30):
        for i in range(models):
            model = structural.make_model(structure, every, rng, 2 + i % 2)
            free = sorted(structural.free_variables(a) | structural.free_variables(b), key=lambda s: s.name)
            for values in itertools.product(*(model.support[v] for v in free)):
                at = dict(zip(free, values))
                x, y = structural.evaluate(a, model, at), structural.evaluate(b, model, at)
                if abs(x - y) > 1e-20 * max(1, abs(y)):
                    return False
    return True


def _density_slots():
    return {sid: s for sid, s in registry.slots().items() if uses_densities(s) and structured_references(s)}


def _forms():
    """(slot id, form, references) for labelled answers and reference mutations."""
    slots = _density_slots()
    for item in labelled.load(with_generated=False):
        slot = slots.get(item.slot)
        if slot is None or item.label not in ("correct", "wrong"):
            continue
        try:
            members = parse(item.latex, scope_for(slot)).members
        except LatexError:
            continue
        if len(members) != 1 or getattr(members[0], "is_Relational", False):
            continue
        yield item.slot, to_densities(expand(to_symbols(members[0], slot), slot.id), slot)
    for sid, slot in slots.items():
        for ref in structured_references(slot):
            for m in _mutations_of(ref)[:60] + _density_mutations(slot, ref):
                yield sid, m.expr


def test_what_the_rewrite_rules_equate_the_finite_models_do_not_tell_apart():
    slots = _density_slots()
    equated, unsound = 0, []
    for sid, form in _forms():
        refs = structured_references(slots[sid])
        for ref in refs:
            try:
                if not rewrite.equal(form, ref, refs):
                    continue
                equated += 1
                if not _agree_in_models(form, ref, refs):
                    unsound.append((sid, str(form), str(ref)))
            except (ValueError, TypeError, KeyError, ZeroDivisionError, AttributeError):
                continue
    assert equated >= 20, f"only {equated} forms equated: the test exercises too little"
    assert not unsound, unsound
