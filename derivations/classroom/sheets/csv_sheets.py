"""CSV course exports (``student,slot,latex[,step]``), a whole class per file: a quote that is
never closed costs its row, not the rows after it."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from .entries import _put
from .model import MAX_CSV_BYTES, MAX_ENTRIES, STUDENT_ID, Problem, Sheet, SheetError


_ROW_START = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63},\s*[A-Za-z_][\w]*(?:\.[\w]+)+\s*,")


def _csv_records(text: str, reader, source: str, problems: list, idx: dict):
    """(line number, row) for every record after the header. A quoted field that swallows
    whole lines that look like rows (``s2,gan.square.f,...``) is a quote that was never closed:
    that record is reported, and reading starts again on the line after it, so one stray
    quote does not take the rest of the class with it."""
    lines = text.split("\n")
    offset, start = 0, reader.line_num + 1          # physical line numbers are 1-based
    restarts = 0
    while True:
        prev = reader.line_num
        try:
            row = next(reader)
        except StopIteration:
            return
        first, last = offset + prev + 1, offset + reader.line_num
        if last > first and any(_ROW_START.match(lines[k - 1]) for k in range(first + 1, min(last, len(lines)) + 1)):
            restarts += 1
            if restarts > MAX_ENTRIES:
                raise SheetError(f"more than {MAX_ENTRIES} quotes are never closed")
            who = row[idx["student"]].strip()[:64] if len(row) > idx["student"] else ""
            problems.append(Problem(source, f"{Path(source).name} line {first}: a quote opened on this line "
                                    "is never closed, so the lines after it would be read as part of this "
                                    "row; this row is not graded, reading goes on at the next line",
                                    who if STUDENT_ID.match(who) else "",
                                    row[idx["slot"]].strip()[:80] if len(row) > idx["slot"] else ""))
            offset = first
            reader = csv.reader(io.StringIO("\n".join(lines[first:]), newline=""))
            continue
        yield first, row


def sheets_from_csv(text: str, source: str) -> tuple[list[Sheet], list[Problem]]:
    """Columns ``student,slot,latex`` and optionally ``step`` (chains: one row per step)."""
    csv.field_size_limit(MAX_CSV_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise SheetError("the CSV file is empty") from None
    except csv.Error as exc:
        raise SheetError(f"malformed CSV: {exc}") from None
    cols = [h.strip().lower() for h in header]
    need = ("student", "slot", "latex")
    missing = [c for c in need if c not in cols]
    if missing:
        raise SheetError(f"the CSV header must have columns student,slot,latex[,step]; missing "
                         f"{', '.join(missing)} (found {', '.join(cols) or 'nothing'})")
    idx = {c: cols.index(c) for c in (*need, "step") if c in cols}
    problems: list[Problem] = []
    rows: dict[str, dict] = {}
    try:
        for lineno, row in _csv_records(text, reader, source, problems, idx):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) <= max(idx[c] for c in need):
                problems.append(Problem(source, f"line {lineno}: expected {len(cols)} columns, found {len(row)}"))
                continue
            student = row[idx["student"]].strip()
            slot = row[idx["slot"]].strip()
            latex = row[idx["latex"]]
            step = row[idx["step"]].strip() if "step" in idx and idx["step"] < len(row) else ""
            if not student or not slot:
                problems.append(Problem(source, f"line {lineno}: empty student or slot"))
                continue
            entry = rows.setdefault(student, {"answers": {}, "chains": {}, "rows": 0})
            entry["rows"] += 1
            if entry["rows"] > MAX_ENTRIES * 4:
                raise SheetError(f"student {student[:40]!r} has more than {MAX_ENTRIES * 4} rows")
            if not step:
                entry["answers"].setdefault(slot, []).append((lineno, latex))
                continue
            try:
                n = int(step)
            except ValueError:
                problems.append(Problem(source, f"line {lineno}: step {step!r} is not a whole number",
                                        student, slot))
                continue
            entry["chains"].setdefault(slot, []).append((n, lineno, latex))
    except csv.Error as exc:
        raise SheetError(f"malformed CSV: {exc}") from None
    sheets = []
    for student in sorted(rows):
        entry, sheet = rows[student], Sheet(student, [source])
        for slot, given in entry["answers"].items():
            if len(given) > 1:
                problems.append(Problem(source, f"duplicated slot key: {slot} is answered on lines "
                                        f"{', '.join(str(l) for l, _ in given)}; neither answer is graded",
                                        student, slot))
                continue
            _put(sheet, problems, source, slot, "answer", given[0][1])
        for slot, steps in entry["chains"].items():
            numbers = [n for n, _, _ in steps]
            if len(set(numbers)) != len(numbers):
                problems.append(Problem(source, f"the chain for {slot} numbers a step twice; it is not graded",
                                        student, slot))
                continue
            _put(sheet, problems, source, slot, "chain", [latex for _, _, latex in sorted(steps)])
        sheets.append(sheet)
    return sheets, problems
