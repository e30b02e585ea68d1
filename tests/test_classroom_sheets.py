"""Reading a class: every format, and every malformed or hostile sheet a clear review entry."""
from __future__ import annotations

import json

import pytest

from derivations import registry
from derivations.classroom.sheets import MAX_SHEET_BYTES, read_class

KNOWN = registry.slots()


def read(tmp_path, files: dict):
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return read_class([tmp_path], KNOWN)


def only_problem(problems, needle):
    hits = [p for p in problems if needle in p.reason]
    assert hits, [p.reason for p in problems]
    return hits[0]


def test_yaml_json_latex_csv(tmp_path):
    sheets, problems = read(tmp_path, {
        "a.yaml": "student: s1\nanswers:\n  gan.square.f: -\\frac{4t}{t+1}\n"
                  "chains:\n  ddim.marginal_var: ['a = b', '= c']\n",
        "b.json": json.dumps({"student": "s2", "answers": {"gan.square.f": "x", "ddim.marginal_var": 1}}),
        "s3.tex": "\\documentclass{article}\n% \\answer{gan.square.f}{commented out}\n"
                  "\\answer{gan.square.f}{-\\frac{4t}{\\left(t+1\\right)}}\n"
                  "\\step{vae.jensen}{\\log p(X) = \\log \\mathbb{E}_{q(Z)}[w]}\n\\step{vae.jensen}{\\ge c}\n",
        "named.tex": "\\student{s4}\\answer{sm.kernel_score}{\\frac{x - \\tilde x}{\\sigma^2}}",
        "export.csv": "student,slot,latex,step\ns5,gan.square.f,\"-\\frac{4t}{t+1}\",\n"
                      "s5,vae.jensen,\"\\ge c\",2\ns5,vae.jensen,\"a = b\",1\ns6,sm.kernel_score,x,\n",
    })
    assert not problems, problems
    by = {s.student: s for s in sheets}
    assert sorted(by) == ["s1", "s2", "s3", "s4", "s5", "s6"]
    assert by["s1"].chains == {"ddim.marginal_var": ["a = b", "= c"]}
    assert by["s2"].answers["ddim.marginal_var"] == "1"          # a YAML/JSON number is text
    assert by["s3"].answers == {"gan.square.f": r"-\frac{4t}{\left(t+1\right)}"}   # nested braces, comment skipped
    assert by["s3"].chains["vae.jensen"][1] == r"\ge c"
    assert by["s4"].answers == {"sm.kernel_score": r"\frac{x - \tilde x}{\sigma^2}"}
    assert by["s5"].chains["vae.jensen"] == ["a = b", r"\ge c"]   # ordered by the step column


def test_a_student_split_over_files_is_merged_and_conflicts_are_reported(tmp_path):
    sheets, problems = read(tmp_path, {
        "q3.csv": "student,slot,latex\ns1,gan.square.f,a\ns1,sm.kernel_score,x\n",
        "q5.csv": "student,slot,latex\ns1,ddim.marginal_var,b\ns1,gan.square.f,c\ns1,sm.kernel_score, x \n",
    })
    # the rule: answered differently in two files -> neither graded, a conflict for review;
    # answered identically -> graded once, nothing to review
    assert sheets[0].answers == {"ddim.marginal_var": "b", "sm.kernel_score": "x"}
    p = only_problem(problems, "conflicting answers")
    assert p.student == "s1" and p.slot == "gan.square.f"
    assert "q3.csv" in p.reason and "q5.csv" in p.reason and "neither is graded" in p.reason
    assert len(problems) == 1


def test_content_hash_follows_the_answers_not_the_file(tmp_path):
    a, _ = read(tmp_path / "a", {"s.yaml": "student: s1\nanswers: {gan.square.f: x}\n"})
    b, _ = read(tmp_path / "b", {"s.json": json.dumps({"student": "s1", "answers": {"gan.square.f": "x"}})})
    c, _ = read(tmp_path / "c", {"s.yaml": "student: s1\nanswers: {gan.square.f: y}\n"})
    assert a[0].content_hash() == b[0].content_hash() != c[0].content_hash()


@pytest.mark.parametrize("name, content, needle", [
    ("m.yaml", "student: s1\nanswers:\n  gan.square.f: [unclosed\n", "malformed YAML"),
    ("m.json", '{"student": "s1", "answers": {', "malformed JSON"),
    ("bomb.yaml", "a: &a [x, x, x]\nb: [*a, *a, *a]\n", "aliases"),
    ("tag.yaml", "student: !!python/object/apply:os.system ['echo hi']\n", "constructor"),
    ("junk.json", bytes(range(256)) * 4, "binary"),
    ("latin1.yaml", "student: s\u00e9\n".encode("latin-1"), "not UTF-8"),
    ("list.yaml", "- a\n- b\n", "must be a mapping"),
    ("deep.json", "[" * 5000 + "]" * 5000, "nested"),
    ("deep.yaml", "a: " + "[" * 100 + "]" * 100 + "\n", "nested too deeply"),
    ("id.json", json.dumps({"student": "../../etc/passwd", "answers": {}}), "student id"),
    ("open.tex", "\\answer{gan.square.f}{-\\frac{4t}{t+1}\n", "unbalanced braces"),
    ("two.tex", "\\student{a}\\student{b}\\answer{gan.square.f}{t}", "given twice"),
    ("header.csv", "name,answer\ns1,t\n", "student,slot,latex"),
    ("notes.txt", "hello", "not an answer sheet"),
])
def test_hostile_sheets_become_review_entries(tmp_path, name, content, needle):
    sheets, problems = read(tmp_path, {name: content, "good.yaml": "student: ok\nanswers: {gan.square.f: t}\n"})
    # the rest of the class is read; nothing of the hostile file is graded (a student it names
    # is still listed, with the problem as the reason)
    assert [s.student for s in sheets if s.answers or s.chains] == ["ok"]
    p = only_problem(problems, needle)
    assert p.source.endswith(name)


