"""The class report after ``derivcheck grade``: for staff, from the grading output folder.

It reads DIR/grades.jsonl (or DIR/grades.csv: student, slot, verdict, points, max_points,
mistake, message) and DIR/review.csv, and shows: per-slot verdict counts, a histogram of the
students' scores, the most common named mistakes per slot with one example each, and the size
of the review queue. Students' answers are untrusted text: they are escaped for HTML and
LaTeX (printed verbatim, never interpreted).

Both are jinja2 templates under ``templates/``: report.html rendered with autoescape on (an
answer is shown as typed and as MathML from ``derivations.mathml``, whose output is rebuilt from
an allow-list), report.tex in the LaTeX environment of ``templating`` (every value escaped).
"""
from __future__ import annotations

import base64
import csv
import html
import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from ..grading.result import VERDICTS
from . import tex

TOP_MISTAKES = 3
EXAMPLE_CHARS = 240
_ANSWER_KEYS = ("latex", "answer", "submitted", "parsed_latex", "steps", "chain")


@dataclass(frozen=True)
class Grade:
    student: str
    slot: str
    verdict: str
    points: float
    max_points: float
    mistake: str
    message: str
    answer: str = ""


@dataclass
class Summary:
    folder: Path
    grades: list[Grade]
    verdicts: dict[str, Counter] = field(default_factory=dict)           # slot -> verdict counts
    scores: dict[str, float] = field(default_factory=dict)               # student -> fraction of max
    mistakes: dict[str, list[tuple[str, int, Grade]]] = field(default_factory=dict)  # slot -> top mistakes
    unnamed: Counter = field(default_factory=Counter)                    # slot -> wrong, no mistake named
    review: int = 0
    review_source: str = ""

    @property
    def students(self) -> int:
        return len({g.student for g in self.grades})


def _number(value) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return 0.0
    return x if math.isfinite(x) else 0.0


def _answer(record: dict) -> str:
    for key in _ANSWER_KEYS:
        value = record.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list) and value:
            return " ; ".join(str(v) for v in value)
    return ""


def _grade(record: dict) -> Grade:
    return Grade(str(record.get("student", "")), str(record.get("slot", "")), str(record.get("verdict", "")),
                 _number(record.get("points")), _number(record.get("max_points", 1)),
                 str(record.get("mistake") or ""), str(record.get("message") or ""), _answer(record))


def load(folder) -> list[Grade]:
    """Grades from DIR/grades.jsonl, else DIR/grades.csv (FileNotFoundError says what is missing)."""
    folder = Path(folder)
    jsonl, table = folder / "grades.jsonl", folder / "grades.csv"
    if jsonl.exists():
        grades = []
        for line in jsonl.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue          # a torn last line of an interrupted run
                if isinstance(record, dict):
                    grades.append(_grade(record))
        return grades
    if table.exists():
        with open(table, newline="", encoding="utf-8", errors="replace") as fh:
            return [_grade(row) for row in csv.DictReader(fh)]
    raise FileNotFoundError(f"{folder} has neither grades.jsonl nor grades.csv; run `derivcheck grade SHEETS "
                            f"--out {folder}` first")


def _review_size(folder: Path, grades) -> tuple[int, str]:
    review = folder / "review.csv"
    if review.exists():
        with open(review, newline="", encoding="utf-8", errors="replace") as fh:
            return sum(1 for _ in csv.DictReader(fh)), "review.csv"
    return sum(g.verdict in ("unchecked", "invalid") for g in grades), "unchecked and invalid grades"


def summarise(grades: list[Grade], folder=None) -> Summary:
    folder = Path(folder) if folder is not None else Path(".")
    out = Summary(folder, grades)
    points, maxima = defaultdict(float), defaultdict(float)
    by_mistake: dict[str, dict[str, list[Grade]]] = defaultdict(lambda: defaultdict(list))
    for g in sorted(grades, key=lambda g: (g.slot, g.student)):
        out.verdicts.setdefault(g.slot, Counter())[g.verdict] += 1
        points[g.student] += g.points
        maxima[g.student] += g.max_points
        if g.mistake:
            by_mistake[g.slot][g.mistake].append(g)
        elif g.verdict == "wrong":
            out.unnamed[g.slot] += 1
    out.scores = {s: (points[s] / maxima[s] if maxima[s] else 0.0) for s in sorted(points)}
    for slot, named in by_mistake.items():
        ranked = sorted(named.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:TOP_MISTAKES]
        out.mistakes[slot] = [(name, len(items), items[0]) for name, items in ranked]
    out.review, out.review_source = _review_size(folder, grades)
    return out


def _verdict_columns(summary: Summary) -> list[str]:
    seen = {v for c in summary.verdicts.values() for v in c}
    return [v for v in VERDICTS if v in seen] + sorted(seen - set(VERDICTS))


def _mistakes_by_slot(summary: Summary) -> list[tuple[str, list]]:
    """(slot, top named mistakes) for every slot with a wrong answer, named or not."""
    slots = set(summary.mistakes) | {s for s, n in summary.unnamed.items() if n}
    return [(slot, summary.mistakes.get(slot, [])) for slot in sorted(slots)]


def _clip(s: str, n: int = EXAMPLE_CHARS) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 3] + "..."


