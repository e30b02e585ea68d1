"""Issue 18: a real course -- the rules the README states (chain and unchecked credit, what is
not a sheet), feedback modes, Gradescope's results.json, review decisions, regrading exactly what
changed, gradebook export. Fast tests on built rows; a few whole runs on a two-student class."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

from classroom_schema import validate_results
from derivations.classroom import grade_command
from derivations.classroom.decisions import DecisionStore, apply, read_decisions
from derivations.classroom.outputs import Row, feedback, gradescope, hint
from derivations.classroom.rubric import Rubric, parse_rubric
from derivations.classroom.versions import reference_version as real_reference_version
from derivations.classroom.versions import rubric_version

ROOT = Path(__file__).resolve().parent.parent
KNOWN = {"gan.square.f", "vae.jensen", "ddim.marginal_var", "sm.kernel_score"}
LONG = "x + " * 700 + "x"           # over the length limit: unchecked at once, listed for review


# ------------------------------------------------------------------ the README's arithmetic
def chain(prefix, steps, final=None, verdict="wrong"):
    return {"verdict": verdict, "chain": {"claiming_steps": steps, "valid_prefix_steps": prefix,
                                          "final": {"verdict": final} if final else None}}


def test_a_chain_keeps_its_final_share_for_a_right_final_result():
    """README: final_share of a chain's points is kept for a right final result; the rest is paid
    in proportion to the valid prefix. 4 points, final_share 0.5, 1 of 4 steps valid:"""
    r = parse_rubric({"slots": {"vae.jensen": 4}, "chains": {"final_share": 0.5}}, KNOWN)
    assert r.score("vae.jensen", chain(1, 4, final="correct")) == pytest.approx(2 + 2 * 1 / 4)
    assert r.score("vae.jensen", chain(1, 4, final="wrong")) == pytest.approx(2 * 1 / 4)
    assert r.score("vae.jensen", chain(0, 4, final="correct")) == pytest.approx(2)
    assert r.score("vae.jensen", chain(4, 4, final="correct", verdict="correct")) == 4
    share = parse_rubric({"chains": {"final_share": 0.25}}, KNOWN)
    assert share.score("vae.jensen", chain(2, 4, final="correct")) == pytest.approx(0.25 + 0.75 * 2 / 4)
    none = parse_rubric({"chains": {"partial_credit": "none"}}, KNOWN)
    assert none.score("vae.jensen", chain(3, 4, final="correct")) == 0


def test_unchecked_earns_nothing_until_a_person_decides():
    """README: unchecked answers earn nothing (the issue found an unchecked chain paid 0.25)."""
    r = Rubric()
    assert r.score("vae.jensen", chain(1, 2, final="correct", verdict="unchecked")) == 0
    assert r.score("vae.jensen", chain(1, 2, verdict="unchecked"), "derivation") == 0
    assert r.score("gan.square.f", {"verdict": "unchecked"}) == 0


def test_a_slot_answered_both_ways_shares_its_points():
    r = parse_rubric({"slots": {"gan.square.f": 2}}, KNOWN)
    assert r.score("gan.square.f", {"verdict": "correct"}, "final") == 1
    assert r.score("gan.square.f", chain(1, 2), "derivation") == pytest.approx(0.5)


def test_rubric_visibility_and_schema_hints():
    r = parse_rubric({"visibility": "after_published", "slots": {"gan.square.f": {"points": 2, "visibility": "hidden"}}},
                     KNOWN)
    assert r.visibility_of("gan.square.f") == "hidden" and r.visibility_of("vae.jensen") == "after_published"
    from derivations.classroom.rubric import RubricError
    with pytest.raises(RubricError) as info:
        parse_rubric({"visibilty": "hidden", "slots": {"gan.square.f": {"points": 1, "visible": 1}}}, KNOWN, "r.yaml")
    text = str(info.value)
    assert "did you mean 'visibility'" in text and "slots.gan.square.f.visible" in text


def test_versions_change_with_the_slot_and_only_with_it(monkeypatch):
    import dataclasses

    import sympy as sp

    from derivations import registry
    from derivations.classroom import versions
    registry.load()
    before = {s: real_reference_version(s) for s in ("gan.square.f", "ddim.marginal_var")}
    slot = registry.get_slot("gan.square.f")
    monkeypatch.setitem(registry._SLOTS, "gan.square.f", dataclasses.replace(slot, reference=slot.reference + sp.Integer(1)))
    monkeypatch.setattr(versions, "_REFERENCE_CACHE", {})
    assert real_reference_version("gan.square.f") != before["gan.square.f"]
    assert real_reference_version("ddim.marginal_var") == before["ddim.marginal_var"]
    one, two = Rubric(points={"gan.square.f": 2.0}), Rubric(points={"gan.square.f": 3.0})
    assert rubric_version(one, "gan.square.f") != rubric_version(two, "gan.square.f")
    assert rubric_version(one, "vae.jensen") == rubric_version(two, "vae.jensen")


# ------------------------------------------------------------------ not sheets
def test_a_rubric_a_roster_and_a_readme_are_not_students(tmp_path):
    from derivations import registry
    from derivations.classroom.sheets import read_class
    registry.load()
    (tmp_path / "s1.yaml").write_text("student: s1\nanswers:\n  gan.square.f: x\n")
    (tmp_path / "rubric.yaml").write_text("default_points: 2\nslots:\n  gan.square.f: 3\n")
    (tmp_path / "roster.csv").write_text("Student,SIS Login ID,Section\nAda,s1,A\n")
    (tmp_path / "README.md").write_text("# the class\n")
    sheets, problems = read_class([tmp_path], registry.slots())
    assert [s.student for s in sheets] == ["s1"]
    assert not problems


# ------------------------------------------------------------------ feedback and Gradescope
def wrong_row(**kw):
    res = {"verdict": "wrong", "mistake": "dropped-factor",
           "message": "wrong: the answer and the reference differ at an admissible point; looks like the reference "
                      "with the factor (1 - \\bar\\alpha_t) dropped",
           "counterexample": {"t": 2, "answer": 1.5, "reference": 0.5}, "evidence": {"kind": "numeric", "detail": "x"}}
    return Row("s1", "ddim.objective", "answer", "wrong", 0.0, 1.0, res, "a", ("s1.yaml",), **kw)


def test_hints_name_the_mistake_but_never_the_fix_or_the_reference():
    assert hint("wrong: D differs (an optimal D: sign(p_d - p_g)); fails") == "wrong: D differs; fails"
    row = wrong_row()
    for mode in ("hints", "verdict"):
        text = feedback("s1", [row], {}, mode).decode() + gradescope([row], mode).decode()
        assert "looks like" not in text and "(1 - \\\\bar" not in text and "0.5" not in text
        assert "Reference" not in text
    hints = feedback("s1", [row], {}, "hints").decode()
    assert "dropped-factor" in hints and "your answer = 1.5" in hints
    assert "dropped-factor" not in feedback("s1", [row], {}, "verdict").decode()
    full = feedback("s1", [row], {"ddim.objective": "R"}, "full").decode()
    assert "looks like the reference" in full and "Reference: $R$" in full


def test_gradescope_results_follow_the_specification_and_pending_is_not_failed():
    pend = Row("s1", "gan.square.f", "answer", "unchecked", 0.0, 2.0, {"verdict": "unchecked",
               "message": "not checked: too long"}, "x", ("s1.yaml",), visibility="after_published")
    right = Row("s1", "vae.jensen", "answer", "correct", 1.0, 1.0, {"verdict": "correct", "message": "ok"}, "y")
    data = json.loads(gradescope([pend, right, wrong_row()]))
    validate_results(data)
    assert set(data) == {"score", "output", "output_format", "test_output_format", "tests"}
    p = data["tests"][0]
    assert p["name"] == "gan.square.f (pending review)" and "score" not in p and "status" not in p
    assert p["visibility"] == "after_published" and "Pending review" in p["output"]
    assert [t.get("status") for t in data["tests"]] == [None, "passed", "failed"]
    assert data["score"] == 1.0 and "pending review" in data["output"]


def test_the_schema_kept_in_the_tests_can_fail():
    with pytest.raises(AssertionError):
        validate_results({"score": 1, "max_score": 2, "tests": []})      # max_score is not a top-level key
    with pytest.raises(AssertionError):
        validate_results({"score": 1, "tests": [{"name": "a", "status": "pending"}]})


# ------------------------------------------------------------------ decisions, on rows
def test_decision_rows_are_checked_with_file_and_line(tmp_path):
    review = tmp_path / "review.csv"
    review.write_text("student,slot,source,verdict,reason,answer_id,decision,comment\n"
                      "s1,gan.square.f,a,unchecked,r,abc,correct,fine\n"
                      "s1,vae.jensen,a,unchecked,r,abd,maybe,\n"
                      "s2,vae.jensen,a,unchecked,r,abe,,\n"
                      "s3,vae.jensen,a,unchecked,r,abf,-1,\n"
                      "s1,gan.square.f,a,unchecked,r,abc,wrong,changed my mind\n")
    found, problems = read_decisions(review)
    assert [(d.student, d.decision) for d in found] == [("s1", "correct")]
    assert any("line 3" in p and "'maybe'" in p for p in problems)
    assert any("line 5" in p for p in problems) and any("line 6" in p and "second" in p for p in problems)
    assert all(str(review) in p for p in problems)


def test_decisions_apply_persist_and_are_dropped_when_the_answer_changes(tmp_path):
    def rows(answer_id):
        return [Row("s1", "gan.square.f", "answer", "unchecked", 0.0, 2.0, {"verdict": "unchecked"}, "x",
                    answer_id=answer_id)]
    found, _ = read_decisions(_review(tmp_path, [("s1", "gan.square.f", "id1", "1.5", "half right"),
                                                 ("s9", "gan.square.f", "id1", "correct", ""),
                                                 ("s1", "vae.jensen", "id1", "correct", "")]))
    store = DecisionStore(tmp_path / "state")
    first = rows("id1")
    problems, notes, applied = apply(first, store, found)
    assert applied == 1 and first[0].points == 1.5 and first[0].verdict == "wrong" and not first[0].pending
    assert any("unknown student 's9'" in p and "line 3" in p for p in problems)
    assert any("no slot 'vae.jensen'" in p and "line 4" in p for p in problems)
    store.close()
    store = DecisionStore(tmp_path / "state")                     # a later run: kept
    again = rows("id1")
    assert apply(again, store, [])[2] == 1 and again[0].points == 1.5
    changed = rows("id2")
    _, notes, applied = apply(changed, store, [])
    assert applied == 0 and changed[0].pending and "changed their answer" in notes[0]
    assert store.all() == []


def _review(tmp_path, decided):
    path = tmp_path / "decided.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["student", "slot", "source", "verdict", "reason", "answer_id", "decision", "comment"])
        for student, slot, aid, decision, comment in decided:
            w.writerow([student, slot, "f", "unchecked", "r", aid, decision, comment])
    return path


# ------------------------------------------------------------------ export
def test_export_one_row_per_roster_student(tmp_path):
    from derivations.classroom.export import gradebook
    grades = tmp_path / "g"
    grades.mkdir()
    rows = [("Ada@Uni.edu", "gan.square.f", 1, 1), ("Ada@Uni.edu", "vae.jensen", 0.5, 1),
            ("bob@uni.edu", "gan.square.f", 0, 1), ("ghost@uni.edu", "gan.square.f", 1, 1)]
    (grades / "grades.jsonl").write_text("".join(json.dumps({"student": s, "slot": sl, "points": p, "max_points": m})
                                                 + "\n" for s, sl, p, m in rows))
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Email\n"
                      "\"Lovelace, Ada\",1,U1,ada,A,ada@uni.EDU\n"
                      "Bob,2,U2,bob,B,Bob@uni.edu\n"
                      "Cy,3,U3,cy,B,cy@uni.edu\n"
                      "Bob again,4,U4,bob2,B,BOB@uni.edu\n")
    book = gradebook("canvas", grades, roster, id_column="Email")
    text = book.csv_bytes().decode().splitlines()
    assert text[0] == "Student,ID,SIS User ID,SIS Login ID,Section,derivcheck"
    assert text[1] == "    Points Possible,,,,,2"
    assert text[2] == '"Lovelace, Ada",1,U1,ada,A,1.5' and text[3] == "Bob,2,U2,bob,B,0"
    assert text[4] == "Cy,3,U3,cy,B,0" and book.missing == ["cy@uni.edu"]
    assert book.unknown == ["ghost@uni.edu"] and "ghost@uni.edu" in text[5] and len(text) == 6   # listed, not dropped
    assert len(book.problems) == 1 and "line 5" in book.problems[0] and "line 3" in book.problems[0]
    moodle = gradebook("moodle", grades, roster, id_column="Email", per_slot=True).csv_bytes().decode().splitlines()
    assert moodle[0] == "Email,Grade,gan.square.f,vae.jensen" and moodle[1] == "ada@uni.EDU,1.5,1,0.5"


# ------------------------------------------------------------------ whole runs
@pytest.fixture(autouse=True)
def pinned(monkeypatch):
    """The grader's version hashes the package source, which other work may edit meanwhile."""
    monkeypatch.setattr("derivations.classroom.journal.fingerprint", lambda: "pinned")
    monkeypatch.setattr("derivations.classroom.versions.reference_version", lambda s: "pinned")


