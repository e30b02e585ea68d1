"""Grades and feedback in the formats courses use, all derived from the per-student results.

Every file is a pure function of the recorded results, the rubric and the sheets (sorted by
student, then slot; no timestamps, no timings), and is written atomically -- so a run that
was killed and resumed writes the same bytes as one that never stopped.

=========================  ===================================================================
grades.csv                 student, slot, verdict, points, max_points, mistake, message
grades.jsonl               everything: evidence, counterexamples, chains, the answer itself
review.csv                 every unchecked or invalid answer and every sheet problem, with
                           answer_id, decision and comment columns for a person (``decisions``)
gradescope/S/results.json  Gradescope's results.json (score, output_format md, tests[] per slot)
feedback/S.md              per slot: verdict, named mistake, first invalid step, counterexample
=========================  ===================================================================

What feedback shows (``--feedback``): ``verdict`` the verdict and points only; ``hints`` (the
default) also the named mistake, the first failing step and a counterexample point, never the
reference or the fix (a "looks like the reference with ..." clause, the reference's value at the
counterexample); ``full`` everything, the reference included (only with ``--reveal-reference``).
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_atomic

GRADES_COLUMNS = ("student", "slot", "verdict", "points", "max_points", "mistake", "message")
REVIEW_COLUMNS = ("student", "slot", "source", "verdict", "reason", "answer_id", "decision", "comment")
FEEDBACK_MODES = ("verdict", "hints", "full")


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
    answer_id: str = ""       # a short hash of the normalised answer (what a person's decision is about)
    decision: dict | None = None   # a person's decision: {decision, points, comment, source}
    visibility: str = "visible"
    versions: dict | None = None   # what the result depends on: grader, reference, rubric entry

    @property
    def pending(self) -> bool:
        """Waiting for a person: unchecked, or not graded because of a sheet problem, undecided."""
        return self.decision is None and (self.verdict == "unchecked" or self.kind == "problem")

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
        if self.versions:
            out["versions"] = self.versions
        if self.decision is not None:
            out["decision"] = self.decision
            out["checker_verdict"] = r.get("verdict")
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
    """review.csv's rows: every sheet problem, every graded answer that is unchecked or invalid
    (a slot that a problem kept from being graded is listed once, as the problem), and every
    answer a person has decided (with the decision, so the file can be given back as it is)."""
    out = []
    for p in problems:
        out.append((p.student, p.slot, p.source, "not graded", " ".join(p.reason.split()), "", "", ""))
    for r in rows:
        d = r.decision or {}
        if (r.verdict in ("unchecked", "invalid") or d) and r.kind != "problem":
            verdict = r.result.get("verdict", r.verdict) if d else r.verdict
            out.append((r.student, r.label, ";".join(r.sources), verdict, " ".join(r.message.split()),
                        r.answer_id, d.get("decision", ""), " ".join(str(d.get("comment", "")).split())))
    out.sort()
    return out


def review_csv(rows: list[Row], problems) -> bytes:
    return _csv(review_entries(rows, problems), REVIEW_COLUMNS)


def counterexample_text(ce: dict | None, math: bool = False) -> str:
    """The point and the values there; ``math``: a LaTeX name is set as ``$name = value$`` (Markdown)."""
    if not ce:
        return ""
    names = {"lhs": "left side", "rhs": "right side", "answer": "your answer", "reference": "the result"}
    point = [f"${k} = {v}$" if math and "\\" in str(k) and "$" not in f"{k}{v}" else f"{k} = {v}"
             for k, v in ce.items() if k not in names]
    values = [f"{names[k]} = {ce[k]}" for k in ("lhs", "rhs", "answer", "reference") if k in ce]
    return ", ".join(point) + (" gives " + ", ".join(values) if values else "")


_LOOKS_LIKE = re.compile(r";?\s*looks like [^;]*")
_OPTIMAL = re.compile(r"\s*\(an optimal [^()]*(?:\([^()]*\)[^()]*)*\)")


def hint(message: str) -> str:
    """The message without what would give the fix away: the "looks like the reference with
    ..." diagnosis (the mistake's name says what kind it is) and a quoted optimum."""
    return _OPTIMAL.sub("", _LOOKS_LIKE.sub("", message or "")).strip()


def _counterexample(ce: dict | None, mode: str) -> str:
    if ce and mode != "full":
        ce = {k: v for k, v in ce.items() if k != "reference"}
    return counterexample_text(ce, math=True)


def _decision_text(r: Row) -> str:
    d = r.decision
    if not d:
        return ""
    said = f"Reviewed by a person: **{d['decision']}** ({fmt(r.points)}/{fmt(r.max_points)})"
    return said + (f". {d['comment']}" if d.get("comment") else "")


