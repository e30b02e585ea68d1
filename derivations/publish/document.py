"""DIR/derivcheck.tex: every derived result with the evidence behind each of its steps.

Layout: a summary (steps by status and by kind of evidence, per question), every refuted
claim with its counterexample, then one section per question (its slots with their
references and evidence, its figures, and each derivation as numbered steps: the claim, the
reason, the assumptions, an evidence tag), and last the numeric checks as a table.

The document is a view of ``verify.DerivationResult``s and numeric rows
(``CheckResult.rows()``); it decides nothing itself.
"""
from __future__ import annotations

from collections import Counter
from importlib import metadata
from pathlib import Path

from .. import registry
from ..evidence import Kind, Status
from ..printing import latex
from . import questions, tags, tex

PREAMBLE = r"""\documentclass[10pt,a4paper]{article}
\usepackage[margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
%(packages)s\usepackage[hidelinks]{hyperref}
\setlength{\parindent}{0pt}
\setlength{\parskip}{3pt}
\setlength{\emergencystretch}{3em}
\definecolor{dcsymbolic}{rgb}{0.106,0.498,0.231}
\definecolor{dcfamily}{rgb}{0.000,0.447,0.478}
\definecolor{dcnumeric}{rgb}{0.122,0.373,0.749}
\definecolor{dcmontecarlo}{rgb}{0.702,0.349,0.000}
\definecolor{dcrefuted}{rgb}{0.753,0.090,0.169}
\definecolor{dcunchecked}{rgb}{0.431,0.431,0.431}
\definecolor{dcerror}{rgb}{0.627,0.075,0.608}
\definecolor{dcaudit}{rgb}{0.478,0.361,0.000}
% \dcfit{width}{math}: display-style math, scaled down only when it is wider than width.
\newsavebox\dcbox
\newlength\dcavail
\newcommand\dcfit[2]{\setlength\dcavail{#1}\sbox\dcbox{$\displaystyle #2$}%
  \ifdim\wd\dcbox>\dcavail\resizebox{\dcavail}{!}{\usebox\dcbox}\else\usebox\dcbox\fi}
% \dcline{indent}{math}: one line of a claim, indented, never wider than the line.
\newcommand\dcline[2]{\par\noindent\hspace*{\dimexpr 1em+#1\relax}%
  \dcfit{\dimexpr\linewidth-1em-#1\relax}{#2}\par}
% \dctag{tone}{label}: an evidence tag.
\newcommand\dctag[2]{\textcolor{dc#1}{\sffamily\bfseries\footnotesize[#2]}}
\newcommand\dcnote[1]{{\footnotesize #1\par}}
\newcommand\dcdetail[1]{{\footnotesize\color{dcunchecked}#1\par}}
\newenvironment{dcclaim}{\par\smallskip}{\par\smallskip}
"""

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


# ---------------------------------------------------------------------------- pieces
def _claim(step) -> str:
    try:
        return tex.display(tex.claim_lines(step))
    except Exception as exc:  # a side that cannot be built or printed is shown as such
        return r"\dcnote{" + tex.text(f"(the claim could not be printed: {type(exc).__name__}: {exc})") + "}"


def _detail(s: str) -> str:
    s = s if len(s) <= DETAIL_CHARS else s[: DETAIL_CHARS - 3] + "..."
    return r"\dcdetail{" + tex.text(s) + "}"


def _step(k: int, result) -> str:
    step, ev = result.step, result.evidence
    head = [rf"\textbf{{({k})}}", tex.step_tag(step, ev)]
    if step.establishes:
        head.append(r"{\footnotesize establishes " + ", ".join(tex.code(s) for s in step.establishes) + "}")
    if step.cite:
        head.append(r"{\footnotesize\itshape " + tex.text(step.cite) + "}")
    out = [r"\begin{dcclaim}", " ".join(head) + r"\par", _claim(step)]
    if step.why:
        out.append(r"\dcnote{" + tex.text(step.why) + "}")
    if step.assume:
        out.append(r"\dcnote{Assumes: " + ", ".join("$" + tex.condition(a) + "$" for a in step.assume) + "}")
    if ev.status is not Status.PROVED or ev.kind is not Kind.SYMBOLIC:
        out.append(_detail(ev.detail))
    if ev.counterexample:
        out.append(r"\dcnote{Counterexample: " + tex.counterexample(ev.counterexample) + "}")
    out.append(r"\end{dcclaim}")
    return "\n".join(out)