def grade(cls, out, **kw):
    buf = io.StringIO()
    rc = grade_command([cls], out, console=Console(file=buf, width=300), **kw)
    return rc, buf.getvalue()


def small_class(root: Path) -> Path:
    cls = root / "class"
    cls.mkdir(parents=True)
    (cls / "s1.yaml").write_text(json.dumps({"student": "s1", "answers": {
        "gan.square.f": "-\\frac{4t}{t+1}", "ddim.marginal_var": "1 - \\bar\\alpha_t", "sm.kernel_score": LONG}}))
    (cls / "s2.yaml").write_text(json.dumps({"student": "s2", "answers": {
        "gan.square.f": "\\frac{4t}{t+1}", "ddim.marginal_var": "1 - \\bar\\alpha_{t-1}"}}))
    (cls / "rubric.yaml").write_text("slots:\n  gan.square.f: 2\n  ddim.marginal_var: 1\n  sm.kernel_score: 1\n")
    return cls


def jsonl(out):
    return {(r["student"], r["slot"]): r for r in map(json.loads, (out / "grades.jsonl").read_text().splitlines())}


def test_decisions_survive_a_rerun_and_are_dropped_when_the_answer_changes(tmp_path):
    cls = small_class(tmp_path)
    out = tmp_path / "out"
    rc, text = grade(cls, out, rubric=cls / "rubric.yaml")
    assert rc == 0 and "no rubric" not in text
    assert jsonl(out)[("s1", "sm.kernel_score")]["verdict"] == "unchecked"
    review = (out / "review.csv").read_text().splitlines()
    header = review[0].split(",")
    assert header[-3:] == ["answer_id", "decision", "comment"]
    line = next(i for i, l in enumerate(review) if l.startswith("s1,sm.kernel_score"))
    review[line] = review[line][:-1] + "correct,a long but right sum"     # the decision and comment cells
    review.append("nobody,gan.square.f,x,unchecked,r,,wrong,")
    (tmp_path / "decided.csv").write_text("\n".join(review) + "\n")
    rc, text = grade(cls, out, rubric=cls / "rubric.yaml", decisions=tmp_path / "decided.csv")
    assert rc == 0 and "decisions: 1 applied" in text and "unknown student 'nobody'" in text
    assert f"decided.csv line {len(review)}" in text
    row = jsonl(out)[("s1", "sm.kernel_score")]
    assert row["verdict"] == "correct" and row["points"] == 1 and row["decision"]["decision"] == "correct"
    assert "correct,a long but right sum" in (out / "review.csv").read_text()      # given back as it is
    rc, text = grade(cls, out, rubric=cls / "rubric.yaml")                         # no --decisions: kept
    assert rc == 0 and "decisions: 1 applied" in text and jsonl(out)[("s1", "sm.kernel_score")]["points"] == 1
    s1 = json.loads((cls / "s1.yaml").read_text())
    s1["answers"]["sm.kernel_score"] = LONG + " + y"
    (cls / "s1.yaml").write_text(json.dumps(s1))
    rc, text = grade(cls, out, rubric=cls / "rubric.yaml")
    assert rc == 0 and "decision dropped: s1 changed their answer to sm.kernel_score" in text
    assert jsonl(out)[("s1", "sm.kernel_score")]["verdict"] == "unchecked"
    results = json.loads((out / "gradescope" / "s1" / "results.json").read_text())
    validate_results(results)
    assert any(t["name"] == "sm.kernel_score (pending review)" for t in results["tests"])


