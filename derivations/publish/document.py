"""DIR/derivcheck.tex: every derived result with the evidence behind each of its steps.

Layout: a summary (steps by status and by kind of evidence, per question), every refuted
claim with its counterexample, then one section per question (its slots with their
references and evidence, its figures, and each derivation as numbered steps: the claim, the
reason, the assumptions, an evidence tag), and last the numeric checks as a table.

The document is a view of ``verify.DerivationResult``s and numeric rows
(``CheckResult.rows()``); it decides nothing itself. Its layout is the jinja2 template
``templates/derivcheck.tex`` (``templating``: LaTeX delimiters, every value escaped as text by
pylatexenc unless it is LaTeX that derivcheck wrote); this module gathers what it shows.
"""
from __future__ import annotations

from collections import Counter
from functools import cache
from importlib import metadata
from pathlib import Path

from .. import registry
from ..evidence import Kind, Status
from ..printing import latex
from . import questions, tags, tex
from .templating import Latex, environment

LEGEND = (("symbolic", "symbolic", "SymPy proves the relation under the declared domains and the step's assumptions."),
          ("family: ...", "family", "proved symbolically in the named concrete family only (e.g. linear-Gaussian)."),
          ("exact numeric", "numeric", "evaluated at random admissible points at 50 digits; evidence, not a proof."),
          ("Monte Carlo, z, SE", "montecarlo", "a seeded estimate with its standard error and z-score."),
          ("refuted", "refuted", "a counterexample was found; it is printed with the values of both sides."),
          ("unchecked", "unchecked", "nothing checked the step (or its check ran out of time); never counted "
           "as passed."),
          ("claim quoted from the seed", "audit", "a claim of the homework's reference solution, tested rather than "
           "asserted: its refutation is a finding about the source, not a failure of derivcheck."))

DETAIL_CHARS = 400


def _version() -> str:
    try:
        return metadata.version("derivcheck")
    except metadata.PackageNotFoundError:
        return "(not installed)"


# ---------------------------------------------------------------------------- filters
def _claim(step) -> Latex:
    try:
        return Latex(tex.display(tex.claim_lines(step)))
    except Exception as exc:  # a side that cannot be built or printed is shown as such
        return Latex(r"\dcnote{" + tex.text(f"(the claim could not be printed: {type(exc).__name__}: {exc})") + "}")


def _clip(s: str) -> str:
    s = str(s)
    return s if len(s) <= DETAIL_CHARS else s[: DETAIL_CHARS - 3] + "..."


def _shows_detail(result) -> bool:
    """A step's evidence detail is shown unless it is a plain symbolic proof."""
    return result.evidence.status is not Status.PROVED or result.evidence.kind is not Kind.SYMBOLIC


def _conditions(assume) -> Latex:
    return Latex(", ".join("$" + tex.condition(a) + "$" for a in assume))


def _derivation_tone(result) -> str:
    return {"proved": "symbolic", "refuted": "refuted", "error": "error"}.get(result.status.value, "unchecked")


def _figure_path(plot, folder: Path) -> Latex:
    rel = plot.pdf.relative_to(folder).as_posix() if plot.pdf.is_relative_to(folder) else plot.pdf.as_posix()
    return Latex(rel)


# ---------------------------------------------------------------------------- pieces
def _slot_evidence(slot_id: str, results, numeric_rows) -> Latex:
    """Tags of the steps that establish the slot (derivcheck's own), then its numeric checks."""
    labels: dict[tuple[str, str], None] = {}
    for r in results:
        for s in r.steps:
            if slot_id in s.step.establishes and not s.step.audit:
                labels.setdefault(tags.step_label(s.step, s.evidence))
    parts = [tex.tag(label, tone) for label, tone in labels] or [tex.tag("no derivation establishes it",
                                                                         "unchecked")]
    rows = [row for row in numeric_rows or () if row["id"] == slot_id]
    if rows:
        failed = sum(not row["passed"] for row in rows)
        zs = [abs(row["z"]) for row in rows if row["kind"] == "monte-carlo"]
        label = f"numeric: {len(rows)} measurements" + (f", max |z| = {max(zs):.2f}" if zs else "")
        parts.append(tex.tag(label + (f", {failed} FAILED" if failed else ", all pass"),
                             "refuted" if failed else ("montecarlo" if zs else "numeric")))
    elif numeric_rows is None and slot_id in _registered_checks():
        parts.append(tex.tag("numeric check registered (run with --numeric)", "unchecked"))
    return Latex(" ".join(parts))