def _derivation(result) -> str:
    d = result.derivation
    status = result.status.value
    tone = {"proved": "symbolic", "refuted": "refuted", "error": "error"}.get(status, "unchecked")
    out = [rf"\subsection{{{tex.text(d.title)}}}",
           rf"{tex.code(d.id)} \dctag{{{tone}}}{{{status}}}" +
           (rf" \quad{{\footnotesize source: {tex.text(d.source)}}}" if d.source else "") + r"\par"]
    out += [_step(k, r) for k, r in enumerate(result.steps, 1)]
    return "\n".join(out)


def _slot_evidence(slot_id: str, results, numeric_rows) -> str:
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
    return " ".join(parts)


def _registered_checks() -> dict:
    try:
        from numeric_checks import core
    except ImportError:
        return {}
    return core.checks()


def _reference(slot) -> str:
    """The slot's reference in LaTeX: its own ``latex`` field, else the printer's."""
    try:
        return slot.latex or ("" if slot.reference is None else latex(slot.reference))
    except Exception:   # a reference the printer cannot handle is left out, not fatal
        return ""


def _slot_table(slots, results, numeric_rows) -> str:
    """One row per slot (id, statement, evidence), and its reference below it at full width."""
    out = [r"{\small\begin{longtable}{@{}>{\raggedright\arraybackslash}p{0.19\linewidth}"
           r">{\raggedright\arraybackslash}p{0.53\linewidth}"
           r">{\raggedright\arraybackslash}p{\dimexpr0.28\linewidth-4\tabcolsep\relax}@{}}",
           r"\toprule slot & statement, then the reference & evidence\\ \midrule\endhead", r"\bottomrule\endfoot"]
    for s in slots:
        ref = _reference(s)
        row = rf"{tex.code(s.id)} & {tex.text(s.statement)} & {_slot_evidence(s.id, results, numeric_rows)}"
        if ref:
            out.append(row + r"\\*")
            out.append(r"\multicolumn{3}{@{}p{\linewidth}@{}}{\hspace*{2em}"
                       r"\dcfit{\dimexpr\linewidth-2em\relax}{" + ref + r"}}\\[4pt]")
        else:
            out.append(row + r"\\[4pt]")
    out.append(r"\end{longtable}}")
    return "\n".join(out)


def _figure(plot, folder: Path) -> str:
    rel = plot.pdf.relative_to(folder).as_posix() if plot.pdf.is_relative_to(folder) else plot.pdf.as_posix()
    return "\n".join([r"\begin{figure}[htbp]\centering",
                      rf"\includegraphics[width={plot.width:.2f}\linewidth]{{{rel}}}",
                      rf"\caption{{{plot.caption}}}\label{{fig:{plot.name}}}", r"\end{figure}"])


