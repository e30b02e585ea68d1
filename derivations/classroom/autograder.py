"""A Gradescope autograder: ``derivcheck gradescope --out autograder.zip`` writes the bundle,
and its ``run_autograder`` calls ``python3 -m derivations.classroom.autograder``.

The bundle (Gradescope unpacks it into ``/autograder/source``):

==================  ===========================================================================
setup.sh            installs derivcheck from ``derivcheck/`` into /autograder/venv (the
                    grading-only install: no torch)
run_autograder      grades ``/autograder/submission`` into ``/autograder/results/results.json``
derivcheck/         this derivcheck's source (pyproject.toml, README.md, derivations/)
derivcheck.json     the grading options: feedback mode, timeout, whether a rubric is given
rubric.yaml         the rubric (``--rubric``), when one is given
==================  ===========================================================================

``results.json`` is always written, and always readable: when grading itself fails (no sheet
in the submission, a sheet for several students, a crash), it says so in its ``output`` with
a score of 0 and no tests, and ``run_autograder`` writes one even if Python cannot start.
``DERIVCHECK_AUTOGRADER_ROOT`` replaces ``/autograder`` (for tests), and ``DERIVCHECK_PYTHON``
the interpreter.
"""
from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from ..atomic import write_atomic

ROOT_ENV = "DERIVCHECK_AUTOGRADER_ROOT"
CONFIG = "derivcheck.json"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when the autograder image is built: derivcheck (the grading-only
# install, no torch) into /autograder/venv, with Python 3.11 or newer.
set -euo pipefail
cd "$(dirname "$0")"
PY=python3
if ! command -v python3 >/dev/null || ! python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    apt-get update
    apt-get install -y python3.11 python3.11-venv
    PY=python3.11
fi
"$PY" -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --upgrade pip
/autograder/venv/bin/python -m pip install ./derivcheck
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission into
# /autograder/results/results.json. A results.json is written whatever happens.
ROOT="${DERIVCHECK_AUTOGRADER_ROOT:-/autograder}"
if [ -z "${DERIVCHECK_PYTHON:-}" ] && [ -x /autograder/venv/bin/python ]; then
    PY=/autograder/venv/bin/python
else
    PY="${DERIVCHECK_PYTHON:-python3}"
fi
mkdir -p "$ROOT/results"
rm -f "$ROOT/results/results.json"
"$PY" -m derivations.classroom.autograder --root "$ROOT"
status=$?
if [ ! -s "$ROOT/results/results.json" ]; then
    cat > "$ROOT/results/results.json" <<'JSON'
{"score": 0, "output": "The autograder could not start (derivcheck did not run); your submission was not graded. Please tell the course staff.", "output_format": "md", "tests": []}
JSON
fi
exit 0
"""

# the files of a derivcheck source tree that a grading install needs
_SOURCE_SUFFIXES = (".py", ".lark", ".json", ".typed", ".html", ".css", ".js", ".j2", ".jinja", ".tex", ".txt")


def _source_files(repo: Path):
    yield repo / "pyproject.toml", "pyproject.toml"
    yield repo / "README.md", "README.md"
    for pkg in ("derivations", "numeric_checks"):
        base = repo / pkg
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in _SOURCE_SUFFIXES:
                yield path, str(path.relative_to(repo))


def _file(zf: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))   # fixed: the same bundle, the same bytes
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def bundle(out, rubric=None, feedback: str = "hints", timeout: float = 20.0) -> list[str]:
    """Write the autograder zip; returns the names in it."""
    repo = Path(__file__).resolve().parent.parent.parent
    if not (repo / "pyproject.toml").is_file():
        raise FileNotFoundError("derivcheck's source tree (pyproject.toml) is not beside the package: build the "
                                "bundle from a clone (pip install -e .)")
    config = {"feedback": feedback, "timeout": timeout, "rubric": "rubric.yaml" if rubric else None}
    buf = io.BytesIO()
    names = []
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, mode in (("setup.sh", SETUP_SH.encode(), 0o755), ("run_autograder", RUN_AUTOGRADER.encode(), 0o755),
                                 (CONFIG, (json.dumps(config, indent=2) + "\n").encode(), 0o644)):
            _file(zf, name, data, mode)
            names.append(name)
        if rubric:
            _file(zf, "rubric.yaml", Path(rubric).read_bytes())
            names.append("rubric.yaml")
        for path, rel in _source_files(repo):
            _file(zf, "derivcheck/" + rel, path.read_bytes())
            names.append("derivcheck/" + rel)
    write_atomic(Path(out), buf.getvalue())
    return names


def failure(message: str, started: float) -> dict:
    return {"score": 0, "execution_time": round(time.monotonic() - started, 1),
            "output": message, "output_format": "md", "tests": []}


def grade_submission(root: Path, started: float) -> dict:
    from rich.console import Console

    from .runner import grade_command
    source, submission = root / "source", root / "submission"
    config = {}
    if (source / CONFIG).is_file():
        config = json.loads((source / CONFIG).read_text(encoding="utf-8"))
    rubric = source / config["rubric"] if config.get("rubric") else None
    if not submission.is_dir():
        return failure(f"No submission folder ({submission}); nothing was graded.", started)
    log = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="derivcheck-") as tmp:
        out = Path(tmp) / "out"
        rc = grade_command([str(submission)], str(out), str(rubric) if rubric else None, jobs=2,
                           timeout=float(config.get("timeout", 20.0)), feedback=config.get("feedback", "hints"),
                           reveal_reference=config.get("feedback") == "full",
                           console=Console(file=log, width=120, highlight=False, color_system=None))
        text = log.getvalue().strip()
        print(text)                     # the autograder's stdout (hidden from students by default)
        found = sorted(p.parent.name for p in (out / "gradescope").glob("*/results.json"))
        if rc != 0 or not found:
            reasons = ""
            review = out / "review.csv"
            if review.is_file():
                import csv
                rows = list(csv.DictReader(review.read_text(encoding="utf-8").splitlines()))
                reasons = "\n".join(f"- `{Path(r['source']).name}`: {r['reason']}" for r in rows[:20])
            return failure("**No answer sheet could be graded** in your submission. Hand in a sheet "
                           "(.tex with `\\answer{SLOT}{...}`, .yaml, .json or .csv)."
                           + (f"\n\nWhat was found:\n\n{reasons}" if reasons else ""), started)
        if len(found) > 1:
            return failure(f"**Your submission holds answer sheets for {len(found)} students** "
                           f"({', '.join(found[:10])}); a submission is one student's. Nothing was graded.", started)
        data = json.loads((out / "gradescope" / found[0] / "results.json").read_text(encoding="utf-8"))
    if rubric is None:
        data["output"] += ("\n\n*No rubric was given to this autograder: only the slots in your sheet are graded, "
                           "each worth 1 point.*")
    data["execution_time"] = round(time.monotonic() - started, 1)
    return data


def run(root=None) -> Path:
    """Grade the submission under ``root`` (``$DERIVCHECK_AUTOGRADER_ROOT`` or /autograder) and
    write ``results/results.json``, whatever happens."""
    started = time.monotonic()
    root = Path(root or os.environ.get(ROOT_ENV) or "/autograder")
    target = root / "results" / "results.json"
    try:
        data = grade_submission(root, started)
    except BaseException as exc:       # noqa: BLE001 -- a student must get a readable result
        data = failure(f"**The autograder failed** while grading ({type(exc).__name__}: {str(exc)[:300]}); "
                       "your submission was not graded. Please tell the course staff.", started)
        if isinstance(exc, KeyboardInterrupt):
            write_atomic(target, json.dumps(data, indent=2) + "\n")
            raise
    write_atomic(target, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return target


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    root = None
    if "--root" in args:
        i = args.index("--root")
        root = args[i + 1] if i + 1 < len(args) else None
    run(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
