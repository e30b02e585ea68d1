"""Display helpers for the notebooks: derivation steps as math with their evidence tags, a
numeric check as a table and a plot, a graded answer. Every helper takes what the public API
returns (``verify.run``, ``numeric_checks.core.run_check``, ``grading.grade_answer``) and
shows it; nothing here decides a verdict.
"""
from __future__ import annotations

import io
import re

from ..evidence import Status
from ..printing import claim_latex
from . import tags

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|$])")


def md(text: str) -> str:
    """Plain text made inert for Markdown (reasons and messages contain _ * and $)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def md_math(text: str) -> str:
    """Like ``md`` but keeps $...$ segments as math (the grader's messages quote formulas so)."""
    parts = re.split(r"(\$[^$]+\$)", str(text))
    return "".join(p if p.startswith("$") and p.endswith("$") and len(p) > 1 else md(p) for p in parts)


def _display(*objs):
    from IPython.display import display
    display(*objs)


def step_markdown(k: int, step, evidence) -> str:
    label, _ = tags.step_label(step, evidence)
    parts = [f"**({k})** `{label}`"]
    if step.audit:
        parts.append(f"`claim quoted from the {step.audit}`")
    if step.establishes:
        parts.append("establishes " + ", ".join(f"`{s}`" for s in step.establishes))
    line = " ".join(parts)
    if step.why:
        line += f"  \n{md(step.why)}"
    if evidence.status is not Status.PROVED:
        line += f"  \n*{md(evidence.detail[:300])}*"
    if evidence.counterexample:
        point = ", ".join(f"{md(k)} = {v:.6g}" if isinstance(v, float) else f"{md(k)} = {md(v)}"
                          for k, v in evidence.counterexample.items())
        line += f"  \ncounterexample: {point}"
    return line


def show_derivation(result) -> None:
    """A ``verify.DerivationResult``: its title and status, then each step (tag, reason, claim)."""
    from IPython.display import Markdown, Math

    d = result.derivation
    _display(Markdown(f"### {md(d.title)}\n`{d.id}`: **{result.status.value}**"
                      + (f" (source: {md(d.source)})" if d.source else "")))
    for k, r in enumerate(result.steps, 1):
        _display(Markdown(step_markdown(k, r.step, r.evidence)), Math(claim_latex(r.step)))


def show_figure(fig, dpi: int = 90) -> None:
    """A matplotlib Figure as a PNG (no pyplot backend needed)."""
    from IPython.display import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    _display(Image(data=buf.getvalue()))


def rows_markdown(rows) -> str:
    lines = ["| measurement | what was compared | evidence | result |", "|---|---|---|---|"]
    for row in rows:
        label, _ = tags.measurement_label(row)
        lines.append(f"| {md(row['name'])} | {md(tags.comparison(row))} | {md(label)} | "
                     f"{'pass' if row['passed'] else '**FAIL**'} |")
    return "\n".join(lines)


def show_rows(rows) -> None:
    from IPython.display import Markdown
    _display(Markdown(rows_markdown(rows)))


def check_figure(rows, title: str = ""):
    """Each measurement's standardised gap: z for Monte Carlo (band: the suite's K_SE), gap /
    tolerance for exact and quadrature comparisons (band: 1)."""
    from matplotlib.figure import Figure
    from numeric_checks.core import K_SE

    fig = Figure(figsize=(6.5, 0.35 * len(rows) + 1.2), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for i, row in enumerate(rows):
        mc = row["kind"] == "monte-carlo"
        gap = row["estimate"] - row["expected"]
        value = row["z"] if mc else (gap / row["tolerance"] if row["tolerance"] else 0.0)
        ax.plot([value], [i], "o", color="#1f77b4" if mc else "#2ca02c")
        ax.plot([(gap - 2 * row["stderr"]) / row["stderr"], (gap + 2 * row["stderr"]) / row["stderr"]]
                if mc and row["stderr"] else [value, value], [i, i], color="#1f77b4", lw=1)
    ax.axvspan(-K_SE, K_SE, color="0.92", label=f"MC tolerance ±{K_SE:.2f} SE")
    ax.axvspan(-1, 1, color="0.82", label="exact / quadrature tolerance")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(rows)), [r["name"][:50] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("(estimate - expected) / SE   (or / tolerance)")
    ax.legend(fontsize=7, loc="lower right")
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def show_grade(result) -> None:
    """A ``grading.AnswerResult``: verdict, evidence, the named mistake and the counterexample."""
    from IPython.display import Markdown

    lines = [f"**{result.verdict}** (evidence: {result.evidence_kind})"]
    if result.mistake:
        lines.append(f"named mistake: `{result.mistake}`")
    lines.append(md_math(result.message))
    if result.counterexample:
        lines.append("counterexample: " + ", ".join(
            f"{md(k)} = {v:.6g}" if isinstance(v, float) else f"{md(k)} = {md(v)}"
            for k, v in result.counterexample.items()))
    _display(Markdown("  \n".join(lines)))
