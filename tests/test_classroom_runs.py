"""Whole runs: every output written, Gradescope's schema, resumable after kill -9 with the same
bytes, a changed sheet regraded, the reference only with --reveal-reference."""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from derivations.classroom import grade_command
from derivations.classroom.journal import STATE

ROOT = Path(__file__).resolve().parent.parent

# Two distinct answers the checker spends seconds on (a series it has no numeric model for):
# they keep the last student busy long enough to kill the run after the first students.
SLOW = [r"\sum_{n=0}^{\infty} (-1)^{n+1} 4 t^{n+1}", r"\sum_{n=1}^{\infty} (-1)^{n} 4 t^{n}"]


def write_class(root: Path) -> Path:
    cls = root / "class"
    (cls / "hostile").mkdir(parents=True)
    (cls / "s1.yaml").write_text("student: s1\nanswers:\n  gan.square.f: -\\frac{4t}{t+1}\n"
                                 "  ddim.marginal_var: 1 - \\bar\\alpha_t\n"
                                 "chains:\n  vae.jensen:\n"
                                 "    - \\log p(X) = \\log \\mathbb{E}_{q(Z)}\\left[\\frac{p(X|Z)p(Z)}{q(Z)}\\right]\n"
                                 "    - \\le \\mathbb{E}_{q(Z)}\\left[\\log\\frac{p(X|Z)p(Z)}{q(Z)}\\right]\n")
    (cls / "s2.json").write_text(json.dumps({"student": "s2", "answers": {
        "gan.square.f": r"\frac{4t}{t+1}", "ddim.marginal_var": r"1 - \bar\alpha_{t-1}",
        "sm.kernel_score": r"\frac{x - \tilde y}{\sigma^2}"}}))
    (cls / "s3.tex").write_text("\\student{s3}\n\\answer{gan.square.f}{-4 + \\frac{4}{t+1}}\n"
                                "\\step{ddim.marginal_var}{\\sigma_t^2 + (1 - \\bar\\alpha_{t-1} - \\sigma_t^2)}\n"
                                "\\step{ddim.marginal_var}{= 1 - \\bar\\alpha_{t-1}}\n")
    (cls / "export.csv").write_text("student,slot,latex,step\ns4,gan.square.f,\"-\\frac{4t}{t+1}\",\n"
                                    "s4,sm.kernel_score,-\\frac{\\epsilon}{\\sigma},\n"
                                    f"s5,gan.square.f,\"{SLOW[0]}\",\ns5,sm.kernel_score,\"{SLOW[1].replace('t', 'x')}\",\n")
    (cls / "s6.yaml").write_text(f"student: s6\nanswers:\n  gan.square.f: '{SLOW[1]}'\n")
    (cls / "hostile" / "junk.json").write_bytes(bytes(range(256)))
    (cls / "hostile" / "dup.yaml").write_text("student: s7\nanswers:\n  gan.square.f: a\n  gan.square.f: b\n")
    return cls


def grade(cls, out, **kw):
    buf = io.StringIO()
    rc = grade_command([cls], out, console=Console(file=buf, width=200), **kw)
    return rc, buf.getvalue()


def outputs_of(out: Path) -> dict:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and STATE not in p.parts}


PIN = ("import derivations.classroom.journal as j; j.fingerprint = lambda: 'pinned'; "
       "import derivations.classroom.versions as v; v.reference_version = lambda s: 'pinned'; ")


