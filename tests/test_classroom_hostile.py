"""Hostile and careless sheets, graded as a class: one bad answer costs that answer only, every
student is listed, counts add up, outputs get ordinary permissions, nothing is written outside
the output folder."""
from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import pytest
from rich.console import Console

from derivations import registry
from derivations.classroom import grade_command
from derivations.classroom.sheets import answer_text, chain_steps, read_class

KNOWN = registry.slots()
F = r"-\frac{4t}{t+1}"                      # the right answer to gan.square.f
V = r"1 - \bar\alpha_{t-1}"                  # the right answer to ddim.marginal_var


def read(tmp_path, files: dict):
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return read_class([tmp_path], KNOWN)


def by_student(sheets):
    return {s.student: s for s in sheets}


def problem(problems, needle):
    hits = [p for p in problems if needle in p.reason]
    assert hits, [p.reason for p in problems]
    return hits[0]


# ------------------------------------------------------------------ LaTeX


def test_an_unclosed_brace_in_latex_costs_that_answer_only(tmp_path):
    sheets, problems = read(tmp_path, {"hw.tex": (
        "\\documentclass{article}\n\\begin{document}\n\\student{s1}\n"
        f"\\answer{{gan.square.f}}{{{F}}}\n"
        "\\answer{ddim.x0_pred}{\\frac{x_t - \\sqrt{1-\\bar\\alpha_t}\\,\\epsilon_\\theta(x_t)}{\\sqrt{\\bar\\alpha_t}}\n"
        f"\\answer{{ddim.marginal_var}}{{{V}}}\n"
        "\\step{vae.jensen}{a = b}\n\\step{vae.jensen}{= c\n\\step{vae.jensen}{= d}\n"
        "\\end{document}\n")})
    s1 = by_student(sheets)["s1"]
    assert s1.answers == {"gan.square.f": F, "ddim.marginal_var": V}
    assert not s1.chains                                   # a chain with a broken step is not graded
    p = problem(problems, "ddim.x0_pred")
    assert p.student == "s1" and p.slot == "ddim.x0_pred"
    assert "hw.tex line 5" in p.reason and "never closed" in p.reason
    q = problem(problems, "vae.jensen")
    assert q.slot == "vae.jensen" and "line 8" in q.reason


def test_latex_macro_definitions_in_the_preamble_are_not_answers(tmp_path):
    sheets, problems = read(tmp_path, {"p.tex": (
        "\\newcommand{\\answer}[2]{\\textbf{#1}: $#2$}\n\\renewcommand*{\\step}[2]{#2}\n"
        "\\def\\student#1{}\n\\student{s1}\n" f"\\answer{{gan.square.f}}{{{F}}}\n")})
    assert by_student(sheets)["s1"].answers == {"gan.square.f": F} and not problems


def test_align_environments_become_steps(tmp_path):
    steps = chain_steps([r"\begin{align*} \mathrm{KL} &= a + b \\ &= c \nonumber \\[2pt]"
                         r" &\le d \quad \text{(Jensen)} \label{eq:1} \end{align*}"])
    assert steps == [r"\mathrm{KL} &= a + b", "&= c", r"&\le d"]
    cases = r"\begin{cases} 1 & t > 1 \\ 0 & \text{otherwise} \end{cases}"
    assert chain_steps([cases]) == [cases]                  # rows of cases are not steps
    assert answer_text(r"\[ f(t) = -\frac{4t}{t+1} \]").strip() == r"f(t) = -\frac{4t}{t+1}"
    assert answer_text(r"\begin{align} f(t) &= a \\ &= b \end{align}") == "f(t) &= a &= b"
    assert answer_text(r"1 - \text{JS}") == r"1 - \text{JS}"   # meaningful \text is kept


# ------------------------------------------------------------------ YAML / JSON / CSV


