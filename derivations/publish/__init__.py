"""Publishing: the derivations and their evidence as LaTeX/PDF, plots of the numeric checks,
and the class report after grading.

=============  ================================================================
commands       ``latex_command`` and ``report_command`` (what the CLI calls)
document       DIR/derivcheck.tex: summary, refuted claims, one section per question
templating     the jinja2 environment of the LaTeX templates (\\VAR/\\BLOCK; every value escaped)
templates/     derivcheck.tex, report.tex (LaTeX) and report.html (HTML, autoescaped)
tex            LaTeX pieces: safe text (pylatexenc), claims split to fit, evidence tags
tags           one label per piece of evidence, and numeric rows in words (shared with the
               CLI, the notebooks and the pytest summary)
questions      which of Q1..Q5 a slot, derivation or check belongs to
plots          matplotlib figures from the registry and numeric_checks (PDF + PNG)
compile        latexmk/pdflatex, and the log read for errors and overfull boxes
report         the class report from a grading folder (Markdown, HTML, LaTeX/PDF)
=============  ================================================================

``python -m derivations.publish latex|report ...`` runs the commands standalone.
"""
from __future__ import annotations

from .commands import latex_command, report_command

__all__ = ["latex_command", "report_command"]
