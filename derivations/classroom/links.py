"""One link of a student's chain, ``A rel B``, decided under a slot's assumptions.

The decision is the single-answer grader's public ``derivations.grading.check_link``
(``grading.link``): equalities by the path an answer takes (named quantities expanded, the slot's
integrated quantities, exact numerics, symbolic proof), matrices with random matrices of the
slot's kinds, inequalities by ``prove.check_relation``, and densities, expectations and KL terms
by ``grading.structural.compare_relation`` on random finite models factorised as the slot's own
references (never as the student's text suggests). Nothing here decides anything by itself; a
link the machinery cannot decide comes back ``unchecked`` with the reason, never proved.
"""
from __future__ import annotations

from ..evidence import Evidence
from ..grading import check_link as _check_link
from ..grading import link as _link
from ..grading import structural as _structural

MODELS = _structural.MODELS
LINK_SECONDS = _link.LINK_SECONDS


def reference_factors(slot) -> list:
    """The densities of the slot's own (trusted) structured references."""
    return _link.reference_factors(slot)


def relation_in_models(lhs, rel, rhs, factors, seed: int = 0, models: int = MODELS) -> Evidence:
    """``lhs rel rhs`` in random finite models factorised as ``factors``."""
    return _structural.compare_relation(lhs, rel, rhs, factors, seed, models)


def check_link(slot, lhs, rel: str, rhs, factors=None, seed: int = 0,
               symbolic_seconds: float = 2.0) -> Evidence:
    """Evidence for ``lhs rel rhs`` (members of a parsed chain) under ``slot``'s assumptions;
    ``slot`` may be None for a chain about densities only (``factors`` then fix the models)."""
    return _check_link(slot, lhs, rel, rhs, factors, seed, symbolic_seconds)
