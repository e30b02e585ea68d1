"""The committed examples: the synthetic class is what its script writes, and the seed's
reference sheet reads cleanly, with the HVAE step its own text flags found invalid by the checks."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

from derivations import registry
from derivations.classroom.chains import check_chain
from derivations.classroom.sheets import read_class

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def test_make_class_reproduces_the_committed_class(tmp_path):
    spec = importlib.util.spec_from_file_location("make_class", EXAMPLES / "make_class.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.write_class(tmp_path / "class")
    made = {p.relative_to(tmp_path / "class"): p.read_bytes() for p in (tmp_path / "class").rglob("*") if p.is_file()}
    committed = {p.relative_to(EXAMPLES / "class"): p.read_bytes() for p in (EXAMPLES / "class").rglob("*")
                 if p.is_file()}
    # hostile/ may hold further hand-written cases beyond what the script writes
    extra = {k for k in committed.keys() - made.keys() if k.parts[0] == "hostile"}
    assert made == {k: v for k, v in committed.items() if k not in extra}
    sheets, problems = read_class([EXAMPLES / "class"], registry.slots())
    assert len(sheets) >= 30
    formats = {Path(src).suffix for s in sheets for src in s.sources}
    assert {".yaml", ".json", ".tex", ".csv"} <= formats
    assert any("duplicated slot key" in p.reason for p in problems)
    assert any("binary" in p.reason for p in problems)


def test_the_seed_reference_sheet_reads_without_problems():
    sheets, problems = read_class([EXAMPLES / "seed_reference.yaml"], registry.slots())
    assert not problems and len(sheets) == 1
    assert "hvae.decomp" in sheets[0].chains


def test_the_seed_hvae_step_is_the_first_invalid_step_of_its_chain():
    steps = yaml.safe_load((EXAMPLES / "seed_reference.yaml").read_text())["chains"]["hvae.decomp"]
    r = check_chain("hvae.decomp", steps)
    assert r["verdict"] == "wrong" and r["chain"]["first_invalid_step"] == 3
    assert [l["status"] for l in r["chain"]["links"]] == ["proved", "proved", "refuted"]
    ce = r["counterexample"]
    assert ce["lhs"] != ce["rhs"] and "model" in ce


def test_the_hand_written_hostile_cases_cost_only_what_they_break():
    sheets, problems = read_class([EXAMPLES / "class" / "hostile"], registry.slots())
    by = {s.student: s for s in sheets}
    assert set(by["s97"].answers) == {"gan.square.f", "ddim.marginal_var"}        # one bad YAML entry
    assert any(p.slot == "ddim.x0_pred" and "line 4" in p.reason for p in problems)
    assert "s99" in by and "s98" not in by                                        # an unclosed CSV quote
    assert by["s89"].answers and len(by["s89"].chains["ddim.marginal_var"]) == 2   # preamble macros, align
    assert not any(s.startswith("s88") for s in by)
    assert any("s88/../../x" in p.reason for p in problems)
