"""Questions without Python (issue 19): question files, their check, and their slots in the
registry graded like built-in ones."""
from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from derivations import registry
from derivations.cli import main
from derivations.grading.sandbox import Grader
from derivations.questions import QuestionError, load_file, load_questions, question_files
from derivations.questions.check import check_paths
from derivations.questions.source import loads

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "course" / "questions"
_ids = itertools.count()


def write(tmp_path, body: str, qid: str | None = None) -> tuple[Path, str]:
    """A question file from ``body`` (``{qid}`` is replaced by a fresh question id)."""
    qid = qid or f"qtest{os.getpid()}_{next(_ids)}"
    path = tmp_path / f"{qid}.yaml"
    path.write_text(textwrap.dedent(body).replace("{qid}", qid))
    return path, qid


GOOD = r"""
id: {qid}
title: a small question
symbols:
  - latex: 'a'
    domain: real
  - latex: 'b'
    domain: positive
slots:
  s:
    prompt: Write a^2 + 2b.
    reference: 'a^2 + 2b'
    mistakes:
      - name: no-two
        latex: 'a^2 + b'
        feedback: 'the factor 2 on b is missing'
    tests:
      - answer: '2b + a\cdot a'
        verdict: correct
      - answer: 'a^2 + b'
        verdict: wrong
        mistake: no-two
"""


def lineno(path, needle: str, nth: int = 1) -> int:
    """The line of the ``nth`` line of ``path`` holding ``needle``."""
    found = [i for i, text in enumerate(Path(path).read_text().splitlines(), 1) if needle in text]
    return found[nth - 1]


def failures(path) -> list:
    [report] = check_paths([path], mutations=False)
    return report.failures


# --- the examples -------------------------------------------------------------------------------
def test_example_questions_pass_their_check():
    files = question_files(EXAMPLES)
    assert {f.name for f in files} >= {"beta_vae.yaml", "flow_matching.yaml"}
    reports = check_paths(files)
    for r in reports:
        assert r.ok, "\n".join(r.lines())
        for s in r.slots:
            assert s.tests == s.tests_passed
            assert s.told_apart, s.slot                # the mutation report covers the slot
    for name in ("beta_vae", "flow_matching"):
        tests = sum(s.tests for r in reports if r.question == name for s in r.slots)
        assert tests >= 10, name


def test_example_answer_gets_the_instructors_mistake_and_feedback():
    load_questions(EXAMPLES)
    with Grader(jobs=1) as g:
        wrong, right = g.grade_many([("beta_vae.objective", r"R + \frac{\beta}{2}(\mu^2+\sigma^2-1-\log\sigma^2)"),
                                     ("beta_vae.objective", r"R - \beta K")])
    assert wrong.verdict == "wrong" and wrong.mistake == "kl-added"
    assert "the KL term is subtracted" in wrong.message
    assert right.verdict == "correct"


def test_cli_answer_with_questions_grades():
    r = CliRunner().invoke(main, ["answer", "--questions", str(EXAMPLES), "--json", "flow_matching.cfm_target",
                                  r"\frac{x_1 - x}{1 - t}"])
    assert r.exit_code == 0, r.output
    assert '"verdict": "wrong"' in r.output and '"mistake": "no-sigma-min"' in r.output


