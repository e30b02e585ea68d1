"""The labelled answer set: the grader must accept no wrong answer and reject at most 2% of the
right ones. Labels are hand-written in tests/data/labelled_answers.yaml; the verdicts come from
the sandboxed grader (two workers, the cache keyed by (slot, normalised answer))."""
from __future__ import annotations

from collections import Counter

from derivations import registry
from derivations.grading.labelled import load, score
from derivations.grading.sandbox import Grader


def test_labelled_set_has_no_false_accepts_and_few_false_rejects():
    items = load()
    assert len(items) >= 300 and len({i.slot for i in items}) >= 25
    missing = {i.slot for i in items} - set(registry.slots())
    assert not missing, f"labelled slots not in the registry: {missing}"
    # the verdicts do not depend on the proof budget or on naming the mistake: both kept small
    with Grader(jobs=2, timeout=20, symbolic_seconds=0.5, diagnose=False) as grader:
        results = grader.grade_many([(i.slot, i.latex) for i in items])
    s = score(items, [r.verdict for r in results])
    detail = "\n".join(f"{it.label} -> {v}: {it.slot} {it.latex[:80]!r}" for it, v in s.failures)
    assert s.false_accepts == 0, detail
    assert s.false_rejects <= 0.02 * s.correct_items, detail
    kinds = Counter(r.verdict for r in results)
    assert kinds["wrong"] >= 150 and kinds["correct"] >= 150     # the set exercises both outcomes
