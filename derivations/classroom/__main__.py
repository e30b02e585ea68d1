"""``python -m derivations.classroom SHEETS... --out DIR``: the ``derivcheck grade`` command."""
from __future__ import annotations

import argparse
import sys

from .runner import DEFAULT_TIMEOUT, grade_command


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="derivcheck grade", description="Grade a class's answer sheets.")
    ap.add_argument("sheets", nargs="+", help="sheet files or folders (.yaml, .yml, .json, .tex, .csv)")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--rubric", help="rubric YAML (points per slot, partial credit for chains)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per answer")
    ap.add_argument("--executor", choices=("processes", "dask"), default="processes")
    ap.add_argument("--scheduler", help="Dask scheduler address (with --executor dask)")
    ap.add_argument("--reveal-reference", action="store_true", help="show the reference in feedback")
    a = ap.parse_args(argv)
    return grade_command(a.sheets, a.out, a.rubric, a.jobs, a.timeout, a.executor, a.scheduler,
                         a.reveal_reference)


if __name__ == "__main__":
    sys.exit(main())
