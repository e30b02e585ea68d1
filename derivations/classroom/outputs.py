"""Grades and feedback in the formats courses use, all derived from the per-student results.

Every file is a pure function of the recorded results, the rubric and the sheets (sorted by
student, then slot; no timestamps, no timings), and is written atomically -- so a run that
was killed and resumed writes the same bytes as one that never stopped.

=========================  ===================================================================
grades.csv                 student, slot, verdict, points, max_points, mistake, message
grades.jsonl               everything: evidence, counterexamples, chains, the answer itself
review.csv                 every unchecked or invalid answer and every sheet problem
gradescope/S/results.json  the Gradescope autograder schema (score, max_score, tests[])
feedback/S.md              per slot: verdict, named mistake, first invalid step, counterexample
=========================  ===================================================================
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from .journal import write_atomic

GRADES_COLUMNS = ("student", "slot", "verdict", "points", "max_points", "mistake", "message")
REVIEW_COLUMNS = ("student", "slot", "source", "verdict", "reason")


@dataclass
class Row:
    student: str
    slot: str
    kind: str                 # answer | chain | missing | problem
    verdict: str              # correct | wrong | invalid | unchecked | missing
    points: float
    max_points: float
    result: dict              # the worker's result (without timings)
    answer: object = None     # the student's LaTeX (str) or steps (list)
    sources: tuple = ()
    part: str = "whole"       # whole | final (an answer beside a chain) | derivation (that chain)

    @property
    def label(self) -> str:
        """The slot as the tables name it: a chain given beside an answer to the same slot is
        listed apart from the answer, as the slot's derivation."""
        return f"{self.slot} (derivation)" if self.part == "derivation" else self.slot

    @property
    def mistake(self) -> str:
        return self.result.get("mistake") or ""

    @property
    def message(self) -> str:
        return self.result.get("message") or ""

    def as_json(self) -> dict:
        r = self.result
        out = {"student": self.student, "slot": self.slot, "kind": self.kind, "verdict": self.verdict,
               "points": self.points, "max_points": self.max_points, "mistake": r.get("mistake"),
               "message": r.get("message"), "evidence": r.get("evidence"),
               "counterexample": r.get("counterexample"), "parsed_latex": r.get("parsed_latex"),
               "answer": self.answer, "sources": list(self.sources)}
        if self.part != "whole":
            out["part"] = self.part
        if r.get("chain") is not None:
            out["chain"] = r["chain"]
        return out


def fmt(x: float) -> str:
    return f"{x:g}"