@pytest.mark.parametrize("broken, slots", [
    ("  gan.square.f: [unclosed\n", ["gan.square.f"]),
    ("\tgan.square.f: x\n", []),                                        # a tab: read, noted
    ("  gan.square.f: a\n   sm.kernel_score: : x\n", ["gan.square.f", "sm.kernel_score"]),
    ("  gan.square.f: &x a\n  sm.kernel_score: *x\n", ["sm.kernel_score"]),   # alias: that entry
    ("  gan.square.f: " + "[" * 200 + "]" * 200 + "\n", ["gan.square.f"]),      # too deep: that entry
])
def test_a_yaml_error_costs_the_entries_it_breaks(tmp_path, broken, slots):
    sheets, problems = read(tmp_path, {"s.yaml": f"student: s1\nanswers:\n{broken}  ddim.marginal_var: {V}\n"})
    s1 = by_student(sheets)["s1"]
    assert s1.answers["ddim.marginal_var"] == V
    assert problems and all(p.student == "s1" for p in problems)
    for slot in slots:
        assert slot not in s1.answers and any(p.slot == slot and "s.yaml line" in p.reason for p in problems)


def test_an_unclosed_csv_quote_does_not_swallow_the_rest_of_the_class(tmp_path):
    sheets, problems = read(tmp_path, {"c.csv": (
        f'student,slot,latex\nq1,gan.square.f,"{F}\nq2,gan.square.f,{F}\nq3,gan.square.f,"{F}"\n')})
    assert {s.student: s.answers for s in sheets} == {"q2": {"gan.square.f": F}, "q3": {"gan.square.f": F}}
    p = problem(problems, "never closed")
    assert (p.student, p.slot) == ("q1", "gan.square.f") and "c.csv line 2" in p.reason


def test_encodings_and_line_ends(tmp_path):
    body = "student: ID\r\nanswers:\r\n  gan.square.f: " + F + "\r\n"
    sheets, problems = read(tmp_path, {
        "u16.yaml": body.replace("ID", "u16").encode("utf-16"),
        "bom.yaml": b"\xef\xbb\xbf" + body.replace("ID", "bom").encode(),
        "l1.yaml": ("# \u00e9l\u00e8ve\n" + body.replace("ID", "l1")).encode("latin-1"),
        "crlf.tex": f"\\student{{crlf}}\r\n\\answer{{gan.square.f}}{{{F}}}\r\n".encode(),
    })
    assert {s.student: s.answers for s in sheets} == {k: {"gan.square.f": F} for k in ("bom", "crlf", "l1", "u16")}
    p = problem(problems, "not UTF-8")
    assert p.student == "l1" and "line 1" in p.reason and not p.lost


def test_answers_that_are_not_text(tmp_path):
    sheets, problems = read(tmp_path, {
        "n.yaml": "student: n1\nanswers:\n  gan.square.f: null\n  sm.kernel_score: [1, 2]\n"
                  "  ddim.x0_pred: 0.50\n  ddim.marginal_var: " + "9" * 5000 + "\n"
                  "chains:\n  vae.jensen: []\n  ddim.kl_term: [a, null]\n",
        "n.json": '{"student": "n2", "answers": {"gan.square.f": 1e-3, "sm.kernel_score": ' + "7" * 5000 + "}}",
    })
    n1, n2 = by_student(sheets)["n1"], by_student(sheets)["n2"]
    assert n1.answers == {"ddim.x0_pred": "0.50", "ddim.marginal_var": "9" * 5000}   # numbers as written
    assert n2.answers == {"gan.square.f": "1e-3", "sm.kernel_score": "7" * 5000}
    assert {p.slot for p in problems} == {"gan.square.f", "sm.kernel_score", "vae.jensen", "ddim.kl_term"}
    assert "empty (null)" in problem(problems, "gan.square.f is").reason


def test_an_unreadable_file_still_lists_its_student(tmp_path):
    sheets, problems = read(tmp_path, {"bad.json": '{"student": "s9", "answers": {"gan.square.f": ',
                                       "junk.yaml": bytes(range(1, 256)) * 8})
    assert [s.student for s in sheets] == ["s9"] and not sheets[0].answers
    assert problem(problems, "malformed JSON").lost
    assert "binary" in problem(problems, "binary").reason