def test_a_changed_rubric_entry_or_reference_regrades_only_that_slot(tmp_path, monkeypatch):
    cls = small_class(tmp_path)
    out = tmp_path / "out"
    rubric = cls / "rubric.yaml"
    assert grade(cls, out, rubric=rubric)[0] == 0
    rc, text = grade(cls, out, rubric=rubric)
    assert rc == 0 and "regraded" not in text and "0 graded this run" in text
    rubric.write_text(rubric.read_text().replace("gan.square.f: 2", "gan.square.f: 3"))
    rc, text = grade(cls, out, rubric=rubric)
    assert rc == 0 and "regraded 2 recorded answers" in text
    assert "2 answers: the rubric entry changed (re-scored, not re-checked) (gan.square.f x2)" in text
    assert jsonl(out)[("s1", "gan.square.f")]["points"] == 3
    rc, text = grade(cls, out, rubric=rubric)
    assert "regraded" not in text                                                   # recorded: once only
    monkeypatch.setattr("derivations.classroom.versions.reference_version",         # ddim.marginal_var corrected
                        lambda s: "changed" if s == "ddim.marginal_var" else "pinned")
    rc, text = grade(cls, out, rubric=rubric)
    assert rc == 0 and "regraded 2 recorded answers" in text and "2 graded this run" in text
    assert "the slot's reference changed (ddim.marginal_var x2)" in text
    rc, text = grade(cls, out, rubric=rubric, regrade=("gan.square.f",))
    assert rc == 0 and "2 answers: forced by --regrade (gan.square.f x2)" in text and "2 graded this run" in text
    assert grade(cls, out, rubric=rubric, regrade=("gan.sqare.f",))[1].count("did you mean gan.square.f") == 1


