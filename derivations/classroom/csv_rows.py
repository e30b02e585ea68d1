"""The data rows of a CSV a person edited (a roster, a filled-in review.csv), each with its line."""
from __future__ import annotations

import csv


def data_rows(reader, path, problems: list[str]):
    """Yield ``(line, cells)`` for each row after the header; a malformed row is reported in
    ``problems`` with its file and line and skipped, so one bad row loses nothing else."""
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line += 1
            problems.append(f"{path} line {line}: malformed CSV ({exc}); row not read")
            continue
        line = reader.line_num
        if any(c.strip() for c in cells):
            yield line, cells