def _test_output(r: Row, mode: str = "hints", reference: str = "") -> str:
    """A test's Markdown: maths between $...$ (Gradescope renders it); the student's own text as
    code, never as Markdown."""
    if r.pending:
        return ("**Pending review**: this answer is waiting for a person (" + html.escape(hint(r.message or r.verdict),
                                                                                          quote=False)
                + "). It is not counted as wrong; its points come when it has been reviewed.")
    lines = []
    if r.decision:
        lines.append(_decision_text(r))
    said = (r.message or r.verdict) if mode == "full" else (hint(r.message) or r.verdict)
    # messages may quote a student's text (an unknown symbol, a file name): no raw HTML from it
    lines.append(f"**{r.verdict}**" if mode == "verdict" else html.escape(said, quote=False))
    if mode == "verdict":
        return "\n\n".join(lines)
    if r.mistake:
        lines.append(f"Named mistake: **{r.mistake}**")
    chain = r.result.get("chain")
    if chain and chain.get("first_invalid_step"):
        bad = next((l for l in chain.get("links", []) if l.get("status") == "refuted"), {})
        claim = f": ${bad['claim']}$ does not hold" if bad.get("claim") else ""
        lines.append(f"First invalid step: step {chain['first_invalid_step']}{claim}")
    ce = _counterexample(r.result.get("counterexample"), mode)
    if ce:
        lines.append(f"Counterexample: {ce}")
    if mode == "full" and reference and r.kind != "problem":
        lines.append(f"Reference: ${reference}$")
    return "\n\n".join(lines)


GRADESCOPE_TOP = ("score", "execution_time", "output", "output_format", "test_output_format",
                  "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard")


def gradescope(rows: list[Row], mode: str = "hints", references: dict | None = None) -> bytes:
    """Gradescope's results.json: one test per slot (named by its id), Markdown output, the
    rubric's visibility; an answer waiting for a person is shown pending (no score, no status),
    never failed. Only the specification's keys are written."""
    references = references or {}
    tests = []
    for r in rows:
        test = {"name": r.label, "max_score": r.max_points, "output": _test_output(r, mode, references.get(r.slot, "")),
                "output_format": "md", "visibility": r.visibility}
        if r.pending:
            test["name"] = f"{r.label} (pending review)"
        else:
            test["score"] = r.points
            test["status"] = "passed" if r.points >= r.max_points and r.max_points > 0 or r.verdict == "correct" \
                else "failed"
        tests.append(test)
    waiting = sum(1 for r in rows if r.pending)
    output = ("Graded by derivcheck: each answer is checked symbolically or numerically against the result; "
              "see each test for what was found.")
    if waiting:
        output += (f"\n\n**{waiting} answer{'s are' if waiting > 1 else ' is'} pending review** by a person: "
                   "the score below does not count them yet.")
    body = {"score": round(sum(r.points for r in rows), 4), "output": output, "output_format": "md",
            "test_output_format": "md", "tests": tests}
    return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def reference_latex(slot_id: str) -> str:
    from .. import registry
    from ..printing import latex
    slot = registry.get_slot(slot_id)
    if slot.latex:
        return slot.latex
    return latex(slot.reference) if slot.reference is not None else ""


def feedback(student: str, rows: list[Row], references: dict, mode: str = "hints") -> bytes:
    """The student's feedback; ``references`` (slot -> LaTeX) is empty unless revealed, and
    shown only in ``full`` mode; ``hints`` keeps the fix to itself, ``verdict`` says only that."""
    total, best = sum(r.points for r in rows), sum(r.max_points for r in rows)
    out = [f"# Feedback for {student}", "", f"Score: **{fmt(round(total, 4))} / {fmt(round(best, 4))}**", ""]
    for r in rows:
        out.append(f"## {r.label}: {r.verdict} ({fmt(r.points)}/{fmt(r.max_points)})")
        out.append("")
        res = r.result
        if r.pending:
            out += ["Pending review: a person will look at this answer; it is not counted as wrong.", ""]
        if r.decision:
            out += [_decision_text(r), ""]
        if mode == "verdict":
            continue
        if isinstance(r.answer, str):
            out += ["Your answer:", "", f"    {' '.join(r.answer.split())}", ""]
        elif isinstance(r.answer, list):
            out += ["Your steps:", ""] + [f"{i}. `{' '.join(s.split())}`" for i, s in enumerate(r.answer, 1)] + [""]
        message = res.get("message") if mode == "full" else hint(res.get("message"))
        if message:
            out += [message, ""]
        ev = res.get("evidence") or {}
        if ev.get("kind") and ev.get("kind") != "none":
            detail = ev.get("detail", "") if mode == "full" else hint(ev.get("detail", ""))
            out += [f"Evidence ({ev['kind']}): {detail}", ""]
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
        ce = _counterexample(res.get("counterexample"), mode)
        if ce:
            out += [f"Counterexample: {ce}", ""]
        if r.kind != "problem" and mode == "full":
            ref = references.get(r.slot)
            if ref:
                out += [f"Reference: ${ref}$", ""]
    return ("\n".join(out).rstrip() + "\n").encode("utf-8")


def write_all(out: Path, rows: list[Row], problems, reveal: bool, mode: str = "hints") -> None:
    out = Path(out)
    write_atomic(out / "grades.csv", grades_csv(rows))
    write_atomic(out / "grades.jsonl", grades_jsonl(rows))
    write_atomic(out / "review.csv", review_csv(rows, problems))
    by_student: dict[str, list[Row]] = {}
    for r in rows:
        by_student.setdefault(r.student, []).append(r)
    references = {slot: reference_latex(slot) for slot in {r.slot for r in rows}} if reveal else {}
    for student, mine in by_student.items():
        write_atomic(out / "gradescope" / student / "results.json", gradescope(mine, mode, references),
                     durable=False)
        write_atomic(out / "feedback" / f"{student}.md", feedback(student, mine, references, mode), durable=False)
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