def test_without_a_rubric_the_run_warns_and_feedback_full_needs_the_reference(tmp_path):
    cls = small_class(tmp_path)
    (cls / "rubric.yaml").unlink()
    rc, text = grade(cls, tmp_path / "a")
    assert rc == 0 and "no rubric: the assignment is inferred from the class" in text
    rc, text = grade(cls, tmp_path / "b", feedback="full")
    assert rc == 2 and "needs --reveal-reference" in text
    rc, text = grade(cls, tmp_path / "b", feedback="hints", reveal_reference=True)
    assert rc == 2


def autograder_root(tmp_path, sheet: Path | None, rubric: Path | None = None) -> Path:
    from derivations.classroom.autograder import bundle
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    bundle(tmp_path / "autograder.zip", rubric)
    with zipfile.ZipFile(tmp_path / "autograder.zip") as zf:
        names = zf.namelist()
        assert {"setup.sh", "run_autograder", "derivcheck/pyproject.toml"} <= set(names)
        zf.extractall(root / "source")
    if sheet is not None:
        shutil.copy(sheet, root / "submission" / sheet.name)
    return root


def run_autograder(root: Path, python=sys.executable) -> dict:
    env = dict(os.environ, DERIVCHECK_AUTOGRADER_ROOT=str(root), DERIVCHECK_PYTHON=python,
               PYTHONPATH=str(ROOT))
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    validate_results(data)
    return data


