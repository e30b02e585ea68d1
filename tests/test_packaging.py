"""Packaging (issue 21): the base install grades without torch; a command that needs an extra
names it; the pytest plugin comes through its entry point, once; ``answer --fail-on``; every JSON
document derivcheck writes validates against its schema in derivations/schemas/; the wheel ships
the package data and not benchmarks/."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator, ValidationError

import derivations.pytest_plugin
from derivations import registry, schemas
from derivations.cli import main

ROOT = Path(__file__).resolve().parents[1]

SHEET = textwrap.dedent(r"""
    student: s1
    answers:
      gan.square.f: -\frac{4t}{t+1}
      gan.square.dstar: \frac{p_g - p_d}{p_d + p_g}
      sm.kernel_score: this is prose, not an answer
    chains:
      ddim.marginal_var:
      - \sigma_t^2 + \frac{1 - \bar\alpha_{t-1} - \sigma_t^2}{1 - \bar\alpha_t}(1 - \bar\alpha_t)
      - = 1 - \bar\alpha_{t-1}
    """)

# Run in a fresh interpreter: grade one answer and a tiny class through the CLI, then report
# which heavy or test-only modules the process imported.
GRADE_SCRIPT = textwrap.dedent("""
    import json, sys
    from derivations.cli import main
    codes = []
    for args in (["answer", "gan.square.f", r"f(t) = \\frac{-4t}{1+t}"],
                 ["grade", sys.argv[1], "--out", sys.argv[2], "--jobs", "1"]):
        try:
            main(args, standalone_mode=False)
            codes.append(0)
        except SystemExit as exc:
            codes.append(exc.code or 0)
    print("CODES " + json.dumps(codes))
    names = ("torch", "matplotlib", "pytest", "derivations.pytest_plugin", "numeric_checks")
    print("IMPORTED " + json.dumps({n: n in sys.modules for n in names}))
    """)

# The same CLI in a process where the named top-level modules cannot be imported (as if the
# extra that provides them were not installed); forked workers inherit the hiding.
HIDE = textwrap.dedent("""
    import sys
    HIDDEN = set(sys.argv[1].split(","))
    class Hide:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HIDDEN:
                raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
            return None
    sys.meta_path.insert(0, Hide())
    from derivations.cli import main
    main(sys.argv[2:], prog_name="derivcheck")
    """)


def run_hidden(hidden: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", HIDE, hidden, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A tiny class graded (and one answer) in a fresh process: the modules it imported, and its
    output folder."""
    base = tmp_path_factory.mktemp("class")
    (base / "sheets").mkdir()
    (base / "sheets" / "s1.yaml").write_text(SHEET)
    out = base / "out"
    proc = subprocess.run([sys.executable, "-c", GRADE_SCRIPT, str(base / "sheets"), str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    codes = next(json.loads(l[6:]) for l in proc.stdout.splitlines() if l.startswith("CODES "))
    assert codes[0] == 0 and codes[1] not in (2, 3), (codes, proc.stdout[-3000:], proc.stderr[-3000:])
    line = next(l for l in proc.stdout.splitlines() if l.startswith("IMPORTED "))
    return json.loads(line[len("IMPORTED "):]), out


# ---- the base install ---------------------------------------------------------------------

def test_grading_imports_no_torch_nor_the_pytest_plugin(graded):
    imported, out = graded
    assert (out / "grades.jsonl").exists()
    assert imported == {"torch": False, "matplotlib": False, "pytest": False,
                        "derivations.pytest_plugin": False, "numeric_checks": False}, imported


def test_answer_works_where_torch_is_not_installed():
    proc = run_hidden("torch", "answer", "gan.square.f", r"f(t) = \frac{-4t}{1+t}", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["verdict"] == "correct"


@pytest.mark.parametrize("args, extra", [
    (["verify", "gan.square", "--numeric"], "numeric"),
    (["latex", "gan.square", "--out", "OUT"], "numeric"),
])
def test_a_command_that_needs_a_missing_extra_names_it(args, extra, tmp_path):
    args = [str(tmp_path / "o") if a == "OUT" else a for a in args]
    proc = run_hidden("torch", *args)
    assert proc.returncode == 3, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    assert f"[{extra}" in proc.stderr and 'pip install "derivcheck[' in proc.stderr, proc.stderr


def test_report_names_the_publish_extra_when_matplotlib_is_missing(tmp_path):
    (tmp_path / "grades.jsonl").write_text("")
    proc = run_hidden("matplotlib", "report", str(tmp_path))
    assert proc.returncode == 3, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and 'pip install "derivcheck[publish]"' in proc.stderr


def test_an_import_deep_in_a_command_names_its_extra():
    """Past the up-front checks, a command that imports a module of a missing extra still stops
    with the extra's install line (exit status 3); any other missing module stays an error."""
    import click

    from derivations import cli

    @click.group(cls=cli._Group)
    def group():
        pass

    @group.command()
    @click.argument("name")
    def boom(name):
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    result = CliRunner().invoke(group, ["boom", "torch.distributions"])
    assert result.exit_code == 3 and 'pip install "derivcheck[numeric]"' in result.output, result.output
    result = CliRunner().invoke(group, ["boom", "not_an_extra_module"])
    assert result.exit_code == 1 and isinstance(result.exception, ModuleNotFoundError)


# ---- the pytest plugin --------------------------------------------------------------------

def test_the_pytest_plugin_comes_through_its_entry_point_once(pytestconfig):
    found = [e for e in entry_points(group="pytest11") if e.name == "derivcheck"]
    assert [e.value for e in found] == ["derivations.pytest_plugin"]
    manager = pytestconfig.pluginmanager
    assert manager.get_plugin("derivcheck") is derivations.pytest_plugin
    assert [name for name, plugin in manager.list_name_plugin() if plugin is derivations.pytest_plugin] == \
        ["derivcheck"]


def test_the_catalogue_is_collected_exactly_once():
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "tests/catalogue.derivcheck"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    items = [l.split("::", 1)[1] for l in proc.stdout.splitlines() if l.startswith("tests/catalogue.derivcheck::")]
    assert len(items) == len(set(items)), "an item was collected twice"
    derivation_items = {i for i in items if "[numeric:" not in i}
    assert derivation_items == set(registry.derivations())
    assert any("[numeric:" in i for i in items)


def _pytest(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_the_notebooks_are_collected_by_nbmake_when_it_is_installed():
    pytest.importorskip("nbmake", reason="nbmake is not installed: cannot check that it runs the notebooks")
    proc = _pytest("--collect-only", "notebooks")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert proc.stdout.count("<NotebookItem ") == len(list((ROOT / "notebooks").glob("*.ipynb"))) > 0
    assert "NotRun" not in proc.stdout


def test_without_nbmake_pytest_runs_and_says_the_notebooks_were_not_run():
    proc = _pytest("-q", "-rs", "-p", "no:nbmake", "notebooks")
    assert proc.returncode == 0, proc.stdout[-3000:]
    count = len(list((ROOT / "notebooks").glob("*.ipynb")))
    assert f"{count} skipped" in proc.stdout and "nbmake is not installed" in proc.stdout, proc.stdout[-3000:]


# ---- answer --fail-on ---------------------------------------------------------------------

@pytest.mark.parametrize("latex, fail_on, code", [
    (r"f(t) = \frac{4t}{1+t}", "wrong", 1),
    (r"f(t) = \frac{4t}{1+t}", "invalid,unchecked", 0),
    (r"f(t) = \frac{-4t}{1+t}", "wrong,invalid,unchecked", 0),
    (r"f(t) = \frac{-4t}{1+t}", "correct", 1),
    ("no formula here", "wrong, invalid", 1),
    (r"f(t) = \frac{4t}{1+t}", "", 0),
])
def test_answer_fail_on_sets_the_exit_status(latex, fail_on, code):
    args = ["answer", "gan.square.f", latex] + (["--fail-on", fail_on] if fail_on else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output


def test_answer_fail_on_rejects_an_unknown_verdict():
    result = CliRunner().invoke(main, ["answer", "gan.square.f", "t", "--fail-on", "wrong,bad"])
    assert result.exit_code == 2 and "unknown verdict 'bad'" in result.output


# ---- JSON Schemas, checked against real outputs --------------------------------------------

@pytest.mark.parametrize("name", schemas.NAMES)
def test_every_schema_is_a_valid_draft_2020_12_schema(name):
    Draft202012Validator.check_schema(schemas.load(name))


def test_verify_json_validates(tmp_path):
    path = tmp_path / "v.json"
    result = CliRunner().invoke(main, ["verify", "gan.square", "--numeric", "--samples", "2000",
                                       "--jobs", "1", "-q", "--json", str(path)])
    assert result.exit_code in (0, 1), result.output
    report = json.loads(path.read_text())
    assert report["derivations"] and report["numeric"], "the report should hold derivations and numeric rows"
    schemas.validate("verify", report)
    broken = json.loads(path.read_text())
    broken["derivations"][0]["steps"][0]["status"] = "probably"
    with pytest.raises(ValidationError):
        schemas.validate("verify", broken)


@pytest.mark.parametrize("latex, verdict", [
    (r"f(t) = \frac{-4t}{1+t}", "correct"),
    (r"f(t) = \frac{4t}{1+t}", "wrong"),
    ("no formula here", "invalid"),
])
def test_answer_json_validates(latex, verdict):
    result = CliRunner().invoke(main, ["answer", "gan.square.f", latex, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["verdict"] == verdict
    schemas.validate("answer", doc)
    with pytest.raises(ValidationError):
        schemas.validate("answer", {**doc, "verdict": "almost"})


def test_answer_jsonl_lines_validate(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([json.dumps({"slot": "gan.square.f", "latex": r"f(t) = \frac{-4t}{1+t}"}),
                              json.dumps({"slot": "gan.square.f", "latex": r"\frac{4t}{1+t}"}),
                              "not json", json.dumps({"slot": "no.such.slot", "latex": "t"})]) + "\n")
    result = CliRunner().invoke(main, ["answer", "--jsonl", str(src)])
    lines = [json.loads(l) for l in result.output.splitlines() if l.strip()]
    assert [l["line"] for l in lines] == [1, 2, 3, 4], result.output
    assert [l.get("verdict") for l in lines] == ["correct", "wrong", None, None]
    for line in lines:
        schemas.validate("answer-jsonl", line)
    with pytest.raises(ValidationError):
        schemas.validate("answer-jsonl", {"line": 3, "error": "x", "verdict": "wrong"})


def test_fdiv_json_validates():
    result = CliRunner().invoke(main, ["fdiv", r"e^{-2\alpha}", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    schemas.validate("fdiv", doc)
    with pytest.raises(ValidationError):
        schemas.validate("fdiv", {**doc, "evidence": {"convex": {"status": "maybe", "kind": "symbolic", "detail": ""}}})


def test_slots_json_validates():
    result = CliRunner().invoke(main, ["slots", "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert len(doc) == len(registry.slots())
    schemas.validate("slots", doc)


def test_grades_jsonl_rows_validate(graded):
    _, out = graded
    rows = [json.loads(l) for l in (out / "grades.jsonl").read_text().splitlines()]
    assert {r["verdict"] for r in rows} >= {"correct", "wrong", "invalid"}
    assert any(r["kind"] == "chain" for r in rows)
    for row in rows:
        schemas.validate("grades-row", row)
    with pytest.raises(ValidationError):
        schemas.validate("grades-row", {**rows[0], "points": "ten"})


def test_gradescope_results_validate(graded):
    _, out = graded
    files = sorted((out / "gradescope").glob("*/results.json"))
    assert files
    for path in files:
        doc = json.loads(path.read_text())
        schemas.validate("gradescope-results", doc)
    with pytest.raises(ValidationError):           # a key outside Gradescope's specification
        schemas.validate("gradescope-results", {**doc, "derivcheck_version": "0.1"})


# ---- the wheel ----------------------------------------------------------------------------

@pytest.mark.slow
def test_the_wheel_ships_package_data_and_not_benchmarks(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [wheel] = tmp_path.glob("derivcheck-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ["derivations/py.typed", "derivations/latex/grammar.lark",
                   *(f"derivations/schemas/{n}.schema.json" for n in schemas.NAMES)]:
        assert needed in names, needed
    for folder in ("derivations/publish/templates", "derivations/serve/templates"):
        if (ROOT / folder).is_dir():
            shipped = {n for n in names if n.startswith(folder + "/")}
            assert shipped == {f"{folder}/{p.name}" for p in (ROOT / folder).iterdir() if p.is_file()}, folder
    assert not any(n.startswith(("benchmarks/", "tests/")) for n in names)
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "[pytest11]" in text and "derivcheck = derivations.pytest_plugin" in text