def test_broken_copy_of_an_example_fails_with_its_line(tmp_path):
    """The done-when check, end to end in a fresh process: a copy of beta_vae.yaml whose mistake
    is the reference written another way fails, naming that mistake's line."""
    text = (EXAMPLES / "beta_vae.yaml").read_text()
    old = r"latex: 'R - \beta\left(\mu^2 + \sigma^2 - 1 - \log\sigma^2\right)'"
    assert text.count(old) == 1
    broken = tmp_path / "beta_vae.yaml"
    broken.write_text(text.replace(old, r"latex: 'R - \beta K'"))
    line = 1 + text[:text.index(old)].count("\n")
    run = subprocess.run([sys.executable, "-m", "derivations.cli", "question", "check", "--no-mutations",
                          str(broken)], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"{broken}:{line}:" in run.stdout and "equivalent to the reference" in run.stdout, run.stdout


# --- bad input: a clear message with the line, and check exits non-zero ---------------------------
def test_good_file_passes(tmp_path):
    path, qid = write(tmp_path, GOOD)
    assert failures(path) == []
    assert f"{qid}.s" in registry.slots()


def test_unreadable_reference(tmp_path):
    path, _ = write(tmp_path, GOOD.replace("reference: 'a^2 + 2b'", r"reference: 'a^2 + 2\frac{b'"))
    [f] = failures(path)
    assert f.line == lineno(path, "reference:") and "the reference" in f.message and "cannot be read" in f.message


def test_reference_in_undeclared_names(tmp_path):
    path, _ = write(tmp_path, GOOD.replace("reference: 'a^2 + 2b'", "reference: 'a^2 + 2c'"))
    [f] = failures(path)
    assert f.line == lineno(path, "reference:") and "unknown symbol c" in f.message


def test_unsatisfiable_conditions(tmp_path):
    body = GOOD.replace("    reference: 'a^2 + 2b'", "    reference: 'a^2 + 2b'\n    conditions: ['b > 2', 'b < 1']")
    path, _ = write(tmp_path, body)
    fs = failures(path)
    assert fs and fs[0].line == lineno(path, "conditions:") and "cannot be satisfied" in fs[0].message


def test_reference_not_finite_at_admissible_points(tmp_path):
    path, _ = write(tmp_path, GOOD.replace("reference: 'a^2 + 2b'", r"reference: '\sqrt{a} + 2b'")
                    .replace("a^2 + b'", r"\sqrt{a} + b'").replace(r"2b + a\cdot a", r"2b + \sqrt{a}")
                    .replace("answer: 'a^2 + b'", r"answer: '\sqrt{a} + b'"))
    fs = failures(path)
    assert any(f.line == lineno(path, "reference:") and "not finite and real" in f.message for f in fs), fs


def test_mistake_equivalent_to_the_reference(tmp_path):
    path, _ = write(tmp_path, GOOD.replace("latex: 'a^2 + b'", "latex: 'b + a^2 + b'"))
    fs = failures(path)
    line = lineno(path, "latex: 'b + a^2 + b'")
    assert any(f.line == line and "equivalent to the reference" in f.message for f in fs), fs
    r = CliRunner().invoke(main, ["question", "check", "--no-mutations", str(path)])
    assert r.exit_code == 1 and f"{path}:{line}:" in r.output


def test_two_named_mistakes_the_same(tmp_path):
    body = GOOD.replace("""        feedback: 'the factor 2 on b is missing'""",
                        """        feedback: 'the factor 2 on b is missing'
      - name: other
        latex: 'b + a a'
        feedback: 'the same mistake again'""")
    path, _ = write(tmp_path, body)
    fs = failures(path)
    assert any(f.line == lineno(path, "latex: 'b + a a'") and "are the same" in f.message for f in fs), fs


def test_a_failing_test_is_reported_at_its_line(tmp_path):
    path, _ = write(tmp_path, GOOD.replace("      - answer: '2b + a\\cdot a'\n        verdict: correct",
                                           "      - answer: '2b + a'\n        verdict: correct"))
    fs = failures(path)
    assert [f.line for f in fs] == [lineno(path, "- answer:")] and "expects correct, the grader says wrong" in fs[0].message


def test_wrong_mistake_name_expected_fails(tmp_path):
    path, _ = write(tmp_path, GOOD.replace("        mistake: no-two", "        mistake: something-else"))
    fs = failures(path)
    assert [f.line for f in fs] == [lineno(path, "- answer:", 2)] and "mistake no-two" in fs[0].message


def test_unknown_domain(tmp_path):
    path, _ = write(tmp_path, GOOD.replace("domain: positive", "domain: complex"))
    with pytest.raises(QuestionError) as exc:
        load_file(path)
    line = lineno(path, "domain: complex")
    assert exc.value.line == line and "unknown domain 'complex'" in str(exc.value) and "integer >= k" in str(exc.value)
    r = CliRunner().invoke(main, ["question", "check", str(path)])
    assert r.exit_code == 1 and f"{path}:{line}:" in r.output


def test_closed_interval_is_refused(tmp_path):
    path, _ = write(tmp_path, GOOD.replace("domain: positive", "domain: '[0, 1]'"))
    with pytest.raises(QuestionError, match="open intervals"):
        load_file(path)


def test_duplicate_slot_id_against_builtins(tmp_path):
    body = GOOD.replace("  s:\n", "  gamma:\n")
    path, _ = write(tmp_path, body, qid="ddim")
    with pytest.raises(QuestionError) as exc:
        load_file(path)
    assert exc.value.line == lineno(path, "id: ddim") and "built-in" in str(exc.value)


def test_duplicate_slot_id_between_files(tmp_path):
    path, qid = write(tmp_path, GOOD)
    load_file(path)
    (tmp_path / "again").mkdir()
    copy = tmp_path / "again" / "copy.yaml"
    shutil.copy(path, copy)
    with pytest.raises(QuestionError) as exc:
        load_file(copy)
    assert exc.value.line == lineno(copy, "  s:") and "already defined" in str(exc.value) and str(path) in str(exc.value)


def test_yaml_is_read_safely_with_lines():
    with pytest.raises(QuestionError) as exc:
        loads("id: x\nslots: !!python/object/apply:os.system ['true']\n", "f.yaml")
    assert exc.value.line == 2
    with pytest.raises(QuestionError) as exc:
        loads("id: x\ntitle: a\ntitle: b\n", "f.yaml")
    assert exc.value.line == 3 and "written twice" in str(exc.value)


def test_unknown_key_is_named(tmp_path):
    path, _ = write(tmp_path, GOOD.replace("    prompt:", "    promt:"))
    with pytest.raises(QuestionError, match="unknown key 'promt'") as exc:
        load_file(path)
    assert exc.value.line == lineno(path, "promt:")


def test_mutation_report_shows_mutations_equivalent_on_the_domain(tmp_path):
    """t(1 - t) on (0, 1): writing 1 - t for t gives (1 - t)t, the same function: shown."""
    body = r"""
    id: {qid}
    symbols:
      - latex: 't'
        domain: (0, 1)
    slots:
      s:
        reference: 't(1 - t)'
    """
    path, _ = write(tmp_path, body)
    [report] = check_paths([path])
    assert report.ok
    [s] = report.slots
    assert any(tag == "complement" for tag, _, _ in s.equivalent), s.equivalent
    assert s.told_apart


def test_grade_refuses_a_question_that_fails_its_check(tmp_path):
    qdir = tmp_path / "questions"
    qdir.mkdir()
    path, qid = write(qdir, GOOD.replace("latex: 'a^2 + b'", "latex: 'a^2 + 2b'"))
    sheet = tmp_path / "answers.csv"
    sheet.write_text(f"student,slot,latex,step\ns1,{qid}.s,a^2 + 2b,\n")
    r = CliRunner().invoke(main, ["grade", str(sheet), "--out", str(tmp_path / "out"), "--questions", str(qdir)])
    line = lineno(path, "latex: 'a^2 + 2b'")
    assert r.exit_code != 0 and "refusing to grade" in r.output and f"{path}:{line}:" in r.output
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_course_config_names_the_questions(tmp_path, monkeypatch):
    from derivations.questions import questions_dir
    (tmp_path / "derivcheck.toml").write_text('questions = "qs"\n')
    monkeypatch.delenv("DERIVCHECK_QUESTIONS", raising=False)
    assert questions_dir(tmp_path) == str((tmp_path / "qs").resolve())
    monkeypatch.setenv("DERIVCHECK_QUESTIONS", "/elsewhere")
    assert questions_dir(tmp_path) == "/elsewhere"


# --- one schema for built-in and authored slots -------------------------------------------------
def test_builtin_round_trip_grades_the_labelled_set_identically(tmp_path):
    """``slots --yaml`` of built-in slots, loaded back under another question id, gives slots that
    grade the labelled answers of those slots exactly as the built-in ones do."""
    from derivations.grading.labelled import load
    ids = ("ddim.gamma", "vae.gauss_kl_1d", "lemma.marginal_cov", "lemma.posterior_mean")
    r = CliRunner().invoke(main, ["slots", "--yaml", *ids])
    assert r.exit_code == 0, r.output
    docs = r.output.split("---\n")
    assert len(docs) == 3 and "domain: matrix spd" in r.output
    for doc in docs:
        qid = doc.split("\n", 1)[0].split(": ")[1]
        (tmp_path / f"{qid}.yaml").write_text(doc.replace(f"id: {qid}\n", f"id: rt_{qid}\n", 1))
    load_questions(tmp_path)
    items = [it for it in load(with_generated=False) if it.slot in ids]
    assert len(items) >= 60 and {it.slot for it in items} == set(ids)
    pairs = []
    for it in items:
        pairs += [(it.slot, it.latex), ("rt_" + it.slot, it.latex)]
    with Grader(jobs=2) as g:
        results = g.grade_many(pairs)
    differ = [(it.slot, it.latex, a.verdict, b.verdict) for it, a, b in zip(items, results[::2], results[1::2])
              if a.verdict != b.verdict]
    assert not differ, differ
    assert {r.verdict for r in results} >= {"correct", "wrong"}


def test_the_tutorial_question_in_the_docs_passes_its_check(tmp_path):
    import re
    text = (ROOT / "docs" / "questions.md").read_text()
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if b.startswith("id: snr")]
    path = tmp_path / "snr.yaml"
    path.write_text(block)
    [report] = check_paths([path])
    assert report.ok, "\n".join(report.lines())
    assert report.slots[0].tests == report.slots[0].tests_passed == 7


