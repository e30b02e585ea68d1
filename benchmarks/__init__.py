"""derivcheck's benchmarks: every figure is a ratio against a baseline measured in the same run.

=============  ==================================================================
machine        the machine and load the numbers were taken on
verify_bench   cold ``derivcheck verify``; the moment route vs naive SymPy integrals
mc_bench       Monte Carlo samples/s of each numeric check vs torch.randn's fill rate
scaling        time and memory vs problem size (MC samples, grading cache)
grade_*        grading benchmarks written with the grading issues (called when present)
=============  ==================================================================

``python -m benchmarks [NAME...] [--json FILE]`` runs them, prints the tables and rewrites
the benchmarks' sections of ``benchmarks/RESULTS.md``. A benchmark's ``run(**options)``
returns a dict with a ``tables`` list of ``Table.as_dict()``.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Table:
    """A titled table of rows; cells are numbers or strings, formatted when shown."""

    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(list(cells))

    def as_dict(self) -> dict:
        return {"title": self.title, "columns": self.columns, "rows": self.rows, "notes": self.notes}


def cell(value) -> str:
    """Three significant figures for floats, thousands grouped for big integers."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value == 0:
            return "0"
        if abs(value) >= 1e6 or abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def markdown(table: dict) -> str:
    lines = [f"**{table['title']}**", "", "| " + " | ".join(table["columns"]) + " |",
             "|" + "|".join("---" for _ in table["columns"]) + "|"]
    for row in table["rows"]:
        lines.append("| " + " | ".join(cell(c).replace("|", "\\|") for c in row) + " |")
    lines += [""] + [f"- {note}" for note in table.get("notes", [])]
    return "\n".join(lines).rstrip() + "\n"


def text(table: dict) -> str:
    cells = [table["columns"]] + [[cell(c) for c in row] for row in table["rows"]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(table["columns"]))]
    out = [table["title"], "  ".join(h.ljust(w) for h, w in zip(cells[0], widths)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells[1:]]
    out += [f"  * {note}" for note in table.get("notes", [])]
    return "\n".join(out)