@pytest.mark.parametrize("sheet", ["yaml/s01.yaml", "json/s13.json", "latex/s17.tex"])
def test_the_autograder_bundle_grades_an_example_student(tmp_path, sheet):
    root = autograder_root(tmp_path, ROOT / "examples" / "class" / sheet)
    data = run_autograder(root)
    assert data["tests"] and data["output_format"] == "md"
    names = [t["name"] for t in data["tests"]]
    assert len(names) == len(set(names)) and all(t.get("output") for t in data["tests"])
    assert data["score"] == pytest.approx(sum(t.get("score", 0) for t in data["tests"]))


def test_the_autograder_writes_a_readable_result_when_grading_fails(tmp_path):
    root = autograder_root(tmp_path, None)
    data = run_autograder(root)                                       # an empty submission
    assert data["score"] == 0 and data["tests"] == [] and "No answer sheet" in data["output"]
    (root / "submission" / "a.yaml").write_text("student: a\nanswers:\n  gan.square.f: x\n")
    (root / "submission" / "b.yaml").write_text("student: b\nanswers:\n  gan.square.f: x\n")
    data = run_autograder(root)
    assert data["score"] == 0 and "2 students" in data["output"]
    data = run_autograder(root, python="/bin/false")                  # Python does not even start
    assert data["score"] == 0 and "could not start" in data["output"]