def test_student_ids_that_are_paths_are_refused(tmp_path):
    bad = ["../../etc/passwd", "a/b", "..", ".hidden", "a\\b", "x" * 65, "", "s 1", "s1\n"]
    files = {f"id{i}.json": json.dumps({"student": sid, "answers": {"gan.square.f": "t"}})
             for i, sid in enumerate(bad)}
    sheets, problems = read(tmp_path, files)
    assert not sheets and len([p for p in problems if "student id" in p.reason]) == len(bad)


# ------------------------------------------------------------------ a whole run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    cls = root / "class"
    (cls / "sub").mkdir(parents=True)
    (cls / "s1.tex").write_text(f"\\student{{s1}}\n\\answer{{gan.square.f}}{{{F}}}\n"
                                "\\answer{ddim.x0_pred}{\\frac{x_t}{\n"
                                f"\\answer{{ddim.marginal_var}}{{{V}}}\n")
    (cls / "s2.yaml").write_text(f"student: s2\nanswers:\n  gan.square.f: {F}\n  gan.square.f: t\n"
                                 f"  ddim.marginal_var: {V}\n")
    (cls / "s3a.yaml").write_text(f"student: s3\nanswers:\n  gan.square.f: {F}\n  ddim.marginal_var: {V}\n")
    (cls / "sub" / "s3b.csv").write_text(f"student,slot,latex\ns3,gan.square.f,t\ns3,ddim.marginal_var,{V}\n")
    (cls / "evil.json").write_text(json.dumps({"student": "../../escape", "answers": {"gan.square.f": F}}))
    (cls / "s4.json").write_text('{"student": "s4", "answers": {')
    out = root / "out"
    old = os.umask(0o022)
    try:
        buf = io.StringIO()
        rc = grade_command([cls], out, jobs=2, console=Console(file=buf, width=300))
    finally:
        os.umask(old)
    assert rc == 0, buf.getvalue()
    rows = [json.loads(line) for line in (out / "grades.jsonl").read_text().splitlines()]
    return root, out, buf.getvalue(), {(r["student"], r["slot"]): r for r in rows}


def test_one_broken_latex_answer_leaves_the_rest_graded(run):
    _, out, _, rows = run
    assert rows[("s1", "gan.square.f")]["verdict"] == "correct"
    assert rows[("s1", "ddim.marginal_var")]["verdict"] == "correct"
    broken = rows[("s1", "ddim.x0_pred")]
    assert broken["verdict"] == "invalid" and "s1.tex line 3" in broken["message"]
    assert "s1.tex line 3" in (out / "review.csv").read_text()


def test_a_slot_answered_differently_in_two_files_is_a_conflict(run):
    _, out, _, rows = run
    conflict = rows[("s3", "gan.square.f")]
    assert conflict["verdict"] == "invalid" and "conflicting answers" in conflict["message"]
    assert rows[("s3", "ddim.marginal_var")]["verdict"] == "correct"      # the same in both: graded once
    review = (out / "review.csv").read_text()
    assert "s3,gan.square.f" in review and "conflicting answers" in review
    assert "conflicting answers" in (out / "feedback" / "s3.md").read_text()


def test_the_answer_count_is_the_sum_of_the_verdicts(run):
    _, out, text, rows = run
    answers = int(text.split(" students, ")[1].split(" answers")[0])
    verdicts = dict(part.rsplit(" ", 1) for part in text.split("verdicts: ")[1].splitlines()[0].split(", "))
    assert answers == sum(int(n) for v, n in verdicts.items() if v != "missing")
    assert answers == sum(1 for r in rows.values() if r["verdict"] != "missing")
    review = (out / "review.csv").read_text().splitlines()
    assert f"for review: {len(review) - 1} entries" in text