# ---------------------------------------------------------------------------- sections
def _summary(results, by_question) -> str:
    out = [r"\section*{Summary}",
           r"{\small\begin{tabularx}{\linewidth}{@{}>{\raggedright\arraybackslash}p{0.27\linewidth}rrrrr"
           r">{\raggedright\arraybackslash}X@{}}\toprule",
           r"question & derivations & proved & refuted & unchecked & error & evidence of the steps\\ \midrule"]
    for q, rs in by_question:
        steps = [s for r in rs for s in r.steps]
        st = Counter(s.evidence.status.value for s in steps)
        kinds = Counter(s.evidence.kind.value for s in steps)
        kind_text = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        out.append(rf"{q.key}: {tex.text(q.title)} & {len(rs)} & {st['proved']} & {st['refuted']} & "
                   rf"{st['unchecked']} & {st['error']} & {{\footnotesize {tex.text(kind_text)}}}\\")
    out += [r"\bottomrule\end{tabularx}}", "",
            r"Refuted steps include the claims quoted from the seed's reference solution that the checks "
            r"disprove (findings); derivcheck's own steps must all be proved. Evidence tags:", "",
            r"\begin{description}\setlength\itemsep{0pt}"]
    out += [rf"\item[\dctag{{{tone}}}{{{tex.text(label)}}}] {tex.text(text)}" for label, tone, text in LEGEND]
    out.append(r"\end{description}")
    return "\n".join(out)


def _refuted(results) -> str:
    out = [r"\section{Refuted claims}"]
    found = [(r, k, s) for r in results for k, s in enumerate(r.steps, 1) if s.evidence.status is Status.REFUTED]
    audits = [x for x in found if x[2].step.audit]
    own = [x for x in found if not x[2].step.audit]
    out.append(rf"{len(audits)} claim(s) quoted from a source are refuted by the checks; "
               rf"{len(own)} of derivcheck's own steps are refuted.")
    for title, items in (("Findings: claims quoted from the seed", audits),
                         ("Failures: derivcheck's own steps", own)):
        if not items:
            continue
        out.append(rf"\subsection*{{{title}}}")
        for r, k, s in items:
            out.append(rf"\paragraph{{{tex.code(r.derivation.id)}: {tex.text(r.derivation.title)}}}")
            out.append(_step(k, s))
    return "\n".join(out)


def _unchecked(results) -> str:
    items = [(r, k, s) for r in results for k, s in enumerate(r.steps, 1)
             if s.evidence.status in (Status.UNCHECKED, Status.ERROR)]
    if not items:
        return ""
    out = [r"\subsection*{Steps without evidence}", r"\begin{itemize}"]
    for r, k, s in items:
        out.append(rf"\item {tex.code(r.derivation.id)} step ({k}): {s.evidence.status.value}: "
                   rf"{tex.text(s.evidence.detail[:200])}")
    out.append(r"\end{itemize}")
    return "\n".join(out)


def _numeric_table(rows) -> str:
    out = [r"{\footnotesize\setlength\tabcolsep{3pt}\begin{longtable}{@{}>{\raggedright\arraybackslash}p{2.9cm}"
           r">{\raggedright\arraybackslash}p{5.2cm}rrrrrl@{}}",
           r"\toprule slot & measurement & estimate & expected & SE / tol & z & samples & ok\\ \midrule\endhead",
           r"\bottomrule\endfoot"]
    for row in rows:
        mc = row["kind"] == "monte-carlo"
        spread = f"{row['stderr']:.3g}" if mc else f"{row['tolerance']:.2g}"
        rel = {"=": "", ">=": r"$\ge$ ", "<=": r"$\le$ "}.get(row["relation"], "")
        ok = r"\textcolor{dcsymbolic}{yes}" if row["passed"] else r"\textcolor{dcrefuted}{\textbf{NO}}"
        z = f"{row['z']:+.2f}" if mc else tex.text(row["kind"])
        out.append(rf"{tex.code(row['id'])} & {tex.text(row['name'])} & {row['estimate']:.6g} & "
                   rf"{rel}{row['expected']:.6g} & {spread} & {z} & {row['samples']} & {ok}\\")
    out.append(r"\end{longtable}}")
    return "\n".join(out)