def _registered_checks() -> dict:
    try:
        from numeric_checks import core
    except ImportError:
        return {}
    return core.checks()


def _reference(slot) -> Latex:
    """The slot's reference in LaTeX: its own ``latex`` field, else the printer's."""
    try:
        return Latex(slot.latex or ("" if slot.reference is None else latex(slot.reference)))
    except Exception:   # a reference the printer cannot handle is left out, not fatal
        return Latex("")


def _summary_row(q, rs) -> dict:
    steps = [s for r in rs for s in r.steps]
    st = Counter(s.evidence.status.value for s in steps)
    kinds = Counter(s.evidence.kind.value for s in steps)
    return {"key": q.key, "title": q.title, "derivations": len(rs), "proved": st["proved"],
            "refuted": st["refuted"], "unchecked": st["unchecked"], "error": st["error"],
            "kinds": ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))}


def _numeric_constants() -> tuple[float, float]:
    try:
        from numeric_checks import core
    except ImportError:   # the [numeric] extra is not installed: the suite's constants, stated
        return 3.89, 1e-4
    return core.K_SE, core.FAILURE_RATE


# ---------------------------------------------------------------------------- the document
@cache
def template():
    """templates/derivcheck.tex in the LaTeX environment, with this module's filters."""
    env = environment().overlay()
    env.filters.update(claim=_claim, clip=_clip, conditions=_conditions, derivation_tone=_derivation_tone,
                       step_tag=lambda r: Latex(tex.step_tag(r.step, r.evidence)), figure_path=_figure_path,
                       caption=lambda plot: Latex(plot.caption), shows_detail=_shows_detail)
    return env.get_template("derivcheck.tex")


def render(results, numeric_rows=None, plots=(), skipped=(), selectors=(), folder: Path = Path(".")) -> str:
    """The LaTeX source. ``numeric_rows`` None: numeric checks not run (listed only)."""
    table = registry.slots()
    slots = [s for s in table.values() if registry.matches(s.id, selectors)]
    sections = []
    for q in questions.ordered():
        rs = [r for r in results if questions.of_derivation(r.derivation) == q]
        qs = [s for s in slots if questions.of_slot(s.id) == q]
        if rs or qs or (q is not questions.OTHER and not selectors):
            sections.append({
                "key": q.key, "title": q.title, "numbered": q is not questions.OTHER, "results": rs,
                "slots": [{"id": s.id, "statement": s.statement, "reference": _reference(s),
                           "evidence": _slot_evidence(s.id, results, numeric_rows)} for s in qs],
                "plots": [p for p in plots if p.question == q.key], "summary": _summary_row(q, rs)})
    found = [(r, k, s) for r in results for k, s in enumerate(r.steps, 1) if s.evidence.status is Status.REFUTED]
    registered = [(sid, c, (c.fn.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "))
                  for sid, cs in sorted(_registered_checks().items()) if registry.matches(sid, selectors)
                  for c in cs] if numeric_rows is None else []
    k_se, failure_rate = _numeric_constants()
    return template().render(
        folder=folder, packages=Latex(tex.PACKAGES), version=_version(), scope=", ".join(selectors) if selectors else "all slots",
        slot_count=len(slots), results=results, summary=[q["summary"] for q in sections], legend=LEGEND,
        unchecked=[(r, k, s) for r in results for k, s in enumerate(r.steps, 1)
                   if s.evidence.status in (Status.UNCHECKED, Status.ERROR)],
        audits=[x for x in found if x[2].step.audit], own=[x for x in found if not x[2].step.audit],
        questions=sections, numeric_rows=numeric_rows,
        numeric_failed=sum(not r["passed"] for r in numeric_rows or ()), registered=registered,
        k_se=k_se, failure_rate=failure_rate, skipped=list(skipped),
        numeric_plots=[p for p in plots if p.question == "numeric"])


def write(path, results, numeric_rows=None, plots=(), skipped=(), selectors=()) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tex.tmp")
    tmp.write_text(render(results, numeric_rows, plots, skipped, selectors, path.parent), encoding="utf-8")
    tmp.replace(path)
    return path