def test_export_canvas_on_the_example_class_writes_one_row_per_student(tmp_path):
    """The issue's check: the example class, graded, with its example roster."""
    from click.testing import CliRunner

    from derivations.cli import main
    out = tmp_path / "out"
    rc, _ = grade(ROOT / "examples" / "class", out)
    assert rc == 0
    roster = ROOT / "examples" / "class" / "roster.csv"
    result = CliRunner().invoke(main, ["export", "canvas", str(out), "--roster", str(roster),
                                       "--out", str(tmp_path / "canvas.csv")])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader((tmp_path / "canvas.csv").read_text().splitlines()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "derivcheck"]
    assert rows[1][0].strip() == "Points Possible"
    logins = [r[3] for r in rows[2:]]
    roster_ids = [r["SIS Login ID"] for r in csv.DictReader(roster.read_text().splitlines())]
    graded = {json.loads(l)["student"] for l in (out / "grades.jsonl").read_text().splitlines()}
    assert logins[:len(roster_ids)] == roster_ids                       # the roster's order, one row each
    assert len(logins) == len(set(logins)) == len(set(roster_ids) | graded)
    assert "s35" in result.output and "s89" in result.output          # no sheet; not on the roster
    assert rows[2 + roster_ids.index("s35")][5] == "0"


def test_a_worker_forked_under_the_lock_does_not_keep_it(tmp_path):
    """filelock's OS lock is freed when its process dies -- unless a forked child still holds
    the inherited descriptor; the journal closes it in every child."""
    from derivations.classroom.journal import Busy, Journal
    script = ("import os, sys, time\nfrom derivations.classroom.journal import Journal\n"
              f"j = Journal({str(tmp_path)!r}); j.lock()\n"
              "pid = os.fork()\n"
              "if pid == 0:\n    time.sleep(60); os._exit(0)\n"
              "print(pid, flush=True); os._exit(0)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    child = int(proc.stdout.split()[0])
    try:
        j = Journal(tmp_path)
        j.lock()                                    # the run that held it is dead: free, child or not
        j.unlock()
    except Busy:
        pytest.fail("the forked child kept the lock")
    finally:
        os.kill(child, 9)


def test_a_damaged_answer_cache_is_rebuilt(tmp_path):
    from derivations.classroom.journal import STATE
    cls = small_class(tmp_path)
    out = tmp_path / "out"
    (out / STATE).mkdir(parents=True)
    (out / STATE / "answers.sqlite").write_bytes(b"not a database" * 100)
    rc, text = grade(cls, out, rubric=cls / "rubric.yaml")
    assert rc == 0 and "5 graded this run" in text
    shutil.rmtree(out / STATE / "students")                       # results now come from the cache alone
    rc, text = grade(cls, out, rubric=cls / "rubric.yaml")
    assert rc == 0 and "5 from the cache" in text