def test_outputs_respect_the_umask(run):
    _, out, _, _ = run
    for name in ("grades.csv", "grades.jsonl", "review.csv", "feedback/s1.md", "gradescope/s1/results.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name


def test_nothing_is_written_outside_the_output_folder_and_nobody_is_lost(run):
    root, out, _, rows = run
    assert sorted(p.name for p in root.iterdir()) == ["class", "out"]
    assert {s for s, _ in rows} == {"s1", "s2", "s3", "s4"}
    assert rows[("s4", "gan.square.f")]["verdict"] == "missing"
    assert "malformed JSON" in rows[("s4", "gan.square.f")]["message"]
    assert "../../escape" in (out / "review.csv").read_text()


def test_blank_and_remark_steps_claim_nothing():
    assert chain_steps(["a = b", "  ", r"\text{by Jensen}", "= c", r"\intertext{so}"]) == ["a = b", "= c"]


def test_pipes_and_links_out_of_the_folder_are_not_read(tmp_path):
    cls = tmp_path / "class"
    cls.mkdir()
    (tmp_path / "secret.yaml").write_text("student: s9\nanswers: {gan.square.f: secret}\n")
    (cls / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    os.mkfifo(cls / "pipe.yaml")                        # opening it would block the run forever
    (cls / "ok.yaml").write_text(f"student: ok\nanswers: {{gan.square.f: '{F}'}}\n")
    sheets, problems = read_class([cls], KNOWN)
    assert [s.student for s in sheets] == ["ok"]
    assert problem(problems, "outside the folder").source.endswith("link.yaml")
    assert problem(problems, "not a regular file").source.endswith("pipe.yaml")


def test_an_output_folder_inside_the_class_is_not_read_back(run):
    root, out, _, _ = run
    cls = root / "class"
    sheets, problems = read_class([root], KNOWN, exclude=[out])
    assert not any("grades" in p.source or "results.json" in p.source for p in problems)
    assert {s.student for s in sheets} == {"s1", "s2", "s3", "s4"}


def test_temporaries_left_by_a_killed_run_are_swept(run, tmp_path):
    from derivations.classroom.journal import Journal
    _, out, _, _ = run
    stale = [out / ".grades.csv.abc.tmp", out / "feedback" / ".s1.md.x.tmp"]
    for f in stale:
        f.write_text("half")
    j = Journal(out)
    j.lock()
    try:
        j.sweep()
    finally:
        j.unlock()
    assert not any(f.exists() for f in stale) and (out / "grades.csv").exists()


def test_a_step_after_an_unreadable_one_is_reported_with_it():
    from derivations.classroom.chains import check_chain
    a = r"\sigma_t^2 + 1 - \bar\alpha_{t-1} - \sigma_t^2"
    r = check_chain("ddim.marginal_var", [a, r"= \frac{", "= 5", r"= 1 - \bar\alpha_{t-1}"])
    assert r["verdict"] == "wrong" and r["chain"]["first_invalid_step"] == 4
    assert "step 2 could not be read" in r["message"] and r["chain"]["valid_prefix_steps"] == 0
    r = check_chain("ddim.marginal_var", [a, "= 5", r"= 1 - \bar\alpha_{t-1}"])     # wrong in the middle
    assert r["chain"]["first_invalid_step"] == 2 and "before it" not in r["message"]


def test_a_file_too_large_to_read_still_names_its_student(tmp_path):
    sheets, problems = read(tmp_path, {"big.yaml": "student: s8\nanswers:\n  gan.square.f: '" + "x" * (2 << 20) + "'\n"})
    assert [s.student for s in sheets] == ["s8"] and problem(problems, "larger than").lost


def test_braces_nested_too_deeply_cost_that_answer(tmp_path):
    sheets, problems = read(tmp_path, {"d.tex": "\\student{s1}\\answer{gan.square.f}{" + "{" * 300 + "}" * 300 + "}"
                                       f"\\answer{{ddim.marginal_var}}{{{V}}}"})
    assert sheets[0].answers == {"ddim.marginal_var": V}
    assert problem(problems, "nested more than").slot == "gan.square.f"
