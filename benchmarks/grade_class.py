"""Benchmark: grading a class of 1,000 sheets x 30 slots, cold and with the answer cache,
with the sandboxed process pool and with a Dask LocalCluster beside it.

The class is synthetic (``examples/make_class.py``'s answers: each slot written in a few
right and wrong forms, as a real class does), 28 single answers and 2 chains per sheet,
YAML files in a temporary folder. Runs, each through ``grade_command`` exactly as the CLI:

* cold: an empty output folder; identical answers are still decided once within the run;
* with the cache: the per-student results deleted, the answer cache kept (a regrade after a
  rubric change, or a second section of the same course): no answer is checked again;
* every answer distinct: a smaller class whose answers share nothing (the worst case for
  the cache), extrapolated to the full class;
* dask: cold, the same tasks on a ``LocalCluster`` with as many single-threaded workers as
  ``jobs`` (each worker runs its tasks in its own sandboxed process), once with workers that
  start their sandboxes and load the registry, once more on the same, now warm, workers.

"answers/s per worker" divides every answer on every sheet by the wall time and the number
of workers; "distinct/s per worker" counts only the answers actually checked.

    python -m benchmarks.grade_class [--students N] [--jobs J] [--no-dask]
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

import yaml
from rich.console import Console

from derivations import registry
from derivations.classroom import grade_command
from derivations.classroom.journal import STATE

from . import Table

ROOT = Path(__file__).resolve().parent.parent
CHAIN_SLOTS = ("vae.jensen", "ddim.kl_term")


def _make_class_module():
    spec = importlib.util.spec_from_file_location("make_class", ROOT / "examples" / "make_class.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_class(folder: Path, students: int, slots: int = 30, seed: int = 11, distinct: bool = False) -> dict:
    """``students`` YAML sheets answering ``slots`` slots (2 of them as chains).

    ``distinct``: every single answer is made textually unique (multiplied by k/k for a
    per-student k), so that no two answers in the class share a cache entry -- the worst case."""
    mc = _make_class_module()
    answer_slots = (list(mc.ANSWERS) + list(mc.MORE))[:slots - len(CHAIN_SLOTS)]
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(students):
        skill = 0.3 + 0.65 * rng.random()
        sheet = mc.student_sheet(f"b{i:04d}", rng, skill, answer_slots, CHAIN_SLOTS)
        if distinct:
            k = i + 2
            sheet["answers"] = {slot: rf"\frac{{{k}}}{{{k}}}\left({latex}\right)" if "=" not in latex else latex
                                for slot, latex in sheet["answers"].items()}
        (folder / f"b{i:04d}.yaml").write_text(yaml.safe_dump(sheet, sort_keys=False, width=1000))
    return {"students": students, "slots": len(answer_slots) + len(CHAIN_SLOTS),
            "answers": students * (len(answer_slots) + len(CHAIN_SLOTS))}


def _grade(cls: Path, out: Path, **kw) -> tuple[float, str]:
    buf = io.StringIO()
    started = time.perf_counter()
    rc = grade_command([cls], out, console=Console(file=buf, width=300), **kw)
    wall = time.perf_counter() - started
    if rc != 0:
        raise RuntimeError(buf.getvalue())
    return wall, buf.getvalue()


def _distinct(summary: str) -> int:
    import re
    m = re.search(r"(\d+) distinct ones checked", summary)
    return int(m.group(1)) if m else 0


def _row(name, wall, workers, answers, distinct) -> dict:
    return {"run": name, "wall_s": round(wall, 2), "workers": workers,
            "answers_per_s_per_worker": round(answers / wall / workers, 1),
            "distinct_checked": distinct,
            "distinct_per_s_per_worker": round(distinct / wall / workers, 2) if distinct else 0.0}


def run(students: int = 1000, jobs: int = 2, dask: bool = True, distinct_students: int = 10,
        quick: bool = False) -> dict:
    """Time the runs described in the module docstring; returns figures and a table.

    ``quick``: 50 sheets, no worst-case run, no Dask (a smoke test of the benchmark)."""
    if quick:
        students, dask, distinct_students = 50, False, 0
    distinct_students = min(distinct_students, students)
    from derivations.classroom import journal

    from .machine import describe
    registry.load()
    tmp = Path(tempfile.mkdtemp(prefix="derivcheck-bench-class-"))
    # The grader's fingerprint (a hash of its source) is taken once: on a machine where the
    # source is being edited meanwhile, a new fingerprint would turn the cached runs cold.
    frozen, journal.fingerprint = journal.fingerprint, (lambda value=journal.fingerprint(): value)
    try:
        cls = tmp / "class"
        started = time.perf_counter()
        size = write_class(cls, students)
        size["write_sheets_s"] = round(time.perf_counter() - started, 2)
        n = size["answers"]
        rows = []
        wall, summary = _grade(cls, tmp / "cold", jobs=jobs)
        rows.append(_row("processes, cold", wall, jobs, n, _distinct(summary)))
        shutil.rmtree(tmp / "cold" / STATE / "students")
        wall, summary = _grade(cls, tmp / "cold", jobs=jobs)
        rows.append(_row("processes, with the answer cache", wall, jobs, n, _distinct(summary)))
        wall, summary = _grade(cls, tmp / "cold", jobs=jobs)
        rows.append(_row("processes, every student already graded (a resumed run)", wall, jobs, n,
                         _distinct(summary)))
        if distinct_students:
            worst = tmp / "distinct"
            info = write_class(worst, distinct_students, distinct=True)
            wall, summary = _grade(worst, tmp / "distinct-out", jobs=jobs)
            row = _row(f"processes, cold, {distinct_students} sheets with every answer distinct", wall, jobs,
                       info["answers"], _distinct(summary))
            row["extrapolated_whole_class_s"] = round(wall / info["answers"] * n, 0)
            rows.append(row)
        if dask:
            try:
                from distributed import LocalCluster
            except ImportError:
                rows.append({"run": "dask", "skipped": "pip install 'derivcheck[dask]'"})
            else:
                t0 = time.perf_counter()
                with LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster:
                    startup = time.perf_counter() - t0
                    wall, summary = _grade(cls, tmp / "dask", executor="dask", scheduler=cluster.scheduler_address)
                    row = _row("dask LocalCluster, cold (workers start their sandboxes)", wall, jobs, n,
                               _distinct(summary))
                    row["cluster_start_s"] = round(startup, 2)
                    same = (tmp / "dask" / "grades.csv").read_bytes() == (tmp / "cold" / "grades.csv").read_bytes()
                    row["same_grades_as_processes"] = same
                    rows.append(row)
                    wall, summary = _grade(cls, tmp / "dask2", executor="dask", scheduler=cluster.scheduler_address)
                    rows.append(_row("dask LocalCluster, cold answers, warm workers", wall, jobs, n,
                                     _distinct(summary)))
        table = Table(f"Grading a class: {students} sheets x {size['slots']} slots ({n:,} answers), "
                      f"{jobs} workers", ["run", "wall s", "answers/s per worker", "distinct checked",
                                          "distinct/s per worker"])
        for r in rows:
            if "wall_s" in r:
                table.add(r["run"], r["wall_s"], r["answers_per_s_per_worker"], r["distinct_checked"],
                          r["distinct_per_s_per_worker"])
        table.notes.append("cold: identical answers are decided once per run (a cache keyed by the "
                           "normalised answer); 'with the answer cache': results per student deleted, "
                           "the cache of decisions kept")
        table.notes.append("every answer distinct: each answer multiplied by k/k with a per-student k, "
                           "so nothing is shared; the extrapolation scales its time to the full class")
        table.notes.append("wall time includes reading the sheets and writing every output "
                           "(grades.csv/.jsonl, review.csv, a Gradescope file and a feedback file per student)")
        return {"machine": describe(), "class": size, "runs": rows, "tables": [table.as_dict()]}
    finally:
        journal.fingerprint = frozen
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--distinct-students", type=int, default=10,
                    help="sheets in the worst-case run where every answer is distinct (0: skip)")
    a = ap.parse_args(argv)
    print(json.dumps(run(a.students, a.jobs, not a.no_dask, a.distinct_students), indent=2))


if __name__ == "__main__":
    main()
