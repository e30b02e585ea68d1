"""``--executor dask``: the same tasks on a small Dask LocalCluster give the same grades."""
from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

distributed = pytest.importorskip("distributed", reason="the Dask executor needs the [dask] extra (pip install -e '.[dask]')")

from derivations.classroom import grade_command  # noqa: E402


def test_dask_local_cluster_grades_like_the_process_pool(tmp_path):
    cls = tmp_path / "class"
    cls.mkdir()
    (cls / "s1.yaml").write_text("student: s1\nanswers:\n  gan.square.f: -\\frac{4t}{t+1}\n"
                                 "  ddim.marginal_var: 1 - \\bar\\alpha_t\n")
    (cls / "s2.json").write_text(json.dumps({"student": "s2", "answers": {"gan.square.f": r"\frac{4t}{1+t}"},
                                             "chains": {"ddim.marginal_var": [
                                                 r"\sigma_t^2 + (1 - \bar\alpha_{t-1} - \sigma_t^2)",
                                                 r"= 1 - \bar\alpha_{t-1}"]}}))
    buf = io.StringIO()
    console = Console(file=buf, width=200)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster:
        rc = grade_command([cls], tmp_path / "dask", executor="dask", scheduler=cluster.scheduler_address,
                           console=console)
    assert rc == 0, buf.getvalue()
    rc = grade_command([cls], tmp_path / "proc", jobs=1, console=console)
    assert rc == 0
    dask_rows = (tmp_path / "dask" / "grades.jsonl").read_bytes()
    proc_rows = (tmp_path / "proc" / "grades.jsonl").read_bytes()
    differ = [(a, b) for a, b in zip(dask_rows.splitlines(), proc_rows.splitlines()) if a != b]
    assert dask_rows == proc_rows, (differ, buf.getvalue())
    verdicts = {(r["student"], r["slot"]): r["verdict"] for r in map(json.loads, dask_rows.splitlines())}
    assert verdicts == {("s1", "gan.square.f"): "correct", ("s1", "ddim.marginal_var"): "wrong",
                        ("s2", "gan.square.f"): "wrong", ("s2", "ddim.marginal_var"): "correct"}


def test_dask_needs_a_scheduler(tmp_path):
    buf = io.StringIO()
    rc = grade_command([tmp_path], tmp_path / "o", executor="dask", console=Console(file=buf))
    assert rc == 2 and "--scheduler" in buf.getvalue()