def _cell(value) -> str:
    """A spreadsheet must not run a cell as a formula: text a student controls (an unknown slot
    id, a file name) could start with = + - @."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(rows, columns) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(c) for c in r])
    return buf.getvalue().encode("utf-8")


def grades_csv(rows: list[Row]) -> bytes:
    return _csv(([r.student, r.label, r.verdict, fmt(r.points), fmt(r.max_points), r.mistake,
                  " ".join(r.message.split())] for r in rows), GRADES_COLUMNS)


def grades_jsonl(rows: list[Row]) -> bytes:
    return "".join(json.dumps(r.as_json(), sort_keys=True, ensure_ascii=False) + "\n"
                   for r in rows).encode("utf-8")


def review_entries(rows: list[Row], problems) -> list[tuple]:
    """review.csv's rows: every sheet problem, and every graded answer that is unchecked or
    invalid (a slot that a problem kept from being graded is listed once, as the problem)."""
    out = []
    for p in problems:
        out.append((p.student, p.slot, p.source, "not graded", " ".join(p.reason.split())))
    for r in rows:
        if r.verdict in ("unchecked", "invalid") and r.kind != "problem":
            out.append((r.student, r.label, ";".join(r.sources), r.verdict, " ".join(r.message.split())))
    out.sort()
    return out


def review_csv(rows: list[Row], problems) -> bytes:
    return _csv(review_entries(rows, problems), REVIEW_COLUMNS)


def counterexample_text(ce: dict | None) -> str:
    if not ce:
        return ""
    names = {"lhs": "left side", "rhs": "right side", "answer": "your answer", "reference": "the result"}
    point = [f"{k} = {v}" for k, v in ce.items() if k not in names]
    values = [f"{names[k]} = {ce[k]}" for k in ("lhs", "rhs", "answer", "reference") if k in ce]
    return ", ".join(point) + (" gives " + ", ".join(values) if values else "")


def _test_output(r: Row) -> str:
    lines = [r.message or r.verdict]
    chain = r.result.get("chain")
    if chain and chain.get("first_invalid_step"):
        lines.append(f"first invalid step: {chain['first_invalid_step']}")
    ce = counterexample_text(r.result.get("counterexample"))
    if ce:
        lines.append(f"counterexample: {ce}")
    return "\n".join(lines)


def gradescope(rows: list[Row]) -> bytes:
    tests = [{"name": r.label, "score": r.points, "max_score": r.max_points,
              "status": "passed" if r.verdict == "correct" else "failed",
              "output": _test_output(r), "visibility": "visible"} for r in rows]
    body = {"score": round(sum(r.points for r in rows), 4), "max_score": round(sum(r.max_points for r in rows), 4),
            "output": "Graded by derivcheck: each answer is checked symbolically or numerically "
                      "against the result; see each test for the evidence.",
            "tests": tests}
    return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def reference_latex(slot_id: str) -> str:
    from .. import registry
    from ..printing import latex
    slot = registry.get_slot(slot_id)
    if slot.latex:
        return slot.latex
    return latex(slot.reference) if slot.reference is not None else ""


def feedback(student: str, rows: list[Row], references: dict) -> bytes:
    """The student's feedback; ``references`` (slot -> LaTeX) is empty unless revealed."""
    total, best = sum(r.points for r in rows), sum(r.max_points for r in rows)
    out = [f"# Feedback for {student}", "", f"Score: **{fmt(round(total, 4))} / {fmt(round(best, 4))}**", ""]
    for r in rows:
        out.append(f"## {r.label}: {r.verdict} ({fmt(r.points)}/{fmt(r.max_points)})")
        out.append("")
        res = r.result
        if isinstance(r.answer, str):
            out += ["Your answer:", "", f"    {' '.join(r.answer.split())}", ""]
        elif isinstance(r.answer, list):
            out += ["Your steps:", ""] + [f"{i}. `{' '.join(s.split())}`" for i, s in enumerate(r.answer, 1)] + [""]
        if res.get("message"):
            out += [res["message"], ""]
        ev = res.get("evidence") or {}
        if ev.get("kind") and ev.get("kind") != "none":
            out += [f"Evidence ({ev['kind']}): {ev.get('detail', '')}", ""]
        if res.get("mistake"):
            out += [f"Named mistake: **{res['mistake']}**", ""]
        chain = res.get("chain")
        if chain:
            if chain.get("first_invalid_step"):
                bad = next(l for l in chain["links"] if l["status"] == "refuted")
                out += [f"First invalid step: **step {chain['first_invalid_step']}** (`{bad.get('text', '')}`): "
                        "it does not follow" + (f" ({bad['note']})" if bad.get("note") else
                                                " from the expression before it") + ".", ""]
            out += ["| step | what was checked | status |", "|---|---|---|"]
            for l in chain["links"]:
                note = f" ({l['note']})" if l.get("note") else ""
                out.append(f"| {l['step']} | ${l['claim']}${note} | {l['status']} ({l['kind']}) |")
            for u in chain.get("unreadable_steps", []):
                out.append(f"| {u['step']} | could not be read: {u['message']} | invalid |")
            out.append("")
        ce = counterexample_text(res.get("counterexample"))
        if ce:
            out += [f"Counterexample: {ce}", ""]
        if r.kind != "problem":
            ref = references.get(r.slot)
            if ref:
                out += [f"Reference: ${ref}$", ""]
    return ("\n".join(out).rstrip() + "\n").encode("utf-8")


def write_all(out: Path, rows: list[Row], problems, reveal: bool) -> None:
    out = Path(out)
    write_atomic(out / "grades.csv", grades_csv(rows))
    write_atomic(out / "grades.jsonl", grades_jsonl(rows))
    write_atomic(out / "review.csv", review_csv(rows, problems))
    by_student: dict[str, list[Row]] = {}
    for r in rows:
        by_student.setdefault(r.student, []).append(r)
    references = {slot: reference_latex(slot) for slot in {r.slot for r in rows}} if reveal else {}
    for student, mine in by_student.items():
        write_atomic(out / "gradescope" / student / "results.json", gradescope(mine), durable=False)
        write_atomic(out / "feedback" / f"{student}.md", feedback(student, mine, references), durable=False)
    prune(out, set(by_student))


def prune(out: Path, students: set) -> None:
    """Remove the per-student files of students no longer in the class (a sheet deleted since
    the last run), so an uploaded gradescope/ folder holds exactly this run's class."""
    for path in (out / "feedback").glob("*.md"):
        if path.stem not in students:
            path.unlink(missing_ok=True)
    for folder in (out / "gradescope").glob("*"):
        if folder.is_dir() and folder.name not in students:
            (folder / "results.json").unlink(missing_ok=True)
            try:
                folder.rmdir()
            except OSError:            # something else is in it: not ours to delete
                pass