@pytest.fixture(scope="module", autouse=True)
def pinned_fingerprint():
    """The grader's fingerprint hashes its source, and a slot's reference version its declaration;
    pinned here so that edits to the package made while the suite runs (other work on the same
    checkout) do not turn resumed runs cold. The
    test of the fingerprint itself changes the pin on purpose."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("derivations.classroom.journal.fingerprint", lambda: "pinned")
        mp.setattr("derivations.classroom.versions.reference_version", lambda s: "pinned")
        yield mp


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    cls = write_class(root)
    rc, text = grade(cls, root / "a", jobs=2)
    assert rc == 0, text
    return cls, root / "a", text


def test_every_output_is_written(graded):
    cls, out, text = graded
    files = outputs_of(out)
    for name in ("grades.csv", "grades.jsonl", "review.csv"):
        assert name in files
    students = ["s1", "s2", "s3", "s4", "s5", "s6", "s7"]
    for s in students:
        assert f"gradescope/{s}/results.json" in files and f"feedback/{s}.md" in files
    head = files["grades.csv"].decode().splitlines()[0]
    assert head == "student,slot,verdict,points,max_points,mistake,message"
    rows = [json.loads(line) for line in files["grades.jsonl"].decode().splitlines()]
    verdicts = {(r["student"], r["slot"]): r["verdict"] for r in rows}
    assert verdicts[("s1", "gan.square.f")] == "correct"
    assert verdicts[("s1", "ddim.marginal_var")] == "wrong"
    assert verdicts[("s2", "sm.kernel_score")] == "invalid"
    assert verdicts[("s5", "gan.square.f")] == "unchecked"
    assert verdicts[("s7", "gan.square.f")] == "invalid"          # the duplicated key
    jensen = next(r for r in rows if r["student"] == "s1" and r["slot"] == "vae.jensen")
    assert jensen["chain"]["first_invalid_step"] == 2 and jensen["counterexample"]
    assert "students" in text and "verdicts:" in text and "most common mistakes" in text


def test_review_lists_unchecked_invalid_and_bad_sheets(graded):
    _, out, _ = graded
    review = (out / "review.csv").read_text()
    assert review.splitlines()[0] == "student,slot,source,verdict,reason,answer_id,decision,comment"
    assert "junk.json" in review and "binary" in review
    assert "duplicated slot key" in review
    assert "s5,gan.square.f" in review and "s2,sm.kernel_score" in review
    assert "s1,gan.square.f" not in review                      # correct answers are not listed


def test_gradescope_schema(graded):
    """Gradescope's specification (tests/data/gradescope_results.schema.json): only its keys,
    Markdown output, one test per slot; an answer waiting for a person is pending, not failed."""
    from classroom_schema import validate_results
    _, out, _ = graded
    for path in (out / "gradescope").glob("*/results.json"):
        data = json.loads(path.read_text())
        validate_results(data)
        assert data["output_format"] == "md" and data["test_output_format"] == "md"
        assert data["score"] == pytest.approx(sum(t.get("score", 0) for t in data["tests"]))
        for t in data["tests"]:
            if "score" in t:
                assert 0 <= t["score"] <= t["max_score"]
            assert isinstance(t["output"], str) and t["output"]
    s5 = json.loads((out / "gradescope" / "s5" / "results.json").read_text())
    pending = [t for t in s5["tests"] if t["name"].startswith("gan.square.f")]
    assert pending and pending[0]["name"] == "gan.square.f (pending review)"
    assert "score" not in pending[0] and "status" not in pending[0] and "Pending review" in pending[0]["output"]
    s1 = json.loads((out / "gradescope" / "s1" / "results.json").read_text())
    assert {t["name"] for t in s1["tests"]} >= {"gan.square.f", "ddim.marginal_var", "vae.jensen"}
    assert next(t for t in s1["tests"] if t["name"] == "ddim.marginal_var")["status"] == "failed"


def test_feedback_reveals_the_reference_only_when_asked(graded, tmp_path):
    cls, out, _ = graded
    assert "Reference:" not in (out / "feedback" / "s1.md").read_text()
    shutil.copytree(out / STATE, tmp_path / "r" / STATE)            # results known: nothing regraded
    rc, text = grade(cls, tmp_path / "r", reveal_reference=True)
    assert rc == 0 and "0 graded this run" in text
    fb = (tmp_path / "r" / "feedback" / "s1.md").read_text()
    assert "Reference: $- \\frac{4 t}{t + 1}$" in fb
    assert "First invalid step: **step 2**" in fb and "Counterexample:" in fb


def test_kill_minus_9_midway_then_resume_gives_the_same_bytes(graded, tmp_path):
    cls, reference, _ = graded
    out = tmp_path / "b"
    cmd = [sys.executable, "-c", PIN + "from derivations.cli import main; "
           f"main(['grade', {str(cls)!r}, '--out', {str(out)!r}, '--jobs', '1'])"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    students = out / STATE / "students"
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if students.is_dir() and len(list(students.glob("*.json"))) >= 2:
                break
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)                         # the run and its workers
        proc.wait()
    done = len(list(students.glob("*.json")))
    assert not (out / "grades.csv").exists() and 2 <= done < 7, done   # killed midway
    assert (out / STATE / "lock").exists()                        # left by the dead run, taken over below
    rc, text = grade(cls, out, jobs=1)
    assert rc == 0
    assert f"{done} students from earlier runs" in text
    assert outputs_of(out) == outputs_of(reference)


def test_a_changed_sheet_is_regraded(graded, tmp_path):
    cls, reference, _ = graded
    work = tmp_path / "class"
    shutil.copytree(cls, work)
    out = tmp_path / "c"
    shutil.copytree(reference / STATE, out / STATE)
    (work / "s1.yaml").write_text((work / "s1.yaml").read_text().replace(r"1 - \bar\alpha_t", r"1 - \bar\alpha_{t-1}"))
    rc, text = grade(work, out)
    assert rc == 0 and "6 students from earlier runs" in text
    rows = [json.loads(l) for l in (out / "grades.jsonl").read_text().splitlines()]
    assert next(r for r in rows if r["student"] == "s1" and r["slot"] == "ddim.marginal_var")["verdict"] == "correct"


def test_an_invalid_rubric_stops_before_grading(graded, tmp_path):
    cls, _, _ = graded
    bad = tmp_path / "r.yaml"
    bad.write_text("slots:\n  gan.sqare.f: 2\n")
    rc, text = grade(cls, tmp_path / "x", rubric=bad)
    assert rc == 2 and "did you mean gan.square.f" in text and not (tmp_path / "x").exists()


def test_one_run_per_output_folder(graded, tmp_path):
    from derivations.classroom.journal import Journal
    cls, _, _ = graded
    holder = Journal(tmp_path / "busy")
    holder.lock()
    try:
        rc, text = grade(cls, tmp_path / "busy")
        assert rc == 2 and "another derivcheck grade" in text and "busy" in text
    finally:
        holder.unlock()


def test_a_changed_grader_regrades_everyone(graded, tmp_path, pinned_fingerprint):
    cls, reference, _ = graded
    out = tmp_path / "g"
    shutil.copytree(reference / STATE, out / STATE)
    pinned_fingerprint.setattr("derivations.classroom.journal.fingerprint", lambda: "another grader")
    try:
        rc, text = grade(cls, out, jobs=2)
    finally:
        pinned_fingerprint.setattr("derivations.classroom.journal.fingerprint", lambda: "pinned")
    # every answer is graded again (s7 has none: both of its answers are a duplicate)
    assert rc == 0 and "1 students from earlier runs" in text and "13 graded this run" in text
    assert "regraded 13 recorded answers" in text and "the grader changed" in text

    def without_versions(files):        # the new grader's version is recorded, the rest is the same
        rows = [json.loads(l) for l in files.pop("grades.jsonl").decode().splitlines()]
        return files, [{k: v for k, v in r.items() if k != "versions"} for r in rows]
    assert without_versions(outputs_of(out)) == without_versions(outputs_of(reference))


def test_the_assignment_is_the_rubrics_listed_slots_when_it_lists_any():
    """A slot only a classmate answered is 'missing' for the others only when nothing says
    what was assigned; a rubric that lists slots says it."""
    from derivations.classroom.rubric import Rubric
    from derivations.classroom.runner import build_rows
    from derivations.classroom.sheets import Sheet
    alice = Sheet("alice", answers={"gan.square.f": "x"})
    bob = Sheet("bob", answers={"gan.square.f": "x", "sm.ism_constant_gauss": "y"})
    ok = {"verdict": "correct"}
    results = {"alice": {"gan.square.f": ok}, "bob": {"gan.square.f": ok, "sm.ism_constant_gauss": ok}}

    def cells(rubric):
        return {(r.student, r.slot): r.verdict for r in build_rows([alice, bob], [], results, rubric)}
    assert cells(Rubric())[("alice", "sm.ism_constant_gauss")] == "missing"          # no rubric: the class's union
    listed = cells(Rubric(points={"gan.square.f": 1.0, "ddim.gamma": 1.0}))
    assert ("alice", "sm.ism_constant_gauss") not in listed                       # bob's extra is not alice's
    assert listed[("bob", "sm.ism_constant_gauss")] == "correct"                  # but bob keeps his own
    assert listed[("alice", "ddim.gamma")] == "missing"                           # listed: assigned to all


def test_outputs_of_a_student_no_longer_in_the_class_are_removed(tmp_path):
    from derivations.classroom import outputs
    out = tmp_path / "out"
    (out / "feedback").mkdir(parents=True)
    (out / "gradescope" / "ghost").mkdir(parents=True)
    (out / "feedback" / "ghost.md").write_text("old")
    (out / "gradescope" / "ghost" / "results.json").write_text("{}")
    (out / "feedback" / "alice.md").write_text("kept")
    outputs.prune(out, {"alice"})
    assert not (out / "feedback" / "ghost.md").exists() and not (out / "gradescope" / "ghost").exists()
    assert (out / "feedback" / "alice.md").exists()


def test_an_answer_and_a_chain_for_one_slot_are_both_graded(tmp_path):
    """Issue 15 item 3: the answer is graded as the final result, the chain as its derivation;
    their verdicts are kept apart (the chain under its own key and kind), and the slot's points
    are shared between them by the rubric's final_share."""
    cls = tmp_path / "class"
    cls.mkdir()
    chain = ["f(t) = -\\inf_\\alpha \\left[t(1-\\alpha)^2 + (1+\\alpha)^2\\right]",
             "\\alpha^* = \\frac{t-1}{t+1}",
             "f(t) = -\\left[t\\left(\\frac{2}{t+1}\\right)^2 + \\left(\\frac{2t}{t+1}\\right)^2\\right]",
             "= -\\frac{4t}{(t+1)^2}"]                 # the last step is wrong: (4t + 4t^2)/(t+1)^2
    (cls / "s1.yaml").write_text(json.dumps({"student": "s1", "answers": {"gan.square.f": "-\\frac{4t}{t+1}"},
                                             "chains": {"gan.square.f": chain}}))
    out = tmp_path / "out"
    rc, text = grade(cls, out, jobs=1)
    assert rc == 0, text
    rows = [json.loads(line) for line in (out / "grades.jsonl").read_text().splitlines()]
    mine = {(r["slot"], r["kind"]): r for r in rows if r["student"] == "s1"}
    assert set(mine) == {("gan.square.f", "answer"), ("gan.square.f", "chain")}
    answer, derivation = mine[("gan.square.f", "answer")], mine[("gan.square.f", "chain")]
    assert answer["verdict"] == "correct" and answer["part"] == "final"
    assert derivation["verdict"] == "wrong" and derivation["part"] == "derivation"
    assert derivation["chain"]["first_invalid_step"] == 4
    # the default rubric: final_share 0.5 of 1 point for the answer, the rest for the derivation
    assert answer["points"] == 0.5 and answer["max_points"] == 0.5
    assert derivation["max_points"] == 0.5 and 0 < derivation["points"] < 0.5
    grades = (out / "grades.csv").read_text()
    assert "s1,gan.square.f,correct" in grades and "s1,gan.square.f (derivation),wrong" in grades
    recorded = json.loads((out / STATE / "students" / "s1.json").read_text())["results"]
    assert recorded["gan.square.f"]["verdict"] == "correct"
    assert recorded["gan.square.f#chain"]["verdict"] == "wrong"
