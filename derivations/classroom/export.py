"""Gradebook files from a ``derivcheck grade`` output folder: one row per student of a roster.

``derivcheck export {canvas,moodle,csv} GRADES_DIR --roster ROSTER.csv`` reads
``GRADES_DIR/grades.jsonl`` and the roster, and writes one row per roster student with the
total (``--per-slot``: a column per slot too). Students are matched on the roster's id column
(``--id-column``, else the first of ``ID_COLUMNS`` the roster has); ids that are e-mail addresses
match whatever their case. A roster student without a sheet gets 0 and is listed; a graded
student the roster does not know is listed and written after the roster's rows (never dropped);
a roster id given twice is reported with its lines (the first row counts).

=========  ==========================================================================
canvas     Student, ID, SIS User ID, SIS Login ID, Section, then the assignment column
           (``--assignment``: name it as Canvas does, "Homework 1 (12345)"); a Points
           Possible row first, as in Canvas's own export
moodle     the identifier column (as the roster names it), Grade
csv        student, total, max_points[, one column per slot]
=========  ==========================================================================
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from .csv_rows import data_rows
from .outputs import _cell, fmt

FORMATS = ("canvas", "moodle", "csv")
ID_COLUMNS = ("sis login id", "email", "email address", "login", "username", "id number", "student id",
              "student", "sis user id", "id")
CANVAS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


class ExportError(ValueError):
    """The grades or the roster cannot be used at all."""


@dataclass
class Rostered:
    key: str                    # the id as matched
    row: dict                   # the roster's columns (original names)
    line: int


@dataclass
class Gradebook:
    header: list[str]
    rows: list[list[str]]
    missing: list[str] = field(default_factory=list)        # roster students without a sheet
    unknown: list[str] = field(default_factory=list)        # graded students not on the roster
    problems: list[str] = field(default_factory=list)       # roster rows with a file and line
    leading: int = 0                                        # rows before the students' (Canvas: points possible)

    @property
    def students(self) -> int:
        return len(self.rows) - self.leading

    def csv_bytes(self) -> bytes:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.header)
        for r in self.rows:
            w.writerow([_cell(c) for c in r])
        return buf.getvalue().encode("utf-8")


def match_key(sid: str) -> str:
    sid = sid.strip()
    return sid.lower() if "@" in sid else sid


def read_grades(grades_dir) -> tuple[dict, dict, list[str]]:
    """(student -> slot label -> points, slot label -> max points, slots in order) from grades.jsonl."""
    path = Path(grades_dir) / "grades.jsonl"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"{path}: cannot read the grades ({exc.strerror or exc}); run derivcheck grade first") \
            from None
    points: dict[str, dict] = {}
    best: dict[str, float] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            label = r["slot"] + (" (derivation)" if r.get("part") == "derivation" else "")
            points.setdefault(str(r["student"]), {})[label] = float(r["points"])
            best[label] = max(best.get(label, 0.0), float(r["max_points"]))
        except (ValueError, KeyError, TypeError):
            raise ExportError(f"{path} line {n}: not a grades.jsonl row") from None
    return points, best, sorted(best)


def read_roster(path, id_column: str | None = None) -> tuple[list[Rostered], str, list[str], list[str]]:
    """(students in roster order, the id column's name, the roster's columns, problems)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path}: cannot read the roster ({getattr(exc, 'strerror', None) or exc})") from None
    lines = text.splitlines()
    reader = csv.reader(lines)
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        raise ExportError(f"{path} line 1: the roster has no header") from None
    lower = {h.lower(): h for h in header}
    if id_column:
        col = lower.get(id_column.strip().lower())
        if col is None:
            raise ExportError(f"{path} line 1: no column {id_column!r} (the roster has {', '.join(header)})")
    else:
        col = next((lower[c] for c in ID_COLUMNS if c in lower), None)
        if col is None:
            raise ExportError(f"{path} line 1: no id column (one of {', '.join(ID_COLUMNS)}; or --id-column NAME)")
    idx = header.index(col)
    out, seen, problems = [], {}, []
    for line, cells in data_rows(reader, path, problems):
        sid = cells[idx].strip() if idx < len(cells) else ""
        if not sid:
            problems.append(f"{path} line {line}: no {col}; row skipped")
            continue
        if sid.lower() == "points possible" or (cells and cells[0].strip().lower() == "points possible"):
            continue                    # Canvas's own export carries this row
        key = match_key(sid)
        if key in seen:
            problems.append(f"{path} line {line}: {col} {sid!r} is also on line {seen[key]}; this row is ignored")
            continue
        seen[key] = line
        out.append(Rostered(key, dict(zip(header, cells)), line))
    return out, col, header, problems


def gradebook(fmt_name: str, grades_dir, roster, id_column: str | None = None, per_slot: bool = False,
              assignment: str = "derivcheck") -> Gradebook:
    if fmt_name not in FORMATS:
        raise ExportError(f"unknown format {fmt_name!r} ({', '.join(FORMATS)})")
    points, best, slots = read_grades(grades_dir)
    students, col, header, problems = read_roster(roster, id_column)
    by_key = {}
    for sid in points:
        by_key.setdefault(match_key(sid), sid)
    listed = {s.key for s in students}
    total_max = sum(best.values())
    slot_cols = slots if per_slot else []

    def numbers(sid):
        mine = points.get(sid, {})
        return [fmt(round(sum(mine.values()), 4))] + [fmt(mine.get(s, 0.0)) for s in slot_cols]

    book = Gradebook([], [], problems=problems)
    if fmt_name == "canvas":
        book.header = [*CANVAS, assignment] + slot_cols
        # Canvas's own gradebook files carry the points possible as their first row
        book.rows.append(["    Points Possible", "", "", "", "", fmt(total_max)] + [fmt(best[c]) for c in slot_cols])
        book.leading = 1
    elif fmt_name == "moodle":
        book.header = [col, "Grade"] + slot_cols
    else:
        book.header = ["student", "total", "max_points"] + slot_cols

    def row_for(rid: str, sid: str | None, r: dict):
        nums = numbers(sid) if sid else ["0"] + ["0" for _ in slot_cols]
        if fmt_name == "canvas":
            low = {k.strip().lower(): v for k, v in r.items()}
            first = [low.get("student", low.get("name", "")), low.get("id", ""), low.get("sis user id", ""),
                     low.get("sis login id", ""), low.get("section", "")]
            if not any(first[1:4]):
                first[3] = rid              # a roster with only e-mails: Canvas matches on the login
            return first + nums
        if fmt_name == "moodle":
            return [rid] + nums
        return [rid, nums[0], fmt(total_max)] + nums[1:]

    for s in students:
        rid = s.row.get(col, "").strip()
        sid = by_key.get(s.key)
        if sid is None:
            book.missing.append(rid)
        book.rows.append(row_for(rid, sid, s.row))
    for key, sid in sorted(by_key.items()):
        if key not in listed:
            book.unknown.append(sid)
            book.rows.append(row_for(sid, sid, {"student": sid, col: sid}))
    return book