# ---------------------------------------------------------------------------- histogram
def histogram_figure(summary: Summary):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0, 2.6), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ax.hist([100 * s for s in summary.scores.values()], bins=[10 * k for k in range(11)], color="#1f77b4",
            edgecolor="white")
    ax.set_xlabel("score (% of the points available to the student)")
    ax.set_ylabel("students")
    ax.set_xlim(0, 100)
    from matplotlib.ticker import MaxNLocator
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def write_histogram(summary: Summary, stem) -> tuple[Path, Path]:
    stem = Path(stem)
    fig = histogram_figure(summary)
    pdf, png = stem.with_suffix(".pdf"), stem.with_suffix(".png")
    fig.savefig(pdf)
    fig.savefig(png, dpi=110)
    return pdf, png


# ---------------------------------------------------------------------------- text formats
def terminal_summary(summary: Summary) -> str:
    totals = Counter()
    for c in summary.verdicts.values():
        totals.update(c)
    scores = list(summary.scores.values())
    mean = 100 * sum(scores) / len(scores) if scores else 0.0
    verdicts = ", ".join(f"{v} {totals[v]}" for v in _verdict_columns(summary))
    answered = len(summary.grades) - totals["missing"]      # as `grade` counts: unanswered slots are not answers
    return (f"{summary.students} students, {answered} answers ({verdicts}); mean score {mean:.1f}%; "
            f"review queue {summary.review} ({summary.review_source})")


def write_markdown(summary: Summary, path) -> Path:
    cols = _verdict_columns(summary)
    lines = ["# Class report", "", terminal_summary(summary), "", "## Verdicts per slot", "",
             "| slot | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for slot, c in sorted(summary.verdicts.items()):
        lines.append(f"| `{slot}` | " + " | ".join(str(c[v]) for v in cols) + " |")
    lines += ["", "## Scores", "", "![score histogram](report_scores.png)", "",
              "## Most common mistakes per slot", ""]
    if not _mistakes_by_slot(summary):
        lines.append("No named mistakes.")
    for slot, ranked in _mistakes_by_slot(summary):
        lines.append(f"### `{slot}`")
        for name, count, g in ranked:
            answer = html.escape(_clip(g.answer).replace("`", "'"), quote=False)
            lines.append(f"- **{html.escape(name)}** ({count}x), e.g. {html.escape(g.student)}: `{answer}` -- "
                         f"{html.escape(_clip(g.message), quote=False)}")
        if summary.unnamed[slot]:
            lines.append(f"- wrong without a named mistake: {summary.unnamed[slot]}")
        lines.append("")
    lines += ["## Review queue", "", f"{summary.review} items ({summary.review_source})."]
    path = Path(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _mathml(latex: str) -> Markup:
    """A student's LaTeX as MathML, from ``derivations.mathml`` (its output is rebuilt from an
    allow-list, so it is safe as markup); empty where that module cannot be imported (the page
    shows the LaTeX as code beside it in any case)."""
    try:
        from ..mathml import latex_to_mathml
    except ImportError:
        return Markup("")
    return Markup(latex_to_mathml(latex))


def _math_text(text: str) -> Markup:
    """A grader's message: its $...$ segments as MathML, the rest escaped."""
    parts = re.split(r"(\$[^$]+\$)", str(text))
    out = []
    for part in parts:
        if len(part) > 2 and part.startswith("$") and part.endswith("$"):
            math = _mathml(part[1:-1])
            out.append(math if math else escape(part))
        else:
            out.append(escape(part))
    return Markup("").join(out)


def html_environment() -> Environment:
    """The jinja2 environment of the HTML report: templates from the package, autoescape on for
    every template (students' names, answers and messages are untrusted text)."""
    env = Environment(loader=PackageLoader("derivations.publish", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(clip=_clip, math=_mathml, math_text=_math_text)
    return env


def render_html(summary: Summary, histogram_png: bytes | None = None) -> str:
    cols = _verdict_columns(summary)
    return html_environment().get_template("report.html").render(
        headline=terminal_summary(summary), columns=cols, verdicts=sorted(summary.verdicts.items()),
        histogram=base64.b64encode(histogram_png).decode() if histogram_png else "",
        mistakes=[(slot, ranked, summary.unnamed[slot]) for slot, ranked in _mistakes_by_slot(summary)],
        review=summary.review, review_source=summary.review_source)


def write_html(summary: Summary, path) -> Path:
    path = Path(path)
    png = path.with_name("report_scores.png")
    path.write_text(render_html(summary, png.read_bytes() if png.exists() else None), encoding="utf-8")
    return path


def write_tex(summary: Summary, path) -> Path:
    """report.tex from the template ``templates/report.tex`` (LaTeX environment: every value
    escaped as text by pylatexenc unless derivcheck wrote it as LaTeX)."""
    from .templating import Latex, environment

    env = environment().overlay()
    env.filters["clip"] = _clip
    source = env.get_template("report.tex").render(
        packages=Latex(tex.PACKAGES), headline=terminal_summary(summary), columns=_verdict_columns(summary),
        verdicts=sorted(summary.verdicts.items()),
        mistakes=[(slot, ranked, summary.unnamed[slot]) for slot, ranked in _mistakes_by_slot(summary)],
        review=summary.review, review_source=summary.review_source)
    path = Path(path)
    path.write_text(source, encoding="utf-8")
    return path
