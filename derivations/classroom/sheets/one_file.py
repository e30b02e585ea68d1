"""One file into its sheets, by its suffix: never raises for what is in the file, and a file
that cannot be read at all still lists the student it names."""
from __future__ import annotations

import re
from pathlib import Path

from .csv_sheets import sheets_from_csv
from .files import _read_text
from .latex import sheet_from_latex
from .mapping import sheet_from_mapping
from .model import (MAX_CSV_BYTES, MAX_SHEET_BYTES, SHEET_SUFFIXES, STUDENT_ID, MalformedYaml, Problem, Sheet,
                    SheetError)
from .structured import load_structured
from .yaml_recovery import recover_yaml


_EXPLICIT_STUDENT = {
    ".yaml": re.compile(r"""^student[ \t]*:[ \t]*["']?([^\s"'#,{}\[\]]+)["']?[ \t]*(?:#.*)?$""", re.M),
    ".json": re.compile(r'"student"\s*:\s*"([^"\\]+)"'),
    ".tex": re.compile(r"\\student\s*\{\s*([^{}\s]+)\s*\}"),
}
_EXPLICIT_STUDENT[".yml"] = _EXPLICIT_STUDENT[".yaml"]


def _named_student(text: str | None, suffix: str) -> str:
    """The student id a file that cannot be read names explicitly (one id, well formed), so that
    the student appears in the grades with the reason instead of vanishing; else ""."""
    pattern = _EXPLICIT_STUDENT.get(suffix)
    if text is None or pattern is None:
        return ""
    found = {m.group(1) for m in pattern.finditer(text[:MAX_SHEET_BYTES])}
    if len(found) == 1:
        sid = found.pop()
        return sid if STUDENT_ID.match(sid) else ""
    return ""


RUBRIC_KEYS = {"default_points", "visibility", "slots", "chains"}
ROSTER_COLUMNS = {"id", "email", "email address", "sis user id", "sis login id", "login", "username",
                  "id number", "student id", "student"}
ANSWER_COLUMNS = {"slot", "latex", "step", "answer", "question"}


def _rubric(data) -> bool:
    """A mapping with only a rubric's keys (and at least one of them) is a rubric."""
    return isinstance(data, dict) and bool(data) and set(map(str, data)) <= RUBRIC_KEYS


def _roster_header(text: str) -> bool:
    """A CSV whose header has roster columns and no answer columns is a roster."""
    import csv
    try:
        header = next(csv.reader([text.split("\n", 1)[0]]))
    except (StopIteration, csv.Error):
        return False
    cols = {h.strip().lower() for h in header}
    return not cols & ANSWER_COLUMNS and bool(cols & ROSTER_COLUMNS)


def read_file(path: Path) -> tuple[list[Sheet], list[Problem]]:
    """The sheets in one file and its problems. Never raises for what is in the file: a file
    that cannot be read at all is one problem (``lost``), naming the student when the file says
    who it is; a problem inside one answer costs that answer only."""
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in SHEET_SUFFIXES:
        return [], [Problem(source, f"not an answer sheet (expected {', '.join(SHEET_SUFFIXES)}); skipped")]
    notes: list[str] = []
    text = None

    def lost(reason: str):
        head = text
        if head is None:            # refused unread (too large): its first lines may say who
            try:
                with open(path, "rb") as fh:
                    head = fh.read(1 << 16).decode("utf-8", errors="replace")
            except OSError:
                head = None
        return [], [Problem(source, n) for n in notes] + \
            [Problem(source, f"sheet not graded: {reason}", _named_student(head, suffix), "", True)]
    try:
        text = _read_text(path, MAX_CSV_BYTES if suffix == ".csv" else MAX_SHEET_BYTES, notes)
        if suffix == ".csv" and _roster_header(text):
            return [], []               # a roster (export --roster), not answers
        if suffix == ".csv":
            sheets, problems = sheets_from_csv(text, source)
        elif suffix == ".tex":
            sheet, problems = sheet_from_latex(text, source, path.stem)
            sheets = [sheet]
        else:
            extra: list[Problem] = []
            try:
                data, dups = load_structured(text, suffix)
            except MalformedYaml as exc:
                recovered = recover_yaml(text, source, str(exc))
                if recovered is None:
                    raise
                data, dups, extra = recovered
            if _rubric(data):
                return [], []           # a rubric kept beside the sheets, not a student
            sheet, problems = sheet_from_mapping(data, source, path.stem, dups)
            sheets, problems = ([sheet] if sheet else []), extra + problems
    except SheetError as exc:
        return lost(str(exc))
    except OSError as exc:
        return lost(f"cannot read the file ({exc.strerror or exc})")
    except (MemoryError, RecursionError) as exc:
        return lost(f"the file is too large or deep to read ({type(exc).__name__})")
    except Exception as exc:   # a reader's bug: this file is reported, the class goes on
        return lost(f"the file could not be read ({type(exc).__name__}: {str(exc)[:200]})")
    problems = [Problem(source, n) for n in notes] + problems
    if len(sheets) == 1:
        who = sheets[0].student
        problems = [p if p.student else Problem(p.source, p.reason, who, p.slot, p.lost) for p in problems]
    return sheets, problems
