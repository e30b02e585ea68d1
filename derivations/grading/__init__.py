"""Grading students' answers to slots.

=============  ================================================================
core           one answer in-process: parse, pick members, expand, decide
equivalence    symbolic (cheap, then expensive) and exact-numeric comparison
worlds         random admissible worlds (domains, conditions, finite supports)
matrices       matrix answers with random matrices of the right kind
structural     E, KL and densities on random finite models; rewrite rules
mutations      naming the mistake by mutations of the reference
link           one link ``A rel B`` of a derivation under a slot's assumptions
sandbox        worker processes with time and memory limits; the cache
result         AnswerResult and its JSON shape
=============  ================================================================

Public: ``grade_answer(slot_id, latex) -> AnswerResult`` and ``grade_many(items, jobs, timeout)``.
Both run every check in a sandboxed worker; an unknown slot raises ``KeyError`` whose message
lists the near matches (``registry.get_slot``).

For derivations checked step by step (``derivations.classroom``), on members already parsed in
the slot's scope (``core.scope_for``; ``latex.parse(..., continuation=True)`` for a step that
starts with its relation), inside a worker (``Grader.submit``):
``check_link(slot_id, lhs, rel, rhs, factors=None, seed=0) -> Evidence`` for one link, and
``grade_relation(slot_id, lhs, rel, rhs) -> AnswerResult`` for a relation slot's answer.
"""
from __future__ import annotations

from .. import registry
from .result import AnswerResult
from .sandbox import TIMEOUT, Grader, shared

__all__ = ["grade_answer", "grade_many", "check_link", "grade_relation", "AnswerResult", "Grader"]


def check_link(slot_id, lhs, rel: str, rhs, factors=None, seed: int = 0, symbolic_seconds: float = 2.0):
    """Evidence for one link ``lhs rel rhs`` of a derivation under the slot's assumptions
    (``link.check_link``: the single-answer machinery, finite models for densities)."""
    from .link import check_link as check
    return check(slot_id, lhs, rel, rhs, factors, seed, symbolic_seconds)


def grade_relation(slot_id: str, lhs, rel: str, rhs, seed: int = 0, symbolic_seconds: float = 2.0) -> AnswerResult:
    """``lhs rel rhs`` graded as the answer to a relation slot (``core.grade_relation``)."""
    from .core import grade_relation as grade
    return grade(slot_id, lhs, rel, rhs, seed, symbolic_seconds)


def grade_answer(slot_id: str, latex: str, *, timeout: float = TIMEOUT, sandbox: bool = True,
                 seed: int = 0, conventions: tuple = ()) -> AnswerResult:
    """Grade one answer; ``sandbox=False`` checks in this process (trusted input only).
    ``conventions`` (``latex.scope.parse_conventions``, e.g. alpha=ddim) change how names read."""
    registry.get_slot(slot_id)
    if not sandbox:
        from .core import grade_in_process
        return grade_in_process(slot_id, latex, seed=seed, conventions=tuple(conventions))
    grader = shared(1, timeout, warm=(slot_id,))      # a first answer prepares its own question only
    if conventions:
        from .core import SYMBOLIC_SECONDS
        from .sandbox import _task, budget
        future = grader.submit(_task, slot_id, latex, seed, SYMBOLIC_SECONDS, True, budget(timeout),
                               tuple(conventions))
        return AnswerResult.from_dict(future.result())
    return grader.grade(slot_id, latex)


def grade_many(items, jobs: int = 2, timeout: float = TIMEOUT) -> list[AnswerResult]:
    """Grade (slot, latex) pairs with ``jobs`` sandboxed workers; results in input order."""
    return shared(jobs, timeout).grade_many(items)