def test_loading_questions_leaves_the_builtin_slots_as_they_are():
    """Registering the example questions changes no built-in slot's scope (the names an answer is
    read in) and no declared symbol's domain (checked in a fresh process, before and after)."""
    script = textwrap.dedent("""
        from derivations import registry, symbols as symtab
        from derivations.latex.scope import for_slot
        from derivations.questions import load_questions
        ids = list(registry.slots())
        def snap():
            for_slot.cache_clear()
            out = {}
            for sid in ids:
                for dens in (False, True):
                    try:
                        sc = for_slot(sid, dens)
                        out[sid, dens] = (dict(sc.names), dict(sc.phrases), dict(sc.expansions), dict(sc.functions))
                    except Exception as exc:
                        out[sid, dens] = repr(exc)
            return out
        infos = {i.symbol: i for i in symtab.declared()}
        before = snap()
        load_questions(%r)
        after = snap()
        assert len(registry.slots()) == len(ids) + 4
        print(sum(before[k] != after[k] for k in before), all(symtab.info(s) == i for s, i in infos.items()))
    """ % str(EXAMPLES))
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["0", "True"]


MATRIX = r"""
id: {qid}
symbols:
  - latex: 'A'
    domain: matrix any
  - latex: '\Lambda'
    domain: matrix spd
  - latex: 'L'
    domain: matrix spd
slots:
  post_precision:
    reference: '\Lambda + A^\top L A'
    mistakes:
      - name: transpose-misplaced
        latex: '\Lambda + A L A^\top'
        feedback: 'x enters as Ax: the precision is A^T L A'
    tests:
      - answer: 'A^T L A + \Lambda'
        verdict: correct
      - answer: '\Lambda + A L A^T'
        verdict: wrong
        mistake: transpose-misplaced
"""


