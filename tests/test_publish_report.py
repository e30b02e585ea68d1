"""The class report: counts, scores, named mistakes with an example, the review queue, and
students' answers that stay inert in HTML and LaTeX."""
from __future__ import annotations

import csv
import json

import pytest

from derivations.publish import commands, compile as texc, report

HOSTILE = r"\input{/etc/passwd}\write18{rm -rf ~} <script>alert(1)</script> 100% #1 $x$ _^&"

# (student, slot, verdict, points, mistake, answer): 4 students, a known answer key below.
GRADES = [
    ("s1", "ddim.gamma", "correct", 1, None, r"\gamma"),
    ("s2", "ddim.gamma", "wrong", 0, "sign", r"(\sqrt{a} + \sqrt{b})^2"),
    ("s3", "ddim.gamma", "wrong", 0, "sign", r"(\sqrt{a}+\sqrt{b})^2"),
    ("s4", "ddim.gamma", "wrong", 0, "dropped-factor", HOSTILE),
    ("s1", "gan.square.f", "correct", 1, None, r"-4t/(t+1)"),
    ("s2", "gan.square.f", "invalid", 0, None, r"\frac{"),
    ("s3", "gan.square.f", "unchecked", 0, None, r"\int f"),
    ("s4", "gan.square.f", "correct", 1, None, r"-\frac{4t}{t+1}"),
    ("s1", "vae.jensen", "wrong", 0, None, r"\log p \le 0"),
]


def write_grades(folder, with_review=True, as_csv=False):
    records = [{"student": s, "slot": slot, "verdict": v, "points": p, "max_points": 1, "mistake": m,
                "message": f"{v}: {m or 'ok'}", "latex": a} for s, slot, v, p, m, a in GRADES]
    folder.mkdir(parents=True, exist_ok=True)
    if as_csv:
        with open(folder / "grades.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, ["student", "slot", "verdict", "points", "max_points", "mistake", "message"])
            w.writeheader()
            w.writerows({k: r[k] for k in w.fieldnames} for r in records)
    else:
        lines = [json.dumps(r) for r in records] + ['{"student": "s5", "slot": "ddim.ga']   # torn last line
        (folder / "grades.jsonl").write_text("\n".join(lines))
    if with_review:
        (folder / "review.csv").write_text("student,slot,reason\ns2,gan.square.f,invalid\ns3,gan.square.f,x\n"
                                           "s9,,unreadable sheet\n")
    return folder


def test_summary_counts_scores_mistakes_and_review(tmp_path):
    folder = write_grades(tmp_path / "g")
    s = report.summarise(report.load(folder), folder)
    assert s.students == 4 and len(s.grades) == 9                          # the torn line is ignored
    assert dict(s.verdicts["ddim.gamma"]) == {"correct": 1, "wrong": 3}
    assert dict(s.verdicts["gan.square.f"]) == {"correct": 2, "invalid": 1, "unchecked": 1}
    assert s.scores == {"s1": pytest.approx(2 / 3), "s2": 0.0, "s3": 0.0, "s4": 0.5}
    assert s.unnamed == {"vae.jensen": 1} and "vae.jensen" not in s.mistakes
    (top, n, example), (second, m, _) = s.mistakes["ddim.gamma"]
    assert (top, n, example.student) == ("sign", 2, "s2") and (second, m) == ("dropped-factor", 1)
    assert s.review == 3 and s.review_source == "review.csv"               # includes a sheet-level problem


def test_review_queue_falls_back_to_unchecked_and_invalid(tmp_path):
    folder = write_grades(tmp_path / "g", with_review=False, as_csv=True)
    s = report.summarise(report.load(folder), folder)
    assert s.review == 2 and s.mistakes["ddim.gamma"][0][:2] == ("sign", 2)


def test_html_and_markdown_keep_answers_inert(tmp_path):
    folder = write_grades(tmp_path / "g")
    assert commands.report_command(folder, html=True, log=lambda m: None) == 0
    page = (folder / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page and "data:image/png;base64," in page
    md = (folder / "report.md").read_text()
    assert "<script>" not in md and "**sign** (2x), e.g. s2" in md and "review queue 3" in md
    assert "### `vae.jensen`\n- wrong without a named mistake: 1" in md


def test_missing_grades_is_a_usage_error(tmp_path):
    messages = []
    assert commands.report_command(tmp_path / "nowhere", log=messages.append) == commands.MISUSE
    assert "derivcheck grade" in messages[0]


@pytest.mark.skipif(texc.find_engine() is None, reason="no TeX engine (pdflatex) installed")
def test_pdf_report_compiles_with_a_hostile_answer(tmp_path):
    folder = write_grades(tmp_path / "g")
    assert commands.report_command(folder, pdf=True, log=lambda m: None) == 0
    src = (folder / "report.tex").read_text()
    assert "\\input{" not in src and "\\write18" not in src
    errors, overfull, pages = texc.read_log((folder / "report.log").read_text(errors="replace"))
    assert not errors and pages >= 1 and max((pt for pt, _ in overfull), default=0) <= texc.OVERFULL_LIMIT_PT


def test_terminal_summary_counts_answers_as_grade_does(tmp_path):
    """Unanswered slots ("missing") are listed but are not answers."""
    folder = tmp_path / "g"
    folder.mkdir()
    rows = [{"student": "s1", "slot": "ddim.gamma", "verdict": "correct", "points": 1, "max_points": 1},
            {"student": "s1", "slot": "gan.square.f", "verdict": "missing", "points": 0, "max_points": 1}]
    (folder / "grades.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    line = report.terminal_summary(report.summarise(report.load(folder), folder))
    assert "1 students, 1 answers" in line and "missing 1" in line


def test_html_report_is_a_template_with_autoescape_and_escapes_hostile_names_and_answers(tmp_path):
    """The page is rendered by the package's jinja2 template with autoescape on: a <script> in a
    student's name, answer (also inside \\text{}, which a MathML converter copies) or message stays
    text."""
    env = report.html_environment()
    assert env.autoescape is True
    template = env.get_template("report.html")
    assert template.filename.replace("\\", "/").endswith("derivations/publish/templates/report.html")
    folder = tmp_path / "g"
    folder.mkdir()
    evil = "<script>alert('name')</script>"
    rows = [{"student": evil, "slot": "ddim.gamma", "verdict": "wrong", "points": 0, "max_points": 1,
             "mistake": "<b>sign</b>", "message": "wrong: $x<script>y$ <img src=x onerror=alert(2)>",
             "latex": r"\text{<script>alert(3)</script>} + \gamma"}]
    (folder / "grades.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    page = report.write_html(report.summarise(report.load(folder), folder), folder / "report.html").read_text()
    assert "<script" not in page and "<img src=x" not in page and "<b>sign</b>" not in page
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in page       # the name, as text
    assert "&lt;b&gt;sign&lt;/b&gt;" in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert r"\text{&lt;script&gt;alert(3)&lt;/script&gt;} + \gamma" in page   # the answer as typed
    assert "<math" in page                                                       # and as MathML


def test_html_report_renders_answers_as_mathml_beside_their_latex(tmp_path):
    folder = write_grades(tmp_path / "g")
    page = report.write_html(report.summarise(report.load(folder), folder), folder / "report.html").read_text()
    assert "<msqrt>" in page and '<code class="answer">(\\sqrt{a} + \\sqrt{b})^2</code>' in page