def test_a_50_megabyte_file_is_not_read(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(50 * 2**20)                            # sparse: 50 MB without writing them
    sheets, problems = read_class([tmp_path], KNOWN)
    assert not sheets
    assert "50.0 MB" in only_problem(problems, "not read").reason
    assert MAX_SHEET_BYTES < 50 * 2**20


@pytest.mark.parametrize("name, content", [
    ("d.yaml", "student: s1\nanswers:\n  gan.square.f: a\n  gan.square.f: b\n  sm.kernel_score: x\n"),
    ("d.json", '{"student": "s1", "answers": {"gan.square.f": "a", "gan.square.f": "b", "sm.kernel_score": "x"}}'),
    ("d.csv", "student,slot,latex\ns1,gan.square.f,a\ns1,gan.square.f,b\ns1,sm.kernel_score,x\n"),
    ("d.tex", "\\student{s1}\\answer{gan.square.f}{a}\\answer{gan.square.f}{b}\\answer{sm.kernel_score}{x}"),
])
def test_duplicated_slot_keys_are_graded_by_nobody_and_reported(tmp_path, name, content):
    sheets, problems = read(tmp_path, {name: content})
    assert sheets[0].answers == {"sm.kernel_score": "x"} and not sheets[0].chains
    p = only_problem(problems, "duplicated slot key")
    assert p.student == "s1" and p.slot == "gan.square.f"


@pytest.mark.parametrize("name, content", [
    ("both.yaml", "student: s1\nanswers: {gan.square.f: a, sm.kernel_score: x}\nchains: {gan.square.f: [a, '= b']}\n"),
    ("both.tex", "\\student{s1}\\answer{gan.square.f}{a}\\answer{sm.kernel_score}{x}\\step{gan.square.f}{a}"
                 "\\step{gan.square.f}{= b}"),
    ("both.csv", "student,slot,latex,step\ns1,gan.square.f,a,\ns1,sm.kernel_score,x,\ns1,gan.square.f,a,1\n"
                 "s1,gan.square.f,= b,2\n"),
])
def test_an_answer_and_a_chain_for_one_slot_are_both_kept(tmp_path, name, content):
    # issue 15 item 3: the answer is graded as the final result, the chain as its derivation
    sheets, problems = read(tmp_path, {name: content})
    assert not problems, [p.reason for p in problems]
    sheet = sheets[0]
    assert sheet.answers == {"gan.square.f": "a", "sm.kernel_score": "x"}
    assert sheet.chains == {"gan.square.f": ["a", "= b"]}
    assert [(s, k) for s, k, _ in sheet.items()] == [("gan.square.f", "answer"), ("gan.square.f", "chain"),
                                                    ("sm.kernel_score", "answer")]
    # their results are recorded apart
    assert sheet.result_key("gan.square.f", "answer") != sheet.result_key("gan.square.f", "chain")
    assert sheet.result_key("sm.kernel_score", "answer") == "sm.kernel_score"


def test_an_answer_in_one_file_and_a_chain_in_another_are_both_kept(tmp_path):
    sheets, problems = read(tmp_path, {"a.yaml": "student: s1\nanswers: {gan.square.f: a}\n",
                                       "b.yaml": "student: s1\nchains: {gan.square.f: [a, '= b']}\n"})
    assert not problems and sheets[0].answers == {"gan.square.f": "a"}
    assert sheets[0].chains == {"gan.square.f": ["a", "= b"]}


def test_unknown_slot_ids_are_reported_with_near_matches(tmp_path):
    sheets, problems = read(tmp_path, {"s.yaml": "student: s1\nanswers: {gan.sqare.f: a, sm.kernel_score: x}\n"})
    assert sheets[0].answers == {"sm.kernel_score": "x"}
    p = only_problem(problems, "unknown slot id")
    assert "gan.square.f" in p.reason and p.slot == "gan.sqare.f"


def test_answers_that_are_not_text_are_reported(tmp_path):
    sheets, problems = read(tmp_path, {"s.yaml": "student: s1\nanswers: {gan.square.f: [1, 2], sm.kernel_score: x}\n"
                                                 "chains: {vae.jensen: {a: b}}\n"})
    assert sheets[0].answers == {"sm.kernel_score": "x"}
    only_problem(problems, "not text")
    only_problem(problems, "list of LaTeX steps")


def test_a_sheet_with_thousands_of_entries_is_refused(tmp_path):
    many = "student: s1\nanswers:\n" + "".join(f"  slot{i}: x\n" for i in range(2000))
    sheets, problems = read(tmp_path, {"many.yaml": many})
    assert not any(s.answers for s in sheets) and "at most 500" in only_problem(problems, "answers and chains").reason


def test_review_cells_cannot_become_spreadsheet_formulas():
    from derivations.classroom.outputs import review_csv
    from derivations.classroom.sheets import Problem
    text = review_csv([], [Problem("s.yaml", "unknown slot id", "s1", '=HYPERLINK("http://x")')]).decode()
    assert "'=HYPERLINK" in text


def test_a_parenthesised_remark_after_a_step_is_dropped_but_a_function_argument_is_kept():
    from derivations.classroom.sheets import chain_steps
    assert chain_steps([r"\ge \mathbb{E}[\log w] \quad (\text{Jensen})", r"= a (\text{by Bayes})."]) == \
        [r"\ge \mathbb{E}[\log w]", "= a"]
    assert chain_steps([r"= f(\text{x})"]) == [r"= f(\text{x})"]
