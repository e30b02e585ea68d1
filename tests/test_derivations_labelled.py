"""Issue 15: first-invalid-step accuracy on labelled derivations written as students write them
(tests/data/derivations), scored the way ProcessBench does: for each derivation the predicted
index of the first wrong step (or none); accuracy on the wrong ones is an exact index match, on
the right ones a prediction of none; F1 is their harmonic mean. Labels are by hand (README there).
Slow (every derivation is checked): run with ``pytest tests/test_derivations_labelled.py``."""
from __future__ import annotations

import pytest

from derivation_set import load, score
from derivations.classroom.chains import check_chain



def test_the_labelled_set_is_large_and_balanced():
    rows = load()
    right = [d for d in rows if d["first_wrong"] is None]
    assert len(rows) >= 100
    assert {d["question"] for d in rows} >= {"vae", "hvae", "gan", "sm", "ddim"}
    assert abs(2 * len(right) - len(rows)) <= len(rows) // 10


def test_first_invalid_step_f1():
    rows, by_question, missed = [], {}, []
    for d in load():
        r = check_chain(d["slot"], d["steps"])
        row = (d["first_wrong"], r["chain"]["first_invalid_step"])
        rows.append(row)
        by_question.setdefault(d["question"], []).append(row)
        if row[0] != row[1]:
            missed.append((d["id"], *row))
    s = score(rows)
    print(s)
    for q, part in sorted(by_question.items()):
        print(q, score(part))
    print("missed (id, label, predicted):", missed)
    assert s["right_flagged"] == 0, missed
    assert s["f1"] >= 0.95, missed