def test_matrix_kinds(tmp_path):
    """Matrices of declared kinds: graded with random matrices of those kinds; the report shows the
    transposes that the symmetric kinds cannot tell apart."""
    path, _ = write(tmp_path, MATRIX)
    [report] = check_paths([path])
    assert report.ok, "\n".join(report.lines())
    [s] = report.slots
    assert s.tests_passed == 2
    assert {d for tag, d, _ in s.equivalent if tag == "misplaced-transpose"} == \
        {"L^\\top where L belongs", "\\Lambda^\\top where \\Lambda belongs"}
    broken, _ = write(tmp_path, MATRIX.replace("latex: '\\Lambda + A L A^\\top'", "latex: '\\Lambda + A^T L^T A'"))
    fs = failures(broken)
    assert any(f.line == lineno(broken, "L^T A'") and "equivalent to the reference" in f.message for f in fs), fs


def test_matrix_slot_refuses_scalars(tmp_path):
    path, _ = write(tmp_path, MATRIX.replace("  - latex: 'L'\n    domain: matrix spd", "  - latex: 'L'\n    domain: positive"))
    with pytest.raises(QuestionError, match="mixes matrices and scalar"):
        load_file(path)


FUNCTIONS = r"""
id: {qid}
symbols:
  - latex: '\bar\alpha_t'
    domain: (0, 1)
  - latex: 'x_t'
functions: ['\epsilon_\theta']
slots:
  x0:
    reference: '\frac{x_t - \sqrt{1 - \bar\alpha_t}\,\epsilon_\theta(x_t)}{\sqrt{\bar\alpha_t}}'
    mistakes:
      - name: no-sqrt
        latex: '\frac{x_t - (1 - \bar\alpha_t)\epsilon_\theta(x_t)}{\bar\alpha_t}'
        feedback: 'the square roots are missing'
    tests:
      - answer: '\frac{x_t - \sqrt{1-\bar\alpha_t}\,\epsilon_\theta}{\sqrt{\bar\alpha_t}}'
        verdict: correct
      - answer: '\frac{x_t - (1 - \bar\alpha_t)\epsilon_\theta(x_t)}{\bar\alpha_t}'
        verdict: wrong
        mistake: no-sqrt
      - answer: '\frac{x_t - \sqrt{1-\bar\alpha_t}\,\epsilon_\theta(x_t)^2}{\sqrt{\bar\alpha_t}}'
        verdict: wrong
"""


def test_unknown_functions(tmp_path):
    """An unknown function's value is drawn like a symbol's: the answer must hold whatever it is."""
    path, _ = write(tmp_path, FUNCTIONS)
    assert failures(path) == []
    bad, _ = write(tmp_path, FUNCTIONS.replace("functions: ['\\epsilon_\\theta']", "functions: ['f(x)']"))
    with pytest.raises(QuestionError, match="function name") as exc:
        load_file(bad)
    assert exc.value.line == lineno(bad, "functions:")


def test_two_symbols_with_one_spelling(tmp_path):
    body = GOOD.replace("    prompt: Write a^2 + 2b.", "    symbols:\n      - latex: 'a'\n        domain: positive\n    prompt: Write a^2 + 2b.")
    path, _ = write(tmp_path, body)
    with pytest.raises(QuestionError, match="two symbols spelled 'a'") as exc:
        load_file(path)
    assert exc.value.line == lineno(path, "- latex: 'a'", 2)
