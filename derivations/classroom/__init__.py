"""Grading a class: answer sheets in, grades, review lists and feedback out.

==============  ====================================================================
sheets          YAML/JSON, LaTeX and CSV sheets; every bad file a review entry
chains          derivations in steps: each link checked, the first invalid one named
links           one link ``A rel B`` through the single-answer machinery (adapter)
tasks           one answer or chain as a task; the sandboxed process-pool executor
dask_executor   the same tasks on a Dask cluster (optional extra)
rubric          points per slot, partial credit for chains; validated
journal         atomic per-student result files and the answer cache (resumable runs)
outputs         grades.csv/.jsonl, review.csv, Gradescope results.json, feedback .md
runner          ``grade_command``: read, grade what is missing, write, summarise
==============  ====================================================================

``python -m derivations.classroom SHEETS... --out DIR`` runs it standalone.
"""
from __future__ import annotations

from .runner import grade_command

__all__ = ["grade_command"]