def _registered_table(selectors) -> str:
    checks = [(sid, c) for sid, cs in sorted(_registered_checks().items()) if registry.matches(sid, selectors)
              for c in cs]
    out = [r"{\small\begin{longtable}{@{}>{\raggedright\arraybackslash}p{3.6cm}"
           r">{\raggedright\arraybackslash}p{3.6cm}l>{\raggedright\arraybackslash}p{6.4cm}@{}}",
           r"\toprule slot & check & tier & what it measures\\ \midrule\endhead", r"\bottomrule\endfoot"]
    for sid, c in checks:
        doc = (c.fn.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        out.append(rf"{tex.code(sid)} & {tex.code(c.fn.__name__)} & {tex.text(c.tier)} & {tex.text(doc)}\\")
    out.append(r"\end{longtable}}")
    return "\n".join(out)


def _numeric(rows, plots, folder, selectors, skipped=()) -> str:
    from numeric_checks import core

    out = [r"\section{Numeric checks}",
           rf"Each Monte Carlo measurement passes when $|\text{{estimate}} - \text{{expected}}| \le "
           rf"{core.K_SE:.2f}$ standard errors (one suite-wide false-failure rate of {core.FAILURE_RATE:g} per "
           r"measurement); quadrature and exact comparisons use the absolute tolerance shown. Every check is "
           r"seeded; the expected values are the registry's references, never typed in."]
    if rows is None:
        out.append(r"The checks below are registered but were not run for this document; "
                   r"\texttt{derivcheck latex --numeric} runs them and fills this section with estimates, "
                   r"standard errors and z-scores.")
        out.append(_registered_table(selectors))
    elif rows:
        failed = sum(not r["passed"] for r in rows)
        out.append(rf"{len(rows)} measurements, {failed} failed.")
        out.append(_numeric_table(rows))
    else:
        out.append("No numeric check matches the selection.")
    if skipped:
        out.append(r"\paragraph{Plots not drawn.} " + "; ".join(tex.text(s) for s in skipped) + ".")
    out += [_figure(p, folder) for p in plots]
    return "\n".join(out)


# ---------------------------------------------------------------------------- the document
def render(results, numeric_rows=None, plots=(), skipped=(), selectors=(), folder: Path = Path(".")) -> str:
    """The LaTeX source. ``numeric_rows`` None: numeric checks not run (listed only)."""
    table = registry.slots()
    slots = [s for s in table.values() if registry.matches(s.id, selectors)]
    by_question = []
    for q in questions.ordered():
        rs = [r for r in results if questions.of_derivation(r.derivation) == q]
        qs = [s for s in slots if questions.of_slot(s.id) == q]
        if rs or qs or (q is not questions.OTHER and not selectors):
            by_question.append((q, rs, qs))
    scope = ", ".join(selectors) if selectors else "all slots"
    body = [PREAMBLE.replace("%(packages)s", tex.PACKAGES), r"\title{derivcheck: the derivations and their evidence}",
            rf"\author{{generated by derivcheck {tex.text(_version())}}}", r"\date{}", r"\begin{document}",
            r"\maketitle",
            rf"This document covers {tex.text(scope)}: {len(slots)} slots and {len(results)} derivations from the "
            r"registry. Every step of every derivation was checked when this file was written, and each carries a "
            r"tag saying what backs it.",
            _summary(results, [(q, rs) for q, rs, _ in by_question]), _unchecked(results), _refuted(results)]
    for q, rs, qs in by_question:
        body.append(rf"\section{{{q.key}: {tex.text(q.title)}}}" if q is not questions.OTHER
                    else rf"\section{{{tex.text(q.title)}}}")
        if not rs and not qs:
            body.append("No slot or derivation of this question is in the registry yet.")
            continue
        if qs:
            body.append(_slot_table(qs, results, numeric_rows))
        body += [_figure(p, folder) for p in plots if p.question == q.key]
        body += [_derivation(r) for r in rs]
    body.append(_numeric(numeric_rows, [p for p in plots if p.question == "numeric"], folder, selectors, skipped))
    body.append(r"\end{document}")
    return "\n\n".join(b for b in body if b) + "\n"


def write(path, results, numeric_rows=None, plots=(), skipped=(), selectors=()) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tex.tmp")
    tmp.write_text(render(results, numeric_rows, plots, skipped, selectors, path.parent), encoding="utf-8")
    tmp.replace(path)
    return path
