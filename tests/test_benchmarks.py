"""The benchmark suite: a smoke run of the entry point at tiny sizes, and its measuring parts."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp
import torch

from benchmarks import Table, markdown
from benchmarks import __main__ as entry
from benchmarks import mc_bench, verify_bench
from numeric_checks import core
from numeric_checks.core import StreamStats

ROOT = Path(__file__).resolve().parent.parent


def test_entry_point_smoke_run_writes_json_and_results(tmp_path):
    out, md = tmp_path / "bench.json", tmp_path / "RESULTS.md"
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "mc", "scaling", "--quick", "--checks", "ddim",
                           "--json", str(out), "--results", str(md)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    payload = json.loads(out.read_text())
    m = payload["machine"]
    assert {"cpu", "logical_cores", "gpu", "load_avg_1_5_15"} <= set(m)
    assert all(m["versions"][p] for p in ("torch", "sympy", "numpy"))
    mc = payload["benchmarks"]["mc"]["tables"][0]
    ids = [row[0] for row in mc["rows"]]
    assert any(i.startswith("ddim.") for i in ids) and any("Gaussian-KL" in i for i in ids)
    col = mc["columns"].index("fraction of randn")
    assert all(0 < row[col] < 2 for row in mc["rows"])
    scaling = payload["benchmarks"]["scaling"]["tables"]
    assert any("Grading cache" in t["title"] for t in scaling)
    text = md.read_text()
    assert "<!-- benchmark:mc -->" in text and "<!-- benchmark:scaling -->" in text
    assert "command: `python -m benchmarks mc scaling --quick" in text and "load average" in text
    assert "| fraction of randn |" in text


def test_results_file_keeps_sections_it_did_not_rerun(tmp_path):
    path = tmp_path / "R.md"
    entry.update_results(path, {"mc": "<!-- benchmark:mc -->\nold mc\n<!-- /benchmark:mc -->\n",
                                "verify": "<!-- benchmark:verify -->\nv\n<!-- /benchmark:verify -->\n"})
    entry.update_results(path, {"mc": "<!-- benchmark:mc -->\nnew mc\n<!-- /benchmark:mc -->\n"})
    text = path.read_text()
    assert "new mc" in text and "old mc" not in text and "\nv\n" in text
    assert text.index("benchmark:verify") < text.index("benchmark:mc")        # the suite's order


def test_unknown_benchmark_name_is_refused():
    with pytest.raises(SystemExit):
        entry.main(["nonsense", "--no-results"])


def test_plain_dict_results_become_tables_with_ratios_to_math_verify():
    result = {"answers": 10, "ours": {"answers_per_s": 50.0, "median_s": 0.01},
              "math_verify": {"answers_per_s": 25.0, "median_s": 0.04}}
    tables = entry.dict_tables("grade", result)
    assert tables[0]["rows"] == [["answers", 10]]
    side = tables[1]
    assert side["columns"] == ["figure", "ours", "math_verify"]
    assert "answers_per_s relative to math_verify: ours 2x" in side["notes"]
    assert "median_s relative to math_verify: ours 0.25x" in side["notes"]


def test_grade_says_not_available_when_a_module_is_missing(monkeypatch):
    real = entry.importlib.import_module

    def missing(name, *a):
        if name.startswith("benchmarks.grade_"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real(name, *a)
    monkeypatch.setattr(entry.importlib, "import_module", missing)
    tables = entry.run_grade()["tables"]
    assert [t["rows"][0][0] for t in tables] == ["benchmarks/grade_answers.py: not available yet",
                                                  "benchmarks/grade_class.py: not available yet"]


def test_table_checks_its_width_and_renders_markdown():
    t = Table("T", ["a", "b"])
    t.add("x|y", 1234567.0)
    with pytest.raises(ValueError):
        t.add(1)
    assert "| x\\|y | 1.23e+06 |" in markdown(t.as_dict())


# --------------------------------------------------------------------------- mc
def test_random_numbers_are_counted_per_call():
    g = torch.Generator().manual_seed(0)
    counter = mc_bench.CountRandom()
    with counter:
        torch.randn(10, generator=g)
        torch.rand(5, 2, generator=g)
        torch.empty(3).normal_(generator=g)
        torch.ones(4) * 2                                  # not random: not counted
    assert counter.count == 10 + 10 + 3


def test_fraction_of_the_randn_limit_is_time_weighted():
    rate = mc_bench.randn_rate(4096, "float32", "cpu")
    took = 2 * 4096 * 10 / rate
    streams = [StreamStats(4096 * 10, 4096, 10, 1, "float32", "cpu", seconds=5 * took, cpu_seconds=took)]
    f = mc_bench.stream_figures(streams, "cpu")     # on a CPU: CPU time, not the (loaded) wall time
    assert f["fraction"] == pytest.approx(0.5)
    assert f["rate"] == pytest.approx(rate / 2)


def test_reference_kl_expectation_comes_from_the_moment_route():
    mu, s, m0, s0 = 0.3, 0.8, -0.2, 1.3
    closed = float(sp.log(s0 / s) + (s**2 + (mu - m0) ** 2) / (2 * s0**2) - 0.5)
    assert mc_bench.gauss_kl_expected(mu, s, m0, s0) == pytest.approx(closed, rel=1e-12)


# --------------------------------------------------------------------------- verify
def test_agree_accepts_equal_forms_and_rejects_different_values():
    a, b = sp.symbols("a b", positive=True)
    assert verify_bench.agree(sp.sqrt(2) / (2 * sp.sqrt(a) * sp.sqrt(2 * a)), 1 / (2 * a))
    assert not verify_bench.agree(1 / (2 * a), 1 / (2 * a) + b * 1e-10)
    assert not verify_bench.agree(a, sp.Integral(a * b, (b, 0, 1)))          # unevaluated: no claim


def test_timed_stops_a_baseline_at_its_limit():
    def spin():
        while True:
            pass
    value, seconds, outcome = verify_bench.timed(spin, 0.3)
    assert value is None and outcome == "timeout" and seconds < 5


def test_moment_route_beats_integrate_on_c1_and_both_agree():
    c1 = next(s for s in verify_bench.statements() if s.name.startswith("C_1"))
    table = verify_bench.compare_statements([c1], 20.0).as_dict()
    row = dict(zip(table["columns"], table["rows"][0]))
    assert row["all agree"] is True
    assert isinstance(row["integrate / moments"], float) and row["integrate / moments"] > 0


def test_draws_per_sample_leave_out_draws_outside_the_streams():
    """A check that also draws a fixed 4096-number replay still counts 2 normals per sample."""
    def fn(samples, device, seed):
        torch.randn(4096, dtype=torch.float64)                                     # a replay
        mean, se = core.stream_mean(lambda n, gen: torch.randn(2, n, generator=gen).sum(0), samples, device, seed)
        return [core.Measurement("sum of two normals", mean, 0.0, se, samples)]
    check = core.NumericCheck("demo", fn)
    assert mc_bench.draws_per_sample(check, 1 << 12, "cpu") == pytest.approx(2.0)
