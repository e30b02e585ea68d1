"""Grading a class: answer sheets in, grades, review lists and feedback out.

==============  ====================================================================
sheets          YAML/JSON, LaTeX and CSV sheets; every bad file a review entry
chains          derivations in steps: each link checked, the first invalid one named
links           one link ``A rel B`` through the single-answer machinery (adapter)
tasks           one answer or chain as a task; the sandboxed process-pool executor
dask_executor   the same tasks on a Dask cluster (optional extra)
rubric          points per slot, visibility, partial credit for chains; JSON Schema validated
versions        what a result depends on: grader, the slot's reference, its rubric entry
journal         per-student result files, the SQLite answer cache, the run's lock
decisions       a person's decisions on review.csv, kept in SQLite, dropped when an answer changes
outputs         grades.csv/.jsonl, review.csv, Gradescope results.json, feedback .md
runner          ``grade_command``: read, grade what changed, apply decisions, write, summarise
autograder      the Gradescope bundle and its run_autograder
export          gradebooks for Canvas, Moodle, CSV from grades.jsonl and a roster
cli             the ``gradescope`` and ``export`` commands
==============  ====================================================================

``python -m derivations.classroom SHEETS... --out DIR`` runs it standalone.
"""
from __future__ import annotations

from .runner import grade_command

__all__ = ["grade_command"]
