"""A person's decisions on review.csv, applied to the grades and kept across runs.

review.csv (written by every run) has three columns for a person: ``answer_id`` (which answer
the row is about: a hash of the student's normalised answer, filled in by the run), ``decision``
and ``comment``. A decision is ``correct`` (the row's full points), ``wrong`` (0) or a number of
points (0 to the row's maximum). ``derivcheck grade ... --decisions review.csv`` reads the
decided rows and stores them in ``OUT/.derivcheck/decisions.sqlite``, keyed by student, slot and
answer_id; every later run applies the stored decisions, and drops a decision (saying so) when
the student's answer is no longer the one decided. A row that cannot be used (a malformed
decision, an unknown student or slot, an answer that changed since the file was written) is
reported with its file and line, and every other row is applied.
"""
from __future__ import annotations

import csv
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .csv_rows import data_rows

MAX_DECISION_BYTES = 16 << 20
WORDS = {"correct": "correct", "right": "correct", "wrong": "wrong", "incorrect": "wrong"}


@dataclass
class Decision:
    student: str
    slot: str                   # the slot as review.csv names it (``SLOT (derivation)`` for a chain beside an answer)
    answer_id: str
    decision: str               # correct | wrong | the points as written
    points: float | None        # None: correct (the row's maximum)
    comment: str
    source: str                 # FILE line N

    def as_dict(self) -> dict:
        return {"decision": self.decision, "comment": self.comment, "source": self.source}


def _parse(word: str):
    """(decision, points) or None: correct / wrong / a finite number >= 0."""
    w = word.strip().lower()
    if w in WORDS:
        return WORDS[w], (0.0 if WORDS[w] == "wrong" else None)
    try:
        x = float(w)
    except ValueError:
        return None
    if not math.isfinite(x) or x < 0:
        return None
    return f"{x:g}", x


def read_decisions(path) -> tuple[list[Decision], list[str]]:
    """The decided rows of a review.csv, and one message per row that cannot be used."""
    path = Path(path)
    problems: list[str] = []
    try:
        if path.stat().st_size > MAX_DECISION_BYTES:
            return [], [f"{path}: larger than {MAX_DECISION_BYTES >> 20} MB; not read"]
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [f"{path}: cannot read the decisions ({getattr(exc, 'strerror', None) or exc})"]
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error):
        return [], [f"{path} line 1: no header (expected review.csv's: student, slot, ..., decision, comment)"]
    need = [c for c in ("student", "slot", "decision") if c not in header]
    if need:
        return [], [f"{path} line 1: the header has no {', '.join(need)} column (give back the review.csv a "
                    "run wrote, with the decision column filled in)"]
    col = {h: i for i, h in enumerate(header)}
    out, seen = [], {}
    for line, row in data_rows(reader, path, problems):
        where = f"{path} line {line}"

        def cell(name):
            i = col.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""
        word = cell("decision")
        if not word:
            continue                    # not decided yet
        parsed = _parse(word)
        student, slot = cell("student"), cell("slot")
        if not student or not slot:
            problems.append(f"{where}: a decision needs a student and a slot; not applied")
            continue
        if parsed is None:
            problems.append(f"{where}: decision {word[:40]!r} must be correct, wrong or a number of points "
                            ">= 0; not applied")
            continue
        d = Decision(student, slot, cell("answer_id"), parsed[0], parsed[1], cell("comment")[:2000], where)
        if (student, slot) in seen and seen[(student, slot)].decision != d.decision:
            problems.append(f"{where}: a second, different decision for {student} {slot} (the first is at "
                            f"{seen[(student, slot)].source}); not applied")
            continue
        seen[(student, slot)] = d
        out.append(d)
    return out, problems


class DecisionStore:
    """The decisions in force, in ``OUT/.derivcheck/decisions.sqlite`` (each change committed)."""

    def __init__(self, root: Path):
        Path(root).mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(Path(root) / "decisions.sqlite")
        self.db.execute("CREATE TABLE IF NOT EXISTS decisions (student TEXT, slot TEXT, answer_id TEXT, "
                        "decision TEXT, points REAL, comment TEXT, source TEXT, PRIMARY KEY (student, slot))")
        self.db.commit()

    def all(self) -> list[Decision]:
        return [Decision(*row) for row in self.db.execute(
            "SELECT student, slot, answer_id, decision, points, comment, source FROM decisions "
            "ORDER BY student, slot")]

    def put(self, d: Decision) -> None:
        self.db.execute("INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (d.student, d.slot, d.answer_id, d.decision, d.points, d.comment, d.source))
        self.db.commit()

    def drop(self, student: str, slot: str) -> None:
        self.db.execute("DELETE FROM decisions WHERE student = ? AND slot = ?", (student, slot))
        self.db.commit()

    def close(self) -> None:
        self.db.close()


def apply(rows, store: DecisionStore, new: list[Decision]) -> tuple[list[str], list[str], int]:
    """Store the new decisions that fit the class, then apply every stored decision whose answer
    is still the one decided. Returns (problems with new rows, notes on dropped decisions, the
    number applied); ``rows`` are changed in place."""
    by_key = {(r.student, r.label): r for r in rows}
    students = {r.student for r in rows}
    problems, notes = [], []
    for d in new:
        r = by_key.get((d.student, d.slot))
        if d.student not in students:
            problems.append(f"{d.source}: unknown student {d.student[:80]!r}; not applied")
        elif r is None:
            problems.append(f"{d.source}: {d.student} has no slot {d.slot[:80]!r}; not applied")
        elif r.kind not in ("answer", "chain"):
            problems.append(f"{d.source}: {d.student} {d.slot} has no graded answer to decide ({r.verdict}); "
                            "not applied")
        elif d.answer_id and d.answer_id != r.answer_id:
            problems.append(f"{d.source}: {d.student}'s answer to {d.slot} changed since this file was written; "
                            "not applied (decide the new answer in the new review.csv)")
        elif d.points is not None and d.points > r.max_points:
            problems.append(f"{d.source}: {d.decision} points is more than {d.slot}'s {r.max_points:g}; not applied")
        else:
            d.answer_id = r.answer_id
            store.put(d)
    applied = 0
    for d in store.all():
        r = by_key.get((d.student, d.slot))
        if r is None or r.kind not in ("answer", "chain"):
            notes.append(f"decision dropped: {d.student} {d.slot} ({d.decision}, from {d.source}) has no graded "
                         "answer any more")
            store.drop(d.student, d.slot)
        elif r.answer_id != d.answer_id:
            notes.append(f"decision dropped: {d.student} changed their answer to {d.slot} since it was decided "
                         f"({d.decision}, from {d.source}); the new answer is graded as usual")
            store.drop(d.student, d.slot)
        else:
            points = r.max_points if d.points is None else min(d.points, r.max_points)
            r.points = points
            r.verdict = "correct" if points >= r.max_points else "wrong"
            r.decision = d.as_dict()
            applied += 1
    return problems, notes, applied
